//! `/api/v1` handlers. Parameters are parsed by hand so that every 400 names
//! the parameter and the value that was wrong.

use super::export::{Cell, Table, csv_body, to_csv, to_xlsx, xlsx_file};
use super::params::{FILTER_KEYS, Format, Params, export_name};
use super::state::AppState;
use super::{ApiError, Caller, Role};
use crate::clock::fmt_db;
use crate::deadline::Class;
use crate::store::{DossierFilter, FilterTotals, IssueError, KpiGroup, KpiRow, ListRow};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// What was wrong, naming the parameter.
    pub error: String,
}

#[derive(Serialize, ToSchema)]
pub struct DossierPage {
    pub items: Vec<ListRow>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct KpiReport {
    pub from: String,
    pub to: String,
    pub group: String,
    pub target_on_time_pct: f64,
    pub target_apology_pct: f64,
    pub total: KpiRow,
    pub rows: Vec<KpiRow>,
}

#[derive(Deserialize, ToSchema)]
pub struct IssueRequest {
    /// Document number and symbol, e.g. "125/TB-UBND": 1–50 characters,
    /// not only spaces, no control characters.
    #[schema(
        min_length = 1,
        max_length = 50,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub number: String,
}

#[derive(Serialize, ToSchema)]
pub struct LetterOut {
    pub code: String,
    pub version: i64,
    pub status: String,
    pub issued_at: Option<String>,
    pub doc_number: Option<String>,
    pub sha256: String,
}

/// Export formats (documentation of the `format` parameter).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum ExportFormat {
    Json,
    Csv,
    Xlsx,
}

/// Deadline classes (documentation of the `class` parameter).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ClassName {
    Overdue,
    DueToday,
    DueSoon,
    NotYetDue,
    Paused,
    NoDueDate,
    Late,
    OnDueDay,
    BeforeDue,
    Closed,
}

/// KPI groupings (documentation of the `group` parameter).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum GroupName {
    Unit,
    Field,
    Officer,
    Month,
    All,
}

/// The dates a period can apply to (documentation of the `date` parameter).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum DateName {
    Received,
    Due,
    Finished,
}

/// Filters of `/api/v1/dossiers/totals` (the list's, without paging).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct TotalsParams {
    /// As in `/api/v1/dossiers`.
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    #[param(pattern = "^([0-9]{4}-(0[1-9]|1[0-2]))?$")]
    month: Option<String>,
    date: Option<DateName>,
    class: Option<ClassName>,
    late_in_period: Option<bool>,
    unit: Option<String>,
    field: Option<String>,
    officer: Option<String>,
    source: Option<String>,
}

/// Filters of `/api/v1/dossiers` (all optional).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the parameters; they are parsed by `Params`
pub struct ListParams {
    /// The period's first day (YYYY-MM-DD), of the date named by `date`.
    from: Option<NaiveDate>,
    /// The period's last day (YYYY-MM-DD), included.
    to: Option<NaiveDate>,
    /// A whole month (YYYY-MM) as the period (with `from` or `to`, the days
    /// of both).
    #[param(pattern = "^([0-9]{4}-(0[1-9]|1[0-2]))?$")]
    month: Option<String>,
    /// Which date the period applies to: received (default), due or finished.
    date: Option<DateName>,
    /// Today's deadline class.
    class: Option<ClassName>,
    /// true: only dossiers past their due date and unfinished at some moment
    /// of the period (from the class history: judged overdue or late, with
    /// the due date they missed before the period's end, not finished before
    /// its start); the period then bounds that moment, not `date`.
    late_in_period: Option<bool>,
    /// Handling unit code.
    unit: Option<String>,
    /// Field (lĩnh vực) code.
    field: Option<String>,
    /// Officer holding the dossier.
    officer: Option<String>,
    source: Option<String>,
    /// From the previous page's `next_cursor`.
    #[param(minimum = 0)]
    cursor: Option<i64>,
    /// Page size, 1–1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// json (default), csv or xlsx: csv and xlsx export every matching dossier.
    format: Option<ExportFormat>,
}

