//! One poll of a source: from its persisted watermark to now, page by page,
//! consecutive pages stored in one transaction with the watermark. A bad
//! record is quarantined and the rest go on; a failing source ends its run
//! with the error recorded, and keeps its data.

use super::mapping::Stop;
use super::rest::RestSource;
use super::{Cursor, Parsed, Source, SourceError};
use crate::clock::{Clock, fmt_db, parse_db};
use crate::source::SourceSettings;
use crate::store::{PageOutcome, Store, StoreError, SyncRun, SyncTx, SyncWriter};
use chrono::NaiveDateTime;
use std::collections::BTreeMap;
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
    /// Records not this committee's or not received yet: counted, not stored.
    pub skipped: u64,
    /// Dossiers stored without an optional part that could not be read.
    pub warned: u64,
    /// Why records were quarantined (first words of the reason → records).
    pub reasons: BTreeMap<String, u64>,
    /// Whether the poll asked only for recently received dossiers.
    pub windowed: bool,
    pub error: Option<String>,
}

/// The most of a poll's records that may be quarantined before the poll
/// counts as failed: the mapping is wrong, not a record or two.
const MAX_QUARANTINED_SHARE: f64 = 0.5;
/// Fewer records than this say nothing about the mapping (an incremental
/// poll of one bad record is not a broken source).
const MIN_JUDGED: u64 = 10;

impl SyncSummary {
    /// The most frequent quarantine reasons, most first.
    pub fn top_reasons(&self, n: usize) -> Vec<(&str, u64)> {
        let mut r: Vec<(&str, u64)> = self.reasons.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        r.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        r.truncate(n);
        r
    }

    /// The three most frequent quarantine reasons, with their counts.
    fn top_reasons_line(&self) -> String {
        let top: Vec<String> = self
            .top_reasons(3)
            .iter()
            .map(|(r, n)| format!("{r} ({n})"))
            .collect();
        top.join("; ")
    }

    fn note_reasons(&mut self, bad: &[crate::store::QuarantineRecord]) {
        for q in bad {
            *self.reasons.entry(reason_head(&q.reason)).or_default() += 1;
        }
    }

    /// A poll that read nothing usable is a failure, not a quiet success:
    /// most records quarantined, or nothing at all from a source read
    /// newest-first (whose first page always holds its newest dossiers).
    fn judge(&mut self, newest_first: bool) {
        if self.error.is_some() {
            return;
        }
        let q = self.outcome.quarantined;
        if self.fetched >= MIN_JUDGED && q as f64 > self.fetched as f64 * MAX_QUARANTINED_SHARE {
            self.error = Some(format!(
                "{}{q} of {} records quarantined; check the source's shape and mapping (`tthc-watch source test {}`); most common: {}",
                super::UNUSABLE,
                self.fetched,
                self.source,
                self.top_reasons_line()
            ));
        } else if newest_first && !self.windowed && self.fetched == 0 {
            self.error = Some(format!(
                "{}the source answered with no dossiers at all; check its address, credentials and filters (an OpenCPS site without its groupId header lists nothing): `tthc-watch source test {}`",
                super::UNUSABLE,
                self.source
            ));
        }
    }
}

