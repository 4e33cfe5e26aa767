//! One storage API over SQLite (the default, a file in WAL mode) and
//! PostgreSQL, chosen by the database URL. `Store` is opaque: nothing outside
//! this module asks which backend it has. What differs between the two is
//! named once, by the `Backend` trait below (`sqlite/`, `postgres/`); SQL that
//! is the same on both (`$1` placeholders work in both) is written once and
//! compiled per backend by `with_pool!`. Each dialect has its own migrations.

/// Runs `$body` with `$pool` bound to whichever backend this store is: the same
/// code is compiled once per backend. Defined before the modules so that they
/// see it; it is not exported.
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            $crate::store::Pool::Sqlite($pool) => $body,
            $crate::store::Pool::Postgres($pool) => $body,
        }
    };
}

mod acks;
pub mod audit;
mod cache;
mod dossiers;
mod evaluations;
mod filter;
pub mod leader;
mod letters;
mod outbox;
mod period_report;
mod postgres;
mod reports;
mod sessions;
mod sqlite;
mod value;

pub use acks::{AckDetails, AckOutcome, AckRecord, Climb, LeaderAlert, Unacknowledged};
pub use cache::CacheEntry;
pub use dossiers::{
    Incoming, PageOutcome, QuarantineRecord, StoredDossier, SyncRun, SyncState, SyncTx, SyncWriter,
};
pub use evaluations::{
    CheckCandidate, DelayCause, EvaluationChange, StoredEvaluation, Which, days_on,
};
pub use filter::{DateBasis, DossierFilter};
pub use leader::{Fence, FileLock, Leader, LeaderError, Renewal};
pub use letters::{
    IssueError, LetterCandidate, LetterRecord, NewLetter, Wording, cause_key, doc_number,
};
pub use outbox::{
    AlertBrief, AtRiskCount, DossierLine, NewEvent, NewMessage, OutboxRow, SourceFreshness,
    UnsentAlerts,
};
pub use period_report::PeriodCounts;
pub use reports::{
    Facets, FilterTotals, KpiGroup, KpiRow, ListRow, PendingLetter, Retention, TokenInfo,
    token_hash,
};

