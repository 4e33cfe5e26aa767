//! Reporting periods: a month, a quarter, six months, a year or a custom
//! range of days, parsed from what people type (`2026-10`, `2026-Q3`,
//! `2026-H1`, `2026`, `2026-07-01..2026-09-30`), with the Vietnamese label
//! the form prints, a file-name slug, and the period just before.

use super::ReportError;
use chrono::{Datelike, Days, Months, NaiveDate};
use serde::Serialize;

/// What the period is, for its label and for the period before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    Month,
    Quarter,
    /// Six months (H1, H2).
    Half,
    Year,
    /// Any range of days, both ends included.
    Custom,
}

/// A reporting period: whole days, `first..=last`, in Vietnam local time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub kind: PeriodKind,
    pub first: NaiveDate,
    pub last: NaiveDate,
}

/// The forms `Period::parse` accepts, for error messages.
pub const ACCEPTED: &str = "accepted forms: 2026-10 (month), 2026-Q3 (quarter), 2026-H1 or 2026-H2 \
     (six months), 2026 (year), 2026-07-01..2026-09-30 (from..to, both days included)";

/// Years a report can be about (as the sources' plausibility checks).
const YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;

impl Period {
    /// Parses one of the accepted forms (surrounding spaces ignored, `q`/`h`
    /// in either case).
    pub fn parse(input: &str) -> Result<Period, ReportError> {
        let s = input.trim();
        let bad = |reason: String| ReportError::Period {
            input: input.to_owned(),
            reason,
        };
        if let Some((a, b)) = s.split_once("..") {
            let day = |t: &str| {
                NaiveDate::parse_from_str(t.trim(), "%Y-%m-%d")
                    .map_err(|_| bad(format!("'{}' is not a day (YYYY-MM-DD)", t.trim())))
            };
            let (first, last) = (day(a)?, day(b)?);
            if first > last {
                return Err(bad(format!("{first} is after {last}")));
            }
            for d in [first, last] {
                year_ok(d.year()).map_err(&bad)?;
            }
            return Ok(Period {
                kind: PeriodKind::Custom,
                first,
                last,
            });
        }
        let (year, rest) = match s.split_once('-') {
            Some((y, r)) => (y, Some(r)),
            None => (s, None),
        };
        let year: i32 = match year.parse() {
            Ok(y) if year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit()) => y,
            _ => return Err(bad(format!("'{year}' is not a year (four digits)"))),
        };
        year_ok(year).map_err(&bad)?;
        let months = |from: u32, n: u32, kind: PeriodKind| -> Result<Period, ReportError> {
            let first = NaiveDate::from_ymd_opt(year, from, 1)
                .ok_or_else(|| bad(format!("month {from} of {year} does not exist")))?;
            Ok(Period {
                kind,
                first,
                last: end_after_months(first, n),
            })
        };
        let Some(rest) = rest else {
            return months(1, 12, PeriodKind::Year);
        };
        let upper = rest.to_ascii_uppercase();
        if let Some(q) = upper.strip_prefix('Q') {
            return match q {
                "1" | "2" | "3" | "4" => {
                    let q: u32 = q.parse().unwrap_or(1);
                    months(3 * q - 2, 3, PeriodKind::Quarter)
                }
                _ => Err(bad(format!("'Q{q}' is not a quarter (Q1 to Q4)"))),
            };
        }
        if let Some(h) = upper.strip_prefix('H') {
            return match h {
                "1" => months(1, 6, PeriodKind::Half),
                "2" => months(7, 6, PeriodKind::Half),
                _ => Err(bad(format!("'H{h}' is not a half-year (H1 or H2)"))),
            };
        }
        match rest.parse::<u32>() {
            Ok(m) if rest.len() == 2 && (1..=12).contains(&m) => months(m, 1, PeriodKind::Month),
            _ => Err(bad(format!(
                "'{rest}' is not a month (01 to 12), a quarter (Q1 to Q4) or a half-year (H1, H2)"
            ))),
        }
    }

    /// How many days the period holds.
    pub fn days(&self) -> u64 {
        (self.last - self.first).num_days().unsigned_abs() + 1
    }

    /// The period of the same kind and length just before this one: the
    /// previous month, quarter, half or year; for a custom range, as many
    /// days ending the day before it starts.
    pub fn previous(&self) -> Period {
        let first = match self.kind {
            PeriodKind::Month => self.first - Months::new(1),
            PeriodKind::Quarter => self.first - Months::new(3),
            PeriodKind::Half => self.first - Months::new(6),
            PeriodKind::Year => self.first - Months::new(12),
            PeriodKind::Custom => self.first - Days::new(self.days()),
        };
        Period {
            kind: self.kind,
            first,
            last: self.first - Days::new(1),
        }
    }

    /// The period as the form's title line says it: "Quý III năm 2026".
    pub fn label_vi(&self) -> String {
        let y = self.first.year();
        match self.kind {
            PeriodKind::Month => format!("Tháng {} năm {y}", self.first.month()),
            PeriodKind::Quarter => {
                let q = ["I", "II", "III", "IV"][self.first.month0() as usize / 3];
                format!("Quý {q} năm {y}")
            }
            PeriodKind::Half if self.first.month() == 1 => format!("6 tháng đầu năm {y}"),
            PeriodKind::Half => format!("6 tháng cuối năm {y}"),
            PeriodKind::Year => format!("Năm {y}"),
            PeriodKind::Custom => self.range_vi(),
        }
    }

    /// "Từ ngày 01/07/2026 đến ngày 30/09/2026".
    pub fn range_vi(&self) -> String {
        format!(
            "Từ ngày {} đến ngày {}",
            self.first.format("%d/%m/%Y"),
            self.last.format("%d/%m/%Y")
        )
    }

    /// For file names: `2026-Q3`, `2026-10`, `2026-H1`, `2026`,
    /// `2026-07-01_2026-09-30`.
    pub fn slug(&self) -> String {
        let y = self.first.year();
        match self.kind {
            PeriodKind::Month => format!("{y}-{:02}", self.first.month()),
            PeriodKind::Quarter => format!("{y}-Q{}", self.first.month0() / 3 + 1),
            PeriodKind::Half => format!("{y}-H{}", self.first.month0() / 6 + 1),
            PeriodKind::Year => format!("{y}"),
            PeriodKind::Custom => format!("{}_{}", self.first, self.last),
        }
    }
}

