//! Field mapping: how one source's JSON becomes a [`Dossier`]. Each shape has a
//! preset in `config/shapes/`; a source's `[sources.NAME.mapping]` table overrides
//! any part of it, so a new system is connected by configuration alone.

use crate::dossier::{
    ApplicantKind, Channel, Dossier, Duration, Extension, Pause, PauseKind, Status, Step,
};
use crate::source::Shape;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    #[error("{0}")]
    Invalid(String),
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Records {
    /// tthc-watch's own JSON (the native shape).
    Native,
    /// Mapped field by field.
    Mapped,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Paging {
    /// `?cursor_param=R&limit_param=N`, next cursor and has-more read from the page.
    Keyset {
        cursor_param: String,
        limit_param: String,
        next_cursor: String,
        has_more: String,
    },
    /// Page number and size, newest first.
    Page {
        page_param: String,
        size_param: String,
        first_page: u32,
    },
    /// Start and end offsets, newest first.
    Offset {
        start_param: String,
        end_param: String,
    },
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    pub list_path: String,
    /// JSON pointer of the record array in a page.
    pub items: String,
    pub records: Records,
    /// chrono format (`%z` for offsets) or `epoch_ms`.
    pub date_format: String,
    pub paging: Paging,
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// Canonical field name → JSON pointer in the record.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// Canonical field → (source value → canonical value).
    #[serde(default)]
    pub values: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(default)]
    pub steps: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub pauses: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub duration_unit_default: Option<String>,
}

const FIELDS: &[&str] = &[
    "code",
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
    "updated_at",
    "duration_value",
    "duration_unit",
    "extension_at",
    "extension_due_before",
    "extension_due_after",
    "extension_reason",
];
const REQUIRED: &[&str] = &["code", "received_at", "updated_at", "status"];
const STEP_FIELDS: &[&str] = &[
    "path",
    "name",
    "unit",
    "officer",
    "started_at",
    "finished_at",
    "due_at",
];
const PAUSE_FIELDS: &[&str] = &[
    "path",
    "kind",
    "started_at",
    "ended_at",
    "due_before",
    "due_after",
];

fn preset(shape: Shape) -> &'static str {
    match shape {
        Shape::Native => include_str!("../../config/shapes/native.toml"),
        Shape::Igate => include_str!("../../config/shapes/igate.toml"),
        Shape::Opencps => include_str!("../../config/shapes/opencps.toml"),
        Shape::Onedoor => include_str!("../../config/shapes/onedoor.toml"),
    }
}

fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, o) => *b = o.clone(),
    }
}

impl Mapping {
    /// The shape's preset with `overrides` laid over it, checked.
    /// The mapping of a source's settings: its shape's preset with its overrides.
    pub fn from_settings(s: &super::SourceSettings) -> Result<Mapping, MappingError> {
        Mapping::resolve(s.shape, s.mapping.as_ref())
    }

    pub fn resolve(shape: Shape, overrides: Option<&Value>) -> Result<Mapping, MappingError> {
        let preset: toml::Value = toml::from_str(preset(shape)).map_err(|e| {
            MappingError::Invalid(format!("built-in {} preset: {e}", shape.as_str()))
        })?;
        let mut v = serde_json::to_value(preset)
            .map_err(|e| MappingError::Invalid(format!("built-in preset: {e}")))?;
        if let Some(o) = overrides {
            merge(&mut v, o);
        }
        let m: Mapping =
            serde_json::from_value(v).map_err(|e| MappingError::Invalid(e.to_string()))?;
        m.check()?;
        Ok(m)
    }

    fn check(&self) -> Result<(), MappingError> {
        let unknown = |what: &str, k: &str, allowed: &[&str]| {
            MappingError::Invalid(format!(
                "unknown {what} '{k}'; expected one of: {}",
                allowed.join(", ")
            ))
        };
        for k in self.fields.keys() {
            if !FIELDS.contains(&k.as_str()) {
                return Err(unknown("field", k, FIELDS));
            }
        }
        for (k, p) in self
            .fields
            .iter()
            .chain(self.steps.iter().flatten())
            .chain(self.pauses.iter().flatten())
        {
            if !p.is_empty() && !p.starts_with('/') {
                return Err(MappingError::Invalid(format!(
                    "{k} = '{p}' is not a JSON pointer (it must start with /)"
                )));
            }
        }
        if self.records == Records::Mapped {
            for r in REQUIRED {
                if !self.fields.contains_key(*r) {
                    return Err(MappingError::Invalid(format!("fields.{r} is required")));
                }
            }
        }
        for k in self.steps.iter().flat_map(|s| s.keys()) {
            if !STEP_FIELDS.contains(&k.as_str()) {
                return Err(unknown("steps key", k, STEP_FIELDS));
            }
        }
        for k in self.pauses.iter().flat_map(|s| s.keys()) {
            if !PAUSE_FIELDS.contains(&k.as_str()) {
                return Err(unknown("pauses key", k, PAUSE_FIELDS));
            }
        }
        Ok(())
    }

