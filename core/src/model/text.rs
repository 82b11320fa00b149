//! Text rules shared by all entities: length limits, trimming, control characters, phone
//! numbers and machine codes.
//!
//! `clean_*` functions normalise user input (trim; an all-whitespace optional becomes
//! `None`) and then validate it. `check_*` functions validate a value already stored in
//! normalised form: they reject anything `clean_*` would have changed. Lengths are counted
//! in `char`s (Unicode scalar values), not bytes. Convention used by the entities: texts
//! limited to [`SHORT_TEXT_MAX`] or [`NOTE_MAX`] are multi-line (`\n`, `\t` allowed);
//! shorter ones (names, labels, places, versions) are single-line.

use super::error::{ModelError, Reason, Result};

/// Maximum length of a person's display name.
pub const NAME_MAX: usize = 100;
/// Minimum length of a phone number (all accepted characters count).
pub const PHONE_MIN: usize = 7;
/// Maximum length of a phone number.
pub const PHONE_MAX: usize = 20;
/// Minimum number of ASCII digits in a phone number.
pub const PHONE_MIN_DIGITS: usize = 7;
/// Maximum length of a village name.
pub const VILLAGE_MAX: usize = 100;
/// Maximum length of an address (or a referral destination).
pub const ADDRESS_MAX: usize = 200;
/// Maximum length of an inventory label (e.g. "Mother").
pub const LABEL_MAX: usize = 60;
/// Maximum length of a relationship description.
pub const RELATIONSHIP_MAX: usize = 40;
/// Maximum length of short free text (tasks, events, reasons).
pub const SHORT_TEXT_MAX: usize = 500;
/// Maximum length of long free text (session and supervisor notes).
pub const NOTE_MAX: usize = 4000;
/// Maximum length of a team name.
pub const TEAM_MAX: usize = 60;
/// Maximum length of a version string (consent text, instrument).
pub const VERSION_MAX: usize = 20;
/// Maximum length of a machine code (instrument, item, step, flag ids; audit names).
pub const CODE_MAX: usize = 40;

/// Trim `value` and check it is a non-empty single line of at most `max_chars` characters
/// without control characters.
pub fn clean_text(field: &'static str, value: &str, max_chars: usize) -> Result<String> {
    clean(field, value, max_chars, false)
}

/// Like [`clean_text`] but allows line feeds and tabs inside the text.
pub fn clean_multiline(field: &'static str, value: &str, max_chars: usize) -> Result<String> {
    clean(field, value, max_chars, true)
}

/// Optional single-line text: `None` or all-whitespace gives `None`, otherwise [`clean_text`].
pub fn clean_optional(
    field: &'static str,
    value: Option<&str>,
    max_chars: usize,
) -> Result<Option<String>> {
    clean_opt(field, value, max_chars, false)
}

/// Optional multi-line text: `None` or all-whitespace gives `None`, otherwise
/// [`clean_multiline`].
pub fn clean_optional_multiline(
    field: &'static str,
    value: Option<&str>,
    max_chars: usize,
) -> Result<Option<String>> {
    clean_opt(field, value, max_chars, true)
}

/// Trim and validate a phone number: [`PHONE_MIN`]..=[`PHONE_MAX`] characters, only ASCII
/// digits, spaces and `+ - ( )`, at least [`PHONE_MIN_DIGITS`] digits. Kept as entered.
pub fn clean_phone(field: &'static str, value: &str) -> Result<String> {
    let trimmed = value.trim();
    check_phone(field, trimmed)?;
    Ok(trimmed.to_owned())
}

/// Optional phone number: `None` or all-whitespace gives `None`, otherwise [`clean_phone`].
pub fn clean_optional_phone(field: &'static str, value: Option<&str>) -> Result<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => clean_phone(field, v).map(Some),
    }
}

/// Check stored single-line text: as [`clean_text`], and not surrounded by whitespace.
pub fn check_text(field: &'static str, value: &str, max_chars: usize) -> Result<()> {
    check(field, value, max_chars, false)
}

/// Check stored multi-line text: as [`clean_multiline`], and not surrounded by whitespace.
pub fn check_multiline(field: &'static str, value: &str, max_chars: usize) -> Result<()> {
    check(field, value, max_chars, true)
}

