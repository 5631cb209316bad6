//! Inspecting a Delta table, as Databricks SQL writes it:
//!
//! ```text
//! DESCRIBE HISTORY table [LIMIT n]
//! DESCRIBE DETAIL table
//! SHOW TBLPROPERTIES table [('key')]
//! ```
//!
//! `table` is a name, a path-addressed table (``delta.`s3://b/t` ``) or a quoted path.

use std::fmt;

use datafusion::sql::sqlparser::ast::{ObjectName, Value};
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::Token;

use super::parse_table;

/// A parsed inspection statement.
#[derive(Debug, Clone, PartialEq)]
pub enum DescribeStatement {
    History {
        table: ObjectName,
        limit: Option<u64>,
    },
    Detail {
        table: ObjectName,
    },
    TblProperties {
        table: ObjectName,
        key: Option<String>,
    },
}

/// Parses `DESCRIBE HISTORY|DETAIL ...`; the parser stands on `HISTORY` or `DETAIL`.
pub(crate) fn parse_describe(parser: &mut Parser) -> Result<DescribeStatement, ParserError> {
    let what = parser.parse_identifier()?.value.to_ascii_uppercase();
    let table = parse_table(parser)?;
    if what == "HISTORY" {
        let limit = if parser.parse_keyword(Keyword::LIMIT) {
            Some(parser.parse_literal_uint()?)
        } else {
            None
        };
        return Ok(DescribeStatement::History { table, limit });
    }
    Ok(DescribeStatement::Detail { table })
}

/// Parses `SHOW TBLPROPERTIES ...`; the parser stands on `TBLPROPERTIES`.
pub(crate) fn parse_show(parser: &mut Parser) -> Result<DescribeStatement, ParserError> {
    parser.expect_keyword(Keyword::TBLPROPERTIES)?;
    let table = parse_table(parser)?;
    let key = if parser.consume_token(&Token::LParen) {
        let k = parser.parse_literal_string()?;
        parser.expect_token(&Token::RParen)?;
        Some(k)
    } else {
        None
    };
    Ok(DescribeStatement::TblProperties { table, key })
}

impl DescribeStatement {
    /// The table the statement inspects.
    pub fn table(&self) -> &ObjectName {
        match self {
            DescribeStatement::History { table, .. }
            | DescribeStatement::Detail { table }
            | DescribeStatement::TblProperties { table, .. } => table,
        }
    }
}

impl fmt::Display for DescribeStatement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DescribeStatement::History { table, limit } => {
                write!(f, "DESCRIBE HISTORY {table}")?;
                if let Some(n) = limit {
                    write!(f, " LIMIT {n}")?;
                }
                Ok(())
            }
            DescribeStatement::Detail { table } => write!(f, "DESCRIBE DETAIL {table}"),
            DescribeStatement::TblProperties { table, key } => {
                write!(f, "SHOW TBLPROPERTIES {table}")?;
                if let Some(k) = key {
                    write!(f, " ({})", Value::SingleQuotedString(k.clone()))?;
                }
                Ok(())
            }
        }
    }
}
