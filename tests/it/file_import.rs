//! File sources: the centre's exports (XLSX, XLS, CSV in UTF-8 with a BOM and
//! in Windows-1258) built like real ones — title lines, a header merged over
//! two rows, serial and text dates, a bad row, a totals row and signatures —
//! imported into both backends and compared field by field with dossiers
//! written out by hand; repeats, changes and snapshots; the `import` verb.

use crate::support::{Backend, TestDb, postgres_available};
use chrono::NaiveDateTime;
use rust_xlsxwriter::{Format, FormatAlign, Workbook};
use std::path::{Path, PathBuf};
use tthc_watch::clock::Clock;
use tthc_watch::dossier::{ApplicantKind, Channel, Dossier, Status};
use tthc_watch::source::file::{ImportOptions, ImportSummary, import_file};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/files")
        .join(name)
}

fn t(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("a test time")
}

fn clock() -> Clock {
    Clock::from_option(Some("2026-12-01T08:00:00+07:00".parse().expect("a time")))
}

/// A dossier of the tracking book: what the book has, the rest empty.
fn book(code: &str, procedure: &str, applicant: &str, unit: &str, received: &str) -> Dossier {
    Dossier {
        code: code.into(),
        procedure_code: None,
        procedure_name: procedure.into(),
        field_code: String::new(),
        field_name: String::new(),
        unit_code: String::new(),
        unit_name: unit.into(),
        officer: None,
        applicant_name: applicant.into(),
        applicant_kind: ApplicantKind::Person,
        applicant_id_no: None,
        applicant_phone: None,
        applicant_email: None,
        applicant_address: None,
        summary: None,
        channel: Channel::Direct,
        status: Status::Processing,
        submitted_at: None,
        received_at: t(received),
        due_at: None,
        finished_at: None,
        returned_at: None,
        duration: None,
        steps: Vec::new(),
        pauses: Vec::new(),
        extension: None,
        updated_at: t(received),
    }
}

/// The four good rows of every fixture, written out by hand from the
/// sheet (not from the reader): a due date without a time is due by the end
/// of its day; no status column, so the dates tell it.
fn expected() -> Vec<Dossier> {
    let mut d1 = book(
        "H56.22-261102-0001",
        "Cấp giấy chứng nhận quyền sử dụng đất lần đầu",
        "Nguyễn Thị Hồng",
        "Phòng Kinh tế, Hạ tầng và Đô thị",
        "2026-11-02 08:15",
    );
    d1.applicant_address = Some("12 Trần Phú, phường Nha Trang".into());
    d1.due_at = Some(t("2026-11-20 17:00"));
    let mut d2 = book(
        "H56.22-261103-0002",
        "Đăng ký khai sinh",
        "Trần Văn Đức",
        "Phòng Văn hóa - Xã hội",
        "2026-11-03 09:30",
    );
    d2.due_at = Some(t("2026-11-04 23:59"));
    d2.finished_at = Some(t("2026-11-04 10:00"));
    d2.returned_at = Some(t("2026-11-04 14:00"));
    d2.status = Status::Returned;
    d2.updated_at = t("2026-11-04 14:00");
    let mut d3 = book(
        "H56.22-261104-0003",
        "Cấp giấy phép xây dựng nhà ở riêng lẻ",
        "Công ty TNHH Xây dựng Phước Hải",
        "Phòng Kinh tế, Hạ tầng và Đô thị",
        "2026-11-04 14:45",
    );
    d3.due_at = Some(t("2026-11-25 23:59"));
    d3.finished_at = Some(t("2026-11-24 16:00"));
    d3.status = Status::Finished;
    d3.updated_at = t("2026-11-24 16:00");
    let mut d5 = book(
        "H56.22-261106-0005",
        "Đăng ký kết hôn",
        "Phạm Quốc Việt",
        "Phòng Tư pháp",
        "2026-11-06 07:45",
    );
    d5.due_at = Some(t("2026-11-06 17:00"));
    vec![d1, d2, d3, d5]
}

