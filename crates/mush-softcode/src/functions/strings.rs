//! Strings: length, case, slicing, padding, editing, colour.

use super::{Func, bool_str, f, is_integer, joined, lazy, to_i64};
use crate::eval::{Eval, Frame, LBUF, R, ev, push, push_char};
use crate::wild;

/// The string family.
pub const FUNCS: &[Func] = &[
    f("STRLEN", 0, 1, strlen),
    f("UCSTR", 1, 1, ucstr),
    f("LCSTR", 1, 1, lcstr),
    f("CAPSTR", 1, 1, capstr),
    f("MID", 3, 3, mid),
    // An alias of STRTRUNC, whose name its errors carry.
    f("LEFT", 0, 2, left_alias),
    f("RIGHT", 2, 2, right),
    f("POS", 2, 2, pos),
    f("LPOS", 2, 2, lpos),
    f("DELETE", 3, 3, delete),
    f("REPEAT", 2, 2, repeat),
    f("REVERSE", 1, 1, reverse),
    f("LJUST", 2, 3, ljust),
    f("RJUST", 2, 3, rjust),
    f("CENTER", 2, 3, center),
    f("LPAD", 2, 3, lpad),
    f("RPAD", 2, 3, rpad),
    f("CPAD", 2, 3, cpad),
    super::strict("SPACE", 0, 1, space),
    f("TRIM", 1, 3, trim),
    f("SQUISH", 0, 2, squish),
    f("EDIT", 3, 100, edit),
    f("BEFORE", 1, 2, before),
    f("AFTER", 1, 2, after),
    f("STRMATCH", 2, 2, strmatch),
    f("STRCAT", 0, 30, strcat),
    joined("CAT", 0, 30, cat),
    f("ESCAPE", 1, 1, escape),
    f("SECURE", 1, 1, secure),
    f("ANSI", 2, 100, ansi),
    f("STRIPANSI", 1, 1, stripansi),
    f("ALPHAMAX", 1, 100, alphamax),
    f("ALPHAMIN", 1, 100, alphamin),
    f("ART", 1, 1, art),
    lazy("LIT", 1, 1, lit),
    f("CHR", 1, 1, chr),
    f("ORD", 1, 1, ord),
    f("STRTRUNC", 2, 2, left),
    f("ISALPHA", 1, 1, isalpha),
    f("ISDIGIT", 1, 1, isdigit),
    f("ISSPACE", 1, 1, isspace),
    f("ISWORD", 1, 1, isword),
    f("WRAP", 1, 8, wrap),
    f("COLUMNS", 2, 4, columns),
    f("STRMEM", 0, 1, strmem),
    f("SCRAMBLE", 1, 1, scramble),
    f("TRANSLATE", 2, 2, translate),
    f("TR", 1, 3, tr),
    f("ENCRYPT", 2, 2, encrypt),
    f("DECRYPT", 2, 2, decrypt),
    f("CRC32", 0, 100, crc32),
    f("SHA1", 0, 1, sha1),
    f("DIGEST", 1, 2, digest),
    f("STRIP", 1, 2, strip_fn),
    f("BEEP", 0, 0, beep),
    f("SUBEVAL", 1, 1, subeval),
];

type Args<'a> = &'a [String];
type Out<'a> = &'a mut String;

/// The escape sequence for a `%x`/`ansi()` colour letter.
pub fn ansi_code(c: char) -> Option<&'static str> {
    Some(match c {
        'n' => "\x1b[0m",
        'h' => "\x1b[1m",
        'u' => "\x1b[4m",
        'f' => "\x1b[5m",
        'i' => "\x1b[7m",
        'x' => "\x1b[30m",
        'r' => "\x1b[31m",
        'g' => "\x1b[32m",
        'y' => "\x1b[33m",
        'b' => "\x1b[34m",
        'm' => "\x1b[35m",
        'c' => "\x1b[36m",
        'w' => "\x1b[37m",
        'X' => "\x1b[40m",
        'R' => "\x1b[41m",
        'G' => "\x1b[42m",
        'Y' => "\x1b[43m",
        'B' => "\x1b[44m",
        'M' => "\x1b[45m",
        'C' => "\x1b[46m",
        'W' => "\x1b[47m",
        _ => return None,
    })
}

