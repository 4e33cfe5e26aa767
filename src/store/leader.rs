//! The right to run the jobs (poll, check, digest, send): one instance at a
//! time, since two would send every alert twice. SQLite: a lock file beside
//! the database, held while the file is open; a second instance is refused.
//! PostgreSQL: an advisory lock on a dedicated connection (a pooled one would
//! go back to the pool still holding it); other instances wait and retry.

use sqlx::Connection;
use std::path::{Path, PathBuf};

/// Advisory lock key on PostgreSQL ("tthc" in ASCII).
const LEADER_KEY: i64 = 0x7474_6863;

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
    #[error("cannot reach the leader lock: {0}")]
    Postgres(#[from] sqlx::Error),
}

/// Held until released or dropped (or the process dies).
pub struct Leader(Lock);

enum Lock {
    /// Held until the file is closed.
    File { _lock: std::fs::File },
    /// Held while this dedicated connection lives.
    Postgres(Box<sqlx::PgConnection>),
}

impl Leader {
    /// Still the leader? A broken connection means the lock is gone.
    pub async fn still_held(&mut self) -> bool {
        match &mut self.0 {
            Lock::File { .. } => true,
            Lock::Postgres(conn) => sqlx::query("SELECT 1").execute(conn.as_mut()).await.is_ok(),
        }
    }

    /// Gives the lock up now (dropping it would also, later).
    pub async fn release(self) {
        if let Lock::Postgres(mut conn) = self.0 {
            let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(LEADER_KEY)
                .execute(conn.as_mut())
                .await;
            let _ = conn.close().await;
        }
    }
}

impl super::Store {
    /// The lock that must be held before a database is even opened: SQLite's
    /// lock file (a second instance must not migrate the schema or bind its
    /// port before it learns it may not run). PostgreSQL's is taken later,
    /// by `try_lead`, by whichever instance gets it: None here.
    pub fn lock_before_opening(url: &str) -> Result<Option<Leader>, super::StoreError> {
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
pub(super) fn lock_file(url: &str) -> Result<Option<Leader>, LeaderError> {
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
        Ok(()) => Ok(Some(Leader(Lock::File { _lock: file }))),
        Err(std::fs::TryLockError::WouldBlock) => Err(LeaderError::AlreadyRunning {
            db: db.display().to_string(),
            lock: lock_path.display().to_string(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(failed(e)),
    }
}

/// PostgreSQL: the advisory lock on a connection of its own, if free.
pub(super) async fn advisory_lock(
    opts: &sqlx::postgres::PgConnectOptions,
) -> Result<Option<Leader>, LeaderError> {
    let mut conn = sqlx::PgConnection::connect_with(opts).await?;
    let (got,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1)")
        .bind(LEADER_KEY)
        .fetch_one(&mut conn)
        .await?;
    if got {
        return Ok(Some(Leader(Lock::Postgres(Box::new(conn)))));
    }
    let _ = conn.close().await;
    Ok(None)
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

    #[tokio::test]
    async fn a_second_lock_on_the_same_sqlite_file_is_refused_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let first = lock_file(&url).unwrap().expect("a lock");
        let e = lock_file(&url).err().expect("refused");
        assert!(matches!(e, LeaderError::AlreadyRunning { .. }), "{e}");
        // Released with the leader (the file is closed).
        first.release().await;
        assert!(lock_file(&url).unwrap().is_some());
    }
}
