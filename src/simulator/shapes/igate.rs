//! iGate (Spring, `/pa/dossier/search`): the record and the Spring Data page,
//! as `tests/fixtures/real/igate/` shows them.

use super::{address, created_at, current_index, due, mixed, object_id, open_pause, received};
use crate::dossier::{ApplicantKind, Channel, Dossier, Duration, Status, Step};
use crate::simulator::catalog;
use chrono::NaiveDateTime;
use serde_json::{Value, json};

const VI: u16 = 228;
const EN: u16 = 46;

/// iGate's `dossierStatus` id and name. A Processing dossier with an open pause
/// shows 4 "Tạm dừng"; a fee request shows 18, not 4.
pub fn igate_status(d: &Dossier) -> (u8, &'static str) {
    match d.status {
        Status::Submitted => (0, "Chờ tiếp nhận"),
        Status::Received => (1, "Đã tiếp nhận"),
        Status::Processing if open_pause(d) => (4, "Tạm dừng"),
        Status::Processing => (2, "Đang xử lý"),
        Status::SupplementRequested => (3, "Chờ bổ sung"),
        Status::FeeRequested => (18, "Chờ thực hiện nghĩa vụ tài chính"),
        Status::Finished => (5, "Có kết quả"),
        Status::Returned => (6, "Đã trả kết quả"),
        Status::Stopped => (7, "Dừng xử lý"),
        Status::Refused => (8, "Từ chối"),
        Status::Withdrawn => (9, "Đã rút hồ sơ"),
    }
}

fn igate_apply_method(c: Channel) -> (u8, &'static str) {
    match c {
        Channel::Direct => (0, "Trực tiếp"),
        Channel::Online => (1, "Trực tuyến"),
        Channel::Postal => (2, "Qua dịch vụ bưu chính công ích"),
    }
}

/// About one dossier in five has every date written in UTC (`+0000`).
pub fn igate_in_utc(code: &str) -> bool {
    mixed(&format!("utc/{code}")).is_multiple_of(5)
}

/// `yyyy-MM-dd'T'HH:mm:ss.SSSZ`, in Vietnam time or (same instant) in UTC.
fn igate_date(t: NaiveDateTime, utc: bool) -> String {
    if utc {
        (t - chrono::Duration::hours(7))
            .format("%Y-%m-%dT%H:%M:%S%.3f+0000")
            .to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%.3f+0700").to_string()
    }
}

fn translations(vi: &str, en: Option<&str>) -> Value {
    let mut names = vec![json!({ "languageId": VI, "name": vi })];
    names.extend(en.map(|en| json!({ "languageId": EN, "name": en })));
    Value::Array(names)
}

/// One task of `task[]`: started at `createdDate`, ended at `updatedDate`
/// when done (`isCurrent` 0); the running one's `updatedDate` is the dossier's.
fn igate_task(d: &Dossier, i: usize, s: &Step, utc: bool) -> Value {
    let key = format!("task/{}/{i}", d.code);
    let current = s.finished_at.is_none();
    let procedure = d.procedure_code.as_deref().unwrap_or_default();
    let mut m = obj! {
        "id" => object_id(&key),
        "candidateGroup" => json!([{
            "id": object_id(&format!("group/{}", s.unit)),
            "code": catalog::unit_code(&s.unit),
            "name": translations(&s.unit, None),
        }]),
        "isCurrent" => u8::from(current),
        "createdDate" => igate_date(s.started_at, utc),
        "updatedDate" => igate_date(s.finished_at.unwrap_or(d.updated_at), utc),
        "activitiTask" => json!({
            "id": (200_000 + mixed(&key) % 800_000).to_string(),
            "status": if current { "ASSIGNED" } else { "COMPLETED" },
        }),
        "bpmProcessDefinitionTask" => json!({
            "id": object_id(&format!("bpm/{procedure}/{i}")),
            "name": { "id": object_id(&format!("bpm-name/{procedure}/{i}")), "name": s.name },
            "definitionTask": { "definitionKey": format!("UserTask_{}", i + 1), "name": s.name },
        }),
    };
    if let Some(o) = &s.officer {
        m.insert(
            "assignee".into(),
            json!({
                "id": object_id(&format!("user/{o}")),
                "fullname": o,
                "account": {
                    "id": object_id(&format!("account/{o}")),
                    "username": [{ "value": format!("canbo{:02}", mixed(o) % 100) }],
                },
            }),
        );
    }
    if let Some(due) = s.due_at {
        m.insert("dueDate".into(), json!(igate_date(due, utc)));
    }
    Value::Object(m)
}

