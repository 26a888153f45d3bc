//! Fast table tests of the evaluator on the in-memory world: parsing, substitutions,
//! functions, and the limits that keep hostile code bounded.

use mush_softcode::command::{self, Ran};
use mush_softcode::memory::MemoryWorld;
use mush_softcode::{Change, Emit, Eval, Frame, Kind, Limits, World};

fn think(world: &mut MemoryWorld, text: &str) -> String {
    let frame = Frame {
        executor: 1,
        caller: 1,
        enactor: 1,
        args: &[],
    };
    let mut ev = Eval::new(world, Limits::default());
    ev.eval_top(&frame, text)
        .expect("in-memory world never misses")
}

fn cmd(world: &mut MemoryWorld, line: &str) -> Vec<String> {
    let frame = Frame {
        executor: 1,
        caller: 1,
        enactor: 1,
        args: &[],
    };
    let mut ev = Eval::new(world, Limits::default());
    assert_eq!(command::run(&mut ev, &frame, line), Ok(Ran::Done), "{line}");
    ev.emits
        .into_iter()
        .filter_map(|e| match e {
            Emit::To(1, t) => Some(t),
            _ => None,
        })
        .collect()
}

#[test]
fn expressions() {
    let cases = [
        ("add(1,2)", "3"),
        ("[add(1,2)]", "3"),
        ("add(1,2) x", "3 x"),
        ("[add(1,2)] [mul(3,4)]", "3 12"),
        ("[add(1,2) mul(3,4)]", "3 mul(3,4)"),
        ("nosuch(1)", "nosuch(1)"),
        ("[nosuch(1)]", "#-1 FUNCTION (NOSUCH) NOT FOUND"),
        ("[add(1)]", "1"),
        ("[sub(1)]", "#-1 FUNCTION (SUB) EXPECTS 2 ARGUMENTS"),
        ("a    b", "a b"),
        ("\\[add(1,2)\\]", "[add(1,2)]"),
        ("[strlen( abc )]", "3"),
        ("{add(1,2)}", "{add(1,2)}"),
        ("[if(1,yes,no)]", "yes"),
        ("[if(0,yes,no)]", "no"),
        ("[switch(foo,f*,one,two)]", "one"),
        ("[switch(bar,f*,one,two)]", "two"),
        ("[fdiv(1,4)]", "0.25"),
        ("[add(0.1,0.2)]", "0.3"),
        ("[div(7,2)]", "3"),
        ("[setq(0,hi)][r(0)] %q0", "hi hi"),
        ("%%", "%"),
        ("a%rb", "a\r\nb"),
        ("%N", "Wizard"),
        ("%#", "#1"),
        ("[ucstr(abc)][lcstr(DEF)]", "ABCdef"),
        ("[mid(abcdef,1,3)]", "bcd"),
        ("[repeat(ab,3)]", "ababab"),
        ("[ljust(a,3,.)]|", "a..|"),
        ("[rjust(a,3,.)]", "..a"),
        ("[center(a,5,-)]", "--a--"),
        ("[edit(aXbXc,X,-)]", "a-b-c"),
        ("[before(a b c, )]|[after(a b c,b)]", "a b c| c"),
        ("[before(a b c,%b)]", "a"),
        ("[lit([add(1,2)])]", "[add(1,2)]"),
        ("[t(0)][t(1)][t(abc)][t(#-1)][t( )]", "01100"),
        ("[name(me)] [num(me)] [loc(me)]", "Wizard #1 #11"),
        ("[type(here)] [type(me)]", "ROOM PLAYER"),
        ("[convsecs(0)]", "Thu Jan 01 00:00:00 1970"),
    ];
    let mut world = MemoryWorld::new();
    for (input, want) in cases {
        assert_eq!(think(&mut world, input), want, "think {input}");
    }
}

#[test]
fn attributes_parents_and_u() {
    let mut world = MemoryWorld::new();
    assert_eq!(
        cmd(&mut world, "@create Parent"),
        ["Parent created as object #12"]
    );
    assert_eq!(
        cmd(&mut world, "@create Child"),
        ["Child created as object #13"]
    );
    assert_eq!(cmd(&mut world, "&greet Parent=Hello, %0!"), ["Set."]);
    assert_eq!(cmd(&mut world, "@parent Child=Parent"), ["Parent set."]);
    assert_eq!(think(&mut world, "[u(Child/greet,Ann)]"), "Hello, Ann!");
    assert_eq!(think(&mut world, "[get(Child/greet)]"), "Hello, %0!");
    assert_eq!(
        think(&mut world, "[hasattr(Child,greet)][hasattrp(Child,greet)]"),
        "01"
    );
    assert_eq!(cmd(&mut world, "@set Parent/greet=no_inherit"), ["Set."]);
    assert_eq!(think(&mut world, "[u(Child/greet,Ann)]"), "");
    assert_eq!(cmd(&mut world, "&n Child=0"), ["Set."]);
    assert_eq!(
        cmd(
            &mut world,
            "think [set(Child,n:[add(get(Child/n),1)])][get(Child/n)]"
        ),
        ["Set.", "1"]
    );
}

