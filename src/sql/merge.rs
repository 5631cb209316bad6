//! `MERGE INTO`, with the full grammar Databricks SQL users write:
//!
//! ```text
//! MERGE [WITH SCHEMA EVOLUTION] INTO target [[AS] alias]
//!   USING source [[AS] alias] ON condition
//!   { WHEN MATCHED [AND cond] THEN { UPDATE SET col = expr, ... | UPDATE SET * | DELETE }
//!   | WHEN NOT MATCHED [BY TARGET] [AND cond] THEN { INSERT (col, ...) VALUES (expr, ...) | INSERT * }
//!   | WHEN NOT MATCHED BY SOURCE [AND cond] THEN { UPDATE SET col = expr, ... | DELETE } } ...
//! ```
//!
//! sqlparser's own MERGE has no `UPDATE SET *`, `INSERT *` or `WITH SCHEMA EVOLUTION`, so the
//! statement is parsed here from sqlparser's pieces (table factors, expressions, assignments).

use std::fmt;

use datafusion::sql::sqlparser::ast::{Assignment, Expr, Ident, TableFactor};
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{IsOptional, Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::Token;

use super::peek_word;

/// Which rows a clause applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeKind {
    Matched,
    NotMatched,
    NotMatchedBySource,
}

/// What a clause does.
#[derive(Debug, Clone, PartialEq)]
pub enum MergeAction {
    /// `UPDATE SET *`: every target column from the source column of the same name.
    UpdateAll,
    Update(Vec<Assignment>),
    Delete,
    /// `INSERT *`: every target column from the source column of the same name.
    InsertAll,
    Insert {
        columns: Vec<Ident>,
        values: Vec<Expr>,
    },
}

/// One `WHEN ... THEN ...` clause.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeClause {
    pub kind: MergeKind,
    pub predicate: Option<Expr>,
    pub action: MergeAction,
}

/// A parsed `MERGE` statement.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeStatement {
    pub schema_evolution: bool,
    pub target: TableFactor,
    pub source: TableFactor,
    pub on: Expr,
    pub clauses: Vec<MergeClause>,
}

/// Parses a MERGE statement; the parser stands on `MERGE`.
pub(crate) fn parse(parser: &mut Parser) -> Result<MergeStatement, ParserError> {
    parser.expect_keyword(Keyword::MERGE)?;
    let schema_evolution = parser.parse_keyword(Keyword::WITH);
    if schema_evolution {
        parser.expect_keyword(Keyword::SCHEMA)?;
        if peek_word(parser, 0) != "EVOLUTION" {
            return parser.expected("EVOLUTION", parser.peek_token());
        }
        parser.next_token();
    }
    parser.expect_keyword(Keyword::INTO)?;
    let target = parser.parse_table_factor()?;
    parser.expect_keyword(Keyword::USING)?;
    let source = parser.parse_table_factor()?;
    parser.expect_keyword(Keyword::ON)?;
    let on = parser.parse_expr()?;
    let mut clauses = vec![];
    while parser.parse_keyword(Keyword::WHEN) {
        clauses.push(parse_clause(parser)?);
    }
    if clauses.is_empty() {
        return parser.expected("WHEN MATCHED or WHEN NOT MATCHED", parser.peek_token());
    }
    Ok(MergeStatement {
        schema_evolution,
        target,
        source,
        on,
        clauses,
    })
}

fn parse_clause(parser: &mut Parser) -> Result<MergeClause, ParserError> {
    let not = parser.parse_keyword(Keyword::NOT);
    parser.expect_keyword(Keyword::MATCHED)?;
    let kind = if !not {
        MergeKind::Matched
    } else if parser.parse_keywords(&[Keyword::BY, Keyword::SOURCE]) {
        MergeKind::NotMatchedBySource
    } else {
        let _ = parser.parse_keywords(&[Keyword::BY, Keyword::TARGET]);
        MergeKind::NotMatched
    };
    let predicate = if parser.parse_keyword(Keyword::AND) {
        Some(parser.parse_expr()?)
    } else {
        None
    };
    parser.expect_keyword(Keyword::THEN)?;
    let action = match parser.parse_one_of_keywords(&[
        Keyword::UPDATE,
        Keyword::DELETE,
        Keyword::INSERT,
    ]) {
        Some(Keyword::UPDATE) if kind != MergeKind::NotMatched => {
            parser.expect_keyword(Keyword::SET)?;
            if parser.consume_token(&Token::Mul) {
                if kind == MergeKind::NotMatchedBySource {
                    return Err(ParserError::ParserError(
                        "UPDATE SET * needs a source row: it is not allowed in WHEN NOT MATCHED BY SOURCE".into(),
                    ));
                }
                MergeAction::UpdateAll
            } else {
                MergeAction::Update(parser.parse_comma_separated(Parser::parse_assignment)?)
            }
        }
        Some(Keyword::DELETE) if kind != MergeKind::NotMatched => MergeAction::Delete,
        Some(Keyword::INSERT) if kind == MergeKind::NotMatched => {
            if parser.consume_token(&Token::Mul) {
                MergeAction::InsertAll
            } else {
                let columns =
                    parser.parse_parenthesized_column_list(IsOptional::Optional, false)?;
                parser.expect_keyword(Keyword::VALUES)?;
                parser.expect_token(&Token::LParen)?;
                let values = parser.parse_comma_separated(Parser::parse_expr)?;
                parser.expect_token(&Token::RParen)?;
                MergeAction::Insert { columns, values }
            }
        }
        Some(k) => {
            return Err(ParserError::ParserError(format!(
                "{k:?} is not allowed in a {} clause",
                kind_text(kind)
            )))
        }
        None => return parser.expected("UPDATE, DELETE or INSERT", parser.peek_token()),
    };
    Ok(MergeClause {
        kind,
        predicate,
        action,
    })
}

fn kind_text(kind: MergeKind) -> &'static str {
    match kind {
        MergeKind::Matched => "WHEN MATCHED",
        MergeKind::NotMatched => "WHEN NOT MATCHED",
        MergeKind::NotMatchedBySource => "WHEN NOT MATCHED BY SOURCE",
    }
}

fn join<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for MergeStatement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MERGE ")?;
        if self.schema_evolution {
            write!(f, "WITH SCHEMA EVOLUTION ")?;
        }
        write!(
            f,
            "INTO {} USING {} ON {}",
            self.target, self.source, self.on
        )?;
        for c in &self.clauses {
            write!(f, " {}", kind_text(c.kind))?;
            if let Some(p) = &c.predicate {
                write!(f, " AND {p}")?;
            }
            write!(f, " THEN ")?;
            match &c.action {
                MergeAction::UpdateAll => write!(f, "UPDATE SET *")?,
                MergeAction::Update(a) => write!(f, "UPDATE SET {}", join(a))?,
                MergeAction::Delete => write!(f, "DELETE")?,
                MergeAction::InsertAll => write!(f, "INSERT *")?,
                MergeAction::Insert { columns, values } => {
                    write!(f, "INSERT ")?;
                    if !columns.is_empty() {
                        write!(f, "({}) ", join(columns))?;
                    }
                    write!(f, "VALUES ({})", join(values))?;
                }
            }
        }
        Ok(())
    }
}
