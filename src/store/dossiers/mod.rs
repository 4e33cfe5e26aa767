//! Dossiers as stored: one row per (source, code) as last seen, the quarantine
//! and the reads of them. Writing them is a sync's job (`sync`), with the
//! history of what changed (`history`); the stored columns are made from a
//! dossier once, off the writing thread (`columns`).

use super::value::{DbTime, JsonText};
use super::{Context, Store, StoreError};
use crate::clock::{fmt_db, parse_db};
use crate::dossier::{ApplicantKind, Channel, Dossier, Duration, Extension, Pause, Status, Step};
use chrono::NaiveDateTime;

mod columns;
mod history;
pub(super) mod steps;
mod sync;

pub use columns::Incoming;
pub(super) use columns::{DOSSIER_COLUMNS, DUE_AT};
pub(super) use history::{DUE_DATES_SQL, FIRST_SEEN, HISTORY_SQL, change_entry, is_rehash};
pub(super) use sync::{NEW_IDS_LOCK, Page};
pub use sync::{SyncTx, SyncWriter};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageOutcome {
    pub created: u64,
    pub changed: u64,
    pub unchanged: u64,
    pub deleted: u64,
    /// Bad records of the page, each one however often it was seen before.
    pub quarantined: u64,
    /// Quarantined records released: the page stored (or deleted) a dossier
    /// of their code, so the source fixed them.
    pub released: u64,
}

impl PageOutcome {
    pub fn add(&mut self, o: PageOutcome) {
        self.created += o.created;
        self.changed += o.changed;
        self.unchanged += o.unchanged;
        self.deleted += o.deleted;
        self.quarantined += o.quarantined;
        self.released += o.released;
    }
}

/// A record that could not be stored, kept with the reason and what was sent.
/// The quarantine holds one row per record of a source (see `key`), however
/// often it is received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuarantineRecord {
    pub code: Option<String>,
    pub reason: String,
    pub raw: String,
}

