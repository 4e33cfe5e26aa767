//! The deadline engine's verdicts: the latest per dossier, and the append-only
//! history of class changes. A check reads what it evaluates in bulk
//! (`candidates`) and saves what changed in batches (`save`), each backend
//! its own fastest way (`Backend`).

use super::value::DbTime;
use super::{Backend, Context, Store, StoreError, deleted};
use crate::deadline::Class;
pub use crate::deadline::{DelayCause, Verdict as StoredEvaluation};
use crate::dossier::Dossier;
use chrono::NaiveDateTime;
use std::collections::HashMap;

pub(super) mod candidates;
mod save;

pub(super) use save::{
    ALERT_INSERT, CLASS_HISTORY_INSERT, alert_rows, class_moves, evaluation_upsert_sql,
};

/// The working days `(left, late)` of a verdict read back, on `today`:
/// derived for an open one (`Class::counts_move`: not stored), as stored
/// otherwise. `class` and `due_at` as stored.
pub fn days_on(
    class: Option<&str>,
    due_at: Option<&str>,
    stored: (Option<i64>, Option<i64>),
    calendar: &crate::calendar::Calendar,
    today: chrono::NaiveDate,
) -> (Option<i64>, Option<i64>) {
    let open = class.and_then(Class::parse).is_some_and(Class::counts_move);
    match due_at.and_then(crate::clock::parse_db) {
        Some(due) if open => crate::deadline::day_counts(calendar, due, today),
        _ => stored,
    }
}

/// A dossier due for evaluation, with its previous verdict. Only what the
/// deadline engine and the routing read is loaded (dates, status, duration,
/// pauses, extension, field and unit codes); names, applicant details and
/// steps are left empty, since reading them would be most of a check's time.
pub struct CheckCandidate {
    pub id: i64,
    pub dossier: Dossier,
    pub previous: Option<StoredEvaluation>,
    /// The stored steps (JSON), read with the row when the previous verdict
    /// had a delay to attribute (at risk or late): those are most of the
    /// dossiers whose delay a check attributes again. The others that need
    /// theirs are read by id (`steps_of`).
    pub steps: Option<String>,
}

/// Which dossiers a check reads at once.
#[derive(Clone, Debug)]
pub enum Which {
    /// Ids in `after+1..=through`.
    Range(i64, i64),
    /// These ids.
    Ids(Vec<i64>),
}

impl Which {
    /// At most how many dossiers.
    pub(in crate::store) fn len(&self) -> usize {
        match self {
            Which::Range(after, through) => usize::try_from(through - after).unwrap_or(0),
            Which::Ids(ids) => ids.len(),
        }
    }
}

/// A new verdict to store.
pub struct EvaluationChange {
    pub dossier_id: i64,
    pub previous: Option<Class>,
    pub evaluation: StoredEvaluation,
    /// Rungs of the ladder this verdict reaches; each is stored once per
    /// (dossier, rung, due date, recipient), in the same transaction.
    pub alerts: Vec<crate::escalation::PlannedAlert>,
}

impl EvaluationChange {
    /// The verdict's class differs from the previous one (or there was none).
    pub(in crate::store) fn class_moved(&self) -> bool {
        self.previous != Some(self.evaluation.class)
    }
}

/// Evaluation `e` is of a live (not deleted) dossier. The deleted ones come
/// from their partial index: joining the dossiers to read `deleted` read the
/// whole table for a count.
fn live<B: Backend>(pool: &B) -> String {
    format!(
        "e.dossier_id NOT IN (SELECT id FROM dossiers WHERE {})",
        deleted(pool)
    )
}

impl Store {
    /// The dossiers of `which`, by id: every one of a list; of a range, the
    /// ones never evaluated or whose verdict is due (every one, with `all`).
    /// Ranges of ids or lists of them (not a cursor and a limit) so that
    /// several can be read at once. Row-by-row transfer through sqlx was most of a check's
    /// time: SQLite's rows are read through rusqlite, PostgreSQL's batch comes
    /// as one JSON document.
    pub async fn check_candidates(
        &self,
        which: &Which,
        all: bool,
        now: NaiveDateTime,
    ) -> Result<Vec<CheckCandidate>, StoreError> {
        with_pool!(self, pool => pool.check_candidates(which, all, now).await)
    }

    /// A setting a check applied (`applied_settings`), if any.
    pub async fn applied_setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        with_pool!(self, pool => {
            sqlx::query_scalar("SELECT value FROM applied_settings WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await
                .ctx("reading the settings the last check applied")
        })
    }

