//! SQLite side of storing a sync page: prepared statements, one row at a
//! time, on sqlx's own connection handle (inside its transaction).
//!
//! Why not sqlx: its SQLite driver hands every statement and row to a worker
//! thread and copies each value through it; for the ~8 rows a new dossier
//! costs, that was most of a sync. Multi-row statements fed one JSON parameter
//! (`batch.rs`, still used for PostgreSQL) made SQLite parse the JSON back.
//! A prepared statement binds and steps in a microsecond or two.

use super::{
    DossierRow, Incoming, Page, PageOutcome, SELECT_DOSSIER, SELECT_STEPS, StepRow, change_entry,
    duration_cols, opt_fmt,
};
use crate::clock::fmt_db;
use crate::store::StoreError;
use rusqlite::types::ToSql;
use rusqlite::{Connection, OptionalExtension, Statement};

/// Attaches what we were doing to a rusqlite error.
trait Sq<T> {
    fn sq(self, what: &'static str) -> Result<T, StoreError>;
}

impl<T> Sq<T> for rusqlite::Result<T> {
    fn sq(self, what: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Sqlite { what, source })
    }
}

/// `?1..?27` are the source's columns (`DOSSIER_COLUMNS`), then code, source, now.
const INSERT: &str = "INSERT INTO dossiers (procedure_code, procedure_name, field_code, field_name, unit_code, unit_name, \
     officer, applicant_name, applicant_kind, applicant_id_no, applicant_phone, applicant_email, summary, channel, status, \
     submitted_at, received_at, due_at, finished_at, returned_at, duration_unit, duration_value, current_step, pauses, \
     extension, source_updated_at, content_hash, code, source, first_seen_at, last_changed_at, original_due_at, deleted) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, \
     ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?30, ?18, 0)";

/// `?1..?27` as in `INSERT`, then now and the id. The first due date ever seen stays.
const UPDATE: &str = "UPDATE dossiers SET procedure_code = ?1, procedure_name = ?2, field_code = ?3, field_name = ?4, \
     unit_code = ?5, unit_name = ?6, officer = ?7, applicant_name = ?8, applicant_kind = ?9, applicant_id_no = ?10, \
     applicant_phone = ?11, applicant_email = ?12, summary = ?13, channel = ?14, status = ?15, submitted_at = ?16, \
     received_at = ?17, due_at = ?18, finished_at = ?19, returned_at = ?20, duration_unit = ?21, duration_value = ?22, \
     current_step = ?23, pauses = ?24, extension = ?25, source_updated_at = ?26, content_hash = ?27, \
     last_changed_at = ?28, deleted = 0, original_due_at = COALESCE(original_due_at, ?18) WHERE id = ?29";

/// A dossier's own columns in `DOSSIER_COLUMNS` order, formatted once.
struct Columns<'a> {
    i: &'a Incoming,
    submitted: Option<String>,
    received: String,
    due: Option<String>,
    finished: Option<String>,
    returned: Option<String>,
    duration: (Option<&'static str>, Option<i64>),
    pauses: String,
    extension: Option<String>,
    updated: String,
}

