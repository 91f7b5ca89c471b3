//! OVSDB data values in ovs-vsctl's text syntax: parsing (`ovsdb-data.c`'s
//! `ovsdb_datum_from_string`) and the three printed forms (string, bare, JSON).
//!
//! Error texts are Open vSwitch 3.1's, byte for byte where the golden
//! transcript shows them, because lab scripts match on them.

use std::cmp::Ordering;
use std::fmt::Write as _;

/// The atomic types rswitch's columns use (OVSDB also has `real` and
/// `boolean`; no column rswitch implements needs them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AtomType {
    Integer,
    String,
    Uuid,
}

impl AtomType {
    fn name(self) -> &'static str {
        match self {
            AtomType::Integer => "integer",
            AtomType::String => "string",
            AtomType::Uuid => "uuid",
        }
    }
}

/// A key or value type with its constraints.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BaseType {
    pub ty: AtomType,
    pub min: i64,
    pub max: i64,
    /// Allowed string values, sorted as OVSDB sorts them (byte order).
    pub enum_: Option<&'static [&'static str]>,
}

impl BaseType {
    pub const fn new(ty: AtomType) -> Self {
        BaseType {
            ty,
            min: i64::MIN,
            max: i64::MAX,
            enum_: None,
        }
    }
    pub const fn int_range(min: i64, max: i64) -> Self {
        BaseType {
            ty: AtomType::Integer,
            min,
            max,
            enum_: None,
        }
    }
    pub const fn string_enum(values: &'static [&'static str]) -> Self {
        BaseType {
            ty: AtomType::String,
            min: i64::MIN,
            max: i64::MAX,
            enum_: Some(values),
        }
    }
}

/// Marker for "unlimited" in [`ColumnType::n_max`].
pub(crate) const UNLIMITED: usize = usize::MAX;

/// A column type: a scalar, an optional value, a set or a map.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ColumnType {
    pub key: BaseType,
    pub value: Option<BaseType>,
    pub n_min: usize,
    pub n_max: usize,
}

impl ColumnType {
    pub const fn scalar(key: BaseType) -> Self {
        ColumnType {
            key,
            value: None,
            n_min: 1,
            n_max: 1,
        }
    }
    pub const fn optional(key: BaseType) -> Self {
        ColumnType {
            key,
            value: None,
            n_min: 0,
            n_max: 1,
        }
    }
    pub const fn set(key: BaseType, n_min: usize, n_max: usize) -> Self {
        ColumnType {
            key,
            value: None,
            n_min,
            n_max,
        }
    }
    pub const fn string_map() -> Self {
        ColumnType {
            key: BaseType::new(AtomType::String),
            value: Some(BaseType::new(AtomType::String)),
            n_min: 0,
            n_max: UNLIMITED,
        }
    }
    pub fn is_map(&self) -> bool {
        self.value.is_some()
    }
    pub fn is_scalar(&self) -> bool {
        self.n_min == 1 && self.n_max == 1 && self.value.is_none()
    }

    /// `ovsdb_type_to_english`, used in several error messages.
    pub fn to_english(self) -> String {
        let key = self.key.ty.name();
        if self.is_scalar() {
            return key.to_string();
        }
        let mut s = String::from(if self.is_map() { "map" } else { "set" });
        if self.n_max == UNLIMITED {
            if self.n_min > 0 {
                let _ = write!(s, " of {} or more", self.n_min);
            } else {
                s.push_str(" of");
            }
        } else if self.n_min > 0 {
            let _ = write!(s, " of {} to {}", self.n_min, self.n_max);
        } else {
            let _ = write!(s, " of up to {}", self.n_max);
        }
        match self.value {
            None => {
                let _ = write!(s, " {key}s");
            }
            Some(v) => {
                let _ = write!(s, " ({key}, {}) pairs", v.ty.name());
            }
        }
        s
    }
}

/// One OVSDB atom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Atom {
    Integer(i64),
    String(String),
    Uuid(String),
}

