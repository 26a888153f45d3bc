//! Commands that read or write softcode, over the same [`World`] the evaluator uses: a
//! table names each command (with aliases and the switches it takes), one module per
//! family. A game pod runs them over its cache; the golden corpus runs them over the
//! in-memory world.
//!
//! A command's output is a list of [`Emit`]s: what the executor is told and what others
//! hear, resolved to connections by whoever runs the command.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::eval::{Emit, Eval, Frame, R};
use crate::queue::QueueOp;
use crate::world::Dbref;

mod admin;
mod attribute;
mod attrs;
mod build;
mod edit;
mod links;
mod locks;
mod look;
mod moves;
mod power;
mod ps;
mod queue;
mod speech;
mod userfn;

pub use moves::through_exit;
pub use queue::split_args;

/// What a handler gets: who runs it, the switches typed, the text after the command name.
pub struct Input<'a> {
    /// The command name as typed, upper case.
    pub name: &'a str,
    /// Switches (`/list`), lower case.
    pub switches: Vec<String>,
    /// Everything after the command word, leading spaces removed.
    pub rest: &'a str,
    /// Everything after the command word as typed.
    pub raw_rest: &'a str,
    /// Typed as a one-character prefix (`"`, `:`, `;`).
    pub prefix: bool,
}

/// A command's implementation.
pub type Handler = fn(&mut Eval<'_>, &Frame<'_>, &Input<'_>) -> R;

/// One command.
pub struct Command {
    /// Its name, upper case.
    pub name: &'static str,
    /// Other names it answers to.
    pub aliases: &'static [&'static str],
    /// Switches it accepts.
    pub switches: &'static [&'static str],
    /// Only wizards may run it.
    pub wizard: bool,
    /// The implementation.
    pub run: Handler,
}

fn table() -> &'static HashMap<&'static str, &'static Command> {
    static TABLE: OnceLock<HashMap<&'static str, &'static Command>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut map = HashMap::new();
        for family in [
            speech::COMMANDS,
            attrs::COMMANDS,
            build::COMMANDS,
            admin::COMMANDS,
            edit::COMMANDS,
            links::COMMANDS,
            locks::COMMANDS,
            look::COMMANDS,
            moves::COMMANDS,
            queue::COMMANDS,
            ps::COMMANDS,
            userfn::COMMANDS,
            power::COMMANDS,
            attribute::COMMANDS,
            attrs::message_commands(),
        ] {
            for command in family {
                map.insert(command.name, command);
                for alias in command.aliases {
                    map.insert(*alias, command);
                }
            }
        }
        map
    })
}

/// TinyMUX's reply to a command it does not know.
pub const HUH: &str = "Huh?  (Type \"help\" for help.)";

/// Commands an object with the `guest` power may not use (TinyMUX's `CA_NO_GUEST`,
/// among the commands of this table), upper case; the commands that set one attribute
/// (`@desc`, and `&`) are refused too.
const NO_GUEST: &[&str] = &[
    "@BOOT",
    "@CHOWN",
    "@CHZONE",
    "@CLONE",
    "@CPATTR",
    "@CREATE",
    "@DESTROY",
    "@DIG",
    "@DRAIN",
    "@EDIT",
    "@EMIT",
    "@ENTRANCES",
    "@FORCE",
    "@LINK",
    "@MVATTR",
    "@NAME",
    "@NOTIFY",
    "@OEMIT",
    "@OPEN",
    "@PARENT",
    "@PASSWORD",
    "@PEMIT",
    "@REMIT",
    "@SET",
    "@TELEPORT",
    "@WIPE",
    "DROP",
    "GET",
    "GIVE",
];

/// True when a guest may not run the command (by its table name).
pub fn guest_refused(command: &str) -> bool {
    NO_GUEST.contains(&command) || attrs::MESSAGES.iter().any(|(name, _, _)| *name == command)
}

/// Tells the executor something.
pub fn tell(ev: &mut Eval<'_>, frame: &Frame<'_>, text: impl Into<String>) {
    ev.emits.push(Emit::To(frame.executor, text.into()));
}

