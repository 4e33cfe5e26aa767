//! One storage API over SQLite (the default, a file in WAL mode) and PostgreSQL,
//! chosen by the database URL. Both backends run the same SQL text (`$1`
//! placeholders work in both), with each dialect's own migrations.

pub mod audit;
mod batch;
mod copy;
mod dossiers;
mod evaluations;
mod letters;
mod outbox;
mod reports;

pub use dossiers::{
    Incoming, PageOutcome, QuarantineRecord, StoredDossier, SyncRun, SyncState, SyncTx, SyncWriter,
};
pub use evaluations::{
    CheckCandidate, DelayCause, EvaluationChange, StoredEvaluation, Which, days_on,
};
pub use letters::{IssueError, LetterCandidate, LetterRecord};
pub use outbox::{AtRiskCount, DossierLine, NewMessage, OutboxRow, SourceFreshness, UnsentAlerts};
pub use reports::{DossierFilter, KpiGroup, KpiRow, ListRow, Retention, TokenInfo, token_hash};

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("cannot apply database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error while {what}: {source}")]
    Query {
        what: &'static str,
        source: sqlx::Error,
    },
    #[error("database error while {what}: {source}")]
    Sqlite {
        what: &'static str,
        source: rusqlite::Error,
    },
    #[error("database error while {what} for dossier {code}: {source}")]
    Dossier {
        code: String,
        what: &'static str,
        source: rusqlite::Error,
    },
    #[error("a database task stopped before it finished ({0}); it is retried on the next run")]
    Task(String),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

/// Attaches what we were doing to a sqlx error.
pub(crate) trait Context<T> {
    fn ctx(self, what: &'static str) -> Result<T, StoreError>;
}

impl<T> Context<T> for Result<T, sqlx::Error> {
    fn ctx(self, what: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Query { what, source })
    }
}

/// Attaches what we were doing to a rusqlite error.
pub(crate) trait Sq<T> {
    fn sq(self, what: &'static str) -> Result<T, StoreError>;
}

impl<T> Sq<T> for rusqlite::Result<T> {
    fn sq(self, what: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Sqlite { what, source })
    }
}

/// Runs `f` on a pooled SQLite connection through rusqlite: prepared
/// statements stepped on this thread, for bulk work. sqlx's SQLite driver
/// hands every statement and row to a worker thread and copies each value
/// through it; for a sync page or a check batch that was most of the time.
pub(crate) async fn with_rusqlite<T>(
    conn: &mut sqlx::SqliteConnection,
    f: impl FnOnce(&rusqlite::Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let mut handle = conn
        .lock_handle()
        .await
        .ctx("locking the SQLite connection")?;
    // SAFETY: sqlx's worker cannot use the handle while `handle` is held, and
    // the borrowed connection (which never closes it) is dropped first.
    // Nothing here awaits: `f` runs on this thread. (Not in `block_in_place`:
    // handing the worker's other tasks to a new thread per call cost +35-48 MB
    // RSS in a 200k sync; pages and batches hold a worker for tens of ms.)
    let c = unsafe { rusqlite::Connection::from_handle(handle.as_raw_handle().as_ptr()) }
        .sq("using the SQLite connection")?;
    let out = f(&c);
    drop(c);
    out
}

/// Runs `f` with a page cache of `kib` KiB on `c`, restored afterwards
/// (whether or not `f` succeeded; its error is the one reported). A bulk
/// write touches pages all over the file: in the default 2 MB cache dirty
/// pages were spilled to the WAL mid-transaction and read back. Shrinking the
/// cache frees its pages, so idle memory stays as it was.
pub(crate) fn with_write_cache<T>(
    c: &rusqlite::Connection,
    kib: i64,
    f: impl FnOnce(&rusqlite::Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let what = "sizing the page cache";
    let default: i64 = c
        .query_row("PRAGMA cache_size", [], |r| r.get(0))
        .sq(what)?;
    // Negative: SQLite's unit for a size in KiB rather than in pages.
    c.execute_batch(&format!("PRAGMA cache_size = -{kib}"))
        .sq(what)?;
    let out = f(c);
    let restored = c
        .execute_batch(&format!("PRAGMA cache_size = {default}"))
        .sq(what);
    let out = out?;
    restored?;
    Ok(out)
}

/// A transaction that will write. SQLite: `BEGIN IMMEDIATE` takes the write
/// lock first (waiting out another writer up to the busy timeout); a deferred
/// one that reads first fails at once when another connection wrote meanwhile.
pub(crate) trait BeginWrite {
    type Db: sqlx::Database;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>;
}

impl BeginWrite for SqlitePool {
    type Db = sqlx::Sqlite;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl BeginWrite for PgPool {
    type Db = sqlx::Postgres;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.begin().await
    }
}

#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to whichever backend this store is: the same
/// code is compiled once per backend.
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite($pool) => $body,
            $crate::store::Store::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// SQLite keeps memory statistics unless told otherwise, taking a global mutex
/// on every allocation it makes (3% of a 1M sync's samples); nothing here
/// reads them. `sqlite3_config` is only accepted before SQLite initialises,
/// which the first connection does, so it runs once, before that.
fn sqlite_memory_statistics_off() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: the documented configuration call, made before any
        // connection exists (every connection is opened after this `Once`);
        // if SQLite were already initialised it would refuse, changing nothing.
        let rc =
            unsafe { rusqlite::ffi::sqlite3_config(rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS, 0) };
        if rc != rusqlite::ffi::SQLITE_OK {
            tracing::debug!(rc, "SQLite memory statistics stay on");
        }
    });
}

