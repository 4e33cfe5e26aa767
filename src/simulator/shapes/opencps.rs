//! OpenCPS (Liferay, `/o/rest/v2/dossiers`): the list record, the detail
//! and the actions, as `tests/fixtures/real/opencps/` shows them.

use super::{
    address, code_number, created_at, current_index, due, mixed, open_pause, received, user_number,
};
use crate::dossier::{ApplicantKind, Channel, Dossier, Duration, Status};
use crate::simulator::catalog;
use chrono::NaiveDateTime;
use serde_json::{Map, Value, json};

/// The site (`groupId`) of the simulated OpenCPS records; a request's own
/// `groupId` replaces it.
pub const OPENCPS_GROUP_ID: i64 = 35404;
/// The account the simulator answers as (an admin: the list grants it `_read`).
const OPENCPS_USER_ID: u64 = 20001;
const OPENCPS_PAUSED: &str = "Tạm dừng xử lý";

/// OpenCPS's `dossierId`: a number per dossier, from its code's running number.
pub fn opencps_id(code: &str) -> u64 {
    code_number(code).map_or_else(|| 10_000_000 + mixed(code) % 10_000_000, |n| 100_000 + n)
}

/// The dossier's `referenceUid`, which ends with its `dossierId`.
fn opencps_reference(code: &str) -> String {
    format!(
        "{:08x}-0000-4000-8000-{:012}",
        mixed(code) as u32,
        opencps_id(code)
    )
}

/// The `dossierId` a detail request names: the id itself, a `referenceUid`
/// (ends with the id), or `None` for anything else (a `dossierNo`).
pub fn opencps_id_in(id: &str) -> Option<u64> {
    if let Ok(n) = id.parse() {
        return Some(n);
    }
    let (_, tail) = id.rsplit_once('-')?;
    (id.len() == 36 && tail.len() == 12).then(|| tail.parse().ok())?
}

pub fn opencps_status(s: Status) -> &'static str {
    match s {
        Status::Submitted => "new",
        Status::Received => "receiving",
        Status::Processing => "processing",
        Status::SupplementRequested => "waiting",
        Status::FeeRequested => "paying",
        Status::Finished => "releasing",
        Status::Returned => "done",
        Status::Refused => "denied",
        Status::Withdrawn => "cancelled",
        Status::Stopped => "unresolved",
    }
}

/// A Processing dossier with an open pause keeps its status and is locked.
fn opencps_lock(d: &Dossier) -> &'static str {
    if d.status == Status::Processing && open_pause(d) {
        "PAUSE"
    } else {
        ""
    }
}

/// The status text of the site's dictionary, the process step (code, name)
/// and the last action (code, name).
struct OpencpsState {
    text: &'static str,
    step_code: String,
    step_name: String,
    action_code: &'static str,
    action_name: &'static str,
}

fn opencps_state(d: &Dossier) -> OpencpsState {
    let fixed = |text, step_code: &str, step_name: &str, action_code, action_name| OpencpsState {
        text,
        step_code: step_code.to_owned(),
        step_name: step_name.to_owned(),
        action_code,
        action_name,
    };
    let running = |text, action_code, action_name| {
        let i = current_index(d).unwrap_or(0);
        OpencpsState {
            text,
            step_code: format!("{}", 200 + 100 * i.min(1) + 20 * i.saturating_sub(1)),
            step_name: d
                .current_step()
                .map_or_else(|| d.status.label_vi().to_owned(), |s| s.name.clone()),
            action_code,
            action_name,
        }
    };
    match d.status {
        Status::Submitted => fixed("Mới", "100", "Chờ tiếp nhận", "1000", "Nộp hồ sơ"),
        Status::Received => running("Đang tiếp nhận", "1005", "Tiếp nhận hồ sơ"),
        Status::Processing if open_pause(d) => {
            fixed("Đang xử lý", "310", "Tạm dừng", "8000", "Tạm dừng xử lý")
        }
        Status::Processing => running("Đang xử lý", "1100", "Chuyển xử lý"),
        Status::SupplementRequested => fixed(
            "Chờ bổ sung",
            "110",
            "Chờ công dân bổ sung",
            "7100",
            "Yêu cầu bổ sung",
        ),
        Status::FeeRequested => fixed(
            "Chờ nộp phí, lệ phí",
            "150",
            "Chờ nộp phí, lệ phí",
            "6000",
            "Yêu cầu nộp phí",
        ),
        Status::Finished => fixed(
            "Chờ trả kết quả",
            "350",
            "Chờ trả kết quả",
            "1200",
            "Chuyển trả kết quả",
        ),
        Status::Returned => fixed(
            "Đã trả kết quả",
            "400",
            "Đã trả kết quả",
            "1300",
            "Trả kết quả",
        ),
        Status::Refused => fixed("Từ chối", "900", "Từ chối", "2000", "Từ chối tiếp nhận"),
        Status::Withdrawn => fixed("Đã rút hồ sơ", "910", "Đã rút hồ sơ", "5100", "Rút hồ sơ"),
        Status::Stopped => fixed(
            "Từ chối giải quyết",
            "920",
            "Dừng xử lý",
            "5200",
            "Dừng xử lý",
        ),
    }
}

