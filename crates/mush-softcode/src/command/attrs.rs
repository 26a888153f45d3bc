//! Attributes: `&attr obj=value`, `@set`, `@describe` and friends, `examine`.

use super::{Command, Input, split_eq, target, tell};
use crate::eval::{Eval, Frame, R, dbref};
use crate::functions::objects::{FLAG_LETTERS, controls, display_name, set_attr, set_thing};
use crate::world::NOTHING;
use crate::world::{Dbref, Kind};
use std::collections::HashMap;

/// The attribute family.
pub const COMMANDS: &[Command] = &[
    Command {
        name: "@SET",
        aliases: &[],
        switches: &["quiet"],
        wizard: false,
        run: set,
    },
    Command {
        name: "EXAMINE",
        aliases: &["EX", "EXA"],
        switches: &["brief", "full", "parent"],
        wizard: false,
        run: examine,
    },
];

/// The commands that set one message or action attribute (`@desc obj=text` sets
/// `DESCRIBE`), as TinyMUX names them: command, short form, attribute.
pub const MESSAGES: &[(&str, &str, &str)] = &[
    ("@DESCRIBE", "@DESC", "DESCRIBE"),
    ("@ODESCRIBE", "@ODESC", "ODESCRIBE"),
    ("@ADESCRIBE", "@ADESC", "ADESCRIBE"),
    ("@IDESCRIBE", "@IDESC", "IDESCRIBE"),
    ("@SUCCESS", "@SUCC", "SUCCESS"),
    ("@OSUCCESS", "@OSUCC", "OSUCCESS"),
    ("@ASUCCESS", "@ASUCC", "ASUCCESS"),
    ("@FAIL", "", "FAIL"),
    ("@OFAIL", "", "OFAIL"),
    ("@AFAIL", "", "AFAIL"),
    ("@DROP", "", "DROP"),
    ("@ODROP", "", "ODROP"),
    ("@ADROP", "", "ADROP"),
    ("@DFAIL", "", "DFAIL"),
    ("@ODFAIL", "", "ODFAIL"),
    ("@ADFAIL", "", "ADFAIL"),
    ("@ENTER", "", "ENTER"),
    ("@OENTER", "", "OENTER"),
    ("@AENTER", "", "AENTER"),
    ("@OXENTER", "", "OXENTER"),
    ("@EFAIL", "", "EFAIL"),
    ("@OEFAIL", "", "OEFAIL"),
    ("@AEFAIL", "", "AEFAIL"),
    ("@LEAVE", "", "LEAVE"),
    ("@OLEAVE", "", "OLEAVE"),
    ("@ALEAVE", "", "ALEAVE"),
    ("@OXLEAVE", "", "OXLEAVE"),
    ("@LFAIL", "", "LFAIL"),
    ("@OLFAIL", "", "OLFAIL"),
    ("@ALFAIL", "", "ALFAIL"),
    ("@MOVE", "", "MOVE"),
    ("@OMOVE", "", "OMOVE"),
    ("@AMOVE", "", "AMOVE"),
    ("@USE", "", "USE"),
    ("@OUSE", "", "OUSE"),
    ("@AUSE", "", "AUSE"),
    ("@UFAIL", "", "UFAIL"),
    ("@OUFAIL", "", "OUFAIL"),
    ("@AUFAIL", "", "AUFAIL"),
    ("@TPORT", "", "TPORT"),
    ("@OTPORT", "", "OTPORT"),
    ("@ATPORT", "", "ATPORT"),
    ("@OXTPORT", "", "OXTPORT"),
    ("@TFAIL", "", "TFAIL"),
    ("@OTFAIL", "", "OTFAIL"),
    ("@ATFAIL", "", "ATFAIL"),
    ("@GFAIL", "", "GFAIL"),
    ("@OGFAIL", "", "OGFAIL"),
    ("@AGFAIL", "", "AGFAIL"),
    ("@RFAIL", "", "RFAIL"),
    ("@ORFAIL", "", "ORFAIL"),
    ("@ARFAIL", "", "ARFAIL"),
    ("@LISTEN", "", "LISTEN"),
    ("@AHEAR", "", "AHEAR"),
    ("@AMHEAR", "", "AMHEAR"),
    ("@AAHEAR", "", "AAHEAR"),
    ("@ACONNECT", "", "ACONNECT"),
    ("@ADISCONNECT", "", "ADISCONNECT"),
    ("@STARTUP", "", "STARTUP"),
    ("@CONFORMAT", "", "CONFORMAT"),
    ("@EXITFORMAT", "", "EXITFORMAT"),
    ("@NAMEFORMAT", "", "NAMEFORMAT"),
    ("@SEX", "", "SEX"),
    ("@FILTER", "", "FILTER"),
    ("@INFILTER", "", "INFILTER"),
    ("@PREFIX", "", "PREFIX"),
    ("@INPREFIX", "", "INPREFIX"),
    ("@FORWARDLIST", "", "FORWARDLIST"),
    ("@AWAY", "", "AWAY"),
    ("@IDLE", "", "IDLE"),
    ("@REJECT", "", "REJECT"),
];