/// One record of `content` of `GET /pa/dossier/search` (`list-page-0.json`).
/// Missing dates and values are absent keys, never null.
pub fn igate(d: &Dossier) -> Value {
    let utc = igate_in_utc(&d.code);
    let date = |t: NaiveDateTime| Value::from(igate_date(t, utc));
    let (status_id, status_name) = igate_status(d);
    let (method_id, method_name) = igate_apply_method(d.channel);

    let mut procedure = obj! {
        "id" => object_id(&format!("procedure/{}", d.procedure_code.as_deref().unwrap_or(&d.procedure_name))),
        "translate" => json!({ "languageId": VI, "name": d.procedure_name }),
        "sector" => json!({
            "id": object_id(&format!("sector/{}", d.field_code)),
            "code": d.field_code,
            "name": translations(&d.field_name, catalog::field_name_en(&d.field_code)),
        }),
    };
    if let Some(code) = &d.procedure_code {
        procedure.insert("code".into(), json!(code));
    }

    let mut data = obj! { "fullname" => d.applicant_name.clone() };
    let optional = [
        ("identityNumber", d.applicant_id_no.clone()),
        ("phoneNumber", d.applicant_phone.clone()),
        ("email", d.applicant_email.clone()),
        ("address", address(d)),
        ("noidungyeucaugiaiquyet", d.summary.clone()),
        (
            "organization",
            (d.applicant_kind == ApplicantKind::Organisation).then(|| d.applicant_name.clone()),
        ),
    ];
    for (k, v) in optional {
        if let Some(v) = v {
            data.insert(k.into(), json!(v));
        }
    }
    let applicant_key = d.applicant_id_no.as_deref().unwrap_or(&d.applicant_name);

    let tasks: Vec<Value> = d
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| igate_task(d, i, s, utc))
        .collect();
    let current: Vec<Value> = current_index(d)
        .and_then(|i| tasks.get(i).cloned())
        .into_iter()
        .collect();
    let has_current = !current.is_empty();

    let mut m = obj! {
        "id" => object_id(&format!("dossier/{}", d.code)),
        "code" => d.code.clone(),
        "procedure" => Value::Object(procedure),
        "agency" => json!({
            "id": object_id(&format!("agency/{}", d.unit_code)),
            "code": d.unit_code,
            "name": d.unit_name,
            "parent": {
                "id": object_id("agency/parent"),
                "name": translations(catalog::PARENT_AGENCY.0, Some(catalog::PARENT_AGENCY.1)),
            },
        }),
        "applicant" => json!({
            "eformId": object_id(&format!("eform/{}", d.code)),
            "userId": object_id(&format!("citizen/{applicant_key}")),
            "data": Value::Object(data),
        }),
        "applyMethod" => json!({ "id": method_id, "name": method_name }),
        "dossierStatus" => json!({ "id": status_id, "name": status_name }),
        "appliedDate" => date(created_at(d)),
        "createdDate" => date(created_at(d)),
        "updatedDate" => date(d.updated_at),
        "task" => tasks,
        "currentTask" => current,
    };
    let dates = [
        ("acceptedDate", received(d)),
        ("appointmentDate", due(d)),
        ("completedDate", d.finished_at),
    ];
    for (k, t) in dates {
        if let Some(t) = t {
            m.insert(k.into(), date(t));
        }
    }
    if let Some(x) = d.duration {
        let (n, unit) = match x {
            Duration::WorkingDays(n) => (n, "d"),
            Duration::WorkingHours(h) => (h, "h"),
        };
        m.insert("processingTime".into(), json!(n));
        m.insert("processingTimeUnit".into(), json!(unit));
    }
    if has_current && matches!(status_id, 2..=4) {
        m.insert(
            "dossierTaskStatus".into(),
            json!({ "id": object_id(&format!("task-status/{status_id}")), "name": status_name }),
        );
    }
    Value::Object(m)
}

