//! Field mapping: how one source's JSON becomes a [`Dossier`]. Each shape has a
//! preset in `config/shapes/`; a source's `[sources.NAME.mapping]` table overrides
//! any part of it, so a new system is connected by configuration alone.

use crate::dossier::{
    ApplicantKind, Channel, Dossier, Duration, Extension, Pause, PauseKind, Status, Step,
};
use crate::source::Shape;
pub use crate::source::path::{OneOrMany, Spec, lookup, text};
use chrono::{DateTime, NaiveDateTime, Timelike, Utc};
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

impl Paging {
    /// The parameters asking for the `n`-th page (0-based) of `size`
    /// records, for page and offset paging (a list page or a catalogue's);
    /// None for keyset paging, which pages by revision.
    pub fn page_params(&self, n: u64, size: u64) -> Option<[(String, String); 2]> {
        match self {
            Paging::Page {
                page_param,
                size_param,
                first_page,
            } => Some([
                (page_param.clone(), (u64::from(*first_page) + n).to_string()),
                (size_param.clone(), size.to_string()),
            ]),
            Paging::Offset {
                start_param,
                end_param,
            } => Some([
                (start_param.clone(), (n * size).to_string()),
                (end_param.clone(), ((n + 1) * size).to_string()),
            ]),
            Paging::Keyset { .. } => None,
        }
    }
}

/// How a poll finds what changed when the source has no change feed
/// (`[polling]`; keyset paging ignores it).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Polling {
    #[serde(default)]
    pub stop: Stop,
    /// Hours between full re-reads of every page (0: never). A full
    /// re-read catches what the usual stop misses (a change the source's
    /// order did not bring to the front, a dossier outside the window).
    #[serde(default)]
    pub full_every_hours: u32,
    /// Between full re-reads, ask only for dossiers received in the last
    /// `days` days (the source's own filter).
    #[serde(default)]
    pub window: Option<Window>,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    /// Newest-first pages read back to the last `updated_at` seen minus the
    /// source's overlap (the source sorts by a last-change time it sends).
    #[default]
    Watermark,
    /// Newest-first pages read until one brings nothing new or changed (the
    /// source sorts by a last-change time it does not send).
    Unchanged,
    /// Every page, every poll (the source's sort cannot be trusted).
    Never,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Query parameter taking the earliest receipt date.
    pub param: String,
    pub days: u32,
    /// chrono format of the parameter's value.
    pub format: String,
}

/// A follow-up request for each dossier whose list record is new or
/// changed: its reply is kept (cached by the list record's content) and
/// read through `/$detail/...` pointers.
#[derive(Clone, Debug, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Detail {
    /// Path, with `{/pointer}` replaced by the list record's value there.
    pub path: String,
    /// Query parameters, templated the same way.
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// Pointer of the record's identity in the list (the cache key).
    pub key: String,
    /// Part of the reply that is the dossier (`""`: the whole reply).
    #[serde(default)]
    pub record: String,
    /// Top-level list members that change without the dossier changing
    /// (an indexing time): they do not make the detail be fetched again.
    #[serde(default)]
    pub ignore: Vec<String>,
}

/// A catalogue read whole (procedure → field, field code → name), cached
/// and read again after `refresh_hours`; a record's entry is found by the
/// first of `matches` that holds a value and read through
/// `/$catalog/NAME/...` pointers.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    pub path: String,
    #[serde(default = "default_items")]
    pub items: String,
    /// Pointer of an entry's key in the catalogue.
    pub key: String,
    /// Pointers in the record whose value is that key.
    pub matches: Vec<String>,
    #[serde(default = "default_refresh_hours")]
    pub refresh_hours: u32,
    #[serde(default)]
    pub query: BTreeMap<String, String>,
}

fn default_items() -> String {
    "/data".into()
}
fn default_refresh_hours() -> u32 {
    24
}

/// A dossier paused without a pause record: the source flags it (OpenCPS
/// `lockState`), and an open pause is added while the flag is up.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OpenPause {
    pub when: String,
    pub is: Vec<String>,
    #[serde(default = "default_pause_kind")]
    pub kind: String,
    /// When it started (default: the record's `updated_at`).
    #[serde(default)]
    pub started_at: Option<Spec>,
}

