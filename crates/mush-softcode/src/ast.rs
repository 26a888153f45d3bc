//! Softcode text to a tree, following TinyMUX's tokenizer: a run of plain characters
//! immediately followed by `(` is a function name; `[`, `{`, `(`, `,`, `;`, `%`, `\` and
//! spaces are structure; `##`, `#@` and `#$` are loop and switch substitutions.
//!
//! Parsing is pure and the tree does not depend on who evaluates it, so trees are cached
//! by text (an attribute called a thousand times is parsed once).

/// One node of a parsed expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// Plain text.
    Lit(Box<str>),
    /// A run of spaces (compressed to one space when evaluated).
    Space(Box<str>),
    /// A `%` substitution or `##`/`#@`/`#$`, with its text.
    Subst(Box<str>),
    /// `\x`: the character after the backslash (none at the end of the text).
    Escape(Option<char>),
    /// `;` (commands split on it before evaluation; inside an expression it is text).
    Semi,
    /// `name(args)`.
    Call(Call),
    /// `[...]`: evaluated with function checking.
    Bracket(Box<Node>),
    /// `{...}`: grouped; not evaluated when stripped.
    Brace(Box<Node>),
    /// Several nodes in a row.
    Seq(Vec<Node>),
}

/// A function call as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The name as written (case kept for literal output).
    pub name: Box<str>,
    /// The name upper-cased once at parse time, for the function table.
    pub upper: Box<str>,
    /// The arguments, parsed.
    pub args: Vec<Node>,
    /// The arguments as raw text, for functions that evaluate them themselves.
    pub raw: Vec<Box<str>>,
    /// False when the closing `)` is missing: then it is not a call but text.
    pub closed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Lit,
    Func,
    Pct,
    Esc,
    LBrack,
    RBrack,
    LBrace,
    RBrace,
    LParen,
    RParen,
    Comma,
    Semi,
    Space,
}

fn is_plain(c: char) -> bool {
    !matches!(
        c,
        '[' | ']' | '{' | '}' | '(' | ')' | ',' | ';' | '%' | '\\' | ' ' | '\0' | '#'
    )
}

/// Splits text into tokens as `(kind, start, end)` byte ranges.
fn lex(text: &str) -> Vec<(Tok, usize, usize)> {
    let bytes = text.as_bytes();
    let mut out: Vec<(Tok, usize, usize)> = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        let tok = match c {
            '%' => {
                // %q<name>, %c<color>, %x<color>, %=<attr>; else % plus one character.
                let mut end = start + 1;
                if let Some(&(_, n)) = chars.peek() {
                    chars.next();
                    end += n.len_utf8();
                    let angled = matches!(n, 'q' | 'Q' | 'c' | 'C' | 'x' | 'X' | '=');
                    if angled && bytes.get(end) == Some(&b'<') {
                        chars.next();
                        end += 1;
                        while let Some(&(i, a)) = chars.peek() {
                            if matches!(a, '}' | ')' | ']' | '[' | '{' | ',' | '\0') {
                                break;
                            }
                            chars.next();
                            end = i + a.len_utf8();
                            if a == '>' {
                                break;
                            }
                        }
                    } else if matches!(n, 'v' | 'V' | 'i' | 'I' | 'q' | 'Q' | 'c' | 'C' | 'x' | 'X')
                    {
                        let take = match n {
                            'v' | 'V' => {
                                chars.peek().is_some_and(|&(_, a)| a.is_ascii_alphabetic())
                            }
                            'i' | 'I' => chars.peek().is_some_and(|&(_, a)| a.is_ascii_digit()),
                            _ => chars.peek().is_some(),
                        };
                        if take && let Some((i, a)) = chars.next() {
                            end = i + a.len_utf8();
                        }
                    }
                }
                out.push((Tok::Pct, start, end));
                continue;
            }
            '#' => {
                match chars.peek() {
                    Some(&(i, '#' | '@' | '$')) => {
                        chars.next();
                        out.push((Tok::Pct, start, i + 1));
                        continue;
                    }
                    Some(&(_, n)) if is_plain(n) => {
                        // '#' followed by plain text: part of a literal run.
                        let end = literal_run(text, &mut chars, start + 1);
                        push_lit(&mut out, start, end);
                        continue;
                    }
                    _ => {
                        push_lit(&mut out, start, start + 1);
                        continue;
                    }
                }
            }
            '\\' => {
                let end = match chars.next() {
                    Some((i, n)) => i + n.len_utf8(),
                    None => start + 1,
                };
                out.push((Tok::Esc, start, end));
                continue;
            }
            '[' => Tok::LBrack,
            ']' => Tok::RBrack,
            '{' => Tok::LBrace,
            '}' => Tok::RBrace,
            '(' => {
                if let Some(last) = out.last_mut()
                    && last.0 == Tok::Lit
                {
                    last.0 = Tok::Func;
                }
                Tok::LParen
            }
            ')' => Tok::RParen,
            ',' => Tok::Comma,
            ';' => Tok::Semi,
            ' ' => {
                let mut end = start + 1;
                while let Some(&(i, ' ')) = chars.peek() {
                    chars.next();
                    end = i + 1;
                }
                out.push((Tok::Space, start, end));
                continue;
            }
            _ => {
                let end = literal_run(text, &mut chars, start + c.len_utf8());
                push_lit(&mut out, start, end);
                continue;
            }
        };
        out.push((tok, start, start + c.len_utf8()));
    }
    out
}

