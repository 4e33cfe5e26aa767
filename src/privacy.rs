//! The one masking policy for citizens' personal data. Every way a dossier
//! leaves (API lists and timelines with their history, exports, the
//! dashboard, emails) asks this module what a reader may see, so that no path
//! masks the dossier and forgets its history. A person's name becomes
//! "Nguyễn T. H." (enough to tell dossiers apart, not to identify); ID
//! numbers, phones, emails, addresses and the free-text summary become "***".
//! Organisations' names are public.

use serde_json::Value;

/// What a reader is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Masking {
    masked: bool,
}

/// The personal fields other than the name, as stored and serialised. The
/// summary (trích yếu) is free text that real systems fill with the
/// applicant's name and address: withheld whole, since no pattern finds an
/// address.
const SECRET_FIELDS: [&str; 5] = [
    "applicant_id_no",
    "applicant_phone",
    "applicant_email",
    "applicant_address",
    "summary",
];
const NAME_FIELD: &str = "applicant_name";
const KIND_FIELD: &str = "applicant_kind";
const MASK: &str = "***";

impl Masking {
    /// Everything in clear (the centre's staff, administrators).
    pub const CLEAR: Masking = Masking { masked: false };
    /// Personal data masked (auditors, leaders' emails when so configured).
    pub const MASKED: Masking = Masking { masked: true };

    pub fn new(masked: bool) -> Masking {
        Masking { masked }
    }

    pub fn is_masked(self) -> bool {
        self.masked
    }

    /// An applicant's name; `person`: whether the applicant is a person (an
    /// organisation's name is shown).
    pub fn name(self, person: bool, name: &str) -> String {
        if self.masked && person {
            mask_person(name)
        } else {
            name.to_owned()
        }
    }

    /// An ID number, phone or email.
    pub fn secret(self, v: Option<String>) -> Option<String> {
        match v {
            Some(_) if self.masked => Some(MASK.into()),
            v => v,
        }
    }

    /// One field's value shown as text (`source test` prints records field
    /// by field): personal fields masked like everywhere else.
    pub fn field_text(self, field: &str, person: bool, text: &str) -> String {
        if !self.masked || text == "—" {
            text.to_owned()
        } else if field == NAME_FIELD {
            self.name(person, text)
        } else if SECRET_FIELDS.contains(&field) {
            MASK.into()
        } else {
            text.to_owned()
        }
    }

    /// A serialised dossier (a JSON object with `applicant_*` fields).
    pub fn dossier_json(self, dossier: &mut Value) {
        if !self.masked {
            return;
        }
        let Value::Object(m) = dossier else { return };
        let person = m.get(KIND_FIELD).and_then(Value::as_str) != Some("organisation");
        if let Some(Value::String(n)) = m.get_mut(NAME_FIELD) {
            *n = self.name(person, n);
        }
        for k in SECRET_FIELDS {
            if let Some(v) = m.get_mut(k)
                && !v.is_null()
            {
                *v = MASK.into();
            }
        }
    }

    /// A history entry's changes, `{"field": [old, new], …}`: the old and the
    /// new value of a personal field masked alike. A name is kept only when
    /// the applicant was an organisation before and after.
    pub fn changes_json(self, person_now: bool, changes: &mut Value) {
        if !self.masked {
            return;
        }
        let Value::Object(m) = changes else { return };
        let was_person = match m.get(KIND_FIELD) {
            Some(Value::Array(kinds)) => kinds.iter().any(|k| k.as_str() != Some("organisation")),
            _ => person_now,
        };
        if let Some(Value::Array(pair)) = m.get_mut(NAME_FIELD) {
            for v in pair.iter_mut() {
                if let Value::String(n) = v {
                    *n = self.name(was_person || person_now, n);
                }
            }
        }
        for k in SECRET_FIELDS {
            if let Some(Value::Array(pair)) = m.get_mut(k) {
                for v in pair.iter_mut().filter(|v| !v.is_null()) {
                    *v = MASK.into();
                }
            }
        }
    }
}

/// "Nguyễn Thị Hồng" → "Nguyễn T. H.".
pub fn mask_person(name: &str) -> String {
    let mut words = name.split_whitespace();
    let Some(first) = words.next() else {
        return String::new();
    };
    let rest: Vec<String> = words
        .filter_map(|w| w.chars().next().map(|c| format!("{c}.")))
        .collect();
    if rest.is_empty() {
        first.to_owned()
    } else {
        format!("{first} {}", rest.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_people_not_organisations() {
        assert_eq!(mask_person("Nguyễn Thị Hồng"), "Nguyễn T. H.");
        assert_eq!(mask_person("Lan"), "Lan");
        let m = Masking::MASKED;
        assert_eq!(
            m.name(false, "Công ty TNHH An Phát"),
            "Công ty TNHH An Phát"
        );
        assert_eq!(
            Masking::CLEAR.name(true, "Nguyễn Thị Hồng"),
            "Nguyễn Thị Hồng"
        );
        assert_eq!(m.secret(Some("0905123456".into())).as_deref(), Some("***"));
        assert_eq!(m.secret(None), None);
    }

    #[test]
    fn a_dossier_and_its_history_are_masked_alike() {
        let mut d = json!({
            "applicant_name": "Trần Văn Bình", "applicant_kind": "person",
            "applicant_id_no": "056090001234", "applicant_phone": null,
            "applicant_address": "Tổ 3, phường Ninh Hòa",
        });
        Masking::MASKED.dossier_json(&mut d);
        assert_eq!(
            d,
            json!({"applicant_name": "Trần V. B.", "applicant_kind": "person",
                   "applicant_id_no": "***", "applicant_phone": null,
                   "applicant_address": "***"})
        );
        let mut c = json!({
            "applicant_name": ["Trần Văn Bình", "Trần Văn Bính"],
            "applicant_phone": [null, "0905123456"],
            "due_at": ["2026-11-20 17:00:00", "2026-11-23 17:00:00"],
        });
        Masking::MASKED.changes_json(true, &mut c);
        assert_eq!(
            c,
            json!({"applicant_name": ["Trần V. B.", "Trần V. B."],
                   "applicant_phone": [null, "***"],
                   "due_at": ["2026-11-20 17:00:00", "2026-11-23 17:00:00"]})
        );
        // A person who became an organisation: the old name was a person's.
        let mut c = json!({
            "applicant_name": ["Lê Thị Hoa", "Công ty TNHH Hoa Lê"],
            "applicant_kind": ["person", "organisation"],
        });
        Masking::MASKED.changes_json(false, &mut c);
        assert_eq!(c["applicant_name"][0], "Lê T. H.");
    }
}
