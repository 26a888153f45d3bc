//! Arithmetic and comparison.

use super::{Func, bool_str, f, fmt_f64, is_integer, is_number, to_f64, to_i64};
use crate::eval::{Eval, Frame, R, push};

/// The arithmetic family.
pub const FUNCS: &[Func] = &[
    f("ADD", 1, 30, add),
    f("SUB", 2, 2, sub),
    f("MUL", 1, 30, mul),
    f("DIV", 2, 2, div),
    f("IDIV", 2, 2, div),
    f("FDIV", 2, 2, fdiv),
    f("MOD", 2, 2, modulo),
    f("REMAINDER", 2, 2, remainder),
    f("FLOORDIV", 2, 2, floordiv),
    f("ABS", 1, 1, abs),
    f("IABS", 1, 1, abs),
    f("SIGN", 1, 1, sign),
    f("MAX", 1, 30, max),
    f("MIN", 1, 30, min),
    f("INC", 1, 1, inc),
    f("DEC", 1, 1, dec),
    f("POWER", 2, 2, power),
    f("SQRT", 1, 1, sqrt),
    f("ROUND", 2, 2, round),
    f("TRUNC", 1, 1, trunc),
    f("FLOOR", 1, 1, floor),
    f("CEIL", 1, 1, ceil),
    f("EQ", 2, 2, eq),
    f("NEQ", 2, 2, neq),
    f("GT", 2, 2, gt),
    f("GTE", 2, 2, gte),
    f("LT", 2, 2, lt),
    f("LTE", 2, 2, lte),
    f("COMP", 2, 3, comp),
    f("ISNUM", 1, 1, isnum),
    f("ISINT", 1, 1, isint),
    f("PI", 0, 0, pi),
    f("E", 0, 0, e),
    f("LN", 1, 1, ln),
    f("LOG", 1, 2, log),
    f("EXP", 1, 1, exp),
    f("SIN", 1, 2, sin),
    f("COS", 1, 2, cos),
    f("TAN", 1, 2, tan),
    f("BOUND", 3, 3, bound),
    f("DIST2D", 4, 4, dist2d),
    f("BAND", 2, 2, band),
    f("BOR", 2, 2, bor),
    f("BXOR", 2, 2, bxor),
    f("BNAND", 2, 2, bnand),
    f("SHL", 2, 2, shl),
    f("SHR", 2, 2, shr),
];

type Args<'a> = &'a [String];
type Out<'a> = &'a mut String;

fn small_ints(args: Args<'_>) -> bool {
    args.iter()
        .all(|a| is_integer(a) && a.trim().trim_start_matches(['-', '+']).len() <= 9)
}

fn add(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    if small_ints(args) {
        let sum: i64 = args.iter().map(|a| to_i64(a)).sum();
        push(out, &sum.to_string());
    } else {
        push(out, &fmt_f64(kahan(args.iter().map(|a| to_f64(a)))));
    }
    Ok(())
}

fn kahan(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(|a, b| b.abs().total_cmp(&a.abs()));
    let mut sum = 0.0;
    let mut c = 0.0;
    for v in values {
        let y = v - c;
        let t = sum + y;
        c = (t - sum) - y;
        sum = t;
    }
    pretty(sum)
}

/// Nudges a float to the neighbour with the fewest digits (0.1 + 0.2 prints 0.3).
fn pretty(value: f64) -> f64 {
    if !value.is_finite() || value == 0.0 {
        return value;
    }
    let digits = |v: f64| format!("{v:e}").len();
    let mut best = value;
    let mut best_len = digits(value);
    let mut up = value;
    let mut down = value;
    for _ in 0..4 {
        up = up.next_up();
        down = down.next_down();
        for candidate in [up, down] {
            let len = digits(candidate);
            if len < best_len {
                best = candidate;
                best_len = len;
            }
        }
    }
    best
}

fn sub(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    if small_ints(args) {
        push(out, &(to_i64(&args[0]) - to_i64(&args[1])).to_string());
    } else {
        let v = kahan([to_f64(&args[0]), -to_f64(&args[1])].into_iter());
        push(out, &fmt_f64(v));
    }
    Ok(())
}

fn mul(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let product: f64 = args.iter().map(|a| to_f64(a)).product();
    push(out, &fmt_f64(pretty(product)));
    Ok(())
}

