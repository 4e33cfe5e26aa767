//! Exports of lists and reports as CSV (UTF-8 with BOM, so Excel shows the
//! diacritics) and XLSX (dates as real dates), with Vietnamese column headers.

use chrono::{NaiveDate, NaiveDateTime};
use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};
use std::borrow::Cow;

/// One cell of an export.
#[derive(Clone, Debug)]
pub enum Cell {
    Text(String),
    Number(f64),
    Time(NaiveDateTime),
    /// A month, as the date of its first day shown "mm/yyyy" (so Excel sorts
    /// and filters it as a date, not as text).
    Month(NaiveDate),
    Empty,
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }
    pub fn opt_text(s: Option<impl Into<String>>) -> Cell {
        s.map_or(Cell::Empty, |s| Cell::Text(s.into()))
    }
    pub fn opt_num(n: Option<impl Into<f64>>) -> Cell {
        n.map_or(Cell::Empty, |n| Cell::Number(n.into()))
    }
    pub fn opt_time(s: Option<&str>) -> Cell {
        s.and_then(crate::clock::parse_db)
            .map_or(Cell::Empty, Cell::Time)
    }
}

pub struct Table {
    pub sheet: String,
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
}

/// Excel's limit on a cell's text; longer texts are cut to leave room for the mark.
const CELL_MAX_CHARS: usize = 32_767;
const CUT_AT: usize = 32_000;

/// A text cut to what a spreadsheet cell holds, with a visible mark saying
/// how much was left out (one long text made every XLSX export fail).
fn fit_cell(s: &str) -> Cow<'_, str> {
    if s.chars().count() <= CELL_MAX_CHARS {
        return Cow::Borrowed(s);
    }
    let at = s.char_indices().nth(CUT_AT).map_or(s.len(), |(i, _)| i);
    let left = s[at..].chars().count();
    Cow::Owned(format!("{}… [cắt bớt {left} ký tự]", &s[..at]))
}

/// A text as a CSV cell: fitted, and neutralised when a spreadsheet would
/// read it as a formula (`=`, `+`, `-`, `@`, tab or carriage return first:
/// OWASP's list) by a leading apostrophe, which Excel shows as text.
fn csv_text(s: &str) -> Cow<'_, str> {
    let s = fit_cell(s);
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{s}")),
        _ => s,
    }
}

/// A whole table as CSV: the BOM (so Excel reads UTF-8), the header, the rows.
pub fn to_csv(t: &Table) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
    w.write_record(&t.headers)?;
    let mut out = w
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    out.extend(csv_rows(&t.rows)?);
    Ok(out)
}

fn format_number(n: f64) -> String {
    if n.fract() == 0.0 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// A whole table as an XLSX workbook in memory (the small reports).
pub fn to_xlsx(t: &Table) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    let formats = sheet_head(ws, &t.sheet, &t.headers)?;
    for (r, row) in t.rows.iter().enumerate() {
        write_row(ws, r as u32 + 1, row, &formats)?;
    }
    filter_header(ws, t.rows.len() as u32, t.headers.len())?;
    wb.save_to_buffer()
}

/// How dates and months are shown.
struct Formats {
    time: Format,
    month: Format,
}

