//! SQLite's side of a check: the dossiers to evaluate stepped through a
//! prepared statement on this thread (rusqlite), text parsed where SQLite
//! holds it; the verdicts saved a row at a time with prepared statements.

use super::{sqlite_placeholders, with_rusqlite};
use crate::deadline::Class;
use crate::dossier::{Extension, Pause};
use crate::store::dossiers::{opt_fmt, time};
use crate::store::evaluations::candidates::{
    CANDIDATE_COLS, CandidateCols, EvaluationCols, due_filter, evaluation_cols, steps_if_delayed,
};
use crate::store::evaluations::{
    ALERT_INSERT, CLASS_HISTORY_INSERT, alert_rows, evaluation_upsert_sql,
};
use crate::store::{CheckCandidate, Context, EvaluationChange, Sq, StoreError, Which};
use chrono::NaiveDateTime;
use sqlx::SqlitePool;
use std::collections::HashMap;

/// The dossiers of `which` to check (`Store::check_candidates`).
pub(super) async fn candidates(
    pool: &SqlitePool,
    which: &Which,
    all: bool,
    now: NaiveDateTime,
) -> Result<Vec<CheckCandidate>, StoreError> {
    let ids = match which {
        Which::Range(..) => "d.id > $1 AND d.id <= $2",
        Which::Ids(_) => "d.id IN (SELECT value FROM json_each($1))",
    };
    let sql = format!(
        "SELECT {}, {}, {} FROM dossiers d LEFT JOIN evaluations e ON e.dossier_id = d.id \
         WHERE {ids} AND d.deleted = 0 {} ORDER BY d.id",
        CANDIDATE_COLS.join(", "),
        steps_if_delayed(),
        evaluation_cols().join(", "),
        due_filter(which, all, now, ""),
    );
    let what = "reading dossiers to check";
    let mut conn = pool.acquire().await.ctx(what)?;
    with_rusqlite(&mut conn, |c| {
        let mut st = c.prepare(&sql).sq(what)?;
        let mut rows = match which {
            Which::Range(after, through) => st.query((after, through)),
            Which::Ids(ids) => st.query([serde_json::Value::from(ids.clone()).to_string()]),
        }
        .sq(what)?;
        // Sized up front: growing a vector of 3,000 candidates
        // copied it ~12 times into freshly zeroed memory.
        let mut out = Vec::with_capacity(which.len());
        while let Some(r) = rows.next().sq(what)? {
            out.push(candidate(r)?);
        }
        Ok(out)
    })
    .await
}

/// The stored steps (JSON) of these dossiers, by id.
pub(super) async fn steps_of(
    pool: &SqlitePool,
    ids: &[i64],
) -> Result<HashMap<i64, String>, StoreError> {
    let what = "reading steps of dossiers";
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

/// A check candidate from one SQLite row: `CANDIDATE_COLS`, the steps, then
/// `EVALUATION_COLS`, in order. Text is parsed where SQLite holds it (no
/// copy per column).
fn candidate(r: &rusqlite::Row<'_>) -> Result<CheckCandidate, StoreError> {
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
    // Times are parsed from the text SQLite holds, in place.
    let opt_t = |i: usize| -> Result<Option<NaiveDateTime>, StoreError> {
        opt(i)?.map(|s| time(s, WHAT)).transpose()
    };
    let t = |i: usize| -> Result<NaiveDateTime, StoreError> { time(text(i)?, WHAT) };
    let flag = |i: usize| -> Result<Option<bool>, StoreError> { Ok(int(i)?.map(|n| n != 0)) };
    let pauses: Vec<Pause> = match opt(14)? {
        None | Some("[]") => Vec::new(),
        Some(p) => json(14, p)?,
    };
    let extension: Option<Extension> = opt(15)?.map(|x| json(15, x)).transpose()?;
    let e = CANDIDATE_COLS.len() + 1;
    let previous = EvaluationCols {
        class: opt(e)?,
        due_at: opt_t(e + 1)?,
        computed_due_at: opt_t(e + 2)?,
        due_mismatch: flag(e + 3)?,
        working_days_left: int(e + 4)?,
        working_days_late: int(e + 5)?,
        delay_step: opt(e + 6)?,
        delay_unit: opt(e + 7)?,
        delay_officer: opt(e + 8)?,
        delay_days: int(e + 9)?,
        class_since: opt_t(e + 10)?,
        recheck_at: opt_t(e + 11)?,
        evaluated_at: opt_t(e + 12)?,
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
        submitted_at: opt_t(7)?,
        received_at: t(8)?,
        due_at: opt_t(9)?,
        finished_at: opt_t(10)?,
        returned_at: opt_t(11)?,
        duration_unit: opt(12)?,
        duration_value: int(13)?,
        source_updated_at: t(16)?,
    }
    .into_candidate(pauses, extension, opt(17)?.map(str::to_owned), previous)
}

/// An alert fires once per dossier, rung, due date ('' without one) and
/// recipient.
const ALERT_CONFLICT: &str = "ON CONFLICT (dossier_id, rung, due_at, recipient) DO NOTHING";

/// The page cache while a check batch is written, in KiB.
pub(super) const CHECK_WRITE_CACHE_KIB: i64 = 65_536;

/// SQLite: one prepared statement per table, a row at a time (sqlx's
/// multi-row statements spent most of a check's writing handing 13
/// parameters per verdict to its worker thread).
pub(super) fn save(
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
        let (left, late) = e.fixed_days();
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
    for (id, due, a) in alert_rows(changes) {
        alert
            .execute(rusqlite::params![
                id,
                a.rung.as_str(),
                opt_fmt(due).unwrap_or_default(),
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
