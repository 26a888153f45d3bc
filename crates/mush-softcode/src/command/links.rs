//! Exits, links, players and owners: `@open`, `@link`, `@unlink`, `@pcreate`, `@chown`.

use super::{Command, Input, found, split_eq, target, tell};
use crate::eval::{Emit, Eval, Frame, R};
use crate::functions::objects::{
    Scope, controls, display_name, named, owner_of, resolve_in, room_of,
};
use crate::world::{AttrFlags, Change, Dbref, Kind, Miss, NOTHING};

/// The exits-and-owners family.
pub const COMMANDS: &[Command] = &[
    Command {
        name: "@OPEN",
        aliases: &[],
        switches: &["inventory", "location"],
        wizard: false,
        run: open,
    },
    Command {
        name: "@LINK",
        aliases: &[],
        switches: &[],
        wizard: false,
        run: link,
    },
    Command {
        name: "@UNLINK",
        aliases: &[],
        switches: &[],
        wizard: false,
        run: unlink,
    },
    Command {
        name: "@PCREATE",
        aliases: &[],
        switches: &[],
        wizard: true,
        run: pcreate,
    },
    Command {
        name: "@NEWPASSWORD",
        aliases: &[],
        switches: &[],
        wizard: true,
        run: newpassword,
    },
    Command {
        name: "@PASSWORD",
        aliases: &[],
        switches: &[],
        wizard: false,
        run: password,
    },
    Command {
        name: "@BOOT",
        aliases: &[],
        switches: &["quiet", "port"],
        wizard: false,
        run: boot,
    },
    Command {
        name: "@CLONE",
        aliases: &[],
        switches: &["inventory", "location", "parent", "preserve", "cost"],
        wizard: false,
        run: clone,
    },
    Command {
        name: "@FIND",
        aliases: &[],
        switches: &[],
        wizard: false,
        run: find,
    },
    Command {
        name: "@CHOWN",
        aliases: &[],
        switches: &["nostrip"],
        wizard: false,
        run: chown,
    },
];

/// Where new players start (TinyMUX's `player_starting_room`, Limbo).
const START_ROOM: Dbref = 0;

/// TinyMUX's HOME: an exit or drop-to linked to it sends to the mover's home.
const HOME: Dbref = -3;

/// TinyMUX's `Permission denied.` (NOPERM_MESSAGE).
const NOPERM: &str = "Permission denied.";

/// Where a new exit leads: a place as typed, or one already known (`@dig`'s rooms).
#[derive(Clone, Copy, Debug)]
pub(super) enum LinkTo<'a> {
    /// Matched as TinyMUX's `parse_linkable_room` matches: not exits, `#12`, `home`.
    Named(&'a str),
    /// This object.
    Id(Dbref),
}

/// True for what can hold things, so can be linked to (TinyMUX's `Has_contents`).
fn has_contents(kind: Kind) -> bool {
    kind != Kind::Exit
}

/// TinyMUX's `Link_ok`: LINK_OK on something that can be linked to.
fn link_ok(ev: &mut Eval<'_>, id: Dbref) -> R<bool> {
    Ok(ev
        .world
        .object(id)?
        .is_some_and(|o| has_contents(o.kind) && o.has_flag("LINK_OK")))
}

/// TinyMUX's `parse_linkable_room`: the place `to` names (HOME for `home`), if the
/// executor may link there (it is LINK_OK, controlled, or the executor may link
/// anywhere); otherwise the executor is told why and None comes back.
fn linkable(ev: &mut Eval<'_>, frame: &Frame<'_>, to: LinkTo<'_>) -> R<Option<Dbref>> {
    let me = frame.executor;
    let id = match to {
        LinkTo::Id(id) => Some(id),
        LinkTo::Named(text) if text.trim().eq_ignore_ascii_case("home") => return Ok(Some(HOME)),
        LinkTo::Named(text) => {
            let scope = Scope {
                me: true,
                here: true,
                possession: true,
                neighbor: true,
                absolute: true,
                player: true,
                ..Scope::default()
            };
            resolve_in(ev, me, text, scope)?.ok()
        }
    };
    let Some(obj) = id.map(|id| ev.world.object(id)).transpose()?.flatten() else {
        tell(ev, frame, "That's not a valid object.");
        return Ok(None);
    };
    let may = has_contents(obj.kind)
        && (obj.has_flag("LINK_OK")
            || controls(ev, me, obj.id)?
            || crate::powers::link_anywhere(ev, me)?);
    if !may {
        tell(ev, frame, "You can't link to that.");
        return Ok(None);
    }
    Ok(Some(obj.id))
}

