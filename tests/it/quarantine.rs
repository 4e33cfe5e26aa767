//! The quarantine keeps one row per bad record, however often a poll brings
//! it, and lets it go when the source sends it fixed; the cache of a source's
//! follow-up replies reads back what it was given.

use crate::support::*;
use sha2::{Digest, Sha256};
use tthc_watch::store::{Incoming, QuarantineRecord};

const CODE: &str = "H56-261102-0000002";

fn bad(code: Option<&str>, reason: &str, raw: &str) -> QuarantineRecord {
    QuarantineRecord {
        code: code.map(str::to_owned),
        reason: reason.to_owned(),
        raw: raw.to_owned(),
    }
}

fn valid(code: &str) -> Incoming {
    Incoming::new(scripted_dossier(
        code,
        "DD",
        "PKT",
        "2026-11-02 08:00",
        10,
        "2026-11-16 08:00",
    ))
}

/// (source, qkey, code, times, received_at, last_seen_at) of every row, by id.
async fn rows(db: &TestDb) -> Vec<Vec<Option<String>>> {
    db.store
        .fetch_text(
            "SELECT source, qkey, code, times, received_at, last_seen_at FROM quarantine ORDER BY id",
        )
        .await
        .unwrap()
}

fn row_of(
    source: &str,
    qkey: &str,
    code: Option<&str>,
    times: i64,
    first: &str,
    last: &str,
) -> Vec<Option<String>> {
    vec![
        Some(source.into()),
        Some(qkey.into()),
        code.map(str::to_owned),
        Some(times.to_string()),
        Some(format!("{first}:00")),
        Some(format!("{last}:00")),
    ]
}

