//! One poll of a source: from its persisted watermark to now, page by page, each
//! page stored in one transaction. A bad record is quarantined and the rest go on;
//! a failing source ends its run with the error recorded, and keeps its data.

use super::rest::RestSource;
use super::{Cursor, Parsed, Source, SourceError};
use crate::clock::{Clock, fmt_db, parse_db};
use crate::config::Settings;
use crate::store::{PageOutcome, Store, StoreError, SyncRun};
use chrono::NaiveDateTime;
use std::fmt;
use std::time::Instant;
use tokio_util::task::AbortOnDropHandle;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one poll of one source did.
#[derive(Clone, Debug, Default)]
pub struct SyncSummary {
    pub source: String,
    pub fetched: u64,
    pub pages: u64,
    pub outcome: PageOutcome,
    pub elapsed: std::time::Duration,
    /// Of which the database spent writing pages (the rest: waiting for the
    /// source and parsing, where they did not overlap with writing).
    pub writing: std::time::Duration,
    pub error: Option<String>,
}

impl fmt::Display for SyncSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.outcome;
        write!(
            f,
            "source {}: fetched {} in {} pages, new {}, changed {}, unchanged {}, deleted {}, quarantined {}, {:.2} s ({:.2} s writing)",
            self.source,
            self.fetched,
            self.pages,
            o.created,
            o.changed,
            o.unchanged,
            o.deleted,
            o.quarantined,
            self.elapsed.as_secs_f64(),
            self.writing.as_secs_f64()
        )?;
        if let Some(e) = &self.error {
            write!(f, "; FAILED: {e}")?;
        }
        Ok(())
    }
}

/// Polls one source once, from its watermark.
pub async fn sync_source<S: Source>(
    store: &Store,
    src: &mut S,
    overlap_minutes: i64,
    clock: &Clock,
) -> SyncSummary {
    let started = Instant::now();
    let started_at = clock.now_vn();
    let mut summary = SyncSummary {
        source: src.name().to_owned(),
        ..SyncSummary::default()
    };
    let result = if src.newest_first() {
        poll_newest_first(store, src, overlap_minutes, clock, &mut summary).await
    } else {
        poll_keyset(store, src, clock, &mut summary).await
    };
    summary.elapsed = started.elapsed();
    if let Err(e) = result {
        summary.error = Some(e.to_string());
    }
    let run = SyncRun {
        source: summary.source.clone(),
        started_at,
        finished_at: clock.now_vn(),
        fetched: summary.fetched,
        outcome: summary.outcome,
        error: summary.error.clone(),
    };
    if let Err(e) = store.finish_sync(&run).await {
        summary.error.get_or_insert_with(|| e.to_string());
    }
    summary
}

fn split(
    records: Vec<Parsed>,
) -> (
    Vec<crate::store::Incoming>,
    Vec<String>,
    Vec<crate::store::QuarantineRecord>,
) {
    let (mut ds, mut del, mut bad) = (Vec::new(), Vec::new(), Vec::new());
    for r in records {
        match r {
            Parsed::Dossier(d) => ds.push(*d),
            Parsed::Deleted(c) => del.push(c),
            Parsed::Bad(q) => {
                tracing::warn!(code = ?q.code, reason = %q.reason, "record quarantined");
                bad.push(q);
            }
        }
    }
    (ds, del, bad)
}

/// Pages fetched and parsed ahead of the one being written.
const PAGES_AHEAD: usize = 2;

