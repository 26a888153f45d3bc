//! The built-in functions: one module per family, each with a table naming its functions;
//! this module joins the tables and holds what the families share (numbers, lists,
//! delimiters).

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::eval::{Eval, Frame, R};

pub mod lists;
pub mod locks;
pub mod logic;
pub mod math;
pub mod objects;
pub mod registers;
pub mod search;
pub mod strings;
pub mod time;

/// Most arguments a function call passes (TinyMUX's `MAX_ARG`).
pub const MAX_ARGS: usize = 100;

/// A function's implementation: evaluated (or, for `noeval`, raw) arguments in, text out.
pub type Run = fn(&mut Eval<'_>, &Frame<'_>, &[String], &mut String) -> R;

/// One built-in function.
pub struct Func {
    /// Upper-case name.
    pub name: &'static str,
    /// Fewest arguments.
    pub min: usize,
    /// Most arguments.
    pub max: usize,
    /// Arguments beyond this many are joined with commas into the last one (0: no joining).
    pub max_parsed: usize,
    /// Arguments arrive unevaluated; the function evaluates what it needs.
    pub noeval: bool,
    /// The implementation.
    pub run: Run,
}

/// A function with evaluated arguments.
pub const fn f(name: &'static str, min: usize, max: usize, run: Run) -> Func {
    Func {
        name,
        min,
        max,
        max_parsed: 0,
        noeval: false,
        run,
    }
}

/// A function that evaluates its own arguments.
pub const fn lazy(name: &'static str, min: usize, max: usize, run: Run) -> Func {
    Func {
        name,
        min,
        max,
        max_parsed: 0,
        noeval: true,
        run,
    }
}

/// A one-argument function that, unlike the rest, does not take commas as text
/// (`lattr(a,b)` is an error in TinyMUX, `strlen(a,b)` is not).
pub const fn strict(name: &'static str, min: usize, max: usize, run: Run) -> Func {
    Func {
        name,
        min,
        max,
        max_parsed: MAX_ARGS,
        noeval: false,
        run,
    }
}

/// A function whose last argument takes any further commas as text.
pub const fn joined(name: &'static str, min: usize, max: usize, run: Run) -> Func {
    Func {
        name,
        min,
        max,
        max_parsed: max,
        noeval: false,
        run,
    }
}

fn table() -> &'static HashMap<&'static str, &'static Func> {
    static TABLE: OnceLock<HashMap<&'static str, &'static Func>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let families: [&'static [Func]; 8] = [
            math::FUNCS,
            logic::FUNCS,
            strings::FUNCS,
            lists::FUNCS,
            registers::FUNCS,
            objects::FUNCS,
            time::FUNCS,
            locks::FUNCS,
        ];
        let mut map = HashMap::new();
        for family in families {
            for func in family {
                map.insert(func.name, func);
            }
        }
        map
    })
}

/// A built-in function by upper-case name.
pub fn lookup(name: &str) -> Option<&'static Func> {
    table().get(name).copied()
}

// ---- numbers -------------------------------------------------------------------------

/// TinyMUX's `mux_isspace`: space, tab, newline, vertical tab, form feed, return.
fn is_space(b: u8) -> bool {
    b == b' ' || (b'\t'..=b'\r').contains(&b)
}

/// What TinyMUX's `ParseFloat` finds in a number.
struct ParsedFloat<'a> {
    /// `Inf`, `-Inf`, `Ind` or `NaN` (any case) as their values.
    special: Option<f64>,
    /// A leading minus sign.
    negative: bool,
    /// Digits before the decimal point.
    int: &'a str,
    /// Digits after the decimal point.
    frac: &'a str,
    /// An exponent was given.
    exponent: bool,
    /// The number itself: sign, digits, point and exponent, without spaces.
    meat: &'a str,
}

