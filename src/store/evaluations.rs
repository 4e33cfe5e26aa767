//! The deadline engine's verdicts: the latest per dossier, and the append-only
//! history of class changes.

use super::audit::audit_append;
use super::dossiers::{opt_fmt, opt_time, sqlite_placeholders};
use super::{
    BeginWrite, Context, Sq, Store, StoreError, with_pool, with_rusqlite, with_write_cache,
};
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
///
/// The working days left or late of an open verdict (`Class::counts_move`)
/// move every working day: they are not stored (read back as None) but
/// derived when read (`deadline::day_counts`), so that a verdict is written
/// again only when it changes. A new verdict holds them as evaluated, for
/// the classification history and the escalation ladder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvaluation {
    pub class: Class,
    pub due_at: Option<NaiveDateTime>,
    pub computed_due_at: Option<NaiveDateTime>,
    pub due_mismatch: bool,
    pub working_days_left: Option<i64>,
    pub working_days_late: Option<i64>,
    pub delay: Option<DelayCause>,
    /// When it can next change while the dossier does not
    /// (`Engine::recheck_at`); None: only with the dossier.
    pub recheck_at: Option<NaiveDateTime>,
    pub class_since: Option<NaiveDateTime>,
    pub evaluated_at: Option<NaiveDateTime>,
}

impl StoredEvaluation {
    pub fn new(
        e: &Evaluation,
        delay: Option<DelayCause>,
        recheck_at: Option<NaiveDateTime>,
    ) -> StoredEvaluation {
        StoredEvaluation {
            class: e.class,
            due_at: e.due_at,
            computed_due_at: e.computed_due_at,
            due_mismatch: e.due_mismatch,
            working_days_left: e.working_days_left,
            working_days_late: e.working_days_late,
            delay,
            recheck_at,
            class_since: None,
            evaluated_at: None,
        }
    }

    /// The working days `(left, late)` as stored: none for an open verdict.
    fn stored_days(&self) -> (Option<i64>, Option<i64>) {
        if self.class.counts_move() {
            (None, None)
        } else {
            (self.working_days_left, self.working_days_late)
        }
    }

    /// Same verdict as stored, ignoring since when, when it was made and when
    /// it is to be looked at again.
    pub fn same_as(&self, other: &StoredEvaluation) -> bool {
        let key = |e: &StoredEvaluation| {
            let (left, late) = e.stored_days();
            StoredEvaluation {
                working_days_left: left,
                working_days_late: late,
                recheck_at: None,
                class_since: None,
                evaluated_at: None,
                ..e.clone()
            }
        };
        key(self) == key(other)
    }
}

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
    fn len(&self) -> usize {
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
    fn class_moved(&self) -> bool {
        self.previous != Some(self.evaluation.class)
    }
}

/// One dossier to check as PostgreSQL sends it: a JSON array, in the order
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
    Option<String>,
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
    recheck_at: Option<String>,
    evaluated_at: Option<String>,
}

const EVALUATION_COLS: [&str; 13] = [
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
    "recheck_at",
    "evaluated_at",
];

/// `EVALUATION_COLS` of one row, borrowed from where they were read.
struct EvaluationCols<'a> {
    class: Option<&'a str>,
    due_at: Option<&'a str>,
    computed_due_at: Option<&'a str>,
    due_mismatch: Option<i64>,
    working_days_left: Option<i64>,
    working_days_late: Option<i64>,
    delay_step: Option<&'a str>,
    delay_unit: Option<&'a str>,
    delay_officer: Option<&'a str>,
    delay_days: Option<i64>,
    class_since: Option<&'a str>,
    recheck_at: Option<&'a str>,
    evaluated_at: Option<&'a str>,
}

