//! The calendar's past years (2019–2024) checked day by day against an outside reference, the
//! Python `holidays` package (fixture made by `tests/fixtures/calendar/generate.py`), and the
//! edges of the covered years: what can be answered without the uncovered side and what not.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{Datelike, Days, NaiveDate};

use super::naive::{naive_add, naive_count};
use super::testing::{cal, cal_2025_2027, d, dt, hours};
use super::{Calendar, CalendarError};

const FIXTURE: &str = include_str!("../../tests/fixtures/calendar/vn-reference-2019-2024.json");

/// Days on which `config/calendar.toml` and the `holidays` package are known to disagree, with
/// the reason; keep in step with the comment above `[years.2019]` in the calendar file.
/// None so far: every day of 2019–2024 agrees.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[];

#[derive(serde::Deserialize)]
struct Reference {
    years: (i32, i32),
    working: BTreeMap<NaiveDate, bool>,
}

fn shipped_file() -> Calendar {
    // The file itself, not the copy built into the binary, so an edit is seen without a rebuild.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/calendar.toml");
    Calendar::load(&path).unwrap()
}

#[test]
fn every_day_of_2019_to_2024_matches_the_holidays_package() {
    let reference: Reference = serde_json::from_str(FIXTURE).unwrap();
    assert_eq!(reference.years, (2019, 2024));
    // Every day, no gap: 2019–2024 has two leap years.
    assert_eq!(reference.working.len(), 6 * 365 + 2);
    let c = shipped_file();
    let known: BTreeMap<NaiveDate, &str> = KNOWN_DIFFERENCES
        .iter()
        .map(|(date, why)| (date.parse().unwrap(), *why))
        .collect();
    let mut unexpected = Vec::new();
    let mut differing = Vec::new();
    for (&date, &theirs) in &reference.working {
        let ours = c.is_working_day(date).unwrap();
        if ours != theirs {
            differing.push(date);
            if !known.contains_key(&date) {
                unexpected.push(format!(
                    "{date} ({}): calendar.toml says {}, holidays says {}",
                    date.weekday(),
                    if ours { "working" } else { "day off" },
                    if theirs { "working" } else { "day off" },
                ));
            }
        }
    }
    assert!(
        unexpected.is_empty(),
        "unexplained differences:\n{}",
        unexpected.join("\n")
    );
    // A listed difference that no longer differs must leave the list.
    for date in known.keys() {
        assert!(differing.contains(date), "{date} is listed but agrees now");
    }
}

#[test]
fn working_days_per_past_year_match_hand_counts() {
    // Weekdays minus weekdays off plus make-up days, counted by hand from the entries:
    // 2019: 261 - 11 (1/1, 4–8/2, 15/4, 29/4–1/5, 2/9) + 2 (5/1, 4/5) = 252
    // 2020: 262 - 10 (1/1, 23–24/1, 27–29/1, 2/4, 30/4, 1/5, 2/9) = 252
    // 2021: 261 - 11 (1/1, 10–12/2, 15–16/2, 21/4, 30/4, 3/5, 2–3/9) = 250
    // 2022: 260 - 11 (3/1, 31/1–4/2, 11/4, 2–3/5, 1–2/9) = 249
    // 2023: 260 - 11 (2/1, 20/1, 23–26/1, 1–3/5, 1/9, 4/9) = 249
    // 2024: 262 - 12 (1/1, 8–9/2, 12–14/2, 18/4, 29/4–1/5, 2–3/9) + 1 (4/5) = 251
    let c = cal();
    for (year, hand) in [
        (2019, 252),
        (2020, 252),
        (2021, 250),
        (2022, 249),
        (2023, 249),
        (2024, 251),
    ] {
        assert_eq!(
            c.count(d(year - 1, 12, 31), d(year, 12, 31)).unwrap(),
            hand,
            "{year}"
        );
    }
}

#[test]
fn past_swaps_and_make_up_days() {
    let c = cal();
    for (date, working) in [
        (d(2019, 1, 5), true),   // làm bù for 31/12/2018
        (d(2019, 4, 29), false), // swapped
        (d(2019, 5, 4), true),   // làm bù
        (d(2020, 9, 2), false),  // one day only under the 2012 Labour Code
        (d(2020, 9, 3), true),
        (d(2021, 9, 3), false), // the first adjacent Quốc khánh day
        (d(2022, 1, 3), false), // 1/1 on a Saturday
        (d(2023, 5, 3), false), // 30/4 on a Sunday
        (d(2023, 5, 6), false), // no make-up Saturday in 2023
        (d(2023, 9, 4), false),
        (d(2024, 4, 29), false),
        (d(2024, 5, 4), true),
        (d(2024, 9, 3), false),
    ] {
        assert_eq!(c.is_working_day(date).unwrap(), working, "{date}");
    }
    assert_eq!(
        c.day_off_name(d(2023, 5, 2)),
        Some("Nghỉ bù Giỗ Tổ Hùng Vương và Ngày Chiến thắng")
    );
}

