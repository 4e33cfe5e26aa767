//! A sync's writing: pages of dossiers stored in write transactions that may
//! span several pages, each backend its own fastest way (`Backend`'s bulk
//! sync writer), with deletions, quarantined records, the audit trail and the
//! source's watermark written alike; and the per-source sync state.

use super::{Incoming, PageOutcome, QuarantineRecord, SyncRun, SyncState};
use crate::clock::fmt_db;
use crate::store::audit::{AuditSeal, audit_append};
use crate::store::value::DbTime;
use crate::store::{Backend, Context, Pool, Store, StoreError, placeholders};
use chrono::NaiveDateTime;
use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;
use std::collections::HashMap;
use std::sync::Arc;

/// PostgreSQL advisory lock a sync transaction holds shared: its new
/// dossiers' ids, taken from a sequence, can commit after higher ids of
/// another transaction. A check takes it exclusively to read the highest
/// id, so that every id below it is committed ("tthc" + 1).
pub(crate) const NEW_IDS_LOCK: i64 = 0x7474_6863_0001;

/// Codes per statement releasing fixed records from the quarantine: a page
/// (at most 10,000 records) and its deletions in one or two statements, far
/// below either backend's limit of parameters.
const RELEASE_CHUNK: usize = 10_000;

/// A sync page's dossiers, deduplicated, in code order.
pub(in crate::store) struct Page<'a> {
    pub(in crate::store) source: &'a str,
    pub(in crate::store) latest: &'a HashMap<&'a str, &'a Incoming>,
    pub(in crate::store) codes: &'a [&'a str],
    /// When the page is stored, and the same as stored text.
    pub(in crate::store) at: NaiveDateTime,
    pub(in crate::store) now: &'a str,
}

/// What a sync writes with, from one transaction (`SyncTx`) to the next
/// (`Backend::sync_writer`).
pub struct SyncWriter(Writer, Arc<AuditSeal>);

enum Writer {
    Sqlite(<SqlitePool as Backend>::SyncConn),
    Postgres(<PgPool as Backend>::SyncConn),
}

/// A sync's write transaction, which may span several pages: committing
/// after every page rewrote the same index pages (WAL frames, checkpoints) once
/// per page; at 1M dossiers that was a third of a sync's time. Dropped
/// without `commit`, it rolls back (SQLite: its connection closes).
pub struct SyncTx(Tx, Arc<AuditSeal>);

enum Tx {
    Sqlite(<SqlitePool as Backend>::SyncTx),
    Postgres(<PgPool as Backend>::SyncTx),
}

/// Runs `$body` with `$b` naming the backend (its pool type) and `$tx` bound
/// to the connection of a `SyncTx`: the same code compiled once per backend.
macro_rules! with_tx {
    ($sync:expr, $b:ident, $tx:ident => $body:expr) => {
        match &mut $sync.0 {
            Tx::Sqlite(t) => {
                type $b = SqlitePool;
                let $tx = <$b as Backend>::sync_conn(t);
                $body
            }
            Tx::Postgres(t) => {
                type $b = PgPool;
                let $tx = <$b as Backend>::sync_conn(t);
                $body
            }
        }
    };
}

impl Store {
    /// What a sync writes with (see `SyncWriter`).
    pub async fn sync_writer(&self) -> Result<SyncWriter, StoreError> {
        Ok(SyncWriter(
            match &self.pool {
                Pool::Sqlite(p) => Writer::Sqlite(p.sync_writer().await?),
                Pool::Postgres(p) => Writer::Postgres(p.sync_writer().await?),
            },
            self.seal.clone(),
        ))
    }

    /// Stores one page of a sync in a transaction of its own (see
    /// `SyncTx::apply_page`).
    pub async fn apply_page(
        &self,
        source: &str,
        dossiers: &[Incoming],
        deleted_codes: &[String],
        quarantine: &[QuarantineRecord],
        watermark: Option<&str>,
        now: NaiveDateTime,
    ) -> Result<PageOutcome, StoreError> {
        let (out, writer) = self
            .sync_writer()
            .await?
            .apply_page(source, dossiers, deleted_codes, quarantine, watermark, now)
            .await?;
        writer.close().await;
        Ok(out)
    }
}

