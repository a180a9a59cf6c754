//! The YAML layer: source text → an arena of nodes with byte spans.
//!
//! Built on `saphyr-parser` events (see the crate docs for why). Every node keeps the
//! byte range of its source text and the index of the file it came from, so findings can
//! point into GitLab local includes too.
//!
//! Hostile input is bounded here, once, for every rule:
//! - aliases are shared, never copied: an alias is the id of the anchored node. The
//!   *expanded* size of every node is computed while building and a document whose alias
//!   expansion would exceed [`MAX_EXPANDED_NODES`] is refused (billion laughs);
//! - merge keys (`<<: *a`, `<<: [*a, *b]`) are resolved into the mapping's entry list, own
//!   keys first, so lookups are one pass;
//! - nesting deeper than [`MAX_DEPTH`] is refused with the position where it happened
//!   (the tree is built iteratively; no recursion depends on input depth);
//! - the parser's own limit of 255 nested flow collections surfaces as a clean error.

use std::sync::Arc;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError};

use crate::finding::Span;

/// Deepest nesting of collections accepted. Real CI configs stay under 20.
pub const MAX_DEPTH: usize = 128;
/// Largest number of nodes that alias expansion may produce (beyond the real nodes).
pub const MAX_EXPANDED_NODES: u64 = 2_000_000;

/// Index of a node in a [`Forest`].
pub type NodeId = u32;

/// The style a scalar was written in; decides how sub-spans map back to source bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

#[derive(Debug)]
pub enum Kind {
    Scalar(Box<str>, Style),
    /// Items in order.
    Seq(Vec<NodeId>),
    /// Entries in order; merge keys already resolved (own keys first, then merged ones
    /// that are not overridden).
    Map(Vec<(NodeId, NodeId)>),
}

#[derive(Debug)]
pub struct Node {
    pub kind: Kind,
    pub span: Span,
    pub file: u16,
    pub tag: Option<Box<str>>,
}

/// One source file held by a forest.
#[derive(Debug)]
pub struct SourceFile {
    pub path: Arc<str>,
    pub text: Arc<str>,
}

/// Nodes of one or more YAML files (the linted file and its local includes).
#[derive(Debug, Default)]
pub struct Forest {
    pub files: Vec<SourceFile>,
    nodes: Vec<Node>,
    /// Expanded size (node count after alias expansion), saturating.
    sizes: Vec<u64>,
}

/// A parse failure at a 1-based line and column of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub file: u16,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

const EMPTY: &str = "";

impl Forest {
    pub fn node(&self, id: NodeId) -> &Node {
        // Ids only come from this forest; an out-of-range id is a bug, so fall back to
        // the first node rather than panic on a hostile path.
        self.nodes
            .get(id as usize)
            .or_else(|| self.nodes.first())
            .unwrap_or(&NULL_NODE)
    }

    pub fn span(&self, id: NodeId) -> Span {
        self.node(id).span
    }

    pub fn file_of(&self, id: NodeId) -> &SourceFile {
        let f = self.node(id).file as usize;
        &self.files[f.min(self.files.len().saturating_sub(1))]
    }

    /// The scalar text of a node, if it is a scalar.
    pub fn str(&self, id: NodeId) -> Option<&str> {
        match &self.node(id).kind {
            Kind::Scalar(s, _) => Some(s),
            _ => None,
        }
    }

    /// The scalar text, or "" for collections.
    pub fn text(&self, id: NodeId) -> &str {
        self.str(id).unwrap_or(EMPTY)
    }

    pub fn is_null(&self, id: NodeId) -> bool {
        matches!(&self.node(id).kind, Kind::Scalar(s, Style::Plain) if s.is_empty() || &**s == "~" || &**s == "null")
    }

    pub fn entries(&self, id: NodeId) -> &[(NodeId, NodeId)] {
        match &self.node(id).kind {
            Kind::Map(e) => e,
            _ => &[],
        }
    }

    pub fn items(&self, id: NodeId) -> &[NodeId] {
        match &self.node(id).kind {
            Kind::Seq(i) => i,
            _ => &[],
        }
    }

    pub fn is_map(&self, id: NodeId) -> bool {
        matches!(self.node(id).kind, Kind::Map(_))
    }

    pub fn is_seq(&self, id: NodeId) -> bool {
        matches!(self.node(id).kind, Kind::Seq(_))
    }

