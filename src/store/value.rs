//! A stored column's value as the bulk writers take it (SQLite's prepared
//! statements, PostgreSQL's `COPY` rows and JSON batches): borrowed from the
//! columns made off the writing thread, so nothing is copied to write it.

/// One stored column's value.
#[derive(Clone, Copy, Debug, serde::Serialize)]
#[serde(untagged)]
pub(crate) enum Val<'a> {
    Text(Option<&'a str>),
    Int(Option<i64>),
}
