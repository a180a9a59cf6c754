//! Inline suppressions: `# tokenless: ignore[rule-id]` on the finding's line or the line above.
//!
//! A comment may name several ids, comma-separated: `# tokenless: ignore[a, b]`. It
//! suppresses findings of those rules whose span starts on the comment's line or on the
//! line below it (or whose span covers the comment's line, for multi-line spans such as
//! a `run: |` block). An id that is not in [`RULES`](crate::RULES) is an error that names
//! the line and column, so a typo never silently suppresses nothing.

use crate::finding::rule_meta;

const MARKER: &str = "tokenless:";

/// One `# tokenless: ignore[...]` comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    /// 1-based line of the comment.
    pub line: usize,
    /// The rule ids it names (all known).
    pub rules: Vec<String>,
}

/// A malformed suppression comment or an unknown rule id. `line`/`column` are 1-based,
/// the column counted in characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct SuppressionError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Every suppression comment in `source`, and the errors for the malformed ones.
pub fn parse(source: &str) -> (Vec<Suppression>, Vec<SuppressionError>) {
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for (index, line) in source.lines().enumerate() {
        let Some(marker_at) = comment_marker(line) else {
            continue;
        };
        let line_no = index + 1;
        let column_of = |byte: usize| line.get(..byte).map_or(1, |s| s.chars().count() + 1);
        let after = line.get(marker_at + MARKER.len()..).unwrap_or_default();
        let body = after.trim_start();
        let body_at = marker_at + MARKER.len() + (after.len() - body.len());
        let Some(list) = body
            .strip_prefix("ignore[")
            .and_then(|rest| rest.find(']').and_then(|end| rest.get(..end)))
        else {
            errors.push(SuppressionError {
                line: line_no,
                column: column_of(body_at),
                message: "expected `tokenless: ignore[rule-id, ...]`".to_owned(),
            });
            continue;
        };
        let list_at = body_at + "ignore[".len();
        let mut rules = Vec::new();
        let mut offset = 0;
        for item in list.split(',') {
            let id = item.trim();
            let id_at = list_at + offset + (item.len() - item.trim_start().len());
            offset += item.len() + 1;
            if id.is_empty() {
                errors.push(SuppressionError {
                    line: line_no,
                    column: column_of(id_at),
                    message: "empty rule id in `tokenless: ignore[...]`".to_owned(),
                });
            } else if rule_meta(id).is_none() {
                errors.push(SuppressionError {
                    line: line_no,
                    column: column_of(id_at),
                    message: format!("unknown rule id `{id}` in `tokenless: ignore[...]`"),
                });
            } else {
                rules.push(id.to_owned());
            }
        }
        if !rules.is_empty() {
            found.push(Suppression {
                line: line_no,
                rules,
            });
        }
    }
    (found, errors)
}

/// Whether a finding of `rule` spanning lines `start_line..=end_line` (1-based) is
/// suppressed by one of `suppressions`.
pub fn is_suppressed(
    suppressions: &[Suppression],
    rule: &str,
    start_line: usize,
    end_line: usize,
) -> bool {
    suppressions.iter().any(|s| {
        s.line + 1 >= start_line
            && s.line <= end_line.max(start_line)
            && s.rules.iter().any(|r| r == rule)
    })
}

/// The byte offset of `tokenless:` when it starts a comment on this line: after a `#`
/// that begins the line or follows whitespace (YAML's and the shell's comment rule).
fn comment_marker(line: &str) -> Option<usize> {
    let mut search_from = 0;
    while let Some(rel) = line.get(search_from..)?.find('#') {
        let hash = search_from + rel;
        let starts_comment = hash == 0
            || line
                .get(..hash)
                .and_then(|before| before.chars().next_back())
                .is_some_and(char::is_whitespace);
        if starts_comment {
            let after = line.get(hash + 1..)?;
            let text = after.trim_start();
            if text.starts_with(MARKER) {
                return Some(hash + 1 + (after.len() - text.len()));
            }
        }
        search_from = hash + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_one_or_several_ids() {
        let src = "a: 1 # tokenless: ignore[static-token-publish]\n\
                   # tokenless: ignore[npm-too-old, token-fallback]\n\
                   b: 2\n";
        let (found, errors) = parse(src);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            found,
            vec![
                Suppression {
                    line: 1,
                    rules: vec!["static-token-publish".into()]
                },
                Suppression {
                    line: 2,
                    rules: vec!["npm-too-old".into(), "token-fallback".into()]
                },
            ]
        );
    }

    #[test]
    fn unknown_ids_are_errors_with_their_column() {
        let (found, errors) = parse("x: 1  # tokenless: ignore[npm-too-old, no-such-rule]\n");
        assert_eq!(found.len(), 1);
        assert_eq!(
            errors,
            vec![SuppressionError {
                line: 1,
                column: 40,
                message: "unknown rule id `no-such-rule` in `tokenless: ignore[...]`".into()
            }]
        );
    }

    #[test]
    fn malformed_comments_are_errors() {
        let (found, errors) = parse("# tokenless: ignor[npm-too-old]\n# tokenless: ignore[]\n");
        assert!(found.is_empty());
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!((errors[0].line, errors[0].column), (1, 14));
        assert_eq!(errors[1].line, 2);
    }

    #[test]
    fn marker_inside_a_value_is_not_a_comment() {
        let (found, errors) = parse("url: http://x#tokenless: ignore[npm-too-old]\n");
        assert!(found.is_empty() && errors.is_empty());
    }

    #[test]
    fn applies_to_its_line_and_the_line_below() {
        let (found, _) = parse("\n# tokenless: ignore[npm-too-old]\n");
        assert!(is_suppressed(&found, "npm-too-old", 2, 2));
        assert!(is_suppressed(&found, "npm-too-old", 3, 3));
        assert!(!is_suppressed(&found, "npm-too-old", 4, 4));
        assert!(!is_suppressed(&found, "npm-too-old", 1, 1));
        assert!(!is_suppressed(&found, "token-fallback", 3, 3));
        // A multi-line span that covers the comment's line.
        assert!(is_suppressed(&found, "npm-too-old", 1, 5));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn parsing_never_panics_and_stays_in_range(source in "(?s)(.{0,30}(# tokenless: ignore\\[[a-z, -]{0,30}\\]?)?\n?){0,8}") {
            let (found, errors) = parse(&source);
            let lines = source.lines().count();
            for s in &found {
                prop_assert!(s.line >= 1 && s.line <= lines);
                prop_assert!(!s.rules.is_empty());
            }
            for e in &errors {
                prop_assert!(e.line >= 1 && e.line <= lines && e.column >= 1);
            }
        }
    }
}
