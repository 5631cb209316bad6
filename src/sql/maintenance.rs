//! Delta maintenance statements, as Databricks SQL writes them:
//!
//! ```text
//! RESTORE [TABLE] table [TO] VERSION AS OF n | TIMESTAMP AS OF expr
//! OPTIMIZE table [WHERE partition_predicate] [ZORDER BY (col, ...)]
//! VACUUM table [RETAIN n HOURS] [DRY RUN]
//! FSCK REPAIR TABLE table [DRY RUN]
//! CONVERT TO DELTA parquet.`path` [PARTITIONED BY (col type, ...)]
//! ```

use std::fmt;

use datafusion::sql::sqlparser::ast::{ColumnDef, Expr, Ident, ObjectName};
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{IsOptional, Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::Token;

use super::{parse_table, peek_word};

/// A version to go back to: `VERSION AS OF n` or `TIMESTAMP AS OF expr`.
#[derive(Debug, Clone, PartialEq)]
pub enum VersionSpec {
    Version(u64),
    Timestamp(Box<Expr>),
}

impl VersionSpec {
    /// Parses `VERSION AS OF n` or `TIMESTAMP AS OF expr`.
    pub(crate) fn parse(parser: &mut Parser) -> Result<Self, ParserError> {
        if parser.parse_keywords(&[Keyword::VERSION, Keyword::AS, Keyword::OF]) {
            return Ok(VersionSpec::Version(parser.parse_literal_uint()?));
        }
        if parser.parse_keywords(&[Keyword::TIMESTAMP, Keyword::AS, Keyword::OF]) {
            return Ok(VersionSpec::Timestamp(Box::new(parser.parse_expr()?)));
        }
        parser.expected("VERSION AS OF or TIMESTAMP AS OF", parser.peek_token())
    }
}

impl fmt::Display for VersionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VersionSpec::Version(v) => write!(f, "VERSION AS OF {v}"),
            VersionSpec::Timestamp(e) => write!(f, "TIMESTAMP AS OF {e}"),
        }
    }
}

/// A parsed maintenance statement.
#[derive(Debug, Clone, PartialEq)]
pub enum MaintenanceStatement {
    Restore {
        table: ObjectName,
        to: VersionSpec,
    },
    Optimize {
        table: ObjectName,
        predicate: Option<Box<Expr>>,
        zorder_by: Vec<Ident>,
    },
    Vacuum {
        table: ObjectName,
        retain_hours: Option<f64>,
        dry_run: bool,
    },
    Fsck {
        table: ObjectName,
        dry_run: bool,
    },
    Convert {
        /// `parquet`.
        format: Ident,
        /// The folder of Parquet files.
        location: String,
        partitioned_by: Vec<ColumnDef>,
    },
}

fn dry_run(parser: &mut Parser) -> bool {
    if peek_word(parser, 0) == "DRY" && peek_word(parser, 1) == "RUN" {
        parser.next_token();
        parser.next_token();
        return true;
    }
    false
}

