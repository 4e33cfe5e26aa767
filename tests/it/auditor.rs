//! The auditors' questions over real HTTP, answered against the source's own
//! records (the simulator's snapshot, not the store): a period on each of
//! the three dates it can apply to, "late at any time in the period", the
//! totals, the exports named after their filters, the dashboard's page.

use crate::api::{TestApi, spawn_api};
use crate::support::*;
use chrono::{NaiveDate, NaiveDateTime};
use std::collections::{BTreeMap, BTreeSet};
use tthc_watch::calendar::{Calendar, OfficeHours};
use tthc_watch::deadline::{Class, Engine, Rules as DeadlineRules};
use tthc_watch::dossier::Dossier;

fn october() -> (NaiveDateTime, NaiveDateTime) {
    (
        t("2026-10-01 00:00"),
        t("2026-10-31 23:59") + chrono::Duration::seconds(59),
    )
}

/// The busiest unit of October's receipts.
fn busiest_unit(dossiers: &[Dossier]) -> String {
    let (a, b) = october();
    let mut n: BTreeMap<&str, usize> = BTreeMap::new();
    for d in dossiers.iter().filter(|d| (a..=b).contains(&d.received_at)) {
        *n.entry(d.unit_code.as_str()).or_default() += 1;
    }
    n.into_iter().max_by_key(|(_, n)| *n).unwrap().0.to_owned()
}

/// Every code the API lists for `query`, page by page.
async fn codes(api: &TestApi, query: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut cursor = 0;
    loop {
        let page = api
            .json(
                &format!("/api/v1/dossiers?{query}&limit=50&cursor={cursor}"),
                &api.auditor,
            )
            .await;
        for item in page["items"].as_array().unwrap() {
            assert!(out.insert(item["code"].as_str().unwrap().to_owned()));
        }
        match page["next_cursor"].as_i64() {
            Some(c) => cursor = c,
            None => return out,
        }
    }
}

fn expect(dossiers: &[Dossier], keep: impl Fn(&Dossier) -> bool) -> BTreeSet<String> {
    dossiers
        .iter()
        .filter(|d| keep(d))
        .map(|d| d.code.clone())
        .collect()
}