fn div(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let (a, b) = (to_i64(&args[0]), to_i64(&args[1]));
    if b == 0 {
        push(out, "#-1 DIVIDE BY ZERO");
    } else {
        push(out, &a.wrapping_div(b).to_string());
    }
    Ok(())
}

fn floordiv(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let (a, b) = (to_i64(&args[0]), to_i64(&args[1]));
    if b == 0 {
        push(out, "#-1 DIVIDE BY ZERO");
    } else {
        push(out, &a.div_euclid(b).to_string());
    }
    Ok(())
}

fn fdiv(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let (a, b) = (to_f64(&args[0]), to_f64(&args[1]));
    if b == 0.0 {
        push(out, "#-1 DIVIDE BY ZERO");
    } else {
        push(out, &fmt_f64(pretty(a / b)));
    }
    Ok(())
}

fn modulo(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let (a, b) = (to_i64(&args[0]), to_i64(&args[1]));
    if b == 0 {
        push(out, "#-1 DIVIDE BY ZERO");
    } else {
        // TinyMUX's mod takes the sign of the divisor (floor modulo).
        push(
            out,
            &a.rem_euclid(b)
                .wrapping_add(if b < 0 && a.rem_euclid(b) != 0 { b } else { 0 })
                .to_string(),
        );
    }
    Ok(())
}

fn remainder(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let (a, b) = (to_i64(&args[0]), to_i64(&args[1]));
    if b == 0 {
        push(out, "#-1 DIVIDE BY ZERO");
    } else {
        push(out, &a.wrapping_rem(b).to_string());
    }
    Ok(())
}

fn abs(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, &fmt_f64(to_f64(&args[0]).abs()));
    Ok(())
}

fn sign(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let v = to_f64(&args[0]);
    push(
        out,
        if v > 0.0 {
            "1"
        } else if v < 0.0 {
            "-1"
        } else {
            "0"
        },
    );
    Ok(())
}

fn max(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let v = args
        .iter()
        .map(|a| to_f64(a))
        .fold(f64::NEG_INFINITY, f64::max);
    push(out, &fmt_f64(v));
    Ok(())
}

fn min(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let v = args.iter().map(|a| to_f64(a)).fold(f64::INFINITY, f64::min);
    push(out, &fmt_f64(v));
    Ok(())
}

fn inc(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, &to_i64(&args[0]).wrapping_add(1).to_string());
    Ok(())
}

fn dec(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, &to_i64(&args[0]).wrapping_sub(1).to_string());
    Ok(())
}

fn power(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let (a, b) = (to_f64(&args[0]), to_f64(&args[1]));
    if a < 0.0 && b.fract() != 0.0 {
        push(out, "#-1 POWER OF NEGATIVE");
    } else {
        push(out, &fmt_f64(pretty(a.powf(b))));
    }
    Ok(())
}

fn sqrt(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let v = to_f64(&args[0]);
    if v < 0.0 {
        push(out, "#-1 SQUARE ROOT OF NEGATIVE");
    } else {
        push(out, &fmt_f64(pretty(v.sqrt())));
    }
    Ok(())
}

fn round(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let v = to_f64(&args[0]);
    let places = to_i64(&args[1]).clamp(-20, 20);
    let factor = 10f64.powi(places as i32);
    let r = (v * factor).round() / factor;
    if places > 0 {
        push(out, &format!("{:.*}", places as usize, r));
    } else {
        push(out, &fmt_f64(r));
    }
    Ok(())
}

fn trunc(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, &fmt_f64(to_f64(&args[0]).trunc()));
    Ok(())
}

fn floor(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, &fmt_f64(to_f64(&args[0]).floor()));
    Ok(())
}

fn ceil(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, &fmt_f64(to_f64(&args[0]).ceil()));
    Ok(())
}

fn cmp(args: Args<'_>) -> std::cmp::Ordering {
    if is_integer(&args[0]) && is_integer(&args[1]) {
        to_i64(&args[0]).cmp(&to_i64(&args[1]))
    } else {
        to_f64(&args[0]).total_cmp(&to_f64(&args[1]))
    }
}

fn eq(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, bool_str(cmp(args).is_eq()));
    Ok(())
}

fn neq(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, bool_str(cmp(args).is_ne()));
    Ok(())
}

fn gt(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, bool_str(cmp(args).is_gt()));
    Ok(())
}

