//! One-door (ASP.NET, `/api/v1/hosos`): the list record, the detail, the
//! page envelope and the catalogues, as `tests/fixtures/real/onedoor/` shows them.

use super::{address, created_at, current_index, due, guid, hours, mixed, received};
use crate::dossier::{ApplicantKind, Channel, Dossier, PauseKind, Status};
use crate::simulator::catalog::{self, Field, Procedure};
use chrono::NaiveDateTime;
use serde_json::{Value, json};

/// The dossier's `id`: a GUID, stable per dossier (the detail is asked by it).
pub fn onedoor_id(code: &str) -> String {
    guid("8000", code)
}

/// A user's GUID (the ids one-door gives officers).
fn onedoor_user(name: Option<&str>) -> Option<String> {
    name.map(|n| guid("9000", n))
}

/// List dates, and the detail's string dates: `MM/dd/yyyy HH:mm:ss`.
fn onedoor_date(t: NaiveDateTime) -> String {
    t.format("%m/%d/%Y %H:%M:%S").to_string()
}

/// A `DateTime` as System.Text.Json writes it: ISO, no offset, fractions trimmed.
fn onedoor_iso(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.f").to_string()
}

fn onedoor_channel(c: Channel) -> &'static str {
    match c {
        Channel::Direct => "1",
        Channel::Online => "2",
        Channel::Postal => "3",
    }
}

/// `tenBuocHienTai`: the running step while processing, else the state.
fn onedoor_step(d: &Dossier) -> String {
    let label = match d.status {
        Status::Submitted => "Chờ tiếp nhận",
        Status::Received | Status::Processing => {
            return d
                .current_step()
                .map_or_else(|| d.status.label_vi().to_owned(), |s| s.name.clone());
        }
        Status::Refused => "Từ chối tiếp nhận",
        Status::SupplementRequested => "Yêu cầu bổ sung",
        Status::FeeRequested => "Chờ thực hiện nghĩa vụ tài chính",
        Status::Withdrawn => "Công dân yêu cầu rút hồ sơ",
        Status::Stopped => "Dừng xử lý",
        Status::Finished => "Chờ trả kết quả",
        Status::Returned => "Đã trả kết quả",
    };
    label.to_owned()
}

fn has_result(d: &Dossier) -> bool {
    matches!(d.status, Status::Finished | Status::Returned)
}

/// The reason given when a dossier is refused or stopped.
fn onedoor_refusal(d: &Dossier) -> Option<&'static str> {
    match d.status {
        Status::Refused => Some("Hồ sơ không đủ điều kiện tiếp nhận"),
        Status::Stopped => Some("Dừng xử lý theo đề nghị của cơ quan có thẩm quyền"),
        _ => None,
    }
}

/// `trangThaiThuPhi`: the payment requests' states, `##`-joined.
fn onedoor_fees(d: &Dossier) -> Option<String> {
    let states: Vec<&str> = d
        .pauses
        .iter()
        .filter(|p| p.kind == PauseKind::Fee)
        .map(|p| {
            if p.ended_at.is_some() {
                "Đã thanh toán"
            } else {
                "Chờ thanh toán"
            }
        })
        .collect();
    (!states.is_empty()).then(|| states.join("##"))
}

/// The field code is missing from about one dossier in ten (`HoSo.MaLinhVuc`
/// is nullable): the connector must fall back on the procedure catalogue.
fn onedoor_field(d: &Dossier) -> Option<String> {
    (!mixed(&format!("linhvuc/{}", d.code)).is_multiple_of(10)).then(|| d.field_code.clone())
}

