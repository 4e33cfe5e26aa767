//! Drafts the written apology a late dossier calls for: the "Phiếu xin lỗi và
//! hẹn lại ngày trả kết quả" that centres still issue (Mẫu số 04, carried on
//! under Thông tư 03/2025/TT-VPCP), laid out as Nghị định 30/2020/NĐ-CP
//! prescribes and written as DOCX.
//!
//! The wording lives in `config/letter.toml` ([`LetterTemplate`]); this module
//! supplies the values and draws the page. Every value is NFC-normalised
//! before it goes into the document, and a value that is not known is shown as
//! the template's visible blank ("……"), never guessed. How the applicant is
//! addressed (a person "Ông/Bà", an organisation by its name) and the reason
//! (from the step that held the dossier) are worded by the template too.

pub mod drafts;
pub mod files;
mod layout;
mod template;
mod text;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{NaiveDate, NaiveDateTime};
use minijinja::Value;
use serde::{Deserialize, Serialize};

use crate::dossier::ApplicantKind;

pub use template::LetterTemplate;

/// The step that held the dossier and the unit that held it (from the delay
/// attribution), as the source names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelayStep {
    pub step: String,
    pub unit: String,
}

/// What one letter says. Text may arrive in any Unicode normal form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LetterData {
    /// TÊN CƠ QUAN CHỦ QUẢN, e.g. "UBND PHƯỜNG NINH HÒA" above a department.
    /// `None`: the agency has no governing body above it (a People's
    /// Committee) and the line is left out.
    pub governing_body: Option<String>,
    /// Issuing agency as the header prints it; lines split by `\n`, e.g.
    /// "ỦY BAN NHÂN DÂN\nPHƯỜNG NINH HÒA" (Nghị định 30/2020, Phụ lục I).
    pub agency: String,
    /// The issuing agency as the text names it (instead of "chúng tôi"), e.g.
    /// "Ủy ban nhân dân phường Ninh Hòa"; also the DOCX author.
    pub agency_name: String,
    /// e.g. "125/TB-UBND"; `None` until the clerk numbers the letter, shown
    /// as the template's `header.number_blank` ("……/……").
    pub doc_number: Option<String>,
    /// e.g. "Ninh Hòa".
    pub place: String,
    /// Date of the letter: "Ninh Hòa, ngày 25 tháng 11 năm 2026".
    pub date: NaiveDate,
    pub applicant_name: String,
    /// As the source says; a name with an organisation prefix of the
    /// template is addressed as an organisation even when this says person.
    pub applicant_kind: ApplicantKind,
    pub applicant_address: Option<String>,
    pub dossier_code: String,
    /// The unit the dossier was passed to for handling.
    pub handling_unit: String,
    pub procedure_name: String,
    pub received_at: NaiveDateTime,
    /// The due date promised on the receipt.
    pub due_at: NaiveDateTime,
    /// Why it is late, phrased for a citizen, when someone wrote it; `None`:
    /// the template words it from `delay`.
    pub reason: Option<String>,
    /// The step that caused the delay, when the attribution found one.
    pub delay: Option<DelayStep>,
    /// Proposed new due date.
    pub new_due_at: Option<NaiveDateTime>,
    /// e.g. ["KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH"].
    pub signer_title: Vec<String>,
    /// `None`: a visible blank is left for the name.
    pub signer_name: Option<String>,
    /// "Nơi nhận", e.g. ["Như trên;", "Trung tâm PVHCC;", "Lưu: VT."].
    pub recipients: Vec<String>,
}

/// Why a letter could not be drafted.
#[derive(Debug, thiserror::Error)]
pub enum LetterError {
    #[error("cannot read letter template {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("letter template {origin}{}: invalid TOML: {message}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Toml {
        origin: String,
        line: Option<usize>,
        message: String,
    },
    /// A missing, unknown or ill-typed key, or a placeholder that does not
    /// compile or render. `key` is the dotted path, e.g. `letter.body[4]`.
    #[error("letter template {origin}, key `{key}`: {message}")]
    Template {
        origin: String,
        key: String,
        message: String,
    },
    #[error("cannot write DOCX: {0}")]
    Docx(String),
}

/// The DOCX bytes.
pub fn render_docx(data: &LetterData, template: &LetterTemplate) -> Result<Vec<u8>, LetterError> {
    let letter = Rendered::new(data, template)?;
    layout::docx(&letter, data.date)
}

