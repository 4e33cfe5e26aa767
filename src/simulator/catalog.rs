//! The simulated committee: fields, procedures, units and people. Realistic
//! Vietnamese names (NFC), invented but plausible.

use crate::dossier::Duration;

pub struct Field {
    pub code: &'static str,
    pub name: &'static str,
    /// Share of dossiers finished on time in this field (land is the worst, as in the seeds).
    pub on_time: f64,
    /// Relative volume.
    pub weight: u32,
    pub unit: usize,
}

pub struct Procedure {
    pub code: &'static str,
    pub name: &'static str,
    pub field: usize,
    pub duration: Option<Duration>,
}

pub struct Unit {
    pub code: &'static str,
    pub name: &'static str,
    pub officers: &'static [&'static str],
}

pub const FIELDS: &[Field] = &[
    Field {
        code: "DD",
        name: "Đất đai",
        on_time: 0.80,
        weight: 22,
        unit: 0,
    },
    Field {
        code: "XD",
        name: "Xây dựng",
        on_time: 0.87,
        weight: 12,
        unit: 1,
    },
    Field {
        code: "HT",
        name: "Hộ tịch",
        on_time: 0.96,
        weight: 28,
        unit: 2,
    },
    Field {
        code: "DKKD",
        name: "Đăng ký kinh doanh",
        on_time: 0.94,
        weight: 12,
        unit: 3,
    },
    Field {
        code: "TP",
        name: "Tư pháp",
        on_time: 0.955,
        weight: 10,
        unit: 2,
    },
    Field {
        code: "LDTBXH",
        name: "Lao động – Thương binh – Xã hội",
        on_time: 0.93,
        weight: 10,
        unit: 4,
    },
    Field {
        code: "GDDT",
        name: "Giáo dục và Đào tạo",
        on_time: 0.955,
        weight: 6,
        unit: 4,
    },
];

pub const UNITS: &[Unit] = &[
    Unit {
        code: "PKT",
        name: "Phòng Kinh tế, Hạ tầng và Đô thị",
        officers: &["Trần Văn Hùng", "Lê Thị Thu Hà", "Phạm Quốc Bảo"],
    },
    Unit {
        code: "PQLDT",
        name: "Phòng Quản lý đô thị",
        officers: &["Nguyễn Đức Thắng", "Võ Thị Ngọc Ánh"],
    },
    Unit {
        code: "VP",
        name: "Văn phòng HĐND và UBND",
        officers: &["Đặng Thị Mỹ Linh", "Huỳnh Văn Lộc", "Bùi Thị Hương"],
    },
    Unit {
        code: "PTCKH",
        name: "Phòng Tài chính – Kế hoạch",
        officers: &["Ngô Minh Tuấn", "Phan Thị Diệu"],
    },
    Unit {
        code: "PVHXH",
        name: "Phòng Văn hóa – Xã hội",
        officers: &["Lý Thị Kim Oanh", "Đỗ Văn Khoa"],
    },
];

/// The one-stop desk (Bộ phận Một cửa) receives and returns every dossier.
pub const DESK: &str = "Trung tâm Phục vụ hành chính công";
pub const DESK_OFFICERS: &[&str] = &[
    "Nguyễn Thị Thanh Tâm",
    "Trương Công Danh",
    "Mai Thị Bích Ngọc",
];
pub const LEADERS: &[&str] = &["Lê Văn Thành", "Nguyễn Thị Phương"];

