//! Sources of dossiers and the sync that polls them into the store.
//!
//! Real systems offer no strict "changed since" filter (SOURCES.md §2). Two
//! strategies cover them: keyset paging over a change revision (the native shape),
//! and newest-first pages read back to the last watermark minus an overlap, with
//! repeats removed by content hash.

pub mod file;
mod follow;
pub mod mapping;
mod path;
pub mod probe;
mod record;
pub mod rest;
pub mod sync;

/// A source's settings (`[sources.NAME]`): settings types live in `config`,
/// which depends on no other module; sources are where they are used.
pub use crate::config::{AuthSettings, Shape, SourceKind, SourceSettings};

use crate::store::{Incoming, QuarantineRecord, SourceFreshness};
use std::time::Duration;

/// How the error of a poll that read nothing usable begins (most records
/// quarantined, or no dossiers at all): the source is then stale at once,
/// not only once `stale_after_minutes` have passed, since waiting would
/// not bring its data back.
pub const UNUSABLE: &str = "unusable poll: ";

/// When a source counts as stale (`escalation.stale_after_minutes` and
/// `first_sync_grace_minutes`).
#[derive(Clone, Debug, Default)]
pub struct Staleness {
    /// Since its last successful sync.
    pub after_minutes: i64,
    /// Since its first poll, for a source never synced.
    pub first_sync_grace_minutes: i64,
    /// Sources with their own `stale_after_minutes` (a file source fed once
    /// a day is not stale after an hour).
    pub per_source: std::sync::Arc<std::collections::BTreeMap<String, i64>>,
}

impl Staleness {
    pub fn from_settings(s: &crate::config::Settings) -> Staleness {
        let e = &s.escalation;
        Staleness {
            after_minutes: e.stale_after_minutes,
            first_sync_grace_minutes: e.first_sync_grace_minutes.unwrap_or(e.stale_after_minutes),
            per_source: std::sync::Arc::new(
                s.sources
                    .iter()
                    .filter_map(|(n, src)| src.stale_after_minutes.map(|m| (n.clone(), m)))
                    .collect(),
            ),
        }
    }

    /// Why the source is stale at `now`, or None. A source never polled yet
    /// is not: its grace has not begun (a hung first poll shows as an overrun
    /// job). The readiness check, the digest, the dashboard and the centre's
    /// alert all ask this one question.
    pub fn why_stale(&self, f: &SourceFreshness, now: chrono::NaiveDateTime) -> Option<String> {
        if let Some(e) = f.last_error.as_deref().filter(|e| e.contains(UNUSABLE)) {
            return Some(format!("the last poll stored nothing usable: {e}"));
        }
        let minutes = |t: chrono::NaiveDateTime| (now - t).num_minutes();
        let own = self.per_source.get(&f.source).copied();
        let after = own.unwrap_or(self.after_minutes);
        let grace = own.map_or(self.first_sync_grace_minutes, |m| {
            m.max(self.first_sync_grace_minutes)
        });
        match (f.last_success, f.first_attempt) {
            (Some(t), _) if minutes(t) >= after => Some(format!(
                "last successful sync at {}",
                crate::clock::fmt_db(t)
            )),
            (Some(_), _) | (None, None) => None,
            (None, Some(t)) if minutes(t) >= grace => Some(format!(
                "never synced since its first poll at {}",
                crate::clock::fmt_db(t)
            )),
            (None, Some(_)) => None,
        }
    }

    pub fn is_stale(&self, f: &SourceFreshness, now: chrono::NaiveDateTime) -> bool {
        self.why_stale(f, now).is_some()
    }
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
        let rule = Staleness {
            after_minutes: 60,
            first_sync_grace_minutes: 60,
            ..Staleness::default()
        };
        let f = |ok: Option<&str>, err: Option<&str>, first: Option<&str>| SourceFreshness {
            source: "s".into(),
            last_success: ok.map(t),
            last_error: err.map(str::to_owned),
            first_attempt: first.map(t),
        };
        let first = Some("2026-11-25 06:00");
        assert!(!rule.is_stale(&f(Some("2026-11-25 07:30"), None, first), now));
        assert!(rule.is_stale(&f(Some("2026-11-25 06:30"), None, first), now));
        // Never synced: stale once the grace after its first poll has passed.
        assert!(rule.is_stale(&f(None, Some("502"), first), now));
        assert!(!rule.is_stale(&f(None, Some("502"), Some("2026-11-25 07:15")), now));
        assert!(
            !rule.is_stale(&f(None, None, None), now),
            "never polled yet"
        );
        let at_once = Staleness {
            first_sync_grace_minutes: 0,
            ..rule.clone()
        };
        assert!(at_once.is_stale(&f(None, Some("502"), Some("2026-11-25 08:00")), now));
        // A network blip waits for the stale time; a poll that stored nothing usable does not.
        let blip = "source s: server answered 502 (will retry)";
        assert!(!rule.is_stale(&f(Some("2026-11-25 07:30"), Some(blip), first), now));
        let unusable = format!("{UNUSABLE}40 of 40 records quarantined");
        let why = rule.why_stale(&f(Some("2026-11-25 07:30"), Some(&unusable), first), now);
        assert!(why.is_some_and(|w| w.contains("nothing usable")));
        // A source with its own time (a file exported once a day): a day
        // without a new file is not stale, 26 hours is; the others keep 60'.
        let daily = Staleness {
            per_source: std::sync::Arc::new([("s".to_owned(), 25 * 60)].into()),
            ..rule.clone()
        };
        assert!(!daily.is_stale(&f(Some("2026-11-24 08:00"), None, first), now));
        assert!(daily.is_stale(&f(Some("2026-11-24 06:00"), None, first), now));
        let other = SourceFreshness {
            source: "api".into(),
            ..f(Some("2026-11-25 06:30"), None, first)
        };
        assert!(daily.is_stale(&other, now));
    }
}
