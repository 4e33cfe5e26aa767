//! Parsing and checking of the letter wording (`config/letter.toml`) and
//! rendering of its minijinja placeholders.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};

use super::text::nfc;
use super::{LetterData, LetterError, WORDED_VALUES, base_context, context};

/// Keys of the TOML file. `Plain` values are taken literally; `Jinja` values
/// are minijinja templates; `JinjaList` is a list of them; `PlainMap` is a
/// table of literal strings (words to match = what to write).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Plain,
    Jinja,
    JinjaList,
    PlainMap,
}

/// Every key the file must have, with its kind. Anything else is an error.
const SCHEMA: &[(&str, &[(&str, Kind)])] = &[
    ("", &[("blank", Kind::Plain)]),
    (
        "header",
        &[
            ("motto", Kind::Jinja),
            ("slogan", Kind::Jinja),
            ("number_blank", Kind::Plain),
            ("number", Kind::Jinja),
            ("place_date", Kind::Jinja),
        ],
    ),
    (
        "letter",
        &[
            ("title", Kind::Jinja),
            ("salutation", Kind::Jinja),
            ("address", Kind::Jinja),
            ("body", Kind::JinjaList),
            ("closing", Kind::Jinja),
        ],
    ),
    (
        "applicant",
        &[
            ("person", Kind::Jinja),
            ("person_reference", Kind::Jinja),
            ("organisation", Kind::Jinja),
            ("organisation_reference", Kind::Jinja),
            ("organisation_prefixes", Kind::PlainMap),
        ],
    ),
    (
        "reason",
        &[
            ("known", Kind::Jinja),
            ("unknown", Kind::Jinja),
            ("other_step", Kind::Jinja),
            ("steps", Kind::PlainMap),
        ],
    ),
    (
        "signature",
        &[
            ("recipients_label", Kind::Jinja),
            ("recipient_prefix", Kind::Plain),
        ],
    ),
];

/// The wording of the letter, parsed from TOML and checked: every key is
/// present, every placeholder compiles and names a known value.
#[derive(Debug, Clone)]
pub struct LetterTemplate {
    origin: String,
    /// Shown for any value that is not known, e.g. "……".
    pub(crate) blank: String,
    /// Shown as `{{ doc_number }}` when the letter has no number yet.
    pub(crate) number_blank: String,
    /// Put before each recipient in "Nơi nhận", e.g. "- ".
    pub(crate) recipient_prefix: String,
    /// `applicant.organisation_prefixes`: lower-case prefix, reference.
    org_prefixes: Vec<(String, String)>,
    /// `reason.steps`: lower-case words, phrase.
    step_phrases: Vec<(String, String)>,
    body_len: usize,
    env: Environment<'static>,
}

impl LetterTemplate {
    /// The template `letters.template_file` names, or the built-in one.
    pub fn from_settings(s: &crate::config::LetterSettings) -> Result<LetterTemplate, LetterError> {
        if s.template_file.trim().is_empty() {
            LetterTemplate::builtin()
        } else {
            LetterTemplate::load(Path::new(&s.template_file))
        }
    }

    /// The wording shipped with tthc-watch.
    pub fn builtin() -> Result<LetterTemplate, LetterError> {
        Self::from_toml_str(
            include_str!("../../config/letter.toml"),
            "config/letter.toml (built in)",
        )
    }

