use std::io::{Read, Write};

use chrono::NaiveDate;
use unicode_normalization::UnicodeNormalization;

use super::layout::*;
use super::*;
use crate::dossier::ApplicantKind;

const W: &str = "http://schemas.openxmlformats.org/wordprocessingml/2006/main";

fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, m, d)
        .unwrap()
        .and_hms_opt(h, min, 0)
        .unwrap()
}

/// The realistic sample of the brief.
fn sample() -> LetterData {
    LetterData {
        governing_body: Some("UBND TỈNH KHÁNH HÒA".into()),
        agency: "UBND PHƯỜNG NINH HÒA".into(),
        agency_name: "Ủy ban nhân dân phường Ninh Hòa".into(),
        doc_number: Some("125/TB-UBND".into()),
        place: "Ninh Hòa".into(),
        date: NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(),
        applicant_name: "Nguyễn Thị Hồng".into(),
        applicant_kind: ApplicantKind::Person,
        applicant_address: Some("Tổ dân phố 3, phường Ninh Hòa, tỉnh Khánh Hòa".into()),
        dossier_code: "000.00.12.H56-261105-0001380".into(),
        procedure_name: "Cấp giấy phép xây dựng mới đối với nhà ở riêng lẻ".into(),
        handling_unit: "Phòng Kinh tế, Hạ tầng và Đô thị".into(),
        received_at: at(2026, 11, 5, 8, 0),
        due_at: at(2026, 11, 24, 17, 0),
        reason: None,
        delay: Some(DelayStep {
            step: "Thẩm định, xử lý hồ sơ".into(),
            unit: "Phòng Kinh tế, Hạ tầng và Đô thị".into(),
        }),
        new_due_at: Some(at(2026, 11, 28, 16, 30)),
        signer_title: vec!["KT. CHỦ TỊCH".into(), "PHÓ CHỦ TỊCH".into()],
        signer_name: Some("Trần Văn Bình".into()),
        recipients: vec![
            "Như trên;".into(),
            "Trung tâm PVHCC;".into(),
            "Lưu: VT.".into(),
        ],
    }
}

fn nfd(s: &str) -> String {
    s.nfd().collect()
}

fn template() -> LetterTemplate {
    LetterTemplate::builtin().unwrap()
}

/// Unzips a part of the package.
fn part(docx: &[u8], name: &str) -> String {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(docx)).unwrap();
    let mut file = zip.by_name(name).unwrap();
    let mut s = String::new();
    file.read_to_string(&mut s).unwrap();
    s
}

fn document_xml(data: &LetterData) -> String {
    part(
        &render_docx(data, &template()).unwrap(),
        "word/document.xml",
    )
}

/// Text of a paragraph: its w:t, with w:br as "\n".
fn para_text(p: roxmltree::Node) -> String {
    let mut s = String::new();
    for n in p.descendants() {
        if n.has_tag_name((W, "t")) {
            s.push_str(n.text().unwrap_or(""));
        } else if n.has_tag_name((W, "br")) {
            s.push('\n');
        }
    }
    s
}

fn paragraphs<'a>(doc: &'a roxmltree::Document) -> Vec<roxmltree::Node<'a, 'a>> {
    doc.descendants()
        .filter(|n| n.has_tag_name((W, "p")))
        .collect()
}

/// The paragraph whose text starts with `start`.
fn find<'a>(doc: &'a roxmltree::Document, start: &str) -> roxmltree::Node<'a, 'a> {
    paragraphs(doc)
        .into_iter()
        .find(|p| para_text(*p).starts_with(start))
        .unwrap_or_else(|| panic!("no paragraph starts with {start:?}"))
}

fn child<'a>(n: roxmltree::Node<'a, 'a>, name: &str) -> Option<roxmltree::Node<'a, 'a>> {
    n.children().find(|c| c.has_tag_name((W, name)))
}

fn val<'a>(n: roxmltree::Node<'a, 'a>, name: &str) -> Option<&'a str> {
    child(n, name).and_then(|c| c.attribute((W, "val")))
}

/// Properties of the text runs of a paragraph (runs with text only).
fn runs<'a>(p: roxmltree::Node<'a, 'a>) -> Vec<roxmltree::Node<'a, 'a>> {
    p.children()
        .filter(|r| r.has_tag_name((W, "r")))
        .filter(|r| r.children().any(|c| c.has_tag_name((W, "t"))))
        .map(|r| child(r, "rPr").expect("run without rPr"))
        .collect()
}

fn sizes(p: roxmltree::Node) -> Vec<usize> {
    runs(p)
        .into_iter()
        .map(|r| val(r, "sz").unwrap().parse().unwrap())
        .collect()
}

fn all(p: roxmltree::Node, prop: &str) -> bool {
    let rs = runs(p);
    !rs.is_empty() && rs.iter().all(|r| child(*r, prop).is_some())
}

