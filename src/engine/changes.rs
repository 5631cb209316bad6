//! `table_changes('table', start [, end])`: a table's change data feed, as Databricks writes it.
//! (`table_diff(...)`, see [`super::diff`], is read the same way.)
//! `start` and `end` are versions or timestamps; the rows carry `_change_type`,
//! `_commit_version` and `_commit_timestamp`.
//!
//! DataFusion plans table functions synchronously and a change feed is read asynchronously, so
//! each call is read before planning and served to the planner under a generated name (see
//! [`super::plan`]); the call is rewritten to that name (aliased `table_changes` unless the query
//! gives an alias). `incremental('table')` (see [`super::incremental`]) is read the same way.

use std::ops::ControlFlow;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use datafusion::catalog::TableProvider;
use datafusion::datasource::MemTable;
use datafusion::physical_plan::collect;
use datafusion::sql::sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArgOperator, Ident, ObjectName, ObjectNamePart,
    TableAlias, TableFactor, TableFunctionArgs, Value, VisitMut, VisitorMut,
};

use super::plan::Opened;
use super::Engine;
use crate::catalog::TableName;
use crate::delta::AsOf;
use crate::error::{LakeError, Result};

/// The table functions read before planning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Feed {
    TableChanges,
    Incremental,
    TableDiff,
    ReadFiles,
    ReadApi,
}

impl Feed {
    fn name(self) -> &'static str {
        match self {
            Feed::TableChanges => "table_changes",
            Feed::Incremental => "incremental",
            Feed::TableDiff => "table_diff",
            Feed::ReadFiles => "read_files",
            Feed::ReadApi => "read_api",
        }
    }
}

fn is_changes(tf: &TableFactor) -> Option<(Feed, Vec<Expr>)> {
    let TableFactor::Table {
        name,
        args: Some(args),
        ..
    } = tf
    else {
        return None;
    };
    let [ObjectNamePart::Identifier(f)] = name.0.as_slice() else {
        return None;
    };
    let feed = if f.value.eq_ignore_ascii_case("table_changes") {
        Feed::TableChanges
    } else if f.value.eq_ignore_ascii_case("incremental") {
        Feed::Incremental
    } else if f.value.eq_ignore_ascii_case("table_diff") {
        Feed::TableDiff
    } else if f.value.eq_ignore_ascii_case("read_files") {
        Feed::ReadFiles
    } else if f.value.eq_ignore_ascii_case("read_api") {
        Feed::ReadApi
    } else {
        return None;
    };
    Some((
        feed,
        args.args
            .iter()
            .map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => e.clone(),
                FunctionArg::Named {
                    name,
                    arg: FunctionArgExpr::Expr(e),
                    ..
                } => Expr::Named {
                    expr: Box::new(e.clone()),
                    name: name.clone(),
                },
                other => Expr::Identifier(Ident::new(other.to_string())),
            })
            .collect(),
    ))
}

struct Collect(Vec<(Feed, Vec<Expr>)>);
impl VisitorMut for Collect {
    type Break = ();
    fn pre_visit_table_factor(&mut self, tf: &mut TableFactor) -> ControlFlow<()> {
        if let Some(args) = is_changes(tf) {
            self.0.push(args);
        }
        ControlFlow::Continue(())
    }
}

struct Rewrite(Vec<String>, usize);
impl VisitorMut for Rewrite {
    type Break = ();
    fn pre_visit_table_factor(&mut self, tf: &mut TableFactor) -> ControlFlow<()> {
        let Some((feed, _)) = is_changes(tf) else {
            return ControlFlow::Continue(());
        };
        if let (
            TableFactor::Table {
                name, args, alias, ..
            },
            Some(n),
        ) = (tf, self.0.get(self.1))
        {
            *name = ObjectName(vec![ObjectNamePart::Identifier(Ident::with_quote(
                '"',
                n.clone(),
            ))]);
            *args = None;
            if alias.is_none() {
                *alias = Some(TableAlias {
                    explicit: true,
                    name: Ident::new(feed.name()),
                    columns: vec![],
                    at: None,
                });
            }
        }
        self.1 += 1;
        ControlFlow::Continue(())
    }
}

impl Engine {
    /// Reads every `table_changes(...)` and `incremental(...)` call in `node`, serves what it
    /// read in `opened`, and points the call at it.
    pub(super) async fn read_feeds<N: VisitMut>(
        &self,
        opened: &Opened,
        node: &mut N,
    ) -> Result<()> {
        let with_metadata = super::read_files::mentions_metadata(node);
        if with_metadata {
            self.paths_as_read_files(node).await?;
        }
        let mut found = Collect(Vec::new());
        let _ = node.visit(&mut found);
        if found.0.is_empty() {
            return Ok(());
        }
        let mut names = Vec::new();
        for (i, (feed, args)) in found.0.into_iter().enumerate() {
            let provider = match feed {
                Feed::TableChanges => self.read_changes(&args).await?,
                Feed::Incremental => self.read_incremental(&args).await?,
                Feed::TableDiff => Box::pin(self.read_diff(opened, &args)).await?,
                Feed::ReadFiles => self.read_files(&args, with_metadata).await?,
                Feed::ReadApi => {
                    let (provider, note) = self.read_api(&args).await?;
                    if let Some(n) = note {
                        opened.note(n)?;
                    }
                    provider
                }
            };
            let name = format!("{}#{}", feed.name(), i + 1);
            opened.serve(
                datafusion::common::TableReference::bare(name.as_str()),
                provider,
            )?;
            names.push(name);
        }
        let _ = node.visit(&mut Rewrite(names, 0));
        if with_metadata {
            super::read_files::hide_metadata(node, "read_files");
        }
        Ok(())
    }

