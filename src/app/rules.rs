//! The rules as data — calendar, office hours, deadline rules, routing, the
//! ladder, email, letter and report templates — loaded from the files the settings
//! name and checked once, at start or on a reload. An invalid file is named
//! with its settings key, and nothing runs on it.

use crate::calendar::{Calendar, OfficeHours};
use crate::config::Settings;
use crate::deadline;
use crate::escalation::Ladder;
use crate::letters::LetterTemplate;
use crate::letters::drafts::Drafter;
use crate::notify::compose::Composer;
use crate::notify::templates::Templates;
use crate::notify::webhook::Webhooks;
use crate::report::ReportTemplate;
use crate::routing::Routing;
use crate::source::mapping::Mapping;
use crate::store::Store;
use std::path::PathBuf;

/// A rules file (or setting) that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: key `{key}` ({origin}): {message}")]
pub struct RulesError {
    pub key: String,
    pub origin: String,
    pub message: String,
}

impl RulesError {
    fn new(settings: &Settings, key: &str, message: String) -> RulesError {
        RulesError {
            key: key.to_owned(),
            origin: settings.origin.clone(),
            message,
        }
    }
}

/// Everything rules-as-data the operations need, loaded and checked.
pub struct RuleSet {
    pub calendar: Calendar,
    pub hours: OfficeHours,
    pub deadline: deadline::Rules,
    pub routing: Routing,
    pub ladder: Ladder,
    pub templates: Templates,
    pub letter_template: LetterTemplate,
    /// The periodic report's wording (`config/report.toml`).
    pub report_template: ReportTemplate,
    /// Webhook endpoints (`[webhooks.*]`), their secrets read and checked.
    pub webhooks: Webhooks,
}

impl RuleSet {
    /// Loads every rules file the settings name, each checked once; the
    /// sources' field mappings are checked too, so that a typo fails at start
    /// rather than at the first poll.
    pub fn load(settings: &Settings) -> Result<RuleSet, RulesError> {
        let err = |key: &str, message: String| RulesError::new(settings, key, message);
        let (calendar, hours) = load_calendar(settings)?;
        let rules = RuleSet {
            calendar,
            hours,
            deadline: deadline::Rules::from_settings(&settings.deadline),
            routing: Routing::from_settings(&settings.escalation)
                .map_err(|e| err("escalation.routing_file", e.to_string()))?,
            ladder: Ladder::from_settings(&settings.escalation),
            templates: Templates::load(&settings.escalation.templates_dir)
                .map_err(|e| err("escalation.templates_dir", e.to_string()))?,
            letter_template: LetterTemplate::from_settings(&settings.letters)
                .map_err(|e| err("letters.template_file", e.to_string()))?,
            report_template: ReportTemplate::from_settings(&settings.report)
                .map_err(|e| err("report.template_file", e.to_string()))?,
            webhooks: load_webhooks(settings)?,
        };
        // An endpoint's `recipients` must be people the routing can tell.
        for (name, email) in rules.webhooks.named_recipients() {
            if !rules.routing.knows(email) {
                return Err(err(
                    &format!("webhooks.{name}.recipients"),
                    format!("{email} is nobody in {}", rules.routing.origin),
                ));
            }
        }
        for (name, src) in &settings.sources {
            Mapping::from_settings(src)
                .map_err(|e| err(&format!("sources.{name}.mapping"), e.to_string()))?;
        }
        Ok(rules)
    }

    /// What verdicts depend on besides their dossier and the time: the
    /// calendar, office hours, deadline rules and the ladder's threshold.
    pub fn fingerprint(&self) -> String {
        let text = format!(
            "{} {:?} {:?} {}",
            self.calendar.fingerprint(),
            self.hours,
            self.deadline,
            self.ladder.no_apology_after_days
        );
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(text.as_bytes()))
    }

    pub fn drafter<'a>(&'a self, settings: &Settings, store: &'a Store) -> Drafter<'a> {
        Drafter {
            store,
            calendar: &self.calendar,
            routing: &self.routing,
            template: &self.letter_template,
            hours: &self.hours,
            dir: PathBuf::from(&settings.letters.dir),
            extension_days: i64::from(settings.letters.extension_days),
            before_due: settings.letters.draft_before_due,
        }
    }

    pub fn composer(&self, settings: &Settings) -> Composer<'_> {
        let domain = settings
            .mail
            .from
            .rsplit_once('@')
            .map(|(_, d)| d.trim_end_matches('>').to_owned())
            .unwrap_or_else(|| "tthc-watch.local".into());
        Composer {
            routing: &self.routing,
            calendar: &self.calendar,
            templates: &self.templates,
            mask_applicant: settings.escalation.mask_applicant,
            domain,
            max_items: settings.escalation.max_listed,
            staleness: crate::source::Staleness::from_settings(settings),
            sources: settings
                .sources
                .iter()
                .filter(|(_, s)| s.enabled)
                .map(|(n, _)| n.clone())
                .collect(),
            ack_link_days: settings.escalation.ack_link_days,
            hours: &self.hours,
            quiet_hours: settings.escalation.quiet_hours,
            reminder: settings.escalation.reminder_time().map(|at| {
                crate::notify::compose::ReminderRule {
                    overdue_days: i64::from(settings.escalation.reminder_overdue_days),
                    at,
                }
            }),
            webhooks: &self.webhooks,
        }
    }
}

/// The webhook endpoints, each secret read (from its file if so set) and
/// checked, an error naming the settings key and where the settings came from.
pub fn load_webhooks(settings: &Settings) -> Result<Webhooks, RulesError> {
    Webhooks::from_settings(&settings.webhooks).map_err(|e| match e {
        crate::notify::webhook::WebhookError::Config { key, message } => {
            RulesError::new(settings, &key, message)
        }
        other => RulesError::new(settings, "webhooks", other.to_string()),
    })
}

/// The working-day calendar and office hours alone (calendar arithmetic and
/// the simulator need nothing else).
pub fn load_calendar(settings: &Settings) -> Result<(Calendar, OfficeHours), RulesError> {
    let err = |key: &str, message: String| RulesError::new(settings, key, message);
    let hours = OfficeHours::from_settings(&settings.calendar);
    hours.validate().map_err(|e| {
        err(
            "calendar.morning_start .. calendar.afternoon_end",
            e.to_string(),
        )
    })?;
    let calendar = Calendar::from_settings(&settings.calendar)
        .map_err(|e| err("calendar.file", e.to_string()))?;
    Ok((calendar, hours))
}
