//! How each family of real systems (SOURCES.md) would show a dossier: field
//! names, nesting, date formats and status codes.

use crate::dossier::{ApplicantKind, Channel, Dossier, Duration, PauseKind, Status};
use crate::source::Shape;
use chrono::NaiveDateTime;
use serde_json::{Value, json};

fn igate_date(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3f+0700").to_string()
}
fn opencps_date(t: NaiveDateTime) -> String {
    t.format("%d/%m/%Y %H:%M:%S").to_string()
}
fn onedoor_date(t: NaiveDateTime) -> String {
    t.format("%Y%m%d%H%M%S").to_string()
}

pub fn igate_status(s: Status) -> u8 {
    match s {
        Status::Submitted => 0,
        Status::Received => 1,
        Status::Processing => 2,
        Status::SupplementRequested => 3,
        Status::FeeRequested => 4,
        Status::Finished => 5,
        Status::Returned => 6,
        Status::Stopped => 7,
        Status::Refused => 8,
        Status::Withdrawn => 9,
    }
}

pub fn opencps_status(s: Status) -> &'static str {
    match s {
        Status::Submitted => "new",
        Status::Received => "receiving",
        Status::Processing => "processing",
        Status::SupplementRequested => "correcting",
        Status::FeeRequested => "paying",
        Status::Finished => "releasing",
        Status::Returned => "done",
        Status::Stopped => "waiting",
        Status::Refused => "denied",
        Status::Withdrawn => "cancelled",
    }
}

fn channel_num(c: Channel, base: u8) -> u8 {
    base + match c {
        Channel::Direct => 0,
        Channel::Online => 1,
        Channel::Postal => 2,
    }
}

fn kind_num(k: ApplicantKind) -> u8 {
    match k {
        ApplicantKind::Person => 1,
        ApplicantKind::Organisation => 2,
    }
}

/// The native record: tthc-watch's own JSON plus the revision.
pub fn native(d: &Dossier, rev: u64) -> Value {
    let mut v = serde_json::to_value(d).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("rev".into(), json!(rev));
        m.insert("deleted".into(), json!(false));
    }
    v
}

pub fn native_tombstone(code: &str, rev: u64) -> Value {
    json!({ "code": code, "rev": rev, "deleted": true })
}

pub fn render(shape: Shape, d: &Dossier, rev: u64) -> Value {
    match shape {
        Shape::Native => native(d, rev),
        Shape::Igate => igate(d),
        Shape::Opencps => opencps(d),
        Shape::Onedoor => onedoor(d),
    }
}

fn igate(d: &Dossier) -> Value {
    let (time, unit) = match d.duration {
        Some(Duration::WorkingDays(n)) => (json!(n), json!("d")),
        Some(Duration::WorkingHours(n)) => (json!(n), json!("h")),
        None => (Value::Null, Value::Null),
    };
    let task: Vec<Value> = d
        .steps
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "candidateGroup": { "name": s.unit },
                "assignee": { "fullname": s.officer },
                "startDate": igate_date(s.started_at),
                "endDate": s.finished_at.map(igate_date),
                "dueDate": s.due_at.map(igate_date),
            })
        })
        .collect();
    let current: Vec<Value> = d
        .current_step()
        .map(|s| json!({ "assignee": { "fullname": s.officer }, "candidateGroup": { "name": s.unit } }))
        .into_iter()
        .collect();
    let suspend: Vec<Value> = d
        .pauses
        .iter()
        .map(|p| {
            json!({
                "type": match p.kind { PauseKind::Supplement => "supplement", PauseKind::Fee => "fee" },
                "startDate": igate_date(p.started_at),
                "endDate": p.ended_at.map(igate_date),
                "oldAppointmentDate": p.due_before.map(igate_date),
                "newAppointmentDate": p.due_after.map(igate_date),
            })
        })
        .collect();
    json!({
        "id": format!("6{:023x}", fxhash(&d.code)),
        "code": d.code,
        "procedure": {
            "code": d.procedure_code,
            "translate": { "name": d.procedure_name },
            "sector": { "code": d.field_code, "name": d.field_name },
        },
        "agency": { "code": d.unit_code, "name": d.unit_name, "parent": { "name": "UBND phường" } },
        "applicant": {
            "type": kind_num(d.applicant_kind),
            "data": {
                "fullname": d.applicant_name,
                "identityNumber": d.applicant_id_no,
                "phoneNumber": d.applicant_phone,
                "email": d.applicant_email,
                "noidungyeucaugiaiquyet": d.summary,
            }
        },
        "applyMethod": { "id": channel_num(d.channel, 0) },
        "appliedDate": d.submitted_at.map(igate_date),
        "acceptedDate": igate_date(d.received_at),
        "appointmentDate": d.due_at.map(igate_date),
        "completedDate": d.finished_at.map(igate_date),
        "returnedDate": d.returned_at.map(igate_date),
        "updatedDate": igate_date(d.updated_at),
        "processingTime": time,
        "processingTimeUnit": unit,
        "dossierStatus": { "id": igate_status(d.status), "name": d.status.label_vi() },
        "currentTask": current,
        "task": task,
        "suspendHistory": suspend,
        "extendHistory": d.extension.as_ref().map(|e| json!({
            "date": igate_date(e.at),
            "oldAppointmentDate": igate_date(e.due_before),
            "newAppointmentDate": igate_date(e.due_after),
            "reason": e.reason,
        })),
    })
}