/// `durationCount` (a decimal) and `durationUnit` (0 days, 1 hours): whole
/// half-days are written in days (4 h is 0.5), other hours in hours.
fn opencps_duration(d: &Dossier) -> (f64, u8) {
    match d.duration {
        Some(Duration::WorkingDays(n)) => (f64::from(n), 0),
        Some(Duration::WorkingHours(h)) if h.is_multiple_of(4) => (f64::from(h) / 8.0, 0),
        Some(Duration::WorkingHours(h)) => (f64::from(h), 1),
        None => (0.0, 0),
    }
}

fn opencps_date(t: NaiveDateTime) -> String {
    t.format("%d/%m/%Y %H:%M:%S").to_string()
}

/// Unset dates are `""`, never null.
fn opencps_opt(t: Option<NaiveDateTime>) -> String {
    t.map(opencps_date).unwrap_or_default()
}

/// Whoever made the last change: the applicant for a new dossier, else the
/// officer who finished a step then, or who forwarded the step started then.
fn last_actor(d: &Dossier) -> Option<&str> {
    if d.status == Status::Submitted {
        return Some(&d.applicant_name);
    }
    let steps = &d.steps;
    steps
        .iter()
        .enumerate()
        .rev()
        .find_map(|(i, s)| {
            if s.finished_at == Some(d.updated_at) {
                Some(s)
            } else if s.started_at == d.updated_at {
                Some(if i > 0 { &steps[i - 1] } else { s })
            } else {
                None
            }
        })
        .or_else(|| steps.last())
        .and_then(|s| s.officer.as_deref())
}

/// `dossierOverdue` as indexed at the last change.
fn opencps_overdue(d: &Dossier, paused: bool) -> String {
    if paused {
        return OPENCPS_PAUSED.into();
    }
    let Some(due) = due(d) else {
        return String::new();
    };
    match (d.status, d.finished_at) {
        (Status::Finished | Status::Returned, Some(f)) => {
            if f < due {
                "Sớm hạn".into()
            } else if f == due {
                "Đúng hạn".into()
            } else {
                "Quá hạn".into()
            }
        }
        (Status::Received | Status::Processing | Status::FeeRequested, _) => {
            let left = due - d.updated_at;
            if left >= chrono::Duration::zero() {
                format!("Còn {:.1} ngày", left.num_minutes() as f64 / 1440.0)
            } else {
                format!("Quá {} giờ", (-left).num_hours())
            }
        }
        _ => String::new(),
    }
}

