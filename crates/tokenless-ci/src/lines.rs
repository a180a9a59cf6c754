//! Byte offsets to 1-based lines and columns, computed once per file: the one line and
//! column calculator of tokenless (lint, fix, the audit's lint, the renderers).
//!
//! Columns count characters (Unicode scalar values), not bytes, so a caret and a column
//! number agree with what an editor shows for non-ASCII text. SARIF calls this
//! `columnKind: unicodeCodePoints`.

use std::ops::Range;

/// A 1-based line and column (the column in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// The start offset of every line of one text.
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<usize>,
    len: usize,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex {
            starts,
            len: text.len(),
        }
    }

    /// The position of byte `offset` in `text` (the text this index was built from).
    /// Offsets past the end clamp to the end; offsets inside a character count as that
    /// character.
    pub fn position(&self, text: &str, offset: usize) -> Position {
        let offset = floor_char_boundary(text, offset.min(self.len));
        let line0 = self
            .starts
            .partition_point(|&s| s <= offset)
            .saturating_sub(1);
        let line_start = self.starts.get(line0).copied().unwrap_or(0);
        let column = text
            .get(line_start..offset)
            .map_or(0, |s| s.chars().count())
            + 1;
        Position {
            line: line0 + 1,
            column,
        }
    }

    /// The byte range of 1-based `line`, without its line terminator.
    pub fn line_range(&self, text: &str, line: usize) -> Range<usize> {
        let start = self
            .starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(self.len);
        let end = self.starts.get(line).map_or(self.len, |&next| next - 1);
        let end = if text.as_bytes().get(end.wrapping_sub(1)) == Some(&b'\r') && end > start {
            end - 1
        } else {
            end
        };
        start..end.max(start)
    }
}

/// The position of byte `offset` in `text`, for a one-off lookup (several lookups in one
/// text: build a [`LineIndex`] once).
pub fn position(text: &str, offset: usize) -> Position {
    LineIndex::new(text).position(text, offset)
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let text = "ab\nçé x\n\nlast";
        let idx = LineIndex::new(text);
        let pos = |o| idx.position(text, o);
        assert_eq!(pos(0), Position { line: 1, column: 1 });
        assert_eq!(pos(2), Position { line: 1, column: 3 });
        assert_eq!(pos(3), Position { line: 2, column: 1 });
        // `x` is after two 2-byte characters and a space: byte 8, column 4.
        assert_eq!(&text[8..9], "x");
        assert_eq!(pos(8), Position { line: 2, column: 4 });
        // Inside `ç` counts as `ç`.
        assert_eq!(pos(4), Position { line: 2, column: 1 });
        assert_eq!(pos(10), Position { line: 3, column: 1 });
        assert_eq!(pos(11), Position { line: 4, column: 1 });
        assert_eq!(pos(999), Position { line: 4, column: 5 });
    }

    #[test]
    fn line_ranges_exclude_terminators() {
        let text = "one\r\ntwo\nthree";
        let idx = LineIndex::new(text);
        assert_eq!(&text[idx.line_range(text, 1)], "one");
        assert_eq!(&text[idx.line_range(text, 2)], "two");
        assert_eq!(&text[idx.line_range(text, 3)], "three");
        assert_eq!(idx.line_range(text, 9), text.len()..text.len());
    }

    #[test]
    fn empty_text_has_one_empty_line() {
        let idx = LineIndex::new("");
        assert_eq!(idx.position("", 0), Position { line: 1, column: 1 });
        assert_eq!(idx.line_range("", 1), 0..0);
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn positions_are_monotonic_and_in_range(text in "(?s).{0,200}", a in 0usize..300, b in 0usize..300) {
            let index = LineIndex::new(&text);
            let (lo, hi) = (a.min(b), a.max(b));
            let (p, q) = (index.position(&text, lo), index.position(&text, hi));
            prop_assert!(p <= q);
            prop_assert!(q.line <= text.lines().count().max(1) + 1);
            let range = index.line_range(&text, q.line);
            prop_assert!(text.get(range).is_some());
        }
    }
}
