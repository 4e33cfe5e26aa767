//! Vietnamese lunar calendar (âm lịch), used only to *propose* or *check* days off.
//!
//! The computation follows the well-known algorithm published by Hồ Ngọc Đức (new moons and
//! the sun's longitude after Jean Meeus, "Astronomical Algorithms"), evaluated in Vietnam's time
//! zone, UTC+7. Chinese-calendar libraries evaluate the same astronomy in UTC+8 and disagree with
//! the Vietnamese calendar in some years (a new moon shortly before midnight in Hà Nội falls after
//! midnight in Beijing), so this module does not rely on them.
//!
//! The official days off are data (`config/calendar.toml`); nothing here decides them.

use std::f64::consts::PI;

use chrono::{Datelike, NaiveDate};

/// Vietnam's offset from UTC in hours (Asia/Ho_Chi_Minh, no daylight saving).
pub const VIETNAM_UTC_OFFSET_HOURS: f64 = 7.0;

/// Mean length of a synodic month, in days.
const SYNODIC_MONTH: f64 = 29.530_588_853;
/// Julian day of the new moon of 1900-01-01 13:52 UTC, the origin of the new-moon index `k`.
const NEW_MOON_EPOCH: f64 = 2_415_021.076_998_695;
/// Difference between a Julian day number and chrono's "days from the Common Era".
const JDN_MINUS_DAYS_FROM_CE: i64 = 1_721_425;

/// A date of the Vietnamese lunar calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LunarDate {
    /// Day of the lunar month, 1..=30.
    pub day: u32,
    /// Lunar month, 1..=12 (month 1 starts with Tết).
    pub month: u32,
    /// Lunar year, numbered like the solar year in which its month 1 starts.
    pub year: i32,
    /// Whether the month is the leap (intercalary) month, e.g. "tháng 6 nhuận".
    pub leap: bool,
}

/// Julian day number of a Gregorian date given as numbers.
fn jd_from_ymd(day: i64, month: i64, year: i64) -> i64 {
    let a = (14 - month) / 12;
    let y = year + 4800 - a;
    let m = month + 12 * a - 3;
    day + (153 * m + 2) / 5 + 365 * y + y / 4 - y / 100 + y / 400 - 32045
}

fn jd_from_date(d: NaiveDate) -> i64 {
    jd_from_ymd(
        i64::from(d.day()),
        i64::from(d.month()),
        i64::from(d.year()),
    )
}

fn date_from_jd(jd: i64) -> Option<NaiveDate> {
    i32::try_from(jd - JDN_MINUS_DAYS_FROM_CE)
        .ok()
        .and_then(NaiveDate::from_num_days_from_ce_opt)
}

/// Time (Julian day, UTC, fractional) of the k-th new moon after the one of 1900-01-01.
fn new_moon(k: i64) -> f64 {
    let k = k as f64;
    let t = k / 1236.85;
    let t2 = t * t;
    let t3 = t2 * t;
    let dr = PI / 180.0;
    let mut jd1 = 2_415_020.759_33 + 29.530_588_68 * k + 0.000_117_8 * t2 - 0.000_000_155 * t3;
    jd1 += 0.000_33 * ((166.56 + 132.87 * t - 0.009_173 * t2) * dr).sin();
    // Sun's mean anomaly, Moon's mean anomaly, Moon's argument of latitude.
    let m = 359.224_2 + 29.105_356_08 * k - 0.000_033_3 * t2 - 0.000_003_47 * t3;
    let mpr = 306.025_3 + 385.816_918_06 * k + 0.010_730_6 * t2 + 0.000_012_36 * t3;
    let f = 21.296_4 + 390.670_506_46 * k - 0.001_652_8 * t2 - 0.000_002_39 * t3;
    let mut c1 = (0.173_4 - 0.000_393 * t) * (m * dr).sin() + 0.002_1 * (2.0 * dr * m).sin();
    c1 = c1 - 0.406_8 * (mpr * dr).sin() + 0.016_1 * (dr * 2.0 * mpr).sin();
    c1 -= 0.000_4 * (dr * 3.0 * mpr).sin();
    c1 = c1 + 0.010_4 * (dr * 2.0 * f).sin() - 0.005_1 * (dr * (m + mpr)).sin();
    c1 = c1 - 0.007_4 * (dr * (m - mpr)).sin() + 0.000_4 * (dr * (2.0 * f + m)).sin();
    c1 = c1 - 0.000_4 * (dr * (2.0 * f - m)).sin() - 0.000_6 * (dr * (2.0 * f + mpr)).sin();
    c1 = c1 + 0.001_0 * (dr * (2.0 * f - mpr)).sin() + 0.000_5 * (dr * (2.0 * mpr + m)).sin();
    let delta_t = if t < -11.0 {
        0.001 + 0.000_839 * t + 0.000_226_1 * t2 - 0.000_008_45 * t3 - 0.000_000_081 * t * t3
    } else {
        -0.000_278 + 0.000_265 * t + 0.000_262 * t2
    };
    jd1 + c1 - delta_t
}

