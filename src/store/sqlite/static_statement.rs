//! A prepared SQLite statement whose text parameters SQLite reads in place.
//!
//! rusqlite binds every text with `SQLITE_TRANSIENT`: SQLite copies it into
//! a buffer of its own first, and then again into the row it builds. For the
//! ~1.6 KB of a dossier's columns that first copy was 7% of a 1M initial
//! sync's samples, on the thread that writes. Here the text is bound with
//! `SQLITE_STATIC`, which is sound because every binding is cleared before
//! `execute` returns (or unwinds), while the borrowed values are still alive.

use crate::store::value::Val;
use rusqlite::{Connection, ffi};
use std::ffi::{CStr, c_int};
use std::ptr::{self, NonNull};

pub(in crate::store) struct StaticStatement<'c> {
    conn: &'c Connection,
    stmt: NonNull<ffi::sqlite3_stmt>,
}

impl<'c> StaticStatement<'c> {
    pub(in crate::store) fn prepare(conn: &'c Connection, sql: &str) -> rusqlite::Result<Self> {
        let len = c_int::try_from(sql.len()).map_err(|_| rusqlite::Error::InvalidQuery)?;
        let mut stmt = ptr::null_mut();
        // SAFETY: the handle is the open connection `conn` borrows; `sql`
        // outlives the call, its length is given (no NUL needed).
        let rc = unsafe {
            ffi::sqlite3_prepare_v3(
                conn.handle(),
                sql.as_ptr().cast(),
                len,
                ffi::SQLITE_PREPARE_PERSISTENT as _,
                &mut stmt,
                ptr::null_mut(),
            )
        };
        if rc != ffi::SQLITE_OK {
            return Err(error(conn, rc));
        }
        let stmt = NonNull::new(stmt).ok_or(rusqlite::Error::InvalidQuery)?;
        Ok(StaticStatement { conn, stmt })
    }

    /// Binds `values` to `?1, ?2, …`, steps once and resets; the rows changed.
    pub(in crate::store) fn execute<'v>(
        &mut self,
        values: impl IntoIterator<Item = Val<'v>>,
    ) -> rusqlite::Result<u64> {
        let st = self.stmt.as_ptr();
        // Reset and unbound on every way out of here, a panic in `values`
        // included: no binding outlives the texts it borrows.
        let unbind = Unbind(st);
        let bound = values.into_iter().enumerate().try_for_each(|(k, v)| {
            let col = c_int::try_from(k + 1).map_err(|_| rusqlite::Error::InvalidQuery)?;
            // SAFETY: `st` is a live statement of this connection. A text
            // stays borrowed for this whole call and its binding is cleared
            // (`unbind`) before the borrow ends: SQLite never reads it later.
            let rc = unsafe {
                match v {
                    Val::Text(Some(t)) => ffi::sqlite3_bind_text64(
                        st,
                        col,
                        t.as_ptr().cast(),
                        t.len() as u64,
                        ffi::SQLITE_STATIC(),
                        ffi::SQLITE_UTF8 as _,
                    ),
                    Val::Int(Some(n)) => ffi::sqlite3_bind_int64(st, col, n),
                    Val::Text(None) | Val::Int(None) => ffi::sqlite3_bind_null(st, col),
                }
            };
            match rc {
                ffi::SQLITE_OK => Ok(()),
                rc => Err(error(self.conn, rc)),
            }
        });
        // SAFETY: as above; stepping reads the bound texts, still borrowed.
        let rc = match bound {
            Ok(()) => unsafe { ffi::sqlite3_step(st) },
            Err(_) => ffi::SQLITE_ERROR,
        };
        // The message of a failed step, before the reset clears it.
        let failed = (rc != ffi::SQLITE_DONE && bound.is_ok()).then(|| error(self.conn, rc));
        drop(unbind);
        bound?;
        match failed {
            Some(e) => Err(e),
            None => Ok(self.conn.changes()),
        }
    }
}

/// Resets a statement and clears its bindings when dropped.
struct Unbind(*mut ffi::sqlite3_stmt);

