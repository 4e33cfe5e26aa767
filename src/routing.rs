//! Routing: who is responsible for what (`config/routing.toml`). Fields map to
//! the vice-chair in charge (Phó Chủ tịch phụ trách lĩnh vực), units to their
//! head; the centre and the chair receive what has no route.

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
    #[serde(default)]
    pub governing_body: Option<String>,
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

    /// Who signs a late dossier's apology for the committee: the vice-chair
    /// of its field, else the chair ("<title> <name>").
    pub fn signer(&self, field_code: &str) -> String {
        let l = self.vice_chair(field_code).unwrap_or(&self.chair);
        format!("{} {}", l.title, l.name)
    }

    /// Link to a dossier on the dashboard, when configured:
    /// `{dashboard_url}/dossiers/{source}/{code}`, each segment
    /// percent-encoded (codes are unique only within a source, and may hold
    /// `/`, spaces or Vietnamese letters).
    pub fn dossier_link(&self, source: &str, code: &str) -> Option<String> {
        let base = self.committee.dashboard_url.trim_end_matches('/');
        (!base.is_empty()).then(|| format!("{base}{}", dossier_path(source, code)))
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(r.signer("DD"), "Phó Chủ tịch UBND phường Lê Văn Thành");
        assert_eq!(r.signer("ANNINH"), "Chủ tịch UBND phường Nguyễn Văn Minh");
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
