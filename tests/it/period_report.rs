//! The periodic report (báo cáo tình hình, kết quả giải quyết TTHC) on both
//! backends: dossiers with varied receipt, finish and due times and channels
//! across Q2–Q4 2026 are stored and checked; each quarter's report is
//! compared with a count written here from the raw fixtures, with the KPIs,
//! and with the previous quarter (carried over = in progress at its end);
//! the XLSX is read back; the command line and the API give the same report.

use crate::support::check_with;
use crate::support::*;
use chrono::NaiveDateTime;
use std::collections::BTreeMap;
use tthc_watch::app::RuleSet as Rules;
use tthc_watch::clock::{Clock, from_vn};
use tthc_watch::dossier::{Channel, Dossier, Status};
use tthc_watch::report::{self, Period, PeriodReport, ReportRow, Reporter};
use tthc_watch::store::KpiGroup;

/// When the check runs and the reports are taken: after Q4.
const NOW: &str = "2027-01-05 08:00";

#[derive(Clone, Debug)]
enum Outcome {
    Open,
    /// Supplementation requested, not back yet (paused now).
    Paused,
    /// Finished at (finished_at set).
    Finished(NaiveDateTime),
    /// Returned at, without a finish time.
    Returned(NaiveDateTime),
    /// Refused at (its last change).
    Refused(NaiveDateTime),
}

#[derive(Clone, Debug)]
struct Fix {
    code: String,
    field: (&'static str, &'static str),
    unit: (&'static str, &'static str),
    channel: Channel,
    received: NaiveDateTime,
    due: Option<NaiveDateTime>,
    outcome: Outcome,
    apologised: bool,
}

const FIELDS: [(&str, &str); 3] = [("DD", "Đất đai"), ("HT", "Hộ tịch"), ("XD", "Xây dựng")];
const UNITS: [(&str, &str); 3] = [
    ("PKT", "Phòng Kinh tế, Hạ tầng và Đô thị"),
    ("PTP", "Phòng Tư pháp"),
    ("VHXH", "Phòng Văn hóa - Xã hội"),
];
const CHANNELS: [Channel; 3] = [Channel::Direct, Channel::Online, Channel::Postal];

