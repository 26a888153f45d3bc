//! Wildcard patterns as TinyMUX's `quick_wild` and `wild` match them: `*` any run, `?`
//! one character, `\` makes the next character literal; case-insensitive.

/// True when `text` matches `pattern`.
pub fn matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    capture(&p, &t, None)
}

/// Matches and returns what each wildcard matched (`*` and `?` each capture), as `$-commands`
/// and `switch()` hand them to `%0`-`%9`.
pub fn captures(pattern: &str, text: &str) -> Option<Vec<String>> {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let mut caps = Vec::new();
    capture(&p, &t, Some(&mut caps)).then_some(caps)
}

fn eq(a: char, b: char) -> bool {
    a == b || a.to_lowercase().eq(b.to_lowercase())
}

fn capture(p: &[char], t: &[char], caps: Option<&mut Vec<String>>) -> bool {
    // Iterative with backtracking to the last star; captures are rebuilt at the end.
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    // For each wildcard in the pattern: the text range it matched.
    let mut spans: Vec<(usize, usize, usize)> = Vec::new(); // (pattern index, start, end)
    let mut star_spans_len = 0usize;
    while ti < t.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    // Collapse runs of stars: each still captures (the extra ones capture "").
                    star = Some((pi, ti));
                    spans.push((pi, ti, ti));
                    star_spans_len = spans.len();
                    pi += 1;
                    continue;
                }
                '?' => {
                    spans.push((pi, ti, ti + 1));
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
                spans.truncate(star_spans_len);
                let st = st + 1;
                star = Some((sp, st));
                if let Some(last) = spans.last_mut() {
                    last.2 = st;
                }
                pi = sp + 1;
                ti = st;
            }
            None => return false,
        }
    }
    while pi < p.len() && p[pi] == '*' {
        spans.push((pi, ti, ti));
        pi += 1;
    }
    if pi != p.len() {
        return false;
    }
    if let Some(caps) = caps {
        spans.sort_by_key(|s| s.0);
        caps.extend(
            spans
                .iter()
                .map(|&(_, s, e)| t[s..e].iter().collect::<String>()),
        );
    }
    true
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
    fn captures_each_wildcard() {
        assert_eq!(
            captures("greet *", "greet Bob"),
            Some(vec!["Bob".to_string()])
        );
        assert_eq!(
            captures("* to *", "give ball to Ann"),
            Some(vec!["give ball".to_string(), "Ann".to_string()])
        );
        assert_eq!(
            captures("a?c*", "abcde"),
            Some(vec!["b".to_string(), "de".to_string()])
        );
    }
}
