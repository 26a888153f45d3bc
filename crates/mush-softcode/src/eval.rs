//! The evaluator: walks a parsed expression with an execution context and produces text.
//!
//! It follows TinyMUX's rules: a function is recognised only at the start of a region
//! (the start of the text, of a `[...]`, of an argument), `[...]` makes an unknown name an
//! error, `{...}` groups text without evaluating it where braces are stripped, spaces are
//! compressed and trimmed, and every buffer is bounded at TinyMUX's 8,000 bytes.
//!
//! Limits keep hostile code from hurting anyone else: function invocations per command,
//! function nesting, a step budget (the CPU budget: a command that spends it stops with
//! `#-1 CPU LIMITED`, deterministically, whatever the machine's speed), and output length.

use std::collections::HashMap;
use std::rc::Rc;

use crate::ast::{Call, Node, parse};
use crate::functions::{self, Func};
use crate::world::{Dbref, Miss, NOTHING, World};

/// Largest buffer TinyMUX builds (LBUF_SIZE - 1 bytes).
pub const LBUF: usize = 7999;

/// Evaluation flags (TinyMUX's `EV_*`).
pub mod ev {
    /// Substitutions and brackets are evaluated.
    pub const EVAL: u32 = 1;
    /// A function call may start this region.
    pub const FCHECK: u32 = 2;
    /// A name before `(` must be a function (inside `[...]`).
    pub const FMAND: u32 = 4;
    /// Outer braces are removed.
    pub const STRIP_CURLY: u32 = 8;
    /// Spaces are kept as written.
    pub const NO_COMPRESS: u32 = 16;
    /// Brackets are text (the first pass over a deferred argument).
    pub const NOFCHECK: u32 = 32;
    /// The top of a command.
    pub const TOP: u32 = 64;
}

/// Limits per command.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Function calls per command (Debian's TinyMUX: `function_invocation_limit` 25000).
    pub invocations: u32,
    /// Nested `u()` calls (Debian's TinyMUX: `function_recursion_limit` 500).
    pub nesting: u32,
    /// Evaluation steps per command, the CPU budget.
    pub steps: u64,
    /// Compress runs of spaces (TinyMUX `space_compress`).
    pub space_compress: bool,
    /// The master room, whose contents' `$`-commands everyone may use (TinyMUX
    /// `master_room`; Debian's database has it at #2).
    pub master_room: Dbref,
    /// `@pemit` and `pemit()` reach players anywhere (TinyMUX `pemit_far_players`; its
    /// default is off, Debian's `compat.conf` turns it on). A far player's page lock still
    /// applies in TinyMUX; that check is not modelled here.
    pub pemit_far_players: bool,
    /// `@pemit`, `pemit()` and `@remit` reach any object anywhere (TinyMUX
    /// `pemit_any_object`; off by default, on in Debian's `compat.conf`). `@oemit` is never
    /// widened by it: its target must be nearby or controlled.
    pub pemit_any_object: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            invocations: 25_000,
            nesting: 500,
            steps: 2_000_000,
            space_compress: true,
            master_room: 2,
            pemit_far_players: true,
            pemit_any_object: true,
        }
    }
}

/// Who is running what, with which arguments.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// The object whose code runs (`%!`, `me`).
    pub executor: Dbref,
    /// The object that called it (`%@`).
    pub caller: Dbref,
    /// The object that caused it (`%#`, `%N`).
    pub enactor: Dbref,
    /// `%0`-`%9`.
    pub args: &'a [String],
}

/// Output softcode sends while it runs (`pemit()`, `@pemit`, `@remit`, ...).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Emit {
    /// To one object.
    To(Dbref, String),
    /// To everything in a room except some.
    Room {
        /// The room.
        room: Dbref,
        /// Not these.
        except: Vec<Dbref>,
        /// The text.
        text: String,
    },
    /// Close every connection of a player (`@boot`), telling it `text` first.
    Boot {
        /// The player.
        player: Dbref,
        /// What it is told, if anything.
        text: Option<String>,
    },
}

/// Registers `%q0`-`%q9`, `%qa`-`%qz` and named ones, shared by a whole command.
#[derive(Clone, Debug, Default)]
pub struct Registers(pub HashMap<String, String>);

