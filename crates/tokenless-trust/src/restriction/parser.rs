//! Parsing restriction expressions into an [`Expr`] tree.

use super::lexer::{Spanned, Token, tokenize};
use super::{MAX_DEPTH, MAX_EXPRESSION_BYTES, MAX_TOKENS};

/// An expression that does not parse; `offset` is the byte where the problem is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at byte {offset}: {message}")]
pub struct ParseError {
    /// Byte offset in the expression.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

impl ParseError {
    pub(crate) fn at(offset: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            offset,
            message: message.into(),
        }
    }
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `or`
    Or,
    /// `and`
    And,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `starts-with`
    StartsWith,
    /// `>=`
    Ge,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `<`
    Lt,
}

impl BinaryOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Or => "or",
            BinaryOp::And => "and",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::StartsWith => "starts-with",
            BinaryOp::Ge => ">=",
            BinaryOp::Gt => ">",
            BinaryOp::Le => "<=",
            BinaryOp::Lt => "<",
        }
    }
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// A string literal.
    Str(String),
    /// An integer literal.
    Int(i64),
    /// `true` / `false`.
    Bool(bool),
    /// A dotted variable name.
    Var(String),
    /// `not e` / `!e`.
    Not(Box<Expr>),
    /// `lhs op rhs`.
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
}

impl Expr {
    /// Every variable name used, in order of appearance (with repeats).
    pub fn variables(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.walk(&mut |e| {
            if let Expr::Var(v) = e {
                out.push(v.as_str());
            }
        });
        out
    }

    pub(crate) fn walk<'a>(&'a self, f: &mut impl FnMut(&'a Expr)) {
        f(self);
        match self {
            Expr::Not(inner) => inner.walk(f),
            Expr::Binary(_, l, r) => {
                l.walk(f);
                r.walk(f);
            }
            _ => {}
        }
    }
}

/// Parses one restriction expression.
pub fn parse(input: &str) -> Result<Expr, ParseError> {
    if input.len() > MAX_EXPRESSION_BYTES {
        return Err(ParseError::at(
            0,
            format!(
                "expression is {} bytes (at most {MAX_EXPRESSION_BYTES})",
                input.len()
            ),
        ));
    }
    let tokens = tokenize(input)?;
    if tokens.len() > MAX_TOKENS {
        return Err(ParseError::at(
            0,
            format!(
                "expression has {} tokens (at most {MAX_TOKENS})",
                tokens.len()
            ),
        ));
    }
    let mut p = Parser {
        tokens,
        pos: 0,
        end: input.len(),
        depth: 0,
    };
    let expr = p.or_expr()?;
    if let Some((tok, at)) = p.tokens.get(p.pos) {
        return Err(ParseError::at(
            *at,
            format!("unexpected {} after a complete expression", describe(tok)),
        ));
    }
    Ok(expr)
}

struct Parser {
    tokens: Vec<Spanned>,
    pos: usize,
    end: usize,
    depth: usize,
}

