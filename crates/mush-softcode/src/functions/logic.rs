//! Truth and choice: `and`, `or`, `if`, `switch`, ...
//!
//! TinyMUX has two truths: `and()`, `or()`, `xor()`, `cand()`, `cor()`, `land()` and
//! `lor()` read each argument as an integer (`and(#1,1)` is 0), while `t()`, `not()`,
//! `if()`, `andbool()` and the other `bool` forms use [`truthy`] (`t(#1)` is 1).

use super::{
    Func, MAX_ARGS, Run, bool_str, f, is_number, isep, items, joined, lazy, strict, to_f64,
};
use super::{to_i64, truthy};
use crate::eval::{Eval, Frame, R, push};
use crate::wild;

/// A function that evaluates its own arguments and takes commas beyond its last argument
/// as text.
const fn lazy_joined(name: &'static str, min: usize, max: usize, run: Run) -> Func {
    Func {
        name,
        min,
        max,
        max_parsed: max,
        noeval: true,
        run,
    }
}

/// The logic family.
pub const FUNCS: &[Func] = &[
    joined("AND", 0, MAX_ARGS, and),
    joined("OR", 0, MAX_ARGS, or),
    joined("XOR", 0, MAX_ARGS, xor),
    strict("NOT", 1, 1, not),
    f("T", 0, 1, t),
    strict("NULL", 1, 1, null),
    joined("ANDBOOL", 0, MAX_ARGS, andbool),
    joined("ORBOOL", 0, MAX_ARGS, orbool),
    lazy_joined("CAND", 0, MAX_ARGS, cand),
    lazy_joined("COR", 0, MAX_ARGS, cor),
    lazy_joined("CANDBOOL", 0, MAX_ARGS, candbool),
    lazy_joined("CORBOOL", 0, MAX_ARGS, corbool),
    strict("LAND", 0, 2, land),
    strict("LOR", 0, 2, lor),
    lazy("IF", 2, 3, ifelse),
    lazy("IFELSE", 3, 3, ifelse),
    // TinyMUX's alias of `ifelse`, reporting errors under that name.
    lazy_joined("NONZERO", 0, MAX_ARGS, nonzero),
    lazy_joined("SWITCH", 2, MAX_ARGS, switch),
    lazy_joined("CASE", 2, MAX_ARGS, case),
];

type Args<'a> = &'a [String];
type Out<'a> = &'a mut String;

/// TinyMUX's integer truth: the leading integer is non-zero.
fn int_true(text: &str) -> bool {
    to_i64(text) != 0
}

fn and(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, bool_str(args.iter().all(|a| int_true(a))));
    Ok(())
}

fn or(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, bool_str(args.iter().any(|a| int_true(a))));
    Ok(())
}

/// `xor()`: odd count of true arguments; TinyMUX keeps only the low 32 bits of each.
fn xor(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let n = args.iter().filter(|a| to_i64(a) as i32 != 0).count();
    push(out, bool_str(n % 2 == 1));
    Ok(())
}

fn not(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, bool_str(!truthy(&args[0])));
    Ok(())
}

fn t(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let value = args.first().is_some_and(|a| truthy(a));
    push(out, bool_str(value));
    Ok(())
}

fn null(_: &mut Eval<'_>, _: &Frame<'_>, _: Args<'_>, _: Out<'_>) -> R {
    Ok(())
}

fn andbool(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, bool_str(args.iter().all(|a| truthy(a))));
    Ok(())
}

fn orbool(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, bool_str(args.iter().any(|a| truthy(a))));
    Ok(())
}

/// Evaluates arguments in turn until one's truth is `stop`; the result is whether one was.
fn short_circuit(
    ev: &mut Eval<'_>,
    frame: &Frame<'_>,
    args: Args<'_>,
    truth: fn(&str) -> bool,
    stop: bool,
) -> R<bool> {
    for arg in args {
        if truth(&ev.eval_arg(frame, arg)?) == stop {
            return Ok(true);
        }
    }
    Ok(false)
}

fn cand(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let failed = short_circuit(ev, frame, args, int_true, false)?;
    push(out, bool_str(!failed));
    Ok(())
}

fn cor(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let found = short_circuit(ev, frame, args, int_true, true)?;
    push(out, bool_str(found));
    Ok(())
}

fn candbool(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let failed = short_circuit(ev, frame, args, truthy, false)?;
    push(out, bool_str(!failed));
    Ok(())
}

fn corbool(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let found = short_circuit(ev, frame, args, truthy, true)?;
    push(out, bool_str(found));
    Ok(())
}

/// `land()`/`lor()`: the integer truth of a list's words; an empty list is `all`.
fn list_truth(args: Args<'_>, all: bool, out: Out<'_>) -> R {
    let text = args.first().map_or("", String::as_str);
    let Some(sep) = isep(args, 1, out) else {
        return Ok(());
    };
    let list = items(text, &sep);
    let value = if all {
        list.iter().all(|w| int_true(w))
    } else {
        list.iter().any(|w| int_true(w))
    };
    push(out, bool_str(value));
    Ok(())
}

fn land(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    list_truth(args, true, out)
}

fn lor(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    list_truth(args, false, out)
}

fn ifelse(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let cond = ev.eval_arg(frame, &args[0])?;
    let branch = if truthy(&cond) {
        args.get(1)
    } else {
        args.get(2)
    };
    if let Some(branch) = branch {
        let text = ev.eval_arg(frame, branch)?;
        push(out, &text);
    }
    Ok(())
}

fn nonzero(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    if args.len() == 3 {
        ifelse(ev, frame, args, out)
    } else {
        push(out, "#-1 FUNCTION (IFELSE) EXPECTS 3 ARGUMENTS");
        Ok(())
    }
}

/// TinyMUX's `wild_match`: `>x` and `<x` compare (as numbers when both are numbers, else
/// as bytes); anything else is a wildcard pattern.
fn switch_match(pattern: &str, value: &str) -> bool {
    let (greater, rest) = match pattern.as_bytes().first() {
        Some(b'>') => (true, &pattern[1..]),
        Some(b'<') => (false, &pattern[1..]),
        _ => return wild::matches(pattern, value),
    };
    let ord = if is_number(value) && is_number(rest) {
        match to_f64(value).partial_cmp(&to_f64(rest)) {
            Some(ord) => ord,
            None => return false,
        }
    } else {
        value.as_bytes().cmp(rest.as_bytes())
    };
    if greater { ord.is_gt() } else { ord.is_lt() }
}

/// `switch()` and `case()`: `exact` compares without wildcards. `#$` in the chosen branch
/// is the value.
fn choose(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>, exact: bool) -> R {
    let value = ev.eval_arg(frame, &args[0])?;
    let mut i = 1;
    let mut chosen = None;
    while i + 1 < args.len() {
        let pattern = ev.eval_arg(frame, &args[i])?;
        let hit = if exact {
            pattern == value
        } else {
            switch_match(&pattern, &value)
        };
        if hit {
            chosen = Some(&args[i + 1]);
            break;
        }
        i += 2;
    }
    let Some(branch) = chosen.or(args.get(i)) else {
        return Ok(());
    };
    ev.switch_tokens.push(value);
    let result = ev.eval_arg(frame, branch);
    ev.switch_tokens.pop();
    push(out, &result?);
    Ok(())
}

fn switch(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    choose(ev, frame, args, out, false)
}

fn case(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    choose(ev, frame, args, out, true)
}
