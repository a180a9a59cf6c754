//! A small POSIX-shell reader for `run:`/`command:`/`script:` bodies.
//!
//! It is not an interpreter: it splits a script into simple commands (with the operator
//! that joins each to the next), and each command into assignments, words and
//! redirections. Words are unquoted exactly as the shell does it: single quotes keep
//! everything (backslashes included), double quotes honour `\$ \` \" \\` and a line
//! continuation, and `$(…)` opens a fresh quoting context even inside double quotes, so a
//! command substitution is parsed as its own script. Parameter expansions stay as written
//! (`$X`, `${X}`): their values are not known statically.
//!
//! All offsets are byte offsets into the script text given to [`parse`]. The reader is
//! linear, never panics, and bounds nesting of substitutions at [`MAX_NESTING`].

/// Deepest `$(…)` nesting parsed as commands; deeper text stays literal.
pub const MAX_NESTING: usize = 16;

/// How a command is joined to the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Joiner {
    /// `;`, a newline, `&`, or the end of the script.
    #[default]
    Seq,
    /// `&&`
    And,
    /// `||`
    Or,
    /// `|`
    Pipe,
}

/// One shell word after quote removal.
#[derive(Debug, Clone, Default)]
pub struct Word {
    /// The value after quote removal; expansions are kept as written.
    pub text: String,
    /// Byte range of the word in the script (quotes included).
    pub start: usize,
    pub end: usize,
    /// Command substitutions inside the word, in order.
    pub subs: Vec<Script>,
    /// Whether any part of the word was quoted.
    pub quoted: bool,
}

#[derive(Debug, Clone)]
pub struct Redirect {
    /// `>`, `>>`, `<`, `<<`, `<<<`, `>&`…
    pub op: String,
    pub target: Word,
}

#[derive(Debug, Clone, Default)]
pub struct Command {
    /// `NAME=value` words before the command name.
    pub assigns: Vec<(String, Word)>,
    pub args: Vec<Word>,
    pub redirects: Vec<Redirect>,
    /// The body of a here-document fed to this command, if any.
    pub heredoc: Option<Word>,
    /// Operator after this command.
    pub joiner: Joiner,
    /// Operator before this command (`Seq` for the first).
    pub after: Joiner,
    pub start: usize,
    pub end: usize,
}

impl Command {
    /// The argument words with shell keywords and wrappers (`sudo`, `env`, `exec`,
    /// `command`, `time`, `if`, `then`, `!`…) removed from the front.
    pub fn argv(&self) -> &[Word] {
        let mut a = &self.args[..];
        loop {
            let Some(first) = a.first() else { return a };
            let t = first.text.as_str();
            let skip = match t {
                "if" | "then" | "else" | "elif" | "do" | "while" | "until" | "!" | "{" | "("
                | "time" | "exec" | "command" | "nohup" => 1,
                "sudo" => {
                    // sudo and its flags
                    1 + a[1..]
                        .iter()
                        .take_while(|w| w.text.starts_with('-'))
                        .count()
                }
                "env" => {
                    1 + a[1..]
                        .iter()
                        .take_while(|w| w.text.starts_with('-') || is_assignment(&w.text))
                        .count()
                }
                _ => 0,
            };
            if skip == 0 {
                return a;
            }
            a = &a[skip.min(a.len())..];
        }
    }

    /// The command name after wrappers.
    pub fn name(&self) -> &str {
        self.argv().first().map(|w| w.text.as_str()).unwrap_or("")
    }

    /// Whether a redirect writes to a target matching `pred`.
    pub fn writes_to(&self, pred: impl Fn(&str) -> bool) -> Option<&Redirect> {
        self.redirects.iter().find(|r| {
            matches!(r.op.as_str(), ">" | ">>" | ">|" | "&>" | "&>>") && pred(&r.target.text)
        })
    }
}

/// A parsed script: commands in source order (substitutions are inside their words).
#[derive(Debug, Clone, Default)]
pub struct Script {
    pub commands: Vec<Command>,
}

