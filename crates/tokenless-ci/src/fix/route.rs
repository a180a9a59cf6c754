//! Routes: where a patch lands in a YAML document, as a path of mapping keys and sequence
//! indices (`jobs.publish.steps[3].run`), never as a byte offset.
//!
//! A route is found for a node of the analysis [`Forest`] by walking down from the
//! document root through the node's *own* ancestors only: a child whose span is not
//! inside its parent's is there through an alias or a merge key, and a node that appears
//! in more than one place was anchored and reused. Neither is patched: editing it would
//! change every place that shares it, or would not change the place the job reads.

use std::collections::HashSet;
use std::fmt;

use crate::finding::Span;
use crate::yaml::{Forest, Kind, NodeId};

/// One step of a route.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A path from a document's root to a node. `file` is the forest's index of the file
/// the document is (0, the linted file, unless the node is in a file it includes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Route(pub Vec<Seg>, pub u16);

impl Route {
    pub fn key(&self, key: &str) -> Route {
        let mut r = self.clone();
        r.0.push(Seg::Key(key.to_string()));
        r
    }

    pub fn index(&self, i: usize) -> Route {
        let mut r = self.clone();
        r.0.push(Seg::Index(i));
        r
    }

    /// The route of the parent node and the last segment.
    pub fn split_last(&self) -> Option<(Route, &Seg)> {
        let (last, rest) = self.0.split_last()?;
        Some((Route(rest.to_vec(), self.1), last))
    }

    pub fn starts_with(&self, other: &Route) -> bool {
        self.0.starts_with(&other.0)
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for seg in &self.0 {
            match seg {
                Seg::Index(i) => write!(f, "[{i}]")?,
                Seg::Key(k) => {
                    if !first {
                        f.write_str(".")?;
                    }
                    let plain = !k.is_empty()
                        && k.chars().all(|c| {
                            c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/' | '@')
                        });
                    if plain {
                        f.write_str(k)?;
                    } else {
                        write!(f, "{k:?}")?;
                    }
                }
            }
            first = false;
        }
        Ok(())
    }
}

/// Finds routes to nodes of one file of a forest.
pub struct Router<'a> {
    forest: &'a Forest,
    root: NodeId,
    /// Nodes that are the child of more than one parent (anchored and aliased, or merged),
    /// found on the first route asked for (most analyses ask for none).
    shared: std::sync::OnceLock<HashSet<NodeId>>,
}

fn within(inner: Span, outer: Span) -> bool {
    inner.start >= outer.start && inner.end <= outer.end
}

impl<'a> Router<'a> {
    pub fn new(forest: &'a Forest, root: NodeId) -> Router<'a> {
        Router {
            forest,
            root,
            shared: std::sync::OnceLock::new(),
        }
    }

    fn shared(&self) -> &HashSet<NodeId> {
        self.shared
            .get_or_init(|| shared_nodes(self.forest, self.root))
    }

    pub fn root(&self) -> NodeId {
        self.root
    }

    /// The route to `target`, or why it cannot be patched in place.
    pub fn route(&self, target: NodeId) -> Result<Route, String> {
        let forest = self.forest;
        if forest.node(target).file != forest.node(self.root).file {
            return Err(format!(
                "it is defined in {}, a file this one includes",
                forest.file_of(target).path
            ));
        }
        let goal = forest.span(target);
        let mut cur = self.root;
        let mut route = Route(Vec::new(), forest.node(self.root).file);
        for _ in 0..10_000 {
            if self.shared().contains(&cur) {
                return Err(format!(
                    "`{route}` is an anchor used elsewhere (or a merge key's source): editing it would change every place that uses it"
                ));
            }
            if cur == target {
                return Ok(route);
            }
            let here = forest.span(cur);
            let next = match &forest.node(cur).kind {
                Kind::Map(entries) => entries.iter().find_map(|(k, v)| {
                    let (ks, vs) = (forest.span(*k), forest.span(*v));
                    let own =
                        within(ks, here) && within(vs, here) && ks.start < vs.start.max(ks.end);
                    let holds =
                        *v == target || (within(goal, vs) && vs != Span::new(vs.start, vs.start));
                    (own && holds).then(|| (Seg::Key(forest.text(*k).to_string()), *v))
                }),
                Kind::Seq(items) => items.iter().enumerate().find_map(|(i, v)| {
                    let vs = forest.span(*v);
                    let holds = *v == target || (within(goal, vs) && vs.end > vs.start);
                    (within(vs, here) && holds).then_some((Seg::Index(i), *v))
                }),
                Kind::Scalar(..) => None,
            };
            match next {
                Some((seg, v)) => {
                    route.0.push(seg);
                    cur = v;
                }
                None => {
                    return Err(if route.0.is_empty() {
                        "it is not in this file's own text".to_string()
                    } else {
                        format!("it is reached from `{route}` through an alias or a merge key")
                    });
                }
            }
        }
        Err("the document is nested too deeply".to_string())
    }
}

/// Nodes of `root`'s file that are the child of more than one parent: anchored and
/// aliased, or reached through a merge key.
fn shared_nodes(forest: &Forest, root: NodeId) -> HashSet<NodeId> {
    let file = forest.node(root).file;
    let mut seen = HashSet::new();
    let mut shared = HashSet::new();
    let mut stack = vec![root];
    let mut visited = HashSet::new();
    while let Some(id) = stack.pop() {
        if !visited.insert(id) {
            continue;
        }
        let children: Vec<NodeId> = match &forest.node(id).kind {
            Kind::Map(entries) => entries.iter().flat_map(|(k, v)| [*k, *v]).collect(),
            Kind::Seq(items) => items.clone(),
            Kind::Scalar(..) => Vec::new(),
        };
        for c in children {
            if forest.node(c).file != file {
                continue;
            }
            if !seen.insert(c) {
                shared.insert(c);
            }
            stack.push(c);
        }
    }
    shared
}
