//! Locks: TinyMUX's boolean keys (`#12`, `=me`, `+key`, `$owner`, `@other`, `attr:value`,
//! `attr/value`, with `&`, `|`, `!` and parentheses), parsed, printed and evaluated.
//!
//! A lock is stored as an attribute holding its key with every object written as a
//! dbref (the form [`Key::unparse`] prints), and parsed again each time it is checked, as
//! TinyMUX does: names are resolved once, when the lock is set, from the setter's view.

use crate::eval::{Eval, Frame, R};
use crate::functions::objects::{can_read, inherited, resolve};
use crate::world::{Dbref, NOTHING};

/// Deepest key nesting a lock may have (parentheses and `!`).
const PARSE_DEPTH: usize = 100;

/// How deep `@obj` indirections may go before the lock fails (TinyMUX's `lock_nest_lim`).
pub const INDIRECT_DEPTH: u32 = 20;

/// Longest key text accepted.
const KEY_MAX: usize = 4000;

/// A parsed key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Key {
    /// Both.
    And(Box<Key>, Box<Key>),
    /// Either.
    Or(Box<Key>, Box<Key>),
    /// Not.
    Not(Box<Key>),
    /// The object itself, or something that carries it.
    Object(Dbref),
    /// `=obj`: only the object itself (`=attr:value`: the one trying, not what it carries).
    Is(Box<Key>),
    /// `+obj`: only something carrying it (`+attr:value`: only what it carries).
    Carry(Box<Key>),
    /// `$obj`: anything with the same owner.
    Owner(Dbref),
    /// `@obj`: whatever that object's default lock says.
    Indirect(Dbref),
    /// `attr:pattern`: the attribute on the one trying (or something it carries) matches.
    Attr(String, String),
    /// `attr/value`: the locked object's attribute, evaluated, equals the value.
    Eval(String, String),
}

/// The default lock's attribute.
pub const DEFAULT_LOCK: &str = "DEFAULTLOCK";

/// The locks: the `@lock` switch, the fewest letters of it that name it (TinyMUX matches
/// switches by prefix, in this order), and the attribute that holds it as `examine`
/// names it.
pub const LOCKS: &[(&str, usize, &str)] = &[
    ("defaultlock", 1, "DefaultLock"),
    ("droplock", 1, "DropLock"),
    ("enterlock", 1, "EnterLock"),
    ("getfromlock", 1, "GetFromLock"),
    ("givelock", 1, "GiveLock"),
    ("leavelock", 2, "LeaveLock"),
    ("linklock", 2, "LinkLock"),
    ("maillock", 1, "MailLock"),
    ("openlock", 1, "OpenLock"),
    ("pagelock", 3, "PageLock"),
    ("parentlock", 3, "ParentLock"),
    ("receivelock", 1, "ReceiveLock"),
    ("speechlock", 1, "SpeechLock"),
    ("teloutlock", 2, "TeloutLock"),
    ("tportlock", 2, "TportLock"),
    ("uselock", 1, "UseLock"),
    ("userlock", 4, "UserLock"),
    ("visiblelock", 1, "VisibleLock"),
];

/// The attribute (upper case) holding the lock a switch names (`enter`, `use`, ...; empty:
/// the default lock).
pub fn lock_attr(switch: &str) -> Option<String> {
    let s = switch.trim().to_ascii_lowercase();
    if s.is_empty() {
        return Some(DEFAULT_LOCK.to_string());
    }
    LOCKS
        .iter()
        .find(|(name, min, _)| s.len() >= *min && name.starts_with(&s))
        .map(|(_, _, attr)| attr.to_ascii_uppercase())
}

/// How `examine` names a lock attribute (`EnterLock`), if the attribute is one.
pub fn lock_display(attr: &str) -> Option<&'static str> {
    LOCKS
        .iter()
        .find(|(_, _, a)| a.eq_ignore_ascii_case(attr))
        .map(|(_, _, a)| *a)
}

