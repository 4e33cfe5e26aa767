//! Saving a check's new verdicts: the verdict upserted, a class change
//! appended to the classification history, each alert stored once, and the
//! audit trail's entry, in one transaction per batch. The statements are
//! shared; each backend binds a batch its own fastest way
//! (`Backend::write_evaluations`).

use super::EvaluationChange;
use crate::deadline::Class;
use crate::store::audit::audit_append;
use crate::store::{Backend, Context, Store, StoreError};
use chrono::NaiveDateTime;

impl Store {
    /// Stores new verdicts in one transaction; a change of class (or of the due
    /// date judged against) is also appended to the classification history.
    pub async fn save_evaluations(
        &self,
        changes: &[EvaluationChange],
        now: NaiveDateTime,
    ) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let detail = audit_detail(changes);
        with_pool!(self, pool => {
            let mut tx = pool
                .begin_write()
                .await
                .ctx("starting a check transaction")?;
            pool.write_evaluations(&mut tx, changes, now).await?;
            if let Some(detail) = detail {
                audit_append!(tx, self.seal, now, "evaluations", "check".to_owned(), detail);
            }
            tx.commit().await.ctx("committing evaluations")?;
        });
        Ok(())
    }
}

/// `INSERT INTO evaluations` of `rows` (`VALUES (…)` or a `SELECT`, the 14
/// columns in this order): a verdict replaces the previous one; since when
/// it holds moves only with its class.
pub(in crate::store) fn evaluation_upsert_sql(rows: &str) -> String {
    format!(
        "INSERT INTO evaluations (dossier_id, class, due_at, computed_due_at, due_mismatch, working_days_left, \
         working_days_late, delay_step, delay_unit, delay_officer, delay_days, recheck_at, class_since, evaluated_at) \
         {rows} \
         ON CONFLICT (dossier_id) DO UPDATE SET class = excluded.class, due_at = excluded.due_at, \
         computed_due_at = excluded.computed_due_at, due_mismatch = excluded.due_mismatch, \
         working_days_left = excluded.working_days_left, working_days_late = excluded.working_days_late, \
         delay_step = excluded.delay_step, delay_unit = excluded.delay_unit, delay_officer = excluded.delay_officer, \
         delay_days = excluded.delay_days, recheck_at = excluded.recheck_at, evaluated_at = excluded.evaluated_at, \
         class_since = CASE WHEN evaluations.class = excluded.class THEN evaluations.class_since ELSE excluded.class_since END"
    )
}

pub(in crate::store) const CLASS_HISTORY_INSERT: &str = "INSERT INTO classification_history \
     (dossier_id, at, from_class, to_class, due_at, working_days_left, working_days_late)";

pub(in crate::store) const ALERT_INSERT: &str = "INSERT INTO alerts \
     (dossier_id, rung, due_at, recipient, recipient_name, recipient_role, unrouted, created_at)";

/// The changes whose class moved: one classification-history row each.
pub(in crate::store) fn class_moves(
    changes: &[EvaluationChange],
) -> impl Iterator<Item = &EvaluationChange> {
    changes.iter().filter(|c| c.class_moved())
}

/// Every alert of these changes, with its dossier and the due date it is for
/// (part of the alert's key).
pub(in crate::store) fn alert_rows(
    changes: &[EvaluationChange],
) -> impl Iterator<Item = (i64, Option<NaiveDateTime>, &crate::escalation::PlannedAlert)> {
    changes.iter().flat_map(|c| {
        c.alerts
            .iter()
            .map(move |a| (c.dossier_id, c.evaluation.due_at, a))
    })
}

/// The audit trail's record of a check's writes: class changes and alerts
/// (none when there are neither).
fn audit_detail(changes: &[EvaluationChange]) -> Option<String> {
    let classes: Vec<serde_json::Value> = class_moves(changes)
        .map(|c| {
            serde_json::json!([
                c.dossier_id,
                c.previous.map(Class::as_str),
                c.evaluation.class.as_str()
            ])
        })
        .collect();
    let alerts: Vec<serde_json::Value> = changes
        .iter()
        .flat_map(|c| {
            c.alerts
                .iter()
                .map(move |a| serde_json::json!([c.dossier_id, a.rung.as_str(), a.recipient.email]))
        })
        .collect();
    (!classes.is_empty() || !alerts.is_empty())
        .then(|| serde_json::json!({ "class_changes": classes, "alerts": alerts }).to_string())
}