/// The keys the list and the detail share, with the values they agree on.
fn opencps_common(d: &Dossier) -> Map<String, Value> {
    let state = opencps_state(d);
    let (count, unit) = opencps_duration(d);
    let postal = d.channel == Channel::Postal;
    let postal_text = |s: Option<String>| {
        if postal {
            s.unwrap_or_default()
        } else {
            String::new()
        }
    };
    let procedure = d.procedure_code.clone().unwrap_or_default();
    let actor = last_actor(d).unwrap_or_default();
    let mut m = obj! {
        "dossierIdCTN" => "",
        "dossierId" => opencps_id(&d.code),
        "groupId" => OPENCPS_GROUP_ID,
        "createDate" => opencps_date(created_at(d)),
        "referenceUid" => opencps_reference(&d.code),
        "counter" => 0,
        "serviceCode" => procedure.clone(),
        "serviceName" => d.procedure_name.clone(),
        "govAgencyCode" => d.unit_code.clone(),
        "govAgencyName" => d.unit_name.clone(),
        "dossierTemplateNo" => format!("HS{}", procedure.replace('.', "")),
        "applicantIdType" => match d.applicant_kind {
            ApplicantKind::Person => "citizen",
            ApplicantKind::Organisation => "business",
        },
        "applicantIdNo" => d.applicant_id_no.clone().unwrap_or_default(),
        "applicantIdDate" => "",
        "address" => address(d).unwrap_or_default(),
        "cityCode" => catalog::PROVINCE_CODE,
        "cityName" => catalog::PROVINCE_NAME,
        "districtCode" => "",
        "districtName" => "",
        "wardCode" => "",
        "wardName" => "",
        "contactName" => "",
        "contactTelNo" => d.applicant_phone.clone().unwrap_or_default(),
        "contactEmail" => d.applicant_email.clone().unwrap_or_default(),
        "dossierNote" => "",
        "submissionNote" => "",
        "briefNote" => d.summary.clone().unwrap_or_default(),
        "dossierNo" => d.code.clone(),
        "submitting" => if d.status == Status::Submitted { "true" } else { "false" },
        "submitDate" => opencps_date(created_at(d)),
        "receiveDate" => opencps_opt(received(d)),
        "dueDate" => opencps_opt(due(d)),
        "releaseDate" => opencps_opt(d.finished_at),
        "finishDate" => opencps_opt(d.returned_at),
        "cancellingDate" => opencps_opt((d.status == Status::Withdrawn).then_some(d.updated_at)),
        "correctingDate" => "",
        "dossierStatus" => opencps_status(d.status),
        "dossierStatusText" => state.text,
        "dossierSubStatus" => "",
        "dossierSubStatusText" => "",
        "viaPostal" => if postal { "1" } else { "0" },
        "postalAddress" => postal_text(address(d)),
        "postalCityCode" => postal_text(Some(catalog::PROVINCE_CODE.into())),
        "postalCityName" => postal_text(Some(catalog::PROVINCE_NAME.into())),
        "postalTelNo" => postal_text(d.applicant_phone.clone()),
        "lastActionDate" => opencps_date(d.updated_at),
        "lastActionCode" => state.action_code,
        "lastActionName" => state.action_name,
        "lastActionUser" => actor.to_uppercase(),
        "lastActionNote" => "",
        "stepCode" => state.step_code,
        "stepName" => state.step_name,
        "visited" => "true",
        "pending" => "false",
        "applicantNote" => "",
        "online" => if d.channel == Channel::Online { "true" } else { "false" },
        "serverNo" => format!("SERVER_H{}", catalog::PROVINCE_CODE),
        "lockState" => opencps_lock(d),
        "durationCount" => count,
        "durationUnit" => unit,
        "sampleCount" => 1,
        "extendDate" => opencps_opt(d.extension.as_ref().map(|e| e.at)),
        "lastActionUserId" => user_number(actor),
        "dossierName" => "",
        "originality" => 3,
        "originDossierId" => 0,
        "originDossierNo" => "",
        "metaData" => "",
        "delegateType" => 0,
        "documentNo" => "",
        "systemId" => 0,
        "dossierCounter" => "",
        "fromViaPostal" => 0,
    };
    for k in [
        "delegateName",
        "delegateIdNo",
        "delegateEmail",
        "delegateTelNo",
        "delegateAddress",
        "delegateCityCode",
        "delegateCityName",
        "delegateDistrictCode",
        "delegateDistrictName",
        "delegateWardCode",
        "delegateWardName",
    ] {
        m.insert(k.into(), json!(""));
    }
    m
}

