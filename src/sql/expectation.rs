//! Data-quality expectations, in the form Delta Live Tables users write, plus the table-level
//! checks dbt and Soda users rely on:
//!
//! ```text
//! CONSTRAINT name EXPECT check
//!     [ON VIOLATION DROP ROW | ON VIOLATION FAIL [UPDATE] | ON VIOLATION WARN]
//!     [FAIL IF > n[%]] [WARN IF > n[%]]
//!
//! check:  (condition)                           every row holds it (NULL counts as failing)
//!       | UNIQUE (col, ...)                     no two rows share the key (NULL keys skipped)
//!       | (col, ...) REFERENCES table (col, ...) every key is in the other table (NULL skipped)
//!       | ROW COUNT BETWEEN n AND m | ROW COUNT >= n | ROW COUNT <= m
//!       | FRESHNESS col WITHIN interval         the newest value is no older than now - interval
//!       | NO ROWS (query)                       the query's rows are the failures
//! ```
//!
//! With no ON VIOLATION clause an expectation warns: the row is kept and counted, as in DLT.
//! A row condition (the first form) is enforced while writing; the others are table-level and
//! are evaluated by `CHECK table` and `lakeshell check`.
//!
//! Statements that use them:
//!
//! ```text
//! CHECK [TABLE] table [VERSION AS OF n | TIMESTAMP AS OF expr] [(expectation, ...)]
//! ALTER TABLE table ADD CONSTRAINT name EXPECT ...      (attached: see [`super::alter`])
//! CREATE [OR REPLACE] TABLE t (expectation, ...) AS query  (see [`super::create_table`])
//! ```

use std::fmt;

use datafusion::sql::sqlparser::ast::{Expr, Ident, ObjectName, Query};
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::Token;

use super::maintenance::VersionSpec;
use super::{parse_table, peek_word};

/// What an expectation tests.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// Every row holds the condition.
    Condition(Box<Expr>),
    /// No two rows share these columns' values.
    Unique(Vec<Ident>),
    /// Every key is found in `table`'s `to` columns.
    References {
        columns: Vec<Ident>,
        table: ObjectName,
        to: Vec<Ident>,
    },
    /// The table's row count is within bounds (inclusive).
    RowCount { min: Option<u64>, max: Option<u64> },
    /// The newest value of `column` is no older than now minus `within`.
    Freshness { column: Ident, within: Box<Expr> },
    /// The query's rows are the failures.
    NoRows(Box<Query>),
}

/// What happens to a failing row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Keep it, count it (the default).
    Warn,
    /// Keep it out of the table, in the quarantine table.
    Drop,
    /// Fail the write or the check.
    Fail,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Warn => "warn",
            Action::Drop => "drop",
            Action::Fail => "fail",
        }
    }
}

/// `> n` rows or `> n%` of the rows checked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    Rows(u64),
    Percent(f64),
}

impl Threshold {
    /// Whether `failed` of `checked` rows is above the threshold.
    pub fn exceeded(self, failed: u64, checked: u64) -> bool {
        match self {
            Threshold::Rows(n) => failed > n,
            Threshold::Percent(p) => checked > 0 && (failed as f64) * 100.0 > p * (checked as f64),
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Threshold::Rows(n) => write!(f, "> {n}"),
            Threshold::Percent(p) => write!(f, "> {p}%"),
        }
    }
}

/// One named expectation.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    pub name: Ident,
    pub check: Check,
    pub action: Action,
    /// Fail when failures are above this; `ON VIOLATION FAIL` alone means `> 0`.
    pub fail_if: Option<Threshold>,
    /// Warn when failures are above this (default `> 0`).
    pub warn_if: Option<Threshold>,
}

/// The outcome of an expectation over some rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

impl Expectation {
    /// Whether rows are tested one at a time (and so can be enforced while writing).
    pub fn is_row_check(&self) -> bool {
        matches!(self.check, Check::Condition(_))
    }

    /// The fail threshold in force: the one written, else `> 0` for `ON VIOLATION FAIL`.
    pub fn fail_threshold(&self) -> Option<Threshold> {
        self.fail_if
            .or((self.action == Action::Fail).then_some(Threshold::Rows(0)))
    }