impl Script {
    /// Every command, including those inside command substitutions, depth first, with
    /// the nesting depth (0 = top level).
    pub fn walk(&self, f: &mut dyn FnMut(&Command, usize)) {
        fn go(s: &Script, depth: usize, f: &mut dyn FnMut(&Command, usize)) {
            for c in &s.commands {
                f(c, depth);
                for w in c.assigns.iter().map(|(_, w)| w).chain(&c.args) {
                    for sub in &w.subs {
                        go(sub, depth + 1, f);
                    }
                }
                for r in &c.redirects {
                    for sub in &r.target.subs {
                        go(sub, depth + 1, f);
                    }
                }
            }
        }
        go(self, 0, f);
    }
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// `NAME=...` with a valid shell name.
pub fn is_assignment(word: &str) -> bool {
    match word.find('=') {
        Some(i) if i > 0 => {
            let name = &word.as_bytes()[..i];
            !name[0].is_ascii_digit() && name.iter().all(|b| is_name_byte(*b))
        }
        _ => false,
    }
}

/// Parse a whole script.
pub fn parse(src: &str) -> Script {
    let mut p = Reader {
        s: src.as_bytes(),
        src,
        i: 0,
        depth: 0,
    };
    p.script(None)
}

struct Reader<'a> {
    s: &'a [u8],
    src: &'a str,
    i: usize,
    depth: usize,
}

