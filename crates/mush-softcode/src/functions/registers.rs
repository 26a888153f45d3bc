//! Registers: `setq`, `setr`, `r`, `localize`.

use super::{Func, f, lazy};
use crate::eval::{Eval, Frame, R, push};

/// The register family.
pub const FUNCS: &[Func] = &[
    f("SETQ", 2, 30, setq),
    f("SETR", 2, 2, setr),
    f("R", 1, 1, r),
    lazy("LOCALIZE", 1, 1, localize),
];

type Args<'a> = &'a [String];
type Out<'a> = &'a mut String;

/// A register name is one letter or digit, or a name of up to 32 word characters.
fn valid(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn setq(ev: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    if args.len() % 2 == 1 {
        push(
            out,
            "#-1 FUNCTION (SETQ) EXPECTS AN EVEN NUMBER OF ARGUMENTS",
        );
        return Ok(());
    }
    for pair in args.chunks(2) {
        let name = pair[0].trim();
        if !valid(name) {
            push(out, "#-1 INVALID GLOBAL REGISTER");
            continue;
        }
        ev.regs.set(name, pair[1].clone());
    }
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
    let saved = ev.regs.clone();
    let result = ev.eval_arg(frame, &args[0]);
    ev.regs = saved;
    push(out, &result?);
    Ok(())
}