    /// The status of `failed` failing rows out of `checked`.
    pub fn status(&self, failed: u64, checked: u64) -> Status {
        if self
            .fail_threshold()
            .is_some_and(|t| t.exceeded(failed, checked))
        {
            Status::Fail
        } else if self
            .warn_if
            .unwrap_or(Threshold::Rows(0))
            .exceeded(failed, checked)
        {
            Status::Warn
        } else {
            Status::Pass
        }
    }

    /// The text after `CONSTRAINT name `, as stored in the table's properties.
    pub fn body(&self) -> String {
        let s = self.to_string();
        let head = format!("CONSTRAINT {} ", self.name);
        s.strip_prefix(&head).unwrap_or(&s).to_string()
    }

    /// Parses one expectation; the parser stands on `CONSTRAINT`.
    pub fn parse(parser: &mut Parser) -> Result<Expectation, ParserError> {
        parser.expect_keyword(Keyword::CONSTRAINT)?;
        let name = parser.parse_identifier()?;
        if peek_word(parser, 0) != "EXPECT" {
            return parser.expected("EXPECT", parser.peek_token());
        }
        parser.next_token();
        let check = parse_check(parser)?;
        let mut e = Expectation {
            name,
            check,
            action: Action::Warn,
            fail_if: None,
            warn_if: None,
        };
        if parser.parse_keyword(Keyword::ON) {
            if peek_word(parser, 0) != "VIOLATION" {
                return parser.expected("VIOLATION", parser.peek_token());
            }
            parser.next_token();
            e.action = if parser.parse_keywords(&[Keyword::DROP, Keyword::ROW]) {
                Action::Drop
            } else if peek_word(parser, 0) == "FAIL" {
                // `ON VIOLATION FAIL IF > 5%`: FAIL IF is read as the threshold below.
                if peek_word(parser, 1) != "IF" {
                    parser.next_token();
                    let _ = parser.parse_keyword(Keyword::UPDATE);
                }
                Action::Fail
            } else if peek_word(parser, 0) == "WARN" {
                if peek_word(parser, 1) != "IF" {
                    parser.next_token();
                }
                Action::Warn
            } else {
                return parser.expected("DROP ROW, FAIL or WARN", parser.peek_token());
            };
        }
        loop {
            let w = peek_word(parser, 0);
            if (w == "FAIL" || w == "WARN") && peek_word(parser, 1) == "IF" {
                parser.next_token();
                parser.next_token();
                let t = parse_threshold(parser)?;
                if w == "FAIL" {
                    e.fail_if = Some(t);
                } else {
                    e.warn_if = Some(t);
                }
            } else {
                break;
            }
        }
        if e.action == Action::Drop && !e.is_row_check() {
            return Err(ParserError::ParserError(format!(
                "expectation {}: ON VIOLATION DROP ROW needs a row condition, EXPECT (condition); {} is checked over the whole table",
                e.name,
                e.check.kind()
            )));
        }
        if (e.fail_if.is_some() || e.warn_if.is_some())
            && matches!(e.check, Check::RowCount { .. } | Check::Freshness { .. })
        {
            return Err(ParserError::ParserError(format!(
                "expectation {}: FAIL IF / WARN IF count failing rows, and {} has none; use ON VIOLATION FAIL or WARN",
                e.name,
                e.check.kind()
            )));
        }
        Ok(e)
    }

    /// Parses `CONSTRAINT name ` + `body` (a stored expectation).
    pub fn from_stored(name: &str, body: &str) -> crate::error::Result<Expectation> {
        let sql = format!("CONSTRAINT {} {body}", Ident::with_quote('"', name));
        let dialect = super::dialect::LakeDialect;
        let mut parser = Parser::new(&dialect)
            .try_with_sql(&sql)
            .map_err(|e| crate::error::LakeError::Parse(e.to_string()))?;
        let mut e = Expectation::parse(&mut parser).map_err(|e| {
            crate::error::LakeError::BadStatement(format!("stored expectation {name}: {e}"))
        })?;
        e.name = Ident::new(name);
        Ok(e)
    }
}

