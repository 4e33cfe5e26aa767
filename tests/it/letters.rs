//! Apology drafts in the life of a late dossier: drafted once, attached to the
//! unit head's alert, a new version when the due date changes, never replaced
//! once issued, and issuing stops the "no apology" reminder.

use crate::support::check_with;
use crate::support::*;
use std::io::Read;
use tthc_watch::app::RuleSet as Rules;
use tthc_watch::app::send::send as send_with;
use tthc_watch::clock::{Clock, from_vn};
use tthc_watch::dossier::Step;

fn at(s: &str) -> Clock {
    Clock::fixed(from_vn(t(s)))
}

fn document_text(path: &str) -> String {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut xml = String::new();
    zip.by_name("word/document.xml")
        .unwrap()
        .read_to_string(&mut xml)
        .unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("well-formed document.xml");
    doc.descendants()
        .filter(|n| n.has_tag_name("t"))
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join("")
}

#[tokio::test]
async fn a_late_dossier_gets_a_draft_that_follows_it_until_issued() {
    let sink = SmtpSink::start();
    let db = TestDb::new(Backend::Sqlite).await;
    let letters = tempfile::tempdir().unwrap();
    let mut settings = test_settings(&db.url, sink.port);
    settings.letters.dir = letters.path().display().to_string();
    let rules = Rules::load(&settings).unwrap();

    let mut d = scripted_dossier(
        "H56-261113-0000007",
        "DD",
        "PKT",
        "2026-11-13 08:00",
        5,
        "2026-11-20 08:00",
    );
    d.steps = vec![Step {
        name: "Thẩm định, xử lý hồ sơ".into(),
        unit: "Phòng Kinh tế, Hạ tầng và Đô thị".into(),
        officer: Some("Lê Thị Thu Hà".into()),
        started_at: t("2026-11-13 09:00"),
        finished_at: None,
        due_at: Some(t("2026-11-18 08:00")),
    }];
    db.store
        .apply_page(
            "tinh",
            &[tthc_watch::store::Incoming::new(d.clone())],
            &[],
            &[],
            None,
            t("2026-11-13 09:00"),
        )
        .await
        .unwrap();
    let id = db.store.dossier("tinh", &d.code).await.unwrap().unwrap().id;

    // Monday 23/11: one working day late.
    check_with(&settings, &rules, &db.store, &at("2026-11-23 08:00"))
        .await
        .unwrap();
    send_with(&settings, &db.store, &at("2026-11-23 08:00"))
        .await
        .unwrap();
    let v1 = db
        .store
        .latest_letter(id)
        .await
        .unwrap()
        .expect("a draft for a late dossier");
    assert_eq!((v1.version, v1.status.as_str()), (1, "draft"));
    let bytes = std::fs::read(&v1.path).unwrap();
    use sha2::Digest;
    assert_eq!(v1.sha256, hex::encode(sha2::Sha256::digest(&bytes)));
    let text = document_text(&v1.path);
    for expected in [
        "H56-261113-0000007",
        "Nguyễn Thị Hồng",
        "Đăng ký biến động quyền sử dụng đất",
        "20/11/2026",
        // The step that held it, in plain words.
        "việc thẩm định hồ sơ",
        "Phòng Kinh tế, Hạ tầng và Đô thị",
        // 23/11 + 5 working days, 24/11 being a day off.
        "ngày 01 tháng 12 năm 2026",
        "PHƯỜNG NINH HÒA",
        "PHÓ CHỦ TỊCH",
        "Lê Văn Thành",
    ] {
        assert!(text.contains(expected), "letter lacks {expected}: {text}");
    }
    // The unit head's overdue alert carries the draft; the vice-chair's does not.
    let msgs = sink.messages();
    let head = msgs
        .iter()
        .find(|m| m["to"][0] == "pkt@ninhhoa.example.vn")
        .unwrap();
    assert_eq!(
        head["attachments"],
        serde_json::json!(["van-ban-xin-loi-H56-261113-0000007-v1.docx"])
    );
    assert!(
        head["text"]
            .as_str()
            .unwrap()
            .contains("Đính kèm: dự thảo văn bản xin lỗi")
    );
    let vice = msgs
        .iter()
        .find(|m| m["to"][0] == "pct.kinhte@ninhhoa.example.vn")
        .unwrap();
    assert_eq!(vice["attachments"], serde_json::json!([]));

    // Nothing changed: no new version.
    check_with(&settings, &rules, &db.store, &at("2026-11-23 10:00"))
        .await
        .unwrap();
    assert_eq!(db.store.letters_of(id).await.unwrap().len(), 1);

    // The source moves the due date: a new version.
    d.due_at = Some(t("2026-11-20 17:00"));
    d.updated_at = t("2026-11-23 11:00");
    db.store
        .apply_page(
            "tinh",
            &[tthc_watch::store::Incoming::new(d.clone())],
            &[],
            &[],
            None,
            t("2026-11-23 11:00"),
        )
        .await
        .unwrap();
    check_with(&settings, &rules, &db.store, &at("2026-11-23 11:05"))
        .await
        .unwrap();
    let v2 = db.store.latest_letter(id).await.unwrap().unwrap();
    assert_eq!(v2.version, 2);
    assert!(
        std::path::Path::new(&v1.path).exists(),
        "earlier versions are kept"
    );

    // A number with a control character (a NUL) is refused and records nothing.
    let bad = db
        .store
        .issue_letter("tinh", &d.code, "125\0/TB-UBND", t("2026-11-23 13:00"))
        .await
        .unwrap_err()
        .to_string();
    assert!(bad.contains("no control characters"), "{bad}");
    assert_eq!(
        db.store.latest_letter(id).await.unwrap().unwrap().status,
        "draft"
    );

    // The centre issues it: recorded, never replaced, and no "no apology" reminder.
    let issued = db
        .store
        .issue_letter("tinh", &d.code, "125/TB-UBND", t("2026-11-23 14:00"))
        .await
        .unwrap();
    assert_eq!(
        (
            issued.version,
            issued.status.as_str(),
            issued.doc_number.as_deref()
        ),
        (2, "issued", Some("125/TB-UBND"))
    );
    let again = db
        .store
        .issue_letter("tinh", &d.code, "126/TB-UBND", t("2026-11-23 15:00"))
        .await
        .unwrap_err();
    assert!(
        again.to_string().contains("already issued") && again.to_string().contains("125/TB-UBND"),
        "{again}"
    );
    d.updated_at = t("2026-11-24 09:00");
    d.officer = Some("Phạm Quốc Bảo".into());
    db.store
        .apply_page(
            "tinh",
            &[tthc_watch::store::Incoming::new(d.clone())],
            &[],
            &[],
            None,
            t("2026-11-24 09:00"),
        )
        .await
        .unwrap();
    for day in ["2026-11-25 08:00", "2026-11-26 08:00"] {
        check_with(&settings, &rules, &db.store, &at(day))
            .await
            .unwrap();
        send_with(&settings, &db.store, &at(day)).await.unwrap();
    }
    assert_eq!(
        db.store.latest_letter(id).await.unwrap().unwrap().version,
        2,
        "an issued letter is never replaced"
    );
    assert!(
        sink.messages()
            .iter()
            .all(|m| m["to"][0] != "ttpvhcc@ninhhoa.example.vn"),
        "no reminder to the centre once the apology is issued"
    );
    db.cleanup().await;
}

