//! Each rule on real 2025/2026 dates.

use super::*;
use crate::dossier::{ApplicantKind, Channel, Duration, Extension, Pause, Step};
use chrono::NaiveDateTime;

fn t(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
}

fn cal() -> Calendar {
    Calendar::builtin().unwrap()
}

fn dossier(received: &str, days: u32) -> Dossier {
    Dossier {
        code: "T-1".into(),
        procedure_code: None,
        procedure_name: "Cấp giấy phép xây dựng".into(),
        field_code: "XD".into(),
        field_name: "Xây dựng".into(),
        unit_code: "PQLDT".into(),
        unit_name: "Phòng Quản lý đô thị".into(),
        officer: None,
        applicant_name: "Nguyễn Văn An".into(),
        applicant_kind: ApplicantKind::Person,
        applicant_id_no: None,
        applicant_phone: None,
        applicant_email: None,
        applicant_address: None,
        summary: None,
        channel: Channel::Direct,
        status: Status::Processing,
        submitted_at: None,
        received_at: t(received),
        due_at: None,
        finished_at: None,
        returned_at: None,
        duration: Some(Duration::WorkingDays(days)),
        steps: vec![],
        pauses: vec![],
        extension: None,
        updated_at: t(received),
    }
}

fn due(received: &str, days: u32) -> NaiveDateTime {
    let (c, h, r) = (cal(), OfficeHours::default(), Rules::default());
    Engine::new(&c, &h, &r)
        .computed_due(&dossier(received, days))
        .unwrap()
        .unwrap()
}

fn eval(d: &Dossier, now: &str) -> Evaluation {
    let (c, h, r) = (cal(), OfficeHours::default(), Rules::default());
    Engine::new(&c, &h, &r).evaluate(d, t(now)).unwrap()
}

#[test]
fn due_dates_on_the_official_calendar() {
    // Friday 15:30, 3 working days, 24/11/2026 (Ngày Văn hóa Việt Nam) off.
    assert_eq!(due("2026-11-20 15:30", 3), t("2026-11-26 15:30"));
    // Received after closing on Friday: counts from Monday 07:00.
    assert_eq!(due("2026-11-20 17:30", 3), t("2026-11-26 17:00"));
    // Received during lunch: from the afternoon opening (13:30 Monday + 8 working
    // hours, across the holiday, ends at 11:30 Wednesday).
    assert_eq!(due("2026-11-23 12:00", 1), t("2026-11-25 11:30"));
    // Tết Bính Ngọ 2026: 14/2–22/2 off.
    assert_eq!(due("2026-02-12 09:00", 5), t("2026-02-26 09:00"));
    // Make-up working Saturdays 10/01/2026 and 22/08/2026 count.
    assert_eq!(due("2026-01-09 10:00", 1), t("2026-01-10 10:00"));
    assert_eq!(due("2026-08-21 10:00", 2), t("2026-08-24 10:00"));
    // 02/01/2026 and 31/08/2026 were swapped off.
    assert_eq!(due("2025-12-31 10:00", 1), t("2026-01-05 10:00"));
    assert_eq!(due("2026-08-28 10:00", 1), t("2026-09-03 10:00"));
    // 30/4–1/5/2026.
    assert_eq!(due("2026-04-29 14:00", 2), t("2026-05-05 14:00"));
    // Durations in hours: 4 working hours from 15:00 run into the next morning.
    let mut d = dossier("2026-11-25 15:00", 0);
    d.duration = Some(Duration::WorkingHours(4));
    let (c, h, r) = (cal(), OfficeHours::default(), Rules::default());
    assert_eq!(
        Engine::new(&c, &h, &r).computed_due(&d).unwrap(),
        Some(t("2026-11-26 09:00"))
    );
}