#[test]
fn hostile_code_is_bounded() {
    let mut world = MemoryWorld::new();
    cmd(&mut world, "&r me=[u(me/r)]");
    let out = think(&mut world, "[u(me/r)]");
    assert!(
        out.contains("#-1 FUNCTION RECURSION LIMIT EXCEEDED"),
        "{out}"
    );
    let out = think(&mut world, "[repeat(x,100000000)]");
    assert_eq!(out.len(), 7999);
    // Longer strings than one character say so instead (TinyMUX's answer).
    let out = think(&mut world, "[repeat(xyz,100000)]");
    assert_eq!(out, "#-1 STRING TOO LONG");
    let out = think(&mut world, "[strlen(iter(lnum(1000),xyzxyzxyz))]");
    assert_eq!(out, "7999");
    // Exponential work through u(): stopped by the invocation limit or the step budget.
    cmd(&mut world, "&b me=[u(me/b)][u(me/b)]");
    let started = std::time::Instant::now();
    let out = think(&mut world, "[u(me/b)]");
    assert!(out.len() <= 7999);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // A deep parse cannot overflow the stack.
    let deep = "[".repeat(50_000);
    let _ = think(&mut world, &deep);
    let deep = "add(".repeat(50_000);
    let _ = think(&mut world, &deep);
}

fn cmd_as(world: &mut MemoryWorld, who: i64, line: &str) -> Vec<String> {
    let frame = Frame {
        executor: who,
        caller: who,
        enactor: who,
        args: &[],
    };
    let mut ev = Eval::new(world, Limits::default());
    assert_eq!(command::run(&mut ev, &frame, line), Ok(Ran::Done), "{line}");
    ev.emits
        .into_iter()
        .filter_map(|e| match e {
            Emit::To(to, t) if to == who => Some(t),
            _ => None,
        })
        .collect()
}

#[test]
fn recursion_output_and_numbers_stay_bounded() {
    let mut world = MemoryWorld::new();
    // eval() and s() recurse like u() and count against the same limit.
    cmd(&mut world, "&a me=[eval(me,a)]");
    let out = think(&mut world, "[eval(me,a)]");
    assert!(
        out.contains("#-1 FUNCTION RECURSION LIMIT EXCEEDED"),
        "{out}"
    );
    // Messages sent from a loop are bounded per command.
    let frame = Frame {
        executor: 1,
        caller: 1,
        enactor: 1,
        args: &[],
    };
    let mut ev = Eval::new(&mut world, Limits::default());
    ev.eval_top(&frame, "[iter(lnum(5000),pemit(me,x))]")
        .expect("evaluates");
    assert_eq!(ev.emits.len(), mush_softcode::eval::MAX_EMITS);
    drop(ev);
    // Extreme numbers give answers, not overflows.
    for text in [
        "[mid(abc,0,-9223372036854775808)]",
        "[mid(abc,-9223372036854775808,2)]",
        "[rand(-9223372036854775808,9223372036854775807)]",
        "[extract(a b c,-9223372036854775808,1)]",
        "[lnum(-9223372036854775808)]",
        "[add(9223372036854775807,1)]",
    ] {
        let _ = think(&mut world, text);
    }
}

#[test]
fn only_wizards_touch_wizard_things() {
    let mut world = MemoryWorld::new();
    cmd(&mut world, "@create Thing");
    // A wizard's ordinary object does not act with its owner's wizard rights.
    assert_eq!(think(&mut world, "[controls(Thing,#3)]"), "0");
    cmd(&mut world, "@set Thing=INHERIT");
    assert_eq!(think(&mut world, "[controls(Thing,#3)]"), "1");

    let bob = {
        use mush_softcode::World;
        let id = world
            .create(mush_softcode::Kind::Player, "Bob", 12, 11)
            .expect("create");
        world
            .change(id, mush_softcode::Change::Owner(id))
            .expect("owner");
        id
    };
    cmd_as(&mut world, bob, "@create Gizmo");
    assert_eq!(cmd_as(&mut world, bob, "&note Gizmo=mine"), ["Set."]);
    for flag in ["wizard", "hidden"] {
        assert_eq!(
            cmd_as(&mut world, bob, &format!("@set Gizmo/note={flag}")),
            ["Permission denied."],
            "{flag}"
        );
    }
    let gizmo = cmd_as(&mut world, bob, "think num(Gizmo)").join("");
    assert_eq!(
        cmd(&mut world, &format!("@set {gizmo}/note=wizard")),
        ["Set."]
    );
    // Nor may Bob clear it, write the attribute, take wizard-only flags, or lend himself
    // the Wizard's object as a parent.
    for line in [
        "@set Gizmo/note=!wizard",
        "&note Gizmo=changed",
        "@set Gizmo=WIZARD",
        "@set Gizmo=SLAVE",
        "@parent Gizmo=#1",
    ] {
        assert_eq!(
            cmd_as(&mut world, bob, line),
            ["Permission denied."],
            "{line}"
        );
    }
}

