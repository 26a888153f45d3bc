//! Wildcard patterns as TinyMUX's `quick_wild` and `wild` match them: `*` any run, `?`
//! one character, `\` makes the next character literal; case-insensitive.

/// True when `text` matches `pattern`.
pub fn matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Left to right, backing up to the last `*` on a mismatch: linear for one star,
    // never exponential.
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ti));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                '\\' if pi + 1 < p.len() => {
                    if eq(p[pi + 1], t[ti]) {
                        pi += 2;
                        ti += 1;
                        continue;
                    }
                }
                c => {
                    if eq(c, t[ti]) {
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, st)) => {
                star = Some((sp, st + 1));
                pi = sp + 1;
                ti = st + 1;
            }
            None => return false,
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// TinyMUX's `wild_match` as `@switch` and lock keys use it: `<n` and `>n` compare numbers
/// (or text, when either side is not a number), anything else is a wildcard match.
pub fn compare(pattern: &str, value: &str) -> bool {
    use crate::functions::{is_number, to_f64};
    if let Some(rest) = pattern.strip_prefix('<') {
        return if is_number(rest) && is_number(value) {
            to_f64(value) < to_f64(rest)
        } else {
            value < rest
        };
    }
    if let Some(rest) = pattern.strip_prefix('>') {
        return if is_number(rest) && is_number(value) {
            to_f64(value) > to_f64(rest)
        } else {
            value > rest
        };
    }
    matches(pattern, value)
}

/// Most matching steps one [`capture`] may take: hostile patterns (`$*a*a*a*a*b`) stop
/// there as a failed match instead of backtracking exponentially.
const CAPTURE_STEPS: usize = 100_000;

/// Matches as TinyMUX's `wild()` does for `$`-commands and `^`-listens: each `*` and `?`
/// captures what it matched (a `*` as little as it can, so `* *` against `a b c` gives
/// `a` and `b c`), up to ten captures; `None` when the text does not match.
pub fn capture(pattern: &str, text: &str) -> Option<Vec<String>> {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let mut caps: Vec<(usize, usize)> = Vec::new();
    let mut steps = 0usize;
    if !capture_at(&p, &t, 0, 0, &mut caps, &mut steps) {
        return None;
    }
    Some(
        caps.iter()
            .take(10)
            .map(|&(a, b)| t[a..b].iter().collect())
            .collect(),
    )
}

fn capture_at(
    p: &[char],
    t: &[char],
    pi: usize,
    ti: usize,
    caps: &mut Vec<(usize, usize)>,
    steps: &mut usize,
) -> bool {
    *steps += 1;
    if *steps > CAPTURE_STEPS {
        return false;
    }
    let Some(&c) = p.get(pi) else {
        return ti == t.len();
    };
    match c {
        '*' => {
            // The last star takes the rest at once.
            if pi + 1 == p.len() {
                caps.push((ti, t.len()));
                return true;
            }
            for end in ti..=t.len() {
                caps.push((ti, end));
                if capture_at(p, t, pi + 1, end, caps, steps) {
                    return true;
                }
                caps.pop();
                if *steps > CAPTURE_STEPS {
                    return false;
                }
            }
            false
        }
        '?' => {
            if ti >= t.len() {
                return false;
            }
            caps.push((ti, ti + 1));
            if capture_at(p, t, pi + 1, ti + 1, caps, steps) {
                return true;
            }
            caps.pop();
            false
        }
        '\\' if pi + 1 < p.len() => {
            ti < t.len() && eq(p[pi + 1], t[ti]) && capture_at(p, t, pi + 2, ti + 1, caps, steps)
        }
        c => ti < t.len() && eq(c, t[ti]) && capture_at(p, t, pi + 1, ti + 1, caps, steps),
    }
}

fn eq(a: char, b: char) -> bool {
    a == b || a.to_lowercase().eq(b.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases = [
            ("*", "", true),
            ("*", "abc", true),
            ("a*c", "abbbc", true),
            ("a*c", "abbb", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("A*", "abc", true),
            ("\\*", "*", true),
            ("\\*", "a", false),
            ("*b*", "aaabccc", true),
            ("", "", true),
            ("", "a", false),
        ];
        for (p, t, want) in cases {
            assert_eq!(matches(p, t), want, "{p:?} against {t:?}");
        }
    }

    #[test]
    fn captures() {
        let cases: &[(&str, &str, Option<&[&str]>)] = &[
            ("greet *", "greet bob", Some(&["bob"])),
            ("greet *", "GREET Bob", Some(&["Bob"])),
            ("* *", "a b c", Some(&["a", "b c"])),
            ("+roll ?d*", "+roll 3d6", Some(&["3", "6"])),
            ("x", "x", Some(&[])),
            ("x *", "y z", None),
            ("*", "", Some(&[""])),
            ("a\\*", "a*", Some(&[])),
        ];
        for (p, t, want) in cases {
            let got = capture(p, t);
            let want = want.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            assert_eq!(got, want, "{p:?} against {t:?}");
        }
        // A hostile pattern gives up instead of backtracking for ever.
        let text = "a".repeat(60);
        assert_eq!(capture("*a*a*a*a*a*a*a*a*b", &text), None);
    }
}
