//! Strings: length, case, slicing, padding, editing, colour.

use super::{Func, bool_str, f, joined, lazy, to_i64};
use crate::eval::{Eval, Frame, LBUF, R, push, push_char};
use crate::wild;

/// The string family.
pub const FUNCS: &[Func] = &[
    f("STRLEN", 0, 1, strlen),
    f("UCSTR", 1, 1, ucstr),
    f("LCSTR", 1, 1, lcstr),
    f("CAPSTR", 1, 1, capstr),
    f("MID", 3, 3, mid),
    f("LEFT", 2, 2, left),
    f("RIGHT", 2, 2, right),
    f("POS", 2, 2, pos),
    f("LPOS", 2, 2, lpos),
    f("DELETE", 3, 3, delete),
    f("REPEAT", 2, 2, repeat),
    f("REVERSE", 1, 1, reverse),
    f("LJUST", 2, 3, ljust),
    f("RJUST", 2, 3, rjust),
    f("CENTER", 2, 3, center),
    f("SPACE", 0, 1, space),
    f("TRIM", 1, 3, trim),
    f("SQUISH", 1, 2, squish),
    f("EDIT", 3, 30, edit),
    f("BEFORE", 1, 2, before),
    f("AFTER", 1, 2, after),
    f("STRMATCH", 2, 2, strmatch),
    f("STRCAT", 0, 30, strcat),
    joined("CAT", 0, 30, cat),
    f("ESCAPE", 1, 1, escape),
    f("SECURE", 1, 1, secure),
    f("ANSI", 2, 2, ansi),
    f("STRIPANSI", 1, 1, stripansi),
    f("ALPHAMAX", 1, 30, alphamax),
    f("ALPHAMIN", 1, 30, alphamin),
    f("ART", 1, 1, art),
    lazy("LIT", 1, 1, lit),
    f("CHR", 1, 1, chr),
    f("ORD", 1, 1, ord),
    f("STRTRUNC", 2, 2, left),
    f("ISALPHA", 1, 1, isalpha),
    f("ISDIGIT", 1, 1, isdigit),
    f("ISSPACE", 1, 1, isspace),
    f("ISWORD", 1, 1, isword),
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

fn strlen(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let n = args.first().map(|a| strip(a).chars().count()).unwrap_or(0);
    push(out, &n.to_string());
    Ok(())
}

fn ucstr(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, &args[0].to_uppercase());
    Ok(())
}

fn lcstr(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, &args[0].to_lowercase());
    Ok(())
}

fn capstr(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let mut it = args[0].chars();
    if let Some(c) = it.next() {
        push(out, &c.to_uppercase().collect::<String>());
        push(out, it.as_str());
    }
    Ok(())
}

fn slice(text: &str, start: usize, len: usize) -> String {
    chars(text).into_iter().skip(start).take(len).collect()
}

fn mid(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let start = to_i64(&args[1]);
    let len = to_i64(&args[2]);
    if start < 0 || len < 0 {
        push(out, "#-1 OUT OF RANGE");
        return Ok(());
    }
    push(out, &slice(&args[0], start as usize, len as usize));
    Ok(())
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
    let c = chars(&args[0]);
    let skip = c.len().saturating_sub(len as usize);
    push(out, &c[skip..].iter().collect::<String>());
    Ok(())
}

fn find(hay: &[char], needle: &[char]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
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
    let c = chars(&args[0]);
    let start = to_i64(&args[1]);
    let len = to_i64(&args[2]);
    if start < 0 || len < 0 {
        push(out, &args[0]);
        return Ok(());
    }
    let start = (start as usize).min(c.len());
    let end = start.saturating_add(len as usize).min(c.len());
    let s: String = c[..start].iter().chain(c[end..].iter()).collect();
    push(out, &s);
    Ok(())
}

fn repeat(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let n = to_i64(&args[1]);
    if args[0].is_empty() || n <= 0 {
        return Ok(());
    }
    // Bounded by the output buffer: never builds more than fits.
    let fits = (LBUF / args[0].len()).saturating_add(1) as i64;
    for _ in 0..n.min(fits) {
        push(out, &args[0]);
    }
    Ok(())
}

fn reverse(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, &strip(&args[0]).chars().rev().collect::<String>());
    Ok(())
}

