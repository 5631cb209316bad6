//! Session variables, in Databricks' form:
//!
//! ```text
//! DECLARE [OR REPLACE] [VARIABLE | VAR] name [type] [{DEFAULT | =} expr]
//! SET {VAR | VARIABLE} name = expr [, name = expr ...]
//! DROP TEMPORARY {VARIABLE | VAR} [IF EXISTS] name
//! ```
//!
//! `expr` may read tables (`DEFAULT (SELECT max(d) FROM bronze.calls)`); it is evaluated when
//! the statement runs. A variable is then used wherever an expression can be, by its name or
//! as `session.name` / `system.session.name`.

use std::fmt;

use datafusion::sql::sqlparser::ast::{DataType, Expr, Ident};
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::Token;

use super::peek_word;

#[derive(Debug, Clone, PartialEq)]
pub enum VariableStatement {
    Declare {
        name: Ident,
        or_replace: bool,
        data_type: Option<DataType>,
        default: Option<Box<Expr>>,
    },
    Set(Vec<(Ident, Expr)>),
    Drop {
        name: Ident,
        if_exists: bool,
    },
}

/// True when the parser stands on a variable statement.
pub(crate) fn is_variable(parser: &Parser) -> bool {
    match (peek_word(parser, 0).as_str(), peek_word(parser, 1).as_str()) {
        ("DECLARE", _) => true,
        ("SET", "VAR" | "VARIABLE") => true,
        ("DROP", "TEMPORARY") => matches!(peek_word(parser, 2).as_str(), "VAR" | "VARIABLE"),
        _ => false,
    }
}

fn word(parser: &mut Parser, words: &[&str]) -> bool {
    if words.contains(&peek_word(parser, 0).as_str()) {
        parser.next_token();
        return true;
    }
    false
}

/// Parses from the first word.
pub(crate) fn parse(parser: &mut Parser) -> Result<VariableStatement, ParserError> {
    if word(parser, &["DECLARE"]) {
        let or_replace = parser.parse_keywords(&[Keyword::OR, Keyword::REPLACE]);
        word(parser, &["VARIABLE", "VAR"]);
        let name = parser.parse_identifier()?;
        let data_type = match peek_word(parser, 0).as_str() {
            "DEFAULT" | "" => None,
            _ => Some(parser.parse_data_type()?),
        };
        let default = if word(parser, &["DEFAULT"]) || parser.consume_token(&Token::Eq) {
            Some(Box::new(parser.parse_expr()?))
        } else {
            None
        };
        if data_type.is_none() && default.is_none() {
            return parser.expected(
                "a type or DEFAULT expr for the variable",
                parser.peek_token(),
            );
        }
        return Ok(VariableStatement::Declare {
            name,
            or_replace,
            data_type,
            default,
        });
    }
    if word(parser, &["SET"]) {
        word(parser, &["VARIABLE", "VAR"]);
        let sets = parser.parse_comma_separated(|p| {
            let name = p.parse_identifier()?;
            p.expect_token(&Token::Eq)?;
            Ok((name, p.parse_expr()?))
        })?;
        return Ok(VariableStatement::Set(sets));
    }
    parser.next_token(); // DROP
    parser.next_token(); // TEMPORARY
    word(parser, &["VARIABLE", "VAR"]);
    let if_exists = parser.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
    Ok(VariableStatement::Drop {
        name: parser.parse_identifier()?,
        if_exists,
    })
}

impl fmt::Display for VariableStatement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VariableStatement::Declare {
                name,
                or_replace,
                data_type,
                default,
            } => {
                write!(
                    f,
                    "DECLARE {}VARIABLE {name}",
                    if *or_replace { "OR REPLACE " } else { "" }
                )?;
                if let Some(t) = data_type {
                    write!(f, " {t}")?;
                }
                if let Some(d) = default {
                    write!(f, " DEFAULT {d}")?;
                }
                Ok(())
            }
            VariableStatement::Set(sets) => {
                let items: Vec<String> = sets.iter().map(|(n, e)| format!("{n} = {e}")).collect();
                write!(f, "SET VARIABLE {}", items.join(", "))
            }
            VariableStatement::Drop { name, if_exists } => write!(
                f,
                "DROP TEMPORARY VARIABLE {}{name}",
                if *if_exists { "IF EXISTS " } else { "" }
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::sql::{parse_statement, LakeStatement};

    fn parse(sql: &str) -> super::VariableStatement {
        match parse_statement(sql).unwrap() {
            LakeStatement::Variable(v) => v,
            other => panic!("not a variable statement: {other:?}"),
        }
    }

    #[test]
    fn variable_statements_parse_and_round_trip() {
        for sql in [
            "DECLARE OR REPLACE VARIABLE since DATE DEFAULT (SELECT coalesce(max(d), DATE '2023-01-01') FROM bronze.calls)",
            "declare var n = 3",
            "DECLARE x INT",
            "SET VAR since = DATE '2024-01-01', n = n + 1",
            "DROP TEMPORARY VARIABLE IF EXISTS since",
        ] {
            let v = parse(sql);
            assert_eq!(parse(&v.to_string()), v, "{sql}");
        }
        assert!(parse_statement("DECLARE x").is_err());
    }
}