fn default_pause_kind() -> String {
    "supplement".into()
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    pub list_path: String,
    /// JSON pointer of the record array in a page (`""`: the page is the array).
    pub items: String,
    pub records: Records,
    /// chrono formats tried in order (`%z` for offsets), or `epoch_ms`.
    pub date_format: OneOrMany,
    /// Per field, formats that replace `date_format`.
    #[serde(default)]
    pub date_formats: BTreeMap<String, OneOrMany>,
    pub paging: Paging,
    #[serde(default)]
    pub polling: Polling,
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// Canonical field name → where its value is in the record.
    #[serde(default)]
    pub fields: BTreeMap<String, Spec>,
    /// Canonical field → (source value → canonical value).
    #[serde(default)]
    pub values: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(default)]
    pub steps: Option<BTreeMap<String, Spec>>,
    #[serde(default)]
    pub pauses: Option<BTreeMap<String, Spec>>,
    #[serde(default)]
    pub open_pause: Option<OpenPause>,
    #[serde(default)]
    pub duration_unit_default: Option<String>,
    #[serde(default)]
    pub detail: Option<Detail>,
    #[serde(default)]
    pub catalogs: BTreeMap<String, Catalog>,
    /// The query parameter by which the source itself lists one agency's
    /// dossiers (OpenCPS `agency`): asked when `agencies` names one agency.
    #[serde(default)]
    pub agency_param: Option<String>,
    /// The agencies (unit codes) this committee answers for; others are
    /// skipped and counted. Empty: every agency. From `sources.NAME.agencies`.
    #[serde(skip)]
    pub agencies: Vec<String>,
}

/// A record read through the mapping.
#[derive(Debug)]
pub enum Mapped {
    /// A dossier, with warnings about optional parts that could not be read
    /// (left out, the rest stored).
    Dossier(Box<Dossier>, Vec<String>),
    /// Not for this committee or not yet a case to watch: its code, and the
    /// reason. (A stored dossier that becomes so is no longer watched.)
    Skipped(String, String),
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
    "applicant_address",
    "summary",
    "channel",
    "status",
    "status_label",
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
const REQUIRED: &[&str] = &["code", "received_at", "status"];
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

/// The .NET default date (`0001-01-01T00:00:00`) some systems send for "unset".
fn is_placeholder_date(t: &NaiveDateTime) -> bool {
    use chrono::Datelike;
    t.year() <= 1
}

impl Mapping {
    /// The mapping of a source's settings: its shape's preset with its overrides.
    pub fn from_settings(s: &super::SourceSettings) -> Result<Mapping, MappingError> {
        let mut m = Mapping::resolve(s.shape, s.mapping.as_ref())?;
        m.agencies = s.agencies.clone();
        Ok(m)
    }

    /// The shape's preset with `overrides` laid over it, checked.
    pub fn resolve(shape: Shape, overrides: Option<&Value>) -> Result<Mapping, MappingError> {
        let preset: toml::Value = toml::from_str(preset(shape)).map_err(|e| {
            MappingError::Invalid(format!("built-in {} preset: {e}", shape.as_str()))
        })?;
        let v = serde_json::to_value(preset)
            .map_err(|e| MappingError::Invalid(format!("built-in preset: {e}")))?;
        Mapping::from_preset(v, overrides)
    }

