//! The auditors' views (`v_overdue_history`, `v_kpis`) and the storage API
//! answer alike on SQLite and PostgreSQL: the same simulated province synced
//! and checked into one store of each, twice ten days apart (dossiers turn
//! overdue, finish late), then every read compared, as text.

use crate::support::check_with;
use crate::support::*;
use chrono::NaiveDate;
use std::collections::BTreeMap;
use tthc_watch::app::RuleSet as Rules;
use tthc_watch::clock::{Clock, from_vn};
use tthc_watch::source::Shape;
use tthc_watch::source::rest::RestSource;
use tthc_watch::source::sync::sync_source;
use tthc_watch::store::{DossierFilter, DossierLine, KpiGroup, Store};

pub const OVERDUE_HISTORY: &str =
    "SELECT * FROM v_overdue_history ORDER BY source, code, at, class";
pub const KPIS: &str = "SELECT * FROM v_kpis ORDER BY month, unit_code, field_code";

/// Syncs the simulated province into `db` and checks it (verdicts, alerts,
/// messages, apology drafts) at the simulator's now.
pub async fn sync_and_check(sim: &TestSim, db: &TestDb) {
    let clock = Clock::fixed(from_vn(sim.sim.now()));
    let mut src = RestSource::new("tinh", &source_settings(Shape::Native, &sim.url)).unwrap();
    assert_eq!(
        sync_source(&db.store, &mut src, 10, &clock).await.error,
        None
    );
    // Mail is only queued here: no SMTP server is needed.
    let settings = test_settings(&db.url, 1);
    let rules = Rules::load(&settings).unwrap();
    check_with(&settings, &rules, &db.store, &clock)
        .await
        .unwrap();
}

/// What a store answers, read through its API and as text: everything an
/// auditor, the dashboard, the digest and the API would show.
pub async fn answers(store: &Store) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut put = |k: String, v: String| {
        out.insert(k, v);
    };
    let all = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap();
    let end = NaiveDate::from_ymd_opt(2100, 1, 1).unwrap();
    put(
        "views: overdue history".into(),
        format!("{:?}", store.fetch_text(OVERDUE_HISTORY).await.unwrap()),
    );
    put(
        "views: kpis".into(),
        format!("{:?}", store.fetch_text(KPIS).await.unwrap()),
    );
    let filters = [
        DossierFilter::default(),
        DossierFilter {
            class: Some("overdue".into()),
            ..DossierFilter::default()
        },
        DossierFilter {
            from: NaiveDate::from_ymd_opt(2026, 11, 1),
            to: NaiveDate::from_ymd_opt(2026, 11, 20),
            ..DossierFilter::default()
        },
    ];
    for (i, f) in filters.iter().enumerate() {
        let rows = store.list_dossiers(f, 0, 100_000).await.unwrap();
        put(format!("list {i}"), serde_json::to_string(&rows).unwrap());
    }
    for g in ["unit", "field", "officer", "month", "all"] {
        let rows = store
            .kpis(KpiGroup::parse(g).unwrap(), all, end)
            .await
            .unwrap();
        put(
            format!("kpis by {g}"),
            serde_json::to_string(&rows).unwrap(),
        );
    }
    put(
        "classes".into(),
        format!("{:?}", store.count_by_class().await.unwrap()),
    );
    for by_officer in [false, true] {
        put(
            format!("delays {by_officer}"),
            format!("{:?}", store.delay_summary(by_officer).await.unwrap()),
        );
    }
    put(
        "mismatches".into(),
        format!("{:?}", store.count_due_mismatches().await.unwrap()),
    );
    put(
        "at risk".into(),
        format!("{:?}", store.at_risk_lines(20).await.unwrap()),
    );
    put(
        "at risk counts".into(),
        format!("{:?}", store.at_risk_counts().await.unwrap()),
    );
    put(
        "open mismatches".into(),
        format!("{:?}", store.open_mismatches(50).await.unwrap()),
    );
    // PostgreSQL saves two batches of verdicts at once: their alerts may be
    // numbered in another order, and so the messages' keys made from them.
    for r in store.unsent_alert_recipients().await.unwrap() {
        let u = store.unsent_alerts(&r, 20).await.unwrap();
        let lines: Vec<_> = u
            .lines
            .into_iter()
            .map(|l| DossierLine {
                alert_id: None,
                ..l
            })
            .collect();
        put(
            format!("unsent to {r}"),
            format!("{} {:?} {lines:?}", u.ids.len(), u.briefs),
        );
    }
    let outbox: Vec<_> = store
        .outbox()
        .await
        .unwrap()
        .into_iter()
        .map(|m| {
            // JSON as PostgreSQL gives it back (jsonb) or as written.
            let attachments: serde_json::Value = serde_json::from_str(&m.attachments).unwrap();
            (
                m.id,
                m.kind,
                m.recipient,
                m.recipient_name,
                m.subject,
                m.text_body,
                m.html_body,
                attachments,
                m.status,
                m.attempts,
            )
        })
        .collect();
    put("outbox".into(), format!("{outbox:?}"));
    put(
        "audit".into(),
        format!("{:?}", store.verify_audit().await.unwrap()),
    );
    // Entries of batches saved at once may come in either order (ids with
    // them); a page lists what it wrote in the order each backend wrote it
    // (PostgreSQL: the new ones first).
    for kind in [
        "sync_page",
        "evaluations",
        "message_queued",
        "letter_drafted",
    ] {
        let mut entries: Vec<(String, String, String)> = store
            .audit_entries(kind, 1000)
            .await
            .unwrap()
            .into_iter()
            .map(|e| {
                let mut detail: serde_json::Value = serde_json::from_str(&e.detail).unwrap();
                if let Some(w) = detail.get_mut("written").and_then(|w| w.as_array_mut()) {
                    w.sort_by_key(|x| x.to_string());
                }
                if kind == "message_queued"
                    && let Some(d) = detail.as_object_mut()
                {
                    for k in ["alerts", "dedupe_key", "message_id"] {
                        d.remove(k);
                    }
                }
                (e.at, e.subject, detail.to_string())
            })
            .collect();
        entries.sort();
        put(format!("audit {kind}"), format!("{entries:?}"));
    }
    put(
        "sync".into(),
        format!(
            "{:?} {:?}",
            store.sync_state("tinh").await.unwrap(),
            store.sync_freshness().await.unwrap()
        ),
    );
    put(
        "letters".into(),
        format!(
            "{:?} {:?} {:?}",
            store.letter_candidates(None).await.unwrap(),
            store.pending_letters(1000).await.unwrap(),
            store.count_pending_letters().await.unwrap()
        ),
    );
    put(
        "retention".into(),
        format!(
            "{:?}",
            store
                .retention(end, false, t("2026-12-31 00:00"))
                .await
                .unwrap()
        ),
    );
    for table in [
        "dossiers",
        "dossier_history",
        "due_date_history",
        "quarantine",
    ] {
        put(
            format!("rows of {table}"),
            store.count_rows(table).await.unwrap().to_string(),
        );
    }
    for d in store.all_dossiers("tinh").await.unwrap() {
        let id = d.id;
        put(
            format!("dossier {}", d.dossier.code),
            format!(
                "{d:?} {:?} {:?} {:?} {}",
                store.evaluation(id).await.unwrap(),
                store.due_date_history(id).await.unwrap(),
                store.class_history(id).await.unwrap(),
                store.timeline(id).await.unwrap()
            ),
        );
    }
    out
}

