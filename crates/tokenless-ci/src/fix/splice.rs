//! Patches written straight into the text, for the shapes where that is exact: entries and
//! items of block collections removed by their lines, new keys and items added as lines
//! at their siblings' indentation, scalars replaced in place, literal blocks (`|`)
//! rewritten under their own header. Everything around an edit is untouched, byte for
//! byte. This is the fast path: yaml-edit builds a whole CST for every file it edits,
//! which costs more than linting the file; it stays the way for everything declined
//! here (flow collections, a key that shares its line with a `- `, …).
//!
//! Positions come from the analysis parse of the original text, and every edit is
//! computed against that text, so sequence indices mean what they meant when the
//! patches were planned. The result is checked like any other rewrite.

use super::route::{Route, Seg};
use super::{Op, Patch, Target, Value};
use crate::yaml::{Forest, NodeId, Style};

/// The node at `route`. Routes name own keys only ([`super::route::Router`]), so this
/// finds the node a route was made for.
pub(crate) fn node_at(forest: &Forest, root: NodeId, route: &Route) -> Option<NodeId> {
    let mut cur = root;
    for seg in &route.0 {
        cur = match seg {
            Seg::Key(k) => forest.get(cur, k)?,
            Seg::Index(i) => *forest.items(cur).get(*i)?,
        };
    }
    Some(cur)
}

/// Every patch written into `text`, or `None` when one of them is not a shape this
/// module writes exactly.
pub fn splice_all(forest: &Forest, root: NodeId, text: &str, patches: &[&Patch]) -> Option<String> {
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for p in patches {
        let Target::Route(route) = &p.at else {
            return None;
        };
        let edit = match &p.op {
            Op::Replace {
                value: Value::Str(new),
            } => literal_edit(forest, root, text, route, new)
                .or_else(|| scalar_edit(forest, root, text, route, new, eol))?,
            Op::Remove => remove_edit(forest, root, text, route)?,
            Op::Set { key, value, before } => set_edit(
                forest,
                root,
                text,
                route,
                key,
                value,
                before.as_deref(),
                eol,
            )?,
            Op::Insert { index, value } => {
                insert_edit(forest, root, text, route, *index, value, eol)?
            }
            Op::Replace { .. } => return None,
        };
        // Edits never overlap, and two insertions never share a position.
        if edits.iter().any(|(s, e, _)| {
            (edit.0 < *e && *s < edit.1) || (edit.0 == *s && (edit.0 == edit.1 || *s == *e))
        }) {
            return None;
        }
        edits.push(edit);
    }
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut out = text.to_string();
    for (start, end, new) in edits {
        out.replace_range(start..end, &new);
    }
    Some(out)
}

fn line_start(text: &str, pos: usize) -> usize {
    text.get(..pos)
        .and_then(|t| t.rfind('\n'))
        .map_or(0, |n| n + 1)
}

/// Just past the end of the line holding `pos` (its newline included).
fn line_end(text: &str, pos: usize) -> usize {
    text.get(pos..)
        .and_then(|t| t.find('\n'))
        .map_or(text.len(), |n| pos + n + 1)
}

/// The text between the start of `pos`'s line and `pos` is blanks only.
fn starts_line(text: &str, pos: usize) -> bool {
    text.get(line_start(text, pos)..pos)
        .is_some_and(|p| p.chars().all(|c| c == ' '))
}

/// A collection written in block style (not `{…}`/`[…]`).
fn is_block(forest: &Forest, text: &str, node: NodeId) -> bool {
    let s = forest.span(node).start;
    !matches!(text.as_bytes().get(s), Some(b'{' | b'['))
}

/// A scalar as YAML text: plain when that reads back as the same string, else
/// double-quoted.
fn scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && s.trim() == s
        && !s.starts_with([
            '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%',
            '@', '`',
        ])
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.ends_with(':')
        && !s.contains(['\n', '\r', '\t'])
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "~" | "y" | "n"
        );
    if plain {
        return s.to_string();
    }
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            '\t' => q.push_str("\\t"),
            '\r' => q.push_str("\\r"),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// `key: value` lines for a new entry whose key sits at column `col`.
fn entry_lines(key: &str, value: &Value, col: usize, eol: &str) -> Option<String> {
    let pad = " ".repeat(col);
    let key = scalar(key);
    Some(match value {
        Value::Str(s) if s.contains('\n') => format!("{pad}{key}: {}", block(s, col + 2, eol)?),
        Value::Str(s) => format!("{pad}{key}: {}{eol}", scalar(s)),
        Value::Map(entries) if !entries.is_empty() => {
            let mut out = format!("{pad}{key}:{eol}");
            for (k, v) in entries {
                out.push_str(&entry_lines(k, v, col + 2, eol)?);
            }
            out
        }
        Value::Seq(items) if !items.is_empty() => {
            let mut out = format!("{pad}{key}:{eol}");
            for v in items {
                out.push_str(&item_lines(v, col + 2, eol)?);
            }
            out
        }
        _ => return None,
    })
}

