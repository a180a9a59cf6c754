//! Line edits of shell scripts (a `run:` body, a GitLab `script:` item, a script file on
//! the publish path): the legacy token lines go, the id-token mint comes in.
//!
//! Only whole lines are touched, and only lines that stand alone as a command (no
//! continuation before or after) or a whole `if … fi` block; anything else is left to a
//! human ([`Edit::Unsure`]).

use std::sync::LazyLock;

use regex::Regex;

/// The audience npm's registry expects in an id token.
pub const NPM_AUDIENCE: &str = "npm:registry.npmjs.org";

/// A line that writes a registry credential (npmrc line, npm/yarn/pnpm config set).
static WRITES_AUTH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:_authToken|npmAuthToken|:_auth\b|\b_auth\s*=|:_password\b)")
        .expect("static regex")
});
static AUTH_HOST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"//([A-Za-z0-9.-]+)(?::\d+)?[^\s:]*:_auth").expect("static regex")
});
static WHOAMI: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:npm|pnpm|yarn)\s+(?:npm\s+)?whoami\b").expect("static regex")
});
static WHOAMI_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(\s*)(?:npm|pnpm|yarn)\s+(?:npm\s+)?whoami(?:\s+--registry[= ]\S+)?\s*(?:&&|;)\s*",
    )
    .expect("static regex")
});
static CIRCLE_MINT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"circleci\s+run\s+oidc\s+get").expect("static regex"));
static SET_E: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*set\s+-[a-z]*e").expect("static regex"));
/// A variable reference, `$NAME` or `${NAME`.
static VAR_REF: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)").expect("static regex"));

fn is_npmjs_line(line: &str) -> bool {
    match AUTH_HOST.captures(line) {
        Some(c) => c.get(1).is_some_and(|h| h.as_str() == "registry.npmjs.org"),
        None => true,
    }
}

/// What a line of a script is, for the fixer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// Writes a credential for npmjs (from a stored token or the id token).
    TokenWrite,
    /// `npm whoami` (needs a stored token; fails under OIDC).
    Whoami,
    /// Checks that a stored npm token is set.
    TokenCheck,
    /// Mints a CircleCI id token.
    Mint,
    Other,
}

pub fn classify(line: &str) -> LineKind {
    let t = line.trim();
    if t.starts_with('#') {
        return LineKind::Other;
    }
    if CIRCLE_MINT.is_match(t) {
        return LineKind::Mint;
    }
    if WRITES_AUTH.is_match(t) && is_npmjs_line(t) {
        return LineKind::TokenWrite;
    }
    if WHOAMI.is_match(t) {
        return LineKind::Whoami;
    }
    let checks = t.starts_with("[ ")
        || t.starts_with("[[ ")
        || t.starts_with("test ")
        || t.starts_with("if ")
        || t.starts_with(": \"${")
        || t.starts_with(": ${");
    // A variable that holds a stored npm token (never `NPM_ID_TOKEN`).
    let stored = VAR_REF.captures_iter(t).any(|c| {
        c.get(1)
            .is_some_and(|v| crate::facts::is_token_name(v.as_str()))
    });
    if checks && stored {
        return LineKind::TokenCheck;
    }
    LineKind::Other
}

/// The result of editing a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    Unchanged,
    Changed(String),
    /// A line that must go is tangled with others; the reason names it.
    Unsure(String),
}

