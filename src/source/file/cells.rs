//! A spreadsheet cell as the table reader sees it, whatever the file format:
//! text (NFC), a number, or a date that Excel stored as a serial number.
//! Exports mix them freely: the same "Ngày hẹn trả" column holds serials in
//! one file and `dd/MM/yyyy` text in the next.

use crate::text::nfc;
use chrono::{NaiveDate, NaiveDateTime, Timelike};

/// One cell's value.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Empty,
    /// Trimmed, in NFC.
    Text(String),
    Number(f64),
    /// A date-formatted cell: Excel's serial (days since 1899-12-30).
    Date(f64),
}

impl Cell {
    /// A text cell: trimmed and normalised to NFC (legacy exports and
    /// Windows-1258 files carry decomposed tone marks); blank is empty.
    pub fn text(s: &str) -> Cell {
        let t = s.trim();
        if t.is_empty() {
            Cell::Empty
        } else {
            Cell::Text(nfc(t))
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, Cell::Empty)
    }

    /// The cell as text (numbers without a needless `.0`: codes and
    /// receipt numbers are often stored as numbers).
    pub fn as_text(&self) -> Option<String> {
        match self {
            Cell::Empty => None,
            Cell::Text(s) => Some(s.clone()),
            Cell::Number(n) | Cell::Date(n) => Some(number_text(*n)),
        }
    }

    /// The cell as a JSON value for the mapping. In a date column a serial
    /// (a number or a date cell) becomes an ISO date-time text, which the
    /// layout's first date format reads; text stays text for the others
    /// (`dd/MM/yyyy`, `dd/MM/yyyy HH:mm`).
    pub fn to_json(&self, date_column: bool) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Cell::Empty => Value::Null,
            Cell::Text(s) => Value::String(s.clone()),
            Cell::Date(n) | Cell::Number(n) if date_column => match serial_to_datetime(*n) {
                Some(t) => Value::String(t.format("%Y-%m-%dT%H:%M:%S").to_string()),
                None => Value::String(number_text(*n)),
            },
            Cell::Number(n) | Cell::Date(n) => Value::String(number_text(*n)),
        }
    }
}

fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// Excel's serial date (1900 system; days since 1899-12-30, which also
/// absorbs Excel's phantom 29 February 1900 for every date after it) as a
/// date-time rounded to the second. Serials outside 1950–2100 are not dates
/// an export of dossiers holds: None, so the cell is reported, not misread.
pub fn serial_to_datetime(serial: f64) -> Option<NaiveDateTime> {
    // 1950-01-01 and 2100-12-31.
    if !(18_264.0..=73_415.0).contains(&serial) {
        return None;
    }
    let days = serial.floor();
    let seconds = ((serial - days) * 86_400.0).round() as i64;
    let base = NaiveDate::from_ymd_opt(1899, 12, 30)?.and_hms_opt(0, 0, 0)?;
    let t = base + chrono::Duration::days(days as i64) + chrono::Duration::seconds(seconds);
    t.with_nanosecond(0)
}

/// A header title as compared with the layout's synonyms: NFC, lower case,
/// one space between words, without a trailing colon or asterisk. Titles in
/// real exports wrap over lines and differ in case ("NGÀY HẸN TRẢ").
pub fn header_key(s: &str) -> String {
    let n = nfc(s).to_lowercase();
    let words: Vec<&str> = n.split_whitespace().collect();
    words
        .join(" ")
        .trim_end_matches([':', '*', '.'])
        .trim()
        .to_owned()
}

/// The same without any parenthesised part ("Ngày hẹn trả (dd/mm/yyyy)").
pub fn header_key_bare(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut depth = 0u32;
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    header_key(&out)
}

/// A column's letters, as people see them in Excel (0 → A, 26 → AA).
pub fn column_letters(mut col: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + (col % 26) as u8);
        if col < 26 {
            break;
        }
        col = col / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_are_excel_dates() {
        let t = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
        // Checked in LibreOffice: 46023 is 2026-01-01; .5 is noon.
        assert_eq!(serial_to_datetime(46023.0), Some(t("2026-01-01 00:00:00")));
        assert_eq!(
            serial_to_datetime(46023.5 + 1.0 / 24.0 / 2.0),
            Some(t("2026-01-01 12:30:00"))
        );
        // 14:45 stored with float noise.
        assert_eq!(
            serial_to_datetime(46090.614583333336),
            Some(t("2026-03-09 14:45:00"))
        );
        assert_eq!(serial_to_datetime(12.0), None);
        assert_eq!(serial_to_datetime(1e9), None);
    }

    #[test]
    fn headers_compare_loosely() {
        assert_eq!(header_key("  NGÀY HẸN\n TRẢ: "), "ngày hẹn trả");
        assert_eq!(header_key_bare("Ngày hẹn trả (dd/mm/yyyy)"), "ngày hẹn trả");
        // Decomposed tone marks (NFD) compare equal to composed ones.
        assert_eq!(
            header_key("Ma\u{303} ho\u{302}\u{300} so\u{31b}"),
            header_key("Mã hồ sơ")
        );
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(27), "AB");
    }

    #[test]
    fn cells_become_mapping_values() {
        assert_eq!(Cell::Number(12345.0).as_text().as_deref(), Some("12345"));
        assert_eq!(
            Cell::Date(46023.25).to_json(true),
            serde_json::json!("2026-01-01T06:00:00")
        );
        assert_eq!(Cell::text("  "), Cell::Empty);
        assert_eq!(Cell::text(" 12/01/2026 "), Cell::Text("12/01/2026".into()));
    }
}