    /// A mapping from a preset given as a value (a file layout's
    /// `[mapping]`), with a source's overrides merged over it.
    pub fn from_preset(mut v: Value, overrides: Option<&Value>) -> Result<Mapping, MappingError> {
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
        let tables = [
            ("fields", Some(&self.fields)),
            ("steps", self.steps.as_ref()),
            ("pauses", self.pauses.as_ref()),
        ];
        for (table, specs) in tables {
            for (k, spec) in specs.into_iter().flatten() {
                if let Some(p) = spec.problem() {
                    return Err(MappingError::Invalid(format!("{table}.{k}: {p}")));
                }
            }
        }
        if self.records == Records::Mapped {
            for r in REQUIRED {
                if matches!(self.fields.get(*r), None | Some(Spec::Off(_))) {
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
        for k in self.date_formats.keys() {
            if !FIELDS.contains(&k.as_str()) {
                return Err(unknown("date_formats field", k, FIELDS));
            }
        }
        if let Some(p) = &self.open_pause
            && !["supplement", "fee"].contains(&p.kind.as_str())
        {
            return Err(MappingError::Invalid(format!(
                "open_pause.kind '{}': expected supplement or fee",
                p.kind
            )));
        }
        if let Some(w) = &self.polling.window {
            use std::fmt::Write;
            let mut out = String::new();
            let sample = chrono::NaiveDate::from_ymd_opt(2026, 1, 31).unwrap_or_default();
            if write!(out, "{}", sample.format(&w.format)).is_err() {
                return Err(MappingError::Invalid(format!(
                    "polling.window.format '{}' is not a chrono date format (e.g. %d/%m/%Y)",
                    w.format
                )));
            }
        }
        for (name, c) in &self.catalogs {
            if c.matches.is_empty() {
                return Err(MappingError::Invalid(format!(
                    "catalogs.{name}.matches names no pointer"
                )));
            }
        }
        Ok(())
    }

    /// Whether records need follow-up requests before they can be mapped.
    pub fn has_follow_ups(&self) -> bool {
        self.detail.is_some() || !self.catalogs.is_empty()
    }

    /// The record's code, for quarantine rows.
    pub fn code_of(&self, rec: &Value) -> Option<String> {
        match self.records {
            Records::Native => lookup(rec, "/code").and_then(text),
            Records::Mapped => self.fields.get("code")?.get(rec)?.text(),
        }
    }

    fn formats_for(&self, field: &str) -> &[String] {
        self.date_formats
            .get(field)
            .unwrap_or(&self.date_format)
            .as_slice()
    }

    /// A date in the source's formats (the default ones, or `field`'s own);
    /// None for the .NET "unset" date.
    pub fn parse_date_as(&self, field: &str, v: &Value) -> Result<Option<NaiveDateTime>, String> {
        let formats = self.formats_for(field);
        if let Some(ms) = v
            .as_i64()
            .filter(|_| formats.iter().any(|f| f == "epoch_ms"))
        {
            return DateTime::<Utc>::from_timestamp_millis(ms)
                .map(|t| Some(crate::clock::to_vn(t)))
                .ok_or_else(|| format!("{ms} is out of range"));
        }
        let s = v
            .as_str()
            .ok_or_else(|| format!("{v} is not a date string"))?
            .trim();
        for f in formats {
            let parsed = if f == "epoch_ms" {
                continue;
            } else if f.contains("%z") || f.contains("%:z") {
                DateTime::parse_from_str(s, f)
                    .map(|t| crate::clock::to_vn(t.with_timezone(&Utc)))
                    .ok()
            } else {
                NaiveDateTime::parse_from_str(s, f).ok().or_else(|| {
                    // A date-only format: the day's start.
                    chrono::NaiveDate::parse_from_str(s, f)
                        .ok()
                        .and_then(|d| d.and_hms_opt(0, 0, 0))
                })
            };
            // Stored to the second, like every other time.
            if let Some(t) = parsed.and_then(|t| t.with_nanosecond(0)) {
                return Ok((!is_placeholder_date(&t)).then_some(t));
            }
        }
        Err(format!(
            "'{s}' is not a date in the format{} {}",
            if formats.len() > 1 { "s" } else { "" },
            formats.join(" or ")
        ))
    }

    fn value_of(&self, field: &str, raw: &str) -> String {
        self.values
            .get(field)
            .and_then(|m| m.get(raw))
            .cloned()
            .unwrap_or_else(|| raw.to_owned())
    }

    /// One mapped record: a dossier (with warnings on optional parts left
    /// out), a record skipped with its reason, or an error naming the field
    /// and value (the record is then quarantined).
    pub fn map_record(&self, rec: &Value) -> Result<Mapped, String> {
        let mut warnings = Vec::new();
        let get = |name: &str| self.fields.get(name).and_then(|s| s.get(rec));
        let opt_text = |name: &str| get(name).and_then(|r| r.text());
        let where_ = |name: &str| {
            self.fields
                .get(name)
                .map(|s| s.pointers().join(" or "))
                .unwrap_or_default()
        };
        let date = |name: &str| -> Result<Option<NaiveDateTime>, String> {
            match get(name) {
                None => Ok(None),
                Some(r) => self
                    .parse_date_as(name, &r.value())
                    .map_err(|e| format!("field {name} ({}): {e}", where_(name))),
            }
        };
        let code = opt_text("code")
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| format!("field code ({}) is missing", where_("code")))?;
        // Another committee's dossier is skipped before anything else is read.
        let unit_code = opt_text("unit_code").unwrap_or_default();
        if !self.agencies.is_empty() && !self.agencies.contains(&unit_code) {
            return Ok(Mapped::Skipped(
                code,
                format!("agency '{unit_code}' is not one of sources.agencies"),
            ));
        }
        let status_raw = opt_text("status")
            .ok_or_else(|| format!("field status ({}) is missing", where_("status")))?;
        let status = Status::parse(&self.value_of("status", &status_raw)).ok_or_else(|| {
            let label = opt_text("status_label")
                .map(|l| format!(" ({l})"))
                .unwrap_or_default();
            format!("field status: unknown value '{status_raw}'{label}; map it in values.status")
        })?;
        let Some(received_at) = date("received_at")? else {
            if matches!(
                status,
                Status::Submitted | Status::Refused | Status::Withdrawn
            ) {
                return Ok(Mapped::Skipped(
                    code,
                    format!("not received ({}): no deadline runs", status.as_str()),
                ));
            }
            return Err(format!(
                "field received_at ({}) is missing for a dossier in status {}",
                where_("received_at"),
                status.as_str()
            ));
        };
        let mut optional = |what: &str, r: Result<Option<NaiveDateTime>, String>| match r {
            Ok(v) => v,
            Err(e) => {
                warnings.push(format!("{e}; {what} left out"));
                None
            }
        };
        let submitted_at = optional("submitted_at", date("submitted_at"));
        let due_at = date("due_at")?;
        let finished_at = optional("finished_at", date("finished_at"));
        let returned_at = optional("returned_at", date("returned_at"));
        let updated_at = optional("updated_at", date("updated_at"));
        let extension = match (
            optional("extension", date("extension_at")),
            optional("extension", date("extension_due_before")),
            optional("extension", date("extension_due_after")),
        ) {
            (Some(at), Some(due_before), Some(due_after)) => Some(Extension {
                at,
                due_before,
                due_after,
                reason: opt_text("extension_reason"),
            }),
            _ => None,
        };
        let channel = match opt_text("channel") {
            Some(raw) => Channel::parse(&self.value_of("channel", &raw)).unwrap_or_else(|| {
                warnings.push(format!(
                    "field channel: unknown value '{raw}' (map it in values.channel); taken as direct"
                ));
                Channel::Direct
            }),
            None => Channel::Direct,
        };
        let applicant_kind = match opt_text("applicant_kind") {
            Some(raw) => ApplicantKind::parse(&self.value_of("applicant_kind", &raw))
                .unwrap_or_else(|| {
                    warnings.push(format!(
                        "field applicant_kind: unknown value '{raw}' (map it in values.applicant_kind); taken as a person"
                    ));
                    ApplicantKind::Person
                }),
            None => ApplicantKind::Person,
        };
        let duration = match self.duration(rec) {
            Ok(d) => d,
            Err(e) => {
                warnings.push(format!("{e}; duration left out"));
                None
            }
        };
        let steps = match &self.steps {
            Some(m) => self.map_list(rec, m, "step", &mut warnings, |item, g| {
                let started_at = g("started_at")?
                    .ok_or_else(|| format!("step {item}: started_at is missing"))?;
                Ok(Step {
                    name: g("name")?.unwrap_or_default(),
                    unit: g("unit")?.unwrap_or_default(),
                    officer: g("officer")?,
                    started_at: self.date_text("started_at", &started_at)?,
                    finished_at: g("finished_at")?
                        .map(|t| self.date_text("finished_at", &t))
                        .transpose()?,
                    due_at: g("due_at")?
                        .map(|t| self.date_text("due_at", &t))
                        .transpose()?,
                })
            }),
            None => Vec::new(),
        };
        let mut pauses = match &self.pauses {
            Some(m) => self.map_list(rec, m, "pause", &mut warnings, |item, g| {
                let raw = g("kind")?.unwrap_or_default();
                let kind = pause_kind(&self.value_of("pause_kind", &raw)).ok_or_else(|| {
                    format!("pause {item}: unknown kind '{raw}' (map it in values.pause_kind)")
                })?;
                let started_at = g("started_at")?
                    .ok_or_else(|| format!("pause {item}: started_at is missing"))?;
                let d = |k: &str| -> Result<Option<NaiveDateTime>, String> {
                    g(k)?.map(|t| self.date_text(k, &t)).transpose()
                };
                Ok(Pause {
                    kind,
                    started_at: self.date_text("started_at", &started_at)?,
                    ended_at: d("ended_at")?,
                    due_before: d("due_before")?,
                    due_after: d("due_after")?,
                })
            }),
            None => Vec::new(),
        };
        // The last change the source states, else the latest time the
        // record holds (stable, so an unchanged record stays unchanged).
        let updated_at = updated_at.unwrap_or_else(|| {
            [submitted_at, Some(received_at), finished_at, returned_at]
                .into_iter()
                .flatten()
                .chain(
                    steps
                        .iter()
                        .flat_map(|s| [Some(s.started_at), s.finished_at])
                        .flatten(),
                )
                .chain(
                    pauses
                        .iter()
                        .flat_map(|p| [Some(p.started_at), p.ended_at])
                        .flatten(),
                )
                .max()
                .unwrap_or(received_at)
        });
        if let Some(op) = &self.open_pause {
            let flag = lookup(rec, &op.when).and_then(text).unwrap_or_default();
            if op.is.contains(&flag) && !pauses.iter().any(|p| p.ended_at.is_none()) {
                let started_at = match op.started_at.as_ref().and_then(|s| s.get(rec)) {
                    Some(r) => self
                        .parse_date_as("", &r.value())
                        .map_err(|e| format!("open_pause.started_at: {e}"))?,
                    None => None,
                }
                .unwrap_or(updated_at);
                pauses.push(Pause {
                    kind: pause_kind(&op.kind).unwrap_or(PauseKind::Supplement),
                    started_at,
                    ended_at: None,
                    due_before: None,
                    due_after: None,
                });
            }
        }
        let d = Dossier {
            code,
            procedure_code: opt_text("procedure_code"),
            procedure_name: opt_text("procedure_name").unwrap_or_default(),
            field_code: opt_text("field_code").unwrap_or_default(),
            field_name: opt_text("field_name").unwrap_or_default(),
            unit_code,
            unit_name: opt_text("unit_name").unwrap_or_default(),
            officer: opt_text("officer"),
            applicant_name: opt_text("applicant_name").unwrap_or_default(),
            applicant_kind,
            applicant_id_no: opt_text("applicant_id_no"),
            applicant_phone: opt_text("applicant_phone"),
            applicant_email: opt_text("applicant_email"),
            applicant_address: opt_text("applicant_address"),
            summary: opt_text("summary"),
            channel,
            status,
            submitted_at,
            received_at,
            due_at,
            finished_at,
            returned_at,
            duration,
            steps,
            pauses,
            extension,
            updated_at,
        };
        Ok(Mapped::Dossier(Box::new(d), warnings))
    }

    fn date_text(&self, field: &str, t: &str) -> Result<NaiveDateTime, String> {
        self.parse_date_as(field, &Value::String(t.to_owned()))?
            .ok_or_else(|| format!("{field}: '{t}' is the placeholder for no date"))
    }

    /// The legal duration: a whole number of working days, or hours where
    /// the source says hours or gives a fraction of a day (0.5 day = 4 hours).
    fn duration(&self, rec: &Value) -> Result<Option<Duration>, String> {
        let Some(r) = self.fields.get("duration_value").and_then(|s| s.get(rec)) else {
            return Ok(None);
        };
        let v = match r.value() {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().replace(',', ".").parse::<f64>().ok(),
            _ => None,
        }
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| format!("field duration_value: '{}' is not a number", r.value()))?;
        if v == 0.0 {
            return Ok(None);
        }
        let unit = self
            .fields
            .get("duration_unit")
            .and_then(|s| s.get(rec))
            .and_then(|r| r.text())
            .map(|raw| self.value_of("duration_unit", &raw))
            .or_else(|| self.duration_unit_default.clone())
            .unwrap_or_else(|| "working_days".into());
        let whole = |x: f64| (x.fract().abs() < 1e-9).then_some(x.round() as u32);
        match unit.as_str() {
            "working_days" => Ok(Some(match whole(v) {
                Some(n) => Duration::WorkingDays(n),
                None => Duration::WorkingHours((v * 8.0).round() as u32),
            })),
            "working_hours" => Ok(Some(Duration::WorkingHours(v.round() as u32))),
            other => Err(format!(
                "field duration_unit: unknown value '{other}' (map it in values.duration_unit)"
            )),
        }
    }

    /// The items of a list part (steps, pauses); an item that cannot be
    /// read is left out with a warning.
    fn map_list<T>(
        &self,
        rec: &Value,
        m: &BTreeMap<String, Spec>,
        what: &str,
        warnings: &mut Vec<String>,
        f: impl Fn(usize, &dyn Fn(&str) -> Result<Option<String>, String>) -> Result<T, String>,
    ) -> Vec<T> {
        let Some(items) = m
            .get("path")
            .and_then(|p| p.get(rec))
            .map(|r| r.value())
            .and_then(|v| v.as_array().cloned())
        else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let g = |k: &str| -> Result<Option<String>, String> {
                Ok(m.get(k).and_then(|s| s.get(item)).and_then(|r| r.text()))
            };
            match f(i + 1, &g) {
                Ok(t) => out.push(t),
                Err(e) => warnings.push(format!("{e}; {what} {} left out", i + 1)),
            }
        }
        out
    }
}

fn pause_kind(s: &str) -> Option<PauseKind> {
    match s {
        "supplement" => Some(PauseKind::Supplement),
        "fee" => Some(PauseKind::Fee),
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
            Some(&json!({ "fields": { "officer": "/assignee", "summary": false }, "date_format": "epoch_ms" })),
        )
        .unwrap();
        assert_eq!(m.fields["officer"], Spec::Pointer("/assignee".into()));
        assert_eq!(m.fields["summary"], Spec::Off(false));
        assert_eq!(m.fields["code"], Spec::Pointer("/code".into()));
        assert_eq!(m.date_format.as_slice(), ["epoch_ms"]);
    }