    /// Reads an operator-edited template file.
    pub fn load(path: &Path) -> Result<LetterTemplate, LetterError> {
        let text = std::fs::read_to_string(path).map_err(|source| LetterError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    /// Parses template text; `origin` names the source (a file path) in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<LetterTemplate, LetterError> {
        let root: toml::Table = toml::from_str(text).map_err(|e| LetterError::Toml {
            origin: origin.to_owned(),
            message: e.message().to_owned(),
            line: e.span().map(|span| line_of(text, span.start)),
        })?;
        let err = |key: &str, message: String| LetterError::Template {
            origin: origin.to_owned(),
            key: key.to_owned(),
            message,
        };

        // Unknown top-level keys and tables (typos) are errors.
        for key in root.keys() {
            let known = SCHEMA
                .iter()
                .any(|(table, keys)| key == table || (table.is_empty() && has_key(keys, key)));
            if !known {
                return Err(err(key, "unknown key".to_owned()));
            }
        }

        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_keep_trailing_newline(false);

        let mut plain: BTreeMap<String, String> = BTreeMap::new();
        let mut maps: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        let mut body_len = 0;
        for (table_name, keys) in SCHEMA {
            let table = if table_name.is_empty() {
                &root
            } else {
                match root.get(*table_name) {
                    Some(toml::Value::Table(t)) => t,
                    Some(_) => return Err(err(table_name, "must be a table".to_owned())),
                    None => return Err(err(table_name, "missing table".to_owned())),
                }
            };
            if !table_name.is_empty() {
                for key in table.keys() {
                    if !has_key(keys, key) {
                        return Err(err(&join(table_name, key), "unknown key".to_owned()));
                    }
                }
            }
            for (key, kind) in *keys {
                let path = join(table_name, key);
                let value = table
                    .get(*key)
                    .ok_or_else(|| err(&path, "missing key".to_owned()))?;
                match kind {
                    Kind::Plain | Kind::Jinja => {
                        let s = value
                            .as_str()
                            .ok_or_else(|| err(&path, "must be a string".to_owned()))?;
                        if *kind == Kind::Plain {
                            plain.insert(path, nfc(s));
                        } else {
                            add(&mut env, &path, s).map_err(|m| err(&path, m))?;
                        }
                    }
                    Kind::JinjaList => {
                        let items = value
                            .as_array()
                            .ok_or_else(|| err(&path, "must be a list of strings".to_owned()))?;
                        if items.is_empty() {
                            return Err(err(&path, "must not be empty".to_owned()));
                        }
                        for (i, item) in items.iter().enumerate() {
                            let item_path = format!("{path}[{i}]");
                            let s = item
                                .as_str()
                                .ok_or_else(|| err(&item_path, "must be a string".to_owned()))?;
                            add(&mut env, &item_path, s).map_err(|m| err(&item_path, m))?;
                        }
                        body_len = items.len();
                    }
                    Kind::PlainMap => {
                        let t = value
                            .as_table()
                            .ok_or_else(|| err(&path, "must be a table of strings".to_owned()))?;
                        let mut entries = Vec::new();
                        for (k, v) in t {
                            let item_path = format!("{path}.{k}");
                            let v = v
                                .as_str()
                                .ok_or_else(|| err(&item_path, "must be a string".to_owned()))?;
                            let words = match_form(k);
                            if words.is_empty() {
                                return Err(err(&item_path, "empty words to match".to_owned()));
                            }
                            entries.push((words, nfc(v.trim())));
                        }
                        maps.insert(path, entries);
                    }
                }
            }
        }

        let mut take = |key: &str| plain.remove(key).unwrap_or_default();
        let template = LetterTemplate {
            origin: origin.to_owned(),
            blank: take("blank"),
            number_blank: take("header.number_blank"),
            recipient_prefix: take("signature.recipient_prefix"),
            org_prefixes: maps
                .remove("applicant.organisation_prefixes")
                .unwrap_or_default(),
            step_phrases: maps.remove("reason.steps").unwrap_or_default(),
            body_len,
            env,
        };
        if template.blank.trim().is_empty() {
            return Err(err("blank", "must be visible, not empty".to_owned()));
        }
        if template.number_blank.trim().is_empty() {
            return Err(err(
                "header.number_blank",
                "must be visible, not empty".to_owned(),
            ));
        }
        template.check_placeholders()?;
        Ok(template)
    }

    /// Rejects placeholders that name no known value, and runs every template
    /// once with every value known and once with none known, so that mistakes
    /// show at load time rather than when a letter is due.
    fn check_placeholders(&self) -> Result<(), LetterError> {
        // Names first: the worded values render templates themselves, and a
        // misspelt name should be reported as such, not as a failed render.
        let base = base_context(&LetterData::sample(), self);
        let known: BTreeSet<&str> = base
            .keys()
            .copied()
            .chain(WORDED_VALUES)
            .chain(self.env.globals().map(|(name, _)| name))
            .collect();
        // Collect first: minijinja locks its template store while iterating,
        // and rendering looks a template up again.
        let checks: Vec<(String, Vec<String>)> = self
            .env
            .templates()
            .map(|(name, template)| {
                let unknown = template
                    .undeclared_variables(false)
                    .into_iter()
                    .filter(|v| !known.contains(v.as_str()))
                    .collect();
                (name.to_owned(), unknown)
            })
            .collect();
        for (name, unknown) in &checks {
            if !unknown.is_empty() {
                let mut unknown = unknown.clone();
                unknown.sort();
                return Err(self.error(
                    name,
                    format!(
                        "unknown placeholder {}; known values: {}",
                        unknown.join(", "),
                        known.iter().copied().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        }
        let full = context(&LetterData::sample(), self)?;
        let empty = context(&LetterData::unknown(), self)?;
        // An organisation takes the other branch of the applicant wording.
        let organisation = LetterData {
            applicant_kind: crate::dossier::ApplicantKind::Organisation,
            ..LetterData::unknown()
        };
        context(&organisation, self)?;
        for (name, _) in &checks {
            let name = name.as_str();
            self.render(name, &full)?;
            self.render(name, &empty)?;
        }
        Ok(())
    }

    /// Renders the template stored under `key`, NFC-normalised, trimmed.
    pub(crate) fn render(
        &self,
        key: &str,
        ctx: &BTreeMap<&'static str, Value>,
    ) -> Result<String, LetterError> {
        let template = self
            .env
            .get_template(key)
            .map_err(|e| self.error(key, describe(&e)))?;
        let out = template
            .render(ctx)
            .map_err(|e| self.error(key, describe(&e)))?;
        let lines: Vec<&str> = out.lines().map(str::trim).collect();
        Ok(nfc(lines.join("\n").trim()))
    }

    /// The reference of the longest organisation prefix that starts `name`
    /// as whole words (ignoring case), if any.
    pub(crate) fn organisation_reference(&self, name: &str) -> Option<&str> {
        let name = match_form(name);
        longest(&self.org_prefixes, |words| {
            name.strip_prefix(words)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
        })
    }

    /// The phrase of the longest step kind whose words occur in `step`
    /// (ignoring case, on word boundaries), if any.
    pub(crate) fn step_phrase(&self, step: &str) -> Option<&str> {
        let step = format!(" {} ", match_form(step));
        longest(&self.step_phrases, |words| {
            step.contains(&format!(" {words} "))
        })
    }

    /// Keys of the body paragraphs, in order.
    pub(crate) fn body_keys(&self) -> impl Iterator<Item = String> {
        (0..self.body_len).map(|i| format!("letter.body[{i}]"))
    }

    fn error(&self, key: &str, message: String) -> LetterError {
        LetterError::Template {
            origin: self.origin.clone(),
            key: key.to_owned(),
            message,
        }
    }
}

/// Text as matched: NFC, lower case, punctuation as spaces, single spaces.
/// Diacritics are kept: "Trường" (a school) is not "Trương" (a surname).
fn match_form(s: &str) -> String {
    nfc(&s.to_lowercase())
        .split(|c: char| c.is_whitespace() || (c.is_ascii_punctuation() && c != '&'))
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn longest(entries: &[(String, String)], hit: impl Fn(&str) -> bool) -> Option<&str> {
    entries
        .iter()
        .filter(|(words, _)| hit(words))
        .max_by_key(|(words, _)| words.chars().count())
        .map(|(_, v)| v.as_str())
}

fn has_key(keys: &[(&str, Kind)], key: &str) -> bool {
    keys.iter().any(|(k, _)| *k == key)
}

fn join(table: &str, key: &str) -> String {
    if table.is_empty() {
        key.to_owned()
    } else {
        format!("{table}.{key}")
    }
}

fn add(env: &mut Environment<'static>, key: &str, source: &str) -> Result<(), String> {
    env.add_template_owned(key.to_owned(), nfc(source))
        .map_err(|e| describe(&e))
}

/// A minijinja error as one line, without repeating the template name.
fn describe(e: &minijinja::Error) -> String {
    let mut s = e.kind().to_string();
    if let Some(detail) = e.detail() {
        s.push_str(": ");
        s.push_str(detail);
    }
    if let Some(line) = e.line() {
        s.push_str(&format!(" (line {line} of the value)"));
    }
    s
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(0, |head| head.matches('\n').count())
        + 1
}
