//! The report as text: a short table for a terminal (`tthc-watch report`
//! without `-o`), and CSV for the API.

use super::rows::Num;
use super::{PeriodReport, ReportError, ReportRow, ReportTemplate};
use std::fmt::Write;

fn pct(p: Option<f64>) -> String {
    p.map_or_else(|| "-".to_owned(), |p| format!("{p:.1}%"))
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

fn line(out: &mut String, name: &str, r: &ReportRow) {
    let _ = writeln!(
        out,
        "{:<34} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>6} {:>7} {:>7} {:>7}",
        cut(name, 34),
        r.carried,
        r.new_total,
        r.resolved,
        r.before_due + r.on_due_day,
        r.late,
        r.closed,
        r.in_progress,
        r.in_progress_overdue,
        pct(r.on_time_pct),
        pct(r.apology_pct),
    );
}

/// The report as text: the period, then the by-field and by-unit tables.
pub fn text_table(r: &PeriodReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} ({} .. {}), as of {}",
        r.reporter.lines.join(" "),
        r.period.label,
        r.period.from,
        r.period.to,
        r.as_of
    );
    for (title, rows) in [("Lĩnh vực", &r.by_field), ("Đơn vị", &r.by_unit)] {
        let _ = writeln!(
            out,
            "\n{:<34} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>6} {:>7} {:>7} {:>7}",
            title,
            "kỳ trước",
            "mới",
            "đã g.q.",
            "đúng h.",
            "quá h.",
            "không",
            "đang",
            "đang qh",
            "đúng %",
            "x.lỗi %"
        );
        for row in rows.iter() {
            line(&mut out, &row.name, row);
        }
        line(&mut out, "Tổng cộng", &r.total);
    }
    out
}

/// A text a spreadsheet would read as a formula (`=`, `+`, `-`, `@`, tab or
/// carriage return first), neutralised by a leading apostrophe.
fn csv_text(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_owned(),
    }
}

/// The report as CSV (UTF-8 with a BOM, so Excel shows the diacritics): one
/// line per field, per unit and the totals, the first column saying which;
/// the columns titled as the form's ("group: column"), rates in percent.
pub fn to_csv(r: &PeriodReport, t: &ReportTemplate) -> Result<Vec<u8>, ReportError> {
    let mut w = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
    let mut head = vec![
        "Bảng".to_owned(),
        "Mã".to_owned(),
        format!("{} / {}", t.columns.field, t.columns.unit),
    ];
    for (group, cols) in t.columns.groups() {
        if cols.is_empty() {
            head.push(group.to_owned());
        } else {
            head.extend(cols.iter().map(|c| format!("{group}: {c}")));
        }
    }
    w.write_record(&head)?;
    let lines = r
        .by_field
        .iter()
        .map(|x| (&t.sheets.by_field, x))
        .chain(r.by_unit.iter().map(|x| (&t.sheets.by_unit, x)))
        .chain(std::iter::once((&t.total_row, &r.total)));
    for (table, row) in lines {
        let mut rec = vec![table.clone(), csv_text(&row.code), csv_text(&row.name)];
        rec.extend(row.numbers().iter().map(|n| match n {
            Num::Count(n) => n.to_string(),
            Num::Pct(p) => p.map(|p| format!("{p:.1}")).unwrap_or_default(),
        }));
        w.write_record(&rec)?;
    }
    w.into_inner()
        .map_err(|e| ReportError::Csv(csv::Error::from(e.into_error())))
}
