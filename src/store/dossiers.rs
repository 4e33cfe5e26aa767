//! Dossiers, their steps, the append-only history of observed changes, the
//! due-date history, the quarantine and the per-source sync state.

use super::audit::audit_append;
use super::batch::{self, Col};
use super::copy::{CopyRows, CopyStream};
use super::{BeginWrite, Context, Store, StoreError, with_pool};
use crate::clock::{fmt_db, parse_db};
use crate::dossier::{ApplicantKind, Channel, Dossier, Duration, Extension, Pause, Status, Step};
use chrono::NaiveDateTime;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use sqlx::{ConnectOptions, TransactionManager};
use std::collections::HashMap;

mod sqlite;
mod static_statement;
mod steps;

/// Why a dossier has its first due date. A dossier first seen with a due date
/// has no stored row for it, nor a "created" history row: both are implied by
/// its own row (`first_seen_at`, `original_due_at`), so a new dossier costs
/// one row. One first seen without a due date keeps an explicit row (NULL):
/// its `original_due_at` is the first due date it got later.
pub(super) const FIRST_SEEN: &str = "first seen";

/// A dossier's observed changes `(observed_at, kind, changes)`, oldest first,
/// the implied "created" entry first; $1 is the dossier's id.
pub(super) const HISTORY_SQL: &str = "SELECT observed_at, kind, changes FROM (\
     SELECT 0 AS id, first_seen_at AS observed_at, 'created' AS kind, '{}' AS changes FROM dossiers WHERE id = $1 \
     UNION ALL SELECT id, observed_at, kind, changes FROM dossier_history WHERE dossier_id = $1) AS h ORDER BY id";

/// Every due date a dossier has had `(due_at, observed_at, reason)`, oldest
/// first, the implied first one included (see `FIRST_SEEN`); $1 is its id.
pub(super) const DUE_DATES_SQL: &str = "SELECT due_at, observed_at, reason FROM (\
     SELECT 0 AS id, original_due_at AS due_at, first_seen_at AS observed_at, 'first seen' AS reason FROM dossiers \
     WHERE id = $1 AND original_due_at IS NOT NULL \
     AND NOT EXISTS (SELECT 1 FROM due_date_history f WHERE f.dossier_id = $1 AND f.reason = 'first seen') \
     UNION ALL SELECT id, due_at, observed_at, reason FROM due_date_history WHERE dossier_id = $1) AS h ORDER BY id";

/// What one page of a sync did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageOutcome {
    pub created: u64,
    pub changed: u64,
    pub unchanged: u64,
    pub deleted: u64,
    pub quarantined: u64,
}

impl PageOutcome {
    pub fn add(&mut self, o: PageOutcome) {
        self.created += o.created;
        self.changed += o.changed;
        self.unchanged += o.unchanged;
        self.deleted += o.deleted;
        self.quarantined += o.quarantined;
    }
}

/// A record that could not be stored, kept with the reason and what was sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuarantineRecord {
    pub code: Option<String>,
    pub reason: String,
    pub raw: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncState {
    pub watermark: Option<String>,
    pub last_success_at: Option<NaiveDateTime>,
    pub last_attempt_at: Option<NaiveDateTime>,
    pub last_error: Option<String>,
}

#[derive(Clone, Debug)]
pub struct SyncRun {
    pub source: String,
    pub started_at: NaiveDateTime,
    pub finished_at: NaiveDateTime,
    pub fetched: u64,
    pub outcome: PageOutcome,
    pub error: Option<String>,
}

/// A stored dossier with what only the store knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredDossier {
    pub id: i64,
    pub source: String,
    pub dossier: Dossier,
    pub original_due_at: Option<NaiveDateTime>,
    pub deleted: bool,
    /// When tthc-watch last saw it change.
    pub last_changed_at: NaiveDateTime,
}

#[derive(sqlx::FromRow)]
pub(super) struct DossierRow {
    id: i64,
    source: String,
    code: String,
    procedure_code: Option<String>,
    procedure_name: String,
    field_code: String,
    field_name: String,
    unit_code: String,
    unit_name: String,
    officer: Option<String>,
    applicant_name: String,
    applicant_kind: String,
    applicant_id_no: Option<String>,
    applicant_phone: Option<String>,
    applicant_email: Option<String>,
    summary: Option<String>,
    channel: String,
    status: String,
    submitted_at: Option<String>,
    received_at: String,
    due_at: Option<String>,
    original_due_at: Option<String>,
    finished_at: Option<String>,
    returned_at: Option<String>,
    duration_unit: Option<String>,
    duration_value: Option<i64>,
    pauses: String,
    extension: Option<String>,
    source_updated_at: String,
    deleted: i64,
    last_changed_at: String,
    steps: String,
}

type SyncStateRow = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn time(s: &str, what: &str) -> Result<NaiveDateTime, StoreError> {
    parse_db(s).ok_or_else(|| StoreError::Corrupt(format!("{what} '{s}' is not a stored time")))
}

pub(super) fn opt_time(s: Option<&str>, what: &str) -> Result<Option<NaiveDateTime>, StoreError> {
    s.map(|s| time(s, what)).transpose()
}

pub(super) fn opt_fmt(t: Option<NaiveDateTime>) -> Option<String> {
    t.map(fmt_db)
}