mod common;

/// Queued work on the in-memory game: `$`-commands, `@wait`, `@trigger` chains, the
/// queue quota against a job that queues itself for ever, and `@halt`.
#[test]
fn queue_dollar_commands_and_runaways() {
    let mut game = common::Game::new();
    let say = |game: &mut common::Game, line: &str, settle: i64| {
        let mut emits = game.typed(1, line);
        emits.extend(game.settle(settle));
        game.seen_by(1, &emits)
    };
    say(&mut game, "@create Box", 0);
    say(&mut game, "@tel Box=here", 0);
    say(
        &mut game,
        "&greet Box=$greet *:@pemit %#=Hi %0 from [name(me)].",
        0,
    );
    assert_eq!(say(&mut game, "greet there", 100), ["Hi there from Box."]);
    assert_eq!(say(&mut game, "grate there", 100), [command::HUH]);
    // A regular-expression command, and a pattern that backtracks for ever elsewhere:
    // here it simply does not match, at once.
    say(&mut game, "&re Box=$^re(\\d+)$:@pemit %#=number %1", 0);
    say(&mut game, "@set Box/re=regexp", 0);
    assert_eq!(say(&mut game, "re42", 100), ["number 42"]);
    say(&mut game, "&evil Box=$^(a+)+$:@pemit %#=evil", 0);
    say(&mut game, "@set Box/evil=regexp", 0);
    let started = std::time::Instant::now();
    let hostile = format!("{}b", "a".repeat(5000));
    assert_eq!(say(&mut game, &hostile, 100), [command::HUH]);
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    assert_eq!(
        say(&mut game, "@wait 2=@pemit me=later", 1000),
        Vec::<String>::new()
    );
    assert_eq!(say(&mut game, "think now", 1500), ["now", "later"]);
    say(&mut game, "&cnt Box=0", 0);
    say(&mut game, "&inc Box=&cnt me=[add(v(cnt),1)]", 0);
    say(&mut game, "@dolist lnum(50)=@trigger/quiet Box/inc", 100);
    assert_eq!(say(&mut game, "think get(Box/cnt)", 0), ["50"]);
    // The benchmark's shape: the increment that reaches the goal reports.
    say(&mut game, "&cnt Box=0", 0);
    say(&mut game, "&goal Box=20", 0);
    say(
        &mut game,
        "&tick Box=&cnt me=[add(v(cnt),1)];@switch [v(cnt)]=[v(goal)],@pemit *Wizard=tick [v(cnt)]",
        0,
    );
    assert_eq!(
        say(&mut game, "@dolist lnum(20)=@trigger/quiet Box/tick", 100),
        ["tick 20"]
    );
    // A list longer than a command's argument limit is still every item (with a queue
    // quota raised as TinyMUX's QueueMax attribute raises it).
    say(&mut game, "&queuemax me=5000", 0);
    say(&mut game, "&cnt Box=0", 0);
    say(&mut game, "&goal Box=1000", 0);
    assert_eq!(
        say(&mut game, "@dolist lnum(1000)=@trigger/quiet Box/tick", 100),
        ["tick 1000"]
    );
    // A job that queues itself for ever, owned by a mortal: the quota stops it.
    let mortal = game
        .world
        .create(Kind::Player, "Mortal", 0, 0)
        .expect("create");
    let box_id = say(&mut game, "think num(Box)", 0).join("");
    let box_id: i64 = box_id.trim_start_matches('#').parse().expect("dbref");
    game.world
        .change(box_id, Change::Owner(mortal))
        .expect("chown");
    say(&mut game, "&loop Box=@trigger me/loop;@trigger me/loop", 0);
    game.typed(1, "@trigger Box/loop");
    let emits = game.settle(5000);
    assert!(game.queue.is_empty(), "{} jobs left", game.queue.len());
    assert!(
        game.seen_by(mortal, &emits)
            .contains(&"Run away objects: too many commands queued.  Halted.".to_string())
    );
    assert_eq!(say(&mut game, "think hasflag(Box,HALT)", 0), ["1"]);
}

