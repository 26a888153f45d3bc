//! Time: `secs`, `time`, `convsecs`, `convtime`, `timefmt`, `etimefmt` and the
//! duration writers (`digittime`, `singletime`, `exptime`, `writetime`); and a few
//! server facts (`config`, `fcount`, `poll`, `dumping`, ...). Times are UTC.

use super::{Func, bool_str, f, lazy, to_i64};
use crate::eval::{Eval, Frame, R, push, push_char};
use crate::functions::objects::{controls, resolve};
use crate::world::AttrFlags;

/// The time family.
pub const FUNCS: &[Func] = &[
    f("SECS", 0, 2, secs),
    f("TIME", 0, 2, time),
    f("CONVSECS", 1, 3, convsecs),
    f("CONVTIME", 1, 3, convtime),
    f("TIMEFMT", 1, 2, timefmt),
    f("ETIMEFMT", 2, 2, etimefmt),
    f("DIGITTIME", 1, 1, digittime),
    f("SINGLETIME", 1, 1, singletime),
    f("EXPTIME", 1, 1, exptime),
    f("WRITETIME", 1, 1, writetime),
    f("POLL", 0, 0, poll),
    f("CONFIG", 1, 1, config),
    lazy("FCOUNT", 0, 1, fcount),
    f("HASQUOTA", 2, 3, hasquota),
    f("MOTD", 0, 0, motd),
    f("DUMPING", 0, 0, dumping),
    f("ERROR", 0, 1, error),
    f("LATTRCMDS", 1, 1, lattrcmds),
];

type Args<'a> = &'a [String];
type Out<'a> = &'a mut String;

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Days since 1970-01-01 to (year, month 1-12, day 1-31).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) to days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `Wed Nov 05 14:00:47 2026`, as TinyMUX's `ReturnDateString` writes it.
pub fn ctime(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rest = secs.rem_euclid(86_400);
    let (y, m, d) = civil(days);
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} {}",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        d,
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        y
    )
}

/// Parses `ctime` text back to seconds.
pub fn parse_ctime(text: &str) -> Option<i64> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let (month, day, clock, year) = match parts.as_slice() {
        [_, m, d, c, y] => (*m, *d, *c, *y),
        [m, d, c, y] => (*m, *d, *c, *y),
        _ => return None,
    };
    let m = MONTHS.iter().position(|x| x.eq_ignore_ascii_case(month))? as u32 + 1;
    let d: u32 = day.parse().ok()?;
    let y: i64 = year.parse().ok()?;
    let hms: Vec<i64> = clock
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, mi, s] = hms.as_slice() else {
        return None;
    };
    if !(1..=31).contains(&d)
        || !(0..24).contains(h)
        || !(0..60).contains(mi)
        || !(0..61).contains(s)
    {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400 + h * 3600 + mi * 60 + s)
}

fn secs(ev: &mut Eval<'_>, _: &Frame<'_>, _: Args<'_>, out: Out<'_>) -> R {
    push(out, &ev.world.now().to_string());
    Ok(())
}

fn time(ev: &mut Eval<'_>, _: &Frame<'_>, _: Args<'_>, out: Out<'_>) -> R {
    push(out, &ctime(ev.world.now()));
    Ok(())
}

fn convsecs(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, &ctime(to_i64(&args[0])));
    Ok(())
}

fn convtime(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    match parse_ctime(&args[0]) {
        Some(s) => push(out, &s.to_string()),
        None => push(out, "#-1 INVALID DATE"),
    }
    Ok(())
}

/// The broken-down fields of a UTC time.
struct Fields {
    year: i64,
    month: u32,
    day: u32,
    hour: i64,
    minute: i64,
    second: i64,
    /// 0 = Sunday.
    weekday: i64,
    /// 1-366.
    yday: i64,
}

fn fields(secs: i64) -> Fields {
    let days = secs.div_euclid(86_400);
    let rest = secs.rem_euclid(86_400);
    let (year, month, day) = civil(days);
    Fields {
        year,
        month,
        day,
        hour: rest / 3600,
        minute: rest % 3600 / 60,
        second: rest % 60,
        weekday: (days + 4).rem_euclid(7),
        yday: days - days_from_civil(year, 1, 1) + 1,
    }
}

