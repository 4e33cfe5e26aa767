//! The leaders' dashboard: one server-rendered Vietnamese HTML page (plus its
//! login page) showing the open dossiers at risk, on-time rates by unit and by
//! field, a 12-month trend chart, apology letters waiting to be issued and the
//! freshness of each data source.
//!
//! Everything is self-contained: the templates live in `templates/` and are
//! compiled into the binary, the CSS is inline, the chart is an inline SVG, and
//! the page needs no JavaScript and no external asset. Rendering goes through
//! minijinja with HTML auto-escaping (the template names end in `.html`), so
//! every value coming from the data is escaped; the only raw HTML inserted is
//! the SVG built here, whose text is escaped by [`escape`].

use minijinja::{Environment, UndefinedBehavior, Value, context};
use std::sync::{Arc, LazyLock};

/// Everything the dashboard shows; filled by the caller, already formatted
/// where the field is a `String`.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct DashboardData {
    /// "UBND PHƯỜNG NINH HÒA"
    pub committee: String,
    /// "08:00 25/11/2026" (already formatted)
    pub generated_at: String,
    /// Today's open dossiers at risk.
    pub counts: Counts,
    /// Lists (may be long: all rows are shown, in a scrollable box).
    pub due_today: Vec<Row>,
    pub due_soon: Vec<Row>,
    pub overdue: Vec<Row>,
    /// On-time % per unit, for the chosen period.
    pub by_unit: Vec<RateRow>,
    pub by_field: Vec<RateRow>,
    /// e.g. 98.0
    pub target_on_time_pct: f64,
    /// e.g. 100.0
    pub target_apology_pct: f64,
    /// The whole committee.
    pub overall: RateRow,
    /// 12 months, oldest first.
    pub trend: Vec<TrendPoint>,
    pub letters_pending: Vec<LetterRow>,
    /// Data freshness.
    pub sources: Vec<SourceRow>,
    /// "Năm 2026 (đến 25/11/2026)"
    pub period_label: String,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Counts {
    pub overdue: u64,
    pub due_today: u64,
    pub due_soon: u64,
    pub open: u64,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Row {
    pub code: String,
    pub procedure: String,
    pub applicant: String,
    pub unit: String,
    pub field: String,
    pub due: String,
    /// "còn 2 ngày" / "quá 3 ngày" / "hôm nay"
    pub days: String,
    pub step: Option<String>,
    pub link: Option<String>,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct RateRow {
    pub name: String,
    pub received: u64,
    pub finished: u64,
    pub before_due: u64,
    pub on_due_day: u64,
    pub late: u64,
    pub on_time_pct: Option<f64>,
    pub late_apologised: u64,
    pub apology_pct: Option<f64>,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct TrendPoint {
    /// "12/2025"
    pub label: String,
    pub finished: u64,
    pub on_time_pct: Option<f64>,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct LetterRow {
    pub code: String,
    pub version: i64,
    pub generated: String,
    pub unit: String,
    /// The dossier's page.
    pub link: Option<String>,
    /// The draft itself, for roles that may see the applicant's name.
    pub download: Option<String>,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct SourceRow {
    pub name: String,
    pub last_success: Option<String>,
    pub stale: bool,
}

/// Cloneable (the error is shared) because the environment is built once and
/// a failure to build it is returned to every request.
#[derive(Clone, Debug, thiserror::Error)]
pub enum DashboardError {
    #[error("dashboard template {name}: {source:#}")]
    Template {
        name: &'static str,
        source: Arc<minijinja::Error>,
    },
}

const DASHBOARD_TEMPLATE: &str = "dashboard.html";
const LOGIN_TEMPLATE: &str = "dashboard_login.html";
/// The CSS both pages include in their `<style>`.
const CSS_TEMPLATE: &str = "dashboard.css";
const ACK_TEMPLATE: &str = "ack.html";
const ACK_HTML: &str = include_str!("templates/ack.html");
const AUDITOR_TEMPLATE: &str = "dossiers.html";
const AUDITOR_HTML: &str = include_str!("templates/dossiers.html");
const DOSSIER_TEMPLATE: &str = "dossier.html";
const DOSSIER_HTML: &str = include_str!("templates/dossier.html");

// minijinja drops one trailing newline from each template (its default), so
// the files end with a newline like any text file and the CSS is included on
// a line of its own.
const DASHBOARD_HTML: &str = include_str!("templates/dashboard.html");
const LOGIN_HTML: &str = include_str!("templates/dashboard_login.html");
const DASHBOARD_CSS: &str = include_str!("templates/dashboard.css");

/// Built on first use and shared by every request: the templates are fixed at
/// build time, so there is nothing to parse again.
static ENVIRONMENT: LazyLock<Result<Environment<'static>, DashboardError>> =
    LazyLock::new(environment);

/// Renders the dashboard page.
pub fn render_dashboard(data: &DashboardData) -> Result<String, DashboardError> {
    let ctx = context! {
        trend_svg => Value::from_safe_string(trend_svg(&data.trend, data.target_on_time_pct)),
        any_stale => data.sources.iter().any(|s| s.stale),
        ..Value::from_serialize(data)
    };
    render(DASHBOARD_TEMPLATE, ctx)
}

/// The login page: a form POSTing `token` to `action` (e.g. "/dashboard/login");
/// `error` shown in red when Some.
pub fn render_login(action: &str, error: Option<&str>) -> Result<String, DashboardError> {
    render(LOGIN_TEMPLATE, context! { action, error })
}

/// The dossier page (`dossier_page`).
/// An acknowledgement link's page (`api::ack_page` fills its context).
pub fn render_ack(ctx: Value) -> Result<String, DashboardError> {
    render(ACK_TEMPLATE, ctx)
}

/// The auditors' filtered list (`api::auditor` fills its context).
pub fn render_auditor(ctx: Value) -> Result<String, DashboardError> {
    render(AUDITOR_TEMPLATE, ctx)
}

pub fn render_dossier(ctx: Value) -> Result<String, DashboardError> {
    render(DOSSIER_TEMPLATE, ctx)
}

/// A stored or ISO time ("2026-11-23 08:00:00", "2026-11-23T08:00:00+07:00")
/// as people read it: "08:00 23/11/2026"; anything else as it is.
fn filter_vn(v: Option<String>) -> String {
    let Some(v) = v else { return String::new() };
    if let Ok(d) = chrono::NaiveDate::parse_from_str(&v, "%Y-%m-%d") {
        return d.format("%d/%m/%Y").to_string();
    }
    let t = v.get(..19).map(|s| s.replace('T', " "));
    t.as_deref()
        .and_then(crate::clock::parse_db)
        .map_or(v, crate::notify::vn_datetime)
}

/// A class or a ladder rung by its Vietnamese name ("overdue" → "Quá hạn").
fn filter_label(v: Option<String>) -> String {
    let Some(v) = v else { return String::new() };
    if let Some(c) = crate::deadline::Class::parse(&v) {
        return c.label_vi().to_owned();
    }
    crate::escalation::Rung::parse(&v).map_or(v, |r| r.tag_vi().to_owned())
}

fn render(name: &'static str, ctx: Value) -> Result<String, DashboardError> {
    let env = ENVIRONMENT.as_ref().map_err(Clone::clone)?;
    env.get_template(name)
        .and_then(|t| t.render(ctx))
        .map_err(|source| DashboardError::Template {
            name,
            source: Arc::new(source),
        })
}

fn environment() -> Result<Environment<'static>, DashboardError> {
    let mut env = Environment::new();
    // A typo in the template must fail loudly (in the tests), not render blank.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_filter("pct", filter_pct);
    env.add_filter("num", filter_num);
    env.add_filter("target", |v: f64| fmt_target(v));
    env.add_filter("href", filter_href);
    env.add_filter("vn", filter_vn);
    env.add_filter("label", filter_label);
    env.add_function("rate_class", rate_class);
    for (name, source) in [
        (DASHBOARD_TEMPLATE, DASHBOARD_HTML),
        (LOGIN_TEMPLATE, LOGIN_HTML),
        (CSS_TEMPLATE, DASHBOARD_CSS),
        (DOSSIER_TEMPLATE, DOSSIER_HTML),
        (AUDITOR_TEMPLATE, AUDITOR_HTML),
        (ACK_TEMPLATE, ACK_HTML),
    ] {
        env.add_template(name, source)
            .map_err(|source| DashboardError::Template {
                name,
                source: Arc::new(source),
            })?;
    }
    Ok(env)
}

// ---------------------------------------------------------------------------
// Vietnamese number formatting
// ---------------------------------------------------------------------------

/// "93,6%" (one decimal, decimal comma); "—" when there is nothing to rate.
fn fmt_pct(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{}%", fmt_decimal1(v)),
        _ => "—".to_owned(),
    }
}

/// One decimal with a decimal comma: 93.64 -> "93,6" (never "-0,0").
fn fmt_decimal1(v: f64) -> String {
    let s = format!("{v:.1}").replace('.', ",");
    if s == "-0,0" { "0,0".to_owned() } else { s }
}

/// A target such as 98.0 as "98", 97.5 as "97,5".
fn fmt_target(v: f64) -> String {
    if !v.is_finite() {
        return "—".to_owned();
    }
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        fmt_decimal1(v)
    }
}

/// Thousands grouped with a dot, as written in Vietnamese: 12345 -> "12.345".
fn fmt_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    out
}

fn filter_pct(v: Option<f64>) -> String {
    fmt_pct(v)
}

fn filter_num(v: u64) -> String {
    fmt_count(v)
}

/// CSS class of a rate against its target: "ok" (reached), "bad" (below),
/// "none" (nothing to rate). The comparison is on the exact value, so 97,96 %
/// against 98 % is below target even though it displays as "98,0%".
fn rate_class(v: Option<f64>, target: f64) -> &'static str {
    match v {
        Some(v) if v.is_finite() => {
            if v + 1e-9 >= target {
                "ok"
            } else {
                "bad"
            }
        }
        _ => "none",
    }
}