/// TinyMUX's `ParseFloat`: optional spaces, sign, digits with an optional point (at least
/// one digit), an exponent of one to four digits, or one of the words `Inf`, `Ind`,
/// `NaN`; then spaces. `strict` wants nothing after that.
fn parse_float(text: &str, strict: bool) -> Option<ParsedFloat<'_>> {
    let b = text.as_bytes();
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    let mut i = 0;
    let mut start = 0;
    let mut negative = false;
    let mut special = None;
    if !(at(0).is_ascii_digit() || at(0) == b'.') {
        while is_space(at(i)) {
            i += 1;
        }
        start = i;
        if at(i) == b'-' || at(i) == b'+' {
            negative = at(i) == b'-';
            i += 1;
        }
        if !(at(i).is_ascii_digit() || at(i) == b'.') {
            let word = [at(i), at(i + 1), at(i + 2)].map(|c| c.to_ascii_lowercase());
            special = Some(match &word {
                b"inf" if negative => f64::NEG_INFINITY,
                b"inf" => f64::INFINITY,
                b"ind" | b"nan" => f64::NAN,
                _ => return None,
            });
            i += 3;
        }
    }
    let (mut int, mut frac, mut exponent) = ("", "", false);
    if special.is_none() {
        let int_start = i;
        while at(i).is_ascii_digit() {
            i += 1;
        }
        int = &text[int_start..i];
        if at(i) == b'.' {
            i += 1;
        }
        let frac_start = i;
        while at(i).is_ascii_digit() {
            i += 1;
        }
        frac = &text[frac_start..i];
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        if at(i) == b'e' || at(i) == b'E' {
            exponent = true;
            i += 1;
            if at(i) == b'-' || at(i) == b'+' {
                i += 1;
            }
            let exp_start = i;
            while at(i).is_ascii_digit() {
                i += 1;
            }
            if !(1..=4).contains(&(i - exp_start)) {
                return None;
            }
        }
    }
    let meat = &text[start..i];
    while is_space(at(i)) {
        i += 1;
    }
    if strict && i < b.len() {
        return None;
    }
    Some(ParsedFloat {
        special,
        negative,
        int,
        frac,
        exponent,
        meat,
    })
}

/// TinyMUX's `mux_atof`: the whole text must be a number (spaces around it allowed),
/// else 0; `Inf`, `-Inf`, `Ind` and `NaN` are their values.
pub fn to_f64(text: &str) -> f64 {
    let Some(p) = parse_float(text, true) else {
        return 0.0;
    };
    if let Some(special) = p.special {
        return special;
    }
    if p.int.len() <= 9 && p.frac.len() <= 9 && !p.exponent {
        // TinyMUX's shortcut for short fixed-point numbers, with its residual correction.
        let whole = to_i64(p.int) as f64;
        let mut value = whole;
        if !p.frac.is_empty() {
            let part = to_i64(p.frac) as f64;
            let scale = 10f64.powi(p.frac.len() as i32);
            value = whole + part / scale;
            let residual = (value - whole) * scale;
            value += (part - residual) / scale;
        }
        return if p.negative { -value } else { value };
    }
    // TinyMUX hands at most 100 characters to strtod, which reads the longest number.
    let mut meat = &p.meat[..p.meat.len().min(100)];
    loop {
        if let Ok(value) = meat.parse::<f64>() {
            return value;
        }
        match meat.char_indices().next_back() {
            Some((i, _)) => meat = &meat[..i],
            None => return 0.0,
        }
    }
}

/// TinyMUX's `mux_atol`/`mux_atoi64`: leading spaces, sign, digits; anything else ends
/// it; no digits is 0; overflow wraps.
pub fn to_i64(text: &str) -> i64 {
    let b = text.as_bytes();
    let mut i = 0;
    let mut negative = false;
    if !b.first().is_some_and(u8::is_ascii_digit) {
        while b.get(i).is_some_and(|&c| is_space(c)) {
            i += 1;
        }
        if let Some(&sign @ (b'-' | b'+')) = b.get(i) {
            negative = sign == b'-';
            i += 1;
        }
    }
    let mut value: i64 = 0;
    while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
        value = value.wrapping_mul(10).wrapping_add(i64::from(c - b'0'));
        i += 1;
    }
    if negative {
        value.wrapping_neg()
    } else {
        value
    }
}