#[test]
fn open_dossier_classes_day_by_day() {
    let mut d = dossier("2026-11-20 15:30", 3);
    d.due_at = Some(t("2026-11-26 15:30"));
    let e = eval(&d, "2026-11-19 08:00");
    assert_eq!((e.class, e.working_days_left), (Class::NotYetDue, Some(4)));
    let e = eval(&d, "2026-11-20 16:00");
    assert_eq!((e.class, e.working_days_left), (Class::DueSoon, Some(3)));
    // The holiday in between does not count.
    let e = eval(&d, "2026-11-23 08:00");
    assert_eq!((e.class, e.working_days_left), (Class::DueSoon, Some(2)));
    let e = eval(&d, "2026-11-26 09:00");
    assert_eq!(e.class, Class::DueToday);
    assert_eq!(e.minutes_left_today, Some(150 + 120));
    let e = eval(&d, "2026-11-27 08:00");
    assert_eq!((e.class, e.working_days_late), (Class::Overdue, Some(1)));
    // Saturday and Sunday do not add lateness.
    let e = eval(&d, "2026-11-30 08:00");
    assert_eq!((e.class, e.working_days_late), (Class::Overdue, Some(2)));
    assert!(!e.due_mismatch);
}

#[test]
fn finished_dossier_outcomes() {
    let mut d = dossier("2026-11-20 15:30", 3);
    d.due_at = Some(t("2026-11-26 15:30"));
    d.status = Status::Returned;
    for (finished, class, late) in [
        ("2026-11-25 16:00", Class::BeforeDue, None),
        ("2026-11-26 10:00", Class::OnDueDay, None),
        // Exactly on the due day, even after the due time.
        ("2026-11-26 16:30", Class::OnDueDay, None),
        ("2026-11-27 09:00", Class::Late, Some(1)),
        ("2026-11-30 09:00", Class::Late, Some(2)),
    ] {
        d.finished_at = Some(t(finished));
        let e = eval(&d, "2026-12-10 08:00");
        assert_eq!(
            (e.class, e.working_days_late),
            (class, late),
            "finished {finished}"
        );
    }
}

#[test]
fn due_date_on_a_day_off_still_classifies() {
    // A source that put the due date on 24/11/2026 (a day off).
    let mut d = dossier("2026-11-18 08:00", 4);
    d.due_at = Some(t("2026-11-24 17:00"));
    let e = eval(&d, "2026-11-23 08:00");
    assert_eq!((e.class, e.working_days_left), (Class::DueSoon, Some(0)));
    let e = eval(&d, "2026-11-25 08:00");
    assert_eq!((e.class, e.working_days_late), (Class::Overdue, Some(1)));
    // And the rules say otherwise: 4 working days from 18/11 08:00 is 24/11 → 25/11.
    assert_eq!(e.computed_due_at, Some(t("2026-11-25 08:00")));
    assert!(e.due_mismatch);
}

#[test]
fn supplementation_stops_the_clock_and_restarts_it() {
    let mut d = dossier("2026-11-02 08:00", 10);
    d.due_at = Some(t("2026-11-16 08:00"));
    d.status = Status::SupplementRequested;
    d.pauses = vec![Pause {
        kind: PauseKind::Supplement,
        started_at: t("2026-11-05 10:00"),
        ended_at: None,
        due_before: Some(t("2026-11-16 08:00")),
        due_after: None,
    }];
    // Waiting for the citizen: never overdue, whatever the old due date says.
    assert_eq!(eval(&d, "2026-11-20 08:00").class, Class::Paused);

    // The complete dossier returns on 12/11 14:00: 10 working days from then.
    d.status = Status::Processing;
    d.pauses[0].ended_at = Some(t("2026-11-12 14:00"));
    d.due_at = Some(t("2026-11-27 14:00"));
    let e = eval(&d, "2026-11-20 08:00");
    assert_eq!(e.computed_due_at, Some(t("2026-11-27 14:00")));
    assert!(!e.due_mismatch);
    assert_eq!((e.class, e.working_days_left), (Class::NotYetDue, Some(4)));

    // Configured to shift instead: the old due date moves by the 5 days 2 hours waited.
    let (c, h) = (cal(), OfficeHours::default());
    let r = Rules {
        supplement: SupplementRule::Shift,
        ..Rules::default()
    };
    let shifted = Engine::new(&c, &h, &r).computed_due(&d).unwrap();
    assert_eq!(shifted, Some(t("2026-11-23 10:00")));
}