/// Codes are unique only within a source, and `A/B` and `A_B` look alike in a
/// file name: each dossier's letter is its own file, naming its own citizen,
/// and a file replaced on disk is never handed out as the letter.
async fn each_letter_is_its_own_citizens(backend: Backend) {
    let sink = SmtpSink::start();
    let db = TestDb::new(backend).await;
    let letters = tempfile::tempdir().unwrap();
    let mut settings = test_settings(&db.url, sink.port);
    settings.letters.dir = letters.path().display().to_string();
    let rules = Rules::load(&settings).unwrap();

    let late = |code: &str, applicant: &str| {
        let mut d = scripted_dossier(code, "DD", "PKT", "2026-11-13 08:00", 5, "2026-11-20 08:00");
        d.applicant_name = applicant.into();
        d
    };
    let cases = [
        ("tinh", late("H56-0001", "Nguyễn Văn An")),
        ("bo", late("H56-0001", "Trần Thị Bích")),
        ("tinh", late("H56/0002", "Lê Quang Cường")),
        ("tinh", late("H56_0002", "Võ Thị Diệu")),
    ];
    for (source, d) in &cases {
        db.store
            .apply_page(
                source,
                &[tthc_watch::store::Incoming::new(d.clone())],
                &[],
                &[],
                None,
                t("2026-11-13 09:00"),
            )
            .await
            .unwrap();
    }
    check_with(&settings, &rules, &db.store, &at("2026-11-23 08:00"))
        .await
        .unwrap();

    let mut paths = std::collections::BTreeSet::new();
    for (source, d) in &cases {
        let id = db.store.dossier(source, &d.code).await.unwrap().unwrap().id;
        let letter = db.store.latest_letter(id).await.unwrap().expect("a draft");
        let text = document_text(&letter.path);
        assert!(
            text.contains(&d.applicant_name) && text.contains(&d.code),
            "{source}/{} has a letter for someone else: {text}",
            d.code
        );
        for (_, other) in cases
            .iter()
            .filter(|(_, o)| o.applicant_name != d.applicant_name)
        {
            assert!(!text.contains(&other.applicant_name), "{}: {text}", d.code);
        }
        assert!(paths.insert(letter.path.clone()), "{} shared", letter.path);
    }

    // `letter CODE --source bo -o FILE` writes exactly the recorded bytes...
    let out = letters.path().join("out.docx");
    let (record, _) = tthc_watch::app::letters::write_draft(
        &settings,
        &rules,
        &db.store,
        "H56-0001",
        Some("bo"),
        &out,
        &at("2026-11-23 09:00"),
    )
    .await
    .unwrap();
    use sha2::Digest;
    assert_eq!(
        hex::encode(sha2::Sha256::digest(std::fs::read(&out).unwrap())),
        record.sha256
    );
    // ...from the database, whatever became of the file on disk...
    std::fs::remove_file(&record.path).unwrap();
    std::fs::write(&record.path, b"not the letter").unwrap();
    tthc_watch::app::letters::write_draft(
        &settings,
        &rules,
        &db.store,
        "H56-0001",
        Some("bo"),
        &out,
        &at("2026-11-23 09:05"),
    )
    .await
    .unwrap();
    assert_eq!(
        hex::encode(sha2::Sha256::digest(std::fs::read(&out).unwrap())),
        record.sha256
    );
    // ...and refuses stored bytes that are not the recorded ones.
    tamper(&db.store, backend, record.id).await;
    let err = tthc_watch::app::letters::write_draft(
        &settings,
        &rules,
        &db.store,
        "H56-0001",
        Some("bo"),
        &out,
        &at("2026-11-23 09:10"),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains(&record.sha256) && err.contains("not used"),
        "{err}"
    );
    db.cleanup().await;
}