/// `- value` lines for a new sequence item whose dash sits at column `col`.
fn item_lines(value: &Value, col: usize, eol: &str) -> Option<String> {
    let pad = " ".repeat(col);
    Some(match value {
        Value::Str(s) if s.contains('\n') => format!("{pad}- {}", block(s, col + 2, eol)?),
        Value::Str(s) => format!("{pad}- {}{eol}", scalar(s)),
        Value::Map(entries) if !entries.is_empty() => {
            let mut out = String::new();
            for (i, (k, v)) in entries.iter().enumerate() {
                let lines = entry_lines(k, v, col + 2, eol)?;
                if i == 0 {
                    // The first key goes on the dash's line.
                    out.push_str(&pad);
                    out.push_str("- ");
                    out.push_str(lines.get(col + 2..)?);
                } else {
                    out.push_str(&lines);
                }
            }
            out
        }
        _ => return None,
    })
}

/// A literal block scalar (header and content lines) for `s`, content at column `col`.
fn block(s: &str, col: usize, eol: &str) -> Option<String> {
    if s.starts_with([' ', '\t']) || s.ends_with("\n\n") || s.contains('\r') {
        return None;
    }
    let chomp = if s.ends_with('\n') { "|" } else { "|-" };
    let pad = " ".repeat(col);
    let mut out = format!("{chomp}{eol}");
    for line in s.strip_suffix('\n').unwrap_or(s).split('\n') {
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
        out.push_str(eol);
    }
    Some(out)
}

/// The column of the first key of a block mapping.
fn key_column(forest: &Forest, text: &str, map: NodeId) -> Option<usize> {
    let (k, _) = forest.entries(map).first()?;
    let s = forest.span(*k).start;
    Some(s - line_start(text, s))
}

fn remove_edit(
    forest: &Forest,
    root: NodeId,
    text: &str,
    route: &Route,
) -> Option<(usize, usize, String)> {
    let (parent, last) = route.split_last()?;
    let p = node_at(forest, root, &parent)?;
    if !is_block(forest, text, p) {
        return None;
    }
    let pspan = forest.span(p);
    let within = |n: NodeId| {
        let s = forest.span(n);
        s.start >= pspan.start && s.end <= pspan.end
    };
    match last {
        Seg::Key(k) => {
            let (key, value) = forest.entry(p, k)?;
            if !within(key) || !within(value) || !starts_line(text, forest.span(key).start) {
                return None;
            }
            let start = line_start(text, forest.span(key).start);
            let end = line_end(text, forest.span(value).end.max(forest.span(key).end));
            Some((start, end, String::new()))
        }
        Seg::Index(i) => {
            let item = *forest.items(p).get(*i)?;
            if !within(item) {
                return None;
            }
            let s = forest.span(item).start;
            let start = line_start(text, s);
            // The dash is the first thing on the item's line.
            let prefix = text.get(start..s)?;
            let dash = prefix.trim_start_matches(' ');
            if !(dash.starts_with('-') && dash[1..].chars().all(|c| c == ' ')) {
                return None;
            }
            let end = line_end(text, forest.span(item).end.max(s));
            Some((start, end, String::new()))
        }
    }
}

fn scalar_edit(
    forest: &Forest,
    root: NodeId,
    text: &str,
    route: &Route,
    new: &str,
    eol: &str,
) -> Option<(usize, usize, String)> {
    let node = node_at(forest, root, route)?;
    let style = forest.style(node)?;
    if !matches!(
        style,
        Style::Plain | Style::SingleQuoted | Style::DoubleQuoted
    ) || forest.is_null(node)
    {
        return None;
    }
    let span = forest.span(node);
    if text.get(span.start..span.end)?.contains('\n') {
        return None;
    }
    if !new.contains('\n') {
        return Some((span.start, span.end, scalar(new)));
    }
    // A one-line value becoming several lines: a literal block under its key (not when
    // a comment follows it on its line, which the block would swallow).
    let rest = text.get(span.end..line_end(text, span.end))?;
    if !rest.trim().is_empty() {
        return None;
    }
    let (parent, Seg::Key(k)) = route.split_last()? else {
        return None;
    };
    let p = node_at(forest, root, &parent)?;
    let (key, _) = forest.entry(p, k)?;
    let ks = forest.span(key).start;
    let col = ks - line_start(text, ks);
    Some((
        span.start,
        line_end(text, span.end).min(text.len()),
        block(new, col + 2, eol)?,
    ))
}