/// One dated cell: a serial (a date-formatted cell) or text.
#[derive(Clone)]
enum When {
    Serial(&'static str),
    Text(&'static str),
    None,
}

/// The tracking book's rows as the fixtures' generator writes them
/// (`tests/fixtures/files/make_fixtures.py`), in the XLSX's own cells.
fn rows() -> Vec<(Vec<&'static str>, [When; 5])> {
    use When::*;
    vec![
        (
            vec![
                "1",
                "H56.22-261102-0001",
                "Cấp giấy chứng nhận quyền sử dụng đất lần đầu",
                "Nguyễn Thị Hồng",
                "12 Trần Phú, phường Nha Trang",
                "Phòng Kinh tế, Hạ tầng và Đô thị",
            ],
            [
                Serial("2026-11-02 08:15"),
                Serial("2026-11-20 17:00"),
                Text("03/11/2026"),
                None,
                None,
            ],
        ),
        (
            vec![
                "2",
                "H56.22-261103-0002",
                "Đăng ký khai sinh",
                "Trần Văn Đức",
                "",
                "Phòng Văn hóa - Xã hội",
            ],
            [
                Text("03/11/2026 09:30"),
                Text("04/11/2026"),
                Text("03/11/2026"),
                Serial("2026-11-04 10:00"),
                Text("04/11/2026 14:00"),
            ],
        ),
        (
            vec![
                "3",
                "H56.22-261104-0003",
                "Cấp giấy phép xây dựng nhà ở riêng lẻ",
                "Công ty TNHH Xây dựng Phước Hải",
                "",
                "Phòng Kinh tế, Hạ tầng và Đô thị",
            ],
            [
                Serial("2026-11-04 14:45"),
                Text("25/11/2026"),
                Text("05/11/2026"),
                Text("24/11/2026 16:00"),
                None,
            ],
        ),
        (
            vec![
                "4",
                "H56.22-261105-0004",
                "Chứng thực bản sao từ bản chính",
                "Lê Thị Ánh",
                "",
                "Phòng Tư pháp",
            ],
            [Text("31/11/2026"), Text("06/11/2026"), None, None, None],
        ),
        (
            vec![
                "5",
                "H56.22-261106-0005",
                "Đăng ký kết hôn",
                "Phạm Quốc Việt",
                "",
                "Phòng Tư pháp",
            ],
            [
                Text("06/11/2026 07:45"),
                Serial("2026-11-06 17:00"),
                None,
                None,
                None,
            ],
        ),
    ]
}

/// An XLSX tracking book like a centre's export: four title lines, the
/// header merged over two rows (single columns merged down, "Nhận và trả
/// kết quả" merged across its five dated columns), a row of column numbers,
/// the rows, a totals row and a signature block.
fn write_xlsx(path: &Path, period: &str, rows: &[(Vec<&str>, [When; 5])]) {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Sổ theo dõi").expect("name");
    let head = Format::new()
        .set_bold()
        .set_align(FormatAlign::Center)
        .set_text_wrap();
    let date = Format::new().set_num_format("dd/mm/yyyy hh:mm");
    let titles = [
        "UỶ BAN NHÂN DÂN PHƯỜNG NHA TRANG",
        "TRUNG TÂM PHỤC VỤ HÀNH CHÍNH CÔNG",
        "SỔ THEO DÕI HỒ SƠ",
        period,
    ];
    for (i, s) in titles.iter().enumerate() {
        ws.merge_range(i as u32, 0, i as u32, 11, s, &head)
            .expect("title");
    }
    let (h1, h2) = (5u32, 6u32);
    let singles = [
        (0, "STT"),
        (1, "Mã hồ sơ"),
        (2, "Tên TTHC"),
        (3, "Tên cá nhân, tổ chức"),
        (4, "Địa chỉ"),
        (5, "Cơ quan chủ trì giải quyết"),
        (11, "Ghi chú"),
    ];
    for (c, s) in singles {
        ws.merge_range(h1, c, h2, c, s, &head).expect("header");
    }
    ws.merge_range(h1, 6, h1, 10, "Nhận và trả kết quả", &head)
        .expect("group");
    let subs = [
        "Ngày nhận hồ sơ",
        "Hẹn trả kết quả",
        "Chuyển hồ sơ đến cơ quan giải quyết",
        "Nhận kết quả từ cơ quan giải quyết",
        "Ngày trả kết quả",
    ];
    for (i, s) in subs.iter().enumerate() {
        ws.write_string_with_format(h2, 6 + i as u16, *s, &head)
            .expect("sub");
    }
    for c in 0..12u16 {
        ws.write_string(h2 + 1, c, format!("({})", c + 1))
            .expect("numbers");
    }
    let mut r = h2 + 2;
    for (cells, dates) in rows {
        for (c, v) in cells.iter().enumerate() {
            if c == 0 {
                ws.write_number(r, 0, v.parse::<f64>().expect("STT"))
                    .expect("stt");
            } else if !v.is_empty() {
                ws.write_string(r, c as u16, *v).expect("cell");
            }
        }
        for (i, w) in dates.iter().enumerate() {
            let c = 6 + i as u16;
            match w {
                When::Serial(s) => {
                    ws.write_datetime_with_format(r, c, t(s), &date)
                        .expect("date");
                }
                When::Text(s) => {
                    ws.write_string(r, c, *s).expect("text date");
                }
                When::None => {}
            }
        }
        r += 1;
    }
    r += 1;
    ws.write_string(r, 0, format!("Tổng cộng: {} hồ sơ", rows.len()))
        .expect("totals");
    ws.write_string(r + 2, 9, "Nha Trang, ngày 30 tháng 11 năm 2026")
        .expect("place");
    ws.write_string(r + 3, 9, "NGƯỜI LẬP BIỂU").expect("signer");
    ws.write_string(r + 4, 9, "Nguyễn Văn Bình").expect("name");
    wb.save(path).expect("save xlsx");
}

fn opts(source: &str) -> ImportOptions {
    ImportOptions {
        source: source.into(),
        ..ImportOptions::default()
    }
}

/// What every fixture must give: 5 dossier rows, 4 stored, one quarantined
/// naming row 12 and column G, the layout found below the titles.
async fn check_import(db: &TestDb, s: &ImportSummary, encoding: Option<&str>) {
    assert!(s.error.is_none(), "{s}");
    assert_eq!(s.layout.as_deref(), Some("tracking_book"), "{s}");
    assert_eq!(s.header_row, Some(7), "{s}");
    assert_eq!(s.rows, 5, "{s}");
    assert_eq!(
        (
            s.outcome.created,
            s.outcome.changed,
            s.outcome.unchanged,
            s.outcome.quarantined
        ),
        (4, 0, 0, 1),
        "{s}"
    );
    assert_eq!(s.encoding, encoding, "{s}");
    assert_eq!(s.skipped.get("column_numbers"), Some(&1), "{s}");
    assert!(
        s.skipped
            .get("totals_and_signatures")
            .is_some_and(|n| *n >= 1),
        "{s}"
    );
    let stored: Vec<Dossier> = db
        .store
        .all_dossiers(&s.source)
        .await
        .expect("read back")
        .into_iter()
        .map(|d| d.dossier)
        .collect();
    let want = expected();
    assert_eq!(stored.len(), want.len(), "{s}");
    for (got, want) in stored.iter().zip(&want) {
        assert_eq!(got, want, "{} from {}", want.code, s.file.display());
    }
    let q = db.store.quarantined(&s.source).await.expect("quarantine");
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].code.as_deref(), Some("H56.22-261105-0004"));
    for part in [
        "field received_at",
        "column G \"Ngày nhận hồ sơ\"",
        "'31/11/2026'",
        "(row 12)",
    ] {
        assert!(q[0].reason.contains(part), "{part} in {}", q[0].reason);
    }
    assert!(q[0].raw.contains("\"row\":12"), "{}", q[0].raw);
    let text = s.to_string();
    assert!(
        text.contains("mới: 4") && text.contains("cách ly: 1"),
        "{text}"
    );
}

