//! Reading and validating the yearly calendar data (`config/calendar.toml` or the operator's
//! copy): the TOML shape, the checks that give an operator a message naming the year and the
//! entry at fault, and the calendar shipped inside the binary.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;
use std::path::Path;

use chrono::{Datelike, NaiveDate, Weekday};
use serde::Deserialize;

use super::{Calendar, CalendarError, is_weekend};

/// The shipped calendar file, relative to the crate root; the origin of [`Calendar::builtin`].
pub const BUILTIN_ORIGIN: &str = "config/calendar.toml";
pub(super) const BUILTIN_TEXT: &str = include_str!("../../config/calendar.toml");

/// Years accepted in a calendar file.
const YEAR_LIMITS: RangeInclusive<i32> = 1900..=9999;

// ---------------------------------------------------------------------------------------------
// The file format

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    years: BTreeMap<String, RawYear>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawYear {
    #[serde(default)]
    provisional: bool,
    #[serde(default)]
    days_off: Vec<RawEntry>,
    #[serde(default)]
    make_up_days: Vec<RawEntry>,
}

/// One entry: `date`, or `from` and `to`. Dates are kept as raw TOML values so that a bad one
/// gets an error naming the year and the entry (strings and TOML local dates are accepted).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    date: Option<toml::Value>,
    from: Option<toml::Value>,
    to: Option<toml::Value>,
    name: String,
    /// Free text for the operator (e.g. which day was swapped); not used by the program.
    #[serde(default)]
    #[allow(dead_code)]
    note: Option<String>,
}

/// Context for the validation errors of one entry.
struct EntryContext<'a> {
    origin: &'a str,
    year: i32,
    label: String,
}

impl EntryContext<'_> {
    fn invalid(&self, reason: &str) -> CalendarError {
        CalendarError::InvalidEntry {
            origin: self.origin.to_owned(),
            year: self.year,
            entry: self.label.clone(),
            reason: reason.to_owned(),
        }
    }

    fn parse_date(&self, value: &toml::Value) -> Result<NaiveDate, CalendarError> {
        let parsed = match value {
            toml::Value::String(s) => NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok(),
            toml::Value::Datetime(dt) if dt.time.is_none() && dt.offset.is_none() => dt
                .date
                .and_then(|d| NaiveDate::from_ymd_opt(d.year.into(), d.month.into(), d.day.into())),
            _ => None,
        };
        let date = parsed.ok_or_else(|| CalendarError::InvalidDate {
            origin: self.origin.to_owned(),
            year: self.year,
            entry: self.label.clone(),
            value: value.to_string(),
        })?;
        if date.year() != self.year {
            return Err(CalendarError::DateOutsideYear {
                origin: self.origin.to_owned(),
                year: self.year,
                entry: self.label.clone(),
                date,
            });
        }
        Ok(date)
    }

    /// The days of an entry, validated.
    fn days(&self, entry: &RawEntry) -> Result<Vec<NaiveDate>, CalendarError> {
        if entry.name.trim().is_empty() {
            return Err(self.invalid("'name' must not be empty"));
        }
        match (&entry.date, &entry.from, &entry.to) {
            (Some(date), None, None) => Ok(vec![self.parse_date(date)?]),
            (None, Some(from), Some(to)) => {
                let from = self.parse_date(from)?;
                let to = self.parse_date(to)?;
                if from > to {
                    return Err(CalendarError::ReversedRange {
                        origin: self.origin.to_owned(),
                        year: self.year,
                        entry: self.label.clone(),
                        from,
                        to,
                    });
                }
                Ok(from.iter_days().take_while(|d| *d <= to).collect())
            }
            (Some(_), _, _) => Err(self.invalid("give either 'date' or 'from' and 'to', not both")),
            (None, Some(_), None) | (None, None, Some(_)) => {
                Err(self.invalid("'from' and 'to' must be given together"))
            }
            (None, None, None) => Err(self.invalid("missing 'date' (or 'from' and 'to')")),
        }
    }
}

