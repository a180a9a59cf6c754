//! Applying patches to text, keeping everything outside the edited nodes byte for byte.
//!
//! YAML goes through **yaml-edit** (a lossless rowan CST): `rust-stack.md` picks it over
//! zizmor's yamlpatch because CircleCI and GitLab configs lean on merge keys, which
//! yamlpatch cannot address, and in the probe it kept comments, key order, quoting,
//! indentation, flow style, CRLF line endings and a BOM through every edit we make. The
//! analysis [`Forest`] stays the linter's; yaml-edit is used only here, behind
//! [`apply_yaml`], so it could be swapped without touching a fixer.
//!
//! Every rewrite is checked: the new text is parsed again with the analysis parser and
//! its data must equal the old data with the intended edits applied ([`Value`] trees,
//! mappings compared as unordered). A mismatch refuses the whole file's patches.
//!
//! Other files (`.npmrc`, shell scripts) are edited by line, keeping each line's ending.

use std::cmp::Ordering;
use std::str::FromStr;

use yaml_edit::{Mapping, Sequence, YamlFile};

use super::route::{Route, Seg};
use super::{Op, Patch, Target, Value};
use crate::yaml::{Forest, Kind, NodeId};

/// Largest expanded document compared after a rewrite.
const MAX_COMPARED_NODES: usize = 500_000;

/// Apply YAML patches to `text`. `Err` says why nothing was changed.
pub fn apply_yaml(text: &str, patches: &[&Patch]) -> Result<String, String> {
    let ordered = ordered(patches);
    let (spliced, rest) = splice_literals(text, &ordered);
    let file =
        YamlFile::from_str(&spliced).map_err(|e| format!("the editor cannot read it: {e}"))?;
    if file.documents().count() != 1 {
        return Err("it holds more than one YAML document".into());
    }
    let doc = file.document().ok_or_else(|| "it is empty".to_string())?;
    for p in &rest {
        let Target::Route(route) = &p.at else {
            return Err("a line patch cannot be applied to YAML".into());
        };
        apply_one(&doc, route, &p.op).map_err(|e| format!("at `{route}`: {e}"))?;
    }
    let out = file.to_string();
    verify(text, &out, &ordered)?;
    Ok(out)
}

/// The new text of a literal block scalar (`|`) written in place: its header comment,
/// indentation, line endings and the blank lines after it stay as they were (yaml-edit
/// re-emits the whole block and drops the blank lines that follow it). The patches it
/// could not place this way are returned for yaml-edit.
fn splice_literals<'p>(text: &str, patches: &[&'p Patch]) -> (String, Vec<&'p Patch>) {
    let mut forest = Forest::default();
    let Ok(root) = forest.parse("splice", text) else {
        return (text.to_string(), patches.to_vec());
    };
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    let mut rest = Vec::new();
    for p in patches {
        let spliced = match (&p.at, &p.op) {
            (
                Target::Route(r),
                Op::Replace {
                    value: Value::Str(new),
                },
            ) => literal_edit(&forest, root, text, r, new),
            _ => None,
        };
        match spliced {
            Some(e) if !edits.iter().any(|(s, t, _)| e.0 < *t && *s < e.1) => edits.push(e),
            _ => rest.push(*p),
        }
    }
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut out = text.to_string();
    for (start, end, new) in edits {
        out.replace_range(start..end, &new);
    }
    (out, rest)
}

