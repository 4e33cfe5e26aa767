//! The file formats, each read row by row into `Cell`s: XLSX streamed cell by
//! cell (calamine's `worksheet_cells_reader`: a 200,000-row export is never
//! held whole), XLS (older exports; BIFF holds at most 65,536 rows, read as a
//! range), and CSV in UTF-8 (with or without BOM), UTF-16 (Excel's "Unicode
//! text") or, when the bytes are not UTF-8, Windows-1258 (Vietnamese Windows).

use super::FileError;
use super::cells::Cell;
use calamine::{Data, DataRef, Reader, Xls, Xlsx};
use std::io::BufReader;
use std::path::Path;

/// What a file turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Xlsx,
    Xls,
    Csv,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Xlsx => "XLSX",
            Format::Xls => "XLS",
            Format::Csv => "CSV",
        }
    }
}

/// How a file was read.
#[derive(Clone, Debug)]
pub struct ReadInfo {
    pub format: Format,
    /// The text encoding (CSV), e.g. "UTF-8 (BOM)", "Windows-1258".
    pub encoding: Option<&'static str>,
    pub sheet: Option<String>,
}

/// The format, by the file's first bytes (a `.xls` that is really XLSX, or
/// an HTML table saved as `.xls`, is read as what it is).
pub fn sniff(head: &[u8]) -> Format {
    if head.starts_with(b"PK\x03\x04") {
        Format::Xlsx
    } else if head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        Format::Xls
    } else {
        Format::Csv
    }
}

/// Reads every row of the file's first sheet, in order, with its 1-based
/// row number; `row` may stop the reading by returning an error.
pub fn read_rows(
    path: &Path,
    row: &mut dyn FnMut(usize, Vec<Cell>) -> Result<(), FileError>,
) -> Result<ReadInfo, FileError> {
    let bad = |e: String| FileError::Unreadable {
        path: path.to_owned(),
        message: e,
    };
    let mut head = [0u8; 8];
    let n = {
        use std::io::Read;
        let mut f = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
        f.read(&mut head).map_err(|e| bad(e.to_string()))?
    };
    match sniff(&head[..n]) {
        Format::Xlsx => read_xlsx(path, row),
        Format::Xls => read_xls(path, row),
        Format::Csv => read_csv(path, row),
    }
}

fn read_xlsx(
    path: &Path,
    row: &mut dyn FnMut(usize, Vec<Cell>) -> Result<(), FileError>,
) -> Result<ReadInfo, FileError> {
    let bad = |e: String| FileError::Unreadable {
        path: path.to_owned(),
        message: e,
    };
    let mut wb: Xlsx<BufReader<std::fs::File>> =
        calamine::open_workbook(path).map_err(|e: calamine::XlsxError| bad(e.to_string()))?;
    let sheet = wb
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| bad("the workbook has no sheet".into()))?;
    let mut cells_reader = wb
        .worksheet_cells_reader(&sheet)
        .map_err(|e| bad(e.to_string()))?;
    let mut current: Option<u32> = None;
    let mut cells: Vec<Cell> = Vec::new();
    while let Some(cell) = cells_reader.next_cell().map_err(|e| bad(e.to_string()))? {
        let (r, c) = cell.get_position();
        if current != Some(r) {
            if let Some(prev) = current {
                row(prev as usize + 1, std::mem::take(&mut cells))?;
            }
            current = Some(r);
        }
        let c = c as usize;
        if cells.len() <= c {
            cells.resize(c + 1, Cell::Empty);
        }
        cells[c] = from_ref(cell.get_value());
    }
    if let Some(prev) = current {
        row(prev as usize + 1, cells)?;
    }
    Ok(ReadInfo {
        format: Format::Xlsx,
        encoding: None,
        sheet: Some(sheet),
    })
}

fn from_ref(v: &DataRef<'_>) -> Cell {
    match v {
        DataRef::Empty => Cell::Empty,
        DataRef::Int(i) => Cell::Number(*i as f64),
        DataRef::Float(f) => Cell::Number(*f),
        DataRef::String(s) => Cell::text(s),
        DataRef::SharedString(s) => Cell::text(s),
        DataRef::Bool(b) => Cell::Text(b.to_string()),
        DataRef::DateTime(d) => Cell::Date(d.as_f64()),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => Cell::text(s),
        DataRef::Error(e) => Cell::Text(format!("#{e:?}")),
    }
}

fn from_data(v: &Data) -> Cell {
    match v {
        Data::Empty => Cell::Empty,
        Data::Int(i) => Cell::Number(*i as f64),
        Data::Float(f) => Cell::Number(*f),
        Data::String(s) => Cell::text(s),
        Data::Bool(b) => Cell::Text(b.to_string()),
        Data::DateTime(d) => Cell::Date(d.as_f64()),
        Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::text(s),
        Data::Error(e) => Cell::Text(format!("#{e:?}")),
    }
}

