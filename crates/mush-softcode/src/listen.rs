//! What objects hear: after a command, every thing or room that heard its output may react,
//! through `@listen` (with `@ahear`, `@amhear`, `@aahear`) and, when it is `MONITOR`,
//! through `^pattern:action` attributes, as TinyMUX's `notify_check` does. Reactions are
//! queued like `$`-commands, so a listener that answers what it hears cannot loop inside
//! one command (the queue quota bounds it).

use crate::dollar::split_command;
use crate::eval::{Emit, Eval, R};
use crate::functions::objects::inherited;
use crate::queue::{Job, QueueOp, Wait};
use crate::world::{Dbref, Kind};

/// Lets every object that heard this command's output (sent by `sender`) react.
pub fn hear(ev: &mut Eval<'_>, sender: Dbref) -> R {
    let mut heard: Vec<(Dbref, String)> = Vec::new();
    for emit in &ev.emits {
        match emit {
            Emit::To(to, text) => heard.push((*to, text.clone())),
            Emit::Room { room, except, text } => {
                for obj in ev.world.contents(*room)? {
                    if !except.contains(&obj) {
                        heard.push((obj, text.clone()));
                    }
                }
                if !except.contains(room) {
                    heard.push((*room, text.clone()));
                }
            }
            Emit::Boot { .. } => {}
        }
    }
    for (obj, text) in heard {
        react(ev, sender, obj, &crate::functions::strings::strip(&text))?;
    }
    Ok(())
}

fn react(ev: &mut Eval<'_>, sender: Dbref, target: Dbref, text: &str) -> R {
    let Some(obj) = ev.world.object(target)? else {
        return Ok(());
    };
    if matches!(obj.kind, Kind::Player | Kind::Exit) || obj.has_flag("HALT") {
        return Ok(());
    }
    let monitor = obj.has_flag("MONITOR");
    let listen = ev
        .world
        .attr(target, "LISTEN")?
        .filter(|a| !a.value.is_empty());
    if listen.is_none() && !monitor {
        return Ok(());
    }
    let captures = listen.and_then(|l| crate::wild::capture(&l.value, text));
    if (captures.is_some() || monitor) && !crate::lock::passes(ev, sender, target, "USELOCK")? {
        return Ok(());
    }
    let queue = |ev: &mut Eval<'_>, actions: String, args: Vec<String>| -> R {
        let job = Job::new(ev, target, sender, sender, &actions, args)?;
        ev.queue.push(QueueOp::Add {
            job,
            wait: Wait::Now,
        });
        Ok(())
    };
    if let Some(args) = captures {
        let first = if sender == target { "AMHEAR" } else { "AHEAR" };
        for name in [first, "AAHEAR"] {
            if let Some(attr) = inherited(ev, target, name)?
                && !attr.value.is_empty()
            {
                queue(ev, attr.value, args.clone())?;
            }
        }
    }
    if monitor && sender != target {
        // Only the object's own `^`-attributes, not its parents'.
        for name in ev.world.attr_names(target)? {
            let Some(attr) = ev.world.attr(target, &name)? else {
                continue;
            };
            if crate::attrdef::combined(ev, &name, attr.flags)? & crate::attrdef::flag::NO_COMMAND
                != 0
            {
                continue;
            }
            let Some((pattern, action)) = split_command(&attr.value, '^') else {
                continue;
            };
            // TinyMUX never matches a `^`-pattern that holds a double quote.
            if pattern.contains('"') {
                continue;
            }
            if let Some(args) = crate::wild::capture(pattern, text) {
                queue(ev, action.to_string(), args)?;
            }
        }
    }
    Ok(())
}