impl<'a> Columns<'a> {
    fn new(i: &'a Incoming) -> Columns<'a> {
        let d = &i.dossier;
        Columns {
            i,
            submitted: opt_fmt(d.submitted_at),
            received: fmt_db(d.received_at),
            due: opt_fmt(d.due_at),
            finished: opt_fmt(d.finished_at),
            returned: opt_fmt(d.returned_at),
            duration: duration_cols(d.duration),
            pauses: serde_json::to_string(&d.pauses).unwrap_or_else(|_| "[]".into()),
            extension: d
                .extension
                .as_ref()
                .and_then(|e| serde_json::to_string(e).ok()),
            updated: fmt_db(d.updated_at),
        }
    }

    /// Binds `?1..?27` of `INSERT`/`UPDATE`.
    fn bind(&self, st: &mut Statement<'_>) -> rusqlite::Result<()> {
        let d = &self.i.dossier;
        let values: [&dyn ToSql; 27] = [
            &d.procedure_code,
            &d.procedure_name,
            &d.field_code,
            &d.field_name,
            &d.unit_code,
            &d.unit_name,
            &d.officer,
            &d.applicant_name,
            &d.applicant_kind.as_str(),
            &d.applicant_id_no,
            &d.applicant_phone,
            &d.applicant_email,
            &d.summary,
            &d.channel.as_str(),
            &d.status.as_str(),
            &self.submitted,
            &self.received,
            &self.due,
            &self.finished,
            &self.returned,
            &self.duration.0,
            &self.duration.1,
            &d.current_step().map(|s| s.name.as_str()),
            &self.pauses,
            &self.extension,
            &self.updated,
            &self.i.hash,
        ];
        for (n, v) in values.into_iter().enumerate() {
            st.raw_bind_parameter(n + 1, v)?;
        }
        Ok(())
    }
}

/// The statements of one page, prepared once.
struct Statements<'c> {
    lookup: Statement<'c>,
    insert: Statement<'c>,
    update: Statement<'c>,
    old_row: Statement<'c>,
    old_steps: Statement<'c>,
    delete_steps: Statement<'c>,
    step: Statement<'c>,
    history: Statement<'c>,
    due: Statement<'c>,
}

