//! PostgreSQL's side of storing a sync page: new dossiers and history rows
//! by `COPY` (`copy`), changed dossiers in one `UPDATE` fed a JSON array
//! (`batch`), the stored hashes of a page's codes by one array join.

use super::batch::{self, Col};
use super::copy::{CopyRows, CopyStream, Kind};
use crate::store::dossiers::{
    DOSSIER_COLUMNS, DUE_AT, DossierRow, FIRST_SEEN, Incoming, Page, PageOutcome, SELECT_DOSSIER,
    StoredDossier, change_entry, is_rehash,
};
use crate::store::value::DbTime;
use crate::store::{Context, StoreError, placeholders};
use sqlx::PgConnection;
use std::collections::HashMap;

/// Reads the stored (id, content hash) of a page's codes. PostgreSQL joins an
/// array: with fresh statistics on a growing table an IN list made it scan the
/// table once per listed code.
async fn stored_hashes(
    c: &mut PgConnection,
    source: &str,
    codes: &[&str],
) -> Result<HashMap<String, (i64, String)>, StoreError> {
    let codes: Vec<String> = codes.iter().map(|c| (*c).to_owned()).collect();
    let rows: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT d.id, d.code, d.content_hash FROM unnest($2::text[]) AS c(code) JOIN dossiers d ON d.source = $1 AND d.code = c.code",
    )
    .bind(source)
    .bind(codes)
    .fetch_all(&mut *c)
    .await
    .ctx("reading stored dossiers")?;
    Ok(rows
        .into_iter()
        .map(|(id, code, hash)| (code, (id, hash)))
        .collect())
}

/// A dossier's `values()` then its id, as one JSON array (see `batch`).
struct DossierJson<'a>(&'a Incoming, i64);

impl serde::Serialize for DossierJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(DOSSIER_COLUMNS.len() + 1))?;
        for v in self.0.values() {
            seq.serialize_element(&v)?;
        }
        seq.serialize_element(&self.1)?;
        seq.end()
    }
}

/// `UPDATE dossiers` from `DossierJson` rows keyed by id; $2 is now. The first
/// due date ever seen stays. Times in the rows are read in the sync
/// transaction's time zone, Vietnam's (`sync_begin`).
fn dossier_update_sql() -> String {
    let keep_due = format!("COALESCE(original_due_at, ({{row{DUE_AT}}})::timestamptz)");
    let mut cols = dossier_cols_json();
    cols.extend([
        Col::Const("last_changed_at", "$2"),
        Col::Const("deleted", "FALSE"),
        Col::Const("original_due_at", &keep_due),
    ]);
    batch::update_sql("dossiers", &cols, "id")
}

/// The columns of `DOSSIER_COLUMNS` holding times and JSON (the rest is text
/// but the duration's value).
const TIME_COLUMNS: [&str; 7] = [
    "submitted_at",
    "received_at",
    "due_at",
    "finished_at",
    "returned_at",
    "source_updated_at",
    "step_since",
];
const JSON_COLUMNS: [&str; 3] = ["pauses", "extension", "steps"];

/// The type of each of `DOSSIER_COLUMNS`.
fn dossier_kinds() -> [Kind; DOSSIER_COLUMNS.len()] {
    DOSSIER_COLUMNS.map(|c| match c {
        "duration_value" => Kind::Int8,
        c if TIME_COLUMNS.contains(&c) => Kind::Time,
        c if JSON_COLUMNS.contains(&c) => Kind::Jsonb,
        _ => Kind::Text,
    })
}

fn dossier_cols_json() -> Vec<Col<'static>> {
    DOSSIER_COLUMNS
        .iter()
        .zip(dossier_kinds())
        .map(|(c, kind)| match kind {
            Kind::Int8 => Col::Int(c),
            Kind::Time => Col::Cast(c, "timestamptz"),
            Kind::Jsonb => Col::Cast(c, "jsonb"),
            Kind::Text => Col::Text(c),
        })
        .collect()
}