const LONG_DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const LONG_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// ISO 8601 (year, week) of a date.
fn iso_week(t: &Fields) -> (i64, i64) {
    let dow_mon = if t.weekday == 0 { 7 } else { t.weekday };
    let day = i64::from(t.day);
    if t.month == 12 && 35 <= 7 + day - dow_mon {
        return (t.year + 1, 1);
    }
    if t.month == 1 && day <= 3 {
        let k = 7 - day + dow_mon;
        if k >= 11 {
            let y = t.year - 1;
            let week = if k == 11 || (k == 12 && is_leap(y)) {
                53
            } else {
                52
            };
            return (y, week);
        }
    }
    let base = 7 + t.yday - dow_mon;
    (t.year, base / 7 + i64::from(base % 7 >= 4))
}

/// `timefmt(format[, secs])`: `$`-codes expanded from the time (UTC).
fn timefmt(ev: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let secs = match args.get(1) {
        Some(s) => to_i64(s),
        None => ev.world.now(),
    };
    let t = fields(secs);
    let hour12 = if t.hour % 12 == 0 { 12 } else { t.hour % 12 };
    let dow_mon = if t.weekday == 0 { 7 } else { t.weekday };
    let week_sun = (t.yday - t.weekday + 6) / 7;
    let week_mon = (t.yday - dow_mon + 7) / 7;
    let (iso_year, iso_wk) = iso_week(&t);
    let month_short = MONTHS[(t.month - 1) as usize];
    let month_long = LONG_MONTHS[(t.month - 1) as usize];
    let day_short = DAYS[((t.weekday + 3) % 7) as usize];
    let day_long = LONG_DAYS[t.weekday as usize];
    let ampm = if t.hour < 12 { "AM" } else { "PM" };
    let mut rest = args[0].as_str();
    while let Some(at) = rest.find('$') {
        push(out, &rest[..at]);
        let after = &rest[at + 1..];
        let mut it = after.char_indices();
        let mut opt = None;
        let mut code = it.next();
        if let Some((_, c @ ('#' | 'E' | 'O'))) = code {
            opt = Some(c);
            code = it.next();
        }
        let alt = opt == Some('#');
        let num = |n: i64, width: usize| {
            if alt {
                n.to_string()
            } else {
                format!("{n:0width$}")
            }
        };
        let Some((i, c)) = code else {
            // A trailing `$` is kept.
            push_char(out, '$');
            rest = after;
            continue;
        };
        let text = match c {
            'a' => day_short.to_string(),
            'A' => day_long.to_string(),
            'b' | 'h' => month_short.to_string(),
            'B' => month_long.to_string(),
            'c' if alt => format!(
                "{day_long}, {month_long} {}, {}, {:02}:{:02}:{:02}",
                t.day, t.year, t.hour, t.minute, t.second
            ),
            'c' => ctime(secs),
            'C' => (t.year / 100).to_string(),
            'd' => num(i64::from(t.day), 2),
            'x' if alt => format!("{day_long}, {month_long} {}, {}", t.day, t.year),
            'x' | 'D' => format!("{:02}/{:02}/{:02}", t.month, t.day, t.year % 100),
            'e' => format!("{:2}", t.day),
            'F' => format!("{}-{:02}-{:02}", t.year, t.month, t.day),
            'g' => format!("{:02}", iso_year % 100),
            'G' => format!("{iso_year:04}"),
            'H' => num(t.hour, 2),
            'I' => num(hour12, 2),
            'j' => num(t.yday, 3),
            'k' => format!("{:2}", t.hour),
            'l' => format!("{hour12:2}"),
            'm' => num(i64::from(t.month), 2),
            'M' => num(t.minute, 2),
            'n' => "\r\n".to_string(),
            'p' => ampm.to_string(),
            'P' => ampm.to_ascii_lowercase(),
            'r' => format!("{}:{:02}:{:02} {ampm}", num(hour12, 2), t.minute, t.second),
            'R' => format!("{}:{:02}", num(t.hour, 2), t.minute),
            's' => secs.to_string(),
            'S' => num(t.second, 2),
            't' => "\t".to_string(),
            'X' | 'T' => format!("{}:{:02}:{:02}", num(t.hour, 2), t.minute, t.second),
            'u' => dow_mon.to_string(),
            'U' => num(week_sun, 2),
            'V' => format!("{iso_wk:02}"),
            'w' => t.weekday.to_string(),
            'W' => num(week_mon, 2),
            'y' => num(t.year % 100, 2),
            'Y' => num(t.year, 4),
            'z' => "+0000".to_string(),
            'Z' => String::new(),
            '$' => "$".to_string(),
            _ => {
                // Unknown: the `$` stays and the text after it is read as text.
                push_char(out, '$');
                rest = after;
                continue;
            }
        };
        push(out, &text);
        rest = &after[i + c.len_utf8()..];
    }
    push(out, rest);
    Ok(())
}