async fn every_format_imports_field_by_field(backend: Backend) {
    let db = TestDb::new(backend).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let xlsx = dir.path().join("so-theo-doi-2026-11.xlsx");
    write_xlsx(&xlsx, "Từ ngày 01/11/2026 đến ngày 30/11/2026", &rows());
    let cases = [
        ("xlsx", xlsx, None),
        ("xls", fixture("so-theo-doi-2026-11.xls"), None),
        (
            "csv_bom",
            fixture("so-theo-doi-2026-11-bom.csv"),
            Some("UTF-8 (BOM)"),
        ),
        (
            "csv_1258",
            fixture("so-theo-doi-2026-11-cp1258.csv"),
            Some("Windows-1258"),
        ),
    ];
    for (source, path, encoding) in cases {
        let s = import_file(&db.store, &path, &opts(source), &clock()).await;
        check_import(&db, &s, encoding).await;
    }
    // The same codes in four sources: four dossiers each, not four in all.
    assert_eq!(db.store.count_rows("dossiers").await.expect("count"), 16);
    let fresh = db.store.sync_state("xls").await.expect("state");
    assert!(
        fresh.last_success_at.is_some(),
        "a file is the source's sync"
    );
    db.cleanup().await;
}

#[tokio::test]
async fn every_format_imports_field_by_field_sqlite() {
    every_format_imports_field_by_field(Backend::Sqlite).await;
}

