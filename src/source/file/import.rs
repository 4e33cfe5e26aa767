//! One file into the store: read on a blocking thread, its rows mapped and
//! sent in batches to the sync writer (the same content hash, counts and
//! quarantine as a poll), so memory holds a batch, not the file. Safe to
//! repeat: a file already imported (same SHA-256) writes nothing, a later
//! export updates what changed, and nothing a file does not mention is
//! deleted unless the file is declared a full snapshot.

use super::FileError;
use super::layout::Layout;
use super::read::{Format, ReadInfo, read_rows};
use super::table::{Header, Row, Skip, Table};
use crate::clock::{Clock, fmt_db};
use crate::source::Parsed;
use crate::source::record::map_value;
use crate::store::{Incoming, PageOutcome, QuarantineRecord, Store, SyncRun};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Rows mapped per batch sent to the writer (and stored per transaction).
const BATCH_ROWS: usize = 5_000;
/// The source cache's kind under which imported files' SHA-256 are kept.
const RECEIPTS: &str = "file_import";
/// The most of a file's rows that may be quarantined before the import
/// counts as unusable (as a poll's), once it has at least `MIN_JUDGED`.
const MAX_QUARANTINED_SHARE: f64 = 0.5;
const MIN_JUDGED: u64 = 10;
/// Bad rows listed one by one in the summary.
const LISTED_BAD_ROWS: usize = 20;

/// How to import: for which source, with which layout and overrides.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    pub source: String,
    /// A preset's name; None: recognised from the header row.
    pub layout: Option<String>,
    pub columns: Option<Value>,
    pub mapping: Option<Value>,
    /// The file is the source's whole list: what it does not mention is
    /// marked deleted.
    pub snapshot: bool,
    pub agencies: Vec<String>,
}

impl ImportOptions {
    /// A configured source's options.
    pub fn from_settings(name: &str, s: &crate::source::SourceSettings) -> ImportOptions {
        ImportOptions {
            source: name.to_owned(),
            layout: s.layout.clone(),
            columns: s.columns.clone(),
            mapping: s.mapping.clone(),
            snapshot: s.snapshot,
            agencies: s.agencies.clone(),
        }
    }
}

/// What importing one file did.
#[derive(Clone, Debug, Default)]
pub struct ImportSummary {
    pub file: PathBuf,
    pub source: String,
    pub sha256: String,
    pub format: Option<Format>,
    pub encoding: Option<&'static str>,
    pub sheet: Option<String>,
    pub layout: Option<String>,
    /// The header's (last) row.
    pub header_row: Option<usize>,
    /// Rows that were dossiers (stored, unchanged or quarantined).
    pub rows: u64,
    pub outcome: PageOutcome,
    /// Rows not read as dossiers, by why.
    pub skipped: BTreeMap<&'static str, u64>,
    /// Quarantined rows by reason (without the row's values and number).
    pub reasons: BTreeMap<String, u64>,
    /// The first bad rows' reasons, with their row numbers.
    pub bad_rows: Vec<String>,
    /// Dossiers stored without an optional part that could not be read.
    pub warned: u64,
    /// When the same file (same SHA-256) was imported before: nothing read.
    pub already_imported: Option<String>,
    pub elapsed: std::time::Duration,
    pub error: Option<String>,
    /// The error was the database's, not the file's: try the file again.
    pub retry: bool,
}

