//! SQLite side of storing a sync page: prepared statements, one row at a
//! time, on sqlx's own connection handle (inside its transaction).
//!
//! Why not sqlx: its SQLite driver hands every statement and row to a worker
//! thread and copies each value through it; for the ~8 rows a new dossier
//! costs, that was most of a sync. Multi-row statements fed one JSON parameter
//! (`batch.rs`, still used for PostgreSQL) made SQLite parse the JSON back.
//! A prepared statement binds and steps in a microsecond or two.

use super::sqlite_placeholders;
use super::static_statement::StaticStatement;
use crate::store::dossiers::{
    DOSSIER_COLUMNS, DUE_AT, DossierRow, FIRST_SEEN, Incoming, Page, PageOutcome, SELECT_DOSSIER,
    change_entry, is_rehash,
};
use crate::store::value::Val;
use crate::store::{Sq, StoreError};
use rusqlite::{Connection, OptionalExtension, Statement};

/// `INSERT INTO dossiers`: `?1..?N` are `DOSSIER_COLUMNS`, then code, source,
/// now. A dossier already stored is left alone (no row changed): it is then
/// looked up and updated.
fn insert_sql() -> String {
    let n = DOSSIER_COLUMNS.len();
    format!(
        "INSERT INTO dossiers ({}, code, source, first_seen_at, last_changed_at, original_due_at, deleted) \
         VALUES ({}, ?{}, ?{}, ?{now}, ?{now}, ?{due}, 0) ON CONFLICT (source, code) DO NOTHING",
        DOSSIER_COLUMNS.join(", "),
        sqlite_placeholders(n),
        n + 1,
        n + 2,
        now = n + 3,
        due = DUE_AT + 1,
    )
}

/// `UPDATE dossiers`: `?1..?N` as in `insert_sql`, then now and the id. The
/// first due date ever seen stays.
fn update_sql() -> String {
    let n = DOSSIER_COLUMNS.len();
    let set: Vec<String> = DOSSIER_COLUMNS
        .iter()
        .enumerate()
        .map(|(k, c)| format!("{c} = ?{}", k + 1))
        .collect();
    format!(
        "UPDATE dossiers SET {}, last_changed_at = ?{}, deleted = 0, \
         original_due_at = COALESCE(original_due_at, ?{}) WHERE id = ?{}",
        set.join(", "),
        n + 1,
        DUE_AT + 1,
        n + 2,
    )
}

/// The statements of one page, prepared once.
struct Statements<'c> {
    lookup: Statement<'c>,
    insert: StaticStatement<'c>,
    update: StaticStatement<'c>,
    old_row: Statement<'c>,
    rehash: Statement<'c>,
    history: Statement<'c>,
    due: Statement<'c>,
    queue: Statement<'c>,
}

