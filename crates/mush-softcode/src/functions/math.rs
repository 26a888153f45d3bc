//! Arithmetic and comparison, as TinyMUX 2.12's `funmath.cpp` does them.

use super::{
    Func, MAX_ARGS, add_doubles, bool_str, f, fmt_f64, integer_digits, is_integer, is_number, isep,
    items, joined, nearest_pretty, osep, round_to, strict, to_f64, to_i64,
};
use crate::eval::{Eval, Frame, LBUF, R, push};

/// The arithmetic family. Arities and argument parsing follow TinyMUX's function table:
/// `strict` entries parse every comma (so `sqrt(1,2)` is an error), `joined` ones take
/// commas beyond their last argument as text.
pub const FUNCS: &[Func] = &[
    joined("ADD", 1, MAX_ARGS, add),
    strict("SUB", 2, 2, sub),
    joined("MUL", 1, MAX_ARGS, mul),
    joined("IADD", 0, MAX_ARGS, iadd),
    strict("ISUB", 2, 2, isub),
    joined("IMUL", 1, MAX_ARGS, imul),
    strict("IDIV", 2, 2, idiv),
    // `div` is TinyMUX's alias of `idiv` and reports its errors under that name.
    joined("DIV", 0, MAX_ARGS, div_alias),
    strict("FDIV", 2, 2, fdiv),
    strict("FLOORDIV", 2, 2, floordiv),
    strict("MOD", 2, 2, modulo),
    joined("MODULO", 0, MAX_ARGS, modulo_alias),
    joined("MODULUS", 0, MAX_ARGS, modulo_alias),
    strict("REMAINDER", 2, 2, remainder),
    strict("FMOD", 2, 2, fmod),
    strict("ABS", 1, 1, abs),
    strict("IABS", 1, 1, iabs),
    strict("SIGN", 1, 1, sign),
    strict("ISIGN", 1, 1, isign),
    joined("MAX", 1, MAX_ARGS, max),
    joined("MIN", 1, MAX_ARGS, min),
    strict("INC", 0, 1, inc),
    strict("DEC", 0, 1, dec),
    strict("POWER", 2, 2, power),
    strict("SQRT", 1, 1, sqrt),
    strict("ROUND", 2, 2, round),
    strict("TRUNC", 1, 1, trunc),
    strict("FLOOR", 1, 1, floor),
    strict("CEIL", 1, 1, ceil),
    strict("EQ", 2, 2, eq),
    strict("NEQ", 2, 2, neq),
    strict("GT", 2, 2, gt),
    strict("GTE", 2, 2, gte),
    strict("LT", 2, 2, lt),
    strict("LTE", 2, 2, lte),
    strict("COMP", 2, 2, comp),
    strict("ISNUM", 1, 1, isnum),
    strict("ISINT", 1, 1, isint),
    strict("ISRAT", 1, 1, israt),
    f("PI", 0, 0, pi),
    f("E", 0, 0, e),
    strict("LN", 1, 1, ln),
    strict("LOG", 1, 2, log),
    strict("EXP", 1, 1, exp),
    strict("SIN", 1, 2, sin),
    strict("COS", 1, 2, cos),
    strict("TAN", 1, 2, tan),
    strict("ASIN", 1, 2, asin),
    strict("ACOS", 1, 2, acos),
    strict("ATAN", 1, 2, atan),
    strict("ATAN2", 2, 3, atan2),
    strict("CTU", 3, 3, ctu),
    strict("DIST2D", 4, 4, dist2d),
    strict("DIST3D", 6, 6, dist3d),
    strict("VADD", 2, 4, vadd),
    strict("VSUB", 2, 4, vsub),
    strict("VMUL", 2, 4, vmul),
    strict("VDOT", 2, 4, vdot),
    strict("VCROSS", 2, 4, vcross),
    strict("VMAG", 1, 2, vmag),
    strict("VUNIT", 1, 2, vunit),
    strict("VDIM", 0, 2, vdim),
    joined("BAND", 1, MAX_ARGS, band),
    joined("BOR", 1, MAX_ARGS, bor),
    joined("BXOR", 1, MAX_ARGS, bxor),
    strict("BNAND", 2, 2, bnand),
    strict("SHL", 2, 2, shl),
    strict("SHR", 2, 2, shr),
    strict("BASECONV", 3, 3, baseconv),
    strict("ROMAN", 1, 1, roman),
    strict("SPELLNUM", 1, 1, spellnum),
];