/// True when the executor may point something at `dest` (TinyMUX's test in `link_exit`
/// and for drop-tos): it may link anywhere, or it controls `dest` or finds it LINK_OK and
/// passes its link lock. HOME is always fine.
fn may_link_to(ev: &mut Eval<'_>, frame: &Frame<'_>, dest: Dbref) -> R<bool> {
    let me = frame.executor;
    if dest == HOME || crate::powers::link_anywhere(ev, me)? {
        return Ok(true);
    }
    Ok((controls(ev, me, dest)? || link_ok(ev, dest)?)
        && crate::lock::passes(ev, me, dest, "LINKLOCK")?)
}

/// TinyMUX's `open_exit`: an exit named `name` in `loc`, which the executor must control
/// or find OPEN_OK with an open lock that lets it through, linked to `to` when given and
/// allowed ([`linkable`], then `loc`'s link lock).
pub(super) fn open_exit(
    ev: &mut Eval<'_>,
    frame: &Frame<'_>,
    loc: Dbref,
    name: &str,
    to: Option<LinkTo<'_>>,
) -> R {
    let me = frame.executor;
    let Some(place) = ev.world.object(loc)? else {
        return Ok(());
    };
    if name.trim().is_empty() {
        tell(ev, frame, "Open where?");
        return Ok(());
    }
    if !controls(ev, me, loc)? {
        let open_ok = place.kind != Kind::Exit && place.has_flag("OPEN_OK");
        if !(open_ok && crate::lock::passes(ev, me, loc, "OPENLOCK")?) {
            tell(ev, frame, NOPERM);
            return Ok(());
        }
    }
    let owner = owner_of(ev, me)?;
    let id = match ev.world.create(Kind::Exit, name.trim(), owner, loc) {
        Ok(id) => id,
        Err(Miss::Refused(why)) => {
            tell(ev, frame, format!("Sorry, {why}."));
            return Ok(());
        }
        Err(miss) => return Err(miss),
    };
    tell(ev, frame, "Opened.");
    let Some(to) = to else {
        return Ok(());
    };
    if matches!(to, LinkTo::Named(t) if t.trim().is_empty()) {
        return Ok(());
    }
    let Some(dest) = linkable(ev, frame, to)? else {
        return Ok(());
    };
    if dest != HOME
        && !crate::powers::link_anywhere(ev, me)?
        && !crate::lock::passes(ev, me, dest, "LINKLOCK")?
    {
        tell(ev, frame, "You can't link to there.");
        return Ok(());
    }
    ev.world.change(id, Change::Link(dest))?;
    tell(ev, frame, "Linked.");
    Ok(())
}

/// `@open name[=dest[,back]]` (TinyMUX's `do_open`): the exit here (`/inventory`: on the
/// executor), and a way back from `dest` when named.
fn open(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let (left, right) = split_eq(input.rest);
    let name = ev.eval_top(frame, left)?;
    let loc = if input.switches.iter().any(|s| s == "inventory") {
        frame.executor
    } else {
        ev.world
            .object(frame.executor)?
            .map_or(NOTHING, |o| o.location)
    };
    let right = match right {
        Some(r) => ev.eval_top(frame, r)?,
        None => String::new(),
    };
    let (dest, back) = match right.split_once(',') {
        Some((d, b)) => (d.trim(), Some(b.trim())),
        None => (right.trim(), None),
    };
    open_exit(ev, frame, loc, &name, Some(LinkTo::Named(dest)))?;
    if let Some(back) = back.filter(|b| !b.is_empty()) {
        // TinyMUX matches the destination again for the way back (and so tells again
        // why it may not link there).
        match linkable(ev, frame, LinkTo::Named(dest))? {
            Some(HOME) => tell(ev, frame, "You can't open a reverse exit at home."),
            Some(there) => open_exit(ev, frame, there, back, Some(LinkTo::Id(loc)))?,
            None => {}
        }
    }
    Ok(())
}

