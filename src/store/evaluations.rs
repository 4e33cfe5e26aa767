//! The deadline engine's verdicts: the latest per dossier, and the append-only
//! history of class changes.

use super::audit::audit_append;
use super::dossiers::{opt_fmt, opt_time, placeholders};
use super::{Context, Sq, Store, StoreError, with_pool, with_rusqlite};
use crate::clock::fmt_db;
use crate::deadline::{Class, Evaluation, StepDelay};
use crate::dossier::{ApplicantKind, Channel, Dossier, Duration, Extension, Pause, Status};
use chrono::NaiveDateTime;
use std::collections::HashMap;

/// The step a delay is attributed to (the one furthest past its own due time).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DelayCause {
    pub step: String,
    pub unit: String,
    pub officer: Option<String>,
    pub working_days_over: i64,
}

impl From<&StepDelay> for DelayCause {
    fn from(d: &StepDelay) -> DelayCause {
        DelayCause {
            step: d.step.clone(),
            unit: d.unit.clone(),
            officer: d.officer.clone(),
            working_days_over: d.working_days_over,
        }
    }
}

/// An evaluation as stored, with the delay cause when there is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvaluation {
    pub class: Class,
    pub due_at: Option<NaiveDateTime>,
    pub computed_due_at: Option<NaiveDateTime>,
    pub due_mismatch: bool,
    pub working_days_left: Option<i64>,
    pub working_days_late: Option<i64>,
    pub delay: Option<DelayCause>,
    pub class_since: Option<NaiveDateTime>,
}

impl StoredEvaluation {
    pub fn new(e: &Evaluation, delay: Option<DelayCause>) -> StoredEvaluation {
        StoredEvaluation {
            class: e.class,
            due_at: e.due_at,
            computed_due_at: e.computed_due_at,
            due_mismatch: e.due_mismatch,
            working_days_left: e.working_days_left,
            working_days_late: e.working_days_late,
            delay,
            class_since: None,
        }
    }

    /// Same verdict, ignoring since when.
    pub fn same_as(&self, other: &StoredEvaluation) -> bool {
        StoredEvaluation {
            class_since: None,
            ..self.clone()
        } == StoredEvaluation {
            class_since: None,
            ..other.clone()
        }
    }
}

