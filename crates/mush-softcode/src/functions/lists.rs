//! Lists: counting, slicing, editing, sorting, sets, matching, and the list loops
//! (`iter()`, `map()`, `filter()`, `fold()`, ...), following TinyMUX 2.12's rules for
//! splitting (`trim_space_sep`/`split_token`) and for delimiters (`delim_check`).

use std::cmp::Ordering;

use super::{
    Cursor, Func, f, fmt_f64, is_integer, is_number, isep, items, join_into, lazy, osep, parse_sep,
    to_f64, to_i64, trim_sep, truthy,
};
use crate::eval::{Emit, Eval, Frame, R, push, push_char};
use crate::functions::objects::{call_attr, inherited, resolve};
use crate::wild;

/// The list family.
pub const FUNCS: &[Func] = &[
    f("WORDS", 0, 2, words),
    f("FIRST", 0, 2, first),
    f("REST", 0, 2, rest),
    f("LAST", 0, 2, last),
    f("EXTRACT", 3, 5, extract),
    f("ELEMENTS", 2, 4, elements),
    f("INDEX", 4, 4, index),
    f("INSERT", 3, 5, insert),
    f("LDELETE", 2, 4, ldelete),
    f("REPLACE", 3, 5, replace),
    f("REMOVE", 2, 4, remove),
    f("REVWORDS", 0, 3, revwords),
    f("SORT", 1, 4, sort),
    f("SORTBY", 2, 4, sortby),
    f("SETUNION", 2, 5, setunion),
    f("SETDIFF", 2, 5, setdiff),
    f("SETINTER", 2, 5, setinter),
    f("LNUM", 0, 4, lnum),
    lazy("ITER", 2, 4, iter),
    lazy("PARSE", 2, 4, iter),
    lazy("LIST", 2, 3, list),
    f("ITEXT", 0, 1, itext),
    f("INUM", 0, 1, inum),
    f("ILEV", 0, 0, ilev),
    f("MAP", 2, 13, map),
    f("FILTER", 2, 13, filter),
    f("FILTERBOOL", 2, 13, filterbool),
    f("FOLD", 2, 4, fold),
    f("STEP", 3, 5, step),
    f("MUNGE", 3, 4, munge),
    f("GRAB", 2, 3, grab),
    f("GRABALL", 2, 4, graball),
    f("MATCH", 2, 3, match_fn),
    f("MATCHALL", 2, 3, matchall),
    f("MEMBER", 2, 3, member),
    f("SPLICE", 3, 5, splice),
    f("WORDPOS", 2, 3, wordpos),
    f("ITEMIZE", 1, 4, itemize),
    f("LADD", 0, 2, ladd),
    f("LMAX", 0, 2, lmax),
    f("LMIN", 0, 2, lmin),
    f("CHOOSE", 2, 3, choose),
    f("PICKRAND", 0, 2, pickrand),
    f("LRAND", 3, 4, lrand),
    f("SHUFFLE", 1, 3, shuffle),
    f("MIX", 2, 12, mix),
    f("TABLE", 1, 6, table),
    f("MERGE", 3, 3, merge),
];

type Args<'a> = &'a [String];
type Out<'a> = &'a mut String;

// ---- delimiters ----------------------------------------------------------------------

/// TinyMUX's `NUM_ENV_VARS`: the most `%0`-`%9` a call gets.
const ENV_VARS: usize = 10;

/// A separator of a function that evaluates its own arguments (`DELIM_EVAL`): text of
/// more than one byte is evaluated first; absent means a space.
fn lazy_sep(
    ev: &mut Eval<'_>,
    frame: &Frame<'_>,
    args: Args<'_>,
    i: usize,
    null: bool,
    out: Out<'_>,
) -> R<Option<String>> {
    let Some(raw) = args.get(i) else {
        return Ok(Some(" ".into()));
    };
    let text = if raw.len() <= 1 {
        raw.clone()
    } else {
        ev.eval_arg(frame, raw)?
    };
    Ok(parse_sep(&text, null, out))
}

/// The `do { split_token } while (s)` walk: like [`items`], but an empty list is one
/// empty item (so `match(,*)` is 1 and `member(,)` is 1, as in TinyMUX).
fn tokens<'a>(text: &'a str, sep: &str) -> Vec<&'a str> {
    let v = items(text, sep);
    if v.is_empty() { vec![""] } else { v }
}

/// `mux_words::find_Words`: like [`items`], except that an empty list with a delimiter
/// other than a space is one empty word.
fn find_words<'a>(text: &'a str, sep: &str) -> Vec<&'a str> {
    if sep != " " && text.is_empty() {
        vec![""]
    } else {
        items(text, sep)
    }
}

/// Byte offset of `sub` (a slice of `base`) within `base`.
fn offset(base: &str, sub: &str) -> usize {
    (sub.as_ptr() as usize).saturating_sub(base.as_ptr() as usize)
}

/// The function-invocation limit or the CPU budget has run out: loops stop.
fn exhausted(ev: &Eval<'_>) -> bool {
    ev.invocations() >= ev.limits.invocations || ev.cpu_exceeded
}

// ---- attributes ----------------------------------------------------------------------

/// `parse_and_get_attrib`'s quiet failures: no such object or attribute, or an empty
/// attribute, and the list function does nothing at all.
fn attr_present(ev: &mut Eval<'_>, frame: &Frame<'_>, spec: &str) -> R<bool> {
    let (obj, name) = match spec.split_once('/') {
        Some((o, a)) => match resolve(ev, frame.executor, o)? {
            Ok(id) => (id, a),
            Err(_) => return Ok(false),
        },
        None => (frame.executor, spec),
    };
    let name = name.trim().to_ascii_uppercase();
    if name.is_empty() {
        return Ok(false);
    }
    Ok(inherited(ev, obj, &name)?.is_some_and(|a| !a.value.is_empty()))
}

/// Calls the attribute and returns its result.
fn call(ev: &mut Eval<'_>, frame: &Frame<'_>, spec: &str, args: Vec<String>) -> R<String> {
    let mut buf = String::new();
    call_attr(ev, frame, spec, args, &mut buf)?;
    Ok(buf)
}

// ---- counting and slicing ------------------------------------------------------------

fn words(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    if args.is_empty() {
        push_char(out, '0');
        return Ok(());
    }
    let Some(sep) = isep(args, 1, out) else {
        return Ok(());
    };
    push(out, &items(&args[0], &sep).len().to_string());
    Ok(())
}

fn first(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    if args.is_empty() {
        return Ok(());
    }
    let Some(sep) = isep(args, 1, out) else {
        return Ok(());
    };
    if let Some(word) = Cursor::new(trim_sep(&args[0], &sep)).token(&sep) {
        push(out, word);
    }
    Ok(())
}

fn rest(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    if args.is_empty() {
        return Ok(());
    }
    let Some(sep) = isep(args, 1, out) else {
        return Ok(());
    };
    let mut cur = Cursor::new(trim_sep(&args[0], &sep));
    cur.token(&sep);
    if let Some(rest) = cur.rest {
        push(out, rest);
    }
    Ok(())
}

fn last(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    if args.is_empty() {
        return Ok(());
    }
    let Some(sep) = isep(args, 1, out) else {
        return Ok(());
    };
    if let Some(word) = find_words(&args[0], &sep).last() {
        push(out, word);
    }
    Ok(())
}

