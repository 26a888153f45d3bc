//! Objects and attributes: `u()`, `get()`, `name()`, `lcon()`, ... and the side effects
//! `pemit()` and `set()`.

use super::{Func, bool_str, f, items, lazy, to_i64};
use crate::eval::{Emit, Eval, Frame, R, dbref, push};
use crate::wild;
use crate::world::{Attr, AttrFlags, Change, Dbref, Kind, NOTHING, Object, Search};
use std::sync::Arc;

/// The object and attribute family.
pub const FUNCS: &[Func] = &[
    f("U", 1, super::MAX_ARGS, u),
    f("UFUN", 1, super::MAX_ARGS, u),
    f("ULOCAL", 1, super::MAX_ARGS, ulocal),
    f("V", 1, 1, v),
    f("GET", 1, 1, get),
    f("XGET", 2, 2, xget),
    f("GET_EVAL", 1, 1, get_eval),
    f("EVAL", 1, 2, eval),
    f("S", 1, 1, s),
    lazy("DEFAULT", 2, 2, default),
    lazy("EDEFAULT", 2, 2, edefault),
    lazy("UDEFAULT", 2, super::MAX_ARGS, udefault),
    f("HASATTR", 2, 2, hasattr),
    f("HASATTRP", 2, 2, hasattrp),
    super::strict("LATTR", 1, 1, lattr),
    super::strict("LATTRP", 1, 1, lattrp),
    f("NATTR", 1, 1, nattr),
    f("ATTRCNT", 1, 1, nattr),
    f("NAME", 1, 2, name),
    f("MONIKER", 1, 1, name),
    f("LPARENT", 1, 1, lparent),
    lazy("OBJEVAL", 2, 2, objeval),
    f("VISIBLE", 2, 2, visible),
    f("FINDABLE", 2, 2, visible),
    f("INZONE", 1, 1, inzone),
    f("ZWHO", 1, 1, inzone),
    f("MONEY", 1, 1, money),
    f("OBJMEM", 1, 1, objmem),
    f("ZFUN", 1, super::MAX_ARGS, zfun),
    f("FULLNAME", 1, 1, fullname),
    f("NUM", 1, 1, num),
    f("LOC", 1, 1, loc),
    f("WHERE", 1, 1, loc),
    f("ROOM", 1, 1, room),
    f("OWNER", 1, 1, owner),
    f("TYPE", 1, 1, kind),
    f("FLAGS", 1, 1, flags),
    f("HASFLAG", 2, 2, hasflag),
    f("HASTYPE", 2, 2, hastype),
    f("HASPOWER", 2, 2, haspower),
    f("POWERS", 1, 1, powers),
    f("PARENT", 1, 1, parent),
    f("ZONE", 1, 1, zone),
    f("CHILDREN", 1, 1, children),
    f("LCON", 1, 2, lcon),
    f("LEXITS", 1, 1, lexits),
    f("CON", 1, 1, con),
    f("EXIT", 1, 1, exit),
    f("NEXT", 1, 1, next),
    f("HOME", 1, 1, home),
    f("CONTROLS", 2, 2, controls_fn),
    f("LOCATE", 3, 3, locate),
    f("PMATCH", 1, 1, pmatch),
    f("ISDBREF", 0, 1, isdbref),
    f("FDEPTH", 0, 0, fdepth),
    f("LSEARCH", 1, 5, lsearch),
    f("SEARCH", 0, 1, search),
    f("NEARBY", 2, 2, nearby),
    f("PEMIT", 2, 2, pemit),
    f("EMIT", 1, 1, emit),
    f("REMIT", 2, 2, remit),
    f("OEMIT", 2, 2, oemit),
    f("SET", 2, 2, set),
    f("CREATE", 2, 3, create),
    f("RAND", 1, 2, rand),
    f("DIE", 2, 3, die),
    f("LWHO", 0, 1, lwho),
    f("CONN", 1, 1, conn),
    f("IDLE", 1, 1, idle),
    f("DOING", 1, 1, doing),
    f("NUMVERSION", 0, 0, numversion),
    f("VERSION", 0, 0, version),
    f("MUDNAME", 0, 0, mudname),
];

type Args<'a> = &'a [String];
type Out<'a> = &'a mut String;

/// How deep parent chains are followed (TinyMUX `parent_nest_limit`).
pub const PARENT_DEPTH: usize = 10;

/// The number in `#12` (or `12`), NOTHING when it is not one.
pub fn dbref_num(text: &str) -> Dbref {
    let t = text.trim();
    match t.strip_prefix('#') {
        Some(n)
            if !n.is_empty()
                && n.trim_start_matches('-')
                    .bytes()
                    .all(|b| b.is_ascii_digit()) =>
        {
            n.parse().unwrap_or(NOTHING)
        }
        _ => NOTHING,
    }
}

/// True when `who` is a wizard (God is one).
pub fn is_wizard(ev: &mut Eval<'_>, who: Dbref) -> R<bool> {
    if who == 1 {
        return Ok(true);
    }
    Ok(match ev.world.object(who)? {
        // An object has its owner's powers only when it is INHERIT (TinyMUX's rule), so a
        // wizard's ordinary objects cannot be made to run code with wizard rights.
        Some(o) => {
            o.has_flag("WIZARD")
                || (o.has_flag("INHERIT")
                    && ev
                        .world
                        .object(o.owner)?
                        .is_some_and(|w| w.has_flag("WIZARD")))
        }
        None => false,
    })
}

/// Who owns what `who` makes or queues: a player itself, anything else its owner (an
/// object gone: itself).
pub fn owner_of(ev: &mut Eval<'_>, who: Dbref) -> R<Dbref> {
    Ok(match ev.world.object(who)? {
        Some(o) if o.kind == Kind::Player => o.id,
        Some(o) => o.owner,
        None => who,
    })
}

/// The room `who` stands in (itself, if it is one).
pub fn room_of(ev: &mut Eval<'_>, who: Dbref) -> R<Dbref> {
    Ok(match ev.world.object(who)? {
        Some(o) if o.kind == Kind::Room => o.id,
        Some(o) => o.location,
        None => NOTHING,
    })
}

/// `Name(#n)`, as TinyMUX's ownership, link and destroy messages name objects (an exit
/// with all its names).
pub fn named(ev: &mut Eval<'_>, id: Dbref) -> R<String> {
    Ok(match ev.world.object(id)? {
        Some(o) if o.kind == Kind::Exit => format!("{}(#{id})", o.name),
        Some(o) => format!("{}(#{id})", display_name(&o)),
        None => format!("*NOTHING*(#{id})"),
    })
}

/// True when `who` may change `what` (wizards and holders of the `control_all` power,
/// owners, and objects of the same owner); no one but God controls God.
pub fn controls(ev: &mut Eval<'_>, who: Dbref, what: Dbref) -> R<bool> {
    if crate::powers::control_all(ev, who)? {
        return Ok(what != crate::powers::GOD || who == crate::powers::GOD);
    }
    let (Some(a), Some(b)) = (ev.world.object(who)?, ev.world.object(what)?) else {
        return Ok(false);
    };
    if b.kind == Kind::Player && b.id != a.id && !a.has_flag("WIZARD") {
        return Ok(false);
    }
    Ok(a.owner == b.owner || a.id == b.owner)
}

/// An attribute on `id` or, unless marked no_inherit (on the parent's copy or, with
/// `@attribute/access`, on the name), on its parents.
pub fn inherited(ev: &mut Eval<'_>, id: Dbref, name: &str) -> R<Option<Attr>> {
    let name_private = crate::attrdef::flags_of(ev, name)? & crate::attrdef::flag::NO_INHERIT != 0;
    let mut current = id;
    for depth in 0..=PARENT_DEPTH {
        let Some(obj) = ev.world.object(current)? else {
            return Ok(None);
        };
        if let Some(attr) = ev.world.attr(current, name)?
            && (depth == 0 || !attr.flags.has(AttrFlags::NO_INHERIT))
        {
            return Ok(Some(attr));
        }
        if obj.parent == NOTHING || name_private {
            return Ok(None);
        }
        current = obj.parent;
    }
    Ok(None)
}