async fn a_bad_record_polled_five_times_is_one_row(backend: Backend) {
    let db = TestDb::new(backend).await;
    let raw_nocode = r#"{"maHoSo":null,"ngayNhan":"2026-02-30T25:61:00"}"#;
    // Longer than 80 characters, most of them not ASCII.
    let long_reason = format!(
        "trường received_at: '2026-02-30T25:61:00' {}",
        "ngày không có thật ".repeat(6)
    );
    let times = [
        "2026-11-25 08:00",
        "2026-11-25 08:05",
        "2026-11-25 08:10",
        "2026-11-25 08:15",
        "2026-11-25 08:20",
    ];
    for (i, at) in times.iter().enumerate() {
        // The coded record's reason and text differ from poll to poll; the
        // latest is kept.
        let coded = bad(
            Some(CODE),
            &format!("field code is missing (poll {i})"),
            &format!(r#"{{"maHoSo":"{CODE}","poll":{i}}}"#),
        );
        let out = db
            .store
            .apply_page(
                "tinh",
                &[valid("H56-261102-0000001")],
                &[],
                &[coded],
                Some("w"),
                t(at),
            )
            .await
            .unwrap();
        assert_eq!(out.quarantined, 1, "poll {i}: {out:?}");
        assert_eq!(out.released, 0, "poll {i}: {out:?}");
        let out = db
            .store
            .apply_page(
                "tinh",
                &[],
                &[],
                &[bad(None, &long_reason, raw_nocode)],
                None,
                t(at),
            )
            .await
            .unwrap();
        assert_eq!(out.quarantined, 1, "poll {i}: {out:?}");
    }
    let hash = format!(
        "sha256:{}",
        hex::encode(Sha256::digest(raw_nocode.as_bytes()))
    );
    assert_eq!(
        rows(&db).await,
        vec![
            row_of("tinh", CODE, Some(CODE), 5, times[0], times[4]),
            row_of("tinh", &hash, None, 5, times[0], times[4]),
        ]
    );
    assert_eq!(db.store.count_rows("quarantine").await.unwrap(), 2);
    assert_eq!(
        db.store.quarantined("tinh").await.unwrap(),
        vec![
            bad(
                Some(CODE),
                "field code is missing (poll 4)",
                &format!(r#"{{"maHoSo":"{CODE}","poll":4}}"#)
            ),
            bad(None, &long_reason, raw_nocode),
        ]
    );

    // The same record of another source is a row of its own.
    let other = db
        .store
        .apply_page(
            "huyen",
            &[],
            &[],
            &[bad(None, &long_reason, raw_nocode)],
            None,
            t(times[4]),
        )
        .await
        .unwrap();
    assert_eq!(other.quarantined, 1);
    assert_eq!(db.store.count_rows("quarantine").await.unwrap(), 3);

    // Two records with the same first 80 characters of reason are one group.
    let also = format!("{long_reason}, and more");
    db.store
        .apply_page(
            "tinh",
            &[],
            &[],
            &[bad(Some("H56-261102-0000003"), &also, "{}")],
            None,
            t(times[4]),
        )
        .await
        .unwrap();
    let head: String = long_reason.chars().take(80).collect();
    assert_eq!(
        db.store.quarantine_summary("tinh").await.unwrap(),
        vec![(head, 2), ("field code is missing (poll 4)".to_owned(), 1)]
    );
    assert_eq!(
        db.store.quarantine_summary("nowhere").await.unwrap(),
        vec![]
    );
    db.cleanup().await;
}

#[tokio::test]
async fn a_bad_record_polled_five_times_is_one_row_sqlite() {
    a_bad_record_polled_five_times_is_one_row(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_bad_record_polled_five_times_is_one_row_postgres() {
    if postgres_available().await {
        a_bad_record_polled_five_times_is_one_row(Backend::Postgres).await;
    }
}

async fn a_record_sent_fixed_is_released(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = &db.store;
    let nocode = bad(None, "not JSON", "{\"maHoSo\":");
    let coded = bad(Some(CODE), "field code is missing", "{}");
    let out = store
        .apply_page(
            "tinh",
            &[],
            &[],
            &[coded.clone(), nocode.clone()],
            None,
            t("2026-11-25 08:00"),
        )
        .await
        .unwrap();
    assert_eq!((out.quarantined, out.released), (2, 0));
    // Another source's record of the same code is not this source's to release.
    store
        .apply_page(
            "huyen",
            &[],
            &[],
            std::slice::from_ref(&coded),
            None,
            t("2026-11-25 08:00"),
        )
        .await
        .unwrap();

    // Sent fixed: stored new, and released.
    let out = store
        .apply_page(
            "tinh",
            &[valid(CODE), valid("H56-261102-0000001")],
            &[],
            &[],
            None,
            t("2026-11-25 08:05"),
        )
        .await
        .unwrap();
    assert_eq!(
        (out.created, out.released, out.quarantined),
        (2, 1, 0),
        "{out:?}"
    );
    assert_eq!(
        store.quarantined("tinh").await.unwrap(),
        vec![nocode.clone()]
    );
    assert_eq!(
        store.quarantined("huyen").await.unwrap(),
        vec![coded.clone()]
    );

    // Bad again, then sent as it is stored: unchanged, and released.
    store
        .apply_page(
            "tinh",
            &[],
            &[],
            std::slice::from_ref(&coded),
            None,
            t("2026-11-25 08:10"),
        )
        .await
        .unwrap();
    let out = store
        .apply_page(
            "tinh",
            &[valid(CODE)],
            &[],
            &[],
            None,
            t("2026-11-25 08:15"),
        )
        .await
        .unwrap();
    assert_eq!((out.unchanged, out.released), (1, 1), "{out:?}");
    assert_eq!(
        store.quarantined("tinh").await.unwrap(),
        vec![nocode.clone()]
    );

    // Bad again, then deleted by the source: released.
    store
        .apply_page(
            "tinh",
            &[],
            &[],
            std::slice::from_ref(&coded),
            None,
            t("2026-11-25 08:20"),
        )
        .await
        .unwrap();
    let out = store
        .apply_page(
            "tinh",
            &[],
            &[CODE.to_owned()],
            &[],
            None,
            t("2026-11-25 08:25"),
        )
        .await
        .unwrap();
    assert_eq!((out.deleted, out.released), (1, 1), "{out:?}");
    assert_eq!(
        store.quarantined("tinh").await.unwrap(),
        vec![nocode.clone()]
    );

    // Within one transaction of several pages: a later page releases what
    // an earlier one quarantined.
    let mut tx = store.sync_writer().await.unwrap().begin().await.unwrap();
    let mut total = tthc_watch::store::PageOutcome::default();
    let code4 = "H56-261102-0000004";
    total.add(
        tx.apply_page(
            "tinh",
            &[],
            &[],
            &[bad(Some(code4), "bad", "{}")],
            None,
            t("2026-11-25 08:30"),
        )
        .await
        .unwrap(),
    );
    total.add(
        tx.apply_page(
            "tinh",
            &[valid(code4)],
            &[],
            &[],
            None,
            t("2026-11-25 08:30"),
        )
        .await
        .unwrap(),
    );
    tx.commit().await.unwrap().close().await;
    assert_eq!(
        (total.quarantined, total.created, total.released),
        (1, 1, 1),
        "{total:?}"
    );
    assert_eq!(store.quarantined("tinh").await.unwrap(), vec![nocode]);
    // Every release is in the audit trail, whose chain still holds.
    let released: u64 = store
        .audit_entries("sync_page", 1000)
        .await
        .unwrap()
        .iter()
        .filter_map(|e| {
            serde_json::from_str::<serde_json::Value>(&e.detail).ok()?["released"].as_u64()
        })
        .sum();
    assert_eq!(released, 4);
    let verified = store.verify_audit().await.unwrap();
    assert!(
        matches!(
            verified,
            tthc_watch::store::audit::Verification::Intact { .. }
        ),
        "{verified:?}"
    );
    db.cleanup().await;
}

#[tokio::test]
async fn a_record_sent_fixed_is_released_sqlite() {
    a_record_sent_fixed_is_released(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_record_sent_fixed_is_released_postgres() {
    if postgres_available().await {
        a_record_sent_fixed_is_released(Backend::Postgres).await;
    }
}

fn entries(keys: impl IntoIterator<Item = String>, stamp: &str) -> Vec<(String, String, String)> {
    keys.into_iter()
        .map(|k| {
            let body = format!(r#"{{"maHoSo":"{k}","tenThuTuc":"Đăng ký biến động"}}"#);
            (k, stamp.to_owned(), body)
        })
        .collect()
}

async fn the_source_cache_reads_back_what_it_was_given(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = &db.store;
    let (t1, t2, t3) = (
        t("2026-11-25 08:00"),
        t("2026-11-25 09:00"),
        t("2026-11-25 10:00"),
    );
    assert_eq!(store.cache_oldest("tinh", "detail").await.unwrap(), None);
    assert!(store.cache_all("tinh", "detail").await.unwrap().is_empty());
    assert!(
        store
            .cache_get("tinh", "detail", &[])
            .await
            .unwrap()
            .is_empty()
    );

    // 1,200 details, then one of them again (a key given twice: the last).
    let keys: Vec<String> = (0..1200).map(|i| format!("H56-261102-{i:07}")).collect();
    store
        .cache_put("tinh", "detail", &entries(keys.clone(), "v1"), t1)
        .await
        .unwrap();
    let mut again = entries([keys[7].clone()], "v0");
    again.extend(entries([keys[7].clone()], "v2"));
    store.cache_put("tinh", "detail", &again, t2).await.unwrap();

    let mut asked = keys.clone();
    asked.push("not-cached".into());
    let got = store.cache_get("tinh", "detail", &asked).await.unwrap();
    assert_eq!(got.len(), 1200);
    let one = &got[&keys[7]];
    assert_eq!((one.stamp.as_str(), one.fetched_at), ("v2", t2));
    let other = &got[&keys[1199]];
    assert_eq!((other.stamp.as_str(), other.fetched_at), ("v1", t1));
    assert_eq!(
        other.body,
        format!(
            r#"{{"maHoSo":"{}","tenThuTuc":"Đăng ký biến động"}}"#,
            keys[1199]
        )
    );
    assert!(!got.contains_key("not-cached"));
    assert_eq!(
        store.cache_oldest("tinh", "detail").await.unwrap(),
        Some(t1)
    );
    let all = store.cache_all("tinh", "detail").await.unwrap();
    assert_eq!(all.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(), keys);
    // Another source, another kind: nothing.
    assert!(
        store
            .cache_get("huyen", "detail", &keys)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .cache_get("tinh", "catalogue", &keys)
            .await
            .unwrap()
            .is_empty()
    );

    // A catalogue replaced whole; the details stay.
    let first = entries(["a".to_owned(), "b".to_owned(), "c".to_owned()], "2026-11");
    store
        .cache_replace_kind("tinh", "catalogue", &first, t1)
        .await
        .unwrap();
    let second = entries(["b".to_owned(), "d".to_owned()], "2026-12");
    store
        .cache_replace_kind("tinh", "catalogue", &second, t3)
        .await
        .unwrap();
    let all = store.cache_all("tinh", "catalogue").await.unwrap();
    assert_eq!(
        all.iter()
            .map(|(k, e)| (k.as_str(), e.stamp.as_str(), e.body.as_str(), e.fetched_at))
            .collect::<Vec<_>>(),
        second
            .iter()
            .map(|(k, s, b)| (k.as_str(), s.as_str(), b.as_str(), t3))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        store.cache_oldest("tinh", "catalogue").await.unwrap(),
        Some(t3)
    );
    assert_eq!(store.cache_all("tinh", "detail").await.unwrap().len(), 1200);
    // Replaced by nothing: empty.
    store
        .cache_replace_kind("tinh", "catalogue", &[], t3)
        .await
        .unwrap();
    assert!(
        store
            .cache_all("tinh", "catalogue")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.cache_oldest("tinh", "catalogue").await.unwrap(), None);
    db.cleanup().await;
}

#[tokio::test]
async fn the_source_cache_reads_back_what_it_was_given_sqlite() {
    the_source_cache_reads_back_what_it_was_given(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_source_cache_reads_back_what_it_was_given_postgres() {
    if postgres_available().await {
        the_source_cache_reads_back_what_it_was_given(Backend::Postgres).await;
    }
}

/// A database whose migrations stop before the quarantine's keys (SQLite
/// 0017, PostgreSQL 0019), holding the rows an older version wrote: one per
/// poll. `insert` is run on it, then the store opened (and so migrated).
async fn migrated_from_old_rows(backend: Backend, insert: &[String]) -> TestDb {
    let (folder, first_new) = match backend {
        Backend::Sqlite => ("sqlite", "0017"),
        Backend::Postgres => ("postgres", "0019"),
    };
    let old = tempfile::tempdir().unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(folder);
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.as_str() < first_new {
            std::fs::copy(&p, old.path().join(&name)).unwrap();
        }
    }
    let migrator = sqlx::migrate::Migrator::new(old.path()).await.unwrap();
    let mut db = TestDb::new(backend).await;
    db.store.close().await;
    match backend {
        Backend::Sqlite => {
            // A file of its own beside the migrated one.
            let path = db._dir.as_ref().unwrap().path().join("old.db");
            db.url = format!("sqlite://{}", path.display());
            let opts = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true);
            let pool = sqlx::SqlitePool::connect_with(opts).await.unwrap();
            migrator.run(&pool).await.unwrap();
            for q in insert {
                sqlx::query(q).execute(&pool).await.unwrap();
            }
            pool.close().await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
            for q in ["DROP SCHEMA public CASCADE", "CREATE SCHEMA public"] {
                sqlx::query(q).execute(&pool).await.unwrap();
            }
            migrator.run(&pool).await.unwrap();
            for q in insert {
                sqlx::query(q).execute(&pool).await.unwrap();
            }
            pool.close().await;
        }
    }
    db.store = tthc_watch::store::Store::connect(&db.url, 4).await.unwrap();
    db
}

async fn old_rows_are_merged_by_the_migration(backend: Backend) {
    let at = |hm: &str| match backend {
        Backend::Sqlite => format!("'2026-11-25 {hm}:00'"),
        Backend::Postgres => format!("'2026-11-25 {hm}:00+07'"),
    };
    let raw = r#"{"maHoSo":"#;
    let row = |id: i64, source: &str, code: Option<&str>, reason: &str, raw: &str, hm: &str| {
        let code = code.map_or("NULL".to_owned(), |c| format!("'{c}'"));
        format!(
            "INSERT INTO quarantine (id, source, code, reason, raw, received_at) \
             VALUES ({id}, '{source}', {code}, '{reason}', '{raw}', {})",
            at(hm)
        )
    };
    let insert = [
        row(1, "tinh", Some(CODE), "bad 1", "{}", "08:00"),
        row(2, "tinh", None, "not JSON", raw, "08:00"),
        row(3, "tinh", Some(CODE), "bad 2", "{}", "08:05"),
        row(4, "tinh", None, "not JSON", raw, "08:05"),
        row(5, "tinh", Some(CODE), "bad 3", "{}", "08:10"),
        row(6, "huyen", Some(CODE), "bad", "{}", "08:10"),
    ];
    let db = migrated_from_old_rows(backend, &insert).await;
    // The newest row of a code stands for all of them; code-less rows are
    // merged where the database can hash their text (PostgreSQL).
    let hash = format!("sha256:{}", hex::encode(Sha256::digest(raw.as_bytes())));
    let (first, last) = ("2026-11-25 08:00", "2026-11-25 08:10");
    let expected = match backend {
        Backend::Sqlite => vec![
            row_of("tinh", "row:2", None, 1, first, first),
            row_of(
                "tinh",
                "row:4",
                None,
                1,
                "2026-11-25 08:05",
                "2026-11-25 08:05",
            ),
            row_of("tinh", CODE, Some(CODE), 3, first, last),
            row_of("huyen", CODE, Some(CODE), 1, last, last),
        ],
        Backend::Postgres => vec![
            row_of("tinh", &hash, None, 2, first, "2026-11-25 08:05"),
            row_of("tinh", CODE, Some(CODE), 3, first, last),
            row_of("huyen", CODE, Some(CODE), 1, last, last),
        ],
    };
    assert_eq!(rows(&db).await, expected);
    assert_eq!(
        db.store
            .quarantined("tinh")
            .await
            .unwrap()
            .last()
            .unwrap()
            .reason,
        "bad 3"
    );

    // Polled again: counted on the merged row; fixed: released.
    let out = db
        .store
        .apply_page(
            "tinh",
            &[],
            &[],
            &[bad(Some(CODE), "bad 4", "{}")],
            None,
            t("2026-11-25 08:15"),
        )
        .await
        .unwrap();
    assert_eq!(out.quarantined, 1);
    let times = db
        .store
        .fetch_i64(&format!(
            "SELECT times FROM quarantine WHERE source = 'tinh' AND qkey = '{CODE}'"
        ))
        .await
        .unwrap();
    assert_eq!(times, 4);
    let out = db
        .store
        .apply_page(
            "tinh",
            &[valid(CODE)],
            &[],
            &[],
            None,
            t("2026-11-25 08:20"),
        )
        .await
        .unwrap();
    assert_eq!(out.released, 1);
    assert_eq!(db.store.quarantined("huyen").await.unwrap().len(), 1);
    db.cleanup().await;
}

#[tokio::test]
async fn old_rows_are_merged_by_the_migration_sqlite() {
    old_rows_are_merged_by_the_migration(Backend::Sqlite).await;
}

#[tokio::test]
async fn old_rows_are_merged_by_the_migration_postgres() {
    if postgres_available().await {
        old_rows_are_merged_by_the_migration(Backend::Postgres).await;
    }
}
