//! Starting the real pieces for a test.

use chrono::NaiveDateTime;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tthc_watch::calendar::{Calendar, OfficeHours};
use tthc_watch::dossier::Dossier;
use tthc_watch::source::{Shape, SourceSettings};

use tthc_watch::simulator::{Faults, Simulator, SimulatorOptions};
use tthc_watch::store::Store;

pub const TOKEN: &str = "test-token";

/// A port nobody listens on now, for a process started by a test.
#[allow(dead_code)]
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One scheduled check as the daemon runs it (stages not reported).
#[allow(dead_code)]
pub async fn check_with(
    settings: &tthc_watch::config::Settings,
    rules: &tthc_watch::app::RuleSet,
    store: &Store,
    clock: &tthc_watch::clock::Clock,
) -> Result<tthc_watch::check::CheckSummary, tthc_watch::app::AppError> {
    let scope = tthc_watch::check::Scope::Due;
    let mut quiet = |_: tthc_watch::app::check::CheckEvent<'_>| {};
    let report = tthc_watch::app::check::check(settings, rules, store, clock, scope, &mut quiet);
    Ok(report.await?.summary)
}

pub fn t(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("test time")
}

/// The simulated "now" most tests start at: Wednesday 25 November 2026, 08:00.
pub fn start() -> NaiveDateTime {
    t("2026-11-25 08:00")
}

pub struct TestSim {
    pub sim: Arc<Simulator>,
    #[allow(dead_code)]
    pub url: String,
    shutdown: CancellationToken,
}

impl Drop for TestSim {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub async fn spawn_simulator(shape: Shape, dossiers: u32, faults: &str) -> TestSim {
    let sim = Arc::new(Simulator::new(
        SimulatorOptions {
            dossiers,
            seed: 7,
            now: start(),
            speed: 0.0,
            shape,
            token: TOKEN.into(),
            faults: Faults::parse(faults).expect("faults"),
        },
        Calendar::builtin().expect("calendar"),
        OfficeHours::default(),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let shutdown = CancellationToken::new();
    tokio::spawn(tthc_watch::simulator::serve(
        listener,
        sim.clone(),
        shutdown.clone(),
    ));
    TestSim { sim, url, shutdown }
}

/// Source settings for a simulator of `shape`, authenticating the shape's own
/// way (the same as `demo --shape` and `sync --source-shape`).
pub fn source_settings(shape: Shape, url: &str) -> SourceSettings {
    let mut s = tthc_watch::app::simulate::simulator_source(url, TOKEN, shape);
    // One-door polls stop at the first page with nothing new: pages small
    // enough that a poll's few changes leave unchanged pages.
    s.page_size = if shape == Shape::Onedoor { 25 } else { 100 };
    s.timeout_secs = 5;
    s.max_retries = 8;
    s
}

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, migrated database; PostgreSQL ones are dropped by `cleanup`.
pub struct TestDb {
    pub store: Store,
    #[allow(dead_code)]
    pub url: String,
    pub _dir: Option<tempfile::TempDir>,
    pub pg_admin: Option<(String, String)>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("tempdir");
                let url = format!("sqlite://{}", dir.path().join("t.db").display());
                let store = Store::connect(&url, 4).await.expect("sqlite store");
                TestDb {
                    store,
                    url,
                    _dir: Some(dir),
                    pg_admin: None,
                }
            }
            Backend::Postgres => {
                let admin = pg_url();
                let name =
                    format!("tthc_test_{}", std::process::id()) + &format!("_{}", rand_suffix());
                let conn = sqlx::PgPool::connect(&admin)
                    .await
                    .expect("connect to TEST_DATABASE_URL");
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&conn)
                    .await
                    .expect("create test database");
                conn.close().await;
                let url = replace_db(&admin, &name);
                let store = Store::connect(&url, 4).await.expect("postgres store");
                TestDb {
                    store,
                    url,
                    _dir: None,
                    pg_admin: Some((admin, name)),
                }
            }
        }
    }

    /// As `cleanup`, for a database owned by something else (dropped later).
    pub async fn cleanup_ref(&self) {
        if let Some((admin, name)) = &self.pg_admin {
            self.store.close().await;
            if let Ok(conn) = sqlx::PgPool::connect(admin).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&conn)
                    .await;
                conn.close().await;
            }
        }
    }

    pub async fn cleanup(self) {
        self.store.close().await;
        if let Some((admin, name)) = self.pg_admin
            && let Ok(conn) = sqlx::PgPool::connect(&admin).await
        {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&conn)
                .await;
            conn.close().await;
        }
    }
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{}_{}", N.fetch_add(1, Ordering::Relaxed), nanos)
}

fn replace_db(url: &str, db: &str) -> String {
    let mut u = url::Url::parse(url).expect("TEST_DATABASE_URL is a URL");
    u.set_path(&format!("/{db}"));
    u.to_string()
}