impl Check {
    /// A short name of the check's kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Check::Condition(_) => "condition",
            Check::Unique(_) => "UNIQUE",
            Check::References { .. } => "REFERENCES",
            Check::RowCount { .. } => "ROW COUNT",
            Check::Freshness { .. } => "FRESHNESS",
            Check::NoRows(_) => "NO ROWS",
        }
    }
}

fn parse_threshold(parser: &mut Parser) -> Result<Threshold, ParserError> {
    parser.expect_token(&Token::Gt)?;
    let tok = parser.next_token();
    let Token::Number(n, _) = tok.token else {
        return parser.expected("a number", tok);
    };
    let percent = parser.consume_token(&Token::Mod)
        || peek_word(parser, 0) == "PERCENT" && {
            parser.next_token();
            true
        };
    if percent {
        let p: f64 = n
            .parse()
            .map_err(|_| ParserError::ParserError(format!("bad percentage {n}")))?;
        Ok(Threshold::Percent(p))
    } else {
        let rows: u64 = n
            .parse()
            .map_err(|_| ParserError::ParserError(format!("bad row count {n}")))?;
        let _ = parser.parse_keyword(Keyword::ROWS) || parser.parse_keyword(Keyword::ROW);
        Ok(Threshold::Rows(rows))
    }
}

fn parse_check(parser: &mut Parser) -> Result<Check, ParserError> {
    let w = peek_word(parser, 0);
    if w == "UNIQUE" {
        parser.next_token();
        return Ok(Check::Unique(idents(parser)?));
    }
    if w == "ROW" && peek_word(parser, 1) == "COUNT" {
        parser.next_token();
        parser.next_token();
        let (min, max) = if parser.parse_keyword(Keyword::BETWEEN) {
            let a = parser.parse_literal_uint()?;
            parser.expect_keyword(Keyword::AND)?;
            (Some(a), Some(parser.parse_literal_uint()?))
        } else if parser.consume_token(&Token::GtEq) {
            (Some(parser.parse_literal_uint()?), None)
        } else if parser.consume_token(&Token::Gt) {
            (Some(parser.parse_literal_uint()? + 1), None)
        } else if parser.consume_token(&Token::LtEq) {
            (None, Some(parser.parse_literal_uint()?))
        } else if parser.consume_token(&Token::Lt) {
            (None, Some(parser.parse_literal_uint()?.saturating_sub(1)))
        } else {
            return parser.expected("BETWEEN, >= or <=", parser.peek_token());
        };
        return Ok(Check::RowCount { min, max });
    }
    if w == "FRESHNESS" {
        parser.next_token();
        let column = if parser.consume_token(&Token::LParen) {
            let c = parser.parse_identifier()?;
            parser.expect_token(&Token::RParen)?;
            c
        } else {
            parser.parse_identifier()?
        };
        parser.expect_keyword(Keyword::WITHIN)?;
        let within = Box::new(parser.parse_expr()?);
        return Ok(Check::Freshness { column, within });
    }
    if w == "NO" && peek_word(parser, 1) == "ROWS" {
        parser.next_token();
        parser.next_token();
        parser.expect_token(&Token::LParen)?;
        let q = parser.parse_query()?;
        parser.expect_token(&Token::RParen)?;
        return Ok(Check::NoRows(q));
    }
    parser.expect_token(&Token::LParen)?;
    let exprs = parser.parse_comma_separated(Parser::parse_expr)?;
    parser.expect_token(&Token::RParen)?;
    if parser.parse_keyword(Keyword::REFERENCES) {
        let columns = exprs
            .into_iter()
            .map(|e| match e {
                Expr::Identifier(i) => Ok(i),
                other => Err(ParserError::ParserError(format!(
                    "REFERENCES takes column names, not {other}"
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let table = parse_table(parser)?;
        let to = idents(parser)?;
        if to.len() != columns.len() {
            return Err(ParserError::ParserError(format!(
                "REFERENCES: {} column(s) refer to {} column(s) of {table}",
                columns.len(),
                to.len()
            )));
        }
        return Ok(Check::References { columns, table, to });
    }
    match <[Expr; 1]>::try_from(exprs) {
        Ok([e]) => Ok(Check::Condition(Box::new(e))),
        Err(_) => Err(ParserError::ParserError(
            "EXPECT (condition) takes one condition; a column list is followed by REFERENCES"
                .into(),
        )),
    }
}

fn idents(parser: &mut Parser) -> Result<Vec<Ident>, ParserError> {
    parser.expect_token(&Token::LParen)?;
    let v = parser.parse_comma_separated(|p| p.parse_identifier())?;
    parser.expect_token(&Token::RParen)?;
    Ok(v)
}

fn list(items: &[Ident]) -> String {
    items
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Check::Condition(e) => write!(f, "({e})"),
            Check::Unique(cols) => write!(f, "UNIQUE ({})", list(cols)),
            Check::References { columns, table, to } => {
                write!(f, "({}) REFERENCES {table} ({})", list(columns), list(to))
            }
            Check::RowCount { min, max } => match (min, max) {
                (Some(a), Some(b)) => write!(f, "ROW COUNT BETWEEN {a} AND {b}"),
                (Some(a), None) => write!(f, "ROW COUNT >= {a}"),
                (None, Some(b)) => write!(f, "ROW COUNT <= {b}"),
                (None, None) => write!(f, "ROW COUNT >= 0"),
            },
            Check::Freshness { column, within } => write!(f, "FRESHNESS {column} WITHIN {within}"),
            Check::NoRows(q) => write!(f, "NO ROWS ({q})"),
        }
    }
}

impl fmt::Display for Expectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CONSTRAINT {} EXPECT {}", self.name, self.check)?;
        match self.action {
            Action::Warn => {}
            Action::Drop => write!(f, " ON VIOLATION DROP ROW")?,
            Action::Fail => write!(f, " ON VIOLATION FAIL UPDATE")?,
        }
        if let Some(t) = self.fail_if {
            write!(f, " FAIL IF {t}")?;
        }
        if let Some(t) = self.warn_if {
            write!(f, " WARN IF {t}")?;
        }
        Ok(())
    }
}

/// `CHECK [TABLE] table [VERSION AS OF n] [(expectation, ...)]`: evaluates the expectations
/// given, or those attached to the table when none are.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckStatement {
    pub table: ObjectName,
    pub version: Option<VersionSpec>,
    pub expectations: Vec<Expectation>,
}

