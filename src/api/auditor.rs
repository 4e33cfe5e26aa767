//! The auditors' page, `/dashboard/dossiers`: the dossier list under the
//! filters auditors ask by (a period and the date it applies to, unit, field,
//! officer, class, late at any time in the period), its totals, and CSV and
//! XLSX downloads of exactly that list (the API's export under the same
//! parameters, named after them).

use super::dashboard::render_auditor;
use super::handlers::{letter_label, shown};
use super::pages::{notice, unavailable};
use super::params::{FILTER_KEYS, Params, export_name, filter_query, whole_month, year_start};
use super::state::AppState;
use super::{ApiError, Caller};
use crate::deadline::Class;
use crate::notify::vn_datetime;
use crate::store::{DateBasis, DossierFilter, Facets, ListRow};
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Dossiers on one page of the list.
const PAGE: i64 = 100;

/// How long the units and fields offered stay cached (reading them scans
/// every dossier).
const FACETS_FOR: Duration = Duration::from_secs(600);

#[derive(Serialize)]
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

#[derive(Serialize)]
struct Line {
    code: String,
    link: String,
    procedure: String,
    unit: String,
    unit_code: String,
    field: String,
    officer: String,
    applicant: String,
    received: String,
    due: String,
    finished: String,
    class: String,
    class_key: String,
    days: String,
    letter: String,
    /// "Đã nắm: …" / "Giao, hạn 04/12/2026: …" from the leaders' links.
    acknowledged: String,
}

#[derive(Serialize)]
struct ClassCount {
    label: String,
    n: i64,
}