/// What a lookup found, or `None` after telling the player the command's own message for
/// an ambiguous name (`#-2`) or for nothing found (TinyMUX words them per command).
pub fn found(
    ev: &mut Eval<'_>,
    frame: &Frame<'_>,
    lookup: Result<Dbref, &str>,
    ambiguous: &str,
    missing: &str,
) -> Option<Dbref> {
    match lookup {
        Ok(id) => Some(id),
        Err(e) if e.starts_with("#-2") => {
            tell(ev, frame, ambiguous);
            None
        }
        Err(_) => {
            tell(ev, frame, missing);
            None
        }
    }
}

/// What a line became.
#[derive(Debug, PartialEq, Eq)]
pub enum Ran {
    /// A command of this table ran.
    Done,
    /// Not a command of this table: the caller tries its own (movement, `look`, ...).
    NotMine,
}

/// A line a player typed, in TinyMUX's order: `home`, then the exits where the player
/// stands (so an exit named `look` wins over the command), then this table, then the
/// `$`-commands around. What the `$`-commands matched is returned apart from the rest of
/// what the line queued (TinyMUX runs it right after the command), then what heard the
/// line's output reacts and puppets forward it.
pub fn typed(ev: &mut Eval<'_>, frame: &Frame<'_>, line: &str) -> R<(Ran, Vec<QueueOp>)> {
    ev.interactive = true;
    let through = !line.trim().eq_ignore_ascii_case("home") && through_exit(ev, frame, line)?;
    let mut ran = if through {
        Ran::Done
    } else {
        run(ev, frame, line)?
    };
    let mut matched = Vec::new();
    if ran == Ran::NotMine {
        let before = ev.queue.len();
        if crate::dollar::matched(ev, frame, line)? {
            ran = Ran::Done;
        }
        matched = ev.queue.drain(before..).collect();
    }
    crate::listen::hear(ev, frame.executor)?;
    forward_puppets(ev)?;
    Ok((ran, matched))
}

/// Runs one line as `frame.executor`.
pub fn run(ev: &mut Eval<'_>, frame: &Frame<'_>, line: &str) -> R<Ran> {
    let line = line.trim_start();
    ev.command = line.to_string();
    let (word, raw_rest, prefix): (String, &str, bool) = match line.chars().next() {
        Some('"') => ("SAY".into(), &line[1..], true),
        Some(':') => ("POSE".into(), &line[1..], true),
        Some(';') => ("SEMIPOSE".into(), &line[1..], true),
        Some('&') => ("&".into(), &line[1..], true),
        Some('\\') if line.starts_with("\\\\") => ("@EMIT".into(), &line[2..], true),
        _ => match line.find(' ') {
            Some(i) => (line[..i].to_string(), &line[i + 1..], false),
            None => (line.to_string(), "", false),
        },
    };
    let rest = raw_rest.trim_start();
    if word == "&" {
        if crate::powers::guest(ev, frame.executor)? {
            tell(ev, frame, "Permission denied.");
            return Ok(Ran::Done);
        }
        return attrs::ampersand(ev, frame, raw_rest).map(|()| Ran::Done);
    }
    let mut parts = word.split('/');
    let name = parts.next().unwrap_or("").to_ascii_uppercase();
    let switches: Vec<String> = parts.map(|s| s.to_ascii_lowercase()).collect();
    let Some(command) = table().get(name.as_str()) else {
        return Ok(Ran::NotMine);
    };
    for switch in &switches {
        if !command
            .switches
            .iter()
            .any(|s| s.starts_with(switch.as_str()))
        {
            tell(
                ev,
                frame,
                format!(
                    "Unrecognized switch '{switch}' for command '{}'.",
                    command.name.to_ascii_lowercase()
                ),
            );
            return Ok(Ran::Done);
        }
    }
    if command.wizard && !crate::functions::objects::is_wizard(ev, frame.executor)? {
        tell(ev, frame, "Permission denied.");
        return Ok(Ran::Done);
    }
    if guest_refused(command.name) && crate::powers::guest(ev, frame.executor)? {
        tell(ev, frame, "Permission denied.");
        return Ok(Ran::Done);
    }
    let input = Input {
        name: command.name,
        switches,
        rest,
        raw_rest,
        prefix,
    };
    (command.run)(ev, frame, &input)?;
    Ok(Ran::Done)
}

