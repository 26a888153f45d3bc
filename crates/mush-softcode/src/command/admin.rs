//! Looking over and clearing up a world: `@decompile`, `@entrances`, `@destroy`, `@wall`.

use super::{Command, Input, split_eq, target, tell};
use crate::eval::{Emit, Eval, Frame, R};
use crate::functions::objects::{FLAG_LETTERS, controls, display_name, named};
use crate::world::{AttrFlags, Change, Kind, NOTHING, Search};

/// The administration family.
pub const COMMANDS: &[Command] = &[
    Command {
        name: "@DECOMPILE",
        aliases: &[],
        switches: &[],
        wizard: false,
        run: decompile,
    },
    Command {
        name: "@ENTRANCES",
        aliases: &[],
        switches: &[],
        wizard: false,
        run: entrances,
    },
    Command {
        name: "@DESTROY",
        aliases: &["@DEST"],
        switches: &["override", "instant"],
        wizard: false,
        run: destroy,
    },
    Command {
        name: "@SEARCH",
        aliases: &[],
        switches: &[],
        wizard: false,
        run: search,
    },
    Command {
        name: "@WALL",
        aliases: &[],
        switches: &["pose", "emit", "no_prefix"],
        wizard: false,
        run: wall,
    },
];

/// How TinyMUX names a built-in attribute when it writes it back as a command (`@Desc`).
fn builtin_name(attr: &str) -> Option<&'static str> {
    Some(match attr {
        "DESCRIBE" => "Desc",
        "ODESCRIBE" => "ODesc",
        "ADESCRIBE" => "ADesc",
        "IDESCRIBE" => "IDesc",
        "SUCCESS" => "Succ",
        "OSUCCESS" => "OSucc",
        "ASUCCESS" => "ASucc",
        "FAIL" => "Fail",
        "OFAIL" => "OFail",
        "AFAIL" => "AFail",
        "DROP" => "Drop",
        "ODROP" => "ODrop",
        "ADROP" => "ADrop",
        "SEX" => "Sex",
        "LISTEN" => "Listen",
        "AHEAR" => "AHear",
        "AMHEAR" => "AMHear",
        "AAHEAR" => "AAHear",
        "STARTUP" => "Startup",
        _ => return None,
    })
}

/// A lock key as `@decompile` writes it: players as `*Name`, things by name, the rest by
/// number.
fn decompiled_key(ev: &mut Eval<'_>, stored: &str) -> R<Option<String>> {
    let Some(key) = crate::lock::Key::parse_stored(stored) else {
        return Ok(None);
    };
    let mut ids = Vec::new();
    crate::functions::locks::collect(&key, &mut |id| ids.push(id));
    let mut names = std::collections::HashMap::new();
    for id in ids {
        let shown = match ev.world.object(id)? {
            Some(o) if o.kind == Kind::Player => format!("*{}", o.name),
            Some(o) if o.kind == Kind::Thing => o.name.clone(),
            _ => format!("#{id}"),
        };
        names.insert(id, shown);
    }
    Ok(Some(key.unparse_with(&|id| {
        names.get(&id).cloned().unwrap_or_else(|| format!("#{id}"))
    })))
}