/// TinyMUX's `can_set_home`: `home` is a live place other than `thing` that the executor
/// controls or finds ABODE.
fn can_set_home(ev: &mut Eval<'_>, who: Dbref, thing: Dbref, home: Dbref) -> R<bool> {
    if thing == home {
        return Ok(false);
    }
    let Some(place) = ev.world.object(home)? else {
        return Ok(false);
    };
    if !has_contents(place.kind) || place.has_flag("GOING") {
        return Ok(false);
    }
    Ok(place.has_flag("ABODE") || controls(ev, who, home)?)
}

/// TinyMUX's `link_exit`: the executor must be allowed at `dest` ([`may_link_to`]) and
/// the exit must be unlinked or its own; an exit of someone else's changes hands (without
/// the flags that would lend the new owner's rights, and halted).
fn link_exit(ev: &mut Eval<'_>, frame: &Frame<'_>, exit: Dbref, dest: Dbref) -> R {
    let me = frame.executor;
    if !may_link_to(ev, frame, dest)? {
        tell(ev, frame, NOPERM);
        return Ok(());
    }
    let Some(obj) = ev.world.object(exit)? else {
        return Ok(());
    };
    if obj.link != NOTHING && !controls(ev, me, exit)? {
        tell(ev, frame, NOPERM);
        return Ok(());
    }
    let owner = owner_of(ev, me)?;
    if obj.owner != owner {
        ev.world.change(exit, Change::Owner(owner))?;
        for (flag, on) in [("INHERIT", false), ("WIZARD", false), ("HALT", true)] {
            ev.world.change(exit, Change::Flag(flag.into(), on))?;
        }
    }
    ev.world.change(exit, Change::Link(dest))?;
    if !quiet(ev, me)? {
        tell(ev, frame, "Linked.");
    }
    Ok(())
}

/// True when the object is QUIET (TinyMUX then leaves out "Linked.", "Name set.", ...).
pub(super) fn quiet(ev: &mut Eval<'_>, id: Dbref) -> R<bool> {
    Ok(ev.world.object(id)?.is_some_and(|o| o.has_flag("QUIET")))
}

/// `@link obj=dest` (TinyMUX's `do_link`): an exit's destination, a room's drop-to, or a
/// player's or thing's home, each only where the executor may link; without `=dest`, as
/// `@unlink`.
fn link(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let me = frame.executor;
    let (left, right) = split_eq(input.rest);
    let what = ev.eval_top(frame, left)?;
    let Some(id) = target(ev, frame, &what)? else {
        return Ok(());
    };
    let to_text = ev.eval_top(frame, right.unwrap_or(""))?;
    if to_text.trim().is_empty() {
        return unlink_id(ev, frame, id);
    }
    let Some(obj) = ev.world.object(id)? else {
        return Ok(());
    };
    if obj.kind == Kind::Exit {
        if let Some(dest) = linkable(ev, frame, LinkTo::Named(&to_text))? {
            link_exit(ev, frame, id, dest)?;
        }
        return Ok(());
    }
    if !controls(ev, me, id)? {
        tell(ev, frame, NOPERM);
        return Ok(());
    }
    let old = obj.link;
    let (to, what_changed) = if obj.kind == Kind::Room {
        let Some(to) = linkable(ev, frame, LinkTo::Named(&to_text))? else {
            return Ok(());
        };
        let is_room = ev.world.object(to)?.is_some_and(|o| o.kind == Kind::Room);
        if to != HOME && !is_room {
            tell(ev, frame, "That is not a room!");
            return Ok(());
        }
        if !may_link_to(ev, frame, to)? {
            tell(ev, frame, NOPERM);
            return Ok(());
        }
        (to, "Dropto")
    } else {
        let scope = Scope {
            me: true,
            here: true,
            possession: true,
            neighbor: true,
            absolute: true,
            player: true,
            ..Scope::default()
        };
        let lookup = resolve_in(ev, me, &to_text, scope)?;
        let Some(to) = found(
            ev,
            frame,
            lookup,
            "I don't know which one you mean!",
            "I don't see that here.",
        ) else {
            return Ok(());
        };
        if ev.world.object(to)?.is_some_and(|o| o.kind == Kind::Exit) {
            tell(ev, frame, "Can't link to an exit.");
            return Ok(());
        }
        if !can_set_home(ev, me, id, to)? || !crate::lock::passes(ev, me, to, "LINKLOCK")? {
            tell(ev, frame, NOPERM);
            return Ok(());
        }
        (to, "Home")
    };
    ev.world.change(id, Change::Link(to))?;
    if !quiet(ev, me)? {
        let (this, from, dest) = (named(ev, id)?, named(ev, old)?, named(ev, to)?);
        tell(
            ev,
            frame,
            format!("{what_changed} of {this} changed from {from} to {dest}."),
        );
    }
    Ok(())
}

