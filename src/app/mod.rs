//! The application: what tthc-watch does, as library functions over settings,
//! a store, a clock and the rules loaded once (`RuleSet`). Each returns what it
//! did; none prints. The command line (`cli`) prints what they return, the
//! daemon logs it and the API shows it.
//!
//! One module per operation: `sync` (poll the sources), `check` (evaluate,
//! escalate, draft, compose), `letters`, `digest`, `send`, `admin` (tokens,
//! retention, audit, migrations), `report` (the demo's overview, the
//! periodic report) and
//! `simulate` (the stand-in provincial system).

pub mod admin;
pub mod check;
pub mod digest;
pub mod letters;
pub mod report;
mod rules;
pub mod send;
pub mod simulate;
pub mod sync;

pub use rules::{RuleSet, RulesError, load_calendar};

use crate::config::Settings;
use crate::redact::redact_url;
use crate::store::{Store, StoreError};
use std::path::PathBuf;

/// What an operation could not do, saying what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("opening the database (database.url = {url}): {error}")]
    Open { url: String, error: StoreError },
    #[error(transparent)]
    Rules(#[from] RulesError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("evaluating deadlines: {0}")]
    Check(StoreError),
    #[error("composing {what}: {error}")]
    Compose {
        what: &'static str,
        error: crate::notify::compose::ComposeError,
    },
    #[error("drafting apology letters: {0}")]
    Draft(#[from] crate::letters::drafts::DraftError),
    #[error(transparent)]
    Issue(#[from] crate::store::IssueError),
    #[error(transparent)]
    Mail(#[from] crate::notify::mailer::MailError),
    #[error(
        "no sources configured: add a [sources.NAME] table to the config file, or pass --source-url"
    )]
    NoSources,
    #[error("sync of source {name} failed: {error}; data already stored is kept (database {url})")]
    SyncFailed {
        name: String,
        error: String,
        url: String,
    },
    #[error(transparent)]
    LetterFile(#[from] crate::letters::files::FileError),
    #[error("writing {path}: {error}")]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("--role {0}: expected auditor, centre or admin")]
    Role(String),
    #[error("no live token {0} (see `tthc-watch token list`)")]
    NoToken(i64),
    #[error("{message} (in {origin})")]
    AuditKey { origin: String, message: String },
    #[error("audit trail BROKEN at entry {id}: {reason}")]
    AuditBroken { id: i64, reason: String },
    #[error("--faults: {0}")]
    Faults(String),
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
}

/// Opens (and migrates) the configured database.
pub async fn open_store(settings: &Settings) -> Result<Store, AppError> {
    let seal = audit_seal(settings)?;
    Ok(
        Store::connect(&settings.database.url, settings.database.max_connections)
            .await
            .map_err(|error| AppError::Open {
                url: redact_url(&settings.database.url),
                error,
            })?
            .with_audit_seal(seal),
    )
}

/// The shortest audit key accepted (in bytes, as written in the file).
const MIN_AUDIT_KEY: usize = 32;

/// The audit trail's seal from `[audit]`: the key read from its file.
fn audit_seal(settings: &Settings) -> Result<crate::store::audit::AuditSeal, AppError> {
    let a = &settings.audit;
    let bad = |message: String| AppError::AuditKey {
        origin: settings.origin.clone(),
        message,
    };
    let key = match a.key_file.as_str() {
        "" => None,
        path => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| bad(format!("audit.key_file = {path}: {e}")))?;
            let key = text.trim();
            if key.len() < MIN_AUDIT_KEY {
                return Err(bad(format!(
                    "audit.key_file = {path}: the key has {} characters, at least {MIN_AUDIT_KEY} are needed (e.g. `openssl rand -hex 32`)",
                    key.len()
                )));
            }
            Some(key.as_bytes().to_vec())
        }
    };
    let witness = (!a.witness_file.is_empty()).then(|| a.witness_file.clone().into());
    Ok(crate::store::audit::AuditSeal::new(key, witness))
}