/// Replaces a letter's stored bytes, leaving its recorded hash.
async fn tamper(store: &tthc_watch::store::Store, backend: Backend, letter_id: i64) {
    let bytes = match backend {
        Backend::Sqlite => "CAST('forged' AS BLOB)",
        Backend::Postgres => "CAST('forged' AS bytea)",
    };
    let n = store
        .execute_sql(&format!(
            "UPDATE letters SET content = {bytes} WHERE id = {letter_id}"
        ))
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn each_letter_is_its_own_citizens_sqlite() {
    each_letter_is_its_own_citizens(Backend::Sqlite).await;
}

#[tokio::test]
async fn each_letter_is_its_own_citizens_postgres() {
    each_letter_is_its_own_citizens(Backend::Postgres).await;
}

/// A late dossier drafted and its alerts queued, not yet sent; its letter.
async fn drafted_and_queued(
    backend: Backend,
    sink: &SmtpSink,
) -> (
    TestDb,
    tempfile::TempDir,
    tthc_watch::config::Settings,
    tthc_watch::store::LetterRecord,
) {
    let db = TestDb::new(backend).await;
    let letters = tempfile::tempdir().unwrap();
    let mut settings = test_settings(&db.url, sink.port);
    settings.letters.dir = letters.path().join("letters").display().to_string();
    let rules = Rules::load(&settings).unwrap();
    let d = scripted_dossier(
        "H56-0009",
        "DD",
        "PKT",
        "2026-11-13 08:00",
        5,
        "2026-11-20 08:00",
    );
    db.store
        .apply_page(
            "tinh",
            &[tthc_watch::store::Incoming::new(d.clone())],
            &[],
            &[],
            None,
            t("2026-11-13 09:00"),
        )
        .await
        .unwrap();
    check_with(&settings, &rules, &db.store, &at("2026-11-23 08:00"))
        .await
        .unwrap();
    let id = db.store.dossier("tinh", &d.code).await.unwrap().unwrap().id;
    let letter = db.store.latest_letter(id).await.unwrap().unwrap();
    (db, letters, settings, letter)
}

/// Every queued message went out.
async fn all_sent(store: &tthc_watch::store::Store, sink: &SmtpSink) {
    let outbox = store.outbox().await.unwrap();
    assert!(!outbox.is_empty());
    assert!(
        outbox.iter().all(|m| m.status == "sent"),
        "{:?}",
        outbox
            .iter()
            .map(|m| (&m.recipient, &m.status))
            .collect::<Vec<_>>()
    );
    assert_eq!(sink.messages().len(), outbox.len());
}

/// The letters folder gone before the alert is sent (deleted, or the sending
/// instance is on another host): the unit head's alert carries the draft all
/// the same, byte for byte as drafted, from the database.
async fn a_letter_is_attached_from_the_database_without_its_file(backend: Backend) {
    let sink = SmtpSink::start();
    let (db, letters, settings, letter) = drafted_and_queued(backend, &sink).await;
    std::fs::remove_dir_all(&settings.letters.dir).unwrap();
    let summary = send_with(&settings, &db.store, &at("2026-11-23 08:00"))
        .await
        .unwrap();
    assert_eq!(summary.failed, 0, "{summary:?}");
    all_sent(&db.store, &sink).await;
    let msgs = sink.messages();
    let head = msgs
        .iter()
        .find(|m| m["to"][0] == "pkt@ninhhoa.example.vn")
        .expect("the unit head's alert is delivered");
    assert_eq!(
        head["attachments"],
        serde_json::json!(["van-ban-xin-loi-H56-0009-v1.docx"])
    );
    assert_eq!(
        head["attachment_sha256"],
        serde_json::json!([letter.sha256])
    );
    let text = head["text"].as_str().unwrap();
    assert!(!text.contains("không đính kèm được"), "{text}");
    drop(letters);
    db.cleanup().await;
}

#[tokio::test]
async fn a_letter_is_attached_from_the_database_without_its_file_sqlite() {
    a_letter_is_attached_from_the_database_without_its_file(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_letter_is_attached_from_the_database_without_its_file_postgres() {
    a_letter_is_attached_from_the_database_without_its_file(Backend::Postgres).await;
}

/// A letter whose stored bytes no longer have their recorded hash (and whose
/// file is gone): the alert is delivered all the same, without it, and says
/// the draft could not be attached.
async fn an_alert_goes_out_without_an_altered_letter_and_says_so(backend: Backend) {
    let sink = SmtpSink::start();
    let (db, letters, settings, letter) = drafted_and_queued(backend, &sink).await;
    tamper(&db.store, backend, letter.id).await;
    std::fs::remove_dir_all(&settings.letters.dir).unwrap();
    let summary = send_with(&settings, &db.store, &at("2026-11-23 08:00"))
        .await
        .unwrap();
    assert_eq!(summary.failed, 0, "{summary:?}");
    all_sent(&db.store, &sink).await;
    let msgs = sink.messages();
    let head = msgs
        .iter()
        .find(|m| m["to"][0] == "pkt@ninhhoa.example.vn")
        .expect("the unit head's alert is delivered");
    assert_eq!(head["attachments"], serde_json::json!([]));
    let text = head["text"].as_str().unwrap();
    assert!(
        text.contains("H56-0009")
            && text.contains("không đính kèm được van-ban-xin-loi-H56-0009-v1.docx"),
        "{text}"
    );
    drop(letters);
    db.cleanup().await;
}

#[tokio::test]
async fn an_alert_goes_out_without_an_altered_letter_and_says_so_sqlite() {
    an_alert_goes_out_without_an_altered_letter_and_says_so(Backend::Sqlite).await;
}

#[tokio::test]
async fn an_alert_goes_out_without_an_altered_letter_and_says_so_postgres() {
    an_alert_goes_out_without_an_altered_letter_and_says_so(Backend::Postgres).await;
}

/// A version drafted before the database kept letters has only its file: it
/// is attached from there, as recorded.
#[tokio::test]
async fn a_letter_drafted_before_the_database_kept_it_is_attached_from_its_file() {
    let sink = SmtpSink::start();
    let (db, letters, settings, letter) = drafted_and_queued(Backend::Sqlite, &sink).await;
    db.store
        .execute_sql("UPDATE letters SET content = NULL")
        .await
        .unwrap();
    let summary = send_with(&settings, &db.store, &at("2026-11-23 08:00"))
        .await
        .unwrap();
    assert_eq!(summary.failed, 0, "{summary:?}");
    let msgs = sink.messages();
    let head = msgs
        .iter()
        .find(|m| m["to"][0] == "pkt@ninhhoa.example.vn")
        .unwrap();
    assert_eq!(
        head["attachment_sha256"],
        serde_json::json!([letter.sha256])
    );
    drop(letters);
    db.cleanup().await;
}

/// The new due time a letter promises ("Thời gian hẹn trả kết quả lại: 17 giờ
/// 00 phút, ngày 30 tháng 11 năm 2026").
fn new_due_of(text: &str) -> chrono::NaiveDateTime {
    let label = "Thời gian hẹn trả kết quả lại: ";
    let start = text.find(label).expect("a new due time") + label.len();
    let rest = &text[start..];
    let end = rest.find('.').unwrap();
    chrono::NaiveDateTime::parse_from_str(&rest[..end], "%H giờ %M phút, ngày %d tháng %m năm %Y")
        .unwrap_or_else(|e| panic!("{e}: {}", &rest[..end]))
}

/// Words that only a letter written after the due day may use.
const LATE_WORDS: [&str; 3] = ["phiền hà", "Sự chậm trễ", "Đến nay"];

/// Checks one letter version as a citizen reads it: its wording matches its
/// date, its new due time is within office hours on a working day, and an
/// organisation is never "Ông/Bà". Returns the text.
fn check_letter(
    rules: &Rules,
    letter: &tthc_watch::store::LetterRecord,
    due: chrono::NaiveDateTime,
    organisation: bool,
) -> String {
    let text = document_text(&letter.path);
    let date = letter.generated_at.date();
    let late = date > due.date();
    assert_eq!(
        letter.wording.as_deref(),
        Some(if late { "late" } else { "before_due" }),
        "v{} of {date}",
        letter.version
    );
    for w in LATE_WORDS {
        assert_eq!(
            text.contains(w),
            late,
            "{w:?} in v{} of {date}: {text}",
            letter.version
        );
    }
    assert!(
        text.contains("PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ"),
        "{text}"
    );
    assert!(
        !text.contains("chúng tôi") && !text.contains("Chúng tôi"),
        "{text}"
    );
    assert!(!text.contains("Lý do: ……"), "{text}");
    let new_due = new_due_of(&text);
    let h = &rules.hours;
    let t = new_due.time();
    assert!(
        (h.morning_start <= t && t <= h.morning_end)
            || (h.afternoon_start <= t && t <= h.afternoon_end),
        "new due {new_due} outside office hours"
    );
    assert!(
        rules.calendar.is_working_day(new_due.date()).unwrap(),
        "new due {new_due} is not a working day"
    );
    assert!(new_due > letter.generated_at, "{new_due}");
    if organisation {
        assert!(!text.contains("Ông/Bà"), "{text}");
    }
    text
}

/// Demo of issue #26 on the dates it was tried: a dossier whose source due
/// time is 19:46 drafted on Friday 20/11/2026 before its due day (Monday
/// 23/11), then late on 25/11 (24/11 is a day off): a new, late version,
/// which the unit head's overdue alert attaches; never a pre-due one. A
/// company gets its name and "Quý Công ty", and its address from the source.
async fn a_draft_follows_the_dossier_from_before_due_to_late(backend: Backend) {
    let sink = SmtpSink::start();
    let db = TestDb::new(backend).await;
    let letters = tempfile::tempdir().unwrap();
    let mut settings = test_settings(&db.url, sink.port);
    settings.letters.dir = letters.path().display().to_string();
    let rules = Rules::load(&settings).unwrap();

    let due = t("2026-11-23 19:46");
    let mut person = scripted_dossier(
        "H56-0031",
        "DD",
        "PKT",
        "2026-11-13 08:00",
        5,
        "2026-11-23 19:46",
    );
    person.steps = vec![Step {
        name: "Thẩm định, xử lý hồ sơ".into(),
        unit: "Phòng Kinh tế, Hạ tầng và Đô thị".into(),
        officer: Some("Lê Thị Thu Hà".into()),
        started_at: t("2026-11-13 09:00"),
        finished_at: None,
        due_at: Some(t("2026-11-18 08:00")),
    }];
    let mut company = person.clone();
    company.code = "H56-0032".into();
    // The source says person; the name says company.
    company.applicant_name = "Công ty TNHH Xây dựng An Phát".into();
    company.applicant_address = Some("Số 12 đường Trần Phú, phường Ninh Hòa".into());
    let mut cooperative = person.clone();
    cooperative.code = "H56-0033".into();
    cooperative.applicant_name = "Hợp tác xã Nông nghiệp Ninh Hưng".into();
    cooperative.applicant_kind = tthc_watch::dossier::ApplicantKind::Organisation;
    cooperative.steps.clear();
    let cases = [(&person, false), (&company, true), (&cooperative, true)];
    db.store
        .apply_page(
            "tinh",
            &cases
                .iter()
                .map(|(d, _)| tthc_watch::store::Incoming::new((*d).clone()))
                .collect::<Vec<_>>(),
            &[],
            &[],
            None,
            t("2026-11-13 09:00"),
        )
        .await
        .unwrap();

    for now in [
        "2026-11-20 08:00",
        "2026-11-23 08:00",
        "2026-11-23 16:00",
        "2026-11-25 08:00",
        "2026-11-26 08:00",
    ] {
        check_with(&settings, &rules, &db.store, &at(now))
            .await
            .unwrap();
        send_with(&settings, &db.store, &at(now)).await.unwrap();
    }

    let mut all = std::collections::BTreeMap::new();
    for (d, organisation) in cases {
        let id = db.store.dossier("tinh", &d.code).await.unwrap().unwrap().id;
        let versions = db.store.letters_of(id).await.unwrap();
        // Drafted before the due day on 20/11, redrafted once when late on
        // 25/11; nothing new on 23/11 or 26/11.
        assert_eq!(
            versions
                .iter()
                .map(|l| (
                    l.generated_at.date().to_string(),
                    l.wording.clone().unwrap()
                ))
                .collect::<Vec<_>>(),
            [
                ("2026-11-20".to_owned(), "before_due".to_owned()),
                ("2026-11-25".to_owned(), "late".to_owned())
            ],
            "{}",
            d.code
        );
        for l in &versions {
            let text = check_letter(&rules, l, due, organisation);
            // The source's 19:46 is not kept: the end of the afternoon.
            assert_eq!(
                new_due_of(&text).time(),
                chrono::NaiveTime::from_hms_opt(17, 0, 0).unwrap()
            );
            if d.steps.is_empty() {
                assert!(text.contains("Lý do: hồ sơ cần thêm thời gian"), "{text}");
            } else {
                assert!(
                    text.contains(
                        "Lý do: việc thẩm định hồ sơ tại Phòng Kinh tế, Hạ tầng và Đô thị"
                    ),
                    "{text}"
                );
            }
            all.insert(l.sha256.clone(), (d.code.clone(), l.clone()));
        }
        let late = document_text(&versions[1].path);
        assert!(late.contains("ỦY BAN NHÂN DÂNPHƯỜNG NINH HÒA"), "{late}");
        assert!(
            late.contains("Ủy ban nhân dân phường Ninh Hòa thành thật xin lỗi"),
            "{late}"
        );
        // 25/11 + 5 working days.
        assert!(
            late.contains("17 giờ 00 phút, ngày 02 tháng 12 năm 2026"),
            "{late}"
        );
        match d.code.as_str() {
            "H56-0031" => assert!(late.contains("Kính gửi: Ông/Bà Nguyễn Thị Hồng"), "{late}"),
            "H56-0032" => {
                assert!(
                    late.contains("Kính gửi: Công ty TNHH Xây dựng An Phát"),
                    "{late}"
                );
                assert!(late.contains("thành thật xin lỗi Quý Công ty"), "{late}");
                assert!(
                    late.contains("Địa chỉ: Số 12 đường Trần Phú, phường Ninh Hòa"),
                    "{late}"
                );
            }
            _ => assert!(late.contains("thành thật xin lỗi Quý Hợp tác xã"), "{late}"),
        }
    }

    // Every attachment any alert carried is a late version, and the unit
    // head's overdue alert carried each dossier's.
    let msgs = sink.messages();
    let mut attached = 0;
    for m in &msgs {
        for sha in m["attachment_sha256"].as_array().into_iter().flatten() {
            let (code, l) = &all[sha.as_str().unwrap()];
            assert_eq!(
                l.wording.as_deref(),
                Some("late"),
                "{code} v{} attached",
                l.version
            );
            attached += 1;
        }
    }
    assert_eq!(attached, cases.len(), "{msgs:#?}");
    db.cleanup().await;
}

#[tokio::test]
async fn a_draft_follows_the_dossier_from_before_due_to_late_sqlite() {
    a_draft_follows_the_dossier_from_before_due_to_late(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_draft_follows_the_dossier_from_before_due_to_late_postgres() {
    a_draft_follows_the_dossier_from_before_due_to_late(Backend::Postgres).await;
}

/// Around Tết, and in 2027 (provisional days off): due times from a source
/// at 03:42 and 19:46 give new due times within office hours on working days.
async fn new_due_times_around_tet_are_within_office_hours(backend: Backend) {
    let sink = SmtpSink::start();
    let db = TestDb::new(backend).await;
    let letters = tempfile::tempdir().unwrap();
    let mut settings = test_settings(&db.url, sink.port);
    settings.letters.dir = letters.path().display().to_string();
    let rules = Rules::load(&settings).unwrap();
    for (code, received, due, now) in [
        (
            "T26-0001",
            "2026-02-02 08:00",
            "2026-02-13 03:42",
            "2026-02-23 08:00",
        ),
        (
            "T26-0002",
            "2026-02-02 08:00",
            "2026-02-12 19:46",
            "2026-02-23 08:00",
        ),
        (
            "T27-0001",
            "2027-01-18 08:00",
            "2027-01-29 19:46",
            "2027-02-01 08:00",
        ),
        (
            "T27-0002",
            "2027-01-18 08:00",
            "2027-02-02 03:42",
            "2027-02-01 08:00",
        ),
    ] {
        let d = scripted_dossier(code, "DD", "PKT", received, 5, due);
        db.store
            .apply_page(
                "tinh",
                &[tthc_watch::store::Incoming::new(d.clone())],
                &[],
                &[],
                None,
                t(received),
            )
            .await
            .unwrap();
        check_with(&settings, &rules, &db.store, &at(now))
            .await
            .unwrap();
        let id = db.store.dossier("tinh", code).await.unwrap().unwrap().id;
        let l = db.store.latest_letter(id).await.unwrap().expect("a draft");
        let text = check_letter(&rules, &l, t(due), false);
        let expected = if due.ends_with("03:42") {
            "11:30:00"
        } else {
            "17:00:00"
        };
        assert_eq!(new_due_of(&text).time().to_string(), expected, "{code}");
    }
    db.cleanup().await;
}

#[tokio::test]
async fn new_due_times_around_tet_are_within_office_hours_sqlite() {
    new_due_times_around_tet_are_within_office_hours(Backend::Sqlite).await;
}

#[tokio::test]
async fn new_due_times_around_tet_are_within_office_hours_postgres() {
    new_due_times_around_tet_are_within_office_hours(Backend::Postgres).await;
}