fn extract(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Some(sep) = isep(args, 3, out) else {
        return Ok(());
    };
    let Some(osep) = osep(args, 4, &sep, out) else {
        return Ok(());
    };
    let start = to_i64(&args[1]);
    let count = to_i64(&args[2]);
    if start < 1 || count < 1 {
        return Ok(());
    }
    let words = find_words(trim_sep(&args[0], &sep), &sep);
    let start = usize::try_from(start - 1).unwrap_or(usize::MAX);
    if start < words.len() {
        let end = usize::try_from(count)
            .unwrap_or(usize::MAX)
            .saturating_add(start)
            .min(words.len());
        join_into(out, &words[start..end], &osep);
    }
    Ok(())
}

fn elements(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Some(sep) = isep(args, 2, out) else {
        return Ok(());
    };
    let Some(osep) = osep(args, 3, &sep, out) else {
        return Ok(());
    };
    let words = find_words(&args[0], &sep);
    let picked = tokens(&args[1], " ").into_iter().filter_map(|n| {
        let i = usize::try_from(to_i64(n).saturating_sub(1)).ok()?;
        words.get(i).copied()
    });
    join_into(out, picked, &osep);
    Ok(())
}

/// `index(list, char, first, count)`: items separated by one character, trimmed of
/// spaces around the slice.
fn index(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let text = args[0].as_str();
    let c = args[1].chars().next().unwrap_or(' ');
    let mut start = to_i64(&args[2]);
    let mut end = to_i64(&args[3]);
    if start < 1 || end < 1 || text.is_empty() {
        return Ok(());
    }
    start -= 1;
    let mut s = Some(text);
    while start > 0 {
        match s {
            Some(t) if !t.is_empty() => {
                s = t.find(c).map(|i| &t[i + c.len_utf8()..]);
                start -= 1;
            }
            _ => break,
        }
    }
    let Some(s) = s.map(|t| t.trim_start_matches(' ')) else {
        return Ok(());
    };
    if s.is_empty() {
        return Ok(());
    }
    let mut p = 0;
    while end > 0 && p < s.len() {
        match s[p..].find(c) {
            Some(i) => {
                end -= 1;
                if end == 0 {
                    push(out, s[..p + i].trim_end_matches(' '));
                    return Ok(());
                }
                p += i + c.len_utf8();
            }
            None => break,
        }
    }
    push(out, s);
    Ok(())
}

// ---- editing by position -------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum ItemOp {
    Delete,
    Replace,
    Insert,
}

/// `DecodeListOfIntegers`: space-separated positions.
fn positions(text: &str) -> Vec<i64> {
    tokens(text, " ").into_iter().map(to_i64).collect()
}

/// TinyMUX's `do_itemfuns`, shared by `ldelete()`, `replace()` and `insert()`: positions
/// count from 1, negative ones from the end; out-of-range ones are ignored; a position
/// is deleted or replaced only once.
fn itemfuns(args: Args<'_>, word: Option<&str>, sep_at: usize, op: ItemOp, out: Out<'_>) {
    let Some(sep) = isep(args, sep_at, out) else {
        return;
    };
    let Some(osep) = osep(args, sep_at + 1, &sep, out) else {
        return;
    };
    let list = args[0].as_str();
    let mut wanted = positions(&args[1]);
    if list.is_empty() && (op != ItemOp::Insert || !wanted.iter().any(|&p| p == 1 || p == -1)) {
        return;
    }
    let words = items(list, &sep);
    let n = i64::try_from(words.len()).unwrap_or(i64::MAX);
    wanted = wanted
        .into_iter()
        .map(|p| match (p < 0, op) {
            (true, ItemOp::Insert) => p + n + 1,
            (true, _) => p + n,
            (false, _) => p - 1,
        })
        .filter(|&p| p >= 0 && (p < n || (op == ItemOp::Insert && p == n)))
        .collect();
    wanted.sort_unstable();
    let mut result: Vec<&str> = Vec::with_capacity(words.len() + wanted.len());
    let mut i = 0usize;
    let mut j = 0usize;
    while j < wanted.len() {
        let at = usize::try_from(wanted[j]).unwrap_or(0);
        while i < at {
            result.push(words[i]);
            i += 1;
        }
        if op != ItemOp::Delete {
            result.push(word.unwrap_or(""));
        }
        if op != ItemOp::Insert {
            i += 1;
            while j + 1 < wanted.len() && wanted[j] == wanted[j + 1] {
                j += 1;
            }
        }
        j += 1;
    }
    result.extend_from_slice(&words[i.min(words.len())..]);
    join_into(out, result, &osep);
}

fn ldelete(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    itemfuns(args, None, 2, ItemOp::Delete, out);
    Ok(())
}

fn replace(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    itemfuns(args, Some(&args[2]), 3, ItemOp::Replace, out);
    Ok(())
}

fn insert(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    itemfuns(args, Some(&args[2]), 3, ItemOp::Insert, out);
    Ok(())
}

/// `remove(list, word)`: drops the first item equal to `word` (case-sensitive).
fn remove(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Some(sep) = isep(args, 2, out) else {
        return Ok(());
    };
    let Some(osep) = osep(args, 3, &sep, out) else {
        return Ok(());
    };
    let word = args[1].as_str();
    if word.contains(sep.as_str()) {
        push(out, "#-1 CAN ONLY REMOVE ONE ELEMENT");
        return Ok(());
    }
    let mut words = find_words(&args[0], &sep);
    if let Some(i) = words.iter().position(|w| *w == word) {
        words.remove(i);
    }
    join_into(out, words, &osep);
    Ok(())
}

fn revwords(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    if args.is_empty() {
        return Ok(());
    }
    let Some(sep) = isep(args, 1, out) else {
        return Ok(());
    };
    let Some(osep) = osep(args, 2, &sep, out) else {
        return Ok(());
    };
    join_into(out, find_words(&args[0], &sep).into_iter().rev(), &osep);
    Ok(())
}

// ---- sorting and sets ----------------------------------------------------------------

/// How items compare (TinyMUX's `*_LIST` sort types).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SortKind {
    /// Byte order (`a`; also `u`, whose Unicode collation this approximates).
    Ascii,
    /// ASCII case-insensitive (`i`).
    CaseAscii,
    /// Case-insensitive Unicode (`c`).
    CaseUnicode,
    /// 64-bit integers (`n`).
    Numeric,
    /// Dbrefs by number (`d`).
    Dbref,
    /// Floats (`f`).
    Float,
}

/// The sort type a letter names; `None` asks for auto-detection (`?` or empty).
fn sort_letter(text: &str) -> Option<SortKind> {
    Some(match text.chars().next() {
        None | Some('?') => return None,
        Some('d' | 'D') => SortKind::Dbref,
        Some('n' | 'N') => SortKind::Numeric,
        Some('f' | 'F') => SortKind::Float,
        Some('i' | 'I') => SortKind::CaseAscii,
        Some('c' | 'C') => SortKind::CaseUnicode,
        Some(_) => SortKind::Ascii,
    })
}

const COULD_ASCII: u8 = 1;
const COULD_NUMERIC: u8 = 2;
const COULD_DBREF: u8 = 4;
const COULD_FLOAT: u8 = 8;

/// TinyMUX's `AutoDetect`: integers, else floats, else dbrefs, else text. Like
/// TinyMUX, examining a second list starts from the first list's verdict.
struct AutoDetect(u8);

impl AutoDetect {
    fn new() -> Self {
        Self(COULD_ASCII | COULD_NUMERIC | COULD_DBREF | COULD_FLOAT)
    }