/// True when `who` may read the attribute `name` on `obj` (TinyMUX's `bCanReadAttr`):
/// anyone a visual one; wizards and royalty all but dark ones (God those too); those who
/// may examine `obj` or own the attribute all but dark and hidden ones; no one an
/// internal one. The flags are the copy's and the name's (`@attribute/access`).
pub fn can_read(ev: &mut Eval<'_>, who: Dbref, obj: Dbref, name: &str, attr: &Attr) -> R<bool> {
    use crate::attrdef::flag;
    let test = crate::attrdef::combined(ev, name, attr.flags)?;
    if test & flag::VISUAL != 0 {
        return Ok(true);
    }
    let deny = if crate::powers::wiz_roy(ev, who)? {
        if who == crate::powers::GOD {
            flag::INTERNAL
        } else {
            flag::INTERNAL | flag::DARK
        }
    } else if owner_of(ev, who)? == attr.owner || crate::powers::examinable(ev, who, obj)? {
        flag::INTERNAL | flag::DARK | flag::HIDDEN
    } else {
        return Ok(false);
    };
    Ok(test & deny == 0)
}

/// Where a command looks for what it was given (TinyMUX's `match_*` calls): only these
/// places count, and `#12` matches anywhere only with `absolute`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    /// `me`.
    pub me: bool,
    /// `here`.
    pub here: bool,
    /// What the looker carries.
    pub possession: bool,
    /// What is in the looker's place (the looker too).
    pub neighbor: bool,
    /// The exits of the looker's place.
    pub exit: bool,
    /// `#12` anywhere.
    pub absolute: bool,
    /// `*player` anywhere.
    pub player: bool,
}

/// Finds an object as [`resolve`] does, but only where `scope` says: names and `#12`
/// among the places it names, `#12` and `*player` anywhere only when it allows.
pub fn resolve_in(
    ev: &mut Eval<'_>,
    looker: Dbref,
    text: &str,
    scope: Scope,
) -> R<Result<Dbref, &'static str>> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(Err("#-1 NO MATCH"));
    }
    let lower = t.to_lowercase();
    let here = room_of(ev, looker)?;
    if scope.me && lower == "me" {
        return Ok(Ok(looker));
    }
    if scope.here && lower == "here" && here != NOTHING {
        return Ok(Ok(here));
    }
    let mut candidates: Vec<Dbref> = Vec::new();
    if scope.possession {
        candidates.extend(ev.world.contents(looker)?);
    }
    if here != NOTHING {
        if scope.neighbor {
            candidates.extend(ev.world.contents(here)?);
        }
        if scope.exit {
            candidates.extend(ev.world.exits(here)?);
        }
    }
    if t.starts_with('#') {
        let n = dbref_num(t);
        let known = ev.world.object(n)?.is_some();
        let listed = candidates.contains(&n)
            || (scope.me && n == looker)
            || (scope.here && n == here && here != NOTHING);
        return Ok(if known && (scope.absolute || listed) {
            Ok(n)
        } else {
            Err("#-1 NO MATCH")
        });
    }
    if let Some(name) = t.strip_prefix('*') {
        if !scope.player {
            return Ok(Err("#-1 NO MATCH"));
        }
        return Ok(match ev.world.player_named(name.trim())? {
            Some(p) => Ok(p),
            None => Err("#-1 NO MATCH"),
        });
    }
    let (exact, partial) = matches_among(ev, candidates, &lower)?;
    Ok(verdict(&exact, &partial))
}

/// True when `id` is within reach of `looker` without the `long_fingers` power: the
/// looker, its place, what it carries, what is in its place, the exits there.
pub fn within_reach(ev: &mut Eval<'_>, looker: Dbref, id: Dbref) -> R<bool> {
    if id == looker {
        return Ok(true);
    }
    let here = room_of(ev, looker)?;
    let location = ev.world.object(looker)?.map_or(NOTHING, |o| o.location);
    if id == here || id == location || ev.world.contents(looker)?.contains(&id) {
        return Ok(true);
    }
    if location == NOTHING {
        return Ok(false);
    }
    Ok(ev.world.contents(location)?.contains(&id) || ev.world.exits(location)?.contains(&id))
}

/// Finds an object by what a player would type: `me`, `here`, `#12`, `*player`, or the
/// name of something the looker holds, is near, or an exit of its room.
pub fn resolve(ev: &mut Eval<'_>, looker: Dbref, text: &str) -> R<Result<Dbref, &'static str>> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(Err("#-1 NO MATCH"));
    }
    let lower = t.to_lowercase();
    if lower == "me" {
        return Ok(Ok(looker));
    }
    if lower == "here" {
        return Ok(match ev.world.object(looker)? {
            Some(o) if o.kind == Kind::Room => Ok(looker),
            Some(o) => Ok(o.location),
            None => Err("#-1 NO MATCH"),
        });
    }
    if t.starts_with('#') {
        let n = dbref_num(t);
        return Ok(match ev.world.object(n)? {
            Some(_) => Ok(n),
            None => Err("#-1 NO MATCH"),
        });
    }
    if let Some(name) = t.strip_prefix('*') {
        return Ok(match ev.world.player_named(name.trim())? {
            Some(p) => Ok(p),
            None => Err("#-1 NO MATCH"),
        });
    }
    let here = match ev.world.object(looker)? {
        Some(o) => o.location,
        None => NOTHING,
    };
    let mut candidates: Vec<Dbref> = ev.world.contents(looker)?;
    if here != NOTHING {
        candidates.extend(ev.world.contents(here)?);
        candidates.extend(ev.world.exits(here)?);
    }
    // One's own name matches too (TinyMUX lists the looker among its neighbours).
    let (mut exact, mut partial) = matches_among(ev, candidates, &lower)?;
    // Last, the container one stands in, by its name (`@lock/leave Box` from inside Box).
    if exact.is_empty()
        && partial.is_empty()
        && here != NOTHING
        && let Some(container) = ev.world.object(here)?
        && container.kind != Kind::Room
        && name_matches(&container, &lower, &mut partial)
    {
        exact.push(here);
    }
    Ok(verdict(&exact, &partial))
}

/// One exact match wins, else one partial match; more than one is ambiguous.
fn verdict(exact: &[Dbref], partial: &[Dbref]) -> Result<Dbref, &'static str> {
    match (exact, partial) {
        ([one], _) => Ok(*one),
        ([_, _, ..], _) => Err("#-2 AMBIGUOUS MATCH"),
        ([], [one]) => Ok(*one),
        ([], []) => Err("#-1 NO MATCH"),
        _ => Err("#-2 AMBIGUOUS MATCH"),
    }
}

/// The candidates whose name matches `lower` exactly, and those it matches a word-prefix
/// of, each without repeats.
fn matches_among(
    ev: &mut Eval<'_>,
    candidates: Vec<Dbref>,
    lower: &str,
) -> R<(Vec<Dbref>, Vec<Dbref>)> {
    let mut partial: Vec<Dbref> = Vec::new();
    let mut exact: Vec<Dbref> = Vec::new();
    for id in candidates {
        let Some(obj) = ev.world.object(id)? else {
            continue;
        };
        if name_matches(&obj, lower, &mut partial) {
            exact.push(id);
        }
    }
    exact.dedup();
    partial.dedup();
    Ok((exact, partial))
}

/// True on an exact match; records a partial (word-prefix) match in `partial`.
fn name_matches(obj: &Object, lower: &str, partial: &mut Vec<Dbref>) -> bool {
    if obj.kind == Kind::Exit {
        return obj
            .name
            .split(';')
            .any(|alias| alias.trim().to_lowercase() == lower);
    }
    let name = obj.name.to_lowercase();
    if name == lower {
        return true;
    }
    if name.split(' ').any(|w| w.starts_with(lower)) {
        partial.push(obj.id);
    }
    false
}

/// Resolves an argument to an object, writing TinyMUX's error when it is none.
fn thing(
    ev: &mut Eval<'_>,
    frame: &Frame<'_>,
    text: &str,
    out: &mut String,
) -> R<Option<Arc<Object>>> {
    match resolve(ev, frame.executor, text)? {
        Ok(id) => Ok(ev.world.object(id)?),
        Err(_) => {
            push(out, "#-1 NOT FOUND");
            Ok(None)
        }
    }
}

/// Splits `obj/attr`; without a slash the attribute is on `default_obj`.
fn split_spec<'a>(spec: &'a str, default_obj: &'a str) -> (&'a str, String) {
    match spec.split_once('/') {
        Some((o, a)) => (o, a.trim().to_ascii_uppercase()),
        None => (default_obj, spec.trim().to_ascii_uppercase()),
    }
}