/// The part of a quarantine reason that names the problem, without the
/// record's own values after it.
fn reason_head(reason: &str) -> String {
    let head = reason.split(": '").next().unwrap_or(reason);
    head.chars().take(80).collect()
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
        if self.skipped > 0 {
            write!(f, ", skipped {}", self.skipped)?;
        }
        if self.warned > 0 {
            write!(f, ", stored with warnings {}", self.warned)?;
        }
        if self.error.is_none() && !self.reasons.is_empty() {
            write!(f, "; quarantined for: {}", self.top_reasons_line())?;
        }
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
    let newest_first = src.polling().is_some();
    let result = if newest_first {
        match poll_newest_first(store, src, overlap_minutes, clock, &mut summary, false).await {
            // Nothing at all received in the window: read everything
            // before calling the source empty.
            Ok(()) if summary.windowed && summary.fetched == 0 => {
                summary.windowed = false;
                poll_newest_first(store, src, overlap_minutes, clock, &mut summary, true).await
            }
            other => other,
        }
    } else {
        poll_keyset(store, src, clock, &mut summary).await
    };
    summary.elapsed = started.elapsed();
    if let Err(e) = result {
        summary.error = Some(e.to_string());
    }
    summary.judge(newest_first);
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

/// A page's records sorted by what becomes of them; skips and warnings
/// are counted in `summary`, quarantine reasons too.
fn split(
    records: Vec<Parsed>,
    source: &str,
    summary: &mut SyncSummary,
) -> (
    Vec<crate::store::Incoming>,
    Vec<String>,
    Vec<crate::store::QuarantineRecord>,
) {
    let (mut ds, mut del, mut bad) = (Vec::new(), Vec::new(), Vec::new());
    for r in records {
        match r {
            Parsed::Dossier(d, warnings) => {
                if !warnings.is_empty() {
                    summary.warned += 1;
                    tracing::warn!(source, code = %d.dossier.code, warnings = %warnings.join("; "), "dossier stored without a part it could not read");
                }
                ds.push(*d);
            }
            Parsed::Deleted(c) => del.push(c),
            Parsed::Skipped(code, reason) => {
                summary.skipped += 1;
                tracing::debug!(source, %code, %reason, "record skipped");
                // Stored before (another agency since, or before `agencies`
                // was set): no longer watched. Unknown codes cost nothing.
                del.push(code);
            }
            Parsed::Pending(rec) => bad.push(crate::store::QuarantineRecord {
                code: None,
                reason: "record left without its follow-up requests (a bug: please report it)"
                    .into(),
                raw: rec.to_string(),
            }),
            Parsed::Bad(q) => {
                tracing::warn!(source, code = ?q.code, reason = %q.reason, "record quarantined");
                bad.push(q);
            }
        }
    }
    summary.note_reasons(&bad);
    (ds, del, bad)
}

/// Pages fetched and parsed ahead of the one being written.
const PAGES_AHEAD: usize = 2;

/// Consecutive pages share one transaction up to this many records or this
/// long (each commit rewrites every index page the transaction touched: at
/// 1M stored, 1,000-record transactions wrote ~3× the data to the WAL), and
/// while the next page comes within `BATCH_GRACE`.
const BATCH_RECORDS: u64 = 10_000;
const BATCH_TIME: std::time::Duration = std::time::Duration::from_secs(2);
const BATCH_GRACE: std::time::Duration = std::time::Duration::from_millis(100);

/// Pages written and not yet committed.
struct Batch {
    tx: SyncTx,
    began: Instant,
    records: u64,
    outcome: PageOutcome,
}

/// Commits a batch; its pages count as done only then. The writer is ready
/// for the next batch. Returns the records committed.
async fn commit(
    batch: Option<Batch>,
    writer: &mut Option<SyncWriter>,
    summary: &mut SyncSummary,
) -> Result<u64, SyncError> {
    let Some(b) = batch else { return Ok(0) };
    let started = Instant::now();
    *writer = Some(b.tx.commit().await?);
    summary.writing += started.elapsed();
    summary.outcome.add(b.outcome);
    Ok(b.records)
}

/// Checkpoints beside the writing: SQLite's own checkpoint runs inside the
/// commit that crosses its threshold (10,000 pages of WAL, reached every ~70k
/// records of an initial sync at 1M), on the writer's time. One is started on
/// a connection of its own after every `CHECKPOINT_RECORDS` committed, so the
/// WAL stays under that threshold; a poll smaller than that (the usual
/// incremental one) starts none.
struct Checkpoints {
    committed: u64,
    running: Option<tokio::task::JoinHandle<()>>,
}

const CHECKPOINT_RECORDS: u64 = 30_000;

impl Checkpoints {
    fn after_commit(&mut self, store: &Store, records: u64) {
        self.committed += records;
        let idle = self.running.as_ref().is_none_or(|c| c.is_finished());
        if self.committed >= CHECKPOINT_RECORDS && idle {
            self.committed = 0;
            let store = store.clone();
            self.running = Some(tokio::spawn(async move {
                // A failed checkpoint loses nothing: the pages stay in the
                // WAL and SQLite's own checkpoint copies them later.
                if let Err(e) = store.checkpoint().await {
                    tracing::warn!(error = %e, "background checkpoint failed");
                }
            }));
        }
    }

    /// Waits for the running one: a checkpoint still running when the
    /// process ends leaves the WAL beside the database file.
    async fn finish(self) {
        if let Some(c) = self.running {
            let _ = c.await;
        }
    }
}

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
    // watermark moves only with written data, in the same transaction. A
    // failed write rolls back the pages since the last commit (at most
    // `BATCH_RECORDS`): the next poll reads them again.
    let (ahead, mut pages) = tokio::sync::mpsc::channel(PAGES_AHEAD);
    let fetch = async move {
        let mut cursor = Cursor::Revision(start);
        let mut progress = Progress::default();
        loop {
            let page = src.fetch(&cursor).await?;
            progress.check(src.name(), &cursor, &page.next, page.more, page.fetched)?;
            let last = !page.more || page.next == cursor;
            cursor = page.next.clone();
            // The writer stopped on an error: it reports it.
            if ahead.send(page).await.is_err() || last {
                return Ok::<(), SyncError>(());
            }
        }
    };
    let write = async move {
        let mut batch: Option<Batch> = None;
        // Opened with the first page: a poll with nothing new opens nothing.
        let mut writer: Option<SyncWriter> = None;
        let mut checkpoints = Checkpoints {
            committed: 0,
            running: None,
        };
        loop {
            let next = if batch.is_some() {
                match tokio::time::timeout(BATCH_GRACE, pages.recv()).await {
                    Ok(next) => next,
                    // The source is slower than the writing: commit what is
                    // written rather than hold the write lock waiting for it.
                    Err(_) => {
                        let n = commit(batch.take(), &mut writer, summary).await?;
                        checkpoints.after_commit(store, n);
                        continue;
                    }
                }
            } else {
                pages.recv().await
            };
            let Some(page) = next else { break };
            summary.pages += 1;
            summary.fetched += page.fetched;
            let watermark = match &page.next {
                Cursor::Revision(r) => r.to_string(),
                Cursor::Page(_) => String::new(),
            };
            let (ds, del, bad) = split(page.records.wait(&name).await?, &name, summary);
            let started = Instant::now();
            let mut b = match batch.take() {
                Some(b) => b,
                None => Batch {
                    tx: match writer.take() {
                        Some(w) => w,
                        None => store.sync_writer().await?,
                    }
                    .begin()
                    .await?,
                    began: started,
                    records: 0,
                    outcome: PageOutcome::default(),
                },
            };
            let (source, now) = (name.clone(), clock.now_vn());
            // Aborted if this poll is dropped (shutdown): the transaction then
            // rolls back instead of committing behind the daemon's back.
            let (tx, written) = AbortOnDropHandle::new(tokio::spawn(async move {
                let mut tx = b.tx;
                let written = tx
                    .apply_page(&source, &ds, &del, &bad, Some(&watermark), now)
                    .await;
                (tx, written)
            }))
            .await
            .map_err(|e| StoreError::Task(format!("writing a page of source {name}: {e}")))?;
            b.tx = tx;
            b.outcome.add(written?);
            b.records += page.fetched;
            summary.writing += started.elapsed();
            if b.records >= BATCH_RECORDS || b.began.elapsed() >= BATCH_TIME {
                let n = commit(Some(b), &mut writer, summary).await?;
                checkpoints.after_commit(store, n);
            } else {
                batch = Some(b);
            }
        }
        commit(batch, &mut writer, summary).await?;
        if let Some(w) = writer {
            w.close().await;
        }
        checkpoints.finish().await;
        Ok::<(), SyncError>(())
    };
    let (fetched, written) = tokio::join!(fetch, write);
    written?;
    fetched
}