impl Registers {
    /// A register's value (empty when unset).
    pub fn get(&self, name: &str) -> &str {
        self.0
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
            .unwrap_or("")
    }

    /// Every register, sorted by name (a queued job carries them).
    pub fn sorted(&self) -> Vec<(String, String)> {
        let mut regs: Vec<(String, String)> =
            self.0.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        regs.sort();
        regs
    }

    /// Sets a register.
    pub fn set(&mut self, name: &str, value: String) {
        let name = name.to_ascii_lowercase();
        if value.is_empty() {
            self.0.remove(&name);
        } else {
            self.0.insert(name, value);
        }
    }
}

/// Result of evaluation: `Err` means the world must fetch something first.
pub type R<T = ()> = Result<T, Miss>;

/// Stack left below which evaluation moves to a new stack segment.
const STACK_RED_ZONE: usize = 128 * 1024;
/// Size of each new stack segment.
const STACK_GROWTH: usize = 2 * 1024 * 1024;

/// Messages one command may send (`pemit()` in a loop): 1,000 of at most 8 KB each.
pub const MAX_EMITS: usize = 1000;

/// How many parsed expressions an evaluator keeps.
const PARSE_CACHE: usize = 512;

/// One command's evaluation state.
pub struct Eval<'w> {
    /// The world, read and written through its trait.
    pub world: &'w mut dyn World,
    /// Limits.
    pub limits: Limits,
    /// Registers.
    pub regs: Registers,
    /// Output sent by softcode, in order.
    pub emits: Vec<Emit>,
    /// What the command asked of the queue, applied when it has finished.
    pub queue: Vec<crate::queue::QueueOp>,
    /// `@break`/`@assert` stopped the rest of the action list.
    pub broke: bool,
    /// The command was typed by a player rather than run from the queue (TinyMUX leaves
    /// some typed arguments, such as `@trigger`'s and `&`'s values, unevaluated). True
    /// unless [`crate::command::run_list`] runs a queued action list.
    pub interactive: bool,
    invocations: u32,
    nesting: u32,
    steps: u64,
    /// True once the step budget ran out; everything after evaluates to nothing.
    pub cpu_exceeded: bool,
    /// True once the function invocation limit was passed; evaluation stops as for the CPU
    /// budget and the command answers with the limit's message.
    invocations_exceeded: bool,
    /// Nested `u()`-style calls (TinyMUX's recursion limit counts these).
    ufun_depth: u32,
    /// `iter()` and friends: (item, position).
    pub(crate) loops: Vec<(String, i64)>,
    /// `switch()`'s value for `#$`.
    pub(crate) switch_tokens: Vec<String>,
    /// Set when a mandatory function lookup failed: the rest of the region is dropped.
    fmand_abort: bool,
    parsed: HashMap<Box<str>, Rc<Node>>,
    /// The command being run, for `%m`.
    pub command: String,
    /// The `@attribute` definitions, read at most once per evaluation (see
    /// [`crate::attrdef::registry`]).
    pub(crate) attr_defs: Option<Rc<crate::attrdef::Registry>>,
}

/// Appends to a bounded buffer.
pub fn push(buf: &mut String, text: &str) {
    if buf.len() >= LBUF {
        return;
    }
    let room = LBUF - buf.len();
    if text.len() <= room {
        buf.push_str(text);
    } else {
        let mut cut = room;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        buf.push_str(&text[..cut]);
    }
}

/// Appends one character to a bounded buffer.
pub fn push_char(buf: &mut String, c: char) {
    if buf.len() + c.len_utf8() <= LBUF {
        buf.push(c);
    }
}

impl<'w> Eval<'w> {
    /// A fresh evaluation for one command.
    pub fn new(world: &'w mut dyn World, limits: Limits) -> Self {
        Self {
            world,
            limits,
            regs: Registers::default(),
            emits: Vec::new(),
            queue: Vec::new(),
            broke: false,
            interactive: true,
            invocations: 0,
            nesting: 0,
            steps: 0,
            cpu_exceeded: false,
            invocations_exceeded: false,
            ufun_depth: 0,
            loops: Vec::new(),
            switch_tokens: Vec::new(),
            fmand_abort: false,
            parsed: HashMap::new(),
            command: String::new(),
            attr_defs: None,
        }
    }