/// Runs an action list (`cmd;cmd;...`) as `frame.executor`, as a queued job does: each
/// command of this table, else a `$`-command of the objects around the executor, else
/// TinyMUX's "Huh?" to the executor. `@break` and `@assert` stop it.
pub fn run_list(ev: &mut Eval<'_>, frame: &Frame<'_>, text: &str) -> R {
    ev.interactive = false;
    for line in crate::queue::split_actions(text) {
        if ev.broke {
            break;
        }
        // As in TinyMUX, the exits here come before the built-in commands (so an exit
        // named `look` wins).
        if through_exit(ev, frame, line)? {
            continue;
        }
        if run(ev, frame, line)? == Ran::NotMine && !crate::dollar::matched(ev, frame, line)? {
            tell(ev, frame, HUH);
        }
    }
    Ok(())
}

/// What a command's output becomes on its way: a PUPPET object's owner hears what the
/// puppet is told, as `Name> text` (TinyMUX forwards what is sent to the puppet itself
/// always). Run once when a command or job has finished.
pub fn forward_puppets(ev: &mut Eval<'_>) -> R {
    let mut forwards: Vec<(usize, Emit)> = Vec::new();
    for (i, emit) in ev.emits.iter().enumerate() {
        let Emit::To(to, text) = emit else {
            continue;
        };
        if let Some(obj) = ev.world.object(*to)?
            && obj.has_flag("PUPPET")
            && obj.owner != obj.id
        {
            let name = crate::functions::objects::display_name(&obj);
            forwards.push((i + 1, Emit::To(obj.owner, format!("{name}> {text}"))));
        }
    }
    // Each forwarded line follows the line it forwards (inserted from the back, so the
    // positions found stay right).
    for (at, emit) in forwards.into_iter().rev() {
        ev.emits.insert(at, emit);
    }
    Ok(())
}

/// Splits `left=right` at the first `=` outside brackets and braces.
pub fn split_eq(text: &str) -> (&str, Option<&str>) {
    let mut parts = crate::queue::split_top(text, '=', 2).into_iter();
    (parts.next().unwrap_or(text), parts.next())
}

/// Resolves an object for a command, telling the executor when it is not there.
pub fn target(ev: &mut Eval<'_>, frame: &Frame<'_>, text: &str) -> R<Option<Dbref>> {
    match crate::functions::objects::resolve(ev, frame.executor, text)? {
        Ok(id) => Ok(Some(id)),
        Err(e) if e.starts_with("#-2") => {
            tell(ev, frame, "I don't know which one you mean!");
            Ok(None)
        }
        Err(_) => {
            tell(ev, frame, "I don't see that here.");
            Ok(None)
        }
    }
}

/// Resolves an object for a command that reaches only what is near (`get`, `look`,
/// `enter`, `give`, `use`): `#12` or `*player` far away is not there unless the executor
/// has the `long_fingers` power (TinyMUX matches them only then).
pub fn target_within_reach(ev: &mut Eval<'_>, frame: &Frame<'_>, text: &str) -> R<Option<Dbref>> {
    let Some(id) = target(ev, frame, text)? else {
        return Ok(None);
    };
    let t = text.trim_start();
    let remote_form = t.starts_with('#') || t.starts_with('*');
    if remote_form
        && !crate::functions::objects::within_reach(ev, frame.executor, id)?
        && !crate::powers::long_fingers(ev, frame.executor)?
    {
        tell(ev, frame, "I don't see that here.");
        return Ok(None);
    }
    Ok(Some(id))
}