/// The most pages one poll reads (a million dossiers at the smallest page
/// size of 100, ten million at the default 1,000).
const MAX_PAGES_PER_POLL: u64 = 10_000;
/// Empty pages in a row that say more follow before the poll gives up.
const MAX_EMPTY_PAGES: u64 = 20;

/// Whether a source's paging moves forward: a cursor that goes back (or
/// alternates), pages that say "more" and hold nothing, or no end in sight
/// stop the poll with an error instead of looping until killed (and holding
/// up the checks and mail behind it). What was stored is kept.
#[derive(Default)]
struct Progress {
    pages: u64,
    empty_in_a_row: u64,
}

impl Progress {
    /// After the page at `at`, which says `next`, whether `more` follow, and
    /// holds `fetched` records.
    fn check(
        &mut self,
        source: &str,
        at: &Cursor,
        next: &Cursor,
        more: bool,
        fetched: u64,
    ) -> Result<(), SourceError> {
        let stop = |message: String| {
            Err(SourceError::Rejected {
                source_name: source.to_owned(),
                message: format!("{message}; this poll stops (what was stored is kept)"),
            })
        };
        self.pages += 1;
        if !more {
            return Ok(());
        }
        if let (Cursor::Revision(now), Cursor::Revision(next)) = (at, next)
            && next < now
        {
            return stop(format!("the cursor went back from {now} to {next}"));
        }
        self.empty_in_a_row = if fetched == 0 {
            self.empty_in_a_row + 1
        } else {
            0
        };
        if self.empty_in_a_row >= MAX_EMPTY_PAGES {
            return stop(format!(
                "{MAX_EMPTY_PAGES} empty pages in a row each said more would follow"
            ));
        }
        if self.pages >= MAX_PAGES_PER_POLL {
            return stop(format!("{MAX_PAGES_PER_POLL} pages read and no end"));
        }
        Ok(())
    }
}