fn gte(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, bool_str(cmp(args).is_ge()));
    Ok(())
}

fn lt(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, bool_str(cmp(args).is_lt()));
    Ok(())
}

fn lte(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, bool_str(cmp(args).is_le()));
    Ok(())
}

fn comp(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let kind = args
        .get(2)
        .map(|s| s.trim().to_ascii_uppercase())
        .unwrap_or_default();
    let ord = match kind.chars().next() {
        Some('N') | Some('I') => to_i64(&args[0]).cmp(&to_i64(&args[1])),
        Some('F') => to_f64(&args[0]).total_cmp(&to_f64(&args[1])),
        Some('D') => super::objects::dbref_num(&args[0]).cmp(&super::objects::dbref_num(&args[1])),
        Some('C') => args[0].to_lowercase().cmp(&args[1].to_lowercase()),
        _ => args[0].as_bytes().cmp(args[1].as_bytes()),
    };
    push(
        out,
        match ord {
            std::cmp::Ordering::Less => "-1",
            std::cmp::Ordering::Equal => "0",
            std::cmp::Ordering::Greater => "1",
        },
    );
    Ok(())
}

fn isnum(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, bool_str(is_number(&args[0])));
    Ok(())
}

fn isint(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, bool_str(is_integer(&args[0])));
    Ok(())
}

fn pi(_: &mut Eval<'_>, _: &Frame<'_>, _: Args<'_>, out: Out<'_>) -> R {
    push(out, "3.141592653589793");
    Ok(())
}

fn e(_: &mut Eval<'_>, _: &Frame<'_>, _: Args<'_>, out: Out<'_>) -> R {
    push(out, "2.718281828459045");
    Ok(())
}

fn ln(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let v = to_f64(&args[0]);
    if v <= 0.0 {
        push(out, "#-1 LN OF NEGATIVE OR ZERO");
    } else {
        push(out, &fmt_f64(pretty(v.ln())));
    }
    Ok(())
}

fn log(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let v = to_f64(&args[0]);
    let base = args.get(1).map(|b| to_f64(b)).unwrap_or(10.0);
    if v <= 0.0 {
        push(out, "#-1 LOG OF NEGATIVE OR ZERO");
    } else {
        push(out, &fmt_f64(pretty(v.ln() / base.ln())));
    }
    Ok(())
}

fn exp(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, &fmt_f64(pretty(to_f64(&args[0]).exp())));
    Ok(())
}

fn angle(args: Args<'_>) -> f64 {
    let v = to_f64(&args[0]);
    match args.get(1).and_then(|u| u.trim().chars().next()) {
        Some('d') | Some('D') => v.to_radians(),
        Some('g') | Some('G') => v * std::f64::consts::PI / 200.0,
        _ => v,
    }
}

fn sin(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, &fmt_f64(pretty(angle(args).sin())));
    Ok(())
}

fn cos(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, &fmt_f64(pretty(angle(args).cos())));
    Ok(())
}

fn tan(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, &fmt_f64(pretty(angle(args).tan())));
    Ok(())
}

fn bound(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let v = to_f64(&args[0]);
    let (lo, hi) = (to_f64(&args[1]), to_f64(&args[2]));
    push(out, &fmt_f64(v.max(lo).min(hi)));
    Ok(())
}

fn dist2d(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let dx = to_f64(&args[0]) - to_f64(&args[2]);
    let dy = to_f64(&args[1]) - to_f64(&args[3]);
    push(out, &fmt_f64(pretty((dx * dx + dy * dy).sqrt())));
    Ok(())
}

fn bits(args: Args<'_>, op: fn(i64, i64) -> i64, out: Out<'_>) -> R {
    push(out, &op(to_i64(&args[0]), to_i64(&args[1])).to_string());
    Ok(())
}

fn band(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    bits(args, |a, b| a & b, out)
}

fn bor(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    bits(args, |a, b| a | b, out)
}

fn bxor(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    bits(args, |a, b| a ^ b, out)
}

fn bnand(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    bits(args, |a, b| a & !b, out)
}

fn shl(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    bits(args, |a, b| a.wrapping_shl(b.clamp(0, 63) as u32), out)
}

fn shr(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    bits(args, |a, b| a.wrapping_shr(b.clamp(0, 63) as u32), out)
}