/// One record of `GET /api/v1/hosos` (`list-page-1.json`): no field, no finish
/// or return time, no `LastModifiedOn`.
pub fn onedoor_list(d: &Dossier) -> Value {
    let result = has_result(d);
    let procedure = d.procedure_code.clone();
    let mut m = obj! {
        "id" => onedoor_id(&d.code),
        "chuHoSo" => d.applicant_name.clone(),
        "soDienThoaiChuHoSo" => d.applicant_phone.clone(),
        "emailChuHoSo" => d.applicant_email.clone(),
        "trichYeuHoSo" => d.summary.clone(),
        "trangThaiBoSung" => Value::Null,
        // A non-nullable DateTime read from NULL.
        "ngayLuuViTriHoSo" => "0001-01-01T00:00:00",
        "tenBuocHienTai" => onedoor_step(d),
        "uyQuyen" => false,
        "soGiayToChuHoSo" => d.applicant_id_no.clone(),
        "ngayTiepNhan" => received(d).map(onedoor_date),
        "thuTucKhongCoKetQua" => "False",
        "lyDoTuChoi" => onedoor_refusal(d),
        "lyDoBoSung" => (d.status == Status::SupplementRequested)
            .then_some("Bổ sung thành phần hồ sơ còn thiếu"),
        "ngayNopHoSo" => onedoor_date(created_at(d)),
        "ngayHenTra" => due(d).map(onedoor_date),
        "createdOn" => onedoor_date(created_at(d)),
        "tenTruongHop" => d.procedure_name.clone(),
        "maHoSo" => d.code.clone(),
        "kenhThucHien" => onedoor_channel(d.channel),
        "tenDonVi" => d.unit_name.clone(),
        "donViId" => d.unit_code.clone(),
        "tenTTHC" => d.procedure_name.clone(),
        "maTTHC" => procedure.clone(),
        "trangThaiThuPhi" => onedoor_fees(d),
        "trangThaiPhiLePhi" => false,
        "maTruongHop" => procedure.map(|p| format!("{p}.01")),
        "trangThaiHoSoId" => d.status.national_code().to_string(),
        "diaChiChuHoSo" => address(d),
        // The result's confirmation, a little after the processing ended
        // (not the finish time, which only the detail has).
        "ngayXacNhanKetQua" => d
            .finished_at
            .filter(|_| result)
            .map(|f| onedoor_date(f + chrono::Duration::minutes(5))),
        "loaiKetQua" => result.then_some("Kết quả"),
        "batBuocDinhKemKetQua" => true,
        "batBuocKySoKetQua" => false,
    };
    for k in [
        "nguoiLuuViTriHoSo",
        "pdfPhieu",
        "docxPhieu",
        "loaiKetQuaHSLT",
        "soKyHieuHSLT",
        "trichyeuHSLT",
        "dinhKemHSLT",
        "soKyHieuKetQua",
        "tenDiaBan",
        "soGiayToNguoiUyQuyen",
        "maGiayToHoSo",
        "hoanThanhDanhGia",
        "diaChi",
        "tenTrangThaiHoSo",
        "ngayHenTraCaNhan",
        "ngayDangKyBuuDien",
        "ngayTraBuuDien",
        "trangThaiTraBuuDien",
        "daHetHanBoSung",
        "maVanDonBuuDien",
        "dangKyNhanHoSoQuaBCCIData",
        "tenNguoiXuLyTruoc",
        "nguoiXuLyTiep",
        "nguoiUyQuyen",
        "viTriDeHoSo",
        "loaiNguoiNhanKetQua",
        "hoTenNguoiNhanKetQua",
        "banGocThuLai",
        "soLuongBanGocThuLai",
        "dinhKemNhanKetQua",
        "nguoiNhanKetQua",
        "chuKyNguoiNhanKetQua",
        "ngayTra",
        "ngayKetThucXuLy",
        "dinhKemKetQua",
        "trichYeuKetQua",
        "nguoiNhapDanhGiaText",
        "dinhKemTuChoi",
        "loaiDuLieuKetNoi",
        "nguoiDangXuLy",
        "nguoiDaXuLy",
        "nguoiNhanHoSo",
        "nguoiGui",
        "donViDaChuyenXuLy",
    ] {
        m.insert(k.into(), Value::Null);
    }
    Value::Object(m)
}

