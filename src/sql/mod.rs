//! lakeshell's SQL dialect. It wraps DataFusion's parser (`DFParser`): the first words of each
//! statement decide whether it is one of ours, parsed here, or handed on to DataFusion.
//!
//! Statements of our own, one module each:
//! - `CREATE [OR REPLACE] TABLE ... [AS | [DEEP] CLONE]` ([`create_table`]): always Delta.
//! - `DESCRIBE HISTORY|DETAIL`, `SHOW TBLPROPERTIES` ([`describe`]).
//! - `RESTORE`, `OPTIMIZE`, `VACUUM`, `FSCK REPAIR TABLE`, `CONVERT TO DELTA` ([`maintenance`]).
//! - `MERGE INTO` with `UPDATE SET *` / `INSERT *` ([`merge`]).
//! - `ALTER TABLE` constraints, columns and properties ([`alter`]).
//! - `INSERT INTO t REPLACE WHERE ...` ([`insert`]).
//! - `CHECK table (CONSTRAINT name EXPECT ...)` and the expectation grammar ([`expectation`]).
//! - `SUMMARIZE table | query` ([`summarize`]), and `... DRY RUN` after a write ([`dry_run`]).
//! - `COPY INTO table FROM 'location' FILEFORMAT = ...` ([`copy_into`]).
//! - `DECLARE VARIABLE`, `SET VAR`, `DROP TEMPORARY VARIABLE` ([`variable`]).
//!
//! Everything else (queries, `INSERT`, `UPDATE`, `DELETE`, `EXPLAIN`, `CREATE EXTERNAL TABLE`,
//! `SET`, ...) is DataFusion's, and the engine decides which of those it routes to Delta. Table
//! versions (`t VERSION AS OF 3`, `t@v3`) parse anywhere a table does ([`time_travel`]).

pub mod alter;
pub mod copy_into;
pub mod create_table;
pub mod describe;
pub mod dialect;
pub mod dry_run;
pub mod expectation;
pub mod insert;
pub mod maintenance;
pub mod merge;
pub mod names;
pub mod redact;
pub mod secret;
pub mod set;
pub mod split;
pub mod summarize;
pub mod tables;
pub mod time_travel;
pub mod variable;
pub mod vars;

use std::fmt;

use datafusion::sql::parser::{DFParser, DFParserBuilder, Statement as DFStatement};
use datafusion::sql::sqlparser::ast::{
    Ident, ObjectName, ObjectNamePart, Query, SetExpr, TableFactor, Value,
};
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::Token;

pub use alter::AlterTableStatement;
pub use copy_into::CopyIntoStatement;
pub use create_table::CreateTableStatement;
pub use describe::DescribeStatement;
pub use expectation::{CheckStatement, Expectation};
pub use insert::ReplaceWhereStatement;
pub use maintenance::MaintenanceStatement;
pub use merge::MergeStatement;
pub use secret::SecretStatement;
pub use set::SetStatement;
pub use summarize::SummarizeStatement;
pub use variable::VariableStatement;

use crate::error::{LakeError, Result};

/// One parsed statement of lakeshell's dialect.
#[derive(Debug, Clone, PartialEq)]
pub enum LakeStatement {
    /// `CREATE TABLE`, written as a Delta table.
    CreateTable(CreateTableStatement),
    Describe(DescribeStatement),
    Maintenance(MaintenanceStatement),
    Merge(Box<MergeStatement>),
    AlterTable(AlterTableStatement),
    ReplaceWhere(ReplaceWhereStatement),
    /// `CHECK table [(expectations)]`.
    Check(CheckStatement),
    /// `SET spark.… = value`, `SET lakeshell.… = value`.
    Set(SetStatement),
    /// `SUMMARIZE table [VERSION AS OF n]` or `SUMMARIZE query`.
    Summarize(SummarizeStatement),
    /// `CREATE [PERSISTENT] SECRET`, `DROP SECRET`, `SHOW SECRETS` ([`secret`]).
    Secret(SecretStatement),
    /// `DECLARE VARIABLE`, `SET VAR`, `DROP TEMPORARY VARIABLE`: session variables.
    Variable(VariableStatement),
    /// `COPY INTO table FROM location FILEFORMAT = ...`: files loaded once each.
    CopyInto(Box<CopyIntoStatement>),
    /// Anything DataFusion's parser understands.
    DataFusion(Box<DFStatement>),
    /// `MERGE | UPDATE | DELETE | OPTIMIZE ... DRY RUN` ([`dry_run`]): what the statement would
    /// change, committing nothing.
    DryRun(Box<LakeStatement>),
}

