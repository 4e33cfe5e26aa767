//! `check` over a synced store: the stored verdicts are the engine's verdicts on
//! the source's own records (a round trip through the sync and the store, not
//! an independent check of the engine: `tests/it/escalation.rs` and
//! `src/deadline/tests.rs` hold hand-computed dates), re-running changes
//! nothing, and each day's class changes are recorded.

use crate::support::*;
use chrono::NaiveDateTime;
use std::collections::BTreeMap;
use tthc_watch::calendar::{Calendar, OfficeHours};
use tthc_watch::check::{Scope, run_check};
use tthc_watch::clock::{Clock, from_vn};
use tthc_watch::deadline::{Class, Engine, Rules};
use tthc_watch::dossier::Dossier;
use tthc_watch::source::Shape;
use tthc_watch::source::rest::RestSource;
use tthc_watch::source::sync::sync_source;

/// Dossiers per class as the engine judges the source's truth at `now`.
fn expected_classes(
    engine: &Engine,
    truth: &[Dossier],
    now: NaiveDateTime,
) -> BTreeMap<Class, i64> {
    let mut expected: BTreeMap<Class, i64> = BTreeMap::new();
    for d in truth {
        *expected
            .entry(engine.evaluate(d, now).unwrap().class)
            .or_default() += 1;
    }
    expected
}

/// Dossiers per class as stored (what the dashboard and /metrics show).
async fn stored_classes(db: &TestDb) -> BTreeMap<Class, i64> {
    db.store
        .count_by_class()
        .await
        .unwrap()
        .into_iter()
        .collect()
}

/// The step each delay is charged to: dossiers at risk or late at `now`
/// carry the engine's first step delay (computed here from the source's
/// truth); the others carry none.
async fn assert_delays_charged(
    db: &TestDb,
    engine: &Engine<'_>,
    truth: &[Dossier],
    now: NaiveDateTime,
) {
    let mut charged = 0;
    for d in truth {
        let class = engine.evaluate(d, now).unwrap().class;
        let want = class
            .has_delay_cause()
            .then(|| engine.step_delays(d, now).unwrap().into_iter().next())
            .flatten()
            .map(|x| (x.step, x.unit, x.working_days_over));
        let id = db.store.dossier("tinh", &d.code).await.unwrap().unwrap().id;
        let got = db.store.evaluation(id).await.unwrap().unwrap().delay;
        let got = got.map(|x| (x.step, x.unit, x.working_days_over));
        assert_eq!(got, want, "{} at {now}", d.code);
        charged += usize::from(got.is_some());
    }
    assert!(charged > 0, "some delays are charged to a step at {now}");
}

/// 600 simulated dossiers synced into a fresh store.
async fn synced(backend: Backend) -> (TestSim, TestDb, RestSource) {
    let sim = spawn_simulator(Shape::Native, 600, "").await;
    let db = TestDb::new(backend).await;
    let mut src = RestSource::new("tinh", &source_settings(Shape::Native, &sim.url)).unwrap();
    let clock = Clock::fixed(from_vn(sim.sim.now()));
    assert_eq!(
        sync_source(&db.store, &mut src, 10, &clock).await.error,
        None
    );
    (sim, db, src)
}

/// The built-in calendar, default office hours and rules.
fn defaults() -> (Calendar, OfficeHours, Rules) {
    (
        Calendar::builtin().unwrap(),
        OfficeHours::default(),
        Rules::default(),
    )
}