    #[test]
    fn unknown_field_and_empty_pointer_are_named() {
        let err = Mapping::resolve(Shape::Onedoor, Some(&json!({ "fields": { "cdoe": "/x" } })))
            .unwrap_err();
        assert!(err.to_string().contains("unknown field 'cdoe'"), "{err}");
        // `""` used to mean "the whole record" silently.
        let err = Mapping::resolve(
            Shape::Onedoor,
            Some(&json!({ "fields": { "officer": "" } })),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("fields.officer: '' is not a JSON pointer; write false"),
            "{err}"
        );
    }

    #[test]
    fn offsets_convert_to_vietnam_time() {
        let m = Mapping::resolve(Shape::Igate, None).unwrap();
        let t = m
            .parse_date_as("", &json!("2026-11-25T01:00:00.000+0000"))
            .unwrap()
            .unwrap();
        assert_eq!(t.to_string(), "2026-11-25 08:00:00");
        let m =
            Mapping::resolve(Shape::Igate, Some(&json!({ "date_format": "epoch_ms" }))).unwrap();
        // 2026-11-25T01:00:00Z
        assert_eq!(
            m.parse_date_as("", &json!(1_795_568_400_000i64))
                .unwrap()
                .unwrap()
                .to_string(),
            "2026-11-25 08:00:00"
        );
    }

