//! `SUMMARIZE`, as DuckDB has it: one row per column with its type, min, max, approximate
//! distinct count, null count, and for numbers the average, standard deviation and quartiles.
//!
//! ```text
//! SUMMARIZE table [VERSION AS OF n]
//! SUMMARIZE query
//! SUMMARIZE 'path/file.csv'
//! ```

use std::fmt;

use datafusion::sql::sqlparser::ast::{ObjectName, Query};
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::Token;

use super::{parse_table, peek_word};

/// What `SUMMARIZE` describes.
#[derive(Debug, Clone, PartialEq)]
pub enum SummarizeStatement {
    /// A table, at its latest version or at `version`.
    Table {
        table: ObjectName,
        version: Option<u64>,
    },
    /// The rows of a query.
    Query(Box<Query>),
}

/// Parses `SUMMARIZE ...`; the parser stands on `SUMMARIZE`.
pub(crate) fn parse(parser: &mut Parser) -> Result<SummarizeStatement, ParserError> {
    parser.next_token();
    let query_next = matches!(peek_word(parser, 0).as_str(), "SELECT" | "WITH" | "VALUES")
        || parser.peek_token().token == Token::LParen;
    if query_next {
        return Ok(SummarizeStatement::Query(parser.parse_query()?));
    }
    // A quoted path is a file (or folder) to read, as in `SELECT * FROM 'orders.csv'`.
    if let Token::SingleQuotedString(path) = parser.peek_token().token {
        parser.next_token();
        let sql = format!("SELECT * FROM '{}'", path.replace('\'', "''"));
        let mut files = Parser::new(&super::dialect::LakeDialect).try_with_sql(&sql)?;
        return Ok(SummarizeStatement::Query(files.parse_query()?));
    }
    let table = parse_table(parser)?;
    let version = if parser.parse_keywords(&[Keyword::VERSION, Keyword::AS, Keyword::OF]) {
        Some(parser.parse_literal_uint()?)
    } else {
        None
    };
    Ok(SummarizeStatement::Table { table, version })
}

impl fmt::Display for SummarizeStatement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SummarizeStatement::Table { table, version } => {
                write!(f, "SUMMARIZE {table}")?;
                if let Some(v) = version {
                    write!(f, " VERSION AS OF {v}")?;
                }
                Ok(())
            }
            SummarizeStatement::Query(q) => write!(f, "SUMMARIZE {q}"),
        }
    }
}
