//! Years of history: `tthc-watch simulate --history-days` reaching back to January 2019, synced
//! and checked as an operator would. Every dossier must be judged on the official calendar of
//! its own year; with the calendar starting in 2025 the pre-2025 ones could not be (the
//! simulator left them out and the check had nothing from 2019 to classify).

use crate::support::free_port;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const NOW: &str = "2026-12-05T08:00:00+07:00";
/// From Saturday 5 December 2026 back to Wednesday 2 January 2019.
const HISTORY_DAYS: &str = "2894";
const TOKEN: &str = "sim-token";

/// Kills the simulator if the test fails before it ends.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn bin(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tthc-watch"));
    c.current_dir(dir)
        .env_remove("TTHC_WATCH_CONFIG")
        .env("TTHC_WATCH__LETTERS__DIR", dir.join("letters"))
        .env("TTHC_WATCH__MAIL__FILE_DIR", dir.join("mail"));
    c
}

fn run(c: &mut Command) -> (bool, String, String) {
    let out = c.output().expect("run tthc-watch");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The number after `label` in the check's summary line ("errors 0").
fn summary_number(out: &str, label: &str) -> u64 {
    out.split(&format!("{label} "))
        .nth(1)
        .and_then(|rest| {
            rest.split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or_else(|| panic!("no '{label}' in {out}"))
}

#[tokio::test]
async fn dossiers_back_to_2019_are_judged_on_their_own_years_calendar() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("t.db").display());
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut sim = Proc(
        bin(dir.path())
            .args([
                "simulate",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--dossiers",
                "3000",
                "--history-days",
                HISTORY_DAYS,
                "--now",
                NOW,
                "--speed",
                "0",
                "--token",
                TOKEN,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the simulator"),
    );
    let started = Instant::now();
    while reqwest::get(&url).await.is_err() {
        assert!(
            sim.0.try_wait().unwrap().is_none(),
            "the simulator exited before serving"
        );
        assert!(started.elapsed() < Duration::from_secs(60), "never up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let (dir_path, db_url) = (dir.path().to_owned(), db.clone());
    let (sync, check) = tokio::task::spawn_blocking(move || {
        let sync = run(bin(&dir_path).args([
            "sync",
            "--source-url",
            &url,
            "--source-token",
            TOKEN,
            "--database-url",
            &db_url,
            "--now",
            NOW,
        ]));
        let check =
            run(bin(&dir_path).args(["check", "--all", "--database-url", &db_url, "--now", NOW]));
        (sync, check)
    })
    .await
    .unwrap();
    assert!(sync.0, "sync failed: {}", sync.2);
    let (ok, out, err) = check;
    assert!(ok, "check failed: {err}");
    assert_eq!(summary_number(&out, "errors"), 0, "{out}");
    assert!(summary_number(&out, "evaluated") > 2500, "{out}");

    // The dossiers received in 2019 are there, and each got a class.
    let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
    let (in_2019, unclassified): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COUNT(*) - COUNT(e.class) FROM dossiers d \
         LEFT JOIN evaluations e ON e.dossier_id = d.id \
         WHERE d.received_at >= '2019-01-02' AND d.received_at < '2020-01-01'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(in_2019 > 100, "only {in_2019} dossiers received in 2019");
    assert_eq!(unclassified, 0, "of {in_2019} received in 2019");
    pool.close().await;
}
