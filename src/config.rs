//! Typed settings: the documented `config/default.toml` (built in), then the file
//! given with `-c`, then `TTHC_WATCH__SECTION__KEY` environment variables. Any
//! wrong or missing setting fails at start, naming the key and the file.

use crate::redact::redact_url;
use chrono::NaiveTime;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// The documented defaults, printed by `tthc-watch config`.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {file}: {source}")]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid configuration ({origin}): {message}")]
    Invalid { origin: String, message: String },
    #[error("invalid configuration: key `{key}` ({origin}): {message}")]
    Key {
        key: String,
        origin: String,
        message: String,
    },
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub calendar: CalendarSettings,
    pub deadline: DeadlineSettings,
    pub escalation: EscalationSettings,
    pub mail: MailSettings,
    pub letters: LetterSettings,
    pub kpi: KpiSettings,
    /// Absent in files written before the periodic report: built-in wording.
    #[serde(default)]
    pub report: ReportSettings,
    pub server: ServerSettings,
    pub schedule: ScheduleSettings,
    pub log: LogSettings,
    #[serde(default)]
    pub audit: AuditSettings,
    #[serde(default)]
    pub sources: BTreeMap<String, SourceSettings>,
    /// Webhook endpoints by name (`[webhooks.NAME]`), a second channel beside
    /// email (`notify::webhook`).
    #[serde(default)]
    pub webhooks: BTreeMap<String, WebhookSettings>,
    /// Where these settings came from (defaults, file, environment), named in
    /// the errors of the rules files they point to.
    #[serde(skip)]
    pub origin: String,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: u32,
}

// The URL may hold a password: keep it out of logs.
impl fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &redact_url(&self.url))
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarSettings {
    pub file: String,
    pub morning_start: NaiveTime,
    pub morning_end: NaiveTime,
    pub afternoon_start: NaiveTime,
    pub afternoon_end: NaiveTime,
}

/// How a finished supplementation moves the due date.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SupplementRule {
    /// The handling time starts again from the complete dossier (the rule).
    #[default]
    Restart,
    /// The due date moves by the working time spent waiting.
    Shift,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadlineSettings {
    pub warning_days: u32,
    pub supplement: SupplementRule,
    pub mismatch_tolerance_minutes: i64,
}

/// Who can be told.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Chủ tịch.
    Chair,
    /// Phó Chủ tịch in charge of the dossier's field.
    ViceChair,
    /// Head of the handling unit.
    UnitHead,
    /// The public-service centre's mailboxes.
    Centre,
}

/// Who is told at each rung (`[escalation.notify]`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    pub due_soon: Vec<Role>,
    pub due_today: Vec<Role>,
    pub overdue: Vec<Role>,
    pub no_apology: Vec<Role>,
}

