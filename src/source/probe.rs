//! `tthc-watch source test NAME`: the first page of a source read exactly
//! as a sync reads it (with its follow-up requests), shown field by field
//! beside the raw values, with the values no mapping covers and what would
//! be quarantined or skipped, and why. Nothing is written.

use super::mapping::{Records, lookup, text};
use super::record::{map_value, nfc_value, parse_record};
use super::rest::RestSource;
use super::{Cursor, Parsed, SourceError, SourceSettings};
use crate::dossier::{ApplicantKind, Channel, Status};
use serde_json::Value;
use std::collections::BTreeMap;

/// One record as the mapping reads it.
#[derive(Debug)]
pub struct ProbeRecord {
    pub code: Option<String>,
    /// Field, where it was read, the raw value, the stored value.
    pub fields: Vec<(String, String, String, String)>,
    /// stored / quarantined: why / skipped: why, with any warnings.
    pub outcome: String,
}

#[derive(Debug, Default)]
pub struct Probe {
    pub fetched: usize,
    pub stored: usize,
    pub records: Vec<ProbeRecord>,
    /// (field, raw value, the source's label) → records, for values no
    /// `values.FIELD` table maps.
    pub unmapped: BTreeMap<(String, String, String), usize>,
    pub quarantined: BTreeMap<String, usize>,
    pub skipped: BTreeMap<String, usize>,
    pub warnings: BTreeMap<String, usize>,
}

/// Reads the first page of source `name`; `show` records are explained.
pub async fn probe(
    name: &str,
    settings: &SourceSettings,
    show: usize,
) -> Result<Probe, SourceError> {
    let mut src = RestSource::new(name, settings)?;
    let mapping = src.mapping.clone();
    let cursor = match mapping.paging {
        super::mapping::Paging::Keyset { .. } => Cursor::Revision(0),
        _ => Cursor::Page(0),
    };
    let query = src.page_query(&cursor)?;
    let reply = src.get_json(&mapping.list_path, &query).await?;
    let items = if mapping.items.is_empty() {
        Some(&reply)
    } else {
        reply.pointer(&mapping.items)
    };
    let mut records: Vec<Value> = match items {
        Some(Value::Array(a)) => a.clone(),
        Some(Value::Null) | None if reply.pointer(&mapping.items).is_some() => Vec::new(),
        _ => {
            return Err(SourceError::Rejected {
                source_name: name.to_owned(),
                message: format!("the first page has no array at {}", mapping.items),
            });
        }
    };
    records.iter_mut().for_each(nfc_value);
    let mut detail_warnings = vec![None; records.len()];
    if mapping.records == Records::Mapped && mapping.has_follow_ups() {
        detail_warnings = src.augment(&mut records).await?;
    }
    let mut p = Probe {
        fetched: records.len(),
        ..Probe::default()
    };
    for (i, rec) in records.iter().enumerate() {
        let mut parsed = match mapping.records {
            Records::Native => parse_record(&mapping, &rec.to_string()),
            Records::Mapped => map_value(&mapping, rec.clone()),
        };
        if let (Some(w), Parsed::Dossier(_, ws)) = (&detail_warnings[i], &mut parsed) {
            ws.push(w.clone());
        }
        for (field, ok) in [
            (
                "status",
                &(|s: &str| Status::parse(s).is_some()) as &dyn Fn(&str) -> bool,
            ),
            ("channel", &|s: &str| Channel::parse(s).is_some()),
            ("applicant_kind", &|s: &str| {
                ApplicantKind::parse(s).is_some()
            }),
        ] {
            let Some(raw) = mapping
                .fields
                .get(field)
                .and_then(|s| s.get(rec))
                .and_then(|r| r.text())
            else {
                continue;
            };
            let mapped = mapping.values.get(field).and_then(|m| m.get(&raw));
            if mapped.is_none() && !ok(&raw) {
                let label = if field == "status" {
                    mapping
                        .fields
                        .get("status_label")
                        .and_then(|s| s.get(rec))
                        .and_then(|r| r.text())
                        .unwrap_or_default()
                } else {
                    String::new()
                };
                *p.unmapped.entry((field.into(), raw, label)).or_default() += 1;
            }
        }
        let outcome = match &parsed {
            Parsed::Dossier(_, ws) => {
                p.stored += 1;
                for w in ws {
                    *p.warnings.entry(w.clone()).or_default() += 1;
                }
                if ws.is_empty() {
                    "stored".to_owned()
                } else {
                    format!("stored, with warnings: {}", ws.join("; "))
                }
            }
            Parsed::Bad(q) => {
                *p.quarantined.entry(q.reason.clone()).or_default() += 1;
                format!("quarantined: {}", q.reason)
            }
            Parsed::Skipped(_, r) => {
                *p.skipped.entry(r.clone()).or_default() += 1;
                format!("skipped: {r}")
            }
            Parsed::Deleted(_) => "deleted at the source".to_owned(),
            Parsed::Pending(_) => "not mapped".to_owned(),
        };
        if p.records.len() < show {
            p.records.push(ProbeRecord {
                code: mapping.code_of(rec),
                fields: explain(&mapping, rec, &parsed),
                outcome,
            });
        }
    }
    Ok(p)
}

/// Each mapped field: where it is read, the raw value, the stored value.
fn explain(
    mapping: &super::mapping::Mapping,
    rec: &Value,
    parsed: &Parsed,
) -> Vec<(String, String, String, String)> {
    let stored = match parsed {
        Parsed::Dossier(d, _) => serde_json::to_value(&d.dossier).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    let show = |v: Option<Value>| match v {
        None | Some(Value::Null) => "—".to_owned(),
        Some(Value::String(s)) => s,
        Some(v) => {
            let s = v.to_string();
            match s.char_indices().nth(60) {
                Some((at, _)) => format!("{}…", &s[..at]),
                None => s,
            }
        }
    };
    if mapping.records == Records::Native {
        return [
            "code",
            "status",
            "received_at",
            "due_at",
            "unit_code",
            "field_code",
        ]
        .iter()
        .map(|f| {
            let raw = lookup(rec, &format!("/{f}")).and_then(text);
            (
                (*f).to_owned(),
                format!("/{f}"),
                show(raw.map(Value::String)),
                show(stored.get(*f).cloned()),
            )
        })
        .collect();
    }
    mapping
        .fields
        .iter()
        .filter(|(_, spec)| !spec.pointers().is_empty())
        .map(|(field, spec)| {
            let raw = spec.get(rec).map(|r| r.value());
            let key = match field.as_str() {
                "duration_value" | "duration_unit" => "duration",
                other => other,
            };
            (
                field.clone(),
                spec.pointers().join(" | "),
                show(raw),
                show(stored.get(key).cloned()),
            )
        })
        .collect()
}