/// Calls `obj/attr` (or `attr` on the executor) as `u()` does, with `%0`-`%9` = `args`.
pub fn call_attr(
    ev: &mut Eval<'_>,
    frame: &Frame<'_>,
    spec: &str,
    args: Vec<String>,
    out: &mut String,
) -> R {
    let (obj_text, attr_name) = split_spec(spec, "me");
    let Ok(obj) = resolve(ev, frame.executor, obj_text)? else {
        return Ok(());
    };
    let attr_name = canonical(&attr_name);
    let Some(attr) = inherited(ev, obj, &attr_name)? else {
        return Ok(());
    };
    if !can_read(ev, frame.executor, obj, &attr_name, &attr)? {
        push(out, "#-1 PERMISSION DENIED");
        return Ok(());
    }
    if attr.flags.has(AttrFlags::NO_EVAL) {
        push(out, &attr.value);
        return Ok(());
    }
    let inner = Frame {
        executor: obj,
        caller: frame.executor,
        enactor: frame.enactor,
        args: &args,
    };
    let mut buf = String::new();
    if let Some(result) = ev.in_ufun(out, |ev| ev.eval_attr(&inner, &attr.value, &mut buf)) {
        result?;
        push(out, &buf);
    }
    Ok(())
}

fn u(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    call_attr(ev, frame, &args[0], args[1..].to_vec(), out)
}

fn ulocal(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let saved = ev.regs.clone();
    let result = call_attr(ev, frame, &args[0], args[1..].to_vec(), out);
    ev.regs = saved;
    result
}

fn v(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let name = args[0].trim();
    if name.len() == 1
        && let Some(c) = name.chars().next()
    {
        // `v(0)`-`v(9)` are the arguments; any other single character is that
        // substitution, as TinyMUX has it (`v(n)` is `%n`, the enactor's name).
        if let Some(d) = c.to_digit(10) {
            if let Some(a) = frame.args.get(d as usize) {
                push(out, a);
            }
        } else {
            ev.subst(frame, &format!("%{c}"), out)?;
        }
        return Ok(());
    }
    if let Some(attr) = inherited(ev, frame.executor, &name.to_ascii_uppercase())? {
        push(out, &attr.value);
    }
    Ok(())
}

/// TinyMUX's built-in attribute aliases (`DESC` is `DESCRIBE`).
pub fn canonical(name: &str) -> String {
    match name {
        "DESC" => "DESCRIBE",
        "SUCC" => "SUCCESS",
        "OSUCC" => "OSUCCESS",
        "ASUCC" => "ASUCCESS",
        "ODESC" => "ODESCRIBE",
        "ADESC" => "ADESCRIBE",
        other => other,
    }
    .to_string()
}

/// Reads `obj/attr` for `get()` and friends, with TinyMUX's errors.
fn read(
    ev: &mut Eval<'_>,
    frame: &Frame<'_>,
    obj_text: &str,
    attr_name: &str,
    out: &mut String,
) -> R<Option<(Dbref, Attr)>> {
    let obj = match resolve(ev, frame.executor, obj_text)? {
        Ok(id) => id,
        Err(_) => {
            push(out, "#-1 NO MATCH");
            return Ok(None);
        }
    };
    if attr_name.is_empty() {
        return Ok(None);
    }
    let attr_name = canonical(attr_name);
    let Some(attr) = inherited(ev, obj, &attr_name)? else {
        return Ok(None);
    };
    if !can_read(ev, frame.executor, obj, &attr_name, &attr)? {
        push(out, "#-1 PERMISSION DENIED");
        return Ok(None);
    }
    Ok(Some((obj, attr)))
}

fn get(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Some((o, a)) = args[0].split_once('/') else {
        push(out, "#-1 NO MATCH");
        return Ok(());
    };
    if a.trim().is_empty() {
        return Ok(());
    }
    if let Some((_, attr)) = read(ev, frame, o, &a.trim().to_ascii_uppercase(), out)? {
        push(out, &attr.value);
    }
    Ok(())
}

fn xget(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    if let Some((_, attr)) = read(
        ev,
        frame,
        &args[0],
        &args[1].trim().to_ascii_uppercase(),
        out,
    )? {
        push(out, &attr.value);
    }
    Ok(())
}

fn get_eval(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Some((o, a)) = args[0].split_once('/') else {
        push(out, "#-1 BAD ARGUMENT FORMAT TO GET_EVAL");
        return Ok(());
    };
    if let Some((obj, attr)) = read(ev, frame, o, &a.trim().to_ascii_uppercase(), out)? {
        let inner = Frame {
            executor: obj,
            caller: frame.executor,
            enactor: frame.enactor,
            args: &[],
        };
        limited_eval(ev, &inner, &attr.value, out)?;
    }
    Ok(())
}

/// Evaluates text one recursion level deeper: `eval()`, `get_eval()`, `s()`, `edefault()`
/// and `objeval()` can recurse as `u()` can, so they count against the same limit.
fn limited_eval(ev: &mut Eval<'_>, frame: &Frame<'_>, text: &str, out: &mut String) -> R {
    let mut buf = String::new();
    if let Some(result) = ev.in_ufun(out, |ev| ev.eval_attr(frame, text, &mut buf)) {
        result?;
        push(out, &buf);
    }
    Ok(())
}

fn eval(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    if args.len() == 2 {
        let spec = format!("{}/{}", args[0], args[1]);
        return get_eval(ev, frame, &[spec], out);
    }
    s(ev, frame, args, out)
}

fn s(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    limited_eval(ev, frame, &args[0], out)
}

fn default(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let spec = ev.eval_arg(frame, &args[0])?;
    if let Some((o, a)) = spec.split_once('/') {
        let mut scratch = String::new();
        if let Some((_, attr)) = read(ev, frame, o, &a.trim().to_ascii_uppercase(), &mut scratch)?
            && !attr.value.is_empty()
        {
            push(out, &attr.value);
            return Ok(());
        }
    }
    let text = ev.eval_arg(frame, &args[1])?;
    push(out, &text);
    Ok(())
}

fn edefault(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let spec = ev.eval_arg(frame, &args[0])?;
    if let Some((o, a)) = spec.split_once('/') {
        let mut scratch = String::new();
        if let Some((obj, attr)) = read(ev, frame, o, &a.trim().to_ascii_uppercase(), &mut scratch)?
            && !attr.value.is_empty()
        {
            let inner = Frame {
                executor: obj,
                caller: frame.executor,
                enactor: frame.enactor,
                args: &[],
            };
            return limited_eval(ev, &inner, &attr.value, out);
        }
    }
    let text = ev.eval_arg(frame, &args[1])?;
    push(out, &text);
    Ok(())
}

fn udefault(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let spec = ev.eval_arg(frame, &args[0])?;
    let (o, a) = split_spec(&spec, "me");
    let mut scratch = String::new();
    let found = match resolve(ev, frame.executor, o)? {
        Ok(_) => read(ev, frame, o, &a, &mut scratch)?.filter(|(_, attr)| !attr.value.is_empty()),
        Err(_) => None,
    };
    if found.is_some() {
        let mut call_args = Vec::new();
        for raw in &args[2..] {
            call_args.push(ev.eval_arg(frame, raw)?);
        }
        return call_attr(ev, frame, &spec, call_args, out);
    }
    let text = ev.eval_arg(frame, &args[1])?;
    push(out, &text);
    Ok(())
}

fn hasattr_impl(
    ev: &mut Eval<'_>,
    frame: &Frame<'_>,
    args: Args<'_>,
    out: Out<'_>,
    parents: bool,
) -> R {
    let Some(obj) = thing(ev, frame, &args[0], out)? else {
        return Ok(());
    };
    let name = args[1].trim().to_ascii_uppercase();
    let attr = if parents {
        inherited(ev, obj.id, &name)?
    } else {
        ev.world.attr(obj.id, &name)?
    };
    let visible = match attr {
        Some(attr) => can_read(ev, frame.executor, obj.id, &name, &attr)?,
        None => false,
    };
    push(out, bool_str(visible));
    Ok(())
}

fn hasattr(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    hasattr_impl(ev, frame, args, out, false)
}

fn hasattrp(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    hasattr_impl(ev, frame, args, out, true)
}

fn visible_attrs(
    ev: &mut Eval<'_>,
    frame: &Frame<'_>,
    obj: Dbref,
    pattern: &str,
) -> R<Vec<String>> {
    let mut names = Vec::new();
    // Objects made in play carry their creation and modification times as attributes,
    // which TinyMUX lists first.
    if ev.world.object(obj)?.is_some_and(|o| o.created != 0) {
        for stamp in ["Created", "Modified"] {
            if wild::matches(pattern, stamp) {
                names.push(stamp.to_string());
            }
        }
    }
    for name in ev.world.attr_names(obj)? {
        // Locks are attributes, but TinyMUX does not list them.
        if !wild::matches(pattern, &name) || crate::lock::lock_display(&name).is_some() {
            continue;
        }
        if let Some(attr) = ev.world.attr(obj, &name)?
            && can_read(ev, frame.executor, obj, &name, &attr)?
        {
            names.push(name);
        }
    }
    Ok(names)
}

