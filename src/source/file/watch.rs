//! A watched folder as a source: each poll imports the files that have
//! settled (not modified for `settle_secs`, and the same size and time at a
//! second look just before reading, so a file still being copied is not
//! read half), oldest first, and moves each to `processed/` with a
//! `.receipt.json` beside it; a file that cannot be read goes to
//! `rejected/` with its receipt naming why. A database error leaves the
//! file where it is for the next poll. One bad file never stops the others.

use super::FileError;
use super::import::{ImportOptions, ImportSummary, import_file};
use crate::clock::Clock;
use crate::source::SourceSettings;
use crate::source::sync::SyncSummary;
use crate::store::Store;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

const DEFAULT_PATTERN: &str = "*.xlsx,*.xls,*.csv";
pub const PROCESSED: &str = "processed";
pub const REJECTED: &str = "rejected";

/// Whether `name` matches a `*`/`?` wildcard pattern (case-insensitive).
pub fn matches(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) => a == b && go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    let p: Vec<char> = pattern.trim().to_lowercase().chars().collect();
    let n: Vec<char> = name.to_lowercase().chars().collect();
    go(&p, &n)
}

/// Files of the folder the patterns take, oldest first, with their size
/// and modification time (Excel's `~$` lock files and hidden files left).
fn candidates(folder: &Path, patterns: &str) -> Result<Vec<(PathBuf, u64, SystemTime)>, FileError> {
    let io = |e: std::io::Error| FileError::Io {
        path: folder.to_owned(),
        message: e.to_string(),
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(folder).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("~$") || name.starts_with('.') {
            continue;
        }
        if !patterns.split(',').any(|p| matches(p, &name)) {
            continue;
        }
        let meta = entry.metadata().map_err(io)?;
        if !meta.is_file() {
            continue;
        }
        out.push((
            entry.path(),
            meta.len(),
            meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        ));
    }
    out.sort_by(|a, b| a.2.cmp(&b.2).then_with(|| a.0.cmp(&b.0)));
    Ok(out)
}

/// Where a file goes: `dir/NAME`, or with the time in front when a file
/// of that name is there already.
fn destination(dir: &Path, name: &str, clock: &Clock) -> PathBuf {
    let plain = dir.join(name);
    if !plain.exists() {
        return plain;
    }
    let stamp = clock.now_vn().format("%Y%m%d-%H%M%S");
    dir.join(format!("{stamp}-{name}"))
}

/// Moves the file into `sub` with its receipt beside it.
fn file_away(
    path: &Path,
    sub: &str,
    summary: &ImportSummary,
    clock: &Clock,
) -> Result<PathBuf, FileError> {
    let folder = path.parent().unwrap_or(Path::new("."));
    let dir = folder.join(sub);
    let io = |p: &Path, e: std::io::Error| FileError::Io {
        path: p.to_owned(),
        message: e.to_string(),
    };
    std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let to = destination(&dir, &name, clock);
    let receipt = to.with_file_name(format!(
        "{}.receipt.json",
        to.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    let body = serde_json::to_string_pretty(&summary.receipt()).unwrap_or_default();
    std::fs::write(&receipt, body).map_err(|e| io(&receipt, e))?;
    std::fs::rename(path, &to).map_err(|e| io(path, e))?;
    Ok(to)
}

/// One poll of a file source: every settled file imported and filed away.
/// Its summary adds up the files'; freshness is recorded per file imported
/// (a poll that found no file records nothing, so the source goes stale
/// when no file comes).
pub async fn poll_folder(
    store: &Store,
    name: &str,
    settings: &SourceSettings,
    clock: &Clock,
) -> SyncSummary {
    let started = Instant::now();
    let mut total = SyncSummary {
        source: name.to_owned(),
        ..SyncSummary::default()
    };
    let Some(folder) = settings.folder.as_deref() else {
        total.error = Some(format!("sources.{name}.folder is not set"));
        return total;
    };
    let patterns = settings.pattern.as_deref().unwrap_or(DEFAULT_PATTERN);
    let files = match candidates(folder, patterns) {
        Ok(f) => f,
        Err(e) => {
            total.error = Some(e.to_string());
            return total;
        }
    };
    let settle = Duration::from_secs(settings.settle_secs);
    let opts = ImportOptions::from_settings(name, settings);
    for (path, len, mtime) in files {
        // Still being written: taken at a later poll.
        let age = SystemTime::now().duration_since(mtime).unwrap_or_default();
        let again = std::fs::metadata(&path).ok();
        let same = again.is_some_and(|m| {
            m.len() == len && m.modified().unwrap_or(SystemTime::UNIX_EPOCH) == mtime
        });
        if age < settle || !same {
            tracing::debug!(source = name, file = %path.display(), "file not settled yet");
            continue;
        }
        let s = import_file(store, &path, &opts, clock).await;
        tracing::info!(source = name, file = %path.display(), summary = %s, "file imported");
        total.pages += 1;
        total.fetched += s.rows;
        total.outcome.add(s.outcome);
        total.warned += s.warned;
        for (r, n) in &s.reasons {
            *total.reasons.entry(r.clone()).or_default() += n;
        }
        if s.retry {
            total.error = s.error.clone();
            continue;
        }
        let sub = if s.error.is_some() {
            REJECTED
        } else {
            PROCESSED
        };
        match file_away(&path, sub, &s, clock) {
            Ok(to) => tracing::info!(source = name, to = %to.display(), "file filed away"),
            Err(e) => {
                tracing::error!(source = name, error = %e, "file could not be moved");
                total.error = Some(e.to_string());
            }
        }
        if let Some(e) = &s.error {
            total.error = Some(format!("{}: {e}", path.display()));
        }
    }
    total.elapsed = started.elapsed();
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_take_the_exports() {
        assert!(matches("*.xlsx", "So theo doi 11-2026.XLSX"));
        assert!(matches("so_*.csv", "so_11.csv"));
        assert!(!matches("*.xlsx", "so.xlsx.part"));
        assert!(matches("bao?cao.xls", "bao-cao.xls"));
    }
}