impl EvaluationRow {
    fn into_stored(self) -> Result<Option<StoredEvaluation>, StoreError> {
        EvaluationCols {
            class: self.class.as_deref(),
            due_at: self.due_at.as_deref(),
            computed_due_at: self.computed_due_at.as_deref(),
            due_mismatch: self.due_mismatch,
            working_days_left: self.working_days_left,
            working_days_late: self.working_days_late,
            delay_step: self.delay_step.as_deref(),
            delay_unit: self.delay_unit.as_deref(),
            delay_officer: self.delay_officer.as_deref(),
            delay_days: self.delay_days,
            class_since: self.class_since.as_deref(),
            recheck_at: self.recheck_at.as_deref(),
            evaluated_at: self.evaluated_at.as_deref(),
        }
        .into_stored()
    }
}

impl EvaluationCols<'_> {
    fn into_stored(self) -> Result<Option<StoredEvaluation>, StoreError> {
        let Some(c) = self.class else {
            return Ok(None);
        };
        Ok(Some(StoredEvaluation {
            class: Class::parse(c)
                .ok_or_else(|| StoreError::Corrupt(format!("evaluation class '{c}'")))?,
            due_at: opt_time(self.due_at, "evaluation due_at")?,
            computed_due_at: opt_time(self.computed_due_at, "evaluation computed_due_at")?,
            due_mismatch: self.due_mismatch.unwrap_or(0) != 0,
            working_days_left: self.working_days_left,
            working_days_late: self.working_days_late,
            delay: self.delay_step.map(|step| DelayCause {
                step: step.to_owned(),
                unit: self.delay_unit.unwrap_or_default().to_owned(),
                officer: self.delay_officer.map(str::to_owned),
                working_days_over: self.delay_days.unwrap_or(0),
            }),
            recheck_at: opt_time(self.recheck_at, "evaluation recheck_at")?,
            class_since: opt_time(self.class_since, "evaluation class_since")?,
            evaluated_at: opt_time(self.evaluated_at, "evaluation evaluated_at")?,
        }))
    }
}

/// `CANDIDATE_COLS` of one row but the JSON ones (pauses, extension) and the
/// steps, borrowed from where they were read.
struct CandidateCols<'a> {
    id: i64,
    code: &'a str,
    field_code: &'a str,
    unit_code: &'a str,
    applicant_kind: &'a str,
    channel: &'a str,
    status: &'a str,
    submitted_at: Option<&'a str>,
    received_at: &'a str,
    due_at: Option<&'a str>,
    finished_at: Option<&'a str>,
    returned_at: Option<&'a str>,
    duration_unit: Option<&'a str>,
    duration_value: Option<i64>,
    source_updated_at: &'a str,
}

impl CandidateCols<'_> {
    fn into_candidate(
        self,
        pauses: Vec<Pause>,
        extension: Option<Extension>,
        steps: Option<String>,
        previous: Option<StoredEvaluation>,
    ) -> Result<CheckCandidate, StoreError> {
        let r = self;
        let corrupt = |what: &str, v: &str| {
            StoreError::Corrupt(format!("dossier {} has {what} '{v}'", r.code))
        };
        let duration = match (r.duration_unit, r.duration_value) {
            (Some("working_days"), Some(v)) => Some(Duration::WorkingDays(v as u32)),
            (Some("working_hours"), Some(v)) => Some(Duration::WorkingHours(v as u32)),
            _ => None,
        };
        let dossier = Dossier {
            applicant_kind: ApplicantKind::parse(r.applicant_kind)
                .ok_or_else(|| corrupt("applicant_kind", r.applicant_kind))?,
            channel: Channel::parse(r.channel).ok_or_else(|| corrupt("channel", r.channel))?,
            status: Status::parse(r.status).ok_or_else(|| corrupt("status", r.status))?,
            submitted_at: opt_time(r.submitted_at, "submitted_at")?,
            received_at: opt_time(Some(r.received_at), "received_at")?.unwrap_or_default(),
            due_at: opt_time(r.due_at, "due_at")?,
            finished_at: opt_time(r.finished_at, "finished_at")?,
            returned_at: opt_time(r.returned_at, "returned_at")?,
            updated_at: opt_time(Some(r.source_updated_at), "source_updated_at")?
                .unwrap_or_default(),
            duration,
            pauses,
            extension,
            field_code: r.field_code.to_owned(),
            unit_code: r.unit_code.to_owned(),
            code: r.code.to_owned(),
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
            id: r.id,
            dossier,
            previous,
            steps,
        })
    }
}

