//! An export's layout: which header titles name which column, and the
//! mapping (the language of `config/shapes/`) from those columns to a
//! dossier. Presets live in `config/files/`; a source's `layout`, `columns`
//! and `mapping` settings choose and override them.

use super::FileError;
use super::cells::{header_key, header_key_bare};
use crate::source::mapping::{Mapping, OneOrMany};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

/// The built-in layouts, most specific first (the order breaks ties when a
/// header row is recognised).
pub const PRESETS: &[(&str, &str)] = &[
    (
        "simulator",
        include_str!("../../../config/files/simulator.toml"),
    ),
    (
        "tracking_book",
        include_str!("../../../config/files/tracking_book.toml"),
    ),
];

/// Columns a header row must name to be taken for one.
pub const REQUIRED_COLUMNS: &[&str] = &["code", "received_at"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PresetFile {
    description: String,
    columns: BTreeMap<String, Vec<String>>,
    mapping: toml::Value,
}

/// One layout, ready to match header rows and map records.
#[derive(Debug)]
pub struct Layout {
    pub name: String,
    pub description: String,
    /// Column key → its titles as written (the first is shown in messages).
    pub columns: BTreeMap<String, Vec<String>>,
    /// Normalised title → column key.
    titles: HashMap<String, String>,
    pub mapping: Mapping,
}

impl Layout {
    /// A preset by name, with a source's overrides (`columns`: titles per
    /// key, replacing the preset's; `mapping`: merged like an API shape's).
    pub fn resolve(
        name: &str,
        columns: Option<&serde_json::Value>,
        mapping: Option<&serde_json::Value>,
    ) -> Result<Layout, FileError> {
        let text = PRESETS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
            .ok_or_else(|| FileError::Layout {
                name: name.to_owned(),
                message: format!(
                    "no such layout; the built-in ones are {}",
                    PRESETS
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })?;
        let invalid = |message: String| FileError::Layout {
            name: name.to_owned(),
            message,
        };
        let preset: PresetFile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let mut cols = preset.columns;
        if let Some(over) = columns {
            let over: BTreeMap<String, OneOrMany> = serde_json::from_value(over.clone())
                .map_err(|e| invalid(format!("columns: {e} (expected key = [\"title\", …])")))?;
            for (k, v) in over {
                cols.insert(k, v.as_slice().to_vec());
            }
        }
        let m = serde_json::to_value(preset.mapping).map_err(|e| invalid(e.to_string()))?;
        let mapping = Mapping::from_preset(m, mapping).map_err(|e| invalid(e.to_string()))?;
        let mut titles = HashMap::new();
        for (key, list) in &cols {
            for t in list {
                // Earlier keys keep a title two keys share.
                titles.entry(header_key(t)).or_insert_with(|| key.clone());
                titles
                    .entry(header_key_bare(t))
                    .or_insert_with(|| key.clone());
            }
        }
        for r in REQUIRED_COLUMNS {
            if cols.get(*r).is_none_or(Vec::is_empty) {
                return Err(invalid(format!("columns.{r} names no header title")));
            }
        }
        Ok(Layout {
            name: name.to_owned(),
            description: preset.description,
            columns: cols,
            titles,
            mapping,
        })
    }

    /// Every built-in layout with the same overrides (to recognise one).
    pub fn all(
        columns: Option<&serde_json::Value>,
        mapping: Option<&serde_json::Value>,
    ) -> Result<Vec<Layout>, FileError> {
        PRESETS
            .iter()
            .map(|(n, _)| Layout::resolve(n, columns, mapping))
            .collect()
    }

    /// The column key a header title names, or None.
    pub fn key_of(&self, title: &str) -> Option<&str> {
        self.titles
            .get(&header_key(title))
            .or_else(|| self.titles.get(&header_key_bare(title)))
            .map(String::as_str)
    }

    /// How a column is called in messages: its first title.
    pub fn title_of<'a>(&'a self, key: &'a str) -> &'a str {
        self.columns
            .get(key)
            .and_then(|v| v.first())
            .map(String::as_str)
            .unwrap_or(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_resolves_and_overrides_apply() {
        for (n, _) in PRESETS {
            Layout::resolve(n, None, None).unwrap();
        }
        let l = Layout::resolve(
            "tracking_book",
            Some(&serde_json::json!({ "code": ["Số phiếu"] })),
            Some(&serde_json::json!({ "values": { "status": { "Xong": "finished" } } })),
        )
        .unwrap();
        assert_eq!(l.key_of("SỐ PHIẾU"), Some("code"));
        assert_eq!(l.key_of("Mã hồ sơ"), None, "the override replaces the list");
        assert_eq!(l.key_of("Ngày hẹn trả\n(dd/mm/yyyy)"), Some("due_at"));
        assert_eq!(l.mapping.values["status"]["Xong"], "finished");
        let e = Layout::resolve("sổ cái", None, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("tracking_book"), "{e}");
    }
}
