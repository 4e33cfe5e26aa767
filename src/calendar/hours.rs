//! Office hours: a working day's morning and afternoon periods, and the arithmetic of working
//! minutes on top of the working days (when handling starts, adding and measuring working
//! time). A working instant's *position* (working seconds since the start of the calendar)
//! keeps these O(log n), like the day queries.

use chrono::{NaiveDateTime, NaiveTime, Timelike};

use super::{Calendar, CalendarError};

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
        let time = t.time();
        // After closing on the day before the calendar, whether that day was a working day
        // does not matter: handling starts on the first working morning either way.
        if date.succ_opt() == Some(self.first) && time >= hours.afternoon_end {
            let first = self.nth_working_day(1).ok_or_else(|| {
                self.out_of_range(
                    format!("the next working day after {t}"),
                    date,
                    self.last_year + 1,
                )
            })?;
            return Ok(first.and_time(hours.morning_start));
        }
        let i = self.index_of(date)?;
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
        if minutes == 0 {
            return self.effective_start(hours, t);
        }
        // `t` and its effective start have the same position (only closed time lies between
        // them), and the position needs fewer days: not the next working day, which may be
        // past the calendar when going back from the last evening.
        let bounds = hours.checked_bounds()?;
        let position = self.position(bounds, t)?;
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
        if b <= a {
            // Nothing to measure, whatever the calendar says.
            return Ok(0);
        }
        let pa = self.position(bounds, a)?;
        let pb = self.position(bounds, b)?;
        Ok((pb - pa) / 60)
    }

    /// Working seconds elapsed from the start of the calendar until `t`. Also defined, without
    /// knowing the day, for an instant after closing on the day before the calendar (0) and
    /// before opening on the day after it (all the calendar's working time): whether those
    /// days are working days changes nothing there.
    fn position(&self, bounds: Bounds, t: NaiveDateTime) -> Result<i64, CalendarError> {
        let date = t.date();
        if date.succ_opt() == Some(self.first) && bounds.offset(t.time()) == bounds.day() {
            return Ok(0);
        }
        if date.pred_opt() == Some(self.last) && bounds.offset(t.time()) == 0 {
            return Ok(self.total_working() * bounds.day());
        }
        let i = self.index_of(date)?;
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde::Deserialize;

    use super::super::testing::{cal, datetime_strategy, dt, hours};
    use super::*;

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
    proptest! {
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
