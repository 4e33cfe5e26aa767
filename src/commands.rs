//! The glue behind each command-line verb: load settings, open the store, call
//! the library, print a summary. `anyhow` lives here and in `main`, nowhere else.

use crate::calendar::{Calendar, OfficeHours};
use crate::check::{CheckSummary, Escalation, Scope, class_table, run_check};
use crate::clock::Clock;
use crate::config::{AuthSettings, LogFormat, Settings, Shape, SourceSettings};
use crate::deadline::Engine;
use crate::letters::drafts::{DraftSummary, Drafter};
use crate::notify::compose::Composer;
use crate::notify::digest::{DigestLimits, DigestOutcome, make_digest};
use crate::notify::mailer::{DrainSummary, Mailer, drain};
use crate::notify::templates::Templates;
use crate::routing::Routing;
use crate::simulator::{Faults, Simulator, SimulatorOptions};
use crate::source::sync::{SyncSummary, sync_all};
use crate::store::LetterRecord;
use crate::store::Store;
use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

pub fn init_logging(format: LogFormat, level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TTHC_WATCH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

pub async fn open_store(settings: &Settings) -> Result<Store> {
    Store::connect(&settings.database.url, settings.database.max_connections)
        .await
        .with_context(|| {
            format!(
                "opening the database (database.url = {})",
                crate::redact::redact_url(&settings.database.url)
            )
        })
}

/// `tthc-watch migrate`.
pub async fn migrate(settings: &Settings) -> Result<()> {
    let store = open_store(settings).await?;
    println!("database migrated ({})", store.backend());
    store.close().await;
    Ok(())
}

/// Settings for `sync` without a config file: one native source.
pub fn adhoc_source(settings: &mut Settings, url: &str, token: Option<&str>, shape: Shape) {
    settings.sources.clear();
    settings.sources.insert(
        "default".into(),
        SourceSettings {
            url: url.to_owned(),
            shape,
            enabled: true,
            auth: token.map_or(AuthSettings::None, |t| AuthSettings::Bearer {
                token: t.to_owned(),
            }),
            page_size: 1000,
            timeout_secs: 30,
            max_retries: 5,
            overlap_minutes: 10,
            mapping: None,
            poll: None,
        },
    );
}

/// `tthc-watch sync`: one poll of every source; fails when any source failed.
pub async fn sync(settings: &Settings, clock: &Clock) -> Result<Vec<SyncSummary>> {
    if settings.sources.is_empty() {
        anyhow::bail!(
            "no sources configured: add a [sources.NAME] table to the config file, or pass --source-url"
        );
    }
    let store = open_store(settings).await?;
    let summaries = sync_all(settings, &store, clock).await;
    for s in &summaries {
        println!("{s}");
    }
    store.close().await;
    if let Some(failed) = summaries.iter().find(|s| s.error.is_some()) {
        anyhow::bail!(
            "sync of source {} failed: {}; data already stored is kept (database {})",
            failed.source,
            failed.error.as_deref().unwrap_or_default(),
            crate::redact::redact_url(&settings.database.url)
        );
    }
    Ok(summaries)
}

pub fn load_calendar(settings: &Settings) -> Result<(Calendar, OfficeHours)> {
    let cal = settings
        .calendar
        .load()
        .context("loading the working-day calendar (calendar.file)")?;
    Ok((cal, settings.calendar.office_hours()))
}

/// Everything rules-as-data the escalation steps need, loaded and checked.
pub struct Rules {
    pub calendar: Calendar,
    pub hours: OfficeHours,
    pub deadline: crate::deadline::Rules,
    pub routing: Routing,
    pub ladder: crate::escalation::Ladder,
    pub templates: Templates,
    pub letter_template: crate::letters::LetterTemplate,
}

/// The `applied_settings` entry of the calendar and rules a check applied.
const RULES_APPLIED: &str = "check_rules";

impl Rules {
    /// What verdicts depend on besides their dossier and the time: the
    /// calendar, office hours, deadline rules and the ladder's threshold.
    fn fingerprint(&self) -> String {
        let text = format!(
            "{} {:?} {:?} {}",
            self.calendar.fingerprint(),
            self.hours,
            self.deadline,
            self.ladder.no_apology_after_days
        );
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(text.as_bytes()))
    }

    pub fn load(settings: &Settings) -> Result<Rules> {
        let (calendar, hours) = load_calendar(settings)?;
        Ok(Rules {
            calendar,
            hours,
            deadline: settings.deadline.rules(),
            routing: settings
                .escalation
                .routing()
                .context("loading routing (escalation.routing_file)")?,
            ladder: settings.escalation.ladder(),
            templates: Templates::load(&settings.escalation.templates_dir)
                .context("loading email templates (escalation.templates_dir)")?,
            letter_template: settings
                .letters
                .template()
                .context("loading the apology-letter template (letters.template_file)")?,
        })
    }

    pub fn drafter<'a>(&'a self, settings: &Settings, store: &'a Store) -> Drafter<'a> {
        Drafter {
            store,
            calendar: &self.calendar,
            routing: &self.routing,
            template: &self.letter_template,
            dir: std::path::PathBuf::from(&settings.letters.dir),
            extension_days: i64::from(settings.letters.extension_days),
            before_due: settings.letters.draft_before_due,
        }
    }

    pub fn composer(&self, settings: &Settings) -> Composer<'_> {
        let domain = settings
            .mail
            .from
            .rsplit_once('@')
            .map(|(_, d)| d.trim_end_matches('>').to_owned())
            .unwrap_or_else(|| "tthc-watch.local".into());
        Composer {
            routing: &self.routing,
            calendar: &self.calendar,
            templates: &self.templates,
            mask_applicant: settings.escalation.mask_applicant,
            domain,
            max_items: settings.escalation.max_listed,
        }
    }
}