fn none(p: roxmltree::Node, prop: &str) -> bool {
    runs(p).iter().all(|r| child(*r, prop).is_none())
}

fn jc<'a>(p: roxmltree::Node<'a, 'a>) -> Option<&'a str> {
    child(p, "pPr").and_then(|ppr| val(ppr, "jc"))
}

fn in_range(sz: &[usize], lo: usize, hi: usize) -> bool {
    !sz.is_empty() && sz.iter().all(|s| (lo..=hi).contains(s))
}

#[test]
fn docx_is_a_valid_package_with_well_formed_xml() {
    let docx = render_docx(&sample(), &template()).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&docx)).unwrap();
    let names: Vec<String> = zip.file_names().map(str::to_owned).collect();
    for needed in [
        "[Content_Types].xml",
        "_rels/.rels",
        "word/document.xml",
        "word/styles.xml",
    ] {
        assert!(
            names.iter().any(|n| n == needed),
            "{needed} missing: {names:?}"
        );
    }
    for name in names
        .iter()
        .filter(|n| n.ends_with(".xml") || n.ends_with(".rels"))
    {
        let mut s = String::new();
        zip.by_name(name).unwrap().read_to_string(&mut s).unwrap();
        roxmltree::Document::parse(&s).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let doc_xml = part(&docx, "word/document.xml");
    let doc = roxmltree::Document::parse(&doc_xml).unwrap();
    assert!(doc.root_element().has_tag_name((W, "document")));
    let content_types = part(&docx, "[Content_Types].xml");
    assert!(content_types.contains("wordprocessingml.document.main+xml"));
}

#[test]
fn values_are_in_the_document_in_nfc_even_from_nfd_input() {
    let s = sample();
    let input = LetterData {
        governing_body: s.governing_body.as_deref().map(nfd),
        agency: nfd(&s.agency),
        place: nfd(&s.place),
        applicant_name: nfd(&s.applicant_name),
        applicant_address: s.applicant_address.as_deref().map(nfd),
        procedure_name: nfd(&s.procedure_name),
        reason: s.reason.as_deref().map(nfd),
        agency_name: nfd(&s.agency_name),
        handling_unit: nfd(&s.handling_unit),
        delay: s.delay.as_ref().map(|d| DelayStep {
            step: nfd(&d.step),
            unit: nfd(&d.unit),
        }),
        signer_title: s.signer_title.iter().map(|t| nfd(t)).collect(),
        signer_name: s.signer_name.as_deref().map(nfd),
        recipients: s.recipients.iter().map(|t| nfd(t)).collect(),
        ..s.clone()
    };
    assert_ne!(
        input.applicant_name, s.applicant_name,
        "test input must be NFD"
    );

    let xml = document_xml(&input);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let text: String = paragraphs(&doc)
        .into_iter()
        .map(|p| para_text(p) + "\n")
        .collect();
    assert!(
        text.chars()
            .all(|c| !('\u{0300}'..='\u{036F}').contains(&c))
    );
    assert_eq!(text, text.nfc().collect::<String>());
    for expected in [
        "000.00.12.H56-261105-0001380",
        "Kính gửi: Ông/Bà Nguyễn Thị Hồng",
        "Cấp giấy phép xây dựng mới đối với nhà ở riêng lẻ",
        "Ngày 05/11/2026, Ủy ban nhân dân phường Ninh Hòa tiếp nhận",
        "17 giờ 00 phút, ngày 24/11/2026",
        "Lý do: việc thẩm định hồ sơ tại Phòng Kinh tế, Hạ tầng và Đô thị chưa hoàn thành trong thời gian quy định.",
        "Hồ sơ đã được chuyển đến Phòng Kinh tế, Hạ tầng và Đô thị để giải quyết.",
        "Thời gian hẹn trả kết quả lại: 16 giờ 30 phút, ngày 28 tháng 11 năm 2026.",
        "Ninh Hòa, ngày 25 tháng 11 năm 2026",
        "Số: 125/TB-UBND",
        "UBND TỈNH KHÁNH HÒA",
        "UBND PHƯỜNG NINH HÒA",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ",
        "KT. CHỦ TỊCH\nPHÓ CHỦ TỊCH",
        "Trần Văn Bình",
        "- Trung tâm PVHCC;",
        "Địa chỉ: Tổ dân phố 3, phường Ninh Hòa, tỉnh Khánh Hòa",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }

    // The text rendering says the same.
    let paras = render_text(&input, &template()).unwrap();
    assert!(paras.iter().all(|p| p.nfc().collect::<String>() == *p));
    assert!(paras.contains(&"Nơi nhận:".to_owned()));
    assert!(paras.contains(&"- Lưu: VT.".to_owned()));
}