/// The letter's text paragraphs as rendered (for previews, emails and tests),
/// in reading order: header, title, salutation, body, signature, recipients.
/// A paragraph may hold a line break (`\n`).
pub fn render_text(
    data: &LetterData,
    template: &LetterTemplate,
) -> Result<Vec<String>, LetterError> {
    Ok(Rendered::new(data, template)?.paragraphs())
}

/// Every string of the letter, final (NFC, blanks filled in), before layout.
#[derive(Debug)]
pub(crate) struct Rendered {
    pub governing_body: Option<String>,
    pub agency: String,
    /// The DOCX author (core properties).
    pub author: String,
    pub number: String,
    pub motto: String,
    pub slogan: String,
    pub place_date: String,
    pub title: String,
    pub salutation: String,
    pub address: Option<String>,
    pub body: Vec<String>,
    pub closing: Option<String>,
    pub signer_title: Vec<String>,
    pub signer_name: String,
    pub recipients_label: String,
    pub recipients: Vec<String>,
}

impl Rendered {
    fn new(data: &LetterData, t: &LetterTemplate) -> Result<Self, LetterError> {
        let ctx = context(data, t)?;
        let r = |key: &str| t.render(key, &ctx);
        let non_empty = |s: String| (!s.is_empty()).then_some(s);
        let mut body = Vec::new();
        for key in t.body_keys() {
            body.extend(non_empty(r(&key)?));
        }
        let mut signer_title: Vec<String> = data
            .signer_title
            .iter()
            .filter_map(|s| text::clean(s))
            .map(|s| text::upper(&s))
            .collect();
        if signer_title.is_empty() {
            signer_title.push(t.blank.clone());
        }
        let mut recipients: Vec<String> = data
            .recipients
            .iter()
            .filter_map(|s| text::clean(s))
            .collect();
        if recipients.is_empty() {
            recipients.push(t.blank.clone());
        }
        Ok(Rendered {
            governing_body: data
                .governing_body
                .as_deref()
                .and_then(text::clean)
                .map(|s| text::upper(&s)),
            agency: header_lines(&data.agency).unwrap_or_else(|| t.blank.clone()),
            author: text::clean(&data.agency_name)
                .or_else(|| text::clean(&data.agency))
                .unwrap_or_default(),
            number: r("header.number")?,
            motto: r("header.motto")?,
            slogan: r("header.slogan")?,
            place_date: r("header.place_date")?,
            title: r("letter.title")?,
            salutation: r("letter.salutation")?,
            address: non_empty(r("letter.address")?),
            body,
            closing: non_empty(r("letter.closing")?),
            signer_title,
            signer_name: data
                .signer_name
                .as_deref()
                .and_then(text::clean)
                .unwrap_or_else(|| t.blank.clone()),
            recipients_label: r("signature.recipients_label")?,
            recipients: recipients
                .into_iter()
                .map(|s| text::nfc(&format!("{}{s}", t.recipient_prefix)))
                .collect(),
        })
    }

    fn paragraphs(self) -> Vec<String> {
        let mut out = Vec::new();
        out.extend(self.governing_body);
        out.extend([
            self.agency,
            self.number,
            self.motto,
            self.slogan,
            self.place_date,
            self.title,
            self.salutation,
        ]);
        out.extend(self.address);
        out.extend(self.body);
        out.extend(self.closing);
        out.extend(self.signer_title);
        out.push(self.signer_name);
        out.push(self.recipients_label);
        out.extend(self.recipients);
        out
    }
}

/// The values a template can use. Unknown values are the visible blank; the
/// `has_*` flags, `overdue` and `organisation` let a template choose its
/// wording. The addressee, the reference to the applicant and the reason are
/// rendered here from the template's `[applicant]` and `[reason]` wording.
pub(crate) fn context(
    data: &LetterData,
    t: &LetterTemplate,
) -> Result<BTreeMap<&'static str, Value>, LetterError> {
    let mut m = base_context(data, t);
    add_worded(data, t, &mut m)?;
    Ok(m)
}