/// Lines of a script with the index where each logical command starts.
struct Lines<'a> {
    lines: Vec<&'a str>,
    trailing_newline: bool,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Lines<'a> {
        let trailing_newline = text.ends_with('\n');
        let body = text.strip_suffix('\n').unwrap_or(text);
        Lines {
            lines: body.split('\n').collect(),
            trailing_newline,
        }
    }

    fn continued(line: &str) -> bool {
        let t = line.trim_end();
        t.ends_with('\\') || t.ends_with("&&") || t.ends_with("||") || t.ends_with('|')
    }

    /// Whether line `i` is a command of its own.
    fn alone(&self, i: usize) -> bool {
        let before = i
            .checked_sub(1)
            .and_then(|p| self.lines.get(p))
            .is_some_and(|p| Self::continued(p));
        !before && !self.lines.get(i).is_some_and(|l| Self::continued(l))
    }

    /// The end (inclusive) of the `if` block starting at `i`, when it has a matching `fi`.
    fn if_block_end(&self, i: usize) -> Option<usize> {
        let first = self.lines.get(i)?.trim();
        if !first.starts_with("if ") {
            return None;
        }
        if first.ends_with(" fi") || first.ends_with(";fi") {
            return Some(i);
        }
        let mut depth = 0usize;
        for (j, l) in self.lines.iter().enumerate().skip(i) {
            let t = l.trim();
            if t.starts_with("if ") && !(t.ends_with(" fi") || t.ends_with(";fi")) {
                depth += 1;
            } else if t == "fi" || t.starts_with("fi ") || t.starts_with("fi;") {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(j);
                }
            }
        }
        None
    }

    /// The first line at or after `i` that is not part of a mint's tail: a check that
    /// the id token is set (one line, or an `if … fi` block), `export NPM_ID_TOKEN`, or
    /// its hand-over to `$BASH_ENV`.
    fn mint_tail(&self, mut i: usize) -> usize {
        static TAIL: LazyLock<Regex> = LazyLock::new(|| {
            Regex::new(r#"^\s*(?:export\s+NPM_(?:ID_)?TOKEN\s*$|\[\[?\s+-[nz]\s+"?\$\{?NPM_ID_TOKEN\}?"?\s+\]\]?\s*(?:\|\||&&)|(?:printf|echo)\b.*NPM_ID_TOKEN.*>>\s*"?\$\{?BASH_ENV)"#)
                .expect("static regex")
        });
        static GUARD_IF: LazyLock<Regex> = LazyLock::new(|| {
            Regex::new(r#"^\s*if\s+\[\[?\s+-[nz]\s+"?\$\{?NPM_ID_TOKEN\}?"?\s+\]\]?"#)
                .expect("static regex")
        });
        while let Some(line) = self.lines.get(i) {
            if TAIL.is_match(line) {
                i += 1;
            } else if GUARD_IF.is_match(line)
                && let Some(end) = self.if_block_end(i)
            {
                i = end + 1;
            } else {
                break;
            }
        }
        i
    }

    fn join(&self, lines: &[String]) -> String {
        let mut s = lines.join("\n");
        if self.trailing_newline && !s.is_empty() {
            s.push('\n');
        }
        s
    }
}

/// Remove the legacy token lines: credential writes for npmjs, `npm whoami`, checks that
/// a stored token is set. A mint line is left for [`canonical_mint`] to replace.
pub fn strip_token_lines(text: &str) -> Edit {
    let l = Lines::new(text);
    let mut keep: Vec<String> = Vec::with_capacity(l.lines.len());
    let mut changed = false;
    let mut i = 0;
    while i < l.lines.len() {
        let line = l.lines[i];
        let kind = classify(line);
        let is_if = line.trim_start().starts_with("if ");
        match kind {
            LineKind::TokenWrite | LineKind::Whoami | LineKind::TokenCheck if is_if => {
                match l.if_block_end(i) {
                    Some(end) if l.alone(i) || end > i => {
                        changed = true;
                        i = end + 1;
                        continue;
                    }
                    _ => {
                        return Edit::Unsure(format!(
                            "line `{}` is part of a larger command",
                            line.trim()
                        ));
                    }
                }
            }
            LineKind::Whoami if WHOAMI_PREFIX.is_match(line) => {
                let rest = WHOAMI_PREFIX.replace(line, "$1").into_owned();
                changed = true;
                if !rest.trim().is_empty() {
                    keep.push(rest);
                }
            }
            LineKind::TokenWrite | LineKind::Whoami | LineKind::TokenCheck => {
                if !l.alone(i) {
                    return Edit::Unsure(format!(
                        "line `{}` is part of a larger command",
                        line.trim()
                    ));
                }
                changed = true;
            }
            _ => keep.push(line.to_string()),
        }
        i += 1;
    }
    if changed {
        Edit::Changed(l.join(&keep))
    } else {
        Edit::Unchanged
    }
}

/// Whether what is left of a script does nothing (blank lines, comments, `set` lines).
pub fn is_empty_script(text: &str) -> bool {
    text.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#') || t.starts_with("set ")
    })
}