fn lattr(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let (o, pattern) = match args[0].split_once('/') {
        Some((o, p)) => (o, p.trim()),
        None => (args[0].as_str(), "*"),
    };
    let Ok(id) = resolve(ev, frame.executor, o)? else {
        push(out, "#-1 NO MATCH");
        return Ok(());
    };
    let Some(obj) = ev.world.object(id)? else {
        return Ok(());
    };
    let names = visible_attrs(ev, frame, obj.id, pattern)?;
    super::join_into(out, names, " ");
    Ok(())
}

fn lattrp(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let (o, pattern) = match args[0].split_once('/') {
        Some((o, p)) => (o, p.trim()),
        None => (args[0].as_str(), "*"),
    };
    let Some(obj) = thing(ev, frame, o, out)? else {
        return Ok(());
    };
    let mut names = visible_attrs(ev, frame, obj.id, pattern)?;
    let mut current = obj.parent;
    for _ in 0..PARENT_DEPTH {
        let Some(p) = ev.world.object(current)? else {
            break;
        };
        for name in ev.world.attr_names(p.id)? {
            if names.contains(&name) || !wild::matches(pattern, &name) {
                continue;
            }
            if let Some(attr) = ev.world.attr(p.id, &name)?
                && crate::attrdef::combined(ev, &name, attr.flags)?
                    & crate::attrdef::flag::NO_INHERIT
                    == 0
                && can_read(ev, frame.executor, p.id, &name, &attr)?
            {
                names.push(name);
            }
        }
        current = p.parent;
    }
    super::join_into(out, names, " ");
    Ok(())
}

fn lparent(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Some(obj) = thing(ev, frame, &args[0], out)? else {
        return Ok(());
    };
    let mut chain = vec![obj.id];
    let mut current = obj.parent;
    for _ in 0..PARENT_DEPTH {
        let Some(p) = ev.world.object(current)? else {
            break;
        };
        chain.push(p.id);
        current = p.parent;
    }
    dbref_list(out, &chain);
    Ok(())
}

fn objeval(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let target = ev.eval_arg(frame, &args[0])?;
    let Some(obj) = thing(ev, frame, &target, out)? else {
        return Ok(());
    };
    let who = if controls(ev, frame.executor, obj.id)? {
        obj.id
    } else {
        frame.executor
    };
    let inner = Frame {
        executor: who,
        caller: frame.executor,
        enactor: frame.enactor,
        args: frame.args,
    };
    let mut buf = String::new();
    let text = ev.eval_arg(&inner, &args[1])?;
    buf.push_str(&text);
    push(out, &buf);
    Ok(())
}

fn visible(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Ok(a) = resolve(ev, frame.executor, &args[0])? else {
        push(out, "0");
        return Ok(());
    };
    let Ok(b) = resolve(ev, frame.executor, &args[1])? else {
        push(out, "0");
        return Ok(());
    };
    // TinyMUX's Examinable: VISUAL, the same owner, or the see_all power.
    let yes = controls(ev, a, b)? || crate::powers::examinable(ev, a, b)?;
    push(out, bool_str(yes));
    Ok(())
}

fn inzone(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Some(zone) = thing(ev, frame, &args[0], out)? else {
        return Ok(());
    };
    let ids = ev.world.search(&Search {
        zone: Some(zone.id),
        kind: Some(Kind::Room),
        ..Search::default()
    })?;
    dbref_list(out, &ids);
    Ok(())
}

fn money(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    if let Some(obj) = thing(ev, frame, &args[0], out)? {
        push(
            out,
            if obj.kind == Kind::Player {
                "1000"
            } else {
                "1"
            },
        );
    }
    Ok(())
}

fn objmem(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Some(obj) = thing(ev, frame, &args[0], out)? else {
        return Ok(());
    };
    let mut size = obj.name.len() + std::mem::size_of::<crate::world::Object>();
    for name in ev.world.attr_names(obj.id)? {
        size += name.len() + ev.world.attr(obj.id, &name)?.map_or(0, |a| a.value.len());
    }
    push(out, &size.to_string());
    Ok(())
}

fn zfun(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let zone = ev
        .world
        .object(frame.executor)?
        .map(|o| o.zone)
        .unwrap_or(NOTHING);
    if ev.world.object(zone)?.is_none() {
        push(out, "#-1 INVALID ZONE");
        return Ok(());
    }
    let spec = format!("#{zone}/{}", args[0].trim());
    call_attr(ev, frame, &spec, args[1..].to_vec(), out)
}

fn nattr(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Some(obj) = thing(ev, frame, &args[0], out)? else {
        return Ok(());
    };
    let n = visible_attrs(ev, frame, obj.id, "*")?.len();
    push(out, &n.to_string());
    Ok(())
}

/// The name an object shows: exits show their first alias.
pub fn display_name(obj: &Object) -> &str {
    if obj.kind == Kind::Exit {
        obj.name.split(';').next().unwrap_or("")
    } else {
        &obj.name
    }
}

fn name(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Some(arg) = args.first() else {
        return Ok(());
    };
    if let Some(obj) = thing(ev, frame, arg, out)? {
        push(out, display_name(&obj));
    }
    Ok(())
}

fn fullname(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    if let Some(obj) = thing(ev, frame, &args[0], out)? {
        push(out, &obj.name);
    }
    Ok(())
}

fn num(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    match resolve(ev, frame.executor, &args[0])? {
        Ok(id) => push(out, &dbref(id)),
        Err(error) => push(out, error.split(' ').next().unwrap_or("#-1")),
    }
    Ok(())
}

/// Writes one dbref field of an object, or the match error.
fn field(
    ev: &mut Eval<'_>,
    frame: &Frame<'_>,
    arg: &str,
    out: &mut String,
    pick: fn(&Object) -> Dbref,
) -> R {
    if let Some(obj) = thing(ev, frame, arg, out)? {
        push(out, &dbref(pick(&obj)));
    }
    Ok(())
}

/// Where something is; an exit's `loc()` is where it leads, as in TinyMUX.
fn loc(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    field(ev, frame, &args[0], out, |o| match o.kind {
        Kind::Room => NOTHING,
        Kind::Exit => o.link,
        _ => o.location,
    })
}

fn room(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Some(obj) = thing(ev, frame, &args[0], out)? else {
        return Ok(());
    };
    let mut current = obj;
    for _ in 0..20 {
        if current.kind == Kind::Room {
            push(out, &dbref(current.id));
            return Ok(());
        }
        match ev.world.object(current.location)? {
            Some(next) => current = next,
            None => break,
        }
    }
    push(out, "#-1");
    Ok(())
}

fn owner(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    if let Some((o, a)) = args[0].split_once('/') {
        if let Some((_, attr)) = read(ev, frame, o, &a.trim().to_ascii_uppercase(), out)? {
            push(out, &dbref(attr.owner));
        }
        return Ok(());
    }
    field(ev, frame, &args[0], out, |o| o.owner)
}

fn kind(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    if let Some(obj) = thing(ev, frame, &args[0], out)? {
        push(out, obj.kind.name());
    }
    Ok(())
}

