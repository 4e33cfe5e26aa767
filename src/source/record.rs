//! One record of a page: a native record straight into a `Dossier`, a
//! mapped one through its mapping, and the checks no parser can make. A
//! record that cannot be used is quarantined naming the field; its
//! neighbours go on.

use super::Parsed;
use super::mapping::{Mapped, Mapping, Records};
use crate::dossier::Dossier;
use crate::store::{Incoming, QuarantineRecord};
use crate::text::nfc;
use serde::Deserialize;
use serde_json::Value;

/// Whether a record has a `"deleted": true` member (at any depth; the slow
/// path then reads the top level properly). Every native record carries
/// `"deleted": false`, so finding the key alone sent all of them down the
/// slow path (+10% on a PostgreSQL initial sync); a SIMD search for the key,
/// then a look at its value.
pub(super) fn says_deleted(raw: &str) -> bool {
    static KEY: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\"deleted\""));
    let b = raw.as_bytes();
    KEY.find_iter(b).any(|at| {
        let rest = b[at + 9..].trim_ascii_start();
        rest.strip_prefix(b":")
            .is_some_and(|v| v.trim_ascii_start().starts_with(b"true"))
    })
}

/// A record that held bytes that are not UTF-8, quarantined naming its code
/// and the first field where they were (read with the bytes replaced).
pub(super) fn not_utf8(mapping: &Mapping, raw: &str) -> Parsed {
    fn first_bad(v: &Value, path: &mut String) -> bool {
        match v {
            Value::String(s) => s.contains(char::REPLACEMENT_CHARACTER),
            Value::Array(a) => a.iter().enumerate().any(|(i, x)| {
                let len = path.len();
                path.push_str(&format!("/{i}"));
                let found = first_bad(x, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            Value::Object(m) => m.iter().any(|(k, x)| {
                let len = path.len();
                path.push('/');
                path.push_str(k);
                let found = first_bad(x, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            _ => false,
        }
    }
    let rec: Option<Value> = serde_json::from_str(raw).ok();
    let mut field = String::new();
    let found = rec.as_ref().is_some_and(|r| first_bad(r, &mut field));
    let at = if found {
        format!("field {field}")
    } else {
        "a field name".to_owned()
    };
    Parsed::Bad(QuarantineRecord {
        code: rec.as_ref().and_then(|r| mapping.code_of(r)),
        reason: format!(
            "{at}: text is not UTF-8 (a legacy TCVN3 or VNI encoding?); ask the source to send UTF-8"
        ),
        raw: raw.to_owned(),
    })
}

/// One record. A well-formed native record goes straight into a `Dossier`;
/// anything else (mapped shapes, tombstones, bad records) through a
/// `serde_json::Value`, whose errors name the field.
pub(super) fn parse_record(mapping: &Mapping, raw: &str) -> Parsed {
    // (A record that says it is deleted takes the slow path even when it
    // carries every field: the `Dossier` type has no place for the flag.)
    if mapping.records == Records::Native
        && !says_deleted(raw)
        && let Ok(mut d) = serde_json::from_str::<Dossier>(raw)
    {
        d.to_nfc();
        return match check(&d) {
            Ok(()) => Parsed::Dossier(Box::new(Incoming::new(d)), Vec::new()),
            Err(reason) => Parsed::Bad(QuarantineRecord {
                code: Some(d.code),
                reason,
                raw: raw.to_owned(),
            }),
        };
    }
    let mut rec: Value = match serde_json::from_str(raw) {
        Ok(v) => v,
        Err(e) => {
            return Parsed::Bad(QuarantineRecord {
                code: None,
                reason: format!("record is not valid JSON: {e}"),
                raw: raw.to_owned(),
            });
        }
    };
    nfc_value(&mut rec);
    match mapping.records {
        Records::Mapped if mapping.has_follow_ups() => Parsed::Pending(Box::new(rec)),
        Records::Mapped => map_value(mapping, rec),
        Records::Native => {
            let result = parse_native(&rec).and_then(|d| match d {
                Some(d) => check(&d).map(|_| Some(d)),
                None => Ok(None),
            });
            match result {
                Ok(Some(d)) => Parsed::Dossier(Box::new(Incoming::new(d)), Vec::new()),
                Ok(None) => match mapping.code_of(&rec) {
                    Some(code) => Parsed::Deleted(code),
                    None => Parsed::Bad(QuarantineRecord {
                        code: None,
                        reason: "deleted record without a code".into(),
                        raw: rec.to_string(),
                    }),
                },
                Err(reason) => Parsed::Bad(QuarantineRecord {
                    code: mapping.code_of(&rec),
                    reason,
                    raw: rec.to_string(),
                }),
            }
        }
    }
}

/// A mapped record (with its follow-up replies, if any, in place).
pub(super) fn map_value(mapping: &Mapping, rec: Value) -> Parsed {
    // Kept as the source listed it: the follow-up replies laid in would
    // make the same record a new quarantine row at each new reply.
    let bad = |reason: String, rec: &Value| {
        let mut raw = rec.clone();
        if let Value::Object(m) = &mut raw {
            m.retain(|k, _| !k.starts_with('$'));
        }
        Parsed::Bad(QuarantineRecord {
            code: mapping.code_of(rec),
            reason,
            raw: raw.to_string(),
        })
    };
    match mapping.map_record(&rec) {
        Ok(Mapped::Dossier(d, warnings)) => match check(&d) {
            Ok(()) => Parsed::Dossier(Box::new(Incoming::new(*d)), warnings),
            Err(reason) => bad(reason, &rec),
        },
        Ok(Mapped::Skipped(code, reason)) => Parsed::Skipped(code, reason),
        Err(reason) => bad(reason, &rec),
    }
}

/// A native record; `Ok(None)` is a deletion. Errors name the field.
fn parse_native(rec: &Value) -> Result<Option<Dossier>, String> {
    match rec.get("code") {
        Some(Value::String(s)) if !s.trim().is_empty() => {}
        _ => return Err("field code is missing or empty".into()),
    }
    if rec.get("deleted").and_then(Value::as_bool) == Some(true) {
        return Ok(None);
    }
    for f in [
        "submitted_at",
        "received_at",
        "due_at",
        "finished_at",
        "returned_at",
        "updated_at",
    ] {
        if let Some(Value::String(s)) = rec.get(f)
            && chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").is_err()
        {
            return Err(format!(
                "field {f}: '{s}' is not a date-time (YYYY-MM-DDTHH:MM:SS)"
            ));
        }
    }
    Dossier::deserialize(rec)
        .map(Some)
        .map_err(|e| format!("record does not match the native shape: {e}"))
}

/// The longest a procedure's legal time limit runs (the longest in the
/// national catalogue are months, not years): beyond it a value is a typo or
/// a placeholder ("9999-12-31"), which no check could then evaluate.
const MAX_DURATION_WORKING_DAYS: u32 = 365;
const MAX_DUE_YEARS_AFTER_RECEIPT: i64 = 5;

/// Checks no parser can: a code, and dates and durations that cannot be true.
fn check(d: &Dossier) -> Result<(), String> {
    use chrono::Datelike;
    if d.code.trim().is_empty() {
        return Err("field code is missing or empty".into());
    }
    let y = d.received_at.year();
    if !(2000..=2100).contains(&y) {
        return Err(format!("field received_at: year {y} is not plausible"));
    }
    if let Some(due) = d.due_at
        && due < d.received_at
    {
        return Err(format!(
            "field due_at: {due} is before received_at {}",
            d.received_at
        ));
    }
    if let Some(due) = d.due_at
        && due > d.received_at + chrono::Duration::days(365 * MAX_DUE_YEARS_AFTER_RECEIPT)
    {
        return Err(format!(
            "field due_at: {due} is more than {MAX_DUE_YEARS_AFTER_RECEIPT} years after received_at {}",
            d.received_at
        ));
    }
    match d.duration {
        Some(crate::dossier::Duration::WorkingDays(n)) if n > MAX_DURATION_WORKING_DAYS => {
            return Err(format!(
                "field duration: {n} working days is not plausible (at most {MAX_DURATION_WORKING_DAYS})"
            ));
        }
        Some(crate::dossier::Duration::WorkingHours(n)) if n > MAX_DURATION_WORKING_DAYS * 8 => {
            return Err(format!(
                "field duration: {n} working hours is not plausible (at most {})",
                MAX_DURATION_WORKING_DAYS * 8
            ));
        }
        _ => {}
    }
    for (i, p) in d.pauses.iter().enumerate() {
        if let Some(end) = p.ended_at
            && end < p.started_at
        {
            return Err(format!(
                "field pauses/{i}: ends {end} before it starts {}",
                p.started_at
            ));
        }
    }
    if let Some(f) = d.finished_at
        && f < d.received_at
    {
        return Err(format!(
            "field finished_at: {f} is before received_at {}",
            d.received_at
        ));
    }
    Ok(())
}

/// Every string in a page, in NFC.
pub(super) fn nfc_value(v: &mut Value) {
    match v {
        Value::String(s) => {
            let n = nfc(s);
            if n != *s {
                *s = n;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(nfc_value),
        Value::Object(m) => m.values_mut().for_each(nfc_value),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deleted_flag_is_read_not_just_found() {
        assert!(says_deleted(r#"{"code":"A","deleted":true}"#));
        assert!(says_deleted(r#"{"code":"A", "deleted" :  true, "x": 1}"#));
        assert!(!says_deleted(r#"{"code":"A","deleted":false}"#));
        assert!(!says_deleted(
            r#"{"summary":"\"deleted\" true","deleted":false}"#
        ));
        assert!(!says_deleted(r#"{"code":"A"}"#));
    }
}
