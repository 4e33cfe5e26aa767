//! The working-day calendar of the Vietnamese civil service.
//!
//! Saturdays and Sundays are days off, except Saturdays (or Sundays) declared make-up working
//! days (ngày làm bù). Official days off (holidays, Tết, compensating and swapped days) are off.
//! The data is an operator-editable TOML file (`config/calendar.toml`), validated when loaded.
//!
//! Queries use a prefix-sum array: for each covered day, the number of working days from the
//! first covered day up to and including it. [`Calendar::count`] is a subtraction and
//! [`Calendar::add`] a binary search. An answer that depends on a day outside the covered years
//! is an error ([`CalendarError::OutOfRange`]), never a guess; one that does not (counting from
//! the day before the first covered day, adding 0) is answered.
//!
//! Office hours ([`OfficeHours`]) refine days into working minutes: a working instant has a
//! *position* (working seconds elapsed since the start of the calendar), so adding and measuring
//! working time are O(log n) as well.
//!
//! All dates and times are naive local Vietnam time (Asia/Ho_Chi_Minh); callers convert.
//!
//! The code is split by concept: this file holds the [`Calendar`] type and its day arithmetic,
//! `file` reads and validates the yearly TOML data, `hours` the office-hours arithmetic,
//! `proposal` drafts a new year's days off from the lunar calendar (`lunar`), and `naive` the
//! day-by-day reference implementation the tests and benchmarks compare against.

mod file;
mod hours;
pub mod lunar;
#[doc(hidden)]
pub mod naive;
mod proposal;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::RangeInclusive;

use chrono::{Datelike, Days, NaiveDate, Weekday};

pub use file::BUILTIN_ORIGIN;
pub use hours::OfficeHours;
pub use proposal::propose_year;

/// Everything that can go wrong when loading or querying the calendar.
#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    /// The calendar file could not be read.
    #[error("cannot read the working-day calendar {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not have the expected shape (unknown or missing keys).
    #[error("{origin}: invalid calendar file: {message}")]
    Toml { origin: String, message: String },
    /// The file defines no year at all.
    #[error("{origin}: no years defined; add a [years.YYYY] section for each covered year")]
    NoYears { origin: String },
    /// A `[years.KEY]` section whose key is not a usable year.
    #[error("{origin}: [years.{key}]: {reason}")]
    InvalidYear {
        origin: String,
        key: String,
        reason: String,
    },
    /// The years do not form one contiguous range.
    #[error(
        "{origin}: years must be contiguous, but year {missing} is missing (the file has {present}); add a [years.{missing}] section"
    )]
    NonContiguousYears {
        origin: String,
        missing: i32,
        present: String,
    },
    /// A date that is not a valid `YYYY-MM-DD` date.
    #[error(
        "{origin}: year {year}, {entry}: {value} is not a valid date (expected \"YYYY-MM-DD\")"
    )]
    InvalidDate {
        origin: String,
        year: i32,
        entry: String,
        value: String,
    },
    /// An entry with a missing or contradictory field.
    #[error("{origin}: year {year}, {entry}: {reason}")]
    InvalidEntry {
        origin: String,
        year: i32,
        entry: String,
        reason: String,
    },
    /// A date listed under a year section it does not belong to.
    #[error(
        "{origin}: year {year}, {entry}: date {date} is not in {year}; list it under the section of its own year"
    )]
    DateOutsideYear {
        origin: String,
        year: i32,
        entry: String,
        date: NaiveDate,
    },
    /// A range whose start is after its end.
    #[error("{origin}: year {year}, {entry}: 'from' {from} is after 'to' {to}")]
    ReversedRange {
        origin: String,
        year: i32,
        entry: String,
        from: NaiveDate,
        to: NaiveDate,
    },
    /// A make-up working day that is not a Saturday or Sunday.
    #[error(
        "{origin}: year {year}, {entry}: make-up working day {date} is a {weekday}; only a Saturday or a Sunday can be a make-up working day"
    )]
    MakeUpNotWeekend {
        origin: String,
        year: i32,
        entry: String,
        date: NaiveDate,
        weekday: String,
    },
    /// A date listed twice (in `days_off`, in `make_up_days`, or in both).
    #[error("{origin}: year {year}: date {date} is listed twice: in {first} and in {second}")]
    DuplicateDate {
        origin: String,
        year: i32,
        date: NaiveDate,
        first: String,
        second: String,
    },
    /// A query (or its result) outside the covered years.
    #[error(
        "{subject} is outside the working-day calendar (it covers {covers}); add {missing} to {origin}"
    )]
    OutOfRange {
        /// What was asked, e.g. "date 2029-01-03".
        subject: String,
        /// The date that was asked about (for `add`, the start date).
        date: NaiveDate,
        /// The covered years, e.g. "2025–2027".
        covers: String,
        /// The years to add, e.g. "year 2028" or "years 2028–2029".
        missing: String,
        /// The calendar file to extend.
        origin: String,
    },
    /// Office hours that are not in order or not on whole minutes.
    #[error("invalid office hours: {reason}")]
    InvalidOfficeHours { reason: String },
    /// [`propose_year`] cannot compute the year.
    #[error("cannot propose the days off of {year}: {reason}")]
    Proposal { year: i32, reason: String },
}

fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

fn years_label(from: i32, to: i32) -> String {
    if from == to {
        format!("year {from}")
    } else {
        format!("years {from}–{to}")
    }
}

// ---------------------------------------------------------------------------------------------
// The calendar

/// A validated working-day calendar covering whole, contiguous years.
#[derive(Clone)]
pub struct Calendar {
    origin: String,
    first_year: i32,
    last_year: i32,
    first: NaiveDate,
    last: NaiveDate,
    provisional: Vec<i32>,
    /// Listed days off and their names.
    off: BTreeMap<NaiveDate, String>,
    /// Weekend days declared working days.
    make_up: BTreeSet<NaiveDate>,
    /// `prefix[i]`: number of working days in `first ..= first + i`.
    prefix: Vec<u32>,
}

impl fmt::Debug for Calendar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Calendar")
            .field("origin", &self.origin)
            .field("years", &self.years())
            .field("provisional", &self.provisional)
            .field("days_off", &self.off.len())
            .field("make_up_days", &self.make_up.len())
            .field("working_days", &self.total_working())
            .finish()
    }
}

impl Calendar {
    /// Builds the prefix sums from validated data.
    fn build(
        origin: &str,
        first_year: i32,
        last_year: i32,
        provisional: Vec<i32>,
        off: BTreeMap<NaiveDate, String>,
        make_up: BTreeSet<NaiveDate>,
    ) -> Result<Calendar, CalendarError> {
        let bounds = NaiveDate::from_ymd_opt(first_year, 1, 1)
            .zip(NaiveDate::from_ymd_opt(last_year, 12, 31));
        let Some((first, last)) = bounds else {
            return Err(CalendarError::InvalidYear {
                origin: origin.to_owned(),
                key: first_year.to_string(),
                reason: "year out of the supported range".to_owned(),
            });
        };
        let mut prefix = Vec::new();
        let mut running: u32 = 0;
        for d in first.iter_days().take_while(|d| *d <= last) {
            let working = if is_weekend(d) {
                make_up.contains(&d)
            } else {
                !off.contains_key(&d)
            };
            running += u32::from(working);
            prefix.push(running);
        }
        Ok(Calendar {
            origin: origin.to_owned(),
            first_year,
            last_year,
            first,
            last,
            provisional,
            off,
            make_up,
            prefix,
        })
    }
    /// The file the calendar was read from (as given to [`Calendar::from_toml_str`]).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// 1 January of the first covered year.
    pub fn first_day(&self) -> NaiveDate {
        self.first
    }

    /// 31 December of the last covered year.
    pub fn last_day(&self) -> NaiveDate {
        self.last
    }

