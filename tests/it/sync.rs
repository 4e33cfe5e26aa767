//! Polling the simulator into SQLite and PostgreSQL: every field arrives, only
//! changes are written, every shape maps, every fault is survived.

use crate::support::*;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use tthc_watch::clock::{Clock, from_vn};
use tthc_watch::dossier::Dossier;
use tthc_watch::source::rest::RestSource;
use tthc_watch::source::sync::{SyncSummary, sync_source};
use tthc_watch::source::{Cursor, Shape};
use tthc_watch::store::Incoming;
use tthc_watch::text::nfc;

async fn sync(db: &TestDb, sim: &TestSim, shape: Shape) -> SyncSummary {
    let mut src = RestSource::new("tinh", &source_settings(shape, &sim.url)).expect("source");
    src.retry_base = std::time::Duration::from_millis(20);
    sync_source(
        &db.store,
        &mut src,
        10,
        &Clock::fixed(from_vn(sim.sim.now())),
    )
    .await
}

fn by_code(ds: Vec<Dossier>) -> HashMap<String, Dossier> {
    ds.into_iter().map(|d| (d.code.clone(), d)).collect()
}

async fn stored(db: &TestDb) -> HashMap<String, Dossier> {
    by_code(
        db.store
            .all_dossiers("tinh")
            .await
            .expect("read back")
            .into_iter()
            .filter(|s| !s.deleted)
            .map(|s| s.dossier)
            .collect(),
    )
}

async fn native_roundtrip(backend: Backend) {
    let sim = spawn_simulator(Shape::Native, 400, "").await;
    let db = TestDb::new(backend).await;

    let s1 = sync(&db, &sim, Shape::Native).await;
    assert_eq!(s1.error, None);
    let before = by_code(sim.sim.snapshot());
    assert!(
        before.len() > 250,
        "the simulator shows {} dossiers",
        before.len()
    );
    assert_eq!(
        stored(&db).await,
        before,
        "every field of every dossier is stored as the source has it"
    );
    assert_eq!(s1.outcome.created as usize, before.len());

    // Five working days later: dossiers progress, finish, pause, arrive, get deleted.
    sim.sim.advance(chrono::Duration::days(7));
    let after = by_code(sim.sim.snapshot());
    let changed = after
        .iter()
        .filter(|(c, d)| before.get(*c).is_some_and(|b| b != *d))
        .count();
    let new = after.keys().filter(|c| !before.contains_key(*c)).count();
    let deleted = before.keys().filter(|c| !after.contains_key(*c)).count();
    assert!(
        changed > 0 && new > 0,
        "the world moved: {changed} changed, {new} new"
    );
    let history_before = db.store.count_rows("dossier_history").await.unwrap();

    let s2 = sync(&db, &sim, Shape::Native).await;
    assert_eq!(s2.error, None);
    assert_eq!(s2.outcome.changed as usize, changed, "{s2}");
    assert_eq!(s2.outcome.created as usize, new, "{s2}");
    assert_eq!(s2.outcome.deleted as usize, deleted, "{s2}");
    assert_eq!(
        s2.outcome.unchanged, 0,
        "keyset paging sends only what changed: {s2}"
    );
    assert_eq!(stored(&db).await, after);
    let history_after = db.store.count_rows("dossier_history").await.unwrap();
    // A new dossier's first sighting is implied by its row: history rows
    // are the changes and deletions; the timeline still starts with "created".
    assert_eq!(history_after - history_before, (changed + deleted) as i64);

    // The original promise survives the source overwriting its due date.
    let moved: Vec<&Dossier> = after
        .values()
        .filter(|d| {
            before
                .get(&d.code)
                .is_some_and(|b| b.due_at.is_some() && b.due_at != d.due_at)
        })
        .collect();
    assert!(
        !moved.is_empty(),
        "some due dates moved (pauses, extensions)"
    );
    for d in moved {
        let s = db.store.dossier("tinh", &d.code).await.unwrap().unwrap();
        assert_eq!(s.original_due_at, before[&d.code].due_at, "{}", d.code);
        let h = db.store.due_date_history(s.id).await.unwrap();
        assert_eq!(h.first().map(|x| x.0), Some(before[&d.code].due_at));
        assert_eq!(h.last().map(|x| x.0), Some(d.due_at));
    }

    // Nothing changed: nothing fetched, nothing written.
    let s3 = sync(&db, &sim, Shape::Native).await;
    assert_eq!(
        (s3.fetched, s3.outcome.created + s3.outcome.changed),
        (0, 0),
        "{s3}"
    );
    assert_eq!(
        db.store.count_rows("dossier_history").await.unwrap(),
        history_after
    );
    db.cleanup().await;
}