    /// The record's code, for quarantine rows.
    pub fn code_of(&self, rec: &Value) -> Option<String> {
        let p = match self.records {
            Records::Native => "/code",
            Records::Mapped => self.fields.get("code").map_or("/code", String::as_str),
        };
        text(rec.pointer(p)?)
    }

    pub fn parse_date(&self, v: &Value) -> Result<NaiveDateTime, String> {
        if self.date_format == "epoch_ms" {
            let ms = v
                .as_i64()
                .ok_or_else(|| format!("{v} is not epoch milliseconds"))?;
            return DateTime::<Utc>::from_timestamp_millis(ms)
                .map(crate::clock::to_vn)
                .ok_or_else(|| format!("{ms} is out of range"));
        }
        let s = v
            .as_str()
            .ok_or_else(|| format!("{v} is not a date string"))?;
        let parsed = if self.date_format.contains("%z") {
            DateTime::parse_from_str(s, &self.date_format)
                .map(|t| crate::clock::to_vn(t.with_timezone(&Utc)))
        } else {
            NaiveDateTime::parse_from_str(s, &self.date_format)
        };
        parsed.map_err(|_| format!("'{s}' is not a date in the format {}", self.date_format))
    }

    /// One mapped record as a dossier; the error names the field and value.
    pub fn map_record(&self, rec: &Value) -> Result<Dossier, String> {
        let get = |name: &str| -> Option<&Value> {
            let p = self.fields.get(name)?;
            rec.pointer(p).filter(|v| !v.is_null())
        };
        let req_text = |name: &str| -> Result<String, String> {
            get(name)
                .and_then(text)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    format!(
                        "field {name} ({}) is missing",
                        self.fields.get(name).map_or("", String::as_str)
                    )
                })
        };
        let opt_text = |name: &str| get(name).and_then(text).filter(|s| !s.is_empty());
        let date = |name: &str| -> Result<Option<NaiveDateTime>, String> {
            get(name)
                .map(|v| self.parse_date(v).map_err(|e| format!("field {name}: {e}")))
                .transpose()
        };
        let value_of = |field: &str, raw: &str| -> String {
            self.values
                .get(field)
                .and_then(|m| m.get(raw))
                .cloned()
                .unwrap_or_else(|| raw.to_owned())
        };
        let status_raw = req_text("status")?;
        let status = Status::parse(&value_of("status", &status_raw)).ok_or_else(|| {
            format!("field status: unknown value '{status_raw}' (add it to values.status)")
        })?;
        let channel = match opt_text("channel") {
            Some(raw) => Channel::parse(&value_of("channel", &raw)).ok_or_else(|| {
                format!("field channel: unknown value '{raw}' (add it to values.channel)")
            })?,
            None => Channel::Direct,
        };
        let applicant_kind = match opt_text("applicant_kind") {
            Some(raw) => ApplicantKind::parse(&value_of("applicant_kind", &raw)).ok_or_else(|| {
                format!("field applicant_kind: unknown value '{raw}' (add it to values.applicant_kind)")
            })?,
            None => ApplicantKind::Person,
        };
        let duration = match get("duration_value").and_then(Value::as_u64) {
            Some(0) | None => None,
            Some(n) => {
                let unit = opt_text("duration_unit")
                    .map(|raw| value_of("duration_unit", &raw))
                    .or_else(|| self.duration_unit_default.clone())
                    .unwrap_or_else(|| "working_days".into());
                match unit.as_str() {
                    "working_days" => Some(Duration::WorkingDays(n as u32)),
                    "working_hours" => Some(Duration::WorkingHours(n as u32)),
                    other => return Err(format!("field duration_unit: unknown value '{other}'")),
                }
            }
        };
        let steps = match &self.steps {
            Some(m) => self.map_list(rec, m, |item, g| {
                Ok(Step {
                    name: g("name").and_then(text).unwrap_or_default(),
                    unit: g("unit").and_then(text).unwrap_or_default(),
                    officer: g("officer").and_then(text),
                    started_at: g("started_at")
                        .map(|v| self.parse_date(v))
                        .transpose()?
                        .ok_or_else(|| format!("step {item}: started_at is missing"))?,
                    finished_at: g("finished_at").map(|v| self.parse_date(v)).transpose()?,
                    due_at: g("due_at").map(|v| self.parse_date(v)).transpose()?,
                })
            })?,
            None => Vec::new(),
        };
        let pauses = match &self.pauses {
            Some(m) => self.map_list(rec, m, |item, g| {
                let raw = g("kind").and_then(text).unwrap_or_default();
                let kind = match value_of("pause_kind", &raw).as_str() {
                    "supplement" => PauseKind::Supplement,
                    "fee" => PauseKind::Fee,
                    _ => {
                        return Err(format!(
                            "pause {item}: unknown kind '{raw}' (add it to values.pause_kind)"
                        ));
                    }
                };
                Ok(Pause {
                    kind,
                    started_at: g("started_at")
                        .map(|v| self.parse_date(v))
                        .transpose()?
                        .ok_or_else(|| format!("pause {item}: started_at is missing"))?,
                    ended_at: g("ended_at").map(|v| self.parse_date(v)).transpose()?,
                    due_before: g("due_before").map(|v| self.parse_date(v)).transpose()?,
                    due_after: g("due_after").map(|v| self.parse_date(v)).transpose()?,
                })
            })?,
            None => Vec::new(),
        };
        let extension = match (
            date("extension_at")?,
            date("extension_due_before")?,
            date("extension_due_after")?,
        ) {
            (Some(at), Some(due_before), Some(due_after)) => Some(Extension {
                at,
                due_before,
                due_after,
                reason: opt_text("extension_reason"),
            }),
            _ => None,
        };
        Ok(Dossier {
            code: req_text("code")?,
            procedure_code: opt_text("procedure_code"),
            procedure_name: opt_text("procedure_name").unwrap_or_default(),
            field_code: opt_text("field_code").unwrap_or_default(),
            field_name: opt_text("field_name").unwrap_or_default(),
            unit_code: opt_text("unit_code").unwrap_or_default(),
            unit_name: opt_text("unit_name").unwrap_or_default(),
            officer: opt_text("officer"),
            applicant_name: opt_text("applicant_name").unwrap_or_default(),
            applicant_kind,
            applicant_id_no: opt_text("applicant_id_no"),
            applicant_phone: opt_text("applicant_phone"),
            applicant_email: opt_text("applicant_email"),
            summary: opt_text("summary"),
            channel,
            status,
            submitted_at: date("submitted_at")?,
            received_at: date("received_at")?.ok_or("field received_at is missing")?,
            due_at: date("due_at")?,
            finished_at: date("finished_at")?,
            returned_at: date("returned_at")?,
            duration,
            steps,
            pauses,
            extension,
            updated_at: date("updated_at")?.ok_or("field updated_at is missing")?,
        })
    }

    fn map_list<'a, T>(
        &self,
        rec: &'a Value,
        m: &BTreeMap<String, String>,
        f: impl Fn(usize, &dyn Fn(&str) -> Option<&'a Value>) -> Result<T, String>,
    ) -> Result<Vec<T>, String> {
        let Some(path) = m.get("path") else {
            return Ok(Vec::new());
        };
        let Some(items) = rec.pointer(path).and_then(Value::as_array) else {
            return Ok(Vec::new());
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let g = |k: &str| -> Option<&'a Value> {
                    item.pointer(m.get(k)?).filter(|v| !v.is_null())
                };
                f(i + 1, &g)
            })
            .collect()
    }
}