type Args<'a> = &'a [String];
type Out<'a> = &'a mut String;

/// TinyMUX's argument-count check, for entries registered without their real bounds (an
/// alias that reports errors under its target's name). False, with the message written,
/// when the count is wrong.
fn arity(name: &str, min: usize, max: usize, args: Args<'_>, out: Out<'_>) -> bool {
    if (min..=max).contains(&args.len()) {
        return true;
    }
    let message = if min == max {
        format!("#-1 FUNCTION ({name}) EXPECTS {min} ARGUMENTS")
    } else if min + 1 == max {
        format!("#-1 FUNCTION ({name}) EXPECTS {min} OR {max} ARGUMENTS")
    } else {
        format!("#-1 FUNCTION ({name}) EXPECTS BETWEEN {min} AND {max} ARGUMENTS")
    };
    push(out, &message);
    false
}

/// True when every argument is an integer of at most nine digits (TinyMUX's fast path).
fn small_ints(args: Args<'_>) -> bool {
    args.iter()
        .all(|a| integer_digits(a).is_some_and(|digits| digits <= 9))
}

fn put_f64(out: Out<'_>, value: f64) -> R {
    push(out, &fmt_f64(value));
    Ok(())
}

fn put_i64(out: Out<'_>, value: i64) -> R {
    push(out, &value.to_string());
    Ok(())
}

fn add(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    if small_ints(args) {
        put_i64(out, args.iter().map(|a| to_i64(a)).sum())
    } else {
        put_f64(out, add_doubles(args.iter().map(|a| to_f64(a)).collect()))
    }
}

fn sub(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    if small_ints(args) {
        put_i64(out, to_i64(&args[0]) - to_i64(&args[1]))
    } else {
        put_f64(out, add_doubles(vec![to_f64(&args[0]), -to_f64(&args[1])]))
    }
}

fn mul(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let product: f64 = args.iter().map(|a| to_f64(a)).product();
    put_f64(out, nearest_pretty(product))
}

fn iadd(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    put_i64(
        out,
        args.iter().fold(0i64, |s, a| s.wrapping_add(to_i64(a))),
    )
}

fn isub(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    put_i64(out, to_i64(&args[0]).wrapping_sub(to_i64(&args[1])))
}

fn imul(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    put_i64(
        out,
        args.iter().fold(1i64, |p, a| p.wrapping_mul(to_i64(a))),
    )
}

fn idiv(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let (a, b) = (to_i64(&args[0]), to_i64(&args[1]));
    if b == 0 {
        push(out, "#-1 DIVIDE BY ZERO");
        Ok(())
    } else {
        put_i64(out, a.wrapping_div(b))
    }
}

fn div_alias(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    if arity("IDIV", 2, 2, args, out) {
        idiv(ev, frame, args, out)?;
    }
    Ok(())
}

fn floordiv(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let (a, b) = (to_i64(&args[0]), to_i64(&args[1]));
    if b == 0 {
        push(out, "#-1 DIVIDE BY ZERO");
        return Ok(());
    }
    let q = a.wrapping_div(b);
    let floored = if a.wrapping_rem(b) != 0 && ((a < 0) != (b < 0)) {
        q - 1
    } else {
        q
    };
    put_i64(out, floored)
}

/// `mod()`: the remainder takes the divisor's sign; dividing by 0 divides by 1.
fn modulo(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let (a, b) = (to_i64(&args[0]), to_i64(&args[1]));
    let b = if b == 0 { 1 } else { b };
    let r = a.wrapping_rem(b);
    put_i64(
        out,
        if r != 0 && ((r < 0) != (b < 0)) {
            r + b
        } else {
            r
        },
    )
}

fn modulo_alias(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    if arity("MOD", 2, 2, args, out) {
        modulo(ev, frame, args, out)?;
    }
    Ok(())
}

/// `remainder()`: the remainder takes the dividend's sign; dividing by 0 divides by 1.
fn remainder(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let (a, b) = (to_i64(&args[0]), to_i64(&args[1]));
    let b = if b == 0 { 1 } else { b };
    put_i64(out, a.wrapping_rem(b))
}

fn fdiv(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    put_f64(out, to_f64(&args[0]) / to_f64(&args[1]))
}

fn fmod(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    put_f64(out, to_f64(&args[0]) % to_f64(&args[1]))
}

fn abs(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    put_f64(out, to_f64(&args[0]).abs())
}

