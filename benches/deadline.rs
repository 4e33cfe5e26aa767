//! Classifies 1,000,000 open dossiers with the deadline engine (prefix-sum
//! calendar) and, in the same run, with a naive day-by-day calendar walk.
//! `cargo bench --bench deadline`; results are written down in bench/RESULTS.md.

use chrono::{Duration as Span, NaiveDate, NaiveDateTime, NaiveTime};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;
use std::time::Instant;
use tthc_watch::calendar::{Calendar, OfficeHours, naive};
use tthc_watch::deadline::{Class, Engine, Rules};
use tthc_watch::dossier::{ApplicantKind, Channel, Dossier, Duration, Status};

const DISTINCT: usize = 100_000;
const NOWS: usize = 10;

fn dossiers(cal: &Calendar) -> Vec<Dossier> {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let base = NaiveDate::from_ymd_opt(2026, 10, 1)
        .unwrap()
        .and_time(NaiveTime::MIN);
    (0..DISTINCT)
        .map(|i| {
            let received: NaiveDateTime = base + Span::minutes(rng.gen_range(0..60 * 24 * 50));
            let days = rng.gen_range(1..20u32);
            let due = cal
                .add(received.date(), i64::from(days))
                .unwrap()
                .and_time(received.time());
            Dossier {
                code: format!("B-{i}"),
                procedure_code: None,
                procedure_name: String::new(),
                field_code: String::new(),
                field_name: String::new(),
                unit_code: String::new(),
                unit_name: String::new(),
                officer: None,
                applicant_name: String::new(),
                applicant_kind: ApplicantKind::Person,
                applicant_id_no: None,
                applicant_phone: None,
                applicant_email: None,
                applicant_address: None,
                summary: None,
                channel: Channel::Direct,
                status: Status::Processing,
                submitted_at: None,
                received_at: received,
                due_at: Some(due),
                finished_at: None,
                returned_at: None,
                duration: Some(Duration::WorkingDays(days)),
                steps: vec![],
                pauses: vec![],
                extension: None,
                updated_at: received,
            }
        })
        .collect()
}

/// The same classification with a calendar walked one day at a time.
fn naive_class(cal: &Calendar, d: &Dossier, now: NaiveDateTime, warn: i64) -> Class {
    let days = match d.duration {
        Some(Duration::WorkingDays(n)) => i64::from(n),
        _ => 0,
    };
    let _computed = naive::naive_add(cal, d.received_at.date(), days).unwrap();
    let due = d.due_at.unwrap().date();
    let today = now.date();
    if today > due {
        let _late = naive::naive_count(cal, due, today).unwrap();
        Class::Overdue
    } else if today == due {
        Class::DueToday
    } else if naive::naive_count(cal, today, due).unwrap() <= warn {
        Class::DueSoon
    } else {
        Class::NotYetDue
    }
}

fn main() {
    let cal = Calendar::builtin().unwrap();
    let hours = OfficeHours::default();
    let rules = Rules::default();
    let engine = Engine::new(&cal, &hours, &rules);
    let ds = dossiers(&cal);
    let nows: Vec<NaiveDateTime> = (0..NOWS)
        .map(|k| {
            NaiveDate::from_ymd_opt(2026, 11, 2)
                .unwrap()
                .and_hms_opt(8, 0, 0)
                .unwrap()
                + Span::days(k as i64 * 3)
        })
        .collect();
    let total = DISTINCT * NOWS;

    let t = Instant::now();
    let mut overdue = 0usize;
    for now in &nows {
        for d in &ds {
            let e = engine.evaluate(black_box(d), *now).unwrap();
            overdue += usize::from(e.class == Class::Overdue);
        }
    }
    let fast = t.elapsed();

    let t = Instant::now();
    let mut overdue_naive = 0usize;
    for now in &nows {
        for d in &ds {
            overdue_naive += usize::from(
                naive_class(&cal, black_box(d), *now, rules.warning_days) == Class::Overdue,
            );
        }
    }
    let slow = t.elapsed();
    assert_eq!(overdue, overdue_naive, "both classify alike");

    println!("classified {total} open dossiers ({overdue} overdue across {NOWS} mornings)");
    println!(
        "engine (prefix sums, full evaluation incl. recomputed due time): {:.3} s  ({:.0} ns/dossier)",
        fast.as_secs_f64(),
        fast.as_nanos() as f64 / total as f64
    );
    println!(
        "naive day-by-day calendar walk (dates only):                    {:.3} s  ({:.0} ns/dossier)",
        slow.as_secs_f64(),
        slow.as_nanos() as f64 / total as f64
    );
    println!("speed-up: {:.1}x", slow.as_secs_f64() / fast.as_secs_f64());
}