/// Hand-picked edges, then a deterministic spread across Q2–Q4 2026.
fn fixtures() -> Vec<Fix> {
    let mut v = Vec::new();
    let mut add = |received: &str, due: Option<&str>, outcome: Outcome, apologised: bool| {
        let i = v.len();
        v.push(Fix {
            code: format!("H56-{i:05}"),
            field: FIELDS[i % 3],
            unit: UNITS[(i / 3) % 3],
            channel: CHANNELS[(i / 2) % 3],
            received: t(received),
            due: due.map(t),
            outcome,
            apologised,
        });
    };
    use Outcome::*;
    // Received at Q3's first instant, finished at its last minute, on the due day.
    add(
        "2026-07-01 00:00",
        Some("2026-09-30 17:00"),
        Finished(t("2026-09-30 23:59")),
        false,
    );
    // Finished at Q4's first instant: still in progress at Q3's end.
    add(
        "2026-09-29 10:00",
        Some("2026-10-01 08:00"),
        Finished(t("2026-10-01 00:00")),
        false,
    );
    // Received in Q2, finished late in Q3 with an apology: carried into Q3.
    add(
        "2026-06-10 09:00",
        Some("2026-07-10 17:00"),
        Finished(t("2026-07-20 10:00")),
        true,
    );
    // Late without an apology, received and finished in Q3.
    add(
        "2026-08-03 09:00",
        Some("2026-08-10 17:00"),
        Finished(t("2026-08-12 10:00")),
        false,
    );
    // Refused in Q3 (no finish time: its last change counts).
    add(
        "2026-06-25 14:00",
        Some("2026-07-15 17:00"),
        Refused(t("2026-07-02 09:00")),
        false,
    );
    // Refused in Q2: nothing to Q3.
    add(
        "2026-05-05 14:00",
        Some("2026-05-25 17:00"),
        Refused(t("2026-05-06 09:00")),
        false,
    );
    // Open, due on Q3's last day: overdue at Q3's end.
    add("2026-09-01 08:00", Some("2026-09-30 17:00"), Open, false);
    // Open, due the day after Q3: within time at its end.
    add("2026-09-02 08:00", Some("2026-10-01 08:00"), Open, false);
    // Paused now, due long ago: within time at every end.
    add("2026-07-15 08:00", Some("2026-08-15 17:00"), Paused, false);
    // No due date, open.
    add("2026-08-20 08:00", None, Open, false);
    // Returned (no finish time) in Q3, before the due day.
    add(
        "2026-07-06 08:00",
        Some("2026-07-20 17:00"),
        Returned(t("2026-07-17 15:00")),
        false,
    );
    // Finished in Q2: nothing to Q3.
    add(
        "2026-04-06 08:00",
        Some("2026-04-20 17:00"),
        Finished(t("2026-04-15 15:00")),
        false,
    );
    // Received in Q4's last minute.
    add("2026-12-31 23:59", Some("2027-01-15 17:00"), Open, false);

    // A spread: receipt every ~19 hours from 1 April, due 3–40 days later,
    // finished 1–70 days later (up to now), refused, paused or still open.
    let mut seed: u64 = 0x2026_0928;
    let mut next = |n: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    };
    let now = t(NOW);
    let mut at = t("2026-04-01 07:30");
    while at < t("2026-12-28 00:00") {
        at += chrono::Duration::minutes(19 * 60 + next(600) as i64);
        let due = at + chrono::Duration::days(3 + next(38) as i64);
        let done = at + chrono::Duration::minutes(60 + next(70 * 24 * 60) as i64);
        let outcome = match next(10) {
            _ if done > now => Open,
            0 => Refused(done),
            1 => Paused,
            2 => Open,
            3 => Returned(done),
            _ => Finished(done),
        };
        let fmt = at.format("%Y-%m-%d %H:%M").to_string();
        let due = (next(15) != 0).then(|| due.format("%Y-%m-%d %H:%M").to_string());
        let apologised = next(2) == 0;
        add(&fmt, due.as_deref(), outcome, apologised);
    }
    v
}

fn dossier(f: &Fix) -> Dossier {
    let due = f.due.map(|d| d.format("%Y-%m-%d %H:%M").to_string());
    let mut d = scripted_dossier(
        &f.code,
        f.field.0,
        f.unit.0,
        &f.received.format("%Y-%m-%d %H:%M").to_string(),
        10,
        due.as_deref().unwrap_or("2030-01-01 00:00"),
    );
    d.field_name = f.field.1.into();
    d.unit_name = f.unit.1.into();
    d.channel = f.channel;
    d.due_at = f.due;
    if f.due.is_none() {
        d.duration = None;
    }
    match f.outcome {
        Outcome::Open => {}
        Outcome::Paused => d.status = Status::SupplementRequested,
        Outcome::Finished(at) => {
            d.status = Status::Finished;
            d.finished_at = Some(at);
            d.updated_at = at;
        }
        Outcome::Returned(at) => {
            d.status = Status::Returned;
            d.returned_at = Some(at);
            d.updated_at = at;
        }
        Outcome::Refused(at) => {
            d.status = Status::Refused;
            d.updated_at = at;
        }
    }
    d
}

/// The report's numbers as this test counts them from the fixtures, by
/// field, by unit and in total (the order of `ReportRow::numbers`, counts
/// only; rates checked apart).
type Counts = [i64; 15];