/// Extends a literal run from `end`: plain characters, and `#` when plain text (not `@`
/// or `$`, which make `#@`/`#$` tokens) follows it. Returns where the run ends.
fn literal_run(
    text: &str,
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
    mut end: usize,
) -> usize {
    while let Some(&(i, n)) = chars.peek() {
        let continues = is_plain(n)
            || (n == '#'
                && text[i + 1..]
                    .chars()
                    .next()
                    .is_some_and(|a| is_plain(a) && a != '@' && a != '$'));
        if !continues {
            break;
        }
        chars.next();
        end = i + n.len_utf8();
    }
    end
}

/// Literal runs next to each other (a '#' run beside a plain run) form one name.
fn push_lit(out: &mut Vec<(Tok, usize, usize)>, start: usize, end: usize) {
    if let Some(last) = out.last_mut()
        && last.0 == Tok::Lit
        && last.2 == start
    {
        last.2 = end;
        return;
    }
    out.push((Tok::Lit, start, end));
}

/// Deepest nesting of brackets, braces and calls the parser follows; deeper text is cut
/// (TinyMUX bounds its parser the same way) so hostile input cannot exhaust the stack.
pub const MAX_PARSE_DEPTH: usize = 200;

struct Parser<'a> {
    text: &'a str,
    toks: Vec<(Tok, usize, usize)>,
    pos: usize,
    brackets: usize,
    braces: usize,
    depth: usize,
    /// Openers (`[` or `{`, by token index) that have no closer and so are text. Found by
    /// one pass up front, and extended when a parse finds an opener unclosed, so no opener
    /// is ever tried twice: parsing stays linear-ish even for `[[[[...` without closers.
    unclosed: std::collections::HashSet<usize>,
}

/// Openers without a matching closer, by a stack pass over the tokens.
fn unclosed(toks: &[(Tok, usize, usize)]) -> std::collections::HashSet<usize> {
    let mut out = std::collections::HashSet::new();
    for (open, close) in [(Tok::LBrack, Tok::RBrack), (Tok::LBrace, Tok::RBrace)] {
        let mut stack = Vec::new();
        for (i, t) in toks.iter().enumerate() {
            if t.0 == open {
                stack.push(i);
            } else if t.0 == close {
                stack.pop();
            }
        }
        out.extend(stack);
    }
    out
}

/// Parses softcode text.
pub fn parse(text: &str) -> Node {
    let toks = lex(text);
    let mut parser = Parser {
        text,
        unclosed: unclosed(&toks),
        toks,
        pos: 0,
        brackets: 0,
        braces: 0,
        depth: 0,
    };
    let mut node = parser.sequence(false, false, false, false);
    // Stray closers at the top level are text; keep going until all input is consumed.
    while parser.pos < parser.toks.len() {
        let rest = parser.sequence(false, false, false, false);
        let tok = parser.toks.get(parser.pos).copied();
        let mut items = match node {
            Node::Seq(items) => items,
            other => vec![other],
        };
        match rest {
            Node::Seq(more) => items.extend(more),
            other => items.push(other),
        }
        if let Some((_, s, e)) = tok {
            items.push(Node::Lit(text[s..e].into()));
            parser.pos += 1;
        }
        node = Node::Seq(items);
    }
    node
}