    /// The covered years.
    pub fn years(&self) -> RangeInclusive<i32> {
        self.first_year..=self.last_year
    }

    /// Covered years marked `provisional = true` (not yet officially announced).
    pub fn provisional_years(&self) -> Vec<i32> {
        self.provisional.clone()
    }

    /// Whether `d` is a working day.
    pub fn is_working_day(&self, d: NaiveDate) -> Result<bool, CalendarError> {
        let i = self.index_of(d)?;
        Ok(self.working_at(i))
    }

    /// The name of a listed day off (e.g. "Tết Nguyên đán"); `None` for working days, ordinary
    /// weekends and dates outside the calendar.
    pub fn day_off_name(&self, d: NaiveDate) -> Option<&str> {
        self.off.get(&d).map(String::as_str)
    }

    /// Whether `d` is a weekend day declared a working day (làm bù).
    pub fn is_make_up_day(&self, d: NaiveDate) -> bool {
        self.make_up.contains(&d)
    }

    /// What the calendar says, as text that changes when any day off, make-up
    /// day or the covered years change (not with where it was loaded from).
    pub fn fingerprint(&self) -> String {
        let mut out = format!("{}..{}", self.first, self.last);
        for d in self.off.keys() {
            out.push_str(&format!(" -{d}"));
        }
        for d in &self.make_up {
            out.push_str(&format!(" +{d}"));
        }
        out
    }

    /// The n-th working day after `d` (`d` itself not counted); `n = 0` returns `d`, a negative
    /// `n` the |n|-th working day before `d`. The answer depends on the days between `d`
    /// (excluded) and the result (included), so `d` may be the day just outside the calendar on
    /// the side the walk leaves from (31/12 before the first year going forwards, 1/1 after the
    /// last year going backwards). Errors when a day the walk needs is not covered.
    pub fn add(&self, d: NaiveDate, n: i64) -> Result<NaiveDate, CalendarError> {
        if n == 0 {
            return Ok(d);
        }
        if let Some(e) = self.add_start_error(d, n) {
            return Err(e);
        }
        // The result is the working day whose running number is `target`.
        let target = if n > 0 {
            self.upto_date(d).checked_add(n)
        } else {
            Some(self.upto_date(d) - i64::from(self.is_working_covered(d)) + n + 1)
        };
        target
            .and_then(|k| self.nth_working_day(k))
            .ok_or_else(|| self.add_out_of_range(d, n))
    }

    /// Number of working days `x` with `a < x <= b`; negative when `b < a`. Only the days
    /// after the earlier date up to the later one matter, so the earlier date may be the day
    /// before the first covered day (and `a == b` is 0 anywhere).
    pub fn count(&self, a: NaiveDate, b: NaiveDate) -> Result<i64, CalendarError> {
        if let Some(e) = self.count_error(a, b) {
            return Err(e);
        }
        Ok(self.upto_date(b) - self.upto_date(a))
    }

    /// The first working day strictly after `d`.
    pub fn next_working_day(&self, d: NaiveDate) -> Result<NaiveDate, CalendarError> {
        self.add(d, 1)
    }

    /// The last working day strictly before `d`.
    pub fn prev_working_day(&self, d: NaiveDate) -> Result<NaiveDate, CalendarError> {
        self.add(d, -1)
    }

    /// From 1 November of year Y, when year Y+1 is not covered (or whenever `today` itself is
    /// past the calendar): a warning naming the file to extend. Otherwise `None`.
    pub fn coverage_warning(&self, today: NaiveDate) -> Option<String> {
        let year = today.year();
        let november = NaiveDate::from_ymd_opt(year, 11, 1)?;
        if year > self.last_year {
            let needed = if today >= november { year + 1 } else { year };
            return Some(format!(
                "the working-day calendar {} ends on {}, so today ({today}) is not covered and \
                 deadlines cannot be computed: add {} to {} (`tthc-watch calendar propose {year}` \
                 prints a draft to check against the official announcement)",
                self.origin,
                self.last,
                years_label(self.last_year + 1, needed),
                self.origin
            ));
        }
        if today >= november && year + 1 > self.last_year {
            let next = year + 1;
            return Some(format!(
                "the working-day calendar {} does not cover {next} yet: add [years.{next}] to {} \
                 as soon as the Government announces the days off of {next} \
                 (`tthc-watch calendar propose {next}` prints a draft to check against the \
                 announcement); deadlines falling in {next} cannot be computed until then",
                self.origin, self.origin
            ));
        }
        None
    }

