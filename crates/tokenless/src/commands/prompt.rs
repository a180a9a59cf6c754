//! Asking the person at the terminal, and the async runtime every networked command uses.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::Context;

/// `question [y/N]` on stderr; true only for an explicit yes.
pub fn ask_yes(question: &str) -> bool {
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).is_ok() && matches!(line.trim(), "y" | "Y" | "yes")
}

/// A one-time password typed at the terminal; `None` without a terminal or an answer.
pub fn ask_code(refused: bool) -> Option<String> {
    if !std::io::stdin().is_terminal() {
        return None;
    }
    let why = if refused {
        "the code was refused; "
    } else {
        ""
    };
    eprint!("{why}one-time password: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).ok()?;
    let code = line.trim().to_owned();
    (!code.is_empty()).then_some(code)
}

/// A multi-threaded runtime for a command's requests.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}
