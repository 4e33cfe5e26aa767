//! Sources of dossiers and the sync that polls them into the store.
//!
//! Real systems offer no strict "changed since" filter (SOURCES.md §2). Two
//! strategies cover them: keyset paging over a change revision (the native shape),
//! and newest-first pages read back to the last watermark minus an overlap, with
//! repeats removed by content hash.

mod follow;
pub mod mapping;
mod path;
pub mod probe;
mod record;
pub mod rest;
pub mod sync;

/// A source's settings (`[sources.NAME]`): settings types live in `config`,
/// which depends on no other module; sources are where they are used.
pub use crate::config::{AuthSettings, Shape, SourceSettings};

use crate::store::{Incoming, QuarantineRecord};
use std::time::Duration;

/// How the error of a poll that read nothing usable begins (most records
/// quarantined, or no dossiers at all): the source is then stale at once,
/// not only once `stale_after_minutes` have passed, since waiting would
/// not bring its data back.
pub const UNUSABLE: &str = "unusable poll: ";

/// Whether a source whose last success was at `last_success` and whose
/// latest error is `last_error` counts as stale at `now`.
pub fn is_stale(
    last_success: Option<chrono::NaiveDateTime>,
    last_error: Option<&str>,
    now: chrono::NaiveDateTime,
    stale_after_minutes: i64,
) -> bool {
    last_success.is_none_or(|t| (now - t).num_minutes() >= stale_after_minutes)
        || last_error.is_some_and(|e| e.contains(UNUSABLE))
}

/// Where to read next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cursor {
    /// Keyset: changes after this revision.
    Revision(u64),
    /// Newest-first: the n-th page (0-based) of the listing.
    Page(u64),
}

/// One record of a page, after parsing.
#[derive(Debug)]
pub enum Parsed {
    /// A dossier, with warnings about optional parts left out.
    Dossier(Box<Incoming>, Vec<String>),
    Deleted(String),
    Bad(QuarantineRecord),
    /// Not this committee's, or not received yet: its code and why; counted,
    /// not stored (and no longer watched if it was).
    Skipped(String, String),
    /// A record waiting for its follow-up requests (detail, catalogues).
    Pending(Box<serde_json::Value>),
}

#[derive(Debug)]
pub struct Page {
    pub records: PageRecords,
    pub next: Cursor,
    /// Whether the source says more pages follow.
    pub more: bool,
    pub fetched: u64,
}

/// A page's records, parsed on a blocking thread while the next page is
/// fetched: parsing is most of a sync's work, and the cursor to the next
/// page needs only the page's outline.
#[derive(Debug)]
pub struct PageRecords(tokio::task::JoinHandle<Vec<Parsed>>);

impl PageRecords {
    pub fn parse(job: impl FnOnce() -> Vec<Parsed> + Send + 'static) -> Self {
        Self(tokio::task::spawn_blocking(job))
    }

    /// Records already parsed.
    pub fn ready(records: Vec<Parsed>) -> Self {
        Self(tokio::spawn(async move { records }))
    }

    pub async fn wait(self, source_name: &str) -> Result<Vec<Parsed>, SourceError> {
        self.0.await.map_err(|e| SourceError::Rejected {
            source_name: source_name.to_owned(),
            message: format!("parsing a page's records failed: {e}"),
        })
    }
}

/// What a source connector does: one page at a time.
#[allow(async_fn_in_trait)]
pub trait Source {
    fn name(&self) -> &str;
    /// How pages come: by revision (None), or newest-first with this polling.
    fn polling(&self) -> Option<&mapping::Polling>;
    /// Limits the next pages to dossiers received since `from` (the
    /// polling's window), or lifts the limit.
    fn set_window(&mut self, from: Option<chrono::NaiveDate>);
    async fn fetch(&mut self, cursor: &Cursor) -> Result<Page, SourceError>;
}

impl Source for rest::RestSource {
    fn name(&self) -> &str {
        &self.name
    }
    fn polling(&self) -> Option<&mapping::Polling> {
        (!matches!(self.mapping.paging, mapping::Paging::Keyset { .. }))
            .then_some(&self.mapping.polling)
    }
    fn set_window(&mut self, from: Option<chrono::NaiveDate>) {
        self.window_from = from;
    }
    async fn fetch(&mut self, cursor: &Cursor) -> Result<Page, SourceError> {
        rest::RestSource::fetch(self, cursor).await
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("source {source_name}: {message} (will retry)")]
    Transient {
        source_name: String,
        message: String,
    },
    #[error("source {source_name}: rate limited, retry after {retry_after:?}")]
    RateLimited {
        source_name: String,
        retry_after: Duration,
    },
    #[error(
        "source {source_name}: credentials refused (HTTP {status}); check sources.{source_name}.auth"
    )]
    Unauthorized { source_name: String, status: u16 },
    #[error(
        "source {source_name}: authentication failed: {message}; check sources.{source_name}.auth"
    )]
    Auth {
        source_name: String,
        message: String,
    },
    #[error("source {source_name}: {message}")]
    Rejected {
        source_name: String,
        message: String,
    },
    #[error("source {source_name}: configuration: {message}")]
    Config {
        source_name: String,
        message: String,
    },
}

impl SourceError {
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            SourceError::Transient { .. } | SourceError::RateLimited { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_is_stale_by_time_or_at_once_when_its_poll_was_unusable() {
        let t = |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        let now = t("2026-11-25 08:00");
        let ok = Some(t("2026-11-25 07:30"));
        assert!(!is_stale(ok, None, now, 60));
        assert!(is_stale(Some(t("2026-11-25 06:30")), None, now, 60));
        assert!(is_stale(None, None, now, 60));
        // A network blip waits for the stale time; a poll that stored nothing usable does not.
        assert!(!is_stale(
            ok,
            Some("source s: server answered 502 (will retry)"),
            now,
            60
        ));
        let unusable = format!("{UNUSABLE}40 of 40 records quarantined");
        assert!(is_stale(ok, Some(&unusable), now, 60));
    }
}
