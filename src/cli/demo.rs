//! `tthc-watch demo`: the simulator in-process, SQLite in DIR, then one full
//! cycle (sync, check, digest, send) and an overview; without `--once`, a
//! cycle every interval (simulated time runs 60× faster) until SIGTERM or
//! SIGINT.

use super::commands::{adhoc_source, print_check_event, print_digest};
use crate::app::{self, RuleSet, simulate::SimulateArgs};
use crate::check::{Scope, class_table};
use crate::clock::Clock;
use crate::config::{MailTransport, Settings};
use crate::source::Shape;
use crate::store::Store;
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use tokio_util::sync::CancellationToken;

/// How long a cycle under way may take to finish after a stop request.
const GRACE: std::time::Duration = std::time::Duration::from_secs(5);

pub struct DemoArgs {
    pub dir: PathBuf,
    pub dossiers: u32,
    pub now: Option<DateTime<Utc>>,
    pub once: bool,
    pub interval_secs: u64,
    /// Where the running demo serves /healthz, /readyz and /metrics.
    pub port: u16,
    /// The wire the simulated system speaks.
    pub shape: Shape,
}

pub async fn demo(base: &Settings, a: &DemoArgs, stop: CancellationToken) -> Result<()> {
    std::fs::create_dir_all(&a.dir).with_context(|| format!("creating {}", a.dir.display()))?;
    let now = a.now.unwrap_or_else(Utc::now);
    let token = "demo-token".to_string();
    let sim = app::simulate::build_simulator(
        base,
        &SimulateArgs {
            dossiers: a.dossiers,
            seed: 2026,
            now,
            speed: if a.once { 0.0 } else { 60.0 },
            shape: a.shape,
            token: token.clone(),
            faults: String::new(),
            prerender: false,
            history_days: crate::simulator::world::DEFAULT_HISTORY_DAYS,
        },
    )?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let sim_stop = CancellationToken::new();
    let server = tokio::spawn(crate::simulator::serve(
        listener,
        sim.clone(),
        sim_stop.clone(),
    ));

    let mut settings = base.clone();
    settings.database.url = format!("sqlite://{}", a.dir.join("tthc-watch.db").display());
    settings.mail.transport = MailTransport::File;
    // A demonstration shows its emails at once, whatever the hour.
    settings.escalation.quiet_hours = false;
    settings.mail.file_dir = a.dir.join("mail").display().to_string();
    settings.letters.dir = a.dir.join("letters").display().to_string();
    adhoc_source(
        &mut settings,
        &format!("http://{addr}"),
        Some(&token),
        a.shape,
    );
    let source = settings.sources.remove("default").context("demo source")?;
    settings.sources.insert("tinh".into(), source);
    let mut rules = RuleSet::load(&settings)?;
    // Serving: the emails link each dossier to its page on this demo.
    if !a.once && rules.routing.committee.dashboard_url.is_empty() {
        rules.routing.committee.dashboard_url = format!("http://127.0.0.1:{}/", a.port);
    }
    let store = app::open_store(&settings).await?;
    println!(
        "demo: simulated provincial system on http://{addr}, database {}",
        settings.database.url
    );
    let clock = if a.once {
        Clock::fixed(now)
    } else {
        Clock::starting_at(now)
    };
    let token_file = a.dir.join("auditor-token.txt");
    if !token_file.exists() {
        let (_, token) =
            app::admin::token_create(&store, "auditor", "demo auditor", &clock).await?;
        std::fs::write(&token_file, format!("{token}\n"))
            .with_context(|| format!("writing {}", token_file.display()))?;
    }
    let mut http = None;
    if !a.once {
        let addr = format!("127.0.0.1:{}", a.port);
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .with_context(|| format!("binding {addr} (choose another with --port)"))?;
        let state = std::sync::Arc::new(crate::api::AppState::new(
            &settings,
            store.clone(),
            clock.clone(),
            rules.routing.clone(),
            rules.calendar.clone(),
        ));
        println!(
            "health and metrics on http://{}/metrics",
            listener.local_addr()?
        );
        http = Some(tokio::spawn(crate::api::serve(
            listener,
            state,
            stop.clone(),
        )));
    }
    let cycles = async {
        loop {
            cycle(&settings, &rules, &store, &clock, &a.dir).await?;
            if a.once || stop.is_cancelled() {
                return anyhow::Ok(());
            }
            tokio::select! {
                _ = stop.cancelled() => return Ok(()),
                _ = tokio::time::sleep(std::time::Duration::from_secs(a.interval_secs)) => {}
            }
        }
    };
    tokio::pin!(cycles);
    // A stop request lets the cycle under way finish for a few seconds, then
    // drops it (its open transaction rolls back).
    let ran = tokio::select! {
        r = &mut cycles => r,
        _ = stop.cancelled() => tokio::time::timeout(GRACE, &mut cycles).await.unwrap_or(Ok(())),
    };
    stop.cancel();
    if let Some(h) = http {
        let _ = h.await;
    }
    store.close().await;
    sim_stop.cancel();
    let _ = server.await;
    ran
}

/// One sync, check, digest and send, then the overview.
async fn cycle(
    settings: &Settings,
    rules: &RuleSet,
    store: &Store,
    clock: &Clock,
    dir: &Path,
) -> Result<()> {
    for s in app::sync::sync(settings, store, clock).await? {
        println!("{s}");
    }
    app::check::check(
        settings,
        rules,
        store,
        clock,
        Scope::Due,
        &mut print_check_event,
    )
    .await?;
    print_digest(&app::digest::digest(settings, rules, store, clock, false).await?);
    println!("{}", app::send::send(settings, store, clock).await?);
    print_overview(&app::report::overview(store).await?, dir);
    Ok(())
}

fn print_overview(o: &app::report::Overview, dir: &Path) {
    println!("dossiers by status:");
    for (status, n) in &o.by_status {
        let label = crate::dossier::Status::parse(status).map_or(status.as_str(), |s| s.label_vi());
        println!("  {label:<36} {n:>7}");
    }
    println!("dossiers by field (lĩnh vực):");
    for (field, n) in &o.by_field {
        println!("  {field:<36} {n:>7}");
    }
    println!("deadlines (Vietnamese working days):");
    print!("{}", class_table(&o.by_class));
    println!(
        "source due dates that disagree with the rules: {}",
        o.due_mismatches
    );
    println!("quarantined records: {}", o.quarantined);
    println!(
        "emails: {} (written to {})",
        o.outbox
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect::<Vec<_>>()
            .join(", "),
        dir.join("mail").display()
    );
    println!("data in {}", dir.display());
}