fn opencps(d: &Dossier) -> Value {
    let (count, unit) = match d.duration {
        Some(Duration::WorkingDays(n)) => (json!(n), json!(0)),
        Some(Duration::WorkingHours(n)) => (json!(n), json!(1)),
        None => (json!(0), Value::Null),
    };
    let actions: Vec<Value> = d
        .steps
        .iter()
        .map(|s| {
            json!({
                "stepName": s.name,
                "govAgencyName": s.unit,
                "actionUser": s.officer,
                "createDate": opencps_date(s.started_at),
                "finishDate": s.finished_at.map(opencps_date),
                "dueDate": s.due_at.map(opencps_date),
            })
        })
        .collect();
    let step = d.current_step();
    json!({
        "dossierId": fxhash(&d.code) % 10_000_000,
        "dossierNo": d.code,
        "serviceCode": d.procedure_code,
        "serviceName": d.procedure_name,
        "domainCode": d.field_code,
        "domainName": d.field_name,
        "govAgencyCode": d.unit_code,
        "govAgencyName": d.unit_name,
        "stepName": step.map(|s| s.name.clone()),
        "currentActionUser": d.officer,
        "applicantName": d.applicant_name,
        "applicantIdType": match d.applicant_kind { ApplicantKind::Person => "citizen", ApplicantKind::Organisation => "business" },
        "applicantIdNo": d.applicant_id_no,
        "contactTelNo": d.applicant_phone,
        "contactEmail": d.applicant_email,
        "briefNote": d.summary,
        "online": d.channel == Channel::Online,
        "viaPostal": d.channel == Channel::Postal,
        "submitDate": d.submitted_at.map(opencps_date),
        "receiveDate": opencps_date(d.received_at),
        "dueDate": d.due_at.map(opencps_date),
        "extendDate": d.extension.as_ref().map(|e| opencps_date(e.due_after)),
        "releaseDate": d.finished_at.map(opencps_date),
        "finishDate": d.returned_at.map(opencps_date),
        "modifiedDate": opencps_date(d.updated_at),
        "durationCount": count,
        "durationUnit": unit,
        "dossierStatus": opencps_status(d.status),
        "lockState": if matches!(d.status, Status::SupplementRequested | Status::FeeRequested) { "PAUSE" } else { "" },
        "dossierActions": actions,
    })
}

fn onedoor(d: &Dossier) -> Value {
    let hours = d.duration.map(|x| match x {
        Duration::WorkingDays(n) => n * 8,
        Duration::WorkingHours(n) => n,
    });
    let steps: Vec<Value> = d
        .steps
        .iter()
        .map(|s| {
            json!({
                "TenBuoc": s.name,
                "PhongBanXuLy": s.unit,
                "NguoiXuLy": s.officer,
                "NgayBatDau": onedoor_date(s.started_at),
                "NgayKetThuc": s.finished_at.map(onedoor_date),
                "NgayKetThucTheoQuyDinh": s.due_at.map(onedoor_date),
                "NoiDungXuLy": s.name,
            })
        })
        .collect();
    let supplements: Vec<Value> = d
        .pauses
        .iter()
        .map(|p| {
            json!({
                "LoaiTamDung": match p.kind { PauseKind::Supplement => 1, PauseKind::Fee => 2 },
                "NgayYeuCau": onedoor_date(p.started_at),
                "NgayTiepNhanBoSung": p.ended_at.map(onedoor_date),
                "NgayHenTraTruoc": p.due_before.map(onedoor_date),
                "NgayHenTraMoi": p.due_after.map(onedoor_date),
            })
        })
        .collect();
    json!({
        "Id": fxhash(&d.code) % 100_000_000,
        "MaHoSo": d.code,
        "MaTTHC": d.procedure_code,
        "TenTTHC": d.procedure_name,
        "MaLinhVuc": d.field_code,
        "TenLinhVuc": d.field_name,
        "MaDonViXuLy": d.unit_code,
        "DonViXuLy": d.unit_name,
        "BuocHienTai": d.current_step().map(|s| s.name.clone()),
        "NguoiDangXuLy": d.officer,
        "ChuHoSo": d.applicant_name,
        "LoaiDoiTuong": kind_num(d.applicant_kind),
        "SoGiayToChuHoSo": d.applicant_id_no,
        "SoDienThoai": d.applicant_phone,
        "Email": d.applicant_email,
        "TrichYeuHoSo": d.summary,
        "KenhThucHien": channel_num(d.channel, 1),
        "NgayNopHoSo": d.submitted_at.map(onedoor_date),
        "NgayTiepNhan": onedoor_date(d.received_at),
        "NgayHenTra": d.due_at.map(onedoor_date),
        "NgayKetThucXuLy": d.finished_at.map(onedoor_date),
        "NgayTra": d.returned_at.map(onedoor_date),
        "ThoiGianThucHien": hours,
        "TrangThaiHoSo": d.status.national_code(),
        "QuaTrinhXuLy": steps,
        "DanhSachHoSoBoSung": supplements,
        "LastModifiedOn": onedoor_date(d.updated_at),
    })
}

/// A small stable hash for ids that look like the real ones.
fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}