async fn the_filters_answer_what_the_source_says(backend: Backend) {
    let api = spawn_api(backend).await;
    let now = api.sim.sim.now();
    let all = api.sim.sim.snapshot();
    let unit = busiest_unit(&all);
    let (a, b) = october();
    let mine = |d: &Dossier| d.unit_code == unit;
    let within = |t: Option<NaiveDateTime>| t.is_some_and(|t| (a..=b).contains(&t));

    // A period on each of the three dates.
    let received = expect(&all, |d| mine(d) && within(Some(d.received_at)));
    let due = expect(&all, |d| mine(d) && within(d.due_at));
    let finished = expect(&all, |d| mine(d) && within(d.finished_at.or(d.returned_at)));
    assert!(!received.is_empty() && !due.is_empty() && !finished.is_empty());
    assert_ne!(received, due);
    let q = format!("unit={unit}&month=2026-10");
    assert_eq!(codes(&api, &q).await, received);
    assert_eq!(codes(&api, &format!("{q}&date=received")).await, received);
    assert_eq!(codes(&api, &format!("{q}&date=due")).await, due);
    assert_eq!(codes(&api, &format!("{q}&date=finished")).await, finished);
    assert_eq!(
        codes(
            &api,
            &format!("unit={unit}&from=2026-10-01&to=2026-10-31&date=due")
        )
        .await,
        due,
        "from/to are the month's days"
    );

    // Late at any time in October: judged overdue or late, past the due
    // date it missed before October ended, not finished before it began.
    let (cal, hours, rules) = (
        Calendar::builtin().unwrap(),
        OfficeHours::default(),
        DeadlineRules::default(),
    );
    let engine = Engine::new(&cal, &hours, &rules);
    let late = expect(&all, |d| {
        let v = engine.evaluate(d, now).unwrap();
        mine(d)
            && matches!(v.class, Class::Overdue | Class::Late)
            && v.due_at.is_some_and(|due| due < b)
            && d.finished_at.or(d.returned_at).is_none_or(|f| f >= a)
    });
    assert!(!late.is_empty());
    let lq = format!("{q}&late_in_period=true");
    assert_eq!(codes(&api, &lq).await, late);
    // Still overdue today, among them: the class is today's.
    let overdue_now = expect(&all, |d| {
        late.contains(&d.code) && engine.evaluate(d, now).unwrap().class == Class::Overdue
    });
    assert_eq!(
        codes(&api, &format!("{lq}&class=overdue")).await,
        overdue_now
    );

    // The totals count what is listed.
    let totals = api
        .json(&format!("/api/v1/dossiers/totals?{lq}"), &api.auditor)
        .await;
    assert_eq!(totals["dossiers"], late.len() as i64, "{totals}");
    let by_class: i64 = totals["by_class"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_i64().unwrap())
        .sum();
    assert_eq!(by_class, late.len() as i64, "{totals}");
    assert_eq!(
        totals["by_class"]["overdue"].as_i64().unwrap_or(0),
        overdue_now.len() as i64
    );

    // Its export: named after the filter, the same dossiers, Excel's filter
    // buttons on a frozen header.
    let resp = reqwest::Client::new()
        .get(format!("{}/api/v1/dossiers?{lq}&format=xlsx", api.base))
        .bearer_auth(&api.auditor)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-disposition"],
        format!("attachment; filename=\"ho-so-qua-han-{unit}-2026-10.xlsx\"").as_str()
    );
    let bytes = resp.bytes().await.unwrap().to_vec();
    let sheet_xml = {
        use std::io::Read;
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.clone())).unwrap();
        let mut s = String::new();
        zip.by_name("xl/worksheets/sheet1.xml")
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        s
    };
    assert!(
        sheet_xml.contains(&format!("<autoFilter ref=\"A1:V{}\"", late.len() + 1)),
        "an autofilter over the header and every row"
    );
    assert!(sheet_xml.contains("ySplit=\"1\""), "a frozen header");
    use calamine::{Data, Reader};
    let mut wb: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let range = wb.worksheet_range("Hồ sơ").unwrap();
    let in_file: BTreeSet<String> = range.rows().skip(1).map(|r| r[1].to_string()).collect();
    assert_eq!(in_file, late);
    assert!(
        range
            .rows()
            .skip(1)
            .all(|r| r[19].to_string() == unit && matches!(r[8], Data::DateTime(_)))
    );

    // Months of the KPI export are dates, not text.
    let resp = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/kpis?group=month&from=2026-08-01&to=2026-11-25&format=xlsx",
            api.base
        ))
        .bearer_auth(&api.auditor)
        .send()
        .await
        .unwrap();
    let bytes = resp.bytes().await.unwrap().to_vec();
    let mut wb: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let range = wb.worksheet_range("Chỉ số").unwrap();
    let months: Vec<NaiveDate> = range
        .rows()
        .skip(1)
        .map(|r| match &r[0] {
            Data::DateTime(m) => excel_time(m).date(),
            other => panic!("a month is a date: {other:?}"),
        })
        .collect();
    assert!(months.contains(&NaiveDate::from_ymd_opt(2026, 10, 1).unwrap()));

    // The dashboard's page shows the same count, names the unit with its
    // code, links every code to its page and offers both downloads.
    let (status, page) = api
        .get(&format!("/dashboard/dossiers?{lq}"), Some(&api.auditor))
        .await;
    assert_eq!(status, 200, "{page}");
    // minijinja writes '/' in attributes as an entity; a browser reads it back.
    let page = page.replace("&#x2f;", "/");
    assert!(
        page.contains(&format!("<span id=\"total\">{}</span>", late.len())),
        "{page}"
    );
    assert!(page.contains(&format!("({unit})")));
    assert!(page.contains("Quá hạn vào lúc nào đó trong kỳ"));
    for code in late.iter().take(5) {
        assert!(page.contains(&format!("<a href=\"/dossiers/tinh/{code}\">{code}</a>")));
    }
    assert!(page.contains("format=xlsx") && page.contains("format=csv"));
    // The periodic report's form, last quarter chosen.
    assert!(page.contains("action=\"/api/v1/report\""));
    assert!(
        page.contains("<option value=\"2026-Q3\" selected>Quý III năm 2026</option>"),
        "{page}"
    );
    // Empty form fields filter nothing; a bad value is named, in Vietnamese.
    let (status, _) = api
        .get(
            &format!("/dashboard/dossiers?unit={unit}&month=2026-10&from=&to=&officer=&class="),
            Some(&api.auditor),
        )
        .await;
    assert_eq!(status, 200);
    let (status, page) = api
        .get("/dashboard/dossiers?date=tomorrow", Some(&api.auditor))
        .await;
    assert_eq!(status, 400);
    assert!(page.contains("Bộ lọc không hợp lệ") && page.contains("tomorrow"));
    let (status, body) = api
        .get("/api/v1/dossiers?late_in_period=maybe", Some(&api.auditor))
        .await;
    assert_eq!(status, 400);
    assert!(body.contains("late_in_period"), "{body}");
}

#[tokio::test]
async fn the_filters_answer_what_the_source_says_sqlite() {
    the_filters_answer_what_the_source_says(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_filters_answer_what_the_source_says_postgres() {
    if !postgres_available().await {
        return;
    }
    the_filters_answer_what_the_source_says(Backend::Postgres).await;
}