/// Only http(s) and same-site links are rendered as links (no `javascript:`).
fn filter_href(link: Option<String>) -> Option<String> {
    let link = link?;
    let link = link.trim();
    if link.is_empty() {
        return None;
    }
    let lower = link.to_ascii_lowercase();
    let has_scheme = match lower.find(':') {
        Some(colon) => !lower[..colon].contains(['/', '?', '#']),
        None => false,
    };
    if !has_scheme || lower.starts_with("https://") || lower.starts_with("http://") {
        Some(link.to_owned())
    } else {
        None
    }
}

use crate::text::escape_html as escape;

// ---------------------------------------------------------------------------
// Trend chart
// ---------------------------------------------------------------------------

// The drawing is laid out in viewBox units; the SVG scales to its container.
// 420 units wide keeps the text readable both on a 390 px phone and on a
// desktop column.
const SVG_W: f64 = 420.0;
const SVG_H: f64 = 248.0;
const PLOT_LEFT: f64 = 42.0;
const PLOT_RIGHT: f64 = 412.0;
const PLOT_TOP: f64 = 34.0;
const PLOT_BOTTOM: f64 = 200.0;

/// 12-month on-time trend as an inline SVG (viewBox, scales to the width; a
/// polyline of on-time % per month, a dashed horizontal line at the target %,
/// month labels, y axis 0–100 % or a zoomed range like 80–100 % when all values
/// are high; months with no finished dossiers show a gap, not 0).
pub fn trend_svg(points: &[TrendPoint], target_pct: f64) -> String {
    use std::fmt::Write as _;

    let target = if target_pct.is_finite() {
        Some(target_pct.clamp(0.0, 100.0))
    } else {
        None
    };
    // A month counts only when something was finished and its rate is a number.
    let value = |p: &TrendPoint| -> Option<f64> {
        match p.on_time_pct {
            Some(v) if v.is_finite() && p.finished > 0 => Some(v.clamp(0.0, 100.0)),
            _ => None,
        }
    };
    let values: Vec<Option<f64>> = points.iter().map(value).collect();
    let known: Vec<f64> = values.iter().flatten().copied().collect();

    // Zoom the y axis when every value (and the target) is high.
    let lowest = known
        .iter()
        .copied()
        .chain(target)
        .fold(f64::INFINITY, f64::min);
    let (lo, step) = if known.is_empty() {
        (0.0, 20.0)
    } else if lowest >= 90.0 {
        (90.0, 2.0)
    } else if lowest >= 80.0 {
        (80.0, 5.0)
    } else if lowest >= 50.0 {
        (50.0, 10.0)
    } else {
        (0.0, 20.0)
    };
    let y_of = |v: f64| PLOT_BOTTOM - (v - lo) / (100.0 - lo) * (PLOT_BOTTOM - PLOT_TOP);
    let n = points.len().max(1) as f64;
    let slot = (PLOT_RIGHT - PLOT_LEFT) / n;
    let x_of = |i: usize| PLOT_LEFT + slot * (i as f64 + 0.5);

    let aria = match target {
        Some(t) => format!(
            "Biểu đồ tỷ lệ giải quyết hồ sơ đúng hạn theo tháng, mục tiêu {}%",
            fmt_target(t)
        ),
        None => "Biểu đồ tỷ lệ giải quyết hồ sơ đúng hạn theo tháng".to_owned(),
    };
    let mut s = String::with_capacity(8 * 1024);
    let _ = write!(
        s,
        r#"<svg id="trend" class="trend" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {SVG_W} {SVG_H}" width="100%" preserveAspectRatio="xMidYMid meet" role="img" aria-label="{}" font-family="system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', 'DejaVu Sans', Arial, sans-serif">"#,
        escape(&aria)
    );
    let _ = write!(s, "<title>{}</title>", escape(&aria));

    // Months without a rate: a grey band, so the gap reads as "no data".
    for (i, (p, v)) in points.iter().zip(&values).enumerate() {
        if v.is_none() {
            let _ = write!(
                s,
                r##"<rect class="gap" x="{:.1}" y="{PLOT_TOP:.1}" width="{:.1}" height="{:.1}" fill="#eef1f5"><title>{}: chưa có hồ sơ giải quyết xong</title></rect>"##,
                x_of(i) - slot / 2.0 + 1.0,
                (slot - 2.0).max(0.5),
                PLOT_BOTTOM - PLOT_TOP,
                escape(p.label.trim())
            );
        }
    }

    // Key, above the plot so that it never hides a data point.
    let ky = 12.0;
    let _ = write!(
        s,
        r##"<g class="key" font-size="12" fill="#3e4c59"><line x1="{PLOT_LEFT:.1}" y1="{ky:.1}" x2="{:.1}" y2="{ky:.1}" stroke="#1565c0" stroke-width="2.5"/><text x="{:.1}" y="{:.1}">Tỷ lệ đúng hạn</text>"##,
        PLOT_LEFT + 18.0,
        PLOT_LEFT + 23.0,
        ky + 4.0
    );
    if let Some(t) = target {
        let kx = PLOT_LEFT + 128.0;
        let _ = write!(
            s,
            r##"<line x1="{kx:.1}" y1="{ky:.1}" x2="{:.1}" y2="{ky:.1}" stroke="#d84315" stroke-width="2" stroke-dasharray="5 3"/><text class="target-label" x="{:.1}" y="{:.1}" fill="#bf360c" font-weight="600">Mục tiêu {}%</text>"##,
            kx + 18.0,
            kx + 23.0,
            ky + 4.0,
            fmt_target(t)
        );
    }
    s.push_str("</g>");

    // Grid and y labels.
    let mut g = lo;
    while g <= 100.0 + 1e-9 {
        let y = y_of(g);
        let stroke = if (g - lo).abs() < 1e-9 {
            "#9aa5b1"
        } else {
            "#e3e8ef"
        };
        let _ = write!(
            s,
            r##"<line x1="{PLOT_LEFT:.1}" y1="{y:.1}" x2="{PLOT_RIGHT:.1}" y2="{y:.1}" stroke="{stroke}" stroke-width="1"/><text x="{:.1}" y="{:.1}" font-size="11.5" fill="#5f6b7a" text-anchor="end">{}%</text>"##,
            PLOT_LEFT - 5.0,
            y + 4.0,
            fmt_target(g)
        );
        g += step;
    }

    // Target line.
    if let Some(t) = target {
        let y = y_of(t.max(lo));
        let _ = write!(
            s,
            r##"<line class="target" x1="{PLOT_LEFT:.1}" y1="{y:.1}" x2="{PLOT_RIGHT:.1}" y2="{y:.1}" stroke="#d84315" stroke-width="1.6" stroke-dasharray="6 4"><title>Mục tiêu {}%</title></line>"##,
            fmt_target(t)
        );
    }

    // Lines: one polyline per run of consecutive known months (a gap breaks it).
    let mut run: Vec<(f64, f64)> = Vec::new();
    let flush = |run: &mut Vec<(f64, f64)>, s: &mut String| {
        if run.len() >= 2 {
            let pts: Vec<String> = run.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
            let _ = write!(
                s,
                r##"<polyline points="{}" fill="none" stroke="#1565c0" stroke-width="2.2" stroke-linejoin="round" stroke-linecap="round"/>"##,
                pts.join(" ")
            );
        }
        run.clear();
    };
    for (i, v) in values.iter().enumerate() {
        match v {
            Some(v) => run.push((x_of(i), y_of(*v))),
            None => flush(&mut run, &mut s),
        }
    }
    flush(&mut run, &mut s);

    // Points, value labels and month labels (the year under the first month
    // and wherever it changes).
    let mut last_year: Option<String> = None;
    for (i, (p, v)) in points.iter().zip(&values).enumerate() {
        let x = x_of(i);
        let label = p.label.trim();
        let (month, year) = split_month_label(label);
        let year = match year {
            Some(y) if last_year.as_ref() != Some(&y) => {
                last_year = Some(y.clone());
                Some(y)
            }
            _ => None,
        };
        if let Some(v) = v {
            let y = y_of(*v);
            let below = target.is_some_and(|t| *v + 1e-9 < t);
            let colour = if below { "#c62828" } else { "#2e7d32" };
            let _ = write!(
                s,
                r##"<g class="pt"><title>{}: {}% đúng hạn ({} hồ sơ đã giải quyết)</title><circle cx="{x:.1}" cy="{y:.1}" r="4" fill="{colour}" stroke="#fff" stroke-width="1.2"/><text x="{x:.1}" y="{:.1}" font-size="12" font-weight="700" fill="{colour}" text-anchor="middle" stroke="#fff" stroke-width="3" paint-order="stroke">{}</text></g>"##,
                escape(label),
                fmt_decimal1(*v),
                fmt_count(p.finished),
                y - 8.0,
                fmt_decimal1(*v)
            );
        }
        let fill = if v.is_some() { "#323f4b" } else { "#9aa5b1" };
        let _ = write!(
            s,
            r##"<text class="mlabel" x="{x:.1}" y="{:.1}" font-size="13" fill="{fill}" text-anchor="middle"><title>{}</title><tspan x="{x:.1}">{}</tspan>"##,
            PLOT_BOTTOM + 18.0,
            escape(label),
            escape(&month)
        );
        if let Some(year) = year {
            let _ = write!(
                s,
                r##"<tspan x="{x:.1}" dy="14" font-size="10.5" fill="#7b8794">{}</tspan>"##,
                escape(&year)
            );
        }
        s.push_str("</text>");
    }

    if known.is_empty() {
        let _ = write!(
            s,
            r##"<text class="empty" x="{:.1}" y="{:.1}" font-size="12" fill="#5f6b7a" text-anchor="middle">Chưa có hồ sơ giải quyết xong trong kỳ</text>"##,
            (PLOT_LEFT + PLOT_RIGHT) / 2.0,
            (PLOT_TOP + PLOT_BOTTOM) / 2.0
        );
    }
    s.push_str("</svg>");
    s
}

