//! `INSERT INTO table REPLACE WHERE predicate query`: replaces the rows matching `predicate` with
//! the query's rows in one commit, as Databricks does. Every inserted row must match the
//! predicate. Other INSERT forms are DataFusion's.

use std::fmt;

use datafusion::sql::sqlparser::ast::{Expr, ObjectName, Query};
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};

use super::{parse_table, peek_word};

/// A parsed `INSERT ... REPLACE WHERE`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplaceWhereStatement {
    pub table: ObjectName,
    pub predicate: Expr,
    pub query: Box<Query>,
}

/// Whether the INSERT ahead is `INSERT INTO [TABLE] name REPLACE WHERE`.
pub(crate) fn is_replace_where(parser: &Parser) -> bool {
    let mut n = 2;
    if peek_word(parser, 1) != "INTO" {
        return false;
    }
    if peek_word(parser, 2) == "TABLE" {
        n += 1;
    }
    // name parts: word (. word)*
    n += 1;
    while parser.peek_nth_token(n).token == datafusion::sql::sqlparser::tokenizer::Token::Period {
        n += 2;
    }
    peek_word(parser, n) == "REPLACE" && peek_word(parser, n + 1) == "WHERE"
}

/// Parses the statement; the parser stands on `INSERT`.
pub(crate) fn parse(parser: &mut Parser) -> Result<ReplaceWhereStatement, ParserError> {
    parser.expect_keywords(&[Keyword::INSERT, Keyword::INTO])?;
    let _ = parser.parse_keyword(Keyword::TABLE);
    let table = parse_table(parser)?;
    parser.expect_keywords(&[Keyword::REPLACE, Keyword::WHERE])?;
    let predicate = parser.parse_expr()?;
    let query = parser.parse_query()?;
    Ok(ReplaceWhereStatement {
        table,
        predicate,
        query,
    })
}

impl fmt::Display for ReplaceWhereStatement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "INSERT INTO {} REPLACE WHERE {} {}",
            self.table, self.predicate, self.query
        )
    }
}