fn unlink(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let what = ev.eval_top(frame, input.rest)?;
    let Some(id) = target(ev, frame, &what)? else {
        return Ok(());
    };
    unlink_id(ev, frame, id)
}

/// Unlinks an exit or removes a room's drop-to, for the executor that controls it.
fn unlink_id(ev: &mut Eval<'_>, frame: &Frame<'_>, id: Dbref) -> R {
    if !controls(ev, frame.executor, id)? {
        tell(ev, frame, "Permission denied.");
        return Ok(());
    }
    match ev.world.object(id)?.map(|o| o.kind) {
        Some(Kind::Exit) => {
            ev.world.change(id, Change::Link(NOTHING))?;
            tell(ev, frame, "Unlinked.");
        }
        Some(Kind::Room) => {
            ev.world.change(id, Change::Link(NOTHING))?;
            tell(ev, frame, "Dropto removed.");
        }
        _ => tell(ev, frame, "You can't unlink that!"),
    }
    Ok(())
}

/// A name TinyMUX accepts for a player.
fn good_player_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(['*', '#', '!', '(', ')', '"', '\''])
        && !name.contains(['=', '&', '|', '[', ']', '%', ';', ':', ','])
        && name.chars().all(|c| c.is_ascii_graphic() || c == ' ')
}

fn pcreate(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let (left, right) = split_eq(input.rest);
    let name = ev.eval_top(frame, left)?;
    let name = name.trim().to_string();
    let password = match right {
        Some(r) => ev.eval_top(frame, r)?,
        None => String::new(),
    };
    if password.is_empty() {
        tell(
            ev,
            frame,
            format!("Failure creating '{name}'.  Null passwords are not allowed."),
        );
        return Ok(());
    }
    let failure = format!(
        "Failure creating '{name}'.  Either there is already a player with that name, or that name is illegal."
    );
    if !good_player_name(&name) {
        tell(ev, frame, "That's a silly name for a player.");
        tell(ev, frame, failure);
        return Ok(());
    }
    if ev.world.player_named(&name)?.is_some() {
        tell(ev, frame, format!("The name {name} is already taken."));
        tell(ev, frame, failure);
        return Ok(());
    }
    let id = match ev.world.create(Kind::Player, &name, NOTHING, START_ROOM) {
        Ok(id) => id,
        Err(Miss::Refused(why)) => {
            tell(ev, frame, format!("Sorry, {why}."));
            return Ok(());
        }
        Err(miss) => return Err(miss),
    };
    ev.world.change(id, Change::Owner(id))?;
    ev.world.change(id, Change::Link(START_ROOM))?;
    ev.world.set_password(id, &password)?;
    tell(
        ev,
        frame,
        format!("New player '{name}' (#{id}) created with password '{password}'"),
    );
    Ok(())
}

