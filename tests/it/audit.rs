//! The audit trail sealed from outside the database: with a key and a
//! witness file, each of the four rewrites someone with write access to the
//! database could make is detected; without them (the trail as it was), the
//! rewrites that recompute the chain pass.

use crate::support::*;
use tthc_watch::store::Store;
use tthc_watch::store::audit::{AuditSeal, GENESIS, Verification, entry_hash};

const KEY: &[u8] = b"0123456789abcdef0123456789abcdef-kept-off-the-database";

/// A trail of six entries on a fresh database, sealed as `sealed` says.
async fn trail(backend: Backend, sealed: bool, dir: &std::path::Path) -> (TestDb, Store) {
    let db = TestDb::new(backend).await;
    let store = if sealed {
        db.store.clone().with_audit_seal(AuditSeal::new(
            Some(KEY.to_vec()),
            Some(dir.join("audit-witness.json")),
        ))
    } else {
        db.store.clone()
    };
    for i in 0..6 {
        store
            .audit(
                "test",
                &format!("người dùng {i}"),
                &serde_json::json!({ "n": i }),
                t("2026-11-25 08:00"),
            )
            .await
            .unwrap();
    }
    (db, store)
}

/// The entries as (id, at, subject, detail), oldest first.
async fn entries(store: &Store) -> Vec<(i64, String, String, String)> {
    let rows = store.audit_entries("test", 100).await.unwrap();
    assert_eq!(
        rows.len() as i64,
        store
            .fetch_i64("SELECT COUNT(*) FROM audit_log")
            .await
            .unwrap()
    );
    rows.into_iter()
        .map(|r| (r.id, r.at, r.subject, r.detail))
        .collect()
}

fn q(s: &str) -> String {
    s.replace('\'', "''")
}

/// Rewrites the chain from entry `from` on, hashing as `key` says (an
/// attacker without the real key), and moves the head.
async fn recompute(store: &Store, from: i64, key: Option<&[u8]>) {
    let mut prev = GENESIS.to_owned();
    for (id, at, subject, detail) in entries(store).await {
        if id >= from {
            let hash = entry_hash(key, &prev, &at, "test", &subject, &detail);
            store
                .execute_sql(&format!(
                    "UPDATE audit_log SET prev_hash = '{}', hash = '{}' WHERE id = {id}",
                    q(&prev),
                    q(&hash)
                ))
                .await
                .unwrap();
        }
        prev = store
            .fetch_text(&format!("SELECT hash FROM audit_log WHERE id = {id}"))
            .await
            .unwrap()[0][0]
            .clone()
            .unwrap();
    }
    store
        .execute_sql(&format!("UPDATE audit_head SET hash = '{}'", q(&prev)))
        .await
        .unwrap();
}

/// The four rewrites, each on its own trail.
async fn rewrite(store: &Store, which: usize) {
    let rows = entries(store).await;
    let last = rows.last().unwrap().0;
    match which {
        // Delete the tail and move the head back.
        0 => {
            store
                .execute_sql(&format!("DELETE FROM audit_log WHERE id >= {}", last - 1))
                .await
                .unwrap();
            recompute(store, i64::MAX, None).await;
        }
        // Append a forged entry (without the key).
        1 => {
            let head = store
                .fetch_text("SELECT hash FROM audit_head")
                .await
                .unwrap()[0][0]
                .clone()
                .unwrap();
            let (_, at, _, detail) = rows.last().unwrap().clone();
            let hash = entry_hash(None, &head, &at, "test", "kẻ giả mạo", &detail);
            store
                .execute_sql(&format!(
                    "INSERT INTO audit_log (at, kind, subject, detail, prev_hash, hash) \
                     SELECT at, 'test', 'kẻ giả mạo', detail, '{}', '{}' FROM audit_log WHERE id = {last}",
                    q(&head),
                    q(&hash)
                ))
                .await
                .unwrap();
            store
                .execute_sql(&format!("UPDATE audit_head SET hash = '{}'", q(&hash)))
                .await
                .unwrap();
        }
        // Edit an entry and recompute the chain from it (a guessed key).
        2 => {
            let second = rows[1].0;
            store
                .execute_sql(&format!(
                    "UPDATE audit_log SET subject = 'đã sửa' WHERE id = {second}"
                ))
                .await
                .unwrap();
            recompute(store, second, None).await;
        }
        // Empty it all.
        _ => {
            store.execute_sql("DELETE FROM audit_log").await.unwrap();
            store
                .execute_sql(&format!("UPDATE audit_head SET hash = '{GENESIS}'"))
                .await
                .unwrap();
        }
    }
}

async fn rewrites_are_detected_only_when_sealed(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    for which in 0..4 {
        // Sealed: intact before, broken after.
        let (db, store) = trail(backend, true, dir.path()).await;
        let before = store.verify_audit().await.unwrap();
        assert!(
            matches!(
                before,
                Verification::Intact {
                    entries: 6,
                    unproven: 0,
                    witnessed: Some(_)
                }
            ),
            "{before:?}"
        );
        rewrite(&store, which).await;
        let after = store.verify_audit().await.unwrap();
        assert!(
            matches!(after, Verification::Broken { .. }),
            "rewrite {which} passed a sealed trail: {after:?}"
        );
        db.cleanup().await;

        // Without a key, a reader can still check the links but not sealed content.
        let (db, store) = trail(backend, true, dir.path()).await;
        let unkeyed = db.store.verify_audit().await.unwrap();
        assert_eq!(
            unkeyed,
            Verification::Intact {
                entries: 6,
                unproven: 6,
                witnessed: None
            }
        );
        db.cleanup().await;
        drop(store);

        // Unsealed (the trail as it was): the rewrite goes unnoticed.
        let (db, store) = trail(backend, false, dir.path()).await;
        rewrite(&store, which).await;
        assert!(
            matches!(
                store.verify_audit().await.unwrap(),
                Verification::Intact { .. }
            ),
            "rewrite {which} was caught without a seal"
        );
        db.cleanup().await;
        let _ = std::fs::remove_file(dir.path().join("audit-witness.json"));
    }
}

#[tokio::test]
async fn rewrites_are_detected_only_when_sealed_sqlite() {
    rewrites_are_detected_only_when_sealed(Backend::Sqlite).await;
}

#[tokio::test]
async fn rewrites_are_detected_only_when_sealed_postgres() {
    rewrites_are_detected_only_when_sealed(Backend::Postgres).await;
}
