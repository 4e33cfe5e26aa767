//! The command line: its arguments (`args`), and for each verb the glue that
//! loads settings, calls the application (`crate::app`) and prints what it
//! returns (`commands`, `demo`). `anyhow` lives here and in the daemon (the
//! other glue), nowhere else. Only this module installs signal handlers.

mod args;
mod commands;
mod demo;
mod process;

pub use args::{AuditOp, CalendarOp, Cli, Command, LetterOp, SourceOp, TokenOp};
pub use process::tune_process;

use crate::check::Scope;
use crate::clock::Clock;
use crate::config::{LogFormat, Settings};
use anyhow::Result;
use chrono::Utc;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::Notify;
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

/// SIGTERM and SIGINT cancel `shutdown` (every long-running command then
/// stops cleanly and exits 0); SIGHUP notifies `reload`.
pub fn on_signals(shutdown: CancellationToken, reload: Arc<Notify>) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
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

/// A token cancelled by SIGTERM or SIGINT (SIGHUP ignored).
fn stop_on_signals() -> Result<CancellationToken> {
    let shutdown = CancellationToken::new();
    on_signals(shutdown.clone(), Arc::new(Notify::new()))?;
    Ok(shutdown)
}

/// Runs one command line.
pub async fn run(cli: Cli) -> Result<()> {
    if let Command::Config = cli.command {
        print!("{}", crate::config::DEFAULT_TOML);
        return Ok(());
    }
    let mut settings = Settings::load(cli.config.as_deref())?;
    // The demo talks to a person at a terminal: only warnings, unless asked.
    let level = match cli.command {
        Command::Demo { .. } if settings.log.level == "info" => "warn",
        _ => settings.log.level.as_str(),
    };
    init_logging(settings.log.format, level);
    let db = |settings: &mut Settings, url: Option<String>| {
        if let Some(url) = url {
            settings.database.url = url;
        }
    };
    match cli.command {
        Command::Demo {
            dir,
            dossiers,
            now,
            once,
            interval,
            port,
            shape,
        } => {
            let args = demo::DemoArgs {
                dir,
                dossiers,
                now,
                once,
                interval_secs: interval,
                port,
                shape,
            };
            demo::demo(&settings, &args, stop_on_signals()?).await
        }
        Command::Run { now } => {
            let shutdown = CancellationToken::new();
            let reload = Arc::new(Notify::new());
            on_signals(shutdown.clone(), reload.clone())?;
            crate::daemon::Daemon {
                settings,
                config_path: cli.config.clone(),
                clock: crate::daemon::daemon_clock(now),
                shutdown,
                reload,
            }
            .run()
            .await
        }
        Command::Serve { now } => {
            let clock = crate::daemon::daemon_clock(now);
            commands::serve(&settings, clock, stop_on_signals()?).await
        }
        Command::Token { op } => match op {
            TokenOp::Create { role, name } => commands::token_create(&settings, &role, &name).await,
            TokenOp::List => commands::token_list(&settings).await,
            TokenOp::Revoke { id } => commands::token_revoke(&settings, id).await,
        },
        Command::Audit {
            op: AuditOp::Verify,
        } => commands::audit_verify(&settings).await,
        Command::Retention { before, yes } => commands::retention(&settings, before, yes).await,
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
            history_days,
            export,
        } => {
            let args = crate::app::simulate::SimulateArgs {
                dossiers,
                seed,
                now: now.unwrap_or_else(Utc::now),
                speed,
                shape,
                token,
                faults,
                prerender,
                history_days,
            };
            if let Some(path) = export {
                return commands::simulate_export(&settings, &args, &path);
            }
            commands::simulate(&settings, &listen, &args, stop_on_signals()?).await
        }
        Command::Sync {
            now,
            source_url,
            source_token,
            source_shape,
            database_url,
        } => {
            db(&mut settings, database_url);
            if let Some(url) = source_url {
                commands::adhoc_source(&mut settings, &url, source_token.as_deref(), source_shape);
            }
            commands::sync(&settings, &Clock::from_option(now)).await
        }
        Command::Import {
            files,
            source,
            snapshot,
            layout,
            now,
            database_url,
        } => {
            db(&mut settings, database_url);
            let opts =
                crate::app::sync::import_options(&settings, source.as_deref(), layout, snapshot)?;
            commands::import(&settings, &files, &opts, &Clock::from_option(now)).await
        }
        Command::Check {
            now,
            database_url,
            all,
        } => {
            db(&mut settings, database_url);
            let scope = if all { Scope::All } else { Scope::Due };
            commands::check(&settings, &Clock::from_option(now), scope).await
        }
        Command::Digest {
            now,
            force,
            database_url,
        } => {
            db(&mut settings, database_url);
            commands::digest(&settings, &Clock::from_option(now), force).await
        }
        Command::Send { now, database_url } => {
            db(&mut settings, database_url);
            commands::send(&settings, &Clock::from_option(now)).await
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
        } => {
            let clock = Clock::from_option(now);
            commands::letter_issue(&settings, &code, source.as_deref(), &number, &clock).await
        }
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
            let clock = Clock::from_option(now);
            commands::letter(&settings, &code, source.as_deref(), &out, &clock).await
        }
        Command::Calendar { op } => commands::calendar(&settings, op),
        Command::Source {
            op:
                SourceOp::Test {
                    name,
                    records,
                    show_personal,
                },
        } => commands::source_test(&settings, &name, records, show_personal).await,
        Command::Report {
            period,
            out,
            now,
            database_url,
        } => {
            db(&mut settings, database_url);
            commands::report(&settings, &Clock::from_option(now), &period, out.as_deref()).await
        }
        Command::Migrate { database_url } => {
            db(&mut settings, database_url);
            commands::migrate(&settings).await
        }
        Command::Config => Ok(()),
    }
}
