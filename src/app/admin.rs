//! Administration: API tokens, retention, the audit trail's verification.

use super::AppError;
use crate::clock::Clock;
use crate::config::Settings;
use crate::store::audit::Verification;
use crate::store::{Retention, Store, TokenInfo};
use chrono::NaiveDate;

/// A new API token for `role`: `(id, token)`; only its hash is kept.
pub async fn token_create(
    store: &Store,
    role: &str,
    name: &str,
    clock: &Clock,
) -> Result<(i64, String), AppError> {
    if crate::api::Role::parse(role).is_none() {
        return Err(AppError::Role(role.to_owned()));
    }
    Ok(store.create_token(name, role, clock.now_vn()).await?)
}

pub async fn token_list(store: &Store) -> Result<Vec<TokenInfo>, AppError> {
    Ok(store.list_tokens().await?)
}

pub async fn token_revoke(store: &Store, id: i64, clock: &Clock) -> Result<(), AppError> {
    if store.revoke_token(id, clock.now_vn()).await? {
        Ok(())
    } else {
        Err(AppError::NoToken(id))
    }
}

/// Dossiers finished or closed before `before` (and their letters): removed
/// when `apply`, else only counted; recorded in the audit trail.
pub async fn retention(
    store: &Store,
    before: NaiveDate,
    apply: bool,
    clock: &Clock,
) -> Result<Retention, AppError> {
    Ok(store.retention(before, apply, clock.now_vn()).await?)
}

/// What `audit verify` could prove of an intact trail.
#[derive(Debug, PartialEq, Eq)]
pub struct AuditProof {
    pub entries: u64,
    /// Whether a key was given: sealed entries were checked with it.
    pub keyed: bool,
    /// Sealed entries not checked (no key given).
    pub unproven: u64,
    /// The witnessed entry, found in place.
    pub witnessed: Option<i64>,
}

/// Recomputes the audit trail's hash chain, with the key and the witness
/// file when configured.
pub async fn audit_verify(settings: &Settings, store: &Store) -> Result<AuditProof, AppError> {
    match store.verify_audit().await? {
        Verification::Intact {
            entries,
            unproven,
            witnessed,
        } => Ok(AuditProof {
            entries,
            keyed: !settings.audit.key_file.is_empty(),
            unproven,
            witnessed,
        }),
        Verification::Broken { id, reason } => Err(AppError::AuditBroken { id, reason }),
    }
}