    #[test]
    fn several_date_formats_and_the_net_placeholder() {
        let m = Mapping::resolve(Shape::Onedoor, None).unwrap();
        let d = |s: &str| {
            m.parse_date_as("due_at", &json!(s))
                .unwrap()
                .map(|t| t.to_string())
        };
        // Month first in the list; ISO (with or without fraction) in the detail.
        assert_eq!(
            d("03/05/2025 09:15:03").as_deref(),
            Some("2025-03-05 09:15:03")
        );
        assert_eq!(
            d("2025-03-17T10:02:44.517").as_deref(),
            Some("2025-03-17 10:02:44")
        );
        assert_eq!(
            d("2025-03-04T10:12:00").as_deref(),
            Some("2025-03-04 10:12:00")
        );
        assert_eq!(d("0001-01-01T00:00:00"), None);
        let err = m.parse_date_as("due_at", &json!("31/03/2025")).unwrap_err();
        assert!(err.contains("formats") && err.contains("%m/%d/%Y"), "{err}");
        // A field's own formats replace the default ones.
        let m = Mapping::resolve(
            Shape::Onedoor,
            Some(&json!({ "date_formats": { "due_at": ["%d/%m/%Y"] } })),
        )
        .unwrap();
        assert_eq!(
            m.parse_date_as("due_at", &json!("31/03/2025"))
                .unwrap()
                .unwrap()
                .to_string(),
            "2025-03-31 00:00:00"
        );
    }

