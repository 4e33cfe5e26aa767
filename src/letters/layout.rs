//! Page layout of an administrative letter after Nghị định 30/2020/NĐ-CP
//! (Phụ lục I): A4 portrait, Times New Roman, header and signature in
//! borderless two-column tables.

use chrono::NaiveDate;
use docx_rs::{
    AlignmentType, BorderType, Docx, LineSpacing, PageMargin, Paragraph, ParagraphBorder,
    ParagraphBorderPosition, ParagraphBorders, Run, RunFonts, SpecialIndentType, Table, TableCell,
    TableLayoutType, TableRow, VAlignType, WidthType,
};

use super::{LetterError, Rendered};

pub(crate) const FONT: &str = "Times New Roman";

// Twips (1/20 pt; 1 mm ≈ 56.7 twips).
pub(crate) const PAGE_WIDTH: u32 = 11906; // 210 mm
pub(crate) const PAGE_HEIGHT: u32 = 16838; // 297 mm
pub(crate) const MARGIN_TOP: i32 = 1134; // 20 mm
pub(crate) const MARGIN_BOTTOM: i32 = 1134; // 20 mm
pub(crate) const MARGIN_LEFT: i32 = 1701; // 30 mm
pub(crate) const MARGIN_RIGHT: i32 = 850; // 15 mm
const TEXT_WIDTH: usize = (PAGE_WIDTH as i32 - MARGIN_LEFT - MARGIN_RIGHT) as usize;
/// Header columns: agency | motto. The motto at 12 pt bold is about 5050
/// twips wide (at 13 pt it would not fit beside a 13-pt agency name).
const HEADER_COLS: [usize; 2] = [4000, TEXT_WIDTH - 4000];
/// Signature columns: "Nơi nhận" | signer.
const SIGNATURE_COLS: [usize; 2] = [4400, TEXT_WIDTH - 4400];
const FIRST_LINE_INDENT: i32 = 567; // 1 cm

// Font sizes in half-points (w:sz).
pub(crate) const SZ_BODY: usize = 28; // 14 pt, the document default
pub(crate) const SZ_AGENCY: usize = 26; // governing body, agency, "Số:": 13 pt
// NĐ 30 pairs the motto and slogan as 12/13 or 13/14 pt; 12/13 keeps the
// motto on one line in its column.
pub(crate) const SZ_MOTTO: usize = 24; // 12 pt bold upper case
pub(crate) const SZ_SLOGAN: usize = 26; // 13 pt bold, underlined
pub(crate) const SZ_PLACE_DATE: usize = 28; // 14 pt italic
pub(crate) const SZ_RECIPIENTS_LABEL: usize = 24; // "Nơi nhận:" 12 pt bold italic
pub(crate) const SZ_RECIPIENTS: usize = 22; // 11 pt

/// How one paragraph looks.
#[derive(Clone, Copy)]
struct Style {
    size: usize,
    bold: bool,
    italic: bool,
    underline: bool,
    align: AlignmentType,
    first_line_indent: bool,
    before: u32,
    after: u32,
}

impl Style {
    fn new(size: usize) -> Self {
        Style {
            size,
            bold: false,
            italic: false,
            underline: false,
            align: AlignmentType::Center,
            first_line_indent: false,
            before: 0,
            after: 0,
        }
    }
    fn bold(self) -> Self {
        Style { bold: true, ..self }
    }
    fn italic(self) -> Self {
        Style {
            italic: true,
            ..self
        }
    }
    fn underline(self) -> Self {
        Style {
            underline: true,
            ..self
        }
    }
    fn align(self, align: AlignmentType) -> Self {
        Style { align, ..self }
    }
    fn spacing(self, before: u32, after: u32) -> Self {
        Style {
            before,
            after,
            ..self
        }
    }
    fn body() -> Self {
        Style {
            first_line_indent: true,
            after: 120, // 6 pt
            align: AlignmentType::Both,
            ..Style::new(SZ_BODY)
        }
    }
}

fn fonts() -> RunFonts {
    RunFonts::new()
        .ascii(FONT)
        .hi_ansi(FONT)
        .cs(FONT)
        .east_asia(FONT)
}

/// A paragraph; `\n` in `text` becomes a line break.
fn para(text: &str, style: Style) -> Paragraph {
    let mut p = Paragraph::new()
        .align(style.align)
        .fonts(fonts())
        .size(style.size)
        .line_spacing(LineSpacing::new().before(style.before).after(style.after));
    if style.first_line_indent {
        p = p.indent(
            None,
            Some(SpecialIndentType::FirstLine(FIRST_LINE_INDENT)),
            None,
            None,
        );
    }
    for (i, line) in text.split('\n').enumerate() {
        let mut run = Run::new().fonts(fonts()).size(style.size);
        if i > 0 {
            run = run.add_break(docx_rs::BreakType::TextWrapping);
        }
        run = run.add_text(super::text::xml_safe(line));
        if style.bold {
            run = run.bold();
        }
        if style.italic {
            run = run.italic();
        }
        if style.underline {
            run = run.underline("single");
        }
        p = p.add_run(run);
    }
    p
}