/// The two maps are equal; else names every key that differs, with where.
pub fn assert_same(sqlite: &BTreeMap<String, String>, postgres: &BTreeMap<String, String>) {
    assert_eq!(
        sqlite.keys().collect::<Vec<_>>(),
        postgres.keys().collect::<Vec<_>>()
    );
    let mut differ = Vec::new();
    for (k, a) in sqlite {
        let b = &postgres[k];
        if a != b {
            let at = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
            let around = |s: &str| {
                s.chars()
                    .skip(at.saturating_sub(80))
                    .take(200)
                    .collect::<String>()
            };
            differ.push(format!(
                "{k}:\n  SQLite:     …{}\n  PostgreSQL: …{}",
                around(a),
                around(b)
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "differ between SQLite and PostgreSQL:\n{}",
        differ.join("\n")
    );
}

#[tokio::test]
async fn views_and_reads_answer_alike_on_sqlite_and_postgres() {
    if !postgres_available().await {
        return;
    }
    let sim = spawn_simulator(Shape::Native, 600, "").await;
    let dbs = [
        TestDb::new(Backend::Sqlite).await,
        TestDb::new(Backend::Postgres).await,
    ];
    for days in [0, 10] {
        sim.sim.advance(chrono::Duration::days(days));
        for db in &dbs {
            sync_and_check(&sim, db).await;
        }
    }
    let sqlite = answers(&dbs[0].store).await;
    assert_same(&sqlite, &answers(&dbs[1].store).await);

    // The views hold something worth comparing.
    let history = dbs[0].store.fetch_text(OVERDUE_HISTORY).await.unwrap();
    let classes: Vec<&str> = history.iter().filter_map(|r| r[8].as_deref()).collect();
    assert!(
        classes.contains(&"overdue") && classes.contains(&"late"),
        "{classes:?}"
    );
    // v_kpis agrees with the KPI report by month (finished on time, late).
    let kpis = dbs[0].store.fetch_text(KPIS).await.unwrap();
    let mut by_month: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
    for r in &kpis {
        let n = |i: usize| r[i].as_deref().unwrap().parse::<i64>().unwrap();
        let m = by_month.entry(r[0].clone().unwrap()).or_default();
        (m.0, m.1, m.2) = (m.0 + n(5), m.1 + n(6), m.2 + n(7));
    }
    assert!(
        by_month.values().any(|m| m.2 > 0),
        "some dossiers are overdue"
    );
    let (from, to) = (
        NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(),
        NaiveDate::from_ymd_opt(2100, 1, 1).unwrap(),
    );
    let report = dbs[0].store.kpis(KpiGroup::Month, from, to).await.unwrap();
    assert!(report.iter().any(|r| r.late > 0));
    for r in report.iter().filter(|r| r.finished > 0) {
        let (on_time, late, _) = by_month[&r.group];
        assert_eq!(
            (on_time, late),
            (r.before_due + r.on_due_day, r.late),
            "{}",
            r.group
        );
    }
    for db in dbs {
        db.cleanup().await;
    }
}
