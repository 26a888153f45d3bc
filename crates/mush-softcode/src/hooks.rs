//! The attributes a game runs on its own rather than because someone typed something:
//! `@aconnect` and `@adisconnect` when a player connects or leaves, and `@startup` when
//! the game starts.
//!
//! Each only *queues* its action, as TinyMUX's `announce_connect`, `announce_disconnect`
//! and `process_preload` do, so the actions run later through the queue like any other
//! queued work (with its quota, `@halt` and durability).

use crate::eval::{Eval, R};
use crate::functions::objects::inherited;
use crate::queue::{Job, QueueOp, Wait};
use crate::userfn::is_room;
use crate::world::{Dbref, Kind, NOTHING};

/// Why a player's last connection ended, as TinyMUX passes it to the player's own
/// `@adisconnect` as `%0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// `QUIT`.
    Quit,
    /// `LOGOUT`: the connection stays, back at the connect screen.
    Logout,
    /// The connection dropped (network, client closed, gateway gone).
    Netfailure,
    /// Idle for too long.
    Timeout,
    /// `@boot`.
    Boot,
}

impl Reason {
    /// TinyMUX's word for it.
    pub fn word(self) -> &'static str {
        match self {
            Reason::Quit => "Quit",
            Reason::Logout => "Logout",
            Reason::Netfailure => "Netfailure",
            Reason::Timeout => "Timeout",
            Reason::Boot => "Boot",
        }
    }
}

/// Queues the `@aconnect`s a player's connection sets off, in TinyMUX's order: the
/// player's own, the master room's, each object's in the master room, then the zone of the
/// player's location (a zone object's own, or each object's in a zone master room).
/// Every connection sets them off, a second one too.
pub fn connected(ev: &mut Eval<'_>, player: Dbref) -> R {
    around(ev, player, "ACONNECT", None)
}

/// Queues the `@adisconnect`s a player's last connection ending sets off, in the order of
/// [`connected`]; only the player's own receives the reason as `%0`.
pub fn disconnected(ev: &mut Eval<'_>, player: Dbref, reason: Reason) -> R {
    around(ev, player, "ADISCONNECT", Some(reason))
}

/// Queues an object's `@startup` (its own or a parent's), run by the object and caused by
/// its owner, as TinyMUX does for every object when the game starts.
pub fn startup(ev: &mut Eval<'_>, object: Dbref) -> R {
    let owner = crate::functions::objects::owner_of(ev, object)?;
    queue_attr(ev, object, owner, "STARTUP", Vec::new())
}

fn around(ev: &mut Eval<'_>, player: Dbref, attr: &str, reason: Option<Reason>) -> R {
    let args = reason
        .map(|r| vec![r.word().to_string()])
        .unwrap_or_default();
    queue_attr(ev, player, player, attr, args)?;
    let master = ev.limits.master_room;
    if is_room(ev, master)? {
        queue_attr(ev, master, player, attr, Vec::new())?;
        for object in ev.world.contents(master)? {
            queue_attr(ev, object, player, attr, Vec::new())?;
        }
    }
    let location = ev.world.object(player)?.map_or(NOTHING, |o| o.location);
    let zone = match ev.world.object(location)? {
        Some(room) => room.zone,
        None => NOTHING,
    };
    match ev.world.object(zone)?.map(|z| z.kind) {
        Some(Kind::Thing) => queue_attr(ev, zone, player, attr, Vec::new())?,
        Some(Kind::Room) => {
            for object in ev.world.contents(zone)? {
                queue_attr(ev, object, player, attr, Vec::new())?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Queues `object`'s attribute (inherited from a parent too) as a job it runs, caused by
/// `enactor`; an empty or missing attribute queues nothing.
fn queue_attr(
    ev: &mut Eval<'_>,
    object: Dbref,
    enactor: Dbref,
    attr: &str,
    args: Vec<String>,
) -> R {
    let Some(found) = inherited(ev, object, attr)? else {
        return Ok(());
    };
    if found.value.is_empty() {
        return Ok(());
    }
    let job = Job::new(ev, object, enactor, enactor, &found.value, args)?;
    ev.queue.push(QueueOp::Add {
        job,
        wait: Wait::Now,
    });
    Ok(())
}