    /// Value of `key` in a mapping.
    pub fn get(&self, map: NodeId, key: &str) -> Option<NodeId> {
        self.entry(map, key).map(|(_, v)| v)
    }

    /// Key and value node of `key` in a mapping.
    pub fn entry(&self, map: NodeId, key: &str) -> Option<(NodeId, NodeId)> {
        self.entries(map)
            .iter()
            .find(|(k, _)| self.str(*k) == Some(key))
            .copied()
    }

    /// Follow a path of mapping keys.
    pub fn path(&self, mut id: NodeId, keys: &[&str]) -> Option<NodeId> {
        for k in keys {
            id = self.get(id, k)?;
        }
        Some(id)
    }

    /// A scalar or a sequence of scalars, as strings with their nodes.
    pub fn str_or_list(&self, id: NodeId) -> Vec<(NodeId, &str)> {
        match &self.node(id).kind {
            Kind::Scalar(s, _) if !self.is_null(id) => vec![(id, &**s)],
            Kind::Seq(items) => items
                .iter()
                .filter_map(|i| self.str(*i).map(|s| (*i, s)))
                .collect(),
            _ => Vec::new(),
        }
    }

    pub fn style(&self, id: NodeId) -> Option<Style> {
        match &self.node(id).kind {
            Kind::Scalar(_, st) => Some(*st),
            _ => None,
        }
    }

    pub fn tag(&self, id: NodeId) -> Option<&str> {
        self.node(id).tag.as_deref()
    }

    /// The source span of a piece `[start, end)` of a scalar's *decoded* value. Exact
    /// for plain, single-quoted and block scalars (indentation and line folding are
    /// accounted for); the whole scalar where the mapping is impossible (escapes in
    /// double-quoted scalars, or text that no longer matches the source).
    pub fn sub_span(&self, id: NodeId, start: usize, end: usize) -> Span {
        let node = self.node(id);
        let whole = node.span;
        let Kind::Scalar(value, style) = &node.kind else {
            return whole;
        };
        let src = &self.file_of(id).text;
        let Some(region) = src.get(whole.start..whole.end) else {
            return whole;
        };
        match map_offsets(value, *style, region, start, end) {
            Some((s, e)) => Span::new(whole.start + s, whole.start + e),
            None => whole,
        }
    }

    /// Parse one file into this forest and return the id of its root node (an empty
    /// document gives a null scalar).
    pub fn parse(&mut self, path: &str, text: &str) -> Result<NodeId, ParseError> {
        let file = u16::try_from(self.files.len()).map_err(|_| ParseError {
            file: 0,
            line: 0,
            column: 0,
            message: "too many included files".into(),
        })?;
        self.files.push(SourceFile {
            path: Arc::from(path),
            text: Arc::from(text),
        });
        let nodes = self.nodes.len();
        let first = Builder::new(self, file, text, text, Vec::new()).run();
        match first {
            Err(e) => {
                // libyaml (GitLab, most tools) is more lenient than saphyr, which follows
                // YAML 1.2, in ways configs rely on: indentation inside flow collections
                // is not checked, and `"x"#c` has a comment. Make those explicit and parse
                // again; spans are mapped back to the original text (docs/yaml.md).
                let Some((padded, shifts)) = libyaml_leniencies(text) else {
                    return Err(e);
                };
                self.nodes.truncate(nodes);
                self.sizes.truncate(nodes);
                Builder::new(self, file, text, &padded, shifts).run()
            }
            other => other,
        }
    }

    fn push(&mut self, node: Node, size: u64) -> NodeId {
        let id = self.nodes.len() as NodeId;
        self.nodes.push(node);
        self.sizes.push(size);
        id
    }
}

static NULL_NODE: Node = Node {
    kind: Kind::Seq(Vec::new()),
    span: Span { start: 0, end: 0 },
    file: 0,
    tag: None,
};

/// Converts saphyr's character indices to byte offsets in O(1) amortised.
struct CharIndex<'a> {
    text: &'a str,
    ascii: bool,
    /// Byte offset of every 256th character.
    checkpoints: Vec<usize>,
}