impl Reader<'_> {
    fn peek(&self) -> u8 {
        self.s.get(self.i).copied().unwrap_or(0)
    }

    fn at(&self, k: usize) -> u8 {
        self.s.get(self.i + k).copied().unwrap_or(0)
    }

    fn eof(&self) -> bool {
        self.i >= self.s.len()
    }

    /// Read commands until the end, or (for substitutions) the closing `)`.
    fn script(&mut self, close: Option<u8>) -> Script {
        let mut commands: Vec<Command> = Vec::new();
        let mut cur = Command {
            start: self.i,
            ..Command::default()
        };
        let mut pending_heredocs: Vec<(String, bool, usize)> = Vec::new();
        let mut prev = Joiner::Seq;
        let finish = |cur: &mut Command,
                      commands: &mut Vec<Command>,
                      j: Joiner,
                      prev: &mut Joiner,
                      at: usize| {
            if !cur.args.is_empty() || !cur.assigns.is_empty() || !cur.redirects.is_empty() {
                let mut c = std::mem::take(cur);
                c.joiner = j;
                c.after = *prev;
                commands.push(c);
                *prev = j;
            } else if j != Joiner::Seq {
                *prev = j;
            }
            cur.start = at;
        };
        while !self.eof() {
            let c = self.peek();
            match c {
                b' ' | b'\t' | b'\r' => self.i += 1,
                b'\\' if self.at(1) == b'\n' => self.i += 2,
                b'\n' => {
                    self.i += 1;
                    let end = self.i;
                    cur.end = cur.end.max(cur.start);
                    finish(&mut cur, &mut commands, Joiner::Seq, &mut prev, end);
                    // Here-document bodies start on the next line.
                    for (delim, strip, cmd_idx) in pending_heredocs.drain(..) {
                        let body = self.heredoc_body(&delim, strip);
                        if let Some(cmd) = commands.get_mut(cmd_idx) {
                            cmd.heredoc = Some(body);
                        }
                    }
                    prev = Joiner::Seq;
                }
                b'#' => {
                    while !self.eof() && self.peek() != b'\n' {
                        self.i += 1;
                    }
                }
                b')' if close == Some(b')') => {
                    let end = self.i;
                    finish(&mut cur, &mut commands, Joiner::Seq, &mut prev, end);
                    self.i += 1;
                    return Script { commands };
                }
                b';' | b'&' | b'|' | b'(' | b')' => {
                    let (j, len) = match (c, self.at(1)) {
                        (b'&', b'&') => (Joiner::And, 2),
                        (b'|', b'|') => (Joiner::Or, 2),
                        (b'|', _) => (Joiner::Pipe, 1),
                        (b';', b';') => (Joiner::Seq, 2),
                        (b'&', b'>') => {
                            // &> redirect
                            self.i += 2;
                            let op = if self.peek() == b'>' {
                                self.i += 1;
                                "&>>"
                            } else {
                                "&>"
                            };
                            self.skip_blanks();
                            let target = self.word();
                            cur.redirects.push(Redirect {
                                op: op.into(),
                                target,
                            });
                            continue;
                        }
                        _ => (Joiner::Seq, 1),
                    };
                    cur.end = self.i;
                    self.i += len;
                    let at = self.i;
                    finish(&mut cur, &mut commands, j, &mut prev, at);
                }
                b'>' | b'<' => self.redirect(&mut cur, &mut pending_heredocs, commands.len()),
                b'0'..=b'9'
                    if matches!(self.at(1), b'>' | b'<') && cur_is_word_start(&cur, self.i) =>
                {
                    self.i += 1;
                    self.redirect(&mut cur, &mut pending_heredocs, commands.len());
                }
                _ => {
                    let w = self.word();
                    if w.end == w.start {
                        // Defensive: never loop without progress.
                        self.i += 1;
                        continue;
                    }
                    cur.end = w.end;
                    if cur.args.is_empty() && is_assignment(&w.text) && !w.text.starts_with('=') {
                        let eq = w.text.find('=').unwrap_or(0);
                        let name = w.text[..eq].to_string();
                        let mut value = w.clone();
                        value.text = w.text[eq + 1..].to_string();
                        // The value starts after `NAME=` in the source.
                        value.start = (w.start + eq + 1).min(w.end);
                        cur.assigns.push((name, value));
                    } else {
                        if cur.args.is_empty() && cur.assigns.is_empty() {
                            cur.start = w.start;
                        }
                        cur.args.push(w);
                    }
                }
            }
        }
        let end = self.i;
        finish(&mut cur, &mut commands, Joiner::Seq, &mut prev, end);
        Script { commands }
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), b' ' | b'\t') {
            self.i += 1;
        }
    }

    fn redirect(
        &mut self,
        cur: &mut Command,
        heredocs: &mut Vec<(String, bool, usize)>,
        idx: usize,
    ) {
        let start = self.i;
        let c = self.peek();
        self.i += 1;
        while matches!(self.peek(), b'>' | b'<' | b'&' | b'|' | b'-') && self.i - start < 3 {
            self.i += 1;
        }
        let op = self.src.get(start..self.i).unwrap_or("").to_string();
        let _ = c;
        self.skip_blanks();
        let target = self.word();
        if op.starts_with("<<") && op != "<<<" {
            let strip = op.ends_with('-');
            heredocs.push((target.text.clone(), strip, idx));
        }
        cur.end = target.end.max(cur.end);
        cur.redirects.push(Redirect {
            op: op.trim_end_matches('-').to_string(),
            target,
        });
    }

    fn heredoc_body(&mut self, delim: &str, strip: bool) -> Word {
        let start = self.i;
        let mut text = String::new();
        while !self.eof() {
            let line_start = self.i;
            while !self.eof() && self.peek() != b'\n' {
                self.i += 1;
            }
            let line = self.src.get(line_start..self.i).unwrap_or("");
            if !self.eof() {
                self.i += 1;
            }
            let cmp = if strip {
                line.trim_start_matches('\t')
            } else {
                line
            };
            if cmp.trim_end() == delim {
                return Word {
                    text,
                    start,
                    end: line_start,
                    subs: Vec::new(),
                    quoted: true,
                };
            }
            text.push_str(line);
            text.push('\n');
        }
        Word {
            text,
            start,
            end: self.i,
            subs: Vec::new(),
            quoted: true,
        }
    }

    /// One word, quote-removed.
    fn word(&mut self) -> Word {
        let start = self.i;
        let mut w = Word {
            start,
            ..Word::default()
        };
        while !self.eof() {
            let c = self.peek();
            match c {
                b' ' | b'\t' | b'\n' | b'\r' | b';' | b'&' | b'|' | b'<' | b'>' | b'(' | b')' => {
                    // `$(`, handled below, is the only paren inside a word.
                    break;
                }
                b'\\' => {
                    if self.at(1) == b'\n' {
                        self.i += 2;
                    } else {
                        self.i += 1;
                        self.push_char(&mut w);
                        w.quoted = true;
                    }
                }
                b'\'' => {
                    w.quoted = true;
                    self.i += 1;
                    let s = self.i;
                    while !self.eof() && self.peek() != b'\'' {
                        self.i += 1;
                    }
                    w.text.push_str(self.src.get(s..self.i).unwrap_or(""));
                    self.i = (self.i + 1).min(self.s.len());
                }
                b'"' => {
                    w.quoted = true;
                    self.i += 1;
                    self.double_quoted(&mut w);
                }
                b'$' if self.at(1) == b'(' => self.substitution(&mut w),
                b'$' if self.at(1) == b'{' => self.braced(&mut w),
                b'`' => self.backticks(&mut w),
                _ => self.push_char(&mut w),
            }
        }
        w.end = self.i;
        w
    }

    fn push_char(&mut self, w: &mut Word) {
        let rest = self.src.get(self.i..).unwrap_or("");
        if let Some(ch) = rest.chars().next() {
            w.text.push(ch);
            self.i += ch.len_utf8();
        } else {
            self.i += 1;
        }
    }

    fn double_quoted(&mut self, w: &mut Word) {
        while !self.eof() {
            let c = self.peek();
            match c {
                b'"' => {
                    self.i += 1;
                    return;
                }
                b'\\' => {
                    let n = self.at(1);
                    if matches!(n, b'$' | b'`' | b'"' | b'\\') {
                        w.text.push(n as char);
                        self.i += 2;
                    } else if n == b'\n' {
                        self.i += 2;
                    } else {
                        w.text.push('\\');
                        self.i += 1;
                    }
                }
                b'$' if self.at(1) == b'(' => self.substitution(w),
                b'$' if self.at(1) == b'{' => self.braced(w),
                b'`' => self.backticks(w),
                _ => self.push_char(w),
            }
        }
    }

    /// `${…}` kept literally (nested braces counted).
    fn braced(&mut self, w: &mut Word) {
        let s = self.i;
        self.i += 2;
        let mut depth = 1usize;
        while !self.eof() && depth > 0 {
            match self.peek() {
                b'{' => depth += 1,
                b'}' => depth -= 1,
                b'\\' => self.i += 1,
                _ => {}
            }
            self.i += 1;
        }
        self.i = self.i.min(self.s.len());
        w.text.push_str(self.src.get(s..self.i).unwrap_or(""));
    }

    /// `$(…)` (or `$((…))`, kept literal): a fresh quoting context.
    fn substitution(&mut self, w: &mut Word) {
        let s = self.i;
        if self.at(2) == b'(' {
            // Arithmetic: skip to the matching `))`.
            self.i += 3;
            let mut depth = 2usize;
            while !self.eof() && depth > 0 {
                match self.peek() {
                    b'(' => depth += 1,
                    b')' => depth -= 1,
                    _ => {}
                }
                self.i += 1;
            }
            w.text.push_str(self.src.get(s..self.i).unwrap_or(""));
            return;
        }
        self.i += 2;
        if self.depth >= MAX_NESTING {
            let mut depth = 1usize;
            while !self.eof() && depth > 0 {
                match self.peek() {
                    b'(' => depth += 1,
                    b')' => depth -= 1,
                    _ => {}
                }
                self.i += 1;
            }
        } else {
            self.depth += 1;
            let sub = self.script(Some(b')'));
            self.depth -= 1;
            w.subs.push(sub);
        }
        w.text.push_str(self.src.get(s..self.i).unwrap_or(""));
    }

    fn backticks(&mut self, w: &mut Word) {
        let s = self.i;
        self.i += 1;
        let inner_start = self.i;
        while !self.eof() && self.peek() != b'`' {
            if self.peek() == b'\\' {
                self.i += 1;
            }
            self.i += 1;
        }
        let inner_end = self.i.min(self.s.len());
        self.i = (self.i + 1).min(self.s.len());
        if self.depth < MAX_NESTING {
            let inner = self.src.get(inner_start..inner_end).unwrap_or("");
            let mut r = Reader {
                s: inner.as_bytes(),
                src: inner,
                i: 0,
                depth: self.depth + 1,
            };
            let mut sub = r.script(None);
            shift(&mut sub, inner_start);
            w.subs.push(sub);
        }
        w.text.push_str(self.src.get(s..self.i).unwrap_or(""));
    }
}