fn describe(tok: &Token) -> String {
    match tok {
        Token::Ident(s) => format!("name {s}"),
        Token::Str(s) => format!("string {s:?}"),
        Token::Int(n) => format!("integer {n}"),
        Token::True => "true".into(),
        Token::False => "false".into(),
        Token::And => "and".into(),
        Token::Or => "or".into(),
        Token::Not => "not".into(),
        Token::Bang => "!".into(),
        Token::Eq => "==".into(),
        Token::Ne => "!=".into(),
        Token::StartsWith => "starts-with".into(),
        Token::Ge => ">=".into(),
        Token::Gt => ">".into(),
        Token::Le => "<=".into(),
        Token::Lt => "<".into(),
        Token::LParen => "(".into(),
        Token::RParen => ")".into(),
    }
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|(t, _)| t)
    }

    fn offset(&self) -> usize {
        self.tokens.get(self.pos).map_or(self.end, |(_, at)| *at)
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ParseError::at(
                self.offset(),
                format!("nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    fn binary_level(
        &mut self,
        ops: &[(Token, BinaryOp)],
        next: fn(&mut Parser) -> Result<Expr, ParseError>,
    ) -> Result<Expr, ParseError> {
        let mut lhs = next(self)?;
        while let Some(op) = self
            .peek()
            .and_then(|t| ops.iter().find(|(tok, _)| tok == t).map(|(_, op)| *op))
        {
            self.pos += 1;
            let rhs = next(self)?;
            lhs = Expr::Binary(op, Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn or_expr(&mut self) -> Result<Expr, ParseError> {
        self.binary_level(&[(Token::Or, BinaryOp::Or)], Parser::and_expr)
    }

    fn and_expr(&mut self) -> Result<Expr, ParseError> {
        self.binary_level(&[(Token::And, BinaryOp::And)], Parser::eq_expr)
    }

    fn eq_expr(&mut self) -> Result<Expr, ParseError> {
        self.binary_level(
            &[(Token::Eq, BinaryOp::Eq), (Token::Ne, BinaryOp::Ne)],
            Parser::sw_expr,
        )
    }

    fn sw_expr(&mut self) -> Result<Expr, ParseError> {
        self.binary_level(
            &[(Token::StartsWith, BinaryOp::StartsWith)],
            Parser::cmp_expr,
        )
    }

    fn cmp_expr(&mut self) -> Result<Expr, ParseError> {
        self.binary_level(
            &[
                (Token::Ge, BinaryOp::Ge),
                (Token::Gt, BinaryOp::Gt),
                (Token::Le, BinaryOp::Le),
                (Token::Lt, BinaryOp::Lt),
            ],
            Parser::unary,
        )
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if matches!(self.peek(), Some(Token::Not | Token::Bang)) {
            self.pos += 1;
            self.enter()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let at = self.offset();
        let Some((tok, _)) = self.tokens.get(self.pos).cloned() else {
            return Err(ParseError::at(
                at,
                "expected a value, found the end of the expression",
            ));
        };
        self.pos += 1;
        match tok {
            Token::Str(s) => Ok(Expr::Str(s)),
            Token::Int(n) => Ok(Expr::Int(n)),
            Token::True => Ok(Expr::Bool(true)),
            Token::False => Ok(Expr::Bool(false)),
            Token::Ident(v) => Ok(Expr::Var(v)),
            Token::LParen => {
                self.enter()?;
                let inner = self.or_expr()?;
                self.depth -= 1;
                match self.peek() {
                    Some(Token::RParen) => {
                        self.pos += 1;
                        Ok(inner)
                    }
                    _ => Err(ParseError::at(self.offset(), "expected )")),
                }
            }
            other => Err(ParseError::at(
                at,
                format!("expected a value, found {}", describe(&other)),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var(v: &str) -> Box<Expr> {
        Box::new(Expr::Var(v.into()))
    }
    fn s(v: &str) -> Box<Expr> {
        Box::new(Expr::Str(v.into()))
    }

    #[test]
    fn precedence_and_associativity() {
        let e = parse(r#"pipeline.git.branch == "main" and not job.ssh.enabled or pipeline.git.tag starts-with "v""#).expect("parses");
        assert_eq!(
            e,
            Expr::Binary(
                BinaryOp::Or,
                Box::new(Expr::Binary(
                    BinaryOp::And,
                    Box::new(Expr::Binary(
                        BinaryOp::Eq,
                        var("pipeline.git.branch"),
                        s("main")
                    )),
                    Box::new(Expr::Not(var("job.ssh.enabled"))),
                )),
                Box::new(Expr::Binary(
                    BinaryOp::StartsWith,
                    var("pipeline.git.tag"),
                    s("v")
                )),
            )
        );
        // Left-associative.
        let e = parse("1 < 2 < 3").expect("parses");
        assert!(
            matches!(e, Expr::Binary(BinaryOp::Lt, l, _) if matches!(*l, Expr::Binary(BinaryOp::Lt, _, _)))
        );
        // starts-with binds tighter than ==.
        let e = parse(r#"a starts-with "x" == true"#).expect("parses");
        assert!(
            matches!(e, Expr::Binary(BinaryOp::Eq, l, _) if matches!(*l, Expr::Binary(BinaryOp::StartsWith, _, _)))
        );
    }

    #[test]
    fn string_escapes() {
        assert_eq!(parse(r#""a\"b\\c""#), Ok(Expr::Str("a\"b\\c".into())));
        assert!(parse(r#""a\nb""#).is_err());
        assert!(parse(r#""open"#).is_err());
    }

    #[test]
    fn errors_have_offsets() {
        assert_eq!(parse("a ==").map_err(|e| e.offset), Err(4));
        assert_eq!(parse("a == b c").map_err(|e| e.offset), Err(7));
        assert!(parse("(a").is_err());
        assert!(parse("").is_err());
        assert!(parse("a = b").is_err());
        assert!(parse("a starts-withx b").is_err());
        assert!(parse("99999999999999999999").is_err());
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!(
            "{}true{}",
            "(".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        );
        assert!(parse(&deep).is_err());
        let nots = format!("{}true", "not ".repeat(MAX_DEPTH + 1));
        assert!(parse(&nots).is_err());
        let ok = format!("{}true{}", "(".repeat(10), ")".repeat(10));
        assert_eq!(parse(&ok), Ok(Expr::Bool(true)));
    }
}