/// Runs one SQL statement on the test store, whichever backend; its error as
/// text.
pub async fn execute(db: &TestDb, q: &str) -> Result<(), String> {
    db.store
        .execute_sql(q)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// TEST_DATABASE_URL, or the local default. With CI=true a missing server fails the test.
pub fn pg_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Whether PostgreSQL tests run: always under CI (where a missing server must fail),
/// elsewhere only when a server answers.
pub async fn postgres_available() -> bool {
    if std::env::var("CI").is_ok_and(|v| v == "true") || std::env::var("TEST_DATABASE_URL").is_ok()
    {
        return true;
    }
    match sqlx::PgPool::connect(&pg_url()).await {
        Ok(p) => {
            p.close().await;
            true
        }
        Err(_) => {
            eprintln!("PostgreSQL not reachable and CI is not set: skipping");
            false
        }
    }
}

/// The fields every shape carries, for comparing mapped records with the truth.
pub fn core(d: &Dossier) -> serde_json::Value {
    serde_json::json!({
        "code": d.code, "procedure_code": d.procedure_code, "procedure_name": d.procedure_name,
        "field_code": d.field_code, "field_name": d.field_name, "unit_code": d.unit_code, "unit_name": d.unit_name,
        "officer": d.officer, "applicant_name": d.applicant_name, "applicant_kind": d.applicant_kind,
        "applicant_id_no": d.applicant_id_no, "applicant_phone": d.applicant_phone, "applicant_email": d.applicant_email,
        "summary": d.summary, "status": d.status, "submitted_at": d.submitted_at, "received_at": d.received_at,
        "due_at": d.due_at, "finished_at": d.finished_at, "returned_at": d.returned_at, "updated_at": d.updated_at,
        "steps": d.steps,
        "duration_minutes": d.duration.map(|x| x.working_minutes(480)),
    })
}

/// A real SMTP server process (tests/smtp_sink.py on Debian's python3-aiosmtpd).
pub struct SmtpSink {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: std::process::Child,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SmtpSink {
    /// Freezes (SIGSTOP) or thaws (SIGCONT) the server process: a server
    /// that accepted connections and stopped answering.
    #[allow(dead_code)]
    pub fn freeze(&self, frozen: bool) {
        let sig = if frozen { "-STOP" } else { "-CONT" };
        let ok = std::process::Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill {sig} the SMTP sink");
    }

    pub fn start() -> SmtpSink {
        use std::io::BufRead;
        let python =
            std::env::var("TTHC_WATCH_TEST_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
        let dir = tempfile::tempdir().expect("tempdir");
        let mut child = std::process::Command::new(&python)
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp_sink.py"))
            .arg(dir.path())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the SMTP test server with {python}: {e} (apt-get install python3-aiosmtpd)"));
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("SMTP test server port");
        let port = line.trim().parse().unwrap_or_else(|_| {
            panic!("SMTP test server did not start (is python3-aiosmtpd installed?): '{line}'")
        });
        SmtpSink { port, dir, child }
    }

    /// Every message received so far, decoded, in arrival order.
    pub fn messages(&self) -> Vec<serde_json::Value> {
        let mut names: Vec<_> = std::fs::read_dir(self.dir.path())
            .expect("sink dir")
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|p| {
                serde_json::from_str(&std::fs::read_to_string(p).expect("read")).expect("json")
            })
            .collect()
    }

    fn flag(&self, name: &str, on: bool) {
        let p = self.dir.path().join(name);
        if on {
            std::fs::write(p, "").expect("flag");
        } else {
            let _ = std::fs::remove_file(p);
        }
    }

    /// Answer 451 (try later) while on.
    pub fn refuse(&self, on: bool) {
        self.flag("refuse", on);
    }

    /// Answer 550 (permanent) while on.
    pub fn reject(&self, on: bool) {
        self.flag("reject", on);
    }
}

/// Settings for a test: the given database, SMTP to the sink.
pub fn test_settings(db_url: &str, smtp_port: u16) -> tthc_watch::config::Settings {
    let mut s = tthc_watch::config::Settings::load_with_env(None, Vec::new()).expect("defaults");
    s.database.url = db_url.to_owned();
    s.mail.transport = tthc_watch::config::MailTransport::Smtp;
    s.mail.smtp_host = "127.0.0.1".into();
    s.mail.smtp_port = smtp_port;
    s.mail.timeout_secs = 5;
    // The weekly reminder would add a message to any Monday-morning check;
    // its own tests turn it on.
    s.escalation.reminder_at = String::new();
    // Never write drafts into the working tree.
    let scratch = std::env::temp_dir().join(format!("tthc-watch-test-{}", std::process::id()));
    s.letters.dir = scratch.join("letters").display().to_string();
    s.mail.file_dir = scratch.join("mail").display().to_string();
    s
}

/// A dossier for scripted scenarios.
pub fn scripted_dossier(
    code: &str,
    field: &str,
    unit: &str,
    received: &str,
    days: u32,
    due: &str,
) -> Dossier {
    Dossier {
        code: code.into(),
        procedure_code: Some("1.004227".into()),
        procedure_name: "Đăng ký biến động quyền sử dụng đất".into(),
        field_code: field.into(),
        field_name: "Đất đai".into(),
        unit_code: unit.into(),
        unit_name: "Phòng Kinh tế, Hạ tầng và Đô thị".into(),
        officer: Some("Trần Văn Hùng".into()),
        applicant_name: "Nguyễn Thị Hồng".into(),
        applicant_kind: tthc_watch::dossier::ApplicantKind::Person,
        applicant_id_no: Some("056190000001".into()),
        applicant_phone: Some("0905000001".into()),
        applicant_email: None,
        applicant_address: None,
        summary: None,
        channel: tthc_watch::dossier::Channel::Direct,
        status: tthc_watch::dossier::Status::Processing,
        submitted_at: None,
        received_at: t(received),
        due_at: Some(t(due)),
        finished_at: None,
        returned_at: None,
        duration: Some(tthc_watch::dossier::Duration::WorkingDays(days)),
        steps: vec![],
        pauses: vec![],
        extension: None,
        updated_at: t(received),
    }
}

/// An XLSX date cell as a time: Excel counts days from 30/12/1899, the time
/// of day as the fraction (read to the second).
pub fn excel_time(d: &calamine::ExcelDateTime) -> NaiveDateTime {
    let secs = (d.as_f64() * 86_400.0).round() as i64;
    chrono::NaiveDate::from_ymd_opt(1899, 12, 30)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        + chrono::Duration::seconds(secs)
}