    fn examine(&mut self, list: &[&str]) {
        for p in list {
            if self.0 == COULD_ASCII {
                break;
            }
            let (dbref, rest) = match p.strip_prefix('#') {
                Some(rest) => (true, rest),
                None => (false, ""),
            };
            if !dbref {
                self.0 &= !COULD_DBREF;
            }
            if self.0 & COULD_DBREF != 0 && !is_integer(rest) {
                self.0 &= !(COULD_DBREF | COULD_NUMERIC | COULD_FLOAT);
            }
            if self.0 & COULD_FLOAT != 0 && !is_number(p) {
                self.0 &= !(COULD_NUMERIC | COULD_FLOAT);
            }
            if self.0 & COULD_NUMERIC != 0 && !is_integer(p) {
                self.0 &= !COULD_NUMERIC;
            }
        }
        self.0 = if self.0 & COULD_NUMERIC != 0 {
            COULD_NUMERIC
        } else if self.0 & COULD_FLOAT != 0 {
            COULD_FLOAT
        } else if self.0 & COULD_DBREF != 0 {
            COULD_DBREF
        } else {
            COULD_ASCII
        };
    }

    fn kind(&self) -> SortKind {
        match self.0 {
            COULD_NUMERIC => SortKind::Numeric,
            COULD_FLOAT => SortKind::Float,
            COULD_DBREF => SortKind::Dbref,
            _ => SortKind::Ascii,
        }
    }
}

fn detect(lists: &[&[&str]]) -> SortKind {
    let mut ad = AutoDetect::new();
    for list in lists {
        ad.examine(list);
    }
    ad.kind()
}

/// A sort key.
#[derive(Clone, Debug)]
enum Key {
    Text(String),
    Int(i64),
    Float(f64),
}

/// TinyMUX's `dbnum()`: `#n` is n; anything else is 0.
fn dbnum(text: &str) -> i64 {
    match text.strip_prefix('#') {
        Some(rest) if !rest.is_empty() => to_i64(rest),
        _ => 0,
    }
}

fn key(kind: SortKind, text: &str) -> Key {
    match kind {
        SortKind::Ascii => Key::Text(text.to_string()),
        SortKind::CaseAscii => Key::Text(text.to_ascii_lowercase()),
        SortKind::CaseUnicode => Key::Text(text.to_lowercase()),
        SortKind::Numeric => Key::Int(to_i64(text)),
        SortKind::Dbref => Key::Int(dbnum(text)),
        SortKind::Float => Key::Float(to_f64(text)),
    }
}

fn cmp_key(a: &Key, b: &Key) -> Ordering {
    match (a, b) {
        (Key::Text(a), Key::Text(b)) => a.as_bytes().cmp(b.as_bytes()),
        (Key::Int(a), Key::Int(b)) => a.cmp(b),
        (Key::Float(a), Key::Float(b)) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
        _ => Ordering::Equal,
    }
}

type Rec<'a> = (Key, &'a str);

fn sorted<'a>(list: &[&'a str], kind: SortKind) -> Vec<Rec<'a>> {
    let mut recs: Vec<Rec<'a>> = list.iter().map(|s| (key(kind, s), *s)).collect();
    recs.sort_by(|a, b| cmp_key(&a.0, &b.0));
    recs
}

fn sort(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Some(sep) = isep(args, 2, out) else {
        return Ok(());
    };
    let Some(osep) = osep(args, 3, &sep, out) else {
        return Ok(());
    };
    let list = items(&args[0], &sep);
    let kind = args
        .get(1)
        .and_then(|t| sort_letter(t))
        .unwrap_or_else(|| detect(&[&list]));
    join_into(out, sorted(&list, kind).into_iter().map(|r| r.1), &osep);
    Ok(())
}

/// `sortby(attr, list)`: TinyMUX's binary insertion sort, asking the attribute to compare
/// (`%0`, `%1`; a negative result puts `%0` first).
fn sortby(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Some(sep) = isep(args, 2, out) else {
        return Ok(());
    };
    let Some(osep) = osep(args, 3, &sep, out) else {
        return Ok(());
    };
    if !attr_present(ev, frame, &args[0])? {
        return Ok(());
    }
    let mut list = items(&args[1], &sep);
    for i in 1..list.len() {
        let t = list[i];
        let (mut l, mut r) = (0, i);
        while l < r {
            let m = (l + r) / 2;
            let verdict = if exhausted(ev) {
                0
            } else {
                let result = call(
                    ev,
                    frame,
                    &args[0],
                    vec![t.to_string(), list[m].to_string()],
                )?;
                to_i64(&result)
            };
            if verdict < 0 {
                r = m;
            } else {
                l = m + 1;
            }
        }
        list.remove(i);
        list.insert(l, t);
    }
    join_into(out, list, &osep);
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

/// TinyMUX's `handle_sets`: both lists sorted (text order unless a sort type is given
/// as the fifth argument), merged without duplicates.
fn sets(args: Args<'_>, op: SetOp, out: Out<'_>) {
    let Some(sep) = isep(args, 2, out) else {
        return;
    };
    let Some(osep) = osep(args, 3, &sep, out) else {
        return;
    };
    let l1 = items(&args[0], &sep);
    let l2 = items(&args[1], &sep);
    let kind = match args.get(4) {
        Some(t) => sort_letter(t).unwrap_or_else(|| detect(&[&l1, &l2])),
        None => SortKind::Ascii,
    };
    let a = sorted(&l1, kind);
    let b = sorted(&l2, kind);
    let cf = |x: &Rec<'_>, y: &Rec<'_>| cmp_key(&x.0, &y.0);
    let (n1, n2) = (a.len(), b.len());
    let (mut i1, mut i2) = (0, 0);
    let mut res: Vec<&str> = Vec::new();
    match op {
        SetOp::Union => {
            if n1 == 1 && n2 == 1 && cf(&a[0], &b[0]) == Ordering::Equal {
                res.push(a[0].1);
            } else {
                let mut old: Option<&Rec<'_>> = None;
                while i1 < n1 && i2 < n2 {
                    if let Some(o) = old {
                        while i1 < n1 && cf(&a[i1], o) == Ordering::Equal {
                            i1 += 1;
                        }
                        while i2 < n2 && cf(&b[i2], o) == Ordering::Equal {
                            i2 += 1;
                        }
                    }
                    if i1 < n1 && i2 < n2 {
                        if cf(&a[i1], &b[i2]) == Ordering::Less {
                            old = Some(&a[i1]);
                            i1 += 1;
                        } else {
                            old = Some(&b[i2]);
                            i2 += 1;
                        }
                        if let Some(o) = old {
                            res.push(o.1);
                        }
                    }
                }
                for x in a[i1..].iter().chain(b[i2..].iter()) {
                    if old.is_none_or(|o| cf(o, x) != Ordering::Equal) {
                        res.push(x.1);
                        old = Some(x);
                    }
                }
            }
        }
        SetOp::Inter => {
            while i1 < n1 && i2 < n2 {
                match cf(&a[i1], &b[i2]) {
                    Ordering::Equal => {
                        let o = &a[i1];
                        res.push(o.1);
                        i1 += 1;
                        i2 += 1;
                        while i1 < n1 && cf(&a[i1], o) == Ordering::Equal {
                            i1 += 1;
                        }
                        while i2 < n2 && cf(&b[i2], o) == Ordering::Equal {
                            i2 += 1;
                        }
                    }
                    Ordering::Less => i1 += 1,
                    Ordering::Greater => i2 += 1,
                }
            }
        }
        SetOp::Diff => {
            while i1 < n1 && i2 < n2 {
                match cf(&a[i1], &b[i2]) {
                    Ordering::Equal => {
                        let o = &a[i1];
                        while i1 < n1 && cf(&a[i1], o) == Ordering::Equal {
                            i1 += 1;
                        }
                        while i2 < n2 && cf(&b[i2], o) == Ordering::Equal {
                            i2 += 1;
                        }
                    }
                    Ordering::Less => {
                        let o = &a[i1];
                        res.push(o.1);
                        while i1 < n1 && cf(&a[i1], o) == Ordering::Equal {
                            i1 += 1;
                        }
                    }
                    Ordering::Greater => {
                        let o = &b[i2];
                        while i2 < n2 && cf(&b[i2], o) == Ordering::Equal {
                            i2 += 1;
                        }
                    }
                }
            }
            while i1 < n1 {
                let o = &a[i1];
                res.push(o.1);
                while i1 < n1 && cf(&a[i1], o) == Ordering::Equal {
                    i1 += 1;
                }
            }
        }
    }
    join_into(out, res, &osep);
}

fn setunion(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    sets(args, SetOp::Union, out);
    Ok(())
}

fn setinter(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    sets(args, SetOp::Inter, out);
    Ok(())
}

fn setdiff(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    sets(args, SetOp::Diff, out);
    Ok(())
}

// ---- numbers -------------------------------------------------------------------------

/// `lnum(n)` is 0..n-1; `lnum(a,b[,sep[,step]])` counts from a to b either way.
fn lnum(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    if args.is_empty() {
        return Ok(());
    }
    let sep = match args.get(2) {
        Some(text) => match parse_sep(text, true, out) {
            Some(s) => s,
            None => return Ok(()),
        },
        None => " ".into(),
    };
    let (bot, top, step) = if args.len() == 1 {
        let top = to_i64(&args[0]).saturating_sub(1);
        if top < 0 {
            return Ok(());
        }
        (0, top, 1)
    } else {
        let step = if args.len() == 4 {
            to_i64(&args[3]).max(1)
        } else {
            1
        };
        (to_i64(&args[0]), to_i64(&args[1]), step)
    };
    push(out, &bot.to_string());
    let mut i = bot;
    loop {
        let next = if bot < top {
            i.checked_add(step).filter(|n| *n <= top)
        } else {
            i.checked_sub(step).filter(|n| *n >= top)
        };
        let Some(n) = next else { break };
        i = n;
        push(out, &sep);
        let before = out.len();
        push(out, &n.to_string());
        if out.len() == before {
            break;
        }
    }
    Ok(())
}

/// TinyMUX's `AddDoubles`: largest magnitudes first with doubly compensated summation,
/// then the neighbour (within one ulp) with the fewest digits.
fn add_doubles(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| b.abs().partial_cmp(&a.abs()).unwrap_or(Ordering::Equal));
    let Some((&head, tail)) = values.split_first() else {
        return 0.0;
    };
    let add = |a: f64, b: f64| {
        let sum = a + b;
        (sum, b - (sum - a))
    };
    let mut sum = head;
    let mut sum_err = 0.0;
    for &v in tail {
        let (addend, addend_err) = add(sum_err, v);
        let (sum1, sum1_err) = add(sum, addend);
        let (s, e) = add(sum1, addend_err + sum1_err);
        sum = s;
        sum_err = e;
    }
    nearest_pretty(sum)
}