fn iabs(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    put_i64(out, to_i64(&args[0]).wrapping_abs())
}

fn sign_of(positive: bool, negative: bool) -> &'static str {
    if negative { "-1" } else { bool_str(positive) }
}

fn sign(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let v = to_f64(&args[0]);
    push(out, sign_of(v > 0.0, v < 0.0));
    Ok(())
}

fn isign(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let v = to_i64(&args[0]);
    push(out, sign_of(v > 0, v < 0));
    Ok(())
}

/// The first value, replaced by each later one that `better` prefers (NaN never wins).
fn extreme(args: Args<'_>, better: fn(f64, f64) -> bool) -> f64 {
    let mut values = args.iter().map(|a| to_f64(a));
    let first = values.next().unwrap_or(0.0);
    values.fold(first, |best, v| if better(v, best) { v } else { best })
}

fn max(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    put_f64(out, extreme(args, |v, best| v > best))
}

fn min(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    put_f64(out, extreme(args, |v, best| v < best))
}

fn inc(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    match args.first() {
        Some(a) => put_i64(out, to_i64(a).wrapping_add(1)),
        None => put_i64(out, 1),
    }
}

fn dec(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    match args.first() {
        Some(a) => put_i64(out, to_i64(a).wrapping_sub(1)),
        None => put_i64(out, -1),
    }
}

fn power(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    put_f64(out, to_f64(&args[0]).powf(to_f64(&args[1])))
}

fn sqrt(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    put_f64(out, to_f64(&args[0]).sqrt())
}

fn round(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, &round_to(to_f64(&args[0]), to_i64(&args[1])));
    Ok(())
}

fn trunc(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    put_f64(out, to_f64(&args[0]).trunc())
}

fn floor(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    put_f64(out, to_f64(&args[0]).floor())
}

fn ceil(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    put_f64(out, to_f64(&args[0]).ceil())
}

/// Compares two numbers as TinyMUX's `gt()` family does: as integers when both are short
/// integers, else as doubles (where NaN compares false).
fn compare(args: Args<'_>, ints: fn(i64, i64) -> bool, floats: fn(f64, f64) -> bool) -> bool {
    if small_ints(&args[..2]) {
        ints(to_i64(&args[0]), to_i64(&args[1]))
    } else {
        floats(to_f64(&args[0]), to_f64(&args[1]))
    }
}

fn put_bool(out: Out<'_>, value: bool) -> R {
    push(out, bool_str(value));
    Ok(())
}

fn eq(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let same = args[0] == args[1] && !small_ints(&args[..2]);
    put_bool(out, same || compare(args, |a, b| a == b, |a, b| a == b))
}

fn neq(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let same = args[0] == args[1] && !small_ints(&args[..2]);
    put_bool(out, !same && compare(args, |a, b| a != b, |a, b| a != b))
}

fn gt(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    put_bool(out, compare(args, |a, b| a > b, |a, b| a > b))
}

fn gte(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    put_bool(out, compare(args, |a, b| a >= b, |a, b| a >= b))
}

fn lt(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    put_bool(out, compare(args, |a, b| a < b, |a, b| a < b))
}

fn lte(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    put_bool(out, compare(args, |a, b| a <= b, |a, b| a <= b))
}

/// `comp()`: byte-wise string comparison.
fn comp(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let ord = args[0].as_bytes().cmp(args[1].as_bytes());
    push(out, sign_of(ord.is_gt(), ord.is_lt()));
    Ok(())
}

fn isnum(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    put_bool(out, is_number(&args[0]))
}

fn isint(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    put_bool(out, is_integer(&args[0]))
}

/// `israt()`: spaces, optional sign, digits with an optional point (at least one digit),
/// spaces.
fn israt(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let t = args[0].trim_matches(|c: char| c == ' ' || ('\t'..='\r').contains(&c));
    let t = t.strip_prefix(['-', '+']).unwrap_or(t);
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    put_bool(
        out,
        !(whole.is_empty() && frac.is_empty()) && digits(whole) && digits(frac),
    )
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
    put_f64(out, to_f64(&args[0]).ln())
}