impl<'c> Statements<'c> {
    fn prepare(c: &'c Connection) -> rusqlite::Result<Statements<'c>> {
        Ok(Statements {
            lookup: c.prepare("SELECT id, content_hash FROM dossiers WHERE source = ?1 AND code = ?2")?,
            insert: c.prepare(INSERT)?,
            update: c.prepare(UPDATE)?,
            old_row: c.prepare(&format!("{SELECT_DOSSIER} WHERE d.id = ?1"))?,
            old_steps: c.prepare(&format!("{SELECT_STEPS} WHERE dossier_id = ?1 ORDER BY seq"))?,
            delete_steps: c.prepare("DELETE FROM dossier_steps WHERE dossier_id = ?1")?,
            step: c.prepare(
                "INSERT INTO dossier_steps (dossier_id, seq, name, unit, officer, started_at, finished_at, due_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?,
            history: c.prepare(
                "INSERT INTO dossier_history (dossier_id, observed_at, kind, changes, source_updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?,
            due: c.prepare(
                "INSERT INTO due_date_history (dossier_id, due_at, observed_at, reason) VALUES (?1, ?2, ?3, ?4)",
            )?,
        })
    }

    fn steps(&mut self, id: i64, i: &Incoming) -> rusqlite::Result<()> {
        for (seq, s) in i.dossier.steps.iter().enumerate() {
            self.step.execute(rusqlite::params![
                id,
                seq as i64,
                s.name,
                s.unit,
                s.officer,
                fmt_db(s.started_at),
                opt_fmt(s.finished_at),
                opt_fmt(s.due_at),
            ])?;
        }
        Ok(())
    }
}

/// Writes a page's new and changed dossiers (in code order) with their steps,
/// history and due-date history; returns (code, content hash) of each written.
pub(super) fn write_dossiers(
    c: &Connection,
    page: &Page<'_>,
    out: &mut PageOutcome,
) -> Result<Vec<(String, String)>, StoreError> {
    let mut st = Statements::prepare(c).sq("preparing the sync statements")?;
    let now = page.now;
    let mut written = Vec::new();
    for code in page.codes {
        let i = page.latest[code];
        let d = &i.dossier;
        let stored: Option<(i64, String)> = st
            .lookup
            .query_row((page.source, *code), |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .sq("reading stored dossiers")?;
        let cols = Columns::new(i);
        match stored {
            Some((_, hash)) if hash == i.hash => {
                out.unchanged += 1;
                continue;
            }
            Some((id, _)) => {
                let row = st
                    .old_row
                    .query_row([id], dossier_row)
                    .sq("reading a changed dossier")?;
                let steps = st
                    .old_steps
                    .query_map([id], step_row)
                    .sq("reading a changed dossier's steps")?
                    .map(|r| r.sq("reading a changed dossier's steps")?.into_step())
                    .collect::<Result<Vec<_>, _>>()?;
                let old = row.into_stored(steps)?;
                let (kind, changes, due_reason) = change_entry(&old, d);
                cols.bind(&mut st.update).sq("updating dossiers")?;
                st.update
                    .raw_bind_parameter(28, now)
                    .sq("updating dossiers")?;
                st.update
                    .raw_bind_parameter(29, id)
                    .sq("updating dossiers")?;
                st.update.raw_execute().sq("updating dossiers")?;
                st.delete_steps
                    .execute([id])
                    .sq("replacing dossiers' steps")?;
                st.steps(id, i).sq("storing dossiers' steps")?;
                st.history
                    .execute((id, now, kind, changes, &cols.updated))
                    .sq("recording dossier changes")?;
                if let Some(reason) = due_reason {
                    st.due
                        .execute((id, &cols.due, now, reason))
                        .sq("recording due dates")?;
                }
                out.changed += 1;
            }
            None => {
                cols.bind(&mut st.insert).sq("inserting dossiers")?;
                st.insert
                    .raw_bind_parameter(28, code)
                    .sq("inserting dossiers")?;
                st.insert
                    .raw_bind_parameter(29, page.source)
                    .sq("inserting dossiers")?;
                st.insert
                    .raw_bind_parameter(30, now)
                    .sq("inserting dossiers")?;
                st.insert.raw_execute().sq("inserting dossiers")?;
                let id = c.last_insert_rowid();
                st.steps(id, i).sq("storing dossiers' steps")?;
                st.history
                    .execute((id, now, "created", "{}", &cols.updated))
                    .sq("recording dossier changes")?;
                st.due
                    .execute((id, &cols.due, now, "first seen"))
                    .sq("recording due dates")?;
                out.created += 1;
            }
        }
        written.push((d.code.clone(), i.hash.clone()));
    }
    Ok(written)
}

/// A `DossierRow` from the columns of `SELECT_DOSSIER`, in order.
fn dossier_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DossierRow> {
    Ok(DossierRow {
        id: r.get(0)?,
        source: r.get(1)?,
        code: r.get(2)?,
        procedure_code: r.get(3)?,
        procedure_name: r.get(4)?,
        field_code: r.get(5)?,
        field_name: r.get(6)?,
        unit_code: r.get(7)?,
        unit_name: r.get(8)?,
        officer: r.get(9)?,
        applicant_name: r.get(10)?,
        applicant_kind: r.get(11)?,
        applicant_id_no: r.get(12)?,
        applicant_phone: r.get(13)?,
        applicant_email: r.get(14)?,
        summary: r.get(15)?,
        channel: r.get(16)?,
        status: r.get(17)?,
        submitted_at: r.get(18)?,
        received_at: r.get(19)?,
        due_at: r.get(20)?,
        original_due_at: r.get(21)?,
        finished_at: r.get(22)?,
        returned_at: r.get(23)?,
        duration_unit: r.get(24)?,
        duration_value: r.get(25)?,
        pauses: r.get(26)?,
        extension: r.get(27)?,
        source_updated_at: r.get(28)?,
        deleted: r.get(29)?,
        last_changed_at: r.get(30)?,
    })
}

/// A `StepRow` from the columns of `SELECT_STEPS`, in order.
fn step_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StepRow> {
    Ok(StepRow {
        dossier_id: r.get(0)?,
        name: r.get(1)?,
        unit: r.get(2)?,
        officer: r.get(3)?,
        started_at: r.get(4)?,
        finished_at: r.get(5)?,
        due_at: r.get(6)?,
    })
}
