//! `ALTER TABLE` on Delta tables, as Databricks SQL writes it:
//!
//! ```text
//! ALTER TABLE table ADD CONSTRAINT name CHECK (condition)
//! ALTER TABLE table ADD CONSTRAINT name EXPECT ... [ON VIOLATION ...]   (an expectation)
//! ALTER TABLE table DROP CONSTRAINT [IF EXISTS] name
//! ALTER TABLE table ADD COLUMN[S] (col type [NOT NULL] [COMMENT 'text'], ...)
//! ALTER TABLE table SET TBLPROPERTIES ('key' = 'value', ...)
//! ALTER TABLE table UNSET TBLPROPERTIES [IF EXISTS] ('key', ...)
//! ALTER TABLE table ALTER [COLUMN] col DROP NOT NULL
//! ```

use std::fmt;

use datafusion::sql::sqlparser::ast::{ColumnDef, Expr, Ident, ObjectName, Value};
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::Token;

use super::{fmt_properties, parse_properties, parse_table, peek_word};

/// What an ALTER TABLE changes.
#[derive(Debug, Clone, PartialEq)]
pub enum AlterAction {
    AddConstraint {
        name: Ident,
        check: Box<Expr>,
    },
    /// Attaches an expectation ([`super::expectation`]).
    AddExpectation(Box<super::Expectation>),
    DropConstraint {
        name: Ident,
        if_exists: bool,
    },
    AddColumns(Vec<ColumnDef>),
    SetProperties(Vec<(String, String)>),
    UnsetProperties {
        keys: Vec<String>,
        if_exists: bool,
    },
    DropNotNull(Ident),
}

/// A parsed `ALTER TABLE` statement.
#[derive(Debug, Clone, PartialEq)]
pub struct AlterTableStatement {
    pub table: ObjectName,
    pub action: AlterAction,
}

/// Parses ALTER TABLE; the parser stands on `ALTER`.
pub(crate) fn parse(parser: &mut Parser) -> Result<AlterTableStatement, ParserError> {
    parser.expect_keywords(&[Keyword::ALTER, Keyword::TABLE])?;
    let table = parse_table(parser)?;
    let action = if parser.parse_keyword(Keyword::ADD) {
        if parser.peek_keyword(Keyword::CONSTRAINT) && peek_word(parser, 2) == "EXPECT" {
            AlterAction::AddExpectation(Box::new(super::Expectation::parse(parser)?))
        } else if parser.parse_keyword(Keyword::CONSTRAINT) {
            let name = parser.parse_identifier()?;
            parser.expect_keyword(Keyword::CHECK)?;
            parser.expect_token(&Token::LParen)?;
            let check = Box::new(parser.parse_expr()?);
            parser.expect_token(&Token::RParen)?;
            AlterAction::AddConstraint { name, check }
        } else if parser.parse_keyword(Keyword::COLUMNS) || parser.parse_keyword(Keyword::COLUMN) {
            let cols = if parser.consume_token(&Token::LParen) {
                let c = parser.parse_comma_separated(Parser::parse_column_def)?;
                parser.expect_token(&Token::RParen)?;
                c
            } else {
                vec![parser.parse_column_def()?]
            };
            AlterAction::AddColumns(cols)
        } else {
            return parser.expected("CONSTRAINT or COLUMNS", parser.peek_token());
        }
    } else if parser.parse_keywords(&[Keyword::DROP, Keyword::CONSTRAINT]) {
        let if_exists = parser.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
        let name = parser.parse_identifier()?;
        AlterAction::DropConstraint { name, if_exists }
    } else if parser.parse_keywords(&[Keyword::SET, Keyword::TBLPROPERTIES]) {
        AlterAction::SetProperties(parse_properties(parser)?)
    } else if peek_word(parser, 0) == "UNSET" {
        parser.next_token();
        parser.expect_keyword(Keyword::TBLPROPERTIES)?;
        let if_exists = parser.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
        parser.expect_token(&Token::LParen)?;
        let keys = parser.parse_comma_separated(Parser::parse_literal_string)?;
        parser.expect_token(&Token::RParen)?;
        AlterAction::UnsetProperties { keys, if_exists }
    } else if parser.parse_keyword(Keyword::ALTER) {
        let _ = parser.parse_keyword(Keyword::COLUMN);
        let col = parser.parse_identifier()?;
        parser.expect_keywords(&[Keyword::DROP, Keyword::NOT, Keyword::NULL])?;
        AlterAction::DropNotNull(col)
    } else {
        return parser.expected(
            "ADD CONSTRAINT, DROP CONSTRAINT, ADD COLUMNS, SET/UNSET TBLPROPERTIES or ALTER COLUMN",
            parser.peek_token(),
        );
    };
    Ok(AlterTableStatement { table, action })
}

impl fmt::Display for AlterTableStatement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ALTER TABLE {} ", self.table)?;
        match &self.action {
            AlterAction::AddConstraint { name, check } => {
                write!(f, "ADD CONSTRAINT {name} CHECK ({check})")
            }
            AlterAction::AddExpectation(e) => write!(f, "ADD {e}"),
            AlterAction::DropConstraint { name, if_exists } => {
                let ie = if *if_exists { "IF EXISTS " } else { "" };
                write!(f, "DROP CONSTRAINT {ie}{name}")
            }
            AlterAction::AddColumns(cols) => {
                let c: Vec<String> = cols.iter().map(|c| c.to_string()).collect();
                write!(f, "ADD COLUMNS ({})", c.join(", "))
            }
            AlterAction::SetProperties(p) => write!(f, "SET TBLPROPERTIES {}", fmt_properties(p)),
            AlterAction::UnsetProperties { keys, if_exists } => {
                let ie = if *if_exists { "IF EXISTS " } else { "" };
                let k: Vec<String> = keys
                    .iter()
                    .map(|k| Value::SingleQuotedString(k.clone()).to_string())
                    .collect();
                write!(f, "UNSET TBLPROPERTIES {ie}({})", k.join(", "))
            }
            AlterAction::DropNotNull(c) => write!(f, "ALTER COLUMN {c} DROP NOT NULL"),
        }
    }
}