async fn check_roundtrip(backend: Backend) {
    let (sim, db, mut src) = synced(backend).await;
    let (cal, hours, rules) = defaults();
    let engine = Engine::new(&cal, &hours, &rules);
    let now = sim.sim.now();
    let s = run_check(&db.store, &engine, None, now, Scope::Due)
        .await
        .unwrap();
    let truth = sim.sim.snapshot();
    assert_eq!(s.evaluated as usize, truth.len());
    assert_eq!(s.errors, 0);

    let expected = expected_classes(&engine, &truth, now);
    assert_eq!(stored_classes(&db).await, expected);
    assert!(
        expected.get(&Class::DueSoon).is_some_and(|n| *n > 0)
            && expected.get(&Class::Overdue).is_some_and(|n| *n > 0)
    );

    assert_delays_charged(&db, &engine, &truth, now).await;

    // Same moment again: nothing to write.
    let again = run_check(&db.store, &engine, None, now, Scope::Due)
        .await
        .unwrap();
    assert_eq!((again.changed, again.class_changes), (0, 0), "{again}");
    assert!(again.evaluated < s.evaluated, "only open ones: {again}");
    // Everything again (after a calendar correction): all read, nothing differs.
    let all = run_check(&db.store, &engine, None, now, Scope::All)
        .await
        .unwrap();
    assert_eq!((all.evaluated, all.changed), (s.evaluated, 0), "{all}");

    // The next working morning, without a poll: due-soon dossiers move on.
    let next = cal
        .add(now.date(), 1)
        .unwrap()
        .and_hms_opt(8, 0, 0)
        .unwrap();
    let later = run_check(&db.store, &engine, None, next, Scope::Due)
        .await
        .unwrap();
    assert!(later.class_changes > 0, "{later}");
    // Charged again from the next morning's point of view: the steps of those
    // at risk before come with their row, the newly at risk are read by id.
    assert_delays_charged(&db, &engine, &truth, next).await;
    let moved = truth
        .iter()
        .find(|d| {
            engine.evaluate(d, now).unwrap().class == Class::DueSoon
                && engine.evaluate(d, next).unwrap().class == Class::DueToday
        })
        .expect("a dossier due soon today is due tomorrow");
    let id = db
        .store
        .dossier("tinh", &moved.code)
        .await
        .unwrap()
        .unwrap()
        .id;
    let history = db.store.class_history(id).await.unwrap();
    assert_eq!(
        history,
        vec![
            (None, "due_soon".to_string()),
            (Some("due_soon".to_string()), "due_today".to_string())
        ]
    );

    // Polled daily until the source has deleted dossiers it had sent: their
    // verdicts stay stored, and the counts (dashboard, /metrics) leave them out.
    let mut deleted = 0;
    for _ in 0..60 {
        sim.sim.advance(chrono::Duration::days(1));
        let clock = Clock::fixed(from_vn(sim.sim.now()));
        deleted += sync_source(&db.store, &mut src, 10, &clock)
            .await
            .outcome
            .deleted;
        run_check(&db.store, &engine, None, sim.sim.now(), Scope::Due)
            .await
            .unwrap();
        if deleted > 0 {
            break;
        }
    }
    assert!(deleted > 0, "the source deleted a dossier it had sent");
    let now = sim.sim.now();
    assert_eq!(
        stored_classes(&db).await,
        expected_classes(&engine, &sim.sim.snapshot(), now),
        "deleted dossiers are not counted"
    );
    db.cleanup().await;
}

#[tokio::test]
async fn check_classifies_every_dossier_sqlite() {
    check_roundtrip(Backend::Sqlite).await;
}

#[tokio::test]
async fn check_classifies_every_dossier_postgres() {
    if postgres_available().await {
        check_roundtrip(Backend::Postgres).await;
    }
}

