//! One drain of the outbox.

use super::AppError;
use crate::clock::Clock;
use crate::config::Settings;
use crate::notify::mailer::{DrainSummary, Mailer, drain};
use crate::store::Store;

/// Sends every message that is due, through the configured transport.
pub async fn send(
    settings: &Settings,
    store: &Store,
    clock: &Clock,
) -> Result<DrainSummary, AppError> {
    let mailer = Mailer::from_settings(&settings.mail)?;
    Ok(drain(store, &mailer, &settings.mail, clock.now_vn()).await?)
}