#[tokio::test]
async fn every_format_imports_field_by_field_postgres() {
    if postgres_available().await {
        every_format_imports_field_by_field(Backend::Postgres).await;
    }
}

/// Rows written to the history and audit trail: what "writes nothing" means.
async fn written(db: &TestDb) -> (i64, i64) {
    (
        db.store
            .count_rows("dossier_history")
            .await
            .expect("history"),
        db.store
            .audit_entries("sync_page", 1000)
            .await
            .expect("audit")
            .len() as i64,
    )
}

async fn repeats_changes_and_snapshots(backend: Backend) {
    let db = TestDb::new(backend).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let first = dir.path().join("thang-11.xlsx");
    write_xlsx(&first, "Từ ngày 01/11/2026 đến ngày 30/11/2026", &rows());
    let s = import_file(&db.store, &first, &opts("file"), &clock()).await;
    assert_eq!(s.outcome.created, 4, "{s}");
    let before = written(&db).await;

    // The same file again: recognised, nothing read or written.
    let again = import_file(&db.store, &first, &opts("file"), &clock()).await;
    assert!(again.already_imported.is_some(), "{again}");
    assert!(!again.failed());
    assert!(again.to_string().contains("không ghi gì thêm"), "{again}");
    assert_eq!(written(&db).await, before);

    // Another export with the same rows (a new title line, other bytes):
    // every dossier unchanged by its content hash, nothing written for them.
    let reexport = dir.path().join("thang-11-xuat-lai.xlsx");
    write_xlsx(&reexport, "Xuất lại ngày 01/12/2026", &rows());
    let s = import_file(&db.store, &reexport, &opts("file"), &clock()).await;
    assert!(s.already_imported.is_none());
    assert_eq!(
        (s.outcome.created, s.outcome.changed, s.outcome.unchanged),
        (0, 0, 4),
        "{s}"
    );
    assert_eq!(written(&db).await.0, before.0, "no dossier history");

    // A later export: dossier 1 returned, the bad row fixed, dossier 5 not
    // in it. Dossier 1 updated, 4 stored (and out of the quarantine), 5 kept.
    let mut later = rows();
    later[0].1[3] = When::Text("19/11/2026 15:00");
    later[0].1[4] = When::Serial("2026-11-20 08:30");
    later[3].1[0] = When::Text("05/11/2026 10:00");
    later.remove(4);
    let path = dir.path().join("thang-11-bo-sung.xlsx");
    write_xlsx(&path, "Từ ngày 01/11/2026 đến ngày 30/11/2026", &later);
    let s = import_file(&db.store, &path, &opts("file"), &clock()).await;
    assert_eq!(
        (
            s.outcome.created,
            s.outcome.changed,
            s.outcome.unchanged,
            s.outcome.deleted
        ),
        (1, 1, 2, 0),
        "{s}"
    );
    assert_eq!(s.outcome.released, 1, "{s}");
    let d1 = db
        .store
        .dossier("file", "H56.22-261102-0001")
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(d1.dossier.status, Status::Returned);
    assert_eq!(d1.dossier.finished_at, Some(t("2026-11-19 15:00")));
    assert_eq!(d1.dossier.returned_at, Some(t("2026-11-20 08:30")));
    let d5 = db
        .store
        .dossier("file", "H56.22-261106-0005")
        .await
        .expect("read")
        .expect("kept");
    assert!(!d5.deleted, "a file that is not a snapshot deletes nothing");

    // Declared a full snapshot, a file of two rows marks the others deleted.
    let two: Vec<_> = later.into_iter().take(2).collect();
    let path = dir.path().join("snapshot.xlsx");
    write_xlsx(&path, "Danh sách đầy đủ", &two);
    let snap = ImportOptions {
        snapshot: true,
        ..opts("file")
    };
    let s = import_file(&db.store, &path, &snap, &clock()).await;
    assert_eq!(s.outcome.deleted, 3, "{s}");
    let live = db.store.live_codes("file").await.expect("codes");
    assert_eq!(live, ["H56.22-261102-0001", "H56.22-261103-0002"]);
    db.cleanup().await;
}