#[allow(clippy::too_many_arguments)]
fn set_edit(
    forest: &Forest,
    root: NodeId,
    text: &str,
    route: &Route,
    key: &str,
    value: &Value,
    before: Option<&str>,
    eol: &str,
) -> Option<(usize, usize, String)> {
    let map = node_at(forest, root, route)?;
    if !forest.is_map(map) || !is_block(forest, text, map) || forest.entries(map).is_empty() {
        return None;
    }
    if forest.get(map, key).is_some() {
        // Replacing an existing value is a replace of that node.
        return match value {
            Value::Str(s) => scalar_edit(forest, root, text, &route.key(key), s, eol)
                .or_else(|| literal_edit(forest, root, text, &route.key(key), s)),
            _ => None,
        };
    }
    let col = key_column(forest, text, map)?;
    let lines = entry_lines(key, value, col, eol)?;
    let mspan = forest.span(map);
    let own = |n: NodeId| {
        let s = forest.span(n);
        s.start >= mspan.start && s.end <= mspan.end
    };
    if let Some(b) = before
        && let Some((bk, _)) = forest.entry(map, b)
        && own(bk)
        && starts_line(text, forest.span(bk).start)
    {
        let at = line_start(text, forest.span(bk).start);
        return Some((at, at, lines));
    }
    // After the last entry of the mapping's own text.
    let (lk, lv) = forest
        .entries(map)
        .iter()
        .rfind(|(k, v)| own(*k) && own(*v))?;
    let end = forest.span(*lv).end.max(forest.span(*lk).end);
    let at = line_end(text, end);
    let lead = if at == text.len() && !text.ends_with('\n') {
        eol
    } else {
        ""
    };
    Some((at, at, format!("{lead}{lines}")))
}

fn insert_edit(
    forest: &Forest,
    root: NodeId,
    text: &str,
    route: &Route,
    index: usize,
    value: &Value,
    eol: &str,
) -> Option<(usize, usize, String)> {
    let seq = node_at(forest, root, route)?;
    if !forest.is_seq(seq) || !is_block(forest, text, seq) {
        return None;
    }
    let items = forest.items(seq);
    // Every item's dash starts its line, at one column.
    let dash_col = |n: NodeId| -> Option<usize> {
        let s = forest.span(n).start;
        let ls = line_start(text, s);
        let prefix = text.get(ls..s)?;
        let col = prefix.len() - prefix.trim_start_matches(' ').len();
        let rest = &prefix[col..];
        (rest.starts_with('-') && rest[1..].chars().all(|c| c == ' ')).then_some(col)
    };
    let col = dash_col(*items.first()?)?;
    let lines = item_lines(value, col, eol)?;
    if let Some(item) = items.get(index) {
        if dash_col(*item)? != col {
            return None;
        }
        let at = line_start(text, forest.span(*item).start);
        return Some((at, at, lines));
    }
    if index != items.len() {
        return None;
    }
    let last = *items.last()?;
    let at = line_end(text, forest.span(last).end);
    let lead = if at == text.len() && !text.ends_with('\n') {
        eol
    } else {
        ""
    };
    Some((at, at, format!("{lead}{lines}")))
}