/// `log(n[,base])`: base 10 by default; `e` is natural; other bases must exceed 1.
fn log(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let v = to_f64(&args[0]);
    let Some(base) = args.get(1) else {
        return put_f64(out, v.log10());
    };
    if base == "e" {
        return put_f64(out, v.ln());
    }
    if integer_digits(base).is_some_and(|digits| digits <= 2) {
        match to_i64(base) {
            10 => return put_f64(out, v.log10()),
            2 => return put_f64(out, v.log2()),
            _ => {}
        }
    }
    let base = to_f64(base);
    if base <= 1.0 {
        push(out, "#-1 BASE OUT OF RANGE");
        return Ok(());
    }
    put_f64(out, v.ln() / base.ln())
}

fn exp(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    put_f64(out, to_f64(&args[0]).exp())
}

/// Degrees (`d`) or gradians (`g`) to radians, by the unit's first letter.
fn to_radians(v: f64, unit: Option<&String>) -> f64 {
    match unit.and_then(|u| u.bytes().next()) {
        Some(b'd' | b'D') => v * 0.017_453_292_519_943_295,
        Some(b'g' | b'G') => v * 0.015_707_963_267_948_967,
        _ => v,
    }
}

/// Radians to degrees (`d`) or gradians (`g`), by the unit's first letter.
fn from_radians(v: f64, unit: Option<&String>) -> f64 {
    match unit.and_then(|u| u.bytes().next()) {
        Some(b'd' | b'D') => v * 57.295_779_513_082_32,
        Some(b'g' | b'G') => v * 63.661_977_236_758_13,
        _ => v,
    }
}

fn sin(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    put_f64(out, to_radians(to_f64(&args[0]), args.get(1)).sin())
}

fn cos(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    put_f64(out, to_radians(to_f64(&args[0]), args.get(1)).cos())
}

fn tan(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    put_f64(out, to_radians(to_f64(&args[0]), args.get(1)).tan())
}

fn asin(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    put_f64(out, from_radians(to_f64(&args[0]).asin(), args.get(1)))
}

fn acos(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    put_f64(out, from_radians(to_f64(&args[0]).acos(), args.get(1)))
}

fn atan(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    put_f64(out, from_radians(to_f64(&args[0]).atan(), args.get(1)))
}

fn atan2(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let v = to_f64(&args[0]).atan2(to_f64(&args[1]));
    put_f64(out, from_radians(v, args.get(2)))
}

/// `ctu(angle,from,to)`: converts between radians, degrees and gradians.
fn ctu(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let radians = to_radians(to_f64(&args[0]), args.get(1));
    put_f64(out, from_radians(radians, args.get(2)))
}

/// The distance between two points given as `n` coordinates each.
fn distance(args: Args<'_>, n: usize) -> f64 {
    let sum = (0..n).fold(0.0, |sum, i| {
        let d = to_f64(&args[i]) - to_f64(&args[i + n]);
        sum + d * d
    });
    sum.sqrt()
}

fn dist2d(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    put_f64(out, distance(args, 2))
}

fn dist3d(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    put_f64(out, distance(args, 3))
}

// ---- vectors -------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum VecOp {
    Add,
    Sub,
    Mul,
    Dot,
    Cross,
}

/// Joins formatted numbers with a separator.
fn put_list(out: Out<'_>, values: impl IntoIterator<Item = f64>, sep: &str) -> R {
    for (i, v) in values.into_iter().enumerate() {
        if i > 0 {
            push(out, sep);
        }
        push(out, &fmt_f64(v));
        if out.len() >= LBUF {
            break;
        }
    }
    Ok(())
}

