//! The dossier page every email links to, over real HTTP behind the
//! dashboard's login: every link of every email sent answers 200 with its
//! dossier; the page explains the due date day by day (the engine's own
//! figures are checked by hand-computed cases in `deadline::tests`); the
//! letters download for the centre, not for auditors, who see no names.

use crate::api::{TestApi, spawn_api_with};
use crate::support::*;

/// Synced, checked and mailed, with the emails' links pointing at the API.
async fn site(backend: Backend) -> TestApi {
    spawn_api_with(backend, 600, true).await
}

/// A client logged in to the dashboard with `token`.
async fn login(site: &TestApi, token: &str) -> (reqwest::Client, String) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client
        .post(format!("{}/dashboard/login", site.base))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    (client, cookie)
}

async fn get(client: &reqwest::Client, cookie: &str, url: &str) -> (u16, Vec<u8>) {
    let r = client
        .get(url)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
}

/// Every `href="…"` of an HTML text, entities decoded.
fn hrefs(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|h| h.replace("&#x2f;", "/").replace("&amp;", "&"))
        .collect()
}

async fn every_link_of_every_email_opens_its_dossier(backend: Backend) {
    let site = site(backend).await;
    let (client, cookie) = login(&site, &site.centre).await;
    let mut links: Vec<String> = site
        .sink
        .messages()
        .iter()
        .flat_map(|m| hrefs(m["html"].as_str().unwrap_or_default()))
        .filter(|h| h.starts_with(&site.base))
        .collect();
    links.sort();
    links.dedup();
    assert!(links.len() >= 3, "links in the emails: {links:?}");
    for link in &links {
        let (status, body) = get(&client, &cookie, link).await;
        let page = String::from_utf8_lossy(&body);
        assert_eq!(status, 200, "{link}: {page}");
        if link.contains("/ack/") {
            // A one-tap acknowledgement link: its page and button (opening
            // records nothing; `acks` tests the rest).
            assert!(page.contains("id=\"confirm\""), "{link}");
        } else {
            assert!(page.contains("Cách tính hạn trả kết quả"), "{link}");
        }
    }
    let dossiers = format!("{}/dossiers/", site.base);
    links.retain(|l| l.starts_with(&dossiers));
    // Not logged in: the login page, not the dossier.
    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = anonymous.get(&links[0]).send().await.unwrap();
    assert_eq!(r.status(), 303);
    drop(site);
}

#[tokio::test]
async fn every_link_of_every_email_opens_its_dossier_sqlite() {
    every_link_of_every_email_opens_its_dossier(Backend::Sqlite).await;
}

#[tokio::test]
async fn every_link_of_every_email_opens_its_dossier_postgres() {
    if !postgres_available().await {
        return;
    }
    every_link_of_every_email_opens_its_dossier(Backend::Postgres).await;
}

#[tokio::test]
async fn the_page_explains_the_due_date_and_serves_letters_to_the_centre_only() {
    let site = site(Backend::Sqlite).await;
    let late = site
        .db
        .store
        .fetch_text(
            "SELECT d.source, d.code, d.applicant_name FROM dossiers d JOIN letters l ON l.dossier_id = d.id \
             WHERE d.applicant_kind = 'person' ORDER BY d.id LIMIT 1",
        )
        .await
        .unwrap();
    let [source, code, name] = &late[0][..] else {
        panic!("a late dossier with a letter: {late:?}")
    };
    let (source, code, name) = (
        source.clone().unwrap(),
        code.clone().unwrap(),
        name.clone().unwrap(),
    );
    let path = tthc_watch::routing::dossier_path(&source, &code);
    let (client, cookie) = login(&site, &site.centre).await;
    let (status, body) = get(&client, &cookie, &format!("{}{path}", site.base)).await;
    let page = String::from_utf8(body).unwrap();
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(&name), "the centre sees the applicant");
    // Day by day, ending on the date the page gives as the rules' due date.
    assert!(page.contains("<table class=\"days\">"), "{page}");
    assert!(page.contains("id=\"computed-due\""));
    assert!(page.contains("Quá hạn") || page.contains("quá"), "{page}");
    let download = format!("{}{path}/letters/1.docx", site.base);
    assert!(
        hrefs(&page)
            .iter()
            .any(|h| h == &format!("{path}/letters/1.docx"))
    );
    let (status, docx) = get(&client, &cookie, &download).await;
    assert_eq!(status, 200);
    assert!(docx.starts_with(b"PK"), "a DOCX (zip) package");

    let (client, cookie) = login(&site, &site.auditor).await;
    let (status, body) = get(&client, &cookie, &format!("{}{path}", site.base)).await;
    let page = String::from_utf8(body).unwrap();
    assert_eq!(status, 200);
    assert!(!page.contains(&name), "an auditor sees no applicant's name");
    assert!(
        !page.contains("/letters/1.docx"),
        "nor a letter to download"
    );
    let (status, body) = get(&client, &cookie, &download).await;
    assert_eq!(status, 403);
    assert!(String::from_utf8_lossy(&body).contains("thông tin cá nhân"));

    let (status, body) = get(
        &client,
        &cookie,
        &format!("{}/dossiers/tinh/KHONG-CO", site.base),
    )
    .await;
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&body).contains("Không có hồ sơ KHONG-CO"));
}

#[tokio::test]
async fn too_many_logins_are_told_in_vietnamese_on_the_login_page() {
    let api = crate::api::spawn_api(Backend::Sqlite).await;
    let client = reqwest::Client::new();
    let mut last = (0, String::new());
    for _ in 0..30 {
        let r = client
            .post(format!("{}/dashboard/login", api.base))
            .form(&[("token", "sai")])
            .send()
            .await
            .unwrap();
        last = (r.status().as_u16(), r.text().await.unwrap());
        if last.0 == 429 {
            break;
        }
    }
    assert_eq!(last.0, 429, "limited");
    assert!(last.1.contains("Vui lòng chờ một phút"), "{}", last.1);
    assert!(last.1.contains("<form"), "the login page again: {}", last.1);
}
