//! ovs-ofctl's text syntax: parsing flow strings and printing flows, byte for
//! byte as Open vSwitch 3.1 does (OpenFlow 1.0 + NXM dialect).

pub mod actions;
pub mod dump;
pub mod flow;
pub mod matches;
pub mod protocol;
pub mod value;

use std::collections::BTreeMap;
use std::fmt;

/// A parse error. The text is ovs-ofctl's own wording (without its
/// `ovs-ofctl: ` prefix) whenever OVS has one, so scripts that match OVS's
/// messages keep working. Every error names the offending token: when OVS's
/// wording does not (`must specify an action`, `actions are invalid with
/// specified match (...)`), the token is appended as ` (near "TOKEN")`;
/// [`ParseError::ovs_message`] gives the OVS part alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError(pub String);

/// Separator between OVS's wording and the token rswitch appends.
const NEAR: &str = " (near \"";

impl ParseError {
    /// An error whose wording already names the token (or has none to name).
    pub fn new(msg: impl Into<String>) -> ParseError {
        ParseError(msg.into())
    }

    /// OVS's wording `msg`, plus the offending `token` when the wording does
    /// not already contain it.
    pub fn near(msg: impl Into<String>, token: &str) -> ParseError {
        let msg = msg.into();
        if !token.is_empty() && msg.contains(token) {
            ParseError(msg)
        } else if token.trim().is_empty() {
            ParseError(format!("{msg}{NEAR}{token}\", empty input)"))
        } else {
            ParseError(format!("{msg}{NEAR}{token}\")"))
        }
    }

    /// The message without the token rswitch appended: what ovs-ofctl says.
    pub fn ovs_message(&self) -> &str {
        match self.0.find(NEAR) {
            Some(i) if self.0.ends_with(')') => &self.0[..i],
            _ => &self.0,
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

pub type ParseResult<T> = Result<T, ParseError>;

pub(crate) fn err<T>(msg: impl Into<String>) -> ParseResult<T> {
    Err(ParseError(msg.into()))
}

pub(crate) fn err_near<T>(msg: impl Into<String>, token: &str) -> ParseResult<T> {
    Err(ParseError::near(msg, token))
}

/// Port names known to the bridge, for `in_port=p1`, `output:p1` and `--names`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortMap {
    by_name: BTreeMap<String, u32>,
    by_number: BTreeMap<u32, String>,
}

impl PortMap {
    pub fn new() -> PortMap {
        PortMap::default()
    }

    pub fn insert(&mut self, name: impl Into<String>, ofport: u32) {
        let name = name.into();
        self.by_number.insert(ofport, name.clone());
        self.by_name.insert(name, ofport);
    }

    /// Makes the bridge's own name mean its LOCAL port when parsing
    /// (`in_port=br0`), as in OVS where the bridge's internal interface is
    /// port LOCAL. Printing keeps saying `LOCAL`, as ovs-ofctl does.
    pub fn set_bridge_name(&mut self, name: impl Into<String>) {
        self.by_name.insert(name.into(), crate::port::OFPP_LOCAL);
    }

    pub fn number(&self, name: &str) -> Option<u32> {
        self.by_name.get(name).copied()
    }

    pub fn name(&self, ofport: u32) -> Option<&str> {
        self.by_number.get(&ofport).map(|s| s.as_str())
    }
}

/// Splits OVS-style `key=value`, `key:value` and `key(value)` items, exactly as
/// `ofputil_parse_key_value` does: items are separated by commas or white
/// space, and parentheses nest inside values.
pub struct KeyValues<'a> {
    rest: &'a str,
}

impl<'a> KeyValues<'a> {
    pub fn new(s: &'a str) -> KeyValues<'a> {
        KeyValues { rest: s }
    }
}

fn is_item_sep(c: char) -> bool {
    matches!(c, ',' | ' ' | '\t' | '\r' | '\n')
}

/// Length of a value up to one of `delims`, skipping over balanced parentheses.
fn value_len(s: &str, delims: &[char]) -> usize {
    let b = s.as_bytes();
    let mut n = 0;
    while n < b.len() && !delims.contains(&(b[n] as char)) {
        if b[n] == b'(' {
            let mut level = 0i32;
            loop {
                if n >= b.len() {
                    return n;
                }
                match b[n] {
                    b'(' => level += 1,
                    b')' => level -= 1,
                    _ => {}
                }
                n += 1;
                if level <= 0 {
                    break;
                }
            }
        } else {
            n += 1;
        }
    }
    n
}

impl<'a> Iterator for KeyValues<'a> {
    /// (key, value); value is "" when the item has none.
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<(&'a str, &'a str)> {
        let s = self.rest.trim_start_matches(is_item_sep);
        if s.is_empty() {
            self.rest = s;
            return None;
        }
        let key_len = s
            .find([':', '=', '(', ',', ' ', '\t', '\r', '\n'])
            .unwrap_or(s.len());
        let key = &s[..key_len];
        let delim = s[key_len..].chars().next();
        let after = if delim.is_some() {
            &s[key_len + 1..]
        } else {
            ""
        };
        let value_delims: &[char] = match delim {
            Some(':') | Some('=') => &[',', ' ', '\t', '\r', '\n'],
            Some('(') => &[')'],
            _ => {
                self.rest = after;
                return Some((key, ""));
            }
        };
        let mut vlen = value_len(after, value_delims);
        // `key(x)->y` (check_pkt_larger): the value is `x)->y`.
        if delim == Some('(') && after[vlen..].starts_with(")->") {
            vlen += value_len(&after[vlen..], &[',', ' ', '\t', '\r', '\n']);
        }
        let value = &after[..vlen];
        let rest = &after[vlen..];
        self.rest = if rest.is_empty() { rest } else { &rest[1..] };
        Some((key, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_values_like_ovs() {
        let kv: Vec<_> = KeyValues::new(
            "output:1, resubmit(,3),learn(table=20,NXM_OF_VLAN_TCI[0..11]),drop load:0->NXM_OF_VLAN_TCI[]",
        )
        .collect();
        assert_eq!(
            kv,
            vec![
                ("output", "1"),
                ("resubmit", ",3"),
                ("learn", "table=20,NXM_OF_VLAN_TCI[0..11]"),
                ("drop", ""),
                ("load", "0->NXM_OF_VLAN_TCI[]"),
            ]
        );
        let kv: Vec<_> = KeyValues::new("a(b(c),d),e=f(g,h)").collect();
        assert_eq!(kv, vec![("a", "b(c),d"), ("e", "f(g,h)")]);
    }
}
