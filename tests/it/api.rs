//! The auditor API and dashboard over real HTTP: authentication, filters and
//! paging, masking, the timeline, KPIs against an independent computation,
//! CSV/XLSX read back, recording an issued letter, the OpenAPI document, the
//! audit trail.

use crate::support::check_with;
use crate::support::*;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tthc_watch::api::AppState;
use tthc_watch::app::RuleSet as Rules;
use tthc_watch::calendar::{Calendar, OfficeHours};
use tthc_watch::clock::{Clock, from_vn};
use tthc_watch::deadline::{Class, Engine, Rules as DeadlineRules};
use tthc_watch::source::Shape;
use tthc_watch::source::rest::RestSource;
use tthc_watch::source::sync::sync_source;

pub struct TestApi {
    pub base: String,
    pub auditor: String,
    pub centre: String,
    pub db: TestDb,
    pub sim: TestSim,
    pub sink: SmtpSink,
    _letters: tempfile::TempDir,
    shutdown: CancellationToken,
}

impl Drop for TestApi {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A synced, checked store (with alerts and letters) behind a running API.
pub async fn spawn_api(backend: Backend) -> TestApi {
    spawn_api_with(backend, 1200, false).await
}

/// As `spawn_api`, from `dossiers` simulated dossiers; with `mailed`, the
/// alerts are also sent (to `TestApi::sink`), their links pointing at the API.
pub async fn spawn_api_with(backend: Backend, dossiers: u32, mailed: bool) -> TestApi {
    let sim = spawn_simulator(Shape::Native, dossiers, "").await;
    let sink = SmtpSink::start();
    let db = TestDb::new(backend).await;
    let letters = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut settings = test_settings(&db.url, sink.port);
    settings.letters.dir = letters.path().display().to_string();
    let clock = Clock::fixed(from_vn(sim.sim.now()));
    let mut src = RestSource::new("tinh", &source_settings(Shape::Native, &sim.url)).unwrap();
    assert_eq!(
        sync_source(&db.store, &mut src, 10, &clock).await.error,
        None
    );
    let mut rules = Rules::load(&settings).unwrap();
    if mailed {
        rules.routing.committee.dashboard_url = format!("{base}/");
    }
    check_with(&settings, &rules, &db.store, &clock)
        .await
        .unwrap();
    if mailed {
        let sent = tthc_watch::app::send::send(&settings, &db.store, &clock)
            .await
            .unwrap();
        assert!(sent.sent > 0, "{sent}");
    }
    let (_, auditor) = db
        .store
        .create_token("Sở Nội vụ", "auditor", sim.sim.now())
        .await
        .unwrap();
    let (_, centre) = db
        .store
        .create_token("Trung tâm", "centre", sim.sim.now())
        .await
        .unwrap();
    let state = Arc::new(AppState::new(
        &settings,
        db.store.clone(),
        clock,
        rules.routing.clone(),
        rules.calendar.clone(),
    ));
    let shutdown = CancellationToken::new();
    tokio::spawn(tthc_watch::api::serve(listener, state, shutdown.clone()));
    TestApi {
        base,
        auditor,
        centre,
        db,
        sim,
        sink,
        _letters: letters,
        shutdown,
    }
}

impl TestApi {
    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, String) {
        let mut r = reqwest::Client::new().get(format!("{}{path}", self.base));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        let resp = r.send().await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    pub async fn json(&self, path: &str, token: &str) -> serde_json::Value {
        let (status, body) = self.get(path, Some(token)).await;
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    }
}

#[tokio::test]
async fn authentication_and_bad_parameters_are_named() {
    let api = spawn_api(Backend::Sqlite).await;
    let (status, body) = api.get("/api/v1/dossiers", None).await;
    assert_eq!(status, 401);
    assert!(body.contains("missing token"), "{body}");
    assert_eq!(api.get("/api/v1/dossiers", Some("tw_nope")).await.0, 401);
    for (query, names) in [
        ("from=2026-13-01", "'from'"),
        ("class=late-ish", "'class'"),
        ("limit=0", "'limit'"),
        ("limit=abc", "'limit'"),
        ("format=pdf", "'format'"),
        ("colour=red", "'colour'"),
        ("to=", "'to'"),
    ] {
        let (status, body) = api
            .get(&format!("/api/v1/dossiers?{query}"), Some(&api.auditor))
            .await;
        assert_eq!(status, 400, "{query}: {body}");
        let err: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(
            err["error"].as_str().unwrap().contains(names),
            "{query}: {body}"
        );
    }
    let (status, body) = api
        .get("/api/v1/kpis?group=planet", Some(&api.auditor))
        .await;
    assert!(status == 400 && body.contains("'group'"), "{body}");
    // A revoked token stops working.
    let (id, token) = api
        .db
        .store
        .create_token("tạm", "auditor", t("2026-11-25 08:00"))
        .await
        .unwrap();
    assert_eq!(
        api.get("/api/v1/dossiers?limit=1", Some(&token)).await.0,
        200
    );
    api.db
        .store
        .revoke_token(id, t("2026-11-25 09:00"))
        .await
        .unwrap();
    assert_eq!(
        api.get("/api/v1/dossiers?limit=1", Some(&token)).await.0,
        401
    );
}

#[tokio::test]
async fn lists_filter_page_and_mask() {
    let api = spawn_api(Backend::Sqlite).await;
    let overdue = api
        .json("/api/v1/dossiers?class=overdue&limit=1000", &api.auditor)
        .await;
    let items = overdue["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(items.iter().all(|i| i["class"] == "overdue"));
    let expected = api
        .db
        .store
        .count_by_class()
        .await
        .unwrap()
        .into_iter()
        .find(|(c, _)| *c == Class::Overdue)
        .unwrap()
        .1;
    assert_eq!(items.len() as i64, expected);
    // Auditors see no personal data; the centre does.
    let first = &items[0];
    assert_eq!(first["applicant_phone"], "***");
    let full = api
        .json("/api/v1/dossiers?class=overdue&limit=1000", &api.centre)
        .await;
    assert_ne!(full["items"][0]["applicant_phone"], "***");
    assert!(
        full["items"][0]["applicant_name"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .count()
            >= 3
    );

    // Cursor paging: every dossier once.
    let mut seen = BTreeSet::new();
    let mut cursor: Option<i64> = None;
    loop {
        let path = match cursor {
            Some(c) => format!("/api/v1/dossiers?field=DD&limit=37&cursor={c}"),
            None => "/api/v1/dossiers?field=DD&limit=37".to_owned(),
        };
        let page = api.json(&path, &api.auditor).await;
        for i in page["items"].as_array().unwrap() {
            assert_eq!(i["field_code"], "DD");
            assert!(
                seen.insert(i["code"].as_str().unwrap().to_owned()),
                "repeated"
            );
        }
        match page["next_cursor"].as_i64() {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let land = api
        .sim
        .sim
        .snapshot()
        .iter()
        .filter(|d| d.field_code == "DD")
        .count();
    assert_eq!(seen.len(), land);
}

#[tokio::test]
async fn a_dossier_timeline_shows_who_was_told_and_the_letters() {
    let api = spawn_api(Backend::Sqlite).await;
    let overdue = api
        .json("/api/v1/dossiers?class=overdue&limit=1", &api.centre)
        .await;
    let code = overdue["items"][0]["code"].as_str().unwrap().to_owned();
    let t = api
        .json(&format!("/api/v1/dossiers/tinh/{code}"), &api.auditor)
        .await;
    assert_eq!(t["dossier"]["code"], code);
    assert!(
        t["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["kind"] == "created")
    );
    assert!(
        t["classes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["to"] == "overdue")
    );
    let alerts = t["alerts"].as_array().unwrap();
    assert!(
        alerts
            .iter()
            .any(|a| a["rung"] == "overdue" && a["role"] == "chair"),
        "{alerts:?}"
    );
    assert!(alerts.iter().all(|a| a["message"].is_number()));
    assert_eq!(t["letters"][0]["version"], 1);
    assert_eq!(t["letters"][0]["status"], "draft");
    assert_eq!(t["verdict"]["class"], "overdue");
    assert!(
        t["dossier"]["steps"]
            .as_array()
            .is_some_and(|s| !s.is_empty())
    );
    assert_eq!(t["dossier"]["applicant_phone"], "***");
    let (status, body) = api
        .get("/api/v1/dossiers/tinh/NO-SUCH", Some(&api.auditor))
        .await;
    assert!(status == 404 && body.contains("NO-SUCH"), "{body}");
}

#[tokio::test]
async fn kpis_match_an_independent_computation() {
    let api = spawn_api(Backend::Sqlite).await;
    let now = api.sim.sim.now();
    let (cal, hours, rules) = (
        Calendar::builtin().unwrap(),
        OfficeHours::default(),
        DeadlineRules::default(),
    );
    let engine = Engine::new(&cal, &hours, &rules);
    let from = chrono::NaiveDate::from_ymd_opt(2026, 9, 1).unwrap();
    let to = now.date();
    // By hand, from the source's truth.
    #[derive(Default, Debug, PartialEq)]
    struct K {
        received: i64,
        before: i64,
        on_day: i64,
        late: i64,
    }
    let mut expected: BTreeMap<String, K> = BTreeMap::new();
    for d in api.sim.sim.snapshot() {
        let k = expected.entry(d.field_name.clone()).or_default();
        if (from..=to).contains(&d.received_at.date()) {
            k.received += 1;
        }
        let finished = d.finished_at.or(d.returned_at);
        if let Some(f) = finished.filter(|f| (from..=to).contains(&f.date())) {
            let _ = f;
            match engine.evaluate(&d, now).unwrap().class {
                Class::BeforeDue => k.before += 1,
                Class::OnDueDay => k.on_day += 1,
                Class::Late => k.late += 1,
                _ => {}
            }
        }
    }
    expected.retain(|_, k| *k != K::default());
    let report = api
        .json(
            &format!("/api/v1/kpis?group=field&from={from}&to={to}"),
            &api.auditor,
        )
        .await;
    let mut got: BTreeMap<String, K> = BTreeMap::new();
    for r in report["rows"].as_array().unwrap() {
        got.insert(
            r["group"].as_str().unwrap().to_owned(),
            K {
                received: r["received"].as_i64().unwrap(),
                before: r["before_due"].as_i64().unwrap(),
                on_day: r["on_due_day"].as_i64().unwrap(),
                late: r["late"].as_i64().unwrap(),
            },
        );
        let fin = r["finished"].as_f64().unwrap();
        if fin > 0.0 {
            let pct = 100.0
                * (r["before_due"].as_f64().unwrap() + r["on_due_day"].as_f64().unwrap())
                / fin;
            assert!(
                (r["on_time_pct"].as_f64().unwrap() - pct).abs() < 0.051,
                "{r}"
            );
        }
    }
    assert_eq!(got, expected);
    assert_eq!(report["target_on_time_pct"], 98.0);
    assert_eq!(report["target_apology_pct"], 100.0);
    let total = &report["total"];
    assert_eq!(
        total["received"].as_i64().unwrap(),
        expected.values().map(|k| k.received).sum::<i64>()
    );
    assert_eq!(total["late_apologised"], 0);
}

#[tokio::test]
async fn exports_open_as_csv_and_xlsx_with_vietnamese_headers_and_real_dates() {
    use calamine::{Data, Reader, Xlsx};
    let api = spawn_api(Backend::Sqlite).await;
    let rows = api
        .json("/api/v1/dossiers?class=due_soon&limit=1000", &api.auditor)
        .await["items"]
        .as_array()
        .unwrap()
        .len();
    let resp = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/dossiers?class=due_soon&format=csv",
            api.base
        ))
        .bearer_auth(&api.auditor)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(
        resp.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("filename=\"ho-so-sap-den-han.csv\""),
        "named after its filter"
    );
    let bytes = resp.bytes().await.unwrap();
    assert_eq!(&bytes[..3], &[0xEF, 0xBB, 0xBF], "BOM for Excel");
    let mut r = csv::Reader::from_reader(&bytes[3..]);
    let headers = r.headers().unwrap().clone();
    assert_eq!(&headers[1], "Mã hồ sơ");
    assert_eq!(&headers[8], "Ngày tiếp nhận");
    let records: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(records.len(), rows);
    assert!(records.iter().all(|x| &x[12] == "Sắp đến hạn"));

    let resp = reqwest::Client::new()
        .get(format!("{}/api/v1/kpis?group=unit&format=xlsx", api.base))
        .bearer_auth(&api.auditor)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let bytes = resp.bytes().await.unwrap().to_vec();
    let mut wb: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let range = wb.worksheet_range("Chỉ số").unwrap();
    assert_eq!(range.get((0, 0)), Some(&Data::String("Đơn vị".into())));
    assert_eq!(
        range.get((0, 6)),
        Some(&Data::String("Tỷ lệ đúng hạn (%)".into()))
    );
    assert!(range.height() > 2);
    assert!(matches!(range.get((1, 1)), Some(Data::Float(_))));

    let resp = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/dossiers?class=overdue&format=xlsx",
            api.base
        ))
        .bearer_auth(&api.auditor)
        .send()
        .await
        .unwrap();
    let bytes = resp.bytes().await.unwrap().to_vec();
    let mut wb: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let range = wb.worksheet_range("Hồ sơ").unwrap();
    assert!(
        matches!(range.get((1, 8)), Some(Data::DateTime(_))),
        "received is a real date: {:?}",
        range.get((1, 8))
    );
}

#[tokio::test]
async fn the_centre_records_an_issued_letter_auditors_cannot() {
    let api = spawn_api(Backend::Sqlite).await;
    let overdue = api
        .json("/api/v1/dossiers?class=overdue&limit=1", &api.centre)
        .await;
    let code = overdue["items"][0]["code"].as_str().unwrap().to_owned();
    let url = format!("{}/api/v1/letters/tinh/{code}/issue", api.base);
    let post = |token: String, body: serde_json::Value| {
        let url = url.clone();
        async move {
            let r = reqwest::Client::new()
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, body) = post(
        api.auditor.clone(),
        serde_json::json!({ "number": "1/TB-UBND" }),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = post(api.centre.clone(), serde_json::json!({ "numero": "1" })).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = post(
        api.centre.clone(),
        serde_json::json!({ "number": "125/TB-UBND" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (v["status"].as_str(), v["doc_number"].as_str()),
        (Some("issued"), Some("125/TB-UBND"))
    );
    let (status, body) = post(
        api.centre.clone(),
        serde_json::json!({ "number": "126/TB-UBND" }),
    )
    .await;
    assert!(status == 409 && body.contains("already issued"), "{body}");
    let (status, body) = reqwest::Client::new()
        .post(format!("{}/api/v1/letters/tinh/NO-SUCH/issue", api.base))
        .bearer_auth(&api.centre)
        .json(&serde_json::json!({ "number": "1/TB-UBND" }))
        .send()
        .await
        .map(|r| (r.status().as_u16(), r))
        .unwrap();
    assert_eq!(status, 404, "{:?}", body.text().await);
}

#[tokio::test]
async fn openapi_document_and_audit_trail() {
    let api = spawn_api(Backend::Sqlite).await;
    let doc = api.json("/api/v1/openapi.json", &api.auditor).await;
    for p in [
        "/api/v1/dossiers",
        "/api/v1/dossiers/{source}/{code}",
        "/api/v1/kpis",
        "/api/v1/letters/{source}/{code}/issue",
    ] {
        assert!(
            doc["paths"][p].is_object(),
            "{p} missing from the OpenAPI document"
        );
    }
    assert_eq!(
        doc["openapi"].as_str().map(|v| v.starts_with("3.")),
        Some(true)
    );
    let _ = api
        .get("/api/v1/dossiers?limit=1", Some(&api.auditor))
        .await;
    let _ = api.get("/api/v1/dossiers?limit=1", None).await;
    let accesses = api.db.store.audit_entries("api_access", 50).await.unwrap();
    assert!(
        accesses
            .iter()
            .any(|a| a.subject.contains("sở nội vụ") && a.detail.contains("\"status\":200")),
        "{accesses:?}"
    );
    assert!(
        accesses
            .iter()
            .any(|a| a.subject == "anonymous" && a.detail.contains("\"status\":401"))
    );
    use tthc_watch::store::audit::Verification;
    assert!(
        matches!(api.db.store.verify_audit().await.unwrap(), Verification::Intact { entries, .. } if entries > 5)
    );
    // Tampering is found, at the entry that was changed.
    let victim = accesses[0].id;
    api.db
        .store
        .execute_sql(&format!(
            "UPDATE audit_log SET detail = '{{}}' WHERE id = {victim}"
        ))
        .await
        .unwrap();
    assert!(
        matches!(api.db.store.verify_audit().await.unwrap(), Verification::Broken { id, .. } if id == victim)
    );
}

#[tokio::test]
async fn dashboard_needs_a_login_and_shows_todays_numbers() {
    let api = spawn_api(Backend::Sqlite).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client
        .get(format!("{}/dashboard", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/dashboard/login");
    let r = client
        .post(format!("{}/dashboard/login", api.base))
        .form(&[("token", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("Mã truy cập không đúng"));
    let r = client
        .post(format!("{}/dashboard/login", api.base))
        .form(&[("token", api.auditor.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let page = client
        .get(format!("{}/dashboard", api.base))
        .header("cookie", cookie.split(';').next().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let classes: BTreeMap<Class, i64> = api
        .db
        .store
        .count_by_class()
        .await
        .unwrap()
        .into_iter()
        .collect();
    for (id, class) in [
        ("count-overdue", Class::Overdue),
        ("count-due-today", Class::DueToday),
        ("count-due-soon", Class::DueSoon),
    ] {
        let n = classes.get(&class).copied().unwrap_or(0);
        assert!(
            page.contains(&format!("id=\"{id}\">{n}<")),
            "{id} should read {n}"
        );
    }
    assert!(
        page.contains("Tỷ lệ giải quyết đúng hạn")
            && page.contains("<svg")
            && page.contains("id=\"trend\"")
    );
}

async fn retention_removes_only_old_finished_dossiers(backend: Backend) {
    let api = spawn_api(backend).await;
    let before = chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
    let old: Vec<String> = api
        .sim
        .sim
        .snapshot()
        .into_iter()
        .filter(|d| {
            d.status.is_closed()
                && d.finished_at
                    .or(d.returned_at)
                    .unwrap_or(d.updated_at)
                    .date()
                    < before
        })
        .map(|d| d.code)
        .collect();
    assert!(!old.is_empty());
    let total = api.db.store.count_rows("dossiers").await.unwrap();
    let dry = api
        .db
        .store
        .retention(before, false, t("2026-11-25 09:00"))
        .await
        .unwrap();
    assert_eq!(dry.dossiers as usize, old.len());
    assert_eq!(
        api.db.store.count_rows("dossiers").await.unwrap(),
        total,
        "a dry run removes nothing"
    );
    let done = api
        .db
        .store
        .retention(before, true, t("2026-11-25 09:00"))
        .await
        .unwrap();
    assert_eq!(done, dry);
    assert_eq!(
        api.db.store.count_rows("dossiers").await.unwrap(),
        total - old.len() as i64
    );
    assert!(
        api.db
            .store
            .dossier("tinh", &old[0])
            .await
            .unwrap()
            .is_none()
    );
    let logged = api.db.store.audit_entries("retention", 5).await.unwrap();
    assert!(
        logged.len() == 1 && logged[0].detail.contains("2026-10-01"),
        "{logged:?}"
    );
    assert!(matches!(
        api.db.store.verify_audit().await.unwrap(),
        tthc_watch::store::audit::Verification::Intact { .. }
    ));
    api.db.cleanup_ref().await;
}

#[tokio::test]
async fn retention_is_explicit_and_audited_sqlite() {
    retention_removes_only_old_finished_dossiers(Backend::Sqlite).await;
}

#[tokio::test]
async fn retention_is_explicit_and_audited_postgres() {
    if postgres_available().await {
        retention_removes_only_old_finished_dossiers(Backend::Postgres).await;
    }
}

/// Bytes of the SQLite database behind `url`, with its WAL.
fn sqlite_bytes(url: &str) -> u64 {
    let path = url.trim_start_matches("sqlite://");
    [path.to_owned(), format!("{path}-wal")]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

#[tokio::test]
async fn anonymous_load_does_not_fill_the_database_and_secrets_stay_out() {
    let api = spawn_api(Backend::Sqlite).await;
    // An authenticated request with a token pasted into its query string
    // (refused: `token` is no parameter, but recorded).
    let (status, _) = api
        .get(
            &format!("/api/v1/dossiers?limit=1&unit=PKT&token={}", api.centre),
            Some(&api.auditor),
        )
        .await;
    assert_eq!(status, 400);
    let entry = api.db.store.audit_entries("api_access", 1).await.unwrap();
    let detail = &entry[0].detail;
    assert!(
        detail.contains("PKT") && detail.contains("[redacted]"),
        "{detail}"
    );
    assert!(!detail.contains(&api.centre), "{detail}");

    let before = sqlite_bytes(&api.db.url);
    // Eight anonymous clients with 60 KB query strings, for 10 s.
    let long = "a".repeat(60_000);
    let stop = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut clients = Vec::new();
    for i in 0..8 {
        let url = format!("{}/api/v1/dossiers?q{i}={long}", api.base);
        clients.push(tokio::spawn(async move {
            let c = reqwest::Client::new();
            let mut sent = 0u64;
            while std::time::Instant::now() < stop {
                let r = c.get(&url).bearer_auth("tw_wrong").send().await.unwrap();
                assert_eq!(r.status(), 401);
                sent += 1;
            }
            sent
        }));
    }
    let mut sent = 0;
    for c in clients {
        sent += c.await.unwrap();
    }
    assert!(sent > 100, "only {sent} requests were sent");
    let grown = sqlite_bytes(&api.db.url).saturating_sub(before);
    assert!(
        grown < 1 << 20,
        "{sent} anonymous requests grew the database by {grown} bytes"
    );
    // They are counted, not lost: the entry says how many it stands for.
    let anon: Vec<_> = api
        .db
        .store
        .audit_entries("api_access", 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.subject == "anonymous")
        .collect();
    assert!(
        !anon.is_empty() && anon.len() <= 2,
        "{} entries",
        anon.len()
    );
    let metrics = api.get("/metrics", None).await.1;
    let counted: f64 = metrics
        .lines()
        .find(|l| l.starts_with("tthc_api_unauthenticated_requests_total"))
        .and_then(|l| l.split_whitespace().last())
        .unwrap()
        .parse()
        .unwrap();
    assert!(counted >= sent as f64, "{counted} < {sent}");
    use tthc_watch::store::audit::Verification;
    assert!(matches!(
        api.db.store.verify_audit().await.unwrap(),
        Verification::Intact { .. }
    ));
}

#[tokio::test]
async fn dashboard_sessions_are_not_tokens_and_end_at_logout_or_revocation() {
    let api = spawn_api(Backend::Sqlite).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (token_id, token) = api
        .db
        .store
        .create_token("Cán bộ trực", "centre", t("2026-11-25 08:00"))
        .await
        .unwrap();
    let login = || async {
        let r = client
            .post(format!("{}/dashboard/login", api.base))
            .header("x-forwarded-proto", "https")
            .form(&[("token", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        r.headers()["set-cookie"].to_str().unwrap().to_owned()
    };
    let dashboard = |cookie: String| async {
        let r = client
            .get(format!("{}/dashboard", api.base))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.headers().clone())
    };
    let set = login().await;
    assert!(
        !set.contains(&token),
        "the cookie carries the API token: {set}"
    );
    for attr in ["HttpOnly", "SameSite=Strict", "Secure", "Max-Age=43200"] {
        assert!(set.contains(attr), "{attr} missing: {set}");
    }
    let cookie = set.split(';').next().unwrap().to_owned();
    let (status, headers) = dashboard(cookie.clone()).await;
    assert_eq!(status, 200);
    for (h, v) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
    ] {
        assert_eq!(headers[h], v, "{h}");
    }
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    // The session is not a token: the API does not take it as one.
    let id = cookie.split_once('=').unwrap().1;
    assert_eq!(api.get("/api/v1/dossiers?limit=1", Some(id)).await.0, 401);

    // Logout ends it.
    let r = client
        .post(format!("{}/dashboard/logout", api.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(
        r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(
        dashboard(cookie).await.0,
        303,
        "a closed session still opens the dashboard"
    );

    // Revoking the token ends its sessions.
    let cookie = login().await.split(';').next().unwrap().to_owned();
    assert_eq!(dashboard(cookie.clone()).await.0, 200);
    api.db
        .store
        .revoke_token(token_id, t("2026-11-25 09:00"))
        .await
        .unwrap();
    assert_eq!(dashboard(cookie).await.0, 303);
}
