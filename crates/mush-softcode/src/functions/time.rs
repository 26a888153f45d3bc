//! Time: `secs`, `time`, `convsecs`, `convtime`, and `starttime`. Times are UTC.

use super::{Func, f, to_i64};
use crate::eval::{Eval, Frame, R, push};

/// The time family.
pub const FUNCS: &[Func] = &[
    f("SECS", 0, 1, secs),
    f("TIME", 0, 1, time),
    f("CONVSECS", 1, 2, convsecs),
    f("CONVTIME", 1, 2, convtime),
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

/// `Wed Nov 25 14:00:47 2026`, as C's `ctime` writes it.
pub fn ctime(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rest = secs.rem_euclid(86_400);
    let (y, m, d) = civil(days);
    format!(
        "{} {} {:2} {:02}:{:02}:{:02} {}",
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
        None => push(out, "-1"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctime_round_trips() {
        assert_eq!(ctime(0), "Thu Jan  1 00:00:00 1970");
        assert_eq!(ctime(1_795_615_247), "Wed Nov 25 14:00:47 2026");
        for s in [0, 59, 86_399, 951_782_400, 1_795_615_247, 4_102_444_800] {
            assert_eq!(parse_ctime(&ctime(s)), Some(s));
        }
        assert_eq!(parse_ctime("not a time"), None);
    }
}