fn decompile(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let (left, right) = split_eq(input.rest);
    let spec = ev.eval_top(frame, left)?;
    let (obj, pattern) = match spec.split_once('/') {
        Some((o, p)) => (o.to_string(), Some(p.trim().to_ascii_uppercase())),
        None => (spec.clone(), None),
    };
    let Some(id) = target(ev, frame, &obj)? else {
        return Ok(());
    };
    let Some(thing) = ev.world.object(id)? else {
        return Ok(());
    };
    if !controls(ev, frame.executor, id)? {
        tell(ev, frame, "Permission denied.");
        return Ok(());
    }
    let name = match right {
        Some(r) => ev.eval_top(frame, r)?.trim().to_string(),
        None => display_name(&thing).to_string(),
    };
    match thing.kind {
        Kind::Room => tell(ev, frame, format!("@dig/teleport {name}")),
        Kind::Thing => tell(ev, frame, format!("@create {name}=10")),
        _ => {}
    }
    let everything = pattern.is_none();
    if everything
        && let Some(lock) = ev.world.attr(id, crate::lock::DEFAULT_LOCK)?
        && let Some(key) = decompiled_key(ev, &lock.value)?
    {
        tell(ev, frame, format!("@lock {name}={key}"));
    }
    for attr_name in ev.world.attr_names(id)? {
        if attr_name == crate::lock::DEFAULT_LOCK
            || pattern
                .as_deref()
                .is_some_and(|p| !crate::wild::matches(p, &attr_name))
        {
            continue;
        }
        let Some(attr) = ev.world.attr(id, &attr_name)? else {
            continue;
        };
        if let Some(lock) = crate::lock::lock_display(&attr_name) {
            if let Some(key) = decompiled_key(ev, &attr.value)? {
                tell(ev, frame, format!("@lock/{lock} {name}={key}"));
            }
            continue;
        }
        match builtin_name(&attr_name) {
            Some(shown) => tell(ev, frame, format!("@{shown} {name}={}", attr.value)),
            None => tell(ev, frame, format!("&{attr_name} {name}={}", attr.value)),
        }
        for (bit, flag, _) in AttrFlags::NAMES {
            if attr.flags.has(*bit) {
                tell(ev, frame, format!("@set {name}/{attr_name} = {flag}"));
            }
        }
    }
    if everything {
        for (flag, _) in FLAG_LETTERS {
            if thing.has_flag(flag) && !matches!(*flag, "CONNECTED" | "HALT" | "GOING") {
                tell(ev, frame, format!("@set {name}={flag}"));
            }
        }
        for power in crate::powers::listed(&thing.powers) {
            tell(ev, frame, format!("@power {name}={power}"));
        }
    }
    Ok(())
}

fn entrances(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let text = ev.eval_top(frame, input.rest)?;
    let text = if text.trim().is_empty() {
        "here".to_string()
    } else {
        text
    };
    let Some(id) = target(ev, frame, &text)? else {
        return Ok(());
    };
    let mut found = 0;
    for other in ev.world.search(&Search::default())? {
        let Some(obj) = ev.world.object(other)? else {
            continue;
        };
        if obj.link != id || obj.has_flag("GOING") {
            continue;
        }
        let line = match obj.kind {
            Kind::Exit => {
                let source = super::attrs::unparse(ev, obj.location)?;
                format!("{source} ({})", obj.name)
            }
            Kind::Room => format!("{} [dropto]", super::attrs::unparse(ev, other)?),
            _ => format!("{} [home]", super::attrs::unparse(ev, other)?),
        };
        tell(ev, frame, line);
        found += 1;
    }
    tell(ev, frame, format!("{found} entrances found."));
    Ok(())
}

/// Marks an object GOING, as TinyMUX does: it is gone from play at once and its number is
/// reused later.
fn destroy(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    let text = ev.eval_top(frame, input.rest)?;
    let Some(id) = target(ev, frame, &text)? else {
        return Ok(());
    };
    let Some(obj) = ev.world.object(id)? else {
        return Ok(());
    };
    if obj.has_flag("GOING") {
        let kind = obj.kind.name().to_ascii_lowercase();
        tell(ev, frame, format!("No sense beating a dead {kind}."));
        return Ok(());
    }
    if obj.kind == Kind::Player || id == frame.executor {
        tell(
            ev,
            frame,
            "Sorry, that object is protected.  Use @destroy/override to destroy it.",
        );
        return Ok(());
    }
    if !controls(ev, frame.executor, id)? {
        tell(ev, frame, "Permission denied.");
        return Ok(());
    }
    let here = ev
        .world
        .object(frame.executor)?
        .map_or(NOTHING, |o| o.location);
    let place = if obj.kind == Kind::Room {
        id
    } else {
        obj.location
    };
    if place == here || place == frame.executor {
        let kind = obj.kind.name().to_ascii_lowercase();
        ev.emits.push(Emit::Room {
            room: place,
            except: Vec::new(),
            text: format!("The {kind} shakes and begins to crumble."),
        });
        if place == frame.executor {
            tell(
                ev,
                frame,
                format!("The {kind} shakes and begins to crumble."),
            );
        }
    }
    let shown = named(ev, id)?;
    ev.world.change(id, Change::Flag("GOING".into(), true))?;
    tell(
        ev,
        frame,
        format!("You will be rewarded shortly for {shown}."),
    );
    tell(ev, frame, format!("Destroyed {shown}."));
    Ok(())
}