/// Text without ANSI escape sequences.
pub fn strip(text: &str) -> String {
    if !text.contains('\x1b') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for n in chars.by_ref() {
                if n.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn chars(text: &str) -> Vec<char> {
    strip(text).chars().collect()
}

/// A colour state: attributes and colours (`None`: the terminal's default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Style {
    bold: bool,
    under: bool,
    blink: bool,
    inverse: bool,
    fg: Option<u8>,
    bg: Option<u8>,
}

impl Style {
    /// Applies one SGR parameter.
    fn apply(&mut self, code: u32) {
        match code {
            0 => *self = Style::default(),
            1 => self.bold = true,
            4 => self.under = true,
            5 => self.blink = true,
            7 => self.inverse = true,
            30..=37 => self.fg = Some((code - 30) as u8),
            39 => self.fg = None,
            40..=47 => self.bg = Some((code - 40) as u8),
            49 => self.bg = None,
            _ => {}
        }
    }

    /// True when going from `self` to `to` turns something off.
    fn loses(&self, to: &Style) -> bool {
        (self.bold && !to.bold)
            || (self.under && !to.under)
            || (self.blink && !to.blink)
            || (self.inverse && !to.inverse)
            || (self.fg.is_some() && to.fg.is_none())
            || (self.bg.is_some() && to.bg.is_none())
    }

    /// The escapes that turn on what `to` has and `self` lacks, in TinyMUX's order.
    fn gains(&self, to: &Style, out: &mut String) {
        let flags = [
            (self.bold, to.bold, 1),
            (self.under, to.under, 4),
            (self.blink, to.blink, 5),
            (self.inverse, to.inverse, 7),
        ];
        for (from, want, code) in flags {
            if want && !from {
                out.push_str(&format!("\x1b[{code}m"));
            }
        }
        if let Some(c) = to.fg.filter(|c| self.fg != Some(*c)) {
            out.push_str(&format!("\x1b[{}m", 30 + u32::from(c)));
        }
        if let Some(c) = to.bg.filter(|c| self.bg != Some(*c)) {
            out.push_str(&format!("\x1b[{}m", 40 + u32::from(c)));
        }
    }
}

/// Text as characters, each with its colour.
pub type Cells = Vec<(char, Style)>;

/// Splits text with ANSI escapes into coloured characters.
pub fn cells(text: &str) -> Cells {
    let mut out = Vec::with_capacity(text.len());
    let mut style = Style::default();
    let mut it = text.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\x1b' {
            out.push((c, style));
            continue;
        }
        if it.peek() != Some(&'[') {
            continue;
        }
        it.next();
        let mut params = String::new();
        for n in it.by_ref() {
            if n.is_ascii_alphabetic() {
                if n == 'm' {
                    if params.is_empty() {
                        style.apply(0);
                    }
                    for p in params.split(';') {
                        if let Ok(code) = p.parse::<u32>() {
                            style.apply(code);
                        }
                    }
                }
                break;
            }
            params.push(n);
        }
    }
    out
}

/// Writes coloured characters back as text with the fewest escapes, ending plain.
pub fn render(cells: &[(char, Style)]) -> String {
    let mut out = String::with_capacity(cells.len());
    let mut cur = Style::default();
    for (c, style) in cells {
        if *style != cur {
            if cur.loses(style) {
                out.push_str("\x1b[0m");
                cur = Style::default();
            }
            cur.gains(style, &mut out);
            cur = *style;
        }
        out.push(*c);
    }
    if cur != Style::default() {
        out.push_str("\x1b[0m");
    }
    out
}

/// Text with its colour escapes put in TinyMUX's minimal form.
pub fn normalize_ansi(text: &str) -> String {
    if text.contains('\x1b') {
        render(&cells(text))
    } else {
        text.to_string()
    }
}

fn strlen(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let n = args.first().map(|a| strip(a).chars().count()).unwrap_or(0);
    push(out, &n.to_string());
    Ok(())
}

