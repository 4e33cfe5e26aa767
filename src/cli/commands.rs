//! Each verb of the command line: open the store, call the application
//! (`crate::app`), print what it returns.

use crate::app::check::CheckEvent;
use crate::app::{self, AppError, RuleSet};
use crate::check::{Scope, class_table};
use crate::clock::Clock;
use crate::config::Settings;
use crate::notify::digest::DigestOutcome;
use crate::source::{AuthSettings, Shape};
use crate::store::Store;
use anyhow::{Context, Result};
use chrono::NaiveDate;
use std::path::Path;
use tokio_util::sync::CancellationToken;

use super::CalendarOp;

/// Runs `f` on the configured store and closes it, whatever `f` returned.
async fn with_store<T>(
    settings: &Settings,
    f: impl AsyncFnOnce(&Store) -> Result<T, AppError>,
) -> Result<T> {
    let store = app::open_store(settings).await?;
    let out = f(&store).await;
    // What the command appended to the audit trail, witnessed outside it.
    if let Err(e) = store.witness_audit().await {
        tracing::warn!(error = %e, "cannot write the audit witness");
    }
    store.close().await;
    Ok(out?)
}

/// `tthc-watch migrate`.
pub async fn migrate(settings: &Settings) -> Result<()> {
    let backend = with_store(settings, async |s| Ok(s.backend())).await?;
    println!("database migrated ({backend})");
    Ok(())
}

/// Settings for `sync` without a config file: one source at `url`.
pub fn adhoc_source(settings: &mut Settings, url: &str, token: Option<&str>, shape: Shape) {
    let mut source = app::simulate::simulator_source(url, token.unwrap_or_default(), shape);
    if token.is_none() {
        source.auth = AuthSettings::None;
    }
    settings.sources.clear();
    settings.sources.insert("default".into(), source);
}

/// `tthc-watch sync`: one poll of every source; fails when any source failed.
pub async fn sync(settings: &Settings, clock: &Clock) -> Result<()> {
    let summaries = with_store(settings, async |store| {
        app::sync::sync(settings, store, clock).await
    })
    .await?;
    for s in &summaries {
        println!("{s}");
    }
    Ok(app::sync::first_failure(settings, &summaries)?)
}

/// `tthc-watch import FILE…`: each file's summary; fails when one gave
/// nothing usable (what the others stored stays).
pub async fn import(
    settings: &Settings,
    files: &[std::path::PathBuf],
    opts: &crate::source::file::ImportOptions,
    clock: &Clock,
) -> Result<()> {
    let summaries = with_store(settings, async |store| {
        Ok(app::sync::import_files(store, files, opts, clock).await)
    })
    .await?;
    for s in &summaries {
        println!("{s}");
    }
    let failed: Vec<String> = summaries
        .iter()
        .filter(|s| s.failed())
        .map(|s| s.file.display().to_string())
        .collect();
    if !failed.is_empty() {
        anyhow::bail!(
            "{} of {} files gave nothing usable: {}",
            failed.len(),
            summaries.len(),
            failed.join(", ")
        );
    }
    Ok(())
}

/// `tthc-watch source test NAME`: what a sync would make of the source's
/// first page; fails when it would store nothing.
pub async fn source_test(
    settings: &Settings,
    name: &str,
    show: usize,
    show_personal: bool,
) -> Result<()> {
    let masking = crate::privacy::Masking::new(!show_personal);
    let Some(src) = settings.sources.get(name) else {
        let known: Vec<&str> = settings.sources.keys().map(String::as_str).collect();
        anyhow::bail!(
            "no source named '{name}' in the configuration (sources: {})",
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        );
    };
    if src.kind == crate::source::SourceKind::File {
        anyhow::bail!(
            "source {name} is a file source: `tthc-watch import FILE --source {name}` loads a file into it and prints what it made of each row"
        );
    }
    let p = crate::source::probe::probe(name, src, show).await?;
    println!(
        "source {name} ({}, {}): first page: {} records; would store {}, quarantine {}, skip {}",
        src.shape.as_str(),
        crate::redact::redact_url(&src.url),
        p.fetched,
        p.stored,
        p.quarantined.values().sum::<usize>(),
        p.skipped.values().sum::<usize>()
    );
    for r in &p.records {
        println!(
            "\n{}: {}",
            r.code.as_deref().unwrap_or("(no code)"),
            r.outcome
        );
        let w = r
            .fields
            .iter()
            .map(|f| f.0.chars().count())
            .max()
            .unwrap_or(0);
        let wf = r
            .fields
            .iter()
            .map(|f| f.1.chars().count().min(48))
            .max()
            .unwrap_or(0);
        // An organisation's name is public; a person's is masked.
        let person = r
            .fields
            .iter()
            .find(|f| f.0 == "applicant_kind")
            .is_none_or(|f| f.3 != "organisation");
        for (field, from, raw, stored) in &r.fields {
            let from: String = from.chars().take(48).collect();
            let (raw, stored) = (
                masking.field_text(field, person, raw),
                masking.field_text(field, person, stored),
            );
            println!("  {field:<w$}  {from:<wf$}  {raw}  →  {stored}");
        }
    }
    let list = |title: &str, m: &std::collections::BTreeMap<String, usize>| {
        if !m.is_empty() {
            println!("\n{title}:");
            for (k, n) in m {
                println!("  {n:>5}  {k}");
            }
        }
    };
    if !p.unmapped.is_empty() {
        println!("\nvalues no mapping covers (add them to mapping.values.FIELD):");
        for ((field, raw, label), n) in &p.unmapped {
            let label = if label.is_empty() {
                String::new()
            } else {
                format!(" ({label})")
            };
            println!("  {n:>5}  {field} = '{raw}'{label}");
        }
    }
    list("would be quarantined", &p.quarantined);
    list("would be skipped", &p.skipped);
    list("warnings", &p.warnings);
    if p.fetched > 0 && p.stored == 0 {
        anyhow::bail!("source {name}: not one record of the first page would be stored");
    }
    if p.fetched == 0 {
        anyhow::bail!(
            "source {name}: the first page holds no records; check the address, credentials and filters"
        );
    }
    Ok(())
}