/// `@aconnect`/`@adisconnect` run in TinyMUX's order (the player's own, the master room's,
/// each object's in the master room, the zone's), through the queue; only the player's own
/// `@adisconnect` gets the reason; `@startup` runs as the object, caused by its owner.
#[test]
fn connection_hooks_and_startup_queue_in_tinymux_order() {
    use mush_softcode::hooks::{self, Reason};
    let mut game = common::Game::new();
    let typed = |game: &mut common::Game, line: &str| {
        let emits = game.typed(1, line);
        game.seen_by(1, &emits)
    };
    let num = |game: &mut common::Game, name: &str| -> i64 {
        typed(game, &format!("think num({name})"))[0]
            .trim_start_matches('#')
            .parse()
            .expect("dbref")
    };
    typed(&mut game, "@create Global");
    let global = num(&mut game, "Global");
    typed(&mut game, &format!("@tel #{global}=#2"));
    // Globals are INHERIT, so they control players anywhere; the master room itself is
    // owned by another player in TinyMUX's database, but Debian's TinyMUX lets anything
    // @pemit players anywhere (`pemit_far_players`), so its greeting arrives too.
    typed(&mut game, &format!("@set #{global}=INHERIT"));
    typed(&mut game, "@create ZoneThing");
    typed(&mut game, "@chzone here=ZoneThing");
    typed(&mut game, "@aconnect me=@pemit me=1 me");
    assert_eq!(
        typed(&mut game, "@aconnect #2=@pemit %#=2 master room"),
        ["Set."]
    );
    let set = format!("@aconnect #{global}=@pemit %#=3 global [name(me)]");
    assert_eq!(typed(&mut game, &set), ["Set."]);
    typed(&mut game, "@aconnect ZoneThing=@pemit %#=4 zone");
    typed(&mut game, "@adisconnect me=@pemit me=bye %0");
    let set = format!("@adisconnect #{global}=@pemit %#=global bye '%0'");
    typed(&mut game, &set);

    let mut emits = game.hook(|ev| hooks::connected(ev, 1));
    assert!(game.seen_by(1, &emits).is_empty(), "hooks only queue");
    emits.extend(game.settle(100));
    assert_eq!(
        emits,
        [
            Emit::To(1, "1 me".into()),
            Emit::To(1, "2 master room".into()),
            Emit::To(1, "3 global Global".into()),
            Emit::To(1, "4 zone".into()),
        ]
    );
    let mut emits = game.hook(|ev| hooks::disconnected(ev, 1, Reason::Quit));
    emits.extend(game.settle(100));
    assert_eq!(game.seen_by(1, &emits), ["bye Quit", "global bye ''"]);

    typed(&mut game, "@create Startup");
    typed(
        &mut game,
        "@startup Startup=@pemit %#=started by [name(%#)] as [name(me)]",
    );
    let startup = num(&mut game, "Startup");
    let mut emits = game.hook(|ev| hooks::startup(ev, startup));
    emits.extend(game.settle(100));
    assert_eq!(game.seen_by(1, &emits), ["started by Wizard as Startup"]);
}