/// `tthc-watch check`: evaluates every dossier that needs it at `now`, fires
/// the escalation ladder and queues the messages.
pub async fn check(settings: &Settings, clock: &Clock, scope: Scope) -> Result<CheckSummary> {
    let store = open_store(settings).await?;
    let rules = Rules::load(settings)?;
    let summary = check_scoped(settings, &rules, &store, clock, scope).await?;
    println!("{}", class_table(&store.count_by_class().await?));
    for (title, by_officer) in [
        (
            "delays by unit (late and overdue dossiers, working days over the step's time):",
            false,
        ),
        ("delays by officer:", true),
    ] {
        let rows = store.delay_summary(by_officer).await?;
        if !rows.is_empty() {
            println!("{title}");
            for (who, n, days) in rows.iter().take(10) {
                println!("  {who:<44} {n:>5} hồ sơ {days:>6} ngày");
            }
        }
    }
    store.close().await;
    Ok(summary)
}

/// One evaluation and escalation: verdicts, alerts, messages, stale-data alerts.
pub async fn check_with(
    settings: &Settings,
    rules: &Rules,
    store: &Store,
    clock: &Clock,
) -> Result<CheckSummary> {
    check_scoped(settings, rules, store, clock, Scope::Due).await
}

/// `check_with` over the dossiers of `scope`.
pub async fn check_scoped(
    settings: &Settings,
    rules: &Rules,
    store: &Store,
    clock: &Clock,
    scope: Scope,
) -> Result<CheckSummary> {
    let now = clock.now_vn();
    if let Some(w) = rules.calendar.coverage_warning(now.date()) {
        tracing::warn!("{w}");
        println!("WARNING: {w}");
    }
    let engine = Engine::new(&rules.calendar, &rules.hours, &rules.deadline);
    let escalation = Escalation {
        routing: &rules.routing,
        ladder: &rules.ladder,
    };
    // A check looks again only at verdicts that can have changed; a changed
    // calendar, office hours or rule can change any of them.
    let applied = rules.fingerprint();
    let scope = if store.applied_setting(RULES_APPLIED).await?.as_deref() == Some(&applied) {
        scope
    } else {
        tracing::info!(
            "the calendar or the rules changed since the last check: every dossier is evaluated again"
        );
        Scope::All
    };
    let summary = run_check(store, &engine, Some(&escalation), now, scope)
        .await
        .context("evaluating deadlines")?;
    store.set_applied_setting(RULES_APPLIED, &applied).await?;
    println!("{summary}");
    draft_letters(settings, rules, store, clock).await?;
    let composer = rules.composer(settings);
    let alerts = composer
        .compose_alerts(store, now)
        .await
        .context("composing alert messages")?;
    let stale = composer
        .compose_stale(store, settings.escalation.stale_after_minutes, now)
        .await
        .context("composing stale-data alerts")?;
    println!("escalation: {alerts} alert messages queued, {stale} data-freshness messages queued");
    Ok(summary)
}

