//! The ladder, the digest and email over a real SMTP server: the right people,
//! once, in Vietnamese.

use crate::support::check_with;
use crate::support::*;
use std::collections::{BTreeMap, BTreeSet};
use tthc_watch::app::RuleSet as Rules;
use tthc_watch::app::digest::digest as digest_with;
use tthc_watch::app::send::send as send_with;
use tthc_watch::clock::{Clock, from_vn};
use tthc_watch::notify::digest::DigestOutcome;
use tthc_watch::source::Shape;
use tthc_watch::source::rest::RestSource;
use tthc_watch::source::sync::sync_source;

/// A real SMTP server, a fresh database, settings sending to the one and
/// storing in the other, and the rules loaded from them.
struct Mailroom {
    sink: SmtpSink,
    db: TestDb,
    settings: tthc_watch::config::Settings,
    rules: Rules,
}

impl Mailroom {
    async fn new(backend: Backend) -> Mailroom {
        let sink = SmtpSink::start();
        let db = TestDb::new(backend).await;
        let settings = test_settings(&db.url, sink.port);
        let rules = Rules::load(&settings).unwrap();
        Mailroom {
            sink,
            db,
            settings,
            rules,
        }
    }

    /// Syncs the simulated province and checks it at the simulator's now.
    async fn sync_and_check(&self, sim: &TestSim) -> Clock {
        let clock = Clock::fixed(from_vn(sim.sim.now()));
        let mut src = RestSource::new("tinh", &source_settings(Shape::Native, &sim.url)).unwrap();
        assert_eq!(
            sync_source(&self.db.store, &mut src, 10, &clock)
                .await
                .error,
            None
        );
        check_with(&self.settings, &self.rules, &self.db.store, &clock)
            .await
            .unwrap();
        clock
    }

    /// One dossier of `field` at `unit`, received 18/11/2026 for 5 working
    /// days (due 26/11), stored, and checked on Monday 23/11 at 08:00: two
    /// messages queued (its vice-chair and its unit head, due soon).
    async fn one_dossier_checked(&self, code: &str, field: &str, unit: &str) {
        let d = scripted_dossier(code, field, unit, "2026-11-18 08:00", 5, "2026-11-26 08:00");
        self.db
            .store
            .apply_page(
                "tinh",
                &[tthc_watch::store::Incoming::new(d)],
                &[],
                &[],
                None,
                t("2026-11-18 09:00"),
            )
            .await
            .unwrap();
        check_with(
            &self.settings,
            &self.rules,
            &self.db.store,
            &at("2026-11-23 08:00"),
        )
        .await
        .unwrap();
    }
}

fn at(s: &str) -> Clock {
    Clock::fixed(from_vn(t(s)))
}

fn text(m: &serde_json::Value) -> &str {
    m["text"].as_str().unwrap_or_default()
}

/// One dossier through Tết 2026: each rung fires on the right working day, once.
async fn ladder_through_tet(backend: Backend) {
    let Mailroom {
        sink,
        db,
        settings,
        rules,
    } = Mailroom::new(backend).await;
    // Received Monday 09/02/2026, 10 working days: due Monday 02/03/2026 08:00 (Tết 14–22/02 off).
    let d = scripted_dossier(
        "H56-260209-0000001",
        "DD",
        "PKT",
        "2026-02-09 08:00",
        10,
        "2026-03-02 08:00",
    );
    db.store
        .apply_page(
            "tinh",
            &[tthc_watch::store::Incoming::new(d)],
            &[],
            &[],
            None,
            t("2026-02-09 09:00"),
        )
        .await
        .unwrap();

    let mut by_day: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut seen = 0;
    let mut day = chrono::NaiveDate::from_ymd_opt(2026, 2, 12).unwrap();
    while day <= chrono::NaiveDate::from_ymd_opt(2026, 3, 6).unwrap() {
        let clock = Clock::fixed(from_vn(day.and_hms_opt(8, 0, 0).unwrap()));
        check_with(&settings, &rules, &db.store, &clock)
            .await
            .unwrap();
        send_with(&settings, &db.store, &clock).await.unwrap();
        let all = sink.messages();
        for m in &all[seen..] {
            by_day.entry(day.to_string()).or_default().push((
                m["to"][0].as_str().unwrap().to_owned(),
                m["subject"].as_str().unwrap().to_owned(),
            ));
            assert!(text(m).contains("H56-260209-0000001"));
        }
        seen = all.len();
        day = day.succ_opt().unwrap();
    }
    let days: Vec<&str> = by_day.keys().map(String::as_str).collect();
    assert_eq!(
        days,
        ["2026-02-25", "2026-03-02", "2026-03-03", "2026-03-04"],
        "{by_day:#?}"
    );
    let to = |d: &str| {
        by_day[d]
            .iter()
            .map(|(t, _)| t.as_str())
            .collect::<BTreeSet<_>>()
    };
    // Three working days before the due date (Tết does not count): vice-chair and unit head.
    assert_eq!(
        to("2026-02-25"),
        BTreeSet::from(["pct.kinhte@ninhhoa.example.vn", "pkt@ninhhoa.example.vn"])
    );
    assert!(by_day["2026-02-25"][0].1.contains("1 sắp đến hạn"));
    // Due today: the same, urgent.
    assert_eq!(to("2026-03-02"), to("2026-02-25"));
    assert!(by_day["2026-03-02"][0].1.contains("1 đến hạn hôm nay"));
    // Late: the chair too.
    assert_eq!(
        to("2026-03-03"),
        BTreeSet::from([
            "chutich@ninhhoa.example.vn",
            "pct.kinhte@ninhhoa.example.vn",
            "pkt@ninhhoa.example.vn"
        ])
    );
    // Two working days late and no apology: the unit head and the centre.
    assert_eq!(
        to("2026-03-04"),
        BTreeSet::from(["pkt@ninhhoa.example.vn", "ttpvhcc@ninhhoa.example.vn"])
    );
    let reminder = sink
        .messages()
        .into_iter()
        .find(|m| m["to"][0] == "ttpvhcc@ninhhoa.example.vn")
        .unwrap();
    assert!(
        text(&reminder).contains("nguy cơ bị hạ mức xếp loại thi đua"),
        "{}",
        text(&reminder)
    );
    db.cleanup().await;
}