impl DossierRow {
    pub(super) fn into_stored(self) -> Result<StoredDossier, StoreError> {
        let corrupt = |what: &str, v: &str| {
            StoreError::Corrupt(format!("dossier {} has {what} '{v}'", self.code))
        };
        let duration = match (self.duration_unit.as_deref(), self.duration_value) {
            (Some("working_days"), Some(v)) => Some(Duration::WorkingDays(v as u32)),
            (Some("working_hours"), Some(v)) => Some(Duration::WorkingHours(v as u32)),
            _ => None,
        };
        let pauses: Vec<Pause> =
            serde_json::from_str(&self.pauses).map_err(|e| corrupt("pauses", &e.to_string()))?;
        let steps: Vec<Step> =
            serde_json::from_str(&self.steps).map_err(|e| corrupt("steps", &e.to_string()))?;
        let extension: Option<Extension> = match &self.extension {
            Some(s) => {
                Some(serde_json::from_str(s).map_err(|e| corrupt("extension", &e.to_string()))?)
            }
            None => None,
        };
        let dossier = Dossier {
            applicant_kind: ApplicantKind::parse(&self.applicant_kind)
                .ok_or_else(|| corrupt("applicant_kind", &self.applicant_kind))?,
            channel: Channel::parse(&self.channel)
                .ok_or_else(|| corrupt("channel", &self.channel))?,
            status: Status::parse(&self.status).ok_or_else(|| corrupt("status", &self.status))?,
            submitted_at: opt_time(self.submitted_at.as_deref(), "submitted_at")?,
            received_at: time(&self.received_at, "received_at")?,
            due_at: opt_time(self.due_at.as_deref(), "due_at")?,
            finished_at: opt_time(self.finished_at.as_deref(), "finished_at")?,
            returned_at: opt_time(self.returned_at.as_deref(), "returned_at")?,
            updated_at: time(&self.source_updated_at, "source_updated_at")?,
            duration,
            steps,
            pauses,
            extension,
            code: self.code,
            procedure_code: self.procedure_code,
            procedure_name: self.procedure_name,
            field_code: self.field_code,
            field_name: self.field_name,
            unit_code: self.unit_code,
            unit_name: self.unit_name,
            officer: self.officer,
            applicant_name: self.applicant_name,
            applicant_id_no: self.applicant_id_no,
            applicant_phone: self.applicant_phone,
            applicant_email: self.applicant_email,
            summary: self.summary,
        };
        Ok(StoredDossier {
            id: self.id,
            source: self.source,
            original_due_at: opt_time(self.original_due_at.as_deref(), "original_due_at")?,
            deleted: self.deleted != 0,
            last_changed_at: time(&self.last_changed_at, "last_changed_at")?,
            dossier,
        })
    }
}

/// A dossier from a source with its content hash, computed where the record
/// is parsed (off the thread that writes to the database).
#[derive(Clone, Debug)]
pub struct Incoming {
    pub dossier: Dossier,
    pub hash: String,
    cols: Columns,
}

impl Incoming {
    pub fn new(dossier: Dossier) -> Incoming {
        let cols = Columns::new(&dossier);
        let mut i = Incoming {
            dossier,
            hash: String::new(),
            cols,
        };
        i.hash = i.content_hash();
        i
    }

    /// Content hash: equal hashes mean nothing to write. Taken over the code
    /// and the stored column values (every field of the dossier, in the form
    /// it is stored), so the dossier is not serialised a second time. Each
    /// value is tagged and length-prefixed: no two dossiers feed the same
    /// bytes. (Hashes of an older form differ once; a dossier whose content
    /// did not change then only gets its hash rewritten, see `is_rehash`.)
    fn content_hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.dossier.code.as_bytes());
        for (k, v) in self.values().into_iter().enumerate() {
            match v {
                _ if k == CONTENT_HASH => {}
                Val::Text(None) | Val::Int(None) => h.update([0]),
                Val::Text(Some(t)) => {
                    h.update([1]);
                    h.update((t.len() as u64).to_le_bytes());
                    h.update(t.as_bytes());
                }
                Val::Int(Some(n)) => {
                    h.update([2]);
                    h.update(n.to_le_bytes());
                }
            }
        }
        hex::encode(h.finalize())
    }
}

