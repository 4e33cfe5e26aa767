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

/// Makes `s` NFC in place; allocates only when it is not NFC already (the
/// common case for text from a source).
pub fn make_nfc(s: &mut String) {
    if !s.is_ascii() && is_nfc_quick(s.chars()) != unicode_normalization::IsNormalized::Yes {
        let n: String = s.nfc().collect();
        if n != *s {
            *s = n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