impl Atom {
    pub fn str(s: &str) -> Atom {
        Atom::String(s.to_string())
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Atom::String(s) | Atom::Uuid(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Atom::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// `ovsdb_atom_to_string`: strings are quoted only when they would not
    /// read back as the same bare token.
    pub fn to_text(&self, out: &mut String) {
        match self {
            Atom::Integer(i) => {
                let _ = write!(out, "{i}");
            }
            Atom::String(s) => {
                if string_needs_quotes(s) {
                    json_string(s, out);
                } else {
                    out.push_str(s);
                }
            }
            Atom::Uuid(u) => out.push_str(u),
        }
    }

    /// `ovsdb_atom_to_bare`: like `to_text` but strings are never quoted.
    fn to_bare(&self, out: &mut String) {
        match self {
            Atom::String(s) => out.push_str(s),
            other => other.to_text(out),
        }
    }

    fn to_json(&self) -> Json {
        match self {
            Atom::Integer(i) => Json::Int(*i),
            Atom::String(s) => Json::Str(s.clone()),
            Atom::Uuid(u) => Json::Array(vec![Json::Str("uuid".into()), Json::Str(u.clone())]),
        }
    }
}

impl Ord for Atom {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Atom::Integer(a), Atom::Integer(b)) => a.cmp(b),
            // strcmp order, as OVSDB sorts string sets and map keys.
            (Atom::String(a), Atom::String(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Atom::Uuid(a), Atom::Uuid(b)) => a.cmp(b),
            // Never compared within one column; any consistent order will do.
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for Atom {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Atom {
    fn rank(&self) -> u8 {
        match self {
            Atom::Integer(_) => 0,
            Atom::String(_) => 1,
            Atom::Uuid(_) => 2,
        }
    }
}

/// An OVSDB datum: a sorted set of keys, each with a value for maps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Datum {
    pub items: Vec<(Atom, Option<Atom>)>,
}

impl Datum {
    pub fn empty() -> Datum {
        Datum { items: Vec::new() }
    }
    pub fn one(atom: Atom) -> Datum {
        Datum {
            items: vec![(atom, None)],
        }
    }
    pub fn opt(atom: Option<Atom>) -> Datum {
        Datum {
            items: atom.into_iter().map(|a| (a, None)).collect(),
        }
    }
    /// A set from atoms (sorted and deduplicated here).
    pub fn set(atoms: impl IntoIterator<Item = Atom>) -> Datum {
        let mut d = Datum {
            items: atoms.into_iter().map(|a| (a, None)).collect(),
        };
        d.normalize();
        d
    }
    /// A string→string map.
    pub fn string_map<'a>(pairs: impl IntoIterator<Item = (&'a String, &'a String)>) -> Datum {
        let mut d = Datum {
            items: pairs
                .into_iter()
                .map(|(k, v)| (Atom::String(k.clone()), Some(Atom::String(v.clone()))))
                .collect(),
        };
        d.normalize();
        d
    }
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Sorts by key and drops later duplicates of a key.
    fn normalize(&mut self) {
        self.items.sort_by(|a, b| a.0.cmp(&b.0));
        self.items.dedup_by(|b, a| a.0 == b.0);
    }

    /// Sorts by key; `Err` if a key appears twice.
    fn sort_checked(&mut self) -> Result<(), ()> {
        self.items.sort_by(|a, b| a.0.cmp(&b.0));
        if self.items.windows(2).any(|w| w[0].0 == w[1].0) {
            Err(())
        } else {
            Ok(())
        }
    }

    pub fn find(&self, key: &Atom) -> Option<&(Atom, Option<Atom>)> {
        self.items
            .binary_search_by(|(k, _)| k.cmp(key))
            .ok()
            .map(|i| &self.items[i])
    }

    /// Set union / map update: keys of `other` win (as ovs-vsctl 3.1's `add`
    /// on a map replaces an existing key's value).
    pub fn union(&mut self, other: &Datum) {
        for item in &other.items {
            match self.items.binary_search_by(|(k, _)| k.cmp(&item.0)) {
                Ok(i) => self.items[i] = item.clone(),
                Err(i) => self.items.insert(i, item.clone()),
            }
        }
    }

    /// `ovsdb_datum_subtract`: removes keys of `other`; if `other` carries
    /// values (a map given as `k=v`), a pair is removed only if both match.
    pub fn subtract(&mut self, other: &Datum) {
        self.items.retain(|(k, v)| match other.find(k) {
            None => true,
            Some((_, None)) => false,
            Some((_, Some(ov))) => v.as_ref() != Some(ov),
        });
    }

    /// Every element of `self` is in `other` (`ovsdb_datum_includes_all`).
    pub fn included_in(&self, other: &Datum) -> bool {
        self.items.iter().all(|(k, v)| match other.find(k) {
            Some((_, ov)) => ov == v,
            None => false,
        })
    }

    /// No element of `self` is in `other` (`ovsdb_datum_excludes_all`).
    pub fn excluded_from(&self, other: &Datum) -> bool {
        self.items.iter().all(|(k, v)| match other.find(k) {
            Some((_, ov)) => ov != v,
            None => true,
        })
    }

    /// `ovsdb_datum_compare_3way`: size first, then keys, then values.
    pub fn compare(&self, other: &Datum) -> Ordering {
        self.len()
            .cmp(&other.len())
            .then_with(|| {
                self.items
                    .iter()
                    .zip(&other.items)
                    .map(|(a, b)| a.0.cmp(&b.0))
                    .find(|o| o.is_ne())
                    .unwrap_or(Ordering::Equal)
            })
            .then_with(|| {
                self.items
                    .iter()
                    .zip(&other.items)
                    .map(|(a, b)| a.1.cmp(&b.1))
                    .find(|o| o.is_ne())
                    .unwrap_or(Ordering::Equal)
            })
    }

    /// `ovsdb_datum_to_string`.
    pub fn to_text(&self, ty: &ColumnType) -> String {
        let mut out = String::new();
        let bracket = ty.n_max > 1 || self.items.is_empty();
        if bracket {
            out.push(if ty.is_map() { '{' } else { '[' });
        }
        for (i, (k, v)) in self.items.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            k.to_text(&mut out);
            if let Some(v) = v {
                out.push('=');
                v.to_text(&mut out);
            }
        }
        if bracket {
            out.push(if ty.is_map() { '}' } else { ']' });
        }
        out
    }

    /// `ovsdb_datum_to_bare`: space separated, never quoted.
    pub fn to_bare(&self) -> String {
        let mut out = String::new();
        for (i, (k, v)) in self.items.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            k.to_bare(&mut out);
            if let Some(v) = v {
                out.push('=');
                v.to_bare(&mut out);
            }
        }
        out
    }