use chrono::NaiveDateTime;
use dossiers::Page;
use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;
use std::collections::HashMap;
use std::sync::Arc;

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
    #[error("the audit witness file {0}; check audit.witness_file")]
    Witness(String),
    #[error(transparent)]
    Leader(#[from] LeaderError),
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

/// What differs between SQLite and PostgreSQL, implemented by each one's pool
/// (`sqlite/`, `postgres/`); everything else is shared SQL (`with_pool!`).
/// Times, flags and JSON are bound and read through the newtypes of `value`,
/// which encode each backend's own way (SQLite: text and 0/1; PostgreSQL:
/// `timestamptz`, `boolean`, `jsonb`).
trait Backend: Sized {
    type Db: sqlx::Database;
    /// What a sync writes with, from one transaction to the next.
    type SyncConn: Send;
    /// A sync's open write transaction (`SyncTx`).
    type SyncTx: Send;
    const NAME: &'static str;
    /// The condition of a dossier the source deleted, written as the partial
    /// index on it says it (SQLite uses the index only for that same text;
    /// PostgreSQL's `deleted` is a boolean).
    const DELETED: &'static str;
    /// Appended to a `SELECT … LIMIT 1` that picks a row to claim: skip rows
    /// another transaction has locked (PostgreSQL); nothing on SQLite.
    const SKIP_LOCKED: &'static str;

    /// Run before a large read-only aggregate (the periodic report), inside
    /// its transaction. PostgreSQL: no JIT (compiling the report's many
    /// expressions took longer than running them: 1.8 s of 2.7 s on 1M
    /// dossiers) and room to hash or sort in memory; SQLite: nothing.
    const AGGREGATE_SETTINGS: &'static [&'static str];

    /// SQL for the month (`YYYY-MM`, Vietnam time) of the time column `col`.
    fn month_of(col: &str) -> String;

    /// Opens a pool on `url` with `settings` on every connection (SQLite
    /// PRAGMAs, PostgreSQL run-time parameters).
    async fn open(
        url: &str,
        max_connections: u32,
        settings: &[(&str, &str)],
    ) -> Result<Self, sqlx::Error>;
    async fn migrate(&self) -> Result<(), StoreError>;
    /// A transaction that will write. SQLite: `BEGIN IMMEDIATE` takes the
    /// write lock first (waiting out another writer up to the busy timeout); a
    /// deferred one that reads first fails at once when another connection
    /// wrote meanwhile.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>;
    /// Makes committed writes durable in the main file (SQLite's WAL); see
    /// `Store::checkpoint`.
    async fn checkpoint(&self) -> Result<(), StoreError>;
    /// What to do before the pool closes (see `Store::close`).
    async fn before_close(&self);
    /// The right to run the jobs (`leader`), for the database at `url`, as
    /// `instance`; `early`, SQLite's lock file if already taken.
    async fn try_lead(
        &self,
        url: &str,
        instance: &str,
        lease: std::time::Duration,
        early: Option<FileLock>,
    ) -> Result<Option<Leader>, StoreError>;
    /// How many batches of verdicts a check saves at once.
    fn concurrent_saves(&self) -> usize;

    /// The bulk sync writer: rusqlite statements on SQLite, `COPY` on PostgreSQL.
    async fn sync_writer(&self) -> Result<Self::SyncConn, StoreError>;
    async fn sync_begin(w: Self::SyncConn) -> Result<Self::SyncTx, StoreError>;
    async fn sync_commit(tx: Self::SyncTx) -> Result<Self::SyncConn, StoreError>;
    async fn sync_close(w: Self::SyncConn);
    fn sync_conn(tx: &mut Self::SyncTx) -> &mut <Self::Db as sqlx::Database>::Connection;
    /// Writes a page's new and changed dossiers with their history and
    /// due-date history; returns (code, content hash) of each one written,
    /// for the audit trail.
    async fn write_dossiers(
        c: &mut <Self::Db as sqlx::Database>::Connection,
        page: &Page<'_>,
        out: &mut PageOutcome,
    ) -> Result<Vec<(String, String)>, StoreError>;

    /// The morning check's bulk read (see `Store::check_candidates`).
    async fn check_candidates(
        &self,
        which: &Which,
        all: bool,
        now: NaiveDateTime,
    ) -> Result<Vec<CheckCandidate>, StoreError>;
    async fn steps_of(&self, ids: &[i64]) -> Result<HashMap<i64, String>, StoreError>;
    /// The check's bulk write of verdicts, class changes and alerts, inside
    /// the caller's transaction.
    async fn write_evaluations(
        &self,
        c: &mut <Self::Db as sqlx::Database>::Connection,
        changes: &[EvaluationChange],
        now: NaiveDateTime,
    ) -> Result<(), StoreError>;
    async fn unqueue(&self, seqs: &[i64]) -> Result<(), StoreError>;
    /// The highest dossier id, every lower one committed.
    async fn max_dossier_id(&self) -> Result<i64, StoreError>;
}

/// The store: a pool of one backend, and the URL it was opened with (the
/// leader lock is found from it).
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    url: Arc<str>,
    /// What seals the audit trail from outside the database.
    seal: Arc<audit::AuditSeal>,
    /// This handle's name in the outbox's claims (host, process, a random
    /// part): two instances, or two stores in one test, never share one.
    instance: Arc<str>,
}

#[derive(Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .field("url", &crate::redact::redact_url(&self.url))
            .finish()
    }
}

