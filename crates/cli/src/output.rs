//! Terminal rendering shared by the commands.

use std::borrow::Cow;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};

/// A table with a header row, sized to the terminal when there is one.
pub fn table<const N: usize>(header: [&str; N]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header);
    if std::env::var_os("NO_COLOR").is_some() {
        t.force_no_tty();
    }
    t
}

/// A table row with every cell [`clean`]ed.
pub fn cells<S: AsRef<str>>(row: impl IntoIterator<Item = S>) -> Vec<String> {
    row.into_iter().map(|c| clean(c.as_ref()).into_owned()).collect()
}

/// `text` made safe for a terminal: control characters (C0, DEL, C1; newlines and tabs
/// included) and the invisible format characters that reorder or hide text (bidi marks,
/// embeddings, overrides and isolates, zero-width characters, the BOM) become `\u{..}`
/// escapes. Tokens are hostile input: printed raw, an ESC or BEL in a caveat could retitle
/// the window or repaint the screen, and a bidi override could make a caveat read as
/// another. Use on every table cell and message that holds token content.
pub fn clean(text: &str) -> Cow<'_, str> {
    macaroon_home::text::clean(text)
}

/// [`clean`] for a whole message that may span lines: newlines stay.
pub fn clean_lines(text: &str) -> Cow<'_, str> {
    macaroon_home::text::clean_lines(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_are_escaped() {
        assert_eq!(clean("path prefix /v1"), "path prefix /v1");
        assert!(matches!(clean("é ünïcode"), Cow::Borrowed(_)));
        assert_eq!(clean("a\u{1b}]0;pwned\u{7}b"), "a\\u{1b}]0;pwned\\u{7}b");
        assert_eq!(
            clean("x\u{202e}y\u{2066}z\u{200f}"),
            "x\\u{202e}y\\u{2066}z\\u{200f}"
        );
        assert_eq!(clean("a\nb\u{9b}"), "a\\u{a}b\\u{9b}");
        assert_eq!(clean_lines("a\nb\r"), "a\nb\\u{d}");
    }
}
