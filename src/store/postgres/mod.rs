//! PostgreSQL (production): several instances, several writers. Bulk work
//! goes in few statements: new rows by `COPY`, batches of changes as arrays
//! or one JSON parameter, a check's reads as one JSON document.

use super::dossiers::{NEW_IDS_LOCK, Page, PageOutcome};
use super::{
    Backend, CheckCandidate, Context, EvaluationChange, FileLock, Leader, StoreError, Which,
};
use chrono::NaiveDateTime;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{PgConnection, Postgres, Transaction};
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

mod batch;
mod check;
mod copy;
mod sync_writer;

impl Backend for PgPool {
    type Db = Postgres;
    /// The pool: each sync transaction takes a connection of it.
    type SyncConn = PgPool;
    type SyncTx = (Transaction<'static, Postgres>, PgPool);
    const NAME: &'static str = "postgres";
    const DELETED: &'static str = "deleted";
    const SKIP_LOCKED: &'static str = " FOR UPDATE SKIP LOCKED";
    const AGGREGATE_SETTINGS: &'static [&'static str] =
        &["SET LOCAL jit = off", "SET LOCAL work_mem = '64MB'"];

    /// An instant: its month in Vietnam, whatever the session's time zone.
    fn month_of(col: &str) -> String {
        format!("to_char({col} AT TIME ZONE 'Asia/Ho_Chi_Minh', 'YYYY-MM')")
    }

    async fn open(
        url: &str,
        max_connections: u32,
        settings: &[(&str, &str)],
    ) -> Result<PgPool, sqlx::Error> {
        let mut opts = PgConnectOptions::from_str(url)?;
        if !settings.is_empty() {
            opts = opts.options(settings.iter().copied());
        }
        PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("migrations/postgres").run(self).await?;
        Ok(())
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        self.begin().await
    }

    async fn checkpoint(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn before_close(&self) {}

    /// The lease, on a connection of its own opened as the pool's are.
    async fn try_lead(
        &self,
        _url: &str,
        instance: &str,
        lease: Duration,
        _early: Option<FileLock>,
    ) -> Result<Option<Leader>, StoreError> {
        Ok(super::leader::take_lease(&self.connect_options(), instance, lease).await?)
    }

    /// Two batches at once on two connections: they touch different dossiers
    /// and take the audit chain's lock only to append, last; the saving, done
    /// by the server's own processes, was most of a morning's check.
    fn concurrent_saves(&self) -> usize {
        2
    }

    async fn sync_writer(&self) -> Result<PgPool, StoreError> {
        Ok(self.clone())
    }

    async fn sync_begin(pool: PgPool) -> Result<Self::SyncTx, StoreError> {
        let what = "starting a sync transaction";
        let mut tx = pool.begin_write().await.ctx(what)?;
        // Shared with other syncs; a check waits for it (see
        // `max_dossier_id`).
        sqlx::query("SELECT pg_advisory_xact_lock_shared($1)")
            .bind(NEW_IDS_LOCK)
            .execute(&mut *tx)
            .await
            .ctx(what)?;
        // The sync's `COPY` rows and JSON batches carry times as text in the
        // stored form, Vietnam time: read so in this transaction (binding
        // them as binary instants would mean a statement per row).
        sqlx::query("SET LOCAL TIME ZONE 'Asia/Ho_Chi_Minh'")
            .execute(&mut *tx)
            .await
            .ctx(what)?;
        Ok((tx, pool))
    }

    async fn sync_commit((tx, pool): Self::SyncTx) -> Result<PgPool, StoreError> {
        tx.commit().await.ctx("committing sync pages")?;
        Ok(pool)
    }

    async fn sync_close(_pool: PgPool) {}

    fn sync_conn(tx: &mut Self::SyncTx) -> &mut PgConnection {
        &mut tx.0
    }

    async fn write_dossiers(
        c: &mut PgConnection,
        page: &Page<'_>,
        out: &mut PageOutcome,
    ) -> Result<Vec<(String, String)>, StoreError> {
        sync_writer::write_dossiers(c, page, out).await
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
        c: &mut PgConnection,
        changes: &[EvaluationChange],
        now: NaiveDateTime,
    ) -> Result<(), StoreError> {
        check::save(c, changes, now).await
    }

    async fn unqueue(&self, seqs: &[i64]) -> Result<(), StoreError> {
        for chunk in seqs.chunks(10_000) {
            sqlx::query("DELETE FROM check_queue WHERE seq = ANY($1)")
                .bind(chunk)
                .execute(self)
                .await
                .ctx("emptying the check queue")?;
        }
        Ok(())
    }

    /// The sync transactions in flight (whose sequence-numbered ids may be
    /// lower) are waited for first (`NEW_IDS_LOCK`).
    async fn max_dossier_id(&self) -> Result<i64, StoreError> {
        let what = "reading the highest dossier id";
        let mut tx = self.begin().await.ctx(what)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(NEW_IDS_LOCK)
            .execute(&mut *tx)
            .await
            .ctx(what)?;
        let (max,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(id), 0) FROM dossiers")
            .fetch_one(&mut *tx)
            .await
            .ctx(what)?;
        tx.commit().await.ctx(what)?;
        Ok(max)
    }
}