/// The new text of a literal block scalar (`|`) written in place: its header comment,
/// indentation, line endings and the blank lines after it stay as they were.
pub(crate) fn literal_edit(
    forest: &Forest,
    root: NodeId,
    text: &str,
    route: &Route,
    new: &str,
) -> Option<(usize, usize, String)> {
    let node = node_at(forest, root, route)?;
    if forest.style(node) != Some(Style::Literal) {
        return None;
    }
    let span = forest.span(node);
    // The span starts at the first content line; the header (`|`, chomping, a comment)
    // ends the line before it.
    let content_start = text.get(..span.start)?.rfind('\n')? + 1;
    let header_end = content_start - 1;
    let line_start = text.get(..header_end)?.rfind('\n').map_or(0, |n| n + 1);
    let header_line = text.get(line_start..header_end)?;
    let eol = if header_line.ends_with('\r') {
        "\r\n"
    } else {
        "\n"
    };
    let header_line = header_line.trim_end_matches('\r');
    let bar = header_line.char_indices().find_map(|(i, c)| {
        let before = header_line[..i].chars().last();
        let after = header_line[i + 1..].chars().next();
        (c == '|'
            && matches!(before, Some(' ') | None)
            && matches!(after, None | Some(' ' | '\t' | '-' | '+')))
        .then_some(i)
    })?;
    let header = &header_line[bar..];
    let indicator_len = header
        .find(|c: char| c.is_whitespace() || c == '#')
        .unwrap_or(header.len());
    if !matches!(&header[..indicator_len], "|" | "|-" | "|+") {
        return None;
    }
    let header_start = line_start + bar;
    let end = span.end.max(content_start);
    let line_end = line_end(text, end);
    let body = text.get(content_start..line_end)?;
    let indent: String = body
        .lines()
        .find(|l| !l.trim().is_empty())?
        .chars()
        .take_while(|c| *c == ' ')
        .collect();
    if indent.is_empty()
        || new.starts_with([' ', '\t'])
        || new.ends_with("\n\n")
        || new.contains('\r')
    {
        return None;
    }
    let chomp = if new.ends_with('\n') { "|" } else { "|-" };
    let mut out = format!("{chomp}{}{eol}", &header[indicator_len..]);
    for line in new.strip_suffix('\n').unwrap_or(new).split('\n') {
        if !line.is_empty() {
            out.push_str(&indent);
            out.push_str(line);
        }
        out.push_str(eol);
    }
    Some((header_start, line_end, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch(route: &[Seg], op: Op) -> Patch {
        Patch {
            path: "x.yml".into(),
            at: Target::Route(Route(route.to_vec(), 0)),
            op,
        }
    }

    fn key(k: &str) -> Seg {
        Seg::Key(k.into())
    }

    fn spliced(text: &str, patches: &[Patch]) -> Option<String> {
        let mut forest = Forest::default();
        let root = forest.parse("x.yml", text).expect("parses");
        let refs: Vec<&Patch> = patches.iter().collect();
        splice_all(&forest, root, text, &refs)
    }

    #[test]
    fn entries_and_items_go_with_their_lines_and_nothing_else() {
        let text = "jobs:\n  p:\n    env:\n      A: 1 # keep\n      NPM_TOKEN: x # gone\n    steps:\n      - checkout\n      - run: |\n          echo hi\n\n      - run: npm publish\n";
        let out = spliced(
            text,
            &[
                patch(
                    &[key("jobs"), key("p"), key("env"), key("NPM_TOKEN")],
                    Op::Remove,
                ),
                patch(
                    &[key("jobs"), key("p"), key("steps"), Seg::Index(1)],
                    Op::Remove,
                ),
            ],
        );
        assert_eq!(
            out.as_deref(),
            Some(
                "jobs:\n  p:\n    env:\n      A: 1 # keep\n    steps:\n      - checkout\n\n      - run: npm publish\n"
            )
        );
    }

    #[test]
    fn new_keys_and_items_take_their_siblings_indentation_and_line_endings() {
        let text = "jobs:\r\n  p:\r\n    runs-on: x\r\n    steps:\r\n      - run: npm publish\r\n";
        let out = spliced(
            text,
            &[
                patch(
                    &[key("jobs"), key("p")],
                    Op::Set {
                        key: "permissions".into(),
                        value: Value::map([
                            ("contents", Value::str("read")),
                            ("id-token", Value::str("write")),
                        ]),
                        before: Some("steps".into()),
                    },
                ),
                patch(
                    &[key("jobs"), key("p"), key("steps")],
                    Op::Insert {
                        index: 0,
                        value: Value::map([("run", Value::str("npm install -g npm@^11.5.1"))]),
                    },
                ),
            ],
        )
        .expect("spliced");
        assert_eq!(
            out,
            "jobs:\r\n  p:\r\n    runs-on: x\r\n    permissions:\r\n      contents: read\r\n      id-token: write\r\n    steps:\r\n      - run: npm install -g npm@^11.5.1\r\n      - run: npm publish\r\n"
        );
    }

    #[test]
    fn flow_collections_and_shared_dash_lines_are_left_to_the_editor() {
        let flow = "jobs: {p: {steps: [a, b]}}\n";
        assert!(
            spliced(
                flow,
                &[patch(
                    &[key("jobs"), key("p"), key("steps"), Seg::Index(0)],
                    Op::Remove
                )]
            )
            .is_none()
        );
        let dash = "steps:\n  - run: x\n    name: y\n";
        assert!(
            spliced(
                dash,
                &[patch(
                    &[key("steps"), Seg::Index(0), key("run")],
                    Op::Remove
                )]
            )
            .is_none()
        );
    }

    #[test]
    fn scalars_are_quoted_only_when_plain_would_read_differently() {
        assert_eq!(
            scalar("npm install -g npm@^11.11.0"),
            "npm install -g npm@^11.11.0"
        );
        assert_eq!(
            scalar("Honeycomb Secrets for Public Repos"),
            "Honeycomb Secrets for Public Repos"
        );
        assert_eq!(scalar("yes"), "\"yes\"");
        assert_eq!(scalar("a: b"), "\"a: b\"");
        assert_eq!(scalar("@acme"), "\"@acme\"");
        assert_eq!(scalar("npm:registry.npmjs.org"), "npm:registry.npmjs.org");
    }
}