/// Apology drafts for every dossier that needs one (before the alerts that attach them).
pub async fn draft_letters(
    settings: &Settings,
    rules: &Rules,
    store: &Store,
    clock: &Clock,
) -> Result<DraftSummary> {
    let s = rules
        .drafter(settings, store)
        .draft_all(clock.now_vn())
        .await
        .context("drafting apology letters")?;
    println!(
        "letters: {} new drafts, {} up to date, {} errors (in {})",
        s.drafted, s.up_to_date, s.errors, settings.letters.dir
    );
    Ok(s)
}

/// `tthc-watch letter CODE -o FILE`: the current draft for one dossier (a new
/// version if it changed), copied to FILE.
pub async fn letter(
    settings: &Settings,
    code: &str,
    source: Option<&str>,
    out: &Path,
    clock: &Clock,
) -> Result<LetterRecord> {
    let store = open_store(settings).await?;
    let rules = Rules::load(settings)?;
    let drafter = rules.drafter(settings, &store);
    let code = crate::text::nfc(code);
    let d = drafter.find(&code, source).await?;
    let (record, new) = drafter.draft(&d, clock.now_vn()).await?;
    std::fs::copy(&record.path, out).with_context(|| format!("writing {}", out.display()))?;
    println!(
        "{} apology draft for {code}: version {}{}, sha256 {} → {}",
        if new { "new" } else { "current" },
        record.version,
        if record.status == "issued" {
            " (issued)"
        } else {
            ""
        },
        record.sha256,
        out.display()
    );
    store.close().await;
    Ok(record)
}

/// `tthc-watch letter issue CODE --number N`: the centre issued the latest draft.
pub async fn letter_issue(
    settings: &Settings,
    code: &str,
    source: Option<&str>,
    number: &str,
    clock: &Clock,
) -> Result<LetterRecord> {
    let store = open_store(settings).await?;
    let code = crate::text::nfc(code);
    let d = crate::letters::drafts::find_dossier(&store, &code, source).await?;
    let r = store
        .issue_letter(&d.source, &code, number, clock.now_vn())
        .await?;
    println!(
        "apology for {code} recorded as issued: number {number}, version {}, on {}",
        r.version,
        clock.now_vn()
    );
    store.close().await;
    Ok(r)
}

/// `tthc-watch serve`: the API, dashboard, health and metrics, without jobs.
pub async fn serve(settings: &Settings, clock: Clock, shutdown: CancellationToken) -> Result<()> {
    let store = open_store(settings).await?;
    let state = std::sync::Arc::new(crate::api::AppState::new(settings, store.clone(), clock)?);
    let listener = tokio::net::TcpListener::bind(&settings.server.listen)
        .await
        .with_context(|| format!("binding server.listen = {}", settings.server.listen))?;
    println!(
        "serving the API, dashboard and metrics on http://{}",
        listener.local_addr()?
    );
    crate::api::serve(listener, state, shutdown).await?;
    store.close().await;
    Ok(())
}