impl SyncTx {
    /// Stores one page of a sync: new and changed dossiers (with history and
    /// due-date history), deletions, quarantined records (one row per record,
    /// counted each time it comes), the release of quarantined records whose
    /// code the page stores or deletes, and the source's new watermark.
    /// Unchanged dossiers write nothing. The watermark is written
    /// with the data, so a crash before the commit re-reads the pages.
    pub async fn apply_page(
        &mut self,
        source: &str,
        dossiers: &[Incoming],
        deleted_codes: &[String],
        quarantine: &[QuarantineRecord],
        watermark: Option<&str>,
        now: NaiveDateTime,
    ) -> Result<PageOutcome, StoreError> {
        let mut out = PageOutcome::default();
        let now_s = fmt_db(now);
        // A page may repeat a record (a source quirk); the last copy wins.
        let mut latest: HashMap<&str, &Incoming> = HashMap::new();
        for i in dossiers {
            if latest.insert(i.dossier.code.as_str(), i).is_some() {
                out.unchanged += 1;
            }
        }
        let mut codes: Vec<&str> = latest.keys().copied().collect();
        codes.sort_unstable();
        let mut removed: Vec<String> = Vec::new();
        let seal = self.1.clone();
        with_tx!(self, B, tx => {
            let page = Page { source, latest: &latest, codes: &codes, at: now, now: &now_s };
            let written = B::write_dossiers(&mut *tx, &page, &mut out).await?;
            for code in deleted_codes {
                let row: Option<(i64, bool)> = sqlx::query_as("SELECT id, deleted FROM dossiers WHERE source = $1 AND code = $2")
                    .bind(source)
                    .bind(code.clone())
                    .fetch_optional(&mut *tx)
                    .await
                    .ctx("reading a deleted dossier")?;
                // Never seen, or already marked: nothing to record.
                if let Some((id, false)) = row {
                    // Its hash goes with it: sent again, even as it was, it
                    // is then a change (restored), not "unchanged".
                    sqlx::query("UPDATE dossiers SET deleted = TRUE, content_hash = '', last_changed_at = $1 WHERE id = $2")
                        .bind(DbTime(now))
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .ctx("marking a dossier deleted")?;
                    sqlx::query("INSERT INTO dossier_history (dossier_id, observed_at, kind, changes, source_updated_at) VALUES ($1, $2, 'deleted', '{}', $2)")
                        .bind(id)
                        .bind(DbTime(now))
                        .execute(&mut *tx)
                        .await
                        .ctx("recording a deletion")?;
                    out.deleted += 1;
                    removed.push(code.clone());
                }
            }
            // A record the source sent fixed (stored, however it compares
            // with before, or deleted) leaves the quarantine. Most pages of a
            // big sync meet an empty quarantine: one look at it first.
            let mut fixed: Vec<&str> = codes.iter().copied().chain(deleted_codes.iter().map(String::as_str)).collect();
            if !fixed.is_empty() {
                let (any,): (bool,) = sqlx::query_as("SELECT EXISTS (SELECT 1 FROM quarantine WHERE source = $1)")
                    .bind(source)
                    .fetch_one(&mut *tx)
                    .await
                    .ctx("looking for quarantined records of the source")?;
                if any {
                    fixed.sort_unstable();
                    fixed.dedup();
                    for chunk in fixed.chunks(RELEASE_CHUNK) {
                        let sql = format!("DELETE FROM quarantine WHERE source = $1 AND qkey IN ({})", placeholders(2, chunk.len()));
                        let mut q = sqlx::query(&sql).persistent(false).bind(source);
                        for code in chunk {
                            q = q.bind(*code);
                        }
                        out.released += q.execute(&mut *tx).await.ctx("releasing fixed records from the quarantine")?.rows_affected();
                    }
                }
            }
            // One row per bad record (`QuarantineRecord::key`): received
            // again, it is counted and its latest form kept.
            for r in quarantine {
                sqlx::query("INSERT INTO quarantine (source, qkey, code, reason, raw, received_at, last_seen_at, times) \
                             VALUES ($1, $2, $3, $4, $5, $6, $6, 1) \
                             ON CONFLICT (source, qkey) DO UPDATE SET code = excluded.code, reason = excluded.reason, raw = excluded.raw, \
                             last_seen_at = excluded.last_seen_at, times = quarantine.times + 1")
                    .bind(source)
                    .bind(r.key())
                    .bind(r.code.as_deref())
                    .bind(r.reason.as_str())
                    .bind(r.raw.as_str())
                    .bind(DbTime(now))
                    .execute(&mut *tx)
                    .await
                    .ctx("quarantining a record")?;
                out.quarantined += 1;
            }
            if !written.is_empty() || !removed.is_empty() || !quarantine.is_empty() || out.released > 0 {
                let mut detail = serde_json::json!({ "written": written, "deleted": removed, "quarantined": quarantine.len() });
                if out.released > 0 {
                    detail["released"] = out.released.into();
                }
                audit_append!(tx, seal, now, "sync_page", source.to_owned(), detail.to_string());
            }
            if let Some(w) = watermark {
                sqlx::query("INSERT INTO sync_state (source, watermark, last_attempt_at) VALUES ($1, $2, $3) \
                             ON CONFLICT (source) DO UPDATE SET watermark = excluded.watermark, last_attempt_at = excluded.last_attempt_at")
                    .bind(source)
                    .bind(w)
                    .bind(DbTime(now))
                    .execute(&mut *tx)
                    .await
                    .ctx("saving the sync watermark")?;
            }
            Ok(out)
        })
    }

