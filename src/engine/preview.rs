//! `MERGE | UPDATE | DELETE | OPTIMIZE ... DRY RUN`: what the statement would change, from the
//! same plan the real statement commits, and nothing committed.
//!
//! - MERGE is planned as for the commit ([`Engine::plan_merge`]): the source with the target's
//!   expectations enforced, `*` expanded. Each target and source row is then classified by the
//!   clause that would fire on it (the first whose condition holds, as in the commit).
//! - UPDATE and DELETE select the rows their WHERE takes, over the snapshot they would commit on.
//! - OPTIMIZE lists the bins of files delta-rs's planner would rewrite
//!   ([`crate::delta::optimize::plan`]).
//!
//! The result is a sample of the rows (after the change; a deleted row as it was), with a
//! `change` column, and notes with the counts, the files rewritten and the unchanged version.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, StringArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::common::TableReference;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{
    Delete, Expr as SqlExpr, FromTable, Ident, ObjectName, Statement, TableFactor, Update,
};

use super::plan::Opened;
use super::{quoted, rows, served_name, Engine, Outcome};
use crate::catalog::TableEntry;
use crate::delta::merge::Clause;
use crate::error::{LakeError, Result};
use crate::outcome::Rows;
use crate::sql::{LakeStatement, MaintenanceStatement, MergeStatement};

/// The column the target's scan gives each row's file in.
const FILE: &str = "__lakeshell_file";
/// Rows of each kind of change the sample shows.
const SAMPLE: usize = 5;
/// Files named in a note, at most.
const FILES_NAMED: usize = 8;

/// `n` with thousands separators.
fn count(n: u64) -> String {
    crate::output::thousands(n as usize)
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", count(n), if n == 1 { one } else { many })
}

/// `a, b, c` and `… 4 more` past [`FILES_NAMED`].
fn named(files: &[String]) -> String {
    let mut list: Vec<&str> = files.iter().take(FILES_NAMED).map(String::as_str).collect();
    let more = files.len().saturating_sub(FILES_NAMED);
    let tail = format!("… {more} more");
    if more > 0 {
        list.push(&tail);
    }
    list.join(", ")
}

fn unchanged(entry: &TableEntry, version: Option<u64>) -> String {
    format!(
        "DRY RUN: nothing was committed; {} stays at version {}",
        entry.name,
        version.unwrap_or_default()
    )
}

/// The strings of column `i` of `batch`, as displayed.
fn texts(b: &datafusion::arrow::array::RecordBatch, i: usize) -> Result<Vec<String>> {
    let col = b.column(i);
    let f = ArrayFormatter::try_new(col.as_ref(), &FormatOptions::default())?;
    Ok((0..col.len()).map(|r| f.value(r).to_string()).collect())
}

impl Engine {
    /// `stmt ... DRY RUN`.
    pub(super) async fn dry_run(&self, stmt: LakeStatement) -> Result<Outcome> {
        match stmt {
            LakeStatement::Maintenance(MaintenanceStatement::Optimize {
                table,
                predicate,
                zorder_by,
            }) => {
                self.optimize_preview(&table, predicate.as_deref(), !zorder_by.is_empty())
                    .await
            }
            LakeStatement::Merge(m) => self.merge_preview(&m).await,
            LakeStatement::DataFusion(df) => match *df {
                DFStatement::Statement(s) => match *s {
                    Statement::Delete(d) => self.delete_preview(&d).await,
                    Statement::Update(u) => self.update_preview(&u).await,
                    _ => Err(not_previewed()),
                },
                _ => Err(not_previewed()),
            },
            _ => Err(not_previewed()),
        }
    }

    /// Opens `entry` once for a preview and serves it under `name` with each row's file.
    async fn serve_with_files(
        &self,
        opened: &Opened,
        entry: &TableEntry,
        name: TableReference,
    ) -> Result<deltalake::DeltaTable> {
        let table = self.open_table(opened, entry, None).await?;
        let provider = table
            .table_provider()
            .with_file_column(FILE)
            .await
            .map_err(|e| LakeError::from(e).on_table(entry.name.clone()))?;
        opened.serve(name, provider)?;
        Ok(table)
    }

