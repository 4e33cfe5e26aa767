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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decomposed_vietnamese_becomes_composed() {
        let nfd: String = "Nguyễn Thị Hồng".nfd().collect();
        assert_ne!(nfd, "Nguyễn Thị Hồng");
        assert_eq!(nfc(&nfd), "Nguyễn Thị Hồng");
    }
}