impl fmt::Display for LakeStatement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LakeStatement::CreateTable(s) => write!(f, "{s}"),
            LakeStatement::Describe(s) => write!(f, "{s}"),
            LakeStatement::Maintenance(s) => write!(f, "{s}"),
            LakeStatement::Merge(s) => write!(f, "{s}"),
            LakeStatement::AlterTable(s) => write!(f, "{s}"),
            LakeStatement::ReplaceWhere(s) => write!(f, "{s}"),
            LakeStatement::Check(s) => write!(f, "{s}"),
            LakeStatement::Set(s) => write!(f, "{s}"),
            LakeStatement::Summarize(s) => write!(f, "{s}"),
            LakeStatement::Secret(s) => write!(f, "{s}"),
            LakeStatement::CopyInto(s) => write!(f, "{s}"),
            LakeStatement::Variable(s) => write!(f, "{s}"),
            LakeStatement::DataFusion(s) => write!(f, "{s}"),
            LakeStatement::DryRun(s) => write!(f, "{s} DRY RUN"),
        }
    }
}

/// Parses exactly one statement (a trailing `;` is allowed).
pub fn parse_statement(sql: &str) -> Result<LakeStatement> {
    if let Some(inner) = dry_run::strip(sql) {
        return Ok(LakeStatement::DryRun(Box::new(parse_statement(inner)?)));
    }
    let dialect = dialect::LakeDialect;
    let mut parser = DFParserBuilder::new(sql)
        .with_dialect(&dialect)
        .build()
        .map_err(parse_err)?;
    let stmt = parse_one(&mut parser).map_err(parse_err)?;
    while parser.parser.consume_token(&Token::SemiColon) {}
    let next = parser.parser.peek_token();
    if next.token != Token::EOF {
        return Err(LakeError::Parse(format!(
            "Expected: end of statement, found: {} at {}",
            next.token, next.span.start
        )));
    }
    Ok(stmt)
}

fn parse_one(
    df: &mut DFParser,
) -> std::result::Result<LakeStatement, datafusion::error::DataFusionError> {
    let p = &df.parser;
    let is = |n: usize, k: Keyword| matches!(p.peek_nth_token(n).token, Token::Word(ref w) if w.keyword == k);
    if (is(0, Keyword::CREATE) && secret::is_create(p))
        || (is(0, Keyword::DROP) && secret::is_drop(p))
        || (is(0, Keyword::SHOW) && peek_word(p, 1) == "SECRETS")
    {
        return Ok(LakeStatement::Secret(secret::parse(&mut df.parser)?));
    }
    if variable::is_variable(p) {
        return Ok(LakeStatement::Variable(variable::parse(&mut df.parser)?));
    }
    if is(0, Keyword::CREATE)
        && (is(1, Keyword::TABLE)
            || (is(1, Keyword::OR) && is(2, Keyword::REPLACE) && is(3, Keyword::TABLE)))
    {
        let parser = &mut df.parser;
        parser.next_token(); // CREATE
        let or_replace = parser.parse_keywords(&[Keyword::OR, Keyword::REPLACE]);
        let stmt = create_table::parse(parser, or_replace)?;
        return Ok(LakeStatement::CreateTable(stmt));
    }
    let w0 = peek_word(p, 0);
    let w1 = peek_word(p, 1);
    let parser = &mut df.parser;
    let ours = match (w0.as_str(), w1.as_str()) {
        ("DESCRIBE" | "DESC", "HISTORY" | "DETAIL") => {
            parser.next_token();
            LakeStatement::Describe(describe::parse_describe(parser)?)
        }
        ("SHOW", "TBLPROPERTIES") => {
            parser.next_token();
            LakeStatement::Describe(describe::parse_show(parser)?)
        }
        ("RESTORE" | "OPTIMIZE" | "VACUUM" | "FSCK", _) | ("CONVERT", "TO") => {
            LakeStatement::Maintenance(maintenance::parse(parser)?)
        }
        ("MERGE", _) => LakeStatement::Merge(Box::new(merge::parse(parser)?)),
        ("CHECK", _) => LakeStatement::Check(expectation::parse_check_statement(parser)?),
        ("SUMMARIZE", _) => LakeStatement::Summarize(summarize::parse(parser)?),
        ("COPY", "INTO") => LakeStatement::CopyInto(Box::new(copy_into::parse(parser)?)),
        ("SET", _) if set::is_ours(parser) => LakeStatement::Set(set::parse(parser)?),
        ("ALTER", "TABLE") => LakeStatement::AlterTable(alter::parse(parser)?),
        ("INSERT", _) if insert::is_replace_where(parser) => {
            LakeStatement::ReplaceWhere(insert::parse(parser)?)
        }
        _ => return Ok(LakeStatement::DataFusion(Box::new(df.parse_statement()?))),
    };
    Ok(ours)
}