/// Why a key could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// Not a key (unbalanced, empty, too long or too deep).
    Syntax,
    /// A name matched nothing (the name).
    NoMatch(String),
    /// A name matched several things (the name).
    Ambiguous(String),
}

struct Parser<'a, 'e, 'w> {
    text: &'a [u8],
    src: &'a str,
    pos: usize,
    depth: usize,
    /// Resolves names from this object's view; `None` accepts only dbrefs (stored keys).
    ev: Option<(&'e mut Eval<'w>, Dbref)>,
}

impl Key {
    /// Parses a key, resolving names as `looker` sees them.
    pub fn parse(ev: &mut Eval<'_>, looker: Dbref, text: &str) -> R<Result<Key, KeyError>> {
        let mut p = Parser {
            text: text.as_bytes(),
            src: text,
            pos: 0,
            depth: 0,
            ev: Some((ev, looker)),
        };
        p.parse_all()
    }

    /// Parses a stored key (objects as dbrefs).
    pub fn parse_stored(text: &str) -> Option<Key> {
        let mut p = Parser {
            text: text.as_bytes(),
            src: text,
            pos: 0,
            depth: 0,
            ev: None,
        };
        p.parse_all().ok().and_then(Result::ok)
    }

    /// The key as stored: each object as `(#n)`, as TinyMUX stores it.
    pub fn unparse(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, &|id| format!("(#{id})"));
        out
    }

    /// The key with objects written by `name` (as `examine` shows it).
    pub fn unparse_with(&self, name: &dyn Fn(Dbref) -> String) -> String {
        let mut out = String::new();
        self.write(&mut out, name);
        out
    }

    fn write(&self, out: &mut String, name: &dyn Fn(Dbref) -> String) {
        match self {
            Key::And(a, b) => {
                a.write_sub(out, name, matches!(**a, Key::Or(..)));
                out.push('&');
                b.write_sub(out, name, matches!(**b, Key::Or(..)));
            }
            Key::Or(a, b) => {
                a.write(out, name);
                out.push('|');
                b.write(out, name);
            }
            Key::Not(a) => {
                out.push('!');
                a.write_sub(out, name, matches!(**a, Key::And(..) | Key::Or(..)));
            }
            Key::Object(id) => out.push_str(&name(*id)),
            Key::Is(inner) => {
                out.push('=');
                inner.write(out, name);
            }
            Key::Carry(inner) => {
                out.push('+');
                inner.write(out, name);
            }
            Key::Owner(id) => {
                out.push('$');
                out.push_str(&name(*id));
            }
            Key::Indirect(id) => {
                out.push('@');
                out.push_str(&name(*id));
            }
            Key::Attr(a, v) => {
                out.push_str(a);
                out.push(':');
                out.push_str(v);
            }
            Key::Eval(a, v) => {
                out.push_str(a);
                out.push('/');
                out.push_str(v);
            }
        }
    }

    fn write_sub(&self, out: &mut String, name: &dyn Fn(Dbref) -> String, paren: bool) {
        if paren {
            out.push('(');
        }
        self.write(out, name);
        if paren {
            out.push(')');
        }
    }
}

