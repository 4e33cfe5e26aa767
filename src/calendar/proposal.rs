//! Proposing a new year's days off (`tthc-watch calendar propose`): a draft `[years.YYYY]`
//! section computed from the lunar calendar and the Labour Code's holiday rules, for the
//! operator to check against the Government's announcement. Nothing here decides the official
//! days off; those are data (`config/calendar.toml`).

use std::collections::BTreeSet;
use std::ops::RangeInclusive;

use chrono::{Datelike, NaiveDate, Weekday};

use super::{CalendarError, is_weekend, lunar};

/// Years for which [`propose_year`] computes lunar dates.
const PROPOSAL_LIMITS: RangeInclusive<i32> = 1901..=2199;

fn weekday_vi(w: Weekday) -> &'static str {
    match w {
        Weekday::Mon => "thứ Hai",
        Weekday::Tue => "thứ Ba",
        Weekday::Wed => "thứ Tư",
        Weekday::Thu => "thứ Năm",
        Weekday::Fri => "thứ Sáu",
        Weekday::Sat => "thứ Bảy",
        Weekday::Sun => "Chủ nhật",
    }
}

fn dm(d: NaiveDate) -> String {
    d.format("%d/%m").to_string()
}

fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The first weekday (Monday to Friday) after `d` that is not in `taken`.
fn next_free_weekday(d: NaiveDate, taken: &BTreeSet<NaiveDate>) -> Option<NaiveDate> {
    let mut x = d.succ_opt()?;
    while is_weekend(x) || taken.contains(&x) {
        x = x.succ_opt()?;
    }
    Some(x)
}

/// Widens `[start, end]` to the weekend days just before and after it.
fn with_adjacent_weekends(start: NaiveDate, end: NaiveDate) -> (NaiveDate, NaiveDate) {
    let mut s = start;
    while let Some(p) = s.pred_opt().filter(|p| is_weekend(*p)) {
        s = p;
    }
    let mut e = end;
    while let Some(n) = e.succ_opt().filter(|n| is_weekend(*n)) {
        e = n;
    }
    (s, e)
}

/// Statutory days plus the compensating weekdays for those on a weekend.
fn with_compensation(days: &[NaiveDate]) -> BTreeSet<NaiveDate> {
    let mut all: BTreeSet<NaiveDate> = days.iter().copied().collect();
    for d in days.iter().filter(|d| is_weekend(**d)) {
        if let Some(c) = next_free_weekday(*d, &all) {
            all.insert(c);
        }
    }
    all
}

/// Length in days of the break formed by `days`, their compensation and adjacent weekends.
fn break_length(days: &[NaiveDate]) -> i64 {
    let all = with_compensation(days);
    match (all.first(), all.last()) {
        (Some(&first), Some(&last)) => {
            let (s, e) = with_adjacent_weekends(first, last);
            (e - s).num_days() + 1
        }
        _ => 0,
    }
}

/// One line of a proposed `days_off` list.
struct Proposed {
    from: NaiveDate,
    to: NaiveDate,
    name: String,
    note: Option<String>,
}

impl Proposed {
    fn line(&self) -> String {
        let when = if self.from == self.to {
            format!("date = \"{}\"", self.from)
        } else {
            format!("from = \"{}\", to = \"{}\"", self.from, self.to)
        };
        let note = self
            .note
            .as_deref()
            .map(|n| format!(", note = {}", toml_string(n)))
            .unwrap_or_default();
        format!("  {{ {when}, name = {}{note} }},", toml_string(&self.name))
    }
}