/// The `data` of `GET /api/v1/hosos/detail?Id=` (`detail-…d1.json`): the field
/// code (sometimes null), the finish and return times, the duration in hours.
pub fn onedoor_detail(d: &Dossier) -> Value {
    let current = current_index(d);
    let officer =
        |i: Option<usize>| onedoor_user(i.and_then(|i| d.steps.get(i)?.officer.as_deref()));
    let last_done = d.steps.iter().rposition(|s| s.finished_at.is_some());
    let procedure = d.procedure_code.clone();
    let mut m = obj! {
        "id" => onedoor_id(&d.code),
        "tenDonVi" => d.unit_name.clone(),
        "ngayNopHoSo" => onedoor_date(created_at(d)),
        "tinhThanhDiaBan" => catalog::PROVINCE_CODE,
        "ngayTra" => d.returned_at.map(onedoor_date),
        "ngayKetThucXuLy" => d.finished_at.map(onedoor_date),
        "kenhThucHien" => onedoor_channel(d.channel),
        "maHoSo" => d.code.clone(),
        "donViId" => d.unit_code.clone(),
        "nguoiNhanHoSo" => officer(received(d).map(|_| 0)),
        "lyDoTuChoi" => onedoor_refusal(d),
        "trangThaiHoSoId" => d.status.national_code().to_string(),
        "laHoSoChungThuc" => false,
        "maTTHC" => procedure.clone(),
        "nguoiDaXuLy" => officer(last_done),
        "ngayTiepNhan" => received(d).map(onedoor_date),
        "ngayHenTra" => due(d).map(onedoor_iso),
        "trichYeuHoSo" => d.summary.clone(),
        "loaiDoiTuong" => match d.applicant_kind {
            ApplicantKind::Person => "Công dân",
            ApplicantKind::Organisation => "Doanh nghiệp",
        },
        "soDinhDanh" => d.applicant_id_no.clone(),
        "yKienNguoiChuyenXuLy" => current
            .filter(|i| *i > 0)
            .and_then(|i| d.steps.get(i))
            .map(|s| format!("Chuyển {} xử lý", s.unit)),
        "soGiayToChuHoSo" => d.applicant_id_no.clone(),
        "chuHoSo" => d.applicant_name.clone(),
        "soDienThoaiChuHoSo" => d.applicant_phone.clone(),
        "emailChuHoSo" => d.applicant_email.clone(),
        "hinhThucTra" => if d.channel == Channel::Postal { "1" } else { "0" },
        "uyQuyen" => false,
        "diaChiChuHoSo" => address(d),
        "thongBaoEmail" => d.applicant_email.is_some(),
        "thongBaoZalo" => false,
        "thongBaoSMS" => true,
        "maTruongHop" => procedure.map(|p| format!("{p}.01")),
        "eFormData" => "{}",
        // The procedure's own time is 0 unless the node's is asked for; the
        // dossier's hours are here.
        "thoiGianThucHien" => 0,
        "thoiGianThucHienHoSo" => d.duration.map(|x| f64::from(hours(x))),
        "tenTTHC" => d.procedure_name.clone(),
        "loaiKetQua" => has_result(d).then_some("Kết quả"),
        "thanhPhanThuTucs" => json!([]),
        "yeuCauThanhToans" => json!([]),
        "thanhPhanHoSos" => json!([]),
        "phiLePhis" => json!([]),
        "maLinhVuc" => onedoor_field(d),
        "nguoiDangXuLy" => onedoor_user(d.officer.as_deref()),
        "nguoiGui" => officer(current.and_then(|i| i.checked_sub(1))),
    };
    for k in [
        "coQuanBanHanhKetQua",
        "tenDiaBan",
        "mucDo",
        "loaiVanBanKetQua",
        "ngayBanHanhKetQua",
        "emailNguoiUyQuyen",
        "tenTruongHopThuTuc",
        "tinhThanhNguoiUyQuyen",
        "quanHuyenNguoiUyQuyen",
        "xaPhuongNguoiUyQuyen",
        "diaChiNguoiUyQuyen",
        "nguoiKyKetQua",
        "quanHuyenDiaBan",
        "xaPhuongDiaBan",
        "soKyHieuKetQua",
        "ngayKyKetQua",
        "dinhKemTuChoi",
        "buocHienTai",
        "trichYeuKetQua",
        "dinhKemKetQua",
        "dinhKemYKienNguoiChuyenXuLy",
        "ngaySinhChuHoSo",
        "nguoiUyQuyen",
        "soGiayToNguoiUyQuyen",
        "soDienThoaiNguoiUyQuyen",
        "dangKyNhanHoSoQuaBCCIData",
        "edgeQuyTrinh",
        "nodeQuyTrinh",
        "thongTinTiepNhanBoSung",
        "eForm",
        "loaiThoiGianThucHien",
        "fullName",
        "nguoiTiepNhan",
        "truongHopThuTuc",
        "danhGia",
        "maVanDonBuuDien",
        "khongCoNgayHenTra",
        "deletedOn",
        "donViDaChuyenXuLy",
    ] {
        m.insert(k.into(), Value::Null);
    }
    Value::Object(m)
}

