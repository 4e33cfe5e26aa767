//! Leaders' one-tap links over real HTTP and real SMTP: the links in the
//! emails sent, opened (nothing recorded: mail scanners open links),
//! confirmed (recorded once, in the audit trail and on the dossier's
//! timeline), replayed, altered and expired (each refused, nothing changed).

use crate::api::{TestApi, spawn_api_with};
use crate::support::*;

/// Every `/ack/…` link of the emails sent (the text part, after `text_label`),
/// with the recipient.
fn ack_links(site: &TestApi, text_label: &str) -> Vec<(String, String)> {
    site.sink
        .messages()
        .iter()
        .flat_map(|m| {
            let to = m["to"][0].as_str().unwrap_or_default().to_owned();
            let base = site.base.clone();
            m["text"]
                .as_str()
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.trim().strip_prefix(text_label))
                .filter_map(move |rest| {
                    let at = rest.find(&format!("{base}/ack/"))?;
                    Some(rest[at + base.len() + 5..].trim().to_owned())
                })
                .map(move |t| (to.clone(), t))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A Vietnam time as a fixed clock.
fn at(s: &str) -> tthc_watch::clock::Clock {
    tthc_watch::clock::Clock::fixed(tthc_watch::clock::from_vn(t(s)))
}

/// A vice-chair's "Đã nắm, sẽ chỉ đạo" link from the emails sent, confirmed;
/// who it was.
async fn a_vice_chair_acknowledges(site: &TestApi) -> String {
    let (vice_chair, token) = ack_links(site, "Đã nắm, sẽ chỉ đạo:")
        .into_iter()
        .find(|(to, _)| to.starts_with("pct"))
        .expect("a vice-chair's link");
    let r = reqwest::Client::new()
        .post(format!("{}/ack/{token}", site.base))
        .form(&[("x", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    vice_chair
}

async fn acks_in_store(site: &TestApi) -> i64 {
    site.db
        .store
        .fetch_i64("SELECT COUNT(*) FROM acknowledgements")
        .await
        .unwrap()
}

async fn a_leader_acknowledges_from_the_email(backend: Backend) {
    let site = spawn_api_with(backend, 600, true).await;
    let http = reqwest::Client::new();
    let acks = ack_links(&site, "Đã nắm, sẽ chỉ đạo:");
    let assigns = ack_links(&site, "Giao ");
    assert!(!acks.is_empty(), "acknowledgement links in the emails");
    assert!(!assigns.is_empty(), "the vice-chairs' assignment links");

    // Opening a link records nothing.
    let (to, token) = acks[0].clone();
    let url = format!("{}/ack/{token}", site.base);
    for _ in 0..3 {
        let r = http.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let page = r.text().await.unwrap();
        assert!(page.contains("Đã nắm, sẽ chỉ đạo") && page.contains("id=\"confirm\""));
    }
    assert_eq!(acks_in_store(&site).await, 0, "opening is not confirming");

    // The button records it, once, and says what.
    let r = http.post(&url).form(&[("x", "")]).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("Đã ghi nhận") && page.contains(&to), "{page}");
    assert_eq!(acks_in_store(&site).await, 1);
    // Replayed: refused, nothing more.
    for r in [
        http.post(&url).form(&[("x", "")]).send().await.unwrap(),
        http.get(&url).send().await.unwrap(),
    ] {
        assert_eq!(r.status(), 410);
        assert!(r.text().await.unwrap().contains("đã được dùng lúc"));
    }
    assert_eq!(acks_in_store(&site).await, 1);

    // Altered (another dossier's code in the payload) or cut: refused.
    let mut forged = token.clone().into_bytes();
    let at = token.find('.').unwrap() + 5;
    forged[at] = if forged[at] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    for bad in [forged.as_str(), &token[..token.len() - 3]] {
        let r = http
            .post(format!("{}/ack/{bad}", site.base))
            .form(&[("x", "")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        assert!(r.text().await.unwrap().contains("Liên kết không hợp lệ"));
    }
    assert_eq!(acks_in_store(&site).await, 1);

    // An assignment: a unit, a date from today on, a note.
    let (vice_chair, token) = assigns[0].clone();
    let url = format!("{}/ack/{token}", site.base);
    let page = http.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Giao xử lý hồ sơ") && page.contains("name=\"target_date\""));
    let r = http
        .post(&url)
        .form(&[("unit", "Phòng Kinh tế"), ("target_date", "2020-01-01")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "a date already past");
    assert!(r.text().await.unwrap().contains("đã qua"));
    let target = (site.sim.sim.now().date() + chrono::Duration::days(2)).to_string();
    let r = http
        .post(&url)
        .form(&[
            ("unit", "Phòng Kinh tế"),
            ("target_date", target.as_str()),
            ("note", "Ưu tiên giải quyết trong tuần"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(
        page.contains(&vice_chair) && page.contains("giao Phòng Kinh tế xử lý"),
        "{page}"
    );
    assert_eq!(acks_in_store(&site).await, 2);

    // Both on the dossier's page and in its API timeline.
    let (status, page) = site
        .get(
            &format!(
                "/dossiers/tinh/{}",
                site.db
                    .store
                    .fetch_text("SELECT d.code FROM acknowledgements k JOIN dossiers d ON d.id = k.dossier_id WHERE k.kind = 'ack'")
                    .await
                    .unwrap()[0][0]
                    .clone()
                    .unwrap()
            ),
            Some(&site.centre),
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Đã nắm, sẽ chỉ đạo") && page.contains(&to),
        "{page}"
    );
    let code = page
        .split("id=\"dossier-code\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .unwrap_or_default()
        .to_owned();
    let timeline = site
        .json(&format!("/api/v1/dossiers/tinh/{code}"), &site.auditor)
        .await;
    let acks_of = timeline["acknowledgements"].as_array().unwrap();
    assert_eq!(acks_of[0]["recipient"], to.as_str());
    assert_eq!(
        timeline["verdict"]["acknowledged_by"],
        acks_of.last().unwrap()["recipient"],
        "the list shows the latest"
    );

    // The per-leader figures: this leader's due-today and overdue alerts
    // sent, and the ones of the acknowledged dossier, acknowledged at once.
    let sent_to = |extra: &str| {
        let sql = format!(
            "SELECT COUNT(*) FROM alerts a JOIN outbox o ON o.id = a.outbox_id \
             WHERE o.status = 'sent' AND a.rung IN ('due_today', 'overdue') AND a.recipient = '{to}' {extra}"
        );
        let store = site.db.store.clone();
        async move { store.fetch_i64(&sql).await.unwrap() }
    };
    let alerts = sent_to("").await;
    let acked_alerts =
        sent_to("AND a.dossier_id IN (SELECT dossier_id FROM acknowledgements WHERE kind = 'ack')")
            .await;
    let kpis = site
        .json("/api/v1/acks?from=2026-11-01&to=2026-11-30", &site.auditor)
        .await;
    let mine = kpis
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["email"] == to.as_str())
        .expect("the leader's row");
    assert_eq!(mine["alerts"], alerts, "{mine}");
    assert_eq!(mine["acknowledged"], acked_alerts, "{mine}");
    assert_eq!(mine["within_timeout"], acked_alerts, "{mine}");
    assert!(acked_alerts >= 1 && alerts >= acked_alerts);
    let r = http
        .get(format!("{}/api/v1/acks?format=xlsx", site.base))
        .bearer_auth(&site.auditor)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("lanh-dao-xac-nhan-")
    );
    // Both in the audit trail (who, what), which still verifies.
    let store = &site.db.store;
    let acked = store.audit_entries("alert_acknowledged", 10).await.unwrap();
    assert_eq!(acked.len(), 1);
    assert_eq!(acked[0].subject, to);
    let assigned = store.audit_entries("dossier_assigned", 10).await.unwrap();
    assert_eq!(assigned.len(), 1);
    assert!(assigned[0].detail.contains("Ưu tiên giải quyết trong tuần"));
    assert!(assigned[0].detail.contains(&target));
    assert!(matches!(
        store.verify_audit().await.unwrap(),
        tthc_watch::store::audit::Verification::Intact { .. }
    ));
}

#[tokio::test]
async fn a_leader_acknowledges_from_the_email_sqlite() {
    a_leader_acknowledges_from_the_email(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_leader_acknowledges_from_the_email_postgres() {
    if !postgres_available().await {
        return;
    }
    a_leader_acknowledges_from_the_email(Backend::Postgres).await;
}

async fn an_expired_link_is_refused(backend: Backend) {
    use tthc_watch::ack::{Grant, Purpose, Signer};
    let site = spawn_api_with(backend, 300, false).await;
    let now = site.sim.sim.now();
    let key = site.db.store.ack_key(now).await.unwrap();
    let d = site.sim.sim.snapshot().remove(0);
    let token = Signer::new(key).sign(&Grant {
        purpose: Purpose::Ack,
        recipient: "pct@example.gov.vn".into(),
        source: "tinh".into(),
        code: d.code,
        due_at: d.due_at,
        rung: "overdue".into(),
        expires_at: now - chrono::Duration::minutes(1),
    });
    let r = reqwest::Client::new()
        .post(format!("{}/ack/{token}", site.base))
        .form(&[("x", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 410);
    assert!(r.text().await.unwrap().contains("đã hết hạn"));
    assert_eq!(acks_in_store(&site).await, 0);
}

#[tokio::test]
async fn an_expired_link_is_refused_sqlite() {
    an_expired_link_is_refused(Backend::Sqlite).await;
}

#[tokio::test]
async fn an_expired_link_is_refused_postgres() {
    if !postgres_available().await {
        return;
    }
    an_expired_link_is_refused(Backend::Postgres).await;
}

/// No acknowledgement within the timeout: the next level is told, once,
/// whichever instance checks and however often; an acknowledged dossier does
/// not climb; the email names who did not respond.
async fn nobody_acknowledges_and_it_climbs(backend: Backend) {
    let site = spawn_api_with(backend, 600, true).await;
    // One vice-chair acknowledges one dossier.
    a_vice_chair_acknowledges(&site).await;
    let acked: i64 = site
        .db
        .store
        .fetch_i64("SELECT MAX(dossier_id) FROM acknowledgements")
        .await
        .unwrap();

    let settings = test_settings(&site.db.url, site.sink.port);
    let mut rules = tthc_watch::app::RuleSet::load(&settings).unwrap();
    rules.routing.committee.dashboard_url = format!("{}/", site.base);
    // The alerts went at the simulator's now: Wednesday 25/11/2026 08:00.
    let climbs = |store: tthc_watch::store::Store| async move {
        store
            .fetch_i64("SELECT COUNT(*) FROM alerts WHERE rung = 'no_ack'")
            .await
            .unwrap()
    };
    // 2 working hours later: too early.
    check_with(&settings, &rules, &site.db.store, &at("2026-11-25 10:00"))
        .await
        .unwrap();
    assert_eq!(climbs(site.db.store.clone()).await, 0);

    // After 4 working hours (08:00–11:30, 13:30–14:00): told, once; a second
    // instance on the same database, later, adds nothing.
    check_with(&settings, &rules, &site.db.store, &at("2026-11-25 14:30"))
        .await
        .unwrap();
    let first = climbs(site.db.store.clone()).await;
    assert!(first > 0, "unacknowledged alerts climbed");
    let other = tthc_watch::store::Store::connect(&site.db.url, 2)
        .await
        .unwrap();
    for when in ["2026-11-25 14:31", "2026-11-26 09:00"] {
        check_with(&settings, &rules, &other, &at(when))
            .await
            .unwrap();
        check_with(&settings, &rules, &site.db.store, &at(when))
            .await
            .unwrap();
    }
    assert_eq!(climbs(other.clone()).await, first, "once");

    // Exactly the unacknowledged alerts of vice-chairs and unit heads sent
    // at 08:00 (the later checks' messages are not sent yet), on dossiers
    // still due today or overdue, climbed: vice-chair → chair, unit head →
    // the field's vice-chair; the acknowledged dossier did not.
    let chair = rules.routing.chair.email.clone();
    let expected: i64 = other
        .fetch_i64(&format!(
            "SELECT COUNT(*) FROM (SELECT DISTINCT a.dossier_id, CASE WHEN a.recipient_role = 'vice_chair' THEN '{chair}' ELSE 'vc' END \
             FROM alerts a JOIN evaluations e ON e.dossier_id = a.dossier_id JOIN outbox o ON o.id = a.outbox_id \
             WHERE o.status = 'sent' AND a.rung IN ('due_today', 'overdue') AND a.recipient_role IN ('vice_chair', 'unit_head') \
             AND e.class IN ('due_today', 'overdue') AND a.dossier_id <> {acked}) AS x"
        ))
        .await
        .unwrap();
    assert_eq!(first, expected);
    assert_eq!(
        other
            .fetch_i64(&format!(
                "SELECT COUNT(*) FROM alerts WHERE rung = 'no_ack' AND dossier_id = {acked}"
            ))
            .await
            .unwrap(),
        0,
        "an acknowledged dossier does not climb"
    );
    assert!(
        other
            .fetch_i64(&format!(
                "SELECT COUNT(*) FROM alerts WHERE rung = 'no_ack' AND recipient = '{chair}'"
            ))
            .await
            .unwrap()
            > 0
    );

    // The chair's email says who did not respond.
    let before = site.sink.messages().len();
    tthc_watch::app::send::send(&settings, &site.db.store, &at("2026-11-26 09:01"))
        .await
        .unwrap();
    let mail = site.sink.messages();
    let to_chair = mail[before..]
        .iter()
        .find(|m| m["to"][0] == chair.as_str())
        .expect("the chair is told");
    let text = to_chair["text"].as_str().unwrap();
    assert!(text.contains("Chưa xác nhận chỉ đạo:"), "{text}");
    assert!(text.contains("Cấp dưới chưa xác nhận chỉ đạo"), "{text}");
}

#[tokio::test]
async fn nobody_acknowledges_and_it_climbs_sqlite() {
    nobody_acknowledges_and_it_climbs(Backend::Sqlite).await;
}

#[tokio::test]
async fn nobody_acknowledges_and_it_climbs_postgres() {
    if !postgres_available().await {
        return;
    }
    nobody_acknowledges_and_it_climbs(Backend::Postgres).await;
}

/// Quiet hours: a check in the evening queues the alerts; only those with a
/// dossier due today go at once, the rest at the next working morning's
/// opening.
#[tokio::test]
async fn at_night_only_what_is_due_today_is_sent() {
    use tthc_watch::source::Shape;
    use tthc_watch::source::rest::RestSource;
    use tthc_watch::source::sync::sync_source;
    let sim = spawn_simulator(Shape::Native, 600, "").await;
    let sink = SmtpSink::start();
    let db = TestDb::new(Backend::Sqlite).await;
    let settings = test_settings(&db.url, sink.port);
    let rules = tthc_watch::app::RuleSet::load(&settings).unwrap();
    let mut src = RestSource::new("tinh", &source_settings(Shape::Native, &sim.url)).unwrap();
    assert_eq!(
        sync_source(&db.store, &mut src, 10, &at("2026-11-25 08:00"))
            .await
            .error,
        None
    );
    // Thursday 26/11/2026, 06:30: before the opening.
    check_with(&settings, &rules, &db.store, &at("2026-11-26 06:30"))
        .await
        .unwrap();
    let sent = tthc_watch::app::send::send(&settings, &db.store, &at("2026-11-26 06:31"))
        .await
        .unwrap();
    let early = sink.messages();
    assert_eq!(early.len() as u64, sent.sent);
    assert!(!early.is_empty(), "what is due today goes at once");
    for m in &early {
        let subject = m["subject"].as_str().unwrap();
        assert!(subject.contains("đến hạn hôm nay"), "{subject}");
    }
    let held = db
        .store
        .fetch_i64("SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND next_attempt_at = '2026-11-26 07:00:00'")
        .await
        .unwrap();
    assert!(held > 0, "the others wait for the opening");
    // At the opening they go.
    let later = tthc_watch::app::send::send(&settings, &db.store, &at("2026-11-26 07:00"))
        .await
        .unwrap();
    assert_eq!(later.sent as i64, held);
    assert_eq!(
        db.store
            .fetch_i64("SELECT COUNT(*) FROM outbox WHERE status = 'pending'")
            .await
            .unwrap(),
        0
    );
}

/// The chair's weekly reminder: on the week's first working day, every
/// dossier overdue more than N working days (here 2: the simulated backlog
/// is young), with who acknowledged it; once a week.
async fn the_chair_is_reminded_each_week_of_what_stays_overdue(backend: Backend) {
    use std::collections::BTreeSet;
    use tthc_watch::calendar::{Calendar, OfficeHours};
    use tthc_watch::deadline::{Class, Engine, Rules as DeadlineRules};
    let site = spawn_api_with(backend, 600, true).await;
    // A vice-chair acknowledges one overdue dossier on Wednesday.
    let vice_chair = a_vice_chair_acknowledges(&site).await;

    let mut settings = test_settings(&site.db.url, site.sink.port);
    settings.escalation.reminder_at = "07:30".into();
    settings.escalation.reminder_overdue_days = 2;
    let rules = tthc_watch::app::RuleSet::load(&settings).unwrap();
    let reminders = || async {
        site.db
            .store
            .fetch_i64("SELECT COUNT(*) FROM outbox WHERE kind = 'reminder'")
            .await
            .unwrap()
    };
    // Monday 30/11/2026 (the week's first working day): not before 07:30.
    for when in ["2026-11-30 07:00", "2026-11-30 07:29"] {
        check_with(&settings, &rules, &site.db.store, &at(when))
            .await
            .unwrap();
    }
    assert_eq!(reminders().await, 0);
    for when in ["2026-11-30 07:45", "2026-11-30 10:00", "2026-12-01 07:45"] {
        check_with(&settings, &rules, &site.db.store, &at(when))
            .await
            .unwrap();
    }
    assert_eq!(reminders().await, 1, "once a week");
    let before = site.sink.messages().len();
    tthc_watch::app::send::send(&settings, &site.db.store, &at("2026-12-01 07:46"))
        .await
        .unwrap();
    let mail = site.sink.messages();
    let reminder = mail[before..]
        .iter()
        .find(|m| {
            m["subject"]
                .as_str()
                .unwrap()
                .contains("Nhắc việc hằng tuần")
        })
        .expect("the reminder is sent");
    assert_eq!(reminder["to"][0], rules.routing.chair.email.as_str());
    let text = reminder["text"].as_str().unwrap();

    // By hand: overdue on Monday 07:45 by more than 2 working days (counted
    // from the due day to Monday), from the source's own records.
    let (cal, hours, deadline) = (
        Calendar::builtin().unwrap(),
        OfficeHours::default(),
        DeadlineRules::default(),
    );
    let engine = Engine::new(&cal, &hours, &deadline);
    let monday = t("2026-11-30 07:45");
    let expected: BTreeSet<String> = site
        .sim
        .sim
        .snapshot()
        .into_iter()
        .filter(|d| {
            let v = engine.evaluate(d, monday).unwrap();
            v.class == Class::Overdue
                && v.due_at
                    .is_some_and(|due| cal.count(due.date(), monday.date()).unwrap() > 2)
        })
        .map(|d| d.code)
        .collect();
    assert!(!expected.is_empty());
    let listed: BTreeSet<String> = text
        .lines()
        .filter_map(|l| {
            let (n, rest) = l.split_once(". ")?;
            n.parse::<u32>().ok()?;
            Some(rest.split(" – ").next()?.to_owned())
        })
        .collect();
    assert_eq!(listed, expected, "{text}");
    // Who acknowledged, and the others said to have nobody.
    assert!(
        text.contains(&format!("{vice_chair} đã nắm, sẽ chỉ đạo")) || !text.contains("đã nắm"),
        "{text}"
    );
    assert!(text.contains("Chưa có ai xác nhận chỉ đạo."), "{text}");
}

#[tokio::test]
async fn the_chair_is_reminded_each_week_of_what_stays_overdue_sqlite() {
    the_chair_is_reminded_each_week_of_what_stays_overdue(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_chair_is_reminded_each_week_of_what_stays_overdue_postgres() {
    if !postgres_available().await {
        return;
    }
    the_chair_is_reminded_each_week_of_what_stays_overdue(Backend::Postgres).await;
}

/// `demo --port P`: its emails' links open its own server, so a new user
/// clicks through the loop from the `.eml` files.
#[tokio::test]
async fn the_demos_emails_link_to_the_demo() {
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _demo = Kill(
        std::process::Command::new(env!("CARGO_BIN_EXE_tthc-watch"))
            .args(["demo", "--dossiers", "600", "--interval", "600"])
            .args([
                "--now",
                "2026-11-25T08:00:00+07:00",
                "--port",
                &port.to_string(),
                "--dir",
            ])
            .arg(dir.path())
            .env_remove("TTHC_WATCH_CONFIG")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..120 {
        let token = dir.path().join("auditor-token.txt");
        if token.exists()
            && http
                .get(format!("{base}/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert!(ready, "the demo serves");
    let mut links = Vec::new();
    for e in std::fs::read_dir(dir.path().join("mail")).unwrap() {
        let raw = std::fs::read_to_string(e.unwrap().path()).unwrap();
        // Quoted-printable soft breaks joined.
        let flat = raw.replace("=\r\n", "").replace("=\n", "");
        links.extend(
            flat.split(&format!("{base}/ack/"))
                .skip(1)
                .filter_map(|rest| rest.split(|c: char| c.is_whitespace() || c == '"').next())
                .map(|t| t.replace("=3D", "=").to_owned()),
        );
    }
    assert!(
        !links.is_empty(),
        "the emails link to the demo's own server"
    );
    let url = format!("{base}/ack/{}", links[0]);
    assert_eq!(http.get(&url).send().await.unwrap().status(), 200);
    let r = http.post(&url).form(&[("x", "")]).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Đã ghi nhận"));
}