/// `tthc-watch token create`: prints the token once; only its hash is kept.
pub async fn token_create(
    settings: &Settings,
    role: &str,
    name: &str,
    clock: &Clock,
) -> Result<String> {
    if crate::api::Role::parse(role).is_none() {
        anyhow::bail!("--role {role}: expected auditor, centre or admin");
    }
    let store = open_store(settings).await?;
    let (id, token) = store.create_token(name, role, clock.now_vn()).await?;
    store.close().await;
    eprintln!("token {id} for {name} ({role}); keep it secret, it is shown only once:");
    println!("{token}");
    Ok(token)
}

pub async fn token_list(settings: &Settings) -> Result<()> {
    let store = open_store(settings).await?;
    for t in store.list_tokens().await? {
        println!(
            "{:>4}  {:<8} {:<30} created {}{}",
            t.id,
            t.role,
            t.name,
            t.created_at,
            t.revoked_at
                .map(|r| format!(", revoked {r}"))
                .unwrap_or_default()
        );
    }
    store.close().await;
    Ok(())
}

pub async fn token_revoke(settings: &Settings, id: i64, clock: &Clock) -> Result<()> {
    let store = open_store(settings).await?;
    let done = store.revoke_token(id, clock.now_vn()).await?;
    store.close().await;
    if !done {
        anyhow::bail!("no live token {id} (see `tthc-watch token list`)");
    }
    println!("token {id} revoked");
    Ok(())
}

/// `tthc-watch retention --before DATE [--yes]`: removes dossiers finished or
/// closed before DATE (a dry run without --yes), recorded in the audit trail.
pub async fn retention(
    settings: &Settings,
    before: NaiveDate,
    apply: bool,
    clock: &Clock,
) -> Result<()> {
    let store = open_store(settings).await?;
    let r = store.retention(before, apply, clock.now_vn()).await?;
    store.close().await;
    if apply {
        println!(
            "removed {} dossiers finished or closed before {before} and {} letter records; recorded in the audit trail",
            r.dossiers, r.letters
        );
    } else {
        println!(
            "would remove {} dossiers finished or closed before {before} and {} letter records; add --yes to do it",
            r.dossiers, r.letters
        );
    }
    Ok(())
}

/// `tthc-watch audit verify`: recomputes the hash chain.
pub async fn audit_verify(settings: &Settings) -> Result<()> {
    let store = open_store(settings).await?;
    let v = store.verify_audit().await?;
    store.close().await;
    match v {
        crate::store::audit::Verification::Intact { entries } => {
            println!("audit trail intact: {entries} entries, every link verified");
            Ok(())
        }
        crate::store::audit::Verification::Broken { id, reason } => {
            anyhow::bail!("audit trail BROKEN at entry {id}: {reason}")
        }
    }
}

/// `tthc-watch digest`: the centre's morning digest (nothing on days off unless forced).
pub async fn digest(settings: &Settings, clock: &Clock, force: bool) -> Result<DigestOutcome> {
    let store = open_store(settings).await?;
    let rules = Rules::load(settings)?;
    let outcome = digest_with(settings, &rules, &store, clock, force).await?;
    store.close().await;
    Ok(outcome)
}

pub async fn digest_with(
    settings: &Settings,
    rules: &Rules,
    store: &Store,
    clock: &Clock,
    force: bool,
) -> Result<DigestOutcome> {
    let outcome = make_digest(
        &rules.composer(settings),
        store,
        &rules.calendar,
        &DigestLimits {
            warning_days: rules.deadline.warning_days,
            stale_after_minutes: settings.escalation.stale_after_minutes,
            max_items: settings.escalation.max_listed,
        },
        clock.now_vn(),
        force,
    )
    .await
    .context("making the digest")?;
    match &outcome {
        DigestOutcome::Queued {
            messages,
            overdue,
            due_today,
            due_soon,
        } => println!(
            "digest: {messages} messages queued for the centre ({overdue} overdue, {due_today} due today, {due_soon} due soon)"
        ),
        DigestOutcome::AlreadyDone => println!("digest: today's digest was already made"),
        DigestOutcome::DayOff => {
            println!("digest: today is not a working day; no digest (use --force to make one)")
        }
    }
    Ok(outcome)
}