impl QuarantineRecord {
    /// The record's identity in the quarantine: its code when it has one,
    /// else `sha256:` and the hex SHA-256 of what was sent.
    pub fn key(&self) -> String {
        use sha2::{Digest, Sha256};
        match self.code.as_deref() {
            Some(code) if !code.is_empty() => code.to_owned(),
            _ => format!(
                "sha256:{}",
                hex::encode(Sha256::digest(self.raw.as_bytes()))
            ),
        }
    }
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
pub(in crate::store) struct DossierRow {
    pub(in crate::store) id: i64,
    pub(in crate::store) source: String,
    pub(in crate::store) code: String,
    pub(in crate::store) procedure_code: Option<String>,
    pub(in crate::store) procedure_name: String,
    pub(in crate::store) field_code: String,
    pub(in crate::store) field_name: String,
    pub(in crate::store) unit_code: String,
    pub(in crate::store) unit_name: String,
    pub(in crate::store) officer: Option<String>,
    pub(in crate::store) applicant_name: String,
    pub(in crate::store) applicant_kind: String,
    pub(in crate::store) applicant_id_no: Option<String>,
    pub(in crate::store) applicant_phone: Option<String>,
    pub(in crate::store) applicant_email: Option<String>,
    pub(in crate::store) summary: Option<String>,
    pub(in crate::store) channel: String,
    pub(in crate::store) status: String,
    pub(in crate::store) submitted_at: Option<DbTime>,
    pub(in crate::store) received_at: DbTime,
    pub(in crate::store) due_at: Option<DbTime>,
    pub(in crate::store) original_due_at: Option<DbTime>,
    pub(in crate::store) finished_at: Option<DbTime>,
    pub(in crate::store) returned_at: Option<DbTime>,
    pub(in crate::store) duration_unit: Option<String>,
    pub(in crate::store) duration_value: Option<i64>,
    pub(in crate::store) pauses: JsonText,
    pub(in crate::store) extension: Option<JsonText>,
    pub(in crate::store) source_updated_at: DbTime,
    pub(in crate::store) deleted: bool,
    pub(in crate::store) last_changed_at: DbTime,
    pub(in crate::store) steps: JsonText,
    pub(in crate::store) applicant_address: Option<String>,
}

pub(in crate::store) fn time(s: &str, what: &str) -> Result<NaiveDateTime, StoreError> {
    parse_db(s).ok_or_else(|| StoreError::Corrupt(format!("{what} '{s}' is not a stored time")))
}

pub(in crate::store) fn opt_fmt(t: Option<NaiveDateTime>) -> Option<String> {
    t.map(fmt_db)
}

impl DossierRow {
    pub(in crate::store) fn into_stored(self) -> Result<StoredDossier, StoreError> {
        let corrupt = |what: &str, v: &str| {
            StoreError::Corrupt(format!("dossier {} has {what} '{v}'", self.code))
        };
        let duration = match (self.duration_unit.as_deref(), self.duration_value) {
            (Some("working_days"), Some(v)) => Some(Duration::WorkingDays(v as u32)),
            (Some("working_hours"), Some(v)) => Some(Duration::WorkingHours(v as u32)),
            _ => None,
        };
        let pauses: Vec<Pause> =
            serde_json::from_str(&self.pauses.0).map_err(|e| corrupt("pauses", &e.to_string()))?;
        let steps: Vec<Step> =
            serde_json::from_str(&self.steps.0).map_err(|e| corrupt("steps", &e.to_string()))?;
        let extension: Option<Extension> = match &self.extension {
            Some(s) => {
                Some(serde_json::from_str(&s.0).map_err(|e| corrupt("extension", &e.to_string()))?)
            }
            None => None,
        };
        let dossier = Dossier {
            applicant_kind: ApplicantKind::parse(&self.applicant_kind)
                .ok_or_else(|| corrupt("applicant_kind", &self.applicant_kind))?,
            channel: Channel::parse(&self.channel)
                .ok_or_else(|| corrupt("channel", &self.channel))?,
            status: Status::parse(&self.status).ok_or_else(|| corrupt("status", &self.status))?,
            submitted_at: self.submitted_at.map(|t| t.0),
            received_at: self.received_at.0,
            due_at: self.due_at.map(|t| t.0),
            finished_at: self.finished_at.map(|t| t.0),
            returned_at: self.returned_at.map(|t| t.0),
            updated_at: self.source_updated_at.0,
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
            applicant_address: self.applicant_address,
            summary: self.summary,
        };
        Ok(StoredDossier {
            id: self.id,
            source: self.source,
            original_due_at: self.original_due_at.map(|t| t.0),
            deleted: self.deleted,
            last_changed_at: self.last_changed_at.0,
            dossier,
        })
    }
}

/// The columns of a `DossierRow`, from `dossiers d`.
macro_rules! dossier_cols {
    () => {
        "d.id, d.source, d.code, d.procedure_code, d.procedure_name, d.field_code, d.field_name, \
         d.unit_code, d.unit_name, d.officer, d.applicant_name, d.applicant_kind, d.applicant_id_no, \
         d.applicant_phone, d.applicant_email, d.summary, d.channel, d.status, d.submitted_at, d.received_at, \
         d.due_at, d.original_due_at, d.finished_at, d.returned_at, d.duration_unit, d.duration_value, \
         d.pauses, d.extension, d.source_updated_at, d.deleted, d.last_changed_at, d.steps, \
         d.applicant_address"
    };
}

pub(super) const SELECT_DOSSIER: &str = concat!("SELECT ", dossier_cols!(), " FROM dossiers d");

impl Store {
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

    /// The codes of a source's live (not deleted) dossiers: what a full
    /// snapshot of the source (a file declared one) must mention.
    pub async fn live_codes(&self, source: &str) -> Result<Vec<String>, StoreError> {
        with_pool!(self, pool => {
            let rows: Vec<(String,)> = sqlx::query_as("SELECT code FROM dossiers WHERE source = $1 AND NOT deleted ORDER BY code")
                .bind(source)
                .fetch_all(pool)
                .await
                .ctx("reading a source's codes")?;
            Ok(rows.into_iter().map(|(c,)| c).collect())
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
            "SELECT {column}, COUNT(*) FROM dossiers WHERE NOT deleted GROUP BY {column} ORDER BY COUNT(*) DESC, {column}"
        );
        with_pool!(self, pool => {
            sqlx::query_as::<_, (String, i64)>(&sql).fetch_all(pool).await.ctx("counting dossiers")
        })
    }

    /// The records of a source in quarantine now, in the order they were
    /// first quarantined.
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

    /// The records of a source in quarantine now, grouped by the first 80
    /// characters of their reason: (reason, records), most first (ties by
    /// reason, the same order on both backends).
    pub async fn quarantine_summary(&self, source: &str) -> Result<Vec<(String, i64)>, StoreError> {
        let mut rows: Vec<(String, i64)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT substr(reason, 1, 80), COUNT(*) FROM quarantine WHERE source = $1 GROUP BY substr(reason, 1, 80)")
                .bind(source)
                .fetch_all(pool)
                .await
                .ctx("summarising the quarantine")?
        });
        rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ok(rows)
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