    /// Records a setting a check applied.
    pub async fn set_applied_setting(&self, name: &str, value: &str) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO applied_settings (name, value) VALUES ($1, $2) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            )
            .bind(name)
            .bind(value)
            .execute(pool)
            .await
            .ctx("recording the settings a check applied")?;
            Ok(())
        })
    }

    /// The dossiers up to id `through` whose verdict's moment came by `now`,
    /// by id (through the partial index on `recheck_at`).
    pub async fn due_verdicts(
        &self,
        through: i64,
        now: NaiveDateTime,
    ) -> Result<Vec<i64>, StoreError> {
        with_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT dossier_id FROM evaluations WHERE recheck_at IS NOT NULL AND recheck_at <= $1 \
                 AND dossier_id <= $2 ORDER BY dossier_id",
            )
            .bind(DbTime(now))
            .bind(through)
            .fetch_all(pool)
            .await
            .ctx("finding the verdicts due")
        })
    }

    /// The dossiers the sync queued for the next check (changed):
    /// `(queue number, dossier id)`.
    pub async fn queued(&self) -> Result<Vec<(i64, i64)>, StoreError> {
        with_pool!(self, pool => {
            sqlx::query_as("SELECT seq, dossier_id FROM check_queue")
                .fetch_all(pool)
                .await
                .ctx("reading the check queue")
        })
    }

    /// Removes the queued changes a check has read (by number: one queued
    /// meanwhile, even with a lower number, stays for the next check).
    pub async fn unqueue(&self, seqs: &[i64]) -> Result<(), StoreError> {
        with_pool!(self, pool => pool.unqueue(seqs).await)
    }

    /// The highest dossier id (0 when there are none): where a check ends.
    /// Every dossier with a lower id is committed: on PostgreSQL, the sync
    /// transactions in flight (whose sequence-numbered ids may be lower) are
    /// waited for first.
    pub async fn max_dossier_id(&self) -> Result<i64, StoreError> {
        with_pool!(self, pool => pool.max_dossier_id().await)
    }

    /// The stored steps (JSON) of these dossiers, by id: for the few whose
    /// delay a check attributes to a step.
    pub async fn steps_of(&self, ids: &[i64]) -> Result<HashMap<i64, String>, StoreError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        with_pool!(self, pool => pool.steps_of(ids).await)
    }

    /// The latest verdict on one dossier.
    pub async fn evaluation(
        &self,
        dossier_id: i64,
    ) -> Result<Option<StoredEvaluation>, StoreError> {
        let sql = format!(
            "SELECT {} FROM evaluations WHERE dossier_id = $1",
            candidates::EVALUATION_COLS.join(", ")
        );
        let row: Option<candidates::EvaluationRow> = with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(dossier_id).fetch_optional(pool).await.ctx("reading an evaluation")?
        });
        row.map_or(Ok(None), candidates::EvaluationRow::into_stored)
    }

    /// `(class, count)` over the latest evaluations of live dossiers.
    pub async fn count_by_class(&self) -> Result<Vec<(Class, i64)>, StoreError> {
        let rows: Vec<(String, i64)> = with_pool!(self, pool => {
            sqlx::query_as(&format!("SELECT e.class, COUNT(*) FROM evaluations e WHERE {} GROUP BY e.class", live(pool)))
                .fetch_all(pool).await.ctx("counting classes")?
        });
        let mut out: Vec<(Class, i64)> = rows
            .into_iter()
            .filter_map(|(c, n)| Class::parse(&c).map(|c| (c, n)))
            .collect();
        out.sort();
        Ok(out)
    }

    /// `(from, to)` class changes of one dossier, oldest first.
    pub async fn class_history(
        &self,
        dossier_id: i64,
    ) -> Result<Vec<(Option<String>, String)>, StoreError> {
        with_pool!(self, pool => {
            sqlx::query_as("SELECT from_class, to_class FROM classification_history WHERE dossier_id = $1 ORDER BY id")
                .bind(dossier_id).fetch_all(pool).await.ctx("reading class history")
        })
    }

    /// Where late and overdue dossiers were held: `(unit or officer, dossiers,
    /// working days over)`, the worst first.
    pub async fn delay_summary(
        &self,
        by_officer: bool,
    ) -> Result<Vec<(String, i64, i64)>, StoreError> {
        let col = if by_officer {
            "COALESCE(e.delay_officer, '(chưa rõ)')"
        } else {
            "e.delay_unit"
        };
        with_pool!(self, pool => {
            let sql = format!(
                "SELECT {col}, COUNT(*), CAST(SUM(e.delay_days) AS BIGINT) FROM evaluations e \
                 WHERE {} AND e.delay_step IS NOT NULL AND e.class IN ('overdue', 'late') \
                 GROUP BY {col} ORDER BY SUM(e.delay_days) DESC, {col}",
                live(pool)
            );
            sqlx::query_as(&sql).fetch_all(pool).await.ctx("summarising delays")
        })
    }

    /// Live dossiers whose source due date disagrees with the rules.
    pub async fn count_due_mismatches(&self) -> Result<i64, StoreError> {
        with_pool!(self, pool => {
            let (n,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM evaluations e WHERE {} AND e.due_mismatch", live(pool)))
                .fetch_one(pool).await.ctx("counting due-date mismatches")?;
            Ok(n)
        })
    }
}