/// TinyMUX's `handle_vectors`: element-wise on two vectors of one dimension; `vadd`,
/// `vsub` and `vmul` also take a single number on either side.
fn vectors(args: Args<'_>, op: VecOp, out: Out<'_>) -> R {
    if args[0].is_empty() || args[1].is_empty() {
        return Ok(());
    }
    let Some(sep) = isep(args, 2, out) else {
        return Ok(());
    };
    let Some(osep) = osep(args, 3, &sep, out) else {
        return Ok(());
    };
    let a: Vec<f64> = items(&args[0], &sep).into_iter().map(to_f64).collect();
    let b: Vec<f64> = items(&args[1], &sep).into_iter().map(to_f64).collect();
    let (n, m) = (a.len(), b.len());
    let scalar_ok = matches!(op, VecOp::Add | VecOp::Sub | VecOp::Mul);
    if n != m && !(scalar_ok && (n == 1 || m == 1)) {
        push(out, "#-1 VECTORS MUST BE SAME DIMENSIONS");
        return Ok(());
    }
    let pairs: Vec<(f64, f64)> = if n == 1 && scalar_ok {
        b.iter().map(|&y| (a[0], y)).collect()
    } else if m == 1 && scalar_ok {
        a.iter().map(|&x| (x, b[0])).collect()
    } else {
        a.iter().copied().zip(b.iter().copied()).collect()
    };
    match op {
        VecOp::Add => put_list(out, pairs.iter().map(|(x, y)| x + y), &osep),
        VecOp::Sub => put_list(out, pairs.iter().map(|(x, y)| x - y), &osep),
        VecOp::Mul => put_list(out, pairs.iter().map(|(x, y)| x * y), &osep),
        VecOp::Dot => put_f64(out, pairs.iter().fold(0.0, |s, (x, y)| s + x * y)),
        VecOp::Cross if n != 3 => {
            push(out, "#-1 VECTORS MUST BE DIMENSION OF 3");
            Ok(())
        }
        VecOp::Cross => {
            let cross = [
                a[1] * b[2] - a[2] * b[1],
                a[2] * b[0] - a[0] * b[2],
                a[0] * b[1] - a[1] * b[0],
            ];
            put_list(out, cross, &osep)
        }
    }
}

fn vadd(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    vectors(args, VecOp::Add, out)
}

fn vsub(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    vectors(args, VecOp::Sub, out)
}

fn vmul(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    vectors(args, VecOp::Mul, out)
}

fn vdot(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    vectors(args, VecOp::Dot, out)
}

fn vcross(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    vectors(args, VecOp::Cross, out)
}

/// A vector's elements and the square of its magnitude.
fn magnitude(args: Args<'_>, out: Out<'_>) -> Option<(Vec<f64>, String, f64)> {
    let sep = isep(args, 1, out)?;
    let v: Vec<f64> = items(&args[0], &sep).into_iter().map(to_f64).collect();
    let squares = v.iter().fold(0.0, |s, x| s + x * x);
    Some((v, sep, squares))
}

fn vmag(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    if args[0].is_empty() {
        return Ok(());
    }
    let Some((_, _, squares)) = magnitude(args, out) else {
        return Ok(());
    };
    if squares > 0.0 {
        put_f64(out, squares.sqrt())
    } else {
        push(out, "0");
        Ok(())
    }
}

fn vunit(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    if args[0].is_empty() {
        return Ok(());
    }
    let Some((v, sep, squares)) = magnitude(args, out) else {
        return Ok(());
    };
    if squares <= 0.0 {
        push(out, "#-1 CANNOT MAKE UNIT VECTOR FROM ZERO-LENGTH VECTOR");
        return Ok(());
    }
    let length = squares.sqrt();
    put_list(out, v.iter().map(|x| x / length), &sep)
}

/// `vdim()` is TinyMUX's `words()`.
fn vdim(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let text = args.first().map_or("", String::as_str);
    let Some(sep) = isep(args, 1, out) else {
        return Ok(());
    };
    let count = items(text, &sep).len();
    put_i64(out, count as i64)
}

// ---- bits ----------------------------------------------------------------------------

/// Folds integer arguments with a bit operation; any non-integer is an error.
fn bits(args: Args<'_>, start: i64, op: fn(i64, i64) -> i64, out: Out<'_>) -> R {
    if !args.iter().all(|a| is_integer(a)) {
        push(out, "#-1 ARGUMENTS MUST BE INTEGERS");
        return Ok(());
    }
    put_i64(out, args.iter().fold(start, |acc, a| op(acc, to_i64(a))))
}

fn band(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    bits(args, -1, |a, b| a & b, out)
}

fn bor(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    bits(args, 0, |a, b| a | b, out)
}

fn bxor(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    bits(args, 0, |a, b| a ^ b, out)
}

fn bnand(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    if !is_integer(&args[0]) || !is_integer(&args[1]) {
        push(out, "#-1 ARGUMENTS MUST BE INTEGERS");
        return Ok(());
    }
    put_i64(out, to_i64(&args[0]) & !to_i64(&args[1]))
}

/// `shl()`/`shr()`: integers only, a non-negative shift (taken modulo 64, as x86 does).
fn shift(args: Args<'_>, op: fn(i64, u32) -> i64, out: Out<'_>) -> R {
    if !is_integer(&args[0]) || !is_integer(&args[1]) {
        push(out, "#-1 ARGUMENTS MUST BE INTEGERS");
        return Ok(());
    }
    let by = to_i64(&args[1]);
    if by < 0 {
        push(out, "#-1 SECOND ARGUMENT MUST BE A POSITIVE NUMBER");
        return Ok(());
    }
    put_i64(out, op(to_i64(&args[0]), (by & 63) as u32))
}