/// `tthc-watch check`: evaluates every dossier that needs it, fires the
/// ladder, queues the messages, then prints the classes and the delays.
pub async fn check(settings: &Settings, clock: &Clock, scope: Scope) -> Result<()> {
    let rules = RuleSet::load(settings)?;
    with_store(settings, async |store| {
        app::check::check(
            settings,
            &rules,
            store,
            clock,
            scope,
            &mut print_check_event,
        )
        .await?;
        println!("{}", class_table(&app::report::classes(store).await?));
        let [by_unit, by_officer] = app::report::delays(store).await?;
        for (title, rows) in [
            (
                "delays by unit (late and overdue dossiers, working days over the step's time):",
                by_unit,
            ),
            ("delays by officer:", by_officer),
        ] {
            if !rows.is_empty() {
                println!("{title}");
                for (who, n, days) in rows.iter().take(10) {
                    println!("  {who:<44} {n:>5} hồ sơ {days:>6} ngày");
                }
            }
        }
        Ok(())
    })
    .await
}

/// `tthc-watch letter CODE -o FILE`: the current draft for one dossier.
pub async fn letter(
    settings: &Settings,
    code: &str,
    source: Option<&str>,
    out: &Path,
    clock: &Clock,
) -> Result<()> {
    let rules = RuleSet::load(settings)?;
    let (record, new) = with_store(settings, async |store| {
        app::letters::write_draft(settings, &rules, store, code, source, out, clock).await
    })
    .await?;
    println!(
        "{} apology draft for {}: version {}{}, sha256 {} → {}",
        if new { "new" } else { "current" },
        crate::text::nfc(code),
        record.version,
        if record.status == "issued" {
            " (issued)"
        } else {
            ""
        },
        record.sha256,
        out.display()
    );
    Ok(())
}

/// `tthc-watch letter issue CODE --number N`: the centre issued the latest draft.
pub async fn letter_issue(
    settings: &Settings,
    code: &str,
    source: Option<&str>,
    number: &str,
    clock: &Clock,
) -> Result<()> {
    let r = with_store(settings, async |store| {
        app::letters::issue(store, code, source, number, clock).await
    })
    .await?;
    println!(
        "apology for {} recorded as issued: number {number}, version {}, on {}",
        crate::text::nfc(code),
        r.version,
        clock.now_vn()
    );
    Ok(())
}

/// `tthc-watch report --period P [-o FILE.xlsx]`: the periodic report,
/// written as the form's XLSX, or printed as a text table.
pub async fn report(
    settings: &Settings,
    clock: &Clock,
    period: &crate::report::Period,
    out: Option<&Path>,
) -> Result<()> {
    let rules = RuleSet::load(settings)?;
    let r = with_store(settings, async |store| {
        app::report::period_report(store, &rules.routing, period, clock.now_vn()).await
    })
    .await?;
    match out {
        Some(path) => {
            app::report::write_period_xlsx(&r, &rules.report_template, path)?;
            println!(
                "periodic report {} ({} .. {}): {} received, {} resolved ({} on time), {} in progress → {}",
                r.period.label,
                r.period.from,
                r.period.to,
                r.total.received,
                r.total.resolved,
                r.total.before_due + r.total.on_due_day,
                r.total.in_progress,
                path.display()
            );
        }
        None => print!("{}", crate::report::text_table(&r)),
    }
    Ok(())
}

/// `tthc-watch serve`: the API, dashboard, health and metrics, without jobs.
pub async fn serve(settings: &Settings, clock: Clock, shutdown: CancellationToken) -> Result<()> {
    let rules = RuleSet::load(settings)?;
    let store = app::open_store(settings).await?;
    let state = std::sync::Arc::new(crate::api::AppState::new(
        settings,
        store.clone(),
        clock,
        rules.routing,
        rules.calendar,
    ));
    let listener = tokio::net::TcpListener::bind(&settings.server.listen)
        .await
        .with_context(|| format!("binding server.listen = {}", settings.server.listen))?;
    println!(
        "serving the API, dashboard and metrics on http://{}",
        listener.local_addr()?
    );
    let served = crate::api::serve(listener, state, shutdown).await;
    store.close().await;
    Ok(served?)
}