fn expected(fixtures: &[Fix], p: &Period) -> [BTreeMap<String, Counts>; 3] {
    let start = p.first.and_hms_opt(0, 0, 0).unwrap();
    let end = p.last.and_hms_opt(23, 59, 59).unwrap();
    let overdue_before = (p.last + chrono::Days::new(1))
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let mut out: [BTreeMap<String, Counts>; 3] = Default::default();
    for f in fixtures {
        let (ended, resolved) = match f.outcome {
            Outcome::Finished(at) | Outcome::Returned(at) => (Some(at), true),
            Outcome::Refused(at) => (Some(at), false),
            Outcome::Open | Outcome::Paused => (None, false),
        };
        let mut c: Counts = [0; 15];
        let carried = f.received < start && ended.is_none_or(|e| e >= start);
        let new = f.received >= start && f.received <= end;
        c[1] = carried as i64;
        c[2] = new as i64;
        c[3] = (new && f.channel == Channel::Online) as i64;
        c[4] = (new && f.channel == Channel::Direct) as i64;
        c[5] = (new && f.channel == Channel::Postal) as i64;
        c[0] = c[1] + c[2];
        if let Some(e) = ended.filter(|e| *e >= start && *e <= end) {
            if resolved {
                // The engine's class: the finish day against the due day.
                let (fd, dd) = (e.date(), f.due.map(|d| d.date()));
                let slot = match dd {
                    None => 7,
                    Some(dd) if fd < dd => 7,
                    Some(dd) if fd == dd => 8,
                    Some(_) => 9,
                };
                c[slot] = 1;
                c[6] = 1;
            } else {
                c[10] = 1;
            }
        }
        if f.received <= end && ended.is_none_or(|e| e > end) {
            c[11] = 1;
            let paused_now = matches!(f.outcome, Outcome::Paused);
            let overdue = !paused_now && f.due.is_some_and(|d| d < overdue_before);
            c[if overdue { 13 } else { 12 }] = 1;
        }
        // Late and apologised (letters are issued for those marked, when late).
        c[14] = (c[9] == 1 && f.apologised) as i64;
        if c.iter().all(|n| *n == 0) {
            continue;
        }
        for (map, key) in out.iter_mut().zip([f.field.0, f.unit.0, ""]) {
            let e = map.entry(key.to_owned()).or_insert([0; 15]);
            for (a, b) in e.iter_mut().zip(c) {
                *a += b;
            }
        }
    }
    out
}

fn counts_of(r: &ReportRow) -> Counts {
    [
        r.received,
        r.carried,
        r.new_total,
        r.new_online,
        r.new_direct,
        r.new_postal,
        r.resolved,
        r.before_due,
        r.on_due_day,
        r.late,
        r.closed,
        r.in_progress,
        r.in_progress_within,
        r.in_progress_overdue,
        r.late_apologised,
    ]
}

fn rows_of(rows: &[ReportRow]) -> BTreeMap<String, Counts> {
    rows.iter()
        .map(|r| (r.code.clone(), counts_of(r)))
        .collect()
}

/// The fixtures stored and checked at `NOW`, the late ones marked apologised
/// given an issued letter.
async fn stored(backend: Backend) -> (TestDb, Vec<Fix>, Rules) {
    let db = TestDb::new(backend).await;
    let fixtures = fixtures();
    let incoming: Vec<_> = fixtures
        .iter()
        .map(|f| tthc_watch::store::Incoming::new(dossier(f)))
        .collect();
    db.store
        .apply_page("tinh", &incoming, &[], &[], None, t("2027-01-05 07:00"))
        .await
        .unwrap();
    let settings = test_settings(&db.url, 1);
    let rules = Rules::load(&settings).unwrap();
    let clock = Clock::fixed(from_vn(t(NOW)));
    check_with(&settings, &rules, &db.store, &clock)
        .await
        .unwrap();
    let mut issued = 0;
    for (i, f) in fixtures.iter().enumerate() {
        let late = match (f.outcome.clone(), f.due) {
            (Outcome::Finished(e) | Outcome::Returned(e), Some(d)) => e.date() > d.date(),
            _ => false,
        };
        if late && f.apologised {
            // A dossier found finished late gets no draft by itself: ask for one.
            let out =
                std::env::temp_dir().join(format!("tthc-report-{}-{i}.docx", std::process::id()));
            tthc_watch::app::letters::write_draft(
                &settings, &rules, &db.store, &f.code, None, &out, &clock,
            )
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", f.code));
            let _ = std::fs::remove_file(&out);
            db.store
                .issue_letter("tinh", &f.code, &format!("{i}/PXL"), t(NOW))
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", f.code));
            issued += 1;
        }
    }
    assert!(issued > 5, "only {issued} letters issued");
    (db, fixtures, rules)
}