impl ImportSummary {
    /// Whether the file gave nothing usable (the CLI's failure).
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }

    /// The receipt written beside a processed file.
    pub fn receipt(&self) -> Value {
        json!({
            "file": self.file.file_name().map(|n| n.to_string_lossy().into_owned()),
            "source": self.source,
            "sha256": self.sha256,
            "format": self.format.map(Format::as_str),
            "encoding": self.encoding,
            "sheet": self.sheet,
            "layout": self.layout,
            "header_row": self.header_row,
            "rows_read": self.rows,
            "new": self.outcome.created,
            "changed": self.outcome.changed,
            "unchanged": self.outcome.unchanged,
            "deleted": self.outcome.deleted,
            "quarantined": self.outcome.quarantined,
            "quarantined_by_reason": self.reasons,
            "bad_rows": self.bad_rows,
            "skipped_rows": self.skipped,
            "stored_with_warnings": self.warned,
            "already_imported_at": self.already_imported,
            "seconds": self.elapsed.as_secs_f64(),
            "error": self.error,
        })
    }

    fn skip(&mut self, s: Skip) {
        let k = match s {
            Skip::Empty => "empty",
            Skip::Numbering => "column_numbers",
            Skip::NotADossier => "not_a_dossier",
            Skip::Footer => "totals_and_signatures",
        };
        *self.skipped.entry(k).or_default() += 1;
    }

    fn judge(&mut self) {
        if self.error.is_some() || self.already_imported.is_some() {
            return;
        }
        let q = self.outcome.quarantined;
        if self.rows == 0 {
            self.error = Some(format!(
                "{}no dossier rows below the header (row {})",
                crate::source::UNUSABLE,
                self.header_row.unwrap_or(0)
            ));
        } else if self.rows >= MIN_JUDGED && q as f64 > self.rows as f64 * MAX_QUARANTINED_SHARE {
            self.error = Some(format!(
                "{}{q} of {} rows quarantined; check the layout and the source's `columns` and `mapping`",
                crate::source::UNUSABLE,
                self.rows
            ));
        }
    }
}

/// Vietnamese, for the centre's staff who run the import.
impl fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self
            .file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(at) = &self.already_imported {
            return write!(
                f,
                "Tệp {name} → nguồn {}: đã nhập lúc {at} (cùng nội dung), không ghi gì thêm",
                self.source
            );
        }
        write!(f, "Tệp {name} → nguồn {}", self.source)?;
        let mut about = Vec::new();
        if let Some(fmt) = self.format {
            about.push(fmt.as_str().to_owned());
        }
        if let Some(e) = self.encoding {
            about.push(format!("mã hóa {e}"));
        }
        if let Some(l) = &self.layout {
            about.push(format!("mẫu {l}"));
        }
        if let Some(r) = self.header_row {
            about.push(format!("dòng tiêu đề {r}"));
        }
        if !about.is_empty() {
            write!(f, " ({})", about.join(", "))?;
        }
        let o = &self.outcome;
        write!(
            f,
            "\n  dòng hồ sơ đã đọc: {}; mới: {}; thay đổi: {}; không đổi: {}; đánh dấu xóa: {}; cách ly: {}",
            self.rows, o.created, o.changed, o.unchanged, o.deleted, o.quarantined
        )?;
        if self.warned > 0 {
            write!(f, "; lưu kèm cảnh báo: {}", self.warned)?;
        }
        if !self.skipped.is_empty() {
            let s: Vec<String> = self
                .skipped
                .iter()
                .map(|(k, n)| {
                    let what = match *k {
                        "empty" => "dòng trống",
                        "column_numbers" => "dòng số thứ tự cột",
                        "not_a_dossier" => "dòng không phải hồ sơ",
                        _ => "dòng tổng cộng, chữ ký",
                    };
                    format!("{n} {what}")
                })
                .collect();
            write!(f, "\n  bỏ qua: {}", s.join(", "))?;
        }
        if !self.reasons.is_empty() {
            write!(f, "\n  cách ly theo lý do:")?;
            for (r, n) in &self.reasons {
                write!(f, "\n    {n} × {r}")?;
            }
            for b in &self.bad_rows {
                write!(f, "\n    - {b}")?;
            }
        }
        write!(f, "\n  thời gian: {:.2} s", self.elapsed.as_secs_f64())?;
        if let Some(e) = &self.error {
            write!(f, "\n  LỖI: {e}")?;
        }
        Ok(())
    }
}