/// One [`Command`] per [`MESSAGES`] entry, built once.
pub fn message_commands() -> &'static [Command] {
    static COMMANDS: std::sync::OnceLock<Vec<Command>> = std::sync::OnceLock::new();
    COMMANDS.get_or_init(|| {
        MESSAGES
            .iter()
            .map(|(name, short, _)| Command {
                name,
                aliases: if short.is_empty() {
                    &[]
                } else {
                    std::slice::from_ref(short)
                },
                switches: &[],
                wizard: false,
                run: describe,
            })
            .collect()
    })
}

/// The attribute an `@attr obj=value` command sets.
fn attr_of(command: &str) -> &'static str {
    MESSAGES
        .iter()
        .find(|(name, _, _)| *name == command)
        .map_or("DESCRIBE", |(_, _, attr)| attr)
}

/// `&ATTR obj=value`: stored as typed; an empty value clears it.
pub fn ampersand(ev: &mut Eval<'_>, frame: &Frame<'_>, rest: &str) -> R {
    let (name, rest) = match rest.find(' ') {
        Some(i) => (&rest[..i], rest[i + 1..].trim_start()),
        None => (rest, ""),
    };
    let (obj, value) = split_eq(rest);
    let obj = ev.eval_top(frame, obj)?;
    let value = stored(ev, frame, value.unwrap_or(""))?;
    write(ev, frame, obj.trim(), &name.to_ascii_uppercase(), &value)
}

/// The value an attribute-setting command stores: as typed by a player, but evaluated
/// when the command runs from the queue (TinyMUX evaluates queued commands' arguments,
/// which is how `&n me=[add(v(n),1)]` in a trigger counts).
fn stored(ev: &mut Eval<'_>, frame: &Frame<'_>, value: &str) -> R<String> {
    if ev.interactive {
        Ok(compress(value))
    } else {
        Ok(compress(&ev.eval_top(frame, value)?))
    }
}

/// TinyMUX compresses runs of spaces in what a command stores and trims its ends.
pub fn compress(text: &str) -> String {
    crate::functions::items(text, " ").join(" ")
}

fn write(ev: &mut Eval<'_>, frame: &Frame<'_>, obj: &str, name: &str, value: &str) -> R {
    let Some(id) = target(ev, frame, obj)? else {
        return Ok(());
    };
    if !controls(ev, frame.executor, id)? {
        tell(ev, frame, "Permission denied.");
        return Ok(());
    }
    let name = crate::functions::objects::canonical(name);
    let heard = hears(ev, id)?;
    match set_attr(ev, frame.executor, id, &name, value)? {
        Ok(()) => {
            ears(ev, frame, id, heard)?;
            tell(ev, frame, "Set.");
        }
        Err(e) => tell(ev, frame, e),
    }
    Ok(())
}

/// True when an object can hear (TinyMUX's `Hearer`): a connected player, or a thing
/// or room as [`hears`] has it.
pub(super) fn can_hear(ev: &mut Eval<'_>, id: Dbref) -> R<bool> {
    match ev.world.object(id)? {
        Some(o) if o.kind == Kind::Player => Ok(o.has_flag("CONNECTED")),
        Some(_) => hears(ev, id),
        None => Ok(false),
    }
}