impl Drop for Unbind {
    fn drop(&mut self) {
        // SAFETY: a live statement (its `StaticStatement` outlives this);
        // afterwards it holds no pointer to the values that were bound.
        unsafe {
            ffi::sqlite3_reset(self.0);
            ffi::sqlite3_clear_bindings(self.0);
        }
    }
}

impl Drop for StaticStatement<'_> {
    fn drop(&mut self) {
        // SAFETY: prepared by `prepare` and finalized only here.
        unsafe {
            ffi::sqlite3_finalize(self.stmt.as_ptr());
        }
    }
}

/// The connection's error for result code `rc`, with SQLite's message.
fn error(conn: &Connection, rc: c_int) -> rusqlite::Error {
    // SAFETY: the handle is open; SQLite's message is a NUL-terminated string
    // it owns, copied here before any other call on the connection.
    let msg = unsafe {
        let m = ffi::sqlite3_errmsg(conn.handle());
        (!m.is_null()).then(|| CStr::from_ptr(m).to_string_lossy().into_owned())
    };
    rusqlite::Error::SqliteFailure(ffi::Error::new(rc), msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_numbers_and_nulls_arrive_as_bound_and_errors_say_why() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE t (a TEXT NOT NULL UNIQUE, n INTEGER, o TEXT)")
            .unwrap();
        let mut st = StaticStatement::prepare(&c, "INSERT INTO t VALUES (?1, ?2, ?3)").unwrap();
        for (a, n) in [("Nguyễn Thị Hồng", 7), ("", 0)] {
            // A text that lives only for this call: the row keeps a copy.
            let a = a.to_owned();
            let changed = st
                .execute([Val::Text(Some(&a)), Val::Int(Some(n)), Val::Text(None)])
                .unwrap();
            assert_eq!(changed, 1);
        }
        let rows: Vec<(String, i64, Option<String>)> = c
            .prepare("SELECT a, n, o FROM t ORDER BY n DESC")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            vec![("Nguyễn Thị Hồng".into(), 7, None), ("".into(), 0, None)]
        );
        // A failed step names its cause; the statement stays usable.
        let e = st
            .execute([Val::Text(Some("")), Val::Int(None), Val::Text(None)])
            .unwrap_err();
        assert!(
            e.to_string().contains("UNIQUE constraint failed: t.a"),
            "{e}"
        );
        let e = st
            .execute([Val::Text(None), Val::Int(None), Val::Text(None)])
            .unwrap_err();
        assert!(
            e.to_string().contains("NOT NULL constraint failed: t.a"),
            "{e}"
        );
        st.execute([
            Val::Text(Some("mới")),
            Val::Int(Some(1)),
            Val::Text(Some("x")),
        ])
        .unwrap();
        // Values that panic half-way leave nothing bound: the statement is
        // reset and its bindings cleared as the panic unwinds.
        let text = String::from("bound, then dropped");
        let values = [Val::Text(Some(text.as_str()))]
            .into_iter()
            .chain(std::iter::once_with(|| {
                panic!("a value that cannot be made")
            }));
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = st.execute(values);
        }));
        assert!(unwound.is_err());
        drop(text);
        // SAFETY: the statement is live; the expanded text is SQLite's, freed here.
        let expanded = unsafe {
            let p = ffi::sqlite3_expanded_sql(st.stmt.as_ptr());
            let s = CStr::from_ptr(p).to_string_lossy().into_owned();
            ffi::sqlite3_free(p.cast());
            s
        };
        assert_eq!(expanded, "INSERT INTO t VALUES (NULL, NULL, NULL)");
        // SAFETY: as above.
        assert_eq!(unsafe { ffi::sqlite3_stmt_busy(st.stmt.as_ptr()) }, 0);
        // A bad SQL text is refused when prepared, naming the problem.
        let e = StaticStatement::prepare(&c, "INSERT INTO nowhere VALUES (?1)")
            .err()
            .unwrap();
        assert!(e.to_string().contains("no such table: nowhere"), "{e}");
    }
}