#[test]
fn page_is_a4_portrait_with_nd30_margins() {
    let xml = document_xml(&sample());
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let sect = doc
        .descendants()
        .find(|n| n.has_tag_name((W, "sectPr")))
        .unwrap();
    let pg_sz = child(sect, "pgSz").unwrap();
    assert_eq!(pg_sz.attribute((W, "w")), Some("11906"));
    assert_eq!(pg_sz.attribute((W, "h")), Some("16838"));
    assert_ne!(pg_sz.attribute((W, "orient")), Some("landscape"));

    let mar = child(sect, "pgMar").unwrap();
    let mm = |side: &str| -> f64 {
        let twips: f64 = mar.attribute((W, side)).unwrap().parse().unwrap();
        twips / 56.7
    };
    let within = |v: f64, lo: f64, hi: f64| v >= lo - 0.05 && v <= hi + 0.05;
    assert!(within(mm("top"), 20.0, 25.0), "top {}", mm("top"));
    assert!(within(mm("bottom"), 20.0, 25.0), "bottom {}", mm("bottom"));
    assert!(within(mm("left"), 30.0, 35.0), "left {}", mm("left"));
    assert!(within(mm("right"), 15.0, 20.0), "right {}", mm("right"));
}

#[test]
fn times_new_roman_everywhere_with_14pt_default() {
    let docx = render_docx(&sample(), &template()).unwrap();
    for name in ["word/document.xml", "word/styles.xml"] {
        let xml = part(&docx, name);
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let fonts: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name((W, "rFonts")))
            .collect();
        assert!(!fonts.is_empty(), "{name} has no rFonts");
        for f in fonts {
            for attr in ["ascii", "hAnsi", "cs", "eastAsia"] {
                assert_eq!(f.attribute((W, attr)), Some(FONT), "{name} rFonts {attr}");
            }
        }
    }
    // Every text run names the font itself too.
    let xml = part(&docx, "word/document.xml");
    let doc = roxmltree::Document::parse(&xml).unwrap();
    for p in paragraphs(&doc) {
        for r in runs(p) {
            assert!(child(r, "rFonts").is_some(), "run without rFonts");
        }
    }
    // Default size 14 pt.
    let styles = part(&docx, "word/styles.xml");
    let doc = roxmltree::Document::parse(&styles).unwrap();
    let defaults = doc
        .descendants()
        .find(|n| n.has_tag_name((W, "rPrDefault")))
        .unwrap();
    let sz = defaults
        .descendants()
        .find(|n| n.has_tag_name((W, "sz")))
        .unwrap();
    assert_eq!(sz.attribute((W, "val")), Some("28"));
}

