//! Truth and choice: `and`, `or`, `if`, `switch`, ...

use super::{Func, bool_str, f, lazy, truthy};
use crate::eval::{Eval, Frame, R, push};
use crate::wild;

/// The logic family.
pub const FUNCS: &[Func] = &[
    f("AND", 1, 30, and),
    f("OR", 1, 30, or),
    f("XOR", 1, 30, xor),
    f("NOT", 1, 1, not),
    f("T", 1, 1, t),
    f("NULL", 0, 30, null),
    lazy("CAND", 1, 30, cand),
    lazy("COR", 1, 30, cor),
    lazy("ANDBOOL", 1, 30, cand),
    lazy("ORBOOL", 1, 30, cor),
    lazy("IF", 2, 3, ifelse),
    lazy("IFELSE", 3, 3, ifelse),
    lazy("SWITCH", 2, 30, switch),
    lazy("SWITCHALL", 2, 30, switchall),
    lazy("CASE", 2, 30, case),
    lazy("CASEALL", 2, 30, caseall),
];

type Args<'a> = &'a [String];
type Out<'a> = &'a mut String;

fn and(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, bool_str(args.iter().all(|a| truthy(a))));
    Ok(())
}

fn or(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, bool_str(args.iter().any(|a| truthy(a))));
    Ok(())
}

fn xor(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let n = args.iter().filter(|a| truthy(a)).count();
    push(out, bool_str(n % 2 == 1));
    Ok(())
}

fn not(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, bool_str(!truthy(&args[0])));
    Ok(())
}

fn t(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, bool_str(truthy(&args[0])));
    Ok(())
}

fn null(_: &mut Eval<'_>, _: &Frame<'_>, _: Args<'_>, _: Out<'_>) -> R {
    Ok(())
}

fn cand(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    for arg in args {
        if !truthy(&ev.eval_arg(frame, arg)?) {
            push(out, "0");
            return Ok(());
        }
    }
    push(out, "1");
    Ok(())
}

fn cor(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    for arg in args {
        if truthy(&ev.eval_arg(frame, arg)?) {
            push(out, "1");
            return Ok(());
        }
    }
    push(out, "0");
    Ok(())
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

/// `switch`/`case` and their `all` forms: `exact` compares without wildcards.
fn choose(
    ev: &mut Eval<'_>,
    frame: &Frame<'_>,
    args: Args<'_>,
    out: Out<'_>,
    exact: bool,
    all: bool,
) -> R {
    let value = ev.eval_arg(frame, &args[0])?;
    ev.switch_tokens.push(value.clone());
    let result = (|| {
        let mut i = 1;
        let mut matched = false;
        while i + 1 < args.len() {
            let pattern = ev.eval_arg(frame, &args[i])?;
            let hit = if exact {
                pattern == value
            } else {
                wild::matches(&pattern, &value)
            };
            if hit {
                let text = ev.eval_arg(frame, &args[i + 1])?;
                push(out, &text);
                matched = true;
                if !all {
                    return Ok(());
                }
            }
            i += 2;
        }
        if !matched && i < args.len() {
            let text = ev.eval_arg(frame, &args[i])?;
            push(out, &text);
        }
        Ok(())
    })();
    ev.switch_tokens.pop();
    result
}

fn switch(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    choose(ev, frame, args, out, false, false)
}

fn switchall(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    choose(ev, frame, args, out, false, true)
}

fn case(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    choose(ev, frame, args, out, true, false)
}

fn caseall(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    choose(ev, frame, args, out, true, true)
}