/// Check stored optional single-line text (`Some` must hold non-empty, clean text).
pub fn check_optional(field: &'static str, value: Option<&str>, max_chars: usize) -> Result<()> {
    value.map_or(Ok(()), |v| check(field, v, max_chars, false))
}

/// Check stored optional multi-line text (`Some` must hold non-empty, clean text).
pub fn check_optional_multiline(
    field: &'static str,
    value: Option<&str>,
    max_chars: usize,
) -> Result<()> {
    value.map_or(Ok(()), |v| check(field, v, max_chars, true))
}

/// Check a phone number in stored form (see [`clean_phone`]; no surrounding whitespace).
pub fn check_phone(field: &'static str, value: &str) -> Result<()> {
    let err = |reason| Err(ModelError::invalid(field, reason));
    if value.trim().is_empty() {
        return err(Reason::Empty);
    }
    if value.trim().len() != value.len() {
        return err(Reason::InvalidFormat);
    }
    if value.chars().any(char::is_control) {
        return err(Reason::ControlCharacters);
    }
    let allowed = |c: char| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')');
    if !value.chars().all(allowed) {
        return err(Reason::InvalidFormat);
    }
    // All accepted characters are ASCII, so bytes == chars from here on.
    if value.len() < PHONE_MIN {
        return err(Reason::TooShort { min: PHONE_MIN });
    }
    if value.len() > PHONE_MAX {
        return err(Reason::TooLong { max: PHONE_MAX });
    }
    if value.chars().filter(char::is_ascii_digit).count() < PHONE_MIN_DIGITS {
        return err(Reason::InvalidFormat);
    }
    Ok(())
}

/// Check a machine code: 1..=[`CODE_MAX`] characters from `a-z`, `0-9`, `_` and any of
/// `extra` (e.g. `&['-']`). Codes are never trimmed or case-folded.
pub fn check_code(field: &'static str, value: &str, extra: &[char]) -> Result<()> {
    let err = |reason| Err(ModelError::invalid(field, reason));
    if value.is_empty() {
        return err(Reason::Empty);
    }
    let allowed =
        |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || extra.contains(&c);
    if !value.chars().all(allowed) {
        return err(Reason::InvalidFormat);
    }
    if value.len() > CODE_MAX {
        return err(Reason::TooLong { max: CODE_MAX });
    }
    Ok(())
}

/// Check a list of codes: each as [`check_code`], no duplicates.
pub fn check_codes<S: AsRef<str>>(field: &'static str, values: &[S], extra: &[char]) -> Result<()> {
    for v in values {
        check_code(field, v.as_ref(), extra)?;
    }
    check_unique(field, values.iter().map(AsRef::as_ref))
}

/// Reject a sequence that yields the same item twice.
pub fn check_unique<T: PartialEq>(
    field: &'static str,
    items: impl IntoIterator<Item = T>,
) -> Result<()> {
    let mut seen: Vec<T> = Vec::new();
    for item in items {
        if seen.contains(&item) {
            return Err(ModelError::invalid(field, Reason::Duplicate));
        }
        seen.push(item);
    }
    Ok(())
}

fn clean(field: &'static str, value: &str, max_chars: usize, multiline: bool) -> Result<String> {
    let trimmed = value.trim();
    check(field, trimmed, max_chars, multiline)?;
    Ok(trimmed.to_owned())
}

fn clean_opt(
    field: &'static str,
    value: Option<&str>,
    max_chars: usize,
    multiline: bool,
) -> Result<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => clean(field, v, max_chars, multiline).map(Some),
    }
}