#[test]
fn header_title_body_and_signature_have_nd30_sizes_and_styles() {
    let xml = document_xml(&sample());
    let doc = roxmltree::Document::parse(&xml).unwrap();

    let governing = find(&doc, "UBND TỈNH KHÁNH HÒA");
    assert!(in_range(&sizes(governing), 24, 26));
    assert!(none(governing, "b") && none(governing, "i"));
    assert_eq!(jc(governing), Some("center"));

    let agency = find(&doc, "UBND PHƯỜNG NINH HÒA");
    assert!(in_range(&sizes(agency), 24, 26));
    assert!(all(agency, "b"));

    let number = find(&doc, "Số: ");
    assert_eq!(sizes(number), vec![26]);

    let motto = find(&doc, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM");
    assert!(in_range(&sizes(motto), 24, 26));
    assert!(all(motto, "b"));
    assert_eq!(jc(motto), Some("center"));

    let slogan = find(&doc, "Độc lập - Tự do - Hạnh phúc");
    assert!(in_range(&sizes(slogan), 26, 28));
    assert!(all(slogan, "b"));
    for r in runs(slogan) {
        assert_eq!(val(r, "u"), Some("single"));
    }
    assert_eq!(jc(slogan), Some("center"));

    // Motto and agency sit side by side in one borderless table.
    let table = motto
        .ancestors()
        .find(|n| n.has_tag_name((W, "tbl")))
        .unwrap();
    assert!(agency.ancestors().any(|n| n == table));
    let borders = child(child(table, "tblPr").unwrap(), "tblBorders").unwrap();
    for b in borders.children().filter(|b| b.is_element()) {
        assert!(
            matches!(b.attribute((W, "val")), Some("nil" | "none")),
            "table border {:?}",
            b.tag_name()
        );
    }

    let place_date = find(&doc, "Ninh Hòa, ngày 25 tháng 11 năm 2026");
    assert!(in_range(&sizes(place_date), 26, 28));
    assert!(all(place_date, "i"));
    // In the right-hand column.
    let tc = place_date
        .ancestors()
        .find(|n| n.has_tag_name((W, "tc")))
        .unwrap();
    assert!(
        tc.prev_sibling_element()
            .is_some_and(|c| c.has_tag_name((W, "tc")))
    );

    let title = find(&doc, "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ");
    assert!(in_range(&sizes(title), 26, 28));
    assert!(all(title, "b"));
    assert_eq!(jc(title), Some("center"));

    let salutation = find(&doc, "Kính gửi:");
    assert_eq!(jc(salutation), Some("center"));

    for start in [
        "Ngày 05/11/2026",
        "- Số biên nhận",
        "Sự chậm trễ",
        "Thời gian hẹn trả kết quả lại",
    ] {
        let p = find(&doc, start);
        assert!(in_range(&sizes(p), 26, 28), "{start}");
        assert_eq!(jc(p), Some("both"), "{start}");
        let ppr = child(p, "pPr").unwrap();
        let first: i32 = child(ppr, "ind")
            .and_then(|i| i.attribute((W, "firstLine")))
            .unwrap()
            .parse()
            .unwrap();
        assert!((500..=600).contains(&first), "{start}: first line {first}");
        let after = child(ppr, "spacing").and_then(|s| s.attribute((W, "after")));
        assert_eq!(after, Some("120"), "{start}");
    }

    for line in ["KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH", "Trần Văn Bình"] {
        let p = find(&doc, line);
        assert!(in_range(&sizes(p), 26, 28), "{line}");
        assert!(all(p, "b"), "{line}");
        assert_eq!(jc(p), Some("center"), "{line}");
    }

    let label = find(&doc, "Nơi nhận:");
    assert_eq!(sizes(label), vec![24]);
    assert!(all(label, "b") && all(label, "i"));
    for r in ["- Như trên;", "- Trung tâm PVHCC;", "- Lưu: VT."] {
        let p = find(&doc, r);
        assert_eq!(sizes(p), vec![22], "{r}");
        assert!(none(p, "b"), "{r}");
    }
    // "Nơi nhận" on the left, signer on the right of one table.
    let sig_table = label
        .ancestors()
        .find(|n| n.has_tag_name((W, "tbl")))
        .unwrap();
    let signer = find(&doc, "PHÓ CHỦ TỊCH");
    assert!(signer.ancestors().any(|n| n == sig_table));
}

#[test]
fn unknown_values_show_the_visible_blank() {
    let data = LetterData {
        doc_number: None,
        reason: None,
        new_due_at: None,
        signer_name: None,
        applicant_address: None,
        ..sample()
    };
    let paras = render_text(&data, &template()).unwrap();
    let text = paras.join("\n");
    assert!(paras.contains(&"Số: ……/PXL".to_owned()), "{text}");
    // The reason is never blank: worded from the step that held the dossier.
    assert!(
        text.contains("Lý do: việc thẩm định hồ sơ tại Phòng Kinh tế, Hạ tầng và Đô thị"),
        "{text}"
    );
    assert!(
        text.contains("Thời gian hẹn trả kết quả lại: …….\n"),
        "{text}"
    );
    assert!(text.contains("Địa chỉ: ……"), "{text}");
    // The signer's name is a blank line of its own, after the titles.
    let idx = paras.iter().position(|p| p == "PHÓ CHỦ TỊCH").unwrap();
    assert_eq!(paras[idx + 1], "……");

    // The same in the DOCX.
    let xml = document_xml(&data);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    assert_eq!(para_text(find(&doc, "Số:")), "Số: ……/PXL");
    assert!(para_text(find(&doc, "Đến nay")).contains("Lý do: việc thẩm định hồ sơ"));
    let blank_name = paragraphs(&doc)
        .into_iter()
        .find(|p| para_text(*p) == "……")
        .expect("blank signer name");
    assert!(all(blank_name, "b"));

    // Nothing known at all still drafts, with blanks and no invented text.
    let paras = render_text(&LetterData::unknown(), &template()).unwrap();
    assert!(paras.contains(&"Kính gửi: Ông/Bà ……".to_owned()));
    assert!(paras.contains(&"- Số biên nhận (mã hồ sơ): ……;".to_owned()));
    let text = paras.join("\n");
    assert!(
        text.contains("Lý do: hồ sơ cần thêm thời gian để xem xét, giải quyết theo quy định."),
        "{text}"
    );
    assert!(paras.contains(&"- ……".to_owned()));
    assert!(!paras.iter().any(|p| p.contains("UBND TỈNH")));
}

#[test]
fn overdue_wording_depends_on_the_letter_date() {
    let late = render_text(&sample(), &template()).unwrap().join("\n");
    assert!(late.contains("Đến nay, Ủy ban nhân dân phường Ninh Hòa chưa trả kết quả"));
    assert!(late.contains("Sự chậm trễ này đã gây phiền hà cho Ông/Bà"));
    // On the due day and before it: not yet late, so no delay to apologise for.
    for day in [24, 20] {
        let early = LetterData {
            date: NaiveDate::from_ymd_opt(2026, 11, day).unwrap(),
            ..sample()
        };
        assert!(!early.is_late());
        let early = render_text(&early, &template()).unwrap().join("\n");
        assert!(
            early.contains(
                "không thể trả kết quả giải quyết hồ sơ cho Ông/Bà đúng thời gian đã hẹn"
            ),
            "{early}"
        );
        for late_word in ["phiền hà", "chậm trễ", "Đến nay", "chưa trả kết quả"] {
            assert!(!early.contains(late_word), "{late_word}: {early}");
        }
        assert!(early.contains(&format!("ngày {day} tháng 11 năm 2026")));
    }
}

/// The letter a citizen or a company reads: named by what they are, the
/// issuing agency named instead of "chúng tôi", the reason in plain words.
#[test]
fn an_organisation_is_named_and_never_called_ong_ba() {
    let t = template();
    let org = |name: &str, kind| LetterData {
        applicant_name: name.into(),
        applicant_kind: kind,
        ..sample()
    };
    for (data, salutation, reference) in [
        // The source says organisation.
        (
            org("Trạm xăng dầu Ninh Hòa", ApplicantKind::Organisation),
            "Kính gửi: Trạm xăng dầu Ninh Hòa",
            "Quý cơ quan",
        ),
        // The source says person (or nothing), the name says company.
        (
            org("Công ty TNHH Xây dựng An Phát", ApplicantKind::Person),
            "Kính gửi: Công ty TNHH Xây dựng An Phát",
            "Quý Công ty",
        ),
        (
            org("CÔNG TY CỔ PHẦN BÌNH MINH", ApplicantKind::Person),
            "Kính gửi: CÔNG TY CỔ PHẦN BÌNH MINH",
            "Quý Công ty",
        ),
        (
            org("Hợp tác xã Nông nghiệp Ninh Hưng", ApplicantKind::Person),
            "Kính gửi: Hợp tác xã Nông nghiệp Ninh Hưng",
            "Quý Hợp tác xã",
        ),
        (
            org("Hộ kinh doanh Nguyễn Văn Tư", ApplicantKind::Person),
            "Kính gửi: Hộ kinh doanh Nguyễn Văn Tư",
            "Quý Hộ kinh doanh",
        ),
        (
            org("Uỷ ban nhân dân xã Ninh Tây", ApplicantKind::Person),
            "Kính gửi: Uỷ ban nhân dân xã Ninh Tây",
            "Quý cơ quan",
        ),
    ] {
        let text = render_text(&data, &t).unwrap().join("\n");
        assert!(!text.contains("Ông/Bà"), "{text}");
        assert!(text.contains(salutation), "{text}");
        assert!(
            text.contains(&format!("thành thật xin lỗi {reference}")),
            "{reference}: {text}"
        );
        let xml = document_xml(&data);
        assert!(!xml.contains("Ông/Bà"), "DOCX of {salutation}");
    }
    // A surname is not a prefix: "Trương" is not "Trường", and a word must
    // end where the prefix does ("Hội" is not "Hội" + "i").
    for name in ["Trương Thị Trường", "Hồ Văn Hội", "Công Tằng Tôn Nữ Lan"] {
        let text = render_text(&org(name, ApplicantKind::Person), &t)
            .unwrap()
            .join("\n");
        assert!(text.contains(&format!("Kính gửi: Ông/Bà {name}")), "{text}");
    }
}

#[test]
fn the_reason_is_written_for_a_citizen() {
    let t = template();
    let reason = |delay: Option<(&str, &str)>| {
        let data = LetterData {
            delay: delay.map(|(step, unit)| DelayStep {
                step: step.into(),
                unit: unit.into(),
            }),
            ..sample()
        };
        let text = render_text(&data, &t).unwrap().join("\n");
        let start = text.find("Lý do: ").unwrap() + "Lý do: ".len();
        text[start..].split('\n').next().unwrap().to_owned()
    };
    assert_eq!(
        reason(Some((
            "Thẩm định, xử lý hồ sơ",
            "Phòng Kinh tế, Hạ tầng và Đô thị"
        ))),
        "việc thẩm định hồ sơ tại Phòng Kinh tế, Hạ tầng và Đô thị chưa hoàn thành trong thời gian quy định."
    );
    assert_eq!(
        reason(Some((
            "Đo đạc, kiểm tra thực địa",
            "Chi nhánh Văn phòng đăng ký đất đai"
        ))),
        "việc kiểm tra thực địa tại Chi nhánh Văn phòng đăng ký đất đai chưa hoàn thành trong thời gian quy định."
    );
    assert_eq!(
        reason(Some(("Bước 3", "Phòng Văn hóa – Xã hội"))),
        "việc giải quyết hồ sơ ở bước “Bước 3” tại Phòng Văn hóa – Xã hội chưa hoàn thành trong thời gian quy định."
    );
    assert_eq!(
        reason(None),
        "hồ sơ cần thêm thời gian để xem xét, giải quyết theo quy định."
    );
    for r in [reason(Some(("Thẩm định", "PKT"))), reason(None)] {
        assert!(
            !r.contains("khâu") && !r.contains("quá") && !r.contains("……"),
            "{r}"
        );
    }
}

#[test]
fn docx_is_vietnamese_with_its_author_and_dates() {
    let docx = render_docx(&sample(), &template()).unwrap();
    let styles = part(&docx, "word/styles.xml");
    let doc = roxmltree::Document::parse(&styles).unwrap();
    let lang = doc
        .descendants()
        .find(|n| n.has_tag_name((W, "rPrDefault")))
        .and_then(|d| d.descendants().find(|n| n.has_tag_name((W, "lang"))))
        .expect("w:lang in the run defaults");
    assert_eq!(lang.attribute((W, "val")), Some("vi-VN"));
    let core = part(&docx, "docProps/core.xml");
    let doc = roxmltree::Document::parse(&core).unwrap();
    let text_of = |local: &str| {
        doc.descendants()
            .find(|n| n.tag_name().name() == local)
            .and_then(|n| n.text())
            .map(str::to_owned)
    };
    assert_eq!(
        text_of("creator").as_deref(),
        Some("Ủy ban nhân dân phường Ninh Hòa")
    );
    assert_eq!(text_of("language").as_deref(), Some("vi-VN"));
    assert_eq!(text_of("created").as_deref(), Some("2026-11-25T00:00:00Z"));
    assert_eq!(text_of("modified").as_deref(), Some("2026-11-25T00:00:00Z"));
    // An author with markup stays well-formed.
    let odd = LetterData {
        agency_name: "Phòng A & B <C>".into(),
        ..sample()
    };
    let core = part(
        &render_docx(&odd, &template()).unwrap(),
        "docProps/core.xml",
    );
    roxmltree::Document::parse(&core).unwrap();
}

#[test]
fn a_peoples_committee_header_is_two_lines_without_a_body_above() {
    let data = LetterData {
        governing_body: None,
        agency: "ỦY BAN NHÂN DÂN\nPHƯỜNG NINH HÒA".into(),
        ..sample()
    };
    let paras = render_text(&data, &template()).unwrap();
    assert_eq!(paras[0], "ỦY BAN NHÂN DÂN\nPHƯỜNG NINH HÒA");
    let xml = document_xml(&data);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let agency = find(&doc, "ỦY BAN NHÂN DÂN");
    assert_eq!(para_text(agency), "ỦY BAN NHÂN DÂN\nPHƯỜNG NINH HÒA");
    assert!(all(agency, "b"));
}

/// Every time of day maps to one the office keeps; times it keeps stay.
#[test]
fn the_new_due_time_is_within_office_hours() {
    use crate::calendar::OfficeHours;
    let h = OfficeHours::default();
    let open = |t: chrono::NaiveTime| {
        (h.morning_start <= t && t <= h.morning_end)
            || (h.afternoon_start <= t && t <= h.afternoon_end)
    };
    for minute in 0..24 * 60 {
        let t = chrono::NaiveTime::from_hms_opt(minute / 60, minute % 60, 0).unwrap();
        let got = drafts::office_time(&h, Some(t));
        assert!(open(got), "{t} -> {got}");
        if open(t) {
            assert_eq!(got, t);
        }
    }
    let hm = |h, m| chrono::NaiveTime::from_hms_opt(h, m, 0).unwrap();
    assert_eq!(drafts::office_time(&h, Some(hm(19, 46))), hm(17, 0));
    assert_eq!(drafts::office_time(&h, Some(hm(3, 42))), hm(11, 30));
    assert_eq!(drafts::office_time(&h, Some(hm(12, 15))), hm(11, 30));
    assert_eq!(drafts::office_time(&h, None), hm(17, 0));
}

#[test]
fn nd30_date_line_pads_day_and_early_months() {
    let data = LetterData {
        date: NaiveDate::from_ymd_opt(2027, 2, 3).unwrap(),
        ..sample()
    };
    let paras = render_text(&data, &template()).unwrap();
    assert!(paras.contains(&"Ninh Hòa, ngày 03 tháng 02 năm 2027".to_owned()));
}

#[test]
fn markup_in_values_is_escaped_and_whitespace_collapsed() {
    let data = LetterData {
        applicant_name: "Công ty <A & B>\n  \"Xây dựng\"".into(),
        reason: Some("chờ ý kiến của Sở Xây dựng.".into()),
        ..sample()
    };
    let docx = render_docx(&data, &template()).unwrap();
    let xml = part(&docx, "word/document.xml");
    let doc = roxmltree::Document::parse(&xml).unwrap();
    assert_eq!(
        para_text(find(&doc, "Kính gửi:")),
        // A company: named, not "Ông/Bà".
        "Kính gửi: Công ty <A & B> \"Xây dựng\""
    );
    // No doubled full stop after the reason.
    assert!(para_text(find(&doc, "Đến nay")).ends_with("Lý do: chờ ý kiến của Sở Xây dựng."));
}

#[test]
fn control_characters_from_a_source_never_reach_the_document() {
    let data = LetterData {
        applicant_name: "Nguyễn\u{0}Văn\u{1b}[31m An\u{7f}\u{85}\u{fffe}".into(),
        procedure_name: "Cấp\u{0b} phép\u{08}".into(),
        ..sample()
    };
    let docx = render_docx(&data, &template()).unwrap();
    let xml = part(&docx, "word/document.xml");
    // Well-formed: roxmltree refuses what XML 1.0 forbids.
    let doc = roxmltree::Document::parse(&xml).expect("a well-formed document.xml");
    assert!(para_text(find(&doc, "Kính gửi:")).contains("NguyễnVăn[31m An"));
    assert!(
        !xml.chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    );
}

#[test]
fn no_governing_body_leaves_the_line_out() {
    let data = LetterData {
        governing_body: None,
        ..sample()
    };
    let paras = render_text(&data, &template()).unwrap();
    assert_eq!(paras[0], "UBND PHƯỜNG NINH HÒA");
}

fn builtin_text() -> String {
    include_str!("../../config/letter.toml").to_owned()
}

fn template_error(text: &str) -> (String, String, String) {
    match LetterTemplate::from_toml_str(text, "provinces/kh/letter.toml") {
        Err(LetterError::Template {
            origin,
            key,
            message,
        }) => (origin, key, message),
        other => panic!("expected a template error, got {other:?}"),
    }
}

#[test]
fn template_file_errors_name_the_file_and_the_key() {
    // A missing key, read from a real file.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("letter.toml");
    let text = builtin_text().replace("closing = \"Trân trọng./.\"", "");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let err = LetterTemplate::load(&path).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("letter.closing"), "{msg}");
    assert!(
        matches!(&err, LetterError::Template { key, .. } if key == "letter.closing"),
        "{err:?}"
    );

    // A file that is not there.
    let missing = dir.path().join("nope.toml");
    let msg = LetterTemplate::load(&missing).unwrap_err().to_string();
    assert!(msg.contains("nope.toml"), "{msg}");
}

