//! Text clean-up and Vietnamese date formatting.

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use unicode_normalization::UnicodeNormalization;

/// Unicode NFC (the source system may send NFD: "o" + U+0302 + U+0301).
pub(crate) fn nfc(s: &str) -> String {
    s.nfc().collect()
}

/// A single-line value as it goes into the letter: NFC, runs of white space
/// (including line breaks and tabs) collapsed to one space, control
/// characters dropped, trimmed. `None` if nothing is left, so that the caller
/// shows the visible blank.
pub(crate) fn clean(s: &str) -> Option<String> {
    let joined = xml_safe(&nfc(s))
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    (!joined.is_empty()).then_some(joined)
}

/// Text without the characters XML 1.0 forbids (C0 controls but tab and line
/// breaks, U+FFFE, U+FFFF) or that no letter means (DEL, C1 controls): a
/// source's stray control byte made `document.xml` ill-formed, a DOCX that
/// Word refuses to open.
pub(crate) fn xml_safe(s: &str) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| {
        (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{FFFE}' | '\u{FFFF}')
    };
    if s.chars().any(bad) {
        std::borrow::Cow::Owned(s.chars().filter(|c| !bad(*c)).collect())
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// Upper case as printed in the header and signature ("UBND Phường" → "UBND PHƯỜNG").
pub(crate) fn upper(s: &str) -> String {
    nfc(&s.to_uppercase())
}

/// "25/11/2026".
pub(crate) fn day(d: NaiveDate) -> String {
    format!("{:02}/{:02}/{}", d.day(), d.month(), d.year())
}

/// "08 giờ 00 phút, ngày 25/11/2026".
pub(crate) fn date_time(dt: NaiveDateTime) -> String {
    format!(
        "{:02} giờ {:02} phút, ngày {}",
        dt.hour(),
        dt.minute(),
        day(dt.date())
    )
}

/// "16 giờ 30 phút, ngày 28 tháng 11 năm 2026": the new due time as the
/// form writes it ("Thời gian hẹn trả kết quả lại: … ngày … tháng … năm …").
pub(crate) fn date_time_long(dt: NaiveDateTime) -> String {
    let (d, m, y) = nd30_parts(dt.date());
    format!(
        "{:02} giờ {:02} phút, ngày {d} tháng {m} năm {y}",
        dt.hour(),
        dt.minute()
    )
}

/// Day, month and year as Nghị định 30/2020/NĐ-CP writes them after
/// "ngày … tháng … năm …": a day below 10 and the months 1 and 2 get a
/// leading zero, other months do not ("ngày 05 tháng 3 năm 2026").
pub(crate) fn nd30_parts(d: NaiveDate) -> (String, String, String) {
    let month = if d.month() <= 2 {
        format!("{:02}", d.month())
    } else {
        d.month().to_string()
    };
    (format!("{:02}", d.day()), month, d.year().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nd30_padding() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        assert_eq!(
            nd30_parts(d(2026, 2, 5)),
            ("05".into(), "02".into(), "2026".into())
        );
        assert_eq!(
            nd30_parts(d(2026, 3, 5)),
            ("05".into(), "3".into(), "2026".into())
        );
        assert_eq!(
            nd30_parts(d(2026, 11, 25)),
            ("25".into(), "11".into(), "2026".into())
        );
    }

    #[test]
    fn clean_collapses_and_normalises() {
        assert_eq!(
            clean("  Nguye\u{0302}\u{0303}n \n Thị  "),
            Some("Nguyễn Thị".into())
        );
        assert_eq!(clean(" \t "), None);
        assert_eq!(upper("phường Ninh Hòa"), "PHƯỜNG NINH HÒA");
    }
}