/// `@ps` lists the queue as TinyMUX 2.12 does (lines as recorded from it), except that a
/// shard has no system tasks to list.
#[test]
fn ps_lists_the_queue_as_tinymux_does() {
    let mut game = common::Game::new();
    let typed = |game: &mut common::Game, line: &str| {
        let emits = game.typed(1, line);
        game.seen_by(1, &emits)
    };
    typed(&mut game, "@wait 100=think waiting");
    typed(&mut game, "@create Box");
    typed(&mut game, "&go Box=@wait 50=say hi %0");
    typed(&mut game, "@trigger Box/go=arg0");
    typed(&mut game, "@wait Box/30=think sem");
    typed(&mut game, "@wait Box=think sem2");
    game.settle(500);
    let system = ["----- System Queue -----"];
    let totals = |w: &str, s: &str| {
        vec![
            format!("Totals: Wait Queue...{w}  Semaphores...{s}  SQL 0/0"),
            "        System Tasks.....0".to_string(),
        ]
    };
    let listing = [
        "----- Wait Queue -----",
        "[49]Box(#12):say hi %0",
        "[99]Wizard(#1PcW):think waiting",
        "----- Semaphore Queue -----",
        "[#12]Wizard(#1PcW):think sem2",
        "[#12/29]Wizard(#1PcW):think sem",
    ];
    let mut want: Vec<String> = listing.iter().map(|s| s.to_string()).collect();
    want.extend(system.iter().map(|s| s.to_string()));
    want.extend(totals("2/2", "2/2"));
    assert_eq!(typed(&mut game, "@ps"), want);
    assert_eq!(typed(&mut game, "@ps/all"), want);
    let long = typed(&mut game, "@ps/long");
    assert_eq!(
        long[1..3],
        [
            "[49]Box(#12):say hi %0",
            "   Enactor: Wizard(#1PcW); Arg0='arg0'"
        ]
    );
    let mut want: Vec<String> = system.iter().map(|s| s.to_string()).collect();
    want.extend(totals("2/2", "2/2"));
    assert_eq!(typed(&mut game, "@ps/summary"), want);
    let mut want = vec![
        "----- Wait Queue -----".to_string(),
        "[49]Box(#12):say hi %0".into(),
    ];
    want.extend(system.iter().map(|s| s.to_string()));
    want.extend(totals("1/2", "0/2"));
    assert_eq!(typed(&mut game, "@ps Box"), want);
    assert_eq!(
        typed(&mut game, "@ps/all Box"),
        ["Can't specify a target and /all"]
    );
    assert_eq!(typed(&mut game, "@ps nosuch"), ["I don't see that here."]);
    assert_eq!(
        typed(&mut game, "@ps/long/summary"),
        ["Illegal combination of switches."]
    );
    assert_eq!(typed(&mut game, "@halt/all"), ["4 queue entries removed."]);
    let mut want: Vec<String> = system.iter().map(|s| s.to_string()).collect();
    want.extend(totals("0/0", "0/0"));
    assert_eq!(typed(&mut game, "@ps"), want);
}

/// A world for the power tables: Pup (#12) is Wizard's thing, not INHERIT, so it has no
/// wizard rights; Bob (#14) owns Gadget (#15), which is far away in Bob's room (#13) and
/// carries an attribute Bob owns; Box (#16) is next to Pup, locked to Wizard. Returns the
/// world with Pup holding `powers`.
fn power_world(powers: &[&str]) -> MemoryWorld {
    let mut world = MemoryWorld::new();
    cmd(&mut world, "@create Pup");
    cmd(&mut world, "drop Pup");
    cmd(&mut world, "@dig BobRoom");
    let bob = world
        .create(Kind::Player, "Bob", 14, 13)
        .expect("create Bob");
    assert_eq!(bob, 14);
    world.change(bob, Change::Owner(bob)).expect("owner");
    cmd(&mut world, "@create Gadget");
    cmd(&mut world, "&SECRET Gadget=bob secret");
    cmd(&mut world, "@tel Gadget=#13");
    cmd(&mut world, "@chown #13=*Bob");
    cmd(&mut world, "@chown #15=*Bob");
    cmd(&mut world, "@create Box");
    cmd(&mut world, "drop Box");
    cmd(&mut world, "@lock Box=me");
    for power in powers {
        assert_eq!(cmd(&mut world, &format!("@power Pup={power}")), ["Set."]);
    }
    world
}

/// One row of the power table: powers, what Pup types, what it is told without them,
/// what with them.
type PowerCase = (
    &'static [&'static str],
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
);

