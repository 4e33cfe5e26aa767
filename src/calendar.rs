//! The working-day calendar of the Vietnamese civil service.
//!
//! Saturdays and Sundays are days off, except Saturdays (or Sundays) declared make-up working
//! days (ngày làm bù). Official days off (holidays, Tết, compensating and swapped days) are off.
//! The data is an operator-editable TOML file (`config/calendar.toml`), validated when loaded.
//!
//! Queries use a prefix-sum array: for each covered day, the number of working days from the
//! first covered day up to and including it. [`Calendar::count`] is a subtraction and
//! [`Calendar::add`] a binary search. A date outside the covered years is an error
//! ([`CalendarError::OutOfRange`]), never a guess.
//!
//! Office hours ([`OfficeHours`]) refine days into working minutes: a working instant has a
//! *position* (working seconds elapsed since the start of the calendar), so adding and measuring
//! working time are O(log n) as well.
//!
//! All dates and times are naive local Vietnam time (Asia/Ho_Chi_Minh); callers convert.

pub mod lunar;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::RangeInclusive;
use std::path::Path;

use chrono::{Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Weekday};
use serde::Deserialize;

/// The shipped calendar file, relative to the crate root; the origin of [`Calendar::builtin`].
pub const BUILTIN_ORIGIN: &str = "config/calendar.toml";
const BUILTIN_TEXT: &str = include_str!("../config/calendar.toml");

/// Years accepted in a calendar file.
const YEAR_LIMITS: RangeInclusive<i32> = 1900..=9999;
/// Years for which [`propose_year`] computes lunar dates.
const PROPOSAL_LIMITS: RangeInclusive<i32> = 1901..=2199;

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

fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
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
    /// `n` the |n|-th working day before `d`. Errors when `d` or the result is not covered.
    pub fn add(&self, d: NaiveDate, n: i64) -> Result<NaiveDate, CalendarError> {
        let i = self.index_of(d)?;
        if n == 0 {
            return Ok(d);
        }
        // The result is the working day whose running number is `target`.
        let target = if n > 0 {
            self.upto(i).checked_add(n)
        } else {
            Some(self.before(i) + n + 1)
        };
        target
            .and_then(|k| self.nth_working_day(k))
            .ok_or_else(|| self.add_out_of_range(d, n))
    }

    /// Number of working days `x` with `a < x <= b`; negative when `b < a`.
    pub fn count(&self, a: NaiveDate, b: NaiveDate) -> Result<i64, CalendarError> {
        let ia = self.index_of(a)?;
        let ib = self.index_of(b)?;
        Ok(self.upto(ib) - self.upto(ia))
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

// ---------------------------------------------------------------------------------------------
// Office hours

/// Office hours of a working day: a morning and an afternoon period (half-open: 11:30 is
/// already lunch, 17:00 already closed). In TOML write the times as strings, `"07:00"` or
/// `"07:00:00"` (chrono does not read TOML's unquoted local times).
#[derive(Clone, Debug, serde::Deserialize, PartialEq)]
pub struct OfficeHours {
    pub morning_start: NaiveTime,
    pub morning_end: NaiveTime,
    pub afternoon_start: NaiveTime,
    pub afternoon_end: NaiveTime,
}

const fn hm(hour: u32, minute: u32) -> NaiveTime {
    match NaiveTime::from_hms_opt(hour, minute, 0) {
        Some(t) => t,
        None => NaiveTime::MIN,
    }
}

impl Default for OfficeHours {
    /// 07:00–11:30 and 13:30–17:00: 8 working hours a day.
    fn default() -> Self {
        OfficeHours {
            morning_start: hm(7, 0),
            morning_end: hm(11, 30),
            afternoon_start: hm(13, 30),
            afternoon_end: hm(17, 0),
        }
    }
}

/// Office hours in seconds from midnight.
#[derive(Clone, Copy)]
struct Bounds {
    morning_start: i64,
    morning_end: i64,
    afternoon_start: i64,
    afternoon_end: i64,
}

impl Bounds {
    fn morning(self) -> i64 {
        self.morning_end - self.morning_start
    }

    fn day(self) -> i64 {
        self.morning() + self.afternoon_end - self.afternoon_start
    }

    /// Working seconds of a working day elapsed at `time` (0 before opening, `day()` after
    /// closing). Sub-second parts are ignored.
    fn offset(self, time: NaiveTime) -> i64 {
        let s = i64::from(time.num_seconds_from_midnight());
        if s < self.morning_start {
            0
        } else if s < self.morning_end {
            s - self.morning_start
        } else if s < self.afternoon_start {
            self.morning()
        } else if s < self.afternoon_end {
            self.morning() + s - self.afternoon_start
        } else {
            self.day()
        }
    }

    /// The earliest time of a working day at which `r` working seconds have elapsed
    /// (`0 < r <= day()`): the end of a period rather than the start of the next one.
    fn time_at(self, r: i64) -> Option<NaiveTime> {
        let s = if r <= self.morning() {
            self.morning_start + r
        } else {
            self.afternoon_start + r - self.morning()
        };
        NaiveTime::from_num_seconds_from_midnight_opt(u32::try_from(s).ok()?, 0)
    }
}

fn seconds(t: NaiveTime) -> i64 {
    i64::from(t.num_seconds_from_midnight())
}

impl OfficeHours {
    /// The office hours `[calendar]` configures (not yet validated).
    pub fn from_settings(s: &crate::config::CalendarSettings) -> OfficeHours {
        OfficeHours {
            morning_start: s.morning_start,
            morning_end: s.morning_end,
            afternoon_start: s.afternoon_start,
            afternoon_end: s.afternoon_end,
        }
    }

    /// Checks that the periods are in order (lunch may be empty) and on whole minutes.
    pub fn validate(&self) -> Result<(), CalendarError> {
        let fail = |reason: String| Err(CalendarError::InvalidOfficeHours { reason });
        let times = [
            ("morning_start", self.morning_start),
            ("morning_end", self.morning_end),
            ("afternoon_start", self.afternoon_start),
            ("afternoon_end", self.afternoon_end),
        ];
        for (name, t) in times {
            if t.second() != 0 || t.nanosecond() != 0 {
                return fail(format!("{name} {t} is not on a whole minute"));
            }
        }
        if self.morning_start >= self.morning_end {
            return fail(format!(
                "morning_start {} must be before morning_end {}",
                self.morning_start, self.morning_end
            ));
        }
        if self.morning_end > self.afternoon_start {
            return fail(format!(
                "morning_end {} must not be after afternoon_start {}",
                self.morning_end, self.afternoon_start
            ));
        }
        if self.afternoon_start >= self.afternoon_end {
            return fail(format!(
                "afternoon_start {} must be before afternoon_end {}",
                self.afternoon_start, self.afternoon_end
            ));
        }
        Ok(())
    }

    /// Working minutes in one working day (480 for the default hours).
    pub fn minutes_per_day(&self) -> i64 {
        self.bounds().day() / 60
    }

    fn bounds(&self) -> Bounds {
        Bounds {
            morning_start: seconds(self.morning_start),
            morning_end: seconds(self.morning_end),
            afternoon_start: seconds(self.afternoon_start),
            afternoon_end: seconds(self.afternoon_end),
        }
    }

    fn checked_bounds(&self) -> Result<Bounds, CalendarError> {
        self.validate()?;
        Ok(self.bounds())
    }
}

impl Calendar {
    /// When handling of something received at `t` starts: `t` itself inside office hours of a
    /// working day; during lunch the afternoon opening of the same day; before the morning
    /// opening of a working day that opening; after closing or on a day off the next working
    /// day's morning opening.
    pub fn effective_start(
        &self,
        hours: &OfficeHours,
        t: NaiveDateTime,
    ) -> Result<NaiveDateTime, CalendarError> {
        hours.validate()?;
        let date = t.date();
        let i = self.index_of(date)?;
        let time = t.time();
        if self.working_at(i) {
            if time < hours.morning_start {
                return Ok(date.and_time(hours.morning_start));
            }
            if time < hours.morning_end {
                return Ok(t);
            }
            if time < hours.afternoon_start {
                return Ok(date.and_time(hours.afternoon_start));
            }
            if time < hours.afternoon_end {
                return Ok(t);
            }
        }
        let next = self.nth_working_day(self.upto(i) + 1).ok_or_else(|| {
            self.out_of_range(
                format!("the next working day after {t}"),
                date,
                self.last_year + 1,
            )
        })?;
        Ok(next.and_time(hours.morning_start))
    }

    /// Adds `minutes` of working time to `t` (first moved to its effective start). A result
    /// exactly at the end of a period stays there (17:00, not the next morning's 07:00). A day
    /// is [`OfficeHours::minutes_per_day`] minutes, so Monday 09:00 + 3 days = Thursday 09:00.
    /// A negative `minutes` goes back in working time.
    pub fn add_working_minutes(
        &self,
        hours: &OfficeHours,
        t: NaiveDateTime,
        minutes: i64,
    ) -> Result<NaiveDateTime, CalendarError> {
        let start = self.effective_start(hours, t)?;
        if minutes == 0 {
            return Ok(start);
        }
        let bounds = hours.checked_bounds()?;
        let position = self.position(bounds, start)?;
        let target = minutes
            .checked_mul(60)
            .and_then(|s| s.checked_add(position));
        target
            .and_then(|p| self.instant_at(bounds, hours, p))
            .ok_or_else(|| {
                let missing_year = if minutes > 0 {
                    self.last_year + 1
                } else {
                    self.first_year - 1
                };
                self.out_of_range(
                    format!("the result of adding {minutes} working minutes to {t}"),
                    t.date(),
                    missing_year,
                )
            })
    }

    /// Working minutes in `[a, b)`; 0 when `b <= a`.
    pub fn working_minutes_between(
        &self,
        hours: &OfficeHours,
        a: NaiveDateTime,
        b: NaiveDateTime,
    ) -> Result<i64, CalendarError> {
        let bounds = hours.checked_bounds()?;
        let pa = self.position(bounds, a)?;
        let pb = self.position(bounds, b)?;
        if b <= a {
            return Ok(0);
        }
        Ok((pb - pa) / 60)
    }

    /// Working seconds elapsed from the start of the calendar until `t`.
    fn position(&self, bounds: Bounds, t: NaiveDateTime) -> Result<i64, CalendarError> {
        let i = self.index_of(t.date())?;
        let within = if self.working_at(i) {
            bounds.offset(t.time())
        } else {
            0
        };
        Ok(self.before(i) * bounds.day() + within)
    }

    /// The earliest instant at working position `p`.
    fn instant_at(&self, bounds: Bounds, hours: &OfficeHours, p: i64) -> Option<NaiveDateTime> {
        if p < 0 {
            return None;
        }
        let day = bounds.day();
        let (k, r) = (p / day, p % day);
        if r == 0 {
            if k == 0 {
                // The very start of the calendar's working time.
                return Some(self.nth_working_day(1)?.and_time(hours.morning_start));
            }
            // The end of the k-th working day.
            return Some(self.nth_working_day(k)?.and_time(hours.afternoon_end));
        }
        Some(self.nth_working_day(k + 1)?.and_time(bounds.time_at(r)?))
    }
}

// ---------------------------------------------------------------------------------------------
// Naive reference implementation (tests and benchmarks)

/// Day-by-day reference implementations of [`Calendar::add`] and [`Calendar::count`], working
/// from the listed days rather than the prefix sums. For tests and benchmarks only.
#[doc(hidden)]
pub mod naive {
    use chrono::NaiveDate;

    use super::{Calendar, CalendarError, is_weekend};

    /// Whether `d` is a working day, from the listed days.
    pub fn naive_is_working_day(cal: &Calendar, d: NaiveDate) -> Result<bool, CalendarError> {
        cal.index_of(d)?;
        Ok(if is_weekend(d) {
            cal.make_up.contains(&d)
        } else {
            !cal.off.contains_key(&d)
        })
    }

    /// [`Calendar::add`], one day at a time.
    pub fn naive_add(cal: &Calendar, d: NaiveDate, n: i64) -> Result<NaiveDate, CalendarError> {
        cal.index_of(d)?;
        let mut current = d;
        let mut left = n.unsigned_abs();
        while left > 0 {
            let step = if n > 0 {
                current.succ_opt()
            } else {
                current.pred_opt()
            };
            current = match step {
                Some(next) if cal.index(next).is_some() => next,
                _ => return Err(cal.add_out_of_range(d, n)),
            };
            if naive_is_working_day(cal, current)? {
                left -= 1;
            }
        }
        Ok(current)
    }

    /// [`Calendar::count`], one day at a time.
    pub fn naive_count(cal: &Calendar, a: NaiveDate, b: NaiveDate) -> Result<i64, CalendarError> {
        cal.index_of(a)?;
        cal.index_of(b)?;
        let (low, high, sign) = if a <= b { (a, b, 1) } else { (b, a, -1) };
        let mut n = 0;
        for d in low.iter_days().skip(1).take_while(|d| *d <= high) {
            if naive_is_working_day(cal, d)? {
                n += 1;
            }
        }
        Ok(sign * n)
    }
}

// ---------------------------------------------------------------------------------------------
// Proposal of a new year from the lunar calendar

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

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use proptest::prelude::*;

    use super::naive::{naive_add, naive_count, naive_is_working_day};
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn dt(y: i32, m: u32, day: u32, h: u32, min: u32) -> NaiveDateTime {
        d(y, m, day).and_hms_opt(h, min, 0).unwrap()
    }

    fn cal() -> &'static Calendar {
        static CAL: OnceLock<Calendar> = OnceLock::new();
        CAL.get_or_init(|| Calendar::builtin().unwrap())
    }

    fn hours() -> OfficeHours {
        OfficeHours::default()
    }

    fn parse_err(text: &str) -> CalendarError {
        Calendar::from_toml_str(text, "test.toml").unwrap_err()
    }

    // --- the shipped data -----------------------------------------------------------------

    #[test]
    fn builtin_parses_and_covers_2025_to_2027() {
        let c = cal();
        assert_eq!(c.origin(), "config/calendar.toml");
        assert_eq!(c.years(), 2025..=2027);
        assert_eq!(c.first_day(), d(2025, 1, 1));
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
            cal().add(d(2025, 1, 2), -1),
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
            if year == 2026 {
                assert_eq!(cal().count(a, b).unwrap(), hand);
                assert_eq!(cal().count(b, a).unwrap(), -hand);
            } else {
                // 2024-12-31 is not covered; 1/1/2025 is off, so counting from it loses nothing.
                assert!(!cal().is_working_day(d(2025, 1, 1)).unwrap());
                assert_eq!(cal().count(d(2025, 1, 1), b).unwrap(), hand);
            }
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
        let c = cal();
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
        let e = c.count(d(2024, 12, 31), d(2025, 1, 5)).unwrap_err();
        assert!(
            e.to_string()
                .contains("add year 2024 to config/calendar.toml"),
            "{e}"
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

    // --- office hours ---------------------------------------------------------------------

    #[test]
    fn office_hours_default_and_validation() {
        let h = hours();
        assert_eq!(h.morning_start, NaiveTime::from_hms_opt(7, 0, 0).unwrap());
        assert_eq!(h.morning_end, NaiveTime::from_hms_opt(11, 30, 0).unwrap());
        assert_eq!(
            h.afternoon_start,
            NaiveTime::from_hms_opt(13, 30, 0).unwrap()
        );
        assert_eq!(h.afternoon_end, NaiveTime::from_hms_opt(17, 0, 0).unwrap());
        assert_eq!(h.minutes_per_day(), 480);
        h.validate().unwrap();
        let t = |hh, mm| NaiveTime::from_hms_opt(hh, mm, 0).unwrap();
        let bad = [
            OfficeHours {
                morning_end: t(7, 0),
                ..hours()
            },
            OfficeHours {
                afternoon_start: t(11, 0),
                ..hours()
            },
            OfficeHours {
                afternoon_end: t(13, 0),
                ..hours()
            },
            OfficeHours {
                morning_start: NaiveTime::from_hms_opt(7, 0, 30).unwrap(),
                ..hours()
            },
        ];
        for h in bad {
            assert!(matches!(
                h.validate(),
                Err(CalendarError::InvalidOfficeHours { .. })
            ));
            assert!(cal().effective_start(&h, dt(2026, 3, 2, 9, 0)).is_err());
        }
        // No lunch break is allowed.
        OfficeHours {
            morning_end: t(12, 0),
            afternoon_start: t(12, 0),
            ..hours()
        }
        .validate()
        .unwrap();
        // Deserializes from strings, as the integrator's config file will hold them.
        #[derive(Deserialize)]
        struct Wrapper {
            hours: OfficeHours,
        }
        let w: Wrapper = toml::from_str(
            "[hours]\nmorning_start = \"07:00:00\"\nmorning_end = \"11:30:00\"\n\
             afternoon_start = \"13:30:00\"\nafternoon_end = \"17:00:00\"\n",
        )
        .unwrap();
        assert_eq!(w.hours, hours());
    }

    #[test]
    fn effective_start_table() {
        let h = hours();
        let table = [
            (dt(2026, 3, 4, 9, 15), dt(2026, 3, 4, 9, 15)), // inside the morning
            (dt(2026, 3, 4, 6, 30), dt(2026, 3, 4, 7, 0)),  // before opening
            (dt(2026, 3, 4, 11, 30), dt(2026, 3, 4, 13, 30)), // at the lunch break
            (dt(2026, 3, 4, 12, 0), dt(2026, 3, 4, 13, 30)), // lunch
            (dt(2026, 3, 4, 13, 30), dt(2026, 3, 4, 13, 30)), // afternoon opening
            (dt(2026, 3, 4, 16, 59), dt(2026, 3, 4, 16, 59)), // afternoon
            (dt(2026, 3, 4, 17, 0), dt(2026, 3, 5, 7, 0)),  // closing
            (dt(2026, 3, 6, 17, 30), dt(2026, 3, 9, 7, 0)), // Friday evening → Monday
            (dt(2026, 3, 7, 10, 0), dt(2026, 3, 9, 7, 0)),  // Saturday
            (dt(2026, 2, 13, 17, 30), dt(2026, 2, 23, 7, 0)), // before Tết
            (dt(2026, 11, 24, 9, 0), dt(2026, 11, 25, 7, 0)), // holiday
            (dt(2026, 1, 10, 8, 0), dt(2026, 1, 10, 8, 0)), // make-up Saturday
        ];
        for (t, expected) in table {
            assert_eq!(cal().effective_start(&h, t).unwrap(), expected, "{t}");
        }
    }

    #[test]
    fn add_working_minutes_table() {
        let h = hours();
        let day = h.minutes_per_day();
        let table = [
            // Friday 15:30 + 1 day = Monday 15:30.
            (dt(2026, 3, 6, 15, 30), day, dt(2026, 3, 9, 15, 30)),
            // Monday 09:00 + 3 days = Thursday 09:00.
            (dt(2026, 3, 2, 9, 0), 3 * day, dt(2026, 3, 5, 9, 0)),
            // Received Friday 17:30: starts Monday 07:00; + 1 day ends Monday 17:00.
            (dt(2026, 3, 6, 17, 30), 0, dt(2026, 3, 9, 7, 0)),
            (dt(2026, 3, 6, 17, 30), day, dt(2026, 3, 9, 17, 0)),
            // Received at 12:00: starts 13:30.
            (dt(2026, 3, 4, 12, 0), 0, dt(2026, 3, 4, 13, 30)),
            (dt(2026, 3, 4, 12, 0), 30, dt(2026, 3, 4, 14, 0)),
            // Landing exactly at the end of the morning stays at 11:30.
            (dt(2026, 3, 4, 7, 0), 270, dt(2026, 3, 4, 11, 30)),
            (dt(2026, 3, 4, 7, 0), 271, dt(2026, 3, 4, 13, 31)),
            (dt(2026, 3, 4, 11, 0), 60, dt(2026, 3, 4, 14, 0)),
            (dt(2026, 3, 4, 16, 30), 30, dt(2026, 3, 4, 17, 0)),
            (dt(2026, 3, 4, 16, 30), 31, dt(2026, 3, 5, 7, 1)),
            // Due times landing on days off move on.
            (dt(2026, 4, 29, 10, 0), day, dt(2026, 5, 4, 10, 0)),
            (dt(2026, 2, 13, 14, 0), day, dt(2026, 2, 23, 14, 0)),
            (dt(2026, 11, 23, 9, 0), day, dt(2026, 11, 25, 9, 0)),
            (dt(2026, 1, 9, 9, 0), day, dt(2026, 1, 10, 9, 0)), // make-up Saturday counts
            // Backwards.
            (dt(2026, 3, 9, 15, 30), -day, dt(2026, 3, 6, 15, 30)),
            (dt(2026, 3, 4, 13, 30), -30, dt(2026, 3, 4, 11, 0)),
        ];
        for (t, m, expected) in table {
            assert_eq!(
                cal().add_working_minutes(&h, t, m).unwrap(),
                expected,
                "{t} + {m} min"
            );
        }
    }

    #[test]
    fn working_minutes_between_table() {
        let h = hours();
        let c = cal();
        let table = [
            (dt(2026, 3, 4, 7, 0), dt(2026, 3, 4, 17, 0), 480),
            (dt(2026, 3, 4, 11, 0), dt(2026, 3, 4, 14, 0), 60),
            (dt(2026, 3, 4, 12, 0), dt(2026, 3, 4, 13, 0), 0),
            (dt(2026, 3, 6, 16, 0), dt(2026, 3, 9, 8, 0), 120),
            (dt(2026, 2, 13, 16, 0), dt(2026, 2, 23, 8, 0), 120),
            (dt(2026, 3, 4, 14, 0), dt(2026, 3, 4, 9, 0), 0),
            (dt(2026, 3, 2, 9, 0), dt(2026, 3, 5, 9, 0), 3 * 480),
        ];
        for (a, b, expected) in table {
            assert_eq!(
                c.working_minutes_between(&h, a, b).unwrap(),
                expected,
                "{a} {b}"
            );
        }
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

    // --- proposals ------------------------------------------------------------------------

    #[test]
    fn proposal_parses_with_the_shipped_file() {
        let draft = propose_year(2028).unwrap();
        assert!(draft.contains("[years.2028]"));
        assert!(draft.contains("provisional = true"));
        assert!(draft.contains("DRAFT"));
        let combined = format!("{BUILTIN_TEXT}\n{draft}");
        let c = Calendar::from_toml_str(&combined, "combined.toml").unwrap();
        assert_eq!(c.years(), 2025..=2028);
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

    // --- property tests -------------------------------------------------------------------

    fn covered_days() -> i64 {
        (cal().last_day() - cal().first_day()).num_days() + 1
    }

    fn date_strategy() -> impl Strategy<Value = NaiveDate> {
        (0..covered_days()).prop_map(|i| cal().first_day() + Days::new(i as u64))
    }

    fn datetime_strategy() -> impl Strategy<Value = NaiveDateTime> {
        (date_strategy(), 0u32..86_400).prop_map(|(day, s)| {
            day.and_time(NaiveTime::from_num_seconds_from_midnight_opt(s, 0).unwrap())
        })
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

        #[test]
        fn minutes_round_trip(t in datetime_strategy(), m in 0i64..(480 * 300)) {
            let h = hours();
            let Ok(start) = cal().effective_start(&h, t) else { return Ok(()) };
            if let Ok(end) = cal().add_working_minutes(&h, start, m) {
                prop_assert_eq!(cal().working_minutes_between(&h, start, end).unwrap(), m);
                // From the raw receipt time too: it counts from its effective start.
                prop_assert_eq!(cal().working_minutes_between(&h, t, end).unwrap(), m);
                prop_assert_eq!(cal().add_working_minutes(&h, t, m).unwrap(), end);
                prop_assert!(end >= start);
                // Whole days keep the time of day when starting strictly inside a period.
                if m % 480 == 0 && m > 0 && start.time() != h.morning_start && start.time() != h.afternoon_start {
                    prop_assert_eq!(end.time(), start.time());
                    prop_assert_eq!(end.date(), cal().add(start.date(), m / 480).unwrap());
                }
            }
        }

        #[test]
        fn minutes_backwards_round_trip(t in datetime_strategy(), m in 1i64..(480 * 300)) {
            let h = hours();
            let Ok(start) = cal().effective_start(&h, t) else { return Ok(()) };
            if let Ok(earlier) = cal().add_working_minutes(&h, start, -m) {
                prop_assert_eq!(cal().working_minutes_between(&h, earlier, start).unwrap(), m);
            }
        }
    }
}
