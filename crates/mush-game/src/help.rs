//! `help` texts.

/// Shown at the connect screen for `help` and for anything it does not understand.
pub const CONNECT_SCREEN: &str = "\
Commands at this screen:
  connect <name> <password>   connect to your character (\"quotes\" for a name with spaces)
  create <name> <password>    create a new character
  WHO                         who is connected
  QUIT                        leave";

const INDEX: &str = "\
Talking:   say (\"), pose (:), semipose (;), page, whisper, @emit, @pemit, think
Looking:   look (l), examine, inventory (i), WHO
Moving:    <exit name>, go <exit>, home, get, drop, give
Building:  @dig, @open, @link, @create, @describe, @name, @set, &ATTR, @destroy,
           @tel, @parent, @chzone, @lock, @clone, @chown, @search, @find
Softcode:  $-commands, @trigger, @wait, @notify, @halt, @ps, @switch, @dolist,
           @force, @function, @aconnect, @startup, @conformat, @exitformat
Session:   LOGOUT, QUIT, OUTPUTPREFIX, OUTPUTSUFFIX, IDLE, @doing
Wizards:   @rebalance
Type 'help <command>' for more.";

/// The text for `help <topic>`.
pub fn topic(topic: &str) -> &'static str {
    match topic
        .trim()
        .to_ascii_lowercase()
        .trim_start_matches(['@', '&'])
    {
        "" => INDEX,
        "say" | "\"" => "say <message>  (or \"<message>): speak to the room.",
        "pose" | ":" => "pose <action>  (or :<action>): 'Alice waves'.",
        "semipose" | ";" => "semipose <text>  (or ;<text>): 'Alice's eyes narrow' (no space).",
        "page" => {
            "page <player>=<message>: talk to a player anywhere. page <player>=:<pose> poses."
        }
        "whisper" => "whisper <player>=<message>: talk privately to a player in the same room.",
        "emit" => "@emit <text>: show text to the room as is.",
        "pemit" => "@pemit <player>=<text>: show text to one player in the room.",
        "think" => "think <text>: show text to yourself.",
        "look" | "l" => "look [<object>]: the room, or an object here.",
        "examine" | "ex" => "examine <object>: everything you may know about an object.",
        "inventory" | "i" => "inventory: what you carry.",
        "who" => "WHO: the connected players, how long they have been on and idle, and @doing.",
        "go" | "move" => "go <exit> (or just <exit>): walk through an exit.",
        "home" => "home: go to your home room.",
        "get" | "take" => "get <thing>: pick up a thing in the room.",
        "drop" => "drop <thing>: put down a thing you carry.",
        "give" => "give <player>=<thing>: hand a thing to a player here.",
        "dig" => {
            "@dig <room>[=<exit>[;<alias>...][,<back exit>]]: make a room, optionally with exits to and from it."
        }
        "open" => "@open <exit>[;<alias>...][=<#room>]: make an exit from this room.",
        "link" => {
            "@link <exit>=<#room> sets where an exit leads; @link <thing or player>=<#room> sets its home."
        }
        "create" => "@create <name>: make a thing you carry.",
        "describe" | "desc" => "@describe <object>=<text>: set what look shows.",
        "name" => "@name <object>=<name>: rename something you own.",
        "set" => {
            "@set <object>=[!]<FLAG> sets or clears a flag (TinyMUX's flags with their rules, such as DARK, OPAQUE, INHERIT, WIZARD). @set <object>=<ATTR>:<value> sets an attribute."
        }
        "attr" | "attribute" => {
            "&<ATTR> <object>=<value>: set an attribute; an empty value clears it."
        }
        "destroy" | "dest" => {
            "@destroy <object>: destroy something you own (not players, not non-empty rooms)."
        }
        "logout" => "LOGOUT: back to the connect screen without disconnecting.",
        "quit" => "QUIT: disconnect.",
        "outputprefix" | "outputsuffix" => {
            "OUTPUTPREFIX <text> / OUTPUTSUFFIX <text>: lines sent before and after the output of each command (for client scripts)."
        }
        "idle" => {
            "IDLE: does nothing and does not reset your idle time (keeps a connection alive)."
        }
        "doing" => "@doing <text>: your line in WHO.",
        "rebalance" => {
            "@rebalance: spread the connected sessions evenly over the game pods, for instance after new pods joined (sessions otherwise stay where they are). Players keep their connections. Wizards only."
        }
        _ => "No help on that topic. Type 'help' for the list.",
    }
}
