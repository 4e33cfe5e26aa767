//! One poll of the configured sources; a one-off import of export files.

use super::AppError;
use crate::clock::Clock;
use crate::config::Settings;
use crate::redact::redact_url;
use crate::source::SourceKind;
use crate::source::file::{ImportOptions, ImportSummary, import_file, poll_folder};
use crate::source::sync::{SyncSummary, sync_sources};
use crate::store::Store;

/// Polls every enabled source once; one summary per source, failed or not.
pub async fn sync(
    settings: &Settings,
    store: &Store,
    clock: &Clock,
) -> Result<Vec<SyncSummary>, AppError> {
    if settings.sources.is_empty() {
        return Err(AppError::NoSources);
    }
    let names: Vec<String> = settings.sources.keys().cloned().collect();
    Ok(sync_named(settings, store, clock, &names).await)
}

/// Polls the named enabled sources once (the daemon's, each on its own cadence).
pub async fn sync_named(
    settings: &Settings,
    store: &Store,
    clock: &Clock,
    names: &[String],
) -> Vec<SyncSummary> {
    let mut out = sync_sources(&settings.sources, store, clock, names).await;
    // File sources: the settled files in their folders.
    for (name, s) in settings
        .sources
        .iter()
        .filter(|(n, s)| s.enabled && s.kind == SourceKind::File && names.contains(n))
    {
        out.push(poll_folder(store, name, s, clock).await);
    }
    out
}

/// The first failed source's error, if any (what stored before stays).
pub fn first_failure(settings: &Settings, summaries: &[SyncSummary]) -> Result<(), AppError> {
    match summaries.iter().find(|s| s.error.is_some()) {
        Some(failed) => Err(AppError::SyncFailed {
            name: failed.source.clone(),
            error: failed.error.clone().unwrap_or_default(),
            url: redact_url(&settings.database.url),
        }),
        None => Ok(()),
    }
}

/// The source a one-off import loads into: `--source NAME` (a configured
/// file source's layout and mapping, or a new source of that name), else
/// the configured source named `file`, else a new one so named with the
/// layout recognised from each file's header.
pub fn import_options(
    settings: &Settings,
    source: Option<&str>,
    layout: Option<String>,
    snapshot: bool,
) -> Result<ImportOptions, AppError> {
    let name = source.unwrap_or("file");
    let mut opts = match settings.sources.get(name) {
        Some(s) if s.kind == SourceKind::File => ImportOptions::from_settings(name, s),
        Some(_) => {
            return Err(AppError::SyncFailed {
                name: name.to_owned(),
                error: "it is an API source; import files into a file source (kind = \"file\") or a source not configured".into(),
                url: redact_url(&settings.database.url),
            });
        }
        None => ImportOptions {
            source: name.to_owned(),
            ..ImportOptions::default()
        },
    };
    opts.snapshot |= snapshot;
    if layout.is_some() {
        opts.layout = layout;
    }
    Ok(opts)
}

/// Imports files one after the other into one source: a summary each.
pub async fn import_files(
    store: &Store,
    files: &[std::path::PathBuf],
    opts: &ImportOptions,
    clock: &Clock,
) -> Vec<ImportSummary> {
    let mut out = Vec::with_capacity(files.len());
    for f in files {
        out.push(import_file(store, f, opts, clock).await);
    }
    out
}