/// When the last full read of every page happened (kept beside the
/// follow-up cache).
const LAST_FULL: (&str, &str) = ("poll", "last_full_read");

async fn poll_newest_first<S: Source>(
    store: &Store,
    src: &mut S,
    overlap_minutes: i64,
    clock: &Clock,
    summary: &mut SyncSummary,
    force_full: bool,
) -> Result<(), SyncError> {
    let polling = src.polling().cloned().unwrap_or_default();
    let now = clock.now_vn();
    let state = store.sync_state(src.name()).await?;
    let watermark: Option<NaiveDateTime> = state.watermark.as_deref().and_then(parse_db);
    // A full read of every page: the first poll, and every
    // `full_every_hours`; between them the stop rule (and window) apply.
    let last_full = store
        .cache_get(LAST_FULL.0, LAST_FULL.1, &[src.name().to_owned()])
        .await?
        .remove(src.name())
        .and_then(|e| parse_db(&e.stamp));
    // After a failed poll, pages past where it stopped may hold changes the
    // "nothing new" rule cannot see (the pages before them are stored).
    let failed_before = state.last_error.is_some() && polling.stop == Stop::Unchanged;
    let full = force_full
        || failed_before
        || state.last_success_at.is_none()
        || polling.stop == Stop::Never && polling.window.is_none()
        || (polling.full_every_hours > 0
            && last_full.is_none_or(|t| {
                now - t >= chrono::Duration::hours(i64::from(polling.full_every_hours))
            }));
    let window = match (&polling.window, full) {
        (Some(w), false) => Some((now - chrono::Duration::days(i64::from(w.days))).date()),
        _ => None,
    };
    summary.windowed = window.is_some();
    src.set_window(window);
    let stop_before = match polling.stop {
        Stop::Watermark if !full => {
            watermark.map(|w| w - chrono::Duration::minutes(overlap_minutes))
        }
        _ => None,
    };
    let mut newest = watermark;
    let mut cursor = Cursor::Page(0);
    let mut writer = store.sync_writer().await?;
    let mut progress = Progress::default();
    let mut stopped_early = false;
    loop {
        let page = src.fetch(&cursor).await?;
        progress.check(src.name(), &cursor, &page.next, page.more, page.fetched)?;
        summary.pages += 1;
        summary.fetched += page.fetched;
        let (ds, del, bad) = split(page.records.wait(src.name()).await?, src.name(), summary);
        let oldest = ds.iter().map(|d| d.dossier.updated_at).min();
        newest = newest.max(ds.iter().map(|d| d.dossier.updated_at).max());
        // The watermark moves only when the whole read-back has succeeded.
        let started = Instant::now();
        let (o, w) = writer
            .apply_page(src.name(), &ds, &del, &bad, None, clock.now_vn())
            .await?;
        writer = w;
        summary.writing += started.elapsed();
        summary.outcome.add(o);
        let reached_watermark = matches!((oldest, stop_before), (Some(o), Some(s)) if o < s);
        // Sorted by a change time it does not send: a page of stored
        // dossiers none of which changed means the rest did not either.
        let nothing_new = !full
            && polling.stop == Stop::Unchanged
            && o.unchanged > 0
            && o.created == 0
            && o.changed == 0;
        if !page.more {
            break;
        }
        if reached_watermark || nothing_new {
            stopped_early = true;
            break;
        }
        cursor = page.next;
    }
    if let Some(w) = newest {
        (_, writer) = writer
            .apply_page(src.name(), &[], &[], &[], Some(&fmt_db(w)), clock.now_vn())
            .await?;
    }
    writer.close().await;
    // Every page read (not windowed, not stopped early): the next full read
    // is due `full_every_hours` from now.
    if full && !stopped_early {
        store
            .cache_put(
                LAST_FULL.0,
                LAST_FULL.1,
                &[(src.name().to_owned(), fmt_db(now), String::new())],
                now,
            )
            .await?;
    }
    Ok(())
}