/// `SELECT * FROM <relation>`, for planning a MERGE source as a query.
pub fn select_all_from(relation: TableFactor) -> Result<Query> {
    let parsed = Parser::parse_sql(&dialect::LakeDialect, "SELECT * FROM t")
        .map_err(|e| LakeError::Internal(format!("the SELECT * template does not parse: {e}")))?;
    let Some(datafusion::sql::sqlparser::ast::Statement::Query(mut query)) =
        parsed.into_iter().next()
    else {
        return Err(LakeError::Internal(
            "the SELECT * template is no query".into(),
        ));
    };
    if let SetExpr::Select(select) = query.body.as_mut() {
        if let Some(from) = select.from.first_mut() {
            from.relation = relation;
        }
    }
    Ok(*query)
}

/// The `n`th token ahead, upper-cased, when it is a word; empty otherwise.
pub(crate) fn peek_word(parser: &Parser, n: usize) -> String {
    match parser.peek_nth_token(n).token {
        Token::Word(w) if w.quote_style.is_none() => w.value.to_ascii_uppercase(),
        _ => String::new(),
    }
}

/// A table in a Delta statement: a name, ``delta.`path` ``, or a quoted path (`'s3://b/t'`),
/// which becomes ``delta.`path` ``.
pub(crate) fn parse_table(parser: &mut Parser) -> Result<ObjectName, ParserError> {
    if let Token::SingleQuotedString(path) = parser.peek_token().token {
        parser.next_token();
        return Ok(ObjectName(vec![
            ObjectNamePart::Identifier(Ident::new("delta")),
            ObjectNamePart::Identifier(Ident::with_quote('`', path)),
        ]));
    }
    parser.parse_object_name(false)
}

/// `('key' = 'value', ...)`, as in TBLPROPERTIES.
pub(crate) fn parse_properties(parser: &mut Parser) -> Result<Vec<(String, String)>, ParserError> {
    parser.expect_token(&Token::LParen)?;
    let props = parser.parse_comma_separated(|p| {
        let tok = p.next_token();
        let key = match tok.token.clone() {
            Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => s,
            Token::Word(w) => {
                // Unquoted dotted keys: delta.appendOnly
                let mut k = w.value;
                while p.consume_token(&Token::Period) {
                    k.push('.');
                    k.push_str(&p.parse_identifier()?.value);
                }
                k
            }
            _ => return p.expected("a property name", tok),
        };
        let _ = p.consume_token(&Token::Eq);
        let tok = p.next_token();
        let value = match tok.token.clone() {
            Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => s,
            Token::Number(n, _) => n,
            Token::Word(w) => w.value,
            _ => return p.expected("a property value", tok),
        };
        Ok((key, value))
    })?;
    parser.expect_token(&Token::RParen)?;
    Ok(props)
}

/// Prints properties back as `('key' = 'value', ...)`.
pub(crate) fn fmt_properties(props: &[(String, String)]) -> String {
    let items: Vec<String> = props
        .iter()
        .map(|(k, v)| {
            format!(
                "{} = {}",
                Value::SingleQuotedString(k.clone()),
                Value::SingleQuotedString(v.clone())
            )
        })
        .collect();
    format!("({})", items.join(", "))
}

