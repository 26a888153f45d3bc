//! A whole world in memory: the [`World`] the table tests and the golden corpus run on,
//! with the same rules as the Redis-backed one (contents newest first, attributes in the
//! order they were first set).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::world::{
    Attr, Change, Connection, Dbref, Kind, Miss, NOTHING, Object, QueueView, Search, World,
};

/// An in-memory world.
#[derive(Clone, Debug)]
pub struct MemoryWorld {
    objects: BTreeMap<Dbref, Arc<Object>>,
    attrs: HashMap<Dbref, Vec<(String, Attr)>>,
    contents: HashMap<Dbref, Vec<Dbref>>,
    exits: HashMap<Dbref, Vec<Dbref>>,
    /// Connected players, most recent first.
    pub connections: Vec<Connection>,
    /// What `@ps` sees: whoever holds the queue puts it here before a command runs.
    pub queued: QueueView,
    /// Players' passwords, as typed (this world serves tests, not players).
    pub passwords: HashMap<Dbref, String>,
    /// The clock `secs()` reads.
    pub now: i64,
    rng: u64,
    /// Most objects one owner may have (None: unlimited).
    pub object_quota: Option<usize>,
}

impl Default for MemoryWorld {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryWorld {
    /// TinyMUX's starting world (Debian's database).
    pub fn new() -> Self {
        let mut world = Self {
            objects: BTreeMap::new(),
            attrs: HashMap::new(),
            contents: HashMap::new(),
            exits: HashMap::new(),
            connections: Vec::new(),
            queued: QueueView::default(),
            passwords: HashMap::from([(1, "potrzebie".to_string())]),
            now: 1_795_615_247,
            rng: 0x2545_f491_4f6c_dd1d,
            object_quota: None,
        };
        // Debian's TinyMUX database: Limbo, God in the Auxiliary Room (#11), the Master
        // Room, a second wizard (#3) and its globals (#4-#10); new objects start at #12.
        // As softcode/README.md records it: names, places, owners, homes, the FLOATING
        // rooms, Places' parent, and the contents in TinyMUX's order.
        world.insert(0, Kind::Room, "Limbo", 1, NOTHING);
        world.insert(2, Kind::Room, "Master Room", 3, NOTHING);
        world.insert(11, Kind::Room, "Auxiliary Room", 3, NOTHING);
        world.insert(1, Kind::Player, "Wizard", 1, 11);
        world.insert(3, Kind::Player, "Storage Wizard", 3, 11);
        for (id, name, place) in [
            (4, "SGP - Global Parent Object", 11),
            (5, "SGP - Global Functions", 2),
            (6, "SGP - Main Globals", 2),
            (7, "SGP - Wizard Globals", 2),
            (8, "SGP - Staff Globals", 2),
            (9, "Places_global_object", 2),
            (10, "Places_function_object", 11),
        ] {
            world.insert(id, Kind::Thing, name, 3, place);
            world.update(id, |o| o.link = 2);
        }
        world.update(9, |o| o.parent = 10);
        for id in [2, 11] {
            world.update(id, |o| o.flags.push("FLOATING".into()));
        }
        for id in [1, 3] {
            world.update(id, |o| {
                o.flags.push("WIZARD".into());
                o.link = 0;
            });
        }
        world.update(1, |o| o.flags.push("CONNECTED".into()));
        // God is locked to itself, as TinyMUX locks every player it creates
        // (`examine me` shows `Key: =Wizard(#1PcW)`).
        world.attrs.entry(1).or_default().push((
            crate::lock::DEFAULT_LOCK.to_string(),
            crate::world::Attr {
                value: "=(#1)".to_string(),
                owner: 1,
                flags: crate::world::AttrFlags::default(),
            },
        ));
        // The starting objects predate creation stamps; objects made in play get them.
        for object in world.objects.values_mut() {
            let object = Arc::make_mut(object);
            object.created = 0;
            object.modified = 0;
        }
        world.connections.push(Connection {
            player: 1,
            connected_secs: 0,
            idle_secs: 0,
            doing: String::new(),
        });
        world
    }

    fn insert(&mut self, id: Dbref, kind: Kind, name: &str, owner: Dbref, location: Dbref) {
        let object = Object::made(id, kind, name, owner, location, NOTHING, self.now);
        self.objects.insert(id, Arc::new(object));
        if location != NOTHING {
            let list = if kind == Kind::Exit {
                self.exits.entry(location).or_default()
            } else {
                self.contents.entry(location).or_default()
            };
            list.insert(0, id);
        }
    }

    fn update(&mut self, id: Dbref, f: impl FnOnce(&mut Object)) {
        if let Some(object) = self.objects.get_mut(&id) {
            let object = Arc::make_mut(object);
            f(object);
            object.modified = self.now;
        }
    }
}

impl World for MemoryWorld {
    fn object(&self, id: Dbref) -> Result<Option<Arc<Object>>, Miss> {
        Ok(self.objects.get(&id).cloned())
    }

