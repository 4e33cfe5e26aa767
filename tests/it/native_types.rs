//! PostgreSQL keeps times as `timestamptz`, flags as `boolean` and JSON as
//! `jsonb`; a store written by the version that kept them as text is
//! converted in place by its migration and reads back as it did.

use crate::support::*;
use crate::views::{answers, assert_same, sync_and_check};
use tthc_watch::source::Shape;
use tthc_watch::store::Store;

/// `(column, data type)` of a PostgreSQL table, as `information_schema` names them.
async fn column_types(store: &Store, table: &str) -> Vec<(String, String)> {
    let sql = format!(
        "SELECT column_name::text, data_type::text FROM information_schema.columns \
         WHERE table_name = '{table}' ORDER BY column_name"
    );
    store
        .fetch_text(&sql)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
        .collect()
}

#[tokio::test]
async fn postgres_columns_have_native_types() {
    if !postgres_available().await {
        return;
    }
    let db = TestDb::new(Backend::Postgres).await;
    let types = column_types(&db.store, "dossiers").await;
    let of = |c: &str| {
        types
            .iter()
            .find(|(n, _)| n == c)
            .map(|(_, t)| t.as_str())
            .unwrap_or("missing")
    };
    for c in [
        "submitted_at",
        "received_at",
        "due_at",
        "original_due_at",
        "finished_at",
        "returned_at",
        "source_updated_at",
        "first_seen_at",
        "last_changed_at",
        "step_since",
    ] {
        assert_eq!(of(c), "timestamp with time zone", "dossiers.{c}");
    }
    assert_eq!(of("deleted"), "boolean");
    for c in ["steps", "pauses", "extension"] {
        assert_eq!(of(c), "jsonb", "dossiers.{c}");
    }
    // No time, flag or JSON is left as text anywhere.
    let text: Vec<Vec<Option<String>>> = db
        .store
        .fetch_text(
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE table_schema = 'public' AND data_type IN ('text', 'bigint') \
             AND (column_name LIKE '%\\_at' OR column_name IN \
             ('due_mismatch', 'unrouted', 'steps', 'pauses', 'extension', \
              'changes', 'detail', 'attachments', 'for_date') \
             OR (table_name = 'dossiers' AND column_name = 'deleted'))",
        )
        .await
        .unwrap();
    assert_eq!(text, Vec::<Vec<Option<String>>>::new());
    let audit = column_types(&db.store, "audit_log").await;
    assert!(
        audit.contains(&("detail".into(), "json".into())),
        "{audit:?}"
    );
    let digests = column_types(&db.store, "digests").await;
    assert!(
        digests.contains(&("for_date".into(), "date".into())),
        "{digests:?}"
    );
    db.cleanup().await;
}