/// The `Result` wrapper of the detail.
pub fn onedoor_result(data: Value) -> Value {
    json!({ "data": data, "failed": false, "message": null, "succeeded": true })
}

/// A one-door page (`PaginationResponse`). The totals are read from the first
/// row, so a page without rows says `data: null`, 0 pages and 0 records.
pub fn onedoor_page(data: Vec<Value>, page: usize, size: usize, total: usize) -> Value {
    let (data, total) = if data.is_empty() {
        (Value::Null, 0)
    } else {
        (Value::Array(data), total)
    };
    let pages = total.div_ceil(size.max(1));
    json!({
        "data": data, "currentPage": page, "totalPages": pages, "totalCount": total,
        "pageSize": size, "hasPreviousPage": page > 1, "hasNextPage": page < pages,
    })
}

/// One procedure of `GET /api/v1/thutucs` (`catalog-thutucs-page-1.json`).
pub fn onedoor_procedure(p: &Procedure) -> Value {
    let field = &catalog::FIELDS[p.field];
    let h = mixed(&format!("thutuc/{}", p.code));
    // A procedure never updated has the unset DateTime.
    let updated = match p.duration {
        None => "0001-01-01T00:00:00".to_owned(),
        Some(_) => {
            let base = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default();
            let day = base + chrono::Duration::days((h % 366) as i64);
            format!("{}T00:00:00", day.format("%Y-%m-%d"))
        }
    };
    json!({
        "id": guid("8000", &format!("thutuc/{}", p.code)),
        "maTTHC": p.code,
        "tenTTHC": p.name,
        "linhVucChinh": field.name,
        "trangThaiPhiLePhi": matches!(field.code, "DD" | "XD" | "DKKD"),
        "ngayCapNhat": updated,
        "maLinhVucChinh": field.code,
        "dinhKemQuyetDinh": null,
        "quyetDinh": format!("Quyết định số {}/QĐ-UBND", 100 + h % 900),
        "mucDo": if h.is_multiple_of(3) { "3" } else { "4" },
        "doiTuongThucHien": null,
        "loaiTTHC": "1",
        "suDung": true,
        "laThuTucChungThuc": p.name.starts_with("Chứng thực"),
        "thucHienTaiBoPhanMotCua": true,
        "lienThong": false,
        "thuTu": "0",
        "soLuongTruongHopThuTuc": 1,
    })
}