/// `tthc-watch send`: one drain of the outbox.
pub async fn send(settings: &Settings, clock: &Clock) -> Result<DrainSummary> {
    let store = open_store(settings).await?;
    let s = send_with(settings, &store, clock).await?;
    store.close().await;
    Ok(s)
}

pub async fn send_with(settings: &Settings, store: &Store, clock: &Clock) -> Result<DrainSummary> {
    let mailer = Mailer::from_settings(&settings.mail)?;
    let s = drain(store, &mailer, &settings.mail, clock.now_vn()).await?;
    println!("{s}");
    Ok(s)
}

/// `tthc-watch calendar add DATE N`.
pub fn calendar_add(settings: &Settings, date: NaiveDate, n: i64) -> Result<NaiveDate> {
    let (cal, _) = load_calendar(settings)?;
    Ok(cal.add(date, n)?)
}

/// `tthc-watch calendar count FROM TO`.
pub fn calendar_count(settings: &Settings, from: NaiveDate, to: NaiveDate) -> Result<i64> {
    let (cal, _) = load_calendar(settings)?;
    Ok(cal.count(from, to)?)
}

pub struct SimulateArgs {
    pub dossiers: u32,
    pub seed: u64,
    pub now: DateTime<Utc>,
    pub speed: f64,
    pub shape: Shape,
    pub token: String,
    pub faults: String,
    pub prerender: bool,
}

pub fn build_simulator(settings: &Settings, a: &SimulateArgs) -> Result<Arc<Simulator>> {
    let faults = Faults::parse(&a.faults).map_err(|e| anyhow::anyhow!("--faults: {e}"))?;
    let (cal, hours) = load_calendar(settings)?;
    Ok(Arc::new(Simulator::new(
        SimulatorOptions {
            dossiers: a.dossiers,
            seed: a.seed,
            now: crate::clock::to_vn(a.now),
            speed: a.speed,
            shape: a.shape,
            token: a.token.clone(),
            faults,
        },
        cal,
        hours,
    )))
}

/// `tthc-watch simulate`: serves until Ctrl-C.
pub async fn simulate(settings: &Settings, listen: &str, a: &SimulateArgs) -> Result<()> {
    let sim = build_simulator(settings, a)?;
    if a.prerender && a.shape == Shape::Native {
        let started = std::time::Instant::now();
        let s = sim.clone();
        tokio::task::spawn_blocking(move || s.prerender()).await?;
        tracing::info!(secs = started.elapsed().as_secs_f64(), "records rendered");
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let addr = listener.local_addr()?;
    println!(
        "simulator of a provincial TTHC system ({} shape, {} dossiers, seed {}) on http://{addr}",
        a.shape.as_str(),
        a.dossiers,
        a.seed
    );
    let shutdown = CancellationToken::new();
    let s = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        s.cancel();
    });
    crate::simulator::serve(listener, sim, shutdown).await?;
    Ok(())
}

pub struct DemoArgs {
    pub dir: PathBuf,
    pub dossiers: u32,
    pub now: Option<DateTime<Utc>>,
    pub once: bool,
    pub interval_secs: u64,
    /// Where the running demo serves /healthz, /readyz and /metrics.
    pub port: u16,
}

