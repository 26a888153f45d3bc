//! The built-in functions: one module per family, each with a table naming its functions;
//! this module joins the tables and holds what the families share (numbers, lists,
//! delimiters).

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::eval::{Eval, Frame, R};

pub mod lists;
pub mod logic;
pub mod math;
pub mod objects;
pub mod registers;
pub mod strings;
pub mod time;

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
        let families: [&'static [Func]; 7] = [
            math::FUNCS,
            logic::FUNCS,
            strings::FUNCS,
            lists::FUNCS,
            registers::FUNCS,
            objects::FUNCS,
            time::FUNCS,
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

/// Every built-in function's name, sorted.
pub fn names() -> Vec<&'static str> {
    let mut names: Vec<_> = table().keys().copied().collect();
    names.sort_unstable();
    names
}

// ---- numbers -------------------------------------------------------------------------

/// TinyMUX's `mux_atof`: leading spaces, sign, digits, fraction, exponent; anything
/// else ends the number; no number is 0.
pub fn to_f64(text: &str) -> f64 {
    let t = text.trim_start();
    let bytes = t.as_bytes();
    let mut end = 0;
    if end < bytes.len() && (bytes[end] == b'-' || bytes[end] == b'+') {
        end += 1;
    }
    let digits_start = end;
    while end < bytes.len() && bytes[end].is_ascii_digit() {
        end += 1;
    }
    if end < bytes.len() && bytes[end] == b'.' {
        end += 1;
        while end < bytes.len() && bytes[end].is_ascii_digit() {
            end += 1;
        }
    }
    if end == digits_start {
        return 0.0;
    }
    if end < bytes.len() && (bytes[end] == b'e' || bytes[end] == b'E') {
        let mut e = end + 1;
        if e < bytes.len() && (bytes[e] == b'-' || bytes[e] == b'+') {
            e += 1;
        }
        let exp_digits = e;
        while e < bytes.len() && bytes[e].is_ascii_digit() {
            e += 1;
        }
        if e > exp_digits {
            end = e;
        }
    }
    t[..end].parse().unwrap_or(0.0)
}

/// TinyMUX's `mux_atol`: leading spaces, sign, digits; anything else ends it.
pub fn to_i64(text: &str) -> i64 {
    let t = text.trim_start();
    let bytes = t.as_bytes();
    let mut i = 0;
    let negative = match bytes.first() {
        Some(b'-') => {
            i = 1;
            true
        }
        Some(b'+') => {
            i = 1;
            false
        }
        _ => false,
    };
    let mut value: i64 = 0;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        value = value
            .saturating_mul(10)
            .saturating_add(i64::from(bytes[i] - b'0'));
        i += 1;
    }
    if negative { -value } else { value }
}

/// True for TinyMUX's integers: optional spaces, optional sign, digits, optional spaces.
pub fn is_integer(text: &str) -> bool {
    let t = text.trim();
    let t = t.strip_prefix(['-', '+']).unwrap_or(t);
    !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())
}

/// True for TinyMUX's numbers (`isnum()`).
pub fn is_number(text: &str) -> bool {
    let t = text.trim();
    let t = t.strip_prefix(['-', '+']).unwrap_or(t);
    if t.is_empty() {
        return false;
    }
    let (int, frac) = match t.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (t, None),
    };
    let (frac, exp) = match frac {
        Some(f) => match f.split_once(['e', 'E']) {
            Some((f, e)) => (Some(f), Some(e)),
            None => (Some(f), None),
        },
        None => (None, None),
    };
    let (int, exp) = match (exp, int.split_once(['e', 'E'])) {
        (None, Some((i, e))) if frac.is_none() => (i, Some(e)),
        _ => (int, exp),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let has_digits = !int.is_empty() || frac.is_some_and(|f| !f.is_empty());
    if !has_digits || !digits(int) || !frac.is_none_or(digits) {
        return false;
    }
    match exp {
        None => true,
        Some(e) => {
            let e = e.strip_prefix(['-', '+']).unwrap_or(e);
            !e.is_empty() && digits(e)
        }
    }
}

/// Formats a float as TinyMUX's `fval` does: whole numbers as integers, others in their
/// shortest exact form.
pub fn fmt_f64(value: f64) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if value.fract() == 0.0 && value >= i64::MIN as f64 && value < 9_223_372_036_854_775_808.0 {
        return (value as i64).to_string();
    }
    let text = format!("{value}");
    if text.len() > 24 {
        let e = format!("{value:e}");
        return e.replace("e", "E+").replace("E+-", "E-");
    }
    text
}

/// A boolean as softcode writes it.
pub fn bool_str(b: bool) -> &'static str {
    if b { "1" } else { "0" }
}

/// TinyMUX's truth (`t()`): empty, `0`, `#-1`..., and spaces are false.
pub fn truthy(text: &str) -> bool {
    let t = text.trim();
    if t.is_empty() {
        return false;
    }
    if let Some(rest) = t.strip_prefix("#-") {
        let _ = rest;
        return false;
    }
    if is_number(t) {
        return to_f64(t) != 0.0;
    }
    true
}

// ---- lists ---------------------------------------------------------------------------

/// A list delimiter: a space means runs of spaces, anything else is exact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delim(pub String);

impl Delim {
    /// The default, a space.
    pub fn space() -> Self {
        Delim(" ".into())
    }

    /// True when this is the default space delimiter.
    pub fn is_space(&self) -> bool {
        self.0 == " "
    }
}

/// The delimiter at `args[i]`, a space when absent or empty.
pub fn delim(args: &[String], i: usize) -> Delim {
    match args.get(i) {
        Some(d) if !d.is_empty() => Delim(d.clone()),
        _ => Delim::space(),
    }
}

/// The output separator at `args[i]`: absent means the input delimiter; present and empty
/// means nothing; `@@` means nothing too.
pub fn osep(args: &[String], i: usize, input: &Delim) -> String {
    match args.get(i) {
        Some(s) if s == "@@" => String::new(),
        Some(s) => s.clone(),
        None => input.0.clone(),
    }
}

/// Splits a list: with a space delimiter, runs of spaces separate and leading or trailing
/// spaces are ignored; with another delimiter, every occurrence separates.
pub fn words<'a>(text: &'a str, delim: &Delim) -> Vec<&'a str> {
    if delim.is_space() {
        text.split(' ').filter(|w| !w.is_empty()).collect()
    } else if text.is_empty() {
        Vec::new()
    } else {
        text.split(delim.0.as_str()).collect()
    }
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