impl<'a> CharIndex<'a> {
    fn new(text: &'a str) -> Self {
        let ascii = text.is_ascii();
        let mut checkpoints = Vec::new();
        if !ascii {
            for (n, (b, _)) in text.char_indices().enumerate() {
                if n % 256 == 0 {
                    checkpoints.push(b);
                }
            }
        }
        CharIndex {
            text,
            ascii,
            checkpoints,
        }
    }

    fn byte(&self, chars: usize) -> usize {
        if self.ascii {
            return chars.min(self.text.len());
        }
        let cp = chars / 256;
        let Some(&base) = self.checkpoints.get(cp) else {
            return self.text.len();
        };
        let rest = chars % 256;
        self.text[base..]
            .char_indices()
            .nth(rest)
            .map(|(b, _)| base + b)
            .unwrap_or(self.text.len())
    }
}

enum Frame {
    Seq {
        items: Vec<NodeId>,
        start: usize,
        anchor: usize,
        tag: Option<Box<str>>,
        size: u64,
    },
    Map {
        entries: Vec<(NodeId, NodeId)>,
        merges: Vec<NodeId>,
        pending_key: Option<NodeId>,
        start: usize,
        anchor: usize,
        tag: Option<Box<str>>,
        size: u64,
    },
}

struct Builder<'f, 't> {
    forest: &'f mut Forest,
    file: u16,
    /// The file's text, which spans and errors refer to.
    source: &'t str,
    /// The text given to the parser: `source`, or `source` with spaces added where libyaml
    /// is more lenient than saphyr (see [`libyaml_leniencies`]).
    text: &'t str,
    /// Where spaces were added, ascending; empty when `text` is `source`.
    shifts: Vec<Shift>,
    chars: CharIndex<'t>,
    anchors: Vec<(usize, NodeId)>,
    stack: Vec<Frame>,
    root: Option<NodeId>,
    real_nodes: u64,
}

impl<'f, 't> Builder<'f, 't> {
    fn new(
        forest: &'f mut Forest,
        file: u16,
        source: &'t str,
        text: &'t str,
        shifts: Vec<Shift>,
    ) -> Self {
        Builder {
            forest,
            file,
            source,
            text,
            shifts,
            chars: CharIndex::new(text),
            anchors: Vec::new(),
            stack: Vec::new(),
            root: None,
            real_nodes: 0,
        }
    }