fn literal_edit(
    forest: &Forest,
    root: NodeId,
    text: &str,
    route: &Route,
    new: &str,
) -> Option<(usize, usize, String)> {
    let node = node_at(forest, root, route)?;
    if forest.style(node) != Some(crate::yaml::Style::Literal) {
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
    let line_end = text
        .get(end..)
        .and_then(|t| t.find('\n'))
        .map_or(text.len(), |n| end + n + 1);
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
    let span_start = header_start;
    for line in new.strip_suffix('\n').unwrap_or(new).split('\n') {
        if !line.is_empty() {
            out.push_str(&indent);
            out.push_str(line);
        }
        out.push_str(eol);
    }
    Some((span_start, line_end, out))
}

fn node_at(forest: &Forest, root: NodeId, route: &Route) -> Option<NodeId> {
    let mut cur = root;
    for seg in &route.0 {
        cur = match seg {
            Seg::Key(k) => forest.get(cur, k)?,
            Seg::Index(i) => *forest.items(cur).get(*i)?,
        };
    }
    Some(cur)
}

/// Value-only edits first (they move nothing), then inserts and removals from the last
/// index backwards so that every route still names the node it was computed for.
fn ordered<'p>(patches: &[&'p Patch]) -> Vec<&'p Patch> {
    let moves = |p: &Patch| matches!(p.op, Op::Remove | Op::Insert { .. });
    let mut still: Vec<&Patch> = patches.iter().copied().filter(|p| !moves(p)).collect();
    let mut moving: Vec<&Patch> = patches.iter().copied().filter(|p| moves(p)).collect();
    let key = |p: &Patch| -> (Route, u8) {
        let Target::Route(r) = &p.at else {
            return (Route::default(), 0);
        };
        match &p.op {
            Op::Insert { index, .. } => (r.index(*index), 0),
            _ => (r.clone(), 1),
        }
    };
    moving.sort_by(|a, b| {
        let (ra, ta) = key(a);
        let (rb, tb) = key(b);
        match rb.cmp(&ra) {
            Ordering::Equal => tb.cmp(&ta),
            o => o,
        }
    });
    still.extend(moving);
    still
}

enum Container {
    Map(Mapping),
    Seq(Sequence),
}

fn container(node: yaml_edit::YamlNode) -> Result<Container, String> {
    if node.is_alias() {
        return Err("it is an alias".into());
    }
    if let Some(m) = node.as_mapping() {
        return Ok(Container::Map(m.clone()));
    }
    if let Some(s) = node.as_sequence() {
        return Ok(Container::Seq(s.clone()));
    }
    Err("it is not a mapping or a sequence".into())
}

/// The container at `route`, refusing aliases and keys only a merge key provides.
fn resolve(doc: &yaml_edit::Document, route: &Route) -> Result<Container, String> {
    let mut cur = match (doc.as_mapping(), doc.as_sequence()) {
        (Some(m), _) => Container::Map(m),
        (None, Some(s)) => Container::Seq(s),
        _ => return Err("the document is not a mapping".into()),
    };
    for seg in &route.0 {
        let next = match (&cur, seg) {
            (Container::Map(m), Seg::Key(k)) => m.get(k.as_str()).ok_or_else(|| {
                if m.contains_key("<<") {
                    format!("`{k}` comes from a merge key")
                } else {
                    format!("no key `{k}`")
                }
            })?,
            (Container::Seq(s), Seg::Index(i)) => {
                s.get(*i).ok_or_else(|| format!("no item {i}"))?
            }
            _ => return Err("the document's shape changed".into()),
        };
        cur = container(next)?;
    }
    Ok(cur)
}

fn to_mapping(entries: &[(String, Value)]) -> Mapping {
    let m = Mapping::new();
    for (k, v) in entries {
        set_in(&m, k, v);
    }
    m
}

fn to_sequence(items: &[Value]) -> Sequence {
    let s = Sequence::new();
    for v in items {
        match v {
            Value::Str(t) => s.push(t.as_str()),
            Value::Map(e) => s.push(to_mapping(e)),
            Value::Seq(i) => s.push(to_sequence(i)),
        }
    }
    s
}

/// A short run of digits is written as a plain number (`node-version: 24`), not quoted.
fn number(t: &str) -> Option<i64> {
    (t.len() <= 9 && !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) && !t.starts_with('0'))
        .then(|| t.parse().ok())
        .flatten()
}

fn set_in(m: &Mapping, key: &str, v: &Value) {
    match v {
        Value::Str(t) => match number(t) {
            Some(n) => m.set(key, n),
            None => m.set(key, t.as_str()),
        },
        Value::Map(e) => m.set(key, to_mapping(e)),
        Value::Seq(i) => m.set(key, to_sequence(i)),
    }
}