/// `etimefmt(format, secs)`: `$`-codes for days, hours, minutes and seconds of a span.
fn etimefmt(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let total = to_i64(&args[1]);
    let mut seconds = total;
    let mut minutes = seconds / 60;
    seconds -= 60 * minutes;
    let mut hours = minutes / 60;
    minutes -= 60 * hours;
    let days = hours / 24;
    hours -= 24 * days;
    let mut rest = args[0].as_str();
    while let Some(at) = rest.find('$') {
        push(out, &rest[..at]);
        let after = &rest[at + 1..];
        let bytes = after.as_bytes();
        let mut i = 0;
        let mut width: Option<usize> = None;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            let w = width.unwrap_or(0) * 10 + usize::from(bytes[i] - b'0');
            width = Some(w.min(11));
            i += 1;
        }
        let (mut suffix, mut blank) = (false, false);
        while i < bytes.len() && matches!(bytes[i], b'x' | b'X' | b'z' | b'Z') {
            if bytes[i].eq_ignore_ascii_case(&b'x') {
                suffix = true;
            } else {
                blank = true;
            }
            i += 1;
        }
        let code = bytes.get(i).copied();
        let field = match code {
            Some(b's') => Some((seconds, ' ', 's')),
            Some(b'S') => Some((seconds, '0', 's')),
            Some(b'm') => Some((minutes, ' ', 'm')),
            Some(b'M') => Some((minutes, '0', 'm')),
            Some(b'h') => Some((hours, ' ', 'h')),
            Some(b'H') => Some((hours, '0', 'h')),
            Some(b'd') => Some((days, ' ', 'd')),
            Some(b'D') => Some((days, '0', 'd')),
            _ => None,
        };
        match (code, field) {
            (_, Some((value, fillc, letter))) => {
                if value != 0 || !blank {
                    let digits = value.to_string();
                    if let Some(w) = width {
                        for _ in digits.len()..w {
                            push_char(out, fillc);
                        }
                    }
                    push(out, &digits);
                    if suffix {
                        push_char(out, letter);
                    }
                }
                rest = &after[i + 1..];
            }
            (Some(b'n'), None) => {
                push(out, "\r\n");
                rest = &after[i + 1..];
            }
            (Some(b'$'), None) => {
                push_char(out, '$');
                rest = &after[i + 1..];
            }
            _ => {
                push_char(out, '$');
                rest = after;
            }
        }
    }
    push(out, rest);
    Ok(())
}

/// TinyMUX's units for spans of time: seconds, letter, name.
const UNITS: [(i64, char, &str); 7] = [
    (31_556_926, 'y', "year"),
    (2_629_743, 'M', "month"),
    (604_800, 'w', "week"),
    (86_400, 'd', "day"),
    (3_600, 'h', "hour"),
    (60, 'm', "minute"),
    (1, 's', "second"),
];

/// A span in units: the largest only (`single`), or every non-zero one; with letters or
/// with names.
fn span_text(secs: i64, single: bool, names: bool) -> String {
    let mut secs = secs.max(0);
    let mut text = String::new();
    for (i, (base, letter, name)) in UNITS.iter().enumerate() {
        let last = i + 1 == UNITS.len();
        if *base > secs && !last {
            continue;
        }
        let value = secs / base;
        secs -= value * base;
        if value != 0 || last {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(&value.to_string());
            if names {
                text.push(' ');
                text.push_str(name);
                if value != 1 {
                    text.push('s');
                }
            } else {
                text.push(*letter);
            }
        }
        if single {
            break;
        }
    }
    text
}