    /// A byte offset in the parsed text as an offset in the source.
    fn orig(&self, byte: usize) -> usize {
        let n = self.shifts.partition_point(|s| s.at <= byte);
        match n.checked_sub(1).and_then(|i| self.shifts.get(i)) {
            // Inside the added spaces: where they were inserted.
            Some(s) if byte < s.at + s.added => s.at - (s.total - s.added),
            Some(s) => byte - s.total,
            None => byte,
        }
    }

    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(self.orig(start), self.orig(end))
    }

    fn error_at(&self, byte: usize, message: impl Into<String>) -> ParseError {
        let at = crate::lines::position(self.source, self.orig(byte));
        ParseError {
            file: self.file,
            line: at.line,
            column: at.column,
            message: message.into(),
        }
    }

    fn scan_error(&self, e: &ScanError) -> ParseError {
        let m = e.marker();
        if !self.shifts.is_empty() {
            return self.error_at(self.chars.byte(m.index()), e.info());
        }
        ParseError {
            file: self.file,
            line: m.line().max(1),
            column: m.col() + 1,
            message: e.info().to_string(),
        }
    }

    fn run(mut self) -> Result<NodeId, ParseError> {
        let mut parser = Parser::new_from_str(self.text);
        let mut documents = 0usize;
        while let Some(ev) = parser.next_event() {
            let (event, span) = ev.map_err(|e| self.scan_error(&e))?;
            if documents > 1 {
                // CI configs are single documents; later documents build nothing, but
                // are read to the end: a stream with a broken document is refused, as
                // the providers' loaders refuse it.
                continue;
            }
            let start = self.chars.byte(span.start.index());
            let end = self.chars.byte(span.end.index()).max(start);
            match event {
                Event::DocumentStart(_) => {
                    documents += 1;
                    if documents > 1 {
                        continue;
                    }
                }
                Event::Scalar(value, style, anchor, tag) => {
                    let style = match style {
                        ScalarStyle::Plain => Style::Plain,
                        ScalarStyle::SingleQuoted => Style::SingleQuoted,
                        ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
                        ScalarStyle::Literal => Style::Literal,
                        ScalarStyle::Folded => Style::Folded,
                    };
                    let tag = tag.map(|t| format!("{}{}", t.handle, t.suffix).into_boxed_str());
                    let (s, e) = self.scalar_bounds(start, end, style);
                    let id = self.forest.push(
                        Node {
                            kind: Kind::Scalar(value.into_owned().into_boxed_str(), style),
                            span: self.span(s, e),
                            file: self.file,
                            tag,
                        },
                        1,
                    );
                    self.real_nodes += 1;
                    if anchor > 0 {
                        self.anchors.push((anchor, id));
                    }
                    self.add(id, start)?;
                }
                Event::Alias(anchor) => {
                    let Some(&(_, id)) = self.anchors.iter().rev().find(|(a, _)| *a == anchor)
                    else {
                        return Err(self.error_at(
                            start,
                            "alias to an anchor that is not complete before it (undefined, or a cycle through its own collection)",
                        ));
                    };
                    self.add(id, start)?;
                }
                Event::SequenceStart(anchor, tag) => {
                    self.open_check(start)?;
                    self.stack.push(Frame::Seq {
                        items: Vec::new(),
                        start,
                        anchor,
                        tag: tag.map(|t| format!("{}{}", t.handle, t.suffix).into_boxed_str()),
                        size: 1,
                    });
                }
                Event::MappingStart(anchor, tag) => {
                    self.open_check(start)?;
                    self.stack.push(Frame::Map {
                        entries: Vec::new(),
                        merges: Vec::new(),
                        pending_key: None,
                        start,
                        anchor,
                        tag: tag.map(|t| format!("{}{}", t.handle, t.suffix).into_boxed_str()),
                        size: 1,
                    });
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let Some(frame) = self.stack.pop() else {
                        continue;
                    };
                    let end = self.trim_end(end);
                    let (id, anchor, start) = match frame {
                        Frame::Seq {
                            items,
                            start,
                            anchor,
                            tag,
                            size,
                        } => {
                            let id = self.forest.push(
                                Node {
                                    kind: Kind::Seq(items),
                                    span: self.span(start, end),
                                    file: self.file,
                                    tag,
                                },
                                size,
                            );
                            (id, anchor, start)
                        }
                        Frame::Map {
                            mut entries,
                            merges,
                            start,
                            anchor,
                            tag,
                            size,
                            ..
                        } => {
                            let mut size = size;
                            if !merges.is_empty() {
                                let mut own: std::collections::HashSet<Box<str>> = entries
                                    .iter()
                                    .filter_map(|(k, _)| self.forest.str(*k).map(Box::from))
                                    .collect();
                                for m in merges {
                                    for &(k, v) in self.forest.entries(m) {
                                        let fresh = match self.forest.str(k) {
                                            Some(key) => own.insert(Box::from(key)),
                                            None => true,
                                        };
                                        if fresh {
                                            size = size
                                                .saturating_add(self.forest.sizes[k as usize])
                                                .saturating_add(self.forest.sizes[v as usize]);
                                            entries.push((k, v));
                                        }
                                    }
                                }
                            }
                            let id = self.forest.push(
                                Node {
                                    kind: Kind::Map(entries),
                                    span: self.span(start, end),
                                    file: self.file,
                                    tag,
                                },
                                size,
                            );
                            (id, anchor, start)
                        }
                    };
                    self.real_nodes += 1;
                    if anchor > 0 {
                        self.anchors.push((anchor, id));
                    }
                    self.add(id, start)?;
                }
                Event::DocumentEnd | Event::StreamEnd | Event::StreamStart | Event::Nothing => {}
            }
        }
        match self.root {
            Some(r) => Ok(r),
            None => Ok(self.forest.push(
                Node {
                    kind: Kind::Scalar("".into(), Style::Plain),
                    span: Span::new(0, 0),
                    file: self.file,
                    tag: None,
                },
                1,
            )),
        }
    }

    fn open_check(&self, start: usize) -> Result<(), ParseError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(self.error_at(
                start,
                format!("nesting deeper than {MAX_DEPTH} levels is not supported"),
            ));
        }
        Ok(())
    }

    /// Add a finished node to the collection being built (or make it the root).
    fn add(&mut self, id: NodeId, at: usize) -> Result<(), ParseError> {
        let child_size = self.forest.sizes[id as usize];
        let budget = MAX_EXPANDED_NODES.saturating_add(self.real_nodes);
        if child_size > budget {
            return Err(self.error_at(
                at,
                format!(
                    "alias expansion exceeds {MAX_EXPANDED_NODES} nodes (a YAML bomb?); refusing to analyse"
                ),
            ));
        }
        let forest = &*self.forest;
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(id);
                }
            }
            Some(Frame::Seq { items, size, .. }) => {
                items.push(id);
                *size = size.saturating_add(child_size);
            }
            Some(Frame::Map {
                entries,
                merges,
                pending_key,
                size,
                ..
            }) => {
                *size = size.saturating_add(child_size);
                match pending_key.take() {
                    None => *pending_key = Some(id),
                    Some(k) => {
                        let is_merge = matches!(&forest.node(k).kind, Kind::Scalar(s, Style::Plain) if &**s == "<<");
                        if is_merge {
                            match &forest.node(id).kind {
                                Kind::Map(_) => merges.push(id),
                                Kind::Seq(list) => merges
                                    .extend(list.iter().copied().filter(|m| forest.is_map(*m))),
                                Kind::Scalar(..) => entries.push((k, id)),
                            }
                        } else {
                            entries.push((k, id));
                        }
                    }
                }
            }
        }
        let over = match self.stack.last() {
            Some(Frame::Seq { size, .. }) | Some(Frame::Map { size, .. }) => *size > budget,
            None => false,
        };
        if over {
            return Err(self.error_at(
                at,
                format!(
                    "alias expansion exceeds {MAX_EXPANDED_NODES} nodes (a YAML bomb?); refusing to analyse"
                ),
            ));
        }
        Ok(())
    }

    /// Tighten a scalar's span: quoted scalars keep their quotes; block scalars start at
    /// the indicator; trailing line breaks and blanks are dropped.
    fn scalar_bounds(&self, start: usize, end: usize, style: Style) -> (usize, usize) {
        let end = match style {
            Style::Literal | Style::Folded | Style::Plain => self.trim_end(end),
            _ => end,
        };
        (start, end.max(start))
    }

    fn trim_end(&self, end: usize) -> usize {
        let bytes = self.text.as_bytes();
        let mut e = end.min(bytes.len());
        while e > 0 && matches!(bytes[e - 1], b' ' | b'\t' | b'\n' | b'\r') {
            e -= 1;
        }
        e
    }
}

