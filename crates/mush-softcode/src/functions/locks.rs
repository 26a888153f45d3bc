//! Locks from softcode: `elock()` checks one, `lock()` reads one.

use super::{Func, bool_str, f};
use crate::eval::{Eval, Frame, R, push};
use crate::functions::objects::{controls, resolve};
use crate::lock::{Key, lock_attr};
use crate::world::{Dbref, Kind};

/// The lock family.
pub const FUNCS: &[Func] = &[f("ELOCK", 2, 2, elock), f("LOCK", 1, 1, lock)];

/// `obj` or `obj/locktype`: the object and the attribute holding that lock.
fn locked(
    ev: &mut Eval<'_>,
    frame: &Frame<'_>,
    spec: &str,
) -> R<Result<(Dbref, String), &'static str>> {
    let (obj, which) = match spec.split_once('/') {
        Some((o, w)) => (o, w.trim()),
        None => (spec, ""),
    };
    let Some(attr) = lock_attr(which) else {
        return Ok(Err("#-1 LOCK NOT FOUND"));
    };
    Ok(match resolve(ev, frame.executor, obj)? {
        Ok(id) => Ok((id, attr)),
        Err(_) => Err("#-1 NOT FOUND"),
    })
}

fn elock(ev: &mut Eval<'_>, frame: &Frame<'_>, args: &[String], out: &mut String) -> R {
    let (thing, attr) = match locked(ev, frame, &args[0])? {
        Ok(x) => x,
        Err(e) => {
            push(out, e);
            return Ok(());
        }
    };
    let Ok(victim) = resolve(ev, frame.executor, &args[1])? else {
        push(out, "#-1 NOT FOUND");
        return Ok(());
    };
    if !near_or_controls(ev, frame.executor, victim)?
        && !near_or_controls(ev, frame.executor, thing)?
    {
        push(out, "#-1 TOO FAR AWAY");
        return Ok(());
    }
    let passed = crate::lock::key_passes(ev, victim, thing, &attr)?;
    push(out, bool_str(passed));
    Ok(())
}

fn lock(ev: &mut Eval<'_>, frame: &Frame<'_>, args: &[String], out: &mut String) -> R {
    let (thing, attr) = match locked(ev, frame, &args[0])? {
        Ok(x) => x,
        Err(e) => {
            push(out, e);
            return Ok(());
        }
    };
    if !controls(ev, frame.executor, thing)? {
        push(out, "#-1 PERMISSION DENIED");
        return Ok(());
    }
    if let Some(stored) = ev.world.attr(thing, &attr)?
        && let Some(key) = Key::parse_stored(&stored.value)
    {
        // Players by name, everything else by number.
        let mut names = std::collections::HashMap::new();
        collect(&key, &mut |id| {
            names.entry(id).or_insert(None);
        });
        for (id, slot) in names.iter_mut() {
            if let Some(o) = ev.world.object(*id)?
                && o.kind == Kind::Player
            {
                *slot = Some(format!("*{}", o.name));
            }
        }
        let text = key.unparse_with(&|id| {
            names
                .get(&id)
                .cloned()
                .flatten()
                .unwrap_or_else(|| format!("#{id}"))
        });
        push(out, &text);
    }
    Ok(())
}

/// Every object a key names.
pub(crate) fn collect(key: &Key, f: &mut dyn FnMut(Dbref)) {
    match key {
        Key::And(a, b) | Key::Or(a, b) => {
            collect(a, f);
            collect(b, f);
        }
        Key::Not(a) | Key::Is(a) | Key::Carry(a) => collect(a, f),
        Key::Object(id) | Key::Owner(id) | Key::Indirect(id) => f(*id),
        Key::Attr(..) | Key::Eval(..) => {}
    }
}

/// TinyMUX's `nearby_or_control`: the same room, one holding the other, or control.
fn near_or_controls(ev: &mut Eval<'_>, who: Dbref, what: Dbref) -> R<bool> {
    if controls(ev, who, what)? {
        return Ok(true);
    }
    let (Some(a), Some(b)) = (ev.world.object(who)?, ev.world.object(what)?) else {
        return Ok(false);
    };
    Ok(a.location == b.location || b.location == who || a.location == what)
}
