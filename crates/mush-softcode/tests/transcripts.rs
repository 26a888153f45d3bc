//! Multi-player transcripts recorded from TinyMUX 2.12 (`scripts/record-transcript`)
//! replayed on the in-memory game: a fast check of the softcode layer before the shard
//! replays the same files end to end (`tests/softcode.rs` at the workspace root).
//!
//! Logging in is the game's, not the evaluator's, so `connect name pw` and `create name
//! pw` are played here by hand: `create` makes the player in Limbo as TinyMUX does, and
//! both mark the player connected. Their output is never compared (the recorder marks
//! them `~`).

mod common;

use std::collections::BTreeMap;

use mush_softcode::{Change, Connection, Dbref, Kind, World};

/// One recorded step.
struct Step {
    conn: String,
    cmd: String,
    compare: bool,
    out: BTreeMap<String, Vec<String>>,
}

fn steps(name: &str) -> Vec<Step> {
    let path = format!(
        "{}/../../softcode/transcripts/{name}.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).expect("transcript JSON");
            let out = v["out"]
                .as_object()
                .expect("out")
                .iter()
                .map(|(k, lines)| {
                    let lines = lines
                        .as_array()
                        .expect("lines")
                        .iter()
                        .map(|l| l.as_str().expect("line").to_string())
                        .collect();
                    (k.clone(), lines)
                })
                .collect();
            Step {
                conn: v["conn"].as_str().expect("conn").to_string(),
                cmd: v["cmd"].as_str().expect("cmd").to_string(),
                compare: v["compare"].as_bool().expect("compare"),
                out,
            }
        })
        .collect()
}

fn masks(name: &str) -> Vec<regex::Regex> {
    let path = format!(
        "{}/../../softcode/transcripts/{name}.mux",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter_map(|l| l.strip_prefix("#!mask "))
        .map(|m| regex::Regex::new(m).expect("mask"))
        .collect()
}

/// Logs `conn` in as the player named in `connect`/`create` (making it for `create`).
fn log_in(game: &mut common::Game, cmd: &str) -> Option<Dbref> {
    let mut words = cmd.split_whitespace();
    let verb = words.next()?.to_ascii_lowercase();
    let name = words.next()?;
    let id = match verb.as_str() {
        "connect" => game.world.player_named(name).expect("in memory")?,
        "create" => {
            let id = game
                .world
                .create(Kind::Player, name, -1, 0)
                .expect("create a player");
            for change in [Change::Owner(id), Change::Link(0)] {
                game.world.change(id, change).expect("new player");
            }
            id
        }
        _ => return None,
    };
    game.world
        .change(id, Change::Flag("CONNECTED".into(), true))
        .expect("connect");
    game.world.connections.insert(
        0,
        Connection {
            player: id,
            connected_secs: 0,
            idle_secs: 0,
            doing: String::new(),
        },
    );
    Some(id)
}

/// Replays a transcript; returns how many outputs matched TinyMUX's and the differences.
fn replay(name: &str) -> (usize, Vec<String>) {
    let masks = masks(name);
    let mask = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .map(|l| {
                masks
                    .iter()
                    .fold(l.clone(), |t, m| m.replace_all(&t, "*").into_owned())
            })
            .collect()
    };
    let mut game = common::Game::new();
    let mut players: BTreeMap<String, Dbref> = BTreeMap::new();
    let (mut matched, mut differences) = (0, Vec::new());
    for step in steps(name) {
        let emits = match players.get(&step.conn) {
            None => {
                if let Some(id) = log_in(&mut game, &step.cmd) {
                    players.insert(step.conn.clone(), id);
                }
                continue;
            }
            Some(&id) => {
                let mut emits = game.typed(id, &step.cmd);
                emits.extend(game.settle(1000));
                emits
            }
        };
        if !step.compare {
            continue;
        }
        for (conn, id) in &players {
            let ours = game.seen_by(*id, &emits);
            let theirs = step.out.get(conn).cloned().unwrap_or_default();
            if mask(&ours) == mask(&theirs) {
                matched += 1;
            } else {
                differences.push(format!(
                    "{}> {}\n  on {conn}, ours:    {ours:?}\n  on {conn}, TinyMUX: {theirs:?}",
                    step.conn, step.cmd
                ));
            }
        }
    }
    (matched, differences)
}

/// `permissions`: what ordinary players and a wizard who is not God may not do, with
/// TinyMUX's refusals (`@oemit` far away, exits where one may not build, links to what
/// one neither controls nor finds LINK_OK or ABODE, and God out of every wizard's reach).
#[test]
fn permissions_transcript_plays_as_on_tinymux() {
    let (matched, differences) = replay("permissions");
    println!(
        "permissions: {matched} outputs match, {} differ",
        differences.len()
    );
    assert!(
        differences.is_empty(),
        "the in-memory permissions transcript differs from TinyMUX's:\n{}",
        differences.join("\n")
    );
}