/// Parameters of `/api/v1/kpis`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct KpiParams {
    /// unit (default), field, officer, month or all.
    group: Option<GroupName>,
    /// Period start (YYYY-MM-DD), default 1 January of this year.
    from: Option<NaiveDate>,
    /// Period end (YYYY-MM-DD), default today.
    to: Option<NaiveDate>,
    /// json (default), csv or xlsx.
    format: Option<ExportFormat>,
}

pub(super) fn download(t: &Table, format: Format, name: &str) -> Result<Response, ApiError> {
    let (bytes, mime, ext) = match format {
        Format::Csv => (
            to_csv(t).map_err(ApiError::internal)?,
            "text/csv; charset=utf-8",
            "csv",
        ),
        _ => (
            to_xlsx(t).map_err(ApiError::internal)?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
    };
    Ok((
        [
            (header::CONTENT_TYPE, mime.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.{ext}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// A listed dossier as the caller sees it on `today`: its working days left
/// or late derived (an open verdict does not store them), personal data
/// masked for auditors.
pub(super) fn shown(
    mut r: ListRow,
    calendar: &crate::calendar::Calendar,
    today: NaiveDate,
    role: Role,
) -> ListRow {
    r.days_on(calendar, today);
    mask(r, role)
}

/// Personal data hidden from roles that do not need it.
fn mask(mut r: ListRow, role: Role) -> ListRow {
    let m = role.masking();
    r.applicant_name = m.name(r.applicant_kind == "person", &r.applicant_name);
    r.applicant_id_no = m.secret(r.applicant_id_no);
    r.applicant_phone = m.secret(r.applicant_phone);
    r
}

fn class_label(c: Option<&str>) -> String {
    c.and_then(Class::parse)
        .map_or_else(String::new, |c| c.label_vi().to_owned())
}

/// A dossier's apology letter, as the list shows it.
pub(super) fn letter_label(letter: Option<&str>) -> &'static str {
    match letter {
        Some("issued") => "đã ban hành",
        Some(_) => "dự thảo",
        None => "",
    }
}

pub(super) fn dossier_table(rows: &[ListRow]) -> Table {
    Table {
        sheet: "Hồ sơ".into(),
        headers: vec![
            "Nguồn",
            "Mã hồ sơ",
            "Thủ tục",
            "Lĩnh vực",
            "Đơn vị xử lý",
            "Cán bộ xử lý",
            "Người nộp",
            "Trạng thái",
            "Ngày tiếp nhận",
            "Hạn trả kết quả",
            "Hạn trả ban đầu",
            "Ngày có kết quả",
            "Phân loại",
            "Số ngày làm việc còn lại",
            "Số ngày làm việc trễ",
            "Khâu gây chậm",
            "Đơn vị gây chậm",
            "Hạn trả khác cách tính",
            "Thư xin lỗi",
            "Mã đơn vị",
            "Lãnh đạo xác nhận",
            "Hạn giao hoàn thành",
        ],
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    Cell::text(&r.source),
                    Cell::text(&r.code),
                    Cell::text(&r.procedure_name),
                    Cell::text(&r.field_name),
                    Cell::text(&r.unit_name),
                    Cell::opt_text(r.officer.clone()),
                    Cell::text(&r.applicant_name),
                    Cell::text(
                        crate::dossier::Status::parse(&r.status)
                            .map_or(r.status.as_str(), |s| s.label_vi()),
                    ),
                    Cell::opt_time(Some(&r.received_at)),
                    Cell::opt_time(r.due_at.as_deref()),
                    Cell::opt_time(r.original_due_at.as_deref()),
                    Cell::opt_time(r.finished_at.as_deref()),
                    Cell::text(class_label(r.class.as_deref())),
                    Cell::opt_num(r.working_days_left.map(|n| n as f64)),
                    Cell::opt_num(r.working_days_late.map(|n| n as f64)),
                    Cell::opt_text(r.delay_step.clone()),
                    Cell::opt_text(r.delay_unit.clone()),
                    Cell::text(if r.due_mismatch == Some(1) { "có" } else { "" }),
                    Cell::text(letter_label(r.letter.as_deref())),
                    Cell::text(&r.unit_code),
                    Cell::opt_text(r.acknowledged_by.clone()),
                    r.target_date
                        .as_deref()
                        .and_then(|t| NaiveDate::parse_from_str(t, "%Y-%m-%d").ok())
                        .map_or(Cell::Empty, |d| {
                            Cell::Time(d.and_time(chrono::NaiveTime::MIN))
                        }),
                ]
            })
            .collect(),
    }
}

/// Dossiers, filtered, with cursor paging; or every match as CSV/XLSX.
#[utoipa::path(get, path = "/api/v1/dossiers", params(ListParams),
    responses(
        (status = 200, description = "A page of dossiers (or the export)", content(
            (DossierPage = "application/json"),
            (String = "text/csv"),
            (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, description = "A bad parameter, named", body = ErrorBody),
        (status = 401, description = "Missing, unknown or revoked token", body = ErrorBody)))]
pub async fn list_dossiers(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let p = Params(q);
    let mut allowed = FILTER_KEYS.to_vec();
    allowed.extend(["cursor", "limit", "format"]);
    p.only(&allowed)?;
    let filter = p.dossier_filter()?;
    // from > to is an empty period: no dossiers, not an error.
    let cursor = p.int("cursor", 0, i64::MAX)?.unwrap_or(0);
    let limit = p.int("limit", 1, 1000)?.unwrap_or(100);
    let format = p.format()?;
    let today = s.clock.now_vn().date();
    let rules = s.rules();
    if format == Format::Json {
        let shown = |r| shown(r, &rules.calendar, today, caller.role);
        let mut rows = s.store.list_dossiers(&filter, cursor, limit + 1).await?;
        let next_cursor = (rows.len() as i64 > limit).then(|| rows[limit as usize - 1].id);
        rows.truncate(limit as usize);
        let items = rows.into_iter().map(shown).collect();
        return Ok(Json(DossierPage { items, next_cursor }).into_response());
    }
    // Exports take every match, page by page, streamed: a task reads the
    // pages while the body is written (XLSX: a sheet holds at most
    // 1,048,575 rows under its header).
    let cap = if format == Format::Xlsx {
        1_048_575
    } else {
        u64::MAX
    };
    let (tx, pages) = tokio::sync::mpsc::channel(2);
    let name = export_name(&filter);
    let (store, role) = (s.store.clone(), caller.role);
    tokio::spawn(async move {
        let (mut after, mut sent) = (cursor, 0u64);
        while sent < cap {
            let want = (cap - sent).min(EXPORT_PAGE) as i64;
            let page = match store.list_dossiers(&filter, after, want).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(error = %e, "an export stopped");
                    let _ = tx.send(Err(e.to_string())).await;
                    return;
                }
            };
            let Some(last) = page.last() else { return };
            after = last.id;
            sent += page.len() as u64;
            let rows: Vec<ListRow> = page
                .into_iter()
                .map(|r| shown(r, &rules.calendar, today, role))
                .collect();
            // The client went away: stop reading.
            if tx.send(Ok(dossier_table(&rows).rows)).await.is_err() {
                return;
            }
        }
    });
    let headers = dossier_table(&[]).headers;
    let (body, mime, ext) = match format {
        Format::Csv => (csv_body(headers, pages), "text/csv; charset=utf-8", "csv"),
        _ => {
            let file = xlsx_file("Hồ sơ", &headers, pages)
                .await
                .map_err(ApiError::internal)?;
            (
                axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(file)),
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "xlsx",
            )
        }
    };
    Ok((
        [
            (header::CONTENT_TYPE, mime.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.{ext}\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// How many dossiers the list's filters match, by class, with the on-time
/// rate of the finished ones and how many late ones were apologised for.
#[utoipa::path(get, path = "/api/v1/dossiers/totals", params(TotalsParams),
    responses(
        (status = 200, description = "The counts", body = FilterTotals),
        (status = 400, description = "A bad parameter, named", body = ErrorBody),
        (status = 401, description = "Missing, unknown or revoked token", body = ErrorBody)))]
pub async fn dossier_totals(
    State(s): State<Arc<AppState>>,
    _caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let p = Params(q);
    p.only(&FILTER_KEYS)?;
    let filter = p.dossier_filter()?;
    Ok(Json(s.store.filtered_totals(&filter).await?).into_response())
}

/// Dossiers read (and written out) at a time by an export.
const EXPORT_PAGE: u64 = 5000;

/// One dossier's full timeline: steps, observed changes, due dates, class
/// changes, alerts with recipients and send times, letters.
#[utoipa::path(get, path = "/api/v1/dossiers/{source}/{code}",
    params(("source" = String, Path, description = "Source name"), ("code" = String, Path, description = "Dossier code")),
    responses(
        (status = 200, description = "The dossier and its timeline", body = Object),
        (status = 401, description = "Missing, unknown or revoked token", body = ErrorBody),
        (status = 404, description = "No such dossier", body = ErrorBody)))]