    // --- internals ---------------------------------------------------------------------------

    fn index_of(&self, d: NaiveDate) -> Result<usize, CalendarError> {
        self.index(d)
            .ok_or_else(|| self.out_of_range(format!("date {d}"), d, d.year()))
    }

    /// The error of [`Calendar::add`] (`n != 0`) when the first day the walk needs (the day
    /// after `d`, or before it when going back) is not covered; the later days are checked by
    /// the walk itself.
    fn add_start_error(&self, d: NaiveDate, n: i64) -> Option<CalendarError> {
        if self.index(d).is_some() {
            return None;
        }
        let needed = if n > 0 { d.succ_opt() } else { d.pred_opt() };
        match needed {
            Some(x) if self.index(x).is_some() => None,
            Some(x) => Some(self.out_of_range(format!("date {d}"), d, x.year())),
            None => Some(self.out_of_range(format!("date {d}"), d, d.year())),
        }
    }

    /// The error of [`Calendar::count`] when a day in `(min(a, b), max(a, b)]` is not covered.
    fn count_error(&self, a: NaiveDate, b: NaiveDate) -> Option<CalendarError> {
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        if low == high {
            return None;
        }
        if self.index(high).is_none() {
            return Some(self.out_of_range(format!("date {high}"), high, high.year()));
        }
        // `high` is covered and after `low`, so the successor exists.
        let needed = low.succ_opt().unwrap_or(high);
        if self.index(needed).is_none() {
            return Some(self.out_of_range(
                format!("date {needed} (needed to count the working days from {a} to {b})"),
                needed,
                needed.year(),
            ));
        }
        None
    }

    /// Working days from the first covered day up to and including `d`: 0 before the calendar,
    /// all of them after it. Callers check that the days their answer needs are covered.
    fn upto_date(&self, d: NaiveDate) -> i64 {
        match self.index(d) {
            Some(i) => self.upto(i),
            None if d < self.first => 0,
            None => self.total_working(),
        }
    }

    /// Whether `d` is a covered working day (false outside the calendar).
    fn is_working_covered(&self, d: NaiveDate) -> bool {
        self.index(d).is_some_and(|i| self.working_at(i))
    }

    fn index(&self, d: NaiveDate) -> Option<usize> {
        if d < self.first || d > self.last {
            return None;
        }
        usize::try_from((d - self.first).num_days()).ok()
    }

    fn date_at(&self, i: usize) -> Option<NaiveDate> {
        self.first
            .checked_add_days(Days::new(u64::try_from(i).ok()?))
    }

    /// Working days from the first day up to and including day `i`.
    fn upto(&self, i: usize) -> i64 {
        self.prefix.get(i).map_or(0, |&w| i64::from(w))
    }

    /// Working days strictly before day `i`.
    fn before(&self, i: usize) -> i64 {
        i.checked_sub(1).map_or(0, |j| self.upto(j))
    }

    fn working_at(&self, i: usize) -> bool {
        self.upto(i) > self.before(i)
    }

    fn total_working(&self) -> i64 {
        self.prefix.last().map_or(0, |&w| i64::from(w))
    }

    /// The k-th working day of the calendar (1-based), by binary search.
    fn nth_working_day(&self, k: i64) -> Option<NaiveDate> {
        if k < 1 || k > self.total_working() {
            return None;
        }
        let i = self.prefix.partition_point(|&w| i64::from(w) < k);
        self.date_at(i)
    }