fn year_ok(y: i32) -> Result<(), String> {
    if YEARS.contains(&y) {
        Ok(())
    } else {
        Err(format!(
            "year {y} is outside {}–{}",
            YEARS.start(),
            YEARS.end()
        ))
    }
}

/// The last day of `n` months starting on `first` (the first of a month).
fn end_after_months(first: NaiveDate, n: u32) -> NaiveDate {
    // Within 2000–2100 both steps exist; `first` is only a fallback.
    first
        .checked_add_months(Months::new(n))
        .and_then(|d| d.pred_opt())
        .unwrap_or(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn p(s: &str) -> Period {
        Period::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn each_form_gives_its_days_label_and_slug() {
        let cases = [
            (
                "2026-10",
                "2026-10-01",
                "2026-10-31",
                "Tháng 10 năm 2026",
                "2026-10",
            ),
            (
                "2026-02",
                "2026-02-01",
                "2026-02-28",
                "Tháng 2 năm 2026",
                "2026-02",
            ),
            (
                "2028-02",
                "2028-02-01",
                "2028-02-29",
                "Tháng 2 năm 2028",
                "2028-02",
            ),
            (
                "2026-Q1",
                "2026-01-01",
                "2026-03-31",
                "Quý I năm 2026",
                "2026-Q1",
            ),
            (
                "2026-Q2",
                "2026-04-01",
                "2026-06-30",
                "Quý II năm 2026",
                "2026-Q2",
            ),
            (
                "2026-Q3",
                "2026-07-01",
                "2026-09-30",
                "Quý III năm 2026",
                "2026-Q3",
            ),
            (
                "2026-q4",
                "2026-10-01",
                "2026-12-31",
                "Quý IV năm 2026",
                "2026-Q4",
            ),
            (
                "2026-H1",
                "2026-01-01",
                "2026-06-30",
                "6 tháng đầu năm 2026",
                "2026-H1",
            ),
            (
                "2026-H2",
                "2026-07-01",
                "2026-12-31",
                "6 tháng cuối năm 2026",
                "2026-H2",
            ),
            ("2026", "2026-01-01", "2026-12-31", "Năm 2026", "2026"),
            (
                " 2026-07-01..2026-09-30 ",
                "2026-07-01",
                "2026-09-30",
                "Từ ngày 01/07/2026 đến ngày 30/09/2026",
                "2026-07-01_2026-09-30",
            ),
            (
                "2026-07-15..2026-07-15",
                "2026-07-15",
                "2026-07-15",
                "Từ ngày 15/07/2026 đến ngày 15/07/2026",
                "2026-07-15_2026-07-15",
            ),
        ];
        for (input, first, last, label, slug) in cases {
            let x = p(input);
            assert_eq!((x.first, x.last), (d(first), d(last)), "{input}");
            assert_eq!(x.label_vi(), label, "{input}");
            assert_eq!(x.slug(), slug, "{input}");
            // A slug reads back as the same period.
            if x.kind != PeriodKind::Custom {
                assert_eq!(Period::parse(&x.slug()).unwrap(), x, "{input}");
            }
        }
    }

    #[test]
    fn the_previous_period_has_the_same_kind_and_length() {
        let cases = [
            ("2026-Q4", "2026-07-01", "2026-09-30"),
            ("2026-Q1", "2025-10-01", "2025-12-31"),
            ("2026-03", "2026-02-01", "2026-02-28"),
            ("2026-01", "2025-12-01", "2025-12-31"),
            ("2026-H1", "2025-07-01", "2025-12-31"),
            ("2026-H2", "2026-01-01", "2026-06-30"),
            ("2026", "2025-01-01", "2025-12-31"),
            // 92 days just before 1 July.
            ("2026-07-01..2026-09-30", "2026-03-31", "2026-06-30"),
            ("2026-03-01..2026-03-01", "2026-02-28", "2026-02-28"),
        ];
        for (input, first, last) in cases {
            let x = p(input);
            let prev = x.previous();
            assert_eq!((prev.first, prev.last), (d(first), d(last)), "{input}");
            assert_eq!(prev.kind, x.kind);
            if x.kind == PeriodKind::Custom {
                assert_eq!(prev.days(), x.days(), "{input}");
            }
        }
        assert_eq!(p("2026-Q4").previous().label_vi(), "Quý III năm 2026");
    }

    #[test]
    fn bad_input_is_named_with_the_accepted_forms() {
        let cases = [
            ("", "'' is not a year"),
            ("26-Q3", "'26' is not a year"),
            ("2026-Q5", "'Q5' is not a quarter"),
            ("2026-Q", "'Q' is not a quarter"),
            ("2026-H3", "'H3' is not a half-year"),
            ("2026-13", "'13' is not a month"),
            ("2026-1", "'1' is not a month"),
            ("2026-10-05", "'10-05' is not a month"),
            ("1999", "year 1999 is outside"),
            ("2026-09-30..2026-07-01", "2026-09-30 is after 2026-07-01"),
            ("2026-07-01..2026-09-31", "'2026-09-31' is not a day"),
            ("2026-07-01..", "'' is not a day"),
            ("quý 3", "'quý 3' is not a year"),
        ];
        for (input, part) in cases {
            let e = Period::parse(input).expect_err(input).to_string();
            assert!(e.contains(&format!("'{input}'")), "{input}: {e}");
            assert!(e.contains(part), "{input}: {e}");
            assert!(e.contains("2026-Q3 (quarter)"), "{input}: {e}");
        }
    }
}