/// New rows go in by `COPY`; changed dossiers in one `UPDATE` fed one
/// JSON parameter (`batch`). A page that looks all new (an initial sync)
/// is first written as such, without looking up each of its dossiers
/// (2.7 s of a 22.6 s initial sync of 1M, by sqlx's log): inside a
/// savepoint, so that one stored after all (a record the source
/// repeated) fails the `COPY`'s unique check, and the page is then
/// written the usual way.
pub(super) async fn write_dossiers(
    conn: &mut PgConnection,
    page: &Page<'_>,
    out: &mut PageOutcome,
) -> Result<Vec<(String, String)>, StoreError> {
    if looks_new(conn, page).await? {
        let what = "writing a page of new dossiers";
        sqlx::query("SAVEPOINT page_new")
            .execute(&mut *conn)
            .await
            .ctx(what)?;
        let mut attempt = PageOutcome::default();
        match write_pg(conn, page, &HashMap::new(), &mut attempt).await {
            Ok(written) => {
                sqlx::query("RELEASE SAVEPOINT page_new")
                    .execute(&mut *conn)
                    .await
                    .ctx(what)?;
                out.add(attempt);
                return Ok(written);
            }
            Err(StoreError::Query {
                source: sqlx::Error::Database(e),
                ..
            }) if e.is_unique_violation() => {
                sqlx::query("ROLLBACK TO SAVEPOINT page_new")
                    .execute(&mut *conn)
                    .await
                    .ctx(what)?;
            }
            Err(e) => return Err(e),
        }
    }
    let existing = stored_hashes(conn, page.source, page.codes).await?;
    write_pg(conn, page, &existing, out).await
}

/// Whether a page's dossiers look new: none of a few of its codes (first,
/// middle, last) is stored. One lookup of three where the page's would take
/// a thousand; a page of changes rarely has all three new.
async fn looks_new(c: &mut PgConnection, page: &Page<'_>) -> Result<bool, StoreError> {
    let n = page.codes.len();
    if n == 0 {
        return Ok(false);
    }
    let sample: Vec<String> = [0, n / 2, n - 1]
        .iter()
        .map(|&k| page.codes[k].to_owned())
        .collect();
    let (stored,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM dossiers WHERE source = $1 AND code = ANY($2))",
    )
    .bind(page.source)
    .bind(sample)
    .fetch_one(&mut *c)
    .await
    .ctx("reading stored dossiers")?;
    Ok(!stored)
}

