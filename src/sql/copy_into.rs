//! `COPY INTO`, Databricks' form:
//!
//! ```text
//! COPY INTO table
//! FROM 'location' | ( query over 'location' )
//! FILEFORMAT = CSV | JSON | PARQUET
//! [ FILES = ( 'name' [, ...] ) ]
//! [ PATTERN = 'glob' ]
//! [ FORMAT_OPTIONS ( 'key' = 'value' [, ...] ) ]
//! [ COPY_OPTIONS ( 'key' = 'value' [, ...] ) ]
//! ```
//!
//! The location is a folder (or one file) on any store lakeshell reads. In the query form the
//! query reads the location by its quoted path (`FROM 'landing/'`) and may select
//! `_metadata.file_path`, `file_name`, `file_size`, `file_modification_time` and
//! `file_row_index`.

use std::fmt;

use datafusion::sql::sqlparser::ast::{ObjectName, Query, Value};
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::Token;

use super::{fmt_properties, parse_properties, parse_table, peek_word};

/// The file format of a load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Csv,
    Json,
    Parquet,
}

impl FileFormat {
    /// The format named `word` (any case).
    pub fn parse(word: &str) -> Option<Self> {
        match word.to_ascii_uppercase().as_str() {
            "CSV" => Some(FileFormat::Csv),
            "JSON" | "NDJSON" => Some(FileFormat::Json),
            "PARQUET" => Some(FileFormat::Parquet),
            _ => None,
        }
    }
}

impl fmt::Display for FileFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileFormat::Csv => "CSV",
            FileFormat::Json => "JSON",
            FileFormat::Parquet => "PARQUET",
        })
    }
}