/// Spaces added at the start of a line of the parsed text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shift {
    /// Byte offset of the line's start in the parsed text.
    at: usize,
    /// Spaces added there.
    added: usize,
    /// Spaces added up to and including this line.
    total: usize,
}

/// The text as libyaml would read it, and where spaces were added; `None` if nothing
/// needed to change. Two leniencies of libyaml that the providers inherit:
/// - every line inside a flow collection (after the line that opens it, up to the one that
///   closes it) is indented at least to the column of the outermost opening bracket:
///   libyaml checks no indentation inside flow collections, YAML 1.2 does;
/// - a `#` right after a closing quote, a closing bracket, a comma inside a flow collection
///   or a block scalar's indicator starts a comment, as if a space preceded it.
///
/// Leading white space inside a flow collection is never content (line folding drops it
/// from plain and quoted scalars alike), and the added spaces before a `#` only turn into
/// a comment what libyaml reads as one, so no value changes. Only ever used after the text
/// failed to parse as it is. A light lexer finds the collections: quotes, comments and
/// block scalars are skipped; in block context a bracket or quote opens a node only where a
/// node can start (line start, after `: `, `- `, `? `, a tag or an anchor).
fn libyaml_leniencies(text: &str) -> Option<(String, Vec<Shift>)> {
    // (byte offset in `text`, spaces to add there), ascending.
    let mut inserts: Vec<(usize, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut open_col = 0usize;
    let mut quote: Option<char> = None;
    // Whether the quote being read opened a node (not a quote inside a plain scalar).
    let mut quote_node = false;
    // Block scalar: skip lines blank or indented past this.
    let mut block_scalar: Option<usize> = None;
    let mut line_start = 0usize;
    for line in text.split_inclusive('\n') {
        let start = line_start;
        line_start += line.len();
        let body = line.trim_end_matches(['\n', '\r']);
        let indent = body.len() - body.trim_start_matches(' ').len();
        if let Some(parent) = block_scalar {
            if body.trim().is_empty() || indent > parent {
                continue;
            }
            block_scalar = None;
        }
        if (depth > 0 || (quote.is_some() && quote_node))
            && !body.trim().is_empty()
            && indent < open_col
        {
            inserts.push((start, open_col - indent));
        }
        let chars: Vec<(usize, char)> = body.char_indices().collect();
        let mut col = 0usize;
        let mut prev: Option<char> = None;
        // The previous character ended a node: a closing quote or bracket, a flow comma.
        let mut after_node = false;
        let mut i = 0usize;
        while i < chars.len() {
            let (at, c) = chars[i];
            let next = chars.get(i + 1).map(|x| x.1);
            let mut ends_node = false;
            if let Some(q) = quote {
                if q == '"' && c == '\\' {
                    i += 2;
                    col += 2;
                    prev = Some('x');
                    after_node = false;
                    continue;
                }
                if c == q {
                    if q == '\'' && next == Some('\'') {
                        i += 2;
                        col += 2;
                        continue;
                    }
                    quote = None;
                    ends_node = quote_node;
                }
            } else {
                let at_token = matches!(prev, None | Some(' ' | '\t' | '[' | '{' | ','));
                match c {
                    '#' if matches!(prev, None | Some(' ' | '\t')) => break,
                    '#' if after_node => {
                        inserts.push((start + at, 1));
                        break;
                    }
                    '"' | '\''
                        if depth > 0 && (at_token || prev == Some(':'))
                            || depth == 0 && at_token && node_can_start(&body[..at]) =>
                    {
                        quote = Some(c);
                        quote_node = true;
                        if depth == 0 {
                            open_col = col;
                        }
                    }
                    '"' | '\'' if at_token => {
                        quote = Some(c);
                        quote_node = false;
                    }
                    '[' | '{' if depth > 0 => depth += 1,
                    '[' | '{' if at_token && node_can_start(&body[..at]) => {
                        depth = 1;
                        open_col = col;
                    }
                    ']' | '}' if depth > 0 => {
                        depth -= 1;
                        ends_node = true;
                    }
                    ',' if depth > 0 => ends_node = true,
                    '|' | '>' if depth == 0 && at_token && node_can_start(&body[..at]) => {
                        let rest = &body[at + 1..];
                        let header = rest.trim_start_matches(|c: char| {
                            c.is_ascii_digit() || c == '+' || c == '-'
                        });
                        let after = header.trim_start();
                        if after.is_empty() || after.starts_with('#') {
                            if header.starts_with('#') {
                                inserts.push((start + body.len() - header.len(), 1));
                            }
                            block_scalar = Some(indent);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            after_node = ends_node;
            prev = Some(c);
            col += 1;
            i += 1;
        }
        if depth == 0 && quote.is_none() {
            open_col = 0;
        }
    }
    if inserts.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(text.len() + inserts.len() * 8);
    let mut shifts = Vec::with_capacity(inserts.len());
    let mut total = 0usize;
    let mut copied = 0usize;
    for (at, added) in inserts {
        out.push_str(&text[copied..at]);
        copied = at;
        total += added;
        shifts.push(Shift {
            at: out.len(),
            added,
            total,
        });
        out.extend(std::iter::repeat_n(' ', added));
    }
    out.push_str(&text[copied..]);
    Some((out, shifts))
}

/// Whether a node may start after this text on its line (block context).
fn node_can_start(before: &str) -> bool {
    let t = before.trim_end();
    if t.is_empty() || !before.ends_with([' ', '\t']) && !t.is_empty() {
        return t.is_empty();
    }
    let last = t.rsplit([' ', '\t']).next().unwrap_or(t);
    t.ends_with(':') || last == "-" || last == "?" || last.starts_with(['!', '&'])
}

/// Map a decoded byte range `[start, end)` of `value` to offsets in `region` (the scalar's
/// source text). Walks both in step; source bytes that decoding drops (indentation, the
/// block header, folded line breaks, doubled single quotes, quotes) may be skipped, any
/// other mismatch gives up.
fn map_offsets(
    value: &str,
    style: Style,
    region: &str,
    start: usize,
    end: usize,
) -> Option<(usize, usize)> {
    if start > end || end > value.len() {
        return None;
    }
    let src = region.as_bytes();
    let val = value.as_bytes();
    let mut i = 0usize; // source cursor
    match style {
        Style::DoubleQuoted => {
            if region.contains('\\') {
                return None;
            }
            i = 1;
        }
        Style::SingleQuoted => i = 1,
        Style::Literal | Style::Folded => {
            // Skip the header line (indicator, chomping, comment) if the span has it.
            if region.starts_with(['|', '>']) {
                i = region.find('\n').map(|n| n + 1)?;
            }
        }
        Style::Plain => {}
    }
    let skippable = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'\'' | b'#');
    let mut s_start = None;
    for (j, &c) in val.iter().enumerate() {
        if j == start {
            // Land on the first source byte that matches c.
            while i < src.len() && src[i] != c {
                if !skippable(src[i]) {
                    return None;
                }
                i += 1;
            }
            s_start = Some(i);
        }
        if j == end {
            return Some((s_start?, i));
        }
        while i < src.len() && src[i] != c {
            // A folded line break decodes to a space: let a source newline stand for it.
            if c == b' ' && src[i] == b'\n' {
                break;
            }
            if !skippable(src[i]) {
                return None;
            }
            i += 1;
        }
        if i >= src.len() {
            return None;
        }
        i += 1;
    }
    if end == val.len() {
        let s = if start == val.len() { i } else { s_start? };
        return Some((s, i));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (line, column) of a byte offset.
    fn pos(text: &str, at: usize) -> (usize, usize) {
        let p = crate::lines::position(text, at);
        (p.line, p.column)
    }

    fn parse(src: &str) -> (Forest, NodeId) {
        let mut f = Forest::default();
        let r = f.parse("t.yml", src).expect("parses");
        (f, r)
    }

    fn sub(src: &str, key: &str, needle: &str) -> String {
        let (f, r) = parse(src);
        let v = f.get(r, key).expect("key");
        let value = f.text(v);
        let at = value.find(needle).expect("needle");
        let sp = f.sub_span(v, at, at + needle.len());
        src[sp.start..sp.end].to_string()
    }

    #[test]
    fn sub_spans_map_to_source() {
        let lit = "a: |\n  echo one\n  npm publish --tag x\nb: 1\n";
        assert_eq!(sub(lit, "a", "npm publish"), "npm publish");
        let folded = "a: >-\n  pnpm x\n  --slug y\n  --id z\n";
        assert_eq!(sub(folded, "a", "--slug y"), "--slug y");
        let plain = "a: echo hi && npm publish\n";
        assert_eq!(sub(plain, "a", "npm publish"), "npm publish");
        let single = "a: 'it''s npm publish'\n";
        assert_eq!(sub(single, "a", "npm publish"), "npm publish");
        let dq = "a: \"say \\\"hi\\\" npm publish\"\n";
        assert_eq!(
            sub(dq, "a", "npm publish"),
            "\"say \\\"hi\\\" npm publish\""
        );
        let nested = "jobs:\n  x:\n    run: |\n      export A=1\n      npm publish\n";
        let (f, r) = parse(nested);
        let v = f.path(r, &["jobs", "x", "run"]).expect("run");
        let at = f.text(v).find("npm").expect("npm");
        let sp = f.sub_span(v, at, at + 11);
        assert_eq!(&nested[sp.start..sp.end], "npm publish");
        assert_eq!(pos(nested, sp.start), (5, 7));
    }

    #[test]
    fn merge_keys_resolve_with_own_keys_first() {
        let (f, r) = parse("d: &d\n  a: 1\n  b: 2\nj:\n  <<: *d\n  b: 3\n");
        let j = f.get(r, "j").expect("j");
        assert_eq!(f.text(f.get(j, "a").expect("a")), "1");
        assert_eq!(f.text(f.get(j, "b").expect("b")), "3");
    }

    /// GitHub, CircleCI and GitLab (libyaml, Psych) accept a flow sequence whose
    /// closing bracket sits at (or left of) its key's indentation, comments inside.
    #[test]
    fn flow_sequence_closed_at_key_indentation() {
        let nested =
            "jobs:\n  build:\n    steps: [\n      # a comment\n      checkout,\n      run\n    ]\n";
        let (f, r) = parse(nested);
        let steps = f.path(r, &["jobs", "build", "steps"]).expect("steps");
        let items: Vec<&str> = f.items(steps).iter().map(|i| f.text(*i)).collect();
        assert_eq!(items, ["checkout", "run"]);

        let top = "steps: [\n  a, # comment\n  b\n]\n";
        let (f, r) = parse(top);
        let steps = f.get(r, "steps").expect("steps");
        let items: Vec<&str> = f.items(steps).iter().map(|i| f.text(*i)).collect();
        assert_eq!(items, ["a", "b"]);
        let sp = f.span(steps);
        assert_eq!(&top[sp.start..sp.end], "[\n  a, # comment\n  b\n]");
    }

    /// The refusal of the issue: saphyr wants every line of a flow collection indented
    /// past the block key it belongs to ("invalid indentation"); libyaml, and so GitLab,
    /// GitHub and CircleCI, accept a closing bracket (or an item) at the indentation of the
    /// line that opened it, as JSON is usually written.
    #[test]
    fn flow_lines_left_of_their_key_are_accepted() {
        let step = "steps:\n  - run: [\n      a, # c\n      b\n  ]\n  - x: {\n  k: v, # c\n  }\n";
        let (f, r) = parse(step);
        let steps = f.get(r, "steps").expect("steps");
        let run = f.get(f.items(steps)[0], "run").expect("run");
        let items: Vec<&str> = f.items(run).iter().map(|i| f.text(*i)).collect();
        assert_eq!(items, ["a", "b"]);
        let sp = f.span(run);
        assert_eq!(&step[sp.start..sp.end], "[\n      a, # c\n      b\n  ]");
        let b = f.span(f.items(run)[1]);
        assert_eq!(&step[b.start..b.end], "b");
        let k = f.get(f.items(steps)[1], "x").expect("x");
        let v = f.get(k, "k").expect("k");
        assert_eq!(pos(step, f.span(v).start), (7, 6));

        let nested = "jobs:\n  build:\n    steps: [\n      checkout,\n  'run it', \"x\n  y\" # c\n  ]\n    after: |\n      [ not flow\n";
        let (f, r) = parse(nested);
        let steps = f.path(r, &["jobs", "build", "steps"]).expect("steps");
        let items: Vec<&str> = f.items(steps).iter().map(|i| f.text(*i)).collect();
        assert_eq!(items, ["checkout", "run it", "x y"]);
        let after = f.path(r, &["jobs", "build", "after"]).expect("after");
        assert_eq!(f.text(after), "[ not flow\n");

        let seq = "- key: [\n  a, # c\n  ]\n";
        let (f, r) = parse(seq);
        let key = f.get(f.items(r)[0], "key").expect("key");
        assert_eq!(f.items(key).len(), 1);
        // Errors after the re-indented lines still point into the original text.
        let mut f = Forest::default();
        let e = f
            .parse("t.yml", "a:\n  b: [\n  c,\n  ]\n  d: [e, :\n")
            .expect_err("bad");
        assert_eq!(e.line, 6);
    }

    /// libyaml reads a `#` right after a closing quote, bracket or block scalar indicator
    /// as a comment; saphyr refuses it.
    #[test]
    fn comments_without_a_space_as_libyaml_reads_them() {
        let src = "a: \"v\"# c\nb: [x, y,]#c\nd: >-# c\n  text\ne: 'w'\n";
        let (f, r) = parse(src);
        assert_eq!(f.text(f.get(r, "a").expect("a")), "v");
        let b = f.get(r, "b").expect("b");
        assert_eq!(f.items(b).len(), 2);
        assert_eq!(f.text(f.get(r, "d").expect("d")), "text");
        let e = f.get(r, "e").expect("e");
        assert_eq!(pos(src, f.span(e).start), (5, 4));
        assert_eq!(&src[f.span(e).start..f.span(e).end], "'w'");
    }

    #[test]
    fn errors_have_positions() {
        let mut f = Forest::default();
        let e = f.parse("t.yml", "a: 1\nb: [1, 2\n").expect_err("bad");
        assert_eq!(e.line, 3);
        let e = f.parse("t.yml", "a:\n  - b\n c: d\n").expect_err("bad");
        assert_eq!((e.line, e.column), (3, 2));
    }
}
