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
    let out = tokio::task::spawn_blocking(move || {
        let mut c = std::process::Command::new("node");
        c.current_dir(dir)
            .arg("dashboard.mjs")
            .arg(&base)
            .arg(&token);
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
}