/// Parses CHECK; the parser stands on `CHECK`.
pub(crate) fn parse_check_statement(parser: &mut Parser) -> Result<CheckStatement, ParserError> {
    parser.expect_keyword(Keyword::CHECK)?;
    let _ = parser.parse_keyword(Keyword::TABLE);
    let table = parse_table(parser)?;
    let version = match peek_word(parser, 0).as_str() {
        "VERSION" | "TIMESTAMP" => Some(VersionSpec::parse(parser)?),
        _ => None,
    };
    let mut expectations = Vec::new();
    if parser.consume_token(&Token::LParen) {
        expectations = parser.parse_comma_separated(Expectation::parse)?;
        parser.expect_token(&Token::RParen)?;
    }
    Ok(CheckStatement {
        table,
        version,
        expectations,
    })
}

impl fmt::Display for CheckStatement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CHECK {}", self.table)?;
        if let Some(v) = &self.version {
            write!(f, " {v}")?;
        }
        if !self.expectations.is_empty() {
            let e: Vec<String> = self.expectations.iter().map(|e| e.to_string()).collect();
            write!(f, " ({})", e.join(", "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::{parse_statement, LakeStatement};

    fn check(sql: &str) -> CheckStatement {
        match parse_statement(sql).unwrap_or_else(|e| panic!("{sql}: {e}")) {
            LakeStatement::Check(c) => c,
            other => panic!("{sql} parsed as {other:?}"),
        }
    }

    #[test]
    fn every_form_round_trips() {
        let sql = "CHECK silver.orders VERSION AS OF 3 (\
            CONSTRAINT valid_id EXPECT (id IS NOT NULL) ON VIOLATION DROP ROW, \
            CONSTRAINT pos EXPECT (amount > 0) ON VIOLATION FAIL UPDATE FAIL IF > 5% WARN IF > 0, \
            CONSTRAINT st EXPECT (status IN ('a', 'b')), \
            CONSTRAINT uk EXPECT UNIQUE (id, day) ON VIOLATION FAIL, \
            CONSTRAINT fk EXPECT (customer_id) REFERENCES silver.customers (id) FAIL IF > 10, \
            CONSTRAINT n EXPECT ROW COUNT BETWEEN 1 AND 100, \
            CONSTRAINT m EXPECT ROW COUNT >= 5, \
            CONSTRAINT fresh EXPECT FRESHNESS ts WITHIN INTERVAL '1 day' ON VIOLATION FAIL, \
            CONSTRAINT q EXPECT NO ROWS (SELECT * FROM t WHERE a < 0))";
        let first = check(sql);
        assert_eq!(first.expectations.len(), 9);
        let again = check(&first.to_string());
        assert_eq!(first, again, "printed as {first}");
        let e = &first.expectations[1];
        assert_eq!(e.action, Action::Fail);
        assert_eq!(e.fail_if, Some(Threshold::Percent(5.0)));
        assert_eq!(first.expectations[0].action, Action::Drop);
        assert_eq!(first.expectations[2].action, Action::Warn);
    }

    #[test]
    fn thresholds_decide_the_status() {
        let c = check("CHECK t (CONSTRAINT a EXPECT (x > 0) FAIL IF > 10% WARN IF > 2)");
        let e = &c.expectations[0];
        assert_eq!(e.status(0, 100), Status::Pass);
        assert_eq!(e.status(2, 100), Status::Pass);
        assert_eq!(e.status(3, 100), Status::Warn);
        assert_eq!(e.status(11, 100), Status::Fail);
        let c = check("CHECK t (CONSTRAINT a EXPECT (x > 0) ON VIOLATION FAIL)");
        assert_eq!(c.expectations[0].status(1, 100), Status::Fail);
        let c = check("CHECK t (CONSTRAINT a EXPECT (x > 0) ON VIOLATION FAIL IF > 50%)");
        assert_eq!(c.expectations[0].action, Action::Fail);
        assert_eq!(c.expectations[0].status(50, 100), Status::Warn);
        assert_eq!(c.expectations[0].status(51, 100), Status::Fail);
        let c = check("CHECK t (CONSTRAINT a EXPECT (x > 0))");
        assert_eq!(c.expectations[0].status(1, 100), Status::Warn);
    }

    #[test]
    fn stored_bodies_parse_back() {
        let c = check("CHECK t (CONSTRAINT \"valid id\" EXPECT (id IS NOT NULL) ON VIOLATION DROP ROW FAIL IF > 50%)");
        let e = &c.expectations[0];
        let back = Expectation::from_stored("valid id", &e.body()).unwrap();
        assert_eq!(back.check, e.check);
        assert_eq!(back.action, e.action);
        assert_eq!(back.fail_if, e.fail_if);
    }

    #[test]
    fn nonsense_is_refused_with_a_reason() {
        for (sql, says) in [
            (
                "CHECK t (CONSTRAINT a EXPECT UNIQUE (id) ON VIOLATION DROP ROW)",
                "needs a row condition",
            ),
            (
                "CHECK t (CONSTRAINT a EXPECT ROW COUNT >= 1 FAIL IF > 3)",
                "has none",
            ),
            (
                "CHECK t (CONSTRAINT a EXPECT (a, b))",
                "takes one condition",
            ),
            (
                "CHECK t (CONSTRAINT a EXPECT (a) REFERENCES u (x, y))",
                "refer to 2",
            ),
            ("CHECK t (CONSTRAINT a CHECK (a > 1))", "EXPECT"),
        ] {
            let err = parse_statement(sql).unwrap_err().to_string();
            assert!(err.contains(says), "{sql}: {err}");
        }
    }
}
