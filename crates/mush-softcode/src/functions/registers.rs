//! Registers: `setq`, `setr`, `r`, `localize`.

use super::{Func, f, lazy};
use crate::eval::{Eval, Frame, R, push};

/// The register family.
pub const FUNCS: &[Func] = &[
    f("SETQ", 2, 2, setq),
    f("SETR", 2, 2, setr),
    f("R", 1, 1, r),
    // Its one argument keeps no commas (`localize(a,b)` is an error), so it is declared
    // with room for two and counts them itself.
    lazy("LOCALIZE", 0, 2, localize),
];

type Args<'a> = &'a [String];
type Out<'a> = &'a mut String;

/// A register name is one letter or digit (TinyMUX 2.12 has no named registers).
fn valid(name: &str) -> bool {
    name.len() == 1 && name.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn setq(ev: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let name = args[0].trim();
    if !valid(name) {
        push(out, "#-1 INVALID GLOBAL REGISTER");
        return Ok(());
    }
    ev.regs.set(name, args[1].clone());
    Ok(())
}

fn setr(ev: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let name = args[0].trim();
    if !valid(name) {
        push(out, "#-1 INVALID GLOBAL REGISTER");
        return Ok(());
    }
    ev.regs.set(name, args[1].clone());
    push(out, &args[1]);
    Ok(())
}

fn r(ev: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let name = args[0].trim();
    if !valid(name) {
        push(out, "#-1 INVALID GLOBAL REGISTER");
        return Ok(());
    }
    let value = ev.regs.get(name).to_string();
    push(out, &value);
    Ok(())
}

fn localize(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    if args.len() != 1 {
        push(out, "#-1 FUNCTION (LOCALIZE) EXPECTS 1 ARGUMENTS");
        return Ok(());
    }
    let saved = ev.regs.clone();
    let result = ev.eval_arg(frame, &args[0]);
    ev.regs = saved;
    push(out, &result?);
    Ok(())
}