/// The stored columns that take work to make (times formatted, JSON encoded),
/// made with the content hash, off the thread that writes.
#[derive(Clone, Debug)]
struct Columns {
    submitted: Option<String>,
    received: String,
    due: Option<String>,
    finished: Option<String>,
    returned: Option<String>,
    duration: (Option<&'static str>, Option<i64>),
    pauses: String,
    extension: Option<String>,
    updated: String,
    steps: String,
    /// When the current (unfinished) step started.
    step_since: Option<String>,
    /// The first officer at the dossier's own unit, for the KPIs by officer.
    handling_officer: Option<String>,
}

impl Columns {
    fn new(d: &Dossier) -> Columns {
        let encode =
            |v: serde_json::Result<String>, empty: &str| v.unwrap_or_else(|_| empty.into());
        Columns {
            submitted: opt_fmt(d.submitted_at),
            received: fmt_db(d.received_at),
            due: opt_fmt(d.due_at),
            finished: opt_fmt(d.finished_at),
            returned: opt_fmt(d.returned_at),
            duration: duration_cols(d.duration),
            pauses: encode(serde_json::to_string(&d.pauses), "[]"),
            extension: d
                .extension
                .as_ref()
                .and_then(|e| serde_json::to_string(e).ok()),
            updated: fmt_db(d.updated_at),
            steps: steps::encode(&d.steps),
            step_since: opt_fmt(
                d.steps
                    .iter()
                    .filter(|s| s.finished_at.is_none())
                    .map(|s| s.started_at)
                    .max(),
            ),
            handling_officer: d
                .steps
                .iter()
                .find(|s| s.unit == d.unit_name)
                .and_then(|s| s.officer.clone()),
        }
    }
}

/// Fields that differ between two versions, as `{field: [old, new]}` (values
/// as the dossier serialises them). Compared field by field: only what
/// changed is converted to JSON.
fn diff(old: &Dossier, new: &Dossier) -> Value {
    let mut out = Map::new();
    macro_rules! fields {
        ($($f:ident),* $(,)?) => {
            // Every field is listed: a field added to `Dossier` and not here
            // does not compile.
            let Dossier { $($f: _),* } = new;
            $(
                if old.$f != new.$f {
                    out.insert(stringify!($f).to_owned(), serde_json::json!([old.$f, new.$f]));
                }
            )*
        };
    }
    fields!(
        code,
        procedure_code,
        procedure_name,
        field_code,
        field_name,
        unit_code,
        unit_name,
        officer,
        applicant_name,
        applicant_kind,
        applicant_id_no,
        applicant_phone,
        applicant_email,
        summary,
        channel,
        status,
        submitted_at,
        received_at,
        due_at,
        finished_at,
        returned_at,
        duration,
        steps,
        pauses,
        extension,
        updated_at,
    );
    Value::Object(out)
}

/// PostgreSQL advisory lock a sync transaction holds shared: its new
/// dossiers' ids, taken from a sequence, can commit after higher ids of
/// another transaction. A check takes it exclusively to read the highest
/// id, so that every id below it is committed ("tthc" + 1).
pub(crate) const NEW_IDS_LOCK: i64 = 0x7474_6863_0001;

/// The columns of a `DossierRow`, from `dossiers d`.
macro_rules! dossier_cols {
    () => {
        "d.id, d.source, d.code, d.procedure_code, d.procedure_name, d.field_code, d.field_name, \
         d.unit_code, d.unit_name, d.officer, d.applicant_name, d.applicant_kind, d.applicant_id_no, \
         d.applicant_phone, d.applicant_email, d.summary, d.channel, d.status, d.submitted_at, d.received_at, \
         d.due_at, d.original_due_at, d.finished_at, d.returned_at, d.duration_unit, d.duration_value, \
         d.pauses, d.extension, d.source_updated_at, d.deleted, d.last_changed_at, d.steps"
    };
}

const SELECT_DOSSIER: &str = concat!("SELECT ", dossier_cols!(), " FROM dossiers d");

fn duration_cols(d: Option<Duration>) -> (Option<&'static str>, Option<i64>) {
    match d {
        Some(Duration::WorkingDays(v)) => (Some("working_days"), Some(i64::from(v))),
        Some(Duration::WorkingHours(v)) => (Some("working_hours"), Some(i64::from(v))),
        None => (None, None),
    }
}

/// Reads the stored (id, content hash) of a page's codes. PostgreSQL joins an
/// array: with fresh statistics on a growing table an IN list made it scan the
/// table once per listed code.
pub(super) trait StoredHashes {
    async fn stored_hashes(
        &mut self,
        source: &str,
        codes: &[&str],
    ) -> Result<HashMap<String, (i64, String)>, StoreError>;
}

impl StoredHashes for sqlx::PgConnection {
    async fn stored_hashes(
        &mut self,
        source: &str,
        codes: &[&str],
    ) -> Result<HashMap<String, (i64, String)>, StoreError> {
        let codes: Vec<String> = codes.iter().map(|c| (*c).to_owned()).collect();
        let rows: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT d.id, d.code, d.content_hash FROM unnest($2::text[]) AS c(code) JOIN dossiers d ON d.source = $1 AND d.code = c.code",
        )
        .bind(source)
        .bind(codes)
        .fetch_all(&mut *self)
        .await
        .ctx("reading stored dossiers")?;
        Ok(rows
            .into_iter()
            .map(|(id, code, hash)| (code, (id, hash)))
            .collect())
    }
}

