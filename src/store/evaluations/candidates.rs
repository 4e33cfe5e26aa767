//! What a check reads of each dossier and its previous verdict: only what
//! the deadline engine and the routing need, in a column order both
//! backends' bulk readers share (rows stepped through rusqlite on SQLite,
//! one JSON document on PostgreSQL).

use super::{CheckCandidate, DelayCause, StoredEvaluation, Which};
use crate::deadline::Class;
use crate::dossier::{ApplicantKind, Channel, Dossier, Duration, Extension, Pause, Status};
use crate::store::StoreError;
use crate::store::value::DbTime;
use chrono::NaiveDateTime;

/// One dossier to check as PostgreSQL sends it: a JSON array, in the order
/// of the columns in `check_candidates`.
#[derive(serde::Deserialize)]
pub(in crate::store) struct CandidateRow(
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<DbTime>,
    DbTime,
    Option<DbTime>,
    Option<DbTime>,
    Option<DbTime>,
    Option<String>,
    Option<i64>,
    Vec<Pause>,
    Option<Extension>,
    DbTime,
    // The steps as stored (a JSON array), kept as their text.
    Option<Box<serde_json::value::RawValue>>,
    EvaluationRow,
);

/// The columns of `evaluations` a `StoredEvaluation` is read from, in this
/// order; all empty for a dossier never evaluated (a left join).
#[derive(serde::Deserialize, sqlx::FromRow)]
pub(in crate::store) struct EvaluationRow {
    pub(in crate::store) class: Option<String>,
    pub(in crate::store) due_at: Option<DbTime>,
    pub(in crate::store) computed_due_at: Option<DbTime>,
    pub(in crate::store) due_mismatch: Option<bool>,
    pub(in crate::store) working_days_left: Option<i64>,
    pub(in crate::store) working_days_late: Option<i64>,
    pub(in crate::store) delay_step: Option<String>,
    pub(in crate::store) delay_unit: Option<String>,
    pub(in crate::store) delay_officer: Option<String>,
    pub(in crate::store) delay_days: Option<i64>,
    pub(in crate::store) class_since: Option<DbTime>,
    pub(in crate::store) recheck_at: Option<DbTime>,
    pub(in crate::store) evaluated_at: Option<DbTime>,
}

pub(in crate::store) const EVALUATION_COLS: [&str; 13] = [
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
pub(in crate::store) struct EvaluationCols<'a> {
    pub(in crate::store) class: Option<&'a str>,
    pub(in crate::store) due_at: Option<NaiveDateTime>,
    pub(in crate::store) computed_due_at: Option<NaiveDateTime>,
    pub(in crate::store) due_mismatch: Option<bool>,
    pub(in crate::store) working_days_left: Option<i64>,
    pub(in crate::store) working_days_late: Option<i64>,
    pub(in crate::store) delay_step: Option<&'a str>,
    pub(in crate::store) delay_unit: Option<&'a str>,
    pub(in crate::store) delay_officer: Option<&'a str>,
    pub(in crate::store) delay_days: Option<i64>,
    pub(in crate::store) class_since: Option<NaiveDateTime>,
    pub(in crate::store) recheck_at: Option<NaiveDateTime>,
    pub(in crate::store) evaluated_at: Option<NaiveDateTime>,
}

impl EvaluationRow {
    pub(in crate::store) fn into_stored(self) -> Result<Option<StoredEvaluation>, StoreError> {
        EvaluationCols {
            class: self.class.as_deref(),
            due_at: self.due_at.map(|t| t.0),
            computed_due_at: self.computed_due_at.map(|t| t.0),
            due_mismatch: self.due_mismatch,
            working_days_left: self.working_days_left,
            working_days_late: self.working_days_late,
            delay_step: self.delay_step.as_deref(),
            delay_unit: self.delay_unit.as_deref(),
            delay_officer: self.delay_officer.as_deref(),
            delay_days: self.delay_days,
            class_since: self.class_since.map(|t| t.0),
            recheck_at: self.recheck_at.map(|t| t.0),
            evaluated_at: self.evaluated_at.map(|t| t.0),
        }
        .into_stored()
    }
}

