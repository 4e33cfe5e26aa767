//! Routing: who is responsible for what (`config/routing.toml`). Fields map to
//! the vice-chair in charge (Phó Chủ tịch phụ trách lĩnh vực), units to their
//! head; the centre and the chair receive what has no route. It also says who
//! issues an apology letter ([`Routing::letter_issuer`]): the committee, signed
//! "KT. CHỦ TỊCH / PHÓ CHỦ TỊCH" by the vice-chair of the field, or a unit
//! that issues its own (`issues_letters`), signed by its head.

use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

pub const BUILTIN_ORIGIN: &str = "config/routing.toml";
const BUILTIN: &str = include_str!("../config/routing.toml");

#[derive(Debug, thiserror::Error)]
pub enum RoutingError {
    #[error("cannot read routing file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Committee {
    pub name: String,
    /// A line above the committee's header in letters; Nghị định 30/2020
    /// puts none above a People's Committee, so it is normally absent.
    #[serde(default)]
    pub governing_body: Option<String>,
    /// The committee as a letter's text names it ("Ủy ban nhân dân phường
    /// Ninh Hòa"); `name` when absent.
    #[serde(default)]
    pub letter_name: Option<String>,
    /// Header lines of its letters (Phụ lục I: "ỦY BAN NHÂN DÂN" over
    /// "PHƯỜNG NINH HÒA"); `name` on one line when empty.
    #[serde(default)]
    pub letter_header: Vec<String>,
    pub place: String,
    #[serde(default)]
    pub dashboard_url: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Centre {
    pub name: String,
    pub emails: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Leader {
    pub name: String,
    pub title: String,
    pub email: String,
    #[serde(default)]
    pub fields: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unit {
    pub name: String,
    pub head: String,
    /// The head's title as emails address them ("Trưởng phòng …"); when
    /// absent, "Thủ trưởng <unit name>".
    #[serde(default)]
    pub head_title: Option<String>,
    pub email: String,
    /// The unit issues the apology letters of its dossiers itself (a
    /// department or branch), signed by its head; otherwise the committee does.
    #[serde(default)]
    pub issues_letters: bool,
    /// The head's title over the signature ("TRƯỞNG PHÒNG", "GIÁM ĐỐC");
    /// guessed from the unit's name when absent.
    #[serde(default)]
    pub signer_title: Option<String>,
    /// The line above the unit's name in its letters' header; the
    /// committee's `name` when absent (a department under the committee).
    #[serde(default)]
    pub governing_body: Option<String>,
}

/// Who issues an apology letter and signs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LetterIssuer {
    pub governing_body: Option<String>,
    /// Header lines, joined by `\n`.
    pub header: String,
    /// As the letter's text names it.
    pub name: String,
    pub signer_title: Vec<String>,
    pub signer_name: String,
    /// Whether the issuer is the handling unit itself.
    pub is_unit: bool,
}

impl Unit {
    pub fn head_title(&self) -> String {
        self.head_title
            .clone()
            .unwrap_or_else(|| format!("Thủ trưởng {}", self.name))
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoutingFile {
    committee: Committee,
    centre: Centre,
    chair: Leader,
    #[serde(default)]
    vice_chairs: Vec<Leader>,
    #[serde(default)]
    units: BTreeMap<String, Unit>,
}

/// Someone to tell, with why they are told.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Recipient {
    pub email: String,
    pub name: String,
    /// chair, vice_chair, unit_head, centre
    pub role: &'static str,
}

#[derive(Clone, Debug)]
pub struct Routing {
    pub origin: String,
    pub committee: Committee,
    pub centre: Centre,
    pub chair: Leader,
    pub vice_chairs: Vec<Leader>,
    pub units: BTreeMap<String, Unit>,
    by_field: HashMap<String, usize>,
}

impl Routing {
    /// The routing `escalation.routing_file` names, or the built-in one.
    pub fn from_settings(s: &crate::config::EscalationSettings) -> Result<Routing, RoutingError> {
        if s.routing_file.trim().is_empty() {
            Routing::builtin()
        } else {
            Routing::load(Path::new(&s.routing_file))
        }
    }

    pub fn builtin() -> Result<Routing, RoutingError> {
        Routing::from_toml_str(BUILTIN, BUILTIN_ORIGIN)
    }

    pub fn load(path: &Path) -> Result<Routing, RoutingError> {
        let text = std::fs::read_to_string(path).map_err(|source| RoutingError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Routing::from_toml_str(&text, &path.display().to_string())
    }

    pub fn from_toml_str(text: &str, origin: &str) -> Result<Routing, RoutingError> {
        let invalid = |message: String| RoutingError::Invalid {
            origin: origin.to_owned(),
            message,
        };
        let f: RoutingFile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let check_email = |key: &str, e: &str| -> Result<(), RoutingError> {
            e.parse::<lettre::Address>()
                .map(|_| ())
                .map_err(|err| invalid(format!("{key}: '{e}' is not an email address ({err})")))
        };
        if f.centre.emails.is_empty() {
            return Err(invalid(
                "centre.emails: at least one address is needed".into(),
            ));
        }
        for e in &f.centre.emails {
            check_email("centre.emails", e)?;
        }
        check_email("chair.email", &f.chair.email)?;
        let mut by_field = HashMap::new();
        for (i, v) in f.vice_chairs.iter().enumerate() {
            check_email(&format!("vice_chairs[{i}].email ({})", v.name), &v.email)?;
            for field in &v.fields {
                if let Some(j) = by_field.insert(field.clone(), i) {
                    return Err(invalid(format!(
                        "field {field} is assigned to both {} and {}; give each field one vice-chair",
                        f.vice_chairs[j].name, v.name
                    )));
                }
            }
        }
        for (code, u) in &f.units {
            check_email(&format!("units.{code}.email"), &u.email)?;
        }
        Ok(Routing {
            origin: origin.to_owned(),
            committee: f.committee,
            centre: f.centre,
            chair: f.chair,
            vice_chairs: f.vice_chairs,
            units: f.units,
            by_field,
        })
    }

    pub fn vice_chair(&self, field_code: &str) -> Option<&Leader> {
        self.by_field.get(field_code).map(|i| &self.vice_chairs[*i])
    }

    pub fn unit(&self, unit_code: &str) -> Option<&Unit> {
        self.units.get(unit_code)
    }

    /// Whether `email` is someone this routing can tell (chair, a
    /// vice-chair, a unit, the centre); case-insensitive.
    pub fn knows(&self, email: &str) -> bool {
        std::iter::once(&self.chair.email)
            .chain(self.vice_chairs.iter().map(|v| &v.email))
            .chain(self.units.values().map(|u| &u.email))
            .chain(self.centre.emails.iter())
            .any(|e| e.eq_ignore_ascii_case(email))
    }

    pub fn chair_recipient(&self) -> Recipient {
        Recipient {
            email: self.chair.email.clone(),
            name: self.chair.name.clone(),
            role: "chair",
        }
    }

    pub fn centre_recipients(&self) -> Vec<Recipient> {
        self.centre
            .emails
            .iter()
            .map(|e| Recipient {
                email: e.clone(),
                name: self.centre.name.clone(),
                role: "centre",
            })
            .collect()
    }

    pub fn vice_chair_recipient(&self, field_code: &str) -> Option<Recipient> {
        self.vice_chair(field_code).map(|v| Recipient {
            email: v.email.clone(),
            name: v.name.clone(),
            role: "vice_chair",
        })
    }

    pub fn unit_head_recipient(&self, unit_code: &str) -> Option<Recipient> {
        self.unit(unit_code).map(|u| Recipient {
            email: u.email.clone(),
            name: u.head.clone(),
            role: "unit_head",
        })
    }

    /// The title of the person at `email` in `role` (chair, vice_chair,
    /// unit_head), for the salutation; the centre has none.
    pub fn title_of(&self, role: &str, email: &str) -> Option<String> {
        match role {
            "chair" => Some(self.chair.title.clone()),
            "vice_chair" => self
                .vice_chairs
                .iter()
                .find(|v| v.email == email)
                .map(|v| v.title.clone()),
            "unit_head" => self
                .units
                .values()
                .find(|u| u.email == email)
                .map(Unit::head_title),
            _ => None,
        }
    }

    /// Who issues the apology letter of a dossier of this field and unit: the
    /// unit when it `issues_letters` (signed by its head), else the committee,
    /// signed "KT. CHỦ TỊCH / PHÓ CHỦ TỊCH" by the vice-chair in charge of the
    /// field, or by the chair when the field has none.
    pub fn letter_issuer(&self, field_code: &str, unit_code: &str) -> LetterIssuer {
        if let Some(u) = self.unit(unit_code).filter(|u| u.issues_letters) {
            return LetterIssuer {
                governing_body: Some(
                    u.governing_body
                        .clone()
                        .unwrap_or_else(|| self.committee.name.clone()),
                ),
                header: u.name.clone(),
                name: u.name.clone(),
                signer_title: vec![
                    u.signer_title
                        .clone()
                        .unwrap_or_else(|| head_title(&u.name).to_owned()),
                ],
                signer_name: u.head.clone(),
                is_unit: true,
            };
        }
        let c = &self.committee;
        let header = if c.letter_header.is_empty() {
            c.name.clone()
        } else {
            c.letter_header.join("\n")
        };
        let (signer_title, signer_name) = match self.vice_chair(field_code) {
            Some(v) => (
                vec!["KT. CHỦ TỊCH".to_owned(), "PHÓ CHỦ TỊCH".to_owned()],
                v.name.clone(),
            ),
            None => (vec!["CHỦ TỊCH".to_owned()], self.chair.name.clone()),
        };
        LetterIssuer {
            governing_body: c.governing_body.clone(),
            header,
            name: c.letter_name.clone().unwrap_or_else(|| c.name.clone()),
            signer_title,
            signer_name,
            is_unit: false,
        }
    }

    /// Who signs a late dossier's apology, as emails name them ("<title>
    /// <name>"): the head of a unit that issues its own letters, else the
    /// vice-chair of its field, else the chair (`letter_issuer`).
    pub fn signer(&self, field_code: &str, unit_code: &str) -> String {
        if let Some(u) = self.unit(unit_code).filter(|u| u.issues_letters) {
            return format!("{} {}", u.head_title(), u.head);
        }
        let l = self.vice_chair(field_code).unwrap_or(&self.chair);
        format!("{} {}", l.title, l.name)
    }

    /// Link to a dossier on the dashboard, when configured:
    /// `{dashboard_url}/dossiers/{source}/{code}`, each segment
    /// percent-encoded (codes are unique only within a source, and may hold
    /// `/`, spaces or Vietnamese letters).
    pub fn dossier_link(&self, source: &str, code: &str) -> Option<String> {
        self.link(&dossier_path(source, code))
    }

    /// An acknowledgement link's address: `{dashboard_url}/ack/{token}`.
    pub fn ack_link(&self, token: &str) -> Option<String> {
        self.link(&format!("/ack/{token}"))
    }

    /// `path` on the dashboard, when its address is configured.
    fn link(&self, path: &str) -> Option<String> {
        let base = self.committee.dashboard_url.trim_end_matches('/');
        (!base.is_empty()).then(|| format!("{base}{path}"))
    }
}

/// The dossier page's path on the dashboard: `/dossiers/{source}/{code}`
/// (codes are unique only within a source).
pub fn dossier_path(source: &str, code: &str) -> String {
    format!(
        "/dossiers/{}/{}",
        encode_segment(source),
        encode_segment(code)
    )
}

/// Percent-encodes everything but RFC 3986's unreserved characters: the
/// strictest form, which every router decodes back to the same segment.
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A unit head's usual title by the kind of unit its name starts with.
fn head_title(unit_name: &str) -> &'static str {
    let n = unit_name.trim().to_lowercase();
    if n.starts_with("văn phòng") {
        "CHÁNH VĂN PHÒNG"
    } else if n.starts_with("phòng") {
        "TRƯỞNG PHÒNG"
    } else if ["chi nhánh", "trung tâm", "sở"]
        .iter()
        .any(|p| n.starts_with(p))
    {
        "GIÁM ĐỐC"
    } else if n.starts_with("ban") {
        "TRƯỞNG BAN"
    } else {
        "THỦ TRƯỞNG ĐƠN VỊ"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issuer_of_a_letter_follows_routing() {
        let r = Routing::builtin().unwrap();
        let c = r.letter_issuer("DD", "PKT");
        assert_eq!(c.header, "ỦY BAN NHÂN DÂN\nPHƯỜNG NINH HÒA");
        assert_eq!(c.governing_body, None);
        assert_eq!(c.name, "Ủy ban nhân dân phường Ninh Hòa");
        assert_eq!(c.signer_title, ["KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH"]);
        assert_eq!(c.signer_name, "Lê Văn Thành");
        assert_eq!(r.letter_issuer("XYZ", "PKT").signer_title, ["CHỦ TỊCH"]);

        let text = BUILTIN.replace("[units.PKT]\n", "[units.PKT]\nissues_letters = true\n");
        let r = Routing::from_toml_str(&text, "routing.toml").unwrap();
        let u = r.letter_issuer("DD", "PKT");
        assert!(u.is_unit);
        assert_eq!(u.governing_body.as_deref(), Some("UBND PHƯỜNG NINH HÒA"));
        assert_eq!(u.header, "Phòng Kinh tế, Hạ tầng và Đô thị");
        assert_eq!(u.signer_title, ["TRƯỞNG PHÒNG"]);
        assert_eq!(u.signer_name, "Trần Văn Hùng");
        assert!(!r.letter_issuer("DD", "VP").is_unit);
        assert_eq!(
            head_title("Chi nhánh Văn phòng đăng ký đất đai"),
            "GIÁM ĐỐC"
        );
        assert_eq!(head_title("Văn phòng HĐND và UBND"), "CHÁNH VĂN PHÒNG");
    }

    #[test]
    fn shipped_routing_is_valid() {
        let r = Routing::builtin().unwrap();
        assert_eq!(r.vice_chair("DD").unwrap().name, "Lê Văn Thành");
        assert_eq!(r.unit_head_recipient("PKT").unwrap().name, "Trần Văn Hùng");
        assert!(r.vice_chair("XYZ").is_none());
    }

    #[test]
    fn titles_and_signers_come_from_routing() {
        let r = Routing::builtin().unwrap();
        assert_eq!(
            r.title_of("vice_chair", "pct.kinhte@ninhhoa.example.vn")
                .as_deref(),
            Some("Phó Chủ tịch UBND phường")
        );
        assert_eq!(
            r.title_of("chair", "chutich@ninhhoa.example.vn").as_deref(),
            Some("Chủ tịch UBND phường")
        );
        assert!(
            r.title_of("unit_head", "pkt@ninhhoa.example.vn")
                .is_some_and(|t| t.contains("Kinh tế"))
        );
        assert_eq!(r.title_of("centre", "ttpvhcc@ninhhoa.example.vn"), None);
        assert_eq!(
            r.signer("DD", "PKT"),
            "Phó Chủ tịch UBND phường Lê Văn Thành"
        );
        assert_eq!(
            r.signer("ANNINH", "PKT"),
            "Chủ tịch UBND phường Nguyễn Văn Minh"
        );
    }

    #[test]
    fn dossier_links_name_source_and_code_percent_encoded() {
        let mut r = Routing::builtin().unwrap();
        assert_eq!(r.dossier_link("tinh", "X"), None);
        r.committee.dashboard_url = "https://tthc.example.vn/".into();
        assert_eq!(
            r.dossier_link("tinh", "000.20.31.H99-250318-0011")
                .as_deref(),
            Some("https://tthc.example.vn/dossiers/tinh/000.20.31.H99-250318-0011")
        );
        assert_eq!(
            r.dossier_link("sở x", "H56/26 1?#%").as_deref(),
            Some("https://tthc.example.vn/dossiers/s%E1%BB%9F%20x/H56%2F26%201%3F%23%25")
        );
    }

    #[test]
    fn errors_name_the_file_and_key() {
        let bad = BUILTIN.replace("pct.kinhte@ninhhoa.example.vn", "not-an-email");
        let err = Routing::from_toml_str(&bad, "routing.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("routing.toml")
                && err.contains("vice_chairs[0].email")
                && err.contains("not-an-email"),
            "{err}"
        );
        let twice = BUILTIN.replace("fields = [\"HT\",", "fields = [\"DD\", \"HT\",");
        let err = Routing::from_toml_str(&twice, "routing.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("field DD is assigned to both"), "{err}");
        let typo = BUILTIN.replace("[chair]\nname", "[chair]\nnmae");
        let err = Routing::from_toml_str(&typo, "routing.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("nmae"), "{err}");
    }
}