pub async fn dossiers_page(
    State(s): State<Arc<AppState>>,
    caller: Result<Caller, ApiError>,
    Query(mut q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let Ok(caller) = caller else {
        return Ok(Redirect::to("/dashboard/login").into_response());
    };
    // A form sends its empty fields: they filter nothing.
    q.retain(|_, v| !v.trim().is_empty());
    let p = Params(q);
    let mut allowed = FILTER_KEYS.to_vec();
    allowed.push("cursor");
    let parsed = p.only(&allowed).and_then(|()| {
        Ok((
            p.dossier_filter()?,
            p.int("cursor", 0, i64::MAX)?.unwrap_or(0),
        ))
    });
    let (filter, cursor) = match parsed {
        Ok(x) => x,
        Err(e) => {
            return Ok(notice(
                StatusCode::BAD_REQUEST,
                &format!(
                    "Bộ lọc không hợp lệ ({}). Vui lòng chọn lại trên trang tra cứu.",
                    e.message
                ),
            ));
        }
    };
    match page(&s, &caller, &filter, cursor).await {
        Ok(html) => Ok(([(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()),
        Err(e) => Ok(unavailable(e)),
    }
}

async fn page(
    s: &AppState,
    caller: &Caller,
    filter: &DossierFilter,
    cursor: i64,
) -> Result<String, ApiError> {
    let now = s.clock.now_vn();
    let today = now.date();
    let rules = s.rules();
    let facets = facets(s).await?;
    let totals = s.store.filtered_totals(filter).await?;
    let mut rows = s.store.list_dossiers(filter, cursor, PAGE + 1).await?;
    let more = rows.len() as i64 > PAGE;
    rows.truncate(PAGE as usize);
    let next = more.then(|| rows.last().map(|r| r.id)).flatten();
    let lines: Vec<Line> = rows
        .into_iter()
        .map(|r| line(shown(r, &rules.calendar, today, caller.role)))
        .collect();
    let query = filter_query(filter);
    let link = |extra: &[(&str, String)]| {
        let mut all: Vec<(&str, String)> = query.clone();
        all.extend(extra.iter().cloned());
        serde_urlencoded::to_string(&all).unwrap_or_default()
    };
    let by_class: Vec<ClassCount> = Class::ALL
        .iter()
        .filter_map(|c| {
            let n = totals.by_class.get(c.as_str()).copied()?;
            Some(ClassCount {
                label: c.label_vi().to_owned(),
                n,
            })
        })
        .collect();
    let choices = |items: &[(String, String)], chosen: &Option<String>| -> Vec<Choice> {
        items
            .iter()
            .map(|(code, name)| Choice {
                label: format!("{name} ({code})"),
                selected: chosen.as_deref() == Some(code.as_str()),
                value: code.clone(),
            })
            .collect()
    };
    let classes: Vec<(String, String)> = Class::ALL
        .iter()
        .map(|c| (c.as_str().to_owned(), c.label_vi().to_owned()))
        .collect();
    let month = match query.first() {
        Some(("month", m)) => m.clone(),
        _ => String::new(),
    };
    let leaders = super::acks::kpis_of(s, year_start(today), today).await?;
    let ctx = minijinja::context! {
        leaders => leaders,
        ack_timeout_hours => s.ack_timeout_hours,
        year => chrono::Datelike::year(&today),
        committee => rules.routing.committee.name.clone(),
        generated_at => vn_datetime(now),
        shown => describe(filter, &facets),
        month => month,
        from => if month.is_empty() { filter.from.map(|d| d.to_string()) } else { None },
        to => if month.is_empty() { filter.to.map(|d| d.to_string()) } else { None },
        officer => filter.officer.clone(),
        late_in_period => filter.late_in_period,
        dates => DateBasis::ALL.iter().map(|b| Choice {
            value: b.as_str().into(),
            label: b.label_vi().into(),
            selected: *b == filter.dates,
        }).collect::<Vec<_>>(),
        units => choices(&facets.units, &filter.unit),
        fields => choices(&facets.fields, &filter.field),
        classes => classes.iter().map(|(v, l)| Choice {
            value: v.clone(),
            label: l.clone(),
            selected: filter.class.as_deref() == Some(v.as_str()),
        }).collect::<Vec<_>>(),
        total => totals.dossiers,
        by_class => by_class,
        on_time_pct => totals.on_time_pct,
        late_apologised => totals.late_apologised,
        apology_pct => totals.apology_pct,
        rows => lines,
        first => cursor == 0,
        first_page => format!("/dashboard/dossiers?{}", link(&[])),
        next_page => next.map(|id| format!("/dashboard/dossiers?{}", link(&[("cursor", id.to_string())]))),
        file_name => export_name(filter),
        csv => format!("/api/v1/dossiers?{}", link(&[("format", "csv".into())])),
        periods => report_periods(today),
        xlsx => format!("/api/v1/dossiers?{}", link(&[("format", "xlsx".into())])),
    };
    render_auditor(ctx).map_err(ApiError::internal)
}

/// The periods the report form offers, newest first: this and last month,
/// quarter, half-year and year (the current one counted up to today).
fn report_periods(today: chrono::NaiveDate) -> Vec<Choice> {
    use chrono::Datelike;
    let (y, m) = (today.year(), today.month());
    let q = (m - 1) / 3 + 1;
    let (py, pm) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
    let (qy, pq) = if q == 1 { (y - 1, 4) } else { (y, q - 1) };
    let half = if m <= 6 { 1 } else { 2 };
    let (hy, ph) = if half == 1 { (y - 1, 2) } else { (y, 1) };
    [
        format!("{y}-{m:02}"),
        format!("{py}-{pm:02}"),
        format!("{y}-Q{q}"),
        format!("{qy}-Q{pq}"),
        format!("{y}-H{half}"),
        format!("{hy}-H{ph}"),
        format!("{y}"),
        format!("{}", y - 1),
    ]
    .into_iter()
    .enumerate()
    .filter_map(|(i, p)| {
        let period = crate::report::Period::parse(&p).ok()?;
        Some(Choice {
            label: period.label_vi(),
            value: p,
            // Last quarter is what is usually reported.
            selected: i == 3,
        })
    })
    .collect()
}

/// The units and fields offered, cached for `FACETS_FOR`.
async fn facets(s: &AppState) -> Result<Facets, ApiError> {
    let mut cached = s.facets.lock().await;
    if let Some((at, f)) = cached.as_ref()
        && at.elapsed() < FACETS_FOR
    {
        return Ok(f.clone());
    }
    let f = s.store.facets().await?;
    *cached = Some((Instant::now(), f.clone()));
    Ok(f)
}

fn time(t: Option<&str>) -> String {
    t.and_then(crate::clock::parse_db)
        .map(vn_datetime)
        .unwrap_or_default()
}

fn line(r: ListRow) -> Line {
    let class = r.class.as_deref().and_then(Class::parse);
    let days = match (r.working_days_late, r.working_days_left) {
        (Some(n), _) if n > 0 => format!("trễ {n} ngày"),
        (_, Some(n)) if class.is_some_and(Class::is_open) => format!("còn {n} ngày"),
        _ => String::new(),
    };
    let acknowledged = match (&r.acknowledged_by, &r.target_date) {
        (Some(who), Some(t)) => format!(
            "Giao, hạn {}: {who}",
            chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .map_or_else(|_| t.clone(), |d| d.format("%d/%m/%Y").to_string())
        ),
        (Some(who), None) => format!("Đã nắm: {who}"),
        _ => String::new(),
    };
    Line {
        acknowledged,
        link: crate::routing::dossier_path(&r.source, &r.code),
        letter: letter_label(r.letter.as_deref()).to_owned(),
        class: class.map_or_else(String::new, |c| c.label_vi().to_owned()),
        class_key: class.map_or_else(String::new, |c| c.as_str().to_owned()),
        received: time(Some(&r.received_at)),
        due: time(r.due_at.as_deref()),
        finished: time(r.finished_at.as_deref()),
        officer: r.officer.unwrap_or_default(),
        code: r.code,
        procedure: r.procedure_name,
        unit: r.unit_name,
        unit_code: r.unit_code,
        field: r.field_name,
        applicant: r.applicant_name,
        days,
    }
}

/// What the list holds, in words: "Hồ sơ quá hạn vào lúc nào đó trong kỳ,
/// đơn vị Phòng Kinh tế (PKT), tháng 10/2026 theo ngày tiếp nhận".
fn describe(f: &DossierFilter, facets: &Facets) -> String {
    let name = |list: &[(String, String)], code: &str| {
        list.iter()
            .find(|(c, _)| c == code)
            .map_or_else(|| code.to_owned(), |(c, n)| format!("{n} ({c})"))
    };
    let mut parts = vec![match (&f.class, f.late_in_period) {
        (Some(c), _) => format!(
            "Hồ sơ đang ở loại «{}»",
            Class::parse(c).map_or(c.as_str(), |c| c.label_vi())
        ),
        (None, true) => "Hồ sơ quá hạn vào lúc nào đó trong kỳ".to_owned(),
        (None, false) => "Tất cả hồ sơ".to_owned(),
    }];
    if f.class.is_some() && f.late_in_period {
        parts.push("đã quá hạn vào lúc nào đó trong kỳ".into());
    }
    if let Some(u) = &f.unit {
        parts.push(format!("đơn vị {}", name(&facets.units, u)));
    }
    if let Some(x) = &f.field {
        parts.push(format!("lĩnh vực {}", name(&facets.fields, x)));
    }
    if let Some(o) = &f.officer {
        parts.push(format!("cán bộ {o}"));
    }
    if let Some(src) = &f.source {
        parts.push(format!("nguồn {src}"));
    }
    let basis = if f.late_in_period {
        String::new()
    } else {
        format!(" theo {}", f.dates.label_vi().to_lowercase())
    };
    let day = |d: chrono::NaiveDate| d.format("%d/%m/%Y").to_string();
    match (f.from, f.to) {
        (Some(a), Some(b)) if whole_month(a, b) => {
            parts.push(format!("tháng {}{basis}", a.format("%m/%Y")));
        }
        (Some(a), Some(b)) => parts.push(format!("từ {} đến {}{basis}", day(a), day(b))),
        (Some(a), None) => parts.push(format!("từ {}{basis}", day(a))),
        (None, Some(b)) => parts.push(format!("đến {}{basis}", day(b))),
        (None, None) => {}
    }
    parts.join(", ")
}