/// Flags with the letters `flags()` shows, in TinyMUX's order.
pub const FLAG_LETTERS: &[(&str, char)] = &[
    ("TRANSPARENT", 't'),
    ("WIZARD", 'W'),
    ("LINK_OK", 'L'),
    ("DARK", 'D'),
    ("JUMP_OK", 'J'),
    ("STICKY", 'S'),
    ("DESTROY_OK", 'd'),
    ("HAVEN", 'H'),
    ("QUIET", 'Q'),
    ("HALT", 'h'),
    ("TRACE", 'T'),
    ("GOING", 'G'),
    ("MONITOR", 'M'),
    ("MYOPIC", 'm'),
    ("PUPPET", 'p'),
    ("CHOWN_OK", 'C'),
    ("ENTER_OK", 'e'),
    ("VISUAL", 'V'),
    ("IMMORTAL", 'i'),
    ("HAS_STARTUP", '+'),
    ("OPAQUE", 'O'),
    ("VERBOSE", 'v'),
    ("INHERIT", 'I'),
    ("NOSPOOF", 'N'),
    ("ROBOT", 'r'),
    ("SAFE", 's'),
    ("ROYALTY", 'Z'),
    ("HEARTHRU", 'a'),
    ("TERSE", 'q'),
    ("ABODE", 'A'),
    ("FLOATING", 'F'),
    ("UNFINDABLE", 'U'),
    ("PARENT_OK", 'Y'),
    ("LIGHT", 'l'),
    ("HAS_LISTEN", '@'),
    ("HAS_FWDLIST", '&'),
    ("AUDITORIUM", 'b'),
    ("ANSI", 'X'),
    ("HEAD", '?'),
    ("FIXED", 'f'),
    ("UNINSPECTED", 'g'),
    ("NO_COMMAND", 'n'),
    ("KEEPALIVE", 'k'),
    ("NOBLEED", '-'),
    ("STAFF", 'w'),
    ("HAS_DAILY", '*'),
    ("GAGGED", 'j'),
    ("OPEN_OK", 'z'),
    ("VACATION", '|'),
    ("PLAYER_MAILS", 'B'),
    ("HTML", '('),
    ("BLIND", 'B'),
    ("SUSPECT", 'u'),
    ("CONNECTED", 'c'),
    ("SLAVE", 'x'),
];

/// The type letter and flag letters TinyMUX shows after a dbref (flags in name order).
pub fn flag_letters(obj: &Object) -> String {
    let mut s = type_letter(obj.kind).to_string();
    let mut flags: Vec<&(&str, char)> = FLAG_LETTERS
        .iter()
        .filter(|(f, _)| obj.has_flag(f))
        .collect();
    flags.sort_by_key(|(f, _)| *f);
    s.extend(flags.iter().map(|(_, c)| *c));
    s
}

fn type_letter(kind: Kind) -> &'static str {
    match kind {
        Kind::Room => "R",
        Kind::Exit => "E",
        Kind::Player => "P",
        Kind::Thing => "",
    }
}

fn flags(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Some(obj) = thing(ev, frame, &args[0], out)? else {
        return Ok(());
    };
    push(out, &flag_letters(&obj));
    Ok(())
}

fn hasflag(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    if let Some((o, a)) = args[0].split_once('/') {
        let mut scratch = String::new();
        let has = match (
            read(ev, frame, o, &a.trim().to_ascii_uppercase(), &mut scratch)?,
            AttrFlags::by_name(&args[1]),
        ) {
            (Some((_, attr)), Some(bit)) => attr.flags.has(bit),
            _ => false,
        };
        push(out, bool_str(has));
        return Ok(());
    }
    let Some(obj) = thing(ev, frame, &args[0], out)? else {
        return Ok(());
    };
    let flag = args[1].trim().to_ascii_uppercase();
    let has = match flag.as_str() {
        "ROOM" => obj.kind == Kind::Room,
        "EXIT" => obj.kind == Kind::Exit,
        "PLAYER" => obj.kind == Kind::Player,
        "THING" => obj.kind == Kind::Thing,
        _ => obj.has_flag(&flag),
    };
    push(out, bool_str(has));
    Ok(())
}

fn hastype(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Some(obj) = thing(ev, frame, &args[0], out)? else {
        return Ok(());
    };
    let want = args[1].trim().to_ascii_uppercase();
    let has = match want.chars().next() {
        Some('R') => obj.kind == Kind::Room,
        Some('E') => obj.kind == Kind::Exit,
        Some('P') => obj.kind == Kind::Player,
        Some('T') => obj.kind == Kind::Thing,
        _ => {
            // TinyMUX 2.12 prints the error and then its false result.
            push(out, "#-1 NO SUCH TYPE0");
            return Ok(());
        }
    };
    push(out, bool_str(has));
    Ok(())
}

fn haspower(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Some(obj) = thing(ev, frame, &args[0], out)? else {
        return Ok(());
    };
    // Any case; an unknown power is simply not held (TinyMUX shows every power to
    // everyone: its table lists none as restricted).
    let has = crate::powers::lookup(&args[1])
        .is_some_and(|(name, _)| obj.powers.iter().any(|p| p.eq_ignore_ascii_case(name)));
    push(out, bool_str(has));
    Ok(())
}

/// `powers(obj)`: its powers, lower case, in TinyMUX's table order.
fn powers(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Some(obj) = thing(ev, frame, &args[0], out)? else {
        return Ok(());
    };
    push(out, &crate::powers::listed(&obj.powers).join(" "));
    Ok(())
}

fn parent(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    field(ev, frame, &args[0], out, |o| o.parent)
}

fn zone(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    field(ev, frame, &args[0], out, |o| o.zone)
}

fn dbref_list(out: &mut String, ids: &[Dbref]) {
    super::join_into(out, ids.iter().map(|id| dbref(*id)), " ");
}

fn children(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Some(obj) = thing(ev, frame, &args[0], out)? else {
        return Ok(());
    };
    let ids = ev.world.search(&Search {
        parent: Some(obj.id),
        ..Search::default()
    })?;
    dbref_list(out, &ids);
    Ok(())
}

fn lcon(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Some(obj) = thing(ev, frame, &args[0], out)? else {
        return Ok(());
    };
    let ids = ev.world.contents(obj.id)?;
    dbref_list(out, &ids);
    Ok(())
}

fn lexits(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Some(obj) = thing(ev, frame, &args[0], out)? else {
        return Ok(());
    };
    let ids = ev.world.exits(obj.id)?;
    dbref_list(out, &ids);
    Ok(())
}

fn first_of(ids: Vec<Dbref>) -> String {
    dbref(ids.first().copied().unwrap_or(NOTHING))
}

/// Which list of an object a function reads.
type ListOf = fn(&dyn crate::world::World, Dbref) -> Result<Vec<Dbref>, crate::world::Miss>;

fn contents_of(
    world: &dyn crate::world::World,
    id: Dbref,
) -> Result<Vec<Dbref>, crate::world::Miss> {
    world.contents(id)
}

fn exits_of(world: &dyn crate::world::World, id: Dbref) -> Result<Vec<Dbref>, crate::world::Miss> {
    world.exits(id)
}

/// The first entry of a list of the object named by `args[0]` (`con()`, `exit()`).
fn first_in(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>, list: ListOf) -> R {
    let Some(obj) = thing(ev, frame, &args[0], out)? else {
        return Ok(());
    };
    let ids = list(&*ev.world, obj.id)?;
    push(out, &first_of(ids));
    Ok(())
}

fn con(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    first_in(ev, frame, args, out, contents_of)
}

fn exit(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    first_in(ev, frame, args, out, exits_of)
}

fn next(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Some(obj) = thing(ev, frame, &args[0], out)? else {
        return Ok(());
    };
    let list = if obj.kind == Kind::Exit {
        ev.world.exits(obj.location)?
    } else {
        ev.world.contents(obj.location)?
    };
    let after = list
        .iter()
        .position(|id| *id == obj.id)
        .and_then(|i| list.get(i + 1))
        .copied()
        .unwrap_or(NOTHING);
    push(out, &dbref(after));
    Ok(())
}

/// A thing's or player's home, a room's drop-to; an exit's `home()` is the room it
/// leaves, as in TinyMUX.
fn home(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    field(ev, frame, &args[0], out, |o| match o.kind {
        Kind::Exit => o.location,
        _ => o.link,
    })
}

fn controls_fn(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let a = match resolve(ev, frame.executor, &args[0])? {
        Ok(id) => id,
        Err(_) => {
            push(out, "#-1 NOT FOUND (ARG1)");
            return Ok(());
        }
    };
    let b = match resolve(ev, frame.executor, &args[1])? {
        Ok(id) => id,
        Err(_) => {
            push(out, "#-1 NOT FOUND (ARG2)");
            return Ok(());
        }
    };
    let yes = controls(ev, a, b)?;
    push(out, bool_str(yes));
    Ok(())
}

fn locate(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let looker = match resolve(ev, frame.executor, &args[0])? {
        Ok(id) => id,
        Err(error) => {
            push(out, error);
            return Ok(());
        }
    };
    match resolve(ev, looker, &args[1])? {
        Ok(id) => push(out, &dbref(id)),
        Err(error) => push(out, error.split(' ').next().unwrap_or("#-1")),
    }
    Ok(())
}

