//! Time is an input: everything that depends on "now" takes a [`Clock`].
//! All of tthc-watch reasons in Vietnam time (Asia/Ho_Chi_Minh).

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Asia::Ho_Chi_Minh;
use std::time::Instant;

/// The time zone of every date in the product.
pub const VN: chrono_tz::Tz = Ho_Chi_Minh;

#[derive(Clone, Debug)]
pub enum Clock {
    /// The machine's clock.
    System,
    /// Always the same instant (tests, `--now` for one-shot commands).
    Fixed(DateTime<Utc>),
    /// Starts at a given instant and then moves with real time (`demo --now` left running).
    Starting { at: DateTime<Utc>, since: Instant },
}

impl Clock {
    pub fn fixed(at: DateTime<Utc>) -> Clock {
        Clock::Fixed(at)
    }

    pub fn starting_at(at: DateTime<Utc>) -> Clock {
        Clock::Starting {
            at,
            since: Instant::now(),
        }
    }

    /// A fixed clock from `--now`, or the system clock.
    pub fn from_option(now: Option<DateTime<Utc>>) -> Clock {
        now.map_or(Clock::System, Clock::Fixed)
    }

    pub fn now_utc(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Fixed(t) => *t,
            Clock::Starting { at, since } => {
                *at + chrono::Duration::from_std(since.elapsed()).unwrap_or_default()
            }
        }
    }

    /// Now, as Vietnam wall-clock time.
    pub fn now_vn(&self) -> NaiveDateTime {
        to_vn(self.now_utc())
    }
}

pub fn to_vn(t: DateTime<Utc>) -> NaiveDateTime {
    t.with_timezone(&VN).naive_local()
}

/// Vietnam has no daylight saving, so local → UTC is a fixed 7-hour shift.
pub fn from_vn(t: NaiveDateTime) -> DateTime<Utc> {
    DateTime::<Utc>::from_naive_utc_and_offset(t - chrono::Duration::hours(7), Utc)
}

/// Parses `--now`: RFC 3339 (`2026-11-25T08:00:00+07:00`) or a plain local time
/// (`2026-11-25T08:00:00`, `2026-11-25 08:00`), read as Vietnam time.
pub fn parse_now(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Ok(from_vn(t));
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(from_vn(d.and_time(chrono::NaiveTime::MIN)));
    }
    Err(format!(
        "'{s}' is not a time: use RFC 3339 such as 2026-11-25T08:00:00+07:00 (a time without offset is read as Vietnam time)"
    ))
}

/// Storage and wire format of local times.
pub const DB_TIME: &str = "%Y-%m-%d %H:%M:%S";

/// `DB_TIME` written by hand: chrono's formatter re-reads the format string
/// on every call, and a sync formats several times per dossier.
pub fn fmt_db(t: NaiveDateTime) -> String {
    fmt_fixed(t, ' ').unwrap_or_else(|| t.format(DB_TIME).to_string())
}

/// `YYYY-MM-DD{sep}HH:MM:SS` for years 0–9999, else None.
fn fmt_fixed(t: NaiveDateTime, sep: char) -> Option<String> {
    use chrono::{Datelike, Timelike};
    let (y, mo, d) = (t.year(), t.month(), t.day());
    let (h, mi, s) = (t.hour(), t.minute(), t.second());
    if !(0..=9999).contains(&y) {
        return None;
    }
    let mut out = String::with_capacity(19);
    let mut two = |v: u32, after: Option<char>| {
        out.push(char::from(b'0' + (v / 10) as u8));
        out.push(char::from(b'0' + (v % 10) as u8));
        if let Some(c) = after {
            out.push(c);
        }
    };
    let y = y as u32;
    two(y / 100, None);
    two(y % 100, Some('-'));
    two(mo, Some('-'));
    two(d, Some(sep));
    two(h, Some(':'));
    two(mi, Some(':'));
    two(s, None);
    Some(out)
}

/// Reads `DB_TIME`; the fixed layout is read by hand (chrono's parser re-reads
/// the format string each time, and a check reads several times per dossier).
pub fn parse_db(s: &str) -> Option<NaiveDateTime> {
    parse_fixed(s, b' ').or_else(|| NaiveDateTime::parse_from_str(s, DB_TIME).ok())
}

/// `YYYY-MM-DD{sep}HH:MM:SS` exactly, else None.
fn parse_fixed(s: &str, sep: u8) -> Option<NaiveDateTime> {
    use chrono::Timelike;
    let b = s.as_bytes();
    if b.len() != 19 || b[16] != b':' {
        return None;
    }
    parse_fixed_minutes(&s[..16], sep)?.with_second(parse_digits(&b[17..19])?)
}

/// `YYYY-MM-DD{sep}HH:MM` exactly (seconds zero), else None.
fn parse_fixed_minutes(s: &str, sep: u8) -> Option<NaiveDateTime> {
    let b = s.as_bytes();
    let fixed = b.len() == 16 && b[4] == b'-' && b[7] == b'-' && b[10] == sep && b[13] == b':';
    if !fixed {
        return None;
    }
    let num = |from: usize, to: usize| parse_digits(&b[from..to]);
    chrono::NaiveDate::from_ymd_opt(num(0, 4)? as i32, num(5, 7)?, num(8, 10)?)?.and_hms_opt(
        num(11, 13)?,
        num(14, 16)?,
        0,
    )
}

fn parse_digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |n, c| {
        c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
    })
}

