//! `CREATE TABLE` for Delta tables, in the form Databricks SQL users write:
//!
//! ```text
//! CREATE [OR REPLACE] TABLE [IF NOT EXISTS] name [(column_def | expectation, ...)]
//!     [USING DELTA] [PARTITIONED BY (col, ...)] [LOCATION 'url'] [COMMENT 'text']
//!     [TBLPROPERTIES ('key' = 'value', ...)]
//!     [AS query]
//! CREATE [OR REPLACE] TABLE [IF NOT EXISTS] name [SHALLOW | DEEP] CLONE source
//!     [VERSION AS OF n | TIMESTAMP AS OF expr] [LOCATION 'url'] [TBLPROPERTIES (...)]
//! ```
//!
//! DataFusion's own `CREATE TABLE ... AS` makes an in-memory table whose data vanishes with the
//! session, so every `CREATE TABLE` is parsed here and written as Delta. Expectations
//! (`CONSTRAINT name EXPECT ...`, as in Delta Live Tables) may stand among the columns: they are
//! enforced on the rows written and attached to the table.

use std::fmt;

use datafusion::sql::sqlparser::ast::{ColumnDef, Ident, ObjectName, Query, Value};
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{IsOptional, Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::Token;

/// A parsed `CREATE TABLE` statement.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateTableStatement {
    pub or_replace: bool,
    pub if_not_exists: bool,
    pub name: ObjectName,
    pub columns: Vec<ColumnDef>,
    pub expectations: Vec<super::Expectation>,
    pub partitioned_by: Vec<Ident>,
    pub location: Option<String>,
    pub comment: Option<String>,
    pub properties: Vec<(String, String)>,
    pub query: Option<Box<Query>>,
    pub clone: Option<CloneSource>,
}

/// `[SHALLOW | DEEP] CLONE source [VERSION AS OF n | TIMESTAMP AS OF expr]`.
#[derive(Debug, Clone, PartialEq)]
pub struct CloneSource {
    pub shallow: bool,
    pub source: ObjectName,
    pub version: Option<super::maintenance::VersionSpec>,
}

/// Parses the statement after `CREATE`; `OR REPLACE` has been seen when `or_replace` is set and
/// the parser stands on `TABLE`.
pub(crate) fn parse(
    parser: &mut Parser,
    or_replace: bool,
) -> Result<CreateTableStatement, ParserError> {
    parser.expect_keyword(Keyword::TABLE)?;
    let if_not_exists = parser.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
    let name = parser.parse_object_name(false)?;
    let mut clone = None;
    let w0 = super::peek_word(parser, 0);
    if w0 == "CLONE"
        || ((w0 == "SHALLOW" || w0 == "DEEP") && super::peek_word(parser, 1) == "CLONE")
    {
        let shallow = w0 == "SHALLOW";
        if w0 != "CLONE" {
            parser.next_token();
        }
        parser.next_token();
        let source = super::parse_table(parser)?;
        let version = if super::peek_word(parser, 0) == "VERSION"
            || super::peek_word(parser, 0) == "TIMESTAMP"
        {
            Some(super::maintenance::VersionSpec::parse(parser)?)
        } else {
            None
        };
        clone = Some(CloneSource {
            shallow,
            source,
            version,
        });
    }
    let mut columns = Vec::new();
    let mut expectations = Vec::new();
    if clone.is_none() && parser.peek_token().token == Token::LParen && !starts_query(parser) {
        parser.expect_token(&Token::LParen)?;
        loop {
            if parser.peek_keyword(Keyword::CONSTRAINT) && super::peek_word(parser, 2) == "EXPECT" {
                expectations.push(super::Expectation::parse(parser)?);
            } else {
                columns.push(parser.parse_column_def()?);
            }
            if !parser.consume_token(&Token::Comma) {
                break;
            }
        }
        parser.expect_token(&Token::RParen)?;
    }
    let mut stmt = CreateTableStatement {
        or_replace,
        if_not_exists,
        name,
        columns,
        expectations,
        partitioned_by: vec![],
        location: None,
        comment: None,
        properties: vec![],
        query: None,
        clone,
    };
    loop {
        if parser.parse_keyword(Keyword::USING) {
            let format = parser.parse_identifier()?;
            if !format.value.eq_ignore_ascii_case("delta") {
                return Err(ParserError::ParserError(format!(
                    "lakeshell creates Delta tables only; USING {format} is not supported"
                )));
            }
        } else if parser.parse_keywords(&[Keyword::PARTITIONED, Keyword::BY]) {
            stmt.partitioned_by =
                parser.parse_parenthesized_column_list(IsOptional::Mandatory, false)?;
        } else if parser.parse_keyword(Keyword::LOCATION) {
            stmt.location = Some(parser.parse_literal_string()?);
        } else if parser.parse_keyword(Keyword::COMMENT) {
            stmt.comment = Some(parser.parse_literal_string()?);
        } else if parser.parse_keyword(Keyword::TBLPROPERTIES) {
            stmt.properties = super::parse_properties(parser)?;
        } else {
            break;
        }
    }
    if stmt.clone.is_none() && (parser.parse_keyword(Keyword::AS) || starts_query(parser)) {
        stmt.query = Some(parser.parse_query()?);
    }
    if stmt.query.is_none() && stmt.columns.is_empty() && stmt.clone.is_none() {
        return Err(ParserError::ParserError(
            "CREATE TABLE needs a column list or AS SELECT ...".into(),
        ));
    }
    Ok(stmt)
}

fn starts_query(parser: &Parser) -> bool {
    let mut n = 0;
    while parser.peek_nth_token(n).token == Token::LParen {
        n += 1;
    }
    matches!(parser.peek_nth_token(n).token, Token::Word(ref w) if matches!(w.keyword, Keyword::SELECT | Keyword::WITH | Keyword::VALUES))
}

impl fmt::Display for CreateTableStatement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CREATE ")?;
        if self.or_replace {
            write!(f, "OR REPLACE ")?;
        }
        write!(f, "TABLE ")?;
        if self.if_not_exists {
            write!(f, "IF NOT EXISTS ")?;
        }
        write!(f, "{}", self.name)?;
        if let Some(c) = &self.clone {
            let kind = if c.shallow { "SHALLOW" } else { "DEEP" };
            write!(f, " {kind} CLONE {}", c.source)?;
            if let Some(v) = &c.version {
                write!(f, " {v}")?;
            }
        }
        if !self.columns.is_empty() || !self.expectations.is_empty() {
            let cols: Vec<String> = self
                .expectations
                .iter()
                .map(|e| e.to_string())
                .chain(self.columns.iter().map(|c| c.to_string()))
                .collect();
            write!(f, " ({})", cols.join(", "))?;
        }
        if self.clone.is_none() {
            write!(f, " USING DELTA")?;
        }
        if !self.partitioned_by.is_empty() {
            let cols: Vec<String> = self.partitioned_by.iter().map(|c| c.to_string()).collect();
            write!(f, " PARTITIONED BY ({})", cols.join(", "))?;
        }
        if let Some(loc) = &self.location {
            write!(f, " LOCATION {}", Value::SingleQuotedString(loc.clone()))?;
        }
        if let Some(comment) = &self.comment {
            write!(f, " COMMENT {}", Value::SingleQuotedString(comment.clone()))?;
        }
        if !self.properties.is_empty() {
            write!(
                f,
                " TBLPROPERTIES {}",
                super::fmt_properties(&self.properties)
            )?;
        }
        if let Some(q) = &self.query {
            write!(f, " AS {q}")?;
        }
        Ok(())
    }
}