fn chown(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let (left, right) = split_eq(input.rest);
    let what = ev.eval_top(frame, left)?;
    let who = match right {
        Some(r) => ev.eval_top(frame, r)?,
        None => "me".to_string(),
    };
    let who = who.trim();
    let new_owner = if who.eq_ignore_ascii_case("me") {
        Some(owner_of(ev, frame.executor)?)
    } else {
        ev.world.player_named(who.trim_start_matches('*'))?
    };
    // An attribute's owner.
    if let Some((obj, attr)) = what.split_once('/') {
        let Some(id) = target(ev, frame, obj)? else {
            return Ok(());
        };
        let Some(owner) = new_owner else {
            tell(ev, frame, "I couldn't find that player.");
            return Ok(());
        };
        let name = crate::functions::objects::canonical(&attr.trim().to_ascii_uppercase());
        let Some(mut found) = ev.world.attr(id, &name)? else {
            tell(ev, frame, "No such attribute.");
            return Ok(());
        };
        if !controls(ev, frame.executor, id)? {
            tell(ev, frame, "Permission denied.");
            return Ok(());
        }
        found.owner = owner;
        ev.world.set_attr(id, &name, Some(found))?;
        tell(ev, frame, "Attribute owner changed.");
        return Ok(());
    }
    // What it carries, its place, an exit there, itself; anything anywhere only with the
    // chown_anything power (TinyMUX's matching for @chown).
    let me = frame.executor;
    let chown_any = crate::powers::chown_any(ev, me)?;
    let scope = Scope {
        me: true,
        here: true,
        possession: true,
        exit: true,
        absolute: chown_any,
        player: chown_any,
        ..Scope::default()
    };
    let lookup = resolve_in(ev, me, &what, scope)?;
    let Some(id) = found(
        ev,
        frame,
        lookup,
        "I don't know which you mean!",
        "You don't have that!",
    ) else {
        return Ok(());
    };
    let Some(owner) = new_owner else {
        tell(ev, frame, "I couldn't find that player.");
        return Ok(());
    };
    let Some(obj) = ev.world.object(id)? else {
        return Ok(());
    };
    let god = me == crate::powers::GOD;
    if obj.kind == Kind::Player && !god {
        tell(ev, frame, "Players always own themselves.");
        return Ok(());
    }
    // TinyMUX: control of the object (or chown_anything, or CHOWN_OK), a thing carried
    // (or chown_anything), control of the new owner, and never God.
    let refused = (!controls(ev, me, id)? && !chown_any && !obj.has_flag("CHOWN_OK"))
        || (obj.kind == Kind::Thing && obj.location != me && !chown_any)
        || !controls(ev, me, owner)?
        || id == crate::powers::GOD;
    if refused {
        tell(ev, frame, "Permission denied.");
        return Ok(());
    }
    let owner = if god { owner } else { owner_of(ev, owner)? };
    let (this, from, to) = (named(ev, id)?, named(ev, obj.owner)?, named(ev, owner)?);
    ev.world.change(id, Change::Owner(owner))?;
    // Its attributes change hands too, but those locked to their owner (TinyMUX's
    // atr_chown).
    for name in ev.world.attr_names(id)? {
        if let Some(mut attr) = ev.world.attr(id, &name)?
            && attr.owner != owner
            && !attr.flags.has(AttrFlags::LOCKED)
        {
            attr.owner = owner;
            ev.world.set_attr(id, &name, Some(attr))?;
        }
    }
    // TinyMUX halts what changes hands (its queued work was the old owner's) and strips
    // the flags and powers that would hand the new owner's rights to it; /nostrip keeps
    // the flags but CHOWN_OK and WIZARD, and God's keeps WIZARD and the powers too.
    let nostrip = input.switches.iter().any(|s| s == "nostrip");
    let stripped: &[&str] = match (nostrip, god) {
        (false, _) => &["CHOWN_OK", "INHERIT", "WIZARD"],
        (true, false) => &["CHOWN_OK", "WIZARD"],
        (true, true) => &["CHOWN_OK"],
    };
    for flag in stripped {
        ev.world.change(id, Change::Flag((*flag).into(), false))?;
    }
    if !(nostrip && god) {
        for power in obj.powers.clone() {
            ev.world.change(id, Change::Power(power, false))?;
        }
    }
    ev.world.change(id, Change::Flag("HALT".into(), true))?;
    if nostrip {
        let shown = display_name(&obj).to_string();
        for flag in ["ROYALTY", "INHERIT"] {
            if obj.has_flag(flag) && !stripped.contains(&flag) {
                tell(
                    ev,
                    frame,
                    format!(
                        "Warning: @chown/nostrip on {shown}(#{id}) leaves {flag} privilege intact."
                    ),
                );
            }
        }
    }
    tell(
        ev,
        frame,
        format!("Owner of {this} changed from {from} to {to}."),
    );
    Ok(())
}

