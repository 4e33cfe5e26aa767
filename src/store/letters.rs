//! Apology letters as records: every draft version with its DOCX bytes, the
//! SHA-256 of those bytes and the path of its copy in `letters.dir`, and the
//! issue date and document number once the centre issues one.

use super::audit::audit_append;
use super::value::DbTime;
use super::{Context, Store, StoreError};
use crate::clock::fmt_db;
use chrono::NaiveDateTime;
use sha2::{Digest, Sha256};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LetterRecord {
    pub id: i64,
    pub dossier_id: i64,
    pub version: i64,
    pub due_at: Option<NaiveDateTime>,
    pub generated_at: NaiveDateTime,
    pub path: String,
    pub sha256: String,
    pub status: String,
    pub issued_at: Option<NaiveDateTime>,
    pub doc_number: Option<String>,
    /// `before_due` or `late` (see [`Wording`]); `None` for versions drafted
    /// before this was recorded.
    pub wording: Option<String>,
    /// The delay cause the version was drafted with ([`cause_key`]).
    pub cause: Option<String>,
}

/// What a letter says about the due date: drafted on or before the due day
/// ("không thể trả kết quả đúng hẹn") or after it (an apology for the delay).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wording {
    BeforeDue,
    Late,
}

impl Wording {
    pub fn as_str(self) -> &'static str {
        match self {
            Wording::BeforeDue => "before_due",
            Wording::Late => "late",
        }
    }
}

/// A delay cause as recorded with a letter: "step / unit". The candidates
/// query builds the same text from the evaluation's columns.
pub fn cause_key(step: &str, unit: &str) -> String {
    format!("{step} / {unit}")
}

/// A draft version to record.
pub struct NewLetter<'a> {
    pub dossier_id: i64,
    pub version: i64,
    pub due_at: Option<NaiveDateTime>,
    pub wording: Wording,
    pub cause: Option<&'a str>,
    /// Its copy, already written.
    pub path: &'a str,
    pub content: &'a [u8],
}

