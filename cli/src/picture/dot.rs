//! Small helpers for writing Graphviz DOT text: quoting identifiers,
//! escaping HTML-like labels, shortening long strings, a shared style.

/// A DOT double-quoted string (identifier or attribute value).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text for inside an HTML-like label (`<…>`).
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// `s` cut to at most `max` characters, ending in `…` when cut.
pub fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `s` broken after commas into lines of at most `width` characters (a
/// longer piece is cut hard), at most `max_lines` of them; the last ends
/// in `…` when something was left out.
pub fn wrap(s: &str, width: usize, max_lines: usize) -> Vec<String> {
    let width = width.max(2);
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    // Commas end a line: each comma stays with the piece before it.
    let parts: Vec<&str> = s.split(',').collect();
    let pieces = parts.iter().enumerate().map(|(i, p)| {
        if i + 1 < parts.len() {
            format!("{p},")
        } else {
            p.to_string()
        }
    });
    for piece in pieces {
        let mut piece = piece.as_str();
        loop {
            let room = width - cur.chars().count();
            let n = piece.chars().count();
            if n <= room {
                cur.push_str(piece);
                break;
            }
            if !cur.is_empty() {
                lines.push(std::mem::take(&mut cur));
                continue;
            }
            let cut: usize = piece.chars().take(width).map(char::len_utf8).sum();
            lines.push(piece[..cut].to_string());
            piece = &piece[cut..];
        }
    }
    if !cur.is_empty() || lines.is_empty() {
        lines.push(cur);
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        let last = lines.last_mut().expect("max_lines > 0");
        *last = shorten(&format!("{last}…"), width);
        if !last.ends_with('…') {
            last.push('…');
        }
    }
    lines
}

/// Graph-wide defaults shared by both pictures: left to right, legible
/// sans-serif fonts.
pub const GRAPH_STYLE: &str = concat!(
    "  graph [rankdir=LR, fontname=\"Helvetica\", fontsize=12, nodesep=0.3, ranksep=0.6, pad=0.3];\n",
    "  node [fontname=\"Helvetica\", fontsize=11];\n",
    "  edge [fontname=\"Helvetica\", fontsize=10];\n",
);

/// A packet count for a label: `1234` as `1,234`.
pub fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(html("<a&b>"), "&lt;a&amp;b&gt;");
        assert_eq!(shorten("abcdef", 4), "abc…");
        assert_eq!(shorten("abc", 4), "abc");
        assert_eq!(count(0), "0");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(count(123), "123");
        assert_eq!(wrap("a=1,b=2,c=3", 8, 3), ["a=1,b=2,", "c=3"]);
        assert_eq!(wrap("abcdefghij", 4, 5), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("aaa,bbb,ccc,ddd", 4, 2), ["aaa,", "bbb…"]);
        assert_eq!(wrap("", 4, 2), [""]);
    }
}