/// TinyMUX's `is_integer`: spaces, optional sign, digits, spaces; the number of digits.
pub fn integer_digits(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    let mut i = 0;
    while b.get(i).is_some_and(|&c| is_space(c)) {
        i += 1;
    }
    if matches!(b.get(i), Some(b'-' | b'+')) {
        i += 1;
    }
    let start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let digits = i - start;
    while b.get(i).is_some_and(|&c| is_space(c)) {
        i += 1;
    }
    (digits > 0 && i == b.len()).then_some(digits)
}

/// True for TinyMUX's integers: spaces, optional sign, digits, spaces.
pub fn is_integer(text: &str) -> bool {
    integer_digits(text).is_some()
}

/// True for TinyMUX's numbers (`isnum()`): what `mux_atof` reads whole, including `Inf`,
/// `Ind` and `NaN`.
pub fn is_number(text: &str) -> bool {
    parse_float(text, true).is_some()
}

/// The shortest digits that read back as `value` (finite, non-zero), without leading or
/// trailing zeros, and where the decimal point goes: `0.25` is `("25", 0)`.
fn shortest_digits(value: f64) -> (String, i32) {
    let text = format!("{:e}", value.abs());
    let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    (digits, exp.parse::<i32>().unwrap_or(0) + 1)
}

/// TinyMUX's `mux_ftoa` layout of decimal digits: `decpt` is where the point goes;
/// points far out use `E` notation. `rounded` pads to that many places, as `round()` does.
fn layout_digits(negative: bool, digits: &str, decpt: i32, rounded: Option<i32>) -> String {
    let places = rounded.unwrap_or(0);
    let pad = |out: &mut String, n: i32| {
        for _ in 0..n.max(0) {
            out.push('0');
        }
    };
    let mut out = String::new();
    let digits = &digits[..digits.len().min(50)];
    if digits.is_empty() {
        out.push('0');
        if places > 0 {
            out.push('.');
            pad(&mut out, places);
        }
        return out;
    }
    if negative {
        out.push('-');
    }
    let size = digits.len() as i32;
    if decpt <= -6 || decpt >= 18 {
        out.push_str(&digits[..1]);
        if size > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('E');
        out.push_str(&(decpt - 1).to_string());
    } else if decpt <= 0 {
        out.push_str("0.");
        pad(&mut out, -decpt);
        out.push_str(digits);
        if rounded.is_some() {
            pad(&mut out, places - (size - decpt));
        }
    } else if size <= decpt {
        out.push_str(digits);
        pad(&mut out, decpt - size);
        if places > 0 {
            out.push('.');
            pad(&mut out, places);
        }
    } else {
        let (whole, frac) = digits.split_at(decpt as usize);
        out.push_str(whole);
        out.push('.');
        out.push_str(frac);
        if rounded.is_some() {
            pad(&mut out, places - (size - decpt));
        }
    }
    out
}

/// `value` rounded to `places` decimal places (negative: to tens, hundreds...) with ties
/// to even, laid out as TinyMUX's `round()` does (`mux_ftoa` in its rounding mode).
fn fmt_rounded(value: f64, places: i32) -> String {
    // Every double has an exact decimal expansion of at most 1074 places.
    let exact = format!("{:.1100}", value.abs());
    let (whole, frac) = exact.split_once('.').unwrap_or((&exact, ""));
    let whole = whole.trim_start_matches('0');
    let all: Vec<u8> = whole.bytes().chain(frac.bytes()).collect();
    let mut decpt = whole.len() as i32;
    let keep = decpt + places;
    let mut kept: Vec<u8> = Vec::new();
    if keep >= 0 {
        let keep = keep as usize;
        kept = all[..keep.min(all.len())].to_vec();
        let rest = all.get(keep..).unwrap_or(&[]);
        let first = rest.first().copied().unwrap_or(b'0');
        let beyond = rest.iter().skip(1).any(|&c| c != b'0');
        let last_odd = kept.last().is_some_and(|&c| (c - b'0') % 2 == 1);
        if first > b'5' || (first == b'5' && (beyond || last_odd)) {
            let mut i = kept.len();
            loop {
                if i == 0 {
                    kept.insert(0, b'1');
                    decpt += 1;
                    break;
                }
                i -= 1;
                if kept[i] == b'9' {
                    kept[i] = b'0';
                } else {
                    kept[i] += 1;
                    break;
                }
            }
        }
    }
    while kept.first() == Some(&b'0') {
        kept.remove(0);
        decpt -= 1;
    }
    while kept.last() == Some(&b'0') {
        kept.pop();
    }
    let digits = String::from_utf8(kept).unwrap_or_default();
    layout_digits(value < 0.0, &digits, decpt, Some(places))
}