/// One field of `GET /api/v1/linhvucs` (`catalog-linhvucs-page-1.json`).
pub fn onedoor_linhvuc(f: &Field) -> Value {
    let procedures = catalog::PROCEDURES
        .iter()
        .filter(|p| catalog::FIELDS[p.field].code == f.code)
        .count();
    json!({
        "id": guid("8000", &format!("linhvuc/{}", f.code)),
        "ma": f.code,
        "ten": f.name,
        "maNganh": catalog::field_branch(f.code),
        "groupCode": null,
        "groupName": null,
        "soLuongThuTucCapTinh": 0,
        "soLuongThuTucCapHuyen": procedures,
        "soLuongThuTucCapXa": 0,
        "suDung": true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::shapes::tests::*;

    #[test]
    fn onedoor_list_records_have_the_fixture_keys_types_and_dates() {
        let page1 = fixture!("onedoor/list-page-1.json");
        let page2 = fixture!("onedoor/list-page-2.json");
        let theirs: Vec<&Value> = list(&page1, "/data")
            .iter()
            .chain(list(&page2, "/data"))
            .collect();
        let date_keys = [
            "ngayTiepNhan",
            "ngayNopHoSo",
            "ngayHenTra",
            "createdOn",
            "ngayXacNhanKetQua",
        ];
        for r in &theirs {
            for t in date_keys.iter().filter_map(|k| r[k].as_str()) {
                parse(t, ONEDOOR_DATE);
            }
        }
        for d in samples() {
            let mine = onedoor_list(&d);
            check_record(&d.code, &mine, &theirs, true);
            assert_eq!(keys(&mine), keys(theirs[0]));
            for t in date_keys.iter().filter_map(|k| mine[k].as_str()) {
                parse(t, ONEDOOR_DATE);
            }
            assert_eq!(
                parse(mine["createdOn"].as_str().unwrap(), ONEDOOR_DATE),
                created_at(&d)
            );
            // No field, no finish or return time, no last change in the list.
            for k in ["ngayTra", "ngayKetThucXuLy"] {
                assert!(mine[k].is_null());
            }
            assert!(mine.get("maLinhVuc").is_none() && mine.get("lastModifiedOn").is_none());
        }
    }

    #[test]
    fn onedoor_detail_has_the_fixture_keys_types_and_dates() {
        let details = [
            fixture!("onedoor/detail-00000000-0000-4000-8000-0000000000d1.json"),
            fixture!("onedoor/detail-00000000-0000-4000-8000-0000000000d3.json"),
            fixture!("onedoor/detail-00000000-0000-4000-8000-0000000000d5.json"),
            fixture!("onedoor/detail-00000000-0000-4000-8000-0000000000d6.json"),
            fixture!("onedoor/detail-00000000-0000-4000-8000-0000000000d7.json"),
        ];
        let theirs: Vec<&Value> = details.iter().map(|d| &d["data"]).collect();
        let strings = ["ngayNopHoSo", "ngayTiepNhan", "ngayKetThucXuLy", "ngayTra"];
        for r in &theirs {
            for t in strings.iter().filter_map(|k| r[k].as_str()) {
                parse(t, ONEDOOR_DATE);
            }
            parse(r["ngayHenTra"].as_str().unwrap(), ONEDOOR_ISO);
        }
        let (mut with_field, mut without) = (0, 0);
        for d in samples() {
            let data = onedoor_detail(&d);
            check_record(&d.code, &data, &theirs, true);
            assert_eq!(keys(&data), keys(theirs[0]));
            for t in strings.iter().filter_map(|k| data[k].as_str()) {
                parse(t, ONEDOOR_DATE);
            }
            if let Some(due) = data["ngayHenTra"].as_str() {
                assert_eq!(Some(parse(due, ONEDOOR_ISO)), d.due_at);
            }
            if let Some(f) = data["ngayKetThucXuLy"].as_str() {
                assert_eq!(Some(parse(f, ONEDOOR_DATE)), d.finished_at);
            }
            match &data["maLinhVuc"] {
                Value::Null => without += 1,
                code => {
                    assert_eq!(code, &json!(d.field_code));
                    with_field += 1;
                }
            }
            let result = onedoor_result(data);
            assert_eq!(keys(&result), keys(&details[0]));
        }
        // About one in ten without the field code.
        assert!(
            without * 30 > with_field && without * 4 < with_field,
            "{without}/{with_field}"
        );
    }

    #[test]
    fn onedoor_pages_and_catalogues_have_the_fixture_shape() {
        let page = fixture!("onedoor/list-page-1.json");
        let empty = fixture!("onedoor/list-page-3-empty.json");
        let d = samples().remove(0);
        let mine = onedoor_page(vec![onedoor_list(&d)], 1, 6, 12);
        check_record("page", &mine, &[&page], false);
        assert_eq!(keys(&mine), keys(&page));
        let past = onedoor_page(Vec::new(), 3, 6, 12);
        assert_eq!(past, empty);

        let procedures = [
            fixture!("onedoor/catalog-thutucs-page-1.json"),
            fixture!("onedoor/catalog-thutucs-page-2.json"),
        ];
        let theirs: Vec<&Value> = procedures.iter().flat_map(|p| list(p, "/data")).collect();
        for p in catalog::PROCEDURES {
            let mine = onedoor_procedure(p);
            check_record(p.code, &mine, &theirs, true);
            assert_eq!(keys(&mine), keys(theirs[0]));
            parse(mine["ngayCapNhat"].as_str().unwrap(), ONEDOOR_ISO);
        }
        let fields = fixture!("onedoor/catalog-linhvucs-page-1.json");
        let theirs: Vec<&Value> = list(&fields, "/data").iter().collect();
        for f in catalog::FIELDS {
            let mine = onedoor_linhvuc(f);
            check_record(f.code, &mine, &theirs, true);
            assert_eq!(keys(&mine), keys(theirs[0]));
        }
    }
}