/// Where the rows come from.
#[derive(Debug, Clone, PartialEq)]
pub enum CopySource {
    /// `FROM 'location'`: every column of the files.
    Location(String),
    /// `FROM (SELECT ... FROM 'location')`.
    Query(Box<Query>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct CopyIntoStatement {
    pub table: ObjectName,
    pub source: CopySource,
    pub format: FileFormat,
    /// `FILES = (...)`: names under the location; empty: every file.
    pub files: Vec<String>,
    pub pattern: Option<String>,
    pub format_options: Vec<(String, String)>,
    pub copy_options: Vec<(String, String)>,
}

impl CopyIntoStatement {
    /// A copy option's value (keys compare without case, as Databricks does).
    pub fn copy_option(&self, key: &str) -> Option<&str> {
        option(&self.copy_options, key)
    }

    /// A format option's value.
    pub fn format_option(&self, key: &str) -> Option<&str> {
        option(&self.format_options, key)
    }
}

fn option<'a>(options: &'a [(String, String)], key: &str) -> Option<&'a str> {
    options
        .iter()
        .rev()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

/// Parses from `COPY`.
pub fn parse(parser: &mut Parser) -> Result<CopyIntoStatement, ParserError> {
    parser.next_token(); // COPY
    parser.next_token(); // INTO
    let table = parse_table(parser)?;
    if peek_word(parser, 0) != "FROM" {
        return parser.expected("FROM 'location' or FROM (query)", parser.peek_token());
    }
    parser.next_token();
    let source = if parser.consume_token(&Token::LParen) {
        let q = parser.parse_query()?;
        parser.expect_token(&Token::RParen)?;
        CopySource::Query(q)
    } else {
        CopySource::Location(parser.parse_literal_string()?)
    };
    let mut format = None;
    let mut stmt = CopyIntoStatement {
        table,
        source,
        format: FileFormat::Csv,
        files: vec![],
        pattern: None,
        format_options: vec![],
        copy_options: vec![],
    };
    loop {
        match peek_word(parser, 0).as_str() {
            "FILEFORMAT" => {
                parser.next_token();
                parser.expect_token(&Token::Eq)?;
                let tok = parser.next_token();
                let word = match &tok.token {
                    Token::Word(w) => w.value.clone(),
                    Token::SingleQuotedString(s) => s.clone(),
                    _ => String::new(),
                };
                match FileFormat::parse(&word) {
                    Some(f) => format = Some(f),
                    None => return parser.expected("CSV, JSON or PARQUET", tok),
                }
            }
            "FILES" => {
                parser.next_token();
                parser.expect_token(&Token::Eq)?;
                parser.expect_token(&Token::LParen)?;
                stmt.files = parser.parse_comma_separated(Parser::parse_literal_string)?;
                parser.expect_token(&Token::RParen)?;
            }
            "PATTERN" => {
                parser.next_token();
                parser.expect_token(&Token::Eq)?;
                stmt.pattern = Some(parser.parse_literal_string()?);
            }
            "FORMAT_OPTIONS" => {
                parser.next_token();
                stmt.format_options = parse_properties(parser)?;
            }
            "COPY_OPTIONS" => {
                parser.next_token();
                stmt.copy_options = parse_properties(parser)?;
            }
            _ => break,
        }
    }
    match format {
        Some(f) => stmt.format = f,
        None => return parser.expected("FILEFORMAT = CSV | JSON | PARQUET", parser.peek_token()),
    }
    Ok(stmt)
}

impl fmt::Display for CopyIntoStatement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "COPY INTO {} FROM ", self.table)?;
        match &self.source {
            CopySource::Location(l) => write!(f, "{}", Value::SingleQuotedString(l.clone()))?,
            CopySource::Query(q) => write!(f, "({q})")?,
        }
        write!(f, " FILEFORMAT = {}", self.format)?;
        if !self.files.is_empty() {
            let files: Vec<String> = self
                .files
                .iter()
                .map(|s| Value::SingleQuotedString(s.clone()).to_string())
                .collect();
            write!(f, " FILES = ({})", files.join(", "))?;
        }
        if let Some(p) = &self.pattern {
            write!(f, " PATTERN = {}", Value::SingleQuotedString(p.clone()))?;
        }
        if !self.format_options.is_empty() {
            write!(
                f,
                " FORMAT_OPTIONS {}",
                fmt_properties(&self.format_options)
            )?;
        }
        if !self.copy_options.is_empty() {
            write!(f, " COPY_OPTIONS {}", fmt_properties(&self.copy_options))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::sql::{parse_statement, LakeStatement};

    fn parse(sql: &str) -> super::CopyIntoStatement {
        match parse_statement(sql).unwrap() {
            LakeStatement::CopyInto(c) => *c,
            other => panic!("not COPY INTO: {other:?}"),
        }
    }

    #[test]
    fn copy_into_parses_and_round_trips() {
        let sql = "COPY INTO bronze.orders FROM 's3://landing/orders/' FILEFORMAT = CSV PATTERN = '2024-*/*.csv' FORMAT_OPTIONS ('header' = 'true', 'inferSchema' = 'true') COPY_OPTIONS ('mergeSchema' = 'true')";
        let c = parse(sql);
        assert_eq!(c.format, super::FileFormat::Csv);
        assert_eq!(c.pattern.as_deref(), Some("2024-*/*.csv"));
        assert_eq!(c.format_option("HEADER"), Some("true"));
        assert_eq!(c.copy_option("mergeschema"), Some("true"));
        assert_eq!(parse(&c.to_string()), c);
        let q = parse("copy into t from (select *, _metadata.file_path as f from 'landing/') fileformat = json files = ('a.json', 'b.json')");
        assert!(matches!(q.source, super::CopySource::Query(_)));
        assert_eq!(q.files, ["a.json", "b.json"]);
        assert_eq!(parse(&q.to_string()), q);
    }

    #[test]
    fn copy_into_names_what_is_missing() {
        let e = parse_statement("COPY INTO t FROM 'landing/'").unwrap_err();
        assert!(e.to_string().contains("FILEFORMAT"), "{e}");
        let e = parse_statement("COPY INTO t FROM 'x' FILEFORMAT = AVRO").unwrap_err();
        assert!(e.to_string().contains("CSV, JSON or PARQUET"), "{e}");
    }
}