/// Writes a page given the stored (id, hash) of its dossiers that are.
async fn write_pg(
    conn: &mut PgConnection,
    page: &Page<'_>,
    existing: &HashMap<String, (i64, String)>,
    out: &mut PageOutcome,
) -> Result<Vec<(String, String)>, StoreError> {
    let mut written: Vec<(String, String)> = Vec::new();
    let mut new: Vec<&Incoming> = Vec::new();
    let mut changed: Vec<(i64, &Incoming)> = Vec::new();
    for code in page.codes {
        let i = page.latest[code];
        match existing.get(*code) {
            Some((_, old)) if *old == i.hash => out.unchanged += 1,
            Some((id, _)) => changed.push((*id, i)),
            None => new.push(i),
        }
    }
    // Due-date history rows, in one COPY at the end (with the history's).
    let mut dues = CopyRows::default();

    // New dossiers: numbered from the table's sequence, then one COPY.
    if !new.is_empty() {
        let ids: Vec<i64> =
            sqlx::query_scalar("SELECT nextval('dossiers_id_seq') FROM generate_series(1, $1)")
                .bind(new.len() as i64)
                .fetch_all(&mut *conn)
                .await
                .ctx("numbering new dossiers")?;
        let target = format!(
            "dossiers (id, {}, code, source, first_seen_at, last_changed_at, original_due_at, deleted)",
            DOSSIER_COLUMNS.join(", ")
        );
        let kinds = dossier_kinds();
        let mut copy = CopyStream::start(conn, &target, "inserting dossiers").await?;
        for (id, i) in ids.into_iter().zip(&new) {
            let rows = copy.rows();
            rows.int(Some(id));
            for (kind, v) in kinds.iter().zip(i.values()) {
                rows.val(*kind, v);
            }
            // code, source, first seen, last changed, the first due date
            // seen (the one stated now), not deleted.
            rows.text(Some(&i.dossier.code))
                .text(Some(page.source))
                .time(Some(page.now))
                .time(Some(page.now))
                .time(i.cols.due.as_deref())
                .flag(false)
                .end_row();
            copy.send_if_full().await?;
            // The first sighting is implied by the row (see `FIRST_SEEN`).
            if i.cols.due.is_none() {
                dues.int(Some(id))
                    .time(None)
                    .time(Some(page.now))
                    .text(Some(FIRST_SEEN))
                    .end_row();
            }
            written.push((i.dossier.code.clone(), i.hash.clone()));
            out.created += 1;
        }
        copy.finish().await?;
    }

    // Changed dossiers: the old versions (for the diff), then one UPDATE for all.
    let mut old_rows: HashMap<i64, StoredDossier> = HashMap::new();
    for chunk in changed.chunks(500) {
        let ids = placeholders(1, chunk.len());
        let sql = format!("{SELECT_DOSSIER} WHERE d.id IN ({ids})");
        let mut q = sqlx::query_as::<_, DossierRow>(&sql);
        for (id, _) in chunk {
            q = q.bind(*id);
        }
        for r in q
            .fetch_all(&mut *conn)
            .await
            .ctx("reading changed dossiers")?
        {
            old_rows.insert(r.id, r.into_stored()?);
        }
    }
    let mut history = CopyRows::default();
    let mut updated: Vec<DossierJson> = Vec::with_capacity(changed.len());
    let (mut rehash_ids, mut rehashes) = (Vec::new(), Vec::new());
    for (id, i) in &changed {
        let d = &i.dossier;
        let old = old_rows.remove(id).ok_or_else(|| {
            StoreError::Corrupt(format!("dossier {} vanished during a sync", d.code))
        })?;
        if is_rehash(&old, d) {
            rehash_ids.push(*id);
            rehashes.push(i.hash.as_str());
            out.unchanged += 1;
            continue;
        }
        let (kind, changes, due_reason) = change_entry(&old, d);
        history
            .int(Some(*id))
            .time(Some(page.now))
            .text(Some(kind))
            .jsonb(Some(&changes))
            .time(Some(&i.cols.updated))
            .end_row();
        if let Some(reason) = due_reason {
            dues.int(Some(*id))
                .time(i.cols.due.as_deref())
                .time(Some(page.now))
                .text(Some(reason))
                .end_row();
        }
        updated.push(DossierJson(i, *id));
        written.push((d.code.clone(), i.hash.clone()));
        out.changed += 1;
    }
    if !updated.is_empty() {
        let rows = serde_json::to_string(&updated)
            .map_err(|e| StoreError::Corrupt(format!("encoding dossiers: {e}")))?;
        sqlx::query(&dossier_update_sql())
            .bind(rows)
            .bind(DbTime(page.at))
            .execute(&mut *conn)
            .await
            .ctx("updating dossiers")?;
        let ids: Vec<i64> = updated.iter().map(|d| d.1).collect();
        sqlx::query("INSERT INTO check_queue (dossier_id) SELECT unnest($1::bigint[])")
            .bind(ids)
            .execute(&mut *conn)
            .await
            .ctx("queueing changed dossiers for the next check")?;
    }
    if !rehash_ids.is_empty() {
        sqlx::query(
            "UPDATE dossiers d SET content_hash = r.hash FROM unnest($1::bigint[], $2::text[]) AS r(id, hash) WHERE d.id = r.id",
        )
        .bind(rehash_ids)
        .bind(rehashes)
        .execute(&mut *conn)
        .await
        .ctx("updating content hashes")?;
    }
    let target = "dossier_history (dossier_id, observed_at, kind, changes, source_updated_at)";
    history
        .send(conn, target, "recording dossier changes")
        .await?;
    let target = "due_date_history (dossier_id, due_at, observed_at, reason)";
    dues.send(conn, target, "recording due dates").await?;
    Ok(written)
}
