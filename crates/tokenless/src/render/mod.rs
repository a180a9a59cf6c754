//! Renderers: data in, text out. Each command's report has its own renderers beside the
//! shared helpers here (`lint_text`, `lint_json`, `sarif`; audit adds its own).
//! Renderers never decide what is a problem; they only lay out what they are given.

pub mod audit_html;
pub mod audit_json;
pub mod audit_markdown;
pub mod audit_text;
pub mod fix_report;
pub mod init_toml;
pub mod lint_json;
pub mod lint_report;
pub mod lint_text;
pub mod plan_text;
pub mod sarif;
pub mod scan;

use std::io::{self, Write};

/// Standard output, with ANSI styling stripped when `NO_COLOR` is set, `CLICOLOR=0`, or
/// stdout is not a terminal (anstream's rules). Renderers always emit styled text.
pub fn stdout() -> anstream::AutoStream<io::StdoutLock<'static>> {
    anstream::AutoStream::auto(io::stdout().lock())
}

/// Write `text` and flush, treating a closed pipe (`| head`) as success.
pub fn write_all(out: &mut dyn Write, text: &str) -> io::Result<()> {
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod audit_tests;
#[cfg(test)]
mod test_support;