fn pmatch(ev: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let t = args[0].trim();
    if t.starts_with('#') {
        let n = dbref_num(t);
        match ev.world.object(n)? {
            Some(o) if o.kind == Kind::Player => push(out, &dbref(n)),
            _ => push(out, "#-1 NO MATCH"),
        }
        return Ok(());
    }
    let name = t.strip_prefix('*').unwrap_or(t);
    if let Some(p) = ev.world.player_named(name)? {
        push(out, &dbref(p));
        return Ok(());
    }
    // Then a unique prefix of a connected player's name.
    let lower = name.to_lowercase();
    let mut found = Vec::new();
    for c in ev.world.connections()? {
        if let Some(p) = ev.world.object(c.player)?
            && p.name.to_lowercase().starts_with(&lower)
            && !found.contains(&p.id)
        {
            found.push(p.id);
        }
    }
    match found.as_slice() {
        [one] => push(out, &dbref(*one)),
        [] => push(out, "#-1 NO MATCH"),
        _ => push(out, "#-2 NO MATCH"),
    }
    Ok(())
}

fn isdbref(ev: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let t = args.first().map(|a| a.trim()).unwrap_or("");
    let ok = t.starts_with('#') && dbref_num(t) >= 0 && ev.world.object(dbref_num(t))?.is_some();
    push(out, bool_str(ok));
    Ok(())
}

fn lsearch(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let mut query = Search::default();
    let who = args[0].trim();
    if !who.is_empty() && !who.eq_ignore_ascii_case("all") {
        match resolve(ev, frame.executor, who)? {
            Ok(id) => query.owner = Some(id),
            Err(_) => {
                push(out, "#-1 NO SUCH PLAYER");
                return Ok(());
            }
        }
    }
    let class = args
        .get(1)
        .map(|c| c.trim().to_ascii_uppercase())
        .unwrap_or_default();
    let value = args
        .get(2)
        .map(|v| v.trim().to_string())
        .unwrap_or_default();
    match class.as_str() {
        "" | "NONE" => {}
        "TYPE" => {
            query.kind = match value.to_ascii_uppercase().as_str() {
                "ROOM" | "ROOMS" => Some(Kind::Room),
                "EXIT" | "EXITS" => Some(Kind::Exit),
                "PLAYER" | "PLAYERS" => Some(Kind::Player),
                "THING" | "THINGS" | "OBJECT" | "OBJECTS" => Some(Kind::Thing),
                _ => {
                    push(out, "#-1 UNKNOWN TYPE");
                    return Ok(());
                }
            }
        }
        "NAME" => query.name = Some(format!("{value}*")),
        "PARENT" => query.parent = Some(dbref_num(&value)),
        "ZONE" => query.zone = Some(dbref_num(&value)),
        "FLAGS" => query.flag = Some(value.to_ascii_uppercase()),
        "ROOMS" | "EXITS" | "PLAYERS" | "THINGS" | "OBJECTS" => {
            query.kind = Some(match class.as_str() {
                "ROOMS" => Kind::Room,
                "EXITS" => Kind::Exit,
                "PLAYERS" => Kind::Player,
                _ => Kind::Thing,
            });
            if !value.is_empty() {
                query.name = Some(format!("{value}*"));
            }
        }
        _ => {
            push(out, "#-1 UNKNOWN SEARCH CLASS");
            return Ok(());
        }
    }
    // Without the search power: one's own objects, or players (TinyMUX's warrant).
    if query.owner.is_none() && !crate::powers::search(ev, frame.executor)? {
        query.owner = Some(frame.executor);
        if query.kind == Some(Kind::Player) {
            query.owner = None;
        }
    }
    if super::search::needs_warrant(ev, frame, query.owner, query.kind)? {
        ev.emits.push(Emit::To(
            frame.executor,
            super::search::NO_WARRANT.to_string(),
        ));
        push(out, "#-1 ERROR DURING SEARCH");
        return Ok(());
    }
    if args.len() >= 4 {
        let low = dbref_num(&args[3]).max(0);
        let high = args
            .get(4)
            .map(|h| dbref_num(h))
            .filter(|h| *h >= 0)
            .unwrap_or(i64::MAX);
        query.range = Some((low, high));
    }
    let ids = ev.world.search(&query)?;
    dbref_list(out, &ids);
    Ok(())
}

fn search(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let text = args.first().cloned().unwrap_or_default();
    match super::search::parse(ev, frame, &text)? {
        Ok(query) => {
            let ids = super::search::run(ev, frame, &query)?;
            dbref_list(out, &ids);
        }
        Err(complaint) => {
            // TinyMUX tells the searcher why, and answers with an error.
            ev.emits.push(Emit::To(frame.executor, complaint));
            push(out, "#-1 ERROR DURING SEARCH");
        }
    }
    Ok(())
}

fn nearby(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let Ok(a) = resolve(ev, frame.executor, &args[0])? else {
        push(out, "#-1 NOT FOUND (ARG1)");
        return Ok(());
    };
    let Ok(b) = resolve(ev, frame.executor, &args[1])? else {
        push(out, "#-1 NOT FOUND (ARG2)");
        return Ok(());
    };
    let (Some(oa), Some(ob)) = (ev.world.object(a)?, ev.world.object(b)?) else {
        push(out, "0");
        return Ok(());
    };
    let near = oa.location == ob.location || oa.location == b || ob.location == a;
    push(out, bool_str(near));
    Ok(())
}

/// TinyMUX's `nearby`: `thing` is carried by `who`, beside it, or is the place it stands
/// in; a DARK player who may hide is near only to those who see hidden players.
pub fn is_nearby(ev: &mut Eval<'_>, who: Dbref, thing: Dbref) -> R<bool> {
    let (Some(me), Some(it)) = (ev.world.object(who)?, ev.world.object(thing)?) else {
        return Ok(false);
    };
    if it.has_flag("DARK")
        && crate::powers::can_hide(ev, thing)?
        && !crate::powers::see_hidden(ev, who)?
    {
        return Ok(false);
    }
    Ok(it.location == who || it.location == me.location || thing == me.location)
}

/// How an emit reaches its target, which decides what TinyMUX lets through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// `@pemit`, `pemit()`: the target hears it.
    Pemit,
    /// `@remit`, `@pemit/contents`, `remit()`: what is inside the target hears it.
    Contents,
    /// `@oemit`, `oemit()`: the target's neighbours hear it.
    Oemit,
}

/// What TinyMUX tells `who` when it may not emit to `target` (`do_pemit_single`'s
/// locality rules), or None when it may: near it, with long fingers, or controlling it;
/// beyond that a connected player anywhere whose page lock lets `who` through with
/// `pemit_far_players`, and anything anywhere with `pemit_any_object`, but never for
/// `@oemit`; the contents of what it does not control only with `pemit_any_object`.
pub fn emit_refusal(
    ev: &mut Eval<'_>,
    who: Dbref,
    target: Dbref,
    reach: Reach,
) -> R<Option<String>> {
    const TOO_FAR: &str = "You are too far away to do that.";
    let close = is_nearby(ev, who, target)?
        || crate::powers::long_fingers(ev, who)?
        || controls(ev, who, target)?;
    if reach == Reach::Oemit {
        return Ok((!close).then(|| TOO_FAR.to_string()));
    }
    let (far_players, any_object) = (ev.limits.pemit_far_players, ev.limits.pemit_any_object);
    let player = ev.world.object(target)?.filter(|o| o.kind == Kind::Player);
    match player {
        Some(them) if !close && far_players => {
            // TinyMUX pages the far player's way (page_check): it must be connected and
            // its page lock must let `who` through, whatever `pemit_any_object` says.
            let name = display_name(&them).to_string();
            let hidden = them.has_flag("DARK")
                && crate::powers::can_hide(ev, target)?
                && !crate::powers::see_hidden(ev, who)?;
            if !them.has_flag("CONNECTED") {
                return Ok(Some(format!("Sorry, {name} is not connected.")));
            }
            if !crate::lock::passes(ev, who, target, "PAGELOCK")? {
                return Ok(Some(if hidden {
                    format!("Sorry, {name} is not connected.")
                } else {
                    format!("Sorry, {name} is not accepting pages.")
                }));
            }
        }
        _ if !close && !any_object => return Ok(Some(TOO_FAR.to_string())),
        _ => {}
    }
    if reach == Reach::Contents && !any_object && !controls(ev, who, target)? {
        return Ok(Some("Permission denied.".to_string()));
    }
    Ok(None)
}

/// The targets of an emit, in the order given and each once: the object, or what `who`
/// is told instead of reaching it; and, for the names that match nothing, the line
/// TinyMUX tells after the message (`Emit error(s): nosuch (unknown)`).
pub type Targets = (Vec<Result<Dbref, String>>, Option<String>);