    /// `missing_year` is a year that would have to be covered to answer.
    fn out_of_range(&self, subject: String, date: NaiveDate, missing_year: i32) -> CalendarError {
        let missing = if missing_year > self.last_year {
            years_label(self.last_year + 1, missing_year)
        } else {
            years_label(missing_year, self.first_year - 1)
        };
        CalendarError::OutOfRange {
            subject,
            date,
            covers: if self.first_year == self.last_year {
                self.first_year.to_string()
            } else {
                format!("{}–{}", self.first_year, self.last_year)
            },
            missing,
            origin: self.origin.clone(),
        }
    }

    fn add_out_of_range(&self, d: NaiveDate, n: i64) -> CalendarError {
        let missing_year = if n > 0 {
            self.last_year + 1
        } else {
            self.first_year - 1
        };
        self.out_of_range(
            format!("the result of adding {n} working days to {d}"),
            d,
            missing_year,
        )
    }
}

#[cfg(test)]
mod history_tests;
#[cfg(test)]
mod testing;

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::naive::{naive_add, naive_count, naive_is_working_day};
    use super::testing::{cal, cal_2025_2027, d, date_strategy, dt, hours};
    use super::*;

    #[test]
    fn working_day_table() {
        let table = [
            // make-up Saturdays
            (d(2025, 4, 26), true),
            (d(2026, 1, 10), true),
            (d(2026, 8, 22), true),
            // swapped days
            (d(2025, 5, 2), false),
            (d(2026, 1, 2), false),
            (d(2026, 8, 31), false),
            // holidays
            (d(2025, 1, 1), false),
            (d(2025, 4, 7), false),
            (d(2026, 1, 1), false),
            (d(2026, 2, 16), false),
            (d(2026, 2, 20), false),
            (d(2026, 4, 27), false),
            (d(2026, 4, 30), false),
            (d(2026, 5, 1), false),
            (d(2026, 9, 1), false),
            (d(2026, 9, 2), false),
            (d(2026, 11, 24), false),
            (d(2027, 2, 4), false),
            (d(2027, 4, 16), false),
            (d(2027, 5, 3), false),
            (d(2027, 9, 3), false),
            // ordinary days
            (d(2026, 2, 13), true),
            (d(2026, 2, 23), true),
            (d(2026, 5, 4), true),
            (d(2026, 9, 3), true),
            (d(2026, 11, 23), true),
            (d(2026, 11, 25), true),
            (d(2026, 11, 21), false), // Saturday
            (d(2026, 11, 22), false), // Sunday
            (d(2027, 12, 31), true),
        ];
        for (date, working) in table {
            assert_eq!(cal().is_working_day(date).unwrap(), working, "{date}");
            assert_eq!(
                naive_is_working_day(cal(), date).unwrap(),
                working,
                "{date}"
            );
        }
    }

    #[test]
    fn add_table() {
        let table = [
            (d(2026, 11, 20), 3, d(2026, 11, 26)), // 24/11 is off
            (d(2026, 2, 13), 1, d(2026, 2, 23)),   // across Tết 2026
            (d(2026, 2, 23), -1, d(2026, 2, 13)),
            (d(2026, 2, 15), 1, d(2026, 2, 23)), // from inside Tết
            (d(2026, 4, 29), 1, d(2026, 5, 4)),  // across 30/4–3/5
            (d(2026, 4, 24), 1, d(2026, 4, 28)), // Giỗ Tổ compensated on 27/4
            (d(2026, 1, 9), 1, d(2026, 1, 10)),  // make-up Saturday
            (d(2026, 1, 10), 1, d(2026, 1, 12)),
            (d(2025, 12, 31), 1, d(2026, 1, 5)), // across New Year 2026
            (d(2026, 8, 28), 1, d(2026, 9, 3)),  // across Quốc khánh 2026
            (d(2026, 11, 21), 0, d(2026, 11, 21)),
            (d(2026, 11, 26), -3, d(2026, 11, 20)),
            (d(2026, 11, 22), -1, d(2026, 11, 20)),
            (d(2026, 11, 22), 1, d(2026, 11, 23)),
        ];
        for (start, n, expected) in table {
            assert_eq!(cal().add(start, n).unwrap(), expected, "{start} + {n}");
            assert_eq!(naive_add(cal(), start, n).unwrap(), expected);
        }
        assert!(matches!(
            cal().add(d(2019, 1, 2), -1),
            Err(CalendarError::OutOfRange { .. })
        ));
        assert_eq!(
            cal().next_working_day(d(2026, 2, 13)).unwrap(),
            d(2026, 2, 23)
        );
        assert_eq!(
            cal().prev_working_day(d(2026, 2, 23)).unwrap(),
            d(2026, 2, 13)
        );
        assert_eq!(
            cal().next_working_day(d(2026, 11, 23)).unwrap(),
            d(2026, 11, 25)
        );
        assert_eq!(
            cal().prev_working_day(d(2026, 1, 5)).unwrap(),
            d(2025, 12, 31)
        );
    }

    #[test]
    fn count_table() {
        let c = cal();
        assert_eq!(c.count(d(2026, 2, 13), d(2026, 2, 23)).unwrap(), 1);
        assert_eq!(c.count(d(2026, 2, 23), d(2026, 2, 13)).unwrap(), -1);
        assert_eq!(c.count(d(2026, 11, 20), d(2026, 11, 26)).unwrap(), 3);
        assert_eq!(c.count(d(2026, 11, 20), d(2026, 11, 20)).unwrap(), 0);
    }

    #[test]
    fn count_of_whole_years_matches_hand_computation() {
        // 2026 starts on a Thursday: 52 weeks + 1 Thursday = 261 weekdays. Weekdays off:
        // 1–2/1 (2), Tết 16–20/2 (5), 27/4 (1), 30/4–1/5 (2), 31/8–2/9 (3), 24/11 (1) = 14.
        // Make-up Saturdays 10/1 and 22/8 (+2): 261 - 14 + 2 = 249.
        // 2025 starts on a Wednesday: 261 weekdays. Off: 1/1, 27–31/1 (5), 7/4, 30/4–2/5 (3),
        // 1–2/9 (2) = 12; make-up 26/4 (+1): 250.
        for (year, hand) in [(2026, 249), (2025, 250)] {
            let (a, b) = (d(year - 1, 12, 31), d(year, 12, 31));
            // Independent count over the parsed sets.
            let mut expected = 0;
            let mut x = d(year, 1, 1);
            while x <= b {
                let weekend = matches!(x.weekday(), Weekday::Sat | Weekday::Sun);
                let working = if weekend {
                    cal().make_up.contains(&x)
                } else {
                    !cal().off.contains_key(&x)
                };
                expected += i64::from(working);
                x = x.succ_opt().unwrap();
            }
            assert_eq!(expected, hand, "{year}");
            assert_eq!(cal().count(a, b).unwrap(), hand);
            assert_eq!(cal().count(b, a).unwrap(), -hand);
            // Without 2024: counting from 31/12/2024 needs only the days after it.
            assert_eq!(
                cal_2025_2027().count(a, b).unwrap(),
                cal().count(a, b).unwrap()
            );
        }
    }

    #[test]
    fn day_off_names() {
        let c = cal();
        assert_eq!(c.day_off_name(d(2026, 2, 17)), Some("Tết Nguyên đán"));
        assert_eq!(
            c.day_off_name(d(2026, 11, 24)),
            Some("Ngày Văn hóa Việt Nam")
        );
        assert_eq!(c.day_off_name(d(2026, 4, 26)), Some("Giỗ Tổ Hùng Vương"));
        assert_eq!(
            c.day_off_name(d(2026, 4, 27)),
            Some("Nghỉ bù Giỗ Tổ Hùng Vương")
        );
        assert_eq!(c.day_off_name(d(2026, 1, 2)), Some("Tết Dương lịch"));
        assert_eq!(c.day_off_name(d(2026, 9, 2)), Some("Quốc khánh"));
        assert_eq!(c.day_off_name(d(2026, 11, 23)), None);
        assert_eq!(c.day_off_name(d(2026, 11, 21)), None);
        assert_eq!(c.day_off_name(d(2026, 1, 10)), None);
        assert_eq!(c.day_off_name(d(2030, 1, 1)), None);
    }

    // --- out of range ---------------------------------------------------------------------

    #[test]
    fn out_of_range_messages() {
        // The calendar as it was before 2019–2024 were added, so the messages keep their dates.
        let c = cal_2025_2027();
        let e = c.is_working_day(d(2029, 1, 3)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "date 2029-01-03 is outside the working-day calendar (it covers 2025–2027); \
             add years 2028–2029 to config/calendar.toml"
        );
        let e = c.add(d(2028, 1, 3), 1).unwrap_err();
        assert_eq!(
            e.to_string(),
            "date 2028-01-03 is outside the working-day calendar (it covers 2025–2027); \
             add year 2028 to config/calendar.toml"
        );
        assert!(matches!(
            e,
            CalendarError::OutOfRange { date, .. } if date == d(2028, 1, 3)
        ));
        // Counting from 31/12/2024 needs only 2025; from 30/12/2024 it needs 31/12/2024.
        assert_eq!(c.count(d(2024, 12, 31), d(2025, 1, 5)).unwrap(), 2);
        let e = c.count(d(2024, 12, 30), d(2025, 1, 5)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "date 2024-12-31 (needed to count the working days from 2024-12-30 to 2025-01-05) \
             is outside the working-day calendar (it covers 2025–2027); add year 2024 to \
             config/calendar.toml"
        );
        let e = c.add(d(2027, 12, 30), 5).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the result of adding 5 working days to 2027-12-30 is outside the working-day \
             calendar (it covers 2025–2027); add year 2028 to config/calendar.toml"
        );
        assert!(c.add(d(2027, 12, 30), 1).is_ok());
        assert!(c.add(d(2027, 12, 31), i64::MAX).is_err());
        assert!(c.add(d(2027, 12, 31), i64::MIN).is_err());
        assert!(c.next_working_day(d(2027, 12, 31)).is_err());
        assert!(c.prev_working_day(d(2025, 1, 2)).is_err());
        assert!(c.day_off_name(d(2024, 1, 1)).is_none());
        assert!(cal().prev_working_day(d(2019, 1, 2)).is_err());
        assert_eq!(cal().day_off_name(d(2024, 1, 1)), Some("Tết Dương lịch"));
        let e = c
            .effective_start(&hours(), dt(2027, 12, 31, 17, 30))
            .unwrap_err();
        assert!(e.to_string().contains("add year 2028"), "{e}");
        let e = c
            .add_working_minutes(&hours(), dt(2027, 12, 31, 9, 0), 480)
            .unwrap_err();
        assert!(e.to_string().contains("add year 2028"), "{e}");
        assert!(
            c.working_minutes_between(&hours(), dt(2027, 12, 31, 9, 0), dt(2028, 1, 3, 9, 0))
                .is_err()
        );
    }
    #[test]
    fn coverage_warnings() {
        let c = cal();
        assert_eq!(c.coverage_warning(d(2026, 11, 1)), None);
        assert_eq!(c.coverage_warning(d(2027, 10, 31)), None);
        let w = c.coverage_warning(d(2027, 11, 1)).unwrap();
        assert!(
            w.contains("2028") && w.contains("config/calendar.toml"),
            "{w}"
        );
        let w = c.coverage_warning(d(2028, 3, 1)).unwrap();
        assert!(w.contains("add year 2028 to config/calendar.toml"), "{w}");
        let w = c.coverage_warning(d(2028, 11, 2)).unwrap();
        assert!(
            w.contains("add years 2028–2029 to config/calendar.toml"),
            "{w}"
        );
        assert_eq!(c.coverage_warning(d(2024, 11, 2)), None);
    }

    // --- naive comparison -----------------------------------------------------------------

    #[test]
    fn prefix_sums_agree_with_naive_everywhere() {
        let c = cal();
        let mut x = c.first_day();
        while x <= c.last_day() {
            for n in [-7, -2, -1, 0, 1, 2, 5, 23] {
                let fast = c.add(x, n);
                let slow = naive_add(c, x, n);
                match (&fast, &slow) {
                    (Ok(a), Ok(b)) => assert_eq!(a, b, "{x} + {n}"),
                    (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                    _ => panic!("{x} + {n}: {fast:?} vs {slow:?}"),
                }
            }
            x = x + Days::new(1);
        }
        let mut a = c.first_day();
        while a <= c.last_day() {
            let b = a + Days::new(37);
            if b <= c.last_day() {
                assert_eq!(c.count(a, b).unwrap(), naive_count(c, a, b).unwrap());
                assert_eq!(c.count(b, a).unwrap(), naive_count(c, b, a).unwrap());
            }
            a = a + Days::new(3);
        }
        assert_eq!(
            c.count(c.first_day(), c.last_day()).unwrap(),
            naive_count(c, c.first_day(), c.last_day()).unwrap()
        );
    }
    proptest! {
        #[test]
        fn round_trip(a in date_strategy(), n in 0i64..400) {
            if let Ok(b) = cal().add(a, n) {
                prop_assert_eq!(cal().count(a, b).unwrap(), n);
                prop_assert!(n == 0 || cal().is_working_day(b).unwrap());
            } else {
                // Only when the naive walk also leaves the calendar.
                prop_assert!(naive_add(cal(), a, n).is_err());
            }
        }

        #[test]
        fn round_trip_backwards(a in date_strategy(), n in 1i64..400) {
            if let Ok(b) = cal().add(a, -n) {
                prop_assert_eq!(cal().count(a, b).unwrap(), if cal().is_working_day(a).unwrap() { -n } else { -n + 1 });
                prop_assert_eq!(naive_add(cal(), a, -n).unwrap(), b);
            }
        }

        #[test]
        fn monotonic(a in date_strategy(), b in date_strategy(), n in -300i64..300) {
            let (a, b) = if a <= b { (a, b) } else { (b, a) };
            if let (Ok(x), Ok(y)) = (cal().add(a, n), cal().add(b, n)) {
                prop_assert!(x <= y);
            }
        }

        #[test]
        fn additive(a in date_strategy(), b in date_strategy(), c in date_strategy()) {
            let cal = cal();
            prop_assert_eq!(
                cal.count(a, b).unwrap() + cal.count(b, c).unwrap(),
                cal.count(a, c).unwrap()
            );
            prop_assert_eq!(cal.count(a, b).unwrap(), -cal.count(b, a).unwrap());
            prop_assert_eq!(cal.count(a, b).unwrap(), naive_count(cal, a, b).unwrap());
        }

        #[test]
        fn a_new_day_off_never_makes_add_earlier(
            extra in date_strategy(),
            a in date_strategy(),
            n in 0i64..300,
        ) {
            let base = cal();
            let mut off = base.off.clone();
            let mut make_up = base.make_up.clone();
            if !make_up.remove(&extra) {
                off.insert(extra, "Ngày nghỉ thêm".to_owned());
            }
            let more = Calendar::build(
                base.origin(), base.first_year, base.last_year,
                base.provisional.clone(), off, make_up,
            ).unwrap();
            prop_assert!(!more.is_working_day(extra).unwrap());
            if let (Ok(x), Ok(y)) = (base.add(a, n), more.add(a, n)) {
                prop_assert!(y >= x);
            }
        }
    }
}