/// A dossier due for evaluation, with its previous verdict. Only what the
/// deadline engine and the routing read is loaded (dates, status, duration,
/// pauses, extension, field and unit codes); names, applicant details and
/// steps are left empty, since reading them would be most of a check's time
/// (the steps of the few dossiers whose delay is attributed: `steps_of`).
pub struct CheckCandidate {
    pub id: i64,
    pub dossier: Dossier,
    pub previous: Option<StoredEvaluation>,
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

/// One dossier to check as the database sends it: a JSON array, in the order
/// of the columns in `check_candidates`.
#[derive(serde::Deserialize)]
struct CandidateRow(
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Vec<Pause>,
    Option<Extension>,
    String,
    EvaluationRow,
);

/// The columns of `evaluations` a `StoredEvaluation` is read from, in this
/// order; all empty for a dossier never evaluated (a left join).
#[derive(serde::Deserialize, sqlx::FromRow)]
struct EvaluationRow {
    class: Option<String>,
    due_at: Option<String>,
    computed_due_at: Option<String>,
    due_mismatch: Option<i64>,
    working_days_left: Option<i64>,
    working_days_late: Option<i64>,
    delay_step: Option<String>,
    delay_unit: Option<String>,
    delay_officer: Option<String>,
    delay_days: Option<i64>,
    class_since: Option<String>,
}

const EVALUATION_COLS: [&str; 11] = [
    "class",
    "due_at",
    "computed_due_at",
    "due_mismatch",
    "working_days_left",
    "working_days_late",
    "delay_step",
    "delay_unit",
    "delay_officer",
    "delay_days",
    "class_since",
];

impl EvaluationRow {
    fn into_stored(self) -> Result<Option<StoredEvaluation>, StoreError> {
        let Some(c) = self.class else {
            return Ok(None);
        };
        Ok(Some(StoredEvaluation {
            class: Class::parse(&c)
                .ok_or_else(|| StoreError::Corrupt(format!("evaluation class '{c}'")))?,
            due_at: opt_time(self.due_at.as_deref(), "evaluation due_at")?,
            computed_due_at: opt_time(
                self.computed_due_at.as_deref(),
                "evaluation computed_due_at",
            )?,
            due_mismatch: self.due_mismatch.unwrap_or(0) != 0,
            working_days_left: self.working_days_left,
            working_days_late: self.working_days_late,
            delay: self.delay_step.map(|step| DelayCause {
                step,
                unit: self.delay_unit.unwrap_or_default(),
                officer: self.delay_officer,
                working_days_over: self.delay_days.unwrap_or(0),
            }),
            class_since: opt_time(self.class_since.as_deref(), "evaluation class_since")?,
        }))
    }
}

impl CandidateRow {
    fn into_candidate(self) -> Result<CheckCandidate, StoreError> {
        let r = self;
        let code = r.1;
        let corrupt =
            |what: &str, v: &str| StoreError::Corrupt(format!("dossier {code} has {what} '{v}'"));
        let duration = match (r.12.as_deref(), r.13) {
            (Some("working_days"), Some(v)) => Some(Duration::WorkingDays(v as u32)),
            (Some("working_hours"), Some(v)) => Some(Duration::WorkingHours(v as u32)),
            _ => None,
        };
        let dossier = Dossier {
            applicant_kind: ApplicantKind::parse(&r.4)
                .ok_or_else(|| corrupt("applicant_kind", &r.4))?,
            channel: Channel::parse(&r.5).ok_or_else(|| corrupt("channel", &r.5))?,
            status: Status::parse(&r.6).ok_or_else(|| corrupt("status", &r.6))?,
            submitted_at: opt_time(r.7.as_deref(), "submitted_at")?,
            received_at: opt_time(Some(&r.8), "received_at")?.unwrap_or_default(),
            due_at: opt_time(r.9.as_deref(), "due_at")?,
            finished_at: opt_time(r.10.as_deref(), "finished_at")?,
            returned_at: opt_time(r.11.as_deref(), "returned_at")?,
            updated_at: opt_time(Some(&r.16), "source_updated_at")?.unwrap_or_default(),
            duration,
            pauses: r.14,
            extension: r.15,
            field_code: r.2,
            unit_code: r.3,
            code: code.clone(),
            procedure_code: None,
            procedure_name: String::new(),
            field_name: String::new(),
            unit_name: String::new(),
            officer: None,
            applicant_name: String::new(),
            applicant_id_no: None,
            applicant_phone: None,
            applicant_email: None,
            summary: None,
            steps: Vec::new(),
        };
        Ok(CheckCandidate {
            id: r.0,
            dossier,
            previous: r.17.into_stored()?,
        })
    }
}

/// The dossier columns a check reads, in `CandidateRow` order.
const CANDIDATE_COLS: [&str; 17] = [
    "d.id",
    "d.code",
    "d.field_code",
    "d.unit_code",
    "d.applicant_kind",
    "d.channel",
    "d.status",
    "d.submitted_at",
    "d.received_at",
    "d.due_at",
    "d.finished_at",
    "d.returned_at",
    "d.duration_unit",
    "d.duration_value",
    "d.pauses",
    "d.extension",
    "d.source_updated_at",
];

/// A `CandidateRow` from `CANDIDATE_COLS` then `EVALUATION_COLS`, in order.
fn candidate_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CandidateRow> {
    fn json<T: serde::de::DeserializeOwned>(i: usize, s: &str) -> rusqlite::Result<T> {
        serde_json::from_str(s).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
        })
    }
    let pauses: String = r.get(14)?;
    let extension: Option<String> = r.get(15)?;
    let e = CANDIDATE_COLS.len();
    Ok(CandidateRow(
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
        r.get(11)?,
        r.get(12)?,
        r.get(13)?,
        if pauses == "[]" {
            Vec::new()
        } else {
            json(14, &pauses)?
        },
        extension.map(|x| json(15, &x)).transpose()?,
        r.get(16)?,
        EvaluationRow {
            class: r.get(e)?,
            due_at: r.get(e + 1)?,
            computed_due_at: r.get(e + 2)?,
            due_mismatch: r.get(e + 3)?,
            working_days_left: r.get(e + 4)?,
            working_days_late: r.get(e + 5)?,
            delay_step: r.get(e + 6)?,
            delay_unit: r.get(e + 7)?,
            delay_officer: r.get(e + 8)?,
            delay_days: r.get(e + 9)?,
            class_since: r.get(e + 10)?,
        },
    ))
}

/// Rows per multi-row statement when verdicts and alerts are saved.
const ROWS_PER_STATEMENT: usize = 400;