async fn quarter(db: &TestDb, rules: &Rules, p: &str) -> (Period, PeriodReport) {
    let p = Period::parse(p).unwrap();
    let r = tthc_watch::app::report::period_report(&db.store, &rules.routing, &p, t(NOW))
        .await
        .unwrap();
    (p, r)
}

async fn report_matches_an_independent_count(backend: Backend) {
    let (db, fixtures, rules) = stored(backend).await;
    let mut reports = Vec::new();
    for q in ["2026-Q2", "2026-Q3", "2026-Q4"] {
        let (p, r) = quarter(&db, &rules, q).await;
        let [by_field, by_unit, total] = expected(&fixtures, &p);
        assert_eq!(rows_of(&r.by_field), by_field, "{q} by field");
        assert_eq!(rows_of(&r.by_unit), by_unit, "{q} by unit");
        assert_eq!(counts_of(&r.total), total[""], "{q} totals");
        // Every field and unit is named as stored.
        assert!(r.by_field.iter().any(|x| x.name == "Đất đai"), "{q}");
        assert!(r.by_unit.iter().any(|x| x.name == "Phòng Tư pháp"), "{q}");

        // The totals are the sum of either list, and balance.
        let t = &r.total;
        for rows in [&r.by_field, &r.by_unit] {
            let mut sum = [0; 15];
            for row in rows.iter() {
                for (a, b) in sum.iter_mut().zip(counts_of(row)) {
                    *a += b;
                }
            }
            assert_eq!(sum, counts_of(t), "{q}");
        }
        assert_eq!(
            t.carried + t.new_total,
            t.resolved + t.closed + t.in_progress,
            "{q}"
        );

        // The KPIs of the same days.
        let kpi = db
            .store
            .kpis(KpiGroup::All, p.first, p.last)
            .await
            .unwrap()
            .into_iter()
            .next()
            .unwrap_or_default();
        assert_eq!(
            (
                t.new_total,
                t.resolved,
                t.before_due,
                t.on_due_day,
                t.late,
                t.late_apologised
            ),
            (
                kpi.received,
                kpi.finished,
                kpi.before_due,
                kpi.on_due_day,
                kpi.late,
                kpi.late_apologised
            ),
            "{q}: report vs KPIs"
        );
        assert_eq!(t.on_time_pct, kpi.on_time_pct, "{q}");
        assert_eq!(t.apology_pct, kpi.apology_pct, "{q}");
        assert!(
            t.late > 0 && t.closed > 0 && t.in_progress_overdue > 0,
            "{q}: {t:?}"
        );
        reports.push(r);
    }
    // Carried over into a quarter = in progress at the end of the one before,
    // row by row.
    for pair in reports.windows(2) {
        let (before, after) = (&pair[0], &pair[1]);
        assert_eq!(after.previous.slug, before.period.slug);
        assert_eq!(after.total.carried, before.total.in_progress);
        for (a, b) in [
            (&before.by_field, &after.by_field),
            (&before.by_unit, &after.by_unit),
        ] {
            let open: BTreeMap<_, _> = a.iter().map(|r| (&r.code, r.in_progress)).collect();
            for r in b.iter() {
                assert_eq!(
                    r.carried,
                    open.get(&r.code).copied().unwrap_or(0),
                    "{}",
                    r.code
                );
            }
        }
    }
    // A custom range equal to Q3 counts the same.
    let (_, q3) = quarter(&db, &rules, "2026-Q3").await;
    let (_, custom) = quarter(&db, &rules, "2026-07-01..2026-09-30").await;
    assert_eq!(counts_of(&custom.total), counts_of(&q3.total));
    assert_eq!(custom.previous.from, "2026-03-31");
    db.cleanup().await;
}

#[tokio::test]
async fn report_matches_an_independent_count_on_sqlite() {
    report_matches_an_independent_count(Backend::Sqlite).await;
}