type LetterRow = (
    i64,
    i64,
    i64,
    Option<DbTime>,
    DbTime,
    String,
    String,
    String,
    Option<DbTime>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn record(r: LetterRow) -> LetterRecord {
    LetterRecord {
        id: r.0,
        dossier_id: r.1,
        version: r.2,
        due_at: r.3.map(|t| t.0),
        generated_at: r.4.0,
        path: r.5,
        sha256: r.6,
        status: r.7,
        issued_at: r.8.map(|t| t.0),
        doc_number: r.9,
        wording: r.10,
        cause: r.11,
    }
}

/// A dossier that needs an apology draft (a new one, or a newer version).
#[derive(Clone, Debug)]
pub struct LetterCandidate {
    pub dossier_id: i64,
    pub source: String,
    pub code: String,
    /// Its latest letter is issued, or was drafted for this due date, this
    /// wording (late or not) and this delay cause after the dossier last
    /// changed: nothing to draft.
    pub current: bool,
}

const COLS: &str = "id, dossier_id, version, due_at, generated_at, path, sha256, status, issued_at, doc_number, \
     wording, cause";

/// A document number and symbol as recorded ("125/TB-UBND"): trimmed, 1–50
/// characters as sent (NFC may compose them into fewer, or, for a few
/// characters, more), no control characters (a NUL was accepted); stored NFC.
pub fn doc_number(s: &str) -> Result<String, IssueError> {
    let t = s.trim();
    if t.is_empty() || t.chars().count() > 50 || t.chars().any(char::is_control) {
        return Err(IssueError::BadNumber(s.escape_debug().to_string()));
    }
    Ok(crate::text::nfc(t))
}

#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error(
        "document number '{0}': expected the number and symbol, e.g. 125/TB-UBND (1–50 characters, no control characters)"
    )]
    BadNumber(String),
    #[error("dossier {0} has no apology draft yet; run `tthc-watch letter {0}` or `check` first")]
    NoDraft(String),
    #[error("the apology for dossier {code} was already issued on {issued_at} as {number}")]
    AlreadyIssued {
        code: String,
        issued_at: String,
        number: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Overdue dossiers, and (with `due_before`) the ones due today or soon
    /// whose due date is before it, with their latest letter.
    pub async fn letter_candidates(
        &self,
        due_before: Option<NaiveDateTime>,
    ) -> Result<Vec<LetterCandidate>, StoreError> {
        let extra = if due_before.is_some() {
            " OR (e.class IN ('due_today', 'due_soon') AND e.due_at < $1)"
        } else {
            ""
        };
        // Whether the latest letter is current is decided here, as `Drafter::draft`
        // decides it, so that a check does not load every overdue dossier: the
        // same due date, the wording of the class (an overdue dossier's letter
        // apologises for the delay; the check that made it overdue ran at the
        // letter's `now`), the same cause (`cause_key`), no change since.
        let sql = format!(
            "SELECT d.id, d.source, d.code, \
             CASE WHEN l.id IS NOT NULL AND (l.status = 'issued' OR ( \
               (l.due_at = COALESCE(e.due_at, d.due_at) OR (l.due_at IS NULL AND COALESCE(e.due_at, d.due_at) IS NULL)) \
               AND l.wording = CASE WHEN e.class = 'overdue' THEN 'late' ELSE 'before_due' END \
               AND COALESCE(l.cause, '') = COALESCE(e.delay_step || ' / ' || COALESCE(e.delay_unit, ''), '') \
               AND d.last_changed_at <= l.generated_at)) THEN 1 ELSE 0 END \
             FROM dossiers d JOIN evaluations e ON e.dossier_id = d.id \
             LEFT JOIN letters l ON l.dossier_id = d.id \
               AND l.version = (SELECT MAX(version) FROM letters m WHERE m.dossier_id = d.id) \
             WHERE NOT d.deleted AND (e.class = 'overdue'{extra}) ORDER BY d.id"
        );
        let rows: Vec<(i64, String, String, i32)> = with_pool!(self, pool => {
            let q = sqlx::query_as(&sql);
            let q = match due_before {
                Some(t) => q.bind(DbTime(t)),
                None => q,
            };
            q.fetch_all(pool).await.ctx("reading dossiers that need apologies")?
        });
        Ok(rows
            .into_iter()
            .map(|(dossier_id, source, code, current)| LetterCandidate {
                dossier_id,
                source,
                code,
                current: current != 0,
            })
            .collect())
    }

    pub async fn latest_letter(&self, dossier_id: i64) -> Result<Option<LetterRecord>, StoreError> {
        let sql = format!(
            "SELECT {COLS} FROM letters WHERE dossier_id = $1 ORDER BY version DESC LIMIT 1"
        );
        let row: Option<LetterRow> = with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(dossier_id).fetch_optional(pool).await.ctx("reading a letter")?
        });
        Ok(row.map(record))
    }

    pub async fn letters_of(&self, dossier_id: i64) -> Result<Vec<LetterRecord>, StoreError> {
        let sql = format!("SELECT {COLS} FROM letters WHERE dossier_id = $1 ORDER BY version");
        let rows: Vec<LetterRow> = with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(dossier_id).fetch_all(pool).await.ctx("reading letters")?
        });
        Ok(rows.into_iter().map(record).collect())
    }

    /// Records a new draft version with its bytes and their SHA-256 (computed
    /// here, so that the recorded hash is always that of the stored bytes);
    /// its copy at `path` is already written.
    pub async fn insert_letter(
        &self,
        l: &NewLetter<'_>,
        now: NaiveDateTime,
    ) -> Result<(), StoreError> {
        let NewLetter {
            dossier_id,
            version,
            due_at,
            wording,
            cause,
            path,
            content,
        } = *l;
        let sha256 = &hex::encode(Sha256::digest(content));
        with_pool!(self, pool => {
            let mut tx = pool.begin().await.ctx("starting a letter transaction")?;
            sqlx::query("INSERT INTO letters (dossier_id, version, due_at, generated_at, path, sha256, status, content, wording, cause) \
                         VALUES ($1, $2, $3, $4, $5, $6, 'draft', $7, $8, $9)")
                .bind(dossier_id).bind(version).bind(DbTime::opt(due_at)).bind(DbTime(now)).bind(path).bind(sha256)
                .bind(content).bind(wording.as_str()).bind(cause)
                .execute(&mut *tx).await.ctx("recording a letter")?;
            let detail = serde_json::json!({ "dossier_id": dossier_id, "version": version, "sha256": sha256, "path": path });
            audit_append!(tx, self.seal, now, "letter_drafted", dossier_id.to_string(), detail.to_string());
            tx.commit().await.ctx("committing a letter")?;
            Ok(())
        })
    }

    /// A letter version's DOCX as stored, only if it still has the SHA-256
    /// recorded with it (an error otherwise: bytes that differ are never
    /// handed out). None when there is no such letter, or it was drafted
    /// before versions were kept in the database (its file is all there is).
    pub async fn letter_content(&self, letter_id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        let row: Option<(i64, i64, String, Option<Vec<u8>>)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT dossier_id, version, sha256, content FROM letters WHERE id = $1")
                .bind(letter_id).fetch_optional(pool).await.ctx("reading a letter's content")?
        });
        let Some((dossier_id, version, recorded, Some(bytes))) = row else {
            return Ok(None);
        };
        let found = hex::encode(Sha256::digest(&bytes));
        if !found.eq_ignore_ascii_case(&recorded) {
            return Err(StoreError::Corrupt(format!(
                "letter {letter_id} (dossier {dossier_id}, version {version}): the stored DOCX has SHA-256 {found}, recorded {recorded}; it is not used"
            )));
        }
        Ok(Some(bytes))
    }

    /// The centre issued the latest draft: record its date and document number.
    pub async fn issue_letter(
        &self,
        source: &str,
        code: &str,
        number: &str,
        issued_at: NaiveDateTime,
    ) -> Result<LetterRecord, IssueError> {
        let number = &doc_number(number)?;
        let Some(d) = self.dossier(source, code).await? else {
            return Err(IssueError::NoDraft(code.to_owned()));
        };
        let Some(latest) = self.latest_letter(d.id).await? else {
            return Err(IssueError::NoDraft(code.to_owned()));
        };
        if latest.status == "issued" {
            return Err(IssueError::AlreadyIssued {
                code: code.to_owned(),
                issued_at: latest.issued_at.map(fmt_db).unwrap_or_default(),
                number: latest.doc_number.unwrap_or_default(),
            });
        }
        with_pool!(self, pool => {
            let mut tx = pool.begin().await.ctx("starting a letter transaction")?;
            sqlx::query("UPDATE letters SET status = 'issued', issued_at = $1, doc_number = $2 WHERE id = $3 AND status = 'draft'")
                .bind(DbTime(issued_at)).bind(number).bind(latest.id).execute(&mut *tx).await.ctx("issuing a letter")?;
            let detail = serde_json::json!({ "code": code, "version": latest.version, "number": number, "sha256": latest.sha256 });
            audit_append!(tx, self.seal, issued_at, "letter_issued", d.id.to_string(), detail.to_string());
            tx.commit().await.ctx("committing an issued letter")?;
        });
        Ok(self.latest_letter(d.id).await?.unwrap_or(latest))
    }

    pub async fn count_pending_letters(&self) -> Result<i64, StoreError> {
        with_pool!(self, pool => {
            let (n,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM letters l WHERE l.status = 'draft' AND l.version = \
                 (SELECT MAX(version) FROM letters m WHERE m.dossier_id = l.dossier_id)")
                .fetch_one(pool).await.ctx("counting pending letters")?;
            Ok(n)
        })
    }

    /// Sources holding a dossier code (codes are unique within a source).
    pub async fn sources_of(&self, code: &str) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT source FROM dossiers WHERE code = $1 ORDER BY source")
                .bind(code).fetch_all(pool).await.ctx("finding a dossier")?
        });
        Ok(rows.into_iter().map(|(s,)| s).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dossier::{ApplicantKind, Channel, Dossier, Status};
    use crate::store::Incoming;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[tokio::test]
    async fn a_letters_bytes_are_read_back_only_with_their_recorded_hash() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = Store::connect(&url, 2).await.unwrap();
        let d = Dossier {
            code: "H56-0001".into(),
            procedure_code: None,
            procedure_name: "Cấp giấy phép xây dựng".into(),
            field_code: "XD".into(),
            field_name: "Xây dựng".into(),
            unit_code: "PKT".into(),
            unit_name: "Phòng Kinh tế".into(),
            officer: None,
            applicant_name: "Nguyễn Văn An".into(),
            applicant_kind: ApplicantKind::Person,
            applicant_id_no: None,
            applicant_phone: None,
            applicant_email: None,
            applicant_address: None,
            summary: None,
            channel: Channel::Direct,
            status: Status::Processing,
            submitted_at: None,
            received_at: at("2026-11-13 08:00"),
            due_at: Some(at("2026-11-20 08:00")),
            finished_at: None,
            returned_at: None,
            duration: None,
            steps: vec![],
            pauses: vec![],
            extension: None,
            updated_at: at("2026-11-13 08:00"),
        };
        let now = at("2026-11-23 08:00");
        store
            .apply_page("tinh", &[Incoming::new(d)], &[], &[], None, now)
            .await
            .unwrap();
        let id = store.dossier("tinh", "H56-0001").await.unwrap().unwrap().id;
        store
            .insert_letter(
                &NewLetter {
                    dossier_id: id,
                    version: 1,
                    due_at: None,
                    wording: Wording::Late,
                    cause: None,
                    path: "/gone/v1.docx",
                    content: b"the letter",
                },
                now,
            )
            .await
            .unwrap();
        let letter = store.latest_letter(id).await.unwrap().unwrap();
        assert_eq!(letter.sha256, hex::encode(Sha256::digest(b"the letter")));
        assert_eq!(
            store.letter_content(letter.id).await.unwrap().as_deref(),
            Some(&b"the letter"[..])
        );
        assert_eq!(store.letter_content(letter.id + 1).await.unwrap(), None);

        // Other bytes under the recorded hash: refused, saying so.
        store
            .execute_sql("UPDATE letters SET content = X'6F74686572'")
            .await
            .unwrap();
        let err = store.letter_content(letter.id).await.unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
        assert!(
            err.to_string().contains(&letter.sha256) && err.to_string().contains("not used"),
            "{err}"
        );

        // A version drafted before the database kept them: no bytes, not an error.
        store
            .execute_sql("UPDATE letters SET content = NULL")
            .await
            .unwrap();
        assert_eq!(store.letter_content(letter.id).await.unwrap(), None);
        store.close().await;
    }
}