// --- the edges of the covered years -------------------------------------------------------

#[test]
fn count_from_the_day_before_the_calendar() {
    // The original case: 2024 not covered, counting from its last day needs only 2025.
    let old = cal_2025_2027();
    assert_eq!(old.count(d(2024, 12, 31), d(2025, 12, 31)).unwrap(), 250);
    assert_eq!(old.count(d(2025, 12, 31), d(2024, 12, 31)).unwrap(), -250);
    let e = old.count(d(2024, 12, 30), d(2025, 12, 31)).unwrap_err();
    assert!(matches!(e, CalendarError::OutOfRange { date, .. } if date == d(2024, 12, 31)));
    assert!(e.to_string().contains("add year 2024"), "{e}");
    // With 2019 the first covered year, the same edge moves to 31/12/2018.
    let c = cal();
    assert_eq!(c.count(d(2018, 12, 31), d(2019, 12, 31)).unwrap(), 252);
    // 1/1/2019 off; 2, 3, 4/1 and the make-up Saturday 5/1 are working days.
    assert_eq!(c.count(d(2018, 12, 31), d(2019, 1, 5)).unwrap(), 4);
    assert_eq!(c.count(d(2018, 12, 31), d(2019, 1, 1)).unwrap(), 0);
    let e = c.count(d(2018, 12, 30), d(2019, 1, 5)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "date 2018-12-31 (needed to count the working days from 2018-12-30 to 2019-01-05) is \
         outside the working-day calendar (it covers 2019–2027); add year 2018 to \
         config/calendar.toml"
    );
    let e = c.count(d(2017, 6, 1), d(2019, 1, 5)).unwrap_err();
    assert!(e.to_string().contains("add years 2017–2018"), "{e}");
    // The later date itself counts, so it must be covered.
    assert!(c.count(d(2027, 12, 31), d(2028, 1, 3)).is_err());
    assert!(c.count(d(2018, 12, 31), d(2018, 12, 30)).is_err());
    // An empty range needs no day at all.
    assert_eq!(c.count(d(2030, 1, 1), d(2030, 1, 1)).unwrap(), 0);
}

#[test]
fn add_at_the_edges() {
    let c = cal();
    // From the day before the calendar, forwards: 2/1, 3/1, 4/1, then Saturday 5/1 (làm bù).
    assert_eq!(c.add(d(2018, 12, 31), 1).unwrap(), d(2019, 1, 2));
    assert_eq!(c.add(d(2018, 12, 31), 4).unwrap(), d(2019, 1, 5));
    assert_eq!(c.add(d(2018, 12, 31), 5).unwrap(), d(2019, 1, 7));
    assert_eq!(c.next_working_day(d(2018, 12, 31)).unwrap(), d(2019, 1, 2));
    // Staying inside the calendar, across the old 2024/2025 edge.
    assert_eq!(c.add(d(2024, 12, 31), 1).unwrap(), d(2025, 1, 2));
    assert_eq!(c.add(d(2025, 1, 2), -1).unwrap(), d(2024, 12, 31));
    // Before Monday 7/1/2019: 5/1 (làm bù), 4/1, 3/1, 2/1.
    assert_eq!(c.add(d(2019, 1, 7), -4).unwrap(), d(2019, 1, 2));
    // Backwards from the day after the calendar: 31/12/2027 is a Friday.
    assert_eq!(c.add(d(2028, 1, 1), -1).unwrap(), d(2027, 12, 31));
    assert_eq!(c.prev_working_day(d(2028, 1, 1)).unwrap(), d(2027, 12, 31));
    // Into uncovered years: errors naming the missing year.
    let e = c.add(d(2019, 1, 7), -5).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the result of adding -5 working days to 2019-01-07 is outside the working-day \
         calendar (it covers 2019–2027); add year 2018 to config/calendar.toml"
    );
    assert!(c.add(d(2018, 12, 31), -1).is_err()); // needs 30/12/2018
    let e = c.add(d(2018, 12, 30), 1).unwrap_err(); // needs 31/12/2018
    assert!(matches!(e, CalendarError::OutOfRange { date, .. } if date == d(2018, 12, 30)));
    assert!(e.to_string().contains("add year 2018"), "{e}");
    assert!(c.add(d(2028, 1, 1), 1).is_err());
    assert!(c.add(d(2028, 1, 2), -1).is_err());
    assert!(c.add(d(2018, 12, 31), 100_000).is_err());
    // Adding nothing needs no day.
    assert_eq!(c.add(d(2030, 5, 5), 0).unwrap(), d(2030, 5, 5));
    // The original case, on a calendar without 2024.
    let old = cal_2025_2027();
    assert_eq!(old.add(d(2024, 12, 31), 1).unwrap(), d(2025, 1, 2));
    assert!(old.add(d(2025, 1, 2), -1).is_err());
}