#[tokio::test]
async fn ladder_through_tet_sqlite() {
    ladder_through_tet(Backend::Sqlite).await;
}

#[tokio::test]
async fn ladder_through_tet_postgres() {
    if postgres_available().await {
        ladder_through_tet(Backend::Postgres).await;
    }
}

#[tokio::test]
async fn each_leader_gets_one_email_listing_their_dossiers_once() {
    let sim = spawn_simulator(Shape::Native, 1200, "").await;
    let room = Mailroom::new(Backend::Sqlite).await;
    let clock = room.sync_and_check(&sim).await;
    let Mailroom {
        sink,
        db,
        settings,
        rules,
    } = room;
    let sent = send_with(&settings, &db.store, &clock).await.unwrap();
    let msgs = sink.messages();
    assert_eq!(sent.sent as usize, msgs.len());

    // One email per recipient, with a stable, unique Message-ID.
    let recipients: Vec<&str> = msgs.iter().map(|m| m["to"][0].as_str().unwrap()).collect();
    assert_eq!(
        recipients.iter().collect::<BTreeSet<_>>().len(),
        recipients.len(),
        "{recipients:?}"
    );
    let ids: BTreeSet<&str> = msgs
        .iter()
        .map(|m| m["message_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), msgs.len());

    let mail_of = |addr: &str| {
        msgs.iter()
            .find(|m| m["to"][0] == addr)
            .map(|m| text(m).to_owned())
            .unwrap_or_default()
    };
    let at_risk = db.store.at_risk_lines(i64::MAX).await.unwrap();
    assert!(at_risk.len() > 10, "{}", at_risk.len());
    for l in &at_risk {
        let vice = rules.routing.vice_chair(&l.field_code).unwrap();
        let head = rules.routing.unit(&l.unit_code).unwrap();
        assert!(
            mail_of(&vice.email).contains(&l.code),
            "{} missing from {}",
            l.code,
            vice.email
        );
        assert!(
            mail_of(&head.email).contains(&l.code),
            "{} missing from {}",
            l.code,
            head.email
        );
        let in_chair = mail_of("chutich@ninhhoa.example.vn").contains(&l.code);
        assert_eq!(
            in_chair,
            l.class == "overdue",
            "the chair hears of late dossiers only: {}",
            l.code
        );
    }
    // Vietnamese subject with the counts, and the urgent ones first.
    let vice = msgs
        .iter()
        .find(|m| m["to"][0] == "pct.kinhte@ninhhoa.example.vn")
        .unwrap();
    let subject = vice["subject"].as_str().unwrap();
    assert!(
        subject.starts_with("[UBND PHƯỜNG NINH HÒA]") && subject.contains("hồ sơ TTHC cần đôn đốc"),
        "{subject}"
    );
    assert_eq!(
        vice["to_header"],
        "Lê Văn Thành <pct.kinhte@ninhhoa.example.vn>"
    );
    let body = text(vice);
    let first_overdue = body.find("[Quá hạn").unwrap_or(0);
    let first_soon = body.find("[Sắp đến hạn").unwrap_or(usize::MAX);
    assert!(first_overdue < first_soon);
    assert!(body.contains("Còn ") && body.contains("ngày làm việc"));
    // Addressed by name and title, with the counts by unit and the one
    // request in the first lines.
    let head: Vec<&str> = body.lines().take(5).collect();
    assert_eq!(
        head[0], "Kính gửi: Đồng chí Lê Văn Thành – Phó Chủ tịch UBND phường",
        "{body}"
    );
    assert!(
        head[2].starts_with("Theo đơn vị: ") && head[3].starts_with("Đề nghị đồng chí chỉ đạo "),
        "{body}"
    );
    assert!(vice["html"].as_str().unwrap().contains("<strong>"));
    // Applicants are masked by default.
    assert!(!body.contains("Người nộp: Nguyễn Thị Hồng"));

    // Running check and send again, or after a restart, sends nothing twice.
    check_with(&settings, &rules, &db.store, &clock)
        .await
        .unwrap();
    send_with(&settings, &db.store, &clock).await.unwrap();
    let reopened = tthc_watch::store::Store::connect(&db.url, 2).await.unwrap();
    check_with(&settings, &rules, &reopened, &clock)
        .await
        .unwrap();
    send_with(&settings, &reopened, &clock).await.unwrap();
    assert_eq!(sink.messages().len(), msgs.len());

    // The digest: once per working day, to the centre.
    let d = digest_with(&settings, &rules, &db.store, &clock, false)
        .await
        .unwrap();
    let DigestOutcome::Queued {
        messages: 1,
        overdue,
        due_today,
        due_soon,
    } = d
    else {
        panic!("{d:?}")
    };
    send_with(&settings, &db.store, &clock).await.unwrap();
    let digest = sink.messages().pop().unwrap();
    assert_eq!(digest["to"][0], "ttpvhcc@ninhhoa.example.vn");
    let dt = text(&digest);
    let first_digest = dt.to_owned();
    // The first digest has no previous one to compare with.
    assert!(
        !dt.contains("THAY ĐỔI TỪ BÁO CÁO TRƯỚC") && dt.contains("báo cáo đầu tiên"),
        "{dt}"
    );
    assert_eq!(
        dt.lines().next(),
        Some("Kính gửi: Trung tâm Phục vụ hành chính công"),
        "{dt}"
    );
    assert!(!dt.to_lowercase().contains("đồng chí"), "{dt}");
    assert!(
        dt.contains(&format!("- Quá hạn: {overdue}"))
            && dt.contains(&format!("- Đến hạn hôm nay: {due_today}")),
        "{dt}"
    );
    assert!(dt.contains(&format!("Sắp đến hạn (≤ 3 ngày làm việc): {due_soon}")));
    assert!(dt.contains("THEO ĐƠN VỊ") && dt.contains("Phòng Kinh tế, Hạ tầng và Đô thị"));
    assert!(dt.contains("NGÀY HẸN TRẢ CẦN KIỂM TRA LẠI") && dt.contains("Nguồn tinh"));
    assert_eq!(
        digest_with(&settings, &rules, &db.store, &clock, false)
            .await
            .unwrap(),
        DigestOutcome::AlreadyDone
    );

    // At province scale the lists are cut (most urgent first); the counts are not.
    let mut capped = settings.clone();
    capped.escalation.max_listed = 1;
    let next_day = Clock::fixed(clock.now_utc() + chrono::Duration::days(1));
    digest_with(&capped, &rules, &db.store, &next_day, true)
        .await
        .unwrap();
    send_with(&settings, &db.store, &next_day).await.unwrap();
    let dt = text(&sink.messages().pop().unwrap()).to_owned();
    assert!(dt.contains("THAY ĐỔI TỪ BÁO CÁO TRƯỚC"), "{dt}");
    assert!(due_soon > 1, "{due_soon}");
    assert!(dt.contains(&format!("HỒ SƠ QUÁ HẠN ({overdue})")), "{dt}");
    assert!(
        dt.contains(&format!("HỒ SƠ SẮP ĐẾN HẠN ({due_soon})")),
        "{dt}"
    );
    assert!(
        dt.contains(&format!("… và {} hồ sơ khác", due_soon - 1)),
        "{dt}"
    );
    assert!(dt.contains(&format!("- Quá hạn: {overdue}")), "{dt}");
    // The most overdue dossier heads both days' lists; its days late moved
    // with the calendar though nothing was checked in between (an open
    // verdict's days are counted when it is shown).
    let late_days = |digest: &str| -> (String, i64) {
        let line = digest
            .lines()
            .skip_while(|l| !l.starts_with("HỒ SƠ QUÁ HẠN"))
            .nth(1)
            .unwrap_or_else(|| panic!("no overdue list in {digest}"));
        let code = line.trim_start_matches("- ").split(" | ").next().unwrap();
        let n = line
            .split("quá ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no days late in '{line}'"));
        (code.to_owned(), n)
    };
    let (code, before) = late_days(&first_digest);
    let (code_next, after) = late_days(&dt);
    assert_eq!(code_next, code);
    let working_days_between = rules
        .calendar
        .count(clock.now_vn().date(), next_day.now_vn().date())
        .unwrap();
    assert_eq!(after, before + working_days_between, "{code}");
    db.cleanup().await;
}

#[tokio::test]
async fn a_long_alert_list_is_cut_to_the_most_urgent_and_counts_the_rest() {
    let sim = spawn_simulator(Shape::Native, 1200, "").await;
    let mut room = Mailroom::new(Backend::Sqlite).await;
    room.settings.escalation.max_listed = 2;
    let clock = room.sync_and_check(&sim).await;
    let Mailroom {
        sink,
        db,
        settings,
        rules,
    } = room;
    send_with(&settings, &db.store, &clock).await.unwrap();
    let msgs = sink.messages();
    // "[UBND …] N hồ sơ TTHC cần đôn đốc…": N dossiers.
    let total_of = |m: &serde_json::Value| -> usize {
        m["subject"]
            .as_str()
            .and_then(|s| s.split("] ").nth(1))
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap()
    };
    let (long, total) = msgs
        .iter()
        .map(|m| (text(m), total_of(m)))
        .find(|(_, n)| *n > 2)
        .expect("someone has more than two dossiers");
    // Two listed (numbered 1. and 2.), the rest counted.
    assert!(
        long.contains("\n1. [") && long.contains("\n2. [") && !long.contains("\n3. ["),
        "{long}"
    );
    assert!(
        long.contains(&format!("… và {} hồ sơ khác", total - 2)),
        "{long}"
    );
    // Every alert went into that message: nothing is left to send.
    check_with(&settings, &rules, &db.store, &clock)
        .await
        .unwrap();
    send_with(&settings, &db.store, &clock).await.unwrap();
    assert_eq!(sink.messages().len(), msgs.len());
    db.cleanup().await;
}

#[tokio::test]
async fn smtp_refusing_for_a_while_then_accepting_delivers_everything_once() {
    let room = Mailroom::new(Backend::Sqlite).await;
    room.one_dossier_checked("H56-261118-0000002", "XD", "PQLDT")
        .await;
    let Mailroom {
        sink,
        db,
        settings,
        rules: _,
    } = room;

    sink.refuse(true);
    let s = send_with(&settings, &db.store, &at("2026-11-23 08:00"))
        .await
        .unwrap();
    assert_eq!((s.sent, s.retry), (0, 2));
    assert!(sink.messages().is_empty());
    let pending = db.store.outbox().await.unwrap();
    assert!(pending.iter().all(
        |m| m.status == "pending" && m.last_error.as_deref().is_some_and(|e| e.contains("451"))
    ));
    // Still refusing at the next try, a minute later.
    let s = send_with(&settings, &db.store, &at("2026-11-23 08:01"))
        .await
        .unwrap();
    assert_eq!((s.sent, s.retry), (0, 2));
    // Not due again before the backoff has passed.
    sink.refuse(false);
    assert_eq!(
        send_with(&settings, &db.store, &at("2026-11-23 08:02"))
            .await
            .unwrap()
            .sent,
        0
    );
    let s = send_with(&settings, &db.store, &at("2026-11-23 08:05"))
        .await
        .unwrap();
    assert_eq!((s.sent, s.retry, s.failed), (2, 0, 0));
    assert_eq!(
        send_with(&settings, &db.store, &at("2026-11-23 09:00"))
            .await
            .unwrap()
            .sent,
        0
    );
    let got: Vec<String> = sink
        .messages()
        .iter()
        .map(|m| m["to"][0].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        got,
        ["pct.kinhte@ninhhoa.example.vn", "pqldt@ninhhoa.example.vn"]
    );
    db.cleanup().await;
}

#[tokio::test]
async fn permanent_refusal_is_recorded_and_shown_in_the_digest() {
    let room = Mailroom::new(Backend::Sqlite).await;
    room.one_dossier_checked("H56-261118-0000003", "HT", "VP")
        .await;
    let Mailroom {
        sink,
        db,
        settings,
        rules,
    } = room;
    sink.reject(true);
    let s = send_with(&settings, &db.store, &at("2026-11-23 08:00"))
        .await
        .unwrap();
    assert_eq!((s.sent, s.failed), (0, 2));
    let failed = db.store.failed_messages().await.unwrap();
    assert!(
        failed.iter().all(|(_, _, e)| e
            .as_deref()
            .is_some_and(|e| e.contains("550") && e.contains("Mailbox unavailable"))),
        "{failed:?}"
    );
    sink.reject(false);
    digest_with(&settings, &rules, &db.store, &at("2026-11-23 08:30"), false)
        .await
        .unwrap();
    send_with(&settings, &db.store, &at("2026-11-23 08:30"))
        .await
        .unwrap();
    let digest = sink.messages().pop().unwrap();
    assert!(
        text(&digest).contains("THƯ KHÔNG GỬI ĐƯỢC (2)") && text(&digest).contains("550"),
        "{}",
        text(&digest)
    );
    db.cleanup().await;
}

#[tokio::test]
async fn an_unrouted_field_goes_to_the_centre_and_the_chair() {
    let Mailroom {
        sink,
        db,
        settings,
        rules,
    } = Mailroom::new(Backend::Sqlite).await;
    // "ANNINH" has no vice-chair in routing.
    let mut d = scripted_dossier(
        "H56-261118-0000004",
        "ANNINH",
        "PKT",
        "2026-11-18 08:00",
        5,
        "2026-11-26 08:00",
    );
    d.field_name = "An ninh trật tự".into();
    db.store
        .apply_page(
            "tinh",
            &[tthc_watch::store::Incoming::new(d)],
            &[],
            &[],
            None,
            t("2026-11-18 09:00"),
        )
        .await
        .unwrap();
    let clock = at("2026-11-23 08:00");
    check_with(&settings, &rules, &db.store, &clock)
        .await
        .unwrap();
    digest_with(&settings, &rules, &db.store, &clock, false)
        .await
        .unwrap();
    send_with(&settings, &db.store, &clock).await.unwrap();
    let msgs = sink.messages();
    let to: BTreeSet<&str> = msgs
        .iter()
        .filter(|m| text(m).contains("H56-261118-0000004"))
        .map(|m| m["to"][0].as_str().unwrap())
        .collect();
    assert_eq!(
        to,
        BTreeSet::from([
            "chutich@ninhhoa.example.vn",
            "pkt@ninhhoa.example.vn",
            "ttpvhcc@ninhhoa.example.vn"
        ])
    );
    let chair = msgs
        .iter()
        .find(|m| m["to"][0] == "chutich@ninhhoa.example.vn")
        .unwrap();
    assert!(text(chair).contains("chưa phân công phụ trách"));
    let digest = msgs
        .iter()
        .find(|m| {
            m["subject"]
                .as_str()
                .unwrap()
                .contains("Báo cáo hồ sơ TTHC")
        })
        .unwrap();
    assert!(
        text(digest).contains("Chưa phân công phụ trách: 1"),
        "{}",
        text(digest)
    );
    db.cleanup().await;
}

#[tokio::test]
async fn no_digest_on_a_day_off() {
    let Mailroom {
        sink: _sink,
        db,
        settings,
        rules,
    } = Mailroom::new(Backend::Sqlite).await;
    // 24/11/2026, Ngày Văn hóa Việt Nam.
    let out = digest_with(&settings, &rules, &db.store, &at("2026-11-24 07:30"), false)
        .await
        .unwrap();
    assert_eq!(out, DigestOutcome::DayOff);
    let out = digest_with(&settings, &rules, &db.store, &at("2026-11-24 07:30"), true)
        .await
        .unwrap();
    assert!(matches!(out, DigestOutcome::Queued { messages: 1, .. }));
    db.cleanup().await;
}

#[tokio::test]
async fn stale_source_alerts_once_per_outage_and_once_on_recovery() {
    let Mailroom {
        sink,
        db,
        settings,
        rules,
    } = Mailroom::new(Backend::Sqlite).await;
    let run = |at: &str, error: Option<&str>| tthc_watch::store::SyncRun {
        source: "tinh".into(),
        started_at: t(at),
        finished_at: t(at),
        fetched: 0,
        outcome: Default::default(),
        error: error.map(str::to_owned),
    };
    db.store
        .finish_sync(&run("2026-11-23 08:00", None))
        .await
        .unwrap();
    for (now, ok) in [
        ("2026-11-23 08:30", true),
        ("2026-11-23 09:30", false),
        ("2026-11-23 10:30", false),
    ] {
        if !ok {
            db.store
                .finish_sync(&run(now, Some("source tinh: server answered 503")))
                .await
                .unwrap();
        }
        check_with(&settings, &rules, &db.store, &at(now))
            .await
            .unwrap();
    }
    send_with(&settings, &db.store, &at("2026-11-23 10:30"))
        .await
        .unwrap();
    let msgs = sink.messages();
    assert_eq!(msgs.len(), 1, "once per outage");
    assert!(
        msgs[0]["subject"]
            .as_str()
            .unwrap()
            .contains("CẢNH BÁO: dữ liệu hồ sơ từ nguồn tinh không được cập nhật")
    );
    assert!(text(&msgs[0]).contains("503"));
    // Recovery: told once.
    db.store
        .finish_sync(&run("2026-11-23 11:00", None))
        .await
        .unwrap();
    for now in ["2026-11-23 11:00", "2026-11-23 11:10"] {
        check_with(&settings, &rules, &db.store, &at(now))
            .await
            .unwrap();
        send_with(&settings, &db.store, &at(now)).await.unwrap();
    }
    let msgs = sink.messages();
    assert_eq!(msgs.len(), 2);
    assert!(
        msgs[1]["subject"]
            .as_str()
            .unwrap()
            .contains("Đã khôi phục đồng bộ dữ liệu từ nguồn tinh")
    );
    db.cleanup().await;
}

/// A server that accepts connections and then stops answering (its process
/// frozen): each send gives up within `mail.timeout_secs` and is retried
/// later, and once the server answers again every message arrives once.
#[tokio::test]
async fn a_hung_smtp_server_is_given_up_on_in_time_and_mail_arrives_after() {
    let room = Mailroom::new(Backend::Sqlite).await;
    room.one_dossier_checked("H56-261118-0000003", "XD", "PQLDT")
        .await;
    let Mailroom {
        sink,
        db,
        mut settings,
        rules: _,
    } = room;
    settings.mail.timeout_secs = 2;

    sink.freeze(true);
    let started = std::time::Instant::now();
    let s = send_with(&settings, &db.store, &at("2026-11-23 08:00"))
        .await
        .unwrap();
    let took = started.elapsed();
    sink.freeze(false);
    // The first message given up after 2 s; the drain stops there (the
    // server does not answer), the second waits untried: not a timeout each.
    assert_eq!((s.sent, s.retry, s.failed), (0, 1, 0));
    assert!(
        s.server_unavailable.is_some() && s.to_string().contains("did not answer"),
        "{s}"
    );
    assert!(took < std::time::Duration::from_secs(6), "{took:?}");
    let outbox = db.store.outbox().await.unwrap();
    assert!(outbox.iter().all(|m| m.status == "pending"));
    let timed_out = |m: &&tthc_watch::store::OutboxRow| {
        m.last_error
            .as_deref()
            .is_some_and(|e| e.contains("did not greet within 2 s"))
    };
    assert_eq!(outbox.iter().filter(timed_out).count(), 1);

    let s = send_with(&settings, &db.store, &at("2026-11-23 09:00"))
        .await
        .unwrap();
    assert_eq!((s.sent, s.retry, s.failed), (2, 0, 0));
    assert_eq!(sink.messages().len(), 2, "every message once");
    db.cleanup().await;
}

/// Two instances draining the same outbox while the SMTP server is slow (a
/// new leader taking over while the old one is still sending): a message
/// claimed by one is not sent by the other; each arrives once.
async fn two_senders_never_send_one_message_twice(backend: Backend) {
    let room = Mailroom::new(backend).await;
    room.one_dossier_checked("H56-261118-0000004", "XD", "PQLDT")
        .await;
    let Mailroom {
        sink,
        db,
        mut settings,
        rules: _,
    } = room;
    settings.mail.timeout_secs = 10;
    let other = tthc_watch::store::Store::connect(&db.url, 2).await.unwrap();
    assert_ne!(other.instance(), db.store.instance());

    sink.freeze(true);
    let (sa, sb) = (settings.clone(), settings.clone());
    let a_store = db.store.clone();
    let a = tokio::spawn(async move { send_with(&sa, &a_store, &at("2026-11-23 08:00")).await });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let b_store = other.clone();
    let b = tokio::spawn(async move { send_with(&sb, &b_store, &at("2026-11-23 08:00")).await });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    sink.freeze(false);
    let (a, b) = (a.await.unwrap().unwrap(), b.await.unwrap().unwrap());
    assert_eq!(a.sent + b.sent, 2, "{a:?} {b:?}");
    let mut to: Vec<String> = sink
        .messages()
        .iter()
        .map(|m| m["to"][0].as_str().unwrap().to_owned())
        .collect();
    to.sort();
    let before = to.len();
    to.dedup();
    assert_eq!((before, to.len()), (2, 2), "a message went twice: {to:?}");
    other.close().await;
    db.cleanup().await;
}

#[tokio::test]
async fn two_senders_never_send_one_message_twice_postgres() {
    two_senders_never_send_one_message_twice(Backend::Postgres).await;
}

#[tokio::test]
async fn two_senders_never_send_one_message_twice_sqlite() {
    two_senders_never_send_one_message_twice(Backend::Sqlite).await;
}

const DASHBOARD: &str = "https://tthc.example.vn/bang-dieu-khien";

/// A path segment as the dashboard's route reads it: everything but RFC
/// 3986's unreserved characters percent-encoded (an oracle independent of
/// the code under test).
fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// HTML as a reader sees it (the templates escape `/` and `&`).
fn unescape(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Every dashboard address in a message (text and HTML).
fn links(m: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    for part in ["text", "html"] {
        let body = unescape(m[part].as_str().unwrap_or_default());
        for (at, _) in body.match_indices("https://tthc.example.vn") {
            let end = body[at..]
                .find(|c: char| c.is_whitespace() || c == '"' || c == '<')
                .map_or(body.len(), |n| at + n);
            out.push(body[at..end].to_owned());
        }
    }
    out
}

/// The numbered entries of an alert's text ("1. [Quá hạn …] CODE – …").
fn entries(body: &str) -> Vec<&str> {
    body.lines()
        .filter(|l| {
            let digits = l.chars().take_while(char::is_ascii_digit).count();
            digits > 0 && l[digits..].starts_with(". [")
        })
        .collect()
}

/// The dossier count a subject gives ("[…] N hồ sơ TTHC cần đôn đốc: …").
fn subject_counts(m: &serde_json::Value) -> (usize, Vec<(usize, String)>) {
    let s = m["subject"].as_str().unwrap();
    let rest = s.split("] ").nth(1).unwrap();
    let total = rest.split(' ').next().unwrap().parse().unwrap();
    let parts = rest
        .split_once(": ")
        .map(|(_, p)| p)
        .unwrap_or_default()
        .split(", ")
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (n, what) = p.split_once(' ').unwrap();
            (n.parse().unwrap(), what.to_owned())
        })
        .collect();
    (total, parts)
}

