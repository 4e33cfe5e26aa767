//! `tthc-watch run` as a real process: health, readiness and metrics; SIGTERM,
//! SIGHUP; one instance per SQLite file; leader hand-over on PostgreSQL; kill -9
//! in the middle of work.

use crate::support::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tthc_watch::source::Shape;

pub struct Service {
    pub child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Service {
    pub fn start(config: &Path, dir: &Path, name: &str, port: u16) -> Service {
        let log = dir.join(format!("{name}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_tthc-watch"))
            .args(["-c"])
            .arg(config)
            .arg("run")
            .env_remove("TTHC_WATCH_CONFIG")
            .env("TTHC_WATCH__SERVER__LISTEN", format!("127.0.0.1:{port}"))
            // The service runs on the real clock, any day and hour: its
            // messages go at once (quiet hours are tested with a set clock).
            .env("TTHC_WATCH__ESCALATION__QUIET_HOURS", "false")
            // Nor a Monday morning's weekly reminder among the counted mail.
            .env("TTHC_WATCH__ESCALATION__REMINDER_AT", "")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start tthc-watch run");
        Service { child, port, log }
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(ok.success());
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub async fn get(&self, path: &str) -> Option<(u16, String)> {
        let r = reqwest::get(format!("http://127.0.0.1:{}{path}", self.port))
            .await
            .ok()?;
        let status = r.status().as_u16();
        Some((status, r.text().await.unwrap_or_default()))
    }

    /// Waits until `path` answers 200.
    pub async fn wait_ok(&self, path: &str, within: Duration) -> String {
        let start = Instant::now();
        loop {
            if let Some((200, body)) = self.get(path).await {
                return body;
            }
            assert!(
                start.elapsed() < within,
                "{path} not ready within {within:?}; log:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < within {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

pub fn write_config(
    dir: &Path,
    db_url: &str,
    source_url: &str,
    smtp_port: u16,
    extra: &str,
) -> PathBuf {
    let path = dir.join("tthc-watch.toml");
    let text = format!(
        r#"[database]
url = "{db_url}"

[sources.tinh]
url = "{source_url}"
shape = "native"
page_size = 200
[sources.tinh.auth]
kind = "bearer"
token = "{TOKEN}"

[mail]
transport = "smtp"
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}
backoff_base_secs = 1
backoff_cap_secs = 2

[letters]
dir = "{letters}"

[schedule]
poll = "*/2 * * * * *"
digest = "0 0 3 * * *"
send_every_secs = 1
{extra}
"#,
        letters = dir.join("letters").display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

pub fn metric(body: &str, name: &str) -> Option<f64> {
    body.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn run_serves_health_and_metrics_and_stops_cleanly_on_sigterm() {
    let sim = spawn_simulator(Shape::Native, 800, "").await;
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("t.db").display());
    let config = write_config(dir.path(), &db, &sim.url, sink.port, "");
    let mut svc = Service::start(&config, dir.path(), "a", free_port());
    assert_eq!(svc.wait_ok("/healthz", Duration::from_secs(20)).await, "ok");
    svc.wait_ok("/readyz", Duration::from_secs(20)).await;
    let start = Instant::now();
    while sink.messages().is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no mail; log:\n{}",
            svc.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let m = svc.wait_ok("/metrics", Duration::from_secs(5)).await;
    assert_eq!(metric(&m, "tthc_leader"), Some(1.0), "{m}");
    assert!(
        metric(&m, "tthc_dossiers{class=\"overdue\"}").is_some_and(|n| n > 0.0),
        "{m}"
    );
    assert!(
        metric(&m, "tthc_sync_lag_seconds{source=\"tinh\"}")
            .is_some_and(|s| (0.0..60.0).contains(&s)),
        "{m}"
    );
    assert!(
        metric(&m, "tthc_sync_duration_seconds{source=\"tinh\"}").is_some(),
        "{m}"
    );
    assert!(m.contains("tthc_outbox_messages{status=\"sent\"}"), "{m}");
    assert!(
        metric(&m, "tthc_letters_pending").is_some_and(|n| n > 0.0),
        "{m}"
    );
    // While it runs, what the jobs wrote reaches the database file, not only
    // the WAL (before: a 16 KB file beside a growing WAL).
    let size = |name: &str| std::fs::metadata(dir.path().join(name)).map_or(0, |m| m.len());
    let start = Instant::now();
    while size("t.db") < 256 * 1024 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "database file {} bytes, WAL {} bytes",
            size("t.db"),
            size("t.db-wal")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(size("t.db-wal") <= 32 << 20);

    let asked = Instant::now();
    svc.signal("TERM");
    let status = svc
        .wait_exit(Duration::from_secs(10))
        .expect("stops within 10 s of SIGTERM");
    assert!(status.success(), "exit {status:?}; log:\n{}", svc.logs());
    assert!(asked.elapsed() < Duration::from_secs(10));
    assert!(svc.logs().contains("stopped"));
}

#[tokio::test]
async fn a_second_instance_on_the_same_sqlite_file_refuses_to_start() {
    let sim = spawn_simulator(Shape::Native, 50, "").await;
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("t.db").display());
    let config = write_config(dir.path(), &db, &sim.url, sink.port, "");
    let port = free_port();
    let first = Service::start(&config, dir.path(), "first", port);
    first.wait_ok("/healthz", Duration::from_secs(20)).await;
    // The same port: refused for the lock, before it opens the database or
    // binds (a port in use would otherwise be what it reports).
    let mut second = Service::start(&config, dir.path(), "second", port);
    let status = second
        .wait_exit(Duration::from_secs(20))
        .expect("the second instance exits");
    assert!(!status.success());
    let log = second.logs();
    assert!(
        log.contains("another tthc-watch is already running")
            && log.contains("t.db")
            && !log.contains("binding server.listen"),
        "{log}"
    );
    assert_eq!(
        first.get("/healthz").await.map(|x| x.0),
        Some(200),
        "the first goes on"
    );
}

#[tokio::test]
async fn sighup_reloads_rules_and_keeps_the_old_ones_when_invalid() {
    let sim = spawn_simulator(Shape::Native, 50, "").await;
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let routing = dir.path().join("routing.toml");
    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/routing.toml"))
            .unwrap();
    std::fs::write(&routing, &shipped).unwrap();
    let db = format!("sqlite://{}", dir.path().join("t.db").display());
    let extra = format!("[escalation]\nrouting_file = \"{}\"\n", routing.display());
    let config = write_config(dir.path(), &db, &sim.url, sink.port, &extra);
    let svc = Service::start(&config, dir.path(), "a", free_port());
    svc.wait_ok("/healthz", Duration::from_secs(20)).await;
    // The dashboard shows what the files say: the committee named in the
    // routing file before, the renamed one after a good reload.
    let token = Command::new(env!("CARGO_BIN_EXE_tthc-watch"))
        .args(["-c"])
        .arg(&config)
        .args(["token", "create", "--role", "auditor"])
        .env_remove("TTHC_WATCH_CONFIG")
        .output()
        .expect("token create");
    assert!(token.status.success(), "{token:?}");
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();
    let dashboard = || async {
        let r = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{}/dashboard", svc.port))
            .bearer_auth(&token)
            .send()
            .await
            .expect("dashboard");
        assert_eq!(r.status(), 200);
        r.text().await.unwrap()
    };

    std::fs::write(
        &routing,
        shipped.replace("pkt@ninhhoa.example.vn", "not an address"),
    )
    .unwrap();
    svc.signal("HUP");
    let start = Instant::now();
    while !svc.logs().contains("reload rejected") {
        assert!(start.elapsed() < Duration::from_secs(10), "{}", svc.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        svc.logs().contains("units.PKT.email"),
        "the log names the bad key: {}",
        svc.logs()
    );
    assert_eq!(
        svc.get("/healthz").await.map(|x| x.0),
        Some(200),
        "still running"
    );

    let page = dashboard().await;
    assert!(page.contains("UBND PHƯỜNG NINH HÒA"), "{page}");

    let renamed = shipped.replace("UBND PHƯỜNG NINH HÒA", "UBND PHƯỜNG BẮC NINH HÒA");
    assert_ne!(renamed, shipped);
    std::fs::write(&routing, &renamed).unwrap();
    svc.signal("HUP");
    let start = Instant::now();
    while !svc
        .logs()
        .contains("reloaded calendar, routing and templates")
    {
        assert!(start.elapsed() < Duration::from_secs(10), "{}", svc.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page = dashboard().await;
    assert!(page.contains("UBND PHƯỜNG BẮC NINH HÒA"), "{page}");
}

#[tokio::test]
async fn kill_9_in_the_middle_then_restart_sends_every_alert_once() {
    // Slow pages so the kill lands inside a sync.
    let sim = spawn_simulator(Shape::Native, 2500, "latency=40ms").await;
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("t.db").display());
    let config = write_config(dir.path(), &db, &sim.url, sink.port, "");
    for delay in [300u64, 900, 1500] {
        let mut svc = Service::start(&config, dir.path(), &format!("killed-{delay}"), free_port());
        svc.wait_ok("/healthz", Duration::from_secs(20)).await;
        tokio::time::sleep(Duration::from_millis(delay)).await;
        svc.signal("KILL");
        svc.wait_exit(Duration::from_secs(5)).expect("killed");
    }
    let svc = Service::start(&config, dir.path(), "final", free_port());
    svc.wait_ok("/readyz", Duration::from_secs(30)).await;
    // Until the outbox is empty.
    let store = tthc_watch::store::Store::connect(&db, 2).await.unwrap();
    let start = Instant::now();
    loop {
        let counts = store.outbox_counts().await.unwrap();
        let pending: i64 = counts
            .iter()
            .filter(|(s, _)| s == "pending")
            .map(|(_, n)| n)
            .sum();
        let sent: i64 = counts
            .iter()
            .filter(|(s, _)| s == "sent")
            .map(|(_, n)| n)
            .sum();
        if pending == 0 && sent > 0 && store.unsent_alert_recipients().await.unwrap().is_empty() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(40),
            "outbox not drained: {counts:?}\n{}",
            svc.logs()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Everything synced, every message delivered, none twice but for the
    // documented window (a kill between the server's OK and the database write).
    assert_eq!(
        store.count_rows("dossiers").await.unwrap() as usize,
        sim.sim.snapshot().len()
    );
    let msgs = sink.messages();
    let mut ids: Vec<&str> = msgs
        .iter()
        .map(|m| m["message_id"].as_str().unwrap())
        .collect();
    let total = ids.len();
    ids.sort();
    ids.dedup();
    assert!(
        total - ids.len() <= 3,
        "{} duplicates among {total} messages",
        total - ids.len()
    );
    let sent: i64 = store
        .outbox_counts()
        .await
        .unwrap()
        .iter()
        .filter(|(s, _)| s == "sent")
        .map(|(_, n)| n)
        .sum();
    assert_eq!(
        ids.len() as i64,
        sent,
        "every message in the outbox arrived"
    );
    store.close().await;
}

#[tokio::test]
async fn leader_hand_over_on_postgres() {
    if !postgres_available().await {
        return;
    }
    let sim = spawn_simulator(Shape::Native, 100, "").await;
    let sink = SmtpSink::start();
    let db = TestDb::new(Backend::Postgres).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &db.url, &sim.url, sink.port, "");
    let mut services = vec![
        Service::start(&config, dir.path(), "a", free_port()),
        Service::start(&config, dir.path(), "b", free_port()),
    ];
    let leader_flag = |m: &str| metric(m, "tthc_leader");
    let start = Instant::now();
    let flags = loop {
        let mut flags = Vec::new();
        for s in &services {
            flags.push(leader_flag(
                &s.wait_ok("/metrics", Duration::from_secs(20)).await,
            ));
        }
        if flags.iter().all(Option::is_some) {
            break flags;
        }
        assert!(start.elapsed() < Duration::from_secs(20));
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        flags.iter().flatten().sum::<f64>(),
        1.0,
        "exactly one leader: {flags:?}"
    );
    let leader = flags.iter().position(|f| *f == Some(1.0)).unwrap();
    let mut dead = services.remove(leader);
    dead.signal("KILL");
    dead.wait_exit(Duration::from_secs(5)).expect("killed");
    // The other takes over once the lease runs out (15 s, tried every 5 s).
    let survivor = &services[0];
    let start = Instant::now();
    while leader_flag(&survivor.wait_ok("/metrics", Duration::from_secs(5)).await) != Some(1.0) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no take-over:\n{}",
            survivor.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        survivor.logs().contains("became the leader"),
        "{}",
        survivor.logs()
    );
    db.cleanup().await;
}

#[tokio::test]
async fn a_failing_source_is_reported_once_then_its_recovery_once() {
    // The source answers 500 from the start: stale at once (never synced,
    // and no grace after the first poll here).
    let sim = spawn_simulator(Shape::Native, 100, "error=1").await;
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("t.db").display());
    let config = write_config(dir.path(), &db, &sim.url, sink.port, "");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "[mail]",
        "[escalation]\nfirst_sync_grace_minutes = 0\n\n[mail]",
    );
    std::fs::write(&config, text).unwrap();
    // Few retries so each failed poll ends quickly.
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("page_size = 200", "page_size = 200\nmax_retries = 1");
    std::fs::write(&config, text).unwrap();
    let svc = Service::start(&config, dir.path(), "a", free_port());
    svc.wait_ok("/healthz", Duration::from_secs(20)).await;
    let subjects = || {
        sink.messages()
            .iter()
            .map(|m| m["subject"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let start = Instant::now();
    while subjects().is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no stale alert; log:\n{}",
            svc.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Several more failing polls: still one alert, and the service is alive and not ready.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(subjects().len(), 1, "{:?}", subjects());
    assert!(subjects()[0].contains("CẢNH BÁO: dữ liệu hồ sơ từ nguồn tinh không được cập nhật"));
    assert_eq!(svc.get("/readyz").await.map(|x| x.0), Some(503));

    sim.sim.set_faults(tthc_watch::simulator::Faults::default());
    svc.wait_ok("/readyz", Duration::from_secs(20)).await;
    let start = Instant::now();
    while !subjects()
        .iter()
        .any(|s| s.contains("Đã khôi phục đồng bộ dữ liệu từ nguồn tinh"))
    {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no recovery message: {:?}\n{}",
            subjects(),
            svc.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let s = subjects();
    assert_eq!(
        s.iter().filter(|x| x.contains("CẢNH BÁO")).count(),
        1,
        "{s:?}"
    );
    assert_eq!(
        s.iter().filter(|x| x.contains("Đã khôi phục")).count(),
        1,
        "{s:?}"
    );
}

/// A private PostgreSQL cluster this test may restart (the shared one serves other tests).
pub struct PrivatePg {
    dir: tempfile::TempDir,
    port: u16,
}

impl PrivatePg {
    fn bin(name: &str) -> PathBuf {
        let versions = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL server binaries in /usr/lib/postgresql");
        let mut v: Vec<PathBuf> = versions.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        v.sort();
        v.pop()
            .expect("a PostgreSQL version")
            .join("bin")
            .join(name)
    }

    fn as_postgres(args: &[&str]) {
        let status = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .args(args)
            .stdout(Stdio::null())
            .status()
            .expect("runuser");
        assert!(status.success(), "{args:?} failed");
    }

    pub fn start() -> PrivatePg {
        let dir = tempfile::tempdir().unwrap();
        Command::new("chmod")
            .arg("755")
            .arg(dir.path())
            .status()
            .unwrap();
        Command::new("chown")
            .arg("postgres:postgres")
            .arg(dir.path())
            .status()
            .unwrap();
        let data = dir.path().join("data");
        let initdb = Self::bin("initdb");
        Self::as_postgres(&[
            initdb.to_str().unwrap(),
            "-D",
            data.to_str().unwrap(),
            "-A",
            "trust",
            "-U",
            "postgres",
        ]);
        let pg = PrivatePg {
            port: free_port(),
            dir,
        };
        pg.ctl("start");
        pg
    }

    pub fn ctl(&self, what: &str) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("pg.log");
        let ctl = Self::bin("pg_ctl");
        let data = self.dir.path().join("data");
        Self::as_postgres(&[
            ctl.to_str().unwrap(),
            "-D",
            data.to_str().unwrap(),
            "-o",
            &opts,
            "-l",
            log.to_str().unwrap(),
            "-w",
            "-m",
            "fast",
            what,
        ]);
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        let ctl = Self::bin("pg_ctl");
        let data = self.dir.path().join("data");
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(ctl)
            .args([
                "-D",
                data.to_str().unwrap_or_default(),
                "-m",
                "immediate",
                "stop",
            ])
            .stdout(Stdio::null())
            .status();
    }
}

#[tokio::test]
async fn postgres_restarted_under_the_daemon() {
    if !postgres_available().await {
        return;
    }
    let pg = PrivatePg::start();
    let sim = spawn_simulator(Shape::Native, 300, "").await;
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &pg.url(), &sim.url, sink.port, "");
    let svc = Service::start(&config, dir.path(), "a", free_port());
    svc.wait_ok("/readyz", Duration::from_secs(30)).await;
    let store = tthc_watch::store::Store::connect(&pg.url(), 1)
        .await
        .unwrap();
    let before = store.count_rows("dossiers").await.unwrap();
    store.close().await;

    pg.ctl("restart");
    // New dossiers arrive meanwhile; the service must reconnect and pick them up.
    sim.sim.advance(chrono::Duration::days(2));
    let expected = sim.sim.snapshot().len() as i64;
    let start = Instant::now();
    loop {
        if let Ok(store) = tthc_watch::store::Store::connect(&pg.url(), 1).await {
            let n = store.count_rows("dossiers").await.unwrap_or(0);
            store.close().await;
            if n >= expected && n > before {
                break;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no sync after the restart; log:\n{}",
            svc.logs()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    svc.wait_ok("/readyz", Duration::from_secs(10)).await;
    let m = svc.wait_ok("/metrics", Duration::from_secs(10)).await;
    assert_eq!(
        metric(&m, "tthc_leader"),
        Some(1.0),
        "leads again after the restart:\n{}",
        svc.logs()
    );
}