    /// Makes the pages written so far durable and visible; the writer can
    /// begin the next transaction.
    pub async fn commit(self) -> Result<SyncWriter, StoreError> {
        Ok(SyncWriter(
            match self.0 {
                Tx::Sqlite(t) => Writer::Sqlite(SqlitePool::sync_commit(t).await?),
                Tx::Postgres(t) => Writer::Postgres(PgPool::sync_commit(t).await?),
            },
            self.1,
        ))
    }
}

impl SyncWriter {
    /// Starts a write transaction for sync pages (`SyncTx::apply_page`).
    pub async fn begin(self) -> Result<SyncTx, StoreError> {
        Ok(SyncTx(
            match self.0 {
                Writer::Sqlite(w) => Tx::Sqlite(SqlitePool::sync_begin(w).await?),
                Writer::Postgres(w) => Tx::Postgres(PgPool::sync_begin(w).await?),
            },
            self.1,
        ))
    }

    /// Stores one page of a sync in a transaction of its own (see
    /// `SyncTx::apply_page`); the writer is ready for the next.
    pub async fn apply_page(
        self,
        source: &str,
        dossiers: &[Incoming],
        deleted_codes: &[String],
        quarantine: &[QuarantineRecord],
        watermark: Option<&str>,
        now: NaiveDateTime,
    ) -> Result<(PageOutcome, SyncWriter), StoreError> {
        let mut tx = self.begin().await?;
        let out = tx
            .apply_page(source, dossiers, deleted_codes, quarantine, watermark, now)
            .await?;
        Ok((out, tx.commit().await?))
    }

    /// Ends the sync's writing (SQLite: closes its connection, which frees
    /// its cache). Nothing is lost if this fails: every page was committed.
    pub async fn close(self) {
        match self.0 {
            Writer::Sqlite(w) => SqlitePool::sync_close(w).await,
            Writer::Postgres(w) => PgPool::sync_close(w).await,
        }
    }
}

type SyncStateRow = (
    Option<String>,
    Option<DbTime>,
    Option<DbTime>,
    Option<String>,
);

impl Store {
    pub async fn sync_state(&self, source: &str) -> Result<SyncState, StoreError> {
        let row: Option<SyncStateRow> = with_pool!(self, pool => {
            sqlx::query_as("SELECT watermark, last_success_at, last_attempt_at, last_error FROM sync_state WHERE source = $1")
                .bind(source)
                .fetch_optional(pool)
                .await
                .ctx("reading the sync state")?
        });
        let Some((watermark, ok, attempt, error)) = row else {
            return Ok(SyncState::default());
        };
        Ok(SyncState {
            watermark,
            last_success_at: ok.map(|t| t.0),
            last_attempt_at: attempt.map(|t| t.0),
            last_error: error,
        })
    }

    /// Records how a sync of one source ended (and its run statistics).
    pub async fn finish_sync(&self, run: &SyncRun) -> Result<(), StoreError> {
        let finished = DbTime(run.finished_at);
        let success = run.error.is_none().then_some(finished);
        with_pool!(self, pool => {
            let mut tx = pool.begin().await.ctx("starting a transaction")?;
            sqlx::query("INSERT INTO sync_state (source, last_success_at, last_attempt_at, last_error, first_attempt_at) VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (source) DO UPDATE SET first_attempt_at = COALESCE(sync_state.first_attempt_at, excluded.first_attempt_at), last_success_at = COALESCE(excluded.last_success_at, sync_state.last_success_at), \
                         last_attempt_at = excluded.last_attempt_at, last_error = excluded.last_error")
                .bind(run.source.clone())
                .bind(success)
                .bind(finished)
                .bind(run.error.clone())
                .bind(DbTime(run.started_at))
                .execute(&mut *tx)
                .await
                .ctx("saving the sync state")?;
            let o = run.outcome;
            sqlx::query("INSERT INTO sync_runs (source, started_at, finished_at, fetched, created, changed, unchanged, deleted, quarantined, error) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                .bind(run.source.clone())
                .bind(DbTime(run.started_at))
                .bind(finished)
                .bind(run.fetched as i64)
                .bind(o.created as i64)
                .bind(o.changed as i64)
                .bind(o.unchanged as i64)
                .bind(o.deleted as i64)
                .bind(o.quarantined as i64)
                .bind(run.error.clone())
                .execute(&mut *tx)
                .await
                .ctx("recording a sync run")?;
            tx.commit().await.ctx("committing the sync state")?;
            Ok(())
        })
    }
}