/// A Spring Data page (`list-page-0.json`), or a slice without the totals
/// (`list-slice-page-0.json`).
pub fn igate_page(
    content: Vec<Value>,
    page: usize,
    size: usize,
    total: usize,
    slice: bool,
    sorted: bool,
) -> Value {
    let n = content.len();
    let sort = json!({ "empty": !sorted, "sorted": sorted, "unsorted": !sorted });
    let mut m = obj! {
        "content" => content,
        "pageable" => json!({
            "sort": sort, "offset": page * size, "pageNumber": page, "pageSize": size,
            "paged": true, "unpaged": false,
        }),
        "last" => (page + 1) * size >= total,
        "size" => size,
        "number" => page,
        "sort" => sort,
        "first" => page == 0,
        "numberOfElements" => n,
        "empty" => n == 0,
    };
    if !slice {
        m.insert("totalPages".into(), json!(total.div_ceil(size.max(1))));
        m.insert("totalElements".into(), json!(total));
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::shapes::tests::*;
    use chrono::DateTime;

    #[test]
    fn igate_records_have_the_fixture_structure_and_dates() {
        let page0 = fixture!("igate/list-page-0.json");
        let page1 = fixture!("igate/list-page-1.json");
        let theirs: Vec<&Value> = list(&page0, "/content")
            .iter()
            .chain(list(&page1, "/content"))
            .collect();
        let (mut utc, mut local) = (0, 0);
        for d in samples() {
            let mine = igate(&d);
            check_record(&d.code, &mine, &theirs, false);
            check_nested("record", &mine, &theirs);
            // Every date, at any depth, is `yyyy-MM-dd'T'HH:mm:ss.SSSZ`, and
            // names the dossier's instant whichever offset it is written in.
            let instant = |k: &str| {
                let text = mine[k].as_str()?;
                let t = DateTime::parse_from_str(text, IGATE_DATE).unwrap();
                Some((
                    t.naive_utc() + chrono::Duration::hours(7),
                    text.ends_with("+0000"),
                ))
            };
            let (updated, in_utc) = instant("updatedDate").unwrap();
            assert_eq!(updated, d.updated_at);
            assert_eq!(in_utc, igate_in_utc(&d.code));
            if in_utc {
                utc += 1
            } else {
                local += 1
            }
            assert_eq!(instant("acceptedDate").map(|x| x.0), received(&d));
            assert_eq!(instant("completedDate").map(|x| x.0), d.finished_at);
            assert_eq!(instant("appointmentDate").map(|x| x.0), due(&d));
            let text = serde_json::to_string(&mine).unwrap();
            for chunk in text.split("Date\":\"").skip(1) {
                let date = &chunk[..chunk.find('"').unwrap()];
                DateTime::parse_from_str(date, IGATE_DATE).unwrap();
            }
            let tasks = mine["task"].as_array().unwrap();
            assert_eq!(tasks.len(), d.steps.len());
            let running = tasks.iter().filter(|t| t["isCurrent"] == 1).count();
            assert_eq!(mine["currentTask"].as_array().unwrap().len(), running);
        }
        // About one in five written in UTC.
        assert!(
            utc * 8 > local && utc * 3 < local,
            "{utc} in UTC, {local} not"
        );
    }

    #[test]
    fn igate_pages_have_the_spring_shape() {
        let page = fixture!("igate/list-page-0.json");
        let slice = fixture!("igate/list-slice-page-0.json");
        let empty = fixture!("igate/list-page-2-empty.json");
        let d = samples().remove(0);
        let content = || (0..5).map(|_| igate(&d)).collect::<Vec<_>>();
        let mine = igate_page(content(), 0, 5, 10, false, true);
        assert_eq!(keys(&mine), keys(&page));
        let strip = |mut v: Value| {
            v["content"] = json!([]);
            v
        };
        check_nested("page", &strip(mine.clone()), &[&strip(page.clone())]);
        assert_eq!(strip(mine), strip(page));
        let mine = igate_page(content(), 0, 5, 10, true, true);
        assert_eq!(strip(mine), strip(slice));
        assert_eq!(igate_page(Vec::new(), 2, 5, 10, false, true), empty);
    }
}
