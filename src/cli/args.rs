//! The command line's arguments (clap): one variant per verb, as DESIGN.md's
//! table lists them.

use crate::clock::parse_now;
use crate::report::Period;
use crate::source::Shape;
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "tthc-watch",
    version,
    about = "Watches administrative-procedure dossiers so none goes late unnoticed"
)]
pub struct Cli {
    /// Configuration file (TOML); defaults are built in (`tthc-watch config` prints them).
    #[arg(short, long, global = true, env = "TTHC_WATCH_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
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
        /// The wire the simulated system speaks: native, or a real family's
        /// (opencps, onedoor, igate), quirks included.
        #[arg(long, value_parser = shape_arg, default_value = "native")]
        shape: Shape,
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
        /// Days of receipts before the simulated start (e.g. 2894 from 2026-12-05 reaches back
        /// to 2 January 2019); days the calendar does not cover get no dossiers.
        #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(i64).range(0..=36_600))]
        history_days: i64,
        /// Write the dossiers as a centre's Excel export (title lines, merged header,
        /// totals row) to this file and exit, instead of serving them.
        #[arg(long)]
        export: Option<PathBuf>,
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
        /// The shape of --source-url, authenticated as the simulator of that
        /// shape expects (--source-token as its password or token).
        #[arg(long, value_parser = shape_arg, default_value = "native")]
        source_shape: Shape,
        /// Overrides database.url.
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Load the centre's Excel or CSV exports once (XLSX, XLS, CSV): a summary per file;
    /// fails when a file gives nothing usable.
    Import {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The source they belong to (a configured file source's layout and mapping);
        /// default: the source named `file`.
        #[arg(long)]
        source: Option<String>,
        /// Each file is the source's whole list: dossiers it does not mention are marked deleted.
        #[arg(long)]
        snapshot: bool,
        /// The layout preset (tracking_book, simulator); default: recognised from the header row.
        #[arg(long)]
        layout: Option<String>,
        #[arg(long, value_parser = now_arg)]
        now: Option<DateTime<Utc>>,
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
    /// Connecting a source: read its first page as a sync would, field by field, writing nothing.
    Source {
        #[command(subcommand)]
        op: SourceOp,
    },
    /// Working-day arithmetic on the official calendar.
    Calendar {
        #[command(subcommand)]
        op: CalendarOp,
    },
    /// The periodic report (báo cáo tình hình, kết quả giải quyết TTHC) by
    /// field and by unit: an XLSX laid out like the form with -o, else a text table.
    Report {
        /// 2026-10 (month), 2026-Q3 (quarter), 2026-H1 or 2026-H2, 2026 (year),
        /// or 2026-07-01..2026-09-30 (both days included).
        #[arg(long, value_parser = period_arg)]
        period: Period,
        /// Write the XLSX here (e.g. bao-cao-tthc-2026-Q3.xlsx).
        #[arg(short, long)]
        out: Option<PathBuf>,
        /// When the figures are taken (default: now); a period not over yet is counted up to it.
        #[arg(long, value_parser = now_arg)]
        now: Option<DateTime<Utc>>,
        #[arg(long)]
        database_url: Option<String>,
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
pub enum TokenOp {
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
pub enum AuditOp {
    /// Recompute the hash chain and report the first broken link.
    Verify,
}

#[derive(Subcommand)]
pub enum LetterOp {
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
pub enum SourceOp {
    /// Fetch one page of source NAME (with its follow-up requests), show for
    /// a few records each mapped field beside its raw value, list values no
    /// mapping covers and what would be quarantined or skipped, and why.
    Test {
        name: String,
        /// How many records to show field by field.
        #[arg(long, default_value_t = 3)]
        records: usize,
        /// Show applicants' personal data in clear (masked by default, so
        /// the output can go into a support ticket).
        #[arg(long)]
        show_personal: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum CalendarOp {
    /// The N-th working day after DATE.
    Add { date: NaiveDate, n: i64 },
    /// Working days d with FROM < d <= TO.
    Count { from: NaiveDate, to: NaiveDate },
    /// A draft calendar section for YEAR from the lunar calendar (UTC+7), to check and save.
    Propose { year: i32 },
}

fn now_arg(s: &str) -> Result<DateTime<Utc>, String> {
    parse_now(s)
}

fn period_arg(s: &str) -> Result<Period, String> {
    Period::parse(s).map_err(|e| e.to_string())
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
