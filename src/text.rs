//! Rules for text people type: what counts as visible, and which characters a name or a message
//! may not contain.

/// Characters that show nothing: whitespace, zero-width and joiner characters, the byte-order
/// mark, and every control or format character.
pub fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(
            c,
            '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{180E}'
                | '\u{00AD}'
                | '\u{034F}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{3164}'
                | '\u{FFA0}'
        )
}

/// Whether the text has at least one character that shows.
pub fn has_visible(s: &str) -> bool {
    s.chars().any(|c| !is_invisible(c))
}

/// Characters never allowed in a one-line name (room, display name): control characters
/// (NUL, BEL, ESC, newlines, ...), bidirectional overrides and isolates (U+202A–U+202E,
/// U+2066–U+2069, which can make a name read backwards), and line or paragraph separators.
pub fn forbidden_in_name(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}'
        )
}

/// Characters never allowed in a message: control characters other than tab, newline and
/// carriage return (NUL, BEL, ESC, DEL, the C1 controls).
pub fn forbidden_in_message(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visibility() {
        assert!(!has_visible(""));
        assert!(!has_visible("\u{0}\u{0}"));
        assert!(!has_visible("\u{200B}\u{200B} \u{FEFF}\u{2060}"));
        assert!(!has_visible(" \n\t"));
        assert!(has_visible("\u{200B}a"));
        assert!(has_visible("👍"));
        assert!(has_visible("مرحبا"));
    }

    #[test]
    fn names_and_messages() {
        for c in [
            '\u{0}', '\u{7}', '\u{1b}', '\n', '\u{202E}', '\u{2066}', '\u{2028}',
        ] {
            assert!(forbidden_in_name(c), "{c:?}");
        }
        assert!(!forbidden_in_name('é') && !forbidden_in_name(' ') && !forbidden_in_name('中'));
        assert!(forbidden_in_message('\u{0}') && forbidden_in_message('\u{7f}'));
        assert!(!forbidden_in_message('\n') && !forbidden_in_message('\t'));
        assert!(!forbidden_in_message('\u{202E}'));
    }
}