fn fill(args: Args<'_>) -> Vec<char> {
    match args.get(2) {
        Some(f) if !f.is_empty() => chars(f),
        _ => vec![' '],
    }
}

fn pad(fillc: &[char], n: usize) -> String {
    fillc.iter().cycle().take(n.min(LBUF)).collect()
}

fn ljust(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let width = to_i64(&args[1]).max(0) as usize;
    let len = chars(&args[0]).len();
    push(out, &args[0]);
    if width > len {
        push(out, &pad(&fill(args), width - len));
    }
    Ok(())
}

fn rjust(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let width = to_i64(&args[1]).max(0) as usize;
    let len = chars(&args[0]).len();
    if width > len {
        push(out, &pad(&fill(args), width - len));
    }
    push(out, &args[0]);
    Ok(())
}

fn center(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let width = to_i64(&args[1]);
    if width < 1 {
        push(out, "#-1 WIDTH MUST BE >= 1");
        return Ok(());
    }
    let width = width as usize;
    let len = chars(&args[0]).len();
    if width <= len {
        push(out, &args[0]);
        return Ok(());
    }
    let total = width - len;
    let lead = total / 2;
    let fillc = fill(args);
    push(out, &pad(&fillc, lead));
    push(out, &args[0]);
    let trail: String = fillc
        .iter()
        .cycle()
        .skip(lead + len)
        .take(total - lead)
        .collect();
    push(out, &trail);
    Ok(())
}

fn space(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let n = match args.first() {
        None => 1,
        Some(a) if a.trim().is_empty() => 1,
        Some(a) => to_i64(a),
    };
    if n > 0 {
        push(out, &" ".repeat((n as usize).min(LBUF)));
    }
    Ok(())
}

fn trim(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let c = match args.get(2) {
        Some(c) if !c.is_empty() => c.chars().next().unwrap_or(' '),
        _ => ' ',
    };
    let how = args
        .get(1)
        .and_then(|h| h.trim().chars().next())
        .unwrap_or('b');
    let text = args[0].as_str();
    let s = match how.to_ascii_lowercase() {
        'l' => text.trim_start_matches(c),
        'r' => text.trim_end_matches(c),
        _ => text.trim_matches(c),
    };
    push(out, s);
    Ok(())
}

fn squish(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
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

fn before(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let pat = match args.get(1) {
        Some(p) if !p.is_empty() => p.as_str(),
        _ => " ",
    };
    match args[0].find(pat) {
        Some(i) => push(out, &args[0][..i]),
        None => push(out, &args[0]),
    }
    Ok(())
}

fn after(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let pat = match args.get(1) {
        Some(p) if !p.is_empty() => p.as_str(),
        _ => " ",
    };
    if let Some(i) = args[0].find(pat) {
        push(out, &args[0][i + pat.len()..]);
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

fn ansi(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let mut codes = String::new();
    for c in args[0].chars() {
        if let Some(code) = ansi_code(c) {
            codes.push_str(code);
        }
    }
    if codes.is_empty() || args[1].is_empty() {
        push(out, &args[1]);
        return Ok(());
    }
    push(out, &codes);
    push(out, &args[1]);
    push(out, "\x1b[0m");
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

fn art(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let first = strip(&args[0])
        .trim_start()
        .chars()
        .next()
        .map(|c| c.to_ascii_lowercase());
    push(
        out,
        if matches!(first, Some('a' | 'e' | 'i' | 'o' | 'u')) {
            "an"
        } else {
            "a"
        },
    );
    Ok(())
}

fn lit(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    // Unevaluated, but TinyMUX's first pass still trims it and takes out backslashes.
    let mut chars = args[0].trim().chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                push_char(out, n);
            }
        } else {
            push_char(out, c);
        }
    }
    Ok(())
}

fn chr(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    match char::from_u32(to_i64(&args[0]).clamp(0, 0x10_ffff) as u32) {
        Some(c) if !c.is_control() => push_char(out, c),
        _ => push(out, "#-1 ARGUMENT OUT OF RANGE"),
    }
    Ok(())
}

fn ord(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let c = chars(&args[0]);
    if c.len() == 1 {
        push(out, &(c[0] as u32).to_string());
    } else {
        push(out, "#-1 FUNCTION (ORD) EXPECTS ONE CHARACTER");
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