impl Store {
    /// Opens (creating a SQLite file if needed) and migrates.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Store, StoreError> {
        Store::connect_with(url, max_connections, &[]).await
    }

    /// As `connect`, with `settings` applied on every connection the store
    /// opens: SQLite PRAGMAs (e.g. `max_page_count`, to test a full disk),
    /// PostgreSQL run-time parameters (e.g. `statement_timeout`).
    pub async fn connect_with(
        url: &str,
        max_connections: u32,
        settings: &[(&str, &str)],
    ) -> Result<Store, StoreError> {
        let connect = |source| StoreError::Connect {
            url: crate::redact::redact_url(url),
            source,
        };
        let pool = if url.starts_with("sqlite:") {
            Pool::Sqlite(
                SqlitePool::open(url, max_connections, settings)
                    .await
                    .map_err(connect)?,
            )
        } else {
            Pool::Postgres(
                PgPool::open(url, max_connections, settings)
                    .await
                    .map_err(connect)?,
            )
        };
        let store = Store {
            pool,
            url: url.into(),
            seal: Arc::default(),
            instance: instance_name().into(),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// The name this store claims messages under.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The store sealing its audit trail with `seal` (see `audit`).
    pub fn with_audit_seal(mut self, seal: audit::AuditSeal) -> Store {
        self.seal = Arc::new(seal);
        self
    }

    pub async fn migrate(&self) -> Result<(), StoreError> {
        with_pool!(self, pool => pool.migrate().await)
    }

    /// `sqlite` or `postgres`, for messages.
    pub fn backend(&self) -> &'static str {
        match &self.pool {
            Pool::Sqlite(_) => SqlitePool::NAME,
            Pool::Postgres(_) => PgPool::NAME,
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
    /// (a copy of it is a backup).
    pub async fn close(&self) {
        with_pool!(self, pool => {
            pool.before_close().await;
            pool.close().await
        })
    }

    /// SQLite: copies the committed pages of the WAL into the database file,
    /// on a connection of its own and without waiting for (or blocking) the
    /// writer. SQLite's own automatic checkpoint runs inside the commit that
    /// crosses its threshold: a large sync calls this every so many committed
    /// records so that the copying overlaps with writing the next pages.
    /// PostgreSQL: nothing.
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        with_pool!(self, pool => pool.checkpoint().await)
    }

    /// Tries to become the one instance that runs the jobs, with a new
    /// fencing token (`leader`). SQLite: the lock file beside the database
    /// (`early`, when `lock_before_opening` took it); a second instance is
    /// refused (an error). PostgreSQL: the lease, for `lease` unless renewed;
    /// None while another instance holds it.
    pub async fn try_lead(
        &self,
        early: Option<FileLock>,
        lease: std::time::Duration,
    ) -> Result<Option<Leader>, StoreError> {
        with_pool!(self, pool => pool.try_lead(&self.url, &self.instance, lease, early).await)
    }

    /// How many batches of verdicts a check should save at once: PostgreSQL
    /// saves on several connections (the server's processes do the work);
    /// SQLite has one writer at a time anyway.
    pub fn concurrent_saves(&self) -> usize {
        with_pool!(self, pool => pool.concurrent_saves())
    }

    /// Runs one SQL statement as given; the rows it changed. For operators'
    /// checks and tests: the application's own writes go through the methods.
    pub async fn execute_sql(&self, sql: &str) -> Result<u64, StoreError> {
        with_pool!(self, pool => {
            let r = sqlx::query(sql).execute(pool).await.ctx("running a statement")?;
            Ok(r.rows_affected())
        })
    }

    /// Every row a query returns, each value as text the way SQLite holds it
    /// (times `YYYY-MM-DD HH:MM:SS` in Vietnam time, flags 0/1), so that both
    /// backends answer alike. For operators' checks and tests.
    pub async fn fetch_text(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>, StoreError> {
        use sqlx::Row;
        use value::AsText;
        let what = "running a query";
        with_pool!(self, pool => {
            let rows = sqlx::query(sql).fetch_all(pool).await.ctx(what)?;
            rows.iter()
                .map(|r| (0..r.len()).map(|i| r.text(i).ctx(what)).collect())
                .collect()
        })
    }

    /// The single integer a query returns (a count, a PRAGMA). For operators'
    /// checks and tests.
    pub async fn fetch_i64(&self, sql: &str) -> Result<i64, StoreError> {
        with_pool!(self, pool => {
            sqlx::query_scalar(sql).fetch_one(pool).await.ctx("running a query")
        })
    }
}

/// `Backend::month_of` for the backend of `_pool` (in `with_pool!`).
fn month_of<B: Backend>(_pool: &B, col: &str) -> String {
    B::month_of(col)
}

/// `Backend::AGGREGATE_SETTINGS` for the backend of `_pool` (in `with_pool!`).
fn aggregate_settings<B: Backend>(_pool: &B) -> &'static [&'static str] {
    B::AGGREGATE_SETTINGS
}

/// `Backend::SKIP_LOCKED` for the backend of `_pool` (in `with_pool!`).
fn skip_locked<B: Backend>(_pool: &B) -> &'static str {
    B::SKIP_LOCKED
}

/// `Backend::DELETED` for the backend of `_pool` (in `with_pool!`).
fn deleted<B: Backend>(_pool: &B) -> &'static str {
    B::DELETED
}

/// `$first, $first+1, …` for an IN list.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A name for one store handle: host, process id and a random part.
fn instance_name() -> String {
    use rand::RngCore;
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    format!(
        "{host}:{}:{:08x}",
        std::process::id(),
        rand::rngs::OsRng.next_u32()
    )
}
