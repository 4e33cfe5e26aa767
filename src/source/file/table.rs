//! A sheet's rows to records: the header row found below the title lines
//! (committee, report title, period), a header merged over two rows, the
//! columns named by the layout's titles, the numbering row some forms put
//! under the header, empty rows, and the totals and signature block at the
//! bottom. Pure: rows in, records out; the readers feed it cell by cell.

use super::FileError;
use super::cells::{Cell, column_letters};
use super::layout::{Layout, REQUIRED_COLUMNS};
use serde_json::{Map, Value};

/// How far down a header row is looked for: title blocks run to a dozen lines.
const MAX_HEADER_SEARCH: usize = 40;

/// Words a totals or signature row begins with; from such a row on nothing
/// is a dossier.
const FOOTER_WORDS: &[&str] = &[
    "tổng",
    "cộng",
    "người lập",
    "người ghi sổ",
    "thủ trưởng",
    "xác nhận",
    "lãnh đạo",
    "giám đốc",
    "ký tên",
];

/// A column the layout names, where the header found it.
#[derive(Clone, Debug)]
pub struct Column {
    pub index: usize,
    pub key: String,
    /// The title as the file writes it (both rows of a merged header).
    pub title: String,
}

/// The header row(s) found, and the layout they matched.
#[derive(Clone, Debug)]
pub struct Header {
    pub layout: usize,
    /// 1-based number of the header's last row.
    pub row: usize,
    pub columns: Vec<Column>,
}

impl Header {
    /// "column F "Ngày hẹn trả"" for messages.
    pub fn describe(&self, key: &str) -> Option<String> {
        self.columns
            .iter()
            .find(|c| c.key == key)
            .map(|c| format!("column {} \"{}\"", column_letters(c.index), c.title))
    }

    fn has(&self, key: &str) -> bool {
        self.columns.iter().any(|c| c.key == key)
    }
}

/// Why a row was not a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Skip {
    Empty,
    /// The "(1) (2) (3)" row under a form's header.
    Numbering,
    /// Neither a code nor a receipt date: a note, a place and date line.
    NotADossier,
    /// The totals or signature block, and everything below it.
    Footer,
}

/// What became of one row.
#[derive(Debug)]
pub enum Row {
    /// A row of the header (or a title line above it).
    Heading,
    Skipped(Skip),
    /// Column key → value, for the mapping (`$status` made from the dates
    /// where the file has no status).
    Record(usize, Value),
}

enum State {
    Searching { pending: Option<(usize, Vec<Cell>)> },
    Reading { header: Header, seen_record: bool },
    Ended(Header),
}

/// Rows in, records out.
pub struct Table<'a> {
    layouts: &'a [Layout],
    state: State,
}

impl<'a> Table<'a> {
    pub fn new(layouts: &'a [Layout]) -> Self {
        Table {
            layouts,
            state: State::Searching { pending: None },
        }
    }

    /// The header, once found.
    pub fn header(&self) -> Option<&Header> {
        match &self.state {
            State::Reading { header, .. } | State::Ended(header) => Some(header),
            State::Searching { .. } => None,
        }
    }

    /// One row (1-based number `row`, cells from column A).
    pub fn push(&mut self, row: usize, cells: Vec<Cell>) -> Result<Row, FileError> {
        match &mut self.state {
            State::Searching { pending } => {
                if let Some((prev, top)) = pending.take() {
                    let single = self.best(&top, None, prev);
                    let pair = self.best(&top, Some(&cells), row);
                    let pair_wins = match (&single, &pair) {
                        (_, None) => false,
                        (None, Some(_)) => true,
                        (Some(s), Some(p)) => p.columns.len() > s.columns.len(),
                    };
                    if pair_wins && let Some(header) = pair {
                        self.state = State::Reading {
                            header,
                            seen_record: false,
                        };
                        return Ok(Row::Heading);
                    }
                    if let Some(header) = single {
                        self.state = State::Reading {
                            header,
                            seen_record: false,
                        };
                        return self.push(row, cells);
                    }
                }
                if row > MAX_HEADER_SEARCH {
                    return Err(self.no_header());
                }
                let names_a_column = cells.iter().any(|c| match c {
                    Cell::Text(t) => self.layouts.iter().any(|l| l.key_of(t).is_some()),
                    _ => false,
                });
                if names_a_column {
                    self.state = State::Searching {
                        pending: Some((row, cells)),
                    };
                }
                Ok(Row::Heading)
            }
            State::Ended(_) => Ok(Row::Skipped(Skip::Footer)),
            State::Reading {
                header,
                seen_record,
            } => {
                if cells.iter().all(Cell::is_empty) {
                    return Ok(Row::Skipped(Skip::Empty));
                }
                if !*seen_record && is_numbering(&cells) {
                    return Ok(Row::Skipped(Skip::Numbering));
                }
                if is_footer(&cells) {
                    let h = header.clone();
                    self.state = State::Ended(h);
                    return Ok(Row::Skipped(Skip::Footer));
                }
                let at = |key: &str| {
                    header
                        .columns
                        .iter()
                        .find(|c| c.key == key)
                        .and_then(|c| cells.get(c.index))
                        .filter(|c| !c.is_empty())
                };
                if at("code").is_none() && at("received_at").is_none() && at("due_at").is_none() {
                    return Ok(Row::Skipped(Skip::NotADossier));
                }
                *seen_record = true;
                let mut rec = Map::new();
                for c in &header.columns {
                    let mut v = cells
                        .get(c.index)
                        .map(|cell| cell.to_json(c.key.ends_with("_at")))
                        .unwrap_or(Value::Null);
                    if c.key == "due_at" {
                        v = end_of_day(v);
                    }
                    rec.insert(c.key.clone(), v);
                }
                let has = |k: &str| rec.get(k).is_some_and(|v| !v.is_null());
                let status = if has("returned_at") {
                    "returned"
                } else if has("finished_at") {
                    "finished"
                } else {
                    "processing"
                };
                rec.insert("$status".into(), Value::String(status.into()));
                Ok(Row::Record(row, Value::Object(rec)))
            }
        }
    }