impl Store {
    /// Opens (creating a SQLite file if needed) and migrates.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Store, StoreError> {
        let redacted = crate::redact::redact_url(url);
        let store = if url.starts_with("sqlite:") {
            sqlite_memory_statistics_off();
            let opts = SqliteConnectOptions::from_str(url)
                .map_err(|source| StoreError::Connect {
                    url: redacted.clone(),
                    source,
                })?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                // Multi-row statements journal their pages for statement
                // rollback: in memory, not in a temporary file.
                .pragma("temp_store", "memory")
                // 16 KB pages for a new database: a sync writes fewer, fuller
                // b-tree pages and WAL frames (200k sync ~15% faster than 4 KB).
                // An existing file keeps its page size.
                .page_size(16384)
                // Checkpoint every 10,000 pages of WAL (160 MB with 16 KB
                // pages, 40 MB in older 4 KB-page files), not 1,000: a sync
                // rewrites the same index pages, copied back once instead of
                // many times.
                .pragma("wal_autocheckpoint", "10000");
            let pool = SqlitePoolOptions::new()
                .max_connections(max_connections)
                .connect_with(opts)
                .await
                .map_err(|source| StoreError::Connect {
                    url: redacted.clone(),
                    source,
                })?;
            Store::Sqlite(pool)
        } else {
            let pool = PgPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await
                .map_err(|source| StoreError::Connect {
                    url: redacted.clone(),
                    source,
                })?;
            Store::Postgres(pool)
        };
        store.migrate().await?;
        Ok(store)
    }

    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(pool) => sqlx::migrate!("migrations/sqlite").run(pool).await?,
            Store::Postgres(pool) => sqlx::migrate!("migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// A round trip to the database.
    pub async fn ping(&self) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query("SELECT 1").execute(pool).await.ctx("reaching the database")?;
        });
        Ok(())
    }

    /// Closes the pool. SQLite: the WAL is first copied into the database
    /// file and emptied, so that the file alone is complete after a command
    /// (a copy of it is a backup); left to the closing connections, whichever
    /// closed last did it, or none when they closed at once.
    pub async fn close(&self) {
        if let Store::Sqlite(pool) = self {
            // Not worth delaying a shutdown for: a reader still busy makes it
            // give up, and the next opening finishes the job.
            let emptied = async {
                let mut c = pool.acquire().await?;
                sqlx::query("PRAGMA busy_timeout = 200")
                    .execute(&mut *c)
                    .await?;
                sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(&mut *c)
                    .await
            };
            if let Err(e) = emptied.await {
                tracing::warn!(error = %e, "the WAL stays beside the database until it is next opened");
            }
        }
        with_pool!(self, pool => pool.close().await)
    }

    /// SQLite: copies the committed pages of the WAL into the database file,
    /// on a connection of its own and without waiting for (or blocking) the
    /// writer. SQLite's own automatic checkpoint runs inside the commit that
    /// crosses its threshold: a large sync calls this every so many committed
    /// records so that the copying overlaps with writing the next pages.
    /// PostgreSQL: nothing.
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        if let Store::Sqlite(pool) = self {
            sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(pool)
                .await
                .ctx("checkpointing the SQLite write-ahead log")?;
        }
        Ok(())
    }
}