/// The canonical CircleCI mint, indented like the line it goes before: assignment on its
/// own line (so `set -e` sees a failure), a guard against an empty token, then the export;
/// with `to_bash_env`, the token is also handed to later steps through `$BASH_ENV`.
pub fn canonical_mint(indent: &str, to_bash_env: bool) -> Vec<String> {
    let mut v = vec![
        format!(
            "{indent}NPM_ID_TOKEN=\"$(circleci run oidc get --claims '{{\"aud\":\"{NPM_AUDIENCE}\"}}')\""
        ),
        format!("{indent}if [ -z \"$NPM_ID_TOKEN\" ]; then"),
        format!("{indent}  echo \"circleci run oidc get returned an empty token\" >&2"),
        format!("{indent}  exit 1"),
        format!("{indent}fi"),
        format!("{indent}export NPM_ID_TOKEN"),
    ];
    if to_bash_env {
        v.push(format!(
            "{indent}printf 'export NPM_ID_TOKEN=%q\\n' \"$NPM_ID_TOKEN\" >> \"$BASH_ENV\""
        ));
    }
    v
}

/// The `set` line a script that mints gets first: `-u` only where no other variable is
/// read (so a script that reads an unset `$CIRCLE_TAG` does not start failing).
fn set_line(lines: &[String]) -> String {
    let reads_vars = lines.iter().any(|l| {
        VAR_REF.captures_iter(l).any(|c| {
            c.get(1)
                .is_some_and(|v| v.as_str() != "NPM_ID_TOKEN" && v.as_str() != "BASH_ENV")
        })
    });
    if reads_vars {
        "set -eo pipefail".to_string()
    } else {
        "set -euo pipefail".to_string()
    }
}

/// Where a command starting at or after line `i` begins (back over continuations).
fn command_start(lines: &[&str], mut i: usize) -> usize {
    while i > 0 && Lines::continued(lines[i - 1]) {
        i -= 1;
    }
    i
}

/// Put the canonical mint into a script: replacing the existing mint lines when there are
/// any (a masked, misused or misquoted one), else before line `publish_line` (0-based, in
/// `text`), and `set -e…` first unless the script already stops on errors.
pub fn with_mint(text: &str, publish_line: Option<usize>, to_bash_env: bool) -> Edit {
    let l = Lines::new(text);
    let mut out: Vec<String> = Vec::new();
    let mut minted = false;
    let mut i = 0;
    while i < l.lines.len() {
        let line = l.lines[i];
        if classify(line) == LineKind::Mint {
            if !l.alone(i) {
                return Edit::Unsure(format!(
                    "the mint `{}` is part of a larger command",
                    line.trim()
                ));
            }
            if !minted {
                let indent = &line[..line.len() - line.trim_start().len()];
                out.extend(canonical_mint(indent, to_bash_env));
                minted = true;
            }
            // What follows a mint and belongs to it (its guard, its export, its hand-over
            // to $BASH_ENV) is replaced with it, so a canonical mint stays as it is.
            i = l.mint_tail(i + 1) - 1;
            i += 1;
            continue;
        }
        if !minted && publish_line == Some(i) {
            let start = command_start(&l.lines, i);
            let at = out.len() - (i - start);
            let indent =
                &l.lines[start][..l.lines[start].len() - l.lines[start].trim_start().len()];
            let block = canonical_mint(indent, to_bash_env);
            out.splice(at..at, block);
            minted = true;
        }
        out.push(line.to_string());
        i += 1;
    }
    if !minted {
        if publish_line.is_some() {
            return Edit::Unsure("the publish line was not found in the script".into());
        }
        out.extend(canonical_mint("", to_bash_env));
    }
    if !l.lines.iter().any(|x| SET_E.is_match(x)) {
        let set = set_line(&out);
        out.insert(0, set);
    }
    let new = l.join(&out);
    if new == text {
        Edit::Unchanged
    } else {
        Edit::Changed(new)
    }
}

