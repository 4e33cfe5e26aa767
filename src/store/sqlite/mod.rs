//! SQLite (the default): a file in WAL mode, one writer at a time. Bulk work
//! (a sync page, a check batch) runs on sqlx's own connection handle through
//! rusqlite, with prepared statements stepped on this thread.

use super::dossiers::{Page, PageOutcome};
use super::{
    Backend, CheckCandidate, Context, EvaluationChange, FileLock, Leader, Sq, StoreError, Which,
};
use chrono::NaiveDateTime;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, SqliteConnection, TransactionManager};
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

mod check;
mod static_statement;
mod sync_writer;

/// The page cache of a sync's SQLite connection, in KiB: a batch's dirty
/// pages (~20 MB at the sync's 10,000 records a batch) and the part of the
/// code index a batch touches; freed when the poll ends. In a 1M initial
/// sync, 16 and 24 MB still read back 3.6 and 3.2 GB; from 32 MB, 0.3 GB.
const SYNC_CACHE_KIB: i64 = 40_000;

/// SQLite keeps memory statistics unless told otherwise, taking a global mutex
/// on every allocation it makes (3% of a 1M sync's samples); nothing here
/// reads them. `sqlite3_config` is only accepted before SQLite initialises,
/// which the first connection does, so it runs once, before that.
fn memory_statistics_off() {
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

/// Runs `f` on a pooled SQLite connection through rusqlite: prepared
/// statements stepped on this thread, for bulk work. sqlx's SQLite driver
/// hands every statement and row to a worker thread and copies each value
/// through it; for a sync page or a check batch that was most of the time.
pub(crate) async fn with_rusqlite<T>(
    conn: &mut SqliteConnection,
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
fn with_write_cache<T>(
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

/// `?1, ?2, …, ?n`: SQLite's positional parameters, for statements bound by
/// index through rusqlite.
fn sqlite_placeholders(n: usize) -> String {
    (1..=n)
        .map(|k| format!("?{k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Backend for SqlitePool {
    type Db = sqlx::Sqlite;
    /// A connection of the sync's own, kept for the whole poll and closed
    /// with it, with a page cache that holds a batch's dirty pages and the
    /// code index. Pooled connections took turns: each turn found its cache
    /// stale (another connection had written since) and read the code index
    /// back page by page, and a 2 MB cache between pages spilled dirty pages
    /// mid-batch (SQLite then read the batch's frames back to checksum them
    /// at commit): 2.8 GB more read in a 1M initial sync (4.4 GB instead of 1.6).
    type SyncConn = SqliteConnection;
    /// The same connection, inside `BEGIN IMMEDIATE`.
    type SyncTx = SqliteConnection;
    const NAME: &'static str = "sqlite";
    const DELETED: &'static str = "deleted = 1";
    const SKIP_LOCKED: &'static str = "";
    const AGGREGATE_SETTINGS: &'static [&'static str] = &[];

    /// Times are text in the stored form.
    fn month_of(col: &str) -> String {
        format!("substr({col}, 1, 7)")
    }

    async fn open(
        url: &str,
        max_connections: u32,
        settings: &[(&str, &str)],
    ) -> Result<SqlitePool, sqlx::Error> {
        memory_statistics_off();
        let mut opts = SqliteConnectOptions::from_str(url)?
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
            .pragma("wal_autocheckpoint", "10000")
            // Once checkpointed, the WAL file is cut back to 32 MiB: it kept
            // its largest size for good (`Store::checkpoint` after each of
            // the daemon's jobs makes that happen while it runs).
            .pragma("journal_size_limit", (32u64 << 20).to_string());
        for (k, v) in settings {
            opts = opts.pragma(k.to_string(), v.to_string());
        }
        SqlitePoolOptions::new()
            .max_connections(max_connections)
            .connect_with(opts)
            .await
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("migrations/sqlite").run(self).await?;
        Ok(())
    }

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }

    async fn checkpoint(&self) -> Result<(), StoreError> {
        sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(self)
            .await
            .ctx("checkpointing the SQLite write-ahead log")?;
        Ok(())
    }

    /// Empties the WAL into the database file. Left to the closing
    /// connections, whichever closed last did it, or none when they closed at
    /// once.
    async fn before_close(&self) {
        // Not worth delaying a shutdown for: a reader still busy makes it
        // give up, and the next opening finishes the job.
        let emptied = async {
            let mut c = self.acquire().await?;
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

    async fn try_lead(
        &self,
        url: &str,
        instance: &str,
        _lease: std::time::Duration,
        early: Option<FileLock>,
    ) -> Result<Option<Leader>, StoreError> {
        let lock = match early {
            Some(l) => Some(l),
            None => super::leader::lock_file(url)?,
        };
        match lock {
            Some(l) => Ok(Some(super::leader::with_file(self, l, instance).await?)),
            None => Ok(None),
        }
    }

    fn concurrent_saves(&self) -> usize {
        1
    }

    async fn sync_writer(&self) -> Result<SqliteConnection, StoreError> {
        let opts = (*self.connect_options())
            .clone()
            .pragma("cache_size", format!("-{SYNC_CACHE_KIB}"));
        opts.connect()
            .await
            .ctx("opening the sync's SQLite connection")
    }

    async fn sync_begin(mut c: SqliteConnection) -> Result<SqliteConnection, StoreError> {
        <sqlx::Sqlite as sqlx::Database>::TransactionManager::begin(
            &mut c,
            Some("BEGIN IMMEDIATE".into()),
        )
        .await
        .ctx("starting a sync transaction")?;
        Ok(c)
    }

    async fn sync_commit(mut c: SqliteConnection) -> Result<SqliteConnection, StoreError> {
        <sqlx::Sqlite as sqlx::Database>::TransactionManager::commit(&mut c)
            .await
            .ctx("committing sync pages")?;
        Ok(c)
    }

    async fn sync_close(c: SqliteConnection) {
        if let Err(e) = sqlx::Connection::close(c).await {
            tracing::warn!(error = %e, "closing the sync's SQLite connection");
        }
    }

    fn sync_conn(tx: &mut SqliteConnection) -> &mut SqliteConnection {
        tx
    }

    async fn write_dossiers(
        c: &mut SqliteConnection,
        page: &Page<'_>,
        out: &mut PageOutcome,
    ) -> Result<Vec<(String, String)>, StoreError> {
        with_rusqlite(c, |c| sync_writer::write_dossiers(c, page, out)).await
    }

    async fn check_candidates(
        &self,
        which: &Which,
        all: bool,
        now: NaiveDateTime,
    ) -> Result<Vec<CheckCandidate>, StoreError> {
        check::candidates(self, which, all, now).await
    }

    async fn steps_of(&self, ids: &[i64]) -> Result<HashMap<i64, String>, StoreError> {
        check::steps_of(self, ids).await
    }

    async fn write_evaluations(
        &self,
        c: &mut SqliteConnection,
        changes: &[EvaluationChange],
        now: NaiveDateTime,
    ) -> Result<(), StoreError> {
        // A batch's verdicts, the alerts' unique index and the class
        // index: a few thousand pages (writing 0.9 -> 0.4 s at 800k open).
        with_rusqlite(c, |c| {
            with_write_cache(c, check::CHECK_WRITE_CACHE_KIB, |c| {
                check::save(c, changes, &crate::clock::fmt_db(now))
            })
        })
        .await
    }

    async fn unqueue(&self, seqs: &[i64]) -> Result<(), StoreError> {
        for chunk in seqs.chunks(10_000) {
            sqlx::query("DELETE FROM check_queue WHERE seq IN (SELECT value FROM json_each($1))")
                .bind(serde_json::Value::from(chunk).to_string())
                .execute(self)
                .await
                .ctx("emptying the check queue")?;
        }
        Ok(())
    }

    /// One writer at a time: every id below the highest is committed.
    async fn max_dossier_id(&self) -> Result<i64, StoreError> {
        let (max,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(id), 0) FROM dossiers")
            .fetch_one(self)
            .await
            .ctx("reading the highest dossier id")?;
        Ok(max)
    }
}