/// Resolves a list of targets as the emit family does, refusing those `reach` may not
/// get to ([`emit_refusal`]).
pub fn emit_targets(ev: &mut Eval<'_>, who: Dbref, names: &[&str], reach: Reach) -> R<Targets> {
    let mut ids = Vec::new();
    let mut unknown = Vec::new();
    for name in names {
        match resolve(ev, who, name)? {
            Ok(id) => {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            Err(_) => unknown.push(format!("{name} (unknown)")),
        }
    }
    let mut each = Vec::with_capacity(ids.len());
    // `@oemit` checks only its first target (TinyMUX's do_pemit_list), in [`oemit_each`].
    for id in ids {
        let refusal = if reach == Reach::Oemit {
            None
        } else {
            emit_refusal(ev, who, id, reach)?
        };
        each.push(refusal.map_or(Ok(id), Err));
    }
    let error = (!unknown.is_empty()).then(|| format!("Emit error(s): {}", unknown.join(", ")));
    Ok((each, error))
}

/// Sends `text` to each target (to its contents when `room`), or tells `who` why not,
/// then tells it about the names that matched nothing, in TinyMUX's order.
pub fn emit_each(ev: &mut Eval<'_>, who: Dbref, targets: Targets, text: &str, room: bool) -> R {
    let (each, error) = targets;
    for target in each {
        let emit = match target {
            Err(refusal) => Emit::To(who, refusal),
            Ok(_) if text.is_empty() => continue,
            Ok(id) if room => Emit::Room {
                room: id,
                except: Vec::new(),
                text: text.to_string(),
            },
            Ok(id) => Emit::To(id, text.to_string()),
        };
        ev.emits.push(emit);
    }
    if let Some(error) = error {
        ev.emits.push(Emit::To(who, error));
    }
    Ok(())
}

/// `@oemit`/`oemit()`: `text` to the place of the first target, heard by all there but
/// the targets, when `who` is near that target or controls it (TinyMUX refuses
/// otherwise, whatever `pemit_any_object` says).
pub fn oemit_each(ev: &mut Eval<'_>, who: Dbref, targets: Targets, text: &str) -> R {
    let (each, error) = targets;
    let ids: Vec<Dbref> = each
        .iter()
        .filter_map(|t| t.as_ref().ok().copied())
        .collect();
    if let Some(&first) = ids.first() {
        if let Some(refusal) = emit_refusal(ev, who, first, Reach::Oemit)? {
            ev.emits.push(Emit::To(who, refusal));
        } else if !text.is_empty() {
            let room = ev.world.object(first)?.map_or(NOTHING, |o| o.location);
            if room != NOTHING {
                ev.emits.push(Emit::Room {
                    room,
                    except: ids,
                    text: text.to_string(),
                });
            }
        }
    }
    if let Some(error) = error {
        ev.emits.push(Emit::To(who, error));
    }
    Ok(())
}

fn targets(ev: &mut Eval<'_>, frame: &Frame<'_>, list: &str, reach: Reach) -> R<Targets> {
    let names = items(list, " ");
    emit_targets(ev, frame.executor, &names, reach)
}

fn pemit(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, _: Out<'_>) -> R {
    let targets = targets(ev, frame, &args[0], Reach::Pemit)?;
    emit_each(ev, frame.executor, targets, &args[1], false)
}

fn emit(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, _: Out<'_>) -> R {
    if args[0].is_empty() {
        return Ok(());
    }
    let room = ev
        .world
        .object(frame.executor)?
        .map(|o| o.location)
        .unwrap_or(NOTHING);
    ev.emits.push(Emit::Room {
        room,
        except: Vec::new(),
        text: args[0].clone(),
    });
    Ok(())
}

fn remit(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, _: Out<'_>) -> R {
    let targets = targets(ev, frame, &args[0], Reach::Contents)?;
    emit_each(ev, frame.executor, targets, &args[1], true)
}

fn oemit(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, _: Out<'_>) -> R {
    let targets = targets(ev, frame, &args[0], Reach::Oemit)?;
    oemit_each(ev, frame.executor, targets, &args[1])
}

/// What `@set`/`set()` do, shared with the commands: flags, `attr:value`, attribute flags.
/// Returns the reply a command prints (`Set.`) or an error.
pub fn set_thing(
    ev: &mut Eval<'_>,
    frame: &Frame<'_>,
    target: &str,
    what: &str,
) -> R<Result<&'static str, String>> {
    if let Some((o, a)) = target.split_once('/') {
        // An attribute flag.
        let obj = match resolve(ev, frame.executor, o)? {
            Ok(id) => id,
            Err(_) => return Ok(Err("I don't see that here.".into())),
        };
        if !controls(ev, frame.executor, obj)? {
            return Ok(Err("Permission denied.".into()));
        }
        let name = a.trim().to_ascii_uppercase();
        let (clear, flag) = match what.trim().strip_prefix('!') {
            Some(f) => (true, f),
            None => (false, what.trim()),
        };
        let Some(mut attr) = ev.world.attr(obj, &name)? else {
            return Ok(Err("I don't see that here.".into()));
        };
        // `locked` is set with @lock obj/attr, not @set.
        let Some(bit) = AttrFlags::by_name(flag).filter(|b| *b != AttrFlags::LOCKED) else {
            return Ok(Err("You can't set that!".into()));
        };
        // The wizard and hidden flags, and any change to an attribute a wizard or its
        // owner locked, are for wizards (and the locking owner) only.
        let guarded = AttrFlags::WIZARD | AttrFlags::HIDDEN;
        let wizard = is_wizard(ev, frame.executor)?;
        if !wizard
            && (bit & guarded != 0
                || attr.flags.has(AttrFlags::WIZARD)
                || (attr.flags.has(AttrFlags::LOCKED) && attr.owner != frame.executor))
        {
            return Ok(Err("Permission denied.".into()));
        }
        if clear {
            attr.flags.0 &= !bit;
        } else {
            attr.flags.0 |= bit;
        }
        ev.world.set_attr(obj, &name, Some(attr))?;
        return Ok(Ok(if clear { "Cleared." } else { "Set." }));
    }
    let obj = match resolve(ev, frame.executor, target)? {
        Ok(id) => id,
        Err(_) => return Ok(Err("I don't see that here.".into())),
    };
    if !controls(ev, frame.executor, obj)? {
        return Ok(Err("Permission denied.".into()));
    }
    if let Some((name, value)) = what.split_once(':')
        && !name.trim().is_empty()
        && !name.contains(' ')
    {
        let name = name.trim().to_ascii_uppercase();
        return Ok(match set_attr(ev, frame.executor, obj, &name, value)? {
            Ok(()) => Ok("Set."),
            Err(e) => Err(e),
        });
    }
    if what.contains(':') {
        return Ok(Err("Couldn't create attribute.".into()));
    }
    let (clear, mut flag) = match what.trim().strip_prefix('!') {
        Some(f) => (true, f.trim().to_ascii_uppercase()),
        None => (false, what.trim().to_ascii_uppercase()),
    };
    // TinyMUX's COMMANDS is NO_COMMAND inverted: `!COMMANDS` sets NO_COMMAND.
    let mut on = !clear;
    if flag == "COMMANDS" {
        flag = "NO_COMMAND".into();
        on = clear;
    }
    if !FLAG_LETTERS.iter().any(|(f, _)| *f == flag) {
        return Ok(Err("I do not understand that flag.".into()));
    }
    if WIZARD_FLAGS.contains(&flag.as_str()) && !is_wizard(ev, frame.executor)? {
        return Ok(Err("Permission denied.".into()));
    }
    if flag == "CONNECTED" || flag == "GOING" {
        return Ok(Err("Permission denied.".into()));
    }
    // On a player, MONITOR takes the monitor power, and DARK (set) the hide power on
    // oneself (wizards need neither), as TinyMUX's flag handlers have it.
    let me = frame.executor;
    if ev
        .world
        .object(obj)?
        .is_some_and(|o| o.kind == Kind::Player)
    {
        let refused = match flag.as_str() {
            "MONITOR" => !crate::powers::can_monitor(ev, me)?,
            "DARK" if on => {
                !(is_wizard(ev, me)? || (obj == me && crate::powers::can_hide(ev, me)?))
            }
            _ => false,
        };
        if refused {
            return Ok(Err("Permission denied.".into()));
        }
    }
    ev.world.change(obj, Change::Flag(flag, on))?;
    Ok(Ok(if clear { "Cleared." } else { "Set." }))
}