#[tokio::test]
async fn native_sync_stores_every_field_then_only_changes_sqlite() {
    native_roundtrip(Backend::Sqlite).await;
}

#[tokio::test]
async fn native_sync_stores_every_field_then_only_changes_postgres() {
    if postgres_available().await {
        native_roundtrip(Backend::Postgres).await;
    }
}

/// Hashes stored by an older version (another form of hash) make every
/// re-read record look changed; the content is compared and only the hash
/// is rewritten: no history, no "last changed", nothing to re-check.
async fn older_hashes_are_rewritten_silently(backend: Backend) {
    let sim = spawn_simulator(Shape::Native, 200, "").await;
    let db = TestDb::new(backend).await;
    let s1 = sync(&db, &sim, Shape::Native).await;
    assert_eq!(s1.error, None);
    let before = stored(&db).await;
    let sql = [
        "UPDATE dossiers SET content_hash = 'old-' || content_hash",
        "UPDATE sync_state SET watermark = NULL",
    ];
    for q in sql {
        execute(&db, q).await.unwrap();
    }
    let changed_at = |db: &TestDb| {
        let store = db.store.clone();
        async move {
            let all = store.all_dossiers("tinh").await.unwrap();
            all.into_iter()
                .map(|s| (s.dossier.code, s.last_changed_at))
                .collect::<HashMap<_, _>>()
        }
    };
    let times = changed_at(&db).await;

    let s2 = sync(&db, &sim, Shape::Native).await;
    assert_eq!(s2.error, None);
    assert_eq!(
        (s2.outcome.created, s2.outcome.changed, s2.outcome.unchanged),
        (0, 0, s1.outcome.created),
        "{s2}"
    );
    assert_eq!(db.store.count_rows("dossier_history").await.unwrap(), 0);
    assert_eq!(stored(&db).await, before);
    assert_eq!(changed_at(&db).await, times);
    let q = "SELECT COUNT(*) FROM dossiers WHERE content_hash LIKE 'old-%'";
    let old = db.store.fetch_i64(q).await.unwrap();
    assert_eq!(old, 0, "every hash is in the current form again");
    db.cleanup().await;
}