    /// `ovsdb_datum_to_json`: a single set element is printed as the atom.
    pub fn to_json(&self, ty: &ColumnType) -> Json {
        if ty.is_map() {
            let pairs = self
                .items
                .iter()
                .map(|(k, v)| {
                    Json::Array(vec![
                        k.to_json(),
                        v.as_ref().map(Atom::to_json).unwrap_or(Json::Null),
                    ])
                })
                .collect();
            wrap("map", pairs)
        } else if self.items.len() == 1 {
            self.items[0].0.to_json()
        } else {
            wrap("set", self.items.iter().map(|(k, _)| k.to_json()).collect())
        }
    }

    /// The datum as an OVSDB wire value that is always wrapped (`["set",…]`),
    /// as the IDL sends mutations; only used to reproduce OVS's
    /// transaction-error texts.
    pub fn to_wire_json(&self, ty: &ColumnType) -> Json {
        if ty.is_map() {
            self.to_json(ty)
        } else {
            wrap("set", self.items.iter().map(|(k, _)| k.to_json()).collect())
        }
    }
}

fn wrap(tag: &str, items: Vec<Json>) -> Json {
    Json::Array(vec![Json::Str(tag.into()), Json::Array(items)])
}

/// `string_needs_quotes` of OVS 3.1: a bare string must start with a letter
/// or `_`, continue with letters, digits, `_`, `-`, `.`, and not read as a
/// boolean or a UUID.
pub(crate) fn string_needs_quotes(s: &str) -> bool {
    let mut bytes = s.bytes();
    match bytes.next() {
        Some(c) if c.is_ascii_alphabetic() || c == b'_' => {}
        _ => return true,
    }
    if !bytes.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c == b'.') {
        return true;
    }
    s == "true" || s == "false" || is_uuid(s)
}

