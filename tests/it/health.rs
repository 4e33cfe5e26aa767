//! The operators' endpoints answer in time whatever the database does: with
//! PostgreSQL not answering (the connection to it frozen), `/readyz` says
//! unready within a second, `/healthz` stays up and `/metrics` still answers.

use crate::support::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;
use tthc_watch::api::AppState;
use tthc_watch::app::RuleSet as Rules;
use tthc_watch::clock::{Clock, from_vn};
use tthc_watch::store::Store;

/// A TCP proxy to `target` that stops passing bytes (either way) while
/// `frozen` is set: a database that stopped answering, connections open.
async fn freezable_proxy(target: String, frozen: Arc<AtomicBool>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let server = tokio::net::TcpStream::connect(&target).await.unwrap();
            let (cr, cw) = client.into_split();
            let (sr, sw) = server.into_split();
            for (mut from, mut to) in [
                (
                    Box::new(cr) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
                    Box::new(sw) as Box<dyn tokio::io::AsyncWrite + Unpin + Send>,
                ),
                (Box::new(sr), Box::new(cw)),
            ] {
                let frozen = frozen.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = match from.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        while frozen.load(Ordering::SeqCst) {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        if to.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        }
    });
    port
}

#[tokio::test]
async fn health_answers_in_time_when_the_database_does_not() {
    let db = TestDb::new(Backend::Postgres).await;
    let mut u = url::Url::parse(&db.url).unwrap();
    let target = format!("{}:{}", u.host_str().unwrap(), u.port().unwrap_or(5432));
    let frozen = Arc::new(AtomicBool::new(false));
    let port = freezable_proxy(target, frozen.clone()).await;
    u.set_host(Some("127.0.0.1")).unwrap();
    u.set_port(Some(port)).unwrap();
    let store = Store::connect(u.as_ref(), 2).await.unwrap();
    let settings = test_settings(u.as_ref(), 1);
    let rules = Rules::load(&settings).unwrap();
    let state = Arc::new(AppState::new(
        &settings,
        store,
        Clock::fixed(from_vn(t("2026-11-25 08:00"))),
        rules.routing.clone(),
        rules.calendar.clone(),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    tokio::spawn(tthc_watch::api::serve(listener, state, shutdown.clone()));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    let get = |path: &'static str| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            let started = Instant::now();
            let r = client.get(format!("{base}{path}")).send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.text().await.unwrap(), started.elapsed())
        }
    };
    assert_eq!(get("/readyz").await.0, 200);
    let (status, body, _) = get("/metrics").await;
    assert!(
        status == 200 && body.contains("tthc_metrics_database_ok 1"),
        "{body}"
    );

    frozen.store(true, Ordering::SeqCst);
    let (status, body, took) = get("/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(took < Duration::from_secs(1), "/readyz took {took:?}");
    assert!(body.contains("did not answer within"), "{body}");
    let (status, _, took) = get("/healthz").await;
    assert!(status == 200 && took < Duration::from_secs(1));
    let (status, body, took) = get("/metrics").await;
    assert!(
        status == 200 && body.contains("tthc_metrics_database_ok 0"),
        "{body}"
    );
    assert!(took < Duration::from_secs(3), "/metrics took {took:?}");

    frozen.store(false, Ordering::SeqCst);
    shutdown.cancel();
    db.cleanup().await;
}