/// The file's SHA-256, read in blocks.
fn sha256_of(path: &Path) -> Result<String, FileError> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let io = |e: std::io::Error| FileError::Unreadable {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// What the reading thread sends the writer.
struct Batch {
    dossiers: Vec<Incoming>,
    skipped_codes: Vec<String>,
    bad: Vec<(QuarantineRecord, String)>,
    warned: u64,
    /// Codes the batch mentions (kept by a snapshot).
    codes: Vec<String>,
}

/// What the reading thread found besides the batches.
struct Finding {
    info: ReadInfo,
    layout: String,
    header_row: usize,
    rows: u64,
    skipped: Vec<Skip>,
}

/// Imports one file into the store (see the module's comment). Errors that
/// stop the file (unreadable, no header) are in the summary's `error`; what
/// was stored before stays.
pub async fn import_file(
    store: &Store,
    path: &Path,
    opts: &ImportOptions,
    clock: &Clock,
) -> ImportSummary {
    let started = Instant::now();
    let started_at = clock.now_vn();
    let mut summary = ImportSummary {
        file: path.to_owned(),
        source: opts.source.clone(),
        ..ImportSummary::default()
    };
    let result = run(store, path, opts, clock, &mut summary).await;
    summary.elapsed = started.elapsed();
    if let Err(e) = result {
        summary.retry = matches!(e, FileError::Store(_));
        summary.error = Some(e.to_string());
    }
    if summary.already_imported.is_some() {
        return summary;
    }
    summary.judge();
    let run = SyncRun {
        source: opts.source.clone(),
        started_at,
        finished_at: clock.now_vn(),
        fetched: summary.rows,
        outcome: summary.outcome,
        error: summary.error.clone(),
    };
    // The source's freshness: a file source is fresh when a file arrived.
    if let Err(e) = store.finish_sync(&run).await {
        summary.retry = true;
        summary.error.get_or_insert_with(|| e.to_string());
    }
    if summary.error.is_none() {
        let entry = (
            summary.sha256.clone(),
            fmt_db(clock.now_vn()),
            summary.receipt().to_string(),
        );
        if let Err(e) = store
            .cache_put(&opts.source, RECEIPTS, &[entry], clock.now_vn())
            .await
        {
            summary.retry = true;
            summary.error = Some(e.to_string());
        }
    }
    summary
}

async fn run(
    store: &Store,
    path: &Path,
    opts: &ImportOptions,
    clock: &Clock,
    summary: &mut ImportSummary,
) -> Result<(), FileError> {
    let p = path.to_owned();
    summary.sha256 = tokio::task::spawn_blocking(move || sha256_of(&p))
        .await
        .map_err(|e| FileError::Io {
            path: path.to_owned(),
            message: e.to_string(),
        })??;
    if let Some(e) = store
        .cache_get(
            &opts.source,
            RECEIPTS,
            std::slice::from_ref(&summary.sha256),
        )
        .await?
        .remove(&summary.sha256)
    {
        summary.already_imported = Some(e.stamp);
        return Ok(());
    }
    let layouts = match &opts.layout {
        Some(name) => vec![Layout::resolve(
            name,
            opts.columns.as_ref(),
            opts.mapping.as_ref(),
        )?],
        None => Layout::all(opts.columns.as_ref(), opts.mapping.as_ref())?,
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Batch>(2);
    let p = path.to_owned();
    let agencies = opts.agencies.clone();
    let reader = tokio::task::spawn_blocking(move || read_file(&p, layouts, agencies, tx));
    let mut writer = Some(store.sync_writer().await?);
    let mut seen: HashSet<String> = HashSet::new();
    let mut write_error = None;
    while let Some(b) = rx.recv().await {
        summary.warned += b.warned;
        let mut bad = Vec::with_capacity(b.bad.len());
        for (q, head) in b.bad {
            *summary.reasons.entry(head).or_default() += 1;
            if summary.bad_rows.len() < LISTED_BAD_ROWS {
                summary.bad_rows.push(q.reason.clone());
            }
            bad.push(q);
        }
        if opts.snapshot {
            seen.extend(b.codes);
        }
        let Some(w) = writer.take() else { break };
        match w
            .apply_page(
                &opts.source,
                &b.dossiers,
                &b.skipped_codes,
                &bad,
                None,
                clock.now_vn(),
            )
            .await
        {
            Ok((o, w)) => {
                summary.outcome.add(o);
                writer = Some(w);
            }
            Err(e) => {
                // Dropping the receiver stops the reader.
                write_error = Some(e);
                break;
            }
        }
    }
    drop(rx);
    let finding = reader.await.map_err(|e| FileError::Io {
        path: path.to_owned(),
        message: format!("the reading thread failed: {e}"),
    })?;
    if let Some(e) = write_error {
        return Err(e.into());
    }
    let finding = finding?;
    summary.format = Some(finding.info.format);
    summary.encoding = finding.info.encoding;
    summary.sheet = finding.info.sheet;
    summary.layout = Some(finding.layout);
    summary.header_row = Some(finding.header_row);
    summary.rows = finding.rows;
    for s in finding.skipped {
        summary.skip(s);
    }
    // A snapshot deletes only after a whole, usable file: a file cut short
    // or mostly bad must not empty the source.
    let mut probe = summary.clone();
    probe.judge();
    if opts.snapshot && probe.error.is_none() {
        let gone: Vec<String> = store
            .live_codes(&opts.source)
            .await?
            .into_iter()
            .filter(|c| !seen.contains(c))
            .collect();
        if !gone.is_empty()
            && let Some(w) = writer.take()
        {
            let (o, w) = w
                .apply_page(&opts.source, &[], &gone, &[], None, clock.now_vn())
                .await?;
            summary.outcome.add(o);
            writer = Some(w);
        }
    }
    if let Some(w) = writer {
        w.close().await;
    }
    Ok(())
}

/// The reading thread: rows → table → mapped records, in batches.
fn read_file(
    path: &Path,
    mut layouts: Vec<Layout>,
    agencies: Vec<String>,
    tx: tokio::sync::mpsc::Sender<Batch>,
) -> Result<Finding, FileError> {
    for l in &mut layouts {
        l.mapping.agencies = agencies.clone();
    }
    let mut table = Table::new(&layouts);
    let mut rows = 0u64;
    let mut skipped = Vec::new();
    let new_batch = || Batch {
        dossiers: Vec::with_capacity(BATCH_ROWS),
        skipped_codes: Vec::new(),
        bad: Vec::new(),
        warned: 0,
        codes: Vec::new(),
    };
    let mut batch = new_batch();
    let mut in_batch = 0usize;
    let info = read_rows(path, &mut |n, cells| {
        let (row, rec) = match table.push(n, cells)? {
            Row::Heading => return Ok(()),
            Row::Skipped(s) => {
                skipped.push(s);
                return Ok(());
            }
            Row::Record(row, rec) => (row, rec),
        };
        rows += 1;
        let Some(header) = table.header() else {
            return Ok(());
        };
        let layout = &layouts[header.layout];
        match map_value(&layout.mapping, rec) {
            Parsed::Dossier(d, warnings) => {
                if !warnings.is_empty() {
                    batch.warned += 1;
                    tracing::warn!(file = %path.display(), row, code = %d.dossier.code, warnings = %warnings.join("; "), "dossier stored without a part it could not read");
                }
                batch.codes.push(d.dossier.code.clone());
                batch.dossiers.push(*d);
            }
            Parsed::Skipped(code, _) => batch.skipped_codes.push(code),
            Parsed::Bad(q) => {
                let (reason, head) = locate(&q.reason, header, row);
                if let Some(c) = &q.code {
                    batch.codes.push(c.clone());
                }
                // The row's cells as the mapping saw them, and where.
                let q = QuarantineRecord {
                    code: q.code,
                    reason,
                    raw: format!("{{\"row\":{row},\"cells\":{}}}", q.raw),
                };
                batch.bad.push((q, head));
            }
            // A file has no deletions nor follow-up requests.
            Parsed::Deleted(_) | Parsed::Pending(_) => {}
        }
        in_batch += 1;
        if in_batch >= BATCH_ROWS {
            in_batch = 0;
            let full = std::mem::replace(&mut batch, new_batch());
            tx.blocking_send(full).map_err(|_| FileError::Stopped)?;
        }
        Ok(())
    })?;
    table.finish()?;
    if in_batch > 0 {
        tx.blocking_send(batch).map_err(|_| FileError::Stopped)?;
    }
    let header: &Header = table
        .header()
        .ok_or_else(|| FileError::NoHeader("no header".into()))?;
    Ok(Finding {
        info,
        layout: layouts[header.layout].name.clone(),
        header_row: header.row,
        rows,
        skipped,
    })
}

/// A mapping's reason with the column named as people see it ("field
/// due_at (column F "Ngày hẹn trả"): …") and the row number at its end;
/// and its head (the part before the row's own values) for the counts.
fn locate(reason: &str, header: &Header, row: usize) -> (String, String) {
    let mut r = reason.to_owned();
    for c in &header.columns {
        let pointer = format!("(/{})", c.key);
        if r.contains(&pointer)
            && let Some(d) = header.describe(&c.key)
        {
            r = r.replace(&pointer, &format!("({d})"));
        }
    }
    // A field the file lacks is named by its pointers: say so plainly.
    let head: String = r
        .split(": '")
        .next()
        .unwrap_or(&r)
        .chars()
        .take(120)
        .collect();
    (format!("{r} (row {row})"), head)
}
