//! UTF-8 validation by Table 3-7 of the Unicode Standard, as `common/utf8.c`
//! (no overlongs, no surrogates, nothing above U+10FFFF). std's `from_utf8`
//! implements the same table; it is used for the check itself.

pub(crate) fn valid(s: &[u8]) -> bool {
    std::str::from_utf8(s).is_ok()
}
