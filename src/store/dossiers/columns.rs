//! A dossier's stored columns, in the form both backends write them (times
//! formatted, JSON encoded), made once with its content hash where the record
//! is parsed: off the thread that writes to the database.

use super::opt_fmt;
use super::steps;
use crate::clock::fmt_db;
use crate::dossier::{Dossier, Duration};
use crate::store::value::Val;
use sha2::{Digest, Sha256};

/// A dossier from a source with its content hash, computed where the record
/// is parsed (off the thread that writes to the database).
#[derive(Clone, Debug)]
pub struct Incoming {
    pub dossier: Dossier,
    pub hash: String,
    pub(in crate::store) cols: Columns,
}

impl Incoming {
    pub fn new(dossier: Dossier) -> Incoming {
        let cols = Columns::new(&dossier);
        let mut i = Incoming {
            dossier,
            hash: String::new(),
            cols,
        };
        i.hash = i.content_hash();
        i
    }

    /// Content hash: equal hashes mean nothing to write. Taken over the code
    /// and the stored column values (every field of the dossier, in the form
    /// it is stored), so the dossier is not serialised a second time. Each
    /// value is tagged and length-prefixed: no two dossiers feed the same
    /// bytes. (Hashes of an older form differ once; a dossier whose content
    /// did not change then only gets its hash rewritten, see `is_rehash`.)
    fn content_hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.dossier.code.as_bytes());
        for (k, v) in self.values().into_iter().enumerate() {
            match v {
                _ if k == CONTENT_HASH => {}
                Val::Text(None) | Val::Int(None) => h.update([0]),
                Val::Text(Some(t)) => {
                    h.update([1]);
                    h.update((t.len() as u64).to_le_bytes());
                    h.update(t.as_bytes());
                }
                Val::Int(Some(n)) => {
                    h.update([2]);
                    h.update(n.to_le_bytes());
                }
            }
        }
        hex::encode(h.finalize())
    }
}

/// The stored columns that take work to make (times formatted, JSON encoded),
/// made with the content hash, off the thread that writes.
#[derive(Clone, Debug)]
pub(in crate::store) struct Columns {
    pub(in crate::store) submitted: Option<String>,
    pub(in crate::store) received: String,
    pub(in crate::store) due: Option<String>,
    pub(in crate::store) finished: Option<String>,
    pub(in crate::store) returned: Option<String>,
    pub(in crate::store) duration: (Option<&'static str>, Option<i64>),
    pub(in crate::store) pauses: String,
    pub(in crate::store) extension: Option<String>,
    pub(in crate::store) updated: String,
    pub(in crate::store) steps: String,
    /// When the current (unfinished) step started.
    pub(in crate::store) step_since: Option<String>,
    /// The first officer at the dossier's own unit, for the KPIs by officer.
    pub(in crate::store) handling_officer: Option<String>,
}

impl Columns {
    fn new(d: &Dossier) -> Columns {
        let encode =
            |v: serde_json::Result<String>, empty: &str| v.unwrap_or_else(|_| empty.into());
        Columns {
            submitted: opt_fmt(d.submitted_at),
            received: fmt_db(d.received_at),
            due: opt_fmt(d.due_at),
            finished: opt_fmt(d.finished_at),
            returned: opt_fmt(d.returned_at),
            duration: duration_cols(d.duration),
            pauses: encode(serde_json::to_string(&d.pauses), "[]"),
            extension: d
                .extension
                .as_ref()
                .and_then(|e| serde_json::to_string(e).ok()),
            updated: fmt_db(d.updated_at),
            steps: steps::encode(&d.steps),
            step_since: opt_fmt(
                d.steps
                    .iter()
                    .filter(|s| s.finished_at.is_none())
                    .map(|s| s.started_at)
                    .max(),
            ),
            handling_officer: d
                .steps
                .iter()
                .find(|s| s.unit == d.unit_name)
                .and_then(|s| s.officer.clone()),
        }
    }
}

fn duration_cols(d: Option<Duration>) -> (Option<&'static str>, Option<i64>) {
    match d {
        Some(Duration::WorkingDays(v)) => (Some("working_days"), Some(i64::from(v))),
        Some(Duration::WorkingHours(v)) => (Some("working_hours"), Some(i64::from(v))),
        None => (None, None),
    }
}

// The columns that come from the source, in `DossierJson` order.
pub(in crate::store) const DOSSIER_COLUMNS: [&str; 31] = [
    "procedure_code",
    "procedure_name",
    "field_code",
    "field_name",
    "unit_code",
    "unit_name",
    "officer",
    "applicant_name",
    "applicant_kind",
    "applicant_id_no",
    "applicant_phone",
    "applicant_email",
    "summary",
    "channel",
    "status",
    "submitted_at",
    "received_at",
    "due_at",
    "finished_at",
    "returned_at",
    "duration_unit",
    "duration_value",
    "current_step",
    "pauses",
    "extension",
    "source_updated_at",
    "content_hash",
    "steps",
    "step_since",
    "handling_officer",
    "applicant_address",
];

impl Incoming {
    /// The values of `DOSSIER_COLUMNS`, in order: what every backend writes.
    pub(in crate::store) fn values(&self) -> [Val<'_>; DOSSIER_COLUMNS.len()] {
        fn t(v: &str) -> Val<'_> {
            Val::Text(Some(v))
        }
        fn o(v: &Option<String>) -> Val<'_> {
            Val::Text(v.as_deref())
        }
        let (d, c) = (&self.dossier, &self.cols);
        [
            o(&d.procedure_code),
            t(&d.procedure_name),
            t(&d.field_code),
            t(&d.field_name),
            t(&d.unit_code),
            t(&d.unit_name),
            o(&d.officer),
            t(&d.applicant_name),
            t(d.applicant_kind.as_str()),
            o(&d.applicant_id_no),
            o(&d.applicant_phone),
            o(&d.applicant_email),
            o(&d.summary),
            t(d.channel.as_str()),
            t(d.status.as_str()),
            o(&c.submitted),
            t(&c.received),
            o(&c.due),
            o(&c.finished),
            o(&c.returned),
            Val::Text(c.duration.0),
            Val::Int(c.duration.1),
            Val::Text(d.current_step().map(|s| s.name.as_str())),
            t(&c.pauses),
            o(&c.extension),
            t(&c.updated),
            t(&self.hash),
            t(&c.steps),
            o(&c.step_since),
            o(&c.handling_officer),
            o(&d.applicant_address),
        ]
    }
}

/// Positions of `due_at` and `content_hash` in `DOSSIER_COLUMNS`.
pub(in crate::store) const DUE_AT: usize = 17;
pub(in crate::store) const CONTENT_HASH: usize = 26;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_positions_name_their_columns() {
        assert_eq!(DOSSIER_COLUMNS[DUE_AT], "due_at");
        assert_eq!(DOSSIER_COLUMNS[CONTENT_HASH], "content_hash");
    }
}
