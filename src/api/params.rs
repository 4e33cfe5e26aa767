//! Query parameters parsed by hand, so that every 400 names the parameter
//! and the value that was wrong; the auditors' dossier filter, which the API
//! and the dashboard read from the same parameters, and the name of its
//! exports.

use super::ApiError;
use crate::deadline::Class;
use crate::store::{DateBasis, DossierFilter};
use chrono::{Datelike, Months, NaiveDate};
use std::collections::HashMap;

pub struct Params(pub HashMap<String, String>);

impl Params {
    pub fn only(&self, allowed: &[&str]) -> Result<(), ApiError> {
        match self.0.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(ApiError::bad(format!(
                "unknown parameter '{k}'; expected one of: {}",
                allowed.join(", ")
            ))),
            None => Ok(()),
        }
    }
    /// A text filter; empty means absent.
    pub fn text(&self, k: &str) -> Option<String> {
        self.0
            .get(k)
            .filter(|v| !v.is_empty())
            .map(|v| crate::text::nfc(v))
    }
    /// A typed value: present but empty is an error.
    pub fn typed(&self, k: &str) -> Result<Option<String>, ApiError> {
        match self.0.get(k) {
            Some(v) if v.trim().is_empty() => {
                Err(ApiError::bad(format!("parameter '{k}' is empty")))
            }
            Some(v) => Ok(Some(crate::text::nfc(v))),
            None => Ok(None),
        }
    }
    pub fn date(&self, k: &str) -> Result<Option<NaiveDate>, ApiError> {
        self.typed(k)?
            .map(|v| {
                NaiveDate::parse_from_str(&v, "%Y-%m-%d").map_err(|_| {
                    ApiError::bad(format!("parameter '{k}': '{v}' is not a date (YYYY-MM-DD)"))
                })
            })
            .transpose()
    }
    pub fn int(&self, k: &str, lo: i64, hi: i64) -> Result<Option<i64>, ApiError> {
        self.typed(k)?
            .map(|v| match v.parse::<i64>() {
                Ok(n) if (lo..=hi).contains(&n) => Ok(n),
                _ => Err(ApiError::bad(format!(
                    "parameter '{k}': '{v}' is not a whole number from {lo} to {hi}"
                ))),
            })
            .transpose()
    }
    pub fn format(&self) -> Result<Format, ApiError> {
        match self.typed("format")?.as_deref() {
            None | Some("json") => Ok(Format::Json),
            Some("csv") => Ok(Format::Csv),
            Some("xlsx") => Ok(Format::Xlsx),
            Some(other) => Err(ApiError::bad(format!(
                "parameter 'format': '{other}' is not json, csv or xlsx"
            ))),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Xlsx,
}

/// The parameters of the dossier filter.
pub const FILTER_KEYS: [&str; 10] = [
    "from",
    "to",
    "month",
    "date",
    "class",
    "late_in_period",
    "unit",
    "field",
    "officer",
    "source",
];

impl Params {
    /// The dossier filter these parameters describe: `month` (YYYY-MM) is
    /// the period from its first to its last day, instead of `from`/`to`.
    pub fn dossier_filter(&self) -> Result<DossierFilter, ApiError> {
        let class = self.typed("class")?;
        if let Some(c) = &class
            && Class::parse(c).is_none()
        {
            return Err(ApiError::bad(format!(
                "parameter 'class': '{c}' is not one of {}",
                Class::ALL
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let dates = match self.typed("date")? {
            None => DateBasis::Received,
            Some(d) => DateBasis::parse(&d).ok_or_else(|| {
                ApiError::bad(format!(
                    "parameter 'date': '{d}' is not received, due or finished"
                ))
            })?,
        };
        let late_in_period = match self.typed("late_in_period")?.as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(ApiError::bad(format!(
                    "parameter 'late_in_period': '{other}' is not true or false"
                )));
            }
        };
        let (mut from, mut to) = (self.date("from")?, self.date("to")?);
        if let Some(m) = self.text("month") {
            let first =
                NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").map_err(|_| {
                    ApiError::bad(format!("parameter 'month': '{m}' is not a month (YYYY-MM)"))
                })?;
            let last = first + Months::new(1) - chrono::Duration::days(1);
            // With `from` or `to` too: the days of both (an empty period
            // when they do not meet, as `from` after `to` is).
            from = Some(from.map_or(first, |f| f.max(first)));
            to = Some(to.map_or(last, |t| t.min(last)));
        }
        Ok(DossierFilter {
            from,
            to,
            dates,
            class,
            late_in_period,
            unit: self.text("unit"),
            field: self.text("field"),
            officer: self.text("officer"),
            source: self.text("source"),
        })
    }
}

impl Params {
    /// `from` and `to`, by default 1 January of `today`'s year to `today`
    /// (from after to is an empty period, not an error).
    pub fn period_or_this_year(
        &self,
        today: NaiveDate,
    ) -> Result<(NaiveDate, NaiveDate), ApiError> {
        let from = self.date("from")?.unwrap_or_else(|| year_start(today));
        Ok((from, self.date("to")?.unwrap_or(today)))
    }
}

/// 1 January of `d`'s year.
pub fn year_start(d: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(d.year(), 1, 1).unwrap_or(d)
}

/// The parameters that give `f` back (for links: the dashboard's exports
/// and pages), `month` for a whole month.
pub fn filter_query(f: &DossierFilter) -> Vec<(&'static str, String)> {
    let mut q = Vec::new();
    match (f.from, f.to) {
        (Some(a), Some(b)) if whole_month(a, b) => q.push(("month", a.format("%Y-%m").to_string())),
        (a, b) => {
            q.extend(a.map(|a| ("from", a.to_string())));
            q.extend(b.map(|b| ("to", b.to_string())));
        }
    }
    if f.dates != DateBasis::Received {
        q.push(("date", f.dates.as_str().to_owned()));
    }
    if f.late_in_period {
        q.push(("late_in_period", "true".into()));
    }
    for (k, v) in [
        ("class", &f.class),
        ("unit", &f.unit),
        ("field", &f.field),
        ("officer", &f.officer),
        ("source", &f.source),
    ] {
        q.extend(v.clone().map(|v| (k, v)));
    }
    q
}

/// True when `a`..=`b` is one calendar month.
pub fn whole_month(a: NaiveDate, b: NaiveDate) -> bool {
    a.day() == 1 && a + Months::new(1) - chrono::Duration::days(1) == b
}

/// The file name (without extension) of an export of `f`, after what it
/// holds: `ho-so-qua-han-PKT-2026-10` for the dossiers of unit PKT late at
/// some time in October 2026.
pub fn export_name(f: &DossierFilter) -> String {
    let mut parts = vec!["ho-so".to_owned()];
    if f.late_in_period {
        parts.push("qua-han".into());
    }
    if let Some(c) = f.class.as_deref().and_then(Class::parse) {
        parts.push(class_slug(c).into());
    }
    for v in [&f.source, &f.unit, &f.field, &f.officer]
        .into_iter()
        .flatten()
    {
        parts.push(slug(v));
    }
    match f.dates {
        DateBasis::Received => {}
        DateBasis::Due => parts.push("theo-han".into()),
        DateBasis::Finished => parts.push("theo-ngay-tra".into()),
    }
    match (f.from, f.to) {
        (Some(a), Some(b)) if whole_month(a, b) => parts.push(a.format("%Y-%m").to_string()),
        (Some(a), Some(b)) => parts.push(format!("{a}_{b}")),
        (Some(a), None) => parts.push(format!("tu-{a}")),
        (None, Some(b)) => parts.push(format!("den-{b}")),
        (None, None) => {}
    }
    parts.retain(|p| !p.is_empty());
    parts.join("-")
}

/// A class in a file name, in Vietnamese without diacritics.
fn class_slug(c: Class) -> &'static str {
    match c {
        Class::Overdue => "dang-qua-han",
        Class::DueToday => "den-han-hom-nay",
        Class::DueSoon => "sap-den-han",
        Class::NotYetDue => "chua-den-han",
        Class::Paused => "tam-dung",
        Class::NoDueDate => "khong-thoi-han",
        Class::Late => "tra-tre-han",
        Class::OnDueDay => "tra-dung-han",
        Class::BeforeDue => "tra-truoc-han",
        Class::Closed => "da-dong",
    }
}

