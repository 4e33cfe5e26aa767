//! A real browser (Debian's headless Chromium, driven by playwright-core) logs in
//! to the dashboard and reads the numbers a leader would see, on a desktop and
//! on a phone, then opens a dossier's page from the list. `DASHBOARD_SCREENSHOTS=docs`
//! also refreshes the screenshots.

use crate::api::spawn_api;
use crate::support::*;
use std::collections::BTreeMap;
use std::path::Path;
use tthc_watch::deadline::Class;

#[tokio::test]
async fn a_browser_logs_in_and_reads_the_dashboard() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let ready = Path::new(&chromium).exists()
        && Path::new(dir).join("node_modules/playwright-core").exists();
    if !ready {
        assert!(
            std::env::var("CI").map(|v| v != "true").unwrap_or(true),
            "the browser test needs chromium and `npm ci` in tests/browser (.ci/run installs both)"
        );
        eprintln!("chromium or tests/browser/node_modules missing: skipping the browser test");
        return;
    }
    let api = spawn_api(Backend::Sqlite).await;
    let (base, token) = (api.base.clone(), api.auditor.clone());
    let shots = std::env::var("DASHBOARD_SCREENSHOTS").ok();
    // The auditors' list is filtered to this month and its busiest unit.
    let month = api.sim.sim.now().format("%Y-%m").to_string();
    let mut per_unit: BTreeMap<String, usize> = BTreeMap::new();
    for d in api.sim.sim.snapshot() {
        if d.received_at.format("%Y-%m").to_string() == month {
            *per_unit.entry(d.unit_code.clone()).or_default() += 1;
        }
    }
    let unit = per_unit
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(u, _)| u.clone())
        .expect("dossiers received this month");
    let downloads = tempfile::tempdir().unwrap();
    let xlsx = downloads.path().join("auditor.xlsx");
    let (audit_unit, audit_month, audit_xlsx) = (unit.clone(), month.clone(), xlsx.clone());
    // A leader's acknowledgement link for an overdue dossier, as an email carries.
    let overdue = api
        .sim
        .sim
        .snapshot()
        .into_iter()
        .find(|d| {
            d.unit_code == unit
                && d.finished_at.is_none()
                && d.returned_at.is_none()
                && d.due_at.is_some_and(|due| due < api.sim.sim.now())
        })
        .expect("an overdue dossier");
    let now = api.sim.sim.now();
    let ack_token = tthc_watch::ack::Signer::new(api.db.store.ack_key(now).await.unwrap()).sign(
        &tthc_watch::ack::Grant {
            purpose: tthc_watch::ack::Purpose::Ack,
            recipient: "chutich@ninhhoa.example.vn".into(),
            source: "tinh".into(),
            code: overdue.code.clone(),
            due_at: overdue.due_at,
            rung: "overdue".into(),
            expires_at: now + chrono::Duration::days(7),
        },
    );
    let ack_url = format!("{}/ack/{ack_token}", api.base);
    let out = tokio::task::spawn_blocking(move || {
        let mut c = std::process::Command::new("node");
        c.current_dir(dir)
            .arg("dashboard.mjs")
            .arg(&base)
            .arg(&token)
            .env("AUDIT_UNIT", &audit_unit)
            .env("AUDIT_MONTH", &audit_month)
            .env("AUDIT_XLSX", &audit_xlsx)
            .env("ACK_URL", &ack_url);
        if let Some(s) = shots {
            c.arg(std::fs::canonicalize(s).expect("screenshot dir"));
        }
        c.output().expect("run node")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("JSON from the browser script");
    assert!(
        seen["desktop_login_url"]
            .as_str()
            .unwrap()
            .ends_with("/dashboard/login"),
        "asked to log in first"
    );
    let classes: BTreeMap<Class, i64> = api
        .db
        .store
        .count_by_class()
        .await
        .unwrap()
        .into_iter()
        .collect();
    let n = |c: Class| classes.get(&c).copied().unwrap_or(0).to_string();
    let open: i64 = classes
        .iter()
        .filter(|(c, _)| c.is_open())
        .map(|(_, n)| n)
        .sum();
    for view in ["desktop", "phone"] {
        let v = &seen[view];
        assert_eq!(v["overdue"], n(Class::Overdue), "{view}: {v}");
        assert_eq!(v["due_today"], n(Class::DueToday), "{view}: {v}");
        assert_eq!(v["due_soon"], n(Class::DueSoon), "{view}: {v}");
        assert_eq!(v["open"], open.to_string(), "{view}: {v}");
        assert!(v["overall"].as_str().unwrap().ends_with('%'), "{view}: {v}");
        assert_eq!(v["trend"], 1, "{view}: the 12-month chart is there");
    }
    assert!(
        seen["phone"]["overflow"].as_i64().unwrap() <= 0,
        "nothing sticks out sideways on a phone: {}",
        seen["phone"]
    );
    for view in ["desktop", "phone"] {
        let w = seen[view]["letter_unit_width"].as_f64().unwrap();
        assert!(
            (150.0..9999.0).contains(&w),
            "{view}: the pending letters' unit column is readable ({w} px)"
        );
    }
    let top = seen["phone"]["kpi_top"].as_f64().unwrap();
    assert!(
        (0.0..844.0).contains(&top),
        "on a phone the on-time rate is on the first screen (top {top} px)"
    );
    // A code in the list opens its dossier page, with its due date explained
    // day by day (the figures themselves are checked in `deadline::tests`).
    for view in ["desktop", "phone"] {
        let d = &seen[format!("{view}_dossier")];
        assert_eq!(d["code"], d["clicked"], "{view}: {d}");
        assert!(d["days"].as_i64().unwrap() >= 1, "{view}: {d}");
        let due = d["computed_due"].as_str().unwrap_or_default();
        assert!(due.len() == "08:00 23/11/2026".len(), "{view}: {d}");
    }
    assert!(
        seen["phone_dossier"]["overflow"].as_i64().unwrap() <= 0,
        "the dossier page fits a phone's width: {}",
        seen["phone_dossier"]
    );
    // The auditors' list filtered to one unit and one month: the XLSX the
    // browser downloaded holds exactly the API's answer for the same filters.
    let a = &seen["auditor"];
    assert_eq!(a["file"], format!("ho-so-{unit}-{month}.xlsx"), "{a}");
    let listed = api
        .json(
            &format!("/api/v1/dossiers?unit={unit}&month={month}&limit=1000"),
            &api.auditor,
        )
        .await;
    let listed = listed["items"].as_array().unwrap();
    assert!(!listed.is_empty());
    assert_eq!(a["total"], listed.len().to_string(), "{a}");
    assert!(
        a["shown"].as_str().unwrap().contains(&format!("({unit})")),
        "the page names the unit with its code: {a}"
    );
    assert!(
        a["first_link"].as_str().unwrap().starts_with("/dossiers/"),
        "codes link to their dossier page: {a}"
    );
    use calamine::{Data, Reader};
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(&xlsx).unwrap();
    let sheet = book.worksheet_range("Hồ sơ").unwrap();
    let rows: Vec<&[Data]> = sheet.rows().collect();
    let header: Vec<String> = rows[0].iter().map(|c| c.to_string()).collect();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (code, unit_col, received) = (col("Mã hồ sơ"), col("Mã đơn vị"), col("Ngày tiếp nhận"));
    assert_eq!(rows.len() - 1, listed.len(), "one row per dossier");
    for (row, item) in rows[1..].iter().zip(listed) {
        assert_eq!(row[code].to_string(), item["code"].as_str().unwrap());
        assert_eq!(row[unit_col].to_string(), unit);
        let Data::DateTime(t) = &row[received] else {
            panic!("the receipt date is a real date: {:?}", row[received]);
        };
        let t = excel_time(t);
        assert_eq!(
            t.format("%Y-%m-%d %H:%M:%S").to_string(),
            item["received_at"].as_str().unwrap()[..19].replace('T', " ")
        );
        assert_eq!(t.format("%Y-%m").to_string(), month);
    }
    // The acknowledgement on a phone: one button, then what was recorded.
    let ack = &seen["ack"];
    assert_eq!(ack["button"], 1, "{ack}");
    let recorded = ack["recorded"].as_str().unwrap();
    assert!(
        recorded.contains("Đã ghi nhận") && recorded.contains(&overdue.code),
        "{ack}"
    );
    assert!(
        ack["overflow"].as_i64().unwrap() <= 0,
        "fits a phone: {ack}"
    );
    assert_eq!(
        api.db
            .store
            .fetch_i64("SELECT COUNT(*) FROM acknowledgements")
            .await
            .unwrap(),
        1
    );
}