/// A source deletes a record, then sends it again exactly as it was: the
/// dossier is live again, and the history says it was restored.
async fn a_deleted_dossier_sent_again_unchanged_is_restored(backend: Backend) {
    let db = TestDb::new(backend).await;
    let d = scripted_dossier(
        "H56-261102-0000001",
        "DD",
        "PKT",
        "2026-11-02 08:00",
        10,
        "2026-11-16 08:00",
    );
    let page = |dossiers: Vec<Dossier>, deleted: Vec<String>, at: &'static str| {
        let store = db.store.clone();
        async move {
            let dossiers: Vec<_> = dossiers.into_iter().map(Incoming::new).collect();
            store
                .apply_page("tinh", &dossiers, &deleted, &[], None, t(at))
                .await
                .unwrap()
        }
    };
    page(vec![d.clone()], vec![], "2026-11-02 09:00").await;
    let gone = page(vec![], vec![d.code.clone()], "2026-11-03 09:00").await;
    assert_eq!(gone.deleted, 1);
    let stored = db.store.dossier("tinh", &d.code).await.unwrap().unwrap();
    assert!(stored.deleted);

    let back = page(vec![d.clone()], vec![], "2026-11-04 09:00").await;
    assert_eq!((back.changed, back.unchanged), (1, 0), "{back:?}");
    let stored = db.store.dossier("tinh", &d.code).await.unwrap().unwrap();
    assert!(!stored.deleted, "live again");
    assert_eq!(stored.dossier, d);
    assert_eq!(stored.last_changed_at, t("2026-11-04 09:00"));
    // As auditors read it: the dossier's timeline.
    let timeline = db.store.timeline(stored.id).await.unwrap();
    let kinds: Vec<&str> = timeline["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["created", "deleted", "restored"]);
    // Sent once more as it was: nothing to record now.
    let again = page(vec![d.clone()], vec![], "2026-11-05 09:00").await;
    assert_eq!((again.changed, again.unchanged), (0, 1), "{again:?}");
    db.cleanup().await;
}