/// A scalar as text: strings as they are, numbers and booleans written out.
pub fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_preset_resolves() {
        for s in [Shape::Native, Shape::Igate, Shape::Opencps, Shape::Onedoor] {
            Mapping::resolve(s, None).unwrap();
        }
    }

    #[test]
    fn overrides_replace_single_fields() {
        let m = Mapping::resolve(
            Shape::Igate,
            Some(&json!({ "fields": { "officer": "/assignee" }, "date_format": "epoch_ms" })),
        )
        .unwrap();
        assert_eq!(m.fields["officer"], "/assignee");
        assert_eq!(m.fields["code"], "/code");
        assert_eq!(m.date_format, "epoch_ms");
    }

    #[test]
    fn unknown_field_is_named() {
        let err = Mapping::resolve(Shape::Onedoor, Some(&json!({ "fields": { "cdoe": "/x" } })))
            .unwrap_err();
        assert!(err.to_string().contains("unknown field 'cdoe'"), "{err}");
    }

    #[test]
    fn offsets_convert_to_vietnam_time() {
        let m = Mapping::resolve(Shape::Igate, None).unwrap();
        let t = m
            .parse_date(&json!("2026-11-25T01:00:00.000+0000"))
            .unwrap();
        assert_eq!(t.to_string(), "2026-11-25 08:00:00");
        let m =
            Mapping::resolve(Shape::Igate, Some(&json!({ "date_format": "epoch_ms" }))).unwrap();
        // 2026-11-25T01:00:00Z
        assert_eq!(
            m.parse_date(&json!(1_795_568_400_000i64))
                .unwrap()
                .to_string(),
            "2026-11-25 08:00:00"
        );
    }

    #[test]
    fn bad_status_names_field_and_value() {
        let m = Mapping::resolve(Shape::Onedoor, None).unwrap();
        let rec = json!({ "MaHoSo": "X", "TrangThaiHoSo": 42, "NgayTiepNhan": "20261125080000", "LastModifiedOn": "20261125080000" });
        let err = m.map_record(&rec).unwrap_err();
        assert!(err.contains("status") && err.contains("42"), "{err}");
    }
}
