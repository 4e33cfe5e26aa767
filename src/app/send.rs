//! One drain of the outbox (email and webhook events).

use super::AppError;
use crate::clock::Clock;
use crate::config::Settings;
use crate::notify::mailer::{DrainSummary, Mailer, drain};
use crate::notify::webhook::Poster;
use crate::store::{Fence, Store};

/// Sends every message that is due, through the configured transport (a
/// one-off drain: `tthc-watch send`, the demo).
pub async fn send(
    settings: &Settings,
    store: &Store,
    clock: &Clock,
) -> Result<DrainSummary, AppError> {
    drain_with(settings, store, clock, None).await
}

/// As `send`, by the daemon's leader: only while its leadership (`fence`)
/// holds, each message claimed under its token.
pub async fn send_as_leader(
    settings: &Settings,
    store: &Store,
    clock: &Clock,
    fence: &Fence,
) -> Result<DrainSummary, AppError> {
    drain_with(settings, store, clock, Some(fence)).await
}

async fn drain_with(
    settings: &Settings,
    store: &Store,
    clock: &Clock,
    fence: Option<&Fence>,
) -> Result<DrainSummary, AppError> {
    let mailer = Mailer::from_settings(&settings.mail)?;
    // Read at each drain, as the rules load them: a rotated secret file is
    // used from the next drain on. Each attempt bounded like an SMTP phase.
    let hooks = super::rules::load_webhooks(settings)?;
    let timeout = std::time::Duration::from_secs(settings.mail.timeout_secs);
    let hooks = Poster::new(hooks, timeout).map_err(crate::notify::mailer::MailError::from)?;
    Ok(drain(store, &mailer, &hooks, &settings.mail, clock, fence).await?)
}