#[test]
fn placeholder_syntax_error_names_the_key() {
    let text = builtin_text().replace(
        "\"- Số biên nhận (mã hồ sơ): {{ dossier_code }};\"",
        "\"- Số biên nhận (mã hồ sơ): {{ dossier_code ;\"",
    );
    let (origin, key, message) = template_error(&text);
    assert_eq!(origin, "provinces/kh/letter.toml");
    assert_eq!(key, "letter.body[1]");
    assert!(message.contains("syntax error"), "{message}");

    let text = builtin_text().replace("{{ addressee }}", "{{ adressee }}");
    let (_, key, message) = template_error(&text);
    // Any template using it is named (the order templates are checked in
    // is not fixed).
    assert!(
        key == "letter.salutation" || key.starts_with("letter.body["),
        "{key}"
    );
    assert!(message.contains("adressee"), "{message}");

    let text = builtin_text().replace("{{ applicant_name }}", "{{ aplicant_name }}");
    let (_, key, message) = template_error(&text);
    assert!(
        key == "applicant.person" || key == "applicant.organisation",
        "{key}"
    );
    assert!(message.contains("aplicant_name"), "{message}");

    let text = builtin_text().replace("{{ reason }}", "{{ reason | nosuchfilter }}");
    let (_, key, _) = template_error(&text);
    assert_eq!(key, "letter.body[5]");
}