/// Polls every enabled source of the configuration once.
pub async fn sync_all(
    sources: &BTreeMap<String, SourceSettings>,
    store: &Store,
    clock: &Clock,
) -> Vec<SyncSummary> {
    let names: Vec<String> = sources.keys().cloned().collect();
    sync_sources(sources, store, clock, &names).await
}

/// Polls the named enabled API sources once (file sources are read by
/// `source::file::poll_folder`).
pub async fn sync_sources(
    sources: &BTreeMap<String, SourceSettings>,
    store: &Store,
    clock: &Clock,
    names: &[String],
) -> Vec<SyncSummary> {
    let mut out = Vec::new();
    for (name, s) in sources
        .iter()
        .filter(|(n, s)| s.enabled && s.kind == crate::source::SourceKind::Api && names.contains(n))
    {
        let summary = match RestSource::new(name, s) {
            Ok(src) => {
                let mut src = src.with_cache(store.clone(), clock.clone());
                sync_source(store, &mut src, s.overlap_minutes, clock).await
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_that_does_not_move_forward_stops_the_poll() {
        let r = Cursor::Revision;
        // Alternating cursors: the second page goes back.
        let mut p = Progress::default();
        assert!(p.check("s", &r(1), &r(2), true, 10).is_ok());
        let e = p
            .check("s", &r(2), &r(1), true, 10)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("went back from 2 to 1") && e.contains("what was stored is kept"),
            "{e}"
        );
        // A cursor that grows forever over empty pages.
        let mut p = Progress::default();
        let stopped = (0..100).position(|i| p.check("s", &r(i), &r(i + 1), true, 0).is_err());
        assert_eq!(stopped, Some(MAX_EMPTY_PAGES as usize - 1));
        // Pages that never end.
        let mut p = Progress::default();
        let stopped = (0..MAX_PAGES_PER_POLL + 5).position(|i| {
            p.check("s", &Cursor::Page(i), &Cursor::Page(i + 1), true, 1000)
                .is_err()
        });
        assert_eq!(stopped, Some(MAX_PAGES_PER_POLL as usize - 1));
        // The last page ends it, whatever it says.
        let mut p = Progress::default();
        assert!(p.check("s", &r(5), &r(0), false, 0).is_ok());
    }
}