/// `tthc-watch token create`: prints the token once; only its hash is kept.
pub async fn token_create(settings: &Settings, role: &str, name: &str) -> Result<()> {
    let (id, token) = with_store(settings, async |store| {
        app::admin::token_create(store, role, name, &Clock::System).await
    })
    .await?;
    eprintln!("token {id} for {name} ({role}); keep it secret, it is shown only once:");
    println!("{token}");
    Ok(())
}

pub async fn token_list(settings: &Settings) -> Result<()> {
    for t in with_store(settings, async |store| app::admin::token_list(store).await).await? {
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
    Ok(())
}

pub async fn token_revoke(settings: &Settings, id: i64) -> Result<()> {
    with_store(settings, async |store| {
        app::admin::token_revoke(store, id, &Clock::System).await
    })
    .await?;
    println!("token {id} revoked");
    Ok(())
}

/// `tthc-watch retention --before DATE [--yes]` (a dry run without --yes).
pub async fn retention(settings: &Settings, before: NaiveDate, apply: bool) -> Result<()> {
    let r = with_store(settings, async |store| {
        app::admin::retention(store, before, apply, &Clock::System).await
    })
    .await?;
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
    let p = with_store(settings, async |store| {
        app::admin::audit_verify(settings, store).await
    })
    .await?;
    println!(
        "audit trail intact: {} entries, every link verified",
        p.entries
    );
    // What the check proves, and what it cannot.
    match (p.keyed, p.unproven) {
        (true, _) => {
            println!("sealed with the key (audit.key_file): every sealed entry's content verified")
        }
        (false, 0) => println!(
            "no key (audit.key_file): someone with write access to the database could edit entries and recompute the chain undetected"
        ),
        (false, n) => println!(
            "{n} sealed entries not checked: no key given (audit.key_file); their links were"
        ),
    }
    match p.witnessed {
        Some(id) => println!(
            "the witnessed entry {id} (audit.witness_file) is in place: nothing up to it was removed or rewritten"
        ),
        None => println!(
            "no witness (audit.witness_file): a trail cut short or emptied cannot be told from a short one"
        ),
    }
    Ok(())
}

/// `tthc-watch digest`: the centre's morning digest.
pub async fn digest(settings: &Settings, clock: &Clock, force: bool) -> Result<()> {
    let rules = RuleSet::load(settings)?;
    let outcome = with_store(settings, async |store| {
        app::digest::digest(settings, &rules, store, clock, force).await
    })
    .await?;
    print_digest(&outcome);
    Ok(())
}

/// A check's stage for a person at a terminal: the results on stdout, a
/// calendar running out also in the log, the notice that every dossier is
/// evaluated again only in the log.
pub(super) fn print_check_event(e: CheckEvent<'_>) {
    match e {
        CheckEvent::RulesChanged => tracing::info!("{e}"),
        CheckEvent::CoverageWarning(w) => {
            tracing::warn!("{w}");
            println!("{e}");
        }
        e => println!("{e}"),
    }
}

pub(super) fn print_digest(outcome: &DigestOutcome) {
    match outcome {
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
}

/// `tthc-watch send`: one drain of the outbox.
pub async fn send(settings: &Settings, clock: &Clock) -> Result<()> {
    let s = with_store(settings, async |store| {
        app::send::send(settings, store, clock).await
    })
    .await?;
    println!("{s}");
    Ok(())
}

/// `tthc-watch calendar add | count | propose`.
pub fn calendar(settings: &Settings, op: CalendarOp) -> Result<()> {
    match op {
        CalendarOp::Add { date, n } => {
            let (cal, _) = app::load_calendar(settings)?;
            println!("{}", cal.add(date, n)?);
        }
        CalendarOp::Count { from, to } => {
            let (cal, _) = app::load_calendar(settings)?;
            println!("{}", cal.count(from, to)?);
        }
        CalendarOp::Propose { year } => print!("{}", crate::calendar::propose_year(year)?),
    }
    Ok(())
}

/// `tthc-watch simulate`: serves until SIGTERM or SIGINT.
pub async fn simulate(
    settings: &Settings,
    listen: &str,
    a: &app::simulate::SimulateArgs,
    shutdown: CancellationToken,
) -> Result<()> {
    let sim = app::simulate::build_simulator(settings, a)?;
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
    crate::simulator::serve(listener, sim, shutdown).await?;
    Ok(())
}

/// `tthc-watch simulate --export FILE.xlsx`.
pub fn simulate_export(
    settings: &Settings,
    a: &app::simulate::SimulateArgs,
    path: &Path,
) -> Result<()> {
    let n = app::simulate::export(settings, a, path)?;
    println!("{n} dossiers written to {}", path.display());
    Ok(())
}