pub async fn dossier_timeline(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((source, code)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (_, timeline) = timeline_json(&s, caller.role, &source, &code).await?;
    Ok(Json(timeline).into_response())
}

/// One dossier and its timeline as `role` may see them (the API's answer and
/// the dossier page's data).
pub(super) async fn timeline_json(
    s: &AppState,
    role: super::Role,
    source: &str,
    code: &str,
) -> Result<(crate::store::StoredDossier, serde_json::Value), ApiError> {
    let source = source.to_owned();
    let code = crate::text::nfc(code);
    let Some(d) = s.store.dossier(&source, &code).await? else {
        return Err(ApiError::not_found(format!(
            "no dossier {code} in source {source}"
        )));
    };
    let filter = DossierFilter {
        source: Some(source.clone()),
        ..DossierFilter::default()
    };
    let row = s
        .store
        .list_dossiers(&filter, d.id - 1, 1)
        .await?
        .into_iter()
        .next();
    let mut timeline = s.store.timeline(d.id).await?;
    let masking = role.masking();
    let mut dossier = serde_json::to_value(&d.dossier).map_err(ApiError::internal)?;
    masking.dossier_json(&mut dossier);
    // The history carries old and new values of every changed field:
    // masked as the dossier is.
    let person = d.dossier.applicant_kind == crate::dossier::ApplicantKind::Person;
    if let Some(serde_json::Value::Array(entries)) = timeline.get_mut("history") {
        for e in entries {
            if let Some(changes) = e.get_mut("changes") {
                masking.changes_json(person, changes);
            }
        }
    }
    if let serde_json::Value::Object(m) = &mut timeline {
        m.insert("source".into(), source.into());
        m.insert("dossier".into(), dossier);
        m.insert(
            "original_due_at".into(),
            d.original_due_at.map(fmt_db).into(),
        );
        m.insert(
            "verdict".into(),
            serde_json::to_value(
                row.map(|r| shown(r, &s.rules().calendar, s.clock.now_vn().date(), role)),
            )
            .map_err(ApiError::internal)?,
        );
    }
    Ok((d, timeline))
}

/// A KPI row's group: a month as a date, anything else as text.
fn group_cell(g: &str, group: &str) -> Cell {
    match NaiveDate::parse_from_str(&format!("{g}-01"), "%Y-%m-%d") {
        Ok(m) if group == "month" => Cell::Month(m),
        _ => Cell::text(g),
    }
}

fn kpi_table(rows: &[KpiRow], group: &str) -> Table {
    let group_header = match group {
        "field" => "Lĩnh vực",
        "officer" => "Cán bộ",
        "month" => "Tháng",
        "all" => "Toàn đơn vị",
        _ => "Đơn vị",
    };
    let mut headers = vec![group_header];
    headers.extend([
        "Tiếp nhận",
        "Đã giải quyết",
        "Trước hạn",
        "Đúng hạn",
        "Trễ hạn",
        "Tỷ lệ đúng hạn (%)",
        "Trễ hạn đã xin lỗi",
        "Tỷ lệ xin lỗi (%)",
        "Số ngày trễ bình quân",
        "Khâu gây chậm nhiều nhất",
    ]);
    Table {
        sheet: "Chỉ số".into(),
        headers,
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    group_cell(&r.group, group),
                    Cell::Number(r.received as f64),
                    Cell::Number(r.finished as f64),
                    Cell::Number(r.before_due as f64),
                    Cell::Number(r.on_due_day as f64),
                    Cell::Number(r.late as f64),
                    Cell::opt_num(r.on_time_pct),
                    Cell::Number(r.late_apologised as f64),
                    Cell::opt_num(r.apology_pct),
                    Cell::opt_num(r.avg_working_days_late),
                    Cell::text(r.top_delay_steps.join("; ")),
                ]
            })
            .collect(),
    }
}