/// `uuid_from_string`: 8-4-4-4-12 hex digits.
pub(crate) fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// `uuid_is_partial_string`: a prefix of a UUID's text, at least 4 long.
pub(crate) fn is_partial_uuid(s: &str) -> bool {
    s.len() >= 4
        && s.len() <= 36
        && s.bytes().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// `ovsdb_token_is_delim`.
pub(crate) fn is_delim(c: char) -> bool {
    ":=, []{}!<>".contains(c)
}

/// `ovsdb_token_parse`: reads one token from `s`, stopping at an unquoted
/// delimiter.  A backslash escapes the next character; inside double quotes
/// it is kept (the JSON unescaping of the atom parser handles it).
/// Returns the token and the rest of `s`.
pub(crate) fn token_parse(s: &str) -> Result<(String, &str), String> {
    let mut out = String::new();
    let mut in_quotes = false;
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        if c == '\\' {
            if in_quotes {
                out.push('\\');
            }
            match chars.next() {
                Some((_, n)) => out.push(n),
                None => return Err(format!("{s}: backslash at end of argument")),
            }
        } else if !in_quotes && is_delim(c) {
            return Ok((out, &s[i..]));
        } else {
            out.push(c);
            if c == '"' {
                in_quotes = !in_quotes;
            }
        }
    }
    if in_quotes {
        return Err(format!("{s}: quoted string extends to end of argument"));
    }
    Ok((out, ""))
}

/// `str_to_llong` (base 10, whole string, optional sign).
fn parse_llong(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.strip_prefix('+').unwrap_or(s).parse().ok()
}

/// `str_to_llong_range`: `A-B` with both ends integers.
fn parse_llong_range(s: &str) -> Option<(i64, i64)> {
    // The first integer may carry a sign; the '-' separating the ends is the
    // first '-' after at least one digit.
    let start = usize::from(s.starts_with(['+', '-']));
    let body = &s[start..];
    let digits = body.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let split = start + digits;
    if s.as_bytes().get(split) != Some(&b'-') {
        return None;
    }
    Some((parse_llong(&s[..split])?, parse_llong(&s[split + 1..])?))
}

/// Checks `atom` against `base`'s constraints (`ovsdb_atom_check_constraints`).
fn check_constraints(atom: &Atom, base: &BaseType) -> Result<(), String> {
    if let Atom::Integer(i) = atom {
        if *i < base.min || *i > base.max {
            return Err(if base.min != i64::MIN {
                if base.max != i64::MAX {
                    format!(
                        "constraint violation: {i} is not in the valid range {} to {} (inclusive)",
                        base.min, base.max
                    )
                } else {
                    format!(
                        "constraint violation: {i} is less than minimum allowed value {}",
                        base.min
                    )
                }
            } else {
                format!(
                    "constraint violation: {i} is greater than maximum allowed value {}",
                    base.max
                )
            });
        }
    }
    if let (Some(allowed), Atom::String(s)) = (base.enum_, atom) {
        if !allowed.contains(&s.as_str()) {
            let mut actual = String::new();
            atom.to_text(&mut actual);
            let valid = Datum::set(allowed.iter().map(|v| Atom::str(v)));
            let valid_ty = ColumnType::set(BaseType::new(AtomType::String), 0, UNLIMITED);
            return Err(format!(
                "constraint violation: {actual} is not one of the allowed values ({})",
                valid.to_text(&valid_ty)
            ));
        }
    }
    Ok(())
}

/// Largest integer range `A-B` accepted (`MAX_OVSDB_ATOM_RANGE_SIZE`).
const MAX_RANGE: i64 = 4096;

