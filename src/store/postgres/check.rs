//! PostgreSQL's side of a check: the dossiers to evaluate come back as one
//! JSON document built by the server (row-by-row transfer through sqlx was
//! most of a check's time); the verdicts are saved one statement per table
//! for the whole batch, each column bound as an array.

use crate::deadline::Class;
use crate::store::evaluations::candidates::{
    CANDIDATE_COLS, CandidateRow, EVALUATION_COLS, due_filter, evaluation_cols, steps_if_delayed,
};
use crate::store::evaluations::{
    ALERT_INSERT, CLASS_HISTORY_INSERT, alert_rows, class_moves, evaluation_upsert_sql,
};
use crate::store::value::{DbTime, JsonText};
use crate::store::{CheckCandidate, Context, EvaluationChange, StoreError, Which};
use chrono::NaiveDateTime;
use sqlx::PgPool;
use std::collections::HashMap;

/// The time columns a check reads.
const TIME_COLS: [&str; 11] = [
    "d.submitted_at",
    "d.received_at",
    "d.due_at",
    "d.finished_at",
    "d.returned_at",
    "d.source_updated_at",
    "e.due_at",
    "e.computed_due_at",
    "e.class_since",
    "e.recheck_at",
    "e.evaluated_at",
];

/// The dossiers of `which` to check (`Store::check_candidates`).
pub(super) async fn candidates(
    pool: &PgPool,
    which: &Which,
    all: bool,
    now: NaiveDateTime,
) -> Result<Vec<CheckCandidate>, StoreError> {
    let ids = match which {
        Which::Range(..) => "d.id > $1 AND d.id <= $2",
        Which::Ids(_) => "d.id = ANY($1)",
    };
    // Times as Vietnam local `timestamp`s (`2026-11-25T08:00:00` in JSON),
    // whatever the session's time zone; the JSON columns embedded as they are.
    let local = |c: &str| {
        if TIME_COLS.contains(&c) {
            format!("{c} AT TIME ZONE 'Asia/Ho_Chi_Minh'")
        } else {
            c.to_owned()
        }
    };
    let evaluation: Vec<String> = evaluation_cols().iter().map(|c| local(c)).collect();
    let steps = steps_if_delayed();
    let cols: Vec<String> = CANDIDATE_COLS
        .iter()
        .map(|c| local(c))
        .chain([steps])
        .collect();
    let inner: Vec<String> = cols
        .iter()
        .chain(evaluation.iter())
        .enumerate()
        .map(|(i, c)| format!("{c} AS c{i}"))
        .collect();
    // The dossier's columns, then the evaluation's as one nested array.
    let mut outer: Vec<String> = (0..cols.len()).map(|i| format!("c{i}")).collect();
    let nested: Vec<String> = (cols.len()..cols.len() + EVALUATION_COLS.len())
        .map(|i| format!("c{i}"))
        .collect();
    outer.push(format!("json_build_array({})", nested.join(", ")));
    let sql = format!(
        "SELECT COALESCE(json_agg(json_build_array({}) ORDER BY c0), '[]'::json)::text \
         FROM (SELECT {} \
         FROM dossiers d LEFT JOIN evaluations e ON e.dossier_id = d.id \
         WHERE {ids} AND NOT d.deleted {} \
         ORDER BY d.id) AS s",
        outer.join(", "),
        inner.join(", "),
        due_filter(which, all, now, "+07"),
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

/// The stored steps (JSON) of these dossiers, by id.
pub(super) async fn steps_of(
    pool: &PgPool,
    ids: &[i64],
) -> Result<HashMap<i64, String>, StoreError> {
    let rows: Vec<(i64, JsonText)> =
        sqlx::query_as("SELECT id, steps FROM dossiers WHERE id = ANY($1)")
            .bind(ids)
            .fetch_all(pool)
            .await
            .ctx("reading steps of dossiers")?;
    Ok(rows.into_iter().map(|(id, s)| (id, s.0)).collect())
}

/// An alert fires once per dossier, rung, due date (NULL is one value) and
/// recipient: the unique index `alerts_once`.
const ALERT_CONFLICT: &str = "ON CONFLICT (dossier_id, rung, COALESCE(due_at, '-infinity'::timestamptz), recipient) DO NOTHING";

/// PostgreSQL: one statement per table for the whole batch, each column
/// bound as an array and read back by `unnest` (multi-row `VALUES` of 400
/// rows bound 8-14 parameters a row, one at a time: the alerts alone were
/// 0.97 s of a 1M all-open morning's check).
pub(super) async fn save(
    tx: &mut sqlx::PgConnection,
    changes: &[EvaluationChange],
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    let c = changes;
    let now = DbTime(now);
    sqlx::query(&evaluation_upsert_sql(
        "SELECT t.*, $13, $13 FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], \
         $4::timestamptz[], $5::boolean[], $6::bigint[], $7::bigint[], $8::text[], $9::text[], \
         $10::text[], $11::bigint[], $12::timestamptz[]) AS t",
    ))
    .bind(column(c, |c| c.dossier_id))
    .bind(column(c, |c| c.evaluation.class.as_str()))
    .bind(column(c, |c| DbTime::opt(c.evaluation.due_at)))
    .bind(column(c, |c| DbTime::opt(c.evaluation.computed_due_at)))
    .bind(column(c, |c| c.evaluation.due_mismatch))
    .bind(column(c, |c| c.evaluation.fixed_days().0))
    .bind(column(c, |c| c.evaluation.fixed_days().1))
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
    .bind(column(c, |c| DbTime::opt(c.evaluation.recheck_at)))
    .bind(now)
    .execute(&mut *tx)
    .await
    .ctx("saving evaluations")?;

    let moved: Vec<&EvaluationChange> = class_moves(changes).collect();
    if !moved.is_empty() {
        let m = &moved[..];
        sqlx::query(&format!(
            "{CLASS_HISTORY_INSERT} SELECT t.id, $2, t.from_class, t.to_class, t.due_at, t.days_left, t.days_late \
             FROM unnest($1::bigint[], $3::text[], $4::text[], $5::timestamptz[], $6::bigint[], $7::bigint[]) \
             AS t(id, from_class, to_class, due_at, days_left, days_late)"
        ))
        .bind(column(m, |c| c.dossier_id))
        .bind(now)
        .bind(column(m, |c| c.previous.map(Class::as_str)))
        .bind(column(m, |c| c.evaluation.class.as_str()))
        .bind(column(m, |c| DbTime::opt(c.evaluation.due_at)))
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
            "{ALERT_INSERT} SELECT t.*, $7 FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], \
             $4::text[], $5::text[], $6::text[], $8::boolean[]) AS t {ALERT_CONFLICT}"
        ))
        .bind(column(a, |(id, _, _)| *id))
        .bind(column(a, |(_, _, a)| a.rung.as_str()))
        .bind(column(a, |(_, due, _)| DbTime::opt(*due)))
        .bind(column(a, |(_, _, a)| a.recipient.email.as_str()))
        .bind(column(a, |(_, _, a)| a.recipient.name.as_str()))
        .bind(column(a, |(_, _, a)| a.recipient.role))
        .bind(now)
        .bind(column(a, |(_, _, a)| a.unrouted))
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