impl Parser<'_> {
    fn peek(&self) -> Option<Tok> {
        self.toks.get(self.pos).map(|t| t.0)
    }

    fn slice(&self, i: usize) -> &str {
        let (_, s, e) = self.toks[i];
        &self.text[s..e]
    }

    fn sequence(&mut self, stop_rp: bool, stop_rb: bool, stop_rc: bool, stop_cm: bool) -> Node {
        let mut items = Vec::new();
        if self.depth >= MAX_PARSE_DEPTH {
            // Swallow the rest of this region as nothing.
            while let Some(t) = self.peek() {
                if (stop_rp && t == Tok::RParen)
                    || (stop_rb && t == Tok::RBrack)
                    || (stop_rc && t == Tok::RBrace)
                    || (stop_cm && t == Tok::Comma)
                {
                    break;
                }
                self.pos += 1;
            }
            return Node::Seq(items);
        }
        self.depth += 1;
        let mut parens = 0usize;
        while let Some(t) = self.peek() {
            if stop_rp && t == Tok::RParen && parens == 0 {
                break;
            }
            if stop_rb && t == Tok::RBrack {
                break;
            }
            if stop_rc && t == Tok::RBrace {
                break;
            }
            if stop_cm && t == Tok::Comma && parens == 0 {
                break;
            }
            if !stop_rp && !stop_rb && !stop_rc && !stop_cm {
                // top level: closers are text
            }
            match t {
                Tok::LParen => parens += 1,
                Tok::RParen if parens > 0 => parens -= 1,
                _ => {}
            }
            if let Some(node) = self.one() {
                items.push(node);
            }
        }
        self.depth -= 1;
        // One node stands for itself, except a lone space: a sequence trims it.
        if items.len() == 1 && !matches!(items[0], Node::Space(_)) {
            items.pop().unwrap_or(Node::Seq(Vec::new()))
        } else {
            Node::Seq(items)
        }
    }

    fn one(&mut self) -> Option<Node> {
        let i = self.pos;
        let t = self.peek()?;
        let text = self.slice(i);
        let node = match t {
            Tok::Lit => Node::Lit(text.into()),
            Tok::Space => Node::Space(text.into()),
            Tok::Pct => Node::Subst(text.into()),
            Tok::Esc => Node::Escape(text[1..].chars().next()),
            Tok::Semi => Node::Semi,
            Tok::Func => return Some(self.call()),
            Tok::LBrack => return Some(self.bracket()),
            Tok::LBrace => return Some(self.brace()),
            Tok::RParen | Tok::RBrack | Tok::RBrace | Tok::Comma | Tok::LParen => {
                Node::Lit(text.into())
            }
        };
        self.pos += 1;
        Some(node)
    }

    fn call(&mut self) -> Node {
        let name: Box<str> = self.slice(self.pos).into();
        self.pos += 1; // name
        self.pos += 1; // '('
        let mut call = Call {
            upper: name.to_ascii_uppercase().into(),
            name,
            args: Vec::new(),
            raw: Vec::new(),
            closed: false,
        };
        if self.peek() == Some(Tok::RParen) {
            self.pos += 1;
            call.closed = true;
            return Node::Call(call);
        }
        let in_bracket = self.brackets > 0;
        let in_brace = self.braces > 0;
        loop {
            let start = self.pos;
            let arg = self.sequence(true, in_bracket, in_brace, true);
            call.raw.push(self.raw(start, self.pos).into());
            call.args.push(arg);
            if self.peek() == Some(Tok::Comma) {
                self.pos += 1;
                continue;
            }
            break;
        }
        if self.peek() == Some(Tok::RParen) {
            self.pos += 1;
            call.closed = true;
        }
        Node::Call(call)
    }

    fn raw(&self, from: usize, to: usize) -> &str {
        if from >= to {
            return "";
        }
        let s = self.toks[from].1;
        let e = self.toks[to - 1].2;
        &self.text[s..e]
    }

    fn bracket(&mut self) -> Node {
        self.group(true)
    }

    fn brace(&mut self) -> Node {
        self.group(false)
    }

    /// `[...]` (`bracket`) or `{...}`. Without its closer the opener is text and what
    /// follows is parsed as if it were not there.
    fn group(&mut self, bracket: bool) -> Node {
        let (opener, closer) = if bracket {
            ("[", Tok::RBrack)
        } else {
            ("{", Tok::RBrace)
        };
        let open = self.pos;
        self.pos += 1;
        if self.unclosed.contains(&open) {
            return Node::Lit(opener.into());
        }
        let depth = if bracket {
            &mut self.brackets
        } else {
            &mut self.braces
        };
        *depth += 1;
        let inner = self.sequence(false, bracket, !bracket, false);
        if bracket {
            self.brackets -= 1;
        } else {
            self.braces -= 1;
        }
        if self.peek() == Some(closer) {
            self.pos += 1;
            let inner = Box::new(inner);
            return if bracket {
                Node::Bracket(inner)
            } else {
                Node::Brace(inner)
            };
        }
        self.unclosed.insert(open);
        self.pos = open + 1;
        Node::Lit(opener.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_before_a_paren_is_a_call() {
        let Node::Call(call) = parse("add(1,2)") else {
            panic!("not a call");
        };
        assert_eq!(&*call.name, "add");
        assert_eq!(call.args.len(), 2);
        assert!(call.closed);
        assert_eq!(call.raw, vec!["1".into(), "2".into()] as Vec<Box<str>>);
    }

    #[test]
    fn a_space_before_the_paren_makes_text() {
        assert!(matches!(parse("add (1)"), Node::Seq(_)));
    }

    #[test]
    fn hash_tokens() {
        assert_eq!(
            parse("##"),
            Node::Subst("##".into()),
            "## is a loop substitution"
        );
        assert_eq!(parse("#12"), Node::Lit("#12".into()));
    }

    #[test]
    fn stray_closers_at_the_top_are_text() {
        let Node::Seq(items) = parse("a)b]c}") else {
            panic!("not a sequence");
        };
        let text: String = items
            .iter()
            .map(|n| match n {
                Node::Lit(t) => t.to_string(),
                _ => String::new(),
            })
            .collect();
        assert_eq!(text, "a)b]c}");
    }

    #[test]
    fn deep_nesting_is_cut_not_overflowed() {
        let text = "[".repeat(100_000);
        let _ = parse(&text);
        let text = "a(".repeat(100_000);
        let _ = parse(&text);
    }
}
