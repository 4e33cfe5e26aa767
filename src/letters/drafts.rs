//! Which dossiers need an apology draft, and writing each version: a `letters`
//! row holding the DOCX and its SHA-256, and a copy for staff in `letters.dir`.
//! A draft is made when a dossier goes late (and, by default, when it is due
//! within one working day with no result, since the apology and extension
//! request should reach the citizen before the due date); a new version when
//! the dossier or its due date changed since the last draft. An issued letter
//! is never replaced.

use super::{LetterData, LetterError, LetterTemplate, files, render_docx};
use crate::calendar::Calendar;
use crate::routing::Routing;
use crate::store::{LetterRecord, Store, StoreError, StoredDossier, StoredEvaluation};
use chrono::{NaiveDateTime, NaiveTime};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DraftError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("dossier {code}: {source}")]
    Letter { code: String, source: LetterError },
    #[error("dossier {code}: {source}")]
    File {
        code: String,
        source: files::FileError,
    },
    #[error("dossier {0} is not in the database; run `tthc-watch sync` first")]
    UnknownDossier(String),
    #[error("dossier code {code} exists in several sources ({sources}); say which with --source")]
    Ambiguous { code: String, sources: String },
}

pub struct Drafter<'a> {
    pub store: &'a Store,
    pub calendar: &'a Calendar,
    pub routing: &'a Routing,
    pub template: &'a LetterTemplate,
    pub dir: PathBuf,
    /// New due date = the letter's date + this many working days.
    pub extension_days: i64,
    pub before_due: bool,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct DraftSummary {
    pub drafted: u64,
    pub up_to_date: u64,
    pub errors: u64,
}

impl Drafter<'_> {
    /// The letter's contents for a dossier at `now`. Unknown values stay blank.
    pub fn letter_data(
        &self,
        s: &StoredDossier,
        ev: Option<&StoredEvaluation>,
        now: NaiveDateTime,
    ) -> LetterData {
        let d = &s.dossier;
        let due = ev.and_then(|e| e.due_at).or(d.due_at);
        let reason = ev.and_then(|e| e.delay.as_ref()).map(|c| {
            format!(
                "hồ sơ bị chậm ở khâu “{}” tại {} (quá {} ngày làm việc so với thời hạn của khâu)",
                c.step, c.unit, c.working_days_over
            )
        });
        let at = due.map_or(NaiveTime::from_hms_opt(17, 0, 0).unwrap_or_default(), |t| {
            t.time()
        });
        let new_due = self
            .calendar
            .add(now.date(), self.extension_days)
            .ok()
            .map(|day| day.and_time(at));
        let (signer_title, signer_name) = match self.routing.vice_chair(&d.field_code) {
            Some(v) => (
                vec!["KT. CHỦ TỊCH".to_owned(), "PHÓ CHỦ TỊCH".to_owned()],
                Some(v.name.clone()),
            ),
            None => (
                vec!["CHỦ TỊCH".to_owned()],
                Some(self.routing.chair.name.clone()),
            ),
        };
        LetterData {
            governing_body: self.routing.committee.governing_body.clone(),
            agency: self.routing.committee.name.clone(),
            doc_number: None,
            place: self.routing.committee.place.clone(),
            date: now.date(),
            applicant_name: d.applicant_name.clone(),
            applicant_address: None,
            dossier_code: d.code.clone(),
            procedure_name: d.procedure_name.clone(),
            received_at: d.received_at,
            due_at: due.unwrap_or(d.received_at),
            reason,
            new_due_at: new_due,
            signer_title,
            signer_name,
            recipients: vec![
                "Như trên;".to_owned(),
                format!("{};", self.routing.centre.name),
                format!("{} (để thực hiện);", d.unit_name),
                "Lưu: VT.".to_owned(),
            ],
        }
    }

    /// Writes a new draft version for one dossier unless the latest is still
    /// current (or issued). Returns the latest letter and whether it is new.
    pub async fn draft(
        &self,
        s: &StoredDossier,
        now: NaiveDateTime,
    ) -> Result<(LetterRecord, bool), DraftError> {
        let ev = self.store.evaluation(s.id).await?;
        let due = ev.as_ref().and_then(|e| e.due_at).or(s.dossier.due_at);
        let latest = self.store.latest_letter(s.id).await?;
        if let Some(l) = &latest {
            let stale = l.due_at != due || s.last_changed_at > l.generated_at;
            if l.status == "issued" || !stale {
                return Ok((l.clone(), false));
            }
        }
        let data = self.letter_data(s, ev.as_ref(), now);
        let bytes = render_docx(&data, self.template).map_err(|source| DraftError::Letter {
            code: s.dossier.code.clone(),
            source,
        })?;
        let version = latest.as_ref().map_or(1, |l| l.version + 1);
        let path = files::letter_path(&self.dir, &s.source, &s.dossier.code, version);
        files::write_new(&path, &bytes).map_err(|source| DraftError::File {
            code: s.dossier.code.clone(),
            source,
        })?;
        // The database holds the version (what is attached and handed out);
        // the file is a copy for staff.
        let path_s = path.display().to_string();
        self.store
            .insert_letter(s.id, version, due, &path_s, &bytes, now)
            .await?;
        let record = self
            .store
            .latest_letter(s.id)
            .await?
            .ok_or_else(|| StoreError::Corrupt("letter just written is missing".into()))?;
        Ok((record, true))
    }

    /// Drafts for every dossier that needs one.
    pub async fn draft_all(&self, now: NaiveDateTime) -> Result<DraftSummary, DraftError> {
        let mut summary = DraftSummary::default();
        // Due within one working day: before the second working day after today.
        let due_before = self.before_due.then(|| {
            let today = now.date();
            let day = self
                .calendar
                .add(today, 2)
                .unwrap_or(today + chrono::Days::new(2));
            day.and_time(chrono::NaiveTime::MIN)
        });
        for c in self.store.letter_candidates(due_before).await? {
            if c.current {
                summary.up_to_date += 1;
                continue;
            }
            let Some(s) = self.store.dossier(&c.source, &c.code).await? else {
                continue;
            };
            match self.draft(&s, now).await {
                Ok((_, true)) => summary.drafted += 1,
                Ok((_, false)) => summary.up_to_date += 1,
                Err(e) => {
                    summary.errors += 1;
                    tracing::error!(error = %e, "cannot draft an apology letter");
                }
            }
        }
        Ok(summary)
    }

    /// One dossier by code (and source, when codes repeat across sources).
    pub async fn find(
        &self,
        code: &str,
        source: Option<&str>,
    ) -> Result<StoredDossier, DraftError> {
        find_dossier(self.store, code, source).await
    }
}

/// The dossier a person means by its code, naming the sources when the code is
/// ambiguous (codes are unique only within a source).
pub async fn find_dossier(
    store: &Store,
    code: &str,
    source: Option<&str>,
) -> Result<StoredDossier, DraftError> {
    let source = match source {
        Some(s) => s.to_owned(),
        None => {
            let sources = store.sources_of(code).await?;
            match sources.as_slice() {
                [] => return Err(DraftError::UnknownDossier(code.to_owned())),
                [one] => one.clone(),
                many => {
                    return Err(DraftError::Ambiguous {
                        code: code.to_owned(),
                        sources: many.join(", "),
                    });
                }
            }
        }
    };
    store
        .dossier(&source, code)
        .await?
        .ok_or_else(|| DraftError::UnknownDossier(code.to_owned()))
}
