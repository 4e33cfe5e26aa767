//! Command line: parses arguments and calls the library, nothing else.

use anyhow::Result;
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use tthc_watch::check::Scope;
use tthc_watch::clock::{Clock, parse_now};
use tthc_watch::commands;
use tthc_watch::config::{Settings, Shape};

#[derive(Parser)]
#[command(
    name = "tthc-watch",
    version,
    about = "Watches administrative-procedure dossiers so none goes late unnoticed"
)]
struct Cli {
    /// Configuration file (TOML); defaults are built in (`tthc-watch config` prints them).
    #[arg(short, long, global = true, env = "TTHC_WATCH_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

fn now_arg(s: &str) -> Result<DateTime<Utc>, String> {
    parse_now(s)
}

fn shape_arg(s: &str) -> Result<Shape, String> {
    match s {
        "native" => Ok(Shape::Native),
        "igate" => Ok(Shape::Igate),
        "opencps" => Ok(Shape::Opencps),
        "onedoor" => Ok(Shape::Onedoor),
        other => Err(format!(
            "unknown shape '{other}': expected native, igate, opencps or onedoor"
        )),
    }
}

#[derive(Subcommand)]
enum Command {
    /// Everything on one machine with no setup: simulator, SQLite in --dir, a sync and a summary.
    Demo {
        #[arg(long, default_value = "demo-data")]
        dir: PathBuf,
        #[arg(long, default_value_t = 3000)]
        dossiers: u32,
        /// Simulated "now" (RFC 3339, or a local time read as Vietnam time).
        #[arg(long, value_parser = now_arg)]
        now: Option<DateTime<Utc>>,
        /// One full cycle, then exit.
        #[arg(long)]
        once: bool,
        /// Seconds between polls when running continuously.
        #[arg(long, default_value_t = 10)]
        interval: u64,
        /// Port for /healthz, /readyz and /metrics while running continuously.
        #[arg(long, default_value_t = 8080)]
        port: u16,
    },
    /// The service as deployed: scheduled polls, checks, digest and mail, plus /healthz, /readyz, /metrics.
    Run {
        /// Start the clock here (then it moves with real time); for rehearsals.
        #[arg(long, value_parser = now_arg)]
        now: Option<DateTime<Utc>>,
    },
    /// The auditor API, dashboard, health and metrics, without running jobs.
    Serve {
        #[arg(long, value_parser = now_arg)]
        now: Option<DateTime<Utc>>,
    },
    /// API tokens (stored hashed).
    Token {
        #[command(subcommand)]
        op: TokenOp,
    },
    /// The hash-chained audit trail.
    Audit {
        #[command(subcommand)]
        op: AuditOp,
    },
    /// Remove dossiers finished or closed before a date (an explicit, audited admin decision).
    Retention {
        #[arg(long)]
        before: NaiveDate,
        /// Without it, only count what would go.
        #[arg(long)]
        yes: bool,
    },
    /// The simulator of a provincial TTHC system alone, as an HTTP server.
    Simulate {
        #[arg(long, default_value = "127.0.0.1:8088")]
        listen: String,
        #[arg(long, default_value_t = 3000)]
        dossiers: u32,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Access token clients must present (in the shape's own way).
        #[arg(long, default_value = "sim-token")]
        token: String,
        #[arg(long, value_parser = shape_arg, default_value = "native")]
        shape: Shape,
        /// Simulated start time; defaults to now.
        #[arg(long, value_parser = now_arg)]
        now: Option<DateTime<Utc>>,
        /// Simulated seconds per real second.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// e.g. latency=50ms,error=0.1,rate_limit=0.05,truncate=0.05,malformed=0.01,nfd=0.1,repeat=0.2,token_ttl=60
        #[arg(long, default_value = "")]
        faults: String,
        /// Render every record before listening (benchmarks: measure serving, not first rendering).
        #[arg(long)]
        prerender: bool,
    },
    /// One poll of every configured source (or of --source-url).
    Sync {
        #[arg(long, value_parser = now_arg)]
        now: Option<DateTime<Utc>>,
        /// Poll this native-shape URL instead of the configured sources.
        #[arg(long)]
        source_url: Option<String>,
        #[arg(long, env = "TTHC_WATCH_SOURCE_TOKEN")]
        source_token: Option<String>,
        #[arg(long, value_parser = shape_arg, default_value = "native")]
        source_shape: Shape,
        /// Overrides database.url.
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Evaluate every dossier's deadline at --now and record what changed.
    Check {
        #[arg(long, value_parser = now_arg)]
        now: Option<DateTime<Utc>>,
        #[arg(long)]
        database_url: Option<String>,
        /// Re-evaluate every stored dossier, finished ones too (after a
        /// calendar or rules correction); by default only those that need it.
        #[arg(long)]
        all: bool,
    },
    /// Make the centre's morning digest (nothing on days off unless --force).
    Digest {
        #[arg(long, value_parser = now_arg)]
        now: Option<DateTime<Utc>>,
        #[arg(long)]
        force: bool,
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Send every message due in the outbox.
    Send {
        #[arg(long, value_parser = now_arg)]
        now: Option<DateTime<Utc>>,
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Apology letters (Mẫu 04): write the current draft of a dossier, or record one as issued.
    Letter {
        #[command(subcommand)]
        op: Option<LetterOp>,
        /// Dossier code (to write its draft).
        code: Option<String>,
        /// Where to write the DOCX.
        #[arg(short, long)]
        out: Option<PathBuf>,
        #[arg(long)]
        source: Option<String>,
        #[arg(long, value_parser = now_arg)]
        now: Option<DateTime<Utc>>,
    },
    /// Working-day arithmetic on the official calendar.
    Calendar {
        #[command(subcommand)]
        op: CalendarOp,
    },
    /// Apply database migrations.
    Migrate {
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Print the documented default configuration.
    Config,
}

#[derive(Subcommand)]
enum TokenOp {
    /// Create a token (printed once).
    Create {
        /// auditor (reads, personal data masked), centre (reads, records issued letters) or admin.
        #[arg(long)]
        role: String,
        #[arg(long, default_value = "unnamed")]
        name: String,
    },
    List,
    Revoke {
        id: i64,
    },
}

#[derive(Subcommand)]
enum AuditOp {
    /// Recompute the hash chain and report the first broken link.
    Verify,
}

#[derive(Subcommand)]
enum LetterOp {
    /// Record that the centre issued the latest draft of a dossier.
    Issue {
        code: String,
        /// The document number and symbol, e.g. 125/TB-UBND.
        #[arg(long)]
        number: String,
        #[arg(long)]
        source: Option<String>,
        /// When it was issued (default: now).
        #[arg(long, value_parser = now_arg)]
        now: Option<DateTime<Utc>>,
    },
}

#[derive(Subcommand)]
enum CalendarOp {
    /// The N-th working day after DATE.
    Add { date: NaiveDate, n: i64 },
    /// Working days d with FROM < d <= TO.
    Count { from: NaiveDate, to: NaiveDate },
    /// A draft calendar section for YEAR from the lunar calendar (UTC+7), to check and save.
    Propose { year: i32 },
}

/// SIGTERM and SIGINT stop the service; SIGHUP reloads its rules.
fn signals(
    shutdown: tokio_util::sync::CancellationToken,
    reload: std::sync::Arc<tokio::sync::Notify>,
) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = tokio::signal::ctrl_c() => break,
                _ = hup.recv() => {
                    tracing::info!("SIGHUP: reloading rules");
                    reload.notify_one();
                }
            }
        }
        tracing::info!("stopping");
        shutdown.cancel();
    });
    Ok(())
}

// A sync allocates and frees many short strings per record; mimalloc does that
// markedly faster than the system allocator (bench/RESULTS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc 3's option enum (the sys crate does not
/// name it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Transparent huge pages off for this process. mimalloc asks for them
/// (`madvise`), and with freed memory given back soon after, memory reused a
/// moment later was faulted in again as a whole 2 MB page and zeroed: 11% of
/// an incremental sync's samples at 1M, and 20-30 MB of peak RSS in a sync
/// or check (bench/RESULTS.md). Failing (an old kernel) changes nothing else.
fn disable_transparent_huge_pages() {
    // SAFETY: PR_SET_THP_DISABLE only sets a flag of the calling process.
    #[cfg(target_os = "linux")]
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // mimalloc 3 returns freed memory to the OS after 1 s (version 2: 10 ms).
    // A check or sync frees its batches much faster than that, so the
    // process held ~40 MB it no longer used at its peak (1M first check: 146
    // MB). At 10 ms a 1M initial sync gave back and faulted in again the
    // memory of every page it parsed (1.2 s of system time); 100 ms keeps it
    // between pages: 0.6-1.0 s faster, peak RSS 103 -> 118 MB (check 77 -> 84
    // MB; bench/RESULTS.md). mimalloc's own `MIMALLOC_PURGE_DELAY`, when set,
    // is left to rule.
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: setting an option is allowed at any time; this one only
        // times when free pages are given back.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 100) };
    }
    disable_transparent_huge_pages();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    if let Command::Config = cli.command {
        print!("{}", tthc_watch::config::DEFAULT_TOML);
        return Ok(());
    }
    let mut settings = Settings::load(cli.config.as_deref())?;
    // The demo talks to a person at a terminal: only warnings, unless asked.
    let level = match cli.command {
        Command::Demo { .. } if settings.log.level == "info" => "warn",
        _ => settings.log.level.as_str(),
    };
    commands::init_logging(settings.log.format, level);
    match cli.command {
        Command::Demo {
            dir,
            dossiers,
            now,
            once,
            interval,
            port,
        } => {
            commands::demo(
                &settings,
                &commands::DemoArgs {
                    dir,
                    dossiers,
                    now,
                    once,
                    interval_secs: interval,
                    port,
                },
            )
            .await
        }
        Command::Run { now } => {
            let shutdown = tokio_util::sync::CancellationToken::new();
            let reload = std::sync::Arc::new(tokio::sync::Notify::new());
            signals(shutdown.clone(), reload.clone())?;
            tthc_watch::daemon::Daemon {
                settings,
                config_path: cli.config.clone(),
                clock: tthc_watch::daemon::daemon_clock(now),
                shutdown,
                reload,
            }
            .run()
            .await
        }
        Command::Serve { now } => {
            let shutdown = tokio_util::sync::CancellationToken::new();
            signals(
                shutdown.clone(),
                std::sync::Arc::new(tokio::sync::Notify::new()),
            )?;
            commands::serve(&settings, tthc_watch::daemon::daemon_clock(now), shutdown).await
        }
        Command::Token { op } => match op {
            TokenOp::Create { role, name } => {
                commands::token_create(&settings, &role, &name, &Clock::System)
                    .await
                    .map(|_| ())
            }
            TokenOp::List => commands::token_list(&settings).await,
            TokenOp::Revoke { id } => commands::token_revoke(&settings, id, &Clock::System).await,
        },
        Command::Audit {
            op: AuditOp::Verify,
        } => commands::audit_verify(&settings).await,
        Command::Retention { before, yes } => {
            commands::retention(&settings, before, yes, &Clock::System).await
        }
        Command::Simulate {
            listen,
            dossiers,
            seed,
            token,
            shape,
            now,
            speed,
            faults,
            prerender,
        } => {
            let args = commands::SimulateArgs {
                dossiers,
                seed,
                now: now.unwrap_or_else(Utc::now),
                speed,
                shape,
                token,
                faults,
                prerender,
            };
            commands::simulate(&settings, &listen, &args).await
        }
        Command::Sync {
            now,
            source_url,
            source_token,
            source_shape,
            database_url,
        } => {
            if let Some(url) = database_url {
                settings.database.url = url;
            }
            if let Some(url) = source_url {
                commands::adhoc_source(&mut settings, &url, source_token.as_deref(), source_shape);
            }
            commands::sync(&settings, &Clock::from_option(now))
                .await
                .map(|_| ())
        }
        Command::Check {
            now,
            database_url,
            all,
        } => {
            if let Some(url) = database_url {
                settings.database.url = url;
            }
            let scope = if all { Scope::All } else { Scope::Due };
            commands::check(&settings, &Clock::from_option(now), scope)
                .await
                .map(|_| ())
        }
        Command::Digest {
            now,
            force,
            database_url,
        } => {
            if let Some(url) = database_url {
                settings.database.url = url;
            }
            commands::digest(&settings, &Clock::from_option(now), force)
                .await
                .map(|_| ())
        }
        Command::Send { now, database_url } => {
            if let Some(url) = database_url {
                settings.database.url = url;
            }
            commands::send(&settings, &Clock::from_option(now))
                .await
                .map(|_| ())
        }
        Command::Letter {
            op:
                Some(LetterOp::Issue {
                    code,
                    number,
                    source,
                    now,
                }),
            ..
        } => commands::letter_issue(
            &settings,
            &code,
            source.as_deref(),
            &number,
            &Clock::from_option(now),
        )
        .await
        .map(|_| ()),
        Command::Letter {
            op: None,
            code,
            out,
            source,
            now,
        } => {
            let code = code.ok_or_else(|| {
                anyhow::anyhow!("give a dossier code: tthc-watch letter CODE -o FILE.docx")
            })?;
            let out = out.unwrap_or_else(|| PathBuf::from(format!("xin-loi-{code}.docx")));
            commands::letter(
                &settings,
                &code,
                source.as_deref(),
                &out,
                &Clock::from_option(now),
            )
            .await
            .map(|_| ())
        }
        Command::Calendar { op } => {
            match op {
                CalendarOp::Add { date, n } => {
                    println!("{}", commands::calendar_add(&settings, date, n)?)
                }
                CalendarOp::Count { from, to } => {
                    println!("{}", commands::calendar_count(&settings, from, to)?)
                }
                CalendarOp::Propose { year } => {
                    print!("{}", tthc_watch::calendar::propose_year(year)?)
                }
            }
            Ok(())
        }
        Command::Migrate { database_url } => {
            if let Some(url) = database_url {
                settings.database.url = url;
            }
            commands::migrate(&settings).await
        }
        Command::Config => Ok(()),
    }
}
