//! An outbox row's attachments, resolved before the message is built: a
//! letter from the database by its id (any instance can send it, whichever
//! one drafted it), else, for letters drafted before versions were kept in the
//! database (or rows queued before that), the file at its recorded path. Only
//! bytes with the SHA-256 recorded with the letter are ever attached.

use crate::letters::files::{read_verified, sha256_hex};
use crate::store::{OutboxRow, Store, StoreError};

/// One attachment: its file name in the message, and its bytes or why it is
/// left out (the message then says it could not be attached).
#[derive(Debug)]
pub struct Loaded {
    pub name: String,
    pub bytes: Result<Vec<u8>, String>,
}

/// The attachments of `row`, in order. Err only when the database cannot be
/// read (the message is tried again later rather than sent without them);
/// a letter that is gone or altered is a `Loaded` with its reason.
pub async fn load(store: &Store, row: &OutboxRow) -> Result<Vec<Loaded>, StoreError> {
    let listed: Vec<serde_json::Value> = serde_json::from_str(&row.attachments).unwrap_or_default();
    let mut out = Vec::with_capacity(listed.len());
    for a in listed {
        let text = |key| a.get(key).and_then(|v| v.as_str());
        let name = text("name").unwrap_or("tep-dinh-kem").to_owned();
        let path = text("path").unwrap_or_default();
        let sha = text("sha256");
        let stored = match a.get("letter_id").and_then(|v| v.as_i64()) {
            Some(id) => match store.letter_content(id).await {
                Ok(bytes) => bytes.map(Ok),
                // The stored bytes no longer have their recorded hash.
                Err(StoreError::Corrupt(reason)) => Some(Err(reason)),
                Err(e) => return Err(e),
            },
            None => None,
        };
        let bytes = match stored {
            Some(b) => b,
            // No bytes in the database (a version drafted before it kept them,
            // or a row queued before letter ids): its file. Rows queued before
            // hashes were recorded with attachments carry none.
            None => match sha {
                Some(sha) => read_verified(path, sha).map_err(|e| e.to_string()),
                None => std::fs::read(path).map_err(|e| format!("attachment {path}: {e}")),
            },
        };
        // The letter as it was when the message was queued, never another.
        let bytes = bytes.and_then(|b| match sha {
            Some(sha) if !sha256_hex(&b).eq_ignore_ascii_case(sha) => Err(format!(
                "attachment {name}: SHA-256 {} differs from {sha}, recorded when the message was queued",
                sha256_hex(&b)
            )),
            _ => Ok(b),
        });
        out.push(Loaded { name, bytes });
    }
    Ok(out)
}
