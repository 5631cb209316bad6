//! `SET spark.… = value` and `SET lakeshell.… = value`: settings of lakeshell's own, with
//! Databricks' names for some of them, which DataFusion's `SET` would refuse. Any other `SET`
//! is DataFusion's.
//!
//! ```text
//! SET { spark | lakeshell }.name[.name ...] [= | TO] value
//! ```

use std::fmt;

use datafusion::sql::sqlparser::ast::Value;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::Token;

use super::peek_word;

/// One lakeshell setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetStatement {
    /// The setting's name, lower-cased (`spark.databricks.delta.retentiondurationcheck.enabled`).
    pub key: String,
    /// Its value, as written (quotes taken off).
    pub value: String,
}

/// True when the parser, standing on `SET`, is at one of lakeshell's settings.
pub(crate) fn is_ours(parser: &Parser) -> bool {
    matches!(peek_word(parser, 1).as_str(), "SPARK" | "LAKESHELL")
        && parser.peek_nth_token(2).token == Token::Period
}

/// Parses the statement; the parser stands on `SET`.
pub(crate) fn parse(parser: &mut Parser) -> Result<SetStatement, ParserError> {
    parser.expect_keyword(Keyword::SET)?;
    let mut key = parser.parse_identifier()?.value;
    while parser.consume_token(&Token::Period) {
        key.push('.');
        key.push_str(&parser.parse_identifier()?.value);
    }
    if !parser.consume_token(&Token::Eq) {
        let _ = parser.parse_keyword(Keyword::TO);
    }
    let mut value = String::new();
    loop {
        let tok = parser.peek_token();
        match &tok.token {
            Token::EOF | Token::SemiColon => break,
            Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => value.push_str(s),
            Token::Word(w) => value.push_str(&w.value),
            other => value.push_str(&other.to_string()),
        }
        parser.next_token();
    }
    if value.is_empty() {
        return parser.expected("a value", parser.peek_token());
    }
    Ok(SetStatement {
        key: key.to_ascii_lowercase(),
        value,
    })
}

impl fmt::Display for SetStatement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SET {} = {}",
            self.key,
            Value::SingleQuotedString(self.value.clone())
        )
    }
}