fn weekday_name(w: Weekday) -> &'static str {
    match w {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

impl Calendar {
    /// Parses and validates calendar TOML; `origin` (the file name) is used in messages.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Calendar, CalendarError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| CalendarError::Toml {
            origin: origin.to_owned(),
            message: e.to_string(),
        })?;
        let mut years: BTreeMap<i32, RawYear> = BTreeMap::new();
        for (key, raw_year) in raw.years {
            let invalid = |reason: String| CalendarError::InvalidYear {
                origin: origin.to_owned(),
                key: key.clone(),
                reason,
            };
            let year: i32 = key
                .trim()
                .parse()
                .ok()
                .filter(|y| YEAR_LIMITS.contains(y))
                .ok_or_else(|| {
                    invalid(format!(
                        "not a year (expected a number from {} to {})",
                        YEAR_LIMITS.start(),
                        YEAR_LIMITS.end()
                    ))
                })?;
            if years.insert(year, raw_year).is_some() {
                return Err(invalid(format!("year {year} is defined twice")));
            }
        }
        let (first_year, last_year) = match (years.keys().next(), years.keys().next_back()) {
            (Some(&first), Some(&last)) => (first, last),
            _ => {
                return Err(CalendarError::NoYears {
                    origin: origin.to_owned(),
                });
            }
        };
        if let Some(missing) = (first_year..=last_year).find(|y| !years.contains_key(y)) {
            let present: Vec<String> = years.keys().map(i32::to_string).collect();
            return Err(CalendarError::NonContiguousYears {
                origin: origin.to_owned(),
                missing,
                present: present.join(", "),
            });
        }

        let mut off = BTreeMap::new();
        let mut make_up = BTreeSet::new();
        let mut provisional = Vec::new();
        for (year, raw_year) in &years {
            let year = *year;
            if raw_year.provisional {
                provisional.push(year);
            }
            // Which entry listed each date, for duplicate errors.
            let mut seen: BTreeMap<NaiveDate, String> = BTreeMap::new();
            let lists = [
                ("days_off", &raw_year.days_off, false),
                ("make_up_days", &raw_year.make_up_days, true),
            ];
            for (list, entries, is_make_up) in lists {
                for (i, entry) in entries.iter().enumerate() {
                    let ctx = EntryContext {
                        origin,
                        year,
                        label: format!("{list} entry #{} (\"{}\")", i + 1, entry.name.trim()),
                    };
                    for date in ctx.days(entry)? {
                        if let Some(first) = seen.get(&date) {
                            return Err(CalendarError::DuplicateDate {
                                origin: origin.to_owned(),
                                year,
                                date,
                                first: first.clone(),
                                second: ctx.label.clone(),
                            });
                        }
                        seen.insert(date, ctx.label.clone());
                        if is_make_up {
                            if !is_weekend(date) {
                                return Err(CalendarError::MakeUpNotWeekend {
                                    origin: origin.to_owned(),
                                    year,
                                    entry: ctx.label.clone(),
                                    date,
                                    weekday: weekday_name(date.weekday()).to_owned(),
                                });
                            }
                            make_up.insert(date);
                        } else {
                            off.insert(date, entry.name.trim().to_owned());
                        }
                    }
                }
            }
        }
        Self::build(origin, first_year, last_year, provisional, off, make_up)
    }
    /// Reads and validates a calendar file; its path is the origin used in messages.
    pub fn load(path: &Path) -> Result<Calendar, CalendarError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| CalendarError::Io {
            path: origin.clone(),
            source,
        })?;
        Self::from_toml_str(&text, &origin)
    }

    /// The calendar shipped with the program (`config/calendar.toml`, embedded at build time).
    /// The calendar `calendar.file` names, or the built-in one.
    pub fn from_settings(s: &crate::config::CalendarSettings) -> Result<Calendar, CalendarError> {
        if s.file.trim().is_empty() {
            Calendar::builtin()
        } else {
            Calendar::load(Path::new(&s.file))
        }
    }

    pub fn builtin() -> Result<Calendar, CalendarError> {
        Self::from_toml_str(BUILTIN_TEXT, BUILTIN_ORIGIN)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{cal, d};
    use super::*;

    fn parse_err(text: &str) -> CalendarError {
        Calendar::from_toml_str(text, "test.toml").unwrap_err()
    }

    // --- the shipped data -----------------------------------------------------------------

    #[test]
    fn builtin_parses_and_covers_2019_to_2027() {
        let c = cal();
        assert_eq!(c.origin(), "config/calendar.toml");
        assert_eq!(c.years(), 2019..=2027);
        assert_eq!(c.first_day(), d(2019, 1, 1));
        assert_eq!(c.last_day(), d(2027, 12, 31));
        assert_eq!(c.provisional_years(), vec![2027]);
    }

    #[test]
    fn shipped_file_is_nfc() {
        // Precomposed Vietnamese letters: no combining marks (U+0300..U+036F) anywhere.
        assert!(
            !BUILTIN_TEXT
                .chars()
                .any(|c| ('\u{300}'..='\u{36f}').contains(&c))
        );
        assert!(BUILTIN_TEXT.contains("Ngày Văn hóa Việt Nam"));
    }
    #[test]
    fn load_reads_files_and_names_them() {
        let dir = std::env::temp_dir().join(format!("tthc-calendar-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("calendar.toml");
        std::fs::write(&path, BUILTIN_TEXT).unwrap();
        let c = Calendar::load(&path).unwrap();
        assert_eq!(c.origin(), path.display().to_string());
        let e = c.is_working_day(d(2030, 1, 1)).unwrap_err();
        assert!(e.to_string().contains(&path.display().to_string()));
        std::fs::write(&path, "[years.2026\n").unwrap();
        let e = Calendar::load(&path).unwrap_err();
        assert!(matches!(e, CalendarError::Toml { .. }));
        assert!(e.to_string().contains("calendar.toml"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
        let e = Calendar::load(&dir.join("missing.toml")).unwrap_err();
        assert!(matches!(e, CalendarError::Io { .. }));
        assert!(e.to_string().contains("missing.toml"));
    }

    // --- validation -----------------------------------------------------------------------

    #[test]
    fn validation_toml_syntax() {
        let e = parse_err("[years.2026\nprovisional = false\n");
        assert!(matches!(e, CalendarError::Toml { .. }), "{e:?}");
        assert!(
            e.to_string()
                .starts_with("test.toml: invalid calendar file"),
            "{e}"
        );
        // Unknown keys (typos) are rejected too.
        let e = parse_err("[years.2026]\nmake_up_day = []\n");
        assert!(matches!(e, CalendarError::Toml { .. }), "{e:?}");
        assert!(e.to_string().contains("make_up_day"), "{e}");
        // A missing name.
        let e = parse_err("[years.2026]\ndays_off = [ { date = \"2026-11-24\" } ]\n");
        assert!(e.to_string().contains("name"), "{e}");
    }

    #[test]
    fn validation_date_outside_its_year() {
        let e = parse_err(
            "[years.2026]\ndays_off = [ { date = \"2026-01-01\", name = \"A\" },\
             { date = \"2027-01-01\", name = \"Tết Dương lịch\" } ]\n",
        );
        assert!(
            matches!(e, CalendarError::DateOutsideYear { year: 2026, .. }),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "test.toml: year 2026, days_off entry #2 (\"Tết Dương lịch\"): date 2027-01-01 is \
             not in 2026; list it under the section of its own year"
        );
        let e = parse_err(
            "[years.2026]\ndays_off = [ { from = \"2026-12-31\", to = \"2027-01-01\", name = \"A\" } ]\n",
        );
        assert!(matches!(e, CalendarError::DateOutsideYear { .. }), "{e:?}");
    }

    #[test]
    fn validation_make_up_not_weekend() {
        let e = parse_err(
            "[years.2026]\nmake_up_days = [ { date = \"2026-01-09\", name = \"Làm bù\" } ]\n",
        );
        assert!(matches!(e, CalendarError::MakeUpNotWeekend { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "test.toml: year 2026, make_up_days entry #1 (\"Làm bù\"): make-up working day \
             2026-01-09 is a Friday; only a Saturday or a Sunday can be a make-up working day"
        );
        // Sundays are accepted.
        let c = Calendar::from_toml_str(
            "[years.2026]\nmake_up_days = [ { date = \"2026-01-11\", name = \"Làm bù\" } ]\n",
            "test.toml",
        )
        .unwrap();
        assert!(c.is_working_day(d(2026, 1, 11)).unwrap());
    }

    #[test]
    fn validation_duplicates() {
        // Twice in days_off (a range overlapping a single date).
        let e = parse_err(
            "[years.2026]\ndays_off = [ { from = \"2026-02-14\", to = \"2026-02-22\", name = \"Tết\" },\
             { date = \"2026-02-16\", name = \"Again\" } ]\n",
        );
        assert!(matches!(e, CalendarError::DuplicateDate { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "test.toml: year 2026: date 2026-02-16 is listed twice: in days_off entry #1 \
             (\"Tết\") and in days_off entry #2 (\"Again\")"
        );
        // Twice in make_up_days.
        let e = parse_err(
            "[years.2026]\nmake_up_days = [ { date = \"2026-01-10\", name = \"A\" },\
             { date = \"2026-01-10\", name = \"B\" } ]\n",
        );
        assert!(matches!(e, CalendarError::DuplicateDate { .. }), "{e:?}");
        // In both.
        let e = parse_err(
            "[years.2026]\ndays_off = [ { date = \"2026-01-10\", name = \"A\" } ]\n\
             make_up_days = [ { date = \"2026-01-10\", name = \"B\" } ]\n",
        );
        assert!(matches!(e, CalendarError::DuplicateDate { .. }), "{e:?}");
        assert!(e.to_string().contains("make_up_days entry #1"), "{e}");
    }

    #[test]
    fn validation_reversed_range() {
        let e = parse_err(
            "[years.2026]\ndays_off = [ { from = \"2026-02-22\", to = \"2026-02-14\", name = \"Tết\" } ]\n",
        );
        assert!(matches!(e, CalendarError::ReversedRange { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "test.toml: year 2026, days_off entry #1 (\"Tết\"): 'from' 2026-02-22 is after 'to' \
             2026-02-14"
        );
    }

    #[test]
    fn validation_years() {
        let e = parse_err("# nothing\n");
        assert!(matches!(e, CalendarError::NoYears { .. }), "{e:?}");
        assert!(e.to_string().contains("test.toml"));
        let e = parse_err("[years]\n");
        assert!(matches!(e, CalendarError::NoYears { .. }), "{e:?}");
        let e = parse_err("[years.2025]\n[years.2027]\n");
        assert!(matches!(
            e,
            CalendarError::NonContiguousYears { missing: 2026, .. }
        ));
        assert_eq!(
            e.to_string(),
            "test.toml: years must be contiguous, but year 2026 is missing (the file has 2025, \
             2027); add a [years.2026] section"
        );
        let e = parse_err("[years.next]\n");
        assert!(matches!(e, CalendarError::InvalidYear { .. }), "{e:?}");
        assert!(e.to_string().contains("[years.next]"));
        let e = parse_err("[years.2026]\n[years.02026]\n");
        assert!(matches!(e, CalendarError::InvalidYear { .. }), "{e:?}");
        // A single year is fine.
        let c = Calendar::from_toml_str("[years.2026]\n", "x.toml").unwrap();
        assert_eq!(c.years(), 2026..=2026);
        let e = c.is_working_day(d(2027, 1, 1)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "date 2027-01-01 is outside the working-day calendar (it covers 2026); add year 2027 \
             to x.toml"
        );
    }

    #[test]
    fn validation_unparseable_dates() {
        for bad in [
            "\"2026-02-30\"",
            "\"24/11/2026\"",
            "\"tomorrow\"",
            "20261124",
            "2026-11-24T08:00:00",
        ] {
            let e = parse_err(&format!(
                "[years.2026]\ndays_off = [ {{ date = {bad}, name = \"Ngày Văn hóa Việt Nam\" }} ]\n"
            ));
            assert!(
                matches!(e, CalendarError::InvalidDate { year: 2026, .. }),
                "{bad}: {e:?}"
            );
            assert!(
                e.to_string().starts_with(
                    "test.toml: year 2026, days_off entry #1 (\"Ngày Văn hóa Việt Nam\"): "
                ),
                "{e}"
            );
        }
        // TOML local dates are accepted as well as strings.
        let c = Calendar::from_toml_str(
            "[years.2026]\ndays_off = [ { date = 2026-11-24, name = \"Ngày Văn hóa Việt Nam\" } ]\n",
            "t",
        )
        .unwrap();
        assert!(!c.is_working_day(d(2026, 11, 24)).unwrap());
    }

    #[test]
    fn validation_entry_shape() {
        for (entry, fragment) in [
            ("{ name = \"A\" }", "missing 'date'"),
            ("{ from = \"2026-01-01\", name = \"A\" }", "together"),
            (
                "{ date = \"2026-01-01\", from = \"2026-01-01\", to = \"2026-01-02\", name = \"A\" }",
                "not both",
            ),
            (
                "{ date = \"2026-01-01\", name = \"  \" }",
                "must not be empty",
            ),
        ] {
            let e = parse_err(&format!("[years.2026]\ndays_off = [ {entry} ]\n"));
            assert!(matches!(e, CalendarError::InvalidEntry { .. }), "{e:?}");
            assert!(e.to_string().contains(fragment), "{e}");
        }
    }
}