fn nearest_pretty(value: f64) -> f64 {
    if !value.is_finite() || value == 0.0 {
        return value;
    }
    let digits = |v: f64| {
        let e = format!("{:e}", v.abs());
        e.split('e')
            .next()
            .map_or(0, |m| m.chars().filter(char::is_ascii_digit).count())
    };
    let mut best = value;
    let mut best_digits = digits(value);
    for candidate in [value.next_down(), value.next_up()] {
        let d = digits(candidate);
        if d < best_digits {
            best = candidate;
            best_digits = d;
        }
    }
    best
}

/// The numbers of a list for `ladd()`/`lmax()`/`lmin()`; `None` after a separator error.
fn numbers(args: Args<'_>, out: Out<'_>) -> Option<Vec<f64>> {
    if args.is_empty() {
        return Some(Vec::new());
    }
    let sep = isep(args, 1, out)?;
    Some(tokens(&args[0], &sep).into_iter().map(to_f64).collect())
}

fn ladd(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    if let Some(values) = numbers(args, out) {
        push(out, &fmt_f64(add_doubles(values)));
    }
    Ok(())
}

fn extreme(args: Args<'_>, better: fn(f64, f64) -> bool, out: Out<'_>) {
    if let Some(values) = numbers(args, out) {
        let mut best = 0.0;
        for (i, v) in values.into_iter().enumerate() {
            if i == 0 || better(v, best) {
                best = v;
            }
        }
        push(out, &fmt_f64(best));
    }
}

fn lmax(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    extreme(args, |v, best| v > best, out);
    Ok(())
}

fn lmin(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    extreme(args, |v, best| v < best, out);
    Ok(())
}

// ---- loops ---------------------------------------------------------------------------

/// The evaluated list of `iter()`/`list()` and the separators, or `None` after an error
/// or for an empty list.
fn loop_setup(
    ev: &mut Eval<'_>,
    frame: &Frame<'_>,
    args: Args<'_>,
    with_osep: bool,
    out: Out<'_>,
) -> R<Option<(String, String, String)>> {
    let Some(sep) = lazy_sep(ev, frame, args, 2, false, out)? else {
        return Ok(None);
    };
    let osep = if with_osep {
        match lazy_sep(ev, frame, args, 3, true, out)? {
            Some(s) => s,
            None => return Ok(None),
        }
    } else {
        String::new()
    };
    let list = ev.eval_arg(frame, &args[0])?;
    if trim_sep(&list, &sep).is_empty() {
        return Ok(None);
    }
    Ok(Some((list, sep, osep)))
}

/// `iter(list, body[, sep[, osep]])` (and `parse()`): the body evaluated once per item
/// with `##`/`itext()` the item and `#@`/`inum()` its position; results joined by the
/// output separator, which defaults to a space (not to the input separator).
fn iter(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Some((list, sep, osep)) = loop_setup(ev, frame, args, true, out)? else {
        return Ok(());
    };
    let mut cur = Cursor::new(trim_sep(&list, &sep));
    let body = args[1].as_str();
    let mut n = 0i64;
    while cur.more() && !exhausted(ev) {
        if n > 0 {
            push(out, &osep);
        }
        n += 1;
        let item = cur.token(&sep).unwrap_or("").to_string();
        let result = ev.in_loop(item, n, |ev| ev.eval_arg(frame, body))?;
        push(out, &result);
    }
    Ok(())
}

/// `list(list, body[, sep])`: like `iter()`, but each result is sent to the enactor as a
/// line of its own; returns nothing.
fn list(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Some((list, sep, _)) = loop_setup(ev, frame, args, false, out)? else {
        return Ok(());
    };
    let mut cur = Cursor::new(trim_sep(&list, &sep));
    let body = args[1].as_str();
    let mut n = 0i64;
    while cur.more() && !exhausted(ev) {
        n += 1;
        let item = cur.token(&sep).unwrap_or("").to_string();
        let result = ev.in_loop(item, n, |ev| ev.eval_arg(frame, body))?;
        ev.emits.push(Emit::To(frame.enactor, result));
    }
    Ok(())
}