/// Morning after morning without a poll, the stored classes, delay causes and
/// the working days the lists show (derived when read: an open verdict does
/// not store them) stay what the engine says of the source's truth; yet each
/// check looks only at the verdicts whose moment came, not at every open one.
async fn days_move_without_rewriting(backend: Backend) {
    let (sim, db, _src) = synced(backend).await;
    let (cal, hours, rules) = defaults();
    let engine = Engine::new(&cal, &hours, &rules);
    let truth = sim.sim.snapshot();
    let start = sim.sim.now();
    run_check(&db.store, &engine, None, start, Scope::Due)
        .await
        .unwrap();
    let (mut looked_at, mut open_days) = (0, 0);
    // Three weeks of mornings and afternoons, weekends and days off included.
    for half_days in 1..=42 {
        let t = start.date().and_hms_opt(8, 0, 0).unwrap()
            + chrono::Duration::hours(12 * half_days + 6 * (half_days % 2));
        let s = run_check(&db.store, &engine, None, t, Scope::Due)
            .await
            .unwrap();
        assert_eq!(s.errors, 0, "{s}");
        assert_eq!(
            stored_classes(&db).await,
            expected_classes(&engine, &truth, t),
            "at {t}"
        );
        assert_delays_charged(&db, &engine, &truth, t).await;
        let rows = db
            .store
            .list_dossiers(&Default::default(), 0, 10_000)
            .await
            .unwrap();
        for d in &truth {
            let mut row = rows.iter().find(|r| r.code == d.code).unwrap().clone();
            row.days_on(&cal, t.date());
            let e = engine.evaluate(d, t).unwrap();
            assert_eq!(
                (row.working_days_left, row.working_days_late),
                (e.working_days_left, e.working_days_late),
                "{} at {t} ({:?})",
                d.code,
                e.class
            );
        }
        looked_at += s.evaluated;
        open_days += expected_classes(&engine, &truth, t)
            .iter()
            .filter(|(c, _)| c.is_open())
            .map(|(_, n)| *n as u64)
            .sum::<u64>();
    }
    // Looked at: the verdicts whose class or cause could move, not every
    // open one every time.
    assert!(
        looked_at * 4 < open_days,
        "looked at {looked_at} verdicts where {open_days} were open"
    );
    db.cleanup().await;
}

#[tokio::test]
async fn days_move_without_rewriting_sqlite() {
    days_move_without_rewriting(Backend::Sqlite).await;
}

#[tokio::test]
async fn days_move_without_rewriting_postgres() {
    if postgres_available().await {
        days_move_without_rewriting(Backend::Postgres).await;
    }
}

/// A dossier the sync changes is looked at by the next check though its
/// verdict could not have moved with time (not yet due for weeks), and a
/// change queued while a check runs (after it read the queue) is not lost.
async fn changed_dossiers_are_looked_at_again(backend: Backend) {
    let db = TestDb::new(backend).await;
    let (cal, hours, rules) = defaults();
    let engine = Engine::new(&cal, &hours, &rules);
    let received = "2026-11-02 08:00";
    let open = |code: &str| scripted_dossier(code, "DD", "PKT", received, 30, "2026-12-14 08:00");
    let store_page = |d: Dossier, at: &str| {
        let store = db.store.clone();
        let at = tthc_watch::clock::parse_db(&format!("{at}:00")).unwrap();
        async move {
            store
                .apply_page(
                    "tinh",
                    &[tthc_watch::store::Incoming::new(d)],
                    &[],
                    &[],
                    None,
                    at,
                )
                .await
                .unwrap()
        }
    };
    store_page(open("A-1"), "2026-11-02 09:00").await;
    store_page(open("A-2"), "2026-11-02 09:00").await;
    let now = tthc_watch::clock::parse_db("2026-11-03 08:00:00").unwrap();
    let first = run_check(&db.store, &engine, None, now, Scope::Due)
        .await
        .unwrap();
    assert_eq!(first.evaluated, 2, "{first}");
    let class = |code: &'static str| {
        let store = db.store.clone();
        async move {
            let id = store.dossier("tinh", code).await.unwrap().unwrap().id;
            store.evaluation(id).await.unwrap().unwrap().class
        }
    };
    assert_eq!(class("A-1").await, Class::NotYetDue);

    // Finished the next day: the next check looks at it (and only at it).
    let mut done = open("A-1");
    done.status = tthc_watch::dossier::Status::Finished;
    done.finished_at = tthc_watch::clock::parse_db("2026-11-04 10:00:00");
    store_page(done, "2026-11-04 11:00").await;
    let later = tthc_watch::clock::parse_db("2026-11-04 12:00:00").unwrap();
    let s = run_check(&db.store, &engine, None, later, Scope::Due)
        .await
        .unwrap();
    assert_eq!((s.evaluated, s.class_changes), (1, 1), "{s}");
    assert_eq!(class("A-1").await, Class::BeforeDue);

    // A check has read the queue (A-1 changed again, as if that check then
    // looked at it); a change is queued meanwhile; the check removes what it
    // read: the change stays for the next check.
    let mut again = open("A-1");
    again.officer = Some("Lê Văn Tám".into());
    store_page(again, "2026-11-04 12:30").await;
    let read: Vec<i64> = db
        .store
        .queued()
        .await
        .unwrap()
        .iter()
        .map(|q| q.0)
        .collect();
    assert_eq!(read.len(), 1);
    let mut refused = open("A-2");
    refused.status = tthc_watch::dossier::Status::Refused;
    store_page(refused, "2026-11-04 13:00").await;
    db.store.unqueue(&read).await.unwrap();
    let s = run_check(
        &db.store,
        &engine,
        None,
        later + chrono::Duration::hours(2),
        Scope::Due,
    )
    .await
    .unwrap();
    assert_eq!(s.evaluated, 1, "{s}");
    assert_eq!(class("A-2").await, Class::Closed);
    db.cleanup().await;
}

