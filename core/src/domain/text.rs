//! Text people type (nicknames, chat, titles, product names, descriptions), cleaned once by
//! one rule before it is stored or shown: control characters and the invisible bidirectional
//! controls that can disguise text (U+202A-U+202E, U+2066-U+2069, and the marks U+200E,
//! U+200F, U+061C) are removed, line breaks only survive where the field is multi-line,
//! surrounding space is trimmed, and limits are counted in characters, not bytes. Text that is
//! empty after cleaning is refused where the field requires something.
//!
//! Invalid UTF-8 never reaches this: the server refuses such a request body with 400 before
//! any server function decodes it (so nothing is stored with U+FFFD in place of a character).

/// Why typed text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextError {
    /// Nothing left after cleaning.
    Empty,
    /// Longer than the field allows, in characters.
    TooLong { max: usize },
}

impl TextError {
    /// The message shown to the person, naming the field ("Nickname").
    pub fn message(&self, field: &str) -> String {
        match self {
            TextError::Empty => format!("{field} can't be empty."),
            TextError::TooLong { max } => {
                format!("{field} can be at most {max} characters.")
            }
        }
    }
}

/// Characters that are never kept: C0/C1 controls (line breaks are handled separately) and
/// the bidirectional embedding, override and isolate controls and marks.
fn is_forbidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
            | '\u{200E}' | '\u{200F}' | '\u{061C}'
            // Line and paragraph separators would break a "single line" too.
            | '\u{2028}' | '\u{2029}'
            | '\u{FEFF}')
}

/// Percent-encodes everything but RFC 3986's unreserved characters: a query value or a path
/// segment, whatever it holds.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// One line of text: every kind of line break and tab becomes a space, runs of spaces made by
/// that collapse, forbidden characters go, the ends are trimmed.
pub fn clean_line(raw: &str, max_chars: usize) -> Result<String, TextError> {
    let mut out = String::with_capacity(raw.len());
    let mut last_space = false;
    for c in raw.chars() {
        let c = match c {
            '\n' | '\r' | '\t' | '\u{2028}' | '\u{2029}' | '\u{0B}' | '\u{0C}' | '\u{85}' => ' ',
            c if is_forbidden(c) => continue,
            c => c,
        };
        if c == ' ' && last_space {
            continue;
        }
        last_space = c == ' ';
        out.push(c);
    }
    finish(out.trim(), max_chars, true)
}

/// Multi-line text (descriptions): line breaks are kept (CRLF and CR become LF), tabs become
/// spaces, forbidden characters go, the ends are trimmed. May be empty.
pub fn clean_text(raw: &str, max_chars: usize) -> Result<String, TextError> {
    let normalized = raw.replace("\r\n", "\n").replace('\r', "\n");
    let out: String = normalized
        .chars()
        .filter_map(|c| match c {
            '\n' => Some('\n'),
            '\t' => Some(' '),
            c if is_forbidden(c) => None,
            c => Some(c),
        })
        .collect();
    finish(out.trim(), max_chars, false)
}

fn finish(s: &str, max_chars: usize, required: bool) -> Result<String, TextError> {
    if required && s.is_empty() {
        return Err(TextError::Empty);
    }
    if s.chars().count() > max_chars {
        return Err(TextError::TooLong { max: max_chars });
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keeps_ordinary_text_including_cjk_and_emoji() {
        assert_eq!(clean_line("  小美 🌸 Mei ", 20).unwrap(), "小美 🌸 Mei");
    }

    #[test]
    fn refuses_text_made_only_of_controls() {
        assert_eq!(
            clean_line("\u{1}\u{7}\u{1b}\u{7f}", 20),
            Err(TextError::Empty)
        );
        assert_eq!(clean_line("\u{202E}\u{2066}", 20), Err(TextError::Empty));
        assert_eq!(clean_line(" \n\t\r ", 20), Err(TextError::Empty));
    }

    #[test]
    fn removes_bidi_overrides_that_disguise_text() {
        assert_eq!(clean_line("abc\u{202E}gpj.exe", 40).unwrap(), "abcgpj.exe");
        assert_eq!(clean_line("x\u{2067}y\u{2069}z", 40).unwrap(), "xyz");
    }

    #[test]
    fn single_lines_have_no_line_breaks() {
        assert_eq!(
            clean_line("one\r\ntwo\nthree", 40).unwrap(),
            "one two three"
        );
    }

    #[test]
    fn limits_count_characters_not_bytes() {
        let name = "美".repeat(20);
        assert_eq!(name.len(), 60);
        assert!(clean_line(&name, 20).is_ok());
        assert_eq!(
            clean_line(&"美".repeat(21), 20),
            Err(TextError::TooLong { max: 20 })
        );
    }

    #[test]
    fn multi_line_text_keeps_line_breaks() {
        assert_eq!(
            clean_text("first\r\nsecond\rthird\u{0}", 100).unwrap(),
            "first\nsecond\nthird"
        );
        assert_eq!(clean_text("  ", 100).unwrap(), "");
    }

    proptest! {
        #[test]
        fn cleaned_text_never_holds_a_forbidden_character(s in "\\PC*|[\\x00-\\x1f\u{202a}-\u{202e}\u{2066}-\u{2069}a-z ]*") {
            if let Ok(line) = clean_line(&s, 10_000) {
                prop_assert!(!line.chars().any(|c| is_forbidden(c) || c == '\n'));
                prop_assert!(!line.is_empty());
                prop_assert_eq!(line.trim(), line.as_str());
            }
            if let Ok(text) = clean_text(&s, 10_000) {
                prop_assert!(!text.chars().any(|c| c != '\n' && is_forbidden(c)));
            }
        }

        #[test]
        fn cleaning_is_idempotent(s in "\\PC*") {
            if let Ok(once) = clean_line(&s, 10_000) {
                prop_assert_eq!(clean_line(&once, 10_000), Ok(once.clone()));
            }
        }
    }
}