fn cur_is_word_start(_cur: &Command, _i: usize) -> bool {
    true
}

/// Move every offset in a script by `by` bytes.
fn shift(s: &mut Script, by: usize) {
    for c in &mut s.commands {
        c.start += by;
        c.end += by;
        for w in c
            .assigns
            .iter_mut()
            .map(|(_, w)| w)
            .chain(c.args.iter_mut())
        {
            shift_word(w, by);
        }
        for r in &mut c.redirects {
            shift_word(&mut r.target, by);
        }
        if let Some(h) = &mut c.heredoc {
            shift_word(h, by);
        }
    }
}

fn shift_word(w: &mut Word, by: usize) {
    w.start += by;
    w.end += by;
    for s in &mut w.subs {
        shift(s, by);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(c: &Command) -> Vec<&str> {
        c.args.iter().map(|w| w.text.as_str()).collect()
    }

    #[test]
    fn single_quotes_keep_backslashes_inside_substitution_in_double_quotes() {
        let src = r#"echo "export NPM_ID_TOKEN=$(circleci run oidc get --claims '{\"aud\": \"npm:registry.npmjs.org\"}')" >> "$BASH_ENV""#;
        let s = parse(src);
        assert_eq!(s.commands.len(), 1);
        let echo = &s.commands[0];
        assert_eq!(echo.name(), "echo");
        assert_eq!(echo.redirects[0].op, ">>");
        assert_eq!(echo.redirects[0].target.text, "$BASH_ENV");
        let sub = &echo.args[1].subs[0];
        let claims = &sub.commands[0].args[5];
        assert_eq!(claims.text, r#"{\"aud\": \"npm:registry.npmjs.org\"}"#);
        assert_eq!(
            &src[claims.start..claims.end],
            r#"'{\"aud\": \"npm:registry.npmjs.org\"}'"#
        );
    }

    #[test]
    fn double_quote_escapes_are_removed() {
        let s = parse(r#"x --claims "{\"aud\":\"npm:registry.npmjs.org\"}""#);
        assert_eq!(
            s.commands[0].args[2].text,
            r#"{"aud":"npm:registry.npmjs.org"}"#
        );
    }

    #[test]
    fn operators_and_assignments() {
        let s = parse(
            "set -e\nA=$(f) || true\nexport B=1 && npm publish | tee x\n# c\nif [ -z \"$A\" ]; then exit 1; fi",
        );
        let c = &s.commands;
        assert_eq!(texts(&c[0]), ["set", "-e"]);
        assert_eq!(c[1].assigns[0].0, "A");
        assert_eq!(c[1].joiner, Joiner::Or);
        assert_eq!(texts(&c[2]), ["true"]);
        assert_eq!(texts(&c[3]), ["export", "B=1"]);
        assert_eq!(c[4].name(), "npm");
        assert_eq!(c[4].joiner, Joiner::Pipe);
        assert_eq!(c[6].name(), "[");
    }

    #[test]
    fn heredoc_and_continuations() {
        let s = parse("cat <<EOF > .npmrc\n//r/:_authToken=${T}\nEOF\nnpm \\\n  publish");
        assert_eq!(
            s.commands[0].heredoc.as_ref().map(|h| h.text.as_str()),
            Some("//r/:_authToken=${T}\n")
        );
        assert_eq!(texts(&s.commands[1]), ["npm", "publish"]);
    }

    #[test]
    fn never_panics_on_garbage() {
        for src in [
            "$(",
            "\"$(\"",
            "'",
            "`",
            "${",
            "$((",
            "a >",
            "<<",
            "\\",
            "é$(é'é\"é`é",
        ] {
            let _ = parse(src);
        }
    }
}