async fn store_dossiers(db: &TestDb, source: &str, dossiers: Vec<tthc_watch::dossier::Dossier>) {
    let incoming: Vec<_> = dossiers
        .into_iter()
        .map(tthc_watch::store::Incoming::new)
        .collect();
    db.store
        .apply_page(source, &incoming, &[], &[], None, t("2026-11-18 09:00"))
        .await
        .unwrap();
}

/// Three dossiers two working days late and without an apology reach two
/// rungs at once for the unit head (overdue, no apology yet): each is
/// listed once, at its most urgent rung, and the subject counts three.
/// Every link names the dossier's source and code, percent-encoded.
async fn each_dossier_once_per_email(backend: Backend) {
    let mut room = Mailroom::new(backend).await;
    room.rules.routing.committee.dashboard_url = format!("{DASHBOARD}/");
    let late =
        |code: &str| scripted_dossier(code, "DD", "PKT", "2026-11-10 08:00", 5, "2026-11-17 08:00");
    // Codes are unique only within a source; one holds a slash and a space.
    let dossiers = [
        ("tinh", "H56-261110-0000001"),
        ("tinh", "H56/261110 0000002"),
        ("sở tư pháp", "H56-261110-0000001"),
    ];
    for (source, code) in dossiers {
        store_dossiers(&room.db, source, vec![late(code)]).await;
    }
    let clock = at("2026-11-23 08:00");
    check_with(&room.settings, &room.rules, &room.db.store, &clock)
        .await
        .unwrap();
    digest_with(&room.settings, &room.rules, &room.db.store, &clock, false)
        .await
        .unwrap();
    send_with(&room.settings, &room.db.store, &clock)
        .await
        .unwrap();
    let msgs = room.sink.messages();
    let alerts: Vec<&serde_json::Value> = msgs
        .iter()
        .filter(|m| m["subject"].as_str().unwrap().contains("cần đôn đốc"))
        .collect();
    let to: BTreeSet<&str> = alerts
        .iter()
        .map(|m| m["to"][0].as_str().unwrap())
        .collect();
    assert_eq!(
        to,
        BTreeSet::from([
            "chutich@ninhhoa.example.vn",
            "pct.kinhte@ninhhoa.example.vn",
            "pkt@ninhhoa.example.vn",
            "ttpvhcc@ninhhoa.example.vn"
        ])
    );
    for m in &alerts {
        let body = text(m);
        let listed = entries(body);
        let (total, parts) = subject_counts(m);
        assert_eq!(listed.len(), 3, "{body}");
        assert_eq!(total, 3, "{}", m["subject"]);
        assert_eq!(parts, [(3, "quá hạn".to_owned())], "{}", m["subject"]);
        for code in ["H56/261110 0000002", "H56-261110-0000001"] {
            let n = listed
                .iter()
                .filter(|l| l.contains(&format!("] {code} ")))
                .count();
            let expected = if code.contains('/') { 1 } else { 2 };
            assert_eq!(n, expected, "{code} in {body}");
        }
    }
    let head = alerts
        .iter()
        .find(|m| m["to"][0] == "pkt@ninhhoa.example.vn")
        .unwrap();
    let body = text(head);
    // Listed at its most urgent rung, the other as a tag.
    assert!(
        entries(body)
            .iter()
            .all(|l| l.contains("[Quá hạn chưa có văn bản xin lỗi") && l.contains(" · quá hạn]")),
        "{body}"
    );
    assert_eq!(
        body.lines().next(),
        Some("Kính gửi: Đồng chí Trần Văn Hùng – Trưởng Phòng Kinh tế, Hạ tầng và Đô thị"),
        "{body}"
    );
    // The unit head submits the draft for signing; the vice-chair signs it.
    assert!(body.contains("trình ký văn bản xin lỗi"), "{body}");
    if body.contains("Đính kèm") {
        assert!(
            body.contains("trình Phó Chủ tịch UBND phường Lê Văn Thành ký ban hành"),
            "{body}"
        );
    }
    assert!(!body.contains("để ký ban hành"), "{body}");
    // The centre is addressed as the centre, never "đồng chí".
    for m in msgs
        .iter()
        .filter(|m| m["to"][0] == "ttpvhcc@ninhhoa.example.vn")
    {
        let body = text(m);
        assert_eq!(
            body.lines().next(),
            Some("Kính gửi: Trung tâm Phục vụ hành chính công"),
            "{body}"
        );
        assert!(!body.to_lowercase().contains("đồng chí"), "{body}");
        assert!(
            !m["html"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains("đồng chí")
        );
    }
    // Every link in every message: /dossiers/{source}/{code} under the dashboard.
    let allowed: BTreeSet<String> = dossiers
        .iter()
        .map(|(s, c)| format!("{DASHBOARD}/dossiers/{}/{}", segment(s), segment(c)))
        .collect();
    let mut seen = BTreeSet::new();
    for m in &msgs {
        // (Leaders' one-tap links are the `acks` tests'.)
        for l in links(m).into_iter().filter(|l| !l.contains("/ack/")) {
            assert!(allowed.contains(&l), "{l} in {}", m["subject"]);
            seen.insert(l);
        }
    }
    assert_eq!(seen, allowed, "every dossier is linked");
    assert!(
        msgs.iter()
            .all(|m| unescape(m["html"].as_str().unwrap())
                .contains(&format!("{DASHBOARD}/dossiers/"))),
        "the HTML parts link too"
    );
    room.db.cleanup().await;
}

#[tokio::test]
async fn each_dossier_once_per_email_sqlite() {
    each_dossier_once_per_email(Backend::Sqlite).await;
}

#[tokio::test]
async fn each_dossier_once_per_email_postgres() {
    if postgres_available().await {
        each_dossier_once_per_email(Backend::Postgres).await;
    }
}

/// A vice-chair with 25 dossiers in two units reads, in the first lines,
/// whom the email is for (name and title), the counts by unit and the one
/// request with the earliest due date; the details follow, a few lines each.
#[tokio::test]
async fn a_vice_chairs_email_opens_with_its_summary() {
    let room = Mailroom::new(Backend::Sqlite).await;
    let mut dossiers = Vec::new();
    let mut codes = Vec::new();
    for i in 0..25 {
        let code = format!("H56-2611-{i:04}");
        // 3 late, 2 due today at 16:00, 20 due in two working days.
        let (received, due) = match i {
            0..3 => ("2026-11-10 08:00", "2026-11-17 08:00"),
            3..5 => ("2026-11-16 16:00", "2026-11-23 16:00"),
            _ => ("2026-11-18 08:00", "2026-11-26 08:00"),
        };
        let (field, unit) = if i % 5 == 4 {
            ("XD", "PQLDT")
        } else {
            ("DD", "PKT")
        };
        let mut d = scripted_dossier(&code, field, unit, received, 5, due);
        if unit == "PQLDT" {
            d.unit_name = "Phòng Quản lý đô thị".into();
        }
        dossiers.push(d);
        codes.push(code);
    }
    store_dossiers(&room.db, "tinh", dossiers).await;
    let clock = at("2026-11-23 08:00");
    check_with(&room.settings, &room.rules, &room.db.store, &clock)
        .await
        .unwrap();
    send_with(&room.settings, &room.db.store, &clock)
        .await
        .unwrap();
    let msgs = room.sink.messages();
    let vice = msgs
        .iter()
        .find(|m| m["to"][0] == "pct.kinhte@ninhhoa.example.vn")
        .unwrap();
    let body = text(vice);
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(
        lines[0],
        "Kính gửi: Đồng chí Lê Văn Thành – Phó Chủ tịch UBND phường"
    );
    assert_eq!(
        lines[1],
        "25 hồ sơ TTHC thuộc lĩnh vực đồng chí phụ trách cần đôn đốc: 3 quá hạn, 2 đến hạn hôm nay, 20 sắp đến hạn."
    );
    assert!(
        lines[2].starts_with("Theo đơn vị: Phòng Kinh tế, Hạ tầng và Đô thị 20 (")
            && lines[2].contains("Phòng Quản lý đô thị 5"),
        "{body}"
    );
    assert!(
        lines[3].starts_with("Đề nghị đồng chí chỉ đạo Phòng Kinh tế, Hạ tầng và Đô thị, Phòng Quản lý đô thị giải quyết ngay 3 hồ sơ quá hạn")
            && lines[3].contains("hoàn thành trước 16:00 23/11/2026"),
        "{body}"
    );
    // The details: every dossier once, in a few lines each; the whole text
    // is short enough that the summary is never pushed below the first screen.
    let listed = entries(body);
    assert_eq!(listed.len(), 25, "{body}");
    for c in &codes {
        assert_eq!(
            listed
                .iter()
                .filter(|l| l.contains(&format!("] {c} ")))
                .count(),
            1,
            "{c}"
        );
    }
    assert!(
        lines.iter().position(|l| l.starts_with("1. [")).unwrap() < 40,
        "{body}"
    );
    assert!(lines.len() <= 25 * 3 + 12, "{} lines:\n{body}", lines.len());
    assert_eq!(subject_counts(vice).0, 25);
    room.db.cleanup().await;
}

/// The source down for three days (last successful sync Friday 08:00, the
/// digest Monday 07:30): the digest, the leaders' alerts and the centre's
/// stale alert all open with when the data was last updated, from the
/// sync state and not the clock; the digest's "số liệu đến" says the same.
async fn stale_data_is_dated_by_the_last_successful_sync(backend: Backend) {
    let room = Mailroom::new(backend).await;
    let run = |at: &str, error: Option<&str>| tthc_watch::store::SyncRun {
        source: "tinh".into(),
        started_at: t(at),
        finished_at: t(at),
        fetched: 0,
        outcome: Default::default(),
        error: error.map(str::to_owned),
    };
    room.db
        .store
        .finish_sync(&run("2026-11-20 08:00", None))
        .await
        .unwrap();
    store_dossiers(
        &room.db,
        "tinh",
        vec![scripted_dossier(
            "H56-261118-0000009",
            "DD",
            "PKT",
            "2026-11-18 08:00",
            5,
            "2026-11-26 08:00",
        )],
    )
    .await;
    room.db
        .store
        .finish_sync(&run(
            "2026-11-23 07:00",
            Some("source tinh: server answered 503"),
        ))
        .await
        .unwrap();
    let clock = at("2026-11-23 07:30");
    check_with(&room.settings, &room.rules, &room.db.store, &clock)
        .await
        .unwrap();
    digest_with(&room.settings, &room.rules, &room.db.store, &clock, false)
        .await
        .unwrap();
    send_with(&room.settings, &room.db.store, &clock)
        .await
        .unwrap();
    let msgs = room.sink.messages();
    // Vice-chair, unit head, the centre's stale alert and the digest.
    assert_eq!(msgs.len(), 4, "{msgs:#?}");
    let red = "Số liệu cập nhật lần cuối lúc 08:00 20/11/2026 (71 giờ trước, nguồn tinh)";
    for m in &msgs {
        let body = text(m);
        assert!(body.starts_with(red), "{body}");
        let html = unescape(m["html"].as_str().unwrap());
        let line = html.find(red).unwrap_or(usize::MAX);
        assert!(
            line < html.find("Kính gửi").unwrap() && html[..line].contains("color:#b00020"),
            "{html}"
        );
    }
    let digest = msgs
        .iter()
        .find(|m| {
            m["subject"]
                .as_str()
                .unwrap()
                .contains("Báo cáo hồ sơ TTHC")
        })
        .unwrap();
    let dt = text(digest);
    assert!(dt.contains("số liệu đến 08:00 20/11/2026"), "{dt}");
    assert!(!dt.contains("số liệu đến 07:30"), "{dt}");
    assert!(!dt.contains("THAY ĐỔI TỪ BÁO CÁO TRƯỚC"), "{dt}");
    room.db.cleanup().await;
}

#[tokio::test]
async fn stale_data_is_dated_by_the_last_successful_sync_sqlite() {
    stale_data_is_dated_by_the_last_successful_sync(Backend::Sqlite).await;
}

#[tokio::test]
async fn stale_data_is_dated_by_the_last_successful_sync_postgres() {
    if postgres_available().await {
        stale_data_is_dated_by_the_last_successful_sync(Backend::Postgres).await;
    }
}