/// On-time and apology rates per unit, field, officer or month, against targets.
#[utoipa::path(get, path = "/api/v1/kpis", params(KpiParams),
    responses(
        (status = 200, description = "KPIs (or the export)", content(
            (KpiReport = "application/json"),
            (String = "text/csv"),
            (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, description = "A bad parameter, named", body = ErrorBody),
        (status = 401, description = "Missing, unknown or revoked token", body = ErrorBody)))]
pub async fn kpis(
    State(s): State<Arc<AppState>>,
    _caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let p = Params(q);
    p.only(&["group", "from", "to", "format"])?;
    let group_name = p.typed("group")?.unwrap_or_else(|| "unit".into());
    let group = KpiGroup::parse(&group_name).ok_or_else(|| {
        ApiError::bad(format!(
            "parameter 'group': '{group_name}' is not unit, field, officer, month or all"
        ))
    })?;
    let (from, to) = p.period_or_this_year(s.clock.now_vn().date())?;
    let format = p.format()?;
    let rows = s.store.kpis(group, from, to).await?;
    if format != Format::Json {
        return download(&kpi_table(&rows, &group_name), format, "chi-so");
    }
    let total = s
        .store
        .kpis(KpiGroup::All, from, to)
        .await?
        .into_iter()
        .next()
        .unwrap_or_default();
    Ok(Json(KpiReport {
        from: from.to_string(),
        to: to.to_string(),
        group: group_name,
        target_on_time_pct: s.kpi.on_time_pct,
        target_apology_pct: s.kpi.apology_pct,
        total,
        rows,
    })
    .into_response())
}

