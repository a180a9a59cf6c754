//! Inline suppressions: `# tokenless: ignore[rule-id]` on the finding's line or the line above.
