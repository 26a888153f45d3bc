//! `$`-commands: a line no built-in command took is matched against the `$pattern:action`
//! attributes of the objects around the one who typed it, in TinyMUX's order, and every
//! match queues its action with the wildcards' captures as `%0`-`%9`.

use std::collections::HashSet;

use crate::eval::{Eval, Frame, R};
use crate::functions::objects::PARENT_DEPTH;
use crate::queue::{Job, QueueOp, Wait};
use crate::world::{AttrFlags, Dbref, NOTHING};

/// Tries `line` as a `$`-command typed (or run) by `player`, with `args` as `%0`-`%9`
/// for evaluating it; true when at least one object took it.
///
/// TinyMUX's order: the player itself, what else is in its room, the room, what it
/// carries (every one of them, all matches firing); only if none matched, the room's zone
/// and the player's; only if still none, the master room's contents and the master room
/// (without their parents). The line is evaluated first, as TinyMUX does.
pub fn matched(ev: &mut Eval<'_>, frame: &Frame<'_>, line: &str) -> R<bool> {
    let player = frame.executor;
    let Some(me) = ev.world.object(player)? else {
        return Ok(false);
    };
    let text = ev.eval_top(frame, line)?;
    let here = me.location;
    let mut m = Matcher {
        player,
        text: &text,
        raw: line,
        found: false,
    };
    m.object(ev, player, true)?;
    if here != NOTHING {
        for thing in ev.world.contents(here)? {
            if thing != player {
                m.object(ev, thing, true)?;
            }
        }
        m.object(ev, here, true)?;
    }
    for thing in ev.world.contents(player)? {
        m.object(ev, thing, true)?;
    }
    if m.found {
        return Ok(true);
    }
    let room_zone = match ev.world.object(here)? {
        Some(room) => room.zone,
        None => NOTHING,
    };
    if room_zone != NOTHING {
        m.object(ev, room_zone, true)?;
    }
    if !m.found && me.zone != NOTHING && me.zone != room_zone {
        m.object(ev, me.zone, true)?;
    }
    if m.found {
        return Ok(true);
    }
    let master = ev.limits.master_room;
    if crate::userfn::is_room(ev, master)? {
        for thing in ev.world.contents(master)? {
            if thing != player {
                m.object(ev, thing, false)?;
            }
        }
        m.object(ev, master, false)?;
    }
    Ok(m.found)
}

struct Matcher<'a> {
    player: Dbref,
    text: &'a str,
    raw: &'a str,
    found: bool,
}

impl Matcher<'_> {
    /// Matches the `$`-attributes of one object and, with `parents`, of its parents: a
    /// child's attribute hides its parents' of the same name, and each level's use lock
    /// must pass for its attributes to be tried (a failing one ends the walk, silently).
    fn object(&mut self, ev: &mut Eval<'_>, thing: Dbref, parents: bool) -> R {
        let Some(obj) = ev.world.object(thing)? else {
            return Ok(());
        };
        if obj.has_flag("HALT") || obj.has_flag("NO_COMMAND") {
            return Ok(());
        }
        let mut seen: HashSet<String> = HashSet::new();
        let mut current = thing;
        for depth in 0..=PARENT_DEPTH {
            let Some(level) = ev.world.object(current)? else {
                break;
            };
            if !crate::lock::passes(ev, self.player, current, "USELOCK")? {
                break;
            }
            for name in ev.world.attr_names(current)? {
                if !seen.insert(name.clone()) {
                    continue;
                }
                let Some(attr) = ev.world.attr(current, &name)? else {
                    continue;
                };
                // The copy's flags and the name's (`@attribute/access`).
                let flags = crate::attrdef::combined(ev, &name, attr.flags)?;
                if flags & crate::attrdef::flag::NO_COMMAND != 0
                    || (depth > 0 && flags & crate::attrdef::flag::NO_INHERIT != 0)
                {
                    continue;
                }
                let Some((pattern, action)) = split_command(&attr.value, '$') else {
                    continue;
                };
                let against = if attr.flags.has(AttrFlags::NO_PARSE) {
                    self.raw
                } else {
                    self.text
                };
                let args = if attr.flags.has(AttrFlags::REGEXP) {
                    regexp_capture(pattern, against, attr.flags.has(AttrFlags::CASE))
                } else {
                    crate::wild::capture(pattern, against)
                };
                let Some(args) = args else {
                    continue;
                };
                self.found = true;
                let job = Job::new(ev, thing, self.player, self.player, action, args)?;
                ev.queue.push(QueueOp::Add {
                    job,
                    wait: Wait::Now,
                });
            }
            if !parents || level.parent == NOTHING {
                break;
            }
            current = level.parent;
        }
        Ok(())
    }
}

/// Largest compiled regular expression a `$`-command may have: a hostile pattern is
/// refused (never matches) rather than built.
const REGEX_SIZE: usize = 1 << 20;

/// A regular-expression `$`-command (the attribute's `regexp` flag): `%0` is the whole
/// match and `%1`-`%9` the groups; case-insensitive unless the attribute has `case`. A
/// pattern that does not compile never matches, as in TinyMUX.
fn regexp_capture(pattern: &str, text: &str, case: bool) -> Option<Vec<String>> {
    let re = regex::RegexBuilder::new(pattern)
        .case_insensitive(!case)
        .size_limit(REGEX_SIZE)
        .build()
        .ok()?;
    let caps = re.captures(text)?;
    Some(
        (0..10)
            .map(|i| {
                caps.get(i)
                    .map(|m| m.as_str().to_string())
                    .unwrap_or_default()
            })
            .collect(),
    )
}

/// Splits `$pattern:action` (or `^pattern:action`) at the first `:` not escaped by `\`.
pub fn split_command(value: &str, mark: char) -> Option<(&str, &str)> {
    let body = value.strip_prefix(mark)?;
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            ':' => return Some((&body[..i], &body[i + 1..])),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_split_at_the_first_unescaped_colon() {
        assert_eq!(
            split_command("$greet *:say hi", '$'),
            Some(("greet *", "say hi"))
        );
        assert_eq!(split_command("$a\\:b:x:y", '$'), Some(("a\\:b", "x:y")));
        assert_eq!(split_command("$nocolon", '$'), None);
        assert_eq!(split_command("plain", '$'), None);
        assert_eq!(split_command("^* says *:x", '^'), Some(("* says *", "x")));
    }
}