#[test]
fn fee_pause_shifts_the_due_date_by_the_paused_time() {
    let mut d = dossier("2026-11-02 08:00", 10);
    d.pauses = vec![Pause {
        kind: PauseKind::Fee,
        started_at: t("2026-11-09 08:00"),
        ended_at: Some(t("2026-11-11 08:00")),
        due_before: None,
        due_after: None,
    }];
    let (c, h, r) = (cal(), OfficeHours::default(), Rules::default());
    // Two working days paused: 16/11 08:00 → 18/11 08:00.
    assert_eq!(
        Engine::new(&c, &h, &r).computed_due(&d).unwrap(),
        Some(t("2026-11-18 08:00"))
    );
}

#[test]
fn extension_sets_the_due_date_once() {
    let mut d = dossier("2026-11-02 08:00", 10);
    d.extension = Some(Extension {
        at: t("2026-11-13 09:00"),
        due_before: t("2026-11-16 08:00"),
        due_after: t("2026-11-20 17:00"),
        reason: None,
    });
    d.due_at = Some(t("2026-11-20 17:00"));
    let e = eval(&d, "2026-11-19 08:00");
    assert_eq!(e.computed_due_at, Some(t("2026-11-20 17:00")));
    assert_eq!(
        (e.class, e.working_days_left, e.due_mismatch),
        (Class::DueSoon, Some(1), false)
    );
}

#[test]
fn no_due_date_is_never_overdue() {
    let mut d = dossier("2025-01-02 08:00", 0);
    d.duration = None;
    let e = eval(&d, "2027-12-01 08:00");
    assert_eq!(e.class, Class::NoDueDate);
    assert_eq!(e.working_days_late, None);
}

#[test]
fn refused_and_withdrawn_are_closed() {
    let mut d = dossier("2026-11-02 08:00", 1);
    d.status = Status::Withdrawn;
    assert_eq!(eval(&d, "2026-12-01 08:00").class, Class::Closed);
}

#[test]
fn source_due_date_disagreeing_with_the_rules_is_flagged() {
    let mut d = dossier("2026-11-02 08:00", 10);
    // Ten calendar days instead of ten working days.
    d.due_at = Some(t("2026-11-12 08:00"));
    let e = eval(&d, "2026-11-03 08:00");
    assert!(e.due_mismatch);
    assert_eq!(
        e.due_at,
        Some(t("2026-11-12 08:00")),
        "the citizen's promise is what counts"
    );
    assert_eq!(e.computed_due_at, Some(t("2026-11-16 08:00")));
    // Within a quarter hour is rounding, not a disagreement.
    d.due_at = Some(t("2026-11-16 08:15"));
    assert!(!eval(&d, "2026-11-03 08:00").due_mismatch);
}