fn insert_before(m: &Mapping, before: &str, key: &str, v: &Value) {
    let placed = match v {
        Value::Str(t) => m.insert_before(before, key, t.as_str()),
        Value::Map(e) => m.insert_before(before, key, to_mapping(e)),
        Value::Seq(i) => m.insert_before(before, key, to_sequence(i)),
    };
    if !placed {
        set_in(m, key, v);
    }
}

fn insert_in(s: &Sequence, index: usize, v: &Value) {
    match v {
        Value::Str(t) => s.insert(index, t.as_str()),
        Value::Map(e) => s.insert(index, to_mapping(e)),
        Value::Seq(i) => s.insert(index, to_sequence(i)),
    }
}

fn replace_in(s: &Sequence, index: usize, v: &Value) -> bool {
    match v {
        Value::Str(t) => s.set(index, t.as_str()),
        Value::Map(e) => s.set(index, to_mapping(e)),
        Value::Seq(i) => s.set(index, to_sequence(i)),
    }
}

fn apply_one(doc: &yaml_edit::Document, route: &Route, op: &Op) -> Result<(), String> {
    match op {
        Op::Set { key, value, before } => match resolve(doc, route)? {
            Container::Map(m) => {
                match before {
                    Some(b) if !m.contains_key(key.as_str()) && m.contains_key(b.as_str()) => {
                        insert_before(&m, b, key, value)
                    }
                    _ => set_in(&m, key, value),
                }
                Ok(())
            }
            Container::Seq(_) => Err("a key cannot be set in a sequence".into()),
        },
        Op::Insert { index, value } => match resolve(doc, route)? {
            Container::Seq(s) if *index <= s.len() => {
                insert_in(&s, *index, value);
                Ok(())
            }
            _ => Err("not a sequence with that many items".into()),
        },
        Op::Replace { .. } | Op::Remove => {
            let (parent, last) = route
                .split_last()
                .ok_or_else(|| "the whole document cannot be replaced".to_string())?;
            match (resolve(doc, &parent)?, last, op) {
                (Container::Map(m), Seg::Key(k), Op::Replace { value }) => {
                    if !m.contains_key(k.as_str()) {
                        return Err(format!("no key `{k}`"));
                    }
                    set_in(&m, k, value);
                    Ok(())
                }
                (Container::Map(m), Seg::Key(k), _) => m
                    .remove(k.as_str())
                    .map(|_| ())
                    .ok_or_else(|| format!("no key `{k}`")),
                (Container::Seq(s), Seg::Index(i), Op::Replace { value }) => {
                    if replace_in(&s, *i, value) {
                        Ok(())
                    } else {
                        Err(format!("no item {i}"))
                    }
                }
                (Container::Seq(s), Seg::Index(i), _) => s
                    .remove(*i)
                    .map(|_| ())
                    .ok_or_else(|| format!("no item {i}")),
                _ => Err("the document's shape changed".into()),
            }
        }
    }
}

/// Parse both texts and check that `after` is `before` with exactly `patches` applied.
fn verify(before: &str, after: &str, patches: &[&Patch]) -> Result<(), String> {
    let mut forest = Forest::default();
    let old_root = forest
        .parse("before", before)
        .map_err(|e| format!("the original does not parse: {}", e.message))?;
    let mut expected = tree(&forest, old_root)?;
    for p in patches {
        if let Target::Route(route) = &p.at {
            apply_value(&mut expected, route, &p.op)
                .ok_or_else(|| format!("`{route}` is not in the document's data"))?;
        }
    }
    let mut new_forest = Forest::default();
    let new_root = new_forest.parse("after", after).map_err(|e| {
        format!(
            "the rewritten file would not parse (line {}: {}); nothing was changed",
            e.line, e.message
        )
    })?;
    let got = tree(&new_forest, new_root)?;
    if normalised(&got) != normalised(&expected) {
        return Err(
            "the rewritten file's data would differ from the intended change; nothing was changed"
                .into(),
        );
    }
    Ok(())
}

/// The data of a node (scalars as text, merge keys resolved), bounded in size.
pub(crate) fn tree(forest: &Forest, root: NodeId) -> Result<Value, String> {
    let mut budget = MAX_COMPARED_NODES;
    build(forest, root, &mut budget, 0)
}

