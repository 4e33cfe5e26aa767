//! Leaders' one-tap links over real HTTP and real SMTP: the links in the
//! emails sent, opened (nothing recorded: mail scanners open links),
//! confirmed (recorded once, in the audit trail and on the dossier's
//! timeline), replayed, altered and expired (each refused, nothing changed).

use crate::api::{TestApi, spawn_api_with};
use crate::support::*;

/// Every link of the emails sent to `role` holders that opens `/ack/…`,
/// with the recipient.
fn ack_links(site: &TestApi, text_label: &str) -> Vec<(String, String)> {
    site.sink
        .messages()
        .iter()
        .flat_map(|m| {
            let to = m["to"][0].as_str().unwrap_or_default().to_owned();
            let base = site.base.clone();
            m["text"]
                .as_str()
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.trim().strip_prefix(text_label))
                .filter_map(move |rest| {
                    let at = rest.find(&format!("{base}/ack/"))?;
                    Some(rest[at + base.len() + 5..].trim().to_owned())
                })
                .map(move |t| (to.clone(), t))
                .collect::<Vec<_>>()
        })
        .collect()
}

async fn acks_in_store(site: &TestApi) -> i64 {
    site.db
        .store
        .fetch_i64("SELECT COUNT(*) FROM acknowledgements")
        .await
        .unwrap()
}

async fn a_leader_acknowledges_from_the_email(backend: Backend) {
    let site = spawn_api_with(backend, 600, true).await;
    let http = reqwest::Client::new();
    let acks = ack_links(&site, "Đã nắm, sẽ chỉ đạo:");
    let assigns = ack_links(&site, "Giao ");
    assert!(!acks.is_empty(), "acknowledgement links in the emails");
    assert!(!assigns.is_empty(), "the vice-chairs' assignment links");

    // Opening a link records nothing.
    let (to, token) = acks[0].clone();
    let url = format!("{}/ack/{token}", site.base);
    for _ in 0..3 {
        let r = http.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let page = r.text().await.unwrap();
        assert!(page.contains("Đã nắm, sẽ chỉ đạo") && page.contains("id=\"confirm\""));
    }
    assert_eq!(acks_in_store(&site).await, 0, "opening is not confirming");

    // The button records it, once, and says what.
    let r = http.post(&url).form(&[("x", "")]).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("Đã ghi nhận") && page.contains(&to), "{page}");
    assert_eq!(acks_in_store(&site).await, 1);
    // Replayed: refused, nothing more.
    for r in [
        http.post(&url).form(&[("x", "")]).send().await.unwrap(),
        http.get(&url).send().await.unwrap(),
    ] {
        assert_eq!(r.status(), 410);
        assert!(r.text().await.unwrap().contains("đã được dùng lúc"));
    }
    assert_eq!(acks_in_store(&site).await, 1);

    // Altered (another dossier's code in the payload) or cut: refused.
    let mut forged = token.clone().into_bytes();
    let at = token.find('.').unwrap() + 5;
    forged[at] = if forged[at] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    for bad in [forged.as_str(), &token[..token.len() - 3]] {
        let r = http
            .post(format!("{}/ack/{bad}", site.base))
            .form(&[("x", "")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        assert!(r.text().await.unwrap().contains("Liên kết không hợp lệ"));
    }
    assert_eq!(acks_in_store(&site).await, 1);

    // An assignment: a unit, a date from today on, a note.
    let (vice_chair, token) = assigns[0].clone();
    let url = format!("{}/ack/{token}", site.base);
    let page = http.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Giao xử lý hồ sơ") && page.contains("name=\"target_date\""));
    let r = http
        .post(&url)
        .form(&[("unit", "Phòng Kinh tế"), ("target_date", "2020-01-01")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "a date already past");
    assert!(r.text().await.unwrap().contains("đã qua"));
    let target = (site.sim.sim.now().date() + chrono::Duration::days(2)).to_string();
    let r = http
        .post(&url)
        .form(&[
            ("unit", "Phòng Kinh tế"),
            ("target_date", target.as_str()),
            ("note", "Ưu tiên giải quyết trong tuần"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(
        page.contains(&vice_chair) && page.contains("giao Phòng Kinh tế xử lý"),
        "{page}"
    );
    assert_eq!(acks_in_store(&site).await, 2);

    // Both in the audit trail (who, what), which still verifies.
    let store = &site.db.store;
    let acked = store.audit_entries("alert_acknowledged", 10).await.unwrap();
    assert_eq!(acked.len(), 1);
    assert_eq!(acked[0].subject, to);
    let assigned = store.audit_entries("dossier_assigned", 10).await.unwrap();
    assert_eq!(assigned.len(), 1);
    assert!(assigned[0].detail.contains("Ưu tiên giải quyết trong tuần"));
    assert!(assigned[0].detail.contains(&target));
    assert!(matches!(
        store.verify_audit().await.unwrap(),
        tthc_watch::store::audit::Verification::Intact { .. }
    ));
}

#[tokio::test]
async fn a_leader_acknowledges_from_the_email_sqlite() {
    a_leader_acknowledges_from_the_email(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_leader_acknowledges_from_the_email_postgres() {
    if !postgres_available().await {
        return;
    }
    a_leader_acknowledges_from_the_email(Backend::Postgres).await;
}

#[tokio::test]
async fn an_expired_link_is_refused() {
    use tthc_watch::ack::{Grant, Purpose, Signer};
    let site = spawn_api_with(Backend::Sqlite, 300, false).await;
    let now = site.sim.sim.now();
    let key = site.db.store.ack_key(now).await.unwrap();
    let d = site.sim.sim.snapshot().remove(0);
    let token = Signer::new(key).sign(&Grant {
        purpose: Purpose::Ack,
        recipient: "pct@example.gov.vn".into(),
        source: "tinh".into(),
        code: d.code,
        due_at: d.due_at,
        rung: "overdue".into(),
        expires_at: now - chrono::Duration::minutes(1),
    });
    let r = reqwest::Client::new()
        .post(format!("{}/ack/{token}", site.base))
        .form(&[("x", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 410);
    assert!(r.text().await.unwrap().contains("đã hết hạn"));
    assert_eq!(acks_in_store(&site).await, 0);
}
