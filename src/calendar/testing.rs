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