/// Remove the mint lines (with their guard, export and `$BASH_ENV` hand-over) from a
/// step whose token is not needed: the publishing step mints its own.
pub fn without_mint(text: &str) -> Edit {
    let l = Lines::new(text);
    let mut out = Vec::new();
    let mut i = 0;
    let mut changed = false;
    while i < l.lines.len() {
        let line = l.lines[i];
        if classify(line) == LineKind::Mint {
            if !l.alone(i) {
                return Edit::Unsure(format!(
                    "the mint `{}` is part of a larger command",
                    line.trim()
                ));
            }
            changed = true;
            i = l.mint_tail(i + 1);
            continue;
        }
        out.push(line.to_string());
        i += 1;
    }
    if changed {
        Edit::Changed(l.join(&out))
    } else {
        Edit::Unchanged
    }
}

/// Replace the first standalone `npm publish` of each line with `npm stage publish`.
pub fn staged(text: &str) -> Edit {
    static PUBLISH: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\bnpm\s+publish\b").expect("static regex"));
    let new = PUBLISH.replace_all(text, "npm stage publish").into_owned();
    if new == text {
        Edit::Unchanged
    } else {
        Edit::Changed(new)
    }
}

/// `bun publish ARGS` (bun has no OIDC) to a tarball packed by bun (so `workspace:` and
/// `catalog:` ranges are resolved) and published by npm, which does the exchange.
pub fn bun_to_npm(text: &str) -> Edit {
    static BUN: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(\s*)(?:bunx?\s+)?bun\s+publish\b(.*)$|^(\s*)bun\s+publish\b(.*)$")
            .expect("static regex")
    });
    let l = Lines::new(text);
    let mut out = Vec::new();
    let mut changed = false;
    for (i, line) in l.lines.iter().enumerate() {
        if let Some(c) = BUN.captures(line) {
            if !l.alone(i) {
                return Edit::Unsure(format!("`{}` is part of a larger command", line.trim()));
            }
            let indent = c.get(1).or(c.get(3)).map_or("", |m| m.as_str());
            let args = c.get(2).or(c.get(4)).map_or("", |m| m.as_str()).trim();
            out.push(format!("{indent}rm -rf .tokenless-pack"));
            out.push(format!("{indent}bun pm pack --destination .tokenless-pack"));
            let args = if args.is_empty() {
                String::new()
            } else {
                format!(" {args}")
            };
            out.push(format!("{indent}npm publish .tokenless-pack/*.tgz{args}"));
            changed = true;
        } else {
            out.push(line.to_string());
        }
    }
    if changed {
        Edit::Changed(l.join(&out))
    } else {
        Edit::Unchanged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_lines_go_and_others_stay() {
        let s = "npm ci\necho \"//registry.npmjs.org/:_authToken=$NPM_TOKEN\" > ~/.npmrc\nnpm whoami\necho \"//npm.pkg.github.com/:_authToken=$GH_TOKEN\" >> .npmrc\nnpm publish\n";
        assert_eq!(
            strip_token_lines(s),
            Edit::Changed("npm ci\necho \"//npm.pkg.github.com/:_authToken=$GH_TOKEN\" >> .npmrc\nnpm publish\n".into())
        );
    }

    #[test]
    fn if_blocks_checking_the_token_go_whole() {
        let s = "if [ -z \"$NPM_TOKEN\" ]; then\n  echo missing\n  exit 1\nfi\nnpm publish";
        assert_eq!(strip_token_lines(s), Edit::Changed("npm publish".into()));
        let s = "npm whoami && npm publish\n";
        assert_eq!(strip_token_lines(s), Edit::Changed("npm publish\n".into()));
    }

    #[test]
    fn the_id_token_guard_is_not_a_stored_token_check() {
        let s = "if [ -z \"$NPM_ID_TOKEN\" ]; then\n  exit 1\nfi\nnpm publish\n";
        assert_eq!(strip_token_lines(s), Edit::Unchanged);
        let Edit::Changed(minted) = with_mint("npm publish\n", Some(0), false) else {
            panic!()
        };
        assert_eq!(strip_token_lines(&minted), Edit::Unchanged);
    }

    #[test]
    fn the_id_token_guard_is_not_a_token_check() {
        let guard = canonical_mint("", false).join("\n") + "\nnpm publish\n";
        assert_eq!(strip_token_lines(&guard), Edit::Unchanged);
        let s =
            "if [ -z \"$NPM_ID_TOKEN\" ] || [ -z \"$NPM_TOKEN\" ]; then exit 1; fi\nnpm publish\n";
        assert_eq!(strip_token_lines(s), Edit::Changed("npm publish\n".into()));
    }

    #[test]
    fn a_token_line_inside_a_continued_command_needs_a_human() {
        let s = "npm config set //registry.npmjs.org/:_authToken=$NPM_TOKEN && \\\n  npm publish\n";
        assert!(matches!(strip_token_lines(s), Edit::Unsure(_)));
    }

    #[test]
    fn the_mint_goes_before_the_publish_with_set_e() {
        let s = "npm ci\nnpm publish --access public\n";
        let Edit::Changed(out) = with_mint(s, Some(1), false) else {
            panic!()
        };
        assert!(out.starts_with("set -euo pipefail\nnpm ci\nNPM_ID_TOKEN=\"$(circleci run oidc get --claims '{\"aud\":\"npm:registry.npmjs.org\"}')\"\n"), "{out}");
        assert!(out.ends_with("export NPM_ID_TOKEN\nnpm publish --access public\n"));
        // A script that reads other variables gets no -u.
        let Edit::Changed(out) = with_mint("npm publish --tag $TAG", Some(0), false) else {
            panic!()
        };
        assert!(out.starts_with("set -eo pipefail\n"));
    }

    #[test]
    fn an_existing_masked_mint_is_replaced() {
        let s = "export NPM_ID_TOKEN=$(circleci run oidc get --claims '{\"aud\": \"npm:registry.npmjs.org\"}')\nnpm publish\n";
        let Edit::Changed(out) = with_mint(s, Some(1), false) else {
            panic!()
        };
        assert_eq!(out.matches("$(circleci run oidc get").count(), 1);
        assert!(out.contains("if [ -z \"$NPM_ID_TOKEN\" ]; then"));
    }

    #[test]
    fn a_canonical_mint_is_left_as_it_is() {
        let Edit::Changed(once) = with_mint("npm publish\n", Some(0), true) else {
            panic!()
        };
        assert_eq!(with_mint(&once, Some(7), true), Edit::Unchanged);
        // An older guard and export are replaced with the mint, not kept after it.
        let old = "set -eu\nexport NPM_ID_TOKEN=$(circleci run oidc get --claims '{\"aud\":\"npm:registry.npmjs.org\"}')\n[ -n \"$NPM_ID_TOKEN\" ] || exit 1\nexport NPM_ID_TOKEN\nnpm publish\n";
        let Edit::Changed(new) = with_mint(old, None, false) else {
            panic!()
        };
        assert_eq!(new.matches("NPM_ID_TOKEN\" ]").count(), 1, "{new}");
        assert_eq!(with_mint(&new, None, false), Edit::Unchanged);
    }

    #[test]
    fn bun_publish_becomes_pack_then_npm_publish() {
        let Edit::Changed(out) = bun_to_npm("bun publish --access public\n") else {
            panic!()
        };
        assert_eq!(
            out,
            "rm -rf .tokenless-pack\nbun pm pack --destination .tokenless-pack\nnpm publish .tokenless-pack/*.tgz --access public\n"
        );
    }
}