/// `@newpassword player=password`. Passwords are the game's (a game pod keeps its own
/// command for them); here only the answer is TinyMUX's.
/// `@newpassword player=password`: a wizard sets anyone's password; the player is told.
fn newpassword(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let (left, right) = split_eq(input.rest);
    let name = ev.eval_top(frame, left)?;
    let password = match right {
        Some(r) => ev.eval_top(frame, r)?,
        None => String::new(),
    };
    let name = name.trim().trim_start_matches('*');
    let player = if name.is_empty() {
        None
    } else {
        ev.world.player_named(name)?
    };
    let Some(player) = player else {
        tell(ev, frame, "No such player.");
        return Ok(());
    };
    // God's password is God's alone (TinyMUX's do_newpassword).
    if player == crate::powers::GOD && frame.executor != crate::powers::GOD {
        tell(ev, frame, "You cannot change that player's password.");
        return Ok(());
    }
    // TinyMUX accepts an empty one here (recorded: `@newpassword Dave=`).
    ev.world.set_password(player, &password)?;
    tell(ev, frame, "Password changed.");
    let by = ev.name_of(frame.executor)?;
    ev.emits.push(Emit::To(
        player,
        format!("Your password has been changed by {by}."),
    ));
    Ok(())
}

/// `@password old=new`: a player changes its own password, knowing the old one.
fn password(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let (left, right) = split_eq(input.rest);
    let me = frame.executor;
    let is_player = ev.world.object(me)?.is_some_and(|o| o.kind == Kind::Player);
    let new = right.unwrap_or("").trim();
    if !is_player || !ev.world.check_password(me, left.trim())? {
        tell(ev, frame, "Sorry.");
        return Ok(());
    }
    if new.is_empty() {
        tell(ev, frame, "Bad password.");
        return Ok(());
    }
    ev.world.set_password(me, new)?;
    tell(ev, frame, "Password changed.");
    Ok(())
}

/// `@boot[/quiet] player`: closes every connection of a player, for wizards and holders
/// of the `boot` power; TinyMUX's replies (`0 connections closed.` for one not connected).
fn boot(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let me = frame.executor;
    if !crate::powers::can_boot(ev, me)? {
        tell(ev, frame, "Permission denied.");
        return Ok(());
    }
    let text = ev.eval_top(frame, input.rest)?;
    // TinyMUX looks in the room, at `#12` and at `*player`: not `me`.
    let scope = Scope {
        neighbor: true,
        absolute: true,
        player: true,
        ..Scope::default()
    };
    let lookup = resolve_in(ev, me, &text, scope)?;
    let Some(id) = found(
        ev,
        frame,
        lookup,
        "I don't know which one you mean!",
        "I don't see that here.",
    ) else {
        return Ok(());
    };
    let Some(victim) = ev.world.object(id)? else {
        return Ok(());
    };
    if id == crate::powers::GOD {
        tell(ev, frame, "You cannot boot that player!");
        return Ok(());
    }
    if (victim.kind != Kind::Player && me != crate::powers::GOD) || id == me {
        tell(ev, frame, "You can only boot off other players!");
        return Ok(());
    }
    let connections = ev
        .world
        .connections()?
        .iter()
        .filter(|c| c.player == id)
        .count();
    tell(
        ev,
        frame,
        format!("You booted {} off!", display_name(&victim)),
    );
    if connections > 0 {
        let quiet = input.switches.iter().any(|s| s == "quiet");
        let by = ev.name_of(me)?;
        ev.emits.push(Emit::Boot {
            player: id,
            text: (!quiet).then(|| format!("{by} gently shows you the door.")),
        });
    }
    tell(
        ev,
        frame,
        format!(
            "{connections} connection{} closed.",
            if connections == 1 { "" } else { "s" }
        ),
    );
    Ok(())
}