fn parse_err(e: datafusion::error::DataFusionError) -> LakeError {
    use datafusion::error::DataFusionError as D;
    match e {
        D::SQL(e, _) => LakeError::Parse(strip_sql_prefix(&e.to_string())),
        D::Diagnostic(_, inner) => parse_err(*inner),
        other => LakeError::Parse(strip_sql_prefix(&other.to_string())),
    }
}

fn strip_sql_prefix(s: &str) -> String {
    s.trim_start_matches("SQL error: ")
        .trim_start_matches("ParserError(\"")
        .trim_start_matches("sql parser error: ")
        .trim_end_matches("\")")
        // sqlparser's "found: x at Line: 1" gains a second "at" on its way through DataFusion.
        .replace(" at at Line", " at Line")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(sql: &str) {
        let first = parse_statement(sql).unwrap();
        let printed = first.to_string();
        let second = parse_statement(&printed).unwrap_or_else(|e| panic!("{printed}: {e}"));
        assert_eq!(first, second, "printed as {printed}");
    }

    #[test]
    fn create_table_as_round_trips() {
        round_trip("CREATE TABLE s.t AS SELECT 1 AS a");
        round_trip("create or replace table if not exists t using delta partitioned by (a, b) location 's3://b/t' comment 'orders' tblproperties ('delta.appendOnly' = 'true') as select 1 as a, 2 as b");
        round_trip("CREATE TABLE t (id BIGINT NOT NULL, name STRING) PARTITIONED BY (name)");
        round_trip("CREATE TABLE t AS (SELECT 1 AS a)");
        round_trip("CREATE TABLE t (id BIGINT NOT NULL COMMENT 'key', d DATE GENERATED ALWAYS AS (CAST(ts AS DATE)), ts TIMESTAMP) PARTITIONED BY (d) TBLPROPERTIES ('owner' = 'x')");
        round_trip("CREATE OR REPLACE TABLE c DEEP CLONE s.src VERSION AS OF 3 LOCATION '/tmp/c'");
        round_trip("CREATE TABLE IF NOT EXISTS c SHALLOW CLONE delta.`/data/t`");
    }

    #[test]
    fn create_table_fields() {
        let LakeStatement::CreateTable(s) = parse_statement(
            "CREATE OR REPLACE TABLE silver.orders PARTITIONED BY (day) AS SELECT * FROM x",
        )
        .unwrap() else {
            panic!("not ours")
        };
        assert!(s.or_replace && !s.if_not_exists);
        assert_eq!(s.name.to_string(), "silver.orders");
        assert_eq!(s.partitioned_by.len(), 1);
        assert!(s.query.is_some());
    }

    #[test]
    fn other_statements_go_to_datafusion_and_round_trip() {
        for sql in [
            "SELECT * FROM delta.`s3://bucket/path` WHERE a = 1",
            "INSERT INTO t SELECT 1",
            "CREATE EXTERNAL TABLE t STORED AS DELTA LOCATION 's3://b/t'",
            "EXPLAIN ANALYZE SELECT 1",
        ] {
            assert!(
                matches!(parse_statement(sql).unwrap(), LakeStatement::DataFusion(_)),
                "{sql}"
            );
            round_trip(sql);
        }
    }

    #[test]
    fn delta_statements_round_trip() {
        for sql in [
            "DESCRIBE HISTORY s.t LIMIT 5",
            "DESC DETAIL delta.`/x/t`",
            "DESCRIBE HISTORY '/data/t'",
            "SHOW TBLPROPERTIES t ('delta.appendOnly')",
            "RESTORE TABLE t TO VERSION AS OF 3",
            "RESTORE t TIMESTAMP AS OF '2024-01-01'",
            "OPTIMIZE t WHERE day = '2024-01-01' ZORDER BY (a, b)",
            "OPTIMIZE t ZORDER BY a",
            "VACUUM t RETAIN 168 HOURS DRY RUN",
            "VACUUM t",
            "FSCK REPAIR TABLE t DRY RUN",
            "CONVERT TO DELTA parquet.`/data/p` PARTITIONED BY (day STRING)",
            "MERGE WITH SCHEMA EVOLUTION INTO t USING s ON t.id = s.id WHEN MATCHED AND s.x > 1 THEN UPDATE SET * WHEN MATCHED THEN DELETE WHEN NOT MATCHED BY TARGET THEN INSERT * WHEN NOT MATCHED BY SOURCE THEN UPDATE SET t.x = 0",
            "MERGE INTO t AS a USING (SELECT 1 AS id) AS b ON a.id = b.id WHEN NOT MATCHED AND b.id > 0 THEN INSERT (id) VALUES (b.id)",
            "ALTER TABLE t ADD CONSTRAINT pos CHECK (x > 0)",
            "ALTER TABLE t ADD CONSTRAINT pos EXPECT (x > 0) ON VIOLATION DROP ROW",
            "CHECK TABLE t",
            "CREATE OR REPLACE TABLE s.t (CONSTRAINT ok EXPECT (id IS NOT NULL) ON VIOLATION DROP ROW, id BIGINT) AS SELECT 1 AS id",
            "CREATE TABLE t (CONSTRAINT ok EXPECT (id > 0)) AS SELECT 1 AS id",
            "ALTER TABLE t DROP CONSTRAINT IF EXISTS pos",
            "ALTER TABLE t ADD COLUMNS (c INT COMMENT 'n', d STRING)",
            "ALTER TABLE t SET TBLPROPERTIES ('a' = 'b', delta.appendOnly = true)",
            "ALTER TABLE t UNSET TBLPROPERTIES IF EXISTS ('a')",
            "ALTER TABLE t ALTER COLUMN c DROP NOT NULL",
            "INSERT INTO t REPLACE WHERE d = 1 SELECT * FROM s",
            "SELECT * FROM t VERSION AS OF 3",
            "UPDATE t SET a = 1 WHERE b IN (SELECT b FROM s)",
            "DELETE FROM t WHERE EXISTS (SELECT 1 FROM s)",
            "SET spark.databricks.delta.retentionDurationCheck.enabled = false",
            "SET lakeshell.now TO '2026-11-21T06:00:00Z'",
            "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE DRY RUN",
            "OPTIMIZE t WHERE day = '2024-01-01' ZORDER BY (a) DRY RUN",
            "UPDATE t SET a = 1 WHERE b = 2 DRY RUN",
            "DELETE FROM t WHERE b = 2 DRY RUN",
            "SUMMARIZE s.orders VERSION AS OF 3",
            "SUMMARIZE SELECT a, b FROM t WHERE a > 1",
            "SUMMARIZE 'landing/orders.csv'",
            "CREATE OR REPLACE PERSISTENT SECRET lake (TYPE s3, KEY_ID '${K}', SECRET '${S}', SCOPE 's3://lake/')",
            "CREATE SECRET IF NOT EXISTS adls (TYPE azure, ACCOUNT_NAME 'acct', USE_EMULATOR true)",
            "DROP PERSISTENT SECRET IF EXISTS lake",
            "SHOW SECRETS",
        ] {
            let parsed = parse_statement(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
            assert!(
                !matches!(parsed, LakeStatement::DataFusion(_))
                    || sql.starts_with("SELECT")
                    || sql.starts_with("UPDATE")
                    || sql.starts_with("DELETE"),
                "{sql} should be ours"
            );
            round_trip(sql);
        }
    }

    #[test]
    fn lakeshell_settings_are_ours_and_others_datafusions() {
        assert!(matches!(
            parse_statement("SET datafusion.execution.batch_size = 1024").unwrap(),
            LakeStatement::DataFusion(_)
        ));
        let parsed = parse_statement("SET lakeshell.vacuum.retention_check = off").unwrap();
        assert_eq!(
            parsed,
            LakeStatement::Set(SetStatement {
                key: "lakeshell.vacuum.retention_check".into(),
                value: "off".into()
            })
        );
        assert_eq!(
            parsed.to_string(),
            "SET lakeshell.vacuum.retention_check = 'off'"
        );
    }

    #[test]
    fn errors_are_one_clean_line() {
        let err = parse_statement("SELEC 1").unwrap_err().to_string();
        assert!(err.starts_with("syntax error: "), "{err}");
        assert!(!err.contains('\n'));
        assert!(parse_statement("CREATE TABLE t USING parquet AS SELECT 1").is_err());
        assert!(parse_statement("SELECT 1 SELECT 2").is_err());
    }
}