/// Records that the centre issued the latest apology draft of a dossier.
#[utoipa::path(post, path = "/api/v1/letters/{source}/{code}/issue",
    params(("source" = String, Path, description = "Source name"), ("code" = String, Path, description = "Dossier code")),
    request_body = IssueRequest,
    responses(
        (status = 200, description = "Recorded", body = LetterOut),
        (status = 400, description = "A bad field", body = ErrorBody),
        (status = 401, description = "Missing, unknown or revoked token", body = ErrorBody),
        (status = 403, description = "Only the centre and admins record issued letters", body = ErrorBody),
        (status = 404, description = "No such dossier", body = ErrorBody),
        (status = 409, description = "No draft yet, or already issued", body = ErrorBody)))]
pub async fn issue_letter(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path((source, code)): Path<(String, String)>,
    body: Result<Json<IssueRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    if caller.role == Role::Auditor {
        return Err(ApiError::forbidden(
            "only the centre and admins record issued letters",
        ));
    }
    let Json(req) = body.map_err(|e| ApiError::bad(format!("body: {}", e.body_text())))?;
    let number = crate::store::doc_number(&req.number)
        .map_err(|e| ApiError::bad(format!("field 'number': {e}")))?;
    let code = crate::text::nfc(&code);
    if s.store.dossier(&source, &code).await?.is_none() {
        return Err(ApiError::not_found(format!(
            "no dossier {code} in source {source}"
        )));
    }
    match s
        .store
        .issue_letter(&source, &code, &number, s.clock.now_vn())
        .await
    {
        Ok(l) => Ok(Json(LetterOut {
            code,
            version: l.version,
            status: l.status,
            issued_at: l.issued_at.map(fmt_db),
            doc_number: l.doc_number,
            sha256: l.sha256,
        })
        .into_response()),
        Err(e @ (IssueError::NoDraft(_) | IssueError::AlreadyIssued { .. })) => {
            Err(ApiError::conflict(e.to_string()))
        }
        Err(e @ IssueError::BadNumber(_)) => Err(ApiError::bad(format!("field 'number': {e}"))),
        Err(IssueError::Store(e)) => Err(e.into()),
    }
}