/// The short rule under the agency name: an empty 2-pt paragraph with a
/// bottom border, indented to about a third of the column.
fn short_rule(column: usize) -> Paragraph {
    let inset = (column.saturating_sub(216) / 3) as i32;
    let mut p = Paragraph::new()
        .align(AlignmentType::Center)
        .fonts(fonts())
        .size(4)
        .indent(Some(inset), None, Some(inset), None)
        .line_spacing(LineSpacing::new().before(0).after(0));
    p.property = p.property.set_borders(
        ParagraphBorders::with_empty().set(
            ParagraphBorder::new(ParagraphBorderPosition::Bottom)
                .val(BorderType::Single)
                .size(6)
                .space(1)
                .color("000000"),
        ),
    );
    p
}

fn cell(width: usize, paragraphs: Vec<Paragraph>) -> TableCell {
    paragraphs.into_iter().fold(
        TableCell::new()
            .width(width, WidthType::Dxa)
            .vertical_align(VAlignType::Top),
        TableCell::add_paragraph,
    )
}

fn borderless(cols: [usize; 2], rows: Vec<TableRow>) -> Table {
    Table::new(rows)
        .set_grid(cols.to_vec())
        .width(TEXT_WIDTH, WidthType::Dxa)
        .layout(TableLayoutType::Fixed)
        .clear_all_border()
}

fn header(l: &Rendered) -> Table {
    let [left_w, right_w] = HEADER_COLS;
    let mut left = Vec::new();
    if let Some(g) = &l.governing_body {
        left.push(para(g, Style::new(SZ_AGENCY)));
    }
    left.push(para(&l.agency, Style::new(SZ_AGENCY).bold()));
    left.push(short_rule(left_w));
    let right = vec![
        para(&l.motto, Style::new(SZ_MOTTO).bold()),
        para(&l.slogan, Style::new(SZ_SLOGAN).bold().underline()),
    ];
    // Second row: the number under the agency, place and date under the
    // slogan, on one line as the form has them.
    let number = para(&l.number, Style::new(SZ_AGENCY).spacing(120, 0));
    let place_date = para(
        &l.place_date,
        Style::new(SZ_PLACE_DATE).italic().spacing(120, 0),
    );
    borderless(
        HEADER_COLS,
        vec![
            TableRow::new(vec![cell(left_w, left), cell(right_w, right)]),
            TableRow::new(vec![
                cell(left_w, vec![number]),
                cell(right_w, vec![place_date]),
            ]),
        ],
    )
}

fn signature(l: &Rendered) -> Table {
    let [left_w, right_w] = SIGNATURE_COLS;
    let mut left = vec![para(
        &l.recipients_label,
        Style::new(SZ_RECIPIENTS_LABEL)
            .bold()
            .italic()
            .align(AlignmentType::Left),
    )];
    left.extend(
        l.recipients
            .iter()
            .map(|r| para(r, Style::new(SZ_RECIPIENTS).align(AlignmentType::Left))),
    );
    let mut right: Vec<Paragraph> = l
        .signer_title
        .iter()
        .map(|t| para(t, Style::new(SZ_BODY).bold()))
        .collect();
    // Room for the signature and seal.
    right.extend((0..4).map(|_| para("", Style::new(SZ_BODY))));
    right.push(para(&l.signer_name, Style::new(SZ_BODY).bold()));
    borderless(
        SIGNATURE_COLS,
        vec![TableRow::new(vec![
            cell(left_w, left),
            cell(right_w, right),
        ])],
    )
}

