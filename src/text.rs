//! Vietnamese text arrives from sources in NFC, NFD or a mix; everything stored is NFC.

use unicode_normalization::{UnicodeNormalization, is_nfc_quick};

/// NFC form of `s`, without allocating a second time when it already is.
pub fn nfc(s: &str) -> String {
    if is_nfc_quick(s.chars()) == unicode_normalization::IsNormalized::Yes {
        s.to_owned()
    } else {
        s.nfc().collect()
    }
}

/// Whether every character is one that NFC keeps as it is and that combines
/// with nothing before it: below U+0300 (Latin-1, Latin Extended-A/B) or in
/// Latin Extended Additional (U+1E00–U+1EFF, where composed Vietnamese
/// letters live). Such a string is NFC; checking it this way is several times
/// cheaper than the general quick check, and Vietnamese text in NFC always
/// passes (the test below checks each character of both ranges).
fn composed_latin(s: &str) -> bool {
    s.chars()
        .all(|c| (c as u32) < 0x300 || (0x1E00..0x1F00).contains(&(c as u32)))
}

/// Makes `s` NFC in place; allocates only when it is not NFC already (the
/// common case for text from a source).
pub fn make_nfc(s: &mut String) {
    if !s.is_ascii()
        && !composed_latin(s)
        && is_nfc_quick(s.chars()) != unicode_normalization::IsNormalized::Yes
    {
        let n: String = s.nfc().collect();
        if n != *s {
            *s = n;
        }
    }
}

/// Escapes text for HTML/SVG content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_path_admits_only_characters_nfc_keeps_and_never_combines() {
        use unicode_normalization::char::canonical_combining_class;
        let chars = (0..0x300u32)
            .chain(0x1E00..0x1F00)
            .filter_map(char::from_u32);
        for c in chars {
            let s = c.to_string();
            assert!(composed_latin(&s));
            assert_eq!(canonical_combining_class(c), 0, "{c:?}");
            assert_eq!(s.nfc().collect::<String>(), s, "{c:?}");
            assert_eq!(
                is_nfc_quick(s.chars()),
                unicode_normalization::IsNormalized::Yes,
                "{c:?}"
            );
        }
        let nfd: String = "Phường Nha Trang".nfd().collect();
        assert!(!composed_latin(&nfd));
        assert!(composed_latin(
            "Phường Nha Trang, Khánh Hòa, Đất đai, Ủy ban"
        ));
    }

    #[test]
    fn decomposed_vietnamese_becomes_composed() {
        let nfd: String = "Nguyễn Thị Hồng".nfd().collect();
        assert_ne!(nfd, "Nguyễn Thị Hồng");
        assert_eq!(nfc(&nfd), "Nguyễn Thị Hồng");
        let mut in_place = nfd.clone();
        make_nfc(&mut in_place);
        assert_eq!(in_place, "Nguyễn Thị Hồng");
    }
}