    async fn optimize_preview(
        &self,
        table: &ObjectName,
        predicate: Option<&SqlExpr>,
        zorder: bool,
    ) -> Result<Outcome> {
        let entry = self.entry_for(table).await?;
        let mut filters = Vec::new();
        if let Some(p) = predicate {
            super::maintenance::partition_filters(p, &mut filters)?;
        }
        let opened = self.warehouse.open(&entry).await?;
        let bins = crate::delta::optimize::plan(&opened, &entry.name, &filters, zorder).await?;
        let (mut partition, mut file, mut bytes, mut into) = (vec![], vec![], vec![], vec![]);
        for (i, bin) in bins.iter().enumerate() {
            for (path, size) in &bin.files {
                partition.push(bin.partition.clone());
                file.push(path.clone());
                bytes.push(*size);
                into.push(i as u64 + 1);
            }
        }
        let total: u64 = bytes.iter().sum();
        let verb = if zorder { "Z-order" } else { "compact" };
        let note = if bins.is_empty() {
            format!(
                "OPTIMIZE {}: nothing to {verb}; no partition has several files under the target size",
                entry.name
            )
        } else {
            format!(
                "OPTIMIZE {}: would {verb} {} ({}) into {}",
                entry.name,
                plural(file.len() as u64, "file", "files"),
                crate::output::progress::human_bytes(total),
                plural(bins.len() as u64, "file", "files"),
            )
        };
        let out = rows(
            vec![
                Field::new("partition", DataType::Utf8, false),
                Field::new("file", DataType::Utf8, false),
                Field::new("bytes", DataType::UInt64, false),
                Field::new("into_file", DataType::UInt64, false),
            ],
            vec![
                Arc::new(StringArray::from(partition)) as ArrayRef,
                Arc::new(StringArray::from(file)),
                Arc::new(UInt64Array::from(bytes)),
                Arc::new(UInt64Array::from(into)),
            ],
        )?;
        Ok(with_notes(
            out,
            vec![note, unchanged(&entry, opened.version())],
        ))
    }

    async fn delete_preview(&self, d: &Delete) -> Result<Outcome> {
        let tables = match &d.from {
            FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => t,
        };
        let [target] = tables.as_slice() else {
            return Err(LakeError::Unsupported(
                "DELETE from several tables: delete from one table at a time".into(),
            ));
        };
        let (name, alias) = super::dml::target_of(target, "DELETE")?;
        self.rows_preview("DELETE", name, alias, &[], d.selection.as_ref())
            .await
    }

    async fn update_preview(&self, u: &Update) -> Result<Outcome> {
        let (name, alias) = super::dml::target_of(&u.table, "UPDATE")?;
        let set: Vec<(String, String)> = super::dml::assignments(u)?
            .into_iter()
            .map(|(c, e)| (c, e.to_string()))
            .collect();
        self.rows_preview("UPDATE", name, alias, &set, u.selection.as_ref())
            .await
    }

    /// The rows an UPDATE (setting `set`) or a DELETE takes, a sample of them after the change,
    /// and the files holding them.
    async fn rows_preview(
        &self,
        what: &str,
        name: &ObjectName,
        alias: Option<&Ident>,
        set: &[(String, String)],
        selection: Option<&SqlExpr>,
    ) -> Result<Outcome> {
        let entry = self.entry_for(name).await?;
        let opened = Opened::default();
        let table = self
            .serve_with_files(&opened, &entry, served_name(name)?)
            .await?;
        let columns = columns_of(&table, &entry)?;
        let verb = if set.is_empty() { "delete" } else { "update" };
        if !set.is_empty() {
            let named: Vec<String> = set.iter().map(|(c, _)| c.clone()).collect();
            super::dml::check_columns(&table, &entry.name, &named, what)?;
        }
        let mut projection = vec![format!("'{verb}' AS change")];
        for c in &columns {
            match set.iter().find(|(col, _)| col == c) {
                Some((_, e)) => {
                    projection.push(format!("{e} AS {}", quoted(c)));
                    projection.push(format!(
                        "{} AS {}",
                        quoted(c),
                        quoted(&format!("{c}_before"))
                    ));
                }
                None => projection.push(quoted(c)),
            }
        }
        let relation = match alias {
            Some(a) => format!("{name} AS {a}"),
            None => name.to_string(),
        };
        let filter = selection.map(|s| format!(" WHERE {s}")).unwrap_or_default();
        let per_file = self
            .collect_sql_in(
                &opened,
                &format!(
                    "SELECT {f}, count(*) FROM {relation}{filter} GROUP BY {f} ORDER BY {f}",
                    f = quoted(FILE)
                ),
            )
            .await?;
        let mut files = Vec::new();
        let mut total = 0u64;
        for b in &per_file {
            files.extend(texts(b, 0)?.iter().map(|f| relative(f, &table)));
            for n in texts(b, 1)? {
                total += n.parse::<u64>().unwrap_or_default();
            }
        }
        let sample = self
            .collect_sql_in(
                &opened,
                &format!(
                    "SELECT {} FROM {relation}{filter} LIMIT {SAMPLE}",
                    projection.join(", ")
                ),
            )
            .await?;
        let mut notes = vec![format!(
            "{what} {}: would {verb} {}",
            entry.name,
            plural(total, "row", "rows"),
        )];
        notes.push(files_note(&files, live_files(&table)));
        notes.push(unchanged(&entry, table.version()));
        sample_outcome(sample, notes)
    }