    fn opencps(over: Value) -> Value {
        let mut r = json!({
            "dossierNo": "X-1", "dossierStatus": "processing", "lockState": "",
            "receiveDate": "03/03/2025 08:15:02", "dueDate": "24/03/2025 08:15:02",
            "lastActionDate": "12/03/2025 10:41:09", "modifiedDate": "",
            "durationCount": 0.5, "durationUnit": 0, "online": "false", "releaseDate": ""
        });
        for (k, v) in over.as_object().unwrap() {
            r[k] = v.clone();
        }
        r
    }

    fn dossier(m: &Mapping, rec: &Value) -> Dossier {
        match m.map_record(rec).unwrap() {
            Mapped::Dossier(d, _) => *d,
            Mapped::Skipped(_, r) => panic!("skipped: {r}"),
        }
    }

    #[test]
    fn opencps_records_read_as_sent() {
        let m = Mapping::resolve(Shape::Opencps, None).unwrap();
        let d = dossier(&m, &opencps(json!({})));
        // 0.5 day = 4 working hours; "" is no date; the last action stands
        // in for the list's empty modifiedDate.
        assert_eq!(d.duration, Some(Duration::WorkingHours(4)));
        assert_eq!(d.finished_at, None);
        assert_eq!(d.updated_at.to_string(), "2025-03-12 10:41:09");
        assert!(d.pauses.is_empty());
        // PAUSE keeps the status and opens a pause from the last action.
        let d = dossier(&m, &opencps(json!({"lockState": "PAUSE_OVERDUE"})));
        assert_eq!(d.status, Status::Processing);
        assert_eq!(d.pauses.len(), 1);
        assert_eq!(d.pauses[0].ended_at, None);
        assert_eq!(d.pauses[0].started_at.to_string(), "2025-03-12 10:41:09");
        // `waiting`: the applicant's supplement.
        let d = dossier(&m, &opencps(json!({"dossierStatus": "waiting"})));
        assert_eq!(d.status, Status::SupplementRequested);
        // Never received: skipped, not quarantined.
        let r = m
            .map_record(&opencps(json!({"dossierStatus": "new", "receiveDate": ""})))
            .unwrap();
        assert!(
            matches!(r, Mapped::Skipped(_, ref why) if why.contains("not received")),
            "{r:?}"
        );
    }