#[test]
fn delay_is_attributed_to_the_step_that_overran() {
    let mut d = dossier("2026-11-02 08:00", 10);
    let step = |name: &str, unit: &str, start: &str, end: Option<&str>, due: &str| Step {
        name: name.into(),
        unit: unit.into(),
        officer: Some(format!("cán bộ {unit}")),
        started_at: t(start),
        finished_at: end.map(t),
        due_at: Some(t(due)),
    };
    d.steps = vec![
        step(
            "Tiếp nhận hồ sơ",
            "Một cửa",
            "2026-11-02 08:00",
            Some("2026-11-02 10:00"),
            "2026-11-03 08:00",
        ),
        step(
            "Thẩm định",
            "Phòng Kinh tế",
            "2026-11-02 10:00",
            Some("2026-11-16 09:00"),
            "2026-11-12 08:00",
        ),
        step(
            "Ký duyệt",
            "UBND",
            "2026-11-16 09:00",
            None,
            "2026-11-13 08:00",
        ),
    ];
    let (c, h, r) = (cal(), OfficeHours::default(), Rules::default());
    let delays = Engine::new(&c, &h, &r)
        .step_delays(&d, t("2026-11-17 08:00"))
        .unwrap();
    // Thẩm định: 12/11 08:00 → 16/11 09:00 is 2 working days and 1 hour over.
    // Ký duyệt, still running, is 2 days past its own due time but inherited
    // more than that: it added no lateness and is not blamed.
    assert_eq!(delays.len(), 1, "{delays:?}");
    assert_eq!(delays[0].step, "Thẩm định");
    assert_eq!(
        (delays[0].working_days_over, delays[0].working_minutes_over),
        (2, 2 * 480 + 60)
    );
    // Had signing run three more days, it would be charged with what it added.
    let later = Engine::new(&c, &h, &r)
        .step_delays(&d, t("2026-11-20 08:00"))
        .unwrap();
    assert_eq!(later.len(), 2);
    // Worst first: signing added 5 days minus the 2 days 1 hour it inherited.
    assert_eq!(later[0].step, "Ký duyệt");
    assert_eq!(later[0].finished_at, None);
    assert_eq!(later[0].working_minutes_over, 5 * 480 - (2 * 480 + 60));
    let by_unit = summarise_delays(&delays, false);
    assert_eq!(by_unit[0], ("Phòng Kinh tế".to_string(), 1, 2));
}

#[test]
fn outside_the_calendar_is_an_error_naming_the_dossier() {
    let d = dossier("2029-03-02 08:00", 3);
    let (c, h, r) = (cal(), OfficeHours::default(), Rules::default());
    let err = Engine::new(&c, &h, &r)
        .computed_due(&d)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("dossier T-1") && err.contains("calendar"),
        "{err}"
    );
}

/// The engine flags exactly the due dates the simulator deliberately gets
/// wrong. Not an independent check of the arithmetic: the simulator adds
/// working minutes with the same `Calendar::add_working_minutes` as the
/// engine. The outside oracles are the hand-computed dates above and the
/// calendar's property tests against a naive day-by-day count.
#[test]
fn the_engine_flags_exactly_the_due_dates_the_simulator_got_wrong() {
    use crate::simulator::world::{View, World, WorldSpec};
    let now = t("2026-11-25 08:00");
    let world = World::build(WorldSpec::new(3000, 11, now), cal(), OfficeHours::default());
    let (c, h, r) = (cal(), OfficeHours::default(), Rules::default());
    let engine = Engine::new(&c, &h, &r);
    let (mut checked, mut flagged) = (0, 0);
    for i in 0..3000 {
        let Some(plan) = world.plan(i) else { continue };
        let View::Record(d) = plan.view(now) else {
            continue;
        };
        if d.pauses.iter().any(|p| p.ended_at.is_none()) || d.due_at.is_none() {
            continue;
        }
        let e = engine.evaluate(&d, now).unwrap();
        assert_eq!(
            e.due_mismatch, plan.bad_source_due,
            "dossier {}: {:?} vs {:?}",
            d.code, d.due_at, e.computed_due_at
        );
        checked += 1;
        flagged += usize::from(e.due_mismatch);
    }
    assert!(
        checked > 2000 && flagged > 5,
        "{checked} checked, {flagged} flagged"
    );
}

mod recheck {
    use super::*;
    use proptest::prelude::*;