/// `$first, $first+1, …` for an IN list.
pub(super) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `?1, ?2, …, ?n`: SQLite's positional parameters, for statements bound by
/// index through rusqlite.
pub(super) fn sqlite_placeholders(n: usize) -> String {
    (1..=n)
        .map(|k| format!("?{k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

// The columns that come from the source, in `DossierJson` order.
const DOSSIER_COLUMNS: [&str; 30] = [
    "procedure_code",
    "procedure_name",
    "field_code",
    "field_name",
    "unit_code",
    "unit_name",
    "officer",
    "applicant_name",
    "applicant_kind",
    "applicant_id_no",
    "applicant_phone",
    "applicant_email",
    "summary",
    "channel",
    "status",
    "submitted_at",
    "received_at",
    "due_at",
    "finished_at",
    "returned_at",
    "duration_unit",
    "duration_value",
    "current_step",
    "pauses",
    "extension",
    "source_updated_at",
    "content_hash",
    "steps",
    "step_since",
    "handling_officer",
];

/// One stored column's value.
#[derive(Clone, Copy, Debug, serde::Serialize)]
#[serde(untagged)]
pub(super) enum Val<'a> {
    Text(Option<&'a str>),
    Int(Option<i64>),
}

impl Incoming {
    /// The values of `DOSSIER_COLUMNS`, in order: what every backend writes.
    pub(super) fn values(&self) -> [Val<'_>; DOSSIER_COLUMNS.len()] {
        fn t(v: &str) -> Val<'_> {
            Val::Text(Some(v))
        }
        fn o(v: &Option<String>) -> Val<'_> {
            Val::Text(v.as_deref())
        }
        let (d, c) = (&self.dossier, &self.cols);
        [
            o(&d.procedure_code),
            t(&d.procedure_name),
            t(&d.field_code),
            t(&d.field_name),
            t(&d.unit_code),
            t(&d.unit_name),
            o(&d.officer),
            t(&d.applicant_name),
            t(d.applicant_kind.as_str()),
            o(&d.applicant_id_no),
            o(&d.applicant_phone),
            o(&d.applicant_email),
            o(&d.summary),
            t(d.channel.as_str()),
            t(d.status.as_str()),
            o(&c.submitted),
            t(&c.received),
            o(&c.due),
            o(&c.finished),
            o(&c.returned),
            Val::Text(c.duration.0),
            Val::Int(c.duration.1),
            Val::Text(d.current_step().map(|s| s.name.as_str())),
            t(&c.pauses),
            o(&c.extension),
            t(&c.updated),
            t(&self.hash),
            t(&c.steps),
            o(&c.step_since),
            o(&c.handling_officer),
        ]
    }
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

/// Positions of `due_at` and `content_hash` in `DOSSIER_COLUMNS`.
const DUE_AT: usize = 17;
const CONTENT_HASH: usize = 26;

/// `UPDATE dossiers` from `DossierJson` rows keyed by id; $2 is now. The first
/// due date ever seen stays.
fn dossier_update_sql() -> String {
    let keep_due = format!("COALESCE(original_due_at, {{row{DUE_AT}}})");
    let mut cols = dossier_cols_json();
    cols.extend([
        Col::Const("last_changed_at", "$2"),
        Col::Const("deleted", "0"),
        Col::Const("original_due_at", &keep_due),
    ]);
    batch::update_sql("dossiers", &cols, "id")
}

fn dossier_cols_json() -> Vec<Col<'static>> {
    DOSSIER_COLUMNS
        .iter()
        .map(|c| {
            if *c == "duration_value" {
                Col::Int(c)
            } else {
                Col::Text(c)
            }
        })
        .collect()
}

/// A sync page's dossiers, deduplicated, in code order.
pub(super) struct Page<'a> {
    source: &'a str,
    latest: &'a HashMap<&'a str, &'a Incoming>,
    codes: &'a [&'a str],
    /// When the page is stored, as stored.
    now: &'a str,
}

/// Writes a page's new and changed dossiers with their steps, history and
/// due-date history, each backend its own fastest way; returns (code,
/// content hash) of each dossier written, for the audit trail.
pub(super) trait WriteDossiers {
    async fn write_dossiers(
        &mut self,
        page: &Page<'_>,
        out: &mut PageOutcome,
    ) -> Result<Vec<(String, String)>, StoreError>;
}

impl WriteDossiers for sqlx::SqliteConnection {
    async fn write_dossiers(
        &mut self,
        page: &Page<'_>,
        out: &mut PageOutcome,
    ) -> Result<Vec<(String, String)>, StoreError> {
        super::with_rusqlite(self, |c| sqlite::write_dossiers(c, page, out)).await
    }
}

impl WriteDossiers for sqlx::PgConnection {
    /// New rows go in by `COPY`; changed dossiers in one `UPDATE` fed one
    /// JSON parameter (`batch`). A page that looks all new (an initial sync)
    /// is first written as such, without looking up each of its dossiers
    /// (2.7 s of a 22.6 s initial sync of 1M, by sqlx's log): inside a
    /// savepoint, so that one stored after all (a record the source
    /// repeated) fails the `COPY`'s unique check, and the page is then
    /// written the usual way.
    async fn write_dossiers(
        &mut self,
        page: &Page<'_>,
        out: &mut PageOutcome,
    ) -> Result<Vec<(String, String)>, StoreError> {
        if looks_new(self, page).await? {
            let what = "writing a page of new dossiers";
            sqlx::query("SAVEPOINT page_new")
                .execute(&mut *self)
                .await
                .ctx(what)?;
            let mut attempt = PageOutcome::default();
            match write_pg(self, page, &HashMap::new(), &mut attempt).await {
                Ok(written) => {
                    sqlx::query("RELEASE SAVEPOINT page_new")
                        .execute(&mut *self)
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
                        .execute(&mut *self)
                        .await
                        .ctx(what)?;
                }
                Err(e) => return Err(e),
            }
        }
        let existing = self.stored_hashes(page.source, page.codes).await?;
        write_pg(self, page, &existing, out).await
    }
}

