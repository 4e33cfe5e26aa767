//! Where a letter's file lives, and writing and reading it safely. A file is
//! named by (source, code, version): codes are unique only within a source,
//! and two codes that look alike once made safe for a file name (`A/B`,
//! `A_B`) must not share one, or one citizen's letter is mailed about
//! another's dossier. So the name carries a digest of the exact source and
//! code. A file is written once, atomically and never over another; it is read
//! back only when its content still has the SHA-256 recorded with it.

use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The database could not be read, or its copy failed its check.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("writing letter file {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "letter file {path} already exists with other content; it is left as it is (move it away if it is not a letter of this database)"
    )]
    Exists { path: String },
    #[error(
        "reading letter file {path}: {source}; `tthc-watch letter CODE` writes the draft again"
    )]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "letter file {path} was changed or replaced on disk (SHA-256 {found}, recorded {recorded}); it is not used"
    )]
    Tampered {
        path: String,
        found: String,
        recorded: String,
    },
}

/// The SHA-256 of a letter's bytes, as recorded (lower-case hex).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A letter version's bytes as recorded: from the database, or, for a
/// version drafted before the database kept them, from its file; either only
/// with the SHA-256 recorded with it (an error otherwise).
pub async fn stored_bytes(
    store: &crate::store::Store,
    letter: &crate::store::LetterRecord,
) -> Result<Vec<u8>, FileError> {
    match store.letter_content(letter.id).await? {
        Some(bytes) => Ok(bytes),
        None => read_verified(&letter.path, &letter.sha256),
    }
}

/// `DIR/SOURCE/CODE-KEY-vN.docx`: the source and code made safe for a file
/// name (readable), and KEY, the first 12 hex digits of the SHA-256 of the
/// exact source and code (unique).
pub fn letter_path(dir: &Path, source: &str, code: &str, version: i64) -> PathBuf {
    let mut h = Sha256::new();
    h.update(source.as_bytes());
    h.update([0]);
    h.update(code.as_bytes());
    let key = &hex::encode(h.finalize())[..12];
    dir.join(safe(source))
        .join(format!("{}-{key}-v{version}.docx", safe(code)))
}

/// ASCII letters, digits, `.` and `-` kept; anything else `_`; never empty and
/// never a name that means a directory.
fn safe(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.chars().all(|c| c == '.') {
        format!("_{out}")
    } else {
        out
    }
}

/// Writes `bytes` at `path` unless a file is there: through a temporary file
/// in the same directory (never seen half-written), then linked into place,
/// which fails rather than replace a file. A file already there with the same
/// content is taken as written (a crash after writing, before recording).
/// Directories are made 0700 and files 0600 on Unix: letters hold citizens'
/// names and dossiers.
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    let err = |source| FileError::Write {
        path: path.display().to_string(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(err)?;

    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("letter"),
        std::process::id()
    ));
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    // Not synced to disk: a draft lost in a power cut is caught by its
    // SHA-256 when read back, and a check drafts thousands at once.
    let written = open.open(&tmp).and_then(|mut f| f.write_all(bytes));
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => match std::fs::read(path) {
            Ok(there) if there == bytes => Ok(()),
            _ => Err(FileError::Exists {
                path: path.display().to_string(),
            }),
        },
        Err(e) => Err(err(e)),
    }
}

/// A letter's bytes, only if they still have the recorded SHA-256.
pub fn read_verified(path: &str, recorded: &str) -> Result<Vec<u8>, FileError> {
    let bytes = std::fs::read(path).map_err(|source| FileError::Read {
        path: path.to_owned(),
        source,
    })?;
    let found = sha256_hex(&bytes);
    if !found.eq_ignore_ascii_case(recorded) {
        return Err(FileError::Tampered {
            path: path.to_owned(),
            found,
            recorded: recorded.to_owned(),
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alike_codes_and_sources_get_their_own_files() {
        let dir = Path::new("/l");
        let paths = [
            letter_path(dir, "tinh", "A/B", 1),
            letter_path(dir, "tinh", "A_B", 1),
            letter_path(dir, "tinh", "A:B", 1),
            letter_path(dir, "phuong", "A/B", 1),
            letter_path(dir, "tinh", "A/B", 2),
        ];
        for (i, a) in paths.iter().enumerate() {
            for b in &paths[i + 1..] {
                assert_ne!(a, b);
            }
        }
        let p = letter_path(dir, "tinh", "../../etc/passwd", 1);
        assert!(p.starts_with("/l/tinh/"), "{}", p.display());
        assert_eq!(p.components().count(), 4, "{}", p.display());
        assert!(letter_path(dir, "..", "x", 1).starts_with("/l/_.."));
    }

    #[test]
    fn a_file_is_never_overwritten_and_read_back_only_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s").join("a-v1.docx");
        write_new(&path, b"one").unwrap();
        // The same content again: taken as written.
        write_new(&path, b"one").unwrap();
        assert!(matches!(
            write_new(&path, b"two"),
            Err(FileError::Exists { .. })
        ));
        let p = path.to_str().unwrap();
        assert_eq!(read_verified(p, &sha256_hex(b"one")).unwrap(), b"one");
        std::fs::write(&path, b"forged").unwrap();
        assert!(matches!(
            read_verified(p, &sha256_hex(b"one")),
            Err(FileError::Tampered { .. })
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path.parent().unwrap())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o700);
        }
    }
}