    async fn merge_preview(&self, stmt: &MergeStatement) -> Result<Outcome> {
        let TableFactor::Table { name, .. } = &stmt.target else {
            return Err(LakeError::Unsupported(
                "MERGE INTO needs a Delta table as target".into(),
            ));
        };
        let entry = self.entry_for(name).await?;
        let target_alias = super::merge::alias_of(&stmt.target).unwrap_or_else(|| "target".into());
        let source_alias = super::merge::alias_of(&stmt.source).ok_or_else(|| {
            LakeError::BadStatement(
                "MERGE: give the source subquery an alias: USING (SELECT ...) AS s".into(),
            )
        })?;
        let planned = self
            .plan_merge(stmt, name, &entry, &target_alias, &source_alias)
            .await?;
        let opened = &planned.opened;
        let version = planned.table.version();
        let total_files = live_files(&planned.table);
        let provider = planned
            .table
            .table_provider()
            .with_file_column(FILE)
            .await
            .map_err(|e| LakeError::from(e).on_table(entry.name.clone()))?;
        opened.serve(TableReference::bare("__lakeshell_target"), provider)?;
        opened.serve(
            TableReference::bare("__lakeshell_source"),
            planned.plan.source.clone().into_view(),
        )?;
        let columns = columns_of(&planned.table, &entry)?;
        let t = quoted(&target_alias);
        let s = quoted(&source_alias);
        let clauses = &planned.plan.clauses;
        let when = |kind: fn(&Clause) -> bool, then: &dyn Fn(usize, &Clause) -> String| {
            let arms: Vec<String> = clauses
                .iter()
                .enumerate()
                .filter(|(_, c)| kind(c))
                .map(|(i, c)| {
                    format!(
                        "WHEN {} THEN {}",
                        predicate(c).unwrap_or("true"),
                        then(i, c)
                    )
                })
                .collect();
            if arms.is_empty() {
                "NULL".to_string()
            } else {
                format!("CASE {} END", arms.join(" "))
            }
        };
        let classify = |then: &dyn Fn(usize, &Clause) -> String| {
            format!(
                "CASE WHEN {t}.__lakeshell_t AND {s}.__lakeshell_s THEN {} WHEN {s}.__lakeshell_s THEN {} ELSE {} END",
                when(is_matched, then),
                when(is_insert, then),
                when(is_by_source, then),
            )
        };
        let action = classify(&|_, c| format!("'{}'", action_of(c)));
        let mut projection = vec![
            format!("{action} AS change"),
            format!("{t}.{} AS {}", quoted(FILE), quoted(FILE)),
        ];
        for c in &columns {
            let old = format!("{t}.{}", quoted(c));
            let value = classify(&|_, clause| match clause {
                Clause::MatchedUpdate { set, .. }
                | Clause::BySourceUpdate { set, .. }
                | Clause::NotMatchedInsert { set, .. } => set
                    .iter()
                    .find(|(col, _)| col.eq_ignore_ascii_case(c))
                    .map(|(_, e)| e.clone())
                    .unwrap_or_else(|| {
                        if is_insert(clause) {
                            "NULL".into()
                        } else {
                            old.clone()
                        }
                    }),
                Clause::MatchedDelete { .. } | Clause::BySourceDelete { .. } => old.clone(),
            });
            projection.push(format!("{value} AS {}", quoted(c)));
        }
        let classified = format!(
            "SELECT * FROM (SELECT {} FROM (SELECT *, true AS __lakeshell_t FROM \"__lakeshell_target\") AS {t} FULL JOIN (SELECT *, true AS __lakeshell_s FROM \"__lakeshell_source\") AS {s} ON {}) AS classified WHERE change IS NOT NULL",
            projection.join(", "),
            planned.plan.on
        );
        let counts = self
            .collect_sql_in(
                opened,
                &format!("SELECT change, count(*) FROM ({classified}) GROUP BY change"),
            )
            .await?;
        let mut by_change: BTreeMap<String, u64> = BTreeMap::new();
        for b in &counts {
            for (k, n) in texts(b, 0)?.into_iter().zip(texts(b, 1)?) {
                by_change.insert(k, n.parse().unwrap_or_default());
            }
        }
        let files = self
            .collect_sql_in(
                opened,
                &format!(
                    "SELECT DISTINCT {f} FROM ({classified}) WHERE {f} IS NOT NULL ORDER BY {f}",
                    f = quoted(FILE)
                ),
            )
            .await?;
        let mut rewritten = Vec::new();
        for b in &files {
            rewritten.extend(texts(b, 0)?.iter().map(|f| relative(f, &planned.table)));
        }
        let sample = self
            .collect_sql_in(
                opened,
                &format!(
                    "SELECT {cols} FROM (SELECT *, row_number() OVER (PARTITION BY change) AS __lakeshell_n FROM ({classified})) AS numbered WHERE __lakeshell_n <= {SAMPLE} ORDER BY change",
                    cols = std::iter::once("change".to_string())
                        .chain(columns.iter().map(|c| quoted(c)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .await?;
        let n = |k: &str| by_change.get(k).copied().unwrap_or_default();
        let mut notes = vec![format!(
            "MERGE INTO {}: would insert {}, update {}, delete {}",
            entry.name,
            plural(n("insert"), "row", "rows"),
            plural(n("update"), "row", "rows"),
            plural(n("delete"), "row", "rows"),
        )];
        notes.push(files_note(&rewritten, total_files));
        notes.push(unchanged(&entry, version));
        sample_outcome(sample, notes)
    }
}

/// A data file's path inside its table, as the log names it.
fn relative(file: &str, table: &deltalake::DeltaTable) -> String {
    let root = table.table_url().as_str().trim_end_matches('/');
    file.strip_prefix(root)
        .map(|f| f.trim_start_matches('/').to_string())
        .unwrap_or_else(|| file.to_string())
}

fn files_note(files: &[String], of: u64) -> String {
    if files.is_empty() {
        format!("files rewritten: none of {}", count(of))
    } else {
        format!(
            "files rewritten: {} of {} ({})",
            count(files.len() as u64),
            count(of),
            named(files)
        )
    }
}

fn columns_of(table: &deltalake::DeltaTable, entry: &TableEntry) -> Result<Vec<String>> {
    Ok(table
        .snapshot()
        .map_err(crate::delta::on_table(&entry.name))?
        .schema()
        .fields()
        .map(|f| f.name().to_string())
        .collect())
}

fn not_previewed() -> LakeError {
    LakeError::BadStatement(
        "DRY RUN follows MERGE, UPDATE, DELETE or OPTIMIZE (VACUUM and FSCK REPAIR TABLE take their own DRY RUN)".into(),
    )
}

fn live_files(table: &deltalake::DeltaTable) -> u64 {
    table
        .snapshot()
        .map(|s| s.log_data().num_files() as u64)
        .unwrap_or_default()
}

fn predicate(c: &Clause) -> Option<&str> {
    match c {
        Clause::MatchedUpdate { predicate, .. }
        | Clause::MatchedDelete { predicate }
        | Clause::NotMatchedInsert { predicate, .. }
        | Clause::BySourceUpdate { predicate, .. }
        | Clause::BySourceDelete { predicate } => predicate.as_deref(),
    }
}

fn is_matched(c: &Clause) -> bool {
    matches!(
        c,
        Clause::MatchedUpdate { .. } | Clause::MatchedDelete { .. }
    )
}

fn is_insert(c: &Clause) -> bool {
    matches!(c, Clause::NotMatchedInsert { .. })
}

fn is_by_source(c: &Clause) -> bool {
    matches!(
        c,
        Clause::BySourceUpdate { .. } | Clause::BySourceDelete { .. }
    )
}

fn action_of(c: &Clause) -> &'static str {
    match c {
        Clause::MatchedUpdate { .. } | Clause::BySourceUpdate { .. } => "update",
        Clause::MatchedDelete { .. } | Clause::BySourceDelete { .. } => "delete",
        Clause::NotMatchedInsert { .. } => "insert",
    }
}

fn with_notes(outcome: Outcome, notes: Vec<String>) -> Outcome {
    match outcome {
        Outcome::Rows(r) => Outcome::Rows(r.with_notes(notes)),
        other => other,
    }
}

/// A sample of rows, or an empty table with the notes when no row changes.
fn sample_outcome(
    sample: Vec<datafusion::arrow::array::RecordBatch>,
    notes: Vec<String>,
) -> Result<Outcome> {
    let Some(schema) = sample.first().map(|b| b.schema()) else {
        let schema = Arc::new(datafusion::arrow::datatypes::Schema::new(vec![Field::new(
            "change",
            DataType::Utf8,
            false,
        )]));
        return Ok(Outcome::Rows(
            Rows::from_batches(schema, vec![]).with_notes(notes),
        ));
    };
    Ok(Outcome::Rows(
        Rows::from_batches(schema, sample).with_notes(notes),
    ))
}
