//! Global user functions (`@function name=obj/attr`): defined for the whole game, called
//! like built-ins. The definitions are world data, one attribute (`USERFUNCTIONS`) on the
//! master room, one line per function, so every game pod sees the same set and a change
//! is one object's write (atomic like any other).

use crate::eval::{Eval, R};
use crate::world::{Attr, AttrFlags, Dbref};

/// The master room attribute holding the definitions.
pub const ATTR: &str = "USERFUNCTIONS";

/// Most user functions a game may define.
pub const MAX: usize = 1000;

/// One definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserFn {
    /// Upper case.
    pub name: String,
    /// The object holding the code.
    pub object: Dbref,
    /// The attribute holding it, upper case.
    pub attr: String,
    /// Runs as the object rather than as the caller.
    pub privileged: bool,
}

/// True when `id` is a room (the master room is used only while it is one: a world made
/// before it had one may hold anything at its number).
pub fn is_room(ev: &mut Eval<'_>, id: Dbref) -> R<bool> {
    if id == crate::world::NOTHING {
        return Ok(false);
    }
    Ok(ev
        .world
        .object(id)?
        .is_some_and(|o| o.kind == crate::world::Kind::Room))
}

/// Every definition, in the order defined.
pub fn all(ev: &mut Eval<'_>) -> R<Vec<UserFn>> {
    let master = ev.limits.master_room;
    if !is_room(ev, master)? {
        return Ok(Vec::new());
    }
    let Some(stored) = ev.world.attr(master, ATTR)? else {
        return Ok(Vec::new());
    };
    Ok(stored
        .value
        .split('\n')
        .filter_map(|line| {
            let mut parts = line.split('\t');
            let name = parts.next()?.to_string();
            let object = parts.next()?.parse().ok()?;
            let attr = parts.next()?.to_string();
            let privileged = parts.next() == Some("p");
            Some(UserFn {
                name,
                object,
                attr,
                privileged,
            })
        })
        .collect())
}

/// The definition of `name` (upper case), if any.
pub fn lookup(ev: &mut Eval<'_>, name: &str) -> R<Option<UserFn>> {
    Ok(all(ev)?.into_iter().find(|f| f.name == name))
}

/// Stores the whole set; `false` when the game has no master room to keep it on.
pub fn store(ev: &mut Eval<'_>, fns: &[UserFn]) -> R<bool> {
    let master = ev.limits.master_room;
    if !is_room(ev, master)? {
        return Ok(false);
    }
    let text: Vec<String> = fns
        .iter()
        .map(|f| {
            format!(
                "{}\t{}\t{}\t{}",
                f.name,
                f.object,
                f.attr,
                if f.privileged { "p" } else { "-" }
            )
        })
        .collect();
    let owner = ev.world.object(master)?.map_or(1, |o| o.owner);
    let value = (!text.is_empty()).then(|| Attr {
        value: text.join("\n"),
        owner,
        flags: AttrFlags(AttrFlags::WIZARD | AttrFlags::HIDDEN | AttrFlags::NO_COMMAND),
    });
    ev.world.set_attr(master, ATTR, value)?;
    Ok(true)
}