/// Changes each character's case, keeping colours.
fn recase(text: &str, upper: bool) -> String {
    let mut out: Cells = Vec::with_capacity(text.len());
    for (c, style) in cells(text) {
        if upper {
            out.extend(c.to_uppercase().map(|u| (u, style)));
        } else {
            out.extend(c.to_lowercase().map(|l| (l, style)));
        }
    }
    render(&out)
}

fn ucstr(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, &recase(&args[0], true));
    Ok(())
}

fn lcstr(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, &recase(&args[0], false));
    Ok(())
}

fn capstr(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let mut c = cells(&args[0]);
    if let Some((first, style)) = c.first().copied() {
        let up: Cells = first.to_uppercase().map(|u| (u, style)).collect();
        c.splice(0..1, up);
    }
    push(out, &render(&c));
    Ok(())
}

fn slice(text: &str, start: usize, len: usize) -> String {
    let c = cells(text);
    let start = start.min(c.len());
    let end = start.saturating_add(len).min(c.len());
    render(&c[start..end])
}

/// A negative length counts back from the start; a negative start clips the range.
fn range(start: i64, len: i64) -> Option<(usize, usize)> {
    let (mut start, mut len) = (start, len);
    if len < 0 {
        start = start.saturating_add(1).saturating_add(len);
        len = len.saturating_neg();
    }
    if start < 0 {
        len = len.saturating_add(start);
        start = 0;
    }
    if len <= 0 || start > LBUF as i64 {
        return None;
    }
    Some((start as usize, len as usize))
}

fn mid(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    if let Some((start, len)) = range(to_i64(&args[1]), to_i64(&args[2])) {
        push(out, &slice(&args[0], start, len));
    }
    Ok(())
}

fn left_alias(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    if args.len() != 2 {
        push(out, "#-1 FUNCTION (STRTRUNC) EXPECTS 2 ARGUMENTS");
        return Ok(());
    }
    left(ev, frame, args, out)
}

fn left(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let len = to_i64(&args[1]);
    if len < 0 {
        push(out, "#-1 OUT OF RANGE");
        return Ok(());
    }
    push(out, &slice(&args[0], 0, len as usize));
    Ok(())
}

fn right(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let len = to_i64(&args[1]);
    if len < 0 {
        push(out, "#-1 OUT OF RANGE");
        return Ok(());
    }
    let c = cells(&args[0]);
    let skip = c.len().saturating_sub(len as usize);
    push(out, &render(&c[skip..]));
    Ok(())
}

