//! The audit trail: append-only and hash-chained. Every entry stores the hash of
//! the previous one; `verify` recomputes the chain and names the first broken
//! link. Writers lock the chain head first, so concurrent appends (several
//! instances on PostgreSQL) serialise instead of forking the chain.
//!
//! A chain alone proves nothing to someone who can write to the database: he
//! can edit an entry and recompute every hash after it, append entries, or
//! cut the tail and move the head. So the chain is sealed from outside it
//! (`AuditSeal`): with a key kept outside the database each entry's hash is
//! an HMAC (`hmac-sha256:…`) nobody without the key can recompute, and the
//! newest entry's id and hash are written to a witness file outside the
//! database after every append the service makes, so a cut tail or an
//! emptied table no longer matches what was witnessed.

use super::value::{DbTime, JsonText};
use super::{Context, Store, StoreError};
use crate::clock::fmt_db;
use chrono::NaiveDateTime;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};

pub const GENESIS: &str = "genesis";
/// The prefix of a keyed entry's hash.
const KEYED: &str = "hmac-sha256:";

/// What seals the chain from outside the database (see the module).
#[derive(Debug, Default)]
pub struct AuditSeal {
    /// The HMAC key (`audit.key_file`); `None`: plain SHA-256 hashes.
    key: Option<Vec<u8>>,
    /// Where the newest entry's id and hash are written (`audit.witness_file`).
    witness: Option<PathBuf>,
    /// The id last written to the witness (it only moves forward).
    witnessed: AtomicI64,
}

impl AuditSeal {
    pub fn new(key: Option<Vec<u8>>, witness: Option<PathBuf>) -> AuditSeal {
        AuditSeal {
            key,
            witness,
            witnessed: AtomicI64::new(0),
        }
    }

    pub fn key(&self) -> Option<&[u8]> {
        self.key.as_deref()
    }
}

/// The hash of one entry, chained to `prev`: an HMAC with `key`, else SHA-256.
pub fn entry_hash(
    key: Option<&[u8]>,
    prev: &str,
    at: &str,
    kind: &str,
    subject: &str,
    detail: &str,
) -> String {
    let parts = [prev, at, kind, subject, detail];
    match key {
        Some(key) => {
            // Any key length is accepted by HMAC.
            let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key)
                .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
            for part in parts {
                m.update(part.as_bytes());
                m.update(&[0u8]);
            }
            format!("{KEYED}{}", hex::encode(m.finalize().into_bytes()))
        }
        None => {
            let mut h = Sha256::new();
            for part in parts {
                h.update(part.as_bytes());
                h.update([0u8]);
            }
            hex::encode(h.finalize())
        }
    }
}