/// `ovsdb_atom_from_string`: one atom from one token (already unquoted by
/// the tokenizer except for the JSON quotes of a quoted string).  With
/// `allow_range`, an integer may be written `A-B`; the end is returned.
pub(crate) fn atom_from_string(
    base: &BaseType,
    s: &str,
    allow_range: bool,
) -> Result<(Atom, Option<i64>), String> {
    let (atom, range_end) = match base.ty {
        AtomType::Integer => {
            if let Some((a, b)) = allow_range.then(|| parse_llong_range(s)).flatten() {
                if b < a {
                    return Err(format!(
                        "\"{s}\" is not a valid range. Range end cannot be before start."
                    ));
                }
                (Atom::Integer(a), Some(b))
            } else if let Some(i) = parse_llong(s) {
                (Atom::Integer(i), None)
            } else {
                return Err(format!("\"{s}\" is not a valid integer or range"));
            }
        }
        AtomType::String => {
            if s.is_empty() {
                return Err(
                    "An empty string is not valid as input; use \"\" to represent the empty string"
                        .into(),
                );
            } else if let Some(inner) = s.strip_prefix('"') {
                match inner.strip_suffix('"') {
                    Some(body) if !inner.is_empty() => match json_unescape(body) {
                        Ok(v) => (Atom::String(v), None),
                        Err(e) => return Err(format!("{s}: {e}")),
                    },
                    _ => return Err(format!("{s}: missing quote at end of quoted string")),
                }
            } else {
                (Atom::String(s.to_string()), None)
            }
        }
        AtomType::Uuid => {
            if s.starts_with('@') {
                // A symbol from --id=@name: rswitch cannot create records.
                return Err(format!(
                    "{s}: named row references (--id=@name) are not supported by rswitch"
                ));
            }
            if !is_uuid(s) {
                return Err(format!("\"{s}\" is not a valid UUID"));
            }
            (Atom::Uuid(s.to_ascii_lowercase()), None)
        }
    };
    check_constraints(&atom, base)?;
    if let Some(end) = range_end {
        check_constraints(&Atom::Integer(end), base)?;
        let start = atom.as_int().unwrap_or_default();
        if (end as u64).wrapping_sub(start as u64) >= MAX_RANGE as u64 {
            return Err(format!(
                "constraint violation: Range \"{start}-{end}\" is too big. Maximum range size is {MAX_RANGE}."
            ));
        }
    }
    Ok((atom, range_end))
}

fn skip_spaces(s: &str) -> &str {
    s.trim_start_matches(|c: char| c.is_ascii_whitespace())
}

/// `ovsdb_datum_from_string`: a whole value (`5`, `[1,2]`, `1,2`, `1-3`,
/// `{a=b, c="d e"}`, `[]`, ...) checked against `ty`.
pub(crate) fn datum_from_string(ty: &ColumnType, s: &str) -> Result<Datum, String> {
    let is_map = ty.is_map();
    let mut p = skip_spaces(s);
    let end_delim = if p.starts_with(if is_map { '{' } else { '[' }) {
        p = skip_spaces(&p[1..]);
        Some(if is_map { '}' } else { ']' })
    } else if p.is_empty() {
        return Err(if is_map {
            "use \"{}\" to specify the empty map".into()
        } else {
            "use \"[]\" to specify the empty set".into()
        });
    } else {
        None
    };

    let mut datum = Datum::empty();
    loop {
        let c = p.chars().next();
        if c.is_none() || c == end_delim {
            break;
        }
        let c = c.unwrap_or_default();
        if is_delim(c) {
            return Err(format!(
                "{s}: unexpected \"{c}\" parsing {}",
                ty.to_english()
            ));
        }
        // Key (an integer key may be a range `A-B` in a set).
        let start = p;
        let (token, rest) = token_parse(p)?;
        let (key, range_end) = atom_from_string(&ty.key, &token, true)?;
        p = rest;
        let value = match ty.value {
            None => None,
            Some(vbase) => {
                p = skip_spaces(p);
                match p.strip_prefix('=') {
                    Some(rest) => {
                        let (vtok, rest) = token_parse(skip_spaces(rest))?;
                        p = rest;
                        Some(atom_from_string(&vbase, &vtok, false)?.0)
                    }
                    None => {
                        // OVS prints the offending character with %c; at the
                        // end of the string that is a NUL, which ends the
                        // message right after the quote.
                        let at = p.chars().next().map(String::from).unwrap_or_default();
                        return Err(if at.is_empty() {
                            format!("{start}: syntax error at \"")
                        } else {
                            format!("{start}: syntax error at \"{at}\" expecting \"=\"")
                        });
                    }
                }
            }
        };
        match (range_end, &key) {
            (Some(end), Atom::Integer(first)) if !is_map => {
                for i in *first..=end {
                    datum.items.push((Atom::Integer(i), None));
                }
            }
            _ => datum.items.push((key, value)),
        }
        p = skip_spaces(p);
        if let Some(rest) = p.strip_prefix(',') {
            p = skip_spaces(rest);
        }
    }
    match end_delim {
        Some(d) => {
            if !p.starts_with(d) {
                return Err(format!("{s}: missing \"{d}\" at end of data"));
            }
            if !skip_spaces(&p[1..]).is_empty() {
                return Err(format!("{s}: trailing garbage after \"{d}\""));
            }
        }
        None => {
            if !p.is_empty() {
                // Only reachable with a stray closing delimiter of the other
                // kind; report it like OVS's "unexpected" case.
                let c = p.chars().next().unwrap_or_default();
                return Err(format!(
                    "{s}: unexpected \"{c}\" parsing {}",
                    ty.to_english()
                ));
            }
        }
    }
    if datum.sort_checked().is_err() {
        return Err(if is_map {
            format!("{s}: map contains duplicate key")
        } else {
            format!("{s}: set contains duplicate value")
        });
    }
    if datum.len() < ty.n_min {
        return Err(format!(
            "{s}: {} value(s) specified but the minimum number is {}",
            datum.len(),
            ty.n_min
        ));
    }
    if datum.len() > ty.n_max {
        return Err(format!(
            "{s}: {} value(s) specified but the maximum number is {}",
            datum.len(),
            ty.n_max
        ));
    }
    Ok(datum)
}