    /// The end of the sheet: a header still waiting for its second row is
    /// taken alone; none at all is an error.
    pub fn finish(&mut self) -> Result<(), FileError> {
        if let State::Searching { pending } = &mut self.state {
            if let Some((row, top)) = pending.take()
                && let Some(header) = self.best(&top, None, row)
            {
                self.state = State::Ended(header);
                return Ok(());
            }
            return Err(self.no_header());
        }
        Ok(())
    }

    fn no_header(&self) -> FileError {
        let expected: Vec<String> = REQUIRED_COLUMNS
            .iter()
            .filter_map(|k| {
                self.layouts
                    .first()
                    .map(|l| format!("\"{}\"", l.title_of(k)))
            })
            .collect();
        FileError::NoHeader(format!(
            "no header row in the first {MAX_HEADER_SEARCH} rows names the columns {} (layouts tried: {}); name the titles in the source's `columns`",
            expected.join(" and "),
            self.layouts
                .iter()
                .map(|l| l.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }

    /// The layout that names the most columns of this header (one row, or
    /// two when `bottom` is given), if one names the required columns.
    fn best(&self, top: &[Cell], bottom: Option<&[Cell]>, row: usize) -> Option<Header> {
        let mut best: Option<Header> = None;
        for (i, l) in self.layouts.iter().enumerate() {
            let h = match_header(l, i, top, bottom, row);
            if h.as_ref().is_some_and(|h| {
                REQUIRED_COLUMNS.iter().all(|k| h.has(k))
                    && best
                        .as_ref()
                        .is_none_or(|b| h.columns.len() > b.columns.len())
            }) {
                best = h;
            }
        }
        best
    }
}

/// The columns a layout names in a header of one or two rows. Under a
/// merged group title only its first cell holds the text: it stands over
/// the empty cells to its right that have a title in the second row.
fn match_header(
    l: &Layout,
    index: usize,
    top: &[Cell],
    bottom: Option<&[Cell]>,
    row: usize,
) -> Option<Header> {
    let width = top.len().max(bottom.map_or(0, <[Cell]>::len));
    let text = |cells: Option<&[Cell]>, c: usize| {
        cells.and_then(|r| r.get(c)).and_then(|x| match x {
            Cell::Text(t) => Some(t.clone()),
            _ => None,
        })
    };
    let mut columns: Vec<Column> = Vec::new();
    let mut group: Option<String> = None;
    for c in 0..width {
        let t = text(Some(top), c);
        let b = text(bottom, c);
        if t.is_some() {
            group = t.clone();
        } else if b.is_none() {
            group = None;
        }
        let mut candidates: Vec<String> = Vec::new();
        match (&t, &b) {
            (_, Some(b)) => {
                if let Some(g) = t.as_ref().or(group.as_ref()) {
                    candidates.push(format!("{g} / {b}"));
                    candidates.push(format!("{g} {b}"));
                }
                candidates.push(b.clone());
            }
            (Some(t), None) => candidates.push(t.clone()),
            (None, None) => {}
        }
        for cand in &candidates {
            if let Some(key) = l.key_of(cand)
                && !columns.iter().any(|x| x.key == key)
            {
                columns.push(Column {
                    index: c,
                    key: key.to_owned(),
                    title: cand.clone(),
                });
                break;
            }
        }
    }
    (!columns.is_empty()).then_some(Header {
        layout: index,
        row,
        columns,
    })
}

/// A due date written without a time is due by the end of that day, not
/// at its first minute: tracking books write "04/11/2026" for a dossier
/// received and due the same day (classes compare days; the time shows on
/// the dossier page).
fn end_of_day(v: Value) -> Value {
    let Value::String(s) = &v else { return v };
    let t = s.trim();
    if let Some(day) = t.strip_suffix("T00:00:00") {
        return Value::String(format!("{day}T23:59:00"));
    }
    let date_only = t.len() <= 10
        && t.contains(['/', '-'])
        && t.chars()
            .all(|c| c.is_ascii_digit() || c == '/' || c == '-');
    if date_only {
        return Value::String(format!("{t} 23:59"));
    }
    v
}

fn is_numbering(cells: &[Cell]) -> bool {
    let mut n = 0;
    for c in cells {
        let ok = match c {
            Cell::Empty => continue,
            Cell::Number(x) => x.fract() == 0.0 && *x < 100.0,
            Cell::Text(t) => {
                let t = t.trim_start_matches('(').trim_end_matches(')');
                !t.is_empty() && t.len() <= 3 && t.chars().all(|c| c.is_ascii_digit())
            }
            Cell::Date(_) => false,
        };
        if !ok {
            return false;
        }
        n += 1;
    }
    n >= 3
}

fn is_footer(cells: &[Cell]) -> bool {
    let first = cells.iter().find_map(|c| match c {
        Cell::Text(t) => Some(t.to_lowercase()),
        Cell::Empty => None,
        _ => Some(String::new()),
    });
    first.is_some_and(|t| FOOTER_WORDS.iter().any(|w| t.starts_with(w)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[&str]) -> Vec<Cell> {
        cells.iter().map(|s| Cell::text(s)).collect()
    }

    #[test]
    fn a_real_export_is_read_around_its_title_header_and_footer() {
        let layouts = Layout::all(None, None).unwrap();
        let mut t = Table::new(&layouts);
        let rows = vec![
            row(&["UBND PHƯỜNG NHA TRANG"]),
            row(&["SỔ THEO DÕI HỒ SƠ"]),
            row(&["Từ ngày 01/11/2026 đến ngày 30/11/2026"]),
            row(&[]),
            row(&[
                "STT",
                "Mã hồ sơ",
                "Tên TTHC",
                "Tên cá nhân, tổ chức",
                "Nhận và trả kết quả",
                "",
                "",
                "Ghi chú",
            ]),
            row(&[
                "",
                "",
                "",
                "",
                "Ngày nhận hồ sơ",
                "Hẹn trả kết quả",
                "Ngày trả kết quả",
                "",
            ]),
            row(&["(1)", "(2)", "(3)", "(4)", "(5)", "(6)", "(7)", "(8)"]),
            row(&[
                "1",
                "H56-001",
                "Cấp giấy phép",
                "Nguyễn Văn A",
                "02/11/2026 08:00",
                "09/11/2026",
                "",
                "",
            ]),
            row(&[]),
            row(&["2", "", "Thủ tục", "Trần B", "03/11/2026", "", "", ""]),
            row(&["", "", "", "", "", "", "", "Nha Trang, ngày 01/12/2026"]),
            row(&["Tổng cộng: 2 hồ sơ"]),
            row(&["3", "H56-003", "x", "y", "03/11/2026", "", "", ""]),
        ];
        let mut out = Vec::new();
        for (i, r) in rows.into_iter().enumerate() {
            out.push(t.push(i + 1, r).unwrap());
        }
        t.finish().unwrap();
        let h = t.header().unwrap();
        assert_eq!(layouts[h.layout].name, "tracking_book");
        assert_eq!(h.row, 6);
        assert_eq!(
            h.describe("due_at").unwrap(),
            "column F \"Nhận và trả kết quả / Hẹn trả kết quả\""
        );
        assert!(matches!(out[6], Row::Skipped(Skip::Numbering)));
        let Row::Record(8, rec) = &out[7] else {
            panic!("{:?}", out[7])
        };
        assert_eq!(rec["code"], "H56-001");
        assert_eq!(rec["received_at"], "02/11/2026 08:00");
        assert_eq!(rec["$status"], "processing");
        assert!(matches!(out[8], Row::Skipped(Skip::Empty)));
        assert!(
            matches!(out[9], Row::Record(10, _)),
            "no code but a date: reported"
        );
        assert!(matches!(out[10], Row::Skipped(Skip::NotADossier)));
        assert!(matches!(out[11], Row::Skipped(Skip::Footer)));
        assert!(matches!(out[12], Row::Skipped(Skip::Footer)));
    }

    #[test]
    fn no_header_names_the_titles_expected() {
        let layouts = Layout::all(None, None).unwrap();
        let mut t = Table::new(&layouts);
        for i in 1..=3 {
            t.push(i, row(&["a", "b"])).unwrap();
        }
        let e = t.finish().unwrap_err().to_string();
        assert!(e.contains("\"Mã hồ sơ\""), "{e}");
    }
}