/// Serde for `NaiveDateTime` exactly as chrono's own (`2026-07-28T13:30:00`,
/// fractions when there are some), with whole seconds written and read by
/// hand: chrono goes through `fmt` one character at a time and re-reads its
/// format, about a tenth of a sync's time. Same bytes, same values; also
/// reads a time to the minute (`2026-07-28T13:30`, as `iso_short` writes).
pub mod iso {
    use super::{NaiveDateTime, fmt_fixed, parse_fixed, parse_fixed_minutes};
    use chrono::Timelike;
    use serde::{Deserializer, Serialize, Serializer, de};

    pub fn serialize<S: Serializer>(t: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
        match (t.nanosecond() == 0).then(|| fmt_fixed(*t, 'T')).flatten() {
            Some(text) => s.serialize_str(&text),
            None => t.serialize(s),
        }
    }

    struct Visitor;

    impl de::Visitor<'_> for Visitor {
        type Value = NaiveDateTime;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a formatted date and time string")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<NaiveDateTime, E> {
            // To the minute is what `iso_short` writes (stored steps).
            match parse_fixed(v, b'T').or_else(|| parse_fixed_minutes(v, b'T')) {
                Some(t) => Ok(t),
                None => v.parse().map_err(E::custom),
            }
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDateTime, D::Error> {
        d.deserialize_str(Visitor)
    }

    /// The same for `Option<NaiveDateTime>` (use with `#[serde(default)]`).
    pub mod option {
        use super::NaiveDateTime;
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(
            t: &Option<NaiveDateTime>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => super::serialize(t, s),
                None => s.serialize_none(),
            }
        }

        #[derive(Deserialize)]
        struct Iso(#[serde(with = "super")] NaiveDateTime);

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<NaiveDateTime>, D::Error> {
            Ok(Option::<Iso>::deserialize(d)?.map(|Iso(t)| t))
        }
    }
}

/// Serde for a stored time: to the minute when its seconds are zero
/// (`2026-07-28T13:30`; sources give times to the minute, and a dossier's
/// steps hold a dozen of them), else as `iso`. Read back by `iso`.
pub mod iso_short {
    use super::{NaiveDateTime, fmt_fixed};
    use chrono::Timelike;
    use serde::Serializer;

    pub fn serialize<S: Serializer>(t: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
        match (t.second() == 0 && t.nanosecond() == 0)
            .then(|| fmt_fixed(*t, 'T'))
            .flatten()
        {
            Some(mut text) => {
                text.truncate(16);
                s.serialize_str(&text)
            }
            None => super::iso::serialize(t, s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_serde_matches_chrono_byte_for_byte() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct Fast {
            #[serde(with = "iso")]
            t: NaiveDateTime,
            #[serde(default, with = "iso::option")]
            o: Option<NaiveDateTime>,
        }
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct Chrono {
            t: NaiveDateTime,
            o: Option<NaiveDateTime>,
        }
        let whole = parse_db("2026-07-28 13:30:05").unwrap();
        let fraction = whole + chrono::Duration::milliseconds(250);
        for (t, o) in [
            (whole, None),
            (fraction, Some(whole)),
            (whole, Some(fraction)),
        ] {
            let fast = serde_json::to_string(&Fast { t, o }).unwrap();
            let slow = serde_json::to_string(&Chrono { t, o }).unwrap();
            assert_eq!(fast, slow);
            assert_eq!(serde_json::from_str::<Fast>(&slow).unwrap(), Fast { t, o });
        }
        // `iso_short` writes to the minute when it can; `iso` reads it back.
        #[derive(serde::Serialize)]
        struct Short(#[serde(with = "iso_short")] NaiveDateTime);
        let minute = parse_db("2026-07-28 13:30:00").unwrap();
        for (t, text) in [
            (minute, r#""2026-07-28T13:30""#),
            (whole, r#""2026-07-28T13:30:05""#),
            (fraction, r#""2026-07-28T13:30:05.250""#),
        ] {
            let short = serde_json::to_string(&Short(t)).unwrap();
            assert_eq!(short, text);
            let back: Fast = serde_json::from_str(&format!(r#"{{"t":{short}}}"#)).unwrap();
            assert_eq!(back.t, t);
        }
        // A missing optional time is None, as before; a bad one names the problem.
        let f: Fast = serde_json::from_str(r#"{"t":"2026-07-28T13:30:05"}"#).unwrap();
        assert_eq!(f.o, None);
        let err = serde_json::from_str::<Fast>(r#"{"t":"2026-02-30T13:30:05"}"#).unwrap_err();
        assert!(err.to_string().contains("out of range"), "{err}");
    }

    #[test]
    fn plain_now_is_vietnam_time() {
        let t = parse_now("2026-11-25T08:00:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-25T01:00:00+00:00");
        assert_eq!(to_vn(t), parse_db("2026-11-25 08:00:00").unwrap());
        assert!(parse_now("yesterday").unwrap_err().contains("RFC 3339"));
    }

    #[test]
    fn stored_times_are_written_as_chrono_would() {
        for s in [
            "2026-01-02 03:04:05",
            "0999-12-31 23:59:59",
            "2030-02-02 00:00:00",
        ] {
            let t = parse_db(s).unwrap();
            assert_eq!(fmt_db(t), s);
            assert_eq!(fmt_db(t), t.format(DB_TIME).to_string());
        }
        for bad in [
            "2026-02-30 08:00:00",
            "2026-01-01 24:00:00",
            "2026-01-01T08:00:00",
            "2026-1-01 08:00:00x",
            "",
        ] {
            assert_eq!(parse_db(bad), None, "{bad}");
        }
    }
}