    /// A query that names `_metadata` reads each quoted file path in its FROM (`FROM
    /// 'landing/*.csv'`) as `read_files('landing/*.csv', header => true)`, which has it; a
    /// Delta folder stays a Delta table. (A CSV file read by path has a header, as DataFusion
    /// reads it.)
    async fn paths_as_read_files<N: VisitMut>(&self, node: &mut N) -> Result<()> {
        fn quoted_path(tf: &TableFactor) -> Option<String> {
            let TableFactor::Table {
                name, args: None, ..
            } = tf
            else {
                return None;
            };
            match name.0.as_slice() {
                [ObjectNamePart::Identifier(id)] if id.quote_style == Some('\'') => {
                    Some(id.value.clone())
                }
                _ => None,
            }
        }
        struct Paths(Vec<String>);
        impl VisitorMut for Paths {
            type Break = ();
            fn pre_visit_table_factor(&mut self, tf: &mut TableFactor) -> ControlFlow<()> {
                self.0.extend(quoted_path(tf));
                ControlFlow::Continue(())
            }
        }
        let mut paths = Paths(Vec::new());
        let _ = node.visit(&mut paths);
        let mut files = Vec::new();
        for p in paths.0 {
            let Ok(url) = crate::catalog::parse_location(&p) else {
                continue;
            };
            let options = self.warehouse.options_for(&url);
            if !crate::catalog::is_delta_table(&url, &options)
                .await
                .unwrap_or(false)
            {
                files.push(p);
            }
        }
        if files.is_empty() {
            return Ok(());
        }
        struct AsReadFiles(Vec<String>);
        impl VisitorMut for AsReadFiles {
            type Break = ();
            fn pre_visit_table_factor(&mut self, tf: &mut TableFactor) -> ControlFlow<()> {
                let Some(p) = quoted_path(tf).filter(|p| self.0.contains(p)) else {
                    return ControlFlow::Continue(());
                };
                if let TableFactor::Table { name, args, .. } = tf {
                    *name = ObjectName(vec![ObjectNamePart::Identifier(Ident::new("read_files"))]);
                    let arg = |e: Expr| FunctionArg::Unnamed(FunctionArgExpr::Expr(e));
                    *args = Some(TableFunctionArgs {
                        args: vec![
                            arg(Expr::value(Value::SingleQuotedString(p))),
                            FunctionArg::Named {
                                name: Ident::new("header"),
                                arg: FunctionArgExpr::Expr(Expr::value(Value::Boolean(true))),
                                operator: FunctionArgOperator::RightArrow,
                            },
                        ],
                        settings: None,
                    });
                }
                ControlFlow::Continue(())
            }
        }
        let _ = node.visit(&mut AsReadFiles(files));
        Ok(())
    }

    async fn read_changes(&self, args: &[Expr]) -> Result<Arc<dyn TableProvider>> {
        let usage = || {
            LakeError::BadStatement(
                "table_changes takes ('table', start [, end]), where start and end are versions or timestamps"
                    .into(),
            )
        };
        if !(2..=3).contains(&args.len()) {
            return Err(usage());
        }
        let table = text_arg(&args[0]).ok_or_else(usage)?;
        let entry = self.resolve_table(&TableName::from_text(&table)?).await?;
        let opened = self.warehouse.open(&entry).await?;
        let bound = |e: &Expr| -> Option<u64> {
            match e {
                Expr::Value(v) => match &v.value {
                    Value::Number(n, _) => n.parse().ok(),
                    _ => None,
                },
                _ => None,
            }
        };
        let mut b = opened.scan_cdf();
        for (i, e) in args[1..].iter().enumerate() {
            let at = match bound(e) {
                Some(v) => AsOf::Version(v),
                None => AsOf::Timestamp(self.timestamp_ms(e).await?),
            };
            b = match (i, at) {
                (0, AsOf::Version(v)) => b.with_starting_version(v),
                (_, AsOf::Version(v)) => b.with_ending_version(v),
                (0, AsOf::Timestamp(ms)) => b.with_starting_timestamp(utc(ms)?),
                (_, AsOf::Timestamp(ms)) => b.with_ending_timestamp(utc(ms)?),
            };
        }
        let state = self.state();
        let plan = b.build(&state, None).await.map_err(|e| match e {
            deltalake::DeltaTableError::ChangeDataNotEnabled { .. } => LakeError::BadStatement(format!(
                "{}: {}; turn the change feed on with ALTER TABLE {} SET TBLPROPERTIES ('delta.enableChangeDataFeed' = 'true'), and changes from then on are recorded",
                entry.name,
                LakeError::from(e),
                entry.name
            )),
            e => LakeError::from(e).on_table(entry.name.clone()),
        })?;
        let schema = plan.schema();
        let batches = collect(plan, self.ctx.task_ctx())
            .await
            .map_err(|e| LakeError::from(e).on_table(entry.name.clone()))?;
        Ok(Arc::new(MemTable::try_new(schema, vec![batches])?))
    }
}

/// A string (or bare name) argument of a table function.
pub(super) fn text_arg(e: &Expr) -> Option<String> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => Some(s.clone()),
            _ => None,
        },
        Expr::Identifier(i) => Some(i.value.clone()),
        _ => None,
    }
}

fn utc(ms: i64) -> Result<chrono::DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .ok_or_else(|| LakeError::Version(format!("timestamp {ms} is out of range")))
}