/// TinyMUX's `round()` of a number: infinities and NaN by name, else [`fmt_rounded`]
/// with the places limited to -20..=50.
pub(crate) fn round_to(value: f64, places: i64) -> String {
    if !value.is_finite() {
        return fmt_f64(value);
    }
    let value = if value.is_normal() { value } else { 0.0 };
    fmt_rounded(value, places.clamp(-20, 50) as i32)
}

/// Formats a float as TinyMUX's `fval` does: `+Inf`, `-Inf`, `Ind` (NaN); zero and
/// denormals as `0`; whole numbers in the 64-bit range as integers (2^63 wraps to
/// -2^63, as the C cast does); others in their shortest exact form, `E` notation when the
/// point is far out.
pub fn fmt_f64(value: f64) -> String {
    if value.is_nan() {
        return "Ind".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if !value.is_normal() {
        return "0".into();
    }
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if value.fract() == 0.0 && (-TWO_63..=TWO_63).contains(&value) {
        let whole = if value == TWO_63 {
            i64::MIN
        } else {
            value as i64
        };
        return whole.to_string();
    }
    let (digits, decpt) = shortest_digits(value);
    layout_digits(value < 0.0, &digits, decpt, None)
}

/// dtoa's `ulp`: the gap between `value` and the next double away from zero.
fn ulp(value: f64) -> f64 {
    let exponent = ((value.to_bits() >> 52) & 0x7ff) as i32;
    if exponent > 52 {
        f64::from_bits(((exponent - 52) as u64) << 52)
    } else {
        // 2^(exponent - 1075), at least the smallest denormal.
        f64::from_bits(1u64 << (exponent - 1).max(0))
    }
}

/// TinyMUX's `NearestPretty`: of `value` and its neighbours one ulp away, the one with
/// the fewest digits (so 0.1 + 0.2 prints 0.3).
pub(crate) fn nearest_pretty(value: f64) -> f64 {
    if !value.is_finite() || value == 0.0 {
        return value;
    }
    let count = |v: f64| {
        if v.is_finite() && v != 0.0 {
            shortest_digits(v).0.len()
        } else {
            usize::MAX
        }
    };
    let step = ulp(value);
    let mut best = value;
    let mut best_len = count(value);
    for candidate in [value - step, value + step] {
        let len = count(candidate);
        if len < best_len {
            best = candidate;
            best_len = len;
        }
    }
    best
}

/// TinyMUX's `AddDoubles`: largest magnitude first, Priest's doubly compensated sum,
/// then [`nearest_pretty`].
pub(crate) fn add_doubles(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| b.abs().total_cmp(&a.abs()));
    let with_error = |a: f64, b: f64| {
        let sum = a + b;
        (sum, b - (sum - a))
    };
    let mut sum = values.first().copied().unwrap_or(0.0);
    let mut sum_err = 0.0;
    for &v in values.iter().skip(1) {
        let (addend, addend_err) = with_error(sum_err, v);
        let (sum1, sum1_err) = with_error(sum, addend);
        (sum, sum_err) = with_error(sum1, addend_err + sum1_err);
    }
    nearest_pretty(sum)
}

/// A boolean as softcode writes it.
pub fn bool_str(b: bool) -> &'static str {
    if b { "1" } else { "0" }
}

