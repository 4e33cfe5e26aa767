//! Which dossiers need an apology draft, and writing each version: a `letters`
//! row holding the DOCX and its SHA-256, and a copy for staff in `letters.dir`.
//! A draft is made when a dossier goes late (and, by default, when it is due
//! within one working day with no result, since the apology and extension
//! request should reach the citizen before the due date); a new version when
//! the dossier or its due date changed since the last draft, when it went late
//! after a draft made before its due date (the overdue alert must attach a
//! letter that apologises for the delay, not one that says it will be late),
//! or when the step that caused the delay changed or became known. An issued
//! letter is never replaced.

use super::{DelayStep, LetterData, LetterError, LetterTemplate, files, render_docx};
use crate::calendar::{Calendar, CalendarError, OfficeHours};
use crate::routing::Routing;
use crate::store::{
    LetterRecord, NewLetter, Store, StoreError, StoredDossier, StoredEvaluation, Wording, cause_key,
};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Timelike};
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
    /// Boxed: a calendar error is large and drafting errors travel far.
    #[error("dossier {code}: no new due date: {source}")]
    Calendar {
        code: String,
        source: Box<CalendarError>,
    },
}

pub struct Drafter<'a> {
    pub store: &'a Store,
    pub calendar: &'a Calendar,
    pub routing: &'a Routing,
    pub template: &'a LetterTemplate,
    pub hours: &'a OfficeHours,
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
    ) -> Result<LetterData, DraftError> {
        let d = &s.dossier;
        let due = ev.and_then(|e| e.due_at).or(d.due_at);
        let delay = ev.and_then(|e| e.delay.as_ref()).map(|c| DelayStep {
            step: c.step.clone(),
            unit: c.unit.clone(),
        });
        let new_due = self
            .new_due(now.date(), due.map(|t| t.time()))
            .map_err(|source| DraftError::Calendar {
                code: d.code.clone(),
                source: Box::new(source),
            })?;
        let issuer = self.routing.letter_issuer(&d.field_code, &d.unit_code);
        let mut recipients = vec![
            "Như trên;".to_owned(),
            format!("{};", self.routing.centre.name),
        ];
        if !issuer.is_unit {
            recipients.push(format!("{} (để thực hiện);", d.unit_name));
        }
        recipients.push("Lưu: VT.".to_owned());
        Ok(LetterData {
            governing_body: issuer.governing_body,
            agency: issuer.header,
            agency_name: issuer.name,
            doc_number: None,
            place: self.routing.committee.place.clone(),
            date: now.date(),
            applicant_name: d.applicant_name.clone(),
            applicant_kind: d.applicant_kind,
            applicant_address: d.applicant_address.clone(),
            dossier_code: d.code.clone(),
            procedure_name: d.procedure_name.clone(),
            handling_unit: d.unit_name.clone(),
            received_at: d.received_at,
            due_at: due.unwrap_or(d.received_at),
            reason: None,
            delay,
            new_due_at: Some(new_due),
            signer_title: issuer.signer_title,
            signer_name: Some(issuer.signer_name),
            recipients,
        })
    }

    /// The new due time proposed: `extension_days` working days after the
    /// letter's date, on a working day, at a time the office is open: the
    /// promised time of day when it is within office hours, else the end of
    /// the session it falls nearest (before opening or at lunch: the end of
    /// the morning; after closing: the end of the afternoon). A source's due
    /// time such as 19:46 or 03:42 is never promised to a citizen.
    pub fn new_due(
        &self,
        today: NaiveDate,
        due_time: Option<NaiveTime>,
    ) -> Result<NaiveDateTime, CalendarError> {
        let mut day = self.calendar.add(today, self.extension_days)?;
        if !self.calendar.is_working_day(day)? {
            day = self.calendar.next_working_day(day)?;
        }
        Ok(day.and_time(office_time(self.hours, due_time)))
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
        let data = self.letter_data(s, ev.as_ref(), now)?;
        let wording = if data.is_late() {
            Wording::Late
        } else {
            Wording::BeforeDue
        };
        let cause = data.delay.as_ref().map(|c| cause_key(&c.step, &c.unit));
        if let Some(l) = &latest {
            // As `Store::letter_candidates` decides it.
            let stale = l.due_at != due
                || s.last_changed_at > l.generated_at
                || l.wording.as_deref() != Some(wording.as_str())
                || l.cause != cause;
            if l.status == "issued" || !stale {
                return Ok((l.clone(), false));
            }
        }
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
        let new = NewLetter {
            dossier_id: s.id,
            version,
            due_at: due,
            wording,
            cause: cause.as_deref(),
            path: &path_s,
            content: &bytes,
        };
        self.store.insert_letter(&new, now).await?;
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

/// A time of day within office hours: `t` itself when the office is open
/// then (a session's end included: "17 giờ 00" is a time the office keeps),
/// else the end of the morning (before opening, at lunch) or of the
/// afternoon (after closing); the end of the afternoon when `t` is unknown.
pub fn office_time(hours: &OfficeHours, t: Option<NaiveTime>) -> NaiveTime {
    let Some(t) = t
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
    else {
        return hours.afternoon_end;
    };
    let open = |a: NaiveTime, b: NaiveTime| a <= t && t <= b;
    if open(hours.morning_start, hours.morning_end)
        || open(hours.afternoon_start, hours.afternoon_end)
    {
        t
    } else if t < hours.afternoon_start {
        hours.morning_end
    } else {
        hours.afternoon_end
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