impl Default for Notify {
    fn default() -> Notify {
        Notify {
            due_soon: vec![Role::ViceChair, Role::UnitHead],
            due_today: vec![Role::ViceChair, Role::UnitHead],
            overdue: vec![Role::Chair, Role::ViceChair, Role::UnitHead],
            no_apology: vec![Role::UnitHead, Role::Centre],
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationSettings {
    pub routing_file: String,
    pub no_apology_after_days: u32,
    pub stale_after_minutes: i64,
    /// A source never synced is stale this long after its first poll;
    /// default `stale_after_minutes`.
    #[serde(default)]
    pub first_sync_grace_minutes: Option<i64>,
    pub mask_applicant: bool,
    pub max_listed: usize,
    pub templates_dir: String,
    pub notify: Notify,
    /// Days an acknowledgement link in an alert email stays usable.
    #[serde(default = "default_ack_link_days")]
    pub ack_link_days: u32,
    /// Working hours after which an unacknowledged due-today or overdue
    /// alert is told to the next level up.
    #[serde(default = "default_ack_timeout_hours")]
    pub ack_timeout_hours: u32,
    /// Non-urgent messages (nothing due today) made outside office hours or
    /// on a day off wait for the next working morning.
    #[serde(default = "default_true")]
    pub quiet_hours: bool,
    /// The chair's weekly reminder of every dossier overdue more than
    /// `reminder_overdue_days` working days (empty: none), made from this
    /// time ("HH:MM") of the week's first working day.
    #[serde(default = "default_reminder_at")]
    pub reminder_at: String,
    #[serde(default = "default_reminder_overdue_days")]
    pub reminder_overdue_days: u32,
}

fn default_reminder_at() -> String {
    "07:30".into()
}

fn default_reminder_overdue_days() -> u32 {
    5
}

impl EscalationSettings {
    /// The weekly reminder's time, if any (checked by `Settings::validate`).
    pub fn reminder_time(&self) -> Option<chrono::NaiveTime> {
        chrono::NaiveTime::parse_from_str(self.reminder_at.trim(), "%H:%M").ok()
    }
}

fn default_ack_timeout_hours() -> u32 {
    4
}

fn default_ack_link_days() -> u32 {
    7
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MailTransport {
    Smtp,
    File,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    None,
    Starttls,
    Tls,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    pub transport: MailTransport,
    pub from: String,
    pub file_dir: String,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_security: SmtpSecurity,
    pub smtp_username: String,
    pub smtp_password: String,
    pub timeout_secs: u64,
    pub max_attempts: u32,
    pub backoff_base_secs: i64,
    pub backoff_cap_secs: i64,
}

impl fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailSettings")
            .field("transport", &self.transport)
            .field("from", &self.from)
            .field("smtp_host", &self.smtp_host)
            .field("smtp_port", &self.smtp_port)
            .field("smtp_security", &self.smtp_security)
            .field("smtp_username", &self.smtp_username)
            .field("smtp_password", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// The rungs an endpoint can ask for (`escalation::Rung` names them too;
/// settings import no other module).
pub const RUNG_NAMES: [&str; 4] = ["due_soon", "due_today", "overdue", "no_apology"];

/// One webhook endpoint (`[webhooks.NAME]`): which alerts it receives, where,
/// and the secret they are signed with. The filters combine (every one must
/// match); an empty one matches everything.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    pub url: String,
    /// `whsec_` + base64 of 24–64 random bytes (Standard Webhooks); or
    /// `secret_file`, a file holding it.
    #[serde(default)]
    pub secret: String,
    #[serde(default)]
    pub secret_file: String,
    /// `due_soon`, `due_today`, `overdue`, `no_apology`; empty: all.
    #[serde(default)]
    pub rungs: Vec<String>,
    /// Recipients' roles; empty: all.
    #[serde(default)]
    pub roles: Vec<Role>,
    /// Recipients' email addresses as `routing.toml` names them; empty: all.
    #[serde(default)]
    pub recipients: Vec<String>,
    #[serde(default = "default_true")]
    pub enabled: bool,
}

// The secret signs every event: keep it out of logs.
impl fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSettings")
            .field("url", &redact_url(&self.url))
            .field("secret", &"<redacted>")
            .field("secret_file", &self.secret_file)
            .field("rungs", &self.rungs)
            .field("roles", &self.roles)
            .field("recipients", &self.recipients)
            .field("enabled", &self.enabled)
            .finish()
    }
}

/// What seals the audit trail from outside the database (`store::audit`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSettings {
    /// A file holding the secret key (at least 32 characters) with which
    /// each entry is sealed; empty: entries are plain SHA-256.
    pub key_file: String,
    /// A file, outside the database, where the newest entry's id and hash
    /// are written after every append; empty: none.
    pub witness_file: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LetterSettings {
    pub dir: String,
    pub extension_days: u32,
    pub draft_before_due: bool,
    pub template_file: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KpiSettings {
    pub on_time_pct: f64,
    pub apology_pct: f64,
}

/// The periodic report (`tthc-watch report`, `/api/v1/report`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportSettings {
    /// Its title lines and column titles: empty = built in (`config/report.toml`).
    pub template_file: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub listen: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSettings {
    pub poll: String,
    pub digest: String,
    pub send_every_secs: u64,
    /// PostgreSQL: how long the leader's lease lasts unless renewed (every
    /// third of it); a leader that stops renewing is replaced after it.
    pub lease_secs: u64,
    /// A job (a poll, the check, the digest, a drain) running longer than
    /// this makes `/readyz` unready, naming it.
    pub job_limit_secs: u64,
}

impl ScheduleSettings {
    pub fn poll_cron(&self) -> Result<croner::Cron, String> {
        parse_cron(&self.poll)
    }
    pub fn digest_cron(&self) -> Result<croner::Cron, String> {
        parse_cron(&self.digest)
    }
}

pub fn parse_cron(s: &str) -> Result<croner::Cron, String> {
    use std::str::FromStr;
    croner::Cron::from_str(s)
        .map_err(|e| format!("'{s}' is not a cron expression such as \"*/5 * * * *\": {e}"))
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// The shapes of real systems (SOURCES.md) that have a built-in field mapping.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    /// tthc-watch's own simulator API: keyset paging over a change revision.
    #[default]
    Native,
    /// VNPT iGate-style: page/size sorted by updatedDate desc, `+0700` dates.
    Igate,
    /// OpenCPS-style: start/end offsets, `dd/MM/yyyy HH:mm:ss` dates.
    Opencps,
    /// ASP.NET one-door / national-portal records: MaHoSo, `yyyyMMddHHmmss`.
    Onedoor,
}

impl Shape {
    pub fn as_str(self) -> &'static str {
        match self {
            Shape::Native => "native",
            Shape::Igate => "igate",
            Shape::Opencps => "opencps",
            Shape::Onedoor => "onedoor",
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSettings {
    /// `api` (polled over HTTP, the default) or `file` (the centre's Excel
    /// and CSV exports dropped into `folder`).
    #[serde(default)]
    pub kind: SourceKind,
    /// The API's address (`kind = "api"`).
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub shape: Shape,
    #[serde(default = "default_true")]
    pub enabled: bool,
    #[serde(default)]
    pub auth: AuthSettings,
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    #[serde(default = "default_retries")]
    pub max_retries: u32,
    #[serde(default = "default_overlap")]
    pub overlap_minutes: i64,
    /// Overrides of the shape's field mapping (see `source::mapping`).
    #[serde(default)]
    pub mapping: Option<serde_json::Value>,
    /// Cron of this source's polls; default `schedule.poll`.
    #[serde(default)]
    pub poll: Option<String>,
    /// The agencies (unit codes) this committee answers for, in a system
    /// that holds a whole province's dossiers; others are skipped and
    /// counted. Empty: all.
    #[serde(default)]
    pub agencies: Vec<String>,
    /// `kind = "file"`: the folder watched for exports; each file read is
    /// moved to `processed/` inside it with a receipt.
    #[serde(default)]
    pub folder: Option<std::path::PathBuf>,
    /// File names taken from the folder (`*` and `?` wildcards, several
    /// separated by commas); default every XLSX, XLS and CSV file.
    #[serde(default)]
    pub pattern: Option<String>,
    /// The export's layout preset (`tracking_book`, `simulator`); default:
    /// recognised from the header row.
    #[serde(default)]
    pub layout: Option<String>,
    /// Header titles per column key, replacing the preset's (`[sources.NAME.columns]`).
    #[serde(default)]
    pub columns: Option<serde_json::Value>,
    /// Each file is the whole list: dossiers it does not mention are marked
    /// deleted. Without it, a file only adds and updates.
    #[serde(default)]
    pub snapshot: bool,
    /// A file is read once its size and modification time have stayed the
    /// same this many seconds (one still being written is not read half).
    #[serde(default = "default_settle")]
    pub settle_secs: u64,
    /// Minutes without a successful sync (a file source: without a new file)
    /// after which this source counts as stale; default
    /// `escalation.stale_after_minutes` (a centre exporting once a working
    /// day sets e.g. 1500).
    #[serde(default)]
    pub stale_after_minutes: Option<i64>,
}

/// Where a source's dossiers come from.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    #[default]
    Api,
    File,
}

fn default_settle() -> u64 {
    2
}

fn default_true() -> bool {
    true
}
fn default_page_size() -> u32 {
    500
}
fn default_timeout() -> u64 {
    30
}
fn default_retries() -> u32 {
    5
}
fn default_overlap() -> i64 {
    10
}

/// How a source wants to be authenticated.
#[derive(Clone, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthSettings {
    #[default]
    None,
    /// `Authorization: Bearer TOKEN`.
    Bearer { token: String },
    /// Fixed headers, e.g. a key.
    Headers { headers: BTreeMap<String, String> },
    /// HTTP Basic (OpenCPS), with fixed headers beside it (its `groupId`).
    Basic {
        user: String,
        password: String,
        #[serde(default)]
        headers: BTreeMap<String, String>,
    },
    /// A token endpoint (OAuth2 password grant as a form, or a JSON login), refreshed
    /// before it expires. `token_url` may be a path on the source's URL.
    TokenEndpoint {
        token_url: String,
        #[serde(default)]
        form: BTreeMap<String, String>,
        #[serde(default)]
        json: Option<serde_json::Value>,
        /// Where the token is in the reply; default: the first of
        /// `/access_token`, `/token`, `/data/token`.
        #[serde(default)]
        token_pointer: Option<String>,
        #[serde(default = "default_expires_pointer")]
        expires_pointer: String,
        /// The token's life when the reply does not say it (one-door
        /// tokens live 10 minutes and their reply has no lifetime).
        #[serde(default = "default_token_lifetime")]
        lifetime_secs: u64,
    },
}

fn default_expires_pointer() -> String {
    "/expires_in".into()
}
fn default_token_lifetime() -> u64 {
    300
}

impl fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthSettings::None => write!(f, "None"),
            AuthSettings::Bearer { .. } => write!(f, "Bearer(<redacted>)"),
            AuthSettings::Headers { headers } => {
                write!(f, "Headers({:?} = <redacted>)", headers.keys())
            }
            AuthSettings::Basic { user, headers, .. } => {
                write!(f, "Basic({user}, <redacted>, {:?})", headers.keys())
            }
            AuthSettings::TokenEndpoint { token_url, .. } => {
                write!(f, "TokenEndpoint({token_url}, <redacted>)")
            }
        }
    }
}