/// TinyMUX's truth (`xlate()`): `#-...` is false and any other `#...` true; a number is
/// true when it has a non-zero digit (`Inf`, `Ind`, `NaN` are false); other text is true
/// unless it is empty or spaces.
pub fn truthy(text: &str) -> bool {
    if let Some(rest) = text.strip_prefix('#') {
        return !rest.starts_with('-');
    }
    if let Some(p) = parse_float(text, true) {
        return p.special.is_none() && p.int.bytes().chain(p.frac.bytes()).any(|c| c != b'0');
    }
    text.bytes().any(|c| !is_space(c))
}

// ---- lists ---------------------------------------------------------------------------

/// TinyMUX's `MAX_SEP_LEN`.
const MAX_SEP: usize = 50;

/// `delim_check` on one separator's text: empty is a space, `@@` is nothing where
/// `null` allows it, anything up to 50 bytes is itself; longer is an error (written).
pub(crate) fn parse_sep(text: &str, null: bool, out: &mut String) -> Option<String> {
    if text.is_empty() {
        Some(" ".into())
    } else if null && text == "@@" {
        Some(String::new())
    } else if text.len() <= MAX_SEP {
        Some(text.into())
    } else {
        crate::eval::push(out, "#-1 SEPARATOR IS TOO LARGE");
        None
    }
}

/// The input separator at `args[i]` (a space when absent).
pub(crate) fn isep(args: &[String], i: usize, out: &mut String) -> Option<String> {
    match args.get(i) {
        Some(text) => parse_sep(text, false, out),
        None => Some(" ".into()),
    }
}

/// The output separator at `args[i]`: the input separator when absent, `@@` for nothing.
pub(crate) fn osep(args: &[String], i: usize, input: &str, out: &mut String) -> Option<String> {
    match args.get(i) {
        Some(text) => parse_sep(text, true, out),
        None => Some(input.into()),
    }
}

// ---- splitting -----------------------------------------------------------------------

/// `trim_space_sep`: with a space separator, leading and trailing spaces go.
pub(crate) fn trim_sep<'a>(text: &'a str, sep: &str) -> &'a str {
    if sep == " " {
        text.trim_matches(' ')
    } else {
        text
    }
}

/// `split_token` as a cursor: each call takes the text up to the next separator; a space
/// separator also swallows the spaces after it. `None` once the text is used up.
pub(crate) struct Cursor<'a> {
    pub(crate) rest: Option<&'a str>,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Self { rest: Some(text) }
    }

    pub(crate) fn token(&mut self, sep: &str) -> Option<&'a str> {
        let s = self.rest?;
        if sep.is_empty() {
            self.rest = None;
            return Some(s);
        }
        match s.find(sep) {
            Some(i) => {
                let mut rest = &s[i + sep.len()..];
                if sep == " " {
                    rest = rest.trim_start_matches(' ');
                }
                self.rest = Some(rest);
                Some(&s[..i])
            }
            None => {
                self.rest = None;
                Some(s)
            }
        }
    }

    pub(crate) fn more(&self) -> bool {
        self.rest.is_some()
    }

    /// True while text remains that is not empty (`cp && *cp`).
    pub(crate) fn more_text(&self) -> bool {
        self.rest.is_some_and(|r| !r.is_empty())
    }
}

/// `list2arr`: the items of a list; an empty (or all-space) list has none.
pub(crate) fn items<'a>(text: &'a str, sep: &str) -> Vec<&'a str> {
    let text = trim_sep(text, sep);
    if text.is_empty() {
        return Vec::new();
    }
    let mut cur = Cursor::new(text);
    let mut out = Vec::new();
    while let Some(t) = cur.token(sep) {
        out.push(t);
    }
    out
}

/// Joins words with a separator into a bounded buffer.
pub fn join_into(out: &mut String, items: impl IntoIterator<Item = impl AsRef<str>>, sep: &str) {
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            crate::eval::push(out, sep);
        }
        crate::eval::push(out, item.as_ref());
        if out.len() >= crate::eval::LBUF {
            break;
        }
    }
}