/// The loop level `itext(n)`/`inum(n)` name: 0 is the innermost; negative is 0.
fn loop_level<'e>(ev: &'e Eval<'_>, args: Args<'_>) -> Option<&'e (String, i64)> {
    let depth = args.first().map_or(0, |a| to_i64(a).max(0));
    let depth = usize::try_from(depth).ok()?;
    let len = ev.loops.len();
    if depth < len {
        ev.loops.get(len - 1 - depth)
    } else {
        None
    }
}

fn itext(ev: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    if let Some((item, _)) = loop_level(ev, args) {
        push(out, item);
    }
    Ok(())
}

fn inum(ev: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    if let Some((_, n)) = loop_level(ev, args) {
        push(out, &n.to_string());
    }
    Ok(())
}

fn ilev(ev: &mut Eval<'_>, _: &Frame<'_>, _: Args<'_>, out: Out<'_>) -> R {
    let depth = i64::try_from(ev.loops.len()).unwrap_or(i64::MAX);
    push(out, &(depth - 1).to_string());
    Ok(())
}

/// What `map()` and the `filter()`s write for one item: `map` the call's result, the
/// filters the item itself when the result passes.
enum Keep {
    Result,
    ItemIf(fn(&str) -> bool),
}

/// `map(attr, list, sep, osep, arg1..arg9)`: the attribute with `%0` each item and
/// `%1`... the extra arguments.
fn map(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    call_each(ev, frame, args, Keep::Result, out)
}

/// Calls the attribute in `args[0]` once per item of `args[1]` and writes what `keep`
/// says, separated by the output separator.
fn call_each(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, keep: Keep, out: Out<'_>) -> R {
    let Some(sep) = isep(args, 2, out) else {
        return Ok(());
    };
    let Some(osep) = osep(args, 3, &sep, out) else {
        return Ok(());
    };
    if !attr_present(ev, frame, &args[0])? {
        return Ok(());
    }
    let extra = args.get(4..).unwrap_or(&[]);
    let text = trim_sep(&args[1], &sep);
    if text.is_empty() {
        return Ok(());
    }
    let mut cur = Cursor::new(text);
    let mut first = true;
    while cur.more() && !exhausted(ev) {
        let item = cur.token(&sep).unwrap_or("");
        let mut call_args = vec![item.to_string()];
        call_args.extend(extra.iter().cloned());
        let result = call(ev, frame, &args[0], call_args)?;
        let written = match keep {
            Keep::Result => result.as_str(),
            Keep::ItemIf(passes) if passes(&result) => item,
            Keep::ItemIf(_) => continue,
        };
        if !first {
            push(out, &osep);
        }
        first = false;
        push(out, written);
    }
    Ok(())
}

fn filter(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    call_each(ev, frame, args, Keep::ItemIf(|r| r == "1"), out)
}

fn filterbool(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    call_each(ev, frame, args, Keep::ItemIf(truthy), out)
}

/// `fold(attr, list[, base[, sep]])`: `%0` the result so far (the base, else the first
/// item), `%1` the next item.
fn fold(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Some(sep) = isep(args, 3, out) else {
        return Ok(());
    };
    if !attr_present(ev, frame, &args[0])? {
        return Ok(());
    }
    let spec = args[0].as_str();
    let mut cur = Cursor::new(&args[1]);
    let (a0, a1) = match args.get(2) {
        Some(base) => (base.clone(), cur.token(&sep).unwrap_or("").to_string()),
        None => {
            let a0 = cur.token(&sep).unwrap_or("").to_string();
            (a0, cur.token(&sep).unwrap_or("").to_string())
        }
    };
    let mut acc = call(ev, frame, spec, vec![a0, a1])?;
    while cur.more() && !exhausted(ev) {
        let item = cur.token(&sep).unwrap_or("").to_string();
        acc = call(ev, frame, spec, vec![acc, item])?;
    }
    push(out, &acc);
    Ok(())
}

/// `step(attr, list, n[, sep[, osep]])`: the attribute with `n` items at a time as
/// `%0`...; a step outside 1..10 tells the executor `Illegal step size.`.
fn step(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Some(sep) = isep(args, 3, out) else {
        return Ok(());
    };
    let Some(osep) = osep(args, 4, &sep, out) else {
        return Ok(());
    };
    let size = to_i64(&args[2]);
    let size = match usize::try_from(size) {
        Ok(s) if (1..=ENV_VARS).contains(&s) => s,
        _ => {
            ev.emits
                .push(Emit::To(frame.executor, "Illegal step size.".into()));
            return Ok(());
        }
    };
    if !attr_present(ev, frame, &args[0])? {
        return Ok(());
    }
    let mut cur = Cursor::new(trim_sep(&args[1], &sep));
    let mut first = true;
    while cur.more() && !exhausted(ev) {
        if !first {
            push(out, &osep);
        }
        first = false;
        let mut call_args = Vec::with_capacity(size);
        while call_args.len() < size
            && let Some(item) = cur.token(&sep)
        {
            call_args.push(item.to_string());
        }
        let result = call(ev, frame, &args[0], call_args)?;
        push(out, &result);
    }
    Ok(())
}

/// `munge(attr, list1, list2[, sep])`: the attribute rearranges list1 (`%0`, with `%1`
/// the separator); each item of its result brings along the list2 item that stood at
/// the same place in list1.
fn munge(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Some(sep) = isep(args, 3, out) else {
        return Ok(());
    };
    if !attr_present(ev, frame, &args[0])? {
        return Ok(());
    }
    if items(&args[1], &sep).is_empty() {
        return Ok(());
    }
    let mut keys = Cursor::new(trim_sep(&args[1], &sep));
    let mut values = Cursor::new(trim_sep(&args[2], &sep));
    let mut pairs: Vec<Option<(&str, &str)>> = Vec::new();
    loop {
        match (keys.token(&sep), values.token(&sep)) {
            (Some(k), Some(v)) => pairs.push(Some((k, v))),
            (None, None) => break,
            _ => {
                push(out, "#-1 LISTS MUST BE OF EQUAL SIZE");
                return Ok(());
            }
        }
    }
    let result = call(ev, frame, &args[0], vec![args[1].clone(), sep.clone()])?;
    let mut picked: Vec<&str> = Vec::new();
    for item in items(&result, &sep) {
        let slot = pairs.iter_mut().find(|p| p.is_some_and(|(k, _)| k == item));
        if let Some(slot) = slot
            && let Some((_, v)) = slot.take()
        {
            picked.push(v);
        }
    }
    join_into(out, picked, &sep);
    Ok(())
}

// ---- matching ------------------------------------------------------------------------

fn grab(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Some(sep) = isep(args, 2, out) else {
        return Ok(());
    };
    if let Some(word) = tokens(&args[0], &sep)
        .into_iter()
        .find(|w| wild::matches(&args[1], w))
    {
        push(out, word);
    }
    Ok(())
}

fn graball(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Some(sep) = isep(args, 2, out) else {
        return Ok(());
    };
    let Some(osep) = osep(args, 3, &sep, out) else {
        return Ok(());
    };
    let hits = tokens(&args[0], &sep)
        .into_iter()
        .filter(|w| wild::matches(&args[1], w));
    join_into(out, hits, &osep);
    Ok(())
}

/// `match(list, pattern[, sep])`: the position of the first item the wildcard pattern
/// matches, or 0.
fn match_fn(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Some(sep) = isep(args, 2, out) else {
        return Ok(());
    };
    let pos = tokens(&args[0], &sep)
        .into_iter()
        .position(|w| wild::matches(&args[1], w))
        .map_or(0, |i| i + 1);
    push(out, &pos.to_string());
    Ok(())
}