impl CandidateRow {
    fn into_candidate(self) -> Result<CheckCandidate, StoreError> {
        let r = self;
        CandidateCols {
            id: r.0,
            code: &r.1,
            field_code: &r.2,
            unit_code: &r.3,
            applicant_kind: &r.4,
            channel: &r.5,
            status: &r.6,
            submitted_at: r.7.as_deref(),
            received_at: &r.8,
            due_at: r.9.as_deref(),
            finished_at: r.10.as_deref(),
            returned_at: r.11.as_deref(),
            duration_unit: r.12.as_deref(),
            duration_value: r.13,
            source_updated_at: &r.16,
        }
        .into_candidate(r.14, r.15, r.17, r.18.into_stored()?)
    }
}

/// The dossier columns a check reads, in `CandidateRow` order; the steps
/// (`steps_if_delayed`) follow them.
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

/// The steps, only for a dossier whose previous verdict had a delay cause:
/// reading every row's steps (half of its bytes) was a quarter of a check;
/// reading them all by id afterwards, a tenth.
fn steps_if_delayed() -> String {
    let classes: Vec<String> = Class::ALL
        .iter()
        .filter(|c| c.has_delay_cause())
        .map(|c| format!("'{}'", c.as_str()))
        .collect();
    format!(
        "CASE WHEN e.class IN ({}) THEN d.steps END",
        classes.join(", ")
    )
}

/// A check candidate from one SQLite row: `CANDIDATE_COLS`, the steps, then
/// `EVALUATION_COLS`, in order. Text is parsed where SQLite holds it (no
/// copy per column).
fn sqlite_candidate(r: &rusqlite::Row<'_>) -> Result<CheckCandidate, StoreError> {
    use rusqlite::types::Type;
    const WHAT: &str = "reading dossiers to check";
    fn bad(i: usize, t: Type, e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
        StoreError::Sqlite {
            what: WHAT,
            source: rusqlite::Error::FromSqlConversionFailure(i, t, Box::new(e)),
        }
    }
    fn json<T: serde::de::DeserializeOwned>(i: usize, s: &str) -> Result<T, StoreError> {
        serde_json::from_str(s).map_err(|e| bad(i, Type::Text, e))
    }
    let opt = |i: usize| -> Result<Option<&str>, StoreError> {
        r.get_ref(i)
            .sq(WHAT)?
            .as_str_or_null()
            .map_err(|e| bad(i, Type::Text, e))
    };
    let text = |i: usize| -> Result<&str, StoreError> {
        opt(i)?.ok_or_else(|| StoreError::Corrupt(format!("{WHAT}: {} is NULL", CANDIDATE_COLS[i])))
    };
    let int = |i: usize| -> Result<Option<i64>, StoreError> {
        r.get_ref(i)
            .sq(WHAT)?
            .as_i64_or_null()
            .map_err(|e| bad(i, Type::Integer, e))
    };
    let pauses: Vec<Pause> = match opt(14)? {
        None | Some("[]") => Vec::new(),
        Some(p) => json(14, p)?,
    };
    let extension: Option<Extension> = opt(15)?.map(|x| json(15, x)).transpose()?;
    let e = CANDIDATE_COLS.len() + 1;
    let previous = EvaluationCols {
        class: opt(e)?,
        due_at: opt(e + 1)?,
        computed_due_at: opt(e + 2)?,
        due_mismatch: int(e + 3)?,
        working_days_left: int(e + 4)?,
        working_days_late: int(e + 5)?,
        delay_step: opt(e + 6)?,
        delay_unit: opt(e + 7)?,
        delay_officer: opt(e + 8)?,
        delay_days: int(e + 9)?,
        class_since: opt(e + 10)?,
        recheck_at: opt(e + 11)?,
        evaluated_at: opt(e + 12)?,
    }
    .into_stored()?;
    CandidateCols {
        id: int(0)?.unwrap_or_default(),
        code: text(1)?,
        field_code: text(2)?,
        unit_code: text(3)?,
        applicant_kind: text(4)?,
        channel: text(5)?,
        status: text(6)?,
        submitted_at: opt(7)?,
        received_at: text(8)?,
        due_at: opt(9)?,
        finished_at: opt(10)?,
        returned_at: opt(11)?,
        duration_unit: opt(12)?,
        duration_value: int(13)?,
        source_updated_at: text(16)?,
    }
    .into_candidate(pauses, extension, opt(17)?.map(str::to_owned), previous)
}