fn check(field: &'static str, value: &str, max_chars: usize, multiline: bool) -> Result<()> {
    let err = |reason| Err(ModelError::invalid(field, reason));
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return err(Reason::Empty);
    }
    if trimmed.len() != value.len() {
        return err(Reason::InvalidFormat);
    }
    let bad = |c: char| c.is_control() && !(multiline && (c == '\n' || c == '\t'));
    if value.chars().any(bad) {
        return err(Reason::ControlCharacters);
    }
    if value.chars().count() > max_chars {
        return err(Reason::TooLong { max: max_chars });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_support::{assert_rejected, text_of_len, MARKER};
    use proptest::prelude::*;

    #[test]
    fn clean_text_trims_and_counts_chars_not_bytes() {
        assert_eq!(clean_text("f", "  Amina  ", 10).unwrap(), "Amina");
        let at_max = text_of_len(10);
        assert!(at_max.len() > 10, "test text must be multi-byte");
        assert_eq!(clean_text("f", &at_max, 10).unwrap(), at_max);
        assert_rejected(
            clean_text("f", &text_of_len(11), 10),
            "f",
            Reason::TooLong { max: 10 },
        );
        // Surrounding whitespace does not count toward the limit.
        assert!(clean_text("f", &format!("  {at_max}\n"), 10).is_ok());
    }

    #[test]
    fn clean_text_rejects_empty_and_control_characters() {
        assert_rejected(clean_text("f", "", 10), "f", Reason::Empty);
        assert_rejected(clean_text("f", " \t\n ", 10), "f", Reason::Empty);
        for bad in ["a\nb", "a\tb", "a\rb", "a\u{0}b", "a\u{7f}b", "a\u{85}b"] {
            assert_rejected(clean_text("f", bad, 10), "f", Reason::ControlCharacters);
        }
    }

    #[test]
    fn clean_multiline_allows_newline_and_tab_only() {
        assert_eq!(
            clean_multiline("f", "\n line one\n\tline two \n", 40).unwrap(),
            "line one\n\tline two"
        );
        for bad in ["a\rb", "a\u{0}b", "a\u{1b}b"] {
            assert_rejected(
                clean_multiline("f", bad, 10),
                "f",
                Reason::ControlCharacters,
            );
        }
        assert_rejected(clean_multiline("f", " \n ", 10), "f", Reason::Empty);
        assert!(clean_multiline("f", &text_of_len(10), 10).is_ok());
        assert_rejected(
            clean_multiline("f", &text_of_len(11), 10),
            "f",
            Reason::TooLong { max: 10 },
        );
    }

    #[test]
    fn clean_optional_maps_blank_to_none() {
        assert_eq!(clean_optional("f", None, 10).unwrap(), None);
        assert_eq!(clean_optional("f", Some("   "), 10).unwrap(), None);
        assert_eq!(
            clean_optional("f", Some(" x "), 10).unwrap().as_deref(),
            Some("x")
        );
        assert_rejected(
            clean_optional("f", Some("a\nb"), 10),
            "f",
            Reason::ControlCharacters,
        );
        assert_rejected(
            clean_optional("f", Some(&text_of_len(11)), 10),
            "f",
            Reason::TooLong { max: 10 },
        );
        assert_eq!(
            clean_optional_multiline("f", Some(" a\nb "), 10)
                .unwrap()
                .as_deref(),
            Some("a\nb")
        );
        assert_eq!(
            clean_optional_multiline("f", Some("\n\t"), 10).unwrap(),
            None
        );
        assert_eq!(clean_optional_multiline("f", None, 10).unwrap(), None);
    }

    #[test]
    fn check_rejects_what_clean_would_change() {
        assert!(check_text("f", "Amina", 10).is_ok());
        assert_rejected(check_text("f", " Amina", 10), "f", Reason::InvalidFormat);
        assert_rejected(check_text("f", "Amina\n", 10), "f", Reason::InvalidFormat);
        assert_rejected(check_text("f", "", 10), "f", Reason::Empty);
        assert!(check_multiline("f", "a\nb", 10).is_ok());
        assert_rejected(check_multiline("f", "a\n", 10), "f", Reason::InvalidFormat);
        assert!(check_optional("f", None, 10).is_ok());
        assert_rejected(check_optional("f", Some(""), 10), "f", Reason::Empty);
        assert_rejected(check_optional("f", Some(" "), 10), "f", Reason::Empty);
        assert_rejected(
            check_optional("f", Some("a\nb"), 10),
            "f",
            Reason::ControlCharacters,
        );
        assert!(check_optional_multiline("f", Some("a\nb"), 10).is_ok());
        assert_rejected(
            check_optional_multiline("f", Some(&text_of_len(11)), 10),
            "f",
            Reason::TooLong { max: 10 },
        );
    }

    #[test]
    fn phone_length_boundaries() {
        assert_eq!(clean_phone("phone", " 0712345 ").unwrap(), "0712345");
        assert!(clean_phone("phone", "+254 (712) 345-678").is_ok());
        assert!(clean_phone("phone", "12345678901234567890").is_ok());
        assert_rejected(
            clean_phone("phone", "123456"),
            "phone",
            Reason::TooShort { min: PHONE_MIN },
        );
        assert_rejected(
            clean_phone("phone", "123456789012345678901"),
            "phone",
            Reason::TooLong { max: PHONE_MAX },
        );
    }

    #[test]
    fn phone_needs_seven_digits_and_accepted_characters() {
        assert!(clean_phone("phone", "(1234567)").is_ok());
        assert_rejected(
            clean_phone("phone", "(12) 3456"),
            "phone",
            Reason::InvalidFormat,
        );
        assert_rejected(
            clean_phone("phone", "0712 ZQX 45"),
            "phone",
            Reason::InvalidFormat,
        );
        // Non-ASCII digits are not accepted.
        assert_rejected(
            clean_phone("phone", "٠١٢٣٤٥٦٧"),
            "phone",
            Reason::InvalidFormat,
        );
        assert_rejected(clean_phone("phone", "  "), "phone", Reason::Empty);
        assert_rejected(
            clean_phone("phone", "0712\n345678"),
            "phone",
            Reason::ControlCharacters,
        );
        assert_rejected(
            check_phone("phone", " 0712345"),
            "phone",
            Reason::InvalidFormat,
        );
        assert_eq!(clean_optional_phone("phone", Some("  ")).unwrap(), None);
        assert_eq!(clean_optional_phone("phone", None).unwrap(), None);
        assert_eq!(
            clean_optional_phone("phone", Some(" 0712345 "))
                .unwrap()
                .as_deref(),
            Some("0712345")
        );
    }

    #[test]
    fn code_rules() {
        assert!(check_code("c", "phq9_item-9", &['-']).is_ok());
        assert_rejected(check_code("c", "phq9-9", &[]), "c", Reason::InvalidFormat);
        assert_rejected(check_code("c", "PHQ9", &[]), "c", Reason::InvalidFormat);
        assert_rejected(check_code("c", " phq9", &[]), "c", Reason::InvalidFormat);
        assert_rejected(check_code("c", "", &[]), "c", Reason::Empty);
        assert!(check_code("c", &"a".repeat(CODE_MAX), &[]).is_ok());
        assert_rejected(
            check_code("c", &"a".repeat(CODE_MAX + 1), &[]),
            "c",
            Reason::TooLong { max: CODE_MAX },
        );
        assert!(check_codes("c", &["a", "b"], &[]).is_ok());
        assert_rejected(
            check_codes("c", &["a", "b", "a"], &[]),
            "c",
            Reason::Duplicate,
        );
        assert_rejected(
            check_codes("c", &["a", "B"], &[]),
            "c",
            Reason::InvalidFormat,
        );
    }

    #[test]
    fn unique_rule() {
        assert!(check_unique("u", [1, 2, 3]).is_ok());
        assert!(check_unique("u", Vec::<u8>::new()).is_ok());
        assert_rejected(check_unique("u", [1, 2, 1]), "u", Reason::Duplicate);
    }

    #[test]
    fn errors_never_contain_the_value() {
        let secret = format!("{MARKER} Secret Name 0712345678");
        let long = format!("{secret}{}", text_of_len(200));
        let results = [
            clean_text("display_name", &long, 10).map(drop),
            clean_text("display_name", &format!("{secret}\u{7}"), 100).map(drop),
            clean_multiline("notes", &long, 10).map(drop),
            clean_phone("phone", &secret).map(drop),
            check_text("display_name", &format!(" {secret}"), 100),
            check_code("instrument", &secret, &[]),
        ];
        for r in results {
            let e = r.unwrap_err();
            assert!(!e.to_string().contains(MARKER));
            assert!(!format!("{e:?}").contains(MARKER));
        }
    }

    proptest! {
        #[test]
        fn cleaned_text_always_passes_check(s in "\\PC{0,30}", max in 1usize..20) {
            if let Ok(c) = clean_text("f", &s, max) {
                prop_assert!(check_text("f", &c, max).is_ok());
                prop_assert!(c.chars().count() <= max);
                prop_assert_eq!(c.as_str(), s.trim());
            }
        }

        #[test]
        fn multiline_never_panics_and_is_idempotent(s in "[a-z \\n\\t\\r\\x00]{0,30}") {
            if let Ok(c) = clean_multiline("f", &s, 20) {
                prop_assert_eq!(clean_multiline("f", &c, 20).ok(), Some(c.clone()));
                prop_assert!(!c.contains('\r') && !c.contains('\0'));
            }
        }
    }
}