/// Parses a maintenance statement; the parser stands on its first word.
pub(crate) fn parse(parser: &mut Parser) -> Result<MaintenanceStatement, ParserError> {
    let first = parser.parse_identifier()?.value.to_ascii_uppercase();
    match first.as_str() {
        "RESTORE" => {
            let _ = parser.parse_keyword(Keyword::TABLE);
            let table = parse_table(parser)?;
            let _ = parser.parse_keyword(Keyword::TO);
            let to = VersionSpec::parse(parser)?;
            Ok(MaintenanceStatement::Restore { table, to })
        }
        "OPTIMIZE" => {
            let table = parse_table(parser)?;
            let predicate = if parser.parse_keyword(Keyword::WHERE) {
                Some(Box::new(parser.parse_expr()?))
            } else {
                None
            };
            let mut zorder_by = vec![];
            if peek_word(parser, 0) == "ZORDER" {
                parser.next_token();
                parser.expect_keyword(Keyword::BY)?;
                zorder_by = if parser.peek_token().token == Token::LParen {
                    parser.parse_parenthesized_column_list(IsOptional::Mandatory, false)?
                } else {
                    parser.parse_comma_separated(|p| p.parse_identifier())?
                };
            }
            Ok(MaintenanceStatement::Optimize {
                table,
                predicate,
                zorder_by,
            })
        }
        "VACUUM" => {
            let table = parse_table(parser)?;
            let mut retain_hours = None;
            if peek_word(parser, 0) == "RETAIN" {
                parser.next_token();
                let n = parser.parse_number_value()?;
                let hours = n.to_string().parse::<f64>().map_err(|_| {
                    ParserError::ParserError(format!("RETAIN needs a number of hours, not {n}"))
                })?;
                parser.expect_keyword(Keyword::HOURS)?;
                retain_hours = Some(hours);
            }
            let dry_run = dry_run(parser);
            Ok(MaintenanceStatement::Vacuum {
                table,
                retain_hours,
                dry_run,
            })
        }
        "FSCK" => {
            if peek_word(parser, 0) != "REPAIR" {
                return parser.expected("REPAIR TABLE", parser.peek_token());
            }
            parser.next_token();
            parser.expect_keyword(Keyword::TABLE)?;
            let table = parse_table(parser)?;
            let dry_run = dry_run(parser);
            Ok(MaintenanceStatement::Fsck { table, dry_run })
        }
        "CONVERT" => {
            parser.expect_keyword(Keyword::TO)?;
            if peek_word(parser, 0) != "DELTA" {
                return parser.expected("DELTA", parser.peek_token());
            }
            parser.next_token();
            let format = parser.parse_identifier()?;
            if !format.value.eq_ignore_ascii_case("parquet") {
                return Err(ParserError::ParserError(format!(
                    "CONVERT TO DELTA converts Parquet folders: write parquet.`path`, not {format}"
                )));
            }
            parser.expect_token(&Token::Period)?;
            let location = parser.parse_identifier()?.value;
            let mut partitioned_by = vec![];
            if parser.parse_keywords(&[Keyword::PARTITIONED, Keyword::BY]) {
                parser.expect_token(&Token::LParen)?;
                partitioned_by = parser.parse_comma_separated(|p| p.parse_column_def())?;
                parser.expect_token(&Token::RParen)?;
            }
            Ok(MaintenanceStatement::Convert {
                format,
                location,
                partitioned_by,
            })
        }
        other => Err(ParserError::ParserError(format!(
            "not a maintenance statement: {other}"
        ))),
    }
}

impl fmt::Display for MaintenanceStatement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MaintenanceStatement::Restore { table, to } => {
                write!(f, "RESTORE TABLE {table} TO {to}")
            }
            MaintenanceStatement::Optimize {
                table,
                predicate,
                zorder_by,
            } => {
                write!(f, "OPTIMIZE {table}")?;
                if let Some(p) = predicate {
                    write!(f, " WHERE {p}")?;
                }
                if !zorder_by.is_empty() {
                    let cols: Vec<String> = zorder_by.iter().map(|c| c.to_string()).collect();
                    write!(f, " ZORDER BY ({})", cols.join(", "))?;
                }
                Ok(())
            }
            MaintenanceStatement::Vacuum {
                table,
                retain_hours,
                dry_run,
            } => {
                write!(f, "VACUUM {table}")?;
                if let Some(h) = retain_hours {
                    write!(f, " RETAIN {h} HOURS")?;
                }
                if *dry_run {
                    write!(f, " DRY RUN")?;
                }
                Ok(())
            }
            MaintenanceStatement::Fsck { table, dry_run } => {
                write!(f, "FSCK REPAIR TABLE {table}")?;
                if *dry_run {
                    write!(f, " DRY RUN")?;
                }
                Ok(())
            }
            MaintenanceStatement::Convert {
                format,
                location,
                partitioned_by,
            } => {
                write!(
                    f,
                    "CONVERT TO DELTA {format}.{}",
                    Ident::with_quote('`', location.clone())
                )?;
                if !partitioned_by.is_empty() {
                    let cols: Vec<String> = partitioned_by.iter().map(|c| c.to_string()).collect();
                    write!(f, " PARTITIONED BY ({})", cols.join(", "))?;
                }
                Ok(())
            }
        }
    }
}