/// Object flags only wizards may set or clear (TinyMUX reserves them).
const WIZARD_FLAGS: &[&str] = &[
    "WIZARD",
    "ROYALTY",
    "STAFF",
    "IMMORTAL",
    "SLAVE",
    "GAGGED",
    "FIXED",
    "SUSPECT",
    "UNINSPECTED",
    "HEAD",
    "VACATION",
];

/// Longest attribute name.
pub const ATTR_NAME_MAX: usize = 64;

/// True for names TinyMUX accepts for attributes.
pub fn valid_attr_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= ATTR_NAME_MAX
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '~')
        && name.chars().all(|c| {
            c.is_ascii_graphic()
                && !matches!(
                    c,
                    '(' | ')'
                        | '['
                        | ']'
                        | '{'
                        | '}'
                        | ','
                        | ';'
                        | '%'
                        | '\\'
                        | '='
                        | ':'
                        | '/'
                        | '*'
                        | '?'
                )
        })
}

/// True when the access flags of the name (`@attribute/access`) keep `who` from setting
/// it anywhere, as TinyMUX's `bCanSetAttr` has it: no one sets a const, internal or
/// is_lock one, only God a locked or god one, only wizards a wizard one.
pub fn name_forbids_set(ev: &mut Eval<'_>, who: Dbref, name: &str) -> R<bool> {
    use crate::attrdef::flag;
    let def = crate::attrdef::flags_of(ev, name)?;
    let mut deny = flag::INTERNAL | flag::IS_LOCK | flag::CONST;
    if who != crate::powers::GOD {
        deny |= flag::LOCKED | flag::GOD;
        if !is_wizard(ev, who)? {
            deny |= flag::WIZARD;
        }
    }
    Ok(def & deny != 0)
}

/// Sets or (with an empty value) clears an attribute as `who`, keeping its flags.
pub fn set_attr(
    ev: &mut Eval<'_>,
    who: Dbref,
    obj: Dbref,
    name: &str,
    value: &str,
) -> R<Result<(), String>> {
    if !valid_attr_name(name) {
        return Ok(Err("That's not a good name for an attribute.".into()));
    }
    if name_forbids_set(ev, who, name)? {
        return Ok(Err("Permission denied.".into()));
    }
    // The `@attribute` registry is God's, as the command is.
    if name == crate::attrdef::ATTR && obj == ev.limits.master_room && who != crate::powers::GOD {
        return Ok(Err("Permission denied.".into()));
    }
    if name == crate::attrdef::ATTR && obj == ev.limits.master_room {
        // The definitions are about to change: read them afresh.
        ev.attr_defs = None;
    }
    let existing = ev.world.attr(obj, name)?;
    if let Some(attr) = &existing {
        if attr.flags.has(AttrFlags::LOCKED) && attr.owner != who && !is_wizard(ev, who)? {
            return Ok(Err("Permission denied.".into()));
        }
        if attr.flags.has(AttrFlags::WIZARD) && !is_wizard(ev, who)? {
            return Ok(Err("Permission denied.".into()));
        }
    }
    if value.is_empty() {
        ev.world.set_attr(obj, name, None)?;
    } else {
        let flags = existing.map(|a| a.flags).unwrap_or_default();
        let owner = ev.world.object(obj)?.map(|o| o.owner).unwrap_or(who);
        ev.world.set_attr(
            obj,
            name,
            Some(Attr {
                value: value.to_string(),
                owner,
                flags,
            }),
        )?;
    }
    Ok(Ok(()))
}

fn set(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    // set() tells the executor what @set would, and returns nothing (or #-1).
    match set_thing(ev, frame, &args[0], &args[1])? {
        // Attribute flags are set quietly; the rest say what @set says.
        Ok(reply) if !args[0].contains('/') => {
            ev.emits.push(Emit::To(frame.executor, reply.to_string()))
        }
        Ok(_) => {}
        Err(e) if e.starts_with("I don't see") => push(out, "#-1"),
        Err(e) => {
            ev.emits.push(Emit::To(frame.executor, e));
            push(out, "#-1");
        }
    }
    Ok(())
}

fn create(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let name = args[0].trim();
    if name.is_empty() {
        push(out, "#-1 ILLEGAL NAME");
        return Ok(());
    }
    let owner = ev
        .world
        .object(frame.executor)?
        .map(|o| {
            if o.kind == Kind::Player {
                o.id
            } else {
                o.owner
            }
        })
        .unwrap_or(frame.executor);
    match ev.world.create(Kind::Thing, name, owner, frame.executor) {
        Ok(id) => push(out, &dbref(id)),
        Err(crate::world::Miss::Refused(why)) => {
            push(out, &format!("#-1 {}", why.to_ascii_uppercase()))
        }
        Err(miss) => return Err(miss),
    }
    Ok(())
}

fn rand(ev: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    if args.len() == 2 {
        let (lo, hi) = (to_i64(&args[0]), to_i64(&args[1]));
        if hi < lo {
            push(out, "#-1 ARGUMENT OUT OF RANGE");
        } else {
            let span = hi.abs_diff(lo).saturating_add(1);
            push(
                out,
                &lo.wrapping_add(ev.world.random(span) as i64).to_string(),
            );
        }
        return Ok(());
    }
    if !super::is_integer(&args[0]) {
        push(out, "#-1 ARGUMENT MUST BE INTEGER");
        return Ok(());
    }
    // TinyMUX answers 0 for a range with nothing in it.
    let n = to_i64(&args[0]);
    let value = if n < 1 { 0 } else { ev.world.random(n as u64) };
    push(out, &value.to_string());
    Ok(())
}

fn fdepth(ev: &mut Eval<'_>, _: &Frame<'_>, _: Args<'_>, out: Out<'_>) -> R {
    push(out, &ev.depth().to_string());
    Ok(())
}

fn die(ev: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let (n, sides) = (to_i64(&args[0]), to_i64(&args[1]));
    if !(0..=100).contains(&n) || sides < 1 {
        push(out, "#-1 ARGUMENT OUT OF RANGE");
        return Ok(());
    }
    let rolls: Vec<i64> = (0..n)
        .map(|_| 1 + ev.world.random(sides as u64) as i64)
        .collect();
    if args.get(2).is_some_and(|s| super::truthy(s)) {
        super::join_into(out, rolls.iter().map(|r| r.to_string()), " ");
    } else {
        push(out, &rolls.iter().sum::<i64>().to_string());
    }
    Ok(())
}

fn lwho(ev: &mut Eval<'_>, _: &Frame<'_>, _: Args<'_>, out: Out<'_>) -> R {
    let ids: Vec<Dbref> = ev.world.connections()?.iter().map(|c| c.player).collect();
    dbref_list(out, &ids);
    Ok(())
}

fn connection(
    ev: &mut Eval<'_>,
    frame: &Frame<'_>,
    who: &str,
) -> R<Option<crate::world::Connection>> {
    let id = match resolve(ev, frame.executor, who)? {
        Ok(id) => id,
        Err(_) => match ev.world.player_named(who.trim())? {
            Some(id) => id,
            None => return Ok(None),
        },
    };
    Ok(ev.world.connections()?.into_iter().find(|c| c.player == id))
}

fn conn(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    match connection(ev, frame, &args[0])? {
        Some(c) => push(out, &c.connected_secs.to_string()),
        None => push(out, "-1"),
    }
    Ok(())
}

fn idle(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    match connection(ev, frame, &args[0])? {
        Some(c) => push(out, &c.idle_secs.to_string()),
        None => push(out, "-1"),
    }
    Ok(())
}

fn doing(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let known = match resolve(ev, frame.executor, &args[0])? {
        Ok(_) => true,
        Err(_) => ev.world.player_named(args[0].trim())?.is_some(),
    };
    if !known {
        push(out, "#-1 PLAYER DOES NOT EXIST");
    } else if let Some(c) = connection(ev, frame, &args[0])? {
        push(out, &c.doing);
    }
    Ok(())
}

fn numversion(_: &mut Eval<'_>, _: &Frame<'_>, _: Args<'_>, out: Out<'_>) -> R {
    push(out, "2012000010");
    Ok(())
}

fn version(_: &mut Eval<'_>, _: &Frame<'_>, _: Args<'_>, out: Out<'_>) -> R {
    push(out, concat!("mush-on-kube ", env!("CARGO_PKG_VERSION")));
    Ok(())
}

fn mudname(_: &mut Eval<'_>, _: &Frame<'_>, _: Args<'_>, out: Out<'_>) -> R {
    push(out, "mush-on-kube");
    Ok(())
}
