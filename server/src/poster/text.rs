//! Setting text on the poster: where lines may break (Unicode line breaking, UAX #14, from
//! the `unicode-linebreak` crate, plus the Chinese rule that closing punctuation never starts
//! a line), fitting lines to a width, ellipses, and XML escaping.

use unicode_linebreak::{linebreaks, BreakOpportunity};

/// Escapes text for XML character data and attribute values.
pub(crate) fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}

/// Full-width characters: CJK ideographs, kana, hangul, CJK and full-width punctuation.
pub(crate) fn is_wide(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3040..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x20000..=0x3FFFD)
        || c == '\u{25A1}'
}

/// A rough advance width in em, for characters a font lacks.
pub(crate) fn estimate_em(c: char) -> f32 {
    if is_wide(c) {
        1.0
    } else {
        0.55
    }
}

/// Chinese line-start rule (禁则) on top of UAX #14: these never begin a line, even where
/// UAX #14 would allow a break before them (it treats some as ambiguous or ordinary).
fn never_starts_a_line(c: char) -> bool {
    matches!(
        c,
        '，' | '。'
            | '、'
            | '！'
            | '？'
            | '；'
            | '：'
            | '）'
            | '」'
            | '』'
            | '】'
            | '》'
            | '〉'
            | '”'
            | '’'
            | '…'
            | '·'
            | '～'
            | '%'
            | '％'
    )
}

pub(crate) fn text_width(text: &str, width: &dyn Fn(char) -> f32) -> f32 {
    text.chars().map(width).sum()
}

/// Shortens `text` with a trailing `…` so that it fits `max_width`.
pub(crate) fn truncate_to_width(text: &str, max_width: f32, width: &dyn Fn(char) -> f32) -> String {
    if text_width(text, width) <= max_width {
        return text.to_owned();
    }
    let mut out: String = text.to_owned();
    let budget = max_width - width('…');
    while !out.is_empty() && text_width(&out, width) > budget {
        out.pop();
    }
    let mut out = out.trim_end().to_owned();
    out.push('…');
    out
}

/// The pieces of `text` between break opportunities, each with its trailing spaces.
fn segments(text: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    let mut start = 0;
    for (at, kind) in linebreaks(text) {
        if matches!(
            kind,
            BreakOpportunity::Mandatory | BreakOpportunity::Allowed
        ) && at > start
        {
            let seg = &text[start..at];
            // The Chinese rule: a segment that starts with closing punctuation joins the one
            // before it.
            match (out.last_mut(), seg.chars().next()) {
                (Some(prev), Some(c)) if never_starts_a_line(c) => {
                    let joined_start = prev.as_ptr() as usize - text.as_ptr() as usize;
                    *prev = &text[joined_start..at];
                }
                _ => out.push(seg),
            }
            start = at;
        }
    }
    out
}

/// Splits `text` into at most `max_lines` lines no wider than `max_width` (as measured by
/// `width`, per char), breaking only where Unicode line breaking (and the Chinese line-start
/// rule) allows; a piece longer than a line is broken anywhere, preferably after a URL
/// separator; the last line ends with `…` when text is left over.
pub(crate) fn wrap_lines(
    text: &str,
    max_width: f32,
    max_lines: usize,
    width: &dyn Fn(char) -> f32,
) -> Vec<String> {
    if max_lines == 0 {
        return Vec::new();
    }
    let text = text.trim();
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for seg in segments(text) {
        // Trailing spaces do not count at the end of a line.
        let fits = text_width(&cur, width) + text_width(seg.trim_end(), width) <= max_width;
        if fits {
            cur.push_str(seg);
            continue;
        }
        if !cur.trim_end().is_empty() {
            lines.push(cur.trim_end().to_owned());
            cur.clear();
        }
        if text_width(seg.trim_end(), width) <= max_width {
            cur.push_str(seg);
            continue;
        }
        // Longer than a line: broken anywhere, preferably after a URL separator or hyphen
        // in the second half of the line.
        for c in seg.trim_end().chars() {
            if !cur.is_empty() && text_width(&cur, width) + width(c) > max_width {
                let soft = cur
                    .char_indices()
                    .filter(|&(_, ch)| matches!(ch, '/' | '?' | '&' | '-' | '_' | '#'))
                    .map(|(i, ch)| i + ch.len_utf8())
                    .rfind(|&end| {
                        end < cur.len() && text_width(&cur[..end], width) >= max_width / 2.0
                    });
                match soft {
                    Some(end) => {
                        let rest = cur.split_off(end);
                        lines.push(std::mem::replace(&mut cur, rest));
                    }
                    None => lines.push(std::mem::take(&mut cur)),
                }
            }
            cur.push(c);
        }
        if seg.ends_with(' ') {
            cur.push(' ');
        }
        if lines.len() > max_lines {
            break;
        }
    }
    if !cur.trim_end().is_empty() {
        lines.push(cur.trim_end().to_owned());
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        if let Some(last) = lines.last_mut() {
            let budget = max_width - width('…');
            while !last.is_empty() && text_width(last, width) > budget {
                last.pop();
            }
            let trimmed_len = last.trim_end().len();
            last.truncate(trimmed_len);
            last.push('…');
        }
    }
    lines
}
