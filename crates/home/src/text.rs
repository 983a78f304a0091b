//! Text that reaches a terminal: control and bidi characters escaped, so token content
//! (caveats, locations) or an agent's request (paths, bodies) shown to a person can never
//! move the cursor, retitle the window, or make one string read as another. Shared by both
//! binaries.

use std::borrow::Cow;

/// Escapes control, bidi and invisible characters as `\u{..}`.
pub fn clean(text: &str) -> Cow<'_, str> {
    escape(text, false)
}

/// [`clean`] for a whole message that may span lines: newlines stay.
pub fn clean_lines(text: &str) -> Cow<'_, str> {
    escape(text, true)
}

fn escape(text: &str, keep_newlines: bool) -> Cow<'_, str> {
    let hidden = |c: char| unsafe_char(c) && !(keep_newlines && c == '\n');
    if !text.chars().any(hidden) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hidden(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Control characters, and format characters that change how the text around them reads.
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{061c}'                   // Arabic letter mark
            | '\u{180e}'                 // Mongolian vowel separator
            | '\u{200b}'..='\u{200f}'    // zero-width space/joiners, LRM, RLM
            | '\u{2028}'..='\u{202e}'    // line/paragraph separators, LRE RLE PDF LRO RLO
            | '\u{2060}'..='\u{206f}'    // word joiner, invisible operators, LRI RLI FSI PDI
            | '\u{feff}'                 // BOM / zero-width no-break space
            | '\u{fff9}'..='\u{fffb}') // interlinear annotation
}