    /// What a stored verdict holds that can move with time alone: the class,
    /// whether the ladder's threshold of days late is reached, and the step
    /// blamed with its working days over.
    fn moving(e: &Engine, d: &Dossier, now: NaiveDateTime) -> (Class, bool, Option<(String, i64)>) {
        let ev = e.evaluate(d, now).unwrap();
        let blamed = e
            .step_delays(d, now)
            .unwrap()
            .into_iter()
            .next()
            .map(|s| (s.step, s.working_days_over));
        (ev.class, ev.working_days_late.unwrap_or(0) >= 2, blamed)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// Until the moment a verdict says it can next change, nothing it
        /// holds changes: a check that skips it until then misses nothing.
        #[test]
        fn nothing_moves_before_the_recheck_moment(
            received_day in 0i64..40,
            received_minute in 0i64..(24 * 60),
            days in 1u32..15,
            first_over in -3000i64..3000,
            second_due_after in 0i64..6000,
            now_after in 0i64..(40 * 24 * 60),
        ) {
            let (c, h, r) = (cal(), OfficeHours::default(), Rules::default());
            let e = Engine::new(&c, &h, &r);
            let received = t("2026-10-01 00:00")
                + chrono::Duration::days(received_day)
                + chrono::Duration::minutes(received_minute);
            let mut d = dossier("2026-10-01 00:00", days);
            d.received_at = received;
            // A finished step ending `first_over` minutes from its due time,
            // then a step still running with a due time of its own.
            let first_due = received + chrono::Duration::hours(24);
            let first_end = first_due + chrono::Duration::minutes(first_over);
            let step = |name: &str, start, end, due| Step {
                name: name.into(),
                unit: "Phòng".into(),
                officer: None,
                started_at: start,
                finished_at: end,
                due_at: Some(due),
            };
            d.steps = vec![
                step("Thẩm định", received, Some(first_end), first_due),
                step("Ký duyệt", first_end, None, first_end + chrono::Duration::minutes(second_due_after)),
            ];
            let now = received + chrono::Duration::minutes(now_after);
            let ev = e.evaluate(&d, now).unwrap();
            let times: Vec<StepTimes> = d.steps.iter().map(StepTimes::from).collect();
            let at = [e.recheck_at(&ev, now, Some(2)), e.attribute_delay(&d.code, &times, now).unwrap().recheck_at]
                .into_iter()
                .flatten()
                .min();
            // The attribution by position names the step `step_delays` puts first.
            let blamed = e.attribute_delay(&d.code, &times, now).unwrap().blamed;
            let first = e.step_delays(&d, now).unwrap().into_iter().next();
            prop_assert_eq!(
                blamed.map(|b| (d.steps[b.index].name.clone(), b.working_minutes_over, b.working_days_over)),
                first.map(|f| (f.step, f.working_minutes_over, f.working_days_over))
            );
            let before = moving(&e, &d, now);
            let until = at.unwrap_or(now + chrono::Duration::days(30));
            prop_assert!(until > now);
            let mut t = now;
            while t < until && t < now + chrono::Duration::days(30) {
                prop_assert_eq!(&moving(&e, &d, t), &before, "at {} (recheck at {:?})", t, at);
                t += chrono::Duration::minutes(37);
            }
            let last = until - chrono::Duration::minutes(1);
            if last > now {
                prop_assert_eq!(&moving(&e, &d, last), &before, "just before {:?}", at);
            }
        }
    }
}

/// Received Friday 13/02/2026 at 10:00, 3 working days: Tết Bính Ngọ
/// (Saturday 14/02 to Sunday 22/02) is skipped day by day. By hand: 5 h on
/// Friday 13/02 (10:00–11:30, 13:30–17:00), 8 h on Monday 23/02 and Tuesday
/// 24/02, the last 3 h on Wednesday 25/02: due 25/02 10:00.
#[test]
fn the_due_date_explained_over_tet_2026() {
    let (c, h, r) = (cal(), OfficeHours::default(), Rules::default());
    let engine = Engine::new(&c, &h, &r);
    let x = engine
        .explain(&dossier("2026-02-13 10:00", 3))
        .unwrap()
        .unwrap();
    assert_eq!(x.start, t("2026-02-13 10:00"));
    assert_eq!(x.due, t("2026-02-25 10:00"));
    assert_eq!(x.base_due, x.due);
    assert_eq!(x.days.len(), 13, "13/02 to 25/02");
    assert_eq!(x.days[0].minutes, 300);
    assert_eq!(x.days[0].note, "ngày làm việc, tính 5 giờ");
    for line in &x.days[1..10] {
        assert_eq!(line.minutes, 0, "{line:?}");
        assert_eq!(line.note, "nghỉ: Tết Nguyên đán", "{line:?}");
    }
    assert_eq!(x.days[10].weekday, "Thứ Hai");
    assert_eq!(x.days[10].date.to_string(), "2026-02-23");
    assert_eq!(x.days[11].running, "2 ngày 5 giờ");
    assert_eq!(x.days[12].minutes, 180);
    assert_eq!(x.days[12].running, "3 ngày");
}