/// Evaluation `e` is of a live (not deleted) dossier. The deleted ones come
/// from their partial index: joining the dossiers to read `deleted` read the
/// whole table for a count.
const LIVE: &str = "e.dossier_id NOT IN (SELECT id FROM dossiers WHERE deleted = 1)";

const OPEN_CLASSES: &str =
    "'overdue', 'due_today', 'due_soon', 'not_yet_due', 'paused', 'no_due_date'";

impl Store {
    /// The dossiers with ids in `after+1..=through`, by id, that need
    /// evaluating: never evaluated, still open, or changed since their last
    /// evaluation (or every one, with `all`). Ranges of ids (not a cursor and
    /// a limit) so that several ranges can be read at once. Row-by-row transfer through sqlx was most of a
    /// check's time: SQLite's rows are read through rusqlite, PostgreSQL's
    /// batch comes as one JSON document.
    pub async fn check_candidates(
        &self,
        after: i64,
        through: i64,
        all: bool,
    ) -> Result<Vec<CheckCandidate>, StoreError> {
        let due = if all {
            ""
        } else {
            "AND (e.dossier_id IS NULL OR e.class IN (__OPEN__) OR d.last_changed_at > e.evaluated_at)"
        }
        .replace("__OPEN__", OPEN_CLASSES);
        let evaluation: Vec<String> = EVALUATION_COLS.iter().map(|c| format!("e.{c}")).collect();
        let pool = match self {
            Store::Postgres(pool) => pool,
            Store::Sqlite(pool) => {
                // Rows stepped through a prepared statement on this thread.
                let sql = format!(
                    "SELECT {}, {} FROM dossiers d LEFT JOIN evaluations e ON e.dossier_id = d.id \
                 WHERE d.id > ?1 AND d.id <= ?2 AND d.deleted = 0 {due} ORDER BY d.id",
                    CANDIDATE_COLS.join(", "),
                    evaluation.join(", ")
                );
                let what = "reading dossiers to check";
                let mut conn = pool.acquire().await.ctx(what)?;
                return with_rusqlite(&mut conn, |c| {
                    let mut st = c.prepare(&sql).sq(what)?;
                    let rows = st.query_map((after, through), candidate_row).sq(what)?;
                    rows.map(|r| r.sq(what)?.into_candidate()).collect()
                })
                .await;
            }
        };
        // PostgreSQL: the batch comes back as one JSON document built by the
        // server. Pauses and extension are stored as JSON text: embedded as JSON.
        let cols = CANDIDATE_COLS;
        let inner: Vec<String> = cols
            .iter()
            .copied()
            .chain(evaluation.iter().map(String::as_str))
            .enumerate()
            .map(|(i, c)| format!("{c} AS c{i}"))
            .collect();
        // The dossier's columns, then the evaluation's as one nested array.
        let mut outer: Vec<String> = (0..cols.len())
            .map(|i| match cols[i] {
                "d.pauses" | "d.extension" => format!("c{i}::json"),
                _ => format!("c{i}"),
            })
            .collect();
        let nested: Vec<String> = (cols.len()..cols.len() + EVALUATION_COLS.len())
            .map(|i| format!("c{i}"))
            .collect();
        outer.push(format!("json_build_array({})", nested.join(", ")));
        let sql = format!(
            "SELECT COALESCE(json_agg(json_build_array({}) ORDER BY c0), '[]'::json)::text \
             FROM (SELECT {} \
             FROM dossiers d LEFT JOIN evaluations e ON e.dossier_id = d.id \
             WHERE d.id > $1 AND d.id <= $2 AND d.deleted = 0 {due} \
             ORDER BY d.id) AS s",
            outer.join(", "),
            inner.join(", ")
        );
        let json: String = sqlx::query_scalar(&sql)
            .bind(after)
            .bind(through)
            .fetch_one(pool)
            .await
            .ctx("reading dossiers to check")?;
        let rows: Vec<CandidateRow> = serde_json::from_str(&json)
            .map_err(|e| StoreError::Corrupt(format!("dossiers to check: {e}")))?;
        rows.into_iter().map(CandidateRow::into_candidate).collect()
    }

    /// The highest dossier id (0 when there are none): where a check ends.
    pub async fn max_dossier_id(&self) -> Result<i64, StoreError> {
        with_pool!(self, pool => {
            let (max,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(id), 0) FROM dossiers")
                .fetch_one(pool)
                .await
                .ctx("reading the highest dossier id")?;
            Ok(max)
        })
    }

