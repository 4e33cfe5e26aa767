//! The command line as an operator uses it.

use crate::support::*;
use std::process::Command;
use tthc_watch::source::Shape;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tthc-watch"));
    c.env_remove("TTHC_WATCH_CONFIG");
    // Drafts and mail go to a scratch folder, never into the working tree.
    let scratch = std::env::temp_dir().join(format!("tthc-watch-cli-{}", std::process::id()));
    c.env("TTHC_WATCH__LETTERS__DIR", scratch.join("letters"));
    c.env("TTHC_WATCH__MAIL__FILE_DIR", scratch.join("mail"));
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

/// `tthc-watch sync` of the native source at `url` into `db`, at `NOW`.
fn sync_cli(url: &str, db: &str) -> (bool, String, String) {
    run(bin().args([
        "sync",
        "--source-url",
        url,
        "--source-token",
        TOKEN,
        "--database-url",
        db,
        "--now",
        NOW,
    ]))
}

const NOW: &str = "2026-11-25T08:00:00+07:00";

#[test]
fn calendar_commands_print_working_day_arithmetic() {
    let (ok, out, _) = run(bin().args(["calendar", "add", "2026-11-20", "3"]));
    assert!(ok);
    assert_eq!(out, "2026-11-26\n", "24/11/2026 is a day off");
    let (ok, out, _) = run(bin().args(["calendar", "count", "2025-12-31", "2026-12-31"]));
    assert!(ok);
    assert_eq!(out.trim(), "249");
    let (ok, _, err) = run(bin().args(["calendar", "add", "2029-03-01", "1"]));
    assert!(!ok);
    assert!(
        err.contains("covers 2019–2027") && err.contains("config/calendar.toml"),
        "{err}"
    );
}

#[test]
fn misspelt_config_key_names_key_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("tthc.toml");
    std::fs::write(
        &f,
        "[database]\nurl = \"sqlite://x.db\"\nmax_conections = 3\n",
    )
    .unwrap();
    let (ok, _, err) = run(bin()
        .arg("-c")
        .arg(&f)
        .args(["calendar", "add", "2026-11-20", "1"]));
    assert!(!ok);
    assert!(err.contains("max_conections"), "{err}");
    assert!(err.contains(&f.display().to_string()), "{err}");

    std::fs::write(&f, "[sources.tinh]\nurl = \"ftp://x\"\n").unwrap();
    let (ok, _, err) = run(bin()
        .arg("-c")
        .arg(&f)
        .args(["calendar", "add", "2026-11-20", "1"]));
    assert!(!ok);
    assert!(
        err.contains("sources.tinh.url") && err.contains("http(s)"),
        "{err}"
    );
}

#[tokio::test]
async fn sync_without_config_file() {
    let sim = spawn_simulator(Shape::Native, 120, "").await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("cli.db").display());
    let url = sim.url.clone();
    let db2 = db.clone();
    let (ok, out, err) = tokio::task::spawn_blocking(move || sync_cli(&url, &db2))
        .await
        .unwrap();
    assert!(ok, "{err}");
    let n = sim.sim.snapshot().len();
    assert!(
        out.contains(&format!("fetched {n} ")) && out.contains(&format!("new {n},")),
        "{out}"
    );
}

#[tokio::test]
async fn after_a_sync_the_database_is_one_file() {
    // A slow source: its pages are committed as they come, with checkpoints
    // beside the writing. When `sync` exits, everything is in the database
    // file itself (copying that file is a complete backup), nothing in a WAL.
    let sim = spawn_simulator(Shape::Native, 3000, "latency=200ms").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one.db");
    let db = format!("sqlite://{}", path.display());
    let url = sim.url.clone();
    let (ok, out, err) = tokio::task::spawn_blocking(move || sync_cli(&url, &db))
        .await
        .unwrap();
    assert!(ok, "{err}");
    let pages: u32 = out
        .split(" pages")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(pages >= 2, "several pages, each committed: {out}");
    let wal = dir.path().join("one.db-wal");
    assert!(
        std::fs::metadata(&wal).map_or(true, |m| m.len() == 0),
        "nothing left in the WAL: {:?}",
        std::fs::metadata(&wal)
    );
    let n = sim.sim.snapshot().len() as i64;
    let file = rusqlite::Connection::open(&path).unwrap();
    let stored: i64 = file
        .query_row("SELECT COUNT(*) FROM dossiers", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, n);
}

