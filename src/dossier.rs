//! Domain types of a dossier (hồ sơ TTHC) as tthc-watch understands it, whatever
//! shape the source system sent it in. Every time is Vietnam local time
//! (Asia/Ho_Chi_Minh, UTC+7, no daylight saving), kept as a `NaiveDateTime`.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

/// Status, on the national portal's scale (`TrangThaiHoSo` 1–10), which every
/// source is mapped onto.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Submitted,
    Received,
    Refused,
    Processing,
    SupplementRequested,
    FeeRequested,
    Withdrawn,
    Stopped,
    Finished,
    Returned,
}

impl Status {
    pub const ALL: [Status; 10] = [
        Status::Submitted,
        Status::Received,
        Status::Refused,
        Status::Processing,
        Status::SupplementRequested,
        Status::FeeRequested,
        Status::Withdrawn,
        Status::Stopped,
        Status::Finished,
        Status::Returned,
    ];

    /// The national portal's numeric code.
    pub fn national_code(self) -> u8 {
        match self {
            Status::Submitted => 1,
            Status::Received => 2,
            Status::Refused => 3,
            Status::Processing => 4,
            Status::SupplementRequested => 5,
            Status::FeeRequested => 6,
            Status::Withdrawn => 7,
            Status::Stopped => 8,
            Status::Finished => 9,
            Status::Returned => 10,
        }
    }

    pub fn from_national_code(code: u8) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.national_code() == code)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Submitted => "submitted",
            Status::Received => "received",
            Status::Refused => "refused",
            Status::Processing => "processing",
            Status::SupplementRequested => "supplement_requested",
            Status::FeeRequested => "fee_requested",
            Status::Withdrawn => "withdrawn",
            Status::Stopped => "stopped",
            Status::Finished => "finished",
            Status::Returned => "returned",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Vietnamese label, for people.
    pub fn label_vi(self) -> &'static str {
        match self {
            Status::Submitted => "Mới nộp",
            Status::Received => "Đã tiếp nhận",
            Status::Refused => "Từ chối tiếp nhận",
            Status::Processing => "Đang xử lý",
            Status::SupplementRequested => "Yêu cầu bổ sung",
            Status::FeeRequested => "Chờ thực hiện nghĩa vụ tài chính",
            Status::Withdrawn => "Công dân rút hồ sơ",
            Status::Stopped => "Dừng xử lý",
            Status::Finished => "Đã có kết quả",
            Status::Returned => "Đã trả kết quả",
        }
    }

    /// A dossier in these states has no running deadline any more.
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            Status::Refused
                | Status::Withdrawn
                | Status::Stopped
                | Status::Finished
                | Status::Returned
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Direct,
    Online,
    Postal,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Direct => "direct",
            Channel::Online => "online",
            Channel::Postal => "postal",
        }
    }
    pub fn parse(s: &str) -> Option<Channel> {
        [Channel::Direct, Channel::Online, Channel::Postal]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicantKind {
    Person,
    Organisation,
}

impl ApplicantKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ApplicantKind::Person => "person",
            ApplicantKind::Organisation => "organisation",
        }
    }
    pub fn parse(s: &str) -> Option<ApplicantKind> {
        match s {
            "person" => Some(ApplicantKind::Person),
            "organisation" => Some(ApplicantKind::Organisation),
            _ => None,
        }
    }
}

/// How long a procedure may take, as the source states it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "unit", content = "value")]
pub enum Duration {
    WorkingDays(u32),
    WorkingHours(u32),
}

impl Duration {
    /// Working minutes, with the official 8-hour working day.
    pub fn working_minutes(self, minutes_per_day: i64) -> i64 {
        match self {
            Duration::WorkingDays(d) => i64::from(d) * minutes_per_day,
            Duration::WorkingHours(h) => i64::from(h) * 60,
        }
    }
}

/// One processing step (khâu, bước) with its own legal deadline. Stored as
/// an array in this field order (`store::dossiers::steps`): a field added
/// goes last, with `#[serde(default)]`, so rows stored before still read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub name: String,
    pub unit: String,
    pub officer: Option<String>,
    #[serde(with = "crate::clock::iso")]
    pub started_at: NaiveDateTime,
    #[serde(default, with = "crate::clock::iso::option")]
    pub finished_at: Option<NaiveDateTime>,
    #[serde(default, with = "crate::clock::iso::option")]
    pub due_at: Option<NaiveDateTime>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PauseKind {
    /// Yêu cầu bổ sung: the clock restarts when the complete dossier returns.
    Supplement,
    /// Fee or tax payment: the due date moves by the paused working time.
    Fee,
}