/// Julian day number of the local day on which the k-th new moon falls.
fn new_moon_day(k: i64, tz: f64) -> i64 {
    (new_moon(k) + 0.5 + tz / 24.0).floor() as i64
}

/// Sun's apparent longitude in radians, in [0, 2π), at Julian day `jd` (UTC).
fn sun_longitude(jd: f64) -> f64 {
    let t = (jd - 2_451_545.0) / 36_525.0;
    let t2 = t * t;
    let dr = PI / 180.0;
    let m = 357.529_10 + 35_999.050_30 * t - 0.000_155_9 * t2 - 0.000_000_48 * t * t2;
    let l0 = 280.466_45 + 36_000.769_83 * t + 0.000_303_2 * t2;
    let mut dl = (1.914_600 - 0.004_817 * t - 0.000_014 * t2) * (dr * m).sin();
    dl += (0.019_993 - 0.000_101 * t) * (dr * 2.0 * m).sin() + 0.000_290 * (dr * 3.0 * m).sin();
    let l = (l0 + dl) * dr;
    l - 2.0 * PI * (l / (2.0 * PI)).floor()
}

/// Which of the 12 thirty-degree sectors the sun is in at the start of local day `day_number`.
fn sun_sector(day_number: i64, tz: f64) -> i64 {
    (sun_longitude(day_number as f64 - 0.5 - tz / 24.0) / PI * 6.0).floor() as i64
}

/// Julian day number of the first day of lunar month 11 (the month containing the winter
/// solstice) that starts in or before December of solar year `year`.
fn lunar_month_11(year: i64, tz: f64) -> i64 {
    let off = jd_from_ymd(31, 12, year) - 2_415_021;
    let k = (off as f64 / SYNODIC_MONTH).floor() as i64;
    let nm = new_moon_day(k, tz);
    if sun_sector(nm, tz) >= 9 {
        new_moon_day(k - 1, tz)
    } else {
        nm
    }
}

/// Index (counted from month 11 starting at `a11`) of the leap month of a 13-month lunar year:
/// the first month that contains no major solar term.
fn leap_month_offset(a11: i64, tz: f64) -> i64 {
    let k = ((a11 as f64 - NEW_MOON_EPOCH) / SYNODIC_MONTH + 0.5).floor() as i64;
    let mut i = 1;
    let mut arc = sun_sector(new_moon_day(k + i, tz), tz);
    loop {
        let last = arc;
        i += 1;
        arc = sun_sector(new_moon_day(k + i, tz), tz);
        if arc == last || i >= 14 {
            break;
        }
    }
    i - 1
}

/// The lunar date of a solar (Gregorian) date, in Vietnam's time zone.
pub fn solar_to_lunar(date: NaiveDate) -> LunarDate {
    solar_to_lunar_tz(date, VIETNAM_UTC_OFFSET_HOURS)
}