impl<'c> Statements<'c> {
    fn prepare(c: &'c Connection) -> rusqlite::Result<Statements<'c>> {
        Ok(Statements {
            lookup: c.prepare("SELECT id, content_hash FROM dossiers WHERE source = ?1 AND code = ?2")?,
            insert: StaticStatement::prepare(c, &insert_sql())?,
            update: StaticStatement::prepare(c, &update_sql())?,
            old_row: c.prepare(&format!("{SELECT_DOSSIER} WHERE d.id = ?1"))?,
            rehash: c.prepare("UPDATE dossiers SET content_hash = ?1 WHERE id = ?2")?,
            history: c.prepare(
                "INSERT INTO dossier_history (dossier_id, observed_at, kind, changes, source_updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?,
            due: c.prepare(
                "INSERT INTO due_date_history (dossier_id, due_at, observed_at, reason) VALUES (?1, ?2, ?3, ?4)",
            )?,
            // The changed dossier queued for the next check, which finds the
            // changed ones there instead of reading every dossier.
            queue: c.prepare("INSERT INTO check_queue (dossier_id) VALUES (?1)")?,
        })
    }
}

/// Writes a page's new and changed dossiers (in code order) with their history
/// and due-date history; returns (code, content hash) of each written.
pub(super) fn write_dossiers(
    c: &Connection,
    page: &Page<'_>,
    out: &mut PageOutcome,
) -> Result<Vec<(String, String)>, StoreError> {
    let mut st = Statements::prepare(c).sq("preparing the sync statements")?;
    let mut written = Vec::new();
    // While the page's dossiers keep being new (an initial sync), each is
    // inserted without looking it up first: the insert's own unique check
    // finds one already stored, and the lookup repeated that index search
    // (7% of a 1M initial sync's samples).
    let mut insert_first = true;
    for code in page.codes {
        let i = page.latest[code];
        // An error names the dossier it happened on.
        let wrote =
            write_one(c, &mut st, page, i, out, &mut insert_first).map_err(|e| match e {
                StoreError::Sqlite { what, source } => StoreError::Dossier {
                    code: (*code).to_owned(),
                    what,
                    source,
                },
                other => other,
            })?;
        if wrote {
            written.push((i.dossier.code.clone(), i.hash.clone()));
        }
    }
    Ok(written)
}

/// Writes one dossier if it is new or changed; whether it wrote.
/// `insert_first`: try it as a new dossier before looking it up; cleared
/// when it was not new, set when a lookup found none.
fn write_one(
    c: &Connection,
    st: &mut Statements<'_>,
    page: &Page<'_>,
    i: &Incoming,
    out: &mut PageOutcome,
    insert_first: &mut bool,
) -> Result<bool, StoreError> {
    let (now, code) = (page.now, i.dossier.code.as_str());
    if *insert_first {
        if insert(c, st, page, i)? {
            out.created += 1;
            return Ok(true);
        }
        *insert_first = false;
    }
    let stored: Option<(i64, String)> = st
        .lookup
        .query_row((page.source, code), |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .sq("reading stored dossiers")?;
    match stored {
        Some((_, hash)) if hash == i.hash => {
            out.unchanged += 1;
            return Ok(false);
        }
        Some((id, _)) => {
            let old = st
                .old_row
                .query_row([id], dossier_row)
                .optional()
                .sq("reading a changed dossier")?
                .ok_or_else(|| {
                    StoreError::Corrupt(format!("dossier {code} vanished during a sync"))
                })?
                .into_stored()?;
            if is_rehash(&old, &i.dossier) {
                st.rehash
                    .execute((&i.hash, id))
                    .sq("updating a content hash")?;
                out.unchanged += 1;
                return Ok(false);
            }
            let (kind, changes, due_reason) = change_entry(&old, &i.dossier);
            st.update
                .execute(
                    i.values()
                        .into_iter()
                        .chain([Val::Text(Some(now)), Val::Int(Some(id))]),
                )
                .sq("updating dossiers")?;
            st.history
                .execute((id, now, kind, changes, &i.cols.updated))
                .sq("recording dossier changes")?;
            if let Some(reason) = due_reason {
                st.due
                    .execute((id, &i.cols.due, now, reason))
                    .sq("recording due dates")?;
            }
            st.queue
                .execute([id])
                .sq("queueing a changed dossier for the next check")?;
            out.changed += 1;
        }
        None => {
            if !insert(c, st, page, i)? {
                return Err(StoreError::Corrupt(format!(
                    "dossier {code} appeared during a sync"
                )));
            }
            *insert_first = true;
            out.created += 1;
        }
    }
    Ok(true)
}

/// Inserts a new dossier (with its first due-date entry when it has no due
/// date); false, writing nothing, when it is already stored.
fn insert(
    c: &Connection,
    st: &mut Statements<'_>,
    page: &Page<'_>,
    i: &Incoming,
) -> Result<bool, StoreError> {
    let now = page.now;
    let inserted = st
        .insert
        .execute(i.values().into_iter().chain([
            Val::Text(Some(&i.dossier.code)),
            Val::Text(Some(page.source)),
            Val::Text(Some(now)),
        ]))
        .sq("inserting dossiers")?;
    if inserted == 0 {
        return Ok(false);
    }
    // The first sighting is implied by the row (see `FIRST_SEEN`).
    if i.cols.due.is_none() {
        st.due
            .execute((c.last_insert_rowid(), None::<&str>, now, FIRST_SEEN))
            .sq("recording due dates")?;
    }
    Ok(true)
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
        steps: r.get(31)?,
        applicant_address: r.get(32)?,
    })
}