/// Each power lets Pup do what it could not do without it (TinyMUX 2.12's checks).
#[test]
fn powers_grant_what_they_name() {
    let cases: &[PowerCase] = &[
        (&["control_all"], "think controls(Pup,#15)", &["0"], &["1"]),
        (&["control_all"], "think controls(Pup,#1)", &["0"], &["0"]),
        (
            &["control_all"],
            "@set #15=QUIET",
            &["Permission denied."],
            &["Set."],
        ),
        (
            &["see_all"],
            "think get(#15/SECRET)",
            &["#-1 PERMISSION DENIED"],
            &["bob secret"],
        ),
        (
            &["see_all"],
            "examine #15/SECRET",
            &["No matching attributes found."],
            &["SECRET: bob secret"],
        ),
        (&["see_all"], "think visible(Pup,#15)", &["0"], &["1"]),
        (
            &["see_all"],
            "&NOTE #15=x",
            &["Permission denied."],
            &["Permission denied."],
        ),
        (
            &["pass_locks"],
            "get Box",
            &["You can't pick that up."],
            &["Taken."],
        ),
        (&["pass_locks"], "think elock(Box,Pup)", &["0"], &["0"]),
        (
            &["long_fingers"],
            "look #15",
            &["I don't see that here."],
            &["You see nothing special."],
        ),
        (
            &["see_queue"],
            "@ps/all Box",
            &["Permission denied."],
            &["Can't specify a target and /all"],
        ),
        (
            &["halt"],
            "@halt/all Box",
            &["Permission denied."],
            &["Can't specify a target and /all"],
        ),
        (
            &["boot"],
            "@boot *Bob",
            &["Permission denied."],
            &["You booted Bob off!", "0 connections closed."],
        ),
        (
            &["boot"],
            "@boot *Wizard",
            &["Permission denied."],
            &["You cannot boot that player!"],
        ),
        (&["announce"], "@wall hi", &["Permission denied."], &[]),
        (
            &["search"],
            "think lsearch(*Bob)",
            &[
                "You need a search warrant to do that!",
                "#-1 ERROR DURING SEARCH",
            ],
            &["#13 #14 #15"],
        ),
        (
            &["search"],
            "@search *Bob",
            &["You need a search warrant to do that!"],
            &[
                "\nROOMS:",
                "BobRoom",
                "\nOBJECTS:",
                "Gadget [owner: Bob]",
                "\nPLAYERS:",
                "Bob [location: BobRoom]",
                "\nFound:  Rooms...1  Exits...0  Objects...1  Players...1",
            ],
        ),
        (
            &["tel_anything"],
            "@tel #15=here",
            &["Permission denied."],
            &["Teleported."],
        ),
        (
            &["tel_anywhere"],
            "@tel me=#13",
            &["You can't teleport there!"],
            &["BobRoom", "Contents:", "Gadget"],
        ),
        (
            &["control_all", "chown_anything"],
            "@chown #15=*Bob",
            &["You don't have that!"],
            &["Owner of Gadget(#15) changed from Bob(#14) to Bob(#14)."],
        ),
    ];
    for (powers, line, without, with) in cases {
        let mut world = power_world(&[]);
        assert_eq!(
            cmd_as(&mut world, 12, line),
            *without,
            "{line} without {powers:?}"
        );
        let mut world = power_world(powers);
        assert_eq!(
            cmd_as(&mut world, 12, line),
            *with,
            "{line} with {powers:?}"
        );
    }
}

/// The guest power refuses what TinyMUX refuses guests, and nothing else.
#[test]
fn guests_may_not_build() {
    for (line, refused) in [
        ("@create Thing", true),
        ("&X me=1", true),
        ("@desc me=x", true),
        ("get Box", true),
        ("@pemit me=x", true),
        ("think still here", false),
        ("look", false),
    ] {
        let mut world = power_world(&["guest"]);
        let out = cmd_as(&mut world, 12, line);
        assert_eq!(out == ["Permission denied."], refused, "{line}: {out:?}");
    }
}

/// `@power` itself: wizards hand out powers, God alone control_all and guest.
#[test]
fn only_wizards_hand_out_powers() {
    let mut world = power_world(&[]);
    let cases = [
        (
            1,
            "@power Box=see_all nosuch !see_all",
            vec!["Set.", "I don't understand that power.", "Cleared."],
        ),
        (1, "@power Box=", vec!["I don't know what you want to set!"]),
        (
            1,
            "@power Box=!",
            vec!["You must specify a power to clear."],
        ),
        (12, "@power Box=see_all", vec!["Permission denied."]),
        (12, "@power #15=see_all", vec!["Permission denied."]),
    ];
    for (who, line, want) in cases {
        assert_eq!(cmd_as(&mut world, who, line), want, "{line}");
    }
    cmd(&mut world, "@set Pup=INHERIT");
    assert_eq!(cmd_as(&mut world, 12, "@power Box=boot"), ["Set."]);
    assert_eq!(
        cmd_as(&mut world, 12, "@power Box=control_all"),
        ["Permission denied."]
    );
    assert_eq!(cmd(&mut world, "@power Box=control_all"), ["Set."]);
    assert_eq!(
        think(&mut world, "[powers(Box)] [haspower(Box,BOOT)]"),
        "boot control_all 1"
    );
    // @chown strips them.
    cmd(&mut world, "get Box");
    cmd(&mut world, "@chown Box=*Bob");
    assert_eq!(think(&mut world, "[powers(#16)]"), "");
}

