//! Follow-up replies of a source kept between polls: a dossier's details, a
//! catalogue. Each entry is one (source, kind, key) with the source's stamp of
//! its version (an update time, an ETag), so that a poll asks again only for
//! what changed.

use super::value::DbTime;
use super::{Backend, Context, Store, StoreError, placeholders};
use chrono::NaiveDateTime;
use std::collections::HashMap;

/// Keys per read (`cache_get`).
const GET_CHUNK: usize = 500;
/// Entries per written statement, three parameters each.
const PUT_CHUNK: usize = 500;

/// One cached reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheEntry {
    /// The source's mark of the version cached.
    pub stamp: String,
    pub body: String,
    /// When it was fetched (Vietnam time).
    pub fetched_at: NaiveDateTime,
}

type EntryRow = (String, String, String, DbTime);

fn entry((key, stamp, body, fetched_at): EntryRow) -> (String, CacheEntry) {
    (
        key,
        CacheEntry {
            stamp,
            body,
            fetched_at: fetched_at.0,
        },
    )
}

/// `entries` with a key given twice kept once, the last one (one statement
/// cannot upsert a row twice on PostgreSQL), in the order first given.
fn last_per_key(entries: &[(String, String, String)]) -> Vec<&(String, String, String)> {
    let mut at: HashMap<&str, usize> = HashMap::with_capacity(entries.len());
    let mut out: Vec<&(String, String, String)> = Vec::with_capacity(entries.len());
    for e in entries {
        match at.get(e.0.as_str()) {
            Some(&i) => out[i] = e,
            None => {
                at.insert(&e.0, out.len());
                out.push(e);
            }
        }
    }
    out
}

/// The rows of an upsert of `n` entries: `$1` the source, `$2` the kind, `$3`
/// the time, then key, stamp and body of each.
fn value_rows(n: usize) -> String {
    (0..n)
        .map(|i| {
            let p = 4 + 3 * i;
            format!("($1, $2, ${p}, ${}, ${}, $3)", p + 1, p + 2)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Upserts `$entries` (deduplicated) for `$source`/`$kind` inside the
/// transaction `$tx`, a few hundred per statement.
macro_rules! upsert_entries {
    ($tx:expr, $source:expr, $kind:expr, $now:expr, $entries:expr) => {
        for chunk in last_per_key($entries).chunks(PUT_CHUNK) {
            let sql = format!(
                "INSERT INTO source_cache (source, kind, key, stamp, body, fetched_at) VALUES {} \
                 ON CONFLICT (source, kind, key) DO UPDATE SET stamp = excluded.stamp, body = excluded.body, \
                 fetched_at = excluded.fetched_at",
                value_rows(chunk.len())
            );
            let mut q = sqlx::query(&sql)
                .persistent(false)
                .bind($source)
                .bind($kind)
                .bind(DbTime($now));
            for (key, stamp, body) in chunk.iter().copied() {
                q = q.bind(key.as_str()).bind(stamp.as_str()).bind(body.as_str());
            }
            q.execute(&mut *$tx)
                .await
                .ctx("writing replies to the source cache")?;
        }
    };
}

impl Store {
    /// The cached replies of `keys` (those there are), by key. Any number of
    /// keys: read a few hundred at a time.
    pub async fn cache_get(
        &self,
        source: &str,
        kind: &str,
        keys: &[String],
    ) -> Result<HashMap<String, CacheEntry>, StoreError> {
        let mut out = HashMap::with_capacity(keys.len());
        for chunk in keys.chunks(GET_CHUNK) {
            let sql = format!(
                "SELECT key, stamp, body, fetched_at FROM source_cache \
                 WHERE source = $1 AND kind = $2 AND key IN ({})",
                placeholders(3, chunk.len())
            );
            let rows: Vec<EntryRow> = with_pool!(self, pool => {
                let mut q = sqlx::query_as(&sql).persistent(false).bind(source).bind(kind);
                for key in chunk {
                    q = q.bind(key.as_str());
                }
                q.fetch_all(pool).await.ctx("reading the source cache")?
            });
            out.extend(rows.into_iter().map(entry));
        }
        Ok(out)
    }

    /// Stores replies (key, stamp, body) fetched at `now`, replacing those
    /// of the same keys; all or none.
    pub async fn cache_put(
        &self,
        source: &str,
        kind: &str,
        entries: &[(String, String, String)],
        now: NaiveDateTime,
    ) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await.ctx("starting a source cache transaction")?;
            upsert_entries!(tx, source, kind, now, entries);
            tx.commit().await.ctx("committing replies to the source cache")?;
        });
        Ok(())
    }

    /// Replaces every cached reply of (`source`, `kind`) by `entries` (a
    /// catalogue read again replaces the old one whole); all or none.
    pub async fn cache_replace_kind(
        &self,
        source: &str,
        kind: &str,
        entries: &[(String, String, String)],
        now: NaiveDateTime,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await.ctx("starting a source cache transaction")?;
            sqlx::query("DELETE FROM source_cache WHERE source = $1 AND kind = $2")
                .bind(source)
                .bind(kind)
                .execute(&mut *tx)
                .await
                .ctx("removing the replies a source cache kind had")?;
            upsert_entries!(tx, source, kind, now, entries);
            tx.commit().await.ctx("committing the replaced source cache kind")?;
        });
        Ok(())
    }

    /// Every cached reply of (`source`, `kind`), ordered by key.
    pub async fn cache_all(
        &self,
        source: &str,
        kind: &str,
    ) -> Result<Vec<(String, CacheEntry)>, StoreError> {
        let rows: Vec<EntryRow> = with_pool!(self, pool => {
            sqlx::query_as("SELECT key, stamp, body, fetched_at FROM source_cache WHERE source = $1 AND kind = $2")
                .bind(source)
                .bind(kind)
                .fetch_all(pool)
                .await
                .ctx("reading a source cache kind")?
        });
        // Sorted here: the same order on both backends, whatever collation.
        let mut all: Vec<(String, CacheEntry)> = rows.into_iter().map(entry).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(all)
    }

    /// When the oldest cached reply of (`source`, `kind`) was fetched; None
    /// when there is none.
    pub async fn cache_oldest(
        &self,
        source: &str,
        kind: &str,
    ) -> Result<Option<NaiveDateTime>, StoreError> {
        let oldest: Option<DbTime> = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT MIN(fetched_at) FROM source_cache WHERE source = $1 AND kind = $2")
                .bind(source)
                .bind(kind)
                .fetch_one(pool)
                .await
                .ctx("reading the oldest time in a source cache kind")?
        });
        Ok(oldest.map(|t| t.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_given_twice_is_written_once_the_last_way() {
        let e = |k: &str, s: &str| (k.to_owned(), s.to_owned(), String::new());
        let entries = [e("a", "1"), e("b", "1"), e("a", "2")];
        let kept: Vec<_> = last_per_key(&entries).into_iter().cloned().collect();
        assert_eq!(kept, vec![e("a", "2"), e("b", "1")]);
    }

    #[test]
    fn rows_number_their_parameters_after_the_shared_three() {
        assert_eq!(
            value_rows(2),
            "($1, $2, $4, $5, $6, $3), ($1, $2, $7, $8, $9, $3)"
        );
    }
}
