//! Tokens of the restriction language.

use super::parser::ParseError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    Ident(String),
    Str(String),
    Int(i64),
    True,
    False,
    And,
    Or,
    Not,
    Bang,
    Eq,
    Ne,
    StartsWith,
    Ge,
    Gt,
    Le,
    Lt,
    LParen,
    RParen,
}

/// A token and the byte offset where it starts.
pub(crate) type Spanned = (Token, usize);

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

pub(crate) fn tokenize(input: &str) -> Result<Vec<Spanned>, ParseError> {
    let mut out = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(pos, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let two = input.get(pos..pos + 2);
        let simple = match c {
            '(' => Some((Token::LParen, 1)),
            ')' => Some((Token::RParen, 1)),
            '=' if two == Some("==") => Some((Token::Eq, 2)),
            '!' if two == Some("!=") => Some((Token::Ne, 2)),
            '!' => Some((Token::Bang, 1)),
            '>' if two == Some(">=") => Some((Token::Ge, 2)),
            '>' => Some((Token::Gt, 1)),
            '<' if two == Some("<=") => Some((Token::Le, 2)),
            '<' => Some((Token::Lt, 1)),
            _ => None,
        };
        if let Some((tok, len)) = simple {
            for _ in 0..len {
                chars.next();
            }
            out.push((tok, pos));
            continue;
        }
        if c == '"' {
            chars.next();
            let mut s = String::new();
            let mut closed = false;
            while let Some((_, c)) = chars.next() {
                match c {
                    '"' => {
                        closed = true;
                        break;
                    }
                    '\\' => match chars.next() {
                        Some((_, '"')) => s.push('"'),
                        Some((_, '\\')) => s.push('\\'),
                        Some((at, other)) => {
                            return Err(ParseError::at(
                                at,
                                format!("unknown escape \\{other} (only \\\" and \\\\)"),
                            ));
                        }
                        None => break,
                    },
                    other => s.push(other),
                }
            }
            if !closed {
                return Err(ParseError::at(pos, "unterminated string"));
            }
            out.push((Token::Str(s), pos));
            continue;
        }
        if c.is_ascii_digit() {
            let mut end = pos;
            while let Some(&(i, d)) = chars.peek() {
                if !d.is_ascii_digit() {
                    break;
                }
                end = i + 1;
                chars.next();
            }
            let text = input.get(pos..end).unwrap_or_default();
            let n = text
                .parse::<i64>()
                .map_err(|_| ParseError::at(pos, format!("integer {text} is out of range")))?;
            if chars.peek().is_some_and(|&(_, c)| is_ident_char(c)) {
                return Err(ParseError::at(pos, "a number may not run into letters"));
            }
            out.push((Token::Int(n), pos));
            continue;
        }
        if is_ident_start(c) {
            // A dotted name: ident { "." ident }.
            let mut end = pos;
            loop {
                while let Some(&(i, d)) = chars.peek() {
                    if !is_ident_char(d) {
                        break;
                    }
                    end = i + d.len_utf8();
                    chars.next();
                }
                let dot_then_ident = input.get(end..).is_some_and(|rest| {
                    rest.starts_with('.') && rest.chars().nth(1).is_some_and(is_ident_start)
                });
                if !dot_then_ident {
                    break;
                }
                chars.next();
                end += 1;
            }
            let word = input.get(pos..end).unwrap_or_default();
            let tok = match word {
                "and" => Token::And,
                "or" => Token::Or,
                "not" => Token::Not,
                "true" => Token::True,
                "false" => Token::False,
                "starts" if input.get(end..).is_some_and(|r| r.starts_with("-with")) => {
                    let after = input.get(end + 5..).and_then(|r| r.chars().next());
                    if after.is_some_and(is_ident_char) {
                        return Err(ParseError::at(
                            pos,
                            "unknown operator (did you mean starts-with?)",
                        ));
                    }
                    for _ in 0..5 {
                        chars.next();
                    }
                    Token::StartsWith
                }
                _ => Token::Ident(word.to_owned()),
            };
            out.push((tok, pos));
            continue;
        }
        return Err(ParseError::at(pos, format!("unexpected character {c:?}")));
    }
    Ok(out)
}