/// One record of `GET /o/rest/v2/dossiers` (`list-page-1.json`).
pub fn opencps_list(d: &Dossier) -> Value {
    let mut m = opencps_common(d);
    let paused = d.status == Status::SupplementRequested || !opencps_lock(d).is_empty();
    let due = due(d);
    // The index's "now": a few seconds after the change it indexes.
    let indexed = d.updated_at + chrono::Duration::seconds(6);
    let coming = match (d.status, due) {
        (Status::Received | Status::Processing, Some(due)) if !paused => {
            let at = due - chrono::Duration::days(4) - chrono::Duration::hours(7);
            (at.and_utc().timestamp() * 1000).to_string()
        }
        _ => "0".into(),
    };
    m.extend(obj! {
        "modifiedDate" => "",
        "applicantName" => d.applicant_name.to_uppercase().replace(';', "; "),
        "permission" => format!("{OPENCPS_USER_ID}_read"),
        "stepDuedate" => opencps_date(indexed),
        "stepOverdue" => if paused { OPENCPS_PAUSED } else { "" },
        "groupDossierId" => 0,
        "postalDistrictCode" => "",
        "postalDistrictName" => "",
        "dossierOverdue" => opencps_overdue(d, paused),
        "hasPassword" => "",
        "certNo" => "",
        "certDate" => "",
        "endorsementDate" => "",
        "statusReg" => "4",
        "assigned" => 1,
        "domainCode" => d.field_code.clone(),
        "domainName" => d.field_name.clone(),
        "currentActionUser" => d.officer.clone().unwrap_or_default(),
        "dueDateComing" => coming,
        "origin" => "0",
        "lock" => "Yêu cầu bổ sung trong hạn 3 ngày",
        "serviceLevel" => 3,
    });
    if let (Status::Finished | Status::Returned, Some(f)) = (d.status, d.finished_at) {
        let gap = due.map(|due| if f > due { f - due } else { due - f });
        m.insert(
            "timeOverdueText".into(),
            json!(gap.map_or_else(String::new, |g| format!(
                "{} ngày {} giờ",
                g.num_days(),
                g.num_hours() % 24
            ))),
        );
        if d.status == Status::Returned {
            let on_time = due.is_none_or(|due| f <= due);
            m.insert(
                "dossierFinishOverdue".into(),
                json!(if on_time {
                    "Đúng hạn"
                } else {
                    "Quá hạn"
                }),
            );
        }
    }
    Value::Object(m)
}

/// `GET /o/rest/v2/dossiers/{id}` (`detail-101201.json`): no domain, the real
/// `modifiedDate`, and `stepDuedate` the time of the request.
pub fn opencps_detail(d: &Dossier, now: NaiveDateTime) -> Value {
    let mut m = opencps_common(d);
    m.extend(obj! {
        "modifiedDate" => opencps_date(d.updated_at),
        "applicantName" => d.applicant_name.to_uppercase(),
        "permission" => "",
        "stepDuedate" => opencps_date(now),
        "stepOverdue" => "true",
        "groupDossierId" => "",
        "userId" => OPENCPS_USER_ID,
        "stepInstruction" => "",
        "notification" => "false",
        "specialNo" => 1,
        "processUnit" => 0,
        "vnpostalStatus" => 0,
        "vnpostalProfile" => "",
    });
    Value::Object(m)
}