#[test]
fn demo_once_runs_with_no_setup_and_mails_once() {
    let dir = tempfile::tempdir().unwrap();
    let demo = || {
        run(bin()
            .args([
                "demo",
                "--once",
                "--dossiers",
                "1500",
                "--now",
                NOW,
                "--dir",
            ])
            .arg(dir.path()))
    };
    let (ok, out, err) = demo();
    assert!(ok, "{err}");
    assert!(dir.path().join("tthc-watch.db").exists());
    assert!(
        out.contains("Đất đai") && out.contains("Đang xử lý") && out.contains("Sắp đến hạn"),
        "{out}"
    );
    let mails = || std::fs::read_dir(dir.path().join("mail")).unwrap().count();
    let first = mails();
    assert!(
        first > 3,
        "alerts and the digest are written as .eml files: {out}"
    );
    let eml = std::fs::read_dir(dir.path().join("mail"))
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.file_name().to_string_lossy().contains("-digest-"))
        .expect("a digest");
    let raw = std::fs::read_to_string(eml.path()).unwrap();
    assert!(
        raw.contains("Subject: ")
            && raw.contains("=?utf-8?b?")
            && raw.contains("multipart/alternative"),
        "{raw}"
    );
    // The same moment again: nothing new is sent.
    let (ok, out, err) = demo();
    assert!(ok, "{err}");
    assert_eq!(mails(), first, "{out}");
}

#[test]
fn demo_runs_against_each_real_family_wire() {
    for shape in ["opencps", "onedoor", "igate"] {
        let dir = tempfile::tempdir().unwrap();
        let (ok, out, err) = run(bin()
            .args([
                "demo",
                "--once",
                "--dossiers",
                "600",
                "--now",
                NOW,
                "--shape",
                shape,
                "--dir",
            ])
            .arg(dir.path()));
        assert!(ok, "{shape}: {err}{out}");
        // Dossiers stored from the family's own wire, and classified.
        assert!(
            out.contains("source tinh: fetched") && out.contains("Đang xử lý"),
            "{shape}: {out}"
        );
        assert!(!out.contains("FAILED"), "{shape}: {out}");
    }
}

#[tokio::test]
async fn check_command_prints_classes_in_vietnamese() {
    let sim = spawn_simulator(Shape::Native, 300, "").await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("c.db").display());
    let url = sim.url.clone();
    let (ok, out, err) = tokio::task::spawn_blocking(move || {
        let sync = sync_cli(&url, &db);
        assert!(sync.0, "{}", sync.2);
        run(bin().args(["check", "--database-url", &db, "--now", NOW]))
    })
    .await
    .unwrap();
    assert!(ok, "{err}");
    assert!(
        out.contains("check: evaluated")
            && out.contains("Sắp đến hạn")
            && out.contains("Hoàn thành trước hạn"),
        "{out}"
    );
    assert!(
        out.contains("delays by unit") && out.contains(" hồ sơ "),
        "{out}"
    );
}

/// The count printed beside a class label in `check`'s table.
fn class_count(out: &str, label: &str) -> u64 {
    out.lines()
        .find_map(|l| l.trim_start().strip_prefix(label))
        .and_then(|rest| rest.trim().parse().ok())
        .unwrap_or(0)
}