    #[test]
    fn an_optional_part_that_fails_is_left_out_with_a_warning() {
        let m = Mapping::resolve(Shape::Igate, None).unwrap();
        let rec = json!({
            "code": "A", "dossierStatus": {"id": 2, "name": "Đang xử lý"},
            "acceptedDate": "2025-03-14T08:05:47.000+0700",
            "applyMethod": {"id": 9},
            "task": [
                {"isCurrent": 0, "createdDate": "2025-03-14T08:05:47.000+0700", "updatedDate": "2025-03-14T08:30:02.000+0700"},
                {"isCurrent": 1, "createdDate": "not a date"}
            ]
        });
        let Mapped::Dossier(d, warnings) = m.map_record(&rec).unwrap() else {
            panic!()
        };
        assert_eq!(d.steps.len(), 1);
        assert_eq!(
            d.steps[0].finished_at.unwrap().to_string(),
            "2025-03-14 08:30:02"
        );
        assert_eq!(d.channel, Channel::Direct);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings.iter().any(|w| w.contains("step 2 left out")),
            "{warnings:?}"
        );
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("channel") && w.contains("'9'")),
            "{warnings:?}"
        );
    }

    #[test]
    fn an_unknown_status_names_its_value_and_label() {
        let m = Mapping::resolve(Shape::Igate, None).unwrap();
        let rec = json!({ "code": "X", "dossierStatus": {"id": 17, "name": "Chờ phê duyệt gia hạn"}, "acceptedDate": "2025-03-14T08:05:47.000+0700" });
        let err = m.map_record(&rec).unwrap_err();
        assert_eq!(
            err,
            "field status: unknown value '17' (Chờ phê duyệt gia hạn); map it in values.status"
        );
    }

    #[test]
    fn agencies_outside_the_committee_are_skipped() {
        let mut m = Mapping::resolve(Shape::Opencps, None).unwrap();
        m.agencies = vec!["UBND_X".into()];
        let r = m
            .map_record(&opencps(json!({"govAgencyCode": "SO_Y"})))
            .unwrap();
        assert!(
            matches!(r, Mapped::Skipped(_, ref why) if why.contains("SO_Y")),
            "{r:?}"
        );
    }
}