fn shl(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    shift(args, |a, b| a << b, out)
}

fn shr(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    shift(args, |a, b| a >> b, out)
}

// ---- number words --------------------------------------------------------------------

const PENN36: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
const PENN64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// TinyMUX's `mux_Unpack` in PennMUSH mode: a number in `from` radix.
fn unpack(text: &str, from: usize, to: usize) -> Option<i64> {
    if from == 10 {
        return Some(to_i64(text));
    }
    let symbols = match from {
        ..=36 => PENN36,
        _ => PENN64,
    };
    let value_of = |c: u8| -> Option<i64> {
        if from == 64 && (c == b'+' || c == b'/') {
            return Some(if c == b'+' { 62 } else { 63 });
        }
        symbols[..from]
            .iter()
            .position(|&s| s == c)
            .map(|i| i as i64)
    };
    let space = |c: &u8| *c == b' ' || (b'\t'..=b'\r').contains(c);
    let b = text.as_bytes();
    let mut i = 0;
    while b.get(i).is_some_and(space) {
        i += 1;
    }
    let mut negative = false;
    if from < 63 && to < 63 && matches!(b.get(i), Some(b'-' | b'+')) {
        negative = b[i] == b'-';
        i += 1;
    }
    let start = i;
    while b.get(i).is_some_and(|c| !space(c)) {
        value_of(b[i])?;
        i += 1;
    }
    if !b[i..].iter().all(space) {
        return None;
    }
    let value = b[start..i].iter().fold(0i64, |v, &c| {
        v.wrapping_mul(from as i64)
            .wrapping_add(value_of(c).unwrap_or(0))
    });
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

fn baseconv(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    if !is_integer(&args[1]) || !is_integer(&args[2]) {
        push(out, "#-1 ARGUMENTS MUST BE NUMBERS");
        return Ok(());
    }
    let (from, to) = (to_i64(&args[1]), to_i64(&args[2]));
    if !(2..=64).contains(&from) {
        push(out, "#-1 INPUT RADIX MUST BE A NUMBER BETWEEN 2 and 64");
        return Ok(());
    }
    if !(2..=64).contains(&to) {
        push(out, "#-1 OUTPUT RADIX MUST BE A NUMBER BETWEEN 2 and 64");
        return Ok(());
    }
    let (from, to) = (from as usize, to as usize);
    let Some(value) = unpack(&args[0], from, to) else {
        push(out, "#-1 NUMBER IS NOT VALID FOR INPUT RADIX");
        return Ok(());
    };
    if to == 10 {
        return put_i64(out, value);
    }
    if value < 0 && to >= 63 {
        push(
            out,
            "#-1 NEGATIVE NUMBER IS NOT REPRESENTABLE IN OUTPUT RADIX",
        );
        return Ok(());
    }
    let symbols = if to <= 36 { PENN36 } else { PENN64 };
    let mut magnitude = value.unsigned_abs();
    let mut digits = Vec::new();
    loop {
        digits.push(symbols[(magnitude % to as u64) as usize]);
        magnitude /= to as u64;
        if magnitude == 0 {
            break;
        }
    }
    if value < 0 {
        digits.push(b'-');
    }
    digits.reverse();
    push(out, &String::from_utf8_lossy(&digits));
    Ok(())
}

/// `roman()`: 1 to 3999 in Roman numerals.
fn roman(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let space = |c: char| c == ' ' || ('\t'..='\r').contains(&c);
    let t = args[0].trim_start_matches(space).trim_start_matches('0');
    let end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, rest) = t.split_at(end);
    if !rest.trim_start_matches(space).is_empty() || digits.is_empty() {
        push(out, "#-1 ARGUMENT MUST BE A POSITIVE NUMBER");
        return Ok(());
    }
    if digits.len() > 4 || (digits.len() == 4 && digits.as_bytes()[0] > b'3') {
        push(out, "#-1 OUT OF RANGE");
        return Ok(());
    }
    const LETTERS: [[char; 3]; 4] = [
        ['I', 'V', 'X'],
        ['X', 'L', 'C'],
        ['C', 'D', 'M'],
        ['M', ' ', ' '],
    ];
    // Each decimal digit as indexes into its place's one, five and ten letters.
    const CODES: [&[usize]; 10] = [
        &[],
        &[0],
        &[0, 0],
        &[0, 0, 0],
        &[0, 1],
        &[1],
        &[1, 0],
        &[1, 0, 0],
        &[1, 0, 0, 0],
        &[0, 2],
    ];
    let places = digits.len();
    for (i, d) in digits.bytes().enumerate() {
        let letters = LETTERS[places - 1 - i];
        for &code in CODES[usize::from(d - b'0')] {
            out.push(letters[code]);
        }
    }
    Ok(())
}