/// The values `add_worded` adds (rendered from the template's own wording).
pub(crate) const WORDED_VALUES: [&str; 9] = [
    "organisation",
    "addressee",
    "applicant_ref",
    "has_cause",
    "step",
    "cause_unit",
    "step_phrase",
    "has_reason",
    "reason",
];

/// The values taken from the letter's data as they are.
pub(crate) fn base_context(data: &LetterData, t: &LetterTemplate) -> BTreeMap<&'static str, Value> {
    let blank = || Value::from(t.blank.as_str());
    let opt = |v: Option<String>| v.map_or_else(blank, Value::from);
    let req = |s: &str| opt(text::clean(s));

    let address = data.applicant_address.as_deref().and_then(text::clean);
    let doc_number = data.doc_number.as_deref().and_then(text::clean);
    let signer_name = data.signer_name.as_deref().and_then(text::clean);
    let applicant = text::clean(&data.applicant_name);
    let (day, month, year) = text::nd30_parts(data.date);

    let mut m: BTreeMap<&'static str, Value> = BTreeMap::new();
    m.insert("blank", blank());
    m.insert(
        "governing_body",
        opt(data
            .governing_body
            .as_deref()
            .and_then(text::clean)
            .map(|s| text::upper(&s))),
    );
    m.insert("agency", opt(header_lines(&data.agency)));
    m.insert("agency_name", req(&data.agency_name));
    m.insert("has_doc_number", Value::from(doc_number.is_some()));
    m.insert(
        "doc_number",
        Value::from(doc_number.unwrap_or_else(|| t.number_blank.clone())),
    );
    m.insert("place", req(&data.place));
    m.insert("day", Value::from(day));
    m.insert("month", Value::from(month));
    m.insert("year", Value::from(year));
    m.insert("letter_date", Value::from(text::day(data.date)));
    m.insert("applicant_name", opt(applicant.clone()));
    m.insert("has_applicant_address", Value::from(address.is_some()));
    m.insert("applicant_address", opt(address));
    m.insert("dossier_code", req(&data.dossier_code));
    m.insert("procedure_name", req(&data.procedure_name));
    m.insert("handling_unit", req(&data.handling_unit));
    m.insert(
        "received_date",
        Value::from(text::date_time(data.received_at)),
    );
    m.insert(
        "received_day",
        Value::from(text::day(data.received_at.date())),
    );
    m.insert("due_date", Value::from(text::date_time(data.due_at)));
    m.insert("due_day", Value::from(text::day(data.due_at.date())));
    m.insert("overdue", Value::from(data.is_late()));
    m.insert("has_new_due_date", Value::from(data.new_due_at.is_some()));
    m.insert("new_due_date", opt(data.new_due_at.map(text::date_time)));
    m.insert(
        "new_due_day",
        opt(data.new_due_at.map(|d| text::day(d.date()))),
    );
    m.insert(
        "new_due_long",
        opt(data.new_due_at.map(text::date_time_long)),
    );
    m.insert("has_signer_name", Value::from(signer_name.is_some()));
    m.insert("signer_name", opt(signer_name));
    m
}

/// The applicant's addressee and reference, and the reason, worded by the
/// template from the data (`WORDED_VALUES`).
fn add_worded(
    data: &LetterData,
    t: &LetterTemplate,
    m: &mut BTreeMap<&'static str, Value>,
) -> Result<(), LetterError> {
    let blank = || Value::from(t.blank.as_str());
    let opt = |v: Option<String>| v.map_or_else(blank, Value::from);
    let applicant = text::clean(&data.applicant_name);

    // The applicant: a person is "Ông/Bà", an organisation is named.
    let prefix_ref = applicant
        .as_deref()
        .and_then(|n| t.organisation_reference(n));
    let organisation = data.applicant_kind == ApplicantKind::Organisation || prefix_ref.is_some();
    m.insert("organisation", Value::from(organisation));
    let (addressee, reference) = if organisation {
        let reference = match prefix_ref {
            Some(r) => r.to_owned(),
            None => t.render("applicant.organisation_reference", &*m)?,
        };
        (t.render("applicant.organisation", &*m)?, reference)
    } else {
        (
            t.render("applicant.person", &*m)?,
            t.render("applicant.person_reference", &*m)?,
        )
    };
    m.insert("addressee", Value::from(addressee));
    m.insert("applicant_ref", Value::from(reference));

    // The reason: as written, else from the step that held the dossier,
    // else the general phrase. Never blank.
    let delay = data.delay.as_ref().and_then(|d| {
        let step = text::clean(&d.step)?;
        Some((step, text::clean(&d.unit)))
    });
    m.insert("has_cause", Value::from(delay.is_some()));
    let (step, unit) = delay.clone().unzip();
    m.insert("step", opt(step.clone()));
    m.insert("cause_unit", opt(unit.flatten()));
    let phrase = match step.as_deref() {
        Some(s) => match t.step_phrase(s) {
            Some(p) => p.to_owned(),
            None => t.render("reason.other_step", &*m)?,
        },
        None => t.render("reason.other_step", &*m)?,
    };
    m.insert("step_phrase", Value::from(phrase));
    let reason = match data.reason.as_deref().and_then(clean_reason) {
        Some(r) => r,
        None => {
            let key = if delay.is_some() {
                "reason.known"
            } else {
                "reason.unknown"
            };
            clean_reason(&t.render(key, &*m)?).unwrap_or_else(|| t.blank.clone())
        }
    };
    m.insert("has_reason", Value::from(true));
    m.insert("reason", Value::from(reason));
    Ok(())
}