/// `@wall`: for wizards and holders of the `announce` power (TinyMUX's CA_ANNOUNCE).
fn wall(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    if !crate::powers::announce(ev, frame.executor)? {
        tell(ev, frame, "Permission denied.");
        return Ok(());
    }
    let text = ev.eval_top(frame, input.rest)?;
    let who = ev.name_of(frame.executor)?;
    let has = |s: &str| input.switches.iter().any(|x| x == s);
    let line = if has("pose") {
        format!("Announcement: {who} {text}")
    } else if has("emit") {
        format!("Announcement: {text}")
    } else {
        format!("Announcement: {who} shouts, \"{text}\"")
    };
    for connection in ev.world.connections()? {
        ev.emits.push(Emit::To(connection.player, line.clone()));
    }
    Ok(())
}

/// `@search [player] [class=value]`: what `search()` finds, grouped by type as TinyMUX
/// lists it.
fn search(ev: &mut Eval<'_>, frame: &Frame<'_>, input: &Input<'_>) -> R {
    // Taken as typed: an `eval=` expression is evaluated per object, not before.
    let text = input.rest.to_string();
    let query = match crate::functions::search::parse(ev, frame, &text)? {
        Ok(query) => query,
        Err(complaint) => {
            tell(ev, frame, complaint);
            return Ok(());
        }
    };
    let found = crate::functions::search::run(ev, frame, &query)?;
    let mut counts = [0usize; 4];
    for (n, (kind, head)) in [
        (Kind::Room, "ROOMS:"),
        (Kind::Exit, "EXITS:"),
        (Kind::Thing, "OBJECTS:"),
        (Kind::Player, "PLAYERS:"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut lines = Vec::new();
        for &id in &found {
            let Some(obj) = ev.world.object(id)? else {
                continue;
            };
            if obj.kind != kind {
                continue;
            }
            let shown = super::attrs::unparse_for(ev, frame.executor, id)?;
            lines.push(match kind {
                Kind::Room => shown,
                Kind::Exit => {
                    let letters = crate::functions::objects::flag_letters(&obj);
                    let from = super::attrs::unparse_for(ev, frame.executor, obj.location)?;
                    let to = super::attrs::unparse_for(ev, frame.executor, obj.link)?;
                    format!("{}(#{id}{letters}) [from {from} to {to}]", obj.name)
                }
                Kind::Thing => {
                    let owner = super::attrs::unparse_for(ev, frame.executor, obj.owner)?;
                    format!("{shown} [owner: {owner}]")
                }
                Kind::Player => {
                    let at = super::attrs::unparse_for(ev, frame.executor, obj.location)?;
                    format!("{shown} [location: {at}]")
                }
            });
        }
        counts[n] = lines.len();
        if !lines.is_empty() {
            tell(ev, frame, format!("\n{head}"));
            for line in lines {
                tell(ev, frame, line);
            }
        }
    }
    tell(
        ev,
        frame,
        format!(
            "\nFound:  Rooms...{}  Exits...{}  Objects...{}  Players...{}",
            counts[0], counts[1], counts[2], counts[3]
        ),
    );
    Ok(())
}
