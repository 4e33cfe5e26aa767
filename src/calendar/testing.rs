//! Helpers shared by the calendar's test modules: short date constructors, the shipped
//! calendar parsed once, and proptest strategies over the days it covers.

use std::sync::OnceLock;

use chrono::{Days, NaiveDate, NaiveDateTime, NaiveTime};
use proptest::prelude::*;

use super::{Calendar, OfficeHours};

pub(super) fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

pub(super) fn dt(y: i32, m: u32, day: u32, h: u32, min: u32) -> NaiveDateTime {
    d(y, m, day).and_hms_opt(h, min, 0).unwrap()
}

pub(super) fn cal() -> &'static Calendar {
    static CAL: OnceLock<Calendar> = OnceLock::new();
    CAL.get_or_init(|| Calendar::builtin().unwrap())
}

/// The shipped calendar cut down to 2025–2027 (what it covered before 2019–2024 were added),
/// under the same origin: the tests of what lies outside the calendar keep their dates.
pub(super) fn cal_2025_2027() -> &'static Calendar {
    static CAL: OnceLock<Calendar> = OnceLock::new();
    CAL.get_or_init(|| {
        let text = super::file::BUILTIN_TEXT;
        let from = text.find("[years.2025]").unwrap();
        Calendar::from_toml_str(&text[from..], super::file::BUILTIN_ORIGIN).unwrap()
    })
}

pub(super) fn hours() -> OfficeHours {
    OfficeHours::default()
}

fn covered_days() -> i64 {
    (cal().last_day() - cal().first_day()).num_days() + 1
}

pub(super) fn date_strategy() -> impl Strategy<Value = NaiveDate> {
    (0..covered_days()).prop_map(|i| cal().first_day() + Days::new(i as u64))
}

pub(super) fn datetime_strategy() -> impl Strategy<Value = NaiveDateTime> {
    (date_strategy(), 0u32..86_400).prop_map(|(day, s)| {
        day.and_time(NaiveTime::from_num_seconds_from_midnight_opt(s, 0).unwrap())
    })
}
