//! Email templates (minijinja): built in from `config/templates/`, each
//! overridable by a file of the same name in `escalation.templates_dir`.

use minijinja::Environment;
use serde::Serialize;
use std::path::Path;

const BUILTIN: &[(&str, &str)] = &[
    (
        "alert.subject.txt",
        include_str!("../../config/templates/alert.subject.txt"),
    ),
    (
        "alert.txt",
        include_str!("../../config/templates/alert.txt"),
    ),
    (
        "alert.html",
        include_str!("../../config/templates/alert.html"),
    ),
    (
        "digest.subject.txt",
        include_str!("../../config/templates/digest.subject.txt"),
    ),
    (
        "digest.txt",
        include_str!("../../config/templates/digest.txt"),
    ),
    (
        "digest.html",
        include_str!("../../config/templates/digest.html"),
    ),
    (
        "stale.subject.txt",
        include_str!("../../config/templates/stale.subject.txt"),
    ),
    (
        "stale.txt",
        include_str!("../../config/templates/stale.txt"),
    ),
    (
        "stale.html",
        include_str!("../../config/templates/stale.html"),
    ),
    (
        "reminder.subject.txt",
        include_str!("../../config/templates/reminder.subject.txt"),
    ),
    (
        "reminder.txt",
        include_str!("../../config/templates/reminder.txt"),
    ),
    (
        "reminder.html",
        include_str!("../../config/templates/reminder.html"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read template {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("template {name} ({origin}): {message}")]
    Invalid {
        name: String,
        origin: String,
        message: String,
    },
}

pub struct Templates {
    env: Environment<'static>,
}

/// A rendered message.
#[derive(Clone, Debug)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Templates {
    /// Built-in templates, with overrides from `dir` when it is not empty.
    pub fn load(dir: &str) -> Result<Templates, TemplateError> {
        let mut env = Environment::new();
        for (name, text) in BUILTIN {
            let (body, origin) = if dir.trim().is_empty() {
                ((*text).to_owned(), "built in".to_owned())
            } else {
                let path = Path::new(dir).join(name);
                if path.exists() {
                    let body =
                        std::fs::read_to_string(&path).map_err(|source| TemplateError::Io {
                            path: path.display().to_string(),
                            source,
                        })?;
                    (body, path.display().to_string())
                } else {
                    ((*text).to_owned(), "built in".to_owned())
                }
            };
            env.add_template_owned(*name, body)
                .map_err(|e| TemplateError::Invalid {
                    name: (*name).to_owned(),
                    origin,
                    message: e.to_string(),
                })?;
        }
        Ok(Templates { env })
    }

    fn render_one(&self, name: &str, ctx: &minijinja::Value) -> Result<String, TemplateError> {
        self.env
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .map_err(|e| TemplateError::Invalid {
                name: name.to_owned(),
                origin: "rendering".into(),
                message: format!("{e:#}"),
            })
    }

    /// Renders `KIND.subject.txt`, `KIND.txt` and `KIND.html` with `ctx`.
    pub fn render(&self, kind: &str, ctx: &impl Serialize) -> Result<Rendered, TemplateError> {
        let base = minijinja::Value::from_serialize(ctx);
        let subject = self.render_one(&format!("{kind}.subject.txt"), &base)?;
        let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
        let ctx = minijinja::context! { subject => subject.clone(), ..base };
        Ok(Rendered {
            text: self.render_one(&format!("{kind}.txt"), &ctx)?,
            html: self.render_one(&format!("{kind}.html"), &ctx)?,
            subject,
        })
    }
}
