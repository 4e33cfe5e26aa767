//! Webhooks end to end: alerts become signed JSON events beside their email,
//! delivered through the outbox to a real HTTP receiver (node) that verifies
//! each signature with the Standard Webhooks reference library (npm
//! `standardwebhooks`, `tests/browser/webhook_receiver.mjs`) and refuses the
//! first attempt of every event.

use crate::support::check_with;
use crate::support::*;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use tthc_watch::app::RuleSet as Rules;
use tthc_watch::app::send::send as send_with;
use tthc_watch::clock::{Clock, from_vn};
use tthc_watch::config::{Role, Settings, WebhookSettings};

/// The spec's published test key (24 bytes).
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const RECEIVER_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser");

fn endpoint(url: &str) -> WebhookSettings {
    WebhookSettings {
        url: url.into(),
        secret: SECRET.into(),
        secret_file: String::new(),
        rungs: Vec::new(),
        roles: Vec::new(),
        recipients: Vec::new(),
        enabled: true,
    }
}

/// The node receiver, killed when dropped.
struct Receiver {
    url: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
    _child: tokio::process::Child,
}

impl Receiver {
    /// None (outside CI) when `npm ci` has not been run in tests/browser.
    async fn start() -> Option<Receiver> {
        use tokio::io::AsyncBufReadExt as _;
        if !Path::new(RECEIVER_DIR)
            .join("node_modules/standardwebhooks")
            .exists()
        {
            assert!(
                std::env::var("CI").map(|v| v != "true").unwrap_or(true),
                "the webhook test needs `npm ci` in tests/browser (.ci/run runs it)"
            );
            eprintln!("tests/browser/node_modules missing: skipping the webhook test");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("received.jsonl");
        let mut child = tokio::process::Command::new("node")
            .current_dir(RECEIVER_DIR)
            .arg("webhook_receiver.mjs")
            .arg(&log)
            .env("WEBHOOK_SECRET", SECRET)
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("run node");
        let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(std::time::Duration::from_secs(20), lines.next_line())
            .await
            .expect("receiver started in time")
            .unwrap()
            .expect("receiver's port");
        let port = serde_json::from_str::<serde_json::Value>(&first).unwrap()["port"]
            .as_u64()
            .unwrap();
        Some(Receiver {
            url: format!("http://127.0.0.1:{port}/hooks/tthc"),
            log,
            _dir: dir,
            _child: child,
        })
    }

    /// Every attempt received, in order.
    fn attempts(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn at(s: &str) -> Clock {
    Clock::fixed(from_vn(t(s)))
}

/// Two dossiers of the land field at PKT due 26/11, checked on 23/11: due
/// soon for the vice-chair and the unit head, two emails, four events.
async fn two_dossiers_checked(db: &TestDb, settings: &Settings, rules: &Rules) {
    let dossiers: Vec<_> = ["H56-2611-WH01", "H56-2611-WH02"]
        .into_iter()
        .map(|code| {
            tthc_watch::store::Incoming::new(scripted_dossier(
                code,
                "DD",
                "PKT",
                "2026-11-18 08:00",
                5,
                "2026-11-26 08:00",
            ))
        })
        .collect();
    db.store
        .apply_page("tinh", &dossiers, &[], &[], None, t("2026-11-18 09:00"))
        .await
        .unwrap();
    check_with(settings, rules, &db.store, &at("2026-11-23 08:00"))
        .await
        .unwrap();
}

async fn a_failing_then_succeeding_receiver_gets_each_event_once(backend: Backend) {
    let Some(receiver) = Receiver::start().await else {
        return;
    };
    let sink = SmtpSink::start();
    let db = TestDb::new(backend).await;
    let mut settings = test_settings(&db.url, sink.port);
    settings.mail.backoff_base_secs = 1;
    settings.mail.backoff_cap_secs = 1;
    settings
        .webhooks
        .insert("zalo".into(), endpoint(&receiver.url));
    let rules = Rules::load(&settings).unwrap();
    two_dossiers_checked(&db, &settings, &rules).await;

    let outbox = db.store.outbox().await.unwrap();
    let events: Vec<_> = outbox
        .iter()
        .filter(|r| r.channel == "webhook:zalo")
        .collect();
    assert_eq!(outbox.len() - events.len(), 2, "two emails: {outbox:#?}");
    assert_eq!(events.len(), 4, "one event per (recipient, dossier)");
    // Checking again queues nothing more.
    check_with(&settings, &rules, &db.store, &at("2026-11-23 08:00"))
        .await
        .unwrap();
    assert_eq!(db.store.outbox().await.unwrap().len(), outbox.len());

    // Sent at the real time: the library checks the timestamp's tolerance.
    let now = || Clock::fixed(chrono::Utc::now());
    let first = send_with(&settings, &db.store, &now()).await.unwrap();
    assert_eq!(
        (first.sent, first.retry, first.failed),
        (2, 4, 0),
        "{first}"
    );
    assert_eq!(sink.messages().len(), 2);
    // After the backoff (1 s), every event is accepted.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let second = send_with(&settings, &db.store, &now()).await.unwrap();
    assert_eq!(
        (second.sent, second.retry, second.failed),
        (4, 0, 0),
        "{second}"
    );
    // And nothing is sent again.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let third = send_with(&settings, &db.store, &now()).await.unwrap();
    assert_eq!(
        (third.sent, third.retry, third.failed),
        (0, 0, 0),
        "{third}"
    );

    let attempts = receiver.attempts();
    assert_eq!(attempts.len(), 8, "{attempts:#?}");
    for a in &attempts {
        assert_eq!(a["verified"], true, "the library refused: {a:#}");
        assert_eq!(a["content_type"], "application/json");
    }
    // Each event accepted exactly once, after one refused attempt with the
    // same webhook-id and the same body.
    let mut by_id: BTreeMap<String, Vec<&serde_json::Value>> = BTreeMap::new();
    for a in &attempts {
        by_id
            .entry(a["id"].as_str().unwrap().to_owned())
            .or_default()
            .push(a);
    }
    let ids: BTreeSet<String> = events.iter().map(|e| e.message_id.clone()).collect();
    assert_eq!(by_id.keys().cloned().collect::<BTreeSet<_>>(), ids);
    for (id, tries) in &by_id {
        assert!(id.starts_with("msg_"), "{id}");
        let statuses: Vec<i64> = tries
            .iter()
            .map(|a| a["status"].as_i64().unwrap())
            .collect();
        assert_eq!(statuses, [500, 200], "{id}");
        assert_eq!(tries[0]["payload"], tries[1]["payload"], "{id}");
    }
    for row in db.store.outbox().await.unwrap() {
        assert_eq!(row.status, "sent", "{row:?}");
        let expected_attempts = if row.channel == "email" { 1 } else { 2 };
        assert_eq!(row.attempts, expected_attempts, "{row:?}");
    }

    // The payloads: what each leader's email says of each dossier.
    let emails = sink.messages();
    let mut seen = BTreeSet::new();
    for tries in by_id.values() {
        let p = &tries[1]["payload"];
        assert_eq!(p["type"], "dossier.due_soon", "{p:#}");
        assert_eq!(p["timestamp"], "2026-11-23T08:00:00+07:00");
        let d = &p["data"];
        assert_eq!(d["source"], "tinh");
        assert_eq!(d["field_code"], "DD");
        assert_eq!(d["unit_code"], "PKT");
        assert_eq!(d["due_at"], "2026-11-26T08:00:00+07:00");
        assert_eq!(d["class"], "due_soon");
        assert_eq!(d["rung"], "due_soon");
        assert!(d["working_days_left"].as_i64().is_some(), "{d:#}");
        let to = d["recipient"]["email"].as_str().unwrap();
        let code = d["code"].as_str().unwrap();
        seen.insert((to.to_owned(), code.to_owned()));
        let email = emails
            .iter()
            .find(|m| m["to"][0] == to)
            .unwrap_or_else(|| panic!("no email to {to}"));
        let text = email["text"].as_str().unwrap();
        assert!(text.contains(code), "{text}");
        // The applicant as the email shows them (masked by default), never
        // their ID number or phone.
        let applicant = d["applicant"].as_str().unwrap();
        assert_eq!(applicant, "Nguyễn T. H.");
        assert!(text.contains(applicant), "{text}");
        let raw = p.to_string();
        assert!(!raw.contains("056190000001") && !raw.contains("0905000001"));
    }
    assert_eq!(
        seen,
        BTreeSet::from(
            [
                ("pct.kinhte@ninhhoa.example.vn", "H56-2611-WH01"),
                ("pct.kinhte@ninhhoa.example.vn", "H56-2611-WH02"),
                ("pkt@ninhhoa.example.vn", "H56-2611-WH01"),
                ("pkt@ninhhoa.example.vn", "H56-2611-WH02"),
            ]
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
        )
    );
    db.cleanup().await;
}

#[tokio::test]
async fn a_failing_then_succeeding_receiver_gets_each_event_once_sqlite() {
    a_failing_then_succeeding_receiver_gets_each_event_once(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_failing_then_succeeding_receiver_gets_each_event_once_postgres() {
    if postgres_available().await {
        a_failing_then_succeeding_receiver_gets_each_event_once(Backend::Postgres).await;
    }
}

/// Filters by role and rung; a 410 Gone gives the event up at once.
async fn filters_and_gone(backend: Backend) {
    let sink = SmtpSink::start();
    let db = TestDb::new(backend).await;
    let mut settings = test_settings(&db.url, sink.port);
    // A receiver that is gone: 410 to everything.
    let gone = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gone_url = format!("http://{}/", gone.local_addr().unwrap());
    tokio::spawn(async move {
        let app = axum::Router::new().fallback(|| async { (axum::http::StatusCode::GONE, "gone") });
        axum::serve(gone, app).await.ok();
    });
    let mut heads = endpoint(&gone_url);
    heads.roles = vec![Role::UnitHead];
    settings.webhooks.insert("heads".into(), heads);
    let mut late_only = endpoint(&gone_url);
    late_only.rungs = vec!["overdue".into()];
    settings.webhooks.insert("late".into(), late_only);
    let rules = Rules::load(&settings).unwrap();
    two_dossiers_checked(&db, &settings, &rules).await;
    let events: Vec<_> = db
        .store
        .outbox()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.channel != "email")
        .collect();
    // Only the unit head's two dossiers, and nothing for "late" (due soon).
    assert_eq!(events.len(), 2, "{events:#?}");
    assert!(events.iter().all(|e| e.channel == "webhook:heads"
        && e.recipient == "pkt@ninhhoa.example.vn"
        && e.kind == "dossier.due_soon"));
    let s = send_with(&settings, &db.store, &Clock::fixed(chrono::Utc::now()))
        .await
        .unwrap();
    assert_eq!((s.sent, s.retry, s.failed), (2, 0, 2), "{s}");
    for e in db.store.failed_messages().await.unwrap() {
        assert!(
            e.2.as_deref().unwrap_or_default().contains("HTTP 410"),
            "{e:?}"
        );
    }
    db.cleanup().await;
}

#[tokio::test]
async fn filters_and_gone_sqlite() {
    filters_and_gone(Backend::Sqlite).await;
}

#[tokio::test]
async fn filters_and_gone_postgres() {
    if postgres_available().await {
        filters_and_gone(Backend::Postgres).await;
    }
}

#[test]
fn a_bad_or_missing_secret_is_a_config_error_naming_its_key() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    writeln!(f, "[webhooks.zalo]\nurl = \"https://gw.example.vn/h\"").unwrap();
    let err = Settings::load_with_env(Some(f.path()), Vec::new())
        .unwrap_err()
        .to_string();
    assert!(err.contains("webhooks.zalo.secret"), "{err}");
    assert!(err.contains(&f.path().display().to_string()), "{err}");

    let mut f = tempfile::NamedTempFile::new().unwrap();
    writeln!(
        f,
        "[webhooks.zalo]\nurl = \"https://gw.example.vn/h\"\nsecret = \"whsec_AAAAAAAAAAAAAAAAAAAAAA==\""
    )
    .unwrap();
    let settings = Settings::load_with_env(Some(f.path()), Vec::new()).unwrap();
    let err = Rules::load(&settings).err().unwrap().to_string();
    assert!(err.contains("webhooks.zalo.secret"), "{err}");
    assert!(err.contains("16 bytes"), "{err}");
    assert!(!err.contains("AAAAAAAA"), "no secret in errors: {err}");

    // From a file; a recipient nobody in routing is named.
    let mut secret = tempfile::NamedTempFile::new().unwrap();
    writeln!(secret, "{SECRET}").unwrap();
    let mut f = tempfile::NamedTempFile::new().unwrap();
    writeln!(
        f,
        "[webhooks.zalo]\nurl = \"https://gw.example.vn/h\"\nsecret_file = \"{}\"\nrecipients = [\"nobody@example.vn\"]",
        secret.path().display()
    )
    .unwrap();
    let settings = Settings::load_with_env(Some(f.path()), Vec::new()).unwrap();
    let err = Rules::load(&settings).err().unwrap().to_string();
    assert!(err.contains("webhooks.zalo.recipients"), "{err}");
    let mut s = settings.clone();
    s.webhooks.get_mut("zalo").unwrap().recipients = vec!["chutich@ninhhoa.example.vn".into()];
    Rules::load(&s).unwrap();
    assert!(!format!("{s:?}").contains("MfKQ"));

    let mut f = tempfile::NamedTempFile::new().unwrap();
    writeln!(
        f,
        "[webhooks.zalo]\nurl = \"https://gw.example.vn/h\"\nsecret = \"{SECRET}\"\nrungs = [\"late\"]"
    )
    .unwrap();
    let err = Settings::load_with_env(Some(f.path()), Vec::new())
        .unwrap_err()
        .to_string();
    assert!(err.contains("webhooks.zalo.rungs"), "{err}");
}