impl PauseKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PauseKind::Supplement => "supplement",
            PauseKind::Fee => "fee",
        }
    }
}

/// A period during which the clock stopped, with the due dates the source
/// reported before and after (the only place real systems keep a changed due date).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    pub kind: PauseKind,
    #[serde(with = "crate::clock::iso")]
    pub started_at: NaiveDateTime,
    #[serde(default, with = "crate::clock::iso::option")]
    pub ended_at: Option<NaiveDateTime>,
    #[serde(default, with = "crate::clock::iso::option")]
    pub due_before: Option<NaiveDateTime>,
    #[serde(default, with = "crate::clock::iso::option")]
    pub due_after: Option<NaiveDateTime>,
}

/// Gia hạn: allowed once, with the apology letter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    #[serde(with = "crate::clock::iso")]
    pub at: NaiveDateTime,
    #[serde(with = "crate::clock::iso")]
    pub due_before: NaiveDateTime,
    #[serde(with = "crate::clock::iso")]
    pub due_after: NaiveDateTime,
    pub reason: Option<String>,
}

/// A dossier as read from a source, normalised (NFC text, Vietnam local times).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dossier {
    pub code: String,
    pub procedure_code: Option<String>,
    pub procedure_name: String,
    pub field_code: String,
    pub field_name: String,
    pub unit_code: String,
    pub unit_name: String,
    /// The officer holding the dossier now (none once every step is done).
    pub officer: Option<String>,
    pub applicant_name: String,
    pub applicant_kind: ApplicantKind,
    pub applicant_id_no: Option<String>,
    pub applicant_phone: Option<String>,
    pub applicant_email: Option<String>,
    /// The applicant's address where the source has one (for the letter's
    /// "Địa chỉ:" line); personal data, masked like the phone and email.
    #[serde(default)]
    pub applicant_address: Option<String>,
    pub summary: Option<String>,
    pub channel: Channel,
    pub status: Status,
    #[serde(default, with = "crate::clock::iso::option")]
    pub submitted_at: Option<NaiveDateTime>,
    #[serde(with = "crate::clock::iso")]
    pub received_at: NaiveDateTime,
    /// Ngày hẹn trả as the source states it now (None: the procedure has no due date).
    #[serde(default, with = "crate::clock::iso::option")]
    pub due_at: Option<NaiveDateTime>,
    #[serde(default, with = "crate::clock::iso::option")]
    pub finished_at: Option<NaiveDateTime>,
    #[serde(default, with = "crate::clock::iso::option")]
    pub returned_at: Option<NaiveDateTime>,
    pub duration: Option<Duration>,
    pub steps: Vec<Step>,
    pub pauses: Vec<Pause>,
    pub extension: Option<Extension>,
    /// The source's own last-modified time.
    #[serde(with = "crate::clock::iso")]
    pub updated_at: NaiveDateTime,
}

impl Dossier {
    /// Every text field in NFC (sources send NFD too). Cheap when it already is.
    pub fn to_nfc(&mut self) {
        use crate::text::make_nfc as fix;
        fn fix_opt(s: &mut Option<String>) {
            if let Some(s) = s {
                fix(s);
            }
        }
        for s in [
            &mut self.code,
            &mut self.procedure_name,
            &mut self.field_code,
            &mut self.field_name,
            &mut self.unit_code,
            &mut self.unit_name,
            &mut self.applicant_name,
        ] {
            fix(s);
        }
        for s in [
            &mut self.procedure_code,
            &mut self.officer,
            &mut self.applicant_id_no,
            &mut self.applicant_phone,
            &mut self.applicant_email,
            &mut self.applicant_address,
            &mut self.summary,
        ] {
            fix_opt(s);
        }
        for step in &mut self.steps {
            fix(&mut step.name);
            fix(&mut step.unit);
            fix_opt(&mut step.officer);
        }
        if let Some(e) = &mut self.extension {
            fix_opt(&mut e.reason);
        }
    }

    /// The step holding the dossier now: the last one not finished.
    pub fn current_step(&self) -> Option<&Step> {
        self.steps.iter().rev().find(|s| s.finished_at.is_none())
    }
}