/// `@attribute/access` flags apply to the attribute of that name on every object.
#[test]
fn attribute_access_flags_apply_everywhere() {
    // Flags, who acts (1 God, 12 Pup, a mortal thing Wizard owns), the line, the reply.
    let cases: &[(&str, i64, &str, &[&str])] = &[
        ("wizard", 12, "&QFOO Box=x", &["Permission denied."]),
        ("wizard", 1, "&QFOO Box=x", &["Set."]),
        (
            "hidden",
            12,
            "think get(Box/QFOO)",
            &["#-1 PERMISSION DENIED"],
        ),
        ("hidden", 1, "think get(Box/QFOO)", &["hello"]),
        (
            "hidden",
            12,
            "examine Box/QFOO",
            &["No matching attributes found."],
        ),
        ("const", 1, "&QFOO Box=x", &["Permission denied."]),
        ("locked", 1, "&QFOO Box=x", &["Set."]),
        ("god", 12, "&QFOO Box=x", &["Permission denied."]),
        (
            "internal",
            1,
            "think get(Box/QFOO)",
            &["#-1 PERMISSION DENIED"],
        ),
        ("dark", 1, "think get(Box/QFOO)", &["hello"]),
        (
            "dark",
            12,
            "think get(Box/QFOO)",
            &["#-1 PERMISSION DENIED"],
        ),
        ("no_inherit", 1, "think get(Kid/QFOO)", &[]),
        ("private", 1, "think get(Kid/QFOO)", &["hello"]),
        ("visual", 12, "think get(#15/SECRET)", &["bob secret"]),
    ];
    for (flags, who, line, want) in cases {
        let mut world = power_world(&[]);
        cmd(&mut world, "&QFOO Box=hello");
        cmd(&mut world, "@create Kid");
        cmd(&mut world, "@parent Kid=Box");
        let name = if line.contains("SECRET") {
            "SECRET"
        } else {
            "QFOO"
        };
        assert_eq!(
            cmd(&mut world, &format!("@attribute/access {name}={flags}")),
            ["Attribute access changed."]
        );
        assert_eq!(cmd_as(&mut world, *who, line), *want, "{flags}: {line}");
        // The copies show none of it.
        assert_eq!(cmd(&mut world, "examine Box/QFOO").len(), 1, "{flags}");
    }
    let mut world = power_world(&[]);
    for (line, want) in [
        (
            "@attribute/access DESC=wizard",
            "No such user-named attribute.",
        ),
        ("@attribute/access QFOO=d", "Unknown permission: D."),
        (
            "@attribute/rename QFOO=DESC",
            "An attribute with that name already exists.",
        ),
        ("@attribute/rename QFOO=1BAD", "Attribute rename failed."),
        ("@attribute/rename QFOO=QBAR", "Attribute renamed."),
        ("@attribute/delete QBAR", "Attribute deleted."),
        (
            "@attribute/access/delete QBAR",
            "Illegal combination of switches.",
        ),
    ] {
        assert_eq!(cmd(&mut world, line), [want], "{line}");
    }
    assert_eq!(
        cmd_as(&mut world, 12, "@attribute/access QFOO=wizard"),
        ["Permission denied."]
    );
}

/// A player sets itself DARK with the hide power and MONITOR with the monitor power.
#[test]
fn players_hide_and_monitor_with_powers() {
    for (power, line) in [("hide", "@set me=DARK"), ("monitor", "@set me=MONITOR")] {
        let mut world = power_world(&[]);
        assert_eq!(
            cmd_as(&mut world, 14, line),
            ["Permission denied."],
            "{line}"
        );
        assert_eq!(cmd(&mut world, &format!("@power *Bob={power}")), ["Set."]);
        assert_eq!(
            cmd_as(&mut world, 14, line),
            ["Set."],
            "{line} with {power}"
        );
    }
    // Clearing DARK needs no power.
    let mut world = power_world(&[]);
    assert_eq!(cmd_as(&mut world, 14, "@set me=!DARK"), ["Cleared."]);
}

/// Runs `line` as `who` with `limits`; what `who` is told, and everything sent.
fn cmd_with(
    world: &mut MemoryWorld,
    who: i64,
    limits: Limits,
    line: &str,
) -> (Vec<String>, Vec<Emit>) {
    let frame = Frame {
        executor: who,
        caller: who,
        enactor: who,
        args: &[],
    };
    let mut ev = Eval::new(world, limits);
    assert_eq!(command::run(&mut ev, &frame, line), Ok(Ran::Done), "{line}");
    let told = ev
        .emits
        .iter()
        .filter_map(|e| match e {
            Emit::To(to, t) if *to == who => Some(t.clone()),
            _ => None,
        })
        .collect();
    (told, ev.emits)
}

/// Bob (#12), an ordinary player in Limbo, far from the Wizard (#1, in #11).
fn mortal_world() -> (MemoryWorld, i64) {
    let mut world = MemoryWorld::new();
    let bob = world
        .create(Kind::Player, "Bob", 12, 0)
        .expect("create Bob");
    world.change(bob, Change::Owner(bob)).expect("owner");
    (world, bob)
}