#[tokio::test]
async fn changed_dossiers_are_looked_at_again_sqlite() {
    changed_dossiers_are_looked_at_again(Backend::Sqlite).await;
}

#[tokio::test]
async fn changed_dossiers_are_looked_at_again_postgres() {
    if postgres_available().await {
        changed_dossiers_are_looked_at_again(Backend::Postgres).await;
    }
}

/// An auditor's history never points at nothing: a class change or an alert
/// for a dossier that is not stored is refused, and on PostgreSQL (where they
/// are keyed to the verdict they were written with) so is removing a verdict
/// that class changes point at.
async fn history_never_points_at_nothing(backend: Backend) {
    let (sim, db, _src) = synced(backend).await;
    let (cal, hours, rules) = defaults();
    let engine = Engine::new(&cal, &hours, &rules);
    run_check(&db.store, &engine, None, sim.sim.now(), Scope::Due)
        .await
        .unwrap();
    let missing = 1_000_000_000;
    let refused = [
        format!(
            "INSERT INTO classification_history (dossier_id, at, to_class) \
             VALUES ({missing}, '2026-11-25 08:00:00', 'overdue')"
        ),
        format!(
            "INSERT INTO alerts (dossier_id, rung, due_at, recipient, recipient_role, unrouted, created_at) \
             VALUES ({missing}, 'overdue', '2026-11-30 17:00:00', 'a@example.vn', 'centre', FALSE, '2026-11-25 08:00:00')"
        ),
    ];
    for q in &refused {
        let e = execute(&db, q).await.expect_err(q);
        assert!(e.to_lowercase().contains("foreign key"), "{q}: {e}");
    }
    if matches!(backend, Backend::Postgres) {
        let q = "DELETE FROM evaluations WHERE dossier_id = \
                 (SELECT MIN(dossier_id) FROM classification_history)";
        let e = execute(&db, q).await.expect_err(q);
        assert!(e.contains("classification_history_verdict_fkey"), "{e}");
    }
    db.cleanup().await;
}

#[tokio::test]
async fn history_never_points_at_nothing_sqlite() {
    history_never_points_at_nothing(Backend::Sqlite).await;
}

#[tokio::test]
async fn history_never_points_at_nothing_postgres() {
    if postgres_available().await {
        history_never_points_at_nothing(Backend::Postgres).await;
    }
}