/// The sheet's name, bold headers, widths and frozen header row; the formats
/// of its dates.
fn sheet_head(ws: &mut Worksheet, sheet: &str, headers: &[&str]) -> Result<Formats, XlsxError> {
    ws.set_name(sheet)?;
    let bold = Format::new().set_bold();
    for (c, h) in headers.iter().enumerate() {
        ws.set_column_width(c as u16, 18)?;
        ws.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    ws.set_freeze_panes(1, 0)?;
    Ok(Formats {
        time: Format::new().set_num_format("dd/mm/yyyy hh:mm"),
        month: Format::new().set_num_format("mm/yyyy"),
    })
}

/// Excel's filter buttons on the header over `rows` rows (auditors filter
/// and sort the export in Excel first).
fn filter_header(ws: &mut Worksheet, rows: u32, columns: usize) -> Result<(), XlsxError> {
    if columns > 0 {
        ws.autofilter(0, 0, rows, columns as u16 - 1)?;
    }
    Ok(())
}

fn write_row(ws: &mut Worksheet, r: u32, row: &[Cell], f: &Formats) -> Result<(), XlsxError> {
    for (c, cell) in row.iter().enumerate() {
        let c = c as u16;
        match cell {
            // A string cell is never evaluated: only its length matters.
            Cell::Text(s) => {
                ws.write_string(r, c, fit_cell(s))?;
            }
            Cell::Number(n) => {
                ws.write_number(r, c, *n)?;
            }
            Cell::Time(t) => {
                ws.write_datetime_with_format(r, c, t, &f.time)?;
            }
            Cell::Month(m) => {
                ws.write_datetime_with_format(r, c, m, &f.month)?;
            }
            Cell::Empty => {}
        }
    }
    Ok(())
}

/// Pages of an export's rows, produced by the caller on a task of its own
/// (one database page at a time); an error ends the export.
pub type Pages = tokio::sync::mpsc::Receiver<Result<Vec<Vec<Cell>>, String>>;

fn csv_rows(rows: &[Vec<Cell>]) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.write_record(r.iter().map(|c| match c {
            Cell::Text(s) => csv_text(s).into_owned(),
            Cell::Number(n) => format_number(*n),
            Cell::Time(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
            Cell::Month(m) => m.format("%Y-%m").to_string(),
            Cell::Empty => String::new(),
        }))?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// A CSV export as a streamed body: the header, then each page's rows as
/// they come, so memory holds one page whatever the export's size.
pub fn csv_body(headers: Vec<&'static str>, pages: Pages) -> axum::body::Body {
    use futures_util::StreamExt;
    let head = to_csv(&Table {
        sheet: String::new(),
        headers,
        rows: Vec::new(),
    })
    .map_err(std::io::Error::other);
    let first = futures_util::stream::once(async move { head.map(bytes::Bytes::from) });
    let rest = futures_util::stream::unfold(pages, |mut pages| async move {
        let chunk = match pages.recv().await? {
            Ok(rows) => csv_rows(&rows)
                .map(bytes::Bytes::from)
                .map_err(std::io::Error::other),
            Err(e) => Err(std::io::Error::other(e)),
        };
        Some((chunk, pages))
    });
    axum::body::Body::from_stream(first.chain(rest))
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("writing the XLSX: {0}")]
    Xlsx(#[from] XlsxError),
    #[error("the XLSX's temporary file: {0}")]
    Io(#[from] std::io::Error),
    #[error("reading the rows: {0}")]
    Rows(String),
}

/// An XLSX export of every page, its rows written to temporary files as they
/// come (rust_xlsxwriter's constant-memory mode) and the workbook assembled
/// in an unnamed temporary file, returned rewound for streaming: memory holds
/// one page, not the workbook (80k dossiers peaked at 447 MB in memory).
pub async fn xlsx_file(
    sheet: &str,
    headers: &[&str],
    mut pages: Pages,
) -> Result<tokio::fs::File, ExportError> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet_with_constant_memory()?;
    let formats = sheet_head(ws, sheet, headers)?;
    let mut r = 0u32;
    while let Some(page) = pages.recv().await {
        for row in page.map_err(ExportError::Rows)? {
            r += 1;
            write_row(ws, r, &row, &formats)?;
        }
    }
    filter_header(ws, r, headers.len())?;
    let file = tokio::task::spawn_blocking(move || -> Result<std::fs::File, ExportError> {
        use std::io::Seek;
        let mut f = tempfile::tempfile()?;
        wb.save_to_writer(&mut f)?;
        f.rewind()?;
        Ok(f)
    })
    .await
    .map_err(|e| ExportError::Rows(e.to_string()))??;
    Ok(tokio::fs::File::from_std(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(texts: &[&str]) -> Table {
        Table {
            sheet: "Hồ sơ".into(),
            headers: vec!["Người nộp"],
            rows: texts.iter().map(|t| vec![Cell::text(*t)]).collect(),
        }
    }

    #[test]
    fn csv_cells_never_start_a_formula() {
        let evil = [
            "=HYPERLINK(\"http://x\",\"Bấm\")",
            "+1+1",
            "-2+3",
            "@SUM(A1)",
            "\t=1",
            "\r=1",
        ];
        let csv = String::from_utf8(to_csv(&table(&evil)).unwrap()).unwrap();
        let mut r = csv::Reader::from_reader(csv.trim_start_matches('\u{feff}').as_bytes());
        let cells: Vec<String> = r.records().map(|x| x.unwrap()[0].to_owned()).collect();
        assert_eq!(cells.len(), evil.len());
        for (cell, original) in cells.iter().zip(evil) {
            assert_eq!(cell, &format!("'{original}"));
        }
        // Ordinary text is left alone.
        let csv = String::from_utf8(to_csv(&table(&["Nguyễn Văn A"])).unwrap()).unwrap();
        assert!(csv.ends_with("Nguyễn Văn A\n"), "{csv}");
    }

    #[test]
    fn a_text_longer_than_a_cell_is_cut_with_a_mark() {
        let long = "ạ".repeat(40_000);
        let xlsx = to_xlsx(&table(&[&long, "ngắn"])).expect("an XLSX despite the long text");
        use calamine::Reader;
        let mut book = calamine::Xlsx::new(std::io::Cursor::new(xlsx)).unwrap();
        let range = book.worksheet_range("Hồ sơ").unwrap();
        let cell = range.get((1, 0)).unwrap().to_string();
        assert!(cell.chars().count() <= CELL_MAX_CHARS);
        assert!(
            cell.ends_with("… [cắt bớt 8000 ký tự]"),
            "{}",
            &cell[cell.len() - 60..]
        );
        assert_eq!(range.get((2, 0)).unwrap().to_string(), "ngắn");
        let csv = String::from_utf8(to_csv(&table(&[&long])).unwrap()).unwrap();
        assert!(csv.contains("[cắt bớt 8000 ký tự]"));
    }
}
