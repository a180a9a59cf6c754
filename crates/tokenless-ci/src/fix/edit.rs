//! Applying patches to text, keeping everything outside the edited nodes byte for byte.
//!
//! YAML edits take one of two ways, and both are checked the same way:
//!
//! - [`super::splice`] writes the patch straight into the text where the shape is one it
//!   writes exactly (block collections, entries and items on lines of their own, scalars,
//!   literal blocks). Most fixes are of that shape, and this is several times cheaper than
//!   building a CST.
//! - Everything else goes through **yaml-edit** (a lossless rowan CST): `rust-stack.md`
//!   picks it over zizmor's yamlpatch because CircleCI and GitLab configs lean on merge
//!   keys, which yamlpatch cannot address, and in the probe it kept comments, key order,
//!   quoting, indentation, flow style, CRLF line endings and a BOM through every edit we
//!   make. Literal blocks are still written by `splice` on this path, because yaml-edit
//!   re-emits a whole block and drops the blank lines after it.
//!
//! Every rewrite is checked: the new text is parsed again with the analysis parser and
//! must hold the old data with exactly the intended edits applied ([`holds`]: parts no
//! patch touches are compared node by node, the containers patches change are compared
//! as values, mappings unordered). A mismatch refuses the whole file's patches. `fix`
//! does that check on the next round's analysis parse rather than parsing twice.
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

/// Apply YAML patches to `text` and check the result by parsing it. `Err` says why
/// nothing was changed.
pub fn apply_yaml(text: &str, patches: &[&Patch]) -> Result<String, String> {
    let mut before = Forest::default();
    let root = before
        .parse("before", text)
        .map_err(|e| format!("the original does not parse: {}", e.message))?;
    let out = edit_yaml(text, patches, &before, root)?;
    let mut after = Forest::default();
    let new_root = after.parse("after", &out).map_err(|e| {
        format!(
            "the rewritten file would not parse (line {}: {}); nothing was changed",
            e.line, e.message
        )
    })?;
    if !holds(&before, root, patches, &after, new_root) {
        return Err(DIFFERS.into());
    }
    Ok(out)
}

/// Apply YAML patches to `text`, whose parse is `before` (rooted at `root`), and return
/// the new text; the caller checks its parse with [`holds`] before the text is used.
pub fn edit_yaml(
    text: &str,
    patches: &[&Patch],
    before: &Forest,
    root: NodeId,
) -> Result<String, String> {
    let ordered = ordered(patches);
    if let Some(out) = super::splice::splice_all(before, root, text, &ordered) {
        return Ok(out);
    }
    let (spliced, rest) = splice_literals(before, root, text, &ordered);
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
    // The green tree prints the text without walking node offsets, which yaml-edit's
    // mutable tree recomputes at every step of its own `Display`.
    Ok(rowan::ast::AstNode::syntax(&file).green().to_string())
}

