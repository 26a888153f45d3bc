//! TinyMUX's search queries, shared by `search()` and `@search`: `[player] [class=value]`
//! with the classes `type`, `name`, `flags`, `parent`, `zone`, `eval` and the type names;
//! the world answers the indexable part ([`Search`]) and the rest filters its answer.

use crate::eval::{Eval, Frame, R};
use crate::functions::objects::{flag_letters, resolve};
use crate::functions::truthy;
use crate::world::{Dbref, Kind, Search};

/// A parsed query: what the world can answer, and what is checked per object after.
pub struct Query {
    /// The indexable part.
    pub search: Search,
    /// Flag letters every object found must have (`flags=`).
    pub letters: Option<String>,
    /// An expression, `##` the object, that must be true (`eval=`).
    pub eval: Option<String>,
    /// A power every object found must hold (`power=`), lower case.
    pub power: Option<&'static str>,
}

/// TinyMUX's search warrant: without the `search` power (or wizard or royalty rights)
/// one searches only one's own objects, or players. `owner` is the owner searched for,
/// `None` for anyone's.
pub fn needs_warrant(
    ev: &mut Eval<'_>,
    frame: &Frame<'_>,
    owner: Option<Dbref>,
    kind: Option<Kind>,
) -> R<bool> {
    Ok(kind != Some(Kind::Player)
        && owner.is_some_and(|o| o != frame.executor)
        && !crate::powers::search(ev, frame.executor)?)
}

/// What a search warrant's absence says.
pub const NO_WARRANT: &str = "You need a search warrant to do that!";

fn kind_of(name: &str) -> Option<Kind> {
    Some(match name.to_ascii_uppercase().as_str() {
        "ROOM" | "ROOMS" => Kind::Room,
        "EXIT" | "EXITS" => Kind::Exit,
        "PLAYER" | "PLAYERS" => Kind::Player,
        "THING" | "THINGS" | "OBJECT" | "OBJECTS" => Kind::Thing,
        _ => return None,
    })
}

/// Parses `[player] [class=value]`; `Err` is TinyMUX's complaint (`bogus: unknown type`).
pub fn parse(ev: &mut Eval<'_>, frame: &Frame<'_>, text: &str) -> R<Result<Query, String>> {
    let text = text.trim();
    let (who, rest) = match text.split_once(' ') {
        Some((w, r)) if !w.contains('=') => (w, r.trim()),
        _ if !text.contains('=') => (text, ""),
        _ => ("", text),
    };
    let mut query = Query {
        search: Search::default(),
        letters: None,
        eval: None,
        power: None,
    };
    let searcher = crate::powers::search(ev, frame.executor)?;
    // A searcher without a warrant who names no one searches its own objects, unless the
    // class is about players, parents or zones (TinyMUX then searches everyone's).
    let mine_only = (who.is_empty() || who.eq_ignore_ascii_case("all")) && !searcher;
    if !who.is_empty() && !who.eq_ignore_ascii_case("all") {
        let player = match resolve(ev, frame.executor, who)? {
            Ok(id) => Some(id),
            Err(_) => ev.world.player_named(who.trim_start_matches('*'))?,
        };
        match player {
            Some(id) => query.search.owner = Some(id),
            None => return Ok(Err(format!("{who}: No such player"))),
        }
    } else if mine_only {
        query.search.owner = Some(frame.executor);
    }
    if rest.is_empty() {
        return warranted(ev, frame, query);
    }
    let Some((class, value)) = rest.split_once('=') else {
        return Ok(Err(format!("{rest}: unknown class")));
    };
    let value = value.trim();
    match class.trim().to_ascii_uppercase().as_str() {
        "TYPE" => match kind_of(value) {
            Some(kind) => query.search.kind = Some(kind),
            None => return Ok(Err(format!("{value}: unknown type"))),
        },
        "NAME" => query.search.name = Some(format!("*{value}*")),
        "FLAGS" => query.letters = Some(value.to_string()),
        "PARENT" => {
            query.search.parent = Some(crate::functions::objects::dbref_num(value));
            if mine_only {
                query.search.owner = None;
            }
        }
        "ZONE" => {
            query.search.zone = Some(crate::functions::objects::dbref_num(value));
            if mine_only {
                query.search.owner = None;
            }
        }
        // The power's name exactly as TinyMUX keeps it, upper case.
        "POWER" => match crate::powers::lookup(value) {
            Some((name, _)) if value == name.to_ascii_uppercase() => query.power = Some(name),
            _ => return Ok(Err(format!("{value}: Power not found."))),
        },
        "EVAL" => query.eval = Some(value.to_string()),
        other => match kind_of(other) {
            Some(kind) => {
                query.search.kind = Some(kind);
                if !value.is_empty() {
                    query.search.name = Some(format!("*{value}*"));
                }
            }
            None => return Ok(Err(format!("{}: unknown class", class.trim()))),
        },
    }
    if mine_only && query.search.kind == Some(Kind::Player) {
        query.search.owner = None;
    }
    warranted(ev, frame, query)
}

/// The query, or TinyMUX's complaint when it needs a warrant its searcher lacks.
fn warranted(ev: &mut Eval<'_>, frame: &Frame<'_>, query: Query) -> R<Result<Query, String>> {
    if needs_warrant(ev, frame, query.search.owner, query.search.kind)? {
        return Ok(Err(NO_WARRANT.to_string()));
    }
    Ok(Ok(query))
}

/// Runs a query: what the world finds, less what the per-object checks reject.
pub fn run(ev: &mut Eval<'_>, frame: &Frame<'_>, query: &Query) -> R<Vec<Dbref>> {
    let mut found = Vec::new();
    for id in ev.world.search(&query.search)? {
        let Some(obj) = ev.world.object(id)? else {
            continue;
        };
        if obj.has_flag("GOING") {
            continue;
        }
        if let Some(letters) = &query.letters {
            let have = flag_letters(&obj);
            if !letters.chars().all(|c| have.contains(c)) {
                continue;
            }
        }
        if let Some(power) = query.power
            && !obj.powers.iter().any(|p| p.eq_ignore_ascii_case(power))
        {
            continue;
        }
        if let Some(expr) = &query.eval {
            let text = expr.replace("##", &format!("#{id}"));
            let value = ev.eval_top(frame, &text)?;
            if !truthy(&value) {
                continue;
            }
        }
        found.push(id);
    }
    Ok(found)
}