fn find(hay: &[char], needle: &[char]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

fn pos(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let needle = chars(&args[0]);
    let hay = chars(&args[1]);
    match find(&hay, &needle) {
        Some(i) => push(out, &(i + 1).to_string()),
        None => push(out, "#-1"),
    }
    Ok(())
}

fn lpos(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let c = args[1].chars().next().unwrap_or(' ');
    let hits: Vec<String> = chars(&args[0])
        .iter()
        .enumerate()
        .filter(|(_, x)| **x == c)
        .map(|(i, _)| i.to_string())
        .collect();
    push(out, &hits.join(" "));
    Ok(())
}

fn delete(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Some((start, len)) = range(to_i64(&args[1]), to_i64(&args[2])) else {
        push(out, &args[0]);
        return Ok(());
    };
    let mut c = cells(&args[0]);
    let start = start.min(c.len());
    let end = start.saturating_add(len).min(c.len());
    c.drain(start..end);
    push(out, &render(&c));
    Ok(())
}

fn repeat(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    // TinyMUX reads the count into a C int: 2147483648 wraps negative and repeats nothing.
    let n = i64::from(to_i64(&args[1]) as i32);
    if args[0].is_empty() || n <= 0 {
        return Ok(());
    }
    // Longer than a buffer: one character fills the buffer, anything longer is an error.
    let visible = strip(&args[0]).chars().count() as i64;
    if visible > 1 && visible.saturating_mul(n) > LBUF as i64 {
        push(out, "#-1 STRING TOO LONG");
        return Ok(());
    }
    // Bounded by the output buffer: never builds more than fits.
    let fits = (LBUF / args[0].len()).saturating_add(1) as i64;
    if !args[0].contains('\x1b') {
        for _ in 0..n.min(fits) {
            push(out, &args[0]);
        }
        return Ok(());
    }
    let one = cells(&args[0]);
    let mut all = Vec::new();
    for _ in 0..n.min(fits) {
        all.extend_from_slice(&one);
    }
    push(out, &render(&all));
    Ok(())
}

fn reverse(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let mut c = cells(&args[0]);
    c.reverse();
    push(out, &render(&c));
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Just {
    Left,
    Right,
    Center,
}

/// TinyMUX's `centerjustcombo`: pads to a width with a fill pattern aligned to the
/// column; the `*just()` forms also cut text longer than the width.
fn justify(args: Args<'_>, how: Just, cut: bool, out: Out<'_>) {
    if !is_integer(&args[1]) {
        return;
    }
    // TinyMUX keeps the width in 16 unsigned bits: a negative width is huge.
    let width = to_i64(&args[1]).rem_euclid(65_536) as usize;
    if width == 0 {
        return;
    }
    if width > LBUF {
        push(out, "#-1 OUT OF RANGE");
        return;
    }
    let text = cells(&args[0]);
    if width <= text.len() {
        push(out, &render(if cut { &text[..width] } else { &text }));
        return;
    }
    let mut fillc: Cells = match args.get(2) {
        Some(f) if !f.is_empty() => cells(f)
            .into_iter()
            .filter(|(c, _)| !matches!(c, '\r' | '\n' | '\t'))
            .collect(),
        _ => Vec::new(),
    };
    if fillc.is_empty() {
        fillc.push((' ', Style::default()));
    }
    let lead = match how {
        Just::Left => 0,
        Just::Right => width - text.len(),
        Just::Center => (width - text.len()) / 2,
    };
    let mut all: Cells = Vec::with_capacity(width);
    for i in 0..lead {
        all.push(fillc[i % fillc.len()]);
    }
    all.extend_from_slice(&text);
    for i in lead + text.len()..width {
        all.push(fillc[i % fillc.len()]);
    }
    push(out, &render(&all));
}

fn ljust(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    justify(args, Just::Left, true, out);
    Ok(())
}

fn rjust(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    justify(args, Just::Right, true, out);
    Ok(())
}

fn center(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    justify(args, Just::Center, true, out);
    Ok(())
}

fn lpad(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    justify(args, Just::Left, false, out);
    Ok(())
}

fn rpad(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    justify(args, Just::Right, false, out);
    Ok(())
}

fn cpad(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    justify(args, Just::Center, false, out);
    Ok(())
}

fn space(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let n = match args.first() {
        None => 1,
        Some(a) if !is_integer(a) => 1,
        Some(a) => to_i64(a),
    };
    if n > 0 {
        push(out, &" ".repeat((n as usize).min(LBUF)));
    }
    Ok(())
}

/// `trim(text[, style[, chars]])`: the style (`l`, `r`, anything else both) comes before
/// the string to take off, which is removed whole and repeatedly.
fn trim(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let pat = match args.get(2) {
        Some(c) if !c.is_empty() => c.as_str(),
        _ => " ",
    };
    let how = args.get(1).and_then(|h| h.chars().next()).unwrap_or('b');
    let (left, right) = match how {
        'l' | 'L' => (true, false),
        'r' | 'R' => (false, true),
        _ => (true, true),
    };
    let mut text = args[0].as_str();
    if left {
        while let Some(rest) = text.strip_prefix(pat) {
            text = rest;
        }
    }
    if right {
        while let Some(rest) = text.strip_suffix(pat) {
            text = rest;
        }
    }
    push(out, text);
    Ok(())
}

fn squish(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    if args.is_empty() {
        return Ok(());
    }
    let c = match args.get(1) {
        Some(c) if !c.is_empty() => c.chars().next().unwrap_or(' '),
        _ => ' ',
    };
    let mut prev = false;
    let mut s = String::new();
    for ch in args[0].trim_matches(c).chars() {
        if ch == c {
            if !prev {
                s.push(ch);
            }
            prev = true;
        } else {
            prev = false;
            s.push(ch);
        }
    }
    push(out, &s);
    Ok(())
}

fn edit(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let mut text = args[0].clone();
    let mut i = 1;
    while i + 1 < args.len() {
        let (from, to) = (&args[i], &args[i + 1]);
        text = match from.as_str() {
            "^" => format!("{to}{text}"),
            "$" => format!("{text}{to}"),
            "" => text,
            _ => text.replace(from.as_str(), to),
        };
        if text.len() > LBUF {
            let mut cut = LBUF;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        i += 2;
    }
    push(out, &text);
    Ok(())
}

/// The text and pattern of `before()`/`after()`: no pattern is a space, and a space
/// pattern first trims the text; an empty pattern is never found.
fn split_pat(args: Args<'_>) -> (&str, &str) {
    let pat = args.get(1).map_or(" ", String::as_str);
    let text = if pat == " " {
        args[0].trim_matches(' ')
    } else {
        args[0].as_str()
    };
    (text, pat)
}

fn before(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let (text, pat) = split_pat(args);
    match text.find(pat).filter(|_| !pat.is_empty()) {
        Some(i) => push(out, &text[..i]),
        None => push(out, text),
    }
    Ok(())
}

fn after(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let (text, pat) = split_pat(args);
    if let Some(i) = text.find(pat).filter(|_| !pat.is_empty()) {
        push(out, &text[i + pat.len()..]);
    }
    Ok(())
}

fn strmatch(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, bool_str(wild::matches(&args[1], &args[0])));
    Ok(())
}

fn strcat(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    for a in args {
        push(out, a);
    }
    Ok(())
}

fn cat(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    super::join_into(out, args, " ");
    Ok(())
}

fn escape(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    for (i, c) in args[0].chars().enumerate() {
        if i == 0
            || matches!(
                c,
                '%' | '\\' | '[' | ']' | '{' | '}' | ';' | ',' | '(' | ')'
            )
        {
            push_char(out, '\\');
        }
        push_char(out, c);
    }
    Ok(())
}

fn secure(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    for c in args[0].chars() {
        let c = if matches!(
            c,
            '%' | '$' | '\\' | '[' | ']' | '{' | '}' | ';' | ',' | '(' | ')'
        ) {
            ' '
        } else {
            c
        };
        push_char(out, c);
    }
    Ok(())
}

/// The nearest of the eight basic colours to an RGB colour: `#rrggbb` or `r g b`.
fn rgb_code(spec: &str) -> Option<u8> {
    let spec = spec.trim();
    let (r, g, b) = if let Some(hex) = spec.strip_prefix('#') {
        if hex.len() != 6 || !hex.is_ascii() {
            return None;
        }
        let part = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
        (part(0)?, part(2)?, part(4)?)
    } else {
        let parts: Vec<u8> = spec
            .split_whitespace()
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?;
        let [r, g, b] = parts.as_slice() else {
            return None;
        };
        (*r, *g, *b)
    };
    let bit = |v: u8, n: u8| if v >= 128 { n } else { 0 };
    Some(bit(r, 1) | bit(g, 2) | bit(b, 4))
}

/// The escapes for an `ansi()` colour specification: letters and `<rgb>` colours
/// (`/<rgb>` for the background).
fn ansi_codes(spec: &str) -> String {
    let mut codes = String::new();
    let mut rest = spec;
    while let Some(c) = rest.chars().next() {
        let background = c == '/' && rest[1..].starts_with('<');
        let body = if background { &rest[1..] } else { rest };
        if body.starts_with('<')
            && let Some(end) = body.find('>')
        {
            if let Some(code) = rgb_code(&body[1..end]) {
                let base = if background { 40 } else { 30 };
                codes.push_str(&format!("\x1b[{}m", base + u32::from(code)));
            }
            rest = &body[end + 1..];
            continue;
        }
        if let Some(code) = ansi_code(c) {
            codes.push_str(code);
        }
        rest = &rest[c.len_utf8()..];
    }
    codes
}

/// `ansi(codes, text[, codes, text]...)`: coloured text, in its minimal form.
fn ansi(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let mut all = String::new();
    for pair in args.chunks(2) {
        let [spec, text] = pair else {
            break;
        };
        all.push_str(&ansi_codes(spec));
        all.push_str(text);
        all.push_str("\x1b[0m");
    }
    push(out, &normalize_ansi(&all));
    Ok(())
}

fn stripansi(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, &strip(&args[0]));
    Ok(())
}

fn alphamax(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    if let Some(m) = args.iter().max() {
        push(out, m);
    }
    Ok(())
}

fn alphamin(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    if let Some(m) = args.iter().min() {
        push(out, m);
    }
    Ok(())
}

/// The article for a word, by the default `article_rule`s of TinyMUX's configuration,
/// which are tried last rule first.
fn article(word: &str) -> &'static str {
    let w = word.to_lowercase();
    let b = w.as_bytes();
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    let vowel = |c: u8| matches!(c, b'a' | b'e' | b'i' | b'o' | b'u');
    let any = |list: &[&str]| list.iter().any(|p| w.starts_with(p));
    // an ^y[lt]
    if at(0) == b'y' && matches!(at(1), b'l' | b't') {
        return "an";
    }
    // a ^[aeiou][.-]
    if vowel(at(0)) && matches!(at(1), b'.' | b'-') {
        return "a";
    }
    // a ^onc?e[-\ ]?
    if w.starts_with("one") || w.starts_with("once") {
        return "a";
    }
    // a ^e[uw]
    if at(0) == b'e' && matches!(at(1), b'u' | b'w') {
        return "a";
    }
    // a ^u[bcfhjkqrst][aeiou]
    if at(0) == b'u' && b"bcfhjkqrst".contains(&at(1)) && vowel(at(2)) {
        return "a";
    }
    // a ^uni([acflopqtvx]|dim|dir|sex|son)
    if w.starts_with("uni")
        && (b"acflopqtvx".contains(&at(3)) || any(&["unidim", "unidir", "unisex", "unison"]))
    {
        return "a";
    }
    // a ^unanim(ous|ity)
    if any(&["unanimous", "unanimity"]) {
        return "a";
    }
    // an ^un, ^ho(mag|nest|no|ur), ^he(ir|rb), ^[aeiou]
    if w.starts_with("un")
        || any(&["homag", "honest", "hono", "hour", "heir", "herb"])
        || vowel(at(0))
    {
        return "an";
    }
    "a"
}

