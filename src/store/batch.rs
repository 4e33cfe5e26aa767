//! Many rows in one statement and one parameter: the rows travel as a JSON
//! array of arrays that the database splits itself (SQLite's `json_each`,
//! PostgreSQL's `json_array_elements`). Binding each value separately through
//! the driver cost more than the database's own work in a sync (see
//! bench/RESULTS.md); one text parameter per statement costs almost nothing.

use super::Store;

/// How a column gets its value.
#[derive(Clone, Copy)]
pub(super) enum Col<'a> {
    /// The row's next value, as text.
    Text(&'static str),
    /// The row's next value, as an integer.
    Int(&'static str),
    /// An SQL expression, the same for every row (e.g. `$2`); `{rowN}` in it
    /// stands for the row's N-th value.
    Const(&'static str, &'a str),
}

/// Reads the row's values in SQL, for one backend.
struct Rows {
    postgres: bool,
    /// The row's qualifier in UPDATE … FROM.
    alias: &'static str,
}

impl Rows {
    fn new(store: &Store, alias: &'static str) -> Rows {
        Rows {
            postgres: matches!(store, Store::Postgres(_)),
            alias,
        }
    }

    fn at(&self, i: usize, int: bool) -> String {
        match (self.postgres, int) {
            (true, false) => format!("x ->> {i}"),
            (true, true) => format!("(x ->> {i})::bigint"),
            (false, _) => format!("{}v ->> {i}", self.alias),
        }
    }

    /// SQLite: each row converted once to its binary form (`json_each` hands
    /// out text, which every `->>` would parse again), in a CTE that the
    /// planner must not fold back into the columns.
    fn with(&self) -> &'static str {
        if self.postgres {
            ""
        } else {
            "WITH r AS MATERIALIZED (SELECT jsonb(value) AS v FROM json_each($1)) "
        }
    }

    fn from(&self) -> &'static str {
        if self.postgres {
            "jsonb_array_elements($1::jsonb) AS x"
        } else {
            "r"
        }
    }

    /// `(column, expression)` of every column; the number of row values used.
    fn columns(&self, cols: &[Col<'_>]) -> (Vec<(&'static str, String)>, usize) {
        let mut out = Vec::with_capacity(cols.len());
        let mut i = 0;
        for c in cols {
            match *c {
                Col::Text(n) | Col::Int(n) => {
                    out.push((n, self.at(i, matches!(c, Col::Int(_)))));
                    i += 1;
                }
                Col::Const(n, e) => {
                    let mut e = e.to_owned();
                    while let Some(start) = e.find("{row") {
                        let Some(len) = e[start..].find('}') else {
                            break;
                        };
                        let idx: usize = e[start + 4..start + len].parse().unwrap_or(0);
                        e.replace_range(start..=start + len, &self.at(idx, false));
                    }
                    out.push((n, e));
                }
            }
        }
        (out, i)
    }
}

/// `INSERT INTO table (cols) SELECT … FROM <rows of $1> [RETURNING …]`.
pub(super) fn insert_sql(store: &Store, table: &str, cols: &[Col<'_>], returning: &str) -> String {
    let rows = Rows::new(store, "");
    let (cols, _) = rows.columns(cols);
    let names: Vec<&str> = cols.iter().map(|(n, _)| *n).collect();
    let exprs: Vec<&str> = cols.iter().map(|(_, e)| e.as_str()).collect();
    let mut sql = format!(
        "{}INSERT INTO {table} ({}) SELECT {} FROM {}",
        rows.with(),
        names.join(", "),
        exprs.join(", "),
        rows.from()
    );
    if !returning.is_empty() {
        sql.push_str(" RETURNING ");
        sql.push_str(returning);
    }
    sql
}

/// `UPDATE table SET cols… FROM <rows of $1> WHERE table.key = <the row's
/// value after the columns'>` (an integer key).
pub(super) fn update_sql(store: &Store, table: &str, cols: &[Col<'_>], key: &str) -> String {
    let rows = Rows::new(store, "r.");
    let (cols, used) = rows.columns(cols);
    let sets: Vec<String> = cols.iter().map(|(n, e)| format!("{n} = {e}")).collect();
    format!(
        "{}UPDATE {table} SET {} FROM {} WHERE {table}.{key} = {}",
        rows.with(),
        sets.join(", "),
        rows.from(),
        rows.at(used, true)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rows_as_json_arrive_as_typed_columns_with_unicode_and_nulls() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(
            &format!("sqlite://{}", dir.path().join("t.db").display()),
            1,
        )
        .await
        .unwrap();
        let Store::Sqlite(pool) = &store else {
            unreachable!()
        };
        sqlx::query("CREATE TABLE t (a TEXT, n INTEGER, c TEXT)")
            .execute(pool)
            .await
            .unwrap();
        let sql = insert_sql(
            &store,
            "t",
            &[Col::Text("a"), Col::Const("c", "$2"), Col::Int("n")],
            "a",
        );
        let rows = serde_json::to_string(&[
            (Some("Nguyễn Thị \"Hồng\""), Some(7)),
            (None::<&str>, None::<i64>),
        ])
        .unwrap();
        let back: Vec<(Option<String>,)> = sqlx::query_as(&sql)
            .bind(rows)
            .bind("k")
            .fetch_all(pool)
            .await
            .unwrap();
        assert_eq!(back.len(), 2);
        let got: Vec<(Option<String>, Option<i64>, String)> =
            sqlx::query_as("SELECT a, n, c FROM t ORDER BY rowid")
                .fetch_all(pool)
                .await
                .unwrap();
        assert_eq!(
            got,
            vec![
                (Some("Nguyễn Thị \"Hồng\"".into()), Some(7), "k".into()),
                (None, None, "k".into())
            ]
        );

        // Rows 1 and 2 by rowid: new text; the number kept, or else taken
        // from the row's text (its length).
        let sql = update_sql(
            &store,
            "t",
            &[
                Col::Text("a"),
                Col::Const("n", "COALESCE(n, length({row0}))"),
            ],
            "rowid",
        );
        let rows = serde_json::to_string(&[("Đã sửa", 1), ("mới", 2)]).unwrap();
        sqlx::query(&sql).bind(rows).execute(pool).await.unwrap();
        let got: Vec<(Option<String>, Option<i64>)> =
            sqlx::query_as("SELECT a, n FROM t ORDER BY rowid")
                .fetch_all(pool)
                .await
                .unwrap();
        assert_eq!(
            got,
            vec![
                (Some("Đã sửa".into()), Some(7)),
                (Some("mới".into()), Some(3))
            ]
        );
    }
}