#[test]
fn template_shape_errors_name_the_key() {
    let text = builtin_text().replace("[signature]", "[signature]\nrecipient_suffix = \";\"");
    let (_, key, message) = template_error(&text);
    assert_eq!(key, "signature.recipient_suffix");
    assert_eq!(message, "unknown key");

    let text = builtin_text().replace("blank = \"……\"", "blank = \"\"");
    assert_eq!(template_error(&text).1, "blank");

    let text = builtin_text().replace(
        "motto = \"CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\"",
        "motto = 1",
    );
    let (_, key, message) = template_error(&text);
    assert_eq!(key, "header.motto");
    assert_eq!(message, "must be a string");

    let text = builtin_text().replace("[letter]", "[lettre]");
    assert_eq!(template_error(&text).1, "lettre");

    match LetterTemplate::from_toml_str("blank = \"……\"\n[header\n", "bad.toml") {
        Err(e @ LetterError::Toml { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("bad.toml") && msg.contains("line 2"), "{msg}");
        }
        other => panic!("expected a TOML error, got {other:?}"),
    }
}

#[test]
fn operator_wording_is_used_and_nfd_template_is_normalised() {
    let text = nfd(&builtin_text().replace(
        "person = \"Ông/Bà {{ applicant_name }}\"",
        "person = \"Bà {{ applicant_name }}\"",
    ));
    assert!(!text.contains("Kính"), "the template must really be NFD");
    let t = LetterTemplate::from_toml_str(&text, "custom.toml").unwrap();
    let paras = render_text(&sample(), &t).unwrap();
    assert!(paras.contains(&"Kính gửi: Bà Nguyễn Thị Hồng".to_owned()));
    assert!(paras.iter().all(|p| p.nfc().collect::<String>() == *p));
}