fn build(forest: &Forest, id: NodeId, budget: &mut usize, depth: usize) -> Result<Value, String> {
    if *budget == 0 || depth > 1_000 {
        return Err("the document is too large to check after a rewrite".into());
    }
    *budget -= 1;
    Ok(match &forest.node(id).kind {
        Kind::Scalar(s, _) => Value::Str(if forest.is_null(id) {
            String::new()
        } else {
            s.to_string()
        }),
        Kind::Seq(items) => Value::Seq(
            items
                .iter()
                .map(|i| build(forest, *i, budget, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Kind::Map(entries) => Value::Map(
            entries
                .iter()
                .map(|(k, v)| {
                    Ok((
                        forest.text(*k).to_string(),
                        build(forest, *v, budget, depth + 1)?,
                    ))
                })
                .collect::<Result<_, String>>()?,
        ),
    })
}

fn normalised(v: &Value) -> Value {
    match v {
        Value::Str(s) => Value::Str(s.clone()),
        Value::Seq(items) => Value::Seq(items.iter().map(normalised).collect()),
        Value::Map(entries) => {
            let mut e: Vec<(String, Value)> = entries
                .iter()
                .map(|(k, v)| (k.clone(), normalised(v)))
                .collect();
            e.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Map(e)
        }
    }
}

fn at<'v>(v: &'v mut Value, route: &Route) -> Option<&'v mut Value> {
    let mut cur = v;
    for seg in &route.0 {
        cur = match (cur, seg) {
            (Value::Map(e), Seg::Key(k)) => {
                e.iter_mut().find(|(key, _)| key == k).map(|(_, v)| v)?
            }
            (Value::Seq(i), Seg::Index(n)) => i.get_mut(*n)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn apply_value(doc: &mut Value, route: &Route, op: &Op) -> Option<()> {
    match op {
        Op::Set { key, value, .. } => {
            let Value::Map(e) = at(doc, route)? else {
                return None;
            };
            match e.iter_mut().find(|(k, _)| k == key) {
                Some((_, v)) => *v = value.clone(),
                None => e.push((key.clone(), value.clone())),
            }
        }
        Op::Insert { index, value } => {
            let Value::Seq(items) = at(doc, route)? else {
                return None;
            };
            (*index <= items.len()).then(|| items.insert(*index, value.clone()))?;
        }
        Op::Replace { value } => *at(doc, route)? = value.clone(),
        Op::Remove => {
            let (parent, last) = route.split_last()?;
            match (at(doc, &parent)?, last) {
                (Value::Map(e), Seg::Key(k)) => {
                    let before = e.len();
                    e.retain(|(key, _)| key != k);
                    (e.len() < before).then_some(())?;
                }
                (Value::Seq(items), Seg::Index(i)) => {
                    (*i < items.len()).then(|| items.remove(*i))?;
                }
                _ => return None,
            }
        }
    }
    Some(())
}

/// Apply line patches (1-based lines of the original) to a text file, keeping every
/// untouched line and each line's own ending.
pub fn apply_lines(text: &str, patches: &[&Patch]) -> Result<String, String> {
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut out = String::with_capacity(text.len());
    for (i, line) in lines.iter().enumerate() {
        let n = i + 1;
        let mine: Vec<&&Patch> = patches.iter().filter(|p| p.at == Target::Line(n)).collect();
        match mine.as_slice() {
            [] => out.push_str(line),
            [p] => match &p.op {
                Op::Remove => {}
                Op::Replace {
                    value: Value::Str(new),
                } => {
                    let ending = if line.ends_with("\r\n") {
                        "\r\n"
                    } else if line.ends_with('\n') {
                        "\n"
                    } else {
                        ""
                    };
                    out.push_str(&new.replace('\n', eol));
                    out.push_str(ending);
                }
                _ => {
                    return Err(format!(
                        "line {n}: only removing or replacing a line is supported"
                    ));
                }
            },
            _ => return Err(format!("line {n}: two patches for one line")),
        }
    }
    if let Some(p) = patches
        .iter()
        .find(|p| matches!(p.at, Target::Line(n) if n == 0 || n > lines.len()))
    {
        return Err(format!("{:?} is past the end of the file", p.at));
    }
    Ok(out)
}