/// A draft `[years.YYYY]` section for `year` (`provisional = true`), computed from the lunar
/// calendar in UTC+7 and the holiday rules of the Labour Code (Điều 112): Tết Dương lịch,
/// Tết Nguyên đán (the last day of the lunar year through mùng 4, with adjacent weekends),
/// Giỗ Tổ Hùng Vương (10/3 lunar), 30/4, 1/5, Quốc khánh (2/9 and one adjacent day) and
/// Ngày Văn hóa Việt Nam (24/11). Holidays on a weekend get a compensating day (nghỉ bù) on
/// the next free weekday. Swapped days and make-up Saturdays are announced by the Government
/// and are not guessed; the header says to check the draft against the announcement.
pub fn propose_year(year: i32) -> Result<String, CalendarError> {
    let fail = |reason: &str| CalendarError::Proposal {
        year,
        reason: reason.to_owned(),
    };
    if !PROPOSAL_LIMITS.contains(&year) {
        return Err(fail(&format!(
            "lunar dates are computed only for {}–{}",
            PROPOSAL_LIMITS.start(),
            PROPOSAL_LIMITS.end()
        )));
    }
    let date = |m: u32, d: u32| NaiveDate::from_ymd_opt(year, m, d).ok_or_else(|| fail("bad date"));
    let tet = lunar::tet(year).ok_or_else(|| fail("cannot compute Mùng 1 Tết"))?;
    let gio_to = lunar::lunar_to_solar(10, 3, year, false)
        .ok_or_else(|| fail("cannot compute 10/3 of the lunar calendar"))?;
    let tet_first = tet.pred_opt().ok_or_else(|| fail("bad date"))?;
    let tet_days: Vec<NaiveDate> = tet_first.iter_days().take(5).collect();
    let tet_last = tet_days.last().copied().unwrap_or(tet);

    // Quốc khánh: 2/9 and the adjacent day that makes the longer break (1/9 on a tie, unless
    // only 3/9 is a weekday).
    let sep2 = date(9, 2)?;
    let (sep1, sep3) = (date(9, 1)?, date(9, 3)?);
    let (len1, len3) = (break_length(&[sep1, sep2]), break_length(&[sep2, sep3]));
    let adjacent = if len3 > len1 || (len3 == len1 && is_weekend(sep1) && !is_weekend(sep3)) {
        sep3
    } else {
        sep1
    };

    // (name, statutory days, compensated when on a weekend)
    let holidays: Vec<(&str, Vec<NaiveDate>, bool)> = vec![
        ("Tết Dương lịch", vec![date(1, 1)?], true),
        ("Tết Nguyên đán", tet_days.clone(), true),
        ("Giỗ Tổ Hùng Vương", vec![gio_to], true),
        ("Ngày Chiến thắng", vec![date(4, 30)?], true),
        ("Ngày Quốc tế Lao động", vec![date(5, 1)?], true),
        (
            "Quốc khánh",
            vec![sep2.min(adjacent), sep2.max(adjacent)],
            true,
        ),
        ("Ngày Văn hóa Việt Nam", vec![date(11, 24)?], false),
    ];

    // Compensating days, assigned in date order to the next weekday that is not already off.
    let mut taken: BTreeSet<NaiveDate> = holidays.iter().flat_map(|h| h.1.clone()).collect();
    let mut weekend_days: Vec<(NaiveDate, usize)> = holidays
        .iter()
        .enumerate()
        .filter(|(_, h)| h.2)
        .flat_map(|(i, h)| h.1.iter().map(move |d| (*d, i)))
        .filter(|(d, _)| is_weekend(*d))
        .collect();
    weekend_days.sort();
    let mut compensation: Vec<Vec<NaiveDate>> = vec![Vec::new(); holidays.len()];
    for (d, i) in weekend_days {
        let c = next_free_weekday(d, &taken).ok_or_else(|| fail("bad date"))?;
        taken.insert(c);
        if let Some(list) = compensation.get_mut(i) {
            list.push(c);
        }
    }

    let mut entries: Vec<Proposed> = Vec::new();
    for ((name, days, _), comps) in holidays.iter().zip(&compensation) {
        if *name == "Tết Nguyên đán" {
            let end = comps
                .iter()
                .copied()
                .max()
                .unwrap_or(tet_last)
                .max(tet_last);
            let (from, to) = with_adjacent_weekends(tet_first, end);
            let mut note = format!(
                "Tết {}; mùng 1 Tết là {} {}; 5 ngày Tết theo luật: {}–{}",
                lunar::can_chi(year),
                weekday_vi(tet.weekday()),
                dm(tet),
                dm(tet_first),
                dm(tet_last)
            );
            if !comps.is_empty() {
                let list: Vec<String> = comps.iter().map(|c| dm(*c)).collect();
                note.push_str(&format!("; nghỉ bù {}", list.join(", ")));
            }
            note.push_str("; Chính phủ thường hoán đổi thêm ngày làm việc để nối kỳ nghỉ, đối chiếu thông báo chính thức");
            entries.push(Proposed {
                from,
                to,
                name: (*name).to_owned(),
                note: Some(note),
            });
            continue;
        }
        for d in days {
            let mut note = Vec::new();
            if *name == "Giỗ Tổ Hùng Vương" {
                note.push("10/3 âm lịch".to_owned());
            }
            if is_weekend(*d) {
                note.push(format!("trùng {}", weekday_vi(d.weekday())));
                if *name == "Ngày Văn hóa Việt Nam" {
                    note.push("kiểm tra xem có nghỉ bù không".to_owned());
                }
            }
            entries.push(Proposed {
                from: *d,
                to: *d,
                name: (*name).to_owned(),
                note: (!note.is_empty()).then(|| note.join(", ")),
            });
        }
        for c in comps {
            entries.push(Proposed {
                from: *c,
                to: *c,
                name: format!("Nghỉ bù {name}"),
                note: None,
            });
        }
    }
    entries.sort_by_key(|e| e.from);

    let mut out = String::new();
    out.push_str(&format!(
        "# DRAFT for {year}, computed by tthc-watch from the lunar calendar (UTC+7): NOT official.\n\
         # Check every date against the Government's announcement of the days off of {year}\n\
         # (Tết, Giỗ Tổ Hùng Vương and Quốc khánh dates are often extended by swapped days, with\n\
         # make-up Saturdays, which this draft cannot know). Holidays falling on a weekend are\n\
         # given a compensating day (nghỉ bù) on the next weekday. When the announcement is out,\n\
         # correct the entries, add make-up days and set provisional = false.\n\
         # Mùng 1 Tết {}: {tet}; Giỗ Tổ Hùng Vương (10/3 âm lịch): {gio_to}.\n",
        lunar::can_chi(year)
    ));
    out.push_str(&format!(
        "[years.{year}]\nprovisional = true\ndays_off = [\n"
    ));
    for e in &entries {
        out.push_str(&e.line());
        out.push('\n');
    }
    out.push_str("]\nmake_up_days = []\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::Calendar;
    use super::super::file::BUILTIN_TEXT;
    use super::super::testing::{cal, d};
    use super::*;

    #[test]
    fn proposal_parses_with_the_shipped_file() {
        let draft = propose_year(2028).unwrap();
        assert!(draft.contains("[years.2028]"));
        assert!(draft.contains("provisional = true"));
        assert!(draft.contains("DRAFT"));
        let combined = format!("{BUILTIN_TEXT}\n{draft}");
        let c = Calendar::from_toml_str(&combined, "combined.toml").unwrap();
        assert_eq!(c.years(), 2019..=2028);
        assert_eq!(c.provisional_years(), vec![2027, 2028]);
        // Tết 2028: mùng 1 = Wednesday 26/1; 5 days 25/1–29/1 (Saturday 29/1 compensated on
        // Monday 31/1), with the weekend 29–30/1.
        assert_eq!(c.day_off_name(d(2028, 1, 26)), Some("Tết Nguyên đán"));
        for x in [d(2028, 1, 25), d(2028, 1, 28), d(2028, 1, 31)] {
            assert!(!c.is_working_day(x).unwrap(), "{x}");
        }
        assert!(c.is_working_day(d(2028, 1, 24)).unwrap());
        assert!(c.is_working_day(d(2028, 2, 1)).unwrap());
        // Giỗ Tổ 2028 is 10/3 lunar.
        let gio_to = lunar::lunar_to_solar(10, 3, 2028, false).unwrap();
        assert_eq!(c.day_off_name(gio_to), Some("Giỗ Tổ Hùng Vương"));
        assert_eq!(
            c.day_off_name(d(2028, 11, 24)),
            Some("Ngày Văn hóa Việt Nam")
        );
    }

    #[test]
    fn proposal_for_2026_matches_the_official_holidays() {
        let draft = propose_year(2026).unwrap();
        let p = Calendar::from_toml_str(&draft, "draft").unwrap();
        // Every official day off of 2026 except the two swapped days is proposed.
        for date in cal().off.keys().filter(|x| x.year() == 2026) {
            if [d(2026, 1, 2), d(2026, 8, 31)].contains(date) {
                continue;
            }
            assert!(!p.is_working_day(*date).unwrap(), "{date}");
        }
        assert_eq!(
            p.day_off_name(d(2026, 4, 27)),
            Some("Nghỉ bù Giỗ Tổ Hùng Vương")
        );
        // Tết exactly 14/2–22/2.
        assert!(p.is_working_day(d(2026, 2, 13)).unwrap());
        assert!(p.is_working_day(d(2026, 2, 23)).unwrap());
        // Quốc khánh: 1/9 and 2/9 (tie broken towards 1/9, as in the official calendar).
        assert_eq!(p.day_off_name(d(2026, 9, 1)), Some("Quốc khánh"));
        assert!(p.is_working_day(d(2026, 9, 3)).unwrap());
    }

    #[test]
    fn proposal_2027_compensates_weekend_holidays() {
        let p = Calendar::from_toml_str(&propose_year(2027).unwrap(), "draft").unwrap();
        // 1/5/2027 is a Saturday: compensated on Monday 3/5.
        assert_eq!(
            p.day_off_name(d(2027, 5, 3)),
            Some("Nghỉ bù Ngày Quốc tế Lao động")
        );
        // 2/9/2027 is a Thursday: 3/9 (Friday) makes the longer break.
        assert_eq!(p.day_off_name(d(2027, 9, 3)), Some("Quốc khánh"));
        assert!(p.is_working_day(d(2027, 9, 1)).unwrap());
        assert_eq!(p.day_off_name(d(2027, 4, 16)), Some("Giỗ Tổ Hùng Vương"));
    }

    #[test]
    fn proposals_are_valid_for_many_years() {
        for year in 2025..=2100 {
            let draft = propose_year(year).unwrap();
            let p = Calendar::from_toml_str(&draft, "draft")
                .unwrap_or_else(|e| panic!("{year}: {e}\n{draft}"));
            let tet = lunar::tet(year).unwrap();
            assert_eq!(p.day_off_name(tet), Some("Tết Nguyên đán"), "{year}");
            // At least the 11 statutory days off (5 of them Tết), counted on weekdays or not.
            assert!(p.off.len() >= 11, "{year}: {draft}");
        }
        assert!(matches!(
            propose_year(1800),
            Err(CalendarError::Proposal { .. })
        ));
    }
}