/// Whether a page's dossiers look new: none of a few of its codes (first,
/// middle, last) is stored. One lookup of three where the page's would take
/// a thousand; a page of changes rarely has all three new.
async fn looks_new(c: &mut sqlx::PgConnection, page: &Page<'_>) -> Result<bool, StoreError> {
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
    conn: &mut sqlx::PgConnection,
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
        let mut copy = CopyStream::start(conn, &target, "inserting dossiers").await?;
        for (id, i) in ids.into_iter().zip(&new) {
            let rows = copy.rows();
            rows.int(Some(id));
            for v in i.values() {
                rows.val(v);
            }
            // code, source, first seen, last changed, the first due date
            // seen (the one stated now), not deleted.
            rows.text(Some(&i.dossier.code))
                .text(Some(page.source))
                .text(Some(page.now))
                .text(Some(page.now))
                .text(i.cols.due.as_deref())
                .int(Some(0))
                .end_row();
            copy.send_if_full().await?;
            // The first sighting is implied by the row (see `FIRST_SEEN`).
            if i.cols.due.is_none() {
                dues.int(Some(id))
                    .text(None)
                    .text(Some(page.now))
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
            .text(Some(page.now))
            .text(Some(kind))
            .text(Some(&changes))
            .text(Some(&i.cols.updated))
            .end_row();
        if let Some(reason) = due_reason {
            dues.int(Some(*id))
                .text(i.cols.due.as_deref())
                .text(Some(page.now))
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
            .bind(page.now)
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

/// Whether a dossier whose hash differs has in fact not changed (its stored
/// hash is of an older form): only the hash is rewritten, nothing recorded.
fn is_rehash(old: &StoredDossier, d: &Dossier) -> bool {
    !old.deleted && old.dossier == *d
}

/// What a change of a stored dossier records: the history kind, the fields
/// that changed (`{field: [old, new]}`), and why the due date moved, if it did.
fn change_entry(old: &StoredDossier, d: &Dossier) -> (&'static str, String, Option<&'static str>) {
    let kind = if old.deleted { "restored" } else { "changed" };
    let due_reason = (old.dossier.due_at != d.due_at).then(|| {
        if d.extension.is_some() && old.dossier.extension.is_none() {
            "extension"
        } else if d.pauses.len() != old.dossier.pauses.len()
            || d.pauses.last() != old.dossier.pauses.last()
        {
            "pause"
        } else {
            "changed in source"
        }
    });
    (kind, diff(&old.dossier, d).to_string(), due_reason)
}

/// What a sync writes with, from one transaction (`SyncTx`) to the next.
///
/// SQLite: a connection of the sync's own, kept for the whole poll and closed
/// with it, with a page cache that holds a batch's dirty pages and the code
/// index. Pooled connections took turns: each turn found its cache stale
/// (another connection had written since) and read the code index back page
/// by page, and a 2 MB cache between pages spilled dirty pages mid-batch
/// (SQLite then read the batch's frames back to checksum them at commit):
/// 2.8 GB more read in a 1M initial sync (4.4 GB instead of 1.6).
pub enum SyncWriter {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgPool),
}

/// A sync's write transaction, which may span several pages: committing
/// after every page rewrote the same index pages (WAL frames, checkpoints) once
/// per page; at 1M dossiers that was a third of a sync's time. Dropped
/// without `commit`, it rolls back (SQLite: its connection closes).
pub enum SyncTx {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>, sqlx::PgPool),
}

/// The page cache of a sync's SQLite connection, in KiB: a batch's dirty
/// pages (~20 MB at the sync's 10,000 records a batch) and the part of the
/// code index a batch touches; freed when the poll ends. In a 1M initial
/// sync, 16 and 24 MB still read back 3.6 and 3.2 GB; from 32 MB, 0.3 GB.
const SYNC_CACHE_KIB: i64 = 40_000;

/// Runs `$body` with `$tx` bound to the connection of a `SyncTx`, whichever
/// backend it is.
macro_rules! with_tx {
    ($sync:expr, $tx:ident => $body:expr) => {
        match $sync {
            SyncTx::Sqlite(c) => {
                let $tx = c;
                $body
            }
            SyncTx::Postgres(t, _) => {
                let $tx = &mut **t;
                $body
            }
        }
    };
}

impl Store {
    /// What a sync writes with (see `SyncWriter`).
    pub async fn sync_writer(&self) -> Result<SyncWriter, StoreError> {
        Ok(match self {
            Store::Sqlite(p) => {
                let opts = (*p.connect_options())
                    .clone()
                    .pragma("cache_size", format!("-{SYNC_CACHE_KIB}"));
                SyncWriter::Sqlite(
                    opts.connect()
                        .await
                        .ctx("opening the sync's SQLite connection")?,
                )
            }
            Store::Postgres(p) => SyncWriter::Postgres(p.clone()),
        })
    }

    /// Stores one page of a sync in a transaction of its own (see
    /// `SyncTx::apply_page`).
    pub async fn apply_page(
        &self,
        source: &str,
        dossiers: &[Incoming],
        deleted_codes: &[String],
        quarantine: &[QuarantineRecord],
        watermark: Option<&str>,
        now: NaiveDateTime,
    ) -> Result<PageOutcome, StoreError> {
        let (out, writer) = self
            .sync_writer()
            .await?
            .apply_page(source, dossiers, deleted_codes, quarantine, watermark, now)
            .await?;
        writer.close().await;
        Ok(out)
    }
}

impl SyncTx {
    /// Stores one page of a sync: new and changed dossiers (with history and
    /// due-date history), deletions, quarantined records, and the source's new
    /// watermark. Unchanged dossiers write nothing. The watermark is written
    /// with the data, so a crash before the commit re-reads the pages.
    pub async fn apply_page(
        &mut self,
        source: &str,
        dossiers: &[Incoming],
        deleted_codes: &[String],
        quarantine: &[QuarantineRecord],
        watermark: Option<&str>,
        now: NaiveDateTime,
    ) -> Result<PageOutcome, StoreError> {
        let mut out = PageOutcome::default();
        let now_s = fmt_db(now);
        // A page may repeat a record (a source quirk); the last copy wins.
        let mut latest: HashMap<&str, &Incoming> = HashMap::new();
        for i in dossiers {
            if latest.insert(i.dossier.code.as_str(), i).is_some() {
                out.unchanged += 1;
            }
        }
        let mut codes: Vec<&str> = latest.keys().copied().collect();
        codes.sort_unstable();
        let mut removed: Vec<String> = Vec::new();
        with_tx!(self, tx => {
            let page = Page { source, latest: &latest, codes: &codes, now: &now_s };
            let written = tx.write_dossiers(&page, &mut out).await?;
            for code in deleted_codes {
                let row: Option<(i64, i64)> = sqlx::query_as("SELECT id, deleted FROM dossiers WHERE source = $1 AND code = $2")
                    .bind(source)
                    .bind(code.clone())
                    .fetch_optional(&mut *tx)
                    .await
                    .ctx("reading a deleted dossier")?;
                // Never seen, or already marked: nothing to record.
                if let Some((id, 0)) = row {
                    // Its hash goes with it: sent again, even as it was, it
                    // is then a change (restored), not "unchanged".
                    sqlx::query("UPDATE dossiers SET deleted = 1, content_hash = '', last_changed_at = $1 WHERE id = $2")
                        .bind(now_s.clone())
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .ctx("marking a dossier deleted")?;
                    sqlx::query("INSERT INTO dossier_history (dossier_id, observed_at, kind, changes, source_updated_at) VALUES ($1, $2, 'deleted', '{}', $2)")
                        .bind(id)
                        .bind(now_s.clone())
                        .execute(&mut *tx)
                        .await
                        .ctx("recording a deletion")?;
                    out.deleted += 1;
                    removed.push(code.clone());
                }
            }
            for r in quarantine {
                sqlx::query("INSERT INTO quarantine (source, code, reason, raw, received_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(source)
                    .bind(r.code.clone())
                    .bind(r.reason.clone())
                    .bind(r.raw.clone())
                    .bind(now_s.clone())
                    .execute(&mut *tx)
                    .await
                    .ctx("quarantining a record")?;
                out.quarantined += 1;
            }
            if !written.is_empty() || !removed.is_empty() || !quarantine.is_empty() {
                let detail = serde_json::json!({ "written": written, "deleted": removed, "quarantined": quarantine.len() });
                audit_append!(tx, now_s.clone(), "sync_page", source.to_owned(), detail.to_string());
            }
            if let Some(w) = watermark {
                sqlx::query("INSERT INTO sync_state (source, watermark, last_attempt_at) VALUES ($1, $2, $3) \
                             ON CONFLICT (source) DO UPDATE SET watermark = excluded.watermark, last_attempt_at = excluded.last_attempt_at")
                    .bind(source)
                    .bind(w)
                    .bind(now_s.clone())
                    .execute(&mut *tx)
                    .await
                    .ctx("saving the sync watermark")?;
            }
            Ok(out)
        })
    }

    /// Makes the pages written so far durable and visible; the writer can
    /// begin the next transaction.
    pub async fn commit(self) -> Result<SyncWriter, StoreError> {
        let what = "committing sync pages";
        Ok(match self {
            SyncTx::Sqlite(mut c) => {
                <sqlx::Sqlite as sqlx::Database>::TransactionManager::commit(&mut c)
                    .await
                    .ctx(what)?;
                SyncWriter::Sqlite(c)
            }
            SyncTx::Postgres(tx, pool) => {
                tx.commit().await.ctx(what)?;
                SyncWriter::Postgres(pool)
            }
        })
    }
}

impl SyncWriter {
    /// Starts a write transaction for sync pages (`SyncTx::apply_page`).
    pub async fn begin(self) -> Result<SyncTx, StoreError> {
        let what = "starting a sync transaction";
        Ok(match self {
            SyncWriter::Sqlite(mut c) => {
                <sqlx::Sqlite as sqlx::Database>::TransactionManager::begin(
                    &mut c,
                    Some("BEGIN IMMEDIATE".into()),
                )
                .await
                .ctx(what)?;
                SyncTx::Sqlite(c)
            }
            SyncWriter::Postgres(p) => {
                let mut tx = p.begin_write().await.ctx(what)?;
                // Shared with other syncs; a check waits for it (see
                // `max_dossier_id`).
                sqlx::query("SELECT pg_advisory_xact_lock_shared($1)")
                    .bind(NEW_IDS_LOCK)
                    .execute(&mut *tx)
                    .await
                    .ctx(what)?;
                SyncTx::Postgres(tx, p)
            }
        })
    }

    /// Stores one page of a sync in a transaction of its own (see
    /// `SyncTx::apply_page`); the writer is ready for the next.
    pub async fn apply_page(
        self,
        source: &str,
        dossiers: &[Incoming],
        deleted_codes: &[String],
        quarantine: &[QuarantineRecord],
        watermark: Option<&str>,
        now: NaiveDateTime,
    ) -> Result<(PageOutcome, SyncWriter), StoreError> {
        let mut tx = self.begin().await?;
        let out = tx
            .apply_page(source, dossiers, deleted_codes, quarantine, watermark, now)
            .await?;
        Ok((out, tx.commit().await?))
    }

    /// Ends the sync's writing (SQLite: closes its connection, which frees
    /// its cache). Nothing is lost if this fails: every page was committed.
    pub async fn close(self) {
        if let SyncWriter::Sqlite(c) = self
            && let Err(e) = sqlx::Connection::close(c).await
        {
            tracing::warn!(error = %e, "closing the sync's SQLite connection");
        }
    }
}

impl Store {
    pub async fn sync_state(&self, source: &str) -> Result<SyncState, StoreError> {
        let row: Option<SyncStateRow> = with_pool!(self, pool => {
            sqlx::query_as("SELECT watermark, last_success_at, last_attempt_at, last_error FROM sync_state WHERE source = $1")
                .bind(source)
                .fetch_optional(pool)
                .await
                .ctx("reading the sync state")?
        });
        let Some((watermark, ok, attempt, error)) = row else {
            return Ok(SyncState::default());
        };
        Ok(SyncState {
            watermark,
            last_success_at: opt_time(ok.as_deref(), "last_success_at")?,
            last_attempt_at: opt_time(attempt.as_deref(), "last_attempt_at")?,
            last_error: error,
        })
    }

    /// Records how a sync of one source ended (and its run statistics).
    pub async fn finish_sync(&self, run: &SyncRun) -> Result<(), StoreError> {
        let finished = fmt_db(run.finished_at);
        let success = if run.error.is_none() {
            Some(finished.clone())
        } else {
            None
        };
        with_pool!(self, pool => {
            let mut tx = pool.begin().await.ctx("starting a transaction")?;
            sqlx::query("INSERT INTO sync_state (source, last_success_at, last_attempt_at, last_error) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (source) DO UPDATE SET last_success_at = COALESCE(excluded.last_success_at, sync_state.last_success_at), \
                         last_attempt_at = excluded.last_attempt_at, last_error = excluded.last_error")
                .bind(run.source.clone())
                .bind(success)
                .bind(finished.clone())
                .bind(run.error.clone())
                .execute(&mut *tx)
                .await
                .ctx("saving the sync state")?;
            let o = run.outcome;
            sqlx::query("INSERT INTO sync_runs (source, started_at, finished_at, fetched, created, changed, unchanged, deleted, quarantined, error) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                .bind(run.source.clone())
                .bind(fmt_db(run.started_at))
                .bind(finished)
                .bind(run.fetched as i64)
                .bind(o.created as i64)
                .bind(o.changed as i64)
                .bind(o.unchanged as i64)
                .bind(o.deleted as i64)
                .bind(o.quarantined as i64)
                .bind(run.error.clone())
                .execute(&mut *tx)
                .await
                .ctx("recording a sync run")?;
            tx.commit().await.ctx("committing the sync state")?;
            Ok(())
        })
    }

    /// One dossier with its steps.
    pub async fn dossier(
        &self,
        source: &str,
        code: &str,
    ) -> Result<Option<StoredDossier>, StoreError> {
        with_pool!(self, pool => {
            let row: Option<DossierRow> = sqlx::query_as(&format!("{SELECT_DOSSIER} WHERE source = $1 AND code = $2"))
                .bind(source)
                .bind(code)
                .fetch_optional(pool)
                .await
                .ctx("reading a dossier")?;
            let Some(row) = row else { return Ok(None) };
            Ok(Some(row.into_stored()?))
        })
    }

    /// Every stored dossier of a source (with steps), ordered by code. For
    /// comparisons and small exports; large jobs stream instead.
    pub async fn all_dossiers(&self, source: &str) -> Result<Vec<StoredDossier>, StoreError> {
        with_pool!(self, pool => {
            let rows: Vec<DossierRow> = sqlx::query_as(&format!("{SELECT_DOSSIER} WHERE source = $1 ORDER BY code"))
                .bind(source)
                .fetch_all(pool)
                .await
                .ctx("reading dossiers")?;
            rows.into_iter()
                .map(DossierRow::into_stored)
                .collect()
        })
    }

    /// `(value, count)` of live dossiers grouped by one column (status, field_name, unit_name, source).
    pub async fn count_by(&self, column: &str) -> Result<Vec<(String, i64)>, StoreError> {
        let column = match column {
            "status" | "field_name" | "unit_name" | "source" | "channel" => column,
            other => {
                return Err(StoreError::Corrupt(format!(
                    "cannot group dossiers by '{other}'"
                )));
            }
        };
        let sql = format!(
            "SELECT {column}, COUNT(*) FROM dossiers WHERE deleted = 0 GROUP BY {column} ORDER BY COUNT(*) DESC, {column}"
        );
        with_pool!(self, pool => {
            sqlx::query_as::<_, (String, i64)>(&sql).fetch_all(pool).await.ctx("counting dossiers")
        })
    }

    pub async fn quarantined(&self, source: &str) -> Result<Vec<QuarantineRecord>, StoreError> {
        with_pool!(self, pool => {
            let rows: Vec<(Option<String>, String, String)> = sqlx::query_as("SELECT code, reason, raw FROM quarantine WHERE source = $1 ORDER BY id")
                .bind(source)
                .fetch_all(pool)
                .await
                .ctx("reading the quarantine")?;
            Ok(rows.into_iter().map(|(code, reason, raw)| QuarantineRecord { code, reason, raw }).collect())
        })
    }

    /// `(due_at, reason)` of every due date a dossier has had, oldest first.
    pub async fn due_date_history(
        &self,
        dossier_id: i64,
    ) -> Result<Vec<(Option<NaiveDateTime>, String)>, StoreError> {
        let rows: Vec<(Option<String>, String, String)> = with_pool!(self, pool => {
            sqlx::query_as(DUE_DATES_SQL)
                .bind(dossier_id)
                .fetch_all(pool)
                .await
                .ctx("reading a due-date history")?
        });
        rows.into_iter()
            .map(|(d, _, r)| Ok((opt_time(d.as_deref(), "due_at")?, r)))
            .collect()
    }

    /// Number of rows in a table (tests and the demo summary).
    pub async fn count_rows(&self, table: &str) -> Result<i64, StoreError> {
        let table = match table {
            "dossiers" | "dossier_history" | "due_date_history" | "quarantine" | "sync_runs" => {
                table
            }
            other => return Err(StoreError::Corrupt(format!("no table '{other}'"))),
        };
        let sql = format!("SELECT COUNT(*) FROM {table}");
        with_pool!(self, pool => {
            let (n,): (i64,) = sqlx::query_as(&sql).fetch_one(pool).await.ctx("counting rows")?;
            Ok(n)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dossier::{PauseKind, Step};

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    /// The definition: both versions as JSON objects, compared key by key.
    fn diff_by_json(old: &Dossier, new: &Dossier) -> Value {
        let (Value::Object(a), Value::Object(b)) = (
            serde_json::to_value(old).unwrap(),
            serde_json::to_value(new).unwrap(),
        ) else {
            unreachable!()
        };
        let mut out = Map::new();
        for (k, nv) in &b {
            if a[k] != *nv {
                out.insert(k.clone(), Value::Array(vec![a[k].clone(), nv.clone()]));
            }
        }
        Value::Object(out)
    }

    #[test]
    fn column_positions_name_their_columns() {
        assert_eq!(DOSSIER_COLUMNS[DUE_AT], "due_at");
        assert_eq!(DOSSIER_COLUMNS[CONTENT_HASH], "content_hash");
    }

    #[test]
    fn diff_names_exactly_the_changed_fields_with_both_values() {
        let old = Dossier {
            code: "H56-260728-0001".into(),
            procedure_code: Some("1.004227".into()),
            procedure_name: "Đăng ký biến động đất đai".into(),
            field_code: "DD".into(),
            field_name: "Đất đai".into(),
            unit_code: "PKT".into(),
            unit_name: "Phòng Kinh tế".into(),
            officer: Some("Mai Thị Ngọc".into()),
            applicant_name: "Lý Thị Bình".into(),
            applicant_kind: ApplicantKind::Person,
            applicant_id_no: None,
            applicant_phone: Some("0968565711".into()),
            applicant_email: None,
            summary: None,
            channel: Channel::Online,
            status: Status::Processing,
            submitted_at: None,
            received_at: t("2026-07-28 07:00"),
            due_at: Some(t("2026-08-10 17:00")),
            finished_at: None,
            returned_at: None,
            duration: Some(Duration::WorkingDays(10)),
            steps: vec![Step {
                name: "Tiếp nhận hồ sơ".into(),
                unit: "Trung tâm Phục vụ hành chính công".into(),
                officer: None,
                started_at: t("2026-07-28 07:00"),
                finished_at: None,
                due_at: None,
            }],
            pauses: vec![],
            extension: None,
            updated_at: t("2026-07-28 08:00"),
        };
        assert_eq!(diff(&old, &old), serde_json::json!({}));
        let mut new = old.clone();
        new.status = Status::Finished;
        new.officer = None;
        new.due_at = Some(t("2026-08-12 17:00"));
        new.finished_at = Some(t("2026-08-11 10:30"));
        new.steps[0].finished_at = Some(t("2026-07-28 08:00"));
        new.pauses.push(Pause {
            kind: PauseKind::Fee,
            started_at: t("2026-07-29 09:00"),
            ended_at: Some(t("2026-07-30 09:00")),
            due_before: old.due_at,
            due_after: new.due_at,
        });
        new.updated_at = t("2026-08-11 10:30");
        let d = diff(&old, &new);
        assert_eq!(d, diff_by_json(&old, &new));
        assert_eq!(d["status"], serde_json::json!(["processing", "finished"]));
        assert_eq!(
            d["due_at"],
            serde_json::json!(["2026-08-10T17:00:00", "2026-08-12T17:00:00"])
        );
        assert_eq!(d.as_object().unwrap().len(), 7);
    }
}