impl Parser<'_, '_, '_> {
    fn parse_all(&mut self) -> R<Result<Key, KeyError>> {
        if self.src.len() > KEY_MAX || self.src.trim().is_empty() {
            return Ok(Err(KeyError::Syntax));
        }
        let key = self.expr()?;
        // Like TinyMUX, text after a whole key is ignored.
        Ok(key)
    }

    fn skip_spaces(&mut self) {
        while self.text.get(self.pos) == Some(&b' ') {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_spaces();
        self.text.get(self.pos).copied()
    }

    /// `E := T ('|' E)?`
    fn expr(&mut self) -> R<Result<Key, KeyError>> {
        self.binary(b'|', Self::term, Self::expr, Key::Or)
    }

    /// `T := F ('&' T)?`
    fn term(&mut self) -> R<Result<Key, KeyError>> {
        self.binary(b'&', Self::factor, Self::term, Key::And)
    }

    /// `first (op rest)?`, right-recursive as TinyMUX parses it.
    fn binary(
        &mut self,
        op: u8,
        first: fn(&mut Self) -> R<Result<Key, KeyError>>,
        rest: fn(&mut Self) -> R<Result<Key, KeyError>>,
        join: fn(Box<Key>, Box<Key>) -> Key,
    ) -> R<Result<Key, KeyError>> {
        let left = match first(self)? {
            Ok(k) => k,
            e => return Ok(e),
        };
        if self.peek() == Some(op) {
            self.pos += 1;
            return Ok(self
                .nested(rest)?
                .map(|r| join(Box::new(left), Box::new(r))));
        }
        Ok(Ok(left))
    }

    fn nested(&mut self, f: fn(&mut Self) -> R<Result<Key, KeyError>>) -> R<Result<Key, KeyError>> {
        self.depth += 1;
        if self.depth > PARSE_DEPTH {
            return Ok(Err(KeyError::Syntax));
        }
        let r = f(self);
        self.depth -= 1;
        r
    }

    /// `F := '!' F | '@' L | '=' L | '+' L | '$' L | L` (a leaf takes `(E)` too)
    fn factor(&mut self) -> R<Result<Key, KeyError>> {
        let Some(c) = self.peek() else {
            // Nothing where a name belongs (`Key&`, `!`): the empty name is not found.
            return self.object("").map(|r| r.map(Key::Object));
        };
        match c {
            b'!' => {
                self.pos += 1;
                return Ok(self.nested(Self::factor)?.map(|k| Key::Not(Box::new(k))));
            }
            b'@' | b'$' => {
                // An object only (in a stored key, written `(#n)`).
                self.pos += 1;
                let id = match self.leaf()? {
                    Ok(Key::Object(id)) => id,
                    Ok(_) => return Ok(Err(KeyError::Syntax)),
                    Err(e) => return Ok(Err(e)),
                };
                return Ok(Ok(if c == b'@' {
                    Key::Indirect(id)
                } else {
                    Key::Owner(id)
                }));
            }
            b'=' | b'+' => {
                // An object or an `attr:value`, not an evaluation.
                self.pos += 1;
                let inner = match self.leaf()? {
                    Ok(k @ (Key::Object(_) | Key::Attr(..))) => k,
                    Ok(_) => return Ok(Err(KeyError::Syntax)),
                    e => return Ok(e),
                };
                let inner = Box::new(inner);
                return Ok(Ok(if c == b'=' {
                    Key::Is(inner)
                } else {
                    Key::Carry(inner)
                }));
            }
            _ => {}
        }
        self.leaf()
    }

    /// A name, `attr:value` or `attr/value`; `(E)` where a name may stand.
    fn leaf(&mut self) -> R<Result<Key, KeyError>> {
        if self.peek() == Some(b'(') {
            self.pos += 1;
            let inner = match self.nested(Self::expr)? {
                Ok(k) => k,
                e => return Ok(e),
            };
            if self.peek() != Some(b')') {
                return Ok(Err(KeyError::Syntax));
            }
            self.pos += 1;
            return Ok(Ok(inner));
        }
        let word = self.word();
        if word.is_empty() {
            // TinyMUX looks the empty name up: "I don't see  here."
            return self.object(&word).map(|r| r.map(Key::Object));
        }
        // `attr:value` and `attr/value`, the attribute name being a plain word.
        if let Some(i) = word.find([':', '/']) {
            let (name, value) = (&word[..i], &word[i + 1..]);
            if !name.is_empty() && crate::functions::objects::valid_attr_name(name) {
                let name = name.to_ascii_uppercase();
                return Ok(Ok(if word.as_bytes()[i] == b':' {
                    Key::Attr(name, value.to_string())
                } else {
                    Key::Eval(name, value.to_string())
                }));
            }
        }
        Ok(self.object(&word)?.map(Key::Object))
    }

    /// Reads up to `&`, `|` or `)`, trimmed.
    fn word(&mut self) -> String {
        self.skip_spaces();
        let start = self.pos;
        while let Some(&c) = self.text.get(self.pos) {
            if matches!(c, b'&' | b'|' | b')') {
                break;
            }
            self.pos += 1;
        }
        self.src[start..self.pos].trim_end().to_string()
    }

    fn object(&mut self, word: &str) -> R<Result<Dbref, KeyError>> {
        if word.is_empty() {
            return Ok(Err(match self.ev {
                Some(_) => KeyError::NoMatch(String::new()),
                None => KeyError::Syntax,
            }));
        }
        match &mut self.ev {
            None => {
                let n = crate::functions::objects::dbref_num(word);
                Ok(if n == NOTHING && word != "#-1" {
                    Err(KeyError::Syntax)
                } else {
                    Ok(n)
                })
            }
            Some((ev, looker)) => Ok(match resolve(ev, *looker, word)? {
                Ok(id) => Ok(id),
                Err(e) if e.starts_with("#-2") => Err(KeyError::Ambiguous(word.to_string())),
                Err(_) => Err(KeyError::NoMatch(word.to_string())),
            }),
        }
    }
}