impl EvaluationCols<'_> {
    pub(in crate::store) fn into_stored(self) -> Result<Option<StoredEvaluation>, StoreError> {
        let Some(c) = self.class else {
            return Ok(None);
        };
        Ok(Some(StoredEvaluation {
            class: Class::parse(c)
                .ok_or_else(|| StoreError::Corrupt(format!("evaluation class '{c}'")))?,
            due_at: self.due_at,
            computed_due_at: self.computed_due_at,
            due_mismatch: self.due_mismatch.unwrap_or(false),
            working_days_left: self.working_days_left,
            working_days_late: self.working_days_late,
            delay: self.delay_step.map(|step| DelayCause {
                step: step.to_owned(),
                unit: self.delay_unit.unwrap_or_default().to_owned(),
                officer: self.delay_officer.map(str::to_owned),
                working_days_over: self.delay_days.unwrap_or(0),
            }),
            recheck_at: self.recheck_at,
            class_since: self.class_since,
            evaluated_at: self.evaluated_at,
        }))
    }
}

/// `CANDIDATE_COLS` of one row but the JSON ones (pauses, extension) and the
/// steps, borrowed from where they were read.
pub(in crate::store) struct CandidateCols<'a> {
    pub(in crate::store) id: i64,
    pub(in crate::store) code: &'a str,
    pub(in crate::store) field_code: &'a str,
    pub(in crate::store) unit_code: &'a str,
    pub(in crate::store) applicant_kind: &'a str,
    pub(in crate::store) channel: &'a str,
    pub(in crate::store) status: &'a str,
    pub(in crate::store) submitted_at: Option<NaiveDateTime>,
    pub(in crate::store) received_at: NaiveDateTime,
    pub(in crate::store) due_at: Option<NaiveDateTime>,
    pub(in crate::store) finished_at: Option<NaiveDateTime>,
    pub(in crate::store) returned_at: Option<NaiveDateTime>,
    pub(in crate::store) duration_unit: Option<&'a str>,
    pub(in crate::store) duration_value: Option<i64>,
    pub(in crate::store) source_updated_at: NaiveDateTime,
}

impl CandidateCols<'_> {
    pub(in crate::store) fn into_candidate(
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
            submitted_at: r.submitted_at,
            received_at: r.received_at,
            due_at: r.due_at,
            finished_at: r.finished_at,
            returned_at: r.returned_at,
            updated_at: r.source_updated_at,
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
            applicant_address: None,
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
    pub(in crate::store) fn into_candidate(self) -> Result<CheckCandidate, StoreError> {
        let r = self;
        CandidateCols {
            id: r.0,
            code: &r.1,
            field_code: &r.2,
            unit_code: &r.3,
            applicant_kind: &r.4,
            channel: &r.5,
            status: &r.6,
            submitted_at: r.7.map(|t| t.0),
            received_at: r.8.0,
            due_at: r.9.map(|t| t.0),
            finished_at: r.10.map(|t| t.0),
            returned_at: r.11.map(|t| t.0),
            duration_unit: r.12.as_deref(),
            duration_value: r.13,
            source_updated_at: r.16.0,
        }
        .into_candidate(
            r.14,
            r.15,
            r.17.map(|s| s.get().to_owned()),
            r.18.into_stored()?,
        )
    }
}

/// The dossier columns a check reads, in `CandidateRow` order; the steps
/// (`steps_if_delayed`) follow them.
pub(in crate::store) const CANDIDATE_COLS: [&str; 17] = [
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
pub(in crate::store) fn steps_if_delayed() -> String {
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

/// The `WHERE` of a check's read besides the ids: the dossiers never
/// evaluated or whose verdict's moment came by `now`, unless `all` or a list.
/// `now` is spliced: it is formatted here, never input, with `offset` after
/// it (PostgreSQL's `+07`: an instant in Vietnam, whatever the session's
/// time zone).
pub(in crate::store) fn due_filter(
    which: &Which,
    all: bool,
    now: NaiveDateTime,
    offset: &str,
) -> String {
    if all || matches!(which, Which::Ids(_)) {
        String::new()
    } else {
        format!(
            "AND (e.dossier_id IS NULL OR e.recheck_at <= '{}{offset}')",
            crate::clock::fmt_db(now)
        )
    }
}

/// `e.` and the `EVALUATION_COLS`, for a select list.
pub(in crate::store) fn evaluation_cols() -> Vec<String> {
    EVALUATION_COLS.iter().map(|c| format!("e.{c}")).collect()
}
