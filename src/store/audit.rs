//! The audit trail: append-only and hash-chained. Every entry stores the hash of
//! the previous one; `verify` recomputes the chain and names the first broken
//! link. Writers lock the chain head first, so concurrent appends (several
//! instances on PostgreSQL) serialise instead of forking the chain.

use super::value::{DbTime, JsonText};
use super::{Context, Store, StoreError};
use crate::clock::fmt_db;
use chrono::NaiveDateTime;
use sha2::{Digest, Sha256};

pub const GENESIS: &str = "genesis";

/// The hash of one entry, chained to `prev`.
pub fn entry_hash(prev: &str, at: &str, kind: &str, subject: &str, detail: &str) -> String {
    let mut h = Sha256::new();
    for part in [prev, at, kind, subject, detail] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

/// Appends one entry inside the transaction `$tx` (a `&mut *tx` executor).
/// The hash covers the time as stored text (`YYYY-MM-DD HH:MM:SS`), the same
/// whichever way the backend keeps it.
macro_rules! audit_append {
    ($tx:expr, $at:expr, $kind:expr, $subject:expr, $detail:expr) => {{
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
        let hash = $crate::store::audit::entry_hash(&prev, &$crate::clock::fmt_db(at), kind, &subject, &detail);
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
    },
    /// The first entry whose link or hash does not match, and why.
    Broken {
        id: i64,
        reason: String,
    },
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
            audit_append!(tx, now, kind, subject.to_owned(), detail.to_string());
            tx.commit().await.ctx("committing the audit trail")?;
            Ok(())
        })
    }

    /// Recomputes the whole chain, in id order, in pages.
    pub async fn verify_audit(&self) -> Result<Verification, StoreError> {
        let mut prev = GENESIS.to_owned();
        let mut after = 0i64;
        let mut entries = 0u64;
        loop {
            let rows: Vec<Row> = with_pool!(self, pool => {
                sqlx::query_as("SELECT id, at, kind, subject, detail, prev_hash, hash FROM audit_log WHERE id > $1 ORDER BY id LIMIT 10000")
                    .bind(after).fetch_all(pool).await.ctx("reading the audit trail")?
            });
            let Some(last) = rows.last() else { break };
            after = last.0;
            for (id, at, kind, subject, JsonText(detail), prev_hash, hash) in rows {
                let at = fmt_db(at.0);
                if prev_hash != prev {
                    return Ok(Verification::Broken {
                        id,
                        reason: format!(
                            "it links to {prev_hash}, but the entry before it hashes to {prev} (an entry was removed or changed)"
                        ),
                    });
                }
                let expected = entry_hash(&prev, &at, &kind, &subject, &detail);
                if expected != hash {
                    return Ok(Verification::Broken {
                        id,
                        reason: "its content does not match its hash (the entry was edited)".into(),
                    });
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
        Ok(Verification::Intact { entries })
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