/// The emit family's locality rules (TinyMUX's do_pemit_single): with TinyMUX's own
/// defaults (`pemit_far_players` and `pemit_any_object` off) a mortal reaches only what
/// is near or its own; Debian's `compat.conf` turns both on, which lets `@pemit` and
/// `@remit` through but never a far `@oemit`.
#[test]
fn emits_reach_only_what_is_near_unless_configured() {
    let strict = Limits {
        pemit_far_players: false,
        pemit_any_object: false,
        ..Limits::default()
    };
    let too_far = ["You are too far away to do that."];
    let (mut world, bob) = mortal_world();
    for line in [
        "@pemit *Wizard=psst",
        "@pemit #1=psst",
        "think pemit(#1,psst)",
        "@oemit *Wizard=psst",
        "think oemit(#1,psst)",
        "@remit #11=psst",
    ] {
        let (told, sent) = cmd_with(&mut world, bob, strict, line);
        assert_eq!(told, too_far, "{line}");
        assert_eq!(sent.len(), 1, "{line}: only the refusal is sent");
    }
    // Near, or its own: allowed, except the contents of a place it does not control.
    let (told, _) = cmd_with(&mut world, bob, strict, "@pemit me=hi");
    assert_eq!(told, ["hi"]);
    let (told, _) = cmd_with(&mut world, bob, strict, "@remit here=hi");
    assert_eq!(told, ["Permission denied."]);

    // Debian's configuration: @pemit reaches the far wizard, @oemit still may not.
    let debian = Limits::default();
    let (told, sent) = cmd_with(&mut world, bob, debian, "@pemit *Wizard=psst");
    assert!(told.is_empty());
    assert_eq!(sent, [Emit::To(1, "psst".into())]);
    let (told, _) = cmd_with(&mut world, bob, debian, "@oemit *Wizard=psst");
    assert_eq!(told, too_far);
}

/// Building where one may not (TinyMUX's open_exit, link_exit, can_set_home): a mortal
/// opens no exit in Limbo (not even through `@dig`), and links nothing to God's rooms
/// until they are LINK_OK (exits, drop-tos) or ABODE (homes).
#[test]
fn mortals_build_and_link_only_where_allowed() {
    let (mut world, bob) = mortal_world();
    let run = |world: &mut MemoryWorld, line: &str| cmd_as(world, bob, line);
    assert_eq!(run(&mut world, "@open look;quit"), ["Permission denied."]);
    assert_eq!(
        run(&mut world, "@dig Den=out,back"),
        [
            "Den created as room #13.",
            "Permission denied.",
            "Opened.",
            "You can't link to that."
        ]
    );
    assert_eq!(think(&mut world, "[lexits(#0)]|[lexits(#13)]"), "|#14");
    assert!(run(&mut world, "@tel #13").contains(&"Den(#13R)".to_string()));
    assert_eq!(
        run(&mut world, "@open in=#11"),
        ["Opened.", "You can't link to that."]
    );
    assert_eq!(run(&mut world, "@link in=#11"), ["You can't link to that."]);
    assert_eq!(
        run(&mut world, "@link here=#11"),
        ["You can't link to that."]
    );
    assert_eq!(run(&mut world, "@link me=#11"), ["Permission denied."]);
    cmd(&mut world, "@set #11=LINK_OK");
    assert_eq!(run(&mut world, "@link in=#11"), ["Linked."]);
    assert_eq!(
        run(&mut world, "@link here=#11"),
        ["Dropto of Den(#13) changed from *NOTHING*(#-1) to Auxiliary Room(#11)."]
    );
    assert_eq!(run(&mut world, "@link me=#11"), ["Permission denied."]);
    cmd(&mut world, "@set #11=ABODE");
    assert_eq!(
        run(&mut world, "@link me=#11"),
        ["Home of Bob(#12) changed from Limbo(#0) to Auxiliary Room(#11)."]
    );
}

/// No wizard but God changes God (TinyMUX's Controls and do_newpassword).
#[test]
fn god_is_out_of_every_wizards_reach() {
    let (mut world, carol) = mortal_world();
    cmd(&mut world, &format!("@set #{carol}=WIZARD"));
    for (line, told) in [
        ("@set #1=!WIZARD", "Permission denied."),
        ("@name #1=Impostor", "Permission denied."),
        ("&note #1=here", "Permission denied."),
        (
            "@newpassword *Wizard=stolen",
            "You cannot change that player's password.",
        ),
    ] {
        assert_eq!(cmd_as(&mut world, carol, line), [told], "{line}");
    }
    assert_eq!(
        think(&mut world, "[name(#1)] [hasflag(#1,WIZARD)]"),
        "Wizard 1"
    );
    assert_eq!(
        world.passwords.get(&1).map(String::as_str),
        Some("potrzebie")
    );
}