/// Converts a letter to PDF with LibreOffice; returns the `pdftotext -layout`
/// text and the PDF path (inside `dir`).
fn libreoffice_pdf(data: &LetterData, dir: &std::path::Path) -> (String, std::path::PathBuf) {
    use std::process::Command;
    let docx_path = dir.join("letter.docx");
    std::fs::write(&docx_path, render_docx(data, &template()).unwrap()).unwrap();
    let status = Command::new("soffice")
        .arg(format!(
            "-env:UserInstallation=file://{}/profile",
            dir.display()
        ))
        .args(["--headless", "--convert-to", "pdf", "--outdir"])
        .arg(dir)
        .arg(&docx_path)
        .status()
        .expect("soffice not found");
    assert!(status.success());
    let pdf = dir.join("letter.pdf");
    let out = Command::new("pdftotext")
        .arg("-layout")
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("pdftotext not found");
    assert!(out.status.success());
    (String::from_utf8(out.stdout).unwrap(), pdf)
}

/// Writes page 1 of `pdf` as PNG at 80 dpi.
fn pdf_to_png(pdf: &std::path::Path, png: &std::path::Path) {
    let status = std::process::Command::new("pdftoppm")
        .args(["-png", "-r", "80", "-singlefile"])
        .arg(pdf)
        .arg(png.with_extension(""))
        .status()
        .expect("pdftoppm not found");
    assert!(status.success());
}

