//! The report as an XLSX laid out like the form centres send upward: the
//! committee's header and the national motto, the title and the period, two
//! header rows (groups over their columns) and a row numbering the columns
//! (1), (2), …, one row per field (or unit), then "Tổng cộng". Two sheets:
//! by field and by unit. Rates are percentages; printed A4 landscape, one
//! page wide. Times New Roman, as Nghị định 30/2020 writes documents.

use super::rows::Num;
use super::template::{ReportTemplate, fill};
use super::{PeriodKind, PeriodReport, ReportError, ReportRow};
use chrono::{Datelike, NaiveDate};
use rust_xlsxwriter::{
    ColNum, Format, FormatAlign, FormatBorder, RowNum, Workbook, Worksheet, XlsxError,
};

const FONT: &str = "Times New Roman";

/// The formats the sheets share.
struct Formats {
    header: Format,
    centre_bold: Format,
    centre_italic: Format,
    right_italic: Format,
    title: Format,
    motto: Format,
    slogan: Format,
    th: Format,
    number_label: Format,
    index: Format,
    name: Format,
    count: Format,
    pct: Format,
    total_name: Format,
    total_count: Format,
    total_pct: Format,
}

impl Formats {
    fn new() -> Formats {
        let base = Format::new().set_font_name(FONT).set_font_size(12);
        let centre = base
            .clone()
            .set_align(FormatAlign::Center)
            .set_align(FormatAlign::VerticalCenter);
        let cell = base.clone().set_border(FormatBorder::Thin);
        let th = centre
            .clone()
            .set_bold()
            .set_text_wrap()
            .set_border(FormatBorder::Thin);
        let count = cell.clone().set_num_format("#,##0");
        let pct = cell.clone().set_num_format("0.0%");
        Formats {
            header: centre.clone().set_bold(),
            centre_bold: centre.clone().set_bold(),
            centre_italic: centre.clone().set_italic(),
            right_italic: base.clone().set_italic().set_align(FormatAlign::Right),
            title: centre.clone().set_bold().set_font_size(14),
            motto: centre.clone().set_bold(),
            slogan: centre
                .clone()
                .set_bold()
                .set_underline(rust_xlsxwriter::FormatUnderline::Single),
            number_label: centre.clone().set_italic().set_border(FormatBorder::Thin),
            th,
            index: cell.clone().set_align(FormatAlign::Center),
            name: cell.clone().set_text_wrap(),
            total_name: cell.clone().set_bold(),
            total_count: count.clone().set_bold(),
            total_pct: pct.clone().set_bold(),
            count,
            pct,
        }
    }
}

/// Writes `text` over `first_col..=last_col` of rows `r0..=r1` (one cell
/// alone when the range is one cell: Excel refuses to merge it).
fn span(
    ws: &mut Worksheet,
    (r0, r1): (RowNum, RowNum),
    (c0, c1): (ColNum, ColNum),
    text: &str,
    f: &Format,
) -> Result<(), XlsxError> {
    if r0 == r1 && c0 == c1 {
        ws.write_string_with_format(r0, c0, text, f)?;
    } else {
        ws.merge_range(r0, c0, r1, c1, text, f)?;
    }
    Ok(())
}

/// The whole workbook in memory (a report is a few dozen rows).
pub fn to_xlsx(r: &PeriodReport, t: &ReportTemplate) -> Result<Vec<u8>, ReportError> {
    let f = Formats::new();
    let mut wb = Workbook::new();
    for (sheet, name_title, rows) in [
        (&t.sheets.by_field, &t.columns.field, &r.by_field),
        (&t.sheets.by_unit, &t.columns.unit, &r.by_unit),
    ] {
        let ws = wb.add_worksheet();
        ws.set_name(sheet)?;
        write_sheet(ws, r, t, &f, name_title, rows)?;
    }
    Ok(wb.save_to_buffer()?)
}

