//! Secrets, as DuckDB writes them:
//!
//! ```text
//! CREATE [OR REPLACE] [PERSISTENT | TEMPORARY] SECRET [IF NOT EXISTS] name
//!     (TYPE s3 | azure | gcs, KEY value, ..., SCOPE 'url-prefix')
//! DROP [PERSISTENT | TEMPORARY] SECRET [IF EXISTS] name
//! SHOW SECRETS
//! ```

use std::fmt;

use datafusion::sql::sqlparser::ast::Value;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::Token;

use super::peek_word;

/// A parsed secret statement.
#[derive(Debug, Clone, PartialEq)]
pub enum SecretStatement {
    Create {
        name: String,
        or_replace: bool,
        if_not_exists: bool,
        persistent: bool,
        kind: String,
        /// Every `KEY value` but TYPE, as written (SCOPE among them).
        params: Vec<(String, String)>,
    },
    Drop {
        name: String,
        if_exists: bool,
    },
    Show,
}

/// Whether the parser stands on `CREATE [OR REPLACE] [PERSISTENT|TEMPORARY] SECRET`.
pub(crate) fn is_create(parser: &Parser) -> bool {
    for n in 1..=4 {
        match peek_word(parser, n).as_str() {
            "SECRET" => return true,
            "OR" | "REPLACE" | "PERSISTENT" | "TEMPORARY" => continue,
            _ => return false,
        }
    }
    false
}

/// Whether the parser stands on `DROP [PERSISTENT|TEMPORARY] SECRET`.
pub(crate) fn is_drop(parser: &Parser) -> bool {
    match peek_word(parser, 1).as_str() {
        "SECRET" => true,
        "PERSISTENT" | "TEMPORARY" => peek_word(parser, 2) == "SECRET",
        _ => false,
    }
}

fn word(parser: &mut Parser, w: &str) -> bool {
    if peek_word(parser, 0) == w {
        parser.next_token();
        return true;
    }
    false
}

/// Parses a secret statement; the parser stands on its first word.
pub(crate) fn parse(parser: &mut Parser) -> Result<SecretStatement, ParserError> {
    if word(parser, "SHOW") {
        parser.next_token(); // SECRETS
        return Ok(SecretStatement::Show);
    }
    if word(parser, "DROP") {
        let _ = word(parser, "PERSISTENT") || word(parser, "TEMPORARY");
        parser.next_token(); // SECRET
        let if_exists = parser.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
        let name = parser.parse_identifier()?.value;
        return Ok(SecretStatement::Drop { name, if_exists });
    }
    parser.next_token(); // CREATE
    let or_replace = parser.parse_keywords(&[Keyword::OR, Keyword::REPLACE]);
    let persistent = word(parser, "PERSISTENT");
    let _ = word(parser, "TEMPORARY");
    parser.next_token(); // SECRET
    let if_not_exists = parser.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
    let name = parser.parse_identifier()?.value;
    parser.expect_token(&Token::LParen)?;
    let mut kind = None;
    let mut params = Vec::new();
    loop {
        let key = parser.parse_identifier()?.value;
        let tok = parser.next_token();
        let value = match tok.token {
            Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => s,
            Token::Number(n, _) => n,
            Token::Word(w) => w.value,
            _ => return parser.expected("a value", tok),
        };
        if key.eq_ignore_ascii_case("type") {
            kind = Some(value);
        } else {
            params.push((key.to_ascii_uppercase(), value));
        }
        if !parser.consume_token(&Token::Comma) {
            break;
        }
    }
    parser.expect_token(&Token::RParen)?;
    let Some(kind) = kind else {
        return parser.expected(
            "TYPE s3, azure, gcs, bearer or oauth2 in the secret",
            parser.peek_token(),
        );
    };
    Ok(SecretStatement::Create {
        name,
        or_replace,
        if_not_exists,
        persistent,
        kind,
        params,
    })
}

impl fmt::Display for SecretStatement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretStatement::Show => write!(f, "SHOW SECRETS"),
            SecretStatement::Drop { name, if_exists } => write!(
                f,
                "DROP SECRET {}{name}",
                if *if_exists { "IF EXISTS " } else { "" }
            ),
            SecretStatement::Create {
                name,
                or_replace,
                if_not_exists,
                persistent,
                kind,
                params,
            } => {
                write!(f, "CREATE ")?;
                if *or_replace {
                    write!(f, "OR REPLACE ")?;
                }
                if *persistent {
                    write!(f, "PERSISTENT ")?;
                }
                write!(f, "SECRET ")?;
                if *if_not_exists {
                    write!(f, "IF NOT EXISTS ")?;
                }
                write!(f, "{name} (TYPE {kind}")?;
                for (k, v) in params {
                    write!(f, ", {k} {}", Value::SingleQuotedString(v.clone()))?;
                }
                write!(f, ")")
            }
        }
    }
}
