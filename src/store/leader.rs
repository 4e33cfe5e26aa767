//! The right to run the jobs (poll, check, digest, send): one instance at a
//! time, since two would send every alert twice.
//!
//! - SQLite: a lock file beside the database, held while the file is open; a
//!   second instance is refused before it opens the database.
//! - PostgreSQL: a lease in `leader_lease`, renewed by the leader on a
//!   connection of its own (TCP keepalive, short statement timeouts) and timed
//!   by the server's clock. A leader that stops renewing (frozen, cut off,
//!   its host gone) is replaced once the lease runs out.
//!
//! Either way leadership carries a fencing token, the lease's `generation`,
//! which grows at every take-over. Every outbox claim names it and is refused
//! once it is no longer current, and the leader itself stops before an
//! external call once its lease may have run out (`Fence::holds`, measured on
//! the monotonic clock, which keeps counting while a process is stopped).

use sqlx::Connection;
use sqlx::postgres::PgConnectOptions;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    #[error(
        "another tthc-watch is already running on {db} (lock {lock}); only one instance may use a SQLite database — stop the other one, or use PostgreSQL to run several"
    )]
    AlreadyRunning { db: String, lock: String },
    #[error("cannot use the lock file {path}: {source}")]
    LockFile {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot reach the leader lease: {0}")]
    Database(#[from] sqlx::Error),
    #[error("the leader lease did not answer within {0:?}")]
    Timeout(Duration),
}

/// SQLite's lock file, held until dropped (or the process dies).
pub struct FileLock(#[allow(dead_code)] std::fs::File);

/// Whether this instance may still act as the leader, shared by its jobs.
#[derive(Clone)]
pub struct Fence(Arc<FenceState>);

struct FenceState {
    generation: i64,
    /// `instance#generation`: the name outbox claims are made under.
    claimant: String,
    /// Past this instant the lease may have been taken over (None: never,
    /// SQLite's lock file is held until the process ends).
    valid_until: Mutex<Option<Instant>>,
    /// Cancelled once leadership is known lost or given up.
    lost: CancellationToken,
}

impl Fence {
    fn new(instance: &str, generation: i64, valid_until: Option<Instant>) -> Fence {
        Fence(Arc::new(FenceState {
            generation,
            claimant: format!("{instance}#{generation}"),
            valid_until: Mutex::new(valid_until),
            lost: CancellationToken::new(),
        }))
    }

    /// The fencing token: the lease's generation when it was taken.
    pub fn generation(&self) -> i64 {
        self.0.generation
    }

    /// The name this leadership claims outbox messages under.
    pub fn claimant(&self) -> &str {
        &self.0.claimant
    }

    /// Still the leader, as far as this instance can know without asking:
    /// not told otherwise, and the lease renewed recently enough.
    pub fn holds(&self) -> bool {
        !self.0.lost.is_cancelled()
            && self
                .valid_until()
                .is_none_or(|until| Instant::now() < until)
    }

    /// Resolves once leadership is lost: told so, or the lease may have run
    /// out (a process resumed after a stop finds its timer expired at once).
    pub async fn lost(&self) {
        loop {
            let Some(until) = self.valid_until() else {
                return self.0.lost.cancelled().await;
            };
            tokio::select! {
                _ = self.0.lost.cancelled() => return,
                _ = tokio::time::sleep_until(until.into()) => {
                    if !self.holds() {
                        return;
                    }
                }
            }
        }
    }

    fn valid_until(&self) -> Option<Instant> {
        // A poisoned lock still holds a whole value: it is only ever replaced.
        *self.0.valid_until.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn extend(&self, until: Instant) {
        *self.0.valid_until.lock().unwrap_or_else(|p| p.into_inner()) = Some(until);
    }

    fn lose(&self) {
        self.0.lost.cancel();
    }
}

/// How a renewal went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Renewal {
    Renewed,
    /// Not renewed this time (the database did not answer), still within the
    /// lease: try again soon.
    Failed,
    /// Leadership is gone: taken over, or the lease ran out.
    Lost,
}

/// Held until released or dropped (or the process dies).
pub struct Leader {
    lock: Lock,
    fence: Fence,
}

enum Lock {
    /// Held until the file is closed: nobody else can take over.
    File(#[allow(dead_code)] FileLock),
    /// The lease, renewed on a connection of its own (reopened when cut).
    Lease {
        opts: Box<PgConnectOptions>,
        conn: Option<Box<sqlx::PgConnection>>,
        lease: Duration,
    },
}

/// How long before the lease runs out (on the server) the leader stops
/// trusting it: the renewal's round trip and the hosts' clock rates.
const MARGIN: Duration = Duration::from_secs(2);

impl Leader {
    pub fn fence(&self) -> Fence {
        self.fence.clone()
    }

    /// Renews the lease: `Lost` once another instance took over or the lease
    /// ran out before it could be renewed; `Failed` (retry soon) when the
    /// database did not answer within the lease.
    pub async fn renew(&mut self) -> Renewal {
        if !self.fence.holds() {
            self.fence.lose();
            return Renewal::Lost;
        }
        let Lock::Lease { opts, conn, lease } = &mut self.lock else {
            return Renewal::Renewed;
        };
        let lease = *lease;
        let fence = self.fence.clone();
        let started = Instant::now();
        let renewed = tokio::time::timeout(lease / 3, async {
            // Twice: a connection cut since the last renewal (an idle
            // timeout, a blip) is opened again at once.
            let mut last = None;
            for _ in 0..2 {
                if conn.is_none() {
                    match sqlx::PgConnection::connect_with(opts).await {
                        Ok(c) => *conn = Some(Box::new(c)),
                        Err(e) => return Err(e),
                    }
                }
                let Some(c) = conn.as_mut() else { break };
                let r = sqlx::query(
                    "UPDATE leader_lease SET expires_at = clock_timestamp() + $2 * interval '1 millisecond' \
                     WHERE id = 1 AND holder = $1 AND generation = $3",
                )
                .bind(fence.claimant())
                .bind(lease.as_millis() as f64)
                .bind(fence.generation())
                .execute(c.as_mut())
                .await;
                match r {
                    Ok(r) => return Ok(r.rows_affected() == 1),
                    Err(e) => {
                        *conn = None;
                        last = Some(e);
                    }
                }
            }
            Err(last.unwrap_or(sqlx::Error::PoolClosed))
        })
        .await;
        match renewed {
            Ok(Ok(true)) => {
                self.fence.extend(started + lease.saturating_sub(MARGIN));
                return Renewal::Renewed;
            }
            Ok(Ok(false)) => {
                tracing::error!(
                    generation = self.fence.generation(),
                    "another instance took the leader lease over"
                );
                self.fence.lose();
                return Renewal::Lost;
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot renew the leader lease; retrying");
                *conn = None;
            }
            Err(_) => {
                tracing::warn!("the leader lease did not answer in time; retrying");
                *conn = None;
            }
        }
        if self.fence.holds() {
            Renewal::Failed
        } else {
            self.fence.lose();
            Renewal::Lost
        }
    }

    /// Gives leadership up now (dropping it would also, later: the lock file
    /// closes, the lease runs out).
    pub async fn release(self) {
        self.fence.lose();
        if let Lock::Lease {
            conn: Some(mut conn),
            ..
        } = self.lock
        {
            let _ = tokio::time::timeout(
                Duration::from_secs(2),
                sqlx::query(
                    "UPDATE leader_lease SET holder = NULL, expires_at = NULL WHERE id = 1 AND holder = $1",
                )
                .bind(self.fence.claimant())
                .execute(conn.as_mut()),
            )
            .await;
            let _ = conn.close().await;
        }
    }
}

impl super::Store {
    /// The lock that must be held before a database is even opened: SQLite's
    /// lock file (a second instance must not migrate the schema or bind its
    /// port before it learns it may not run). PostgreSQL's lease is taken
    /// later, by `try_lead`, by whichever instance gets it: None here.
    pub fn lock_before_opening(url: &str) -> Result<Option<FileLock>, super::StoreError> {
        Ok(lock_file(url)?)
    }
}

/// The database file of a SQLite URL (none in memory).
fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// The lock file of a SQLite database: beside it, `.lock` appended.
pub fn lock_file_of(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// SQLite: takes the lock file of the database at `url`, or refuses (another
/// instance has it). A database in memory needs none: None.
pub(super) fn lock_file(url: &str) -> Result<Option<FileLock>, LeaderError> {
    let Some(db) = sqlite_path(url) else {
        return Ok(None);
    };
    let lock_path = lock_file_of(&db);
    let failed = |source| LeaderError::LockFile {
        path: lock_path.display().to_string(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(failed)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(FileLock(file))),
        Err(std::fs::TryLockError::WouldBlock) => Err(LeaderError::AlreadyRunning {
            db: db.display().to_string(),
            lock: lock_path.display().to_string(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(failed(e)),
    }
}

/// SQLite: leadership under a held lock file; the generation counted.
pub(super) async fn with_file(
    pool: &sqlx::SqlitePool,
    lock: FileLock,
    instance: &str,
) -> Result<Leader, LeaderError> {
    let (generation,): (i64,) = sqlx::query_as(
        "UPDATE leader_lease SET generation = generation + 1, holder = $1 || '#' || (generation + 1) \
         WHERE id = 1 RETURNING generation",
    )
    .bind(instance)
    .fetch_one(pool)
    .await?;
    let fence = Fence::new(instance, generation, None);
    Ok(Leader {
        lock: Lock::File(lock),
        fence,
    })
}

/// The options of the lease's own connection: named (operators find it in
/// `pg_stat_activity`), with TCP keepalive so the server drops a vanished
/// host's connection in about 25 s, and statements that cannot wait long.
fn lease_options(pool: &PgConnectOptions) -> PgConnectOptions {
    pool.clone().application_name("tthc-watch leader").options([
        ("tcp_keepalives_idle", "10"),
        ("tcp_keepalives_interval", "5"),
        ("tcp_keepalives_count", "3"),
        ("statement_timeout", "5000"),
        ("lock_timeout", "3000"),
    ])
}

/// PostgreSQL: takes the lease if it is free or has run out.
pub(super) async fn take_lease(
    pool: &PgConnectOptions,
    instance: &str,
    lease: Duration,
) -> Result<Option<Leader>, LeaderError> {
    let opts = lease_options(pool);
    let started = Instant::now();
    let attempt = async {
        let mut conn = sqlx::PgConnection::connect_with(&opts).await?;
        let got: Option<(i64,)> = sqlx::query_as(
            "UPDATE leader_lease SET generation = generation + 1, \
                    holder = $1 || '#' || (generation + 1)::text, \
                    expires_at = clock_timestamp() + $2 * interval '1 millisecond' \
             WHERE id = 1 AND (holder IS NULL OR expires_at IS NULL OR expires_at <= clock_timestamp()) \
             RETURNING generation",
        )
        .bind(instance)
        .bind(lease.as_millis() as f64)
        .fetch_optional(&mut conn)
        .await?;
        Ok::<_, sqlx::Error>((conn, got.map(|g| g.0)))
    };
    let (conn, got) = tokio::time::timeout(lease / 3, attempt)
        .await
        .map_err(|_| LeaderError::Timeout(lease / 3))??;
    let Some(generation) = got else {
        let _ = conn.close().await;
        return Ok(None);
    };
    let fence = Fence::new(
        instance,
        generation,
        Some(started + lease.saturating_sub(MARGIN)),
    );
    Ok(Some(Leader {
        lock: Lock::Lease {
            opts: Box::new(opts),
            conn: Some(Box::new(conn)),
            lease,
        },
        fence,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_file_is_beside_the_database_and_memory_needs_none() {
        assert_eq!(
            sqlite_path("sqlite:///var/lib/tthc/db.sqlite?mode=rwc"),
            Some(PathBuf::from("/var/lib/tthc/db.sqlite"))
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(
            lock_file_of(Path::new("/var/lib/tthc/db.sqlite")),
            PathBuf::from("/var/lib/tthc/db.sqlite.lock")
        );
    }

    #[test]
    fn a_second_lock_on_the_same_sqlite_file_is_refused_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let first = lock_file(&url).unwrap().expect("a lock");
        let e = lock_file(&url).err().expect("refused");
        assert!(matches!(e, LeaderError::AlreadyRunning { .. }), "{e}");
        // Released with the file.
        drop(first);
        assert!(lock_file(&url).unwrap().is_some());
    }

    #[test]
    fn a_fence_past_its_lease_no_longer_holds() {
        let f = Fence::new(
            "host:1:ab",
            7,
            Some(Instant::now() + Duration::from_secs(60)),
        );
        assert!(f.holds());
        assert_eq!(f.claimant(), "host:1:ab#7");
        f.extend(Instant::now() - Duration::from_millis(1));
        assert!(!f.holds(), "a lease that ran out");
        let f = Fence::new("host:1:ab", 8, None);
        assert!(f.holds(), "a lock file never runs out");
        f.lose();
        assert!(!f.holds(), "told it is lost");
    }

    #[tokio::test]
    async fn a_fence_is_lost_when_its_lease_runs_out_unless_renewed() {
        let f = Fence::new("h", 1, Some(Instant::now() + Duration::from_millis(100)));
        // Renewed before it runs out: still held past the first deadline.
        f.extend(Instant::now() + Duration::from_millis(300));
        let waited = tokio::time::timeout(Duration::from_millis(200), f.lost()).await;
        assert!(waited.is_err(), "lost although renewed");
        let waited = tokio::time::timeout(Duration::from_secs(2), f.lost()).await;
        assert!(waited.is_ok(), "not lost after the lease ran out");
        assert!(!f.holds());
    }
}