/// True when `who` passes the lock stored in `attr` on `thing` (no lock: everyone passes;
/// the `pass_locks` power: every lock passes, as TinyMUX's `could_doit` has it).
pub fn passes(ev: &mut Eval<'_>, who: Dbref, thing: Dbref, attr: &str) -> R<bool> {
    if crate::powers::pass_locks(ev, who)? {
        return Ok(true);
    }
    passes_nested(ev, who, thing, attr, 0)
}

/// True when the key stored in `attr` on `thing` lets `who` through, whatever its powers
/// (`elock()` evaluates the key itself).
pub fn key_passes(ev: &mut Eval<'_>, who: Dbref, thing: Dbref, attr: &str) -> R<bool> {
    passes_nested(ev, who, thing, attr, 0)
}

fn passes_nested(ev: &mut Eval<'_>, who: Dbref, thing: Dbref, attr: &str, depth: u32) -> R<bool> {
    let Some(stored) = ev.world.attr(thing, attr)? else {
        return Ok(true);
    };
    if stored.value.trim().is_empty() {
        return Ok(true);
    }
    match Key::parse_stored(&stored.value) {
        Some(key) => check(ev, who, thing, &key, depth),
        // A stored key that does not parse is no lock, as in TinyMUX.
        None => Ok(true),
    }
}