/// `json_string_unescape` for the inside of a quoted string.
fn json_unescape(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            Some('/') => out.push('/'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('u') => {
                let mut code = read_hex4(&mut chars)?;
                if (0xd800..0xdc00).contains(&code) {
                    // A surrogate pair: "\uD83D\uDE00".
                    if chars.next() != Some('\\') || chars.next() != Some('u') {
                        return Err("malformed escaped surrogate pair".into());
                    }
                    let low = read_hex4(&mut chars)?;
                    if !(0xdc00..0xe000).contains(&low) {
                        return Err("malformed escaped surrogate pair".into());
                    }
                    code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
                }
                match char::from_u32(code) {
                    Some(ch) if code != 0 => out.push(ch),
                    _ => return Err("null bytes not supported in quoted strings".into()),
                }
            }
            Some(other) => return Err(format!("bad escape \\{other}")),
            None => return Err("bad escape \\".into()),
        }
    }
    Ok(out)
}

fn read_hex4(chars: &mut std::str::Chars<'_>) -> Result<u32, String> {
    let hex: String = chars.by_ref().take(4).collect();
    if hex.len() != 4 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err("malformed \\u escape".into());
    }
    u32::from_str_radix(&hex, 16).map_err(|_| "malformed \\u escape".to_string())
}

/// `json_serialize_string`.
pub(crate) fn json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Just enough JSON to print what OVS prints (`--format=json`, `-d json`,
/// transaction errors), in OVS's compact and `--pretty` layouts.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Json {
    Null,
    Int(i64),
    Str(String),
    Array(Vec<Json>),
    /// Members are printed in the given order (callers sort them, as OVS
    /// prints objects with sorted keys).
    Object(Vec<(String, Json)>),
}

