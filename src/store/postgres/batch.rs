//! PostgreSQL: many rows updated in one statement and one parameter, the
//! rows travelling as a JSON array of arrays that the server splits itself
//! (`jsonb_array_elements`). A statement per row costs a round trip each; one
//! text parameter per statement costs almost nothing. (New rows go in by
//! `COPY`, see `copy`; SQLite writes row by row with prepared statements.)

/// How a column gets its value.
#[derive(Clone, Copy)]
pub(super) enum Col<'a> {
    /// The row's next value, as text.
    Text(&'static str),
    /// The row's next value, as an integer.
    Int(&'static str),
    /// The row's next value, text cast to this SQL type (`timestamptz`,
    /// `jsonb`).
    Cast(&'static str, &'static str),
    /// An SQL expression, the same for every row (e.g. `$2`); `{rowN}` in it
    /// stands for the row's N-th value.
    Const(&'static str, &'a str),
}

/// The i-th value of the row `x` in SQL.
fn at(i: usize, int: bool) -> String {
    if int {
        format!("(x ->> {i})::bigint")
    } else {
        format!("x ->> {i}")
    }
}

/// `(column, expression)` of every column; the number of row values used.
fn columns(cols: &[Col<'_>]) -> (Vec<(&'static str, String)>, usize) {
    let mut out = Vec::with_capacity(cols.len());
    let mut i = 0;
    for c in cols {
        match *c {
            Col::Text(n) | Col::Int(n) => {
                out.push((n, at(i, matches!(c, Col::Int(_)))));
                i += 1;
            }
            Col::Cast(n, t) => {
                out.push((n, format!("({})::{t}", at(i, false))));
                i += 1;
            }
            Col::Const(n, e) => {
                let mut e = e.to_owned();
                while let Some(start) = e.find("{row") {
                    let Some(len) = e[start..].find('}') else {
                        break;
                    };
                    let idx: usize = e[start + 4..start + len].parse().unwrap_or(0);
                    e.replace_range(start..=start + len, &at(idx, false));
                }
                out.push((n, e));
            }
        }
    }
    (out, i)
}

/// `UPDATE table SET cols… FROM <rows of $1> WHERE table.key = <the row's
/// value after the columns'>` (an integer key).
pub(super) fn update_sql(table: &str, cols: &[Col<'_>], key: &str) -> String {
    let (cols, used) = columns(cols);
    let sets: Vec<String> = cols.iter().map(|(n, e)| format!("{n} = {e}")).collect();
    format!(
        "UPDATE {table} SET {} FROM jsonb_array_elements($1::jsonb) AS x WHERE {table}.{key} = {}",
        sets.join(", "),
        at(used, true)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rows_as_json_update_typed_columns_with_unicode_and_nulls() {
        let url = std::env::var("TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let mut conn = match <sqlx::PgConnection as sqlx::Connection>::connect(&url).await {
            Ok(c) => c,
            // PostgreSQL tests must fail, not skip, under CI.
            Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => panic!("{url}: {e}"),
            Err(_) => return,
        };
        sqlx::query("CREATE TEMP TABLE t (id BIGINT, a TEXT, n BIGINT, at TIMESTAMPTZ)")
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query("INSERT INTO t VALUES (1, 'cũ', 7), (2, NULL, NULL)")
            .execute(&mut conn)
            .await
            .unwrap();
        // New text; the number kept, or else taken from the row's text (its
        // length); a time cast from its text, read in the session's zone.
        let sql = update_sql(
            "t",
            &[
                Col::Text("a"),
                Col::Const("n", "COALESCE(n, length({row0}))"),
                Col::Cast("at", "timestamptz"),
            ],
            "id",
        );
        sqlx::query("SET TIME ZONE 'Asia/Ho_Chi_Minh'")
            .execute(&mut conn)
            .await
            .unwrap();
        let rows = serde_json::to_string(&[
            ("Nguyễn Thị \"Hồng\"", "2026-11-25 08:00:00", 1),
            ("mới", "2026-11-25 08:00:00", 2),
        ])
        .unwrap();
        sqlx::query(&sql)
            .bind(rows)
            .execute(&mut conn)
            .await
            .unwrap();
        let got: Vec<(Option<String>, Option<i64>)> =
            sqlx::query_as("SELECT a, n FROM t ORDER BY id")
                .fetch_all(&mut conn)
                .await
                .unwrap();
        assert_eq!(
            got,
            vec![
                (Some("Nguyễn Thị \"Hồng\"".into()), Some(7)),
                (Some("mới".into()), Some(3))
            ]
        );
        let (at,): (String,) =
            sqlx::query_as("SELECT (at AT TIME ZONE 'UTC')::text FROM t WHERE id = 1")
                .fetch_one(&mut conn)
                .await
                .unwrap();
        assert_eq!(at, "2026-11-25 01:00:00");
        let rows = serde_json::to_string(&[(None::<&str>, "2026-11-25 08:00:00", 1)]).unwrap();
        sqlx::query(&sql)
            .bind(rows)
            .execute(&mut conn)
            .await
            .unwrap();
        let (a,): (Option<String>,) = sqlx::query_as("SELECT a FROM t WHERE id = 1")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(a, None);
    }
}