/// `GET /o/rest/v2/dossiers/{id}/actions` (`actions-101201.json`): the step
/// models are built but never added, so `data` is always empty.
pub fn opencps_actions(d: &Dossier) -> Value {
    let (count, unit) = opencps_duration(d);
    json!({
        "processNo": format!("QT-{}", d.procedure_code.as_deref().unwrap_or_default()),
        "durationCount": count,
        "durationUnit": unit,
        "data": [],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::shapes::tests::*;

    /// Every non-empty OpenCPS date of a record parses with the format.
    fn opencps_dates(r: &Value) {
        for (k, v) in r.as_object().unwrap() {
            let lower = k.to_ascii_lowercase();
            if lower.ends_with("date") || lower.ends_with("duedate") {
                let text = v.as_str().expect("dates are strings");
                if !text.is_empty() {
                    parse(text, OPENCPS_DATE);
                }
            }
        }
    }

    #[test]
    fn opencps_list_records_have_the_fixture_keys_types_and_dates() {
        let page1 = fixture!("opencps/list-page-1.json");
        let page2 = fixture!("opencps/list-page-2.json");
        let theirs: Vec<&Value> = list(&page1, "/data")
            .iter()
            .chain(list(&page2, "/data"))
            .collect();
        theirs.iter().for_each(|r| opencps_dates(r));
        let by_id = |id: u64| *theirs.iter().find(|r| r["dossierId"] == json!(id)).unwrap();
        for d in samples() {
            let mine = opencps_list(&d);
            check_record(&d.code, &mine, &theirs, false);
            opencps_dates(&mine);
            // Records of the same state have exactly the fixture's keys.
            let twin = match (d.status, opencps_lock(&d)) {
                (Status::Returned, _) => Some(101187),
                (Status::Processing, "") => Some(101201),
                (Status::Processing, _) => Some(101230),
                (Status::Finished, _) => Some(101256),
                (Status::Submitted, _) => Some(101295),
                _ => None,
            };
            if let Some(id) = twin {
                assert_eq!(keys(&mine), keys(by_id(id)), "{} vs {id}", d.code);
            }
            assert_eq!(
                parse(mine["lastActionDate"].as_str().unwrap(), OPENCPS_DATE),
                d.updated_at
            );
            assert_eq!(mine["modifiedDate"], "");
            assert_eq!(mine["dossierNo"], json!(d.code));
            if d.status == Status::Submitted {
                assert_eq!(
                    (&mine["receiveDate"], &mine["dueDate"]),
                    (&json!(""), &json!(""))
                );
            } else {
                assert_eq!(
                    parse(mine["receiveDate"].as_str().unwrap(), OPENCPS_DATE),
                    d.received_at
                );
            }
        }
    }

    #[test]
    fn opencps_detail_and_actions_have_the_fixture_keys_and_types() {
        let detail = fixture!("opencps/detail-101201.json");
        let actions = fixture!("opencps/actions-101201.json");
        opencps_dates(&detail);
        for d in samples() {
            let mine = opencps_detail(&d, now());
            check_record(&d.code, &mine, &[&detail], false);
            assert_eq!(keys(&mine), keys(&detail));
            opencps_dates(&mine);
            assert_eq!(
                parse(mine["modifiedDate"].as_str().unwrap(), OPENCPS_DATE),
                d.updated_at
            );
            check_record(&d.code, &opencps_actions(&d), &[&actions], false);
        }
    }

    #[test]
    fn opencps_durations_and_pause_as_the_fixtures_write_them() {
        let all = samples();
        let half = all
            .iter()
            .find(|d| d.duration == Some(Duration::WorkingHours(4)))
            .unwrap();
        let r = opencps_list(half);
        assert_eq!(
            (r["durationCount"].as_f64(), &r["durationUnit"]),
            (Some(0.5), &json!(0))
        );
        assert!(
            serde_json::to_string(&r)
                .unwrap()
                .contains("\"durationCount\":0.5")
        );
        let paused = all
            .iter()
            .find(|d| d.status == Status::Processing && open_pause(d))
            .unwrap();
        let r = opencps_list(paused);
        assert_eq!(
            (&r["dossierStatus"], &r["lockState"]),
            (&json!("processing"), &json!("PAUSE"))
        );
        let days = all
            .iter()
            .find(|d| matches!(d.duration, Some(Duration::WorkingDays(_))))
            .unwrap();
        assert!(
            serde_json::to_string(&opencps_list(days))
                .unwrap()
                .contains(".0,\"durationUnit\":0")
        );
    }
}