impl Settings {
    /// Defaults, then `file`, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        Self::load_with_env(file, std::env::vars())
    }

    /// As [`Settings::load`], with the environment given (tests).
    pub fn load_with_env(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        let mut origin = String::from("built-in config/default.toml");
        let mut builder = config::Config::builder().add_source(config::File::from_str(
            DEFAULT_TOML,
            config::FileFormat::Toml,
        ));
        if let Some(path) = file {
            // Read it ourselves so a missing file is named as such, not as a parse error.
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                file: path.to_owned(),
                source,
            })?;
            builder = builder.add_source(config::File::from_str(&text, config::FileFormat::Toml));
            origin = format!("{origin}, then file {}", path.display());
        }
        let vars: BTreeMap<String, String> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("TTHC_WATCH__"))
            .collect();
        if !vars.is_empty() {
            origin = format!(
                "{origin}, then environment {}",
                vars.keys().cloned().collect::<Vec<_>>().join(", ")
            );
        }
        builder = builder.add_source(
            config::Environment::with_prefix("TTHC_WATCH")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .source(Some(vars.into_iter().collect())),
        );
        let mut settings: Settings =
            builder
                .build()
                .and_then(|c| c.try_deserialize())
                .map_err(|e| ConfigError::Invalid {
                    origin: origin.clone(),
                    message: e.to_string(),
                })?;
        settings.validate(&origin)?;
        settings.origin = origin;
        Ok(settings)
    }

    fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let key_err = |key: &str, message: String| ConfigError::Key {
            key: key.to_owned(),
            origin: origin.to_owned(),
            message,
        };
        let db = &self.database.url;
        if !(db.starts_with("sqlite:")
            || db.starts_with("postgres:")
            || db.starts_with("postgresql:"))
        {
            return Err(key_err(
                "database.url",
                format!(
                    "'{}' is not a database URL: expected sqlite://PATH or postgres://USER@HOST/DB",
                    redact_url(db)
                ),
            ));
        }
        let at = self.escalation.reminder_at.trim();
        if !at.is_empty() && self.escalation.reminder_time().is_none() {
            return Err(key_err(
                "escalation.reminder_at",
                format!(
                    "'{at}' is not a time of day: expected HH:MM (e.g. 07:30), or \"\" for no weekly reminder"
                ),
            ));
        }
        if self.database.max_connections == 0 {
            return Err(key_err(
                "database.max_connections",
                "must be at least 1".into(),
            ));
        }
        if self.deadline.warning_days > 30 {
            return Err(key_err(
                "deadline.warning_days",
                format!(
                    "{} working days is not a warning window; expected 0–30",
                    self.deadline.warning_days
                ),
            ));
        }
        if self.deadline.mismatch_tolerance_minutes < 0 {
            return Err(key_err(
                "deadline.mismatch_tolerance_minutes",
                "must not be negative".into(),
            ));
        }
        if self.letters.extension_days == 0 || self.letters.extension_days > 60 {
            return Err(key_err(
                "letters.extension_days",
                "expected 1–60 working days".into(),
            ));
        }
        if let Err(e) = self.schedule.poll_cron() {
            return Err(key_err("schedule.poll", e));
        }
        if let Err(e) = self.schedule.digest_cron() {
            return Err(key_err("schedule.digest", e));
        }
        if !(3..=600).contains(&self.schedule.lease_secs) {
            return Err(key_err(
                "schedule.lease_secs",
                format!("{} is not between 3 and 600", self.schedule.lease_secs),
            ));
        }
        if self.schedule.job_limit_secs == 0 {
            return Err(key_err(
                "schedule.job_limit_secs",
                "must be at least 1".into(),
            ));
        }
        if self.schedule.send_every_secs == 0 {
            return Err(key_err(
                "schedule.send_every_secs",
                "must be at least 1".into(),
            ));
        }
        if self.server.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(key_err(
                "server.listen",
                format!(
                    "'{}' is not an address such as 127.0.0.1:8080",
                    self.server.listen
                ),
            ));
        }
        if self.escalation.stale_after_minutes < 1 {
            return Err(key_err(
                "escalation.stale_after_minutes",
                "must be at least 1".into(),
            ));
        }
        if self
            .escalation
            .first_sync_grace_minutes
            .is_some_and(|m| m < 0)
        {
            return Err(key_err(
                "escalation.first_sync_grace_minutes",
                "must be 0 or more".into(),
            ));
        }
        if let Err(e) = self.mail.from.parse::<lettre::message::Mailbox>() {
            return Err(key_err(
                "mail.from",
                format!(
                    "'{}' is not a mailbox such as \"tthc-watch <tthc@example.vn>\": {e}",
                    self.mail.from
                ),
            ));
        }
        if self.mail.max_attempts == 0
            || self.mail.backoff_base_secs < 1
            || self.mail.backoff_cap_secs < self.mail.backoff_base_secs
        {
            return Err(key_err(
                "mail.max_attempts / mail.backoff_*",
                "expected max_attempts ≥ 1 and 1 ≤ backoff_base_secs ≤ backoff_cap_secs".into(),
            ));
        }
        if !matches!(self.log.format, LogFormat::Text | LogFormat::Json) {
            return Err(key_err("log.format", "expected text or json".into()));
        }
        for (name, src) in &self.sources {
            let key = |k: &str| format!("sources.{name}.{k}");
            if src.kind == SourceKind::File {
                if src.folder.is_none() {
                    return Err(key_err(
                        &key("folder"),
                        "a file source needs the folder it watches".into(),
                    ));
                }
            } else {
                match url::Url::parse(&src.url) {
                    Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {}
                    _ => {
                        return Err(key_err(
                            &key("url"),
                            format!("'{}' is not an http(s) URL", src.url),
                        ));
                    }
                }
            }
            if src.page_size == 0 || src.page_size > 10_000 {
                return Err(key_err(&key("page_size"), "expected 1–10000".into()));
            }
            if let Some(p) = &src.poll
                && let Err(e) = parse_cron(p)
            {
                return Err(key_err(&key("poll"), e));
            }
            if src.timeout_secs == 0 {
                return Err(key_err(&key("timeout_secs"), "must be at least 1".into()));
            }
        }
        for (name, w) in &self.webhooks {
            let key = |k: &str| format!("webhooks.{name}.{k}");
            // The name goes into outbox rows as `webhook:NAME`.
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(key_err(
                    &format!("webhooks.{name}"),
                    "an endpoint's name is letters, digits, _ and - only".into(),
                ));
            }
            match url::Url::parse(&w.url) {
                Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {}
                _ => {
                    return Err(key_err(
                        &key("url"),
                        format!("'{}' is not an http(s) URL", redact_url(&w.url)),
                    ));
                }
            }
            if w.secret.is_empty() == w.secret_file.is_empty() {
                return Err(key_err(
                    &key("secret"),
                    "give either `secret` (\"whsec_…\") or `secret_file`, not both nor neither"
                        .into(),
                ));
            }
            if let Some(r) = w.rungs.iter().find(|r| !RUNG_NAMES.contains(&r.as_str())) {
                return Err(key_err(
                    &key("rungs"),
                    format!("'{r}' is not a rung; expected {}", RUNG_NAMES.join(", ")),
                ));
            }
            if let Some(e) = w
                .recipients
                .iter()
                .find(|e| e.parse::<lettre::Address>().is_err())
            {
                return Err(key_err(
                    &key("recipients"),
                    format!("'{e}' is not an email address"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn no_env() -> Vec<(String, String)> {
        Vec::new()
    }

    #[test]
    fn defaults_load() {
        let s = Settings::load_with_env(None, no_env()).unwrap();
        assert_eq!(s.database.url, "sqlite://tthc-watch.db");
        assert_eq!(s.deadline.warning_days, 3);
        assert!(s.sources.is_empty());
    }

    #[test]
    fn file_and_env_override_in_order() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(
            f,
            "[database]\nurl = \"sqlite://x.db\"\n[sources.tinh]\nurl = \"http://127.0.0.1:1\"\nshape = \"igate\""
        )
        .unwrap();
        let env = vec![(
            "TTHC_WATCH__DEADLINE__WARNING_DAYS".to_string(),
            "5".to_string(),
        )];
        let s = Settings::load_with_env(Some(f.path()), env).unwrap();
        assert_eq!(s.database.url, "sqlite://x.db");
        assert_eq!(s.deadline.warning_days, 5);
        assert_eq!(s.sources["tinh"].shape, Shape::Igate);
    }

    #[test]
    fn misspelt_key_names_key_and_file() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(f, "[database]\nurll = \"sqlite://x.db\"").unwrap();
        let err = Settings::load_with_env(Some(f.path()), no_env())
            .unwrap_err()
            .to_string();
        assert!(err.contains("urll"), "{err}");
        assert!(err.contains(&f.path().display().to_string()), "{err}");
    }

    #[test]
    fn bad_value_names_key() {
        let env = vec![(
            "TTHC_WATCH__DATABASE__URL".to_string(),
            "mysql://x".to_string(),
        )];
        let err = Settings::load_with_env(None, env).unwrap_err().to_string();
        assert!(err.contains("database.url"), "{err}");
        assert!(err.contains("TTHC_WATCH__DATABASE__URL"), "{err}");
    }

    #[test]
    fn missing_file_is_named() {
        let err = Settings::load_with_env(Some(Path::new("/nonexistent/t.toml")), no_env())
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/t.toml"), "{err}");
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let env = vec![(
            "TTHC_WATCH__DATABASE__URL".to_string(),
            "postgres://u:hunter2@db/x".to_string(),
        )];
        let s = Settings::load_with_env(None, env).unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}

#[cfg(test)]
mod cron_tests {
    use super::*;

    #[test]
    fn cron_accepts_standard_and_seconds_forms() {
        let c = parse_cron("30 7 * * *").unwrap();
        let t = chrono::NaiveDate::from_ymd_opt(2026, 11, 25)
            .unwrap()
            .and_hms_opt(6, 0, 0)
            .unwrap();
        let local = t.and_local_timezone(crate::clock::VN).unwrap();
        let next = c.find_next_occurrence(&local, false).unwrap();
        assert_eq!(next.naive_local().to_string(), "2026-11-25 07:30:00");
        let s = parse_cron("*/2 * * * * *").unwrap();
        let next = s.find_next_occurrence(&local, false).unwrap();
        assert_eq!(next.naive_local().to_string(), "2026-11-25 06:00:02");
        assert!(
            parse_cron("every morning")
                .unwrap_err()
                .contains("not a cron expression")
        );
    }
}