/// `matchall(list, pattern[, sep])`: every matching position, space-separated, or 0.
fn matchall(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Some(sep) = isep(args, 2, out) else {
        return Ok(());
    };
    let hits: Vec<String> = tokens(&args[0], &sep)
        .into_iter()
        .enumerate()
        .filter(|(_, w)| wild::matches(&args[1], w))
        .map(|(i, _)| (i + 1).to_string())
        .collect();
    if hits.is_empty() {
        push_char(out, '0');
    } else {
        join_into(out, hits, " ");
    }
    Ok(())
}

/// `member(list, word[, sep])`: the position of the first item equal to the word
/// (case-sensitive), or 0.
fn member(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Some(sep) = isep(args, 2, out) else {
        return Ok(());
    };
    let pos = tokens(&args[0], &sep)
        .into_iter()
        .position(|w| w == args[1])
        .map_or(0, |i| i + 1);
    push(out, &pos.to_string());
    Ok(())
}

/// `splice(list1, list2, word[, sep[, osep]])`: list1 with each item equal to the word
/// replaced by list2's item at the same place.
fn splice(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Some(sep) = isep(args, 3, out) else {
        return Ok(());
    };
    let Some(osep) = osep(args, 4, &sep, out) else {
        return Ok(());
    };
    if items(&args[2], &sep).len() > 1 {
        push(out, "#-1 TOO MANY WORDS");
        return Ok(());
    }
    let count = items(&args[0], &sep).len();
    if count != items(&args[1], &sep).len() {
        push(out, "#-1 NUMBER OF WORDS MUST BE EQUAL");
        return Ok(());
    }
    let mut p = Cursor::new(&args[0]);
    let mut q = Cursor::new(&args[1]);
    let mut result: Vec<&str> = Vec::with_capacity(count);
    for _ in 0..count {
        let a = p.token(&sep).unwrap_or("");
        let b = q.token(&sep).unwrap_or("");
        result.push(if a == args[2] { b } else { a });
    }
    join_into(out, result, &osep);
    Ok(())
}

/// `wordpos(text, n[, sep])`: which item the n-th character falls in (a separator
/// belongs to the item after it); nothing when n is outside the text.
fn wordpos(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Some(sep) = isep(args, 2, out) else {
        return Ok(());
    };
    let text = args[0].as_str();
    let charpos = to_i64(&args[1]);
    let Some(at) = usize::try_from(charpos - 1)
        .ok()
        .filter(|_| charpos > 0)
        .and_then(|i| text.char_indices().nth(i))
        .map(|(byte, _)| byte)
    else {
        push(out, "#-1");
        return Ok(());
    };
    let mut cur = Cursor::new(trim_sep(text, &sep));
    let mut i = 1;
    while let Some(word) = cur.token(&sep) {
        if at < offset(text, word) + word.len() {
            break;
        }
        i += 1;
    }
    push(out, &i.to_string());
    Ok(())
}

/// `itemize(list[, sep[, conjunction[, punctuation]]])`: `a`, `a and b`, `a, b, and c`.
fn itemize(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Some(sep) = isep(args, 1, out) else {
        return Ok(());
    };
    let conj = args.get(2).map_or("and", String::as_str);
    let punc = args.get(3).map_or(",", String::as_str);
    let mut cur = Cursor::new(trim_sep(&args[0], &sep));
    let mut word = cur.token(&sep).unwrap_or("");
    let mut pos = 1;
    while cur.more_text() {
        pos += 1;
        push(out, word);
        let next = cur.token(&sep).unwrap_or("");
        if cur.more_text() {
            push(out, punc);
        } else {
            if pos >= 3 {
                push(out, punc);
            }
            push_char(out, ' ');
            push(out, conj);
        }
        push_char(out, ' ');
        word = next;
    }
    push(out, word);
    Ok(())
}

// ---- randomness ----------------------------------------------------------------------

/// `choose(list, weights[, sep])`: an item picked at random, each as likely as its weight.
fn choose(ev: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Some(sep) = isep(args, 2, out) else {
        return Ok(());
    };
    let list = items(&args[0], &sep);
    let weights = items(&args[1], " ");
    if list.len() != weights.len() {
        push(out, "#-1 LISTS MUST BE OF EQUAL SIZE");
        return Ok(());
    }
    let weights: Vec<u64> = weights
        .iter()
        .map(|w| to_i64(w).clamp(0, i64::from(i32::MAX)) as u64)
        .collect();
    let sum: u64 = weights.iter().sum();
    if sum == 0 {
        return Ok(());
    }
    let mut pick = ev.world.random(sum);
    for (item, w) in list.iter().zip(&weights) {
        if pick < *w {
            push(out, item);
            break;
        }
        pick -= w;
    }
    Ok(())
}

/// `pickrand(list[, sep])`: one item at random.
fn pickrand(ev: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    if args.first().is_none_or(|a| a.is_empty()) {
        return Ok(());
    }
    let Some(sep) = isep(args, 1, out) else {
        return Ok(());
    };
    let list = find_words(trim_sep(&args[0], &sep), &sep);
    if !list.is_empty() {
        let i = ev.world.random(list.len() as u64) as usize;
        push(out, list[i]);
    }
    Ok(())
}

/// `lrand(low, high, count[, osep])`: random integers in `low..=high`.
fn lrand(ev: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Some(sep) = osep(args, 3, " ", out) else {
        return Ok(());
    };
    let times = to_i64(&args[2]);
    if times < 1 {
        return Ok(());
    }
    let times = times.min(crate::eval::LBUF as i64 + 1);
    let (lo, hi) = (to_i64(&args[0]), to_i64(&args[1]));
    if lo > hi {
        return Ok(());
    }
    let span = (hi - lo) as u64 + 1;
    for i in 0..times {
        if i > 0 {
            push(out, &sep);
        }
        push(out, &(lo + ev.world.random(span) as i64).to_string());
        if out.len() >= crate::eval::LBUF {
            break;
        }
    }
    Ok(())
}

/// `shuffle(list[, sep[, osep]])`: the items in a random order.
fn shuffle(ev: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Some(sep) = isep(args, 1, out) else {
        return Ok(());
    };
    let Some(osep) = osep(args, 2, &sep, out) else {
        return Ok(());
    };
    let mut list = find_words(&args[0], &sep);
    for i in (1..list.len()).rev() {
        let j = ev.world.random(i as u64 + 1) as usize;
        list.swap(i, j);
    }
    join_into(out, list, &osep);
    Ok(())
}

/// `mix(obj/attr, list1, list2, ...[, sep])`: the attribute called with the lists' items
/// side by side; with more than two lists the last argument is the separator.
fn mix(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let (lists, sep) = if args.len() < 4 {
        (&args[1..], " ".to_string())
    } else {
        let Some(sep) = isep(args, args.len() - 1, out) else {
            return Ok(());
        };
        (&args[1..args.len() - 1], sep)
    };
    if !attr_present(ev, frame, &args[0])? {
        return Ok(());
    }
    let lists: Vec<Vec<&str>> = lists.iter().map(|l| items(l, &sep)).collect();
    let n = lists.iter().map(Vec::len).max().unwrap_or(0);
    for i in 0..n {
        if exhausted(ev) {
            break;
        }
        if i > 0 {
            push(out, &sep);
        }
        let call_args: Vec<String> = lists
            .iter()
            .map(|l| l.get(i).copied().unwrap_or("").to_string())
            .collect();
        let result = call(ev, frame, &args[0], call_args)?;
        push(out, &result);
    }
    Ok(())
}