impl Json {
    pub fn to_string_compact(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, false, 0);
        out
    }
    pub fn to_string_pretty(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, true, 0);
        out
    }

    // Mirrors lib/json.c's serializer, including its pretty style where
    // closing brackets follow the last element on the same line.
    fn write(&self, out: &mut String, pretty: bool, depth: usize) {
        let indent = |out: &mut String, depth: usize| {
            if pretty {
                out.push('\n');
                out.push_str(&" ".repeat(2 * depth));
            }
        };
        match self {
            Json::Null => out.push_str("null"),
            Json::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Json::Str(s) => json_string(s, out),
            Json::Array(items) => {
                out.push('[');
                if !items.is_empty() {
                    indent(out, depth + 1);
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                            indent(out, depth + 1);
                        }
                        item.write(out, pretty, depth + 1);
                    }
                }
                out.push(']');
            }
            Json::Object(members) => {
                out.push('{');
                indent(out, depth + 1);
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                        indent(out, depth + 1);
                    }
                    json_string(k, out);
                    out.push(':');
                    if pretty {
                        out.push(' ');
                    }
                    v.write(out, pretty, depth + 1);
                }
                out.push('}');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRUNKS: ColumnType = ColumnType::set(BaseType::int_range(0, 4095), 0, 4096);
    const TAG: ColumnType = ColumnType::optional(BaseType::int_range(0, 4095));

    #[test]
    fn quoting_follows_ovs_3_1() {
        for (s, q) in [
            ("p1", false),
            ("br-int", false),
            ("a.b_c-d", false),
            ("_x", false),
            ("1abc", true),
            ("true", true),
            ("false", true),
            ("", true),
            ("a b", true),
            ("fa:16:3e:00:00:01", true),
            ("3a1f9c0e-2b4d-4c1e-9f0a-5d6e7f8a9b0c", true),
        ] {
            assert_eq!(string_needs_quotes(s), q, "{s:?}");
        }
    }

    #[test]
    fn sets_ranges_and_errors() {
        let d = datum_from_string(&TRUNKS, "1-3,7").unwrap();
        assert_eq!(d.to_text(&TRUNKS), "[1, 2, 3, 7]");
        assert_eq!(
            datum_from_string(&TRUNKS, "[3, 1 2]")
                .unwrap()
                .to_text(&TRUNKS),
            "[1, 2, 3]"
        );
        assert_eq!(
            datum_from_string(&TRUNKS, "1]").unwrap_err(),
            "1]: unexpected \"]\" parsing set of up to 4096 integers"
        );
        assert_eq!(
            datum_from_string(&TAG, "1,2").unwrap_err(),
            "1,2: 2 value(s) specified but the maximum number is 1"
        );
        assert_eq!(datum_from_string(&TAG, "[]").unwrap().to_text(&TAG), "[]");
        assert_eq!(
            datum_from_string(&TRUNKS, "3-1").unwrap_err(),
            "\"3-1\" is not a valid range. Range end cannot be before start."
        );
        assert_eq!(
            datum_from_string(&TAG, "-1").unwrap_err(),
            "constraint violation: -1 is not in the valid range 0 to 4095 (inclusive)"
        );
    }

    #[test]
    fn maps_and_strings() {
        let m = ColumnType::string_map();
        let d = datum_from_string(&m, "{a=1, b=\"x y\", c=z}").unwrap();
        assert_eq!(d.to_text(&m), "{a=\"1\", b=\"x y\", c=z}");
        assert_eq!(
            datum_from_string(&m, "{a}").unwrap_err(),
            "a}: syntax error at \"}\" expecting \"=\""
        );
        assert_eq!(
            datum_from_string(&m, "c").unwrap_err(),
            "c: syntax error at \""
        );
        let (a, _) = atom_from_string(
            &BaseType::new(AtomType::String),
            r#""tab\there \"q\" \\ \u00e9""#,
            false,
        )
        .unwrap();
        let mut out = String::new();
        a.to_text(&mut out);
        assert_eq!(out, r#""tab\there \"q\" \\ é""#);
    }

    #[test]
    fn json_layouts() {
        let j = Json::Object(vec![
            (
                "data".into(),
                Json::Array(vec![Json::Array(vec![
                    Json::Str("p2".into()),
                    Json::Int(10),
                ])]),
            ),
            (
                "headings".into(),
                Json::Array(vec![Json::Str("name".into())]),
            ),
        ]);
        assert_eq!(
            j.to_string_compact(),
            r#"{"data":[["p2",10]],"headings":["name"]}"#
        );
        assert_eq!(
            j.to_string_pretty(),
            "{\n  \"data\": [\n    [\n      \"p2\",\n      10]],\n  \"headings\": [\n    \"name\"]}"
        );
    }
}
