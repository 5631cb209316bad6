//! `table_diff('table', from, to [, key => 'col[, col]'])`: the rows added, removed and (with a
//! key) changed between two versions of a table. `\diff t@v3 t@v5 [key]` runs it at the prompt.
//!
//! The net change is worked out as multisets: a row's copies in `to` less its copies in `from`.
//! When the table records a change feed over the whole range, the rows are those of the feed
//! (inserted and post-update rows less deleted and pre-update ones), so only changed rows are
//! read; otherwise the two snapshots are compared. Either way the result is the same. With a
//! key, an added and a removed row with the same key are one change, shown before and after
//! side by side (`name_before`, `name_after`).
//!
//! Like `table_changes`, the call is read before planning (see [`super::changes`]); the counts
//! go under the result (`2 added, 1 removed, 3 changed`).

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::TableProvider;
use datafusion::datasource::MemTable;
use datafusion::sql::sqlparser::ast::{Expr, Value};

use super::plan::Opened;
use super::{quoted, Engine};
use crate::catalog::TableName;
use crate::delta::AsOf;
use crate::error::{LakeError, Result};

fn usage() -> LakeError {
    LakeError::BadStatement(
        "table_diff takes ('table', from_version, to_version [, key => 'column[, column]'])".into(),
    )
}

fn version_arg(e: &Expr) -> Option<u64> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.parse().ok(),
            _ => None,
        },
        _ => None,
    }
}