fn write_sheet(
    ws: &mut Worksheet,
    r: &PeriodReport,
    t: &ReportTemplate,
    f: &Formats,
    name_title: &str,
    rows: &[ReportRow],
) -> Result<(), XlsxError> {
    let groups = t.columns.groups();
    let ncols: ColNum = 2 + groups.iter().map(|(_, c)| c.len().max(1)).sum::<usize>() as ColNum;
    let last = ncols - 1;
    ws.set_landscape();
    ws.set_paper_size(9); // A4
    ws.set_print_fit_to_pages(1, 0);
    ws.set_column_width(0, 5)?;
    ws.set_column_width(1, 36)?;
    for c in 2..ncols {
        ws.set_column_width(c, 11)?;
    }

    // The committee on the left, the motto on the right, as a document's header.
    let left = (0, 4.min(last));
    let right = (8.min(last), last);
    let mut row: RowNum = 0;
    let motto = [(&t.motto, &f.motto), (&t.slogan, &f.slogan)];
    let height = r.reporter.lines.len().max(motto.len());
    for i in 0..height {
        if let Some(line) = r.reporter.lines.get(i) {
            span(ws, (row, row), left, line, &f.header)?;
        }
        if let Some((text, fmt)) = motto.get(i) {
            span(ws, (row, row), right, text, fmt)?;
        }
        row += 1;
    }
    let as_of = chrono::NaiveDateTime::parse_from_str(&r.as_of, "%Y-%m-%d %H:%M:%S")
        .map(|t| t.date())
        .unwrap_or_default();
    span(
        ws,
        (row, row),
        right,
        &place_date(t, &r.reporter.place, as_of),
        &f.centre_italic,
    )?;
    row += 2;

    let (from, to) = (dmy(&r.period.from), dmy(&r.period.to));
    let values = [
        ("period", r.period.label.as_str()),
        ("from", from.as_str()),
        ("to", to.as_str()),
    ];
    span(
        ws,
        (row, row),
        (0, last),
        &fill(&t.title, &values),
        &f.title,
    )?;
    row += 1;
    span(
        ws,
        (row, row),
        (0, last),
        &fill(&t.period_line, &values),
        &f.centre_bold,
    )?;
    row += 1;
    if r.period.kind != PeriodKind::Custom {
        span(
            ws,
            (row, row),
            (0, last),
            &fill(&t.range_line, &values),
            &f.centre_italic,
        )?;
        row += 1;
    }
    span(
        ws,
        (row, row),
        (last.saturating_sub(3), last),
        &t.unit_line,
        &f.right_italic,
    )?;
    row += 1;

    // Two header rows: groups over their columns; a lone column spans both.
    let (h0, h1) = (row, row + 1);
    span(ws, (h0, h1), (0, 0), &t.columns.index, &f.th)?;
    span(ws, (h0, h1), (1, 1), name_title, &f.th)?;
    let mut c: ColNum = 2;
    for (group, cols) in &groups {
        if cols.is_empty() {
            span(ws, (h0, h1), (c, c), group, &f.th)?;
            c += 1;
        } else {
            let end = c + cols.len() as ColNum - 1;
            span(ws, (h0, h0), (c, end), group, &f.th)?;
            for (i, title) in cols.iter().enumerate() {
                ws.write_string_with_format(h1, c + i as ColNum, *title, &f.th)?;
            }
            c = end + 1;
        }
    }
    ws.set_row_height(h0, 32)?;
    ws.set_row_height(h1, 48)?;
    let numbers = h1 + 1;
    for c in 0..ncols {
        ws.write_string_with_format(numbers, c, format!("({})", c + 1), &f.number_label)?;
    }
    ws.set_repeat_rows(h0, numbers)?;
    ws.set_freeze_panes(numbers + 1, 2)?;

    let mut row = numbers + 1;
    for (i, data) in rows.iter().enumerate() {
        ws.write_number_with_format(row, 0, (i + 1) as f64, &f.index)?;
        ws.write_string_with_format(row, 1, &data.name, &f.name)?;
        write_numbers(ws, row, data, &f.count, &f.pct)?;
        row += 1;
    }
    ws.write_blank(row, 0, &f.total_name)?;
    ws.write_string_with_format(row, 1, &t.total_row, &f.total_name)?;
    write_numbers(ws, row, &r.total, &f.total_count, &f.total_pct)?;
    Ok(())
}

/// A row's numbers from column (3): counts as numbers, rates as fractions
/// shown in percent, a rate of nothing left blank.
fn write_numbers(
    ws: &mut Worksheet,
    row: RowNum,
    r: &ReportRow,
    count: &Format,
    pct: &Format,
) -> Result<(), XlsxError> {
    for (i, n) in r.numbers().into_iter().enumerate() {
        let c = 2 + i as ColNum;
        match n {
            Num::Count(n) => ws.write_number_with_format(row, c, n as f64, count)?,
            Num::Pct(Some(p)) => ws.write_number_with_format(row, c, p / 100.0, pct)?,
            Num::Pct(None) => ws.write_blank(row, c, pct)?,
        };
    }
    Ok(())
}

fn place_date(t: &ReportTemplate, place: &str, d: NaiveDate) -> String {
    let (day, month, year) = (
        format!("{:02}", d.day()),
        format!("{:02}", d.month()),
        d.year().to_string(),
    );
    fill(
        &t.place_date,
        &[
            ("place", place),
            ("day", &day),
            ("month", &month),
            ("year", &year),
        ],
    )
}

/// YYYY-MM-DD as dd/mm/yyyy.
fn dmy(iso: &str) -> String {
    NaiveDate::parse_from_str(iso, "%Y-%m-%d")
        .map(|d| d.format("%d/%m/%Y").to_string())
        .unwrap_or_else(|_| iso.to_owned())
}