/// A check looks again only at verdicts that can have changed; a changed
/// rule (here the warning window) can change any open one: the next check
/// evaluates everything again by itself, without `--all`.
#[tokio::test]
async fn a_changed_rule_is_applied_to_every_verdict_by_the_next_check() {
    let sim = spawn_simulator(Shape::Native, 300, "").await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("c.db").display());
    let url = sim.url.clone();
    let outs = tokio::task::spawn_blocking(move || {
        let sync = sync_cli(&url, &db);
        assert!(sync.0, "{}", sync.2);
        let check = |warning_days: &str| {
            let (ok, out, err) = run(bin()
                .env("TTHC_WATCH__DEADLINE__WARNING_DAYS", warning_days)
                .args(["check", "--database-url", &db, "--now", NOW]));
            assert!(ok, "{err}");
            out
        };
        [check("3"), check("3"), check("8")]
    })
    .await
    .unwrap();
    let evaluated = |out: &str| -> u64 {
        out.split("check: evaluated ")
            .nth(1)
            .and_then(|r| r.split(',').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no summary in {out}"))
    };
    let [first, again, wider] = outs;
    assert!(evaluated(&again) < evaluated(&first) / 4, "{again}");
    assert_eq!(evaluated(&wider), evaluated(&first), "{wider}");
    let soon = "Sắp đến hạn";
    assert!(
        class_count(&wider, soon) > class_count(&first, soon),
        "a wider warning window puts more dossiers in '{soon}':\n{first}\n{wider}"
    );
}

#[test]
fn calendar_propose_prints_a_loadable_draft() {
    let (ok, out, err) = run(bin().args(["calendar", "propose", "2028"]));
    assert!(ok, "{err}");
    assert!(
        out.contains("[years.2028]") && out.contains("provisional = true"),
        "{out}"
    );
    // Mùng 1 Tết Mậu Thân is 26/01/2028 (UTC+7).
    assert!(out.contains("2028-01-26"), "{out}");
    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/calendar.toml"))
            .unwrap();
    let extended = format!("{shipped}\n{out}");
    tthc_watch::calendar::Calendar::from_toml_str(&extended, "extended.toml")
        .expect("the draft extends the shipped calendar");
}

#[test]
fn letter_commands_write_and_issue_a_draft() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = run(bin()
        .args([
            "demo",
            "--once",
            "--dossiers",
            "1500",
            "--now",
            NOW,
            "--dir",
        ])
        .arg(dir.path()));
    assert!(ok, "{err}");
    // Citizens' data is readable by the service's user only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.path().join("tthc-watch.db")), 0o600);
        assert_eq!(mode(&dir.path().join("letters")), 0o700);
    }
    // Letters are filed by source: letters/SOURCE/CODE-KEY-vN.docx.
    let first = std::fs::read_dir(dir.path().join("letters"))
        .unwrap()
        .filter_map(|e| e.ok())
        .flat_map(|source| std::fs::read_dir(source.path()).unwrap())
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .min()
        .expect("the demo drafts letters");
    let name = first.file_name().unwrap().to_string_lossy().into_owned();
    let code = name.rsplitn(3, '-').nth(2).unwrap().to_owned();
    let db = format!("sqlite://{}", dir.path().join("tthc-watch.db").display());
    let with_env = |c: &mut Command| {
        c.env("TTHC_WATCH__DATABASE__URL", &db)
            .env("TTHC_WATCH__LETTERS__DIR", dir.path().join("letters"));
    };
    let out = dir.path().join("out.docx");
    let mut c = bin();
    with_env(
        c.args(["letter", &code, "--now", "2026-11-25T09:00:00+07:00", "-o"])
            .arg(&out),
    );
    let (ok, stdout, err) = run(&mut c);
    assert!(ok, "{err}");
    assert!(stdout.contains("version 1"), "{stdout}");
    let drafted = std::fs::read(&first).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), drafted);
    // The folder is a copy: without it the draft comes from the database.
    std::fs::remove_dir_all(dir.path().join("letters")).unwrap();
    let again = dir.path().join("again.docx");
    let mut c = bin();
    with_env(
        c.args(["letter", &code, "--now", "2026-11-25T09:05:00+07:00", "-o"])
            .arg(&again),
    );
    let (ok, stdout, err) = run(&mut c);
    assert!(ok && stdout.contains("version 1"), "{stdout}{err}");
    assert_eq!(std::fs::read(&again).unwrap(), drafted);

    let mut c = bin();
    with_env(c.args(["letter", "issue", &code, "--number", "125/TB-UBND"]));
    let (ok, stdout, err) = run(&mut c);
    assert!(ok, "{err}");
    assert!(
        stdout.contains("recorded as issued") && stdout.contains("125/TB-UBND"),
        "{stdout}"
    );
    let mut c = bin();
    with_env(c.args(["letter", "issue", &code, "--number", "126/TB-UBND"]));
    let (ok, _, err) = run(&mut c);
    assert!(!ok && err.contains("already issued"), "{err}");

    let mut c = bin();
    with_env(
        c.args(["letter", "000.00.00.X-000000-9999999", "-o"])
            .arg(&out),
    );
    let (ok, _, err) = run(&mut c);
    assert!(!ok && err.contains("not in the database"), "{err}");
}