/// `table(list[, width[, line[, delim[, sep[, padding]]]]])`: items in fixed-width
/// fields, as many as fit on a line.
fn table(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let one_char = |i: usize, what: &str, out: &mut String| -> Option<char> {
        match args.get(i).map(String::as_str) {
            None | Some("") => Some(' '),
            Some(t) if t.chars().count() == 1 => t.chars().next(),
            Some(_) => {
                push(out, &format!("#-1 {what} MUST BE ONE CHARACTER"));
                None
            }
        }
    };
    let padding: Vec<char> = match args.get(5) {
        Some(p) if !p.is_empty() => crate::functions::strings::strip(p).chars().collect(),
        _ => vec![' '],
    };
    let Some(separator) = one_char(4, "SEPARATOR", out) else {
        return Ok(());
    };
    let Some(delimiter) = one_char(3, "DELIMITER", out) else {
        return Ok(());
    };
    let line = args.get(2).map_or(78, |l| to_i64(l));
    let width = args.get(1).map_or(10, |w| to_i64(w));
    if line < 1 || line > crate::eval::LBUF as i64 || width < 1 || line < width {
        push(out, "#-1 OUT OF RANGE");
        return Ok(());
    }
    let (line, width) = (line as usize, width as usize);
    let per_line = line / width;
    let sep = delimiter.to_string();
    let list = items(&args[0], &sep);
    let mut col = per_line - 1;
    for (i, item) in list.iter().enumerate() {
        let text: String = crate::functions::strings::strip(item)
            .chars()
            .filter(|c| *c != '\t')
            .take(width)
            .collect();
        let len = text.chars().count();
        push(out, &text);
        let pad: String = padding.iter().cycle().take(width - len).collect();
        push(out, &pad);
        if i + 1 == list.len() {
            break;
        }
        if col == 0 {
            col = per_line - 1;
            push(out, "\r\n");
        } else {
            col -= 1;
            push_char(out, separator);
        }
    }
    Ok(())
}