/// `tthc-watch demo`: the simulator in-process, SQLite in DIR, a sync and a summary;
/// without `--once`, polls again every interval (simulated time runs 60× faster) until Ctrl-C.
pub async fn demo(base: &Settings, a: &DemoArgs) -> Result<()> {
    std::fs::create_dir_all(&a.dir).with_context(|| format!("creating {}", a.dir.display()))?;
    let now = a.now.unwrap_or_else(Utc::now);
    let token = "demo-token".to_string();
    let sim = build_simulator(
        base,
        &SimulateArgs {
            dossiers: a.dossiers,
            seed: 2026,
            now,
            speed: if a.once { 0.0 } else { 60.0 },
            shape: Shape::Native,
            token: token.clone(),
            faults: String::new(),
            prerender: false,
        },
    )?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(crate::simulator::serve(
        listener,
        sim.clone(),
        shutdown.clone(),
    ));

    let mut settings = base.clone();
    settings.database.url = format!("sqlite://{}", a.dir.join("tthc-watch.db").display());
    settings.mail.transport = crate::config::MailTransport::File;
    settings.mail.file_dir = a.dir.join("mail").display().to_string();
    settings.letters.dir = a.dir.join("letters").display().to_string();
    adhoc_source(
        &mut settings,
        &format!("http://{addr}"),
        Some(&token),
        Shape::Native,
    );
    let source = settings.sources.remove("default").context("demo source")?;
    settings.sources.insert("tinh".into(), source);
    let store = open_store(&settings).await?;
    println!(
        "demo: simulated provincial system on http://{addr}, database {}",
        settings.database.url
    );
    let clock = if a.once {
        Clock::fixed(now)
    } else {
        Clock::starting_at(now)
    };
    let stop = CancellationToken::new();
    if !a.once {
        let s = stop.clone();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            s.cancel();
        });
    }
    let rules = Rules::load(&settings)?;
    let token_file = a.dir.join("auditor-token.txt");
    if !token_file.exists() {
        let (_, token) = store
            .create_token("demo auditor", "auditor", clock.now_vn())
            .await?;
        std::fs::write(&token_file, format!("{token}\n"))
            .with_context(|| format!("writing {}", token_file.display()))?;
    }
    if !a.once {
        let addr = format!("127.0.0.1:{}", a.port);
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .with_context(|| format!("binding {addr} (choose another with --port)"))?;
        let state = std::sync::Arc::new(crate::api::AppState::new(
            &settings,
            store.clone(),
            clock.clone(),
        )?);
        println!(
            "health and metrics on http://{}/metrics",
            listener.local_addr()?
        );
        tokio::spawn(crate::api::serve(listener, state, stop.clone()));
    }
    loop {
        for s in sync_all(&settings, &store, &clock).await {
            println!("{s}");
        }
        check_with(&settings, &rules, &store, &clock).await?;
        digest_with(&settings, &rules, &store, &clock, false).await?;
        send_with(&settings, &store, &clock).await?;
        print_summary(&store, &a.dir).await?;
        if a.once {
            break;
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(std::time::Duration::from_secs(a.interval_secs)) => {}
        }
    }
    store.close().await;
    shutdown.cancel();
    let _ = server.await;
    Ok(())
}

async fn print_summary(store: &Store, dir: &Path) -> Result<()> {
    println!("dossiers by status:");
    for (status, n) in store.count_by("status").await? {
        let label =
            crate::dossier::Status::parse(&status).map_or(status.as_str(), |s| s.label_vi());
        println!("  {label:<36} {n:>7}");
    }
    println!("dossiers by field (lĩnh vực):");
    for (field, n) in store.count_by("field_name").await? {
        println!("  {field:<36} {n:>7}");
    }
    println!("deadlines (Vietnamese working days):");
    print!("{}", class_table(&store.count_by_class().await?));
    println!(
        "source due dates that disagree with the rules: {}",
        store.count_due_mismatches().await?
    );
    println!(
        "quarantined records: {}",
        store.count_rows("quarantine").await?
    );
    let outbox = store.outbox_counts().await?;
    println!(
        "emails: {} (written to {})",
        outbox
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect::<Vec<_>>()
            .join(", "),
        dir.join("mail").display()
    );
    println!("data in {}", dir.display());
    Ok(())
}