/// The page cache while a check batch is written, in KiB.
const CHECK_WRITE_CACHE_KIB: i64 = 65_536;

/// Evaluation `e` is of a live (not deleted) dossier. The deleted ones come
/// from their partial index: joining the dossiers to read `deleted` read the
/// whole table for a count.
const LIVE: &str = "e.dossier_id NOT IN (SELECT id FROM dossiers WHERE deleted = 1)";

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
        // `now` is spliced: it is formatted here, never input.
        let due = if all || matches!(which, Which::Ids(_)) {
            String::new()
        } else {
            format!(
                "AND (e.dossier_id IS NULL OR e.recheck_at <= '{}')",
                fmt_db(now)
            )
        };
        let postgres = matches!(self, Store::Postgres(_));
        let ids = match (which, postgres) {
            (Which::Range(..), _) => "d.id > $1 AND d.id <= $2",
            (Which::Ids(_), false) => "d.id IN (SELECT value FROM json_each($1))",
            (Which::Ids(_), true) => "d.id = ANY($1)",
        };
        let evaluation: Vec<String> = EVALUATION_COLS.iter().map(|c| format!("e.{c}")).collect();
        let pool = match self {
            Store::Postgres(pool) => pool,
            Store::Sqlite(pool) => {
                // Rows stepped through a prepared statement on this thread.
                let sql = format!(
                    "SELECT {}, {}, {} FROM dossiers d LEFT JOIN evaluations e ON e.dossier_id = d.id \
                 WHERE {ids} AND d.deleted = 0 {due} ORDER BY d.id",
                    CANDIDATE_COLS.join(", "),
                    steps_if_delayed(),
                    evaluation.join(", ")
                );
                let what = "reading dossiers to check";
                let mut conn = pool.acquire().await.ctx(what)?;
                return with_rusqlite(&mut conn, |c| {
                    let mut st = c.prepare(&sql).sq(what)?;
                    let mut rows = match which {
                        Which::Range(after, through) => st.query((after, through)),
                        Which::Ids(ids) => {
                            st.query([serde_json::Value::from(ids.clone()).to_string()])
                        }
                    }
                    .sq(what)?;
                    // Sized up front: growing a vector of 3,000 candidates
                    // copied it ~12 times into freshly zeroed memory.
                    let mut out = Vec::with_capacity(which.len());
                    while let Some(r) = rows.next().sq(what)? {
                        out.push(sqlite_candidate(r)?);
                    }
                    Ok(out)
                })
                .await;
            }
        };
        // PostgreSQL: the batch comes back as one JSON document built by the
        // server. Pauses and extension are stored as JSON text: embedded as JSON.
        let steps = steps_if_delayed();
        let cols: Vec<&str> = CANDIDATE_COLS
            .iter()
            .copied()
            .chain([steps.as_str()])
            .collect();
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
             WHERE {ids} AND d.deleted = 0 {due} \
             ORDER BY d.id) AS s",
            outer.join(", "),
            inner.join(", ")
        );
        let q = sqlx::query_scalar(&sql);
        let q = match which {
            Which::Range(after, through) => q.bind(*after).bind(*through),
            Which::Ids(ids) => q.bind(ids.clone()),
        };
        let json: String = q.fetch_one(pool).await.ctx("reading dossiers to check")?;
        let rows: Vec<CandidateRow> = serde_json::from_str(&json)
            .map_err(|e| StoreError::Corrupt(format!("dossiers to check: {e}")))?;
        rows.into_iter().map(CandidateRow::into_candidate).collect()
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
            .bind(fmt_db(now))
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
        for chunk in seqs.chunks(10_000) {
            let what = "emptying the check queue";
            match self {
                Store::Sqlite(pool) => {
                    sqlx::query(
                        "DELETE FROM check_queue WHERE seq IN (SELECT value FROM json_each($1))",
                    )
                    .bind(serde_json::Value::from(chunk).to_string())
                    .execute(pool)
                    .await
                    .ctx(what)?;
                }
                Store::Postgres(pool) => {
                    sqlx::query("DELETE FROM check_queue WHERE seq = ANY($1)")
                        .bind(chunk)
                        .execute(pool)
                        .await
                        .ctx(what)?;
                }
            }
        }
        Ok(())
    }

    /// The highest dossier id (0 when there are none): where a check ends.
    /// Every dossier with a lower id is committed: on PostgreSQL, the sync
    /// transactions in flight (whose sequence-numbered ids may be lower) are
    /// waited for first.
    pub async fn max_dossier_id(&self) -> Result<i64, StoreError> {
        let what = "reading the highest dossier id";
        let sql = "SELECT COALESCE(MAX(id), 0) FROM dossiers";
        match self {
            Store::Sqlite(pool) => {
                let (max,): (i64,) = sqlx::query_as(sql).fetch_one(pool).await.ctx(what)?;
                Ok(max)
            }
            Store::Postgres(pool) => {
                let mut tx = pool.begin().await.ctx(what)?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(super::dossiers::NEW_IDS_LOCK)
                    .execute(&mut *tx)
                    .await
                    .ctx(what)?;
                let (max,): (i64,) = sqlx::query_as(sql).fetch_one(&mut *tx).await.ctx(what)?;
                tx.commit().await.ctx(what)?;
                Ok(max)
            }
        }
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
        let detail = audit_detail(changes);
        match self {
            Store::Sqlite(pool) => {
                let mut tx = pool
                    .begin_write()
                    .await
                    .ctx("starting a check transaction")?;
                // A batch's verdicts, the alerts' unique index and the class
                // index: a few thousand pages (writing 0.9 -> 0.4 s at 800k open).
                with_rusqlite(&mut tx, |c| {
                    with_write_cache(c, CHECK_WRITE_CACHE_KIB, |c| {
                        sqlite_save(c, changes, &now_s)
                    })
                })
                .await?;
                if let Some(detail) = detail {
                    audit_append!(tx, now_s.clone(), "evaluations", "check".to_owned(), detail);
                }
                tx.commit().await.ctx("committing evaluations")?;
            }
            Store::Postgres(pool) => {
                let mut tx = pool.begin().await.ctx("starting a check transaction")?;
                postgres_save(&mut tx, changes, &now_s).await?;
                if let Some(detail) = detail {
                    audit_append!(tx, now_s.clone(), "evaluations", "check".to_owned(), detail);
                }
                tx.commit().await.ctx("committing evaluations")?;
            }
        }
        Ok(())
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

/// `INSERT INTO evaluations` of `rows` (`VALUES (…)` or a `SELECT`, the 14
/// columns in this order): a verdict replaces the previous one; since when
/// it holds moves only with its class.
fn evaluation_upsert_sql(rows: &str) -> String {
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

const CLASS_HISTORY_INSERT: &str = "INSERT INTO classification_history \
     (dossier_id, at, from_class, to_class, due_at, working_days_left, working_days_late)";

const ALERT_INSERT: &str = "INSERT INTO alerts \
     (dossier_id, rung, due_at, recipient, recipient_name, recipient_role, unrouted, created_at)";
const ALERT_CONFLICT: &str = "ON CONFLICT (dossier_id, rung, due_at, recipient) DO NOTHING";

/// The changes whose class moved: one classification-history row each.
fn class_moves(changes: &[EvaluationChange]) -> impl Iterator<Item = &EvaluationChange> {
    changes.iter().filter(|c| c.class_moved())
}

/// Every alert of these changes, with its dossier and the due date it is for
/// ('' without one: part of the alert's key).
fn alert_rows(
    changes: &[EvaluationChange],
) -> impl Iterator<Item = (i64, String, &crate::escalation::PlannedAlert)> {
    changes.iter().flat_map(|c| {
        let due_key = opt_fmt(c.evaluation.due_at).unwrap_or_default();
        c.alerts
            .iter()
            .map(move |a| (c.dossier_id, due_key.clone(), a))
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

/// SQLite: one prepared statement per table, a row at a time (sqlx's
/// multi-row statements spent most of a check's writing handing 13
/// parameters per verdict to its worker thread).
fn sqlite_save(
    c: &rusqlite::Connection,
    changes: &[EvaluationChange],
    now: &str,
) -> Result<(), StoreError> {
    let what = "saving evaluations";
    let mut upsert = c
        .prepare(&evaluation_upsert_sql(&format!(
            "VALUES ({})",
            sqlite_placeholders(14)
        )))
        .sq(what)?;
    let mut moved = c
        .prepare(&format!(
            "{CLASS_HISTORY_INSERT} VALUES ({})",
            sqlite_placeholders(7)
        ))
        .sq(what)?;
    // A dossier's verdict and its class change one after the other: both
    // rows' foreign keys look up the same dossier page, read once.
    for ch in changes {
        let e = &ch.evaluation;
        let d = e.delay.as_ref();
        let (left, late) = e.stored_days();
        upsert
            .execute(rusqlite::params![
                ch.dossier_id,
                e.class.as_str(),
                opt_fmt(e.due_at),
                opt_fmt(e.computed_due_at),
                i64::from(e.due_mismatch),
                left,
                late,
                d.map(|d| d.step.as_str()),
                d.map(|d| d.unit.as_str()),
                d.and_then(|d| d.officer.as_deref()),
                d.map(|d| d.working_days_over),
                opt_fmt(e.recheck_at),
                now,
                now,
            ])
            .sq(what)?;
        if ch.class_moved() {
            moved
                .execute(rusqlite::params![
                    ch.dossier_id,
                    now,
                    ch.previous.map(Class::as_str),
                    e.class.as_str(),
                    opt_fmt(e.due_at),
                    e.working_days_left,
                    e.working_days_late,
                ])
                .sq("recording class changes")?;
        }
    }
    let what = "recording alerts";
    let mut alert = c
        .prepare(&format!(
            "{ALERT_INSERT} VALUES ({}) {ALERT_CONFLICT}",
            sqlite_placeholders(8)
        ))
        .sq(what)?;
    for (id, due_key, a) in alert_rows(changes) {
        alert
            .execute(rusqlite::params![
                id,
                a.rung.as_str(),
                due_key,
                a.recipient.email,
                a.recipient.name,
                a.recipient.role,
                i64::from(a.unrouted),
                now,
            ])
            .sq(what)?;
    }
    Ok(())
}

/// PostgreSQL: one statement per table for the whole batch, each column
/// bound as an array and read back by `unnest` (multi-row `VALUES` of 400
/// rows bound 8-14 parameters a row, one at a time: the alerts alone were
/// 0.97 s of a 1M all-open morning's check).
async fn postgres_save(
    tx: &mut sqlx::PgConnection,
    changes: &[EvaluationChange],
    now: &str,
) -> Result<(), StoreError> {
    let c = changes;
    sqlx::query(&evaluation_upsert_sql(
        "SELECT t.*, $13, $13 FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], \
         $5::bigint[], $6::bigint[], $7::bigint[], $8::text[], $9::text[], $10::text[], \
         $11::bigint[], $12::text[]) AS t",
    ))
    .bind(column(c, |c| c.dossier_id))
    .bind(column(c, |c| c.evaluation.class.as_str()))
    .bind(column(c, |c| opt_fmt(c.evaluation.due_at)))
    .bind(column(c, |c| opt_fmt(c.evaluation.computed_due_at)))
    .bind(column(c, |c| i64::from(c.evaluation.due_mismatch)))
    .bind(column(c, |c| c.evaluation.stored_days().0))
    .bind(column(c, |c| c.evaluation.stored_days().1))
    .bind(column(c, |c| {
        c.evaluation.delay.as_ref().map(|d| d.step.as_str())
    }))
    .bind(column(c, |c| {
        c.evaluation.delay.as_ref().map(|d| d.unit.as_str())
    }))
    .bind(column(c, |c| {
        c.evaluation
            .delay
            .as_ref()
            .and_then(|d| d.officer.as_deref())
    }))
    .bind(column(c, |c| {
        c.evaluation.delay.as_ref().map(|d| d.working_days_over)
    }))
    .bind(column(c, |c| opt_fmt(c.evaluation.recheck_at)))
    .bind(now)
    .execute(&mut *tx)
    .await
    .ctx("saving evaluations")?;

    let moved: Vec<&EvaluationChange> = class_moves(changes).collect();
    if !moved.is_empty() {
        let m = &moved[..];
        sqlx::query(&format!(
            "{CLASS_HISTORY_INSERT} SELECT t.id, $2, t.from_class, t.to_class, t.due_at, t.days_left, t.days_late \
             FROM unnest($1::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[]) \
             AS t(id, from_class, to_class, due_at, days_left, days_late)"
        ))
        .bind(column(m, |c| c.dossier_id))
        .bind(now)
        .bind(column(m, |c| c.previous.map(Class::as_str)))
        .bind(column(m, |c| c.evaluation.class.as_str()))
        .bind(column(m, |c| opt_fmt(c.evaluation.due_at)))
        .bind(column(m, |c| c.evaluation.working_days_left))
        .bind(column(m, |c| c.evaluation.working_days_late))
        .execute(&mut *tx)
        .await
        .ctx("recording class changes")?;
    }

    let alerts: Vec<_> = alert_rows(changes).collect();
    if !alerts.is_empty() {
        let a = &alerts[..];
        sqlx::query(&format!(
            "{ALERT_INSERT} SELECT t.*, $7 FROM unnest($1::bigint[], $2::text[], $3::text[], \
             $4::text[], $5::text[], $6::text[], $8::bigint[]) AS t {ALERT_CONFLICT}"
        ))
        .bind(column(a, |(id, _, _)| *id))
        .bind(column(a, |(_, _, a)| a.rung.as_str()))
        .bind(column(a, |(_, due, _)| due.as_str()))
        .bind(column(a, |(_, _, a)| a.recipient.email.as_str()))
        .bind(column(a, |(_, _, a)| a.recipient.name.as_str()))
        .bind(column(a, |(_, _, a)| a.recipient.role))
        .bind(now)
        .bind(column(a, |(_, _, a)| i64::from(a.unrouted)))
        .execute(&mut *tx)
        .await
        .ctx("recording alerts")?;
    }
    Ok(())
}

/// One column of `rows`, bound as a PostgreSQL array.
fn column<'a, R, T>(rows: &'a [R], f: impl Fn(&'a R) -> T) -> Vec<T> {
    rows.iter().map(f).collect()
}