pub const PROCEDURES: &[Procedure] = &[
    Procedure {
        code: "1.004227",
        name: "Đăng ký biến động quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất",
        field: 0,
        duration: Some(Duration::WorkingDays(10)),
    },
    Procedure {
        code: "1.004221",
        name: "Cấp Giấy chứng nhận quyền sử dụng đất lần đầu",
        field: 0,
        duration: Some(Duration::WorkingDays(20)),
    },
    Procedure {
        code: "2.000889",
        name: "Chuyển mục đích sử dụng đất phải được phép của cơ quan có thẩm quyền",
        field: 0,
        duration: Some(Duration::WorkingDays(15)),
    },
    Procedure {
        code: "1.009972",
        name: "Cấp giấy phép xây dựng mới đối với nhà ở riêng lẻ",
        field: 1,
        duration: Some(Duration::WorkingDays(15)),
    },
    Procedure {
        code: "1.009974",
        name: "Cấp giấy phép sửa chữa, cải tạo công trình",
        field: 1,
        duration: Some(Duration::WorkingDays(10)),
    },
    Procedure {
        code: "1.001193",
        name: "Đăng ký khai sinh",
        field: 2,
        duration: Some(Duration::WorkingHours(8)),
    },
    Procedure {
        code: "1.000894",
        name: "Đăng ký kết hôn",
        field: 2,
        duration: Some(Duration::WorkingDays(3)),
    },
    Procedure {
        code: "1.004873",
        name: "Cấp bản sao trích lục hộ tịch",
        field: 2,
        duration: Some(Duration::WorkingHours(4)),
    },
    Procedure {
        code: "1.001612",
        name: "Đăng ký thành lập hộ kinh doanh",
        field: 3,
        duration: Some(Duration::WorkingDays(3)),
    },
    Procedure {
        code: "2.000720",
        name: "Đăng ký thay đổi nội dung đăng ký hộ kinh doanh",
        field: 3,
        duration: Some(Duration::WorkingDays(3)),
    },
    Procedure {
        code: "2.000815",
        name: "Chứng thực bản sao từ bản chính giấy tờ",
        field: 4,
        duration: Some(Duration::WorkingHours(4)),
    },
    Procedure {
        code: "2.001035",
        name: "Chứng thực hợp đồng, giao dịch liên quan đến tài sản",
        field: 4,
        duration: Some(Duration::WorkingDays(2)),
    },
    Procedure {
        code: "1.001776",
        name: "Trợ giúp xã hội khẩn cấp về hỗ trợ làm nhà ở",
        field: 5,
        duration: Some(Duration::WorkingDays(5)),
    },
    Procedure {
        code: "1.001731",
        name: "Giải quyết chế độ trợ cấp thờ cúng liệt sĩ",
        field: 5,
        duration: Some(Duration::WorkingDays(12)),
    },
    Procedure {
        code: "1.004515",
        name: "Cho phép nhóm trẻ, lớp mẫu giáo độc lập hoạt động giáo dục",
        field: 6,
        duration: Some(Duration::WorkingDays(10)),
    },
    // Some procedures have no due date at all (seen in real systems).
    Procedure {
        code: "2.002180",
        name: "Tiếp công dân, ghi nhận phản ánh kiến nghị về thủ tục hành chính",
        field: 4,
        duration: None,
    },
];

pub const FAMILY_NAMES: &[&str] = &[
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ",
    "Hồ", "Ngô", "Dương", "Lý",
];
pub const MIDDLE_NAMES: &[&str] = &[
    "Văn",
    "Thị",
    "Hữu",
    "Đức",
    "Minh",
    "Thanh",
    "Ngọc",
    "Quốc",
    "Thị Thu",
    "Công",
];
pub const GIVEN_NAMES: &[&str] = &[
    "An", "Bình", "Châu", "Dũng", "Giang", "Hạnh", "Hiếu", "Khánh", "Lan", "Long", "Mai", "Nam",
    "Nhung", "Phúc", "Quyên", "Sơn", "Tâm", "Thảo", "Trí", "Tuấn", "Uyên", "Việt", "Xuân", "Yến",
    "Đạt", "Ánh", "Hưng", "Lộc",
];
pub const COMPANY_KINDS: &[&str] = &[
    "Công ty TNHH",
    "Công ty Cổ phần",
    "Hợp tác xã",
    "Doanh nghiệp tư nhân",
];
pub const COMPANY_NAMES: &[&str] = &[
    "Xây dựng Ninh Hòa",
    "Thương mại Sông Cái",
    "Nông sản Lâm Viên",
    "Vận tải Hòn Khói",
    "Du lịch Đồi Cát",
    "Thủy sản Vân Phong",
    "Cà phê Cầu Đất",
    "Gạch ngói Hòa Xuân",
];
pub const STREETS: &[&str] = &[
    "Trần Quý Cáp",
    "Lê Lợi",
    "Nguyễn Trãi",
    "Hùng Vương",
    "Phan Đình Phùng",
    "Yersin",
];

/// The province of every simulated unit (`H56` in the dossier codes).
pub const PROVINCE_CODE: &str = "56";
pub const PROVINCE_NAME: &str = "Tỉnh Khánh Hòa";

/// The committee above the units (iGate's `agency.parent`), in Vietnamese and English.
pub const PARENT_AGENCY: (&str, &str) =
    ("UBND thị xã Ninh Hòa", "Ninh Hoa Town People's Committee");

/// The English name of a field, for the sectors whose iGate record carries
/// one beside the Vietnamese (not all of them do).
pub fn field_name_en(code: &str) -> Option<&'static str> {
    match code {
        "DD" => Some("Land"),
        "XD" => Some("Construction"),
        "HT" => Some("Civil status"),
        "DKKD" => Some("Business registration"),
        _ => None,
    }
}

/// The branch (ngành) a field belongs to, as one-door's field catalogue lists it.
pub fn field_branch(code: &str) -> &'static str {
    match code {
        "DD" => "TNMT",
        "XD" => "XD",
        "HT" | "TP" => "TP",
        "DKKD" => "KHDT",
        "LDTBXH" => "LDTBXH",
        _ => "GDDT",
    }
}

/// A unit's code from its name, which is all a step carries.
pub fn unit_code(name: &str) -> &str {
    if name == DESK {
        return "TTPVHCC";
    }
    UNITS
        .iter()
        .find(|u| u.name == name)
        .map_or(name, |u| u.code)
}