    fn attr(&self, id: Dbref, name: &str) -> Result<Option<Attr>, Miss> {
        Ok(self
            .attrs
            .get(&id)
            .and_then(|list| list.iter().find(|(n, _)| n == name))
            .map(|(_, a)| a.clone()))
    }

    fn attr_names(&self, id: Dbref) -> Result<Vec<String>, Miss> {
        Ok(self
            .attrs
            .get(&id)
            .map(|list| list.iter().map(|(n, _)| n.clone()).collect())
            .unwrap_or_default())
    }

    fn contents(&self, id: Dbref) -> Result<Vec<Dbref>, Miss> {
        Ok(self.contents.get(&id).cloned().unwrap_or_default())
    }

    fn exits(&self, id: Dbref) -> Result<Vec<Dbref>, Miss> {
        Ok(self.exits.get(&id).cloned().unwrap_or_default())
    }

    fn player_named(&self, name: &str) -> Result<Option<Dbref>, Miss> {
        Ok(self
            .objects
            .values()
            .find(|o| o.kind == Kind::Player && o.name.eq_ignore_ascii_case(name))
            .map(|o| o.id))
    }

    fn connections(&self) -> Result<Vec<Connection>, Miss> {
        Ok(self.connections.clone())
    }

    fn queued(&self) -> Result<QueueView, Miss> {
        Ok(self.queued.clone())
    }

    fn check_password(&self, id: Dbref, password: &str) -> Result<bool, Miss> {
        Ok(self.passwords.get(&id).is_some_and(|p| p == password))
    }

    fn set_password(&mut self, id: Dbref, password: &str) -> Result<(), Miss> {
        self.passwords.insert(id, password.to_string());
        Ok(())
    }

    fn search(&self, q: &Search) -> Result<Vec<Dbref>, Miss> {
        Ok(self
            .objects
            .values()
            .filter(|o| q.matches(o))
            .map(|o| o.id)
            .collect())
    }

    fn db_top(&self) -> Result<Dbref, Miss> {
        Ok(self.objects.keys().next_back().map_or(0, |k| k + 1))
    }

    fn now(&self) -> i64 {
        self.now
    }

    fn random(&mut self, n: u64) -> u64 {
        // xorshift64*: deterministic, so tests can rely on it.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }

    fn set_attr(&mut self, id: Dbref, name: &str, value: Option<Attr>) -> Result<(), Miss> {
        if !self.objects.contains_key(&id) {
            return Err(Miss::Refused(format!("no object #{id}")));
        }
        let list = self.attrs.entry(id).or_default();
        match value {
            Some(attr) => match list.iter_mut().find(|(n, _)| n == name) {
                Some((_, slot)) => *slot = attr,
                None => list.push((name.to_string(), attr)),
            },
            None => list.retain(|(n, _)| n != name),
        }
        self.update(id, |_| {});
        Ok(())
    }

    fn change(&mut self, id: Dbref, change: Change) -> Result<(), Miss> {
        let Some(old) = self.objects.get(&id).cloned() else {
            return Err(Miss::Refused(format!("no object #{id}")));
        };
        if let Change::Location(to) = &change {
            let key = if old.kind == Kind::Exit {
                &mut self.exits
            } else {
                &mut self.contents
            };
            if let Some(list) = key.get_mut(&old.location) {
                list.retain(|x| *x != id);
            }
            key.entry(*to).or_default().insert(0, id);
        }
        self.update(id, |o| match change {
            Change::Name(n) => o.name = n,
            Change::Owner(x) => o.owner = x,
            Change::Location(x) => o.location = x,
            Change::Link(x) => o.link = x,
            Change::Parent(x) => o.parent = x,
            Change::Zone(x) => o.zone = x,
            Change::Flag(f, on) => {
                o.flags.retain(|x| *x != f);
                if on {
                    o.flags.push(f);
                }
            }
            Change::Power(p, on) => {
                o.powers.retain(|x| *x != p);
                if on {
                    o.powers.push(p);
                }
            }
        });
        Ok(())
    }

    fn create(
        &mut self,
        kind: Kind,
        name: &str,
        owner: Dbref,
        location: Dbref,
    ) -> Result<Dbref, Miss> {
        if let Some(quota) = self.object_quota {
            let owned = self.objects.values().filter(|o| o.owner == owner).count();
            if owned >= quota {
                return Err(Miss::Refused("quota exceeded".into()));
            }
        }
        let id = self.db_top()?;
        self.insert(id, kind, name, owner, location);
        if kind != Kind::Room && kind != Kind::Exit {
            self.update(id, |o| o.link = location);
        }
        Ok(id)
    }
}