/// `merge(a, b, c)`: `a` with each character `c` (a space if empty) replaced by the
/// character of `b` at the same place.
fn merge(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let target: Vec<char> = crate::functions::strings::strip(&args[2]).chars().collect();
    if target.len() > 1 {
        push(out, "#-1 TOO MANY CHARACTERS");
        return Ok(());
    }
    let target = target.first().copied().unwrap_or(' ');
    let a: Vec<char> = crate::functions::strings::strip(&args[0]).chars().collect();
    let b: Vec<char> = crate::functions::strings::strip(&args[1]).chars().collect();
    if a.len() != b.len() {
        push(out, "#-1 STRING LENGTHS MUST BE EQUAL");
        return Ok(());
    }
    let merged: String = a
        .iter()
        .zip(&b)
        .map(|(x, y)| if *x == target { *y } else { *x })
        .collect();
    push(out, &merged);
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::eval::{Emit, Eval, Frame, Limits};
    use crate::memory::MemoryWorld;
    use crate::world::{Attr, AttrFlags, World};

    fn run_with(attrs: &[(&str, &str)], cases: &[(&str, &str)]) {
        let mut w = MemoryWorld::new();
        for (name, value) in attrs {
            let attr = Attr {
                value: (*value).to_string(),
                owner: 1,
                flags: AttrFlags::default(),
            };
            assert!(w.set_attr(1, name, Some(attr)).is_ok());
        }
        for (code, want) in cases {
            let mut ev = Eval::new(&mut w, Limits::default());
            let frame = Frame {
                executor: 1,
                caller: 1,
                enactor: 1,
                args: &[],
            };
            let got = ev.eval_top(&frame, code);
            assert_eq!(got.as_deref(), Ok(*want), "{code}");
        }
    }

    fn run(cases: &[(&str, &str)]) {
        run_with(&[], cases);
    }

    #[test]
    fn counting_and_slicing() {
        run(&[
            ("[words(a b c)]", "3"),
            ("[words()]", "0"),
            ("[words(a|b||c,|)]", "4"),
            ("[first(a b c)]", "a"),
            ("[rest(a b c)]", "b c"),
            ("[rest(a|b|c,|)]", "b|c"),
            ("[last(a b c)]", "c"),
            ("[last(a|b|,|)]", ""),
            ("[extract(a b c d e,2,3)]", "b c d"),
            ("[extract(a b c,3,5)]", "c"),
            ("[extract(a b c,0,1)]", ""),
            ("[extract(a-b-c,1,2,-)]", "a-b"),
            ("[extract(a-b-c,1,2,-,@@)]", "ab"),
            ("[extract(a-b-c,1,2,-,)]", "a b"),
            ("[elements(ack bar eep foof yay,2 4)]", "bar foof"),
            ("[elements(a|b|c,3 1 9,|)]", "c|a"),
            ("[index(a b | c d e | f g h,|,2,1)]", "c d e"),
            ("[index(a b | c d e | f g h,|,2,2)]", "c d e | f g h"),
            ("[revwords(a b c)]", "c b a"),
            ("[revwords(a b c,,-)]", "c-b-a"),
        ]);
    }

    #[test]
    fn editing() {
        run(&[
            ("[ldelete(a b c d,2)]", "a c d"),
            ("[ldelete(a b c d,-1 1 1)]", "b c"),
            ("[replace(a b c,2,X)]", "a X c"),
            ("[insert(a b c,2,X)]", "a X b c"),
            ("[insert(a b c,4,X)]", "a b c X"),
            ("[insert(a b c,-1,X)]", "a b c X"),
            ("[insert(,1,X)]", "X"),
            ("[insert(,2,X)]", ""),
            ("[remove(a b a c,a)]", "b a c"),
            ("[remove(a b c,a b)]", "#-1 CAN ONLY REMOVE ONE ELEMENT"),
            ("[splice(a b c,x y z,b)]", "a y c"),
            ("[splice(a b c,x y,b)]", "#-1 NUMBER OF WORDS MUST BE EQUAL"),
        ]);
    }

    #[test]
    fn sorting_and_sets() {
        run(&[
            ("[sort(c a b)]", "a b c"),
            ("[sort(10 9 100)]", "9 10 100"),
            ("[sort(10 9 100,a)]", "10 100 9"),
            ("[sort(1.5 -2 1e1)]", "-2 1.5 1e1"),
            ("[sort(#10 #9 #100)]", "#9 #10 #100"),
            ("[sort(b A a B,i)]", "A a b B"),
            ("[sort(c|a|b,,|,-)]", "a-b-c"),
            ("[setunion(c a b a,d b)]", "a b c d"),
            ("[setunion(a,a)]", "a"),
            ("[setinter(a b c d,d b e)]", "b d"),
            ("[setdiff(a b c d,d b e)]", "a c"),
            ("[setunion(10 9,100,,,n)]", "9 10 100"),
            ("[setunion(10 9,100)]", "10 100 9"),
        ]);
    }

    #[test]
    fn numbers() {
        run(&[
            ("[lnum(3)]", "0 1 2"),
            ("[lnum(0)]", ""),
            ("[lnum(2,5)]", "2 3 4 5"),
            ("[lnum(3,1)]", "3 2 1"),
            ("[lnum(1,10,|,3)]", "1|4|7|10"),
            ("[lnum(1,3,@@)]", "123"),
            ("[ladd(1 2 3.5)]", "6.5"),
            ("[ladd(0.1 0.2)]", "0.3"),
            ("[ladd()]", "0"),
            ("[lmax(1 5 -3)]", "5"),
            ("[lmin(1|5|-3,|)]", "-3"),
        ]);
    }

    #[test]
    fn matching() {
        run(&[
            ("[match(foo bar baz,b*)]", "2"),
            ("[match(foo bar baz,q*)]", "0"),
            ("[match(,*)]", "1"),
            ("[matchall(foo bar baz,b*)]", "2 3"),
            ("[matchall(foo bar baz,x)]", "0"),
            ("[grab(Test:1 Ack:2 Foof:3,*:2)]", "Ack:2"),
            ("[grab(Test-1+Ack-2+Foof-3,*o*,+)]", "Foof-3"),
            ("[graball(Test:1 Ack:2 Foof:3,*o*)]", "Foof:3"),
            ("[graball(a1 b2 a3,a*,,|)]", "a1|a3"),
            ("[member(a b c,b)]", "2"),
            ("[member(a b c,B)]", "0"),
            ("[wordpos(foo bar baz,5)]", "2"),
            ("[wordpos(foo bar baz,4)]", "2"),
            ("[wordpos(foo bar baz,3)]", "1"),
            ("[wordpos(foo bar baz,20)]", "#-1"),
            ("[itemize(a)]", "a"),
            ("[itemize(a b)]", "a and b"),
            ("[itemize(a b c)]", "a, b, and c"),
            ("[itemize(a|b|c,|,or,;)]", "a; b; or c"),
        ]);
    }

    #[test]
    fn loops() {
        run(&[
            ("[iter(a b c,##)]", "a b c"),
            ("[iter(a b c,#@:##)]", "1:a 2:b 3:c"),
            ("[iter(a|b|c,##,|)]", "a b c"),
            ("[iter(a|b|c,##,|,-)]", "a-b-c"),
            ("[iter(a b,[ucstr(##)],,@@)]", "AB"),
            ("[iter(Was it a cat I saw,[words(##)] #@,s)]", "1 1 4 2 1 3"),
            ("[parse(a b,x##)]", "xa xb"),
            ("[iter(,##)]", ""),
            (
                "[iter(red blue,iter(x y,[itext(1)]:[itext(0)]))]",
                "red:x red:y blue:x blue:y",
            ),
            (
                "[iter(red blue,iter(x y,[inum(1)][inum(0)]))]",
                "11 12 21 22",
            ),
            ("[ilev()] [iter(a,[ilev()] [iter(b,ilev())])]", "-1 0 1"),
            ("[itext(0)][inum(0)]", ""),
        ]);
    }

    #[test]
    fn tinymux_corpus() {
        run(&[
            ("[extract(a%b%bb%b%bc%b%b,2,2,%b)]", "b c"),
            ("[strlen(extract(%b%b%b,1,1))]", "0"),
            ("[itemize(a|b|c|d,|,or)]", "a, b, c, or d"),
            ("[strlen(itemize(%b))]", "0"),
            ("[itemize(a b c,,or,;)]", "a; b; or c"),
            ("[elements(a%b%bb%b%bc%b%b,2 4 5,%b)]", "b"),
            ("[elements(b%b%b%b,1)]", "b"),
            ("[index(a: b :c,:,2,1)]", "b"),
            ("[index(a b c d,,2,2)]", "b c"),
            ("[index(a:b:c:d,:,3,99)]", "c:d"),
            ("[lnum(-2,2)]", "-2 -1 0 1 2"),
            ("[lnum(9,1,%b,3)]", "9 6 3"),
            ("[lnum(1,3,|,0)]", "1|2|3"),
            ("[ladd(1e20 1 -1e20)]", "1"),
            ("[ladd(1e16 1 -1e16)]", "1"),
            ("[ladd(1 foo 2)]", "3"),
            ("[ladd(,|)]", "0"),
            ("[setunion(,a b c)]", "a b c"),
            ("[setunion(2 10 1,3)]", "1 10 2 3"),
            ("[setunion(a b,c d,%b,-)]", "a-b-c-d"),
            ("[splice(x y x,1 2 3,x)]", "1 y 3"),
            ("[splice(a b,1 2,x y)]", "#-1 TOO MANY WORDS"),
            ("[splice(a|b|c,1|2|3,b,|,~)]", "a~2~c"),
            ("[ldelete(foo bar baz boing,3,,%b~%b)]", "foo ~ bar ~ boing"),
            (".[ldelete(%bThis is not a test,3)].", ".This is a test."),
            (".[iter(-1 0 1,ldelete(,##,|))].", ".  ."),
            (
                ".[iter(3 2 1 0 -1 -2 -3,ldelete(a|a,##,|))].",
                ".a|a a a a|a a a a|a.",
            ),
            (".[iter(0 -1,ldelete(%b,##))].", ". ."),
            ("[insert(|,1,Pear,|)]", "Pear||"),
            ("[insert(||,2,Pear,|)]", "|Pear||"),
            ("[insert(|,-1,Pear,|)]", "||Pear"),
            ("[insert(||,-2,Pear,|)]", "||Pear|"),
            ("[strlen(insert(,-2,Pear,|))]", "0"),
            ("[matchall(one two three,*o*)]", "1 2"),
            ("[iter(1 2,o #@)]", "o 1 o 2"),
            ("[iter(1 2,#@o)]", "1o 2o"),
        ]);
    }

    #[test]
    fn list_and_step_notify() {
        let mut w = MemoryWorld::new();
        let mut ev = Eval::new(&mut w, Limits::default());
        let frame = Frame {
            executor: 1,
            caller: 1,
            enactor: 1,
            args: &[],
        };
        assert_eq!(ev.eval_top(&frame, "[list(a b,#@:##)]").as_deref(), Ok(""));
        assert_eq!(ev.eval_top(&frame, "[step(x,a b,11)]").as_deref(), Ok(""));
        assert_eq!(
            ev.emits,
            vec![
                Emit::To(1, "1:a".into()),
                Emit::To(1, "2:b".into()),
                Emit::To(1, "Illegal step size.".into()),
            ]
        );
    }

    #[test]
    fn attribute_loops() {
        run_with(
            &[
                ("DOUBLE", "[mul(%0,2)]"),
                ("IS_ODD", "[mod(%0,2)]"),
                ("ADD", "[add(%0,%1)]"),
                ("CAT", "%0[repeat(%1,%1)]"),
                ("CMP", "[sub(%1,%0)]"),
                ("PAIR", "%0+%1"),
                ("REV", "[revwords(%0,%1)]"),
                ("WITH", "%0%1%2"),
            ],
            &[
                ("[map(double,1 2 3)]", "2 4 6"),
                ("[map(me/double,1-2-3,-)]", "2-4-6"),
                ("[map(with,a b,,,x,y)]", "axy bxy"),
                ("[map(nosuch,1 2 3)]", ""),
                ("[filter(is_odd,1 2 3 4 5)]", "1 3 5"),
                ("[filter(is_odd,1-2-3-4-5,-)]", "1-3-5"),
                ("[filterbool(is_odd,1 2 3)]", "1 3"),
                ("[fold(add,1 2 3 4 5)]", "15"),
                ("[fold(cat,1 2 3,->)]", "->122333"),
                ("[sortby(cmp,1 3 2)]", "3 2 1"),
                ("[step(pair,a b c d e,2)]", "a+b c+d e+"),
                ("[munge(rev,a b c,1 2 3)]", "3 2 1"),
                ("[munge(rev,a b c,1 2)]", "#-1 LISTS MUST BE OF EQUAL SIZE"),
            ],
        );
    }
}
