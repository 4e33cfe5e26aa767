//! The simulator's dossiers as a centre's Excel export (`simulate --export
//! FILE.xlsx`): title lines, a header merged over two rows, a row per dossier
//! with dates as Excel dates, a totals row and a signature block; what the
//! `simulator` file layout (`config/files/simulator.toml`) reads, so the demo
//! and the tests use real files. Written in rust_xlsxwriter's constant-memory
//! mode: rows go to a temporary file as they come (200,000 rows in a few
//! tens of MB).

use super::Simulator;
use crate::dossier::{Dossier, Duration};
use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook, XlsxError};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("writing the export {path}: {error}")]
    Xlsx { path: String, error: XlsxError },
}

/// Single columns (merged down over both header rows), and groups (merged
/// across, their columns titled in the second row).
const HEADER: &[(&str, &[&str])] = &[
    ("STT", &[]),
    ("Mã hồ sơ", &[]),
    ("Thủ tục hành chính", &["Mã", "Tên"]),
    ("Lĩnh vực", &["Mã", "Tên"]),
    ("Đơn vị xử lý", &["Mã", "Tên"]),
    ("Cán bộ thụ lý", &[]),
    ("Người nộp", &["Họ tên, tên tổ chức", "Loại", "Điện thoại"]),
    ("Kênh nộp", &[]),
    ("Trạng thái", &[]),
    ("Thời hạn giải quyết (ngày làm việc)", &[]),
    (
        "Ngày",
        &["Nộp", "Tiếp nhận", "Hẹn trả", "Có kết quả", "Trả kết quả"],
    ),
];
const WIDTH: u16 = 20;

/// Writes every dossier visible at the simulator's now; returns how many.
pub fn write_xlsx(sim: &Simulator, path: &Path, committee: &str) -> Result<u64, ExportError> {
    let err = |error: XlsxError| ExportError::Xlsx {
        path: path.display().to_string(),
        error,
    };
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet_with_constant_memory().map_err(err)?;
    ws.set_name("Danh sách hồ sơ").map_err(err)?;
    let title = Format::new().set_bold().set_align(FormatAlign::Center);
    let head = Format::new()
        .set_bold()
        .set_text_wrap()
        .set_align(FormatAlign::Center)
        .set_align(FormatAlign::VerticalCenter)
        .set_border(FormatBorder::Thin);
    let date = Format::new().set_num_format("dd/mm/yyyy hh:mm");
    let now = sim.now();
    let lines = [
        committee.to_owned(),
        "DANH SÁCH HỒ SƠ THỦ TỤC HÀNH CHÍNH".to_owned(),
        format!("Tính đến {}", now.format("%H:%M ngày %d/%m/%Y")),
    ];
    for (r, line) in lines.iter().enumerate() {
        ws.merge_range(r as u32, 0, r as u32, WIDTH - 1, line, &title)
            .map_err(err)?;
    }
    let (h1, h2) = (4u32, 5u32);
    // The first header row whole before the second: in constant-memory
    // mode a row is written out once a later one is begun.
    let mut c = 0u16;
    let mut subtitles = Vec::new();
    for (top, subs) in HEADER {
        if subs.is_empty() {
            ws.merge_range(h1, c, h2, c, top, &head).map_err(err)?;
            c += 1;
        } else {
            let last = c + subs.len() as u16 - 1;
            ws.merge_range(h1, c, h1, last, top, &head).map_err(err)?;
            subtitles.extend(subs.iter().enumerate().map(|(i, s)| (c + i as u16, *s)));
            c = last + 1;
        }
    }
    for (c, s) in subtitles {
        ws.write_string_with_format(h2, c, s, &head).map_err(err)?;
    }
    let mut row = h2 + 1;
    let mut n = 0u64;
    let mut failed = None;
    sim.for_each_visible(|d| {
        n += 1;
        match write_dossier(ws, row, n, d, &date) {
            Ok(()) => {
                row += 1;
                true
            }
            Err(e) => {
                failed = Some(e);
                false
            }
        }
    });
    if let Some(e) = failed {
        return Err(err(e));
    }
    ws.write_string(row + 1, 0, format!("Tổng cộng: {n} hồ sơ"))
        .map_err(err)?;
    ws.write_string(row + 3, 16, format!("Ngày {}", now.format("%d/%m/%Y")))
        .map_err(err)?;
    ws.write_string(row + 4, 16, "NGƯỜI LẬP BIỂU")
        .map_err(err)?;
    wb.save(path).map_err(err)?;
    Ok(n)
}

fn write_dossier(
    ws: &mut rust_xlsxwriter::Worksheet,
    r: u32,
    n: u64,
    d: &Dossier,
    date: &Format,
) -> Result<(), XlsxError> {
    let text = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let cells: [(u16, Option<String>); 12] = [
        (1, Some(d.code.clone())),
        (2, d.procedure_code.clone()),
        (3, text(&d.procedure_name)),
        (4, text(&d.field_code)),
        (5, text(&d.field_name)),
        (6, text(&d.unit_code)),
        (7, text(&d.unit_name)),
        (8, d.officer.clone()),
        (9, text(&d.applicant_name)),
        (
            10,
            Some(match d.applicant_kind {
                crate::dossier::ApplicantKind::Person => "Cá nhân".to_owned(),
                crate::dossier::ApplicantKind::Organisation => "Tổ chức".to_owned(),
            }),
        ),
        (11, d.applicant_phone.clone()),
        (
            12,
            Some(
                match d.channel {
                    crate::dossier::Channel::Direct => "Trực tiếp",
                    crate::dossier::Channel::Online => "Trực tuyến",
                    crate::dossier::Channel::Postal => "Bưu chính",
                }
                .to_owned(),
            ),
        ),
    ];
    ws.write_number(r, 0, n as f64)?;
    for (c, v) in cells {
        if let Some(v) = v {
            ws.write_string(r, c, v)?;
        }
    }
    ws.write_string(r, 13, d.status.label_vi())?;
    match d.duration {
        Some(Duration::WorkingDays(days)) => {
            ws.write_number(r, 14, f64::from(days))?;
        }
        Some(Duration::WorkingHours(h)) => {
            ws.write_number(r, 14, f64::from(h) / 8.0)?;
        }
        None => {}
    }
    let dates = [
        d.submitted_at,
        Some(d.received_at),
        d.due_at,
        d.finished_at,
        d.returned_at,
    ];
    for (i, t) in dates.iter().enumerate() {
        if let Some(t) = t {
            ws.write_datetime_with_format(r, 15 + i as u16, *t, date)?;
        }
    }
    Ok(())
}