/// Evaluates a key for `who` trying `thing`.
pub fn check(ev: &mut Eval<'_>, who: Dbref, thing: Dbref, key: &Key, depth: u32) -> R<bool> {
    Ok(match key {
        Key::And(a, b) => check(ev, who, thing, a, depth)? && check(ev, who, thing, b, depth)?,
        Key::Or(a, b) => check(ev, who, thing, a, depth)? || check(ev, who, thing, b, depth)?,
        Key::Not(a) => !check(ev, who, thing, a, depth)?,
        Key::Object(id) => *id == who || ev.world.contents(who)?.contains(id),
        Key::Is(inner) => match &**inner {
            Key::Object(id) => *id == who,
            Key::Attr(name, pattern) => attr_matches(ev, who, thing, name, pattern)?,
            _ => false,
        },
        Key::Carry(inner) => {
            let held = ev.world.contents(who)?;
            match &**inner {
                Key::Object(id) => held.contains(id),
                Key::Attr(name, pattern) => {
                    let mut any = false;
                    for obj in held {
                        if attr_matches(ev, obj, thing, name, pattern)? {
                            any = true;
                            break;
                        }
                    }
                    any
                }
                _ => false,
            }
        }
        Key::Owner(id) => {
            let a = ev.world.object(*id)?.map(|o| o.owner);
            let b = ev.world.object(who)?.map(|o| o.owner);
            a.is_some() && a == b
        }
        Key::Indirect(id) => {
            if depth >= INDIRECT_DEPTH {
                ev.emits.push(crate::eval::Emit::To(
                    who,
                    "Sorry, broken lock!".to_string(),
                ));
                return Ok(false);
            }
            passes_nested(ev, who, *id, DEFAULT_LOCK, depth + 1)?
        }
        Key::Attr(name, pattern) => {
            if attr_matches(ev, who, thing, name, pattern)? {
                return Ok(true);
            }
            for held in ev.world.contents(who)? {
                if attr_matches(ev, held, thing, name, pattern)? {
                    return Ok(true);
                }
            }
            false
        }
        Key::Eval(name, value) => {
            let Some(attr) = inherited(ev, thing, name)? else {
                return Ok(false);
            };
            let args: Vec<String> = Vec::new();
            let frame = Frame {
                executor: thing,
                caller: who,
                enactor: who,
                args: &args,
            };
            let saved = ev.regs.clone();
            let mut out = String::new();
            ev.eval_attr(&frame, &attr.value, &mut out)?;
            ev.regs = saved;
            let squeeze = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
            squeeze(&out).eq_ignore_ascii_case(&squeeze(value))
        }
    })
}

/// `attr:pattern` against one object: its attribute, if `thing` may read it, matches.
fn attr_matches(ev: &mut Eval<'_>, obj: Dbref, thing: Dbref, name: &str, pattern: &str) -> R<bool> {
    let Some(attr) = inherited(ev, obj, name)? else {
        return Ok(false);
    };
    if !can_read(ev, thing, obj, name, &attr)? {
        return Ok(false);
    }
    Ok(crate::wild::compare(pattern, &attr.value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_keys_parse_and_print_back() {
        let cases = [
            ("#12", "(#12)"),
            ("(#12)", "(#12)"),
            ("=#12", "=(#12)"),
            ("#1&#2", "(#1)&(#2)"),
            ("#1|#2&#3", "(#1)|(#2)&(#3)"),
            ("(#1|#2)&#3", "((#1)|(#2))&(#3)"),
            ("!(#1|#2)", "!((#1)|(#2))"),
            ("!#1", "!(#1)"),
            ("SEX:m*", "SEX:m*"),
            ("+SEX:m*", "+SEX:m*"),
            ("CHECK/1", "CHECK/1"),
            ("@#5|$#6|+#7", "@(#5)|$(#6)|+(#7)"),
            (" #1 & #2 ", "(#1)&(#2)"),
            ("#1)", "(#1)"),
        ];
        for (text, want) in cases {
            let key = Key::parse_stored(text).unwrap_or_else(|| panic!("{text:?} parses"));
            assert_eq!(key.unparse(), want, "{text:?}");
        }
        for bad in ["", "(#1", "#1&", "|#1", "!", "foo", "((((#1)))", "=A/1"] {
            assert_eq!(Key::parse_stored(bad), None, "{bad:?} is not a key");
        }
    }

    #[test]
    fn lock_switches_name_their_attributes() {
        let cases = [
            ("", Some("DEFAULTLOCK")),
            ("enter", Some("ENTERLOCK")),
            ("USE", Some("USELOCK")),
            ("u", Some("USELOCK")),
            ("user", Some("USERLOCK")),
            ("tport", Some("TPORTLOCK")),
            ("l", None),
            ("le", Some("LEAVELOCK")),
            ("bogus", None),
        ];
        for (switch, want) in cases {
            assert_eq!(lock_attr(switch).as_deref(), want, "{switch:?}");
        }
    }
}