fn digittime(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let secs = to_i64(&args[0]).max(0);
    let days = secs / 86_400;
    let hours = secs % 86_400 / 3600;
    let minutes = secs % 3600 / 60;
    if days > 0 {
        push(out, &format!("{days}d {hours:02}:{minutes:02}"));
    } else {
        push(out, &format!("{hours:02}:{minutes:02}"));
    }
    Ok(())
}

fn singletime(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, &span_text(to_i64(&args[0]), true, false));
    Ok(())
}

fn exptime(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, &span_text(to_i64(&args[0]), false, false));
    Ok(())
}

fn writetime(_: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    push(out, &span_text(to_i64(&args[0]), false, true));
    Ok(())
}

/// `poll()`: the header of the `@doing` column (no `@poll` is set).
fn poll(_: &mut Eval<'_>, _: &Frame<'_>, _: Args<'_>, out: Out<'_>) -> R {
    push(out, "Doing");
    Ok(())
}

/// `config(name)`: the configuration values softcode may read.
fn config(ev: &mut Eval<'_>, _: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let value = match args[0].trim().to_ascii_lowercase().as_str() {
        "money_name_singular" => "Penny".to_string(),
        "money_name_plural" => "Pennies".to_string(),
        "output_limit" => "16384".to_string(),
        "function_invocation_limit" => ev.limits.invocations.to_string(),
        "function_recursion_limit" => ev.limits.nesting.to_string(),
        "space_compress" => bool_str(ev.limits.space_compress).to_string(),
        _ => "#-1 NO MATCH".to_string(),
    };
    push(out, &value);
    Ok(())
}

/// `fcount()`: function invocations so far in this command.
fn fcount(ev: &mut Eval<'_>, _: &Frame<'_>, _: Args<'_>, out: Out<'_>) -> R {
    push(out, &ev.invocations().to_string());
    Ok(())
}

/// `hasquota()`: quotas are not kept.
fn hasquota(_: &mut Eval<'_>, _: &Frame<'_>, _: Args<'_>, out: Out<'_>) -> R {
    push(out, "#-1 Quotas are not enabled.");
    Ok(())
}

/// `motd()`: no message of the day is set.
fn motd(_: &mut Eval<'_>, _: &Frame<'_>, _: Args<'_>, _: Out<'_>) -> R {
    Ok(())
}

/// `dumping()`: the database is never being dumped.
fn dumping(_: &mut Eval<'_>, _: &Frame<'_>, _: Args<'_>, out: Out<'_>) -> R {
    push(out, "0");
    Ok(())
}

/// `error()`: the message for an unknown command.
fn error(_: &mut Eval<'_>, _: &Frame<'_>, _: Args<'_>, out: Out<'_>) -> R {
    push(out, "Huh?  (Type \"help\" for help.)");
    Ok(())
}

/// `lattrcmds(obj)`: the object's attributes that hold `$`-commands.
fn lattrcmds(ev: &mut Eval<'_>, frame: &Frame<'_>, args: Args<'_>, out: Out<'_>) -> R {
    let obj = match resolve(ev, frame.executor, &args[0])? {
        Ok(id) => id,
        Err(message) => {
            push(out, message);
            return Ok(());
        }
    };
    if !controls(ev, frame.executor, obj)? {
        push(out, "#-1 PERMISSION DENIED");
        return Ok(());
    }
    let mut first = true;
    for name in ev.world.attr_names(obj)? {
        let Some(attr) = ev.world.attr(obj, &name)? else {
            continue;
        };
        if attr.value.starts_with('$') && !attr.flags.has(AttrFlags::NO_COMMAND) {
            if !first {
                push_char(out, ' ');
            }
            first = false;
            push(out, &name);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctime_round_trips() {
        assert_eq!(ctime(0), "Thu Jan 01 00:00:00 1970");
        assert_eq!(ctime(1_795_615_247), "Wed Nov 25 14:00:47 2026");
        for s in [0, 59, 86_399, 951_782_400, 1_795_615_247, 4_102_444_800] {
            assert_eq!(parse_ctime(&ctime(s)), Some(s));
        }
        assert_eq!(parse_ctime("not a time"), None);
    }
}