/// The new text of a literal block scalar (`|`) written in place: its header comment,
/// indentation, line endings and the blank lines after it stay as they were (yaml-edit
/// re-emits the whole block and drops the blank lines that follow it). The patches it
/// could not place this way are returned for yaml-edit.
fn splice_literals<'p>(
    forest: &Forest,
    root: NodeId,
    text: &str,
    patches: &[&'p Patch],
) -> (String, Vec<&'p Patch>) {
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    let mut rest = Vec::new();
    for p in patches {
        let spliced = match (&p.at, &p.op) {
            (
                Target::Route(r),
                Op::Replace {
                    value: Value::Str(new),
                },
            ) => super::splice::literal_edit(forest, root, text, r, new),
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

/// Whether `new` (rooted at `new_root`) holds exactly the data of `old` with `patches`
/// applied. Parts no patch touches are compared node by node; only the containers the
/// patches change are materialised, patched as values, and compared.
pub fn holds(
    old: &Forest,
    old_root: NodeId,
    patches: &[&Patch],
    new: &Forest,
    new_root: NodeId,
) -> bool {
    let ordered = ordered(patches);
    let containers: Vec<Route> = ordered
        .iter()
        .filter_map(|p| match (&p.at, &p.op) {
            (Target::Route(r), Op::Set { .. } | Op::Insert { .. }) => Some(r.clone()),
            (Target::Route(r), _) => r.split_last().map(|(parent, _)| parent),
            _ => None,
        })
        .collect();
    let root_route = Route(Vec::new(), old.node(old_root).file);
    walk(
        old,
        old_root,
        new,
        new_root,
        &root_route,
        &containers,
        &ordered,
        0,
    )
}

#[allow(clippy::too_many_arguments)]
fn walk(
    old: &Forest,
    o: NodeId,
    new: &Forest,
    n: NodeId,
    here: &Route,
    containers: &[Route],
    patches: &[&Patch],
    depth: usize,
) -> bool {
    if depth > 1_000 {
        return false;
    }
    if containers.iter().any(|c| c.0 == here.0) {
        let mut budget = MAX_COMPARED_NODES;
        let Ok(mut value) = build(old, o, &mut budget, 0) else {
            return false;
        };
        for p in patches {
            if let Target::Route(r) = &p.at
                && r.0.starts_with(&here.0)
            {
                let relative = Route(r.0[here.0.len()..].to_vec(), r.1);
                if apply_value(&mut value, &relative, &p.op).is_none() {
                    return false;
                }
            }
        }
        return same(&value, new, n, 0);
    }
    match (&old.node(o).kind, &new.node(n).kind) {
        (Kind::Scalar(a, _), Kind::Scalar(b, _)) => {
            old.is_null(o) == new.is_null(n) && (old.is_null(o) || a == b)
        }
        (Kind::Seq(a), Kind::Seq(b)) => {
            a.len() == b.len()
                && a.iter().zip(b).enumerate().all(|(i, (x, y))| {
                    walk(
                        old,
                        *x,
                        new,
                        *y,
                        &here.index(i),
                        containers,
                        patches,
                        depth + 1,
                    )
                })
        }
        (Kind::Map(a), Kind::Map(b)) => {
            a.len() == b.len()
                && a.iter().all(|(k, v)| {
                    let key = old.text(*k);
                    new.get(n, key).is_some_and(|w| {
                        walk(
                            old,
                            *v,
                            new,
                            w,
                            &here.key(key),
                            containers,
                            patches,
                            depth + 1,
                        )
                    })
                })
        }
        _ => false,
    }
}

/// Why a rewrite is refused when its data is not the intended data.
pub const DIFFERS: &str =
    "the rewritten file's data would differ from the intended change; nothing was changed";

/// Whether a node holds exactly `want` (mappings compared as unordered, merge keys
/// resolved as the analysis resolves them).
pub fn same(want: &Value, forest: &Forest, id: NodeId, depth: usize) -> bool {
    if depth > 1_000 {
        return false;
    }
    match (want, &forest.node(id).kind) {
        (Value::Str(s), Kind::Scalar(t, _)) => {
            if forest.is_null(id) {
                s.is_empty()
            } else {
                **t == **s
            }
        }
        (Value::Seq(items), Kind::Seq(nodes)) => {
            items.len() == nodes.len()
                && items
                    .iter()
                    .zip(nodes)
                    .all(|(w, n)| same(w, forest, *n, depth + 1))
        }
        (Value::Map(entries), Kind::Map(nodes)) => {
            entries.len() == nodes.len()
                && entries.iter().all(|(k, w)| {
                    forest
                        .get(id, k)
                        .is_some_and(|n| same(w, forest, n, depth + 1))
                })
        }
        _ => false,
    }
}

/// The data of a node (scalars as text, merge keys resolved), bounded in size.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Forest, NodeId) {
        let mut f = Forest::default();
        let root = f.parse("x.yml", text).expect("parses");
        (f, root)
    }

    #[test]
    fn a_rewrite_holds_only_the_intended_change() {
        let remove = Patch {
            path: "x.yml".into(),
            at: Target::Route(Route(
                vec![Seg::Key("env".into()), Seg::Key("NPM_TOKEN".into())],
                0,
            )),
            op: Op::Remove,
        };
        let (old, old_root) = parse("env:\n  A: 1\n  NPM_TOKEN: x\nsteps: [a, b]\n");
        let (good, good_root) = parse("env:\n  A: 1\nsteps: [a, b]\n");
        assert!(holds(&old, old_root, &[&remove], &good, good_root));
        // Anything else that moved, even far from the patch, is caught.
        let (bad, bad_root) = parse("env:\n  A: 1\nsteps: [a, c]\n");
        assert!(!holds(&old, old_root, &[&remove], &bad, bad_root));
        let (bad, bad_root) = parse("env:\n  A: 2\nsteps: [a, b]\n");
        assert!(!holds(&old, old_root, &[&remove], &bad, bad_root));
        // And a patch that did not happen.
        let (old_again, _) = parse("env:\n  A: 1\n  NPM_TOKEN: x\nsteps: [a, b]\n");
        assert!(!holds(&old, old_root, &[&remove], &old_again, old_root));
    }

    #[test]
    fn apply_yaml_refuses_a_patch_whose_target_is_not_there() {
        let p = Patch {
            path: "x.yml".into(),
            at: Target::Route(Route(vec![Seg::Key("nope".into()), Seg::Index(3)], 0)),
            op: Op::Remove,
        };
        assert!(apply_yaml("a: 1\n", &[&p]).is_err());
    }
}