    /// The stored steps (JSON) of these dossiers, by id: for the few whose
    /// delay a check attributes to a step.
    pub async fn steps_of(&self, ids: &[i64]) -> Result<HashMap<i64, String>, StoreError> {
        let what = "reading steps of dossiers";
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        match self {
            Store::Sqlite(pool) => {
                let mut conn = pool.acquire().await.ctx(what)?;
                with_rusqlite(&mut conn, |c| {
                    let mut st = c
                        .prepare_cached("SELECT steps FROM dossiers WHERE id = ?1")
                        .sq(what)?;
                    ids.iter()
                        .map(|id| Ok((*id, st.query_row([id], |r| r.get(0)).sq(what)?)))
                        .collect()
                })
                .await
            }
            Store::Postgres(pool) => {
                let rows: Vec<(i64, String)> =
                    sqlx::query_as("SELECT id, steps FROM dossiers WHERE id = ANY($1)")
                        .bind(ids)
                        .fetch_all(pool)
                        .await
                        .ctx(what)?;
                Ok(rows.into_iter().collect())
            }
        }
    }

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
        let now_s = fmt_db(now);
        with_pool!(self, pool => {
            let mut tx = pool.begin().await.ctx("starting a check transaction")?;
            // Multi-row statements: a check writes many verdicts at once.
            for chunk in changes.chunks(ROWS_PER_STATEMENT) {
                let rows: Vec<String> = (0..chunk.len())
                    .map(|k| {
                        format!("({})", placeholders(k * 13 + 1, 13))
                    })
                    .collect();
                let sql = self.sql_for(format!(
                    "INSERT INTO evaluations (dossier_id, class, due_at, computed_due_at, due_mismatch, working_days_left, \
                     working_days_late, delay_step, delay_unit, delay_officer, delay_days, class_since, evaluated_at) \
                     VALUES {} \
                     ON CONFLICT (dossier_id) DO UPDATE SET class = excluded.class, due_at = excluded.due_at, \
                     computed_due_at = excluded.computed_due_at, due_mismatch = excluded.due_mismatch, \
                     working_days_left = excluded.working_days_left, working_days_late = excluded.working_days_late, \
                     delay_step = excluded.delay_step, delay_unit = excluded.delay_unit, delay_officer = excluded.delay_officer, \
                     delay_days = excluded.delay_days, evaluated_at = excluded.evaluated_at, \
                     class_since = CASE WHEN evaluations.class = excluded.class THEN evaluations.class_since ELSE excluded.class_since END",
                    rows.join(", ")
                ));
                // Only the full-size statement is worth caching: every other
                // length would be cached once each (thousands of parameters).
                let mut q = sqlx::query(&sql).persistent(chunk.len() == ROWS_PER_STATEMENT);
                for c in chunk {
                    let e = &c.evaluation;
                    q = q
                        .bind(c.dossier_id)
                        .bind(e.class.as_str())
                        .bind(opt_fmt(e.due_at))
                        .bind(opt_fmt(e.computed_due_at))
                        .bind(i64::from(e.due_mismatch))
                        .bind(e.working_days_left)
                        .bind(e.working_days_late)
                        .bind(e.delay.as_ref().map(|d| d.step.clone()))
                        .bind(e.delay.as_ref().map(|d| d.unit.clone()))
                        .bind(e.delay.as_ref().and_then(|d| d.officer.clone()))
                        .bind(e.delay.as_ref().map(|d| d.working_days_over))
                        .bind(now_s.clone())
                        .bind(now_s.clone());
                }
                q.execute(&mut *tx).await.ctx("saving evaluations")?;
            }
            let moved: Vec<&EvaluationChange> = changes.iter().filter(|c| c.previous != Some(c.evaluation.class)).collect();
            for chunk in moved.chunks(ROWS_PER_STATEMENT) {
                let rows: Vec<String> = (0..chunk.len()).map(|k| format!("({})", placeholders(k * 7 + 1, 7))).collect();
                let sql = self.sql_for(format!(
                    "INSERT INTO classification_history (dossier_id, at, from_class, to_class, due_at, working_days_left, working_days_late) VALUES {}",
                    rows.join(", ")
                ));
                let mut q = sqlx::query(&sql).persistent(chunk.len() == ROWS_PER_STATEMENT);
                for c in chunk {
                    let e = &c.evaluation;
                    q = q
                        .bind(c.dossier_id)
                        .bind(now_s.clone())
                        .bind(c.previous.map(Class::as_str))
                        .bind(e.class.as_str())
                        .bind(opt_fmt(e.due_at))
                        .bind(e.working_days_left)
                        .bind(e.working_days_late);
                }
                q.execute(&mut *tx).await.ctx("recording class changes")?;
            }
            let alert_rows: Vec<(i64, String, &crate::escalation::PlannedAlert)> = changes
                .iter()
                .flat_map(|c| {
                    let due_key = opt_fmt(c.evaluation.due_at).unwrap_or_default();
                    c.alerts.iter().map(move |a| (c.dossier_id, due_key.clone(), a))
                })
                .collect();
            for chunk in alert_rows.chunks(ROWS_PER_STATEMENT) {
                let rows: Vec<String> = (0..chunk.len()).map(|k| format!("({})", placeholders(k * 8 + 1, 8))).collect();
                let sql = self.sql_for(format!(
                    "INSERT INTO alerts (dossier_id, rung, due_at, recipient, recipient_name, recipient_role, unrouted, created_at) \
                     VALUES {} ON CONFLICT (dossier_id, rung, due_at, recipient) DO NOTHING",
                    rows.join(", ")
                ));
                let mut q = sqlx::query(&sql).persistent(chunk.len() == ROWS_PER_STATEMENT);
                for (id, due_key, a) in chunk {
                    q = q
                        .bind(*id)
                        .bind(a.rung.as_str())
                        .bind(due_key.clone())
                        .bind(a.recipient.email.clone())
                        .bind(a.recipient.name.clone())
                        .bind(a.recipient.role)
                        .bind(i64::from(a.unrouted))
                        .bind(now_s.clone());
                }
                q.execute(&mut *tx).await.ctx("recording alerts")?;
            }
            let classes: Vec<serde_json::Value> = changes
                .iter()
                .filter(|c| c.previous != Some(c.evaluation.class))
                .map(|c| serde_json::json!([c.dossier_id, c.previous.map(Class::as_str), c.evaluation.class.as_str()]))
                .collect();
            let alerts: Vec<serde_json::Value> = changes
                .iter()
                .flat_map(|c| c.alerts.iter().map(move |a| serde_json::json!([c.dossier_id, a.rung.as_str(), a.recipient.email])))
                .collect();
            if !classes.is_empty() || !alerts.is_empty() {
                let detail = serde_json::json!({ "class_changes": classes, "alerts": alerts });
                audit_append!(tx, now_s.clone(), "evaluations", "check".to_owned(), detail.to_string());
            }
            tx.commit().await.ctx("committing evaluations")?;
            Ok(())
        })
    }

    /// The latest verdict on one dossier.
    pub async fn evaluation(
        &self,
        dossier_id: i64,
    ) -> Result<Option<StoredEvaluation>, StoreError> {
        let sql = format!(
            "SELECT {} FROM evaluations WHERE dossier_id = $1",
            EVALUATION_COLS.join(", ")
        );
        let row: Option<EvaluationRow> = with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(dossier_id).fetch_optional(pool).await.ctx("reading an evaluation")?
        });
        row.map_or(Ok(None), EvaluationRow::into_stored)
    }

    /// `(class, count)` over the latest evaluations of live dossiers.
    pub async fn count_by_class(&self) -> Result<Vec<(Class, i64)>, StoreError> {
        let rows: Vec<(String, i64)> = with_pool!(self, pool => {
            sqlx::query_as(&format!("SELECT e.class, COUNT(*) FROM evaluations e WHERE {LIVE} GROUP BY e.class"))
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
        let sql = format!(
            "SELECT {col}, COUNT(*), SUM(e.delay_days) FROM evaluations e \
             WHERE {LIVE} AND e.delay_step IS NOT NULL AND e.class IN ('overdue', 'late') \
             GROUP BY {col} ORDER BY SUM(e.delay_days) DESC, {col}"
        );
        with_pool!(self, pool => {
            sqlx::query_as(&sql).fetch_all(pool).await.ctx("summarising delays")
        })
    }

    /// Live dossiers whose source due date disagrees with the rules.
    pub async fn count_due_mismatches(&self) -> Result<i64, StoreError> {
        with_pool!(self, pool => {
            let (n,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM evaluations e WHERE {LIVE} AND e.due_mismatch = 1"))
                .fetch_one(pool).await.ctx("counting due-date mismatches")?;
            Ok(n)
        })
    }
}