fn solar_to_lunar_tz(date: NaiveDate, tz: f64) -> LunarDate {
    let day_number = jd_from_date(date);
    let year = i64::from(date.year());
    let k = ((day_number as f64 - NEW_MOON_EPOCH) / SYNODIC_MONTH).floor() as i64;
    let mut month_start = new_moon_day(k + 1, tz);
    if month_start > day_number {
        month_start = new_moon_day(k, tz);
    }
    let mut a11 = lunar_month_11(year, tz);
    let mut b11 = a11;
    let mut lunar_year;
    if a11 >= month_start {
        lunar_year = year;
        a11 = lunar_month_11(year - 1, tz);
    } else {
        lunar_year = year + 1;
        b11 = lunar_month_11(year + 1, tz);
    }
    let lunar_day = day_number - month_start + 1;
    let diff = (month_start - a11) / 29;
    let mut leap = false;
    let mut lunar_month = diff + 11;
    if b11 - a11 > 365 {
        let leap_diff = leap_month_offset(a11, tz);
        if diff >= leap_diff {
            lunar_month = diff + 10;
            if diff == leap_diff {
                leap = true;
            }
        }
    }
    if lunar_month > 12 {
        lunar_month -= 12;
    }
    if lunar_month >= 11 && diff < 4 {
        lunar_year -= 1;
    }
    LunarDate {
        day: u32::try_from(lunar_day).unwrap_or(0),
        month: u32::try_from(lunar_month).unwrap_or(0),
        year: i32::try_from(lunar_year).unwrap_or(date.year()),
        leap,
    }
}

/// The solar (Gregorian) date of a lunar date, in Vietnam's time zone.
///
/// Returns `None` when the lunar date does not exist: a month outside 1..=12, a day outside
/// 1..=30, day 30 of a 29-day month, or `leap = true` for a month that is not the leap month
/// of that year.
pub fn lunar_to_solar(day: u32, month: u32, year: i32, leap: bool) -> Option<NaiveDate> {
    if !(1..=30).contains(&day) || !(1..=12).contains(&month) {
        return None;
    }
    let tz = VIETNAM_UTC_OFFSET_HOURS;
    let lunar_year = i64::from(year);
    let lunar_month = i64::from(month);
    let (a11, b11) = if lunar_month < 11 {
        (
            lunar_month_11(lunar_year - 1, tz),
            lunar_month_11(lunar_year, tz),
        )
    } else {
        (
            lunar_month_11(lunar_year, tz),
            lunar_month_11(lunar_year + 1, tz),
        )
    };
    let mut off = lunar_month - 11;
    if off < 0 {
        off += 12;
    }
    if b11 - a11 > 365 {
        let leap_off = leap_month_offset(a11, tz);
        let mut leap_month = leap_off - 2;
        if leap_month < 0 {
            leap_month += 12;
        }
        if leap && lunar_month != leap_month {
            return None;
        }
        if leap || off >= leap_off {
            off += 1;
        }
    } else if leap {
        return None;
    }
    let k = (0.5 + (a11 as f64 - NEW_MOON_EPOCH) / SYNODIC_MONTH).floor() as i64;
    let month_start = new_moon_day(k + off, tz);
    let date = date_from_jd(month_start + i64::from(day) - 1)?;
    // Day 30 of a 29-day month would land on day 1 of the next month: reject it.
    let back = solar_to_lunar_tz(date, tz);
    (back
        == LunarDate {
            day,
            month,
            year,
            leap,
        })
    .then_some(date)
}

/// Mùng 1 Tết (the first day of lunar year `year`).
pub fn tet(year: i32) -> Option<NaiveDate> {
    lunar_to_solar(1, 1, year, false)
}