fn art(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, article(&strip(&args[0])));
    Ok(())
}

fn lit(ev: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    // Unevaluated, but TinyMUX's first pass still trims it, compresses runs of spaces and
    // takes out backslashes.
    let compress = ev.limits.space_compress;
    let mut chars = args[0].trim().chars();
    let mut after_space = false;
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                push_char(out, n);
            }
            after_space = false;
        } else if c == ' ' && after_space && compress {
            continue;
        } else {
            push_char(out, c);
            after_space = c == ' ';
        }
    }
    Ok(())
}

fn chr(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    if !is_integer(&args[0]) {
        push(out, "#-1 ARGUMENT MUST BE A NUMBER");
        return Ok(());
    }
    match u32::try_from(to_i64(&args[0]))
        .ok()
        .and_then(char::from_u32)
    {
        Some(c) if !c.is_control() => push_char(out, c),
        _ => push(out, "#-1 UNPRINTABLE CHARACTER"),
    }
    Ok(())
}

fn ord(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let c = chars(&args[0]);
    if c.len() == 1 {
        push(out, &(c[0] as u32).to_string());
    } else {
        push(out, "#-1 FUNCTION EXPECTS ONE CHARACTER");
    }
    Ok(())
}

fn all_chars(text: &str, test: fn(char) -> bool) -> bool {
    let s = strip(text);
    !s.is_empty() && s.chars().all(test)
}

