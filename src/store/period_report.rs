//! The periodic report's counts (`report`): one pass over the dossiers that
//! can matter to a period, grouped by field and unit, every count a
//! `SUM(CASE …)`. The definitions are the KPIs' (`reports::kpi_sql`): a
//! dossier is received at `received_at`, and ends (finished, or closed
//! without a result) at its finish time, else its return time, else — for a
//! refusal or withdrawal, which has neither — its source's last change (the
//! deadline engine's own rule for a finish without a time). Its class is its
//! latest verdict's.

use super::value::DbTime;
use super::{Context, Store, StoreError, aggregate_settings};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use serde::Serialize;

/// The counts of one (field, unit) pair over a period `first..=last`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct PeriodCounts {
    pub field_code: String,
    pub field_name: String,
    pub unit_code: String,
    pub unit_name: String,
    /// Received before the period and not ended before it (kỳ trước chuyển qua).
    pub carried: i64,
    /// Received in the period: all channels, then each (`channel`).
    pub new_total: i64,
    pub new_online: i64,
    pub new_direct: i64,
    pub new_postal: i64,
    /// Finished in the period, by the verdict's class.
    pub before_due: i64,
    pub on_due_day: i64,
    pub late: i64,
    /// Finished late in the period with an issued apology letter.
    pub late_apologised: i64,
    /// Refused, withdrawn or stopped in the period (class `closed`).
    pub closed: i64,
    /// Received by the period's end and not ended by it.
    pub open_total: i64,
    /// Of those, past their due day at the period's end (`overdue_before`).
    pub open_overdue: i64,
}

/// When a dossier ends, whatever its class; the index of migration
/// `0021`/`0023` is on the same expression with the status in place of the
/// class (`END_OR_OPEN`), and holds every column read here (see there).
const END: &str = "COALESCE(d.finished_at, d.returned_at, d.source_updated_at)";

/// The classes of an ended dossier.
const ENDED: &str = "('before_due', 'on_due_day', 'late', 'closed')";

/// When a dossier ended, by the statuses that end one, written as the indexes
/// (`dossiers_period_end`, `dossiers_unit_end`) say it: a dossier still open
/// has no end, 'infinity' sorting after every time on both backends (SQLite's
/// text, PostgreSQL's `timestamptz`), so that "ended on or after a day, or
/// still open" is one range of those indexes. The auditors' filter
/// (`filter.rs`) uses it too.
pub(super) const END_OR_OPEN: &str = "(CASE WHEN d.status IN ('finished', 'returned', 'refused', 'withdrawn', 'stopped') \
     THEN COALESCE(d.finished_at, d.returned_at, d.source_updated_at) ELSE 'infinity' END)";

/// The report's query: $1 the period's first instant, $2 its last, $3 the
/// instant before which an open dossier's due date makes it overdue; `part`
/// a further bound on when the dossier ended, with $4.
fn period_sql(part: &str) -> String {
    let ended_by_end = format!("COALESCE(e.class, '') IN {ENDED} AND {END} <= $2");
    let fin = |class: &str| {
        format!("SUM(CASE WHEN e.class = '{class}' AND {END} <= $2 THEN 1 ELSE 0 END)")
    };
    let new = |channel: &str| {
        format!("SUM(CASE WHEN d.received_at >= $1 AND d.channel = '{channel}' THEN 1 ELSE 0 END)")
    };
    format!(
        "SELECT d.field_code, MAX(d.field_name) AS field_name, d.unit_code, MAX(d.unit_name) AS unit_name, \
         SUM(CASE WHEN d.received_at < $1 THEN 1 ELSE 0 END) AS carried, \
         SUM(CASE WHEN d.received_at >= $1 THEN 1 ELSE 0 END) AS new_total, \
         {} AS new_online, {} AS new_direct, {} AS new_postal, \
         {} AS before_due, {} AS on_due_day, {} AS late, \
         SUM(CASE WHEN e.class = 'late' AND {END} <= $2 \
             AND EXISTS (SELECT 1 FROM letters l WHERE l.dossier_id = d.id AND l.status = 'issued') THEN 1 ELSE 0 END) AS late_apologised, \
         {} AS closed, \
         SUM(CASE WHEN {ended_by_end} THEN 0 ELSE 1 END) AS open_total, \
         SUM(CASE WHEN {ended_by_end} THEN 0 \
             WHEN COALESCE(e.class, '') <> 'paused' AND COALESCE(e.due_at, d.due_at) < $3 THEN 1 ELSE 0 END) AS open_overdue \
         FROM dossiers d LEFT JOIN evaluations e ON e.dossier_id = d.id \
         WHERE {END_OR_OPEN} >= $1 AND {END_OR_OPEN} {part} $4 AND d.received_at <= $2 AND NOT d.deleted \
         AND NOT (COALESCE(e.class, '') IN {ENDED} AND {END} < $1) \
         GROUP BY d.field_code, d.unit_code",
        new("online"),
        new("direct"),
        new("postal"),
        fin("before_due"),
        fin("on_due_day"),
        fin("late"),
        fin("closed"),
    )
}

