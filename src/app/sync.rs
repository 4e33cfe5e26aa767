//! One poll of the configured sources.

use super::AppError;
use crate::clock::Clock;
use crate::config::Settings;
use crate::redact::redact_url;
use crate::source::sync::{SyncSummary, sync_all, sync_sources};
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
    Ok(sync_all(&settings.sources, store, clock).await)
}

/// Polls the named enabled sources once (the daemon's, each on its own cadence).
pub async fn sync_named(
    settings: &Settings,
    store: &Store,
    clock: &Clock,
    names: &[String],
) -> Vec<SyncSummary> {
    sync_sources(&settings.sources, store, clock, names).await
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