pub(crate) fn docx(l: &Rendered, date: NaiveDate) -> Result<Vec<u8>, LetterError> {
    // The letter's date, not the time of drafting: the same letter drafted
    // twice is the same bytes (a redraft that changes nothing is no change).
    let stamp = format!("{}T00:00:00Z", date.format("%Y-%m-%d"));
    let mut doc = Docx::new()
        .page_size(PAGE_WIDTH, PAGE_HEIGHT)
        .page_margin(
            PageMargin::new()
                .top(MARGIN_TOP)
                .bottom(MARGIN_BOTTOM)
                .left(MARGIN_LEFT)
                .right(MARGIN_RIGHT)
                .header(567)
                .footer(567)
                .gutter(0),
        )
        .default_fonts(fonts())
        .default_size(SZ_BODY)
        .created_at(&stamp)
        .updated_at(&stamp)
        .add_table(header(l))
        .add_paragraph(para(&l.title, Style::new(SZ_BODY).bold().spacing(360, 120)))
        .add_paragraph(para(&l.salutation, Style::new(SZ_BODY).spacing(120, 0)));
    if let Some(address) = &l.address {
        doc = doc.add_paragraph(para(address, Style::new(SZ_BODY)));
    }
    // Gap between the salutation and the body.
    doc = doc.add_paragraph(para("", Style::new(SZ_BODY).spacing(0, 0)));
    for p in &l.body {
        doc = doc.add_paragraph(para(p, Style::body()));
    }
    if let Some(closing) = &l.closing {
        doc = doc.add_paragraph(para(closing, Style::body()));
    }
    doc = doc
        .add_paragraph(para("", Style::new(SZ_BODY)))
        .add_table(signature(l))
        // Word wants a paragraph after a closing table.
        .add_paragraph(para("", Style::new(SZ_RECIPIENTS)));

    let mut xml = doc.build();
    xml.doc_props.core = core_props(&xml.doc_props.core, &l.author)?;
    xml.styles = vietnamese_styles(&xml.styles)?;
    let mut out = std::io::Cursor::new(Vec::new());
    xml.pack(&mut out)
        .map_err(|e| LetterError::Docx(e.to_string()))?;
    deflated(&out.into_inner()).map_err(|e| LetterError::Docx(e.to_string()))
}

/// The package with every part deflated: docx-rs stores them as they are
/// (~37 KB a letter, ~8 KB deflated), and every version is kept in the
/// database. Same parts in the same order with fixed times: the same letter
/// gives the same bytes.
fn deflated(stored: &[u8]) -> zip::result::ZipResult<Vec<u8>> {
    let mut parts = zip::ZipArchive::new(std::io::Cursor::new(stored))?;
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    for i in 0..parts.len() {
        let mut part = parts.by_index(i)?;
        if part.is_dir() {
            out.add_directory(part.name(), options)?;
        } else {
            out.start_file(part.name(), options)?;
            std::io::copy(&mut part, &mut out)?;
        }
    }
    Ok(out.finish()?.into_inner())
}

/// Word's language tag for the text: spelling, hyphenation and fonts follow
/// it (docx-rs has no setter, so it is added to the styles' run defaults).
pub(crate) const LANG: &str = "vi-VN";

fn utf8(part: &[u8], what: &str) -> Result<String, LetterError> {
    String::from_utf8(part.to_vec()).map_err(|e| LetterError::Docx(format!("{what}: {e}")))
}

/// The author (the issuing agency) and the language in `docProps/core.xml`;
/// docx-rs writes "unknown" for the author and has no setter for either.
fn core_props(core: &[u8], author: &str) -> Result<Vec<u8>, LetterError> {
    let xml = utf8(core, "docProps/core.xml")?;
    let author = crate::text::escape_html(&super::text::xml_safe(author));
    let replaced = xml
        .replacen(
            "<dc:creator>unknown</dc:creator>",
            &format!("<dc:creator>{author}</dc:creator>"),
            1,
        )
        .replacen(
            "<cp:lastModifiedBy>unknown</cp:lastModifiedBy>",
            &format!(
                "<cp:lastModifiedBy>{author}</cp:lastModifiedBy><dc:language>{LANG}</dc:language>"
            ),
            1,
        );
    if !replaced.contains("<dc:language>") {
        return Err(LetterError::Docx(
            "docProps/core.xml is not as docx-rs writes it: cannot set the author".into(),
        ));
    }
    Ok(replaced.into_bytes())
}

/// `w:lang` in the run defaults of `word/styles.xml`.
fn vietnamese_styles(styles: &[u8]) -> Result<Vec<u8>, LetterError> {
    let xml = utf8(styles, "word/styles.xml")?;
    let lang = format!(r#"<w:lang w:val="{LANG}" w:eastAsia="{LANG}" w:bidi="ar-SA" />"#);
    let start = xml.find("<w:rPrDefault>").ok_or_else(|| {
        LetterError::Docx("word/styles.xml has no run defaults: cannot set the language".into())
    })?;
    let end = xml[start..]
        .find("</w:rPr>")
        .map(|i| start + i)
        .ok_or_else(|| LetterError::Docx("word/styles.xml: unclosed run defaults".into()))?;
    Ok(format!("{}{lang}{}", &xml[..end], &xml[end..]).into_bytes())
}