impl Engine {
    /// Reads one `table_diff(...)` call; its counts become a note of `opened`.
    pub(super) async fn read_diff(
        &self,
        opened: &Opened,
        args: &[Expr],
    ) -> Result<Arc<dyn TableProvider>> {
        let mut key: Vec<String> = Vec::new();
        let mut positional = Vec::new();
        for a in args {
            match a {
                Expr::Named { expr, name } if name.value.eq_ignore_ascii_case("key") => {
                    let text = super::changes::text_arg(expr).ok_or_else(usage)?;
                    key = text
                        .split(',')
                        .map(|k| k.trim().to_string())
                        .filter(|k| !k.is_empty())
                        .collect();
                }
                Expr::Named { .. } => return Err(usage()),
                other => positional.push(other),
            }
        }
        let [table, from, to] = positional.as_slice() else {
            return Err(usage());
        };
        let table = super::changes::text_arg(table).ok_or_else(usage)?;
        let (from, to) = (
            version_arg(from).ok_or_else(usage)?,
            version_arg(to).ok_or_else(usage)?,
        );
        let entry = self.resolve_table(&TableName::from_text(&table)?).await?;
        let old = self
            .open_table(opened, &entry, Some(AsOf::Version(from)))
            .await?;
        let new = self
            .open_table(opened, &entry, Some(AsOf::Version(to)))
            .await?;
        let fields = |t: &deltalake::DeltaTable| -> Result<Vec<String>> {
            Ok(t.snapshot()
                .map_err(crate::delta::on_table(&entry.name))?
                .schema()
                .fields()
                .map(|f| f.name().to_string())
                .collect())
        };
        let old_cols = fields(&old)?;
        // The columns both versions have, in the newer version's order.
        let columns: Vec<String> = fields(&new)?
            .into_iter()
            .filter(|c| old_cols.contains(c))
            .collect();
        for k in &key {
            if !columns.contains(k) {
                return Err(LakeError::BadStatement(format!(
                    "table_diff: {} has no column {k} in both versions {from} and {to} (columns: {})",
                    entry.name,
                    columns.join(", ")
                )));
            }
        }
        let feed_on = |t: &deltalake::DeltaTable| {
            t.snapshot().is_ok_and(|s| {
                s.metadata()
                    .configuration()
                    .get("delta.enableChangeDataFeed")
                    .is_some_and(|v| v.eq_ignore_ascii_case("true"))
            })
        };
        let at = crate::catalog::display_url(&entry.url);
        let list = columns
            .iter()
            .map(|c| quoted(c))
            .collect::<Vec<_>>()
            .join(", ");
        let net = |plus: &str, minus: &str| {
            format!(
                "SELECT {list}, sum(__lakeshell_sign) AS __lakeshell_n FROM (SELECT {list}, 1 AS __lakeshell_sign FROM {plus} UNION ALL SELECT {list}, -1 FROM {minus}) AS signed GROUP BY {list} HAVING sum(__lakeshell_sign) <> 0"
            )
        };
        let snapshots = net(
            &format!("delta.`{at}` VERSION AS OF {to}"),
            &format!("delta.`{at}` VERSION AS OF {from}"),
        );
        let from_feed = if from < to && feed_on(&old) && feed_on(&new) {
            let changes = format!(
                "table_changes('{}', {}, {to})",
                at.replace('\'', "''"),
                from + 1
            );
            Some(net(
                &format!("(SELECT * FROM {changes} WHERE _change_type IN ('insert', 'update_postimage')) AS i"),
                &format!("(SELECT * FROM {changes} WHERE _change_type IN ('delete', 'update_preimage')) AS d"),
            ))
        } else {
            None
        };
        let shape = |net: &str| {
            if key.is_empty() {
                return format!(
                    "SELECT CASE WHEN __lakeshell_n > 0 THEN 'added' ELSE 'removed' END AS change, {list} FROM ({net}) AS net ORDER BY {list}, change"
                );
            }
            let on = key
                .iter()
                .map(|k| format!("o.{k} = n.{k}", k = quoted(k)))
                .collect::<Vec<_>>()
                .join(" AND ");
            let first = quoted(&key[0]);
            let mut projection = vec![format!(
                "CASE WHEN o.{first} IS NULL THEN 'added' WHEN n.{first} IS NULL THEN 'removed' ELSE 'changed' END AS change"
            )];
            for k in &key {
                projection.push(format!("coalesce(n.{k}, o.{k}) AS {k}", k = quoted(k)));
            }
            for c in columns.iter().filter(|c| !key.contains(c)) {
                projection.push(format!(
                    "o.{} AS {}",
                    quoted(c),
                    quoted(&format!("{c}_before"))
                ));
                projection.push(format!(
                    "n.{} AS {}",
                    quoted(c),
                    quoted(&format!("{c}_after"))
                ));
            }
            let keys = key.iter().map(|k| quoted(k)).collect::<Vec<_>>().join(", ");
            format!(
                "SELECT * FROM (SELECT {} FROM (SELECT * FROM ({net}) AS r WHERE __lakeshell_n < 0) AS o FULL JOIN (SELECT * FROM ({net}) AS a WHERE __lakeshell_n > 0) AS n ON {on}) AS diff ORDER BY {keys}",
                projection.join(", ")
            )
        };
        let (batches, how) = match from_feed {
            Some(feed) => match Box::pin(self.collect_sql(&shape(&feed))).await {
                Ok(b) => (b, "from the change feed"),
                // The feed's files are gone (VACUUM): compare the snapshots.
                Err(_) => (
                    Box::pin(self.collect_sql(&shape(&snapshots))).await?,
                    "comparing the two versions",
                ),
            },
            None => (
                Box::pin(self.collect_sql(&shape(&snapshots))).await?,
                "comparing the two versions",
            ),
        };
        let (mut added, mut removed, mut changed) = (0u64, 0u64, 0u64);
        for b in &batches {
            let change = datafusion::arrow::compute::cast(b.column(0), &DataType::Utf8)?;
            let Some(change) = change.as_string_opt::<i32>() else {
                continue;
            };
            for i in 0..change.len() {
                match change.value(i) {
                    "added" => added += 1,
                    "removed" => removed += 1,
                    _ => changed += 1,
                }
            }
        }
        let mut counts = vec![format!("{added} added"), format!("{removed} removed")];
        if !key.is_empty() {
            counts.push(format!("{changed} changed"));
        }
        opened.note(format!(
            "{} v{from} → v{to}: {} ({how})",
            entry.name,
            counts.join(", ")
        ))?;
        let schema = match batches.first() {
            Some(b) => b.schema(),
            None => {
                let plan = self.plan_sql_in(opened, &shape(&snapshots)).await?;
                Arc::new(plan.schema().as_arrow().clone())
            }
        };
        Ok(Arc::new(MemTable::try_new(schema, vec![batches])?))
    }
}
