//! `tthc-watch run` under the faults production sees, as real processes
//! against the real SMTP server: a leader frozen (SIGSTOP) or cut from its
//! lease while it sends slowly, an SMTP server that stops answering for two
//! minutes, PostgreSQL stopped under the daemon. What must hold: one sender
//! (no message twice), the other jobs on schedule, `/readyz` saying why.

use crate::daemon::{PrivatePg, Service, metric, write_config};
use crate::support::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tthc_watch::source::Shape;
use tthc_watch::store::Store;

/// The daemons' config with a mail timeout of 5 s (a message's claim then
/// lasts 35 s) and `backoff` as "base cap" seconds.
fn config(dir: &Path, db: &str, sim: &str, smtp: u16, backoff: (u64, u64)) -> PathBuf {
    let path = write_config(dir, db, sim, smtp, "");
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "backoff_base_secs = 1\nbackoff_cap_secs = 2",
        &format!(
            "timeout_secs = 5\nbackoff_base_secs = {}\nbackoff_cap_secs = {}",
            backoff.0, backoff.1
        ),
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// The SMTP server takes `secs` to answer each message.
fn slow_smtp(sink: &SmtpSink, secs: f64) {
    std::fs::write(sink.dir.path().join("slow"), secs.to_string()).unwrap();
}

async fn leader_flag(s: &Service) -> Option<f64> {
    let (code, body) = s.get("/metrics").await?;
    (code == 200)
        .then(|| metric(&body, "tthc_leader"))
        .flatten()
}

/// Waits until every alert is in a sent message and nothing is pending.
async fn wait_drained(store: &Store, within: Duration, logs: impl Fn() -> String) {
    let start = Instant::now();
    loop {
        let counts = store.outbox_counts().await.unwrap();
        let n = |status: &str| -> i64 {
            counts
                .iter()
                .filter(|(s, _)| s == status)
                .map(|(_, n)| n)
                .sum()
        };
        if n("pending") == 0
            && n("sent") > 0
            && store.unsent_alert_recipients().await.unwrap().is_empty()
        {
            assert_eq!(n("failed"), 0, "{counts:?}");
            return;
        }
        assert!(
            start.elapsed() < within,
            "outbox not drained: {counts:?}\n{}",
            logs()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Messages the SMTP server received more than once (by Message-ID), and
/// how many it received.
fn duplicates(sink: &SmtpSink) -> (usize, usize) {
    let msgs = sink.messages();
    let mut ids: Vec<String> = msgs
        .iter()
        .map(|m| m["message_id"].as_str().unwrap().to_owned())
        .collect();
    let total = ids.len();
    ids.sort();
    ids.dedup();
    (total - ids.len(), total)
}

async fn wait_for(what: &str, within: Duration, mut ok: impl AsyncFnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !ok().await {
        assert!(start.elapsed() < within, "{what} not within {within:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    start.elapsed()
}

/// What the PostgreSQL leadership tests share: a simulated source, an SMTP
/// server taking 1 s per message, a fresh database and the daemons' config.
struct Rig {
    _sim: TestSim,
    sink: SmtpSink,
    db: TestDb,
    dir: tempfile::TempDir,
    config: PathBuf,
}

async fn slow_mail_on_postgres() -> Rig {
    let sim = spawn_simulator(Shape::Native, 300, "").await;
    let sink = SmtpSink::start();
    slow_smtp(&sink, 1.0);
    let db = TestDb::new(Backend::Postgres).await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &db.url, &sim.url, sink.port, (1, 2));
    Rig {
        _sim: sim,
        sink,
        db,
        dir,
        config,
    }
}

#[tokio::test]
async fn a_frozen_leader_is_replaced_within_30_s_and_sends_nothing_when_resumed() {
    if !postgres_available().await {
        return;
    }
    let Rig {
        _sim,
        sink,
        db,
        dir,
        config,
    } = slow_mail_on_postgres().await;
    let a = Service::start(&config, dir.path(), "a", free_port());
    wait_for("a leads and sends", Duration::from_secs(60), async || {
        leader_flag(&a).await == Some(1.0) && !sink.messages().is_empty()
    })
    .await;
    let b = Service::start(&config, dir.path(), "b", free_port());
    wait_for("b serves", Duration::from_secs(20), async || {
        leader_flag(&b).await == Some(0.0)
    })
    .await;

    // Frozen in the middle of its drain (each message takes the server 1 s).
    a.signal("STOP");
    let took = wait_for(
        "b takes over from the frozen leader",
        Duration::from_secs(30),
        async || leader_flag(&b).await == Some(1.0),
    )
    .await;
    eprintln!("frozen leader replaced after {took:?}");
    let resumed_at = a.logs().len();
    a.signal("CONT");
    wait_drained(&db.store, Duration::from_secs(90), || {
        format!("a:\n{}\nb:\n{}", a.logs(), b.logs())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    let after = a.logs()[resumed_at..].to_owned();
    assert!(
        after.contains("lost the leadership"),
        "the resumed leader knows it was replaced:\n{after}"
    );
    // At most the one message whose reply was already on its way when it
    // froze is recorded; no new one is sent.
    assert!(
        after.matches("message sent").count() <= 1,
        "the resumed leader sent:\n{after}"
    );
    let (dups, total) = duplicates(&sink);
    assert_eq!(
        dups,
        0,
        "{dups} duplicates among {total} messages\na:\n{}\nb:\n{}",
        a.logs(),
        b.logs()
    );
    assert_eq!(leader_flag(&a).await, Some(0.0));
    assert_eq!(leader_flag(&b).await, Some(1.0));
    db.cleanup().await;
}

#[tokio::test]
async fn cutting_a_sending_leaders_lock_connection_sends_nothing_twice() {
    if !postgres_available().await {
        return;
    }
    let Rig {
        _sim,
        sink,
        db,
        dir,
        config,
    } = slow_mail_on_postgres().await;
    let services = [
        Service::start(&config, dir.path(), "a", free_port()),
        Service::start(&config, dir.path(), "b", free_port()),
    ];
    wait_for("a leader sends", Duration::from_secs(60), async || {
        !sink.messages().is_empty()
    })
    .await;
    // The lease's connection cut again and again while messages go out
    // slowly (a firewall's idle timeout, `idle_session_timeout`, a blip).
    for _ in 0..5 {
        let sql = |what: &str| {
            format!(
                "SELECT COUNT({what}) FROM pg_stat_activity \
                 WHERE application_name = 'tthc-watch leader' AND datname = current_database()"
            )
        };
        wait_for(
            "the lease's connection",
            Duration::from_secs(20),
            async || db.store.fetch_i64(&sql("pid")).await.unwrap() > 0,
        )
        .await;
        let cut = db
            .store
            .fetch_i64(&sql("pg_terminate_backend(pid)"))
            .await
            .unwrap();
        assert!(cut >= 1, "the lease connection cut");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let logs = || {
        services
            .iter()
            .map(|s| s.logs())
            .collect::<Vec<_>>()
            .join("\n----\n")
    };
    wait_drained(&db.store, Duration::from_secs(120), logs).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (dups, total) = duplicates(&sink);
    assert_eq!(
        dups,
        0,
        "{dups} duplicates among {total} messages\n{}",
        logs()
    );
    let mut flags = Vec::new();
    for s in &services {
        flags.push(leader_flag(s).await);
    }
    assert_eq!(
        flags.iter().flatten().sum::<f64>(),
        1.0,
        "one leader: {flags:?}"
    );
    db.cleanup().await;
}

#[tokio::test]
async fn a_hung_smtp_server_holds_up_only_the_mail_and_everything_arrives_once_after() {
    let sim = spawn_simulator(Shape::Native, 300, "").await;
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("t.db").display());
    let config = config(dir.path(), &db, &sim.url, sink.port, (2, 20));
    // Accepts connections and never answers, from the start.
    sink.freeze(true);
    let svc = Service::start(&config, dir.path(), "a", free_port());
    svc.wait_ok("/healthz", Duration::from_secs(20)).await;
    let store = Store::connect(&db, 1).await.unwrap();
    let polls = async || store.count_rows("sync_runs").await.unwrap();
    let checks = || svc.logs().matches("escalation: ").count();
    let (polls_before, checks_before) = (polls().await, checks());
    let start = Instant::now();
    let mut unready = None;
    while start.elapsed() < Duration::from_secs(120) {
        if let Some((503, body)) = svc.get("/readyz").await {
            unready = Some(body);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    // Polls every 2 s and a check after each, all along (margins for a busy machine).
    let (polled, checked) = (polls().await - polls_before, checks() - checks_before);
    assert!(polled >= 20, "{polled} polls in 120 s\n{}", svc.logs());
    assert!(checked >= 15, "{checked} checks in 120 s\n{}", svc.logs());
    let unready = unready.expect("/readyz unready while the mail server does not answer");
    assert!(
        unready.contains("mail server did not answer"),
        "the reason: {unready}"
    );
    assert!(sink.messages().is_empty());

    sink.freeze(false);
    wait_drained(&store, Duration::from_secs(60), || svc.logs()).await;
    let (dups, total) = duplicates(&sink);
    assert_eq!(dups, 0, "{dups} duplicates among {total} messages");
    svc.wait_ok("/readyz", Duration::from_secs(20)).await;
    store.close().await;
}

#[tokio::test]
async fn readyz_answers_within_a_second_while_postgresql_is_stopped() {
    if !postgres_available().await {
        return;
    }
    let pg = PrivatePg::start();
    let sim = spawn_simulator(Shape::Native, 100, "").await;
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &pg.url(), &sim.url, sink.port, "");
    let svc = Service::start(&config, dir.path(), "a", free_port());
    svc.wait_ok("/readyz", Duration::from_secs(30)).await;
    pg.ctl("stop");
    for path in ["/readyz", "/healthz", "/readyz"] {
        let start = Instant::now();
        let answer = svc.get(path).await;
        let took = start.elapsed();
        assert!(took < Duration::from_secs(1), "{path} took {took:?}");
        let expected = if path == "/healthz" { 200 } else { 503 };
        assert_eq!(answer.map(|a| a.0), Some(expected), "{path}");
    }
    pg.ctl("start");
    svc.wait_ok("/readyz", Duration::from_secs(30)).await;
}

#[tokio::test]
async fn a_poll_that_hangs_makes_readyz_name_it_while_mail_goes_on() {
    // A source that accepts connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("t.db").display());
    let config = write_config(dir.path(), &db, &url, sink.port, "job_limit_secs = 2\n");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("page_size = 200", "page_size = 200\ntimeout_secs = 60");
    std::fs::write(&config, text).unwrap();
    let svc = Service::start(&config, dir.path(), "a", free_port());
    svc.wait_ok("/healthz", Duration::from_secs(20)).await;
    let mut body = String::new();
    wait_for(
        "/readyz names the hung poll",
        Duration::from_secs(20),
        async || match svc.get("/readyz").await {
            Some((503, b)) => {
                body = b;
                body.contains("job poll tinh has run for")
            }
            _ => false,
        },
    )
    .await;
    assert!(body.contains("schedule.job_limit_secs"), "{body}");
    // The drain is not held up behind it.
    wait_for("a drain runs", Duration::from_secs(10), async || {
        svc.logs().contains("send: 0 sent")
    })
    .await;
    drop(silent);
}
