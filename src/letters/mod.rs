//! Drafts the written apology a late dossier calls for: "Mẫu số 04" of
//! Thông tư 03/2025/TT-VPCP ("văn bản xin lỗi và đề nghị gia hạn thời gian
//! giải quyết"; formerly the "Phiếu xin lỗi và hẹn lại ngày trả kết quả"),
//! laid out as Nghị định 30/2020/NĐ-CP prescribes and written as DOCX.
//!
//! The wording lives in `config/templates/letter.toml` ([`LetterTemplate`]);
//! this module supplies the values and draws the page. Every value is NFC-
//! normalised before it goes into the document, and a value that is not known
//! is shown as the template's visible blank ("……"), never guessed.

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

pub use template::LetterTemplate;

/// What one letter says. Text may arrive in any Unicode normal form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LetterData {
    /// TÊN CƠ QUAN CHỦ QUẢN, e.g. "UBND TỈNH KHÁNH HÒA". `None`: the agency
    /// has no governing body above it and the header line is left out.
    pub governing_body: Option<String>,
    /// Issuing agency, e.g. "UBND PHƯỜNG NINH HÒA".
    pub agency: String,
    /// e.g. "125/TB-UBND"; `None` until the clerk numbers the letter, shown
    /// as the template's `header.number_blank` ("……/……").
    pub doc_number: Option<String>,
    /// e.g. "Ninh Hòa".
    pub place: String,
    /// Date of the letter: "Ninh Hòa, ngày 25 tháng 11 năm 2026".
    pub date: NaiveDate,
    pub applicant_name: String,
    pub applicant_address: Option<String>,
    pub dossier_code: String,
    pub procedure_name: String,
    pub received_at: NaiveDateTime,
    /// The due date promised on the receipt.
    pub due_at: NaiveDateTime,
    /// Why it is late, phrased for a citizen (e.g. the step and unit that held it).
    pub reason: Option<String>,
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
        let ctx = context(data, t);
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
            agency: text::clean(&data.agency)
                .map(|s| text::upper(&s))
                .unwrap_or_else(|| t.blank.clone()),
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
/// `has_*` flags and `overdue` let a template choose its wording.
pub(crate) fn context(data: &LetterData, t: &LetterTemplate) -> BTreeMap<&'static str, Value> {
    let blank = || Value::from(t.blank.as_str());
    let opt = |v: Option<String>| v.map_or_else(blank, Value::from);
    let req = |s: &str| opt(text::clean(s));

    let reason = data.reason.as_deref().and_then(clean_reason);
    let address = data.applicant_address.as_deref().and_then(text::clean);
    let doc_number = data.doc_number.as_deref().and_then(text::clean);
    let signer_name = data.signer_name.as_deref().and_then(text::clean);
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
    m.insert(
        "agency",
        opt(text::clean(&data.agency).map(|s| text::upper(&s))),
    );
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
    m.insert("applicant_name", req(&data.applicant_name));
    m.insert("has_applicant_address", Value::from(address.is_some()));
    m.insert("applicant_address", opt(address));
    m.insert("dossier_code", req(&data.dossier_code));
    m.insert("procedure_name", req(&data.procedure_name));
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
    m.insert("overdue", Value::from(data.date > data.due_at.date()));
    m.insert("has_reason", Value::from(reason.is_some()));
    m.insert("reason", opt(reason));
    m.insert("has_new_due_date", Value::from(data.new_due_at.is_some()));
    m.insert("new_due_date", opt(data.new_due_at.map(text::date_time)));
    m.insert(
        "new_due_day",
        opt(data.new_due_at.map(|d| text::day(d.date()))),
    );
    m.insert("has_signer_name", Value::from(signer_name.is_some()));
    m.insert("signer_name", opt(signer_name));
    m
}

/// The reason goes mid-sentence ("Lý do: {{ reason }}."), so a trailing full
/// stop or semicolon from the source is dropped.
fn clean_reason(s: &str) -> Option<String> {
    let cleaned = text::clean(s)?;
    text::clean(cleaned.trim_end_matches(['.', ';', ',']))
}

impl LetterData {
    /// A complete letter, used to check templates when they are loaded.
    pub(crate) fn sample() -> LetterData {
        let at = |d: u32, h: u32| {
            NaiveDate::from_ymd_opt(2026, 11, d)
                .and_then(|d| d.and_hms_opt(h, 0, 0))
                .unwrap_or_default()
        };
        LetterData {
            governing_body: Some("UBND TỈNH KHÁNH HÒA".into()),
            agency: "UBND PHƯỜNG NINH HÒA".into(),
            doc_number: Some("125/TB-UBND".into()),
            place: "Ninh Hòa".into(),
            date: at(25, 0).date(),
            applicant_name: "Nguyễn Thị Hồng".into(),
            applicant_address: Some("Ninh Hòa".into()),
            dossier_code: "000.00.12.H56-261105-0001380".into(),
            procedure_name: "Cấp giấy phép xây dựng".into(),
            received_at: at(5, 8),
            due_at: at(24, 17),
            reason: Some("hồ sơ chậm ở khâu thẩm định".into()),
            new_due_at: Some(at(28, 16)),
            signer_title: vec!["CHỦ TỊCH".into()],
            signer_name: Some("Trần Văn A".into()),
            recipients: vec!["Như trên;".into()],
        }
    }

    /// A letter where nothing optional is known.
    pub(crate) fn unknown() -> LetterData {
        LetterData {
            governing_body: None,
            agency: String::new(),
            doc_number: None,
            place: String::new(),
            applicant_name: String::new(),
            applicant_address: None,
            dossier_code: String::new(),
            procedure_name: String::new(),
            reason: None,
            new_due_at: None,
            signer_title: Vec::new(),
            signer_name: None,
            recipients: Vec::new(),
            ..LetterData::sample()
        }
    }
}
