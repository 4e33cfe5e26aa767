//! The centre's morning digest.

use super::{AppError, RuleSet};
use crate::clock::Clock;
use crate::config::Settings;
use crate::notify::digest::{DigestLimits, DigestOutcome, make_digest};
use crate::store::Store;

/// Queues today's digest (nothing on days off unless `force`, nothing twice).
pub async fn digest(
    settings: &Settings,
    rules: &RuleSet,
    store: &Store,
    clock: &Clock,
    force: bool,
) -> Result<DigestOutcome, AppError> {
    make_digest(
        &rules.composer(settings),
        store,
        &rules.calendar,
        &DigestLimits {
            warning_days: rules.deadline.warning_days,
            max_items: settings.escalation.max_listed,
        },
        clock.now_vn(),
        force,
    )
    .await
    .map_err(|error| AppError::Compose {
        what: "the digest",
        error,
    })
}