async fn poll_keyset<S: Source>(
    store: &Store,
    src: &mut S,
    clock: &Clock,
    summary: &mut SyncSummary,
) -> Result<(), SyncError> {
    let state = store.sync_state(src.name()).await?;
    let start = state
        .watermark
        .as_deref()
        .and_then(|w| w.parse().ok())
        .unwrap_or(0);
    let name = src.name().to_owned();
    // Fetching (and parsing) runs ahead of writing, a few pages at most: the
    // source's work, the parsing and the database's work overlap on the
    // cores. SQLite's writes hold the thread they run on, so each page is
    // written on a task of its own. Pages are written in order; the
    // watermark moves only with written data.
    let (ahead, mut pages) = tokio::sync::mpsc::channel(PAGES_AHEAD);
    let fetch = async move {
        let mut cursor = Cursor::Revision(start);
        loop {
            let page = src.fetch(&cursor).await?;
            let last = !page.more || page.next == cursor;
            cursor = page.next.clone();
            // The writer stopped on an error: it reports it.
            if ahead.send(page).await.is_err() || last {
                return Ok::<(), SyncError>(());
            }
        }
    };
    let write = async move {
        while let Some(page) = pages.recv().await {
            summary.pages += 1;
            summary.fetched += page.fetched;
            let watermark = match &page.next {
                Cursor::Revision(r) => r.to_string(),
                Cursor::Page(_) => String::new(),
            };
            let (ds, del, bad) = split(page.records);
            let (store, source, now) = (store.clone(), name.clone(), clock.now_vn());
            let started = Instant::now();
            // Aborted if this poll is dropped (shutdown): the page's transaction
            // then rolls back instead of committing behind the daemon's back.
            let written = AbortOnDropHandle::new(tokio::spawn(async move {
                store
                    .apply_page(&source, &ds, &del, &bad, Some(&watermark), now)
                    .await
            }))
            .await
            .map_err(|e| StoreError::Task(format!("writing a page of source {name}: {e}")))??;
            summary.writing += started.elapsed();
            summary.outcome.add(written);
        }
        Ok::<(), SyncError>(())
    };
    let (fetched, written) = tokio::join!(fetch, write);
    written?;
    fetched
}

async fn poll_newest_first<S: Source>(
    store: &Store,
    src: &mut S,
    overlap_minutes: i64,
    clock: &Clock,
    summary: &mut SyncSummary,
) -> Result<(), SyncError> {
    let state = store.sync_state(src.name()).await?;
    let watermark: Option<NaiveDateTime> = state.watermark.as_deref().and_then(parse_db);
    let stop_before = watermark.map(|w| w - chrono::Duration::minutes(overlap_minutes));
    let mut newest = watermark;
    let mut cursor = Cursor::Page(0);
    loop {
        let page = src.fetch(&cursor).await?;
        summary.pages += 1;
        summary.fetched += page.fetched;
        let (ds, del, bad) = split(page.records);
        let oldest = ds.iter().map(|d| d.dossier.updated_at).min();
        newest = newest.max(ds.iter().map(|d| d.dossier.updated_at).max());
        // The watermark moves only when the whole read-back has succeeded.
        let started = Instant::now();
        let o = store
            .apply_page(src.name(), &ds, &del, &bad, None, clock.now_vn())
            .await?;
        summary.writing += started.elapsed();
        summary.outcome.add(o);
        let reached_watermark = matches!((oldest, stop_before), (Some(o), Some(s)) if o < s);
        if !page.more || reached_watermark {
            break;
        }
        cursor = page.next;
    }
    if let Some(w) = newest {
        store
            .apply_page(src.name(), &[], &[], &[], Some(&fmt_db(w)), clock.now_vn())
            .await?;
    }
    Ok(())
}

/// Polls every enabled source of the configuration once.
pub async fn sync_all(settings: &Settings, store: &Store, clock: &Clock) -> Vec<SyncSummary> {
    let names: Vec<String> = settings.sources.keys().cloned().collect();
    sync_sources(settings, store, clock, &names).await
}

/// Polls the named enabled sources once.
pub async fn sync_sources(
    settings: &Settings,
    store: &Store,
    clock: &Clock,
    names: &[String],
) -> Vec<SyncSummary> {
    let mut out = Vec::new();
    for (name, s) in settings
        .sources
        .iter()
        .filter(|(n, s)| s.enabled && names.contains(n))
    {
        let summary = match RestSource::new(name, s) {
            Ok(mut src) => sync_source(store, &mut src, s.overlap_minutes, clock).await,
            Err(e) => SyncSummary {
                source: name.clone(),
                error: Some(e.to_string()),
                ..SyncSummary::default()
            },
        };
        out.push(summary);
    }
    out
}
