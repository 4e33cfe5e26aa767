//! One dossier's apology letter: its current draft, or recording it as issued.

use super::{AppError, RuleSet};
use crate::clock::Clock;
use crate::config::Settings;
use crate::store::{LetterRecord, Store};
use std::path::Path;

/// The current draft for one dossier (a new version if it changed), copied to
/// `out`; with whether it is a new version.
pub async fn write_draft(
    settings: &Settings,
    rules: &RuleSet,
    store: &Store,
    code: &str,
    source: Option<&str>,
    out: &Path,
    clock: &Clock,
) -> Result<(LetterRecord, bool), AppError> {
    let drafter = rules.drafter(settings, store);
    let code = crate::text::nfc(code);
    let d = drafter.find(&code, source).await?;
    let (record, new) = drafter.draft(&d, clock.now_vn()).await?;
    // The bytes whose hash is recorded (and printed), or an error: from the
    // database (the file may be gone, or on another instance's disk); only a
    // version drafted before the database kept them is read from its file.
    let bytes = crate::letters::files::stored_bytes(store, &record).await?;
    std::fs::write(out, bytes).map_err(|error| AppError::Write {
        path: out.to_owned(),
        error,
    })?;
    Ok((record, new))
}

/// Records that the centre issued the latest draft of a dossier.
pub async fn issue(
    store: &Store,
    code: &str,
    source: Option<&str>,
    number: &str,
    clock: &Clock,
) -> Result<LetterRecord, AppError> {
    let code = crate::text::nfc(code);
    let d = crate::letters::drafts::find_dossier(store, &code, source).await?;
    Ok(store
        .issue_letter(&d.source, &code, number, clock.now_vn())
        .await?)
}