fn isalpha(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, bool_str(all_chars(&args[0], char::is_alphabetic)));
    Ok(())
}

fn isdigit(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, bool_str(all_chars(&args[0], |c| c.is_ascii_digit())));
    Ok(())
}

fn isspace(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, bool_str(all_chars(&args[0], char::is_whitespace)));
    Ok(())
}

fn isword(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, bool_str(all_chars(&args[0], char::is_alphabetic)));
    Ok(())
}

/// `wrap(text[, width[, justify[, left[, right[, hanging[, osep[, first width]]]]]]])`:
/// words filled into lines (left-justified; longer words are cut).
fn wrap(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let width = match args.get(1) {
        Some(w) if !w.is_empty() => to_i64(w),
        _ => 78,
    };
    if width < 1 || width > LBUF as i64 {
        push(out, "#-1 OUT OF RANGE");
        return Ok(());
    }
    let width = width as usize;
    let left = args.get(3).map_or("", String::as_str);
    let right = args.get(4).map_or("", String::as_str);
    let osep = args.get(6).map_or("\r\n", String::as_str);
    let mut lines: Vec<String> = Vec::new();
    for para in strip(&args[0]).split("\r\n") {
        let mut line = String::new();
        let mut len = 0;
        for word in para.split(' ').filter(|w| !w.is_empty()) {
            let mut word: Vec<char> = word.chars().collect();
            loop {
                let need = if len == 0 {
                    word.len()
                } else {
                    len + 1 + word.len()
                };
                if need <= width {
                    if len > 0 {
                        line.push(' ');
                    }
                    line.extend(word.iter());
                    len = need;
                    break;
                }
                if len > 0 {
                    lines.push(std::mem::take(&mut line));
                    len = 0;
                    continue;
                }
                lines.push(word[..width].iter().collect());
                word.drain(..width);
                if word.is_empty() {
                    break;
                }
            }
        }
        if len > 0 || para.is_empty() {
            lines.push(line);
        }
    }
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            push(out, osep);
        }
        push(out, left);
        push(out, line);
        push(out, right);
    }
    Ok(())
}