/// "12/2025" -> ("T12", Some("2025")); anything else is shown as it is.
fn split_month_label(label: &str) -> (String, Option<String>) {
    match label.split_once('/') {
        Some((m, y)) if !m.is_empty() && m.len() <= 2 && m.bytes().all(|b| b.is_ascii_digit()) => {
            let m = m.trim_start_matches('0');
            (format!("T{m}"), Some(y.to_owned()))
        }
        _ => (label.to_owned(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn row(code: &str, procedure: &str, applicant: &str, unit: &str, field: &str) -> Row {
        Row {
            code: code.to_owned(),
            procedure: procedure.to_owned(),
            applicant: applicant.to_owned(),
            unit: unit.to_owned(),
            field: field.to_owned(),
            due: "25/11/2026".to_owned(),
            days: "hôm nay".to_owned(),
            step: Some("Chuyên viên thẩm định".to_owned()),
            link: Some(format!("https://dichvucong.khanhhoa.gov.vn/hoso/{code}")),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn rate(
        name: &str,
        received: u64,
        finished: u64,
        before_due: u64,
        on_due_day: u64,
        late: u64,
        late_apologised: u64,
    ) -> RateRow {
        let pct = |num: u64, den: u64| (den > 0).then(|| num as f64 * 100.0 / den as f64);
        RateRow {
            name: name.to_owned(),
            received,
            finished,
            before_due,
            on_due_day,
            late,
            on_time_pct: pct(before_due + on_due_day, finished),
            late_apologised,
            apology_pct: pct(late_apologised, late),
        }
    }

    const UNITS: [&str; 3] = [
        "Văn phòng HĐND và UBND",
        "Phòng Kinh tế, Hạ tầng và Đô thị",
        "Phòng Văn hóa – Xã hội",
    ];
    const FIELDS: [&str; 4] = ["Hộ tịch", "Chứng thực", "Đất đai", "Xây dựng"];
    const PROCEDURES: [&str; 6] = [
        "Đăng ký khai sinh",
        "Chứng thực bản sao từ bản chính giấy tờ, văn bản",
        "Đăng ký biến động quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất",
        "Cấp giấy phép xây dựng nhà ở riêng lẻ",
        "Đăng ký kết hôn",
        "Cấp bản sao trích lục hộ tịch",
    ];
    const PEOPLE: [&str; 6] = [
        "Nguyễn Văn An",
        "Trần Thị Bích Ngọc",
        "Lê Hoàng Phúc",
        "Phạm Minh Châu",
        "Võ Thị Hạnh",
        "Đặng Quốc Huy",
    ];

    /// A realistic ward: 3 units, 4 fields, 12 months with a gap (Tết).
    fn sample() -> DashboardData {
        let make = |prefix: &str, n: usize, days: &dyn Fn(usize) -> String| -> Vec<Row> {
            (0..n)
                .map(|i| {
                    let mut r = row(
                        &format!("H41.112-{prefix}-{:04}", i + 1),
                        PROCEDURES[i % PROCEDURES.len()],
                        PEOPLE[i % PEOPLE.len()],
                        UNITS[i % UNITS.len()],
                        FIELDS[i % FIELDS.len()],
                    );
                    r.days = days(i);
                    if i % 4 == 3 {
                        r.step = None;
                        r.link = None;
                    }
                    r
                })
                .collect()
        };
        let mut overdue = make("251118", 3, &|i| format!("quá {} ngày", i + 1));
        overdue[0].applicant = "Nguyễn Văn <script>alert('x')</script>".to_owned();
        overdue[1].link = Some("javascript:alert(1)".to_owned());
        overdue[2].due = "20/11/2026".to_owned();
        let due_today = make("251120", 5, &|_| "hôm nay".to_owned());
        let mut due_soon = make("251122", 12, &|i| format!("còn {} ngày", 1 + i % 3));
        for r in &mut due_soon {
            r.due = "27/11/2026".to_owned();
        }
        let trend_values = [
            Some(91.2),
            Some(94.5),
            None,
            Some(96.0),
            Some(92.8),
            Some(95.1),
            Some(97.3),
            Some(98.4),
            Some(93.0),
            Some(90.6),
            Some(94.9),
            Some(93.6),
        ];
        let trend = trend_values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let (month, year) = if i == 0 { (12, 2025) } else { (i, 2026) };
                TrendPoint {
                    label: format!("{month:02}/{year}"),
                    finished: if v.is_some() { 90 + i as u64 * 3 } else { 0 },
                    on_time_pct: *v,
                }
            })
            .collect();
        DashboardData {
            committee: "UBND PHƯỜNG NINH HÒA".to_owned(),
            generated_at: "08:00 25/11/2026".to_owned(),
            counts: Counts {
                overdue: 3,
                due_today: 5,
                due_soon: 12,
                open: 148,
            },
            due_today,
            due_soon,
            overdue,
            by_unit: vec![
                rate(UNITS[0], 820, 770, 700, 60, 10, 10),
                rate(UNITS[1], 310, 290, 200, 40, 50, 44),
                rate(UNITS[2], 212, 190, 120, 50, 20, 18),
            ],
            by_field: vec![
                rate(FIELDS[0], 700, 680, 640, 35, 5, 5),
                rate(FIELDS[1], 330, 330, 330, 0, 0, 0),
                rate(FIELDS[2], 250, 190, 40, 95, 55, 50),
                rate(FIELDS[3], 62, 50, 10, 20, 20, 17),
            ],
            target_on_time_pct: 98.0,
            target_apology_pct: 100.0,
            overall: rate("Toàn phường", 1342, 1250, 1020, 150, 80, 72),
            trend,
            letters_pending: vec![
                LetterRow {
                    code: "H41.112-251105-0012".to_owned(),
                    version: 1,
                    generated: "24/11/2026".to_owned(),
                    unit: UNITS[1].to_owned(),
                    link: Some("/dossiers/tinh/H41.112-251105-0012".to_owned()),
                    download: Some("/dossiers/tinh/H41.112-251105-0012/letters/1.docx".to_owned()),
                },
                LetterRow {
                    code: "H41.112-251030-0007".to_owned(),
                    version: 2,
                    generated: "25/11/2026".to_owned(),
                    unit: UNITS[2].to_owned(),
                    link: None,
                    download: None,
                },
            ],
            sources: vec![
                SourceRow {
                    name: "Cổng Dịch vụ công tỉnh Khánh Hòa".to_owned(),
                    last_success: Some("07:55 25/11/2026".to_owned()),
                    stale: false,
                },
                SourceRow {
                    name: "Hệ thống một cửa điện tử".to_owned(),
                    last_success: Some("14:20 24/11/2026".to_owned()),
                    stale: true,
                },
                SourceRow {
                    name: "Lịch ngày nghỉ".to_owned(),
                    last_success: None,
                    stale: true,
                },
            ],
            period_label: "Năm 2026 (đến 25/11/2026)".to_owned(),
        }
    }

    /// Every text a long unbreakable word, every number huge: the phone
    /// layout must still not grow sideways.
    fn long_words() -> DashboardData {
        let w = "X".repeat(90);
        let row = Row {
            code: w.clone(),
            procedure: w.clone(),
            applicant: w.clone(),
            unit: w.clone(),
            field: w.clone(),
            due: w.clone(),
            days: w.clone(),
            step: Some(w.clone()),
            link: Some(format!("/hoso/{w}")),
        };
        let rate = RateRow {
            name: w.clone(),
            received: 123_456_789,
            finished: 123_456_789,
            on_time_pct: Some(99.99),
            ..RateRow::default()
        };
        DashboardData {
            committee: w.clone(),
            generated_at: w.clone(),
            period_label: w.clone(),
            counts: Counts {
                overdue: 123_456,
                due_today: 123_456,
                due_soon: 123_456,
                open: 123_456,
            },
            overdue: vec![row.clone()],
            due_today: vec![row.clone()],
            due_soon: vec![row],
            by_unit: vec![rate.clone()],
            by_field: vec![rate.clone()],
            overall: rate,
            trend: vec![TrendPoint {
                label: w.clone(),
                finished: 1,
                on_time_pct: Some(50.0),
            }],
            letters_pending: vec![LetterRow {
                code: w.clone(),
                version: 1,
                generated: w.clone(),
                unit: w.clone(),
                link: Some(w.clone()),
                download: None,
            }],
            sources: vec![SourceRow {
                name: w.clone(),
                last_success: Some(w),
                stale: true,
            }],
            target_on_time_pct: 98.0,
            target_apology_pct: 100.0,
        }
    }

    // -- a small HTML checker -------------------------------------------------

    const VOID: [&str; 6] = ["meta", "br", "input", "link", "img", "hr"];

    /// Checks that every element is closed in order and that ids are unique;
    /// returns the start tags seen (name and raw attribute text).
    fn check_well_formed(html: &str) -> Vec<(String, String)> {
        let mut stack: Vec<String> = Vec::new();
        let mut tags = Vec::new();
        let mut ids = HashSet::new();
        let mut rest = html;
        while let Some(lt) = rest.find('<') {
            let text = &rest[..lt];
            assert!(!text.contains('>'), "stray '>' in text: {text:?}");
            rest = &rest[lt..];
            if let Some(after) = rest.strip_prefix("<!--") {
                let end = after.find("-->").expect("comment closed");
                rest = &after[end + 3..];
                continue;
            }
            if rest.starts_with("<!") {
                let end = rest.find('>').expect("doctype closed");
                rest = &rest[end + 1..];
                continue;
            }
            // Find the tag's end, skipping quoted attribute values.
            let mut quote = None;
            let mut end = None;
            for (i, c) in rest.char_indices().skip(1) {
                match (quote, c) {
                    (Some(q), c) if c == q => quote = None,
                    (Some(_), _) => {}
                    (None, '"' | '\'') => quote = Some(c),
                    (None, '<') => panic!("'<' inside a tag: {}", &rest[..i]),
                    (None, '>') => {
                        end = Some(i);
                        break;
                    }
                    _ => {}
                }
            }
            let end = end.expect("tag closed");
            let tag = &rest[1..end];
            rest = &rest[end + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                let open = stack.pop().unwrap_or_default();
                assert_eq!(open, name.trim(), "mismatched end tag");
                continue;
            }
            let self_closing = tag.ends_with('/');
            let tag = tag.trim_end_matches('/');
            let (name, attrs) = tag.split_once(char::is_whitespace).unwrap_or((tag, ""));
            assert!(
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric()),
                "bad tag name {name:?}"
            );
            if let Some(pos) = attrs.find("id=\"") {
                let id = &attrs[pos + 4..];
                let id = &id[..id.find('"').expect("id closed")];
                assert!(ids.insert(id.to_owned()), "duplicate id {id}");
            }
            tags.push((name.to_owned(), attrs.to_owned()));
            if name == "style" {
                let close = rest.find("</style>").expect("style closed");
                rest = &rest[close + "</style>".len()..];
            } else if !self_closing && !VOID.contains(&name) {
                stack.push(name.to_owned());
            }
        }
        assert!(stack.is_empty(), "unclosed elements: {stack:?}");
        tags
    }

    /// The text directly inside the element with this id.
    fn text_of_id<'a>(html: &'a str, id: &str) -> Option<&'a str> {
        let marker = format!("id=\"{id}\"");
        let at = html.find(&marker)?;
        let start = at + html[at..].find('>')? + 1;
        let len = html[start..].find('<')?;
        Some(html[start..start + len].trim())
    }

    /// Undoes minijinja's HTML escaping, for comparing text.
    fn unescape(s: &str) -> String {
        s.replace("&#x2f;", "/")
            .replace("&#x27;", "'")
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    }

    fn has_combining_marks(s: &str) -> bool {
        s.chars().any(|c| ('\u{300}'..='\u{36f}').contains(&c))
    }

    #[test]
    fn sample_page_is_well_formed_and_shows_the_numbers() {
        let html = render_dashboard(&sample()).expect("renders");
        let tags = check_well_formed(&html);
        let id = |id: &str| text_of_id(&html, id).map(unescape);
        assert_eq!(id("count-overdue").as_deref(), Some("3"));
        assert_eq!(id("count-due-today").as_deref(), Some("5"));
        assert_eq!(id("count-due-soon").as_deref(), Some("12"));
        assert_eq!(id("count-open").as_deref(), Some("148"));
        assert_eq!(id("overall-on-time").as_deref(), Some("93,6%"));

        // Markup in the data is escaped; a javascript: link is not a link.
        assert!(!html.contains("<script"));
        assert!(html.contains("Nguyễn Văn &lt;script&gt;alert(&#x27;x&#x27;)"));
        assert!(!html.contains("javascript:"));

        let text = unescape(&html);
        assert!(text.starts_with("<!DOCTYPE html>"));
        assert!(text.contains(r#"<html lang="vi">"#));
        assert!(
            text.contains(
                r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#
            )
        );
        assert!(text.contains("<title>Theo dõi hồ sơ TTHC – UBND PHƯỜNG NINH HÒA</title>"));
        assert!(text.contains("Cập nhật lúc <strong>08:00 25/11/2026</strong>"));
        assert!(text.contains("<strong>Năm 2026 (đến 25/11/2026)</strong>"));
        for label in [
            "Quá hạn",
            "Đến hạn hôm nay",
            "Sắp đến hạn",
            "Đang giải quyết",
            "Tỷ lệ giải quyết đúng hạn",
            "Trước hạn",
            "Đúng hạn",
            "Trễ hạn",
            "Tỷ lệ xin lỗi",
            "Văn bản xin lỗi chờ ban hành",
            "Dữ liệu cập nhật lúc 07:55 25/11/2026",
            "dữ liệu cũ",
            "Phòng Kinh tế, Hạ tầng và Đô thị",
            "Đăng ký biến động quyền sử dụng đất",
        ] {
            assert!(text.contains(label), "missing {label}");
        }
        // Every dossier is listed, in <details> sections; links where given.
        assert_eq!(tags.iter().filter(|(n, _)| n == "details").count(), 3);
        assert_eq!(
            html.matches(r#"<td class="c-code">"#).count(),
            3 + 5 + 12 + 2
        );
        assert!(text.contains(
            r#"<a href="https://dichvucong.khanhhoa.gov.vn/hoso/H41.112-251118-0001">H41.112-251118-0001</a>"#
        ));
        assert!(text.contains(r#"<td class="c-code">H41.112-251118-0002</td>"#));
        assert!(text.contains(r#"<span class="days overdue">quá 3 ngày</span>"#));
        // Grouped thousands and the decimal comma in the tables, coloured
        // against the target.
        assert!(text.contains(r#"<td class="num">1.342</td>"#));
        assert!(text.contains(r#"rate ok"><span>98,7%</span>"#));
        assert!(text.contains(r#"rate bad"><span>82,8%</span>"#));
        assert!(text.contains(r#"rate bad"><span id="overall-on-time">93,6%</span>"#));
        assert!(text.contains(r#"<td class="num rate bad">90,0%</td>"#));
        // The chart: once, with 12 month labels and the target line.
        assert_eq!(html.matches(r#"<svg id="trend""#).count(), 1);
        assert_eq!(html.matches(r#"class="mlabel""#).count(), 12);
        assert!(html.contains(r#"<line class="target""#));
        assert!(text.contains("Mục tiêu 98%"));
        // The stale warning, and NFC text (no combining marks) throughout.
        assert!(text.contains("Có nguồn dữ liệu chưa được cập nhật kịp thời"));
        assert!(!has_combining_marks(&html));
        assert!(!has_combining_marks(DASHBOARD_HTML) && !has_combining_marks(LOGIN_HTML));
        assert!(!has_combining_marks(DASHBOARD_CSS));
    }

    #[test]
    fn empty_data_renders_placeholders() {
        let html = render_dashboard(&DashboardData::default()).expect("renders");
        check_well_formed(&html);
        assert_eq!(text_of_id(&html, "count-overdue"), Some("0"));
        assert_eq!(text_of_id(&html, "overall-on-time"), Some("—"));
        assert!(html.contains("<title>Theo dõi hồ sơ TTHC</title>"));
        assert!(html.contains(r#"<th scope="row">Tổng cộng</th>"#));
        assert!(html.contains("Không có hồ sơ quá hạn."));
        assert!(html.contains("Không có văn bản xin lỗi chờ ban hành."));
        assert!(html.contains("Chưa cấu hình nguồn dữ liệu."));
        assert!(!html.contains("Có nguồn dữ liệu chưa được cập nhật kịp thời"));
        assert!(html.contains(r#"<svg id="trend""#));
    }

    #[test]
    fn long_lists_and_long_words_render_in_full() {
        let mut data = sample();
        let template = data.due_soon[0].clone();
        data.due_soon = (0..300)
            .map(|i| Row {
                code: format!("H41.112-251124-{i:04}"),
                ..template.clone()
            })
            .collect();
        let html = render_dashboard(&data).expect("renders");
        check_well_formed(&html);
        assert!(html.contains("H41.112-251124-0000") && html.contains("H41.112-251124-0299"));
        assert_eq!(
            html.matches(r#"<td class="c-code">"#).count(),
            3 + 5 + 300 + 2
        );

        let html = render_dashboard(&long_words()).expect("renders");
        check_well_formed(&html);
        assert_eq!(text_of_id(&html, "count-open"), Some("123456"));
        assert!(html.contains(">123.456.789<"));
    }

    #[test]
    fn rate_colours_follow_the_targets() {
        let mut data = sample();
        data.by_unit
            .push(rate("Bộ phận chưa có hồ sơ", 4, 0, 0, 0, 0, 0));
        let html = render_dashboard(&data).expect("renders");
        assert!(html.contains(r#"<td class="num rate none"><span>—</span></td>"#));
        // 100 % apologies against a 100 % target is reached; 90 % is not.
        assert!(html.contains(r#"<td class="num rate ok">100,0%</td>"#));
        assert!(html.contains(r#"<td class="num rate bad">90,0%</td>"#));
        assert_eq!(rate_class(Some(98.0), 98.0), "ok");
        assert_eq!(rate_class(Some(97.96), 98.0), "bad");
        assert_eq!(rate_class(None, 98.0), "none");
        assert_eq!(rate_class(Some(f64::NAN), 98.0), "none");
    }

    #[test]
    fn numbers_are_written_the_vietnamese_way() {
        assert_eq!(fmt_pct(Some(93.6)), "93,6%");
        assert_eq!(fmt_pct(Some(1170.0 * 100.0 / 1250.0)), "93,6%");
        assert_eq!(fmt_pct(Some(100.0)), "100,0%");
        assert_eq!(fmt_pct(Some(-0.01)), "0,0%");
        assert_eq!(fmt_pct(Some(f64::INFINITY)), "—");
        assert_eq!(fmt_pct(None), "—");
        assert_eq!(fmt_target(98.0), "98");
        assert_eq!(fmt_target(97.5), "97,5");
        assert_eq!(fmt_count(0), "0");
        assert_eq!(fmt_count(999), "999");
        assert_eq!(fmt_count(1000), "1.000");
        assert_eq!(fmt_count(1_234_567), "1.234.567");
    }

    #[test]
    fn only_web_links_are_links() {
        let ok = |s: &str| filter_href(Some(s.to_owned()));
        assert_eq!(
            ok("https://a.vn/x?y=1"),
            Some("https://a.vn/x?y=1".to_owned())
        );
        assert_eq!(
            ok("/dashboard/hoso/1"),
            Some("/dashboard/hoso/1".to_owned())
        );
        assert_eq!(ok("hoso?id=a:b"), Some("hoso?id=a:b".to_owned()));
        assert_eq!(ok("javascript:alert(1)"), None);
        assert_eq!(ok(" JavaScript:alert(1)"), None);
        assert_eq!(ok("data:text/html,x"), None);
        assert_eq!(ok("   "), None);
        assert_eq!(filter_href(None), None);
    }

    #[test]
    fn login_page_has_the_form_and_escapes_the_error() {
        let html = render_login("/dashboard/login", None).expect("renders");
        check_well_formed(&html);
        assert!(unescape(&html).contains(r#"<form method="post" action="/dashboard/login""#));
        assert!(html.contains(r#"<input type="password" id="token" name="token""#));
        assert!(html.contains("<label for=\"token\">Mã truy cập (token)</label>"));
        assert!(html.contains(r#"<button type="submit">Đăng nhập</button>"#));
        assert!(
            html.contains(
                r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#
            )
        );
        assert!(!html.contains("login-error"));

        let html = render_login("/dashboard/login\"><x", Some("Mã truy cập không đúng <b>"))
            .expect("renders");
        check_well_formed(&html);
        assert_eq!(
            text_of_id(&html, "login-error"),
            Some("Mã truy cập không đúng &lt;b&gt;")
        );
        assert!(!html.contains("\"><x"));
    }

    fn months(values: &[Option<f64>]) -> Vec<TrendPoint> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| TrendPoint {
                label: format!("{:02}/2026", i + 1),
                finished: if v.is_some() { 10 } else { 0 },
                on_time_pct: *v,
            })
            .collect()
    }

    fn check_svg(svg: &str) {
        assert!(svg.starts_with(r#"<svg id="trend""#) && svg.ends_with("</svg>"));
        assert!(svg.contains(&format!("viewBox=\"0 0 {SVG_W} {SVG_H}\"")));
        check_well_formed(svg);
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
    }

    #[test]
    fn trend_svg_edge_cases() {
        let empty = trend_svg(&[], 98.0);
        check_svg(&empty);
        assert!(empty.contains("Chưa có hồ sơ giải quyết xong trong kỳ"));
        assert_eq!(empty.matches("class=\"mlabel\"").count(), 0);

        let none = trend_svg(&months(&[None; 12]), 98.0);
        check_svg(&none);
        assert_eq!(none.matches("class=\"mlabel\"").count(), 12);
        assert!(!none.contains("<polyline") && !none.contains("<circle"));
        assert!(
            none.contains(">0%<") && none.contains(">100%<"),
            "full axis"
        );

        let one = trend_svg(&months(&[Some(95.0)]), 98.0);
        check_svg(&one);
        assert_eq!(one.matches("<circle").count(), 1);
        assert!(!one.contains("<polyline"));
        // A single point sits in the middle of the plot.
        let mid = (PLOT_LEFT + PLOT_RIGHT) / 2.0;
        assert!(one.contains(&format!("cx=\"{mid:.1}\"")));

        // Odd input neither panics nor leaks NaN into the drawing.
        let odd = trend_svg(
            &months(&[Some(f64::NAN), Some(120.0), Some(-5.0), Some(99.0)]),
            f64::NAN,
        );
        check_svg(&odd);
        assert!(!odd.contains("class=\"target\""));
        let odd_target = trend_svg(&months(&[Some(99.0)]), 150.0);
        check_svg(&odd_target);
        // A rate without finished dossiers is a gap, not a point.
        let mut p = months(&[Some(90.0)]);
        p[0].finished = 0;
        assert!(!trend_svg(&p, 98.0).contains("<circle"));
    }

    #[test]
    fn trend_svg_zooms_and_breaks_the_line_at_gaps() {
        let pts = sample().trend;
        let svg = trend_svg(&pts, 98.0);
        check_svg(&svg);
        // All values ≥ 90 %: the axis runs 90–100 %.
        assert!(svg.contains(">90%<") && svg.contains(">100%<") && !svg.contains(">80%<"));
        // The gap (month 3) splits the line in two; 11 points are drawn.
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 11);
        assert!(svg.contains("02/2026: chưa có hồ sơ giải quyết xong"));
        assert!(svg.contains("stroke-dasharray"));
        assert!(svg.contains(">T12</tspan>") && svg.contains(">2025</tspan>"));
        // Lower values widen the axis.
        let low = trend_svg(&months(&[Some(85.0), Some(88.0)]), 98.0);
        assert!(low.contains(">80%<") && !low.contains(">50%<"));
        let lower = trend_svg(&months(&[Some(40.0), Some(88.0)]), 98.0);
        assert!(lower.contains(">0%<"));
        // Labels are escaped.
        let mut evil = months(&[Some(95.0)]);
        evil[0].label = "<b>&".to_owned();
        let svg = trend_svg(&evil, 98.0);
        assert!(svg.contains("&lt;b&gt;&amp;") && !svg.contains("<b>"));
    }

    // -- a real browser ------------------------------------------------------

    /// A scratch folder of our own, removed when dropped.
    struct TempDir(std::path::PathBuf);

    impl TempDir {
        fn new() -> TempDir {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            let path =
                std::env::temp_dir().join(format!("tthc-dashboard-{}-{nanos}", std::process::id()));
            std::fs::create_dir_all(&path).expect("temp dir");
            TempDir(path)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Runs headless Chromium (`CHROMIUM` or /usr/bin/chromium) with its own
    /// profile in `dir`; returns what it printed on stdout. Killed after 90 s.
    fn chromium(dir: &TempDir, args: &[String]) -> String {
        use std::process::{Command, Stdio};
        let bin = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
        let profile = dir.0.join("profile");
        let out_path = dir.0.join("stdout.txt");
        let err_path = dir.0.join("stderr.txt");
        let mut child = Command::new(&bin)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--force-color-profile=srgb",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out_path).expect("stdout file"))
            .stderr(std::fs::File::create(&err_path).expect("stderr file"))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {bin} (apt-get install -y chromium): {e}"));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium did not finish within 90 s");
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        };
        let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
        assert!(status.success(), "chromium failed ({status}): {stderr}");
        std::fs::read_to_string(&out_path).expect("stdout")
    }

    /// Records, on the <body> of the top page, the document's scroll width and
    /// the elements (outside the horizontally scrollable boxes, and not inside
    /// the chart, which clips its own drawing) that stick out to the right.
    /// Test-only: the page itself has no script.
    const PROBE: &str = "<script>(function(){\
        var top=(window.parent&&window.parent!==window)?parent.document.body:document.body;\
        var w=document.documentElement.clientWidth,bad=[];\
        document.querySelectorAll('body *').forEach(function(e){\
        if(e.closest('.scroll')!==null&&!e.classList.contains('scroll'))return;\
        if(e.closest('svg')!==null&&e.tagName.toLowerCase()!=='svg')return;\
        var r=e.getBoundingClientRect();\
        if(r.width>0&&r.right>w+0.5)bad.push(e.tagName+'.'+(e.getAttribute('class')||''));});\
        top.setAttribute('data-scroll-width',String(document.documentElement.scrollWidth));\
        top.setAttribute('data-overflow',bad.slice(0,5).join(' '));\
        })();</script></body>";

    /// A page holding `html` in a `width` px iframe: headless Chromium lays
    /// out no narrower than 500 px whatever `--window-size` says, so a phone
    /// is emulated by the frame (its media queries see the frame's width).
    fn phone_frame(html: &str, width: u32) -> String {
        let height = shot_height();
        let doc = html.replace('&', "&amp;").replace('"', "&quot;");
        format!(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head>\
             <body style=\"margin:0;background:#fff\"><iframe title=\"phone\" \
             style=\"display:block;border:0;width:{width}px;height:{height}px\" \
             srcdoc=\"{doc}\"></iframe></body></html>"
        )
    }

    /// The DOM of the page at `path` as Chromium built it.
    fn dump_dom(dir: &TempDir, path: &std::path::Path, width: u32) -> String {
        chromium(
            dir,
            &[
                format!("--window-size={width},1800"),
                "--dump-dom".to_owned(),
                format!("file://{}", path.display()),
            ],
        )
    }

    /// The probe's findings in a dumped DOM: (scroll width, overflowing elements).
    fn probe_result(dom: &str) -> (u64, String) {
        let attr = |name: &str| -> String {
            let marker = format!("{name}=\"");
            let at = dom.find(&marker).expect("probe ran") + marker.len();
            dom[at..].split('"').next().unwrap_or_default().to_owned()
        };
        let width = attr("data-scroll-width").parse().expect("scroll width");
        (width, attr("data-overflow"))
    }

    /// Window height of the screenshots: `DASHBOARD_SCREENSHOT_HEIGHT`, by
    /// default 1800 (a taller one shows the whole page when reviewing).
    fn shot_height() -> u32 {
        std::env::var("DASHBOARD_SCREENSHOT_HEIGHT")
            .ok()
            .and_then(|h| h.parse().ok())
            .unwrap_or(1800)
    }

    fn screenshot(dir: &TempDir, page: &std::path::Path, width: u32, out: &std::path::Path) {
        let _ = std::fs::remove_file(out);
        chromium(
            dir,
            &[
                format!("--window-size={width},{}", shot_height()),
                format!("--screenshot={}", out.display()),
                format!("file://{}", page.display()),
            ],
        );
        let png = std::fs::read(out).expect("screenshot written");
        assert!(png.starts_with(b"\x89PNG"), "not a PNG: {}", out.display());
    }

    /// Opt-in (`cargo test -j1 -- --ignored`): needs Debian's chromium.
    /// Screenshots go to `DASHBOARD_SCREENSHOT_DIR`, by default `docs/` of the
    /// crate.
    #[test]
    #[ignore = "runs headless Chromium; cargo test -j1 -- --ignored"]
    fn real_browser_shows_the_counts_and_fits_a_phone() {
        let dir = TempDir::new();
        let html = render_dashboard(&sample()).expect("renders");
        let login =
            render_login("/dashboard/login", Some("Mã truy cập không đúng.")).expect("login");
        let write = |name: &str, text: &str| {
            let path = dir.0.join(name);
            std::fs::write(&path, text).expect("write page");
            path
        };

        // The page as it is, on a desktop.
        let page = write("dashboard.html", &html);
        let dom = dump_dom(&dir, &page, 1280);
        let id = |id: &str| text_of_id(&dom, id).map(str::to_owned);
        assert_eq!(id("count-overdue").as_deref(), Some("3"));
        assert_eq!(id("count-due-today").as_deref(), Some("5"));
        assert_eq!(id("count-due-soon").as_deref(), Some("12"));
        assert_eq!(id("count-open").as_deref(), Some("148"));
        assert_eq!(id("overall-on-time").as_deref(), Some("93,6%"));
        assert!(dom.contains("<svg id=\"trend\""));

        // Nothing sticks out sideways, on a desktop or a phone: wide tables
        // scroll inside their own box.
        let probed = html.replace("</body>", PROBE);
        let desktop = write("probe-desktop.html", &probed);
        let (scroll_width, overflow) = probe_result(&dump_dom(&dir, &desktop, 1280));
        assert!(
            scroll_width <= 1280 && overflow.is_empty(),
            "{scroll_width} px: {overflow}"
        );
        let long = render_dashboard(&long_words()).expect("renders");
        for (name, text) in [
            ("dashboard", &html),
            ("long-words", &long),
            ("login", &login),
        ] {
            let phone = write(
                &format!("probe-phone-{name}.html"),
                &phone_frame(&text.replace("</body>", PROBE), 390),
            );
            let (scroll_width, overflow) = probe_result(&dump_dom(&dir, &phone, 500));
            assert!(
                scroll_width <= 390 && overflow.is_empty(),
                "{name} on a phone: {scroll_width} px wide, sticking out: {overflow}"
            );
        }

        let docs = std::env::var_os("DASHBOARD_SCREENSHOT_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs"));
        std::fs::create_dir_all(&docs).expect("docs dir");
        let phone = write("phone.html", &phone_frame(&html, 390));
        screenshot(&dir, &phone, 390, &docs.join("dashboard-phone.png"));
        screenshot(&dir, &page, 1280, &docs.join("dashboard-desktop.png"));
        let phone_login = write("phone-login.html", &phone_frame(&login, 390));
        screenshot(&dir, &phone_login, 390, &docs.join("login-phone.png"));
    }
}