#[test]
fn edges_agree_with_naive() {
    for c in [cal(), cal_2025_2027()] {
        let edges = [c.first_day(), c.last_day()];
        for edge in edges {
            for offset in -4i64..=4 {
                let x = if offset < 0 {
                    edge - Days::new(offset.unsigned_abs())
                } else {
                    edge + Days::new(offset.unsigned_abs())
                };
                for n in -12i64..=12 {
                    let fast = c.add(x, n).map_err(|e| e.to_string());
                    let slow = naive_add(c, x, n).map_err(|e| e.to_string());
                    assert_eq!(fast, slow, "{x} + {n}");
                }
                for span in 0u64..=10 {
                    let y = x + Days::new(span);
                    let fast = c.count(x, y).map_err(|e| e.to_string());
                    let slow = naive_count(c, x, y).map_err(|e| e.to_string());
                    assert_eq!(fast, slow, "{x}..{y}");
                    let fast = c.count(y, x).map_err(|e| e.to_string());
                    let slow = naive_count(c, y, x).map_err(|e| e.to_string());
                    assert_eq!(fast, slow, "{y}..{x}");
                }
            }
        }
    }
}

#[test]
fn office_hours_at_the_edges() {
    let h = hours();
    let old = cal_2025_2027();
    // After closing on 31/12/2024 the day does not matter: handling starts 2/1/2025 07:00.
    assert_eq!(
        old.effective_start(&h, dt(2024, 12, 31, 17, 30)).unwrap(),
        dt(2025, 1, 2, 7, 0)
    );
    assert_eq!(
        old.add_working_minutes(&h, dt(2024, 12, 31, 18, 0), 480)
            .unwrap(),
        dt(2025, 1, 2, 17, 0)
    );
    assert_eq!(
        old.working_minutes_between(&h, dt(2024, 12, 31, 17, 0), dt(2025, 1, 2, 9, 0))
            .unwrap(),
        120
    );
    // During office hours it does: was 31/12/2024 a working day?
    assert!(old.effective_start(&h, dt(2024, 12, 31, 16, 0)).is_err());
    assert!(
        old.working_minutes_between(&h, dt(2024, 12, 31, 16, 0), dt(2025, 1, 2, 9, 0))
            .is_err()
    );
    // At the other end: before opening on 1/1/2028 nothing of that day has elapsed.
    assert_eq!(
        old.working_minutes_between(&h, dt(2027, 12, 31, 16, 0), dt(2028, 1, 1, 6, 0))
            .unwrap(),
        60
    );
    assert!(
        old.working_minutes_between(&h, dt(2027, 12, 31, 16, 0), dt(2028, 1, 1, 8, 0))
            .is_err()
    );
    // Going back from the last evening needs no next working day.
    assert_eq!(
        old.add_working_minutes(&h, dt(2027, 12, 31, 18, 0), -60)
            .unwrap(),
        dt(2027, 12, 31, 16, 0)
    );
    assert!(
        old.add_working_minutes(&h, dt(2027, 12, 31, 18, 0), 1)
            .is_err()
    );
    // An empty or reversed interval is 0 anywhere.
    assert_eq!(
        old.working_minutes_between(&h, dt(2030, 1, 2, 9, 0), dt(2030, 1, 1, 9, 0))
            .unwrap(),
        0
    );
    // With 2019 covered: 31/12/2018 evening + 4 days ends on the make-up Saturday 5/1/2019.
    assert_eq!(
        cal()
            .add_working_minutes(&h, dt(2018, 12, 31, 17, 0), 4 * 480)
            .unwrap(),
        dt(2019, 1, 5, 17, 0)
    );
}