/// `columns(list, width[, delim[, indent]])`: words in columns across a 78-column line.
fn columns(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Some(sep) = super::isep(args, 2, out) else {
        return Ok(());
    };
    let width = to_i64(&args[1]);
    let mut indent = args.get(3).map_or(0, |i| to_i64(i));
    if !(0..=77).contains(&indent) {
        indent = 1;
    }
    if !(1..=78).contains(&width) || !(1..=78).contains(&(indent + width)) {
        push(out, "#-1 OUT OF RANGE");
        return Ok(());
    }
    let (width, indent) = (width as usize, indent as usize);
    let items = super::items(&args[0], &sep);
    let per_line = (78 - indent) / width;
    let mut column = 0;
    let mut open = false;
    for item in items {
        if column == 0 {
            push(out, &" ".repeat(indent));
        }
        let c = cells(item);
        let n = c.len().min(width);
        push(out, &render(&c[..n]));
        if column + 1 >= per_line {
            column = 0;
            push(out, "\r\n");
            open = false;
        } else {
            column += 1;
            push(out, &" ".repeat(width - n));
            open = true;
        }
    }
    if open {
        push(out, "\r\n");
    }
    Ok(())
}

fn strmem(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, &args.first().map_or(0, String::len).to_string());
    Ok(())
}

fn scramble(ev: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let mut c = cells(&args[0]);
    for i in (1..c.len()).rev() {
        let j = ev.world.random(i as u64 + 1) as usize;
        c.swap(i, j);
    }
    push(out, &render(&c));
    Ok(())
}

/// `translate(text, type)`: `p` (or `1`) writes special characters as the
/// substitutions that make them; otherwise newlines become spaces.
fn translate(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let convert = matches!(args[1].chars().next(), Some('p' | '1'));
    let text = strip(&args[0]);
    let mut it = text.chars().peekable();
    while let Some(c) = it.next() {
        let sub = match (convert, c) {
            (_, '\r') => "",
            (true, '\t') => "%t",
            (true, '\n') => "%r",
            (true, ' ') if it.peek() == Some(&' ') => "%b",
            (true, '%') => "%%",
            (true, '(') => "%(",
            (true, ')') => "%)",
            (true, '[') => "%[",
            (true, ']') => "%]",
            (true, '{') => "%{",
            (true, '}') => "%}",
            (true, '\\') => "\\\\",
            (false, '\n') => " ",
            _ => {
                push_char(out, c);
                continue;
            }
        };
        push(out, sub);
    }
    Ok(())
}