fn read_xls(
    path: &Path,
    row: &mut dyn FnMut(usize, Vec<Cell>) -> Result<(), FileError>,
) -> Result<ReadInfo, FileError> {
    let bad = |e: String| FileError::Unreadable {
        path: path.to_owned(),
        message: e,
    };
    let mut wb: Xls<BufReader<std::fs::File>> =
        calamine::open_workbook(path).map_err(|e: calamine::XlsError| bad(e.to_string()))?;
    let sheet = wb
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| bad("the workbook has no sheet".into()))?;
    let range = wb.worksheet_range(&sheet).map_err(|e| bad(e.to_string()))?;
    let (r0, c0) = range.start().unwrap_or((0, 0));
    for (i, r) in range.rows().enumerate() {
        let mut cells = vec![Cell::Empty; c0 as usize];
        cells.extend(r.iter().map(from_data));
        row(r0 as usize + i + 1, cells)?;
    }
    Ok(ReadInfo {
        format: Format::Xls,
        encoding: None,
        sheet: Some(sheet),
    })
}

/// The text of a CSV file and its encoding's name. Read whole: CSV exports
/// are the small ones (the large come as XLSX).
pub fn decode(bytes: &[u8]) -> (std::borrow::Cow<'_, str>, &'static str) {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return (String::from_utf8_lossy(rest), "UTF-8 (BOM)");
    }
    if bytes.starts_with(b"\xFF\xFE") {
        let (t, _, _) = encoding_rs::UTF_16LE.decode(bytes);
        return (t, "UTF-16LE");
    }
    if bytes.starts_with(b"\xFE\xFF") {
        let (t, _, _) = encoding_rs::UTF_16BE.decode(bytes);
        return (t, "UTF-16BE");
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => (std::borrow::Cow::Borrowed(s), "UTF-8"),
        // Not UTF-8: a Vietnamese Windows export. (TCVN3 and VNI fonts'
        // encodings also decode here, as wrong letters; nothing in the
        // bytes tells them apart.)
        Err(_) => {
            let (t, _) = encoding_rs::WINDOWS_1258.decode_without_bom_handling(bytes);
            (t, "Windows-1258")
        }
    }
}

/// The separator: the one of `,`, `;` and tab that the first lines hold
/// most (Excel writes `;` where the decimal mark is a comma).
fn delimiter(text: &str) -> u8 {
    let head: String = text.lines().take(30).collect::<Vec<_>>().join("\n");
    [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|d| head.bytes().filter(|b| b == d).count())
        .unwrap_or(b',')
}

fn read_csv(
    path: &Path,
    row: &mut dyn FnMut(usize, Vec<Cell>) -> Result<(), FileError>,
) -> Result<ReadInfo, FileError> {
    let bad = |e: String| FileError::Unreadable {
        path: path.to_owned(),
        message: e,
    };
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let (text, encoding) = decode(&bytes);
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter(&text))
        .from_reader(text.as_bytes());
    let mut rec = csv::StringRecord::new();
    // Row numbers are the record's first line as an editor shows it: the
    // reader skips blank lines, and a quoted cell may span lines, so they
    // are counted from the byte offsets.
    let (mut at, mut line) = (0usize, 1usize);
    let bytes = text.as_bytes();
    loop {
        match rdr.read_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {
                let mut start = rec
                    .position()
                    .map_or(at, |p| p.byte() as usize)
                    .min(bytes.len());
                // The position of a record after blank lines is where the
                // blank lines begin.
                while start < bytes.len() && matches!(bytes[start], b'\r' | b'\n') {
                    start += 1;
                }
                line += bytes[at.min(start)..start]
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count();
                at = start;
                row(line, rec.iter().map(Cell::text).collect())?;
            }
            Err(e) => return Err(bad(format!("CSV: {e}"))),
        }
    }
    Ok(ReadInfo {
        format: Format::Csv,
        encoding: Some(encoding),
        sheet: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_are_told_apart() {
        // "Hồ sơ" in Windows-1258: o + circumflex (F4) + grave combining (CC).
        let cp1258 = b"H\xF4\xCC s\xF5";
        let (t, e) = decode(cp1258);
        assert_eq!(e, "Windows-1258");
        assert_eq!(crate::text::nfc(&t), "Hồ sơ");
        let (t, e) = decode("\u{feff}Mã".as_bytes());
        assert_eq!((t.as_ref(), e), ("Mã", "UTF-8 (BOM)"));
        assert_eq!(decode("Mã".as_bytes()).1, "UTF-8");
        assert_eq!(delimiter("a;b;c\n1;2;3"), b';');
        assert_eq!(delimiter("a,b\n1,2"), b',');
    }
}