#[tokio::test]
async fn report_matches_an_independent_count_on_postgres() {
    if !postgres_available().await {
        return;
    }
    report_matches_an_independent_count(Backend::Postgres).await;
}

/// Every cell of a sheet as text, by (row, column).
fn cells(book: &mut calamine::Xlsx<std::io::Cursor<Vec<u8>>>, sheet: &str) -> Vec<Vec<String>> {
    use calamine::Reader;
    let range = book.worksheet_range(sheet).unwrap();
    range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}

fn row_starting(cells: &[Vec<String>], first: &str, second: &str) -> usize {
    cells
        .iter()
        .position(|r| {
            r.first().map(String::as_str) == Some(first)
                && r.get(1).map(String::as_str) == Some(second)
        })
        .unwrap_or_else(|| panic!("no row starting {first:?}, {second:?}"))
}

#[tokio::test]
async fn the_xlsx_is_laid_out_like_the_form() {
    use calamine::Reader;
    let (db, _, rules) = stored(Backend::Sqlite).await;
    let (_, r) = quarter(&db, &rules, "2026-Q3").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bao-cao-tthc-2026-Q3.xlsx");
    tthc_watch::app::report::write_period_xlsx(&r, &rules.report_template, &path).unwrap();
    let mut book =
        calamine::Xlsx::new(std::io::Cursor::new(std::fs::read(&path).unwrap())).unwrap();
    assert_eq!(book.sheet_names(), ["Theo lĩnh vực", "Theo đơn vị"]);
    for (sheet, name_col, rows) in [
        ("Theo lĩnh vực", "Lĩnh vực", &r.by_field),
        ("Theo đơn vị", "Đơn vị", &r.by_unit),
    ] {
        let c = cells(&mut book, sheet);
        let text: Vec<&str> = c.iter().flatten().map(String::as_str).collect();
        for line in [
            "ỦY BAN NHÂN DÂN",
            "PHƯỜNG NINH HÒA",
            "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
            "Ninh Hòa, ngày 05 tháng 01 năm 2027",
            "BÁO CÁO TÌNH HÌNH, KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH",
            "Kỳ báo cáo: Quý III năm 2026",
            "(Từ ngày 01/07/2026 đến ngày 30/09/2026)",
        ] {
            assert!(text.contains(&line), "{sheet}: no {line:?} in {text:?}");
        }
        // Two header rows: the groups over their columns, then the columns.
        let h = row_starting(&c, "STT", name_col);
        assert_eq!(c[h][2], "Số hồ sơ nhận giải quyết");
        assert_eq!(c[h][8], "Số hồ sơ đã giải quyết");
        assert_eq!(
            c[h + 1][2..5],
            ["Tổng số", "Kỳ trước chuyển qua", "Mới tiếp nhận trong kỳ"]
        );
        assert_eq!(c[h + 1][9..12], ["Trước hạn", "Đúng hạn", "Quá hạn"]);
        let numbered: Vec<String> = (1..=19).map(|i| format!("({i})")).collect();
        assert_eq!(c[h + 2], numbered, "{sheet}");
        // One row per field (unit) in order, then the totals.
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(c[h + 3 + i][0], (i + 1).to_string());
            assert_eq!(c[h + 3 + i][1], row.name);
            assert_eq!(c[h + 3 + i][2], row.received.to_string());
        }
        let total = row_starting(&c, "", "Tổng cộng");
        assert_eq!(total, h + 3 + rows.len());
        let t = &r.total;
        let n: Vec<f64> = c[total][2..]
            .iter()
            .map(|x| x.parse().unwrap_or(f64::NAN))
            .collect();
        assert_eq!(n[0] as i64, t.received);
        assert_eq!(n[1] as i64, t.carried);
        assert_eq!(n[6] as i64, t.resolved);
        assert_eq!(n[13] as i64, t.in_progress_overdue);
        // Rates are fractions shown in percent.
        assert!(
            (n[14] * 100.0 - t.on_time_pct.unwrap()).abs() < 1e-9,
            "{n:?}"
        );
        assert!(
            (n[16] * 100.0 - t.apology_pct.unwrap()).abs() < 1e-9,
            "{n:?}"
        );
    }
    let range = book.merge_cells_by_sheet_name("Theo lĩnh vực").unwrap();
    assert!(range.len() > 8, "the headers are merged: {range:?}");
    db.cleanup().await;
}