/// Renders the sample through LibreOffice and checks the PDF text.
///
/// Opt-in, because it needs LibreOffice and poppler (not in CI):
///   apt-get install -y libreoffice-writer poppler-utils fonts-liberation
///   cargo test -j1 -- --ignored libreoffice
/// With LETTER_SAMPLE_PNG=/path/page.png it also writes the sample page as
/// PNG, and the page with every optional value missing beside it
/// (`page-blanks.png`).
#[test]
#[ignore = "needs LibreOffice (soffice) and poppler-utils; run with --ignored"]
fn libreoffice_renders_the_letter() {
    let png = std::env::var_os("LETTER_SAMPLE_PNG").map(std::path::PathBuf::from);

    let dir = tempfile::tempdir().unwrap();
    let (text, pdf) = libreoffice_pdf(&sample(), dir.path());
    // The picture first, so that a failing check can be looked at.
    if let Some(png) = &png {
        pdf_to_png(&pdf, png);
    }
    let pages = text.matches('\u{c}').count().max(1);
    assert_eq!(pages, 1, "the letter should fit on one page:\n{text}");
    for line in [
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "UBND TỈNH KHÁNH HÒA",
        "UBND PHƯỜNG NINH HÒA",
        "Số: 125/TB-UBND",
        "Ninh Hòa, ngày 25 tháng 11 năm 2026",
        "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ",
        "Kính gửi: Ông/Bà Nguyễn Thị Hồng",
        "000.00.12.H56-261105-0001380",
        "Cấp giấy phép xây dựng mới đối với nhà ở riêng lẻ",
        "KT. CHỦ TỊCH",
        "PHÓ CHỦ TỊCH",
        "Trần Văn Bình",
        "Nơi nhận:",
        "- Trung tâm PVHCC;",
    ] {
        assert!(text.contains(line), "PDF text lacks {line:?}:\n{text}");
    }

    let blanks = LetterData {
        doc_number: None,
        reason: None,
        new_due_at: None,
        signer_name: None,
        ..sample()
    };
    let dir = tempfile::tempdir().unwrap();
    let (text, pdf) = libreoffice_pdf(&blanks, dir.path());
    if let Some(png) = &png {
        let stem = png.file_stem().unwrap().to_string_lossy();
        pdf_to_png(&pdf, &png.with_file_name(format!("{stem}-blanks.png")));
    }
    for line in ["Số: ……/PXL", "Thời gian hẹn trả kết quả lại: …….", "16 giờ"]
    {
        let found = text.contains(line);
        assert_eq!(found, line != "16 giờ", "{line:?} in:\n{text}");
    }
}
