//! Exports of lists and reports as CSV (UTF-8 with BOM, so Excel shows the
//! diacritics) and XLSX (dates as real dates), with Vietnamese column headers.

use chrono::NaiveDateTime;
use rust_xlsxwriter::{Format, Workbook, XlsxError};

/// One cell of an export.
#[derive(Clone, Debug)]
pub enum Cell {
    Text(String),
    Number(f64),
    Time(NaiveDateTime),
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

pub fn to_csv(t: &Table) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
    w.write_record(&t.headers)?;
    for r in &t.rows {
        w.write_record(r.iter().map(|c| match c {
            Cell::Text(s) => s.clone(),
            Cell::Number(n) => format_number(*n),
            Cell::Time(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
            Cell::Empty => String::new(),
        }))?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

fn format_number(n: f64) -> String {
    if n.fract() == 0.0 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

pub fn to_xlsx(t: &Table) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name(&t.sheet)?;
    let bold = Format::new().set_bold();
    let date = Format::new().set_num_format("dd/mm/yyyy hh:mm");
    for (c, h) in t.headers.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold)?;
        ws.set_column_width(c as u16, 18)?;
    }
    for (r, row) in t.rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (c, cell) in row.iter().enumerate() {
            let c = c as u16;
            match cell {
                Cell::Text(s) => {
                    ws.write_string(r, c, s)?;
                }
                Cell::Number(n) => {
                    ws.write_number(r, c, *n)?;
                }
                Cell::Time(t) => {
                    ws.write_datetime_with_format(r, c, t, &date)?;
                }
                Cell::Empty => {}
            }
        }
    }
    ws.set_freeze_panes(1, 0)?;
    wb.save_to_buffer()
}