const SINGLES: [&str; 10] = [
    "", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];
const TEENS: [&str; 10] = [
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];
const BIG: [&str; 5] = ["", "thousand", "million", "billion", "trillion"];

/// TinyMUX's `CSpellNum`: numbers in English words.
struct Speller {
    words: Vec<String>,
}

impl Speller {
    fn word(&mut self, w: impl Into<String>) {
        self.words.push(w.into());
    }

    fn two(&mut self, d: &[u8]) {
        let (tens, ones) = (usize::from(d[0] - b'0'), usize::from(d[1] - b'0'));
        match (tens, ones) {
            (0, 0) => {}
            (0, _) => self.word(SINGLES[ones]),
            (1, _) => self.word(TEENS[ones]),
            (_, 0) => self.word(TENS[tens]),
            _ => self.word(format!("{}-{}", TENS[tens], SINGLES[ones])),
        }
    }

    fn three(&mut self, d: &[u8], big: usize) {
        if d == b"000" {
            return;
        }
        if d[0] != b'0' {
            self.word(SINGLES[usize::from(d[0] - b'0')]);
            self.word("hundred");
        }
        self.two(&d[1..]);
        if big > 0 {
            self.word(BIG[big]);
        }
    }

    fn many(&mut self, d: &[u8], hundreds: bool) {
        let n = d.len();
        if hundreds && n == 4 && d[1] != b'0' {
            self.two(&d[..2]);
            self.word("hundred");
            self.two(&d[2..]);
            return;
        }
        let mut groups = n.div_ceil(3) - 1;
        let head = match n % 3 {
            0 => 3,
            r => r,
        };
        let mut first = [b'0'; 3];
        first[3 - head..].copy_from_slice(&d[..head]);
        self.three(&first, groups);
        let mut rest = &d[head..];
        while groups > 0 {
            groups -= 1;
            self.three(&rest[..3], groups);
            rest = &rest[3..];
        }
    }

    fn fraction(&mut self, d: &[u8]) {
        self.many(d, false);
        let n = d.len();
        if n > 0 && n < 15 {
            let (groups, rest) = (n / 3, n % 3);
            let mut w = String::new();
            if rest != 0 {
                w.push_str(["", "ten", "hundred"][rest]);
                if groups != 0 {
                    w.push('-');
                }
            }
            w.push_str(BIG[groups]);
            w.push_str("th");
            let digits = std::str::from_utf8(d).unwrap_or("");
            if to_i64(digits) != 1 {
                w.push('s');
            }
            self.word(w);
        }
    }
}

fn spellnum(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let space = |c: char| c == ' ' || ('\t'..='\r').contains(&c);
    let mut speller = Speller { words: Vec::new() };
    let mut t = args[0].trim_start_matches(space);
    if let Some(rest) = t.strip_prefix('-') {
        speller.word("negative");
        t = rest;
    }
    let t = t.trim_start_matches('0');
    let end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (whole, mut rest) = t.split_at(end);
    let mut frac = "";
    if let Some(after) = rest.strip_prefix('.') {
        let end = after
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after.len());
        (frac, rest) = after.split_at(end);
    }
    if !rest.trim_start_matches(space).is_empty() || whole.len() >= 16 || frac.len() >= 15 {
        // TinyMUX has already written "negative" by now.
        push(out, &speller.words.join(" "));
        push(out, "#-1 ARGUMENT MUST BE A NUMBER");
        return Ok(());
    }
    if whole.is_empty() {
        if frac.is_empty() {
            speller.word("zero");
        }
    } else {
        speller.many(whole.as_bytes(), true);
        if !frac.is_empty() {
            speller.word("and");
        }
    }
    if !frac.is_empty() {
        speller.fraction(frac.as_bytes());
    }
    push(out, &speller.words.join(" "));
    Ok(())
}