#[tokio::test]
async fn a_read_only_database_is_a_clear_error_and_loses_nothing() {
    let sim = spawn_simulator(Shape::Native, 200, "").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ro.db");
    let rw = format!("sqlite://{}", path.display());
    let ro = format!("sqlite://{}?mode=ro", path.display());
    let url = sim.url.clone();
    let sim2 = sim.sim.clone();
    let (first, second) = tokio::task::spawn_blocking(move || {
        let first = sync_cli(&url, &rw);
        sim2.advance(chrono::Duration::days(3));
        let second = sync_cli(&url, &ro);
        (first, second)
    })
    .await
    .unwrap();
    assert!(first.0, "{}", first.2);
    let (ok, _, err) = second;
    assert!(!ok);
    assert!(
        err.contains("readonly") || err.contains("read-only") || err.contains("read only"),
        "{err}"
    );
    assert!(err.contains("ro.db"), "the error names the database: {err}");
    let store = tthc_watch::store::Store::connect(&format!("sqlite://{}", path.display()), 1)
        .await
        .unwrap();
    let rows = store.count_rows("dossiers").await.unwrap();
    assert!(rows > 0);
    assert_eq!(
        store.count_rows("dossier_history").await.unwrap(),
        0,
        "nothing half-written: no change recorded"
    );
}

#[test]
fn the_example_production_config_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let routing = dir.path().join("routing.toml");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/config/routing.toml"),
        &routing,
    )
    .unwrap();
    let env = vec![(
        "TTHC_WATCH__ESCALATION__ROUTING_FILE".to_string(),
        routing.display().to_string(),
    )];
    let path = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/production.toml"
    ));
    let s = tthc_watch::config::Settings::load_with_env(Some(path), env)
        .expect("deploy/production.toml loads");
    assert!(s.database.url.starts_with("postgres://"));
    assert_eq!(s.sources.len(), 1);
}

#[test]
fn smtp_credentials_in_clear_are_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("w.db").display());
    let send = |security: &str| {
        run(bin()
            .args(["send", "--now", NOW])
            .env("TTHC_WATCH__DATABASE__URL", &db)
            .env("TTHC_WATCH__MAIL__TRANSPORT", "smtp")
            .env("TTHC_WATCH__MAIL__SMTP_HOST", "127.0.0.1")
            .env("TTHC_WATCH__MAIL__SMTP_USERNAME", "ttpvhcc")
            .env("TTHC_WATCH__MAIL__SMTP_PASSWORD", "mat-khau")
            .env("TTHC_WATCH__MAIL__SMTP_SECURITY", security))
    };
    let (ok, _, err) = send("none");
    assert!(ok, "{err}");
    assert!(
        err.contains("in clear") && err.contains("starttls"),
        "{err}"
    );
    assert!(!err.contains("mat-khau"), "{err}");
    let (ok, _, err) = send("starttls");
    assert!(ok && !err.contains("in clear"), "{err}");
}