/// Received Monday 23/11/2026 at 16:30, 2 working days: Tuesday 24/11 is
/// Ngày Văn hóa Việt Nam. By hand: 30 min on Monday, none on Tuesday, 8 h on
/// Wednesday 25/11, the last 7 h 30 on Thursday 26/11: due 16:30.
#[test]
fn the_due_date_explained_over_the_new_holiday_of_24_11() {
    let (c, h, r) = (cal(), OfficeHours::default(), Rules::default());
    let engine = Engine::new(&c, &h, &r);
    let x = engine
        .explain(&dossier("2026-11-23 16:30", 2))
        .unwrap()
        .unwrap();
    assert_eq!(x.due, t("2026-11-26 16:30"));
    let notes: Vec<&str> = x.days.iter().map(|l| l.note.as_str()).collect();
    assert_eq!(
        notes,
        vec![
            "ngày làm việc, tính 30 phút",
            "nghỉ: Ngày Văn hóa Việt Nam",
            "ngày làm việc",
            "ngày làm việc, tính 7 giờ 30 phút",
        ]
    );
}

/// Saturday 10/01/2026 is a make-up working day; received there after hours,
/// handling starts Monday 12/01 at 07:00 (Sunday skipped). A fee pause adds
/// its working time; an extension replaces the date; each is said.
#[test]
fn a_make_up_saturday_pauses_and_an_extension_are_explained() {
    let (c, h, r) = (cal(), OfficeHours::default(), Rules::default());
    let engine = Engine::new(&c, &h, &r);
    let x = engine
        .explain(&dossier("2026-01-10 09:00", 1))
        .unwrap()
        .unwrap();
    assert_eq!(x.days[0].note, "Thứ Bảy làm bù (làm việc)");
    assert_eq!(x.days[1].note, "nghỉ: Chủ nhật");
    assert_eq!(x.due, t("2026-01-12 09:00"));
    let x = engine
        .explain(&dossier("2026-01-10 18:00", 1))
        .unwrap()
        .unwrap();
    assert_eq!(x.start, t("2026-01-12 07:00"));
    assert!(
        x.start_note.contains("ngày làm việc kế tiếp"),
        "{}",
        x.start_note
    );

    let mut d = dossier("2026-11-23 08:00", 2);
    d.pauses.push(Pause {
        kind: PauseKind::Fee,
        started_at: t("2026-11-23 09:00"),
        ended_at: Some(t("2026-11-23 10:00")),
        due_before: None,
        due_after: None,
    });
    let x = engine.explain(&d).unwrap().unwrap();
    assert_eq!(Some(x.due), engine.computed_due(&d).unwrap());
    assert!(x.changes[0].contains("cộng thêm 1 giờ"), "{:?}", x.changes);
    d.extension = Some(Extension {
        at: t("2026-11-25 08:00"),
        due_before: x.due,
        due_after: t("2026-12-04 17:00"),
        reason: Some("cần xác minh thực địa".into()),
    });
    let x = engine.explain(&d).unwrap().unwrap();
    assert_eq!(x.due, t("2026-12-04 17:00"));
    assert!(
        x.changes.last().unwrap().contains("gia hạn"),
        "{:?}",
        x.changes
    );
}