#[tokio::test]
async fn repeats_changes_and_snapshots_sqlite() {
    repeats_changes_and_snapshots(Backend::Sqlite).await;
}

#[tokio::test]
async fn repeats_changes_and_snapshots_postgres() {
    if postgres_available().await {
        repeats_changes_and_snapshots(Backend::Postgres).await;
    }
}

/// `tthc-watch import`: the summary printed, and a failure when a file
/// gives nothing usable.
#[test]
fn the_import_verb_prints_the_summary_and_fails_on_an_unusable_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_tthc-watch"))
            .args(args)
            .args(["--database-url", &url, "--now", "2026-12-01T08:00:00+07:00"])
            .env_remove("TTHC_WATCH_CONFIG")
            .output()
            .expect("run tthc-watch")
    };
    let migrated = std::process::Command::new(env!("CARGO_BIN_EXE_tthc-watch"))
        .args(["migrate", "--database-url", &url])
        .output()
        .expect("migrate");
    assert!(migrated.status.success());
    let csv = fixture("so-theo-doi-2026-11-cp1258.csv");
    let out = run(&["import", csv.to_str().expect("path")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for part in [
        "nguồn file",
        "mã hóa Windows-1258",
        "mẫu tracking_book",
        "dòng hồ sơ đã đọc: 5; mới: 4",
        "cách ly: 1",
        "(row 12)",
    ] {
        assert!(text.contains(part), "{part} in {text}");
    }
    let junk = dir.path().join("ghi-chu.csv");
    std::fs::write(&junk, "Ghi chú\nkhông có gì\n").expect("write");
    let out = run(&["import", junk.to_str().expect("path")]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("gave nothing usable"), "{err}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("no header row"), "{text}");
}

/// `simulate --export`: the simulator's dossiers as an export (title lines,
/// merged header, totals row) read back by the `simulator` layout, each
/// equal to the simulator's own dossier in every field a flat table holds.
#[tokio::test]
async fn the_simulators_export_reads_back_as_its_dossiers() {
    use tthc_watch::calendar::{Calendar, OfficeHours};
    use tthc_watch::dossier::Duration;
    use tthc_watch::simulator::{Faults, Simulator, SimulatorOptions};
    let sim = Simulator::new(
        SimulatorOptions {
            dossiers: 400,
            seed: 11,
            now: t("2026-12-01 08:00"),
            speed: 0.0,
            shape: tthc_watch::source::Shape::Native,
            token: String::new(),
            faults: Faults::default(),
        },
        Calendar::builtin().expect("calendar"),
        OfficeHours::default(),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("xuat.xlsx");
    let n =
        tthc_watch::simulator::export::write_xlsx(&sim, &path, "UBND PHƯỜNG THỬ").expect("export");
    let want: Vec<Dossier> = sim.snapshot();
    assert_eq!(n as usize, want.len());
    let db = TestDb::new(Backend::Sqlite).await;
    let s = import_file(&db.store, &path, &opts("sim"), &clock()).await;
    assert!(s.error.is_none(), "{s}");
    assert_eq!(s.layout.as_deref(), Some("simulator"), "{s}");
    assert_eq!(s.header_row, Some(6), "{s}");
    assert_eq!((s.rows, s.outcome.created), (n, n), "{s}");
    assert_eq!(s.skipped.get("totals_and_signatures"), Some(&3), "{s}");
    let mut got: Vec<Dossier> = db
        .store
        .all_dossiers("sim")
        .await
        .expect("read")
        .into_iter()
        .map(|d| d.dossier)
        .collect();
    got.sort_by(|a, b| a.code.cmp(&b.code));
    let mut want: Vec<Dossier> = want
        .into_iter()
        .map(|mut d| {
            // What a flat table has no place for.
            d.steps.clear();
            d.pauses.clear();
            d.extension = None;
            d.applicant_id_no = None;
            d.applicant_email = None;
            d.applicant_address = None;
            d.summary = None;
            d.updated_at = [
                d.submitted_at,
                Some(d.received_at),
                d.finished_at,
                d.returned_at,
            ]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(d.received_at);
            // Hours written as days: whole days read back as days.
            if let Some(Duration::WorkingHours(h)) = d.duration
                && h % 8 == 0
            {
                d.duration = Some(Duration::WorkingDays(h / 8));
            }
            d
        })
        .collect();
    want.sort_by(|a, b| a.code.cmp(&b.code));
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w);
    }
    db.cleanup().await;
}

/// `run` with a file source: a file dropped into the watched folder while
/// the daemon runs is imported and moved to `processed/` with its receipt;
/// one that is no export goes to `rejected/` and the daemon goes on.
#[tokio::test]
async fn the_daemon_imports_a_file_dropped_into_its_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let inbox = dir.path().join("xuat");
    std::fs::create_dir_all(&inbox).expect("inbox");
    let db_url = format!("sqlite://{}", dir.path().join("t.db").display());
    let config = dir.path().join("tthc-watch.toml");
    std::fs::write(
        &config,
        format!(
            r#"[database]
url = "{db_url}"

[sources.so_theo_doi]
kind = "file"
folder = "{inbox}"
pattern = "*.xlsx,*.csv"
settle_secs = 1

[mail]
transport = "file"
file_dir = "{mail}"

[letters]
dir = "{letters}"

[schedule]
poll = "* * * * * *"
digest = "0 0 3 * * *"
"#,
            inbox = inbox.display(),
            mail = dir.path().join("mail").display(),
            letters = dir.path().join("letters").display(),
        ),
    )
    .expect("config");
    let port = crate::support::free_port();
    let mut svc = crate::daemon::Service::start(&config, dir.path(), "run", port);
    svc.wait_ok("/healthz", std::time::Duration::from_secs(20))
        .await;
    // Written elsewhere and moved in, as a copy tool finishing a file does;
    // a bad file beside it.
    let staged = dir.path().join("staged.xlsx");
    write_xlsx(&staged, "Từ ngày 01/11/2026 đến ngày 30/11/2026", &rows());
    std::fs::write(inbox.join("ghi-chu.csv"), "Ghi chú\nkhông có gì\n").expect("bad");
    std::fs::rename(&staged, inbox.join("so-theo-doi.xlsx")).expect("drop");
    let processed = inbox.join("processed/so-theo-doi.xlsx");
    let rejected = inbox.join("rejected/ghi-chu.csv");
    let start = std::time::Instant::now();
    while !(processed.exists() && rejected.exists()) {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "not filed away; log:\n{}",
            svc.logs()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(!inbox.join("so-theo-doi.xlsx").exists());
    let receipt: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(inbox.join("processed/so-theo-doi.xlsx.receipt.json"))
            .expect("receipt"),
    )
    .expect("json");
    assert_eq!(receipt["rows_read"], 5);
    assert_eq!(receipt["new"], 4);
    assert_eq!(receipt["quarantined"], 1);
    let rejection = std::fs::read_to_string(inbox.join("rejected/ghi-chu.csv.receipt.json"))
        .expect("rejection receipt");
    assert!(rejection.contains("no header row"), "{rejection}");
    let store = tthc_watch::store::Store::connect(&db_url, 2)
        .await
        .expect("store");
    let stored = store.all_dossiers("so_theo_doi").await.expect("read");
    assert_eq!(stored.len(), 4);
    let fresh = store.sync_state("so_theo_doi").await.expect("state");
    assert!(fresh.last_success_at.is_some());
    store.close().await;
    assert!(
        svc.child.try_wait().expect("wait").is_none(),
        "still running"
    );
    svc.signal("TERM");
    assert!(svc.wait_exit(std::time::Duration::from_secs(20)).is_some());
}

