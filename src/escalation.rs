//! The escalation ladder: which rung a dossier's verdict reaches and who must be
//! told. Pure functions; the store makes each rung fire once per dossier, due
//! date and recipient.

/// Who is told at each rung: settings (`[escalation.notify]`) the ladder reads.
pub use crate::config::{Notify, Role};
use crate::deadline::Class;
use crate::deadline::Verdict as StoredEvaluation;
use crate::dossier::Dossier;
use crate::routing::{Recipient, Routing};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rung {
    /// ≤ warning window left, no result: vice-chair of the field, head of the unit.
    DueSoon,
    /// Due today: the same, urgent.
    DueToday,
    /// Late: chair, vice-chair, head of the unit.
    Overdue,
    /// Late and no apology issued after N working days: head of the unit and the
    /// centre, with the risk of demotion in the emulation ranking.
    NoApology,
    /// A due-today or overdue alert nobody acknowledged within the timeout:
    /// the next level up (vice-chair → chair, unit head → vice-chair).
    NoAck,
}

impl Rung {
    pub fn as_str(self) -> &'static str {
        match self {
            Rung::DueSoon => "due_soon",
            Rung::DueToday => "due_today",
            Rung::Overdue => "overdue",
            Rung::NoApology => "no_apology",
            Rung::NoAck => "no_ack",
        }
    }

    pub fn parse(s: &str) -> Option<Rung> {
        [
            Rung::DueSoon,
            Rung::DueToday,
            Rung::Overdue,
            Rung::NoApology,
            Rung::NoAck,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }

    pub fn label_vi(self) -> &'static str {
        match self {
            Rung::DueSoon => "Sắp đến hạn",
            Rung::DueToday => "KHẨN: đến hạn hôm nay",
            Rung::Overdue => "Quá hạn",
            Rung::NoApology => {
                "Quá hạn chưa có văn bản xin lỗi – nguy cơ bị hạ mức xếp loại thi đua"
            }
            Rung::NoAck => "Cấp dưới chưa xác nhận chỉ đạo",
        }
    }

    /// A short tag for the other rungs a listed dossier reached in the same
    /// message (it is listed once, at its most urgent rung).
    pub fn tag_vi(self) -> &'static str {
        match self {
            Rung::DueSoon => "sắp đến hạn",
            Rung::DueToday => "đến hạn hôm nay",
            Rung::Overdue => "quá hạn",
            Rung::NoApology => "chưa có văn bản xin lỗi",
            Rung::NoAck => "chưa ai xác nhận",
        }
    }

    /// Lower is more urgent, for sorting a recipient's list.
    pub fn urgency(self) -> u8 {
        match self {
            Rung::NoApology => 0,
            Rung::Overdue => 1,
            Rung::NoAck => 2,
            Rung::DueToday => 3,
            Rung::DueSoon => 4,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ladder {
    /// Working days late after which a missing apology is escalated.
    pub no_apology_after_days: i64,
    pub notify: Notify,
}

impl Ladder {
    /// The ladder `[escalation]` configures.
    pub fn from_settings(s: &crate::config::EscalationSettings) -> Ladder {
        Ladder {
            no_apology_after_days: i64::from(s.no_apology_after_days),
            notify: s.notify.clone(),
        }
    }
}

impl Default for Ladder {
    fn default() -> Ladder {
        Ladder {
            no_apology_after_days: 2,
            notify: Notify::default(),
        }
    }
}

/// Who hears of an alert nobody acknowledged: the next level up from the
/// one told (vice-chair → chair; unit head → the field's vice-chair, else the
/// chair); none above the chair or for the centre.
pub fn climb_to(role: &str, field_code: &str, routing: &Routing) -> Option<Recipient> {
    match role {
        "vice_chair" => Some(routing.chair_recipient()),
        "unit_head" => Some(
            routing
                .vice_chair_recipient(field_code)
                .unwrap_or_else(|| routing.chair_recipient()),
        ),
        _ => None,
    }
}

/// One rung firing for one recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedAlert {
    pub rung: Rung,
    pub recipient: Recipient,
    /// The field has no vice-chair or the unit no head in routing.
    pub unrouted: bool,
}

/// The rungs a verdict reaches.
pub fn rungs(ev: &StoredEvaluation, apology_issued: bool, ladder: &Ladder) -> Vec<Rung> {
    match ev.class {
        Class::DueSoon => vec![Rung::DueSoon],
        Class::DueToday => vec![Rung::DueToday],
        Class::Overdue => {
            let mut v = vec![Rung::Overdue];
            if !apology_issued && ev.working_days_late.unwrap_or(0) >= ladder.no_apology_after_days
            {
                v.push(Rung::NoApology);
            }
            v
        }
        _ => Vec::new(),
    }
}

/// Who hears about each rung. What has no route goes to the centre and the chair.
pub fn plan_alerts(
    d: &Dossier,
    ev: &StoredEvaluation,
    apology_issued: bool,
    routing: &Routing,
    ladder: &Ladder,
) -> Vec<PlannedAlert> {
    let vice = routing.vice_chair_recipient(&d.field_code);
    let head = routing.unit_head_recipient(&d.unit_code);
    let unrouted = vice.is_none() || head.is_none();
    let mut out = Vec::new();
    for rung in rungs(ev, apology_issued, ladder) {
        let roles = match rung {
            Rung::DueSoon => &ladder.notify.due_soon,
            Rung::DueToday => &ladder.notify.due_today,
            Rung::Overdue => &ladder.notify.overdue,
            Rung::NoApology => &ladder.notify.no_apology,
            // Climbs come from silence, not from a verdict (`climb_to`).
            Rung::NoAck => continue,
        };
        let mut to: Vec<Recipient> = Vec::new();
        for role in roles {
            match role {
                Role::Chair => to.push(routing.chair_recipient()),
                Role::ViceChair => to.extend(vice.clone()),
                Role::UnitHead => to.extend(head.clone()),
                Role::Centre => to.extend(routing.centre_recipients()),
            }
        }
        if unrouted {
            to.extend(routing.centre_recipients());
            to.push(routing.chair_recipient());
        }
        let mut seen = std::collections::HashSet::new();
        for r in to {
            if seen.insert(r.email.clone()) {
                out.push(PlannedAlert {
                    rung,
                    recipient: r,
                    unrouted,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dossier::{ApplicantKind, Channel, Status};
    use chrono::NaiveDateTime;

    fn d(field: &str, unit: &str) -> Dossier {
        let t = NaiveDateTime::parse_from_str("2026-11-20 08:00", "%Y-%m-%d %H:%M").unwrap();
        Dossier {
            code: "X".into(),
            procedure_code: None,
            procedure_name: "P".into(),
            field_code: field.into(),
            field_name: String::new(),
            unit_code: unit.into(),
            unit_name: String::new(),
            officer: None,
            applicant_name: "A".into(),
            applicant_kind: ApplicantKind::Person,
            applicant_id_no: None,
            applicant_phone: None,
            applicant_email: None,
            applicant_address: None,
            summary: None,
            channel: Channel::Direct,
            status: Status::Processing,
            submitted_at: None,
            received_at: t,
            due_at: Some(t),
            finished_at: None,
            returned_at: None,
            duration: None,
            steps: vec![],
            pauses: vec![],
            extension: None,
            updated_at: t,
        }
    }

    fn ev(class: Class, late: Option<i64>) -> StoredEvaluation {
        StoredEvaluation {
            class,
            due_at: None,
            computed_due_at: None,
            due_mismatch: false,
            working_days_left: None,
            working_days_late: late,
            delay: None,
            recheck_at: None,
            class_since: None,
            evaluated_at: None,
        }
    }

    fn emails(v: &[PlannedAlert]) -> Vec<(&str, &str)> {
        v.iter()
            .map(|a| (a.rung.as_str(), a.recipient.email.as_str()))
            .collect()
    }

    #[test]
    fn the_ladder_by_class() {
        let r = Routing::builtin().unwrap();
        let l = Ladder {
            no_apology_after_days: 2,
            ..Ladder::default()
        };
        let dossier = d("DD", "PKT");
        assert_eq!(
            emails(&plan_alerts(
                &dossier,
                &ev(Class::DueSoon, None),
                false,
                &r,
                &l
            )),
            vec![
                ("due_soon", "pct.kinhte@ninhhoa.example.vn"),
                ("due_soon", "pkt@ninhhoa.example.vn")
            ]
        );
        assert_eq!(
            plan_alerts(&dossier, &ev(Class::DueToday, None), false, &r, &l)[0].rung,
            Rung::DueToday
        );
        assert_eq!(
            emails(&plan_alerts(
                &dossier,
                &ev(Class::Overdue, Some(1)),
                false,
                &r,
                &l
            )),
            vec![
                ("overdue", "chutich@ninhhoa.example.vn"),
                ("overdue", "pct.kinhte@ninhhoa.example.vn"),
                ("overdue", "pkt@ninhhoa.example.vn")
            ]
        );
        // Two working days late and no apology: the unit head and the centre are reminded.
        let late = plan_alerts(&dossier, &ev(Class::Overdue, Some(2)), false, &r, &l);
        assert!(emails(&late).contains(&("no_apology", "ttpvhcc@ninhhoa.example.vn")));
        // Apology issued: no reminder.
        let late = plan_alerts(&dossier, &ev(Class::Overdue, Some(5)), true, &r, &l);
        assert!(late.iter().all(|a| a.rung == Rung::Overdue));
        assert!(plan_alerts(&dossier, &ev(Class::NotYetDue, None), false, &r, &l).is_empty());
    }

    #[test]
    fn unrouted_dossiers_go_to_the_centre_and_the_chair() {
        let r = Routing::builtin().unwrap();
        let a = plan_alerts(
            &d("ANNINH", "PKT"),
            &ev(Class::DueSoon, None),
            false,
            &r,
            &Ladder::default(),
        );
        assert!(a.iter().all(|a| a.unrouted));
        assert_eq!(
            emails(&a),
            vec![
                ("due_soon", "pkt@ninhhoa.example.vn"),
                ("due_soon", "ttpvhcc@ninhhoa.example.vn"),
                ("due_soon", "chutich@ninhhoa.example.vn")
            ]
        );
    }

    #[test]
    fn who_is_told_is_configurable() {
        let r = Routing::builtin().unwrap();
        let l = Ladder {
            no_apology_after_days: 2,
            notify: Notify {
                due_soon: vec![Role::UnitHead],
                ..Notify::default()
            },
        };
        let a = plan_alerts(&d("DD", "PKT"), &ev(Class::DueSoon, None), false, &r, &l);
        assert_eq!(emails(&a), vec![("due_soon", "pkt@ninhhoa.example.vn")]);
    }
}