/// Copies every row of a SQLite store (which keeps the old text form) into a
/// PostgreSQL database migrated only up to 0014, the last one with text.
async fn copy_as_old_schema(from: &Store, to: &sqlx::PgPool) {
    let tables = [
        "dossiers",
        "dossier_history",
        "due_date_history",
        "quarantine",
        "sync_state",
        "sync_runs",
        "evaluations",
        "classification_history",
        "outbox",
        "alerts",
        "digests",
        "letters",
        "api_tokens",
        "audit_log",
        "applied_settings",
        "check_queue",
    ];
    for table in tables {
        // The columns both have (later migrations add some to SQLite only
        // here: the old PostgreSQL schema stops at 0014).
        let old: Vec<String> = sqlx::query_scalar(
            "SELECT column_name::text FROM information_schema.columns WHERE table_name = $1",
        )
        .bind(table)
        .fetch_all(to)
        .await
        .unwrap();
        let cols: Vec<String> = from
            .fetch_text(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .await
            .unwrap()
            .into_iter()
            .map(|r| r[0].clone().unwrap())
            .filter(|c| old.contains(c))
            .collect();
        let rows = from
            .fetch_text(&format!("SELECT {} FROM {table}", cols.join(", ")))
            .await
            .unwrap();
        for row in rows {
            let values: Vec<String> = row
                .iter()
                .map(|v| match v {
                    Some(v) => format!("'{}'", v.replace('\'', "''")),
                    None => "NULL".into(),
                })
                .collect();
            sqlx::query(&format!(
                "INSERT INTO {table} ({}) VALUES ({})",
                cols.join(", "),
                values.join(", ")
            ))
            .execute(to)
            .await
            .unwrap_or_else(|e| panic!("{table}: {e}"));
        }
    }
    let head = from
        .fetch_text("SELECT hash FROM audit_head")
        .await
        .unwrap();
    sqlx::query("UPDATE audit_head SET hash = $1")
        .bind(head[0][0].clone())
        .execute(to)
        .await
        .unwrap();
    // As a store that wrote these rows would have its sequences.
    for (table, col) in [
        ("dossiers", "id"),
        ("dossier_history", "id"),
        ("due_date_history", "id"),
        ("quarantine", "id"),
        ("sync_runs", "id"),
        ("classification_history", "id"),
        ("outbox", "id"),
        ("alerts", "id"),
        ("letters", "id"),
        ("api_tokens", "id"),
        ("audit_log", "id"),
        ("check_queue", "seq"),
    ] {
        sqlx::query(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', '{col}'), COALESCE(MAX({col}), 0) + 1, false) FROM {table}"
        ))
        .execute(to)
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn a_store_with_text_times_is_converted_and_reads_back_the_same() {
    if !postgres_available().await {
        return;
    }
    let sim = spawn_simulator(Shape::Native, 300, "").await;
    let sqlite = TestDb::new(Backend::Sqlite).await;
    for days in [0, 10] {
        sim.sim.advance(chrono::Duration::days(days));
        sync_and_check(&sim, &sqlite).await;
    }
    // An alert without a due date was keyed by '' in the text form.
    sqlite
        .store
        .execute_sql(
            "INSERT INTO alerts (dossier_id, rung, due_at, recipient, recipient_role, unrouted, created_at) \
             SELECT MIN(dossier_id), 'due_soon', '', 'khong-han@example.vn', 'centre', 1, '2026-11-25 08:00:00' \
             FROM evaluations",
        )
        .await
        .unwrap();
    let created = sqlite
        .store
        .create_token("kiểm toán", "auditor", t("2026-11-25 08:30"))
        .await
        .unwrap();
    assert!(created.0 > 0);

    // A store at 0014 had no applicant addresses (a column of migration
    // 0020 on SQLite, 0022 on PostgreSQL): compare like with like.
    sqlite
        .store
        .execute_sql("UPDATE dossiers SET applicant_address = NULL")
        .await
        .unwrap();

    // The same rows in a PostgreSQL database at migration 0014, in text form.
    let pg = TestDb::new(Backend::Postgres).await;
    pg.store.close().await;
    let admin = sqlx::PgPool::connect(&pg.url).await.unwrap();
    for q in ["DROP SCHEMA public CASCADE", "CREATE SCHEMA public"] {
        sqlx::query(q).execute(&admin).await.unwrap();
    }
    let old = tempfile::tempdir().unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.as_str() < "0015" {
            std::fs::copy(&p, old.path().join(&name)).unwrap();
        }
    }
    sqlx::migrate::Migrator::new(old.path())
        .await
        .unwrap()
        .run(&admin)
        .await
        .unwrap();
    copy_as_old_schema(&sqlite.store, &admin).await;
    let (text,): (String,) = sqlx::query_as(
        "SELECT data_type::text FROM information_schema.columns \
         WHERE table_name = 'dossiers' AND column_name = 'received_at'",
    )
    .fetch_one(&admin)
    .await
    .unwrap();
    assert_eq!(text, "text", "the copy is in the old form");
    admin.close().await;

    // Opening the store migrates it; it then answers as the SQLite store does.
    let converted = Store::connect(&pg.url, 4).await.unwrap();
    let before = answers(&sqlite.store).await;
    assert_same(&before, &answers(&converted).await);
    // Times are the same instants (Vietnam time), the '' due date is NULL.
    let check = converted
        .fetch_text(
            "SELECT (SELECT COUNT(*) FROM alerts WHERE due_at IS NULL), \
             (SELECT MIN(received_at) FROM dossiers)",
        )
        .await
        .unwrap();
    let min_received = sqlite
        .store
        .fetch_text("SELECT MIN(received_at) FROM dossiers")
        .await
        .unwrap();
    assert_eq!(check[0][0].as_deref(), Some("1"));
    assert_eq!(check[0][1], min_received[0][0]);
    assert_eq!(
        format!("{:?}", converted.list_tokens().await.unwrap()),
        format!("{:?}", sqlite.store.list_tokens().await.unwrap())
    );

    // And it goes on: the next sync and check write the same on both.
    sim.sim.advance(chrono::Duration::days(3));
    sync_and_check(&sim, &sqlite).await;
    let pg_again = TestDb {
        store: converted,
        url: pg.url.clone(),
        _dir: None,
        pg_admin: None,
    };
    sync_and_check(&sim, &pg_again).await;
    assert_same(
        &answers(&sqlite.store).await,
        &answers(&pg_again.store).await,
    );
    pg_again.store.close().await;
    pg.cleanup().await;
    sqlite.cleanup().await;
}