    /// Function invocations so far.
    pub fn invocations(&self) -> u32 {
        self.invocations
    }

    /// Steps spent so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    fn tree(&mut self, text: &str) -> Rc<Node> {
        if let Some(node) = self.parsed.get(text) {
            return node.clone();
        }
        let node = Rc::new(parse(text));
        if self.parsed.len() >= PARSE_CACHE {
            self.parsed.clear();
        }
        self.parsed.insert(text.into(), node.clone());
        node
    }

    /// Evaluates text with the given flags, appending to `out`.
    pub fn eval_into(&mut self, frame: &Frame<'_>, text: &str, flags: u32, out: &mut String) -> R {
        if text.is_empty() || self.cpu_exceeded {
            return Ok(());
        }
        let tree = self.tree(text);
        self.node(frame, &tree, flags, out)
    }

    /// Evaluates text as a command argument is (`think`, `@pemit`): functions, brackets and
    /// substitutions.
    pub fn eval_top(&mut self, frame: &Frame<'_>, text: &str) -> R<String> {
        // Queued commands' arguments lose their braces as they are evaluated (TinyMUX
        // evaluates them with EV_STRIP_CURLY); typed ones keep them.
        let strip = if self.interactive { 0 } else { ev::STRIP_CURLY };
        self.eval_flags(frame, text, strip)
    }

    /// [`Eval::eval_top`] with braces removed as they are evaluated, typed or queued
    /// (`@switch`'s value, `@force`'s command).
    pub fn eval_stripped(&mut self, frame: &Frame<'_>, text: &str) -> R<String> {
        self.eval_flags(frame, text, ev::STRIP_CURLY)
    }

    fn eval_flags(&mut self, frame: &Frame<'_>, text: &str, extra: u32) -> R<String> {
        let mut out = String::new();
        self.eval_into(
            frame,
            text,
            ev::EVAL | ev::FCHECK | ev::TOP | extra,
            &mut out,
        )?;
        // Over the invocation limit, TinyMUX answers with the limit's message alone.
        if self.invocations_exceeded {
            return Ok("#-1 FUNCTION INVOCATION LIMIT EXCEEDED".into());
        }
        // Colour in its shortest form, and none at all around no text.
        Ok(crate::functions::strings::normalize_ansi(&out))
    }

    /// Evaluates a function argument (spaces trimmed, one brace layer stripped).
    pub fn eval_arg(&mut self, frame: &Frame<'_>, text: &str) -> R<String> {
        let mut out = String::new();
        if text.is_empty() || self.cpu_exceeded {
            return Ok(out);
        }
        let tree = self.tree(text);
        self.argument(
            frame,
            &tree,
            ev::EVAL | ev::FCHECK | ev::STRIP_CURLY,
            &mut out,
        )?;
        Ok(out)
    }

    /// Evaluates an attribute's text as `u()` does, with its own frame.
    pub fn eval_attr(&mut self, frame: &Frame<'_>, text: &str, out: &mut String) -> R {
        self.eval_into(frame, text, ev::EVAL | ev::FCHECK, out)
    }

    fn step(&mut self) -> bool {
        self.steps += 1;
        if self.steps > self.limits.steps {
            self.cpu_exceeded = true;
        }
        !self.cpu_exceeded
    }

    fn compress(&self, flags: u32) -> bool {
        self.limits.space_compress && flags & ev::NO_COMPRESS == 0
    }

    fn argument(&mut self, frame: &Frame<'_>, node: &Node, flags: u32, out: &mut String) -> R {
        if let Node::Seq(items) = node
            && !items.is_empty()
            && self.compress(flags)
        {
            let (first, last) = trimmed(items);
            return self.children(frame, &items[first..last], flags, out);
        }
        self.node(frame, node, flags, out)
    }

    fn children(&mut self, frame: &Frame<'_>, items: &[Node], flags: u32, out: &mut String) -> R {
        let mut armed = flags & ev::FCHECK != 0;
        for child in items {
            let child_flags = if armed && matches!(child, Node::Call(_)) {
                flags
            } else {
                flags & !ev::FCHECK
            };
            self.node(frame, child, child_flags, out)?;
            if flags & ev::FMAND != 0 && self.fmand_abort {
                self.fmand_abort = false;
                break;
            }
            if armed && !matches!(child, Node::Space(_)) {
                armed = false;
            }
        }
        Ok(())
    }

    fn node(&mut self, frame: &Frame<'_>, node: &Node, flags: u32, out: &mut String) -> R {
        if !self.step() {
            return Ok(());
        }
        // Deep but legal code (500 nested calls) needs more stack than a thread has;
        // grow it on the heap when little is left rather than overflow.
        stacker::maybe_grow(STACK_RED_ZONE, STACK_GROWTH, || {
            self.node_inner(frame, node, flags, out)
        })
    }

    fn node_inner(&mut self, frame: &Frame<'_>, node: &Node, flags: u32, out: &mut String) -> R {
        match node {
            Node::Lit(text) => push(out, text),
            Node::Space(text) => {
                if self.compress(flags) {
                    push_char(out, ' ');
                } else {
                    push(out, text);
                }
            }
            Node::Semi => push_char(out, ';'),
            Node::Escape(c) => {
                if let Some(c) = c {
                    push_char(out, *c);
                }
            }
            Node::Subst(text) => {
                if flags & ev::EVAL != 0 {
                    self.subst(frame, text, out)?;
                } else {
                    push(out, text);
                }
            }
            Node::Call(call) => {
                if flags & ev::FCHECK != 0 {
                    self.call(frame, call, flags, out)?;
                } else {
                    self.literal_call(frame, call, flags, out)?;
                }
            }
            Node::Bracket(inner) => {
                if flags & ev::NOFCHECK != 0 {
                    push_char(out, '[');
                    push(out, &raw(inner));
                    push_char(out, ']');
                } else {
                    let saved = self.fmand_abort;
                    self.fmand_abort = false;
                    self.node(frame, inner, flags | ev::FCHECK | ev::FMAND, out)?;
                    self.fmand_abort = saved;
                }
            }
            Node::Brace(inner) => {
                if flags & ev::STRIP_CURLY != 0 {
                    let inner_flags = flags & !(ev::STRIP_CURLY | ev::FCHECK | ev::FMAND);
                    self.node(frame, inner, inner_flags, out)?;
                } else {
                    push_char(out, '{');
                    let mut inner_flags = flags & !(ev::TOP | ev::FMAND);
                    if flags & ev::EVAL != 0 {
                        inner_flags &= !(ev::STRIP_CURLY | ev::FCHECK);
                    } else {
                        inner_flags = (inner_flags & !ev::FCHECK) | ev::NOFCHECK;
                    }
                    self.node(frame, inner, inner_flags, out)?;
                    push_char(out, '}');
                }
            }
            Node::Seq(items) => {
                let (first, last) = if self.compress(flags) {
                    trimmed(items)
                } else {
                    (0, items.len())
                };
                self.children(frame, &items[first..last], flags, out)?;
            }
        }
        Ok(())
    }

    /// Calls a global user function: its arguments evaluated, its code run as `u()` runs
    /// an attribute, as the caller (or, privileged, as the object that holds it).
    fn user_call(
        &mut self,
        frame: &Frame<'_>,
        call: &Call,
        def: &crate::userfn::UserFn,
        out: &mut String,
    ) -> R {
        let mut args = Vec::with_capacity(call.args.len());
        for arg in &call.args {
            let mut value = String::new();
            self.argument(
                frame,
                arg,
                ev::EVAL | ev::FCHECK | ev::STRIP_CURLY,
                &mut value,
            )?;
            args.push(value);
        }
        self.invocations += 1;
        let Some(attr) = crate::functions::objects::inherited(self, def.object, &def.attr)? else {
            return Ok(());
        };
        let inner = Frame {
            executor: if def.privileged {
                def.object
            } else {
                frame.executor
            },
            caller: frame.executor,
            enactor: frame.enactor,
            args: &args,
        };
        let mut buf = String::new();
        if let Some(result) = self.in_ufun(out, |ev| ev.eval_attr(&inner, &attr.value, &mut buf)) {
            result?;
            push(out, &buf);
        }
        Ok(())
    }

    fn literal_call(&mut self, frame: &Frame<'_>, call: &Call, flags: u32, out: &mut String) -> R {
        push(out, &call.name);
        push_char(out, '(');
        let flags = flags & !ev::FCHECK;
        for (i, arg) in call.args.iter().enumerate() {
            if i > 0 {
                push_char(out, ',');
            }
            self.node(frame, arg, flags, out)?;
        }
        if call.closed {
            push_char(out, ')');
        }
        Ok(())
    }

    fn call(&mut self, frame: &Frame<'_>, call: &Call, flags: u32, out: &mut String) -> R {
        if !call.closed {
            push(out, &call.name);
            push_char(out, '(');
            for (i, arg) in call.args.iter().enumerate() {
                if i > 0 {
                    push_char(out, ',');
                }
                self.node(frame, arg, flags, out)?;
            }
            return Ok(());
        }
        let name = &*call.upper;
        let Some(func) = functions::lookup(name) else {
            if let Some(def) = crate::userfn::lookup(self, name)? {
                return self.user_call(frame, call, &def, out);
            }
            if flags & ev::FMAND != 0 {
                push(out, "#-1 FUNCTION (");
                push(out, name);
                push(out, ") NOT FOUND");
                self.fmand_abort = true;
            } else {
                self.literal_call(frame, call, flags, out)?;
            }
            return Ok(());
        };
        self.nesting += 1;
        self.invocations += 1;
        let result = self.dispatch(frame, call, func, flags, out);
        self.nesting -= 1;
        result
    }

    fn dispatch(
        &mut self,
        frame: &Frame<'_>,
        call: &Call,
        func: &Func,
        flags: u32,
        out: &mut String,
    ) -> R {
        if self.limits.invocations <= self.invocations {
            self.invocations_exceeded = true;
            self.cpu_exceeded = true;
            push(out, "#-1 FUNCTION INVOCATION LIMIT EXCEEDED");
            return Ok(());
        }
        if self.cpu_exceeded {
            push(out, "#-1 CPU LIMITED");
            return Ok(());
        }
        let parsed = call.args.len();
        let mut n = parsed;
        // A one-argument function takes any commas as part of its argument, as TinyMUX's
        // parser does (`strlen(a,b)` is 3).
        let max_parsed = if func.max == 1 && func.max_parsed == 0 {
            1
        } else {
            func.max_parsed
        };
        if max_parsed > 0 && n > max_parsed {
            n = max_parsed;
        }
        if n < func.min || n > func.max {
            let message = if func.min == func.max {
                format!(
                    "#-1 FUNCTION ({}) EXPECTS {} ARGUMENTS",
                    func.name, func.min
                )
            } else if func.min + 1 == func.max {
                format!(
                    "#-1 FUNCTION ({}) EXPECTS {} OR {} ARGUMENTS",
                    func.name, func.min, func.max
                )
            } else {
                format!(
                    "#-1 FUNCTION ({}) EXPECTS BETWEEN {} AND {} ARGUMENTS",
                    func.name, func.min, func.max
                )
            };
            push(out, &message);
            return Ok(());
        }
        let mut args: Vec<String> = Vec::with_capacity(n);
        if func.noeval {
            for i in 0..n {
                if i + 1 < n || parsed <= n {
                    args.push(call.raw[i].to_string());
                } else {
                    args.push(call.raw[i..].join(","));
                }
            }
        } else {
            // TinyMUX 2.12 keeps the braces of an evaluated function's arguments
            // (`first({a b})` is `{a`); only functions that evaluate their own arguments strip
            // one layer.
            let arg_flags =
                (flags & !(ev::TOP | ev::FMAND | ev::STRIP_CURLY)) | ev::FCHECK | ev::EVAL;
            for i in 0..n {
                let mut buf = String::new();
                if i + 1 < n || parsed <= n {
                    self.argument(frame, &call.args[i], arg_flags, &mut buf)?;
                } else {
                    for j in i..parsed {
                        if j > i {
                            push_char(&mut buf, ',');
                        }
                        self.argument(frame, &call.args[j], arg_flags, &mut buf)?;
                    }
                }
                args.push(buf);
            }
        }
        if self.cpu_exceeded {
            push(out, "#-1 CPU LIMITED");
            return Ok(());
        }
        let mut result = String::new();
        (func.run)(self, frame, &args, &mut result)?;
        push(out, &result);
        // Output sent by softcode is bounded per command like everything else it makes.
        if self.emits.len() > MAX_EMITS {
            self.emits.truncate(MAX_EMITS);
            self.cpu_exceeded = true;
        }
        Ok(())
    }

    pub(crate) fn subst(&mut self, frame: &Frame<'_>, text: &str, out: &mut String) -> R {
        let mut chars = text.chars();
        let first = chars.next().unwrap_or('%');
        let Some(code) = chars.next() else {
            // A lone '%' at the end of the text is dropped, as TinyMUX drops it.
            return Ok(());
        };
        if first == '#' {
            // TinyMUX 2.12 replaces these in the text of a loop or switch body before it is
            // evaluated, so the outermost loop's item wins in nested loops and, outside
            // any loop, they are plain text.
            let value = match code {
                '#' => self.loops.first().map(|(item, _)| item.clone()),
                '@' => self.loops.first().map(|(_, n)| n.to_string()),
                _ => self.switch_tokens.first().cloned(),
            };
            match value {
                Some(value) => push(out, &value),
                None => push(out, text),
            }
            return Ok(());
        }
        let rest: &str = &text[1 + code.len_utf8()..];
        let start = out.len();
        let upper_first = matches!(code, 'A' | 'M' | 'N' | 'O' | 'P' | 'Q' | 'S' | 'V');
        match code.to_ascii_uppercase() {
            d @ '0'..='9' => {
                let i = d as usize - '0' as usize;
                if let Some(arg) = frame.args.get(i) {
                    push(out, arg);
                }
                return Ok(());
            }
            'Q' => {
                if let Some(name) = rest.strip_prefix('<') {
                    match name.strip_suffix('>') {
                        Some(name) => {
                            let value = self.regs.get(name).to_string();
                            push(out, &value);
                        }
                        None => push(out, text),
                    }
                } else if let Some(c) = rest.chars().next()
                    && c.is_ascii_alphanumeric()
                {
                    let value = self.regs.get(&c.to_string()).to_string();
                    push(out, &value);
                }
            }
            '#' => push(out, &dbref(frame.enactor)),
            '!' => push(out, &dbref(frame.executor)),
            '@' => push(out, &dbref(frame.caller)),
            '%' => push_char(out, '%'),
            'R' => push(out, "\r\n"),
            'B' => push_char(out, ' '),
            'T' => push_char(out, '\t'),
            'N' => {
                let name = self.name_of(frame.enactor)?;
                push(out, &name);
            }
            'K' => {
                let name = self.name_of(frame.enactor)?;
                push(out, &name);
            }
            'L' => {
                let loc = self.location_of(frame.enactor)?;
                push(out, &dbref(loc));
            }
            'S' | 'O' | 'P' | 'A' => {
                let word = self.pronoun(frame.enactor, code.to_ascii_uppercase())?;
                push(out, &word);
            }
            'M' => {
                let command = self.command.clone();
                push(out, &command);
            }
            '+' => push(out, &frame.args.len().to_string()),
            ':' => push(out, &dbref(frame.enactor)),
            // Piped output (`%|`) exists only inside command pipes, which are not here.
            '|' => {}
            'V' => {
                if let Some(c) = rest.chars().next()
                    && c.is_ascii_alphabetic()
                {
                    let name = format!("V{}", c.to_ascii_uppercase());
                    if let Some(attr) =
                        crate::functions::objects::inherited(self, frame.executor, &name)?
                    {
                        push(out, &attr.value);
                    }
                }
            }
            'I' => {
                if let Some(c) = rest.chars().next() {
                    if let Some(depth) = c.to_digit(10) {
                        let depth = depth as usize;
                        if depth < self.loops.len() {
                            let item = self.loops[self.loops.len() - 1 - depth].0.clone();
                            push(out, &item);
                        }
                    } else {
                        push_char(out, c);
                    }
                }
            }
            'X' | 'C' => {
                if let Some(c) = rest.chars().next() {
                    match crate::functions::strings::ansi_code(c) {
                        Some(code) => push(out, code),
                        None if c == '<' => push(out, text),
                        None => push_char(out, c),
                    }
                }
            }
            '=' => {
                if let Some(name) = rest.strip_prefix('<').and_then(|r| r.strip_suffix('>')) {
                    if let Ok(i) = name.parse::<usize>() {
                        if let Some(arg) = frame.args.get(i) {
                            push(out, arg);
                        }
                    } else if let Some(attr) = crate::functions::objects::inherited(
                        self,
                        frame.executor,
                        &name.to_ascii_uppercase(),
                    )? {
                        push(out, &attr.value);
                    }
                }
            }
            _ => push_char(out, code),
        }
        if upper_first && out.len() > start {
            let head = out[start..].chars().next().unwrap_or(' ');
            if head.is_lowercase() {
                let upper: String = head.to_uppercase().collect();
                out.replace_range(start..start + head.len_utf8(), &upper);
            }
        }
        Ok(())
    }

    /// An object's name, or empty when there is no such object.
    pub fn name_of(&mut self, id: Dbref) -> R<String> {
        Ok(match self.world.object(id)? {
            Some(o) => o.name.clone(),
            None => String::new(),
        })
    }

    fn location_of(&mut self, id: Dbref) -> R<Dbref> {
        Ok(self
            .world
            .object(id)?
            .map(|o| o.location)
            .unwrap_or(NOTHING))
    }

    fn pronoun(&mut self, id: Dbref, which: char) -> R<String> {
        let sex = crate::functions::objects::inherited(self, id, "SEX")?
            .map(|a| a.value.to_ascii_lowercase())
            .unwrap_or_default();
        let set: [&str; 4] = match sex.chars().next() {
            Some('m') => ["he", "him", "his", "his"],
            Some('f') | Some('w') => ["she", "her", "her", "hers"],
            Some('p') => ["they", "them", "their", "theirs"],
            _ => ["it", "it", "its", "its"],
        };
        Ok(match which {
            'S' => set[0],
            'O' => set[1],
            'P' => set[2],
            _ => set[3],
        }
        .to_string())
    }

    /// Runs `f` one `u()` level deeper, or returns `None` (having written TinyMUX's
    /// message) when that would pass the recursion limit.
    pub fn in_ufun<T>(&mut self, out: &mut String, f: impl FnOnce(&mut Self) -> T) -> Option<T> {
        if self.ufun_depth >= self.limits.nesting {
            push(out, "#-1 FUNCTION RECURSION LIMIT EXCEEDED");
            return None;
        }
        self.ufun_depth += 1;
        let result = f(self);
        self.ufun_depth -= 1;
        Some(result)
    }

    /// Nested function calls in progress (`fdepth()`).
    pub fn depth(&self) -> u32 {
        self.nesting
    }

    /// Runs `f` with one more loop level (`##`, `#@`, `%i0`).
    pub fn in_loop<T>(&mut self, item: String, n: i64, f: impl FnOnce(&mut Self) -> T) -> T {
        self.loops.push((item, n));
        let result = f(self);
        self.loops.pop();
        result
    }
}