/// Appends one entry inside the transaction `$tx` (a `&mut *tx` executor).
/// The hash covers the time as stored text (`YYYY-MM-DD HH:MM:SS`), the same
/// whichever way the backend keeps it.
macro_rules! audit_append {
    ($tx:expr, $seal:expr, $at:expr, $kind:expr, $subject:expr, $detail:expr) => {{
        let key: Option<&[u8]> = $seal.key();
        let at: chrono::NaiveDateTime = $at;
        let kind: &str = $kind;
        let subject: String = $subject;
        let detail: String = $detail;
        // Taking the write lock on the head first serialises appenders.
        sqlx::query("UPDATE audit_head SET hash = hash WHERE id = 1")
            .execute(&mut *$tx)
            .await
            .ctx("locking the audit chain")?;
        let (prev,): (String,) = sqlx::query_as("SELECT hash FROM audit_head WHERE id = 1")
            .fetch_one(&mut *$tx)
            .await
            .ctx("reading the audit chain head")?;
        let hash = $crate::store::audit::entry_hash(key, &prev, &$crate::clock::fmt_db(at), kind, &subject, &detail);
        sqlx::query("INSERT INTO audit_log (at, kind, subject, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind($crate::store::value::DbTime(at))
            .bind(kind)
            .bind(subject)
            .bind($crate::store::value::JsonExact(&detail))
            .bind(prev)
            .bind(hash.clone())
            .execute(&mut *$tx)
            .await
            .ctx("appending to the audit trail")?;
        sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
            .bind(hash)
            .execute(&mut *$tx)
            .await
            .ctx("moving the audit chain head")?;
    }};
}
pub(crate) use audit_append;

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AuditRow {
    pub id: i64,
    pub at: String,
    pub kind: String,
    pub subject: String,
    pub detail: String,
}

/// The result of checking the chain.
#[derive(Debug, PartialEq, Eq)]
pub enum Verification {
    Intact {
        entries: u64,
        /// Keyed entries whose content could not be checked: no key given.
        unproven: u64,
        /// The entry id the witness file names, found with its hash; `None`:
        /// no witness configured (or none written yet).
        witnessed: Option<i64>,
    },
    /// The first entry whose link or hash does not match, and why.
    Broken { id: i64, reason: String },
}

type Row = (i64, DbTime, String, String, JsonText, String, String);

impl Store {
    /// One entry in its own transaction (API access, token changes, …).
    pub async fn audit(
        &self,
        kind: &str,
        subject: &str,
        detail: &serde_json::Value,
        now: NaiveDateTime,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await.ctx("starting an audit transaction")?;
            audit_append!(tx, self.seal, now, kind, subject.to_owned(), detail.to_string());
            tx.commit().await.ctx("committing the audit trail")?;
        });
        self.witness_audit().await
    }

    /// Writes the newest entry's id and hash to the witness file, if one is
    /// configured and the chain moved since it was last written. The file is
    /// replaced atomically (a reader never sees half of it).
    pub async fn witness_audit(&self) -> Result<(), StoreError> {
        let Some(path) = &self.seal.witness else {
            return Ok(());
        };
        let last: Option<(i64, String)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")
                .fetch_optional(pool).await.ctx("reading the audit chain head")?
        });
        let Some((id, hash)) = last else {
            return Ok(());
        };
        if self.seal.witnessed.fetch_max(id, Ordering::SeqCst) >= id {
            return Ok(());
        }
        let text = serde_json::json!({ "id": id, "hash": hash }).to_string();
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let io = |e: std::io::Error| StoreError::Witness(format!("{}: {e}", path.display()));
        std::fs::write(&tmp, text).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)?;
        Ok(())
    }

    /// Recomputes the whole chain, in id order, in pages: every link, every
    /// hash (keyed ones with the key), that no unkeyed entry follows a keyed
    /// one while a key is configured, and that the witnessed entry is there.
    pub async fn verify_audit(&self) -> Result<Verification, StoreError> {
        let key = self.seal.key();
        let witness = self.read_witness()?;
        let mut prev = GENESIS.to_owned();
        let mut after = 0i64;
        let (mut entries, mut unproven) = (0u64, 0u64);
        let mut keyed_seen = false;
        let mut witness_found = false;
        loop {
            let rows: Vec<Row> = with_pool!(self, pool => {
                sqlx::query_as("SELECT id, at, kind, subject, detail, prev_hash, hash FROM audit_log WHERE id > $1 ORDER BY id LIMIT 10000")
                    .bind(after).fetch_all(pool).await.ctx("reading the audit trail")?
            });
            let Some(last) = rows.last() else { break };
            after = last.0;
            for (id, at, kind, subject, JsonText(detail), prev_hash, hash) in rows {
                let broken = |reason: String| Ok(Verification::Broken { id, reason });
                let at = fmt_db(at.0);
                if prev_hash != prev {
                    return broken(format!(
                        "it links to {prev_hash}, but the entry before it hashes to {prev} (an entry was removed or changed)"
                    ));
                }
                let keyed = hash.starts_with(KEYED);
                if keyed {
                    keyed_seen = true;
                } else if keyed_seen {
                    return broken(
                        "an entry without the key's seal follows sealed ones (an entry was added or rewritten without the key)".into(),
                    );
                }
                match (keyed, key) {
                    (true, None) => unproven += 1,
                    (true, Some(k)) => {
                        if entry_hash(Some(k), &prev, &at, &kind, &subject, &detail) != hash {
                            return broken(
                                "its content does not match its sealed hash (the entry was edited, or the key is not the one it was sealed with)".into(),
                            );
                        }
                    }
                    (false, _) => {
                        if entry_hash(None, &prev, &at, &kind, &subject, &detail) != hash {
                            return broken(
                                "its content does not match its hash (the entry was edited)".into(),
                            );
                        }
                    }
                }
                if let Some((wid, whash)) = &witness
                    && *wid == id
                {
                    if *whash != hash {
                        return broken(format!(
                            "the witness file says its hash is {whash}, the database {hash} (the chain was rewritten from here or before)"
                        ));
                    }
                    witness_found = true;
                }
                prev = hash;
                entries += 1;
            }
        }
        let (head,): (String,) = with_pool!(self, pool => {
            sqlx::query_as("SELECT hash FROM audit_head WHERE id = 1").fetch_one(pool).await.ctx("reading the audit chain head")?
        });
        if head != prev {
            return Ok(Verification::Broken {
                id: after + 1,
                reason: format!(
                    "the chain head is {head} but the last entry hashes to {prev} (entries after id {after} were removed)"
                ),
            });
        }
        if let Some((wid, _)) = witness
            && !witness_found
        {
            return Ok(Verification::Broken {
                id: wid,
                reason: format!(
                    "the witness file names entry {wid}, which is not in the database (the chain was cut or emptied: it ends at {after})"
                ),
            });
        }
        Ok(Verification::Intact {
            entries,
            unproven,
            witnessed: witness.map(|w| w.0),
        })
    }

    /// The witness file's (id, hash), if one is configured and written.
    fn read_witness(&self) -> Result<Option<(i64, String)>, StoreError> {
        let Some(path) = &self.seal.witness else {
            return Ok(None);
        };
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::Witness(format!("{}: {e}", path.display()))),
        };
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| StoreError::Witness(format!("{}: {e}", path.display())))?;
        match (v["id"].as_i64(), v["hash"].as_str()) {
            (Some(id), Some(h)) => Ok(Some((id, h.to_owned()))),
            _ => Err(StoreError::Witness(format!(
                "{}: expected {{\"id\": N, \"hash\": \"…\"}}",
                path.display()
            ))),
        }
    }

    /// Entries of one kind about one subject, oldest first.
    pub async fn audit_entries(&self, kind: &str, limit: i64) -> Result<Vec<AuditRow>, StoreError> {
        let rows: Vec<(i64, DbTime, String, String, JsonText)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT id, at, kind, subject, detail FROM audit_log WHERE kind = $1 ORDER BY id DESC LIMIT $2")
                .bind(kind).bind(limit).fetch_all(pool).await.ctx("reading the audit trail")?
        });
        Ok(rows
            .into_iter()
            .rev()
            .map(|(id, at, kind, subject, detail)| AuditRow {
                id,
                at: fmt_db(at.0),
                kind,
                subject,
                detail: detail.0,
            })
            .collect())
    }
}
