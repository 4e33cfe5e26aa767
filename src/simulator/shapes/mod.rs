//! How each family of real systems puts a dossier on the wire: key names,
//! nesting, value types, date formats and status codes, as the recorded-style
//! fixtures in `tests/fixtures/real/` show them (built from the systems' public
//! code; their README gives the source of every quirk). Every value comes from
//! the simulated `Dossier`; what a dossier does not hold (ids, user ids, the
//! province) is made up stably from its code. The native shape is tthc-watch's
//! own JSON.
//!
//! Each family has its own module (`opencps`, `onedoor`, `igate`), its
//! functions re-exported here; the native shape and what the families share
//! (dates, ids made up from codes) are in this file.

use crate::dossier::{Dossier, Duration, Status};
use crate::source::Shape;
use chrono::NaiveDateTime;
use serde_json::{Value, json};

/// An object from `"key" => value` pairs, each value through `Value::from`
/// (so `None` is written as `null`).
macro_rules! obj {
    ($($k:literal => $v:expr),* $(,)?) => {{
        let mut m = serde_json::Map::new();
        $( m.insert($k.to_owned(), serde_json::Value::from($v)); )*
        m
    }};
}

mod igate;
mod onedoor;
mod opencps;

pub use igate::{igate, igate_in_utc, igate_page, igate_status};
pub use onedoor::{
    onedoor_detail, onedoor_id, onedoor_linhvuc, onedoor_list, onedoor_page, onedoor_procedure,
    onedoor_result,
};
pub use opencps::{
    OPENCPS_GROUP_ID, opencps_actions, opencps_detail, opencps_id, opencps_id_in, opencps_list,
    opencps_status,
};

/// The native record: tthc-watch's own JSON plus the revision.
pub fn native(d: &Dossier, rev: u64) -> Value {
    let mut v = serde_json::to_value(d).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("rev".into(), json!(rev));
        m.insert("deleted".into(), json!(false));
    }
    v
}

pub fn native_tombstone(code: &str, rev: u64) -> Value {
    json!({ "code": code, "rev": rev, "deleted": true })
}

/// A dossier as one record of the shape's list.
pub fn render(shape: Shape, d: &Dossier, rev: u64) -> Value {
    match shape {
        Shape::Native => native(d, rev),
        Shape::Igate => igate(d),
        Shape::Opencps => opencps_list(d),
        Shape::Onedoor => onedoor_list(d),
    }
}

// ---- Common -------------------------------------------------------------------

/// When the dossier came into being: submitted online, or received at the desk.
/// Every list that sorts "by creation" sorts by this, and every family writes
/// it as the submission time (a desk dossier is submitted as it is received).
pub fn created_at(d: &Dossier) -> NaiveDateTime {
    d.submitted_at.unwrap_or(d.received_at)
}

/// The receipt, which no wire shows before it happened.
fn received(d: &Dossier) -> Option<NaiveDateTime> {
    (d.status != Status::Submitted).then_some(d.received_at)
}

/// The due date, set at receipt.
fn due(d: &Dossier) -> Option<NaiveDateTime> {
    d.due_at.filter(|_| d.status != Status::Submitted)
}

fn open_pause(d: &Dossier) -> bool {
    d.pauses.iter().any(|p| p.ended_at.is_none())
}

fn current_index(d: &Dossier) -> Option<usize> {
    d.steps.iter().rposition(|s| s.finished_at.is_none())
}

/// The applicant's street address, the tail of the simulated summary
/// ("…, số 12 đường Lê Lợi" → "Số 12 đường Lê Lợi").
pub(crate) fn address_of(summary: Option<&str>) -> Option<String> {
    let (_, tail) = summary?.rsplit_once(", ")?;
    Some(format!("Số {}", tail.strip_prefix("số ")?))
}

/// The applicant's address as the dossier has it.
fn address(d: &Dossier) -> Option<String> {
    d.applicant_address.clone()
}

fn hours(x: Duration) -> u32 {
    match x {
        Duration::WorkingDays(n) => n * 8,
        Duration::WorkingHours(h) => h,
    }
}

/// A small stable hash for ids that look like the real ones.
fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// `fxhash` finalised (splitmix), so that nearby keys spread out.
fn mixed(s: &str) -> u64 {
    let mut z = fxhash(s).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A GUID in `space` (4 hex digits), the last 12 digits from a hash of `key`.
fn guid(space: &str, key: &str) -> String {
    format!(
        "00000000-0000-4000-{space}-{:012x}",
        mixed(key) & 0xffff_ffff_ffff
    )
}

/// A 24-hex-digit MongoDB-style object id (iGate).
fn object_id(key: &str) -> String {
    format!(
        "{:016x}{:08x}",
        mixed(key),
        mixed(&format!("{key}#")) as u32
    )
}

/// The running number at the end of a dossier code.
fn code_number(code: &str) -> Option<u64> {
    code.rsplit('-').next()?.parse().ok()
}

/// A number for a user, as the systems' user ids look.
fn user_number(name: &str) -> u64 {
    20_000 + mixed(name) % 1_000
}

#[cfg(test)]
mod tests;
