//! Citizens' personal data leaves only as each role may see it: an auditor
//! walks every read endpoint of the OpenAPI document (JSON, CSV and XLSX) and
//! the dashboard after an applicant's name, ID number and phone changed, and
//! meets none of the old or new values in clear; the centre meets them.

use crate::api::{TestApi, spawn_api};
use crate::support::*;
use tthc_watch::dossier::ApplicantKind;
use tthc_watch::store::Incoming;

/// The personal values of one dossier, before and after a change at the source.
struct Changed {
    source: String,
    code: String,
    unit: String,
    field: String,
    secrets: Vec<String>,
}

/// Picks a person's overdue dossier and changes its applicant at the source.
async fn change_an_applicant(api: &TestApi) -> Changed {
    let page = api
        .json("/api/v1/dossiers?class=overdue&limit=1000", &api.centre)
        .await;
    let row = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["applicant_kind"] == "person" && r["applicant_id_no"].is_string())
        .expect("an overdue dossier of a person with an ID number")
        .clone();
    let (source, code) = (
        row["source"].as_str().unwrap().to_owned(),
        row["code"].as_str().unwrap().to_owned(),
    );
    let stored = api.db.store.dossier(&source, &code).await.unwrap().unwrap();
    let mut d = stored.dossier.clone();
    assert_eq!(d.applicant_kind, ApplicantKind::Person);
    let old = (
        d.applicant_name.clone(),
        d.applicant_id_no.clone().unwrap(),
        d.applicant_phone.clone(),
    );
    d.applicant_name = "Phạm Thị Quỳnh Như".into();
    d.applicant_id_no = Some("079301009988".into());
    d.applicant_phone = Some("0918777666".into());
    d.updated_at += chrono::Duration::minutes(5);
    let at = d.updated_at;
    api.db
        .store
        .apply_page(&source, &[Incoming::new(d.clone())], &[], &[], None, at)
        .await
        .unwrap();
    let mut secrets = vec![
        old.0,
        old.1,
        d.applicant_name.clone(),
        "079301009988".into(),
    ];
    secrets.extend(old.2);
    secrets.push("0918777666".into());
    Changed {
        source,
        code,
        unit: d.unit_code,
        field: d.field_code,
        secrets,
    }
}

/// Every GET of the OpenAPI document as `token` sees it, with the parameters
/// that include the changed dossier, in every export format it offers: the
/// bodies as text (XLSX cells read back).
async fn every_read(api: &TestApi, c: &Changed, token: &str) -> Vec<(String, String)> {
    let doc = api.json("/api/v1/openapi.json", token).await;
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(op) = item.get("get") else { continue };
        let path = path
            .replace("{source}", &c.source)
            .replace("{code}", &urlencoding(&c.code));
        let mut query = Vec::new();
        let mut formats = vec![None];
        for p in op["parameters"].as_array().into_iter().flatten() {
            match p["name"].as_str().unwrap() {
                "source" if p["in"] == "query" => query.push(format!("source={}", c.source)),
                "unit" => query.push(format!("unit={}", c.unit)),
                "field" => query.push(format!("field={}", c.field)),
                "limit" => query.push("limit=1000".into()),
                "format" => formats.extend([Some("csv"), Some("xlsx")]),
                _ => {}
            }
        }
        for f in formats {
            let mut q = query.clone();
            q.extend(f.map(|f| format!("format={f}")));
            let url = format!("{}{path}?{}", api.base, q.join("&"));
            let resp = reqwest::Client::new()
                .get(&url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200, "{url}");
            let bytes = resp.bytes().await.unwrap();
            let text = if f == Some("xlsx") {
                xlsx_text(&bytes)
            } else {
                String::from_utf8(bytes.to_vec()).unwrap()
            };
            out.push((url, text));
        }
    }
    out
}

fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn xlsx_text(bytes: &[u8]) -> String {
    use calamine::Reader;
    let mut book = calamine::Xlsx::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut out = String::new();
    for name in book.sheet_names() {
        let range = book.worksheet_range(&name).unwrap();
        for row in range.rows() {
            for cell in row {
                out.push_str(&cell.to_string());
                out.push('\t');
            }
            out.push('\n');
        }
    }
    out
}

async fn dashboard(api: &TestApi, token: &str) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client
        .post(format!("{}/dashboard/login", api.base))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    client
        .get(format!("{}/dashboard", api.base))
        .header("cookie", cookie.split(';').next().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn auditors_meet_no_personal_data(backend: Backend) {
    let api = spawn_api(backend).await;
    let c = change_an_applicant(&api).await;

    let reads = every_read(&api, &c, &api.auditor).await;
    assert!(
        reads.len() >= 5,
        "{:?}",
        reads.iter().map(|r| &r.0).collect::<Vec<_>>()
    );
    let mut seen_dossier = 0;
    for (url, body) in &reads {
        seen_dossier += usize::from(body.contains(&c.code));
        for s in &c.secrets {
            assert!(
                !body.contains(s.as_str()),
                "{url} shows {s:?} to an auditor: {body}"
            );
        }
    }
    // The dossier itself is there (list, timeline, exports): masked, not left out.
    assert!(
        seen_dossier >= 3,
        "the changed dossier is missing from the reads"
    );
    let page = dashboard(&api, &api.auditor).await;
    for s in &c.secrets {
        assert!(
            !page.contains(s.as_str()),
            "the dashboard shows '{s}' to an auditor"
        );
    }

    // The centre sees them: the new values wherever the dossier is shown...
    let reads = every_read(&api, &c, &api.centre).await;
    let shown = reads
        .iter()
        .filter(|(_, body)| body.contains("Phạm Thị Quỳnh Như"))
        .count();
    assert!(shown >= 3, "the centre sees the applicant in {shown} reads");
    // ...and old and new, in the dossier's history.
    let timeline = api
        .json(
            &format!("/api/v1/dossiers/{}/{}", c.source, urlencoding(&c.code)),
            &api.centre,
        )
        .await
        .to_string();
    for s in &c.secrets {
        assert!(timeline.contains(s.as_str()), "the centre misses '{s}'");
    }
}

#[tokio::test]
async fn auditors_meet_no_personal_data_sqlite() {
    auditors_meet_no_personal_data(Backend::Sqlite).await;
}

#[tokio::test]
async fn auditors_meet_no_personal_data_postgres() {
    auditors_meet_no_personal_data(Backend::Postgres).await;
}
