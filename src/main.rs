//! Command line: parses arguments and calls the library, nothing else.

use anyhow::Result;
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
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
enum CalendarOp {
    /// The N-th working day after DATE.
    Add { date: NaiveDate, n: i64 },
    /// Working days d with FROM < d <= TO.
    Count { from: NaiveDate, to: NaiveDate },
    /// A draft calendar section for YEAR from the lunar calendar (UTC+7), to check and save.
    Propose { year: i32 },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
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
        } => {
            commands::demo(
                &settings,
                &commands::DemoArgs {
                    dir,
                    dossiers,
                    now,
                    once,
                    interval_secs: interval,
                },
            )
            .await
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
        } => {
            let args = commands::SimulateArgs {
                dossiers,
                seed,
                now: now.unwrap_or_else(Utc::now),
                speed,
                shape,
                token,
                faults,
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
        Command::Check { now, database_url } => {
            if let Some(url) = database_url {
                settings.database.url = url;
            }
            commands::check(&settings, &Clock::from_option(now))
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