/// `@clone obj[=name]`: a copy with its attributes, parent, zone and most flags,
/// where the executor stands (`/inventory`: carried); a room's copy is nowhere.
fn clone(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let (left, right) = split_eq(input.rest);
    let what = ev.eval_top(frame, left)?;
    let Some(id) = target(ev, frame, &what)? else {
        return Ok(());
    };
    let Some(obj) = ev.world.object(id)? else {
        return Ok(());
    };
    if !controls(ev, frame.executor, id)? {
        tell(ev, frame, "Permission denied.");
        return Ok(());
    }
    if matches!(obj.kind, Kind::Player | Kind::Exit) {
        tell(ev, frame, "You can only clone things and rooms.");
        return Ok(());
    }
    let new_name = match right {
        Some(r) => ev.eval_top(frame, r)?.trim().to_string(),
        None => String::new(),
    };
    let name = if new_name.is_empty() {
        obj.name.clone()
    } else {
        new_name.clone()
    };
    let location = if obj.kind == Kind::Room {
        NOTHING
    } else if input.switches.iter().any(|s| s == "inventory") {
        frame.executor
    } else {
        room_of(ev, frame.executor)?
    };
    let owner = owner_of(ev, frame.executor)?;
    let copy = match ev.world.create(obj.kind, &name, owner, location) {
        Ok(copy) => copy,
        Err(Miss::Refused(why)) => {
            tell(ev, frame, format!("Sorry, {why}."));
            return Ok(());
        }
        Err(miss) => return Err(miss),
    };
    for attr_name in ev.world.attr_names(id)? {
        if let Some(attr) = ev.world.attr(id, &attr_name)? {
            ev.world.set_attr(copy, &attr_name, Some(attr))?;
        }
    }
    for change in [
        Change::Parent(obj.parent),
        Change::Zone(obj.zone),
        Change::Link(obj.link),
    ] {
        ev.world.change(copy, change)?;
    }
    // The copy keeps the original's flags but those that hand out rights or ears.
    // (A room's copy does not keep HALT.)
    for flag in obj.flags.iter().filter(|f| {
        let rights = matches!(f.as_str(), "WIZARD" | "PUPPET" | "INHERIT" | "CONNECTED");
        let room_halt = obj.kind == Kind::Room && *f == "HALT";
        !(rights || room_halt)
    }) {
        ev.world.change(copy, Change::Flag(flag.clone(), true))?;
    }
    let shown = crate::functions::objects::display_name(&obj).to_string();
    if new_name.is_empty() {
        tell(
            ev,
            frame,
            format!("{shown} cloned, new copy is object #{copy}."),
        );
    } else {
        tell(
            ev,
            frame,
            format!("{shown} cloned as {new_name}, new copy is object #{copy}."),
        );
    }
    Ok(())
}

/// `@find name[,low,high]`: the objects the executor controls with a word of their name
/// starting with `name`.
fn find(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let text = ev.eval_top(frame, input.rest)?;
    let mut parts = text.split(',');
    let name = parts.next().unwrap_or("").trim().to_lowercase();
    let low: Dbref = parts
        .next()
        .map_or(0, |t| crate::functions::to_i64(t.trim()));
    let high: Dbref = parts
        .next()
        .map_or(Dbref::MAX, |t| crate::functions::to_i64(t.trim()));
    let search = crate::world::Search {
        range: Some((low, high)),
        ..Default::default()
    };
    for id in ev.world.search(&search)? {
        let Some(obj) = ev.world.object(id)? else {
            continue;
        };
        if obj.kind == Kind::Exit || obj.has_flag("GOING") {
            continue;
        }
        // A word of the name starting with what was typed, as TinyMUX matches names.
        let lower = obj.name.to_lowercase();
        if !name.is_empty()
            && !lower.starts_with(&name)
            && !lower.split(' ').any(|w| w.starts_with(&name))
        {
            continue;
        }
        if !controls(ev, frame.executor, id)? {
            continue;
        }
        let line = super::attrs::unparse(ev, id)?;
        tell(ev, frame, line);
    }
    tell(ev, frame, "***End of List***");
    Ok(())
}