/// A file still being written (modified within `settle_secs`) is left for
/// a later poll; once settled it is imported, filed in `processed/` and the
/// source's freshness set.
#[tokio::test]
async fn a_file_not_settled_is_left_for_a_later_poll() {
    let db = TestDb::new(Backend::Sqlite).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = format!(
        "kind = \"file\"\nfolder = \"{}\"\nsettle_secs = 3600\n",
        dir.path().display()
    );
    let mut settings: tthc_watch::source::SourceSettings = toml::from_str(&toml).expect("settings");
    let file = dir.path().join("dang-ghi.xlsx");
    write_xlsx(&file, "Từ ngày 01/11/2026 đến ngày 30/11/2026", &rows());
    let s = tthc_watch::source::file::poll_folder(&db.store, "thu_muc", &settings, &clock()).await;
    assert_eq!((s.pages, s.fetched), (0, 0), "{s}");
    assert!(file.exists(), "left where it is");
    assert!(
        db.store
            .sync_state("thu_muc")
            .await
            .expect("state")
            .last_success_at
            .is_none(),
        "a poll that found no settled file is no sync"
    );
    settings.settle_secs = 0;
    let s = tthc_watch::source::file::poll_folder(&db.store, "thu_muc", &settings, &clock()).await;
    assert_eq!((s.pages, s.fetched, s.outcome.created), (1, 5, 4), "{s}");
    assert!(!file.exists());
    assert!(dir.path().join("processed/dang-ghi.xlsx").exists());
    assert!(
        dir.path()
            .join("processed/dang-ghi.xlsx.receipt.json")
            .exists()
    );
    assert!(
        db.store
            .sync_state("thu_muc")
            .await
            .expect("state")
            .last_success_at
            .is_some()
    );
    db.cleanup().await;
}