#[tokio::test]
async fn the_command_line_and_the_api_give_the_same_report() {
    let (db, _, rules) = stored(Backend::Sqlite).await;
    let (_, direct) = quarter(&db, &rules, "2026-Q3").await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("q3.xlsx");
    let bin = || {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_tthc-watch"));
        c.env_remove("TTHC_WATCH_CONFIG")
            .env("TTHC_WATCH__LETTERS__DIR", dir.path().join("letters"))
            .args([
                "report",
                "--database-url",
                &db.url,
                "--now",
                "2027-01-05T08:00:00+07:00",
            ]);
        c
    };
    let o = bin()
        .args(["--period", "2026-Q3", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("Quý III năm 2026"), "{stdout}");
    assert!(
        stdout.contains(&format!("{} received", direct.total.received)),
        "{stdout}"
    );
    let written = std::fs::read(&out).unwrap();
    assert_eq!(&written[..2], b"PK");

    let o = bin().args(["--period", "2026-Q3"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success());
    assert!(
        stdout.contains("Tổng cộng") && stdout.contains("Đất đai"),
        "{stdout}"
    );

    let o = bin().args(["--period", "2026-Q5"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        stderr.contains("'Q5' is not a quarter") && stderr.contains("2026-Q3 (quarter)"),
        "{stderr}"
    );

    // The API: JSON equal to the direct call, XLSX named for the period.
    let settings = test_settings(&db.url, 1);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = std::sync::Arc::new(tthc_watch::api::AppState::new(
        &settings,
        db.store.clone(),
        Clock::fixed(from_vn(t(NOW))),
        rules.routing.clone(),
        rules.calendar.clone(),
    ));
    let shutdown = tokio_util::sync::CancellationToken::new();
    tokio::spawn(tthc_watch::api::serve(listener, state, shutdown.clone()));
    let (_, token) = db
        .store
        .create_token("Sở Nội vụ", "auditor", t(NOW))
        .await
        .unwrap();
    let get = |q: &str| {
        reqwest::Client::new()
            .get(format!("{base}/api/v1/report?{q}"))
            .bearer_auth(&token)
            .send()
    };
    let json: serde_json::Value = get("period=2026-Q3").await.unwrap().json().await.unwrap();
    assert_eq!(json, serde_json::to_value(&direct).unwrap());
    let resp = get("period=2026-Q3&format=xlsx").await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-disposition"],
        "attachment; filename=\"bao-cao-tthc-2026-Q3.xlsx\""
    );
    let resp = get("period=2026-13").await.unwrap();
    assert_eq!(resp.status(), 400);
    let body = resp.text().await.unwrap();
    assert!(
        body.contains("parameter 'period'") && body.contains("'13' is not a month"),
        "{body}"
    );
    let resp = reqwest::Client::new()
        .get(format!("{base}/api/v1/report?period=2026-Q3"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    shutdown.cancel();
    db.cleanup().await;
}

/// The report module's roll-up from hand-made counts is what the store
/// gives; here only that an empty database gives an empty, balanced report.
#[tokio::test]
async fn an_empty_period_has_no_rows_and_no_rates() {
    let db = TestDb::new(Backend::Sqlite).await;
    let p = Period::parse("2026-H1").unwrap();
    let counts = db
        .store
        .period_counts(p.first, p.last, report::overdue_before(&p, t(NOW)))
        .await
        .unwrap();
    let routing = tthc_watch::routing::Routing::builtin().unwrap();
    let r = report::build(&p, &counts, Reporter::from_routing(&routing), t(NOW));
    assert!(r.by_field.is_empty() && r.by_unit.is_empty());
    assert_eq!((r.total.received, r.total.on_time_pct), (0, None));
    assert_eq!(r.period.label, "6 tháng đầu năm 2026");
    db.cleanup().await;
}