/// The sexagenary name of a lunar year in Vietnamese, e.g. 2026 → "Bính Ngọ".
pub fn can_chi(year: i32) -> String {
    const STEMS: [&str; 10] = [
        "Giáp", "Ất", "Bính", "Đinh", "Mậu", "Kỷ", "Canh", "Tân", "Nhâm", "Quý",
    ];
    const BRANCHES: [&str; 12] = [
        "Tý", "Sửu", "Dần", "Mão", "Thìn", "Tỵ", "Ngọ", "Mùi", "Thân", "Dậu", "Tuất", "Hợi",
    ];
    let y = i64::from(year);
    let stem = usize::try_from((y + 6).rem_euclid(10)).unwrap_or(0);
    let branch = usize::try_from((y + 8).rem_euclid(12)).unwrap_or(0);
    format!(
        "{} {}",
        STEMS.get(stem).copied().unwrap_or_default(),
        BRANCHES.get(branch).copied().unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn julian_day_numbers() {
        assert_eq!(jd_from_date(d(2000, 1, 1)), 2_451_545);
        assert_eq!(date_from_jd(2_451_545), Some(d(2000, 1, 1)));
        assert_eq!(jd_from_date(d(1900, 1, 1)), 2_415_021);
    }

    #[test]
    fn tet_dates() {
        for (year, expected) in [
            (2025, d(2025, 1, 29)),
            (2026, d(2026, 2, 17)),
            (2027, d(2027, 2, 6)),
            (2028, d(2028, 1, 26)),
            // The new moon is at 23:07 in Hà Nội on 2 February 2030 but 00:07 on 3 February
            // in Beijing: Vietnamese Tết is the 2nd, Chinese New Year the 3rd.
            (2030, d(2030, 2, 2)),
            (2024, d(2024, 2, 10)),
            (2023, d(2023, 1, 22)),
        ] {
            assert_eq!(tet(year), Some(expected), "Tết {year}");
            assert_eq!(
                solar_to_lunar(expected),
                LunarDate {
                    day: 1,
                    month: 1,
                    year,
                    leap: false
                }
            );
        }
    }

    #[test]
    fn tet_2030_differs_from_china() {
        assert_eq!(tet(2030), Some(d(2030, 2, 2)));
        let china = solar_to_lunar_tz(d(2030, 2, 3), 8.0);
        assert_eq!((china.day, china.month, china.year), (1, 1, 2030));
        let china_eve = solar_to_lunar_tz(d(2030, 2, 2), 8.0);
        assert_eq!(china_eve.month, 12);
    }

    #[test]
    fn gio_to_hung_vuong_dates() {
        for (year, expected) in [
            (2025, d(2025, 4, 7)),
            (2026, d(2026, 4, 26)),
            (2027, d(2027, 4, 16)),
        ] {
            assert_eq!(lunar_to_solar(10, 3, year, false), Some(expected));
        }
    }

    #[test]
    fn vietnam_and_china_differ_in_1985() {
        // The classic example: in UTC+7 Tết Ất Sửu was on 1985-01-21, in UTC+8 on 1985-02-20.
        assert_eq!(tet(1985), Some(d(1985, 1, 21)));
        assert_eq!(solar_to_lunar_tz(d(1985, 2, 20), 8.0).day, 1);
        assert_eq!(solar_to_lunar_tz(d(1985, 2, 20), 8.0).month, 1);
    }

    #[test]
    fn leap_months() {
        // 2023 had a leap month 2, 2025 a leap month 6.
        let l = solar_to_lunar(d(2023, 3, 22));
        assert_eq!((l.day, l.month, l.year, l.leap), (1, 2, 2023, true));
        let l = solar_to_lunar(d(2025, 7, 25));
        assert_eq!((l.day, l.month, l.year, l.leap), (1, 6, 2025, true));
        assert_eq!(lunar_to_solar(1, 6, 2025, true), Some(d(2025, 7, 25)));
        assert_eq!(lunar_to_solar(1, 5, 2025, true), None);
        assert_eq!(lunar_to_solar(1, 6, 2026, true), None);
    }

    #[test]
    fn invalid_lunar_dates() {
        assert_eq!(lunar_to_solar(0, 1, 2026, false), None);
        assert_eq!(lunar_to_solar(31, 1, 2026, false), None);
        assert_eq!(lunar_to_solar(1, 13, 2026, false), None);
        // Exactly one of day 30 of a month exists or not; never a wrong date.
        for month in 1..=12 {
            if let Some(date) = lunar_to_solar(30, month, 2026, false) {
                assert_eq!(solar_to_lunar(date).day, 30);
            }
        }
    }

    #[test]
    fn round_trip_every_few_days() {
        let mut date = d(1990, 1, 1);
        let end = d(2110, 1, 1);
        let mut previous: Option<LunarDate> = None;
        while date < end {
            let l = solar_to_lunar(date);
            assert!((1..=30).contains(&l.day), "{date}: {l:?}");
            assert!((1..=12).contains(&l.month), "{date}: {l:?}");
            assert_eq!(
                lunar_to_solar(l.day, l.month, l.year, l.leap),
                Some(date),
                "{l:?}"
            );
            if let Some(p) = previous {
                assert!((p.year, p.month) <= (l.year, l.month) || p.leap != l.leap);
            }
            previous = Some(l);
            date = date + chrono::Days::new(5);
        }
    }

    #[test]
    fn can_chi_names() {
        assert_eq!(can_chi(2025), "Ất Tỵ");
        assert_eq!(can_chi(2026), "Bính Ngọ");
        assert_eq!(can_chi(2027), "Đinh Mùi");
        assert_eq!(can_chi(2028), "Mậu Thân");
        assert_eq!(can_chi(1984), "Giáp Tý");
    }
}