/// Expands `a-z` ranges in a `tr()` character list.
fn tr_range(text: &str) -> Vec<char> {
    let c: Vec<char> = strip(text).chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        if i + 2 < c.len() && c[i + 1] == '-' && c[i] <= c[i + 2] {
            out.extend(c[i]..=c[i + 2]);
            i += 3;
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

fn tr(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    if args[0].is_empty() {
        return Ok(());
    }
    let from = tr_range(args.get(1).map_or("", String::as_str));
    let to = tr_range(args.get(2).map_or("", String::as_str));
    if from.len() != to.len() {
        push(out, "#-1 STRING LENGTHS MUST BE EQUAL");
        return Ok(());
    }
    let mut c = cells(&args[0]);
    for (ch, _) in c.iter_mut() {
        if let Some(i) = from.iter().rposition(|f| f == ch) {
            *ch = to[i];
        }
    }
    push(out, &render(&c));
    Ok(())
}

/// DarkZone's cipher: printable ASCII shifted by the key's printable characters.
fn crypt(text: &str, key: &str, encrypt: bool) -> String {
    if text.is_empty() {
        return String::new();
    }
    let code: Vec<u8> = strip(key)
        .bytes()
        .filter(|b| (b' '..=b'~').contains(b))
        .map(|b| b - b' ')
        .collect();
    if code.is_empty() {
        return text.to_string();
    }
    let modulus = i32::from(b'~' - b' ') + 1;
    let mut k = 0;
    let mut result = String::new();
    for ch in strip(text).chars() {
        if (' '..='~').contains(&ch) {
            let mut v = ch as i32 - ' ' as i32;
            if encrypt {
                v = (v + i32::from(code[k])) % modulus;
            } else {
                v = (v - i32::from(code[k])).rem_euclid(modulus);
            }
            result.push(char::from(b' ' + v as u8));
            k = (k + 1) % code.len();
        }
    }
    result
}

fn encrypt(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, &crypt(&args[0], &args[1], true));
    Ok(())
}

fn decrypt(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, &crypt(&args[0], &args[1], false));
    Ok(())
}

/// The CRC-32 (IEEE) of bytes, continuing from `crc`.
fn crc32_update(mut crc: u32, bytes: &[u8]) -> u32 {
    crc = !crc;
    for b in bytes {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

fn crc32(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let crc = args
        .iter()
        .fold(0, |crc, a| crc32_update(crc, a.as_bytes()));
    push(out, &crc.to_string());
    Ok(())
}

/// The SHA-1 digest of bytes, as upper-case hex.
fn sha1_hex(data: &[u8]) -> String {
    let mut h: [u32; 5] = [
        0x6745_2301,
        0xEFCD_AB89,
        0x98BA_DCFE,
        0x1032_5476,
        0xC3D2_E1F0,
    ];
    let mut msg = data.to_vec();
    let bits = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bits.to_be_bytes());
    for block in msg.chunks(64) {
        let mut w = [0u32; 80];
        for (i, word) in block.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
                20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                _ => (b ^ c ^ d, 0xCA62_C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(y);
        }
    }
    h.iter().map(|x| format!("{x:08X}")).collect()
}

fn sha1(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(
        out,
        &sha1_hex(args.first().map_or(&[][..], |a| a.as_bytes())),
    );
    Ok(())
}

fn digest(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let text = args.get(1).map_or("", String::as_str);
    if args[0].trim().eq_ignore_ascii_case("sha1") {
        push(out, &sha1_hex(text.as_bytes()));
    } else {
        push(out, "#-1 UNSUPPORTED DIGEST TYPE");
    }
    Ok(())
}

/// `strip(text[, chars])`: the text without colour and without any of the characters.
fn strip_fn(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let gone: Vec<char> = args.get(1).map(|c| chars(c)).unwrap_or_default();
    let kept: String = strip(&args[0])
        .chars()
        .filter(|c| !gone.contains(c))
        .collect();
    push(out, &kept);
    Ok(())
}

fn beep(_: &mut Eval<'_>, _: &Frame<'_>, _: Args<'_>, out: Out<'_>) -> R {
    push_char(out, '\x07');
    Ok(())
}

/// `subeval(text)`: substitutions evaluated once more, functions left as text.
fn subeval(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    ev.eval_into(
        frame,
        &args[0],
        ev::EVAL | ev::NOFCHECK | ev::NO_COMPRESS,
        out,
    )
}