#[tokio::test]
async fn a_deleted_dossier_sent_again_unchanged_is_restored_sqlite() {
    a_deleted_dossier_sent_again_unchanged_is_restored(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_deleted_dossier_sent_again_unchanged_is_restored_postgres() {
    if postgres_available().await {
        a_deleted_dossier_sent_again_unchanged_is_restored(Backend::Postgres).await;
    }
}

/// A sync's transaction dropped before its commit (a shutdown, a failed
/// page) leaves nothing behind and no lock: the next poll writes at once.
async fn a_sync_transaction_dropped_before_commit_leaves_nothing(backend: Backend) {
    let db = TestDb::new(backend).await;
    let d = scripted_dossier(
        "H56-261102-0000001",
        "DD",
        "PKT",
        "2026-11-02 08:00",
        10,
        "2026-11-16 08:00",
    );
    let page = [Incoming::new(d)];
    let mut tx = db.store.sync_writer().await.unwrap().begin().await.unwrap();
    let out = tx
        .apply_page("tinh", &page, &[], &[], Some("7"), t("2026-11-02 09:00"))
        .await
        .unwrap();
    assert_eq!(out.created, 1);
    drop(tx);
    assert_eq!(db.store.count_rows("dossiers").await.unwrap(), 0);
    let state = db.store.sync_state("tinh").await.unwrap();
    assert_eq!(state.watermark, None, "the watermark did not move");
    let again = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        db.store
            .apply_page("tinh", &page, &[], &[], Some("7"), t("2026-11-02 09:05")),
    )
    .await
    .expect("no write lock was left behind")
    .unwrap();
    assert_eq!(again.created, 1);
    assert_eq!(db.store.count_rows("dossiers").await.unwrap(), 1);
    let state = db.store.sync_state("tinh").await.unwrap();
    assert_eq!(state.watermark.as_deref(), Some("7"));
    db.cleanup().await;
}

#[tokio::test]
async fn a_sync_transaction_dropped_before_commit_leaves_nothing_sqlite() {
    a_sync_transaction_dropped_before_commit_leaves_nothing(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_sync_transaction_dropped_before_commit_leaves_nothing_postgres() {
    if postgres_available().await {
        a_sync_transaction_dropped_before_commit_leaves_nothing(Backend::Postgres).await;
    }
}

#[tokio::test]
async fn older_hashes_are_rewritten_silently_sqlite() {
    older_hashes_are_rewritten_silently(Backend::Sqlite).await;
}

#[tokio::test]
async fn older_hashes_are_rewritten_silently_postgres() {
    if postgres_available().await {
        older_hashes_are_rewritten_silently(Backend::Postgres).await;
    }
}

/// What a family's wire carries of a dossier (the simulator knows more than
/// each real system sends): `core` without what the family leaves out.
fn wire_core(shape: Shape, d: &Dossier) -> serde_json::Value {
    let mut v = core(d);
    let m = v.as_object_mut().unwrap();
    if shape == Shape::Native {
        return v;
    }
    // Every family writes a submission time, the receipt's for desk dossiers.
    m.remove("submitted_at");
    // A pause the source flags while processing (OpenCPS lockState, iGate 4).
    let paused = d.status == tthc_watch::dossier::Status::Processing
        && d.pauses.iter().any(|p| p.ended_at.is_none());
    m.insert("paused".into(), paused.into());
    match shape {
        Shape::Opencps => {
            // No steps at the public commit; names upper-cased.
            m.remove("steps");
            m.insert(
                "applicant_name".into(),
                d.applicant_name.to_uppercase().into(),
            );
        }
        Shape::Onedoor => {
            // Neither steps, the officer by name nor the last-change time.
            for k in ["steps", "officer", "updated_at"] {
                m.remove(k);
            }
        }
        _ => {
            // No return time, no applicant type.
            for k in ["returned_at", "applicant_kind"] {
                m.remove(k);
            }
        }
    }
    v
}

/// The dossiers a family's wire lets tthc-watch watch: received ones (a
/// dossier never received has no receipt time on the wire).
fn watched(shape: Shape, all: Vec<Dossier>) -> HashMap<String, Dossier> {
    by_code(
        all.into_iter()
            .filter(|d| {
                shape == Shape::Native || d.status != tthc_watch::dossier::Status::Submitted
            })
            .collect(),
    )
}

async fn shape_roundtrip(shape: Shape, backend: Backend) {
    let sim = spawn_simulator(shape, 250, "").await;
    let db = TestDb::new(backend).await;
    let s1 = sync(&db, &sim, shape).await;
    assert_eq!(s1.error, None, "{s1}");
    let truth = watched(shape, sim.sim.snapshot());
    let got = stored(&db).await;
    assert_eq!(got.len(), truth.len(), "{s1}");
    for (code, d) in &truth {
        assert_eq!(
            wire_core(shape, &got[code]),
            wire_core(shape, d),
            "{} shape, dossier {code}",
            shape.as_str()
        );
    }

    sim.sim.advance(chrono::Duration::days(3));
    let after = watched(shape, sim.sim.snapshot());
    let changed = after
        .iter()
        .filter(|(c, d)| {
            truth
                .get(*c)
                .is_some_and(|b| wire_core(shape, b) != wire_core(shape, d))
        })
        .count();
    let new = after.keys().filter(|c| !truth.contains_key(*c)).count();
    let s2 = sync(&db, &sim, shape).await;
    assert_eq!(s2.error, None, "{s2}");
    assert_eq!(s2.outcome.created as usize, new, "{s2}");
    assert_eq!(s2.outcome.changed as usize, changed, "{s2}");
    // Two hours on (no full re-read due): newest-first paging stops (at the
    // watermark, or at a page with nothing new) instead of re-reading
    // everything; OpenCPS's sort cannot be trusted: it reads its window.
    sim.sim.advance(chrono::Duration::hours(2));
    let after = watched(shape, sim.sim.snapshot());
    let s3 = sync(&db, &sim, shape).await;
    assert_eq!(s3.error, None, "{s3}");
    if shape != Shape::Opencps {
        assert!(s3.fetched < sim.sim.snapshot().len() as u64, "{s3}");
    }
    let got = stored(&db).await;
    for (code, d) in &after {
        assert_eq!(
            wire_core(shape, &got[code]),
            wire_core(shape, d),
            "{} shape after a poll, dossier {code}",
            shape.as_str()
        );
    }
    db.cleanup().await;
}

#[tokio::test]
async fn igate_shape_maps_every_field() {
    shape_roundtrip(Shape::Igate, Backend::Sqlite).await;
}

#[tokio::test]
async fn opencps_shape_maps_every_field() {
    shape_roundtrip(Shape::Opencps, Backend::Sqlite).await;
}

#[tokio::test]
async fn onedoor_shape_maps_every_field() {
    shape_roundtrip(Shape::Onedoor, Backend::Sqlite).await;
}

#[tokio::test]
async fn onedoor_shape_into_postgres() {
    if postgres_available().await {
        shape_roundtrip(Shape::Onedoor, Backend::Postgres).await;
    }
}

#[tokio::test]
async fn server_errors_then_recovery_lose_nothing() {
    let sim = spawn_simulator(Shape::Native, 200, "").await;
    let db = TestDb::new(Backend::Sqlite).await;
    assert_eq!(sync(&db, &sim, Shape::Native).await.error, None);
    let kept = stored(&db).await;

    sim.sim.advance(chrono::Duration::days(2));
    sim.sim
        .set_faults(tthc_watch::simulator::Faults::parse("error=1").unwrap());
    let failed = sync(&db, &sim, Shape::Native).await;
    let err = failed.error.expect("a source answering 500 fails the run");
    assert!(err.contains("500"), "{err}");
    assert_eq!(stored(&db).await, kept, "data already stored is kept");
    let state = db.store.sync_state("tinh").await.unwrap();
    assert!(state.last_error.is_some_and(|e| e.contains("500")));

    sim.sim.set_faults(tthc_watch::simulator::Faults::default());
    let ok = sync(&db, &sim, Shape::Native).await;
    assert_eq!(ok.error, None);
    assert_eq!(stored(&db).await, by_code(sim.sim.snapshot()));
    assert_eq!(db.store.sync_state("tinh").await.unwrap().last_error, None);
    db.cleanup().await;
}

#[tokio::test]
async fn flaky_source_is_retried_to_completion() {
    let sim = spawn_simulator(Shape::Native, 600, "error=0.25,truncate=0.2,rate_limit=0.1").await;
    let db = TestDb::new(Backend::Sqlite).await;
    // Small pages: enough requests for every fault to strike (each is rolled
    // on its own, reproducibly).
    let mut settings = source_settings(Shape::Native, &sim.url);
    settings.page_size = 20;
    let mut src = RestSource::new("tinh", &settings).unwrap();
    src.retry_base = std::time::Duration::from_millis(20);
    let s = sync_source(
        &db.store,
        &mut src,
        10,
        &Clock::fixed(from_vn(sim.sim.now())),
    )
    .await;
    assert_eq!(s.error, None, "{s}");
    let stats = &sim.sim.stats;
    assert!(stats.errors.load(Ordering::Relaxed) > 0);
    assert!(stats.truncated.load(Ordering::Relaxed) > 0);
    assert!(stats.rate_limited.load(Ordering::Relaxed) > 0);
    assert_eq!(stored(&db).await, by_code(sim.sim.snapshot()));
    db.cleanup().await;
}

#[tokio::test]
async fn timeouts_are_retried() {
    let sim = spawn_simulator(Shape::Native, 300, "timeout=0.3,timeout_secs=3").await;
    let db = TestDb::new(Backend::Sqlite).await;
    let mut settings = source_settings(Shape::Native, &sim.url);
    settings.timeout_secs = 1;
    settings.page_size = 25;
    let mut src = RestSource::new("tinh", &settings).unwrap();
    src.retry_base = std::time::Duration::from_millis(20);
    let s = sync_source(
        &db.store,
        &mut src,
        10,
        &Clock::fixed(from_vn(sim.sim.now())),
    )
    .await;
    assert_eq!(s.error, None, "{s}");
    assert!(sim.sim.stats.timeouts.load(Ordering::Relaxed) > 0);
    assert_eq!(stored(&db).await, by_code(sim.sim.snapshot()));
    db.cleanup().await;
}

#[tokio::test]
async fn malformed_records_are_quarantined_with_their_reason() {
    let sim = spawn_simulator(Shape::Native, 400, "malformed=0.05").await;
    let db = TestDb::new(Backend::Sqlite).await;
    let s = sync(&db, &sim, Shape::Native).await;
    assert_eq!(s.error, None, "one bad record never stops a sync: {s}");
    let q = db.store.quarantined("tinh").await.unwrap();
    let broken = sim.sim.stats.malformed.load(Ordering::Relaxed);
    assert!(broken > 0);
    assert_eq!(q.len() as u64, broken);
    assert_eq!(s.outcome.quarantined, broken);
    for r in &q {
        assert!(
            r.reason.contains("field code is missing")
                || r.reason
                    .contains("field received_at: '2026-02-30T25:61:00'"),
            "reason names the field: {}",
            r.reason
        );
        assert!(r.raw.starts_with('{'), "the raw record is kept");
    }
    // Records with a code are traceable; the rest of the page is stored.
    assert!(q.iter().any(|r| r.code.is_some()));
    let truth = by_code(sim.sim.snapshot());
    let got = stored(&db).await;
    assert_eq!(got.len() as u64 + broken, truth.len() as u64);
    for (code, d) in &got {
        assert_eq!(d, &truth[code]);
    }
    db.cleanup().await;
}

#[tokio::test]
async fn decomposed_text_is_stored_composed() {
    let sim = spawn_simulator(Shape::Onedoor, 200, "nfd=0.5").await;
    let db = TestDb::new(Backend::Sqlite).await;
    let s = sync(&db, &sim, Shape::Onedoor).await;
    assert_eq!(s.error, None, "{s}");
    assert!(sim.sim.stats.nfd.load(Ordering::Relaxed) > 50);
    let truth = watched(Shape::Onedoor, sim.sim.snapshot());
    let got = stored(&db).await;
    for (code, d) in &truth {
        assert_eq!(
            wire_core(Shape::Onedoor, &got[code]),
            wire_core(Shape::Onedoor, d)
        );
        assert_eq!(nfc(&got[code].applicant_name), got[code].applicant_name);
    }
    db.cleanup().await;
}

#[tokio::test]
async fn a_slow_source_gets_each_page_committed_while_it_is_awaited() {
    // Pages share a transaction only while they come quickly: with a source
    // taking 400 ms per page, what is written is committed (visible to
    // readers, the write lock free) before the next page arrives.
    let sim = spawn_simulator(Shape::Native, 300, "latency=400ms").await;
    let db = TestDb::new(Backend::Sqlite).await;
    let total = sim.sim.snapshot().len() as i64;
    let mut partial = None;
    let mut poll = Box::pin(sync(&db, &sim, Shape::Native));
    let summary = loop {
        tokio::select! {
            s = &mut poll => break s,
            _ = tokio::time::sleep(std::time::Duration::from_millis(50)) => {
                let n = db.store.count_rows("dossiers").await.unwrap();
                if n > 0 && n < total {
                    partial = Some(n);
                }
            }
        }
    };
    drop(poll);
    assert_eq!(summary.error, None, "{summary}");
    assert!(summary.pages > 2, "several pages: {summary}");
    assert!(
        partial.is_some(),
        "readers saw the first pages before the poll ended"
    );
    assert_eq!(db.store.count_rows("dossiers").await.unwrap(), total);
    db.cleanup().await;
}

/// PostgreSQL writes a page that looks new without looking its dossiers up:
/// one repeated from an earlier page makes it fall back to the lookup.
async fn records_repeated_across_pages_are_stored_once(backend: Backend) {
    let sim = spawn_simulator(Shape::Igate, 300, "repeat=0.7").await;
    let db = TestDb::new(backend).await;
    let s = sync(&db, &sim, Shape::Igate).await;
    assert_eq!(s.error, None, "{s}");
    let repeated = sim.sim.stats.repeated.load(Ordering::Relaxed);
    assert!(repeated > 0);
    let all = sim.sim.snapshot().len();
    let truth = watched(Shape::Igate, sim.sim.snapshot());
    assert_eq!(s.fetched, all as u64 + repeated);
    assert_eq!(s.outcome.created as usize, truth.len());
    assert_eq!(
        db.store.count_rows("dossiers").await.unwrap() as usize,
        truth.len()
    );
    assert_eq!(
        db.store.count_rows("dossier_history").await.unwrap(),
        0,
        "a repeated record is not a change"
    );
    db.cleanup().await;
}

#[tokio::test]
async fn records_repeated_across_pages_are_stored_once_sqlite() {
    records_repeated_across_pages_are_stored_once(Backend::Sqlite).await;
}

#[tokio::test]
async fn records_repeated_across_pages_are_stored_once_postgres() {
    if postgres_available().await {
        records_repeated_across_pages_are_stored_once(Backend::Postgres).await;
    }
}

#[tokio::test]
async fn session_token_expiring_mid_sync_is_renewed() {
    // Tokens live 1 s; each page takes 150 ms; the sync takes several seconds.
    let sim = spawn_simulator(Shape::Igate, 300, "token_ttl=1,latency=150ms").await;
    let db = TestDb::new(Backend::Sqlite).await;
    let mut settings = source_settings(Shape::Igate, &sim.url);
    settings.page_size = 20;
    let mut src = RestSource::new("tinh", &settings).unwrap();
    let s = sync_source(
        &db.store,
        &mut src,
        10,
        &Clock::fixed(from_vn(sim.sim.now())),
    )
    .await;
    assert_eq!(s.error, None, "{s}");
    assert!(
        sim.sim.stats.tokens_issued.load(Ordering::Relaxed) >= 2,
        "the token was renewed"
    );
    assert_eq!(
        stored(&db).await.len(),
        watched(Shape::Igate, sim.sim.snapshot()).len()
    );
    db.cleanup().await;
}

#[tokio::test]
async fn wrong_credentials_fail_with_a_clear_error() {
    let sim = spawn_simulator(Shape::Native, 10, "").await;
    let db = TestDb::new(Backend::Sqlite).await;
    let mut settings = source_settings(Shape::Native, &sim.url);
    settings.auth = tthc_watch::source::AuthSettings::Bearer {
        token: "wrong".into(),
    };
    let mut src = RestSource::new("tinh", &settings).unwrap();
    let s = sync_source(
        &db.store,
        &mut src,
        10,
        &Clock::fixed(from_vn(sim.sim.now())),
    )
    .await;
    let err = s.error.expect("refused");
    assert!(
        err.contains("credentials refused (HTTP 401)") && err.contains("sources.tinh.auth"),
        "{err}"
    );
    db.cleanup().await;
}

#[tokio::test]
async fn a_full_disk_is_a_clear_error_and_nothing_is_half_written() {
    let sim = spawn_simulator(Shape::Native, 300, "").await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("full.db").display());
    let store = tthc_watch::store::Store::connect(&url, 1).await.unwrap();
    let mut db = TestDb {
        store,
        url: url.clone(),
        _dir: None,
        pg_admin: None,
    };
    assert_eq!(sync(&db, &sim, Shape::Native).await.error, None);
    let before = (
        db.store.count_rows("dossiers").await.unwrap(),
        db.store.count_rows("dossier_history").await.unwrap(),
    );
    // The disk is full: SQLite may not grow the file any more, on every
    // connection the store opens (the sync writes on one of its own).
    let pages = db.store.fetch_i64("PRAGMA page_count").await.unwrap();
    db.store.close().await;
    let pages = pages.to_string();
    db.store =
        tthc_watch::store::Store::connect_with(&url, 1, &[("max_page_count", pages.as_str())])
            .await
            .unwrap();
    sim.sim.advance(chrono::Duration::days(20));
    let s = sync(&db, &sim, Shape::Native).await;
    let err = s.error.expect("a full disk fails the sync");
    assert!(
        err.contains("full"),
        "the error says the disk is full: {err}"
    );
    let after = (
        db.store.count_rows("dossiers").await.unwrap(),
        db.store.count_rows("dossier_history").await.unwrap(),
    );
    assert_eq!(after, before, "the failed page was rolled back whole");

    // Space again: the next sync stores everything, the file intact.
    db.store.close().await;
    db.store = tthc_watch::store::Store::connect(&url, 1).await.unwrap();
    assert_eq!(sync(&db, &sim, Shape::Native).await.error, None);
    assert_eq!(
        db.store.count_rows("dossiers").await.unwrap() as usize,
        sim.sim.snapshot().len()
    );
    let check = db.store.fetch_text("PRAGMA integrity_check").await.unwrap();
    assert_eq!(check, vec![vec![Some("ok".to_owned())]]);
}

/// A source that redirects to another host: its custom credential headers
/// (OpenCPS `Token`, `groupId`) must not follow, and the error says where it
/// pointed and what to do.
#[tokio::test]
async fn credentials_do_not_follow_a_redirect_to_another_host() {
    use axum::http::HeaderMap;
    use std::sync::{Arc, Mutex};
    let seen: Arc<Mutex<Vec<HeaderMap>>> = Arc::default();
    let elsewhere = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let elsewhere_url = format!(
        "http://localhost:{}",
        elsewhere.local_addr().unwrap().port()
    );
    let record = seen.clone();
    tokio::spawn(async move {
        let app = axum::Router::new().fallback(move |headers: HeaderMap| {
            let record = record.clone();
            async move {
                record.lock().unwrap().push(headers);
                "{}"
            }
        });
        axum::serve(elsewhere, app).await.unwrap();
    });
    let source = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let source_url = format!("http://127.0.0.1:{}", source.local_addr().unwrap().port());
    let to = format!("{elsewhere_url}/steal?key=abc");
    tokio::spawn(async move {
        let app = axum::Router::new().fallback(move || {
            let to = to.clone();
            async move { axum::response::Redirect::temporary(&to) }
        });
        axum::serve(source, app).await.unwrap();
    });

    let mut src = RestSource::new("tinh", &source_settings(Shape::Opencps, &source_url)).unwrap();
    let err = src.fetch(&Cursor::Page(0)).await.unwrap_err().to_string();
    assert!(
        err.contains("redirects to another address") && err.contains("sources.tinh.url"),
        "{err}"
    );
    assert!(
        !err.contains("abc"),
        "the redirect's secret is printed: {err}"
    );
    assert!(seen.lock().unwrap().is_empty(), "the other host was asked");
}

/// A source that sends a page larger than any real page (a misconfigured
/// proxy, an endless body) is refused before it fills the memory.
#[tokio::test]
async fn an_oversized_page_is_refused() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    tokio::spawn(async move {
        let app = axum::Router::new().fallback(|| async {
            // 200 MiB of a JSON array's worth of spaces, made as it is sent.
            let chunk = bytes::Bytes::from(vec![b' '; 1 << 20]);
            let body = futures_util::stream::iter(
                std::iter::once(Ok::<_, std::io::Error>(bytes::Bytes::from_static(
                    b"{\"items\":[",
                )))
                .chain(std::iter::repeat_n(chunk, 200).map(Ok)),
            );
            axum::body::Body::from_stream(body)
        });
        axum::serve(listener, app).await.unwrap();
    });
    let mut src = RestSource::new("tinh", &source_settings(Shape::Native, &url)).unwrap();
    let err = src
        .fetch(&Cursor::Revision(0))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("larger than 128 MiB") && err.contains("sources.tinh.page_size"),
        "{err}"
    );
}