/// `#<n>`.
pub fn dbref(id: Dbref) -> String {
    format!("#{id}")
}

fn trimmed(items: &[Node]) -> (usize, usize) {
    let mut first = 0;
    let mut last = items.len();
    while first < last && matches!(items[first], Node::Space(_)) {
        first += 1;
    }
    while last > first && matches!(items[last - 1], Node::Space(_)) {
        last -= 1;
    }
    (first, last)
}

/// The text a node was parsed from (for brackets shown literally).
fn raw(node: &Node) -> String {
    let mut out = String::new();
    raw_into(node, &mut out);
    out
}

fn raw_into(node: &Node, out: &mut String) {
    match node {
        Node::Lit(t) | Node::Space(t) | Node::Subst(t) => out.push_str(t),
        Node::Escape(c) => {
            out.push('\\');
            if let Some(c) = c {
                out.push(*c);
            }
        }
        Node::Semi => out.push(';'),
        Node::Call(call) => {
            out.push_str(&call.name);
            out.push('(');
            out.push_str(&call.raw.join(","));
            if call.closed {
                out.push(')');
            }
        }
        Node::Bracket(inner) => {
            out.push('[');
            raw_into(inner, out);
            out.push(']');
        }
        Node::Brace(inner) => {
            out.push('{');
            raw_into(inner, out);
            out.push('}');
        }
        Node::Seq(items) => items.iter().for_each(|n| raw_into(n, out)),
    }
}
