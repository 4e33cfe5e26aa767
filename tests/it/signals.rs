//! Every long-running command stops cleanly, exit 0, within 10 s of SIGTERM or
//! SIGINT alike: `demo`, `simulate`, `serve` and `run`, each as a real process.

use crate::support::free_port;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the process if the test fails before it stopped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(dir: &Path, args: &[&str], envs: &[(&str, String)]) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tthc-watch"));
    cmd.args(args)
        .current_dir(dir)
        .env_remove("TTHC_WATCH_CONFIG")
        // The real clock, any day and hour: messages go at once.
        .env("TTHC_WATCH__ESCALATION__QUIET_HOURS", "false")
        .env("TTHC_WATCH__ESCALATION__REMINDER_AT", "")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    Proc(cmd.spawn().expect("start tthc-watch"))
}

/// Waits until `url` answers at all (the process is up and serving).
async fn wait_up(p: &mut Proc, url: &str) {
    let start = Instant::now();
    while reqwest::get(url).await.is_err() {
        assert!(
            p.0.try_wait().unwrap().is_none(),
            "the process exited before serving {url}"
        );
        assert!(start.elapsed() < Duration::from_secs(60), "{url} never up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sends `sig` and asserts a clean exit (status 0) within 10 s.
fn stops_cleanly(p: &mut Proc, sig: &str, what: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(p.0.id().to_string())
        .status()
        .unwrap();
    assert!(ok.success());
    let asked = Instant::now();
    loop {
        if let Some(status) = p.0.try_wait().unwrap() {
            assert!(status.success(), "{what} on SIG{sig} exited {status:?}");
            return;
        }
        assert!(
            asked.elapsed() < Duration::from_secs(10),
            "{what} still running 10 s after SIG{sig}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn check_all(sig: &str) {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("t.db").display());

    let port = free_port();
    let mut p = start(
        dir.path(),
        &[
            "simulate",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--dossiers",
            "50",
        ],
        &[],
    );
    wait_up(&mut p, &format!("http://127.0.0.1:{port}/")).await;
    stops_cleanly(&mut p, sig, "simulate");

    let port = free_port();
    let mut p = start(
        dir.path(),
        &[
            "demo",
            "--dir",
            "demo",
            "--dossiers",
            "100",
            "--interval",
            "1",
            "--port",
            &port.to_string(),
        ],
        &[],
    );
    wait_up(&mut p, &format!("http://127.0.0.1:{port}/healthz")).await;
    stops_cleanly(&mut p, sig, "demo");

    for verb in ["serve", "run"] {
        let port = free_port();
        let mut p = start(
            dir.path(),
            &[verb],
            &[
                ("TTHC_WATCH__DATABASE__URL", db.clone()),
                ("TTHC_WATCH__SERVER__LISTEN", format!("127.0.0.1:{port}")),
                ("TTHC_WATCH__MAIL__TRANSPORT", "file".into()),
                (
                    "TTHC_WATCH__MAIL__FILE_DIR",
                    dir.path().join("mail").display().to_string(),
                ),
                (
                    "TTHC_WATCH__LETTERS__DIR",
                    dir.path().join("letters").display().to_string(),
                ),
            ],
        );
        wait_up(&mut p, &format!("http://127.0.0.1:{port}/healthz")).await;
        stops_cleanly(&mut p, sig, verb);
    }
}

#[tokio::test]
async fn long_running_commands_exit_0_on_sigterm() {
    check_all("TERM").await;
}

#[tokio::test]
async fn long_running_commands_exit_0_on_sigint() {
    check_all("INT").await;
}
