//! The report's wording (`config/report.toml`): title lines, sheet names and
//! column titles, loaded and checked once like the letter's template; an
//! error names the file and the key.

use super::ReportError;
use serde::Deserialize;
use std::path::Path;

const BUILTIN: &str = include_str!("../../config/report.toml");
const BUILTIN_ORIGIN: &str = "config/report.toml (built in)";

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportTemplate {
    pub motto: String,
    pub slogan: String,
    pub place_date: String,
    pub title: String,
    pub period_line: String,
    pub range_line: String,
    pub unit_line: String,
    pub total_row: String,
    pub sheets: Sheets,
    pub columns: Columns,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sheets {
    pub by_field: String,
    pub by_unit: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Columns {
    pub index: String,
    pub field: String,
    pub unit: String,
    pub received: String,
    pub received_total: String,
    pub carried: String,
    pub new_total: String,
    pub new_online: String,
    pub new_direct: String,
    pub new_postal: String,
    pub resolved: String,
    pub resolved_total: String,
    pub before_due: String,
    pub on_due_day: String,
    pub late: String,
    pub closed: String,
    pub in_progress: String,
    pub in_progress_total: String,
    pub in_progress_within: String,
    pub in_progress_overdue: String,
    pub on_time_pct: String,
    pub apology: String,
    pub late_apologised: String,
    pub apology_pct: String,
}

/// A header group: its title, and the titles of its columns (none: the
/// group is one column spanning both header rows).
pub type Group<'a> = (&'a str, Vec<&'a str>);

impl Columns {
    /// The groups after the index and name columns, in the order of
    /// `ReportRow::numbers`.
    pub fn groups(&self) -> Vec<Group<'_>> {
        vec![
            (
                &self.received,
                vec![
                    &self.received_total,
                    &self.carried,
                    &self.new_total,
                    &self.new_online,
                    &self.new_direct,
                    &self.new_postal,
                ],
            ),
            (
                &self.resolved,
                vec![
                    &self.resolved_total,
                    &self.before_due,
                    &self.on_due_day,
                    &self.late,
                ],
            ),
            (&self.closed, vec![]),
            (
                &self.in_progress,
                vec![
                    &self.in_progress_total,
                    &self.in_progress_within,
                    &self.in_progress_overdue,
                ],
            ),
            (&self.on_time_pct, vec![]),
            (
                &self.apology,
                vec![&self.late_apologised, &self.apology_pct],
            ),
        ]
        .into_iter()
        .map(|(g, cols)| (g.as_str(), cols.into_iter().map(String::as_str).collect()))
        .collect()
    }
}

/// Excel's limit on a sheet's name, and the characters it refuses in one.
const SHEET_MAX: usize = 31;
const SHEET_FORBIDDEN: &[char] = &['[', ']', ':', '*', '?', '/', '\\'];

impl ReportTemplate {
    /// The template `report.template_file` names, or the built-in one.
    pub fn from_settings(s: &crate::config::ReportSettings) -> Result<ReportTemplate, ReportError> {
        if s.template_file.trim().is_empty() {
            ReportTemplate::builtin()
        } else {
            ReportTemplate::load(Path::new(&s.template_file))
        }
    }

    pub fn builtin() -> Result<ReportTemplate, ReportError> {
        ReportTemplate::from_toml_str(BUILTIN, BUILTIN_ORIGIN)
    }

    pub fn load(path: &Path) -> Result<ReportTemplate, ReportError> {
        let text = std::fs::read_to_string(path).map_err(|source| ReportError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        ReportTemplate::from_toml_str(&text, &path.display().to_string())
    }

    /// Parses and checks template text; `origin` names it in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<ReportTemplate, ReportError> {
        let mut t: ReportTemplate = toml::from_str(text).map_err(|e| ReportError::Toml {
            origin: origin.to_owned(),
            // toml's message names the key (missing or unknown field) and the line.
            message: e.to_string().trim().replace('\n', " "),
        })?;
        let err = |key: &str, message: String| ReportError::Template {
            origin: origin.to_owned(),
            key: key.to_owned(),
            message,
        };
        for (key, value, allowed) in t.texts_mut() {
            *value = crate::text::nfc(value.trim());
            if value.is_empty() {
                return Err(err(key, "must not be empty".into()));
            }
            if let Some(p) = placeholders(value).find(|p| !allowed.contains(p)) {
                let hint = if allowed.is_empty() {
                    "none is allowed here".to_owned()
                } else {
                    format!("allowed here: {{{}}}", allowed.join("}, {"))
                };
                return Err(err(key, format!("unknown placeholder {{{p}}}; {hint}")));
            }
        }
        for (key, name) in [
            ("sheets.by_field", &t.sheets.by_field),
            ("sheets.by_unit", &t.sheets.by_unit),
        ] {
            if name.chars().count() > SHEET_MAX || name.contains(SHEET_FORBIDDEN) {
                return Err(err(
                    key,
                    format!(
                        "'{name}' cannot name a sheet: at most {SHEET_MAX} characters, none of [ ] : * ? / \\"
                    ),
                ));
            }
        }
        if t.sheets.by_field.to_lowercase() == t.sheets.by_unit.to_lowercase() {
            return Err(err(
                "sheets.by_unit",
                "must differ from sheets.by_field".into(),
            ));
        }
        Ok(t)
    }

    /// Every text with its key and the placeholders it may hold.
    fn texts_mut(&mut self) -> Vec<(&'static str, &mut String, &'static [&'static str])> {
        const NONE: &[&str] = &[];
        const RANGE: &[&str] = &["period", "from", "to"];
        let c = &mut self.columns;
        vec![
            ("motto", &mut self.motto, NONE),
            ("slogan", &mut self.slogan, NONE),
            (
                "place_date",
                &mut self.place_date,
                &["place", "day", "month", "year"],
            ),
            ("title", &mut self.title, RANGE),
            ("period_line", &mut self.period_line, RANGE),
            ("range_line", &mut self.range_line, RANGE),
            ("unit_line", &mut self.unit_line, NONE),
            ("total_row", &mut self.total_row, NONE),
            ("sheets.by_field", &mut self.sheets.by_field, NONE),
            ("sheets.by_unit", &mut self.sheets.by_unit, NONE),
            ("columns.index", &mut c.index, NONE),
            ("columns.field", &mut c.field, NONE),
            ("columns.unit", &mut c.unit, NONE),
            ("columns.received", &mut c.received, NONE),
            ("columns.received_total", &mut c.received_total, NONE),
            ("columns.carried", &mut c.carried, NONE),
            ("columns.new_total", &mut c.new_total, NONE),
            ("columns.new_online", &mut c.new_online, NONE),
            ("columns.new_direct", &mut c.new_direct, NONE),
            ("columns.new_postal", &mut c.new_postal, NONE),
            ("columns.resolved", &mut c.resolved, NONE),
            ("columns.resolved_total", &mut c.resolved_total, NONE),
            ("columns.before_due", &mut c.before_due, NONE),
            ("columns.on_due_day", &mut c.on_due_day, NONE),
            ("columns.late", &mut c.late, NONE),
            ("columns.closed", &mut c.closed, NONE),
            ("columns.in_progress", &mut c.in_progress, NONE),
            ("columns.in_progress_total", &mut c.in_progress_total, NONE),
            (
                "columns.in_progress_within",
                &mut c.in_progress_within,
                NONE,
            ),
            (
                "columns.in_progress_overdue",
                &mut c.in_progress_overdue,
                NONE,
            ),
            ("columns.on_time_pct", &mut c.on_time_pct, NONE),
            ("columns.apology", &mut c.apology, NONE),
            ("columns.late_apologised", &mut c.late_apologised, NONE),
            ("columns.apology_pct", &mut c.apology_pct, NONE),
        ]
    }
}

/// The `{name}`s of a text.
fn placeholders(s: &str) -> impl Iterator<Item = &str> {
    s.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
}

/// `text` with each `{name}` replaced by its value.
pub fn fill(text: &str, values: &[(&str, &str)]) -> String {
    values.iter().fold(text.to_owned(), |t, (k, v)| {
        t.replace(&format!("{{{k}}}"), v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_template_is_valid_and_has_a_title_per_column() {
        let t = ReportTemplate::builtin().unwrap();
        assert_eq!(
            t.title,
            "BÁO CÁO TÌNH HÌNH, KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH"
        );
        let columns: usize = t.columns.groups().iter().map(|(_, c)| c.len().max(1)).sum();
        assert_eq!(columns, super::super::rows::NUMBERS);
        assert_eq!(
            fill(&t.period_line, &[("period", "Quý III năm 2026")]),
            "Kỳ báo cáo: Quý III năm 2026"
        );
    }

    #[test]
    fn errors_name_the_file_and_the_key() {
        let origin = "provinces/kh/report.toml";
        let cases = [
            (
                BUILTIN.replace("late = \"Quá hạn\"", "late = \"  \""),
                "key `columns.late`: must not be empty",
            ),
            (
                BUILTIN.replace("Kỳ báo cáo: {period}", "Kỳ: {quarter}"),
                "key `period_line`: unknown placeholder {quarter}; allowed here: {period}, {from}, {to}",
            ),
            (
                BUILTIN.replace("by_unit = \"Theo đơn vị\"", "by_unit = \"Theo lĩnh vực\""),
                "key `sheets.by_unit`: must differ",
            ),
            (
                BUILTIN.replace(
                    "by_field = \"Theo lĩnh vực\"",
                    "by_field = \"Lĩnh vực / đơn vị\"",
                ),
                "key `sheets.by_field`: 'Lĩnh vực / đơn vị' cannot name a sheet",
            ),
            (
                BUILTIN.replace("total_row = ", "totals_row = "),
                "unknown field `totals_row`",
            ),
            (
                BUILTIN.replace("apology_pct = \"Tỷ lệ (%)\"", ""),
                "missing field `apology_pct`",
            ),
        ];
        for (text, part) in cases {
            let e = ReportTemplate::from_toml_str(&text, origin)
                .expect_err(part)
                .to_string();
            assert!(e.contains(origin), "{e}");
            assert!(e.contains(part), "{part}: {e}");
        }
        let e = ReportTemplate::load(Path::new("/nonexistent/report.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/report.toml"), "{e}");
    }
}