/// A value safe in a file name: ASCII letters and digits kept, Vietnamese
/// letters without their marks, anything else a dash.
fn slug(v: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let plain: String = v
        .nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .map(|c| match c {
            'đ' => 'd',
            'Đ' => 'D',
            c if c.is_ascii_alphanumeric() || c == '_' => c,
            _ => '-',
        })
        .collect();
    plain
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn a_month_is_its_first_to_its_last_day() {
        let f = params(&[("month", "2026-02"), ("unit", "PKT")])
            .dossier_filter()
            .unwrap();
        assert_eq!(f.from, NaiveDate::from_ymd_opt(2026, 2, 1));
        assert_eq!(f.to, NaiveDate::from_ymd_opt(2026, 2, 28));
        let f = params(&[("month", "2024-02")]).dossier_filter().unwrap();
        assert_eq!(f.to, NaiveDate::from_ymd_opt(2024, 2, 29));
        let e = params(&[("month", "2026-13")])
            .dossier_filter()
            .unwrap_err();
        assert!(e.message.contains("'month': '2026-13'"), "{}", e.message);
        // With from/to as well: the days of both.
        let f = params(&[
            ("month", "2026-10"),
            ("from", "2026-10-02"),
            ("to", "2027-01-01"),
        ])
        .dossier_filter()
        .unwrap();
        assert_eq!(f.from, NaiveDate::from_ymd_opt(2026, 10, 2));
        assert_eq!(f.to, NaiveDate::from_ymd_opt(2026, 10, 31));
    }

    #[test]
    fn bad_values_are_named() {
        for (k, v, says) in [
            (
                "date",
                "tomorrow",
                "'date': 'tomorrow' is not received, due or finished",
            ),
            (
                "late_in_period",
                "yes",
                "'late_in_period': 'yes' is not true or false",
            ),
            ("class", "late_ish", "'class': 'late_ish' is not one of"),
            ("from", "05/10/2026", "'from': '05/10/2026' is not a date"),
        ] {
            let e = params(&[(k, v)]).dossier_filter().unwrap_err();
            assert!(e.message.contains(says), "{k}={v}: {}", e.message);
        }
    }

    #[test]
    fn an_export_is_named_after_what_it_holds() {
        let f = params(&[
            ("month", "2026-10"),
            ("unit", "PKT"),
            ("late_in_period", "true"),
        ])
        .dossier_filter()
        .unwrap();
        assert_eq!(export_name(&f), "ho-so-qua-han-PKT-2026-10");
        let f = params(&[
            ("from", "2026-07-01"),
            ("to", "2026-09-30"),
            ("date", "finished"),
            ("class", "late"),
            ("field", "Đất đai/1"),
        ])
        .dossier_filter()
        .unwrap();
        assert_eq!(
            export_name(&f),
            "ho-so-tra-tre-han-Dat-dai-1-theo-ngay-tra-2026-07-01_2026-09-30"
        );
        assert_eq!(export_name(&DossierFilter::default()), "ho-so");
    }

    #[test]
    fn a_filter_gives_back_its_parameters() {
        let pairs = [
            ("month", "2026-10"),
            ("date", "due"),
            ("late_in_period", "true"),
            ("class", "overdue"),
            ("unit", "PKT"),
            ("officer", "Lê Thị Hoa"),
        ];
        let f = params(&pairs).dossier_filter().unwrap();
        let back: Vec<(String, String)> = filter_query(&f)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        let again = Params(back.into_iter().collect()).dossier_filter().unwrap();
        assert_eq!(format!("{again:?}"), format!("{f:?}"));
    }
}