/// Header lines of an agency: each cleaned and upper case, empty lines
/// dropped; `None` if nothing is left.
fn header_lines(s: &str) -> Option<String> {
    let lines: Vec<String> = s
        .lines()
        .filter_map(text::clean)
        .map(|l| text::upper(&l))
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// The reason goes mid-sentence ("Lý do: {{ reason }}."), so a trailing full
/// stop or semicolon from the source is dropped.
fn clean_reason(s: &str) -> Option<String> {
    let cleaned = text::clean(s)?;
    text::clean(cleaned.trim_end_matches(['.', ';', ',']))
}

impl LetterData {
    /// Whether the letter is written after the promised due day: it then
    /// apologises for a delay; before (or on) it, it says the result cannot
    /// be returned on time. The same day rule as the overdue class.
    pub fn is_late(&self) -> bool {
        self.date > self.due_at.date()
    }

    /// A complete letter, used to check templates when they are loaded.
    pub(crate) fn sample() -> LetterData {
        let at = |d: u32, h: u32| {
            NaiveDate::from_ymd_opt(2026, 11, d)
                .and_then(|d| d.and_hms_opt(h, 0, 0))
                .unwrap_or_default()
        };
        LetterData {
            governing_body: Some("UBND PHƯỜNG NINH HÒA".into()),
            agency: "PHÒNG KINH TẾ, HẠ TẦNG VÀ ĐÔ THỊ".into(),
            agency_name: "Phòng Kinh tế, Hạ tầng và Đô thị".into(),
            doc_number: Some("125/PXL".into()),
            place: "Ninh Hòa".into(),
            date: at(25, 0).date(),
            applicant_name: "Nguyễn Thị Hồng".into(),
            applicant_kind: ApplicantKind::Person,
            applicant_address: Some("Ninh Hòa".into()),
            dossier_code: "000.00.12.H56-261105-0001380".into(),
            procedure_name: "Cấp giấy phép xây dựng".into(),
            handling_unit: "Phòng Kinh tế, Hạ tầng và Đô thị".into(),
            received_at: at(5, 8),
            due_at: at(24, 17),
            reason: None,
            delay: Some(DelayStep {
                step: "Thẩm định hồ sơ".into(),
                unit: "Phòng Kinh tế, Hạ tầng và Đô thị".into(),
            }),
            new_due_at: Some(at(28, 16)),
            signer_title: vec!["TRƯỞNG PHÒNG".into()],
            signer_name: Some("Trần Văn A".into()),
            recipients: vec!["Như trên;".into()],
        }
    }

    /// A letter where nothing optional is known.
    pub(crate) fn unknown() -> LetterData {
        LetterData {
            governing_body: None,
            agency: String::new(),
            agency_name: String::new(),
            doc_number: None,
            place: String::new(),
            applicant_name: String::new(),
            applicant_address: None,
            dossier_code: String::new(),
            procedure_name: String::new(),
            handling_unit: String::new(),
            reason: None,
            delay: None,
            new_due_at: None,
            signer_title: Vec::new(),
            signer_name: None,
            recipients: Vec::new(),
            ..LetterData::sample()
        }
    }
}