/// True when a thing or room can hear (TinyMUX's `Hearer`): it is a PUPPET, has a
/// `@listen`, or is MONITOR with a `^`-pattern to match.
fn hears(ev: &mut Eval<'_>, id: Dbref) -> R<bool> {
    let Some(obj) = ev.world.object(id)? else {
        return Ok(false);
    };
    if obj.kind == Kind::Player || obj.kind == Kind::Exit {
        return Ok(false);
    }
    if obj.has_flag("PUPPET") {
        return Ok(true);
    }
    if ev
        .world
        .attr(id, "LISTEN")?
        .is_some_and(|a| !a.value.is_empty())
    {
        return Ok(true);
    }
    if obj.has_flag("MONITOR") {
        for name in ev.world.attr_names(id)? {
            if ev
                .world
                .attr(id, &name)?
                .is_some_and(|a| a.value.starts_with('^'))
            {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Says that an object started or stopped hearing, as TinyMUX does.
fn ears(ev: &mut Eval<'_>, frame: &Frame<'_>, id: Dbref, heard: bool) -> R {
    let now = hears(ev, id)?;
    if now != heard {
        let name = ev.name_of(id)?;
        let text = if now {
            format!("{name} grows ears and can now hear.")
        } else {
            format!("{name} loses its ears and becomes deaf.")
        };
        tell(ev, frame, text);
    }
    Ok(())
}

fn set(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let (left, right) = split_eq(input.rest);
    let right = right.unwrap_or("").trim();
    if right.is_empty() {
        tell(ev, frame, "You must specify a flag to set.");
        return Ok(());
    }
    let left = ev.eval_top(frame, left)?;
    // `attr:value` is stored as typed; a flag name is evaluated.
    let what = if right.contains(':') {
        stored(ev, frame, right)?
    } else {
        ev.eval_top(frame, right)?
    };
    let thing = crate::functions::objects::resolve(ev, frame.executor, left.trim())?.ok();
    let heard = match thing {
        Some(id) => hears(ev, id)?,
        None => false,
    };
    match set_thing(ev, frame, left.trim(), &what)? {
        Ok(reply) => {
            if let Some(id) = thing {
                ears(ev, frame, id, heard)?;
            }
            if !input.switches.iter().any(|s| s == "quiet") {
                tell(ev, frame, reply);
            }
        }
        Err(e) => tell(ev, frame, e),
    }
    Ok(())
}

fn describe(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let (left, right) = split_eq(input.rest);
    let obj = ev.eval_top(frame, left)?;
    let value = stored(ev, frame, right.unwrap_or(""))?;
    write(ev, frame, obj.trim(), attr_of(input.name), &value)
}

/// An object as `viewer` sees it in a look, an inventory or a search: `Name(#12flags)`
/// when the viewer may examine it (or its flags invite linking, jumping, taking over or
/// destroying it), else its name alone, as TinyMUX's `unparse_object`.
pub fn unparse_for(ev: &mut Eval<'_>, viewer: Dbref, id: Dbref) -> R<String> {
    let Some(obj) = ev.world.object(id)? else {
        return unparse(ev, id);
    };
    let open = [
        "VISUAL",
        "CHOWN_OK",
        "JUMP_OK",
        "LINK_OK",
        "DESTROY_OK",
        "ABODE",
    ]
    .iter()
    .any(|f| obj.has_flag(f));
    if open || crate::powers::examinable(ev, viewer, id)? {
        return unparse(ev, id);
    }
    Ok(display_name(&obj).to_string())
}

/// `Name(#12flags)` as TinyMUX shows an object to someone who may examine it.
pub fn unparse(ev: &mut Eval<'_>, id: Dbref) -> R<String> {
    let Some(obj) = ev.world.object(id)? else {
        return Ok(match id {
            -1 => "*NOTHING*".into(),
            -3 => "*HOME*".into(),
            _ => format!("*GARBAGE*({})", dbref(id)),
        });
    };
    let letters = crate::functions::objects::flag_letters(&obj);
    Ok(format!("{}(#{}{letters})", display_name(&obj), obj.id))
}

fn examine(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let text = ev.eval_top(frame, input.rest)?;
    let text = if text.trim().is_empty() {
        "here".to_string()
    } else {
        text
    };
    let (obj_text, pattern) = match text.split_once('/') {
        Some((o, p)) => (o.to_string(), Some(p.trim().to_ascii_uppercase())),
        None => (text.clone(), None),
    };
    let Some(id) = target(ev, frame, &obj_text)? else {
        return Ok(());
    };
    let Some(obj) = ev.world.object(id)? else {
        return Ok(());
    };
    let me = frame.executor;
    let mine = controls(ev, me, id)?;
    let my_owner = crate::functions::objects::owner_of(ev, me)?;
    if let Some(pattern) = pattern {
        let mut shown = 0;
        for name in ev.world.attr_names(id)? {
            if crate::wild::matches(&pattern, &name) {
                let Some(attr) = ev.world.attr(id, &name)? else {
                    continue;
                };
                if !crate::functions::objects::can_read(ev, me, id, &name, &attr)? {
                    continue;
                }
                let tags = mine || attr.owner == my_owner;
                let line = attr_line(&name, &attr, obj.owner, tags);
                tell(ev, frame, line);
                shown += 1;
            }
        }
        if shown == 0 {
            tell(ev, frame, "No matching attributes found.");
        }
        return Ok(());
    }
    // TinyMUX's `Examinable`: VISUAL, the same owner, or the see_all power; anyone else
    // learns the owner only.
    if !crate::powers::examinable(ev, me, id)? {
        let owner = ev.name_of(obj.owner)?;
        let name = display_name(&obj).to_string();
        tell(ev, frame, format!("{name} is owned by {owner}"));
        return Ok(());
    }
    let head = unparse(ev, id)?;
    tell(ev, frame, head);
    // Flag names in alphabetical order, as TinyMUX lists them.
    let mut flags: Vec<&str> = FLAG_LETTERS
        .iter()
        .map(|(f, _)| *f)
        .filter(|f| obj.has_flag(f))
        .collect();
    flags.sort_unstable();
    tell(
        ev,
        frame,
        format!("Type: {} Flags: {}", obj.kind.name(), flags.join(" "))
            .trim_end()
            .to_string(),
    );
    let owner = ev.name_of(obj.owner)?;
    let pennies = match obj.kind {
        Kind::Player => 1000,
        Kind::Thing => 1,
        _ => 0,
    };
    let key = match ev.world.attr(id, crate::lock::DEFAULT_LOCK)? {
        Some(lock) => shown_key(ev, &lock.value)?,
        None => "*UNLOCKED*".to_string(),
    };
    tell(
        ev,
        frame,
        format!("Owner: {owner}  Key: {key} Pennies: {pennies}"),
    );
    let zone = unparse(ev, obj.zone)?;
    tell(ev, frame, format!("Zone: {zone}"));
    if obj.parent != NOTHING {
        let parent = unparse(ev, obj.parent)?;
        tell(ev, frame, format!("Parent: {parent}"));
    }
    let powers = crate::powers::listed(&obj.powers).join(" ");
    tell(ev, frame, format!("Powers: {powers}"));
    if !input.switches.iter().any(|s| s == "brief") {
        for name in ev.world.attr_names(id)? {
            if name == crate::lock::DEFAULT_LOCK {
                continue;
            }
            let Some(mut attr) = ev.world.attr(id, &name)? else {
                continue;
            };
            if !crate::functions::objects::can_read(ev, me, id, &name, &attr)? {
                continue;
            }
            let tags = mine || attr.owner == my_owner;
            let shown = match crate::lock::lock_display(&name) {
                Some(display) => {
                    attr.value = shown_key(ev, &attr.value)?;
                    display.to_string()
                }
                None => name,
            };
            let line = attr_line(&shown, &attr, obj.owner, tags);
            tell(ev, frame, line);
        }
    }
    let contents = ev.world.contents(id)?;
    if !contents.is_empty() {
        tell(ev, frame, "Contents:");
        for c in contents {
            let line = unparse(ev, c)?;
            tell(ev, frame, line);
        }
    }
    match obj.kind {
        Kind::Room | Kind::Thing | Kind::Player => {
            let exits = ev.world.exits(id)?;
            if exits.is_empty() {
                tell(ev, frame, "No exits.");
            } else {
                tell(ev, frame, "Exits:");
                for e in exits {
                    let line = unparse(ev, e)?;
                    tell(ev, frame, line);
                }
            }
        }
        Kind::Exit => {}
    }
    match obj.kind {
        Kind::Thing | Kind::Player => {
            let home = unparse(ev, obj.link)?;
            tell(ev, frame, format!("Home: {home}"));
            let location = unparse(ev, obj.location)?;
            tell(ev, frame, format!("Location: {location}"));
        }
        Kind::Exit => {
            let source = unparse(ev, obj.location)?;
            tell(ev, frame, format!("Source: {source}"));
            let dest = unparse(ev, obj.link)?;
            tell(ev, frame, format!("Destination: {dest}"));
        }
        Kind::Room => {
            if obj.link != NOTHING {
                let dropto = unparse(ev, obj.link)?;
                tell(ev, frame, format!("Dropped objects go to: {dropto}"));
            }
        }
    }
    Ok(())
}

/// A stored key as `examine` shows it: each object as `Name(#nFLAGS)`.
fn shown_key(ev: &mut Eval<'_>, stored: &str) -> R<String> {
    let Some(key) = crate::lock::Key::parse_stored(stored) else {
        return Ok("*UNLOCKED*".to_string());
    };
    let mut ids = Vec::new();
    crate::functions::locks::collect(&key, &mut |id| ids.push(id));
    let mut names = HashMap::new();
    for id in ids {
        let shown = unparse(ev, id)?;
        names.insert(id, shown);
    }
    Ok(key.unparse_with(&|id| names.get(&id).cloned().unwrap_or_else(|| format!("#{id}"))))
}

/// One attribute as `examine` shows it: owner and flags in brackets when they are worth
/// showing and `tags` (the viewer controls the object or owns the attribute: TinyMUX
/// hides them from anyone else).
fn attr_line(name: &str, attr: &crate::world::Attr, object_owner: Dbref, tags: bool) -> String {
    if !tags {
        return format!("{name}: {}", attr.value);
    }
    let letters = attr.flags.letters();
    let mut tag = String::new();
    if attr.owner != object_owner {
        tag.push_str(&dbref(attr.owner));
    }
    if !letters.is_empty() {
        tag.push_str(&letters);
    }
    if tag.is_empty() {
        format!("{name}: {}", attr.value)
    } else {
        format!("{name} [{tag}]: {}", attr.value)
    }
}