impl Store {
    /// The report's counts per (field, unit) over `first..=last` (whole
    /// days, Vietnam time). An open dossier counts as overdue at the end when
    /// its due date (the verdict's, else the stored one) is before
    /// `overdue_before` and it is not paused.
    pub async fn period_counts(
        &self,
        first: NaiveDate,
        last: NaiveDate,
        overdue_before: NaiveDateTime,
    ) -> Result<Vec<PeriodCounts>, StoreError> {
        let a = first.and_time(NaiveTime::MIN);
        let b = last.and_hms_opt(23, 59, 59).unwrap_or_default();
        // Two halves, by when the dossiers ended (before the period's middle
        // day; from it, or still open), read at once on two connections and
        // added: a year's report reads half a million dossiers, and each
        // half runs on a core of its own.
        let mid = a + (b - a) / 2;
        let (lower, upper) = tokio::try_join!(
            self.period_part("<", a, b, overdue_before, mid),
            self.period_part(">=", a, b, overdue_before, mid),
        )?;
        let mut rows: std::collections::BTreeMap<(String, String), PeriodCounts> =
            Default::default();
        for r in lower.into_iter().chain(upper) {
            match rows.entry((r.field_code.clone(), r.unit_code.clone())) {
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(r);
                }
                std::collections::btree_map::Entry::Occupied(mut o) => o.get_mut().add(&r),
            }
        }
        Ok(rows.into_values().collect())
    }

    /// One half of `period_counts`: the dossiers whose end is `op` `split`.
    async fn period_part(
        &self,
        op: &str,
        a: NaiveDateTime,
        b: NaiveDateTime,
        overdue_before: NaiveDateTime,
        split: NaiveDateTime,
    ) -> Result<Vec<PeriodCounts>, StoreError> {
        // Every group has a row, so no SUM is NULL; a SUM of integers is
        // BIGINT on both backends.
        let sql = period_sql(op);
        with_pool!(self, pool => {
            let mut tx = pool.begin().await.ctx("starting the period report's read")?;
            for setting in aggregate_settings(pool) {
                sqlx::query(setting).execute(&mut *tx).await.ctx("tuning the period report's read")?;
            }
            let rows = sqlx::query_as::<_, PeriodCounts>(&sql)
                .bind(DbTime(a)).bind(DbTime(b)).bind(DbTime(overdue_before)).bind(DbTime(split))
                .fetch_all(&mut *tx).await.ctx("counting the period report")?;
            tx.commit().await.ctx("ending the period report's read")?;
            Ok(rows)
        })
    }
}

impl PeriodCounts {
    /// Adds another part's counts of the same (field, unit).
    fn add(&mut self, o: &PeriodCounts) {
        for (x, y) in [
            (&mut self.carried, o.carried),
            (&mut self.new_total, o.new_total),
            (&mut self.new_online, o.new_online),
            (&mut self.new_direct, o.new_direct),
            (&mut self.new_postal, o.new_postal),
            (&mut self.before_due, o.before_due),
            (&mut self.on_due_day, o.on_due_day),
            (&mut self.late, o.late),
            (&mut self.late_apologised, o.late_apologised),
            (&mut self.closed, o.closed),
            (&mut self.open_total, o.open_total),
            (&mut self.open_overdue, o.open_overdue),
        ] {
            *x += y;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_is_the_indexed_expression() {
        for m in [
            "migrations/sqlite/0021_period_report_index.sql",
            "migrations/postgres/0023_period_report_index.sql",
        ] {
            let text =
                std::fs::read_to_string(format!("{}/{m}", env!("CARGO_MANIFEST_DIR"))).unwrap();
            let indexed = END_OR_OPEN.replace("d.", "");
            let flat = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(
                flat(&text).contains(&flat(&indexed)),
                "{m} does not index {indexed}"
            );
        }
    }
}
