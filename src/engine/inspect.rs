//! What the meta commands ask of the warehouse: the table list with locations and versions
//! (`\dt`), one table's columns (`\d`), and names for completion. Answers are Arrow batches, so
//! they render like any query.

use std::sync::Arc;

use datafusion::arrow::array::{BooleanArray, RecordBatch, StringArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use futures::{StreamExt, TryStreamExt};

use super::{Engine, Outcome, Rows};
use crate::catalog::{self, TableEntry, TableName};
use crate::error::{LakeError, Result};

/// One line of `\dt`.
#[derive(Debug, Clone)]
pub struct TableSummary {
    pub name: String,
    pub location: String,
    pub version: Option<u64>,
    pub kind: &'static str,
}

fn glob_match(pattern: &str, name: &str) -> bool {
    fn rec(p: &[char], n: &[char]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some('*'), _) => rec(&p[1..], n) || (!n.is_empty() && rec(p, &n[1..])),
            (Some('?'), Some(_)) => rec(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => rec(&p[1..], &n[1..]),
            _ => false,
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // A bare word matches as a substring, as most users expect of `\dt orders`.
    if !pattern.contains(['*', '?']) {
        return name
            .to_ascii_lowercase()
            .contains(&pattern.to_ascii_lowercase());
    }
    rec(&p, &n)
}

/// One commit of a table, as completion lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionSummary {
    pub version: u64,
    pub timestamp_ms: i64,
    pub operation: Option<String>,
}

impl Engine {
    /// Tables of every schema whose `schema.table` matches `pattern` (glob, or substring).
    pub async fn list_tables(&self, pattern: Option<&str>) -> Result<Vec<TableSummary>> {
        let wh = self.warehouse();
        let mut out = Vec::new();
        for schema in wh.schemas().await? {
            for entry in wh.tables(&schema).await? {
                if pattern.is_some_and(|p| !glob_match(p, &entry.name)) {
                    continue;
                }
                let version = match self.warehouse().open(&entry).await {
                    Ok(t) => t.version(),
                    Err(_) => None,
                };
                out.push(TableSummary {
                    name: entry.name.clone(),
                    location: catalog::display_url(&entry.url),
                    version,
                    kind: if entry.external {
                        "external"
                    } else {
                        "managed"
                    },
                });
            }
        }
        Ok(out)
    }

    /// `\dt` as rows.
    pub async fn list_tables_outcome(&self, pattern: Option<&str>) -> Result<Outcome> {
        let tables = self.list_tables(pattern).await?;
        let schema = Arc::new(Schema::new(vec![
            Field::new("table", DataType::Utf8, false),
            Field::new("kind", DataType::Utf8, false),
            Field::new("version", DataType::UInt64, true),
            Field::new("location", DataType::Utf8, false),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(StringArray::from_iter_values(
                    tables.iter().map(|t| t.name.as_str()),
                )),
                Arc::new(StringArray::from_iter_values(tables.iter().map(|t| t.kind))),
                Arc::new(UInt64Array::from_iter(tables.iter().map(|t| t.version))),
                Arc::new(StringArray::from_iter_values(
                    tables.iter().map(|t| t.location.as_str()),
                )),
            ],
        )?;
        Ok(Outcome::Rows(Rows::from_batches(schema, vec![batch])))
    }

    /// Resolves a user-written table name (`t`, `s.t`, or a path) to its entry.
    pub async fn find_table(&self, name: &str) -> Result<TableEntry> {
        let name = name.trim_matches(['\'', '`']);
        self.resolve_table(&TableName::from_text(name)?).await
    }

    /// Every function name SQL can call (scalar, aggregate, window), sorted, for completion.
    pub fn function_names(&self) -> Vec<String> {
        let state = self.ctx.state();
        let mut names: Vec<String> = state
            .scalar_functions()
            .keys()
            .chain(state.aggregate_functions().keys())
            .chain(state.window_functions().keys())
            .cloned()
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The last `limit` commits of a table, newest first (completion of `t@v` and
    /// `VERSION AS OF`).
    pub async fn versions(&self, name: &str, limit: usize) -> Result<Vec<VersionSummary>> {
        let entry = self.find_table(name).await?;
        let table = self.warehouse().open(&entry).await?;
        Ok(crate::delta::history::read_history(&table, Some(limit))
            .await?
            .into_iter()
            .map(|e| VersionSummary {
                version: e.version,
                timestamp_ms: e.timestamp,
                operation: e.text("operation"),
            })
            .collect())
    }

    /// `\d table`: column, type, nullable, partition column.
    pub async fn describe_table(&self, name: &str) -> Result<Outcome> {
        let entry = self.find_table(name).await?;
        let table = self.warehouse().open(&entry).await?;
        let state = table.snapshot()?;
        let partitions: Vec<String> = state.metadata().partition_columns().to_vec();
        let provider = table.table_provider().await?;
        let arrow = provider.schema();
        let fields = arrow.fields();
        let schema = Arc::new(Schema::new(vec![
            Field::new("column", DataType::Utf8, false),
            Field::new("type", DataType::Utf8, false),
            Field::new("nullable", DataType::Boolean, false),
            Field::new("partition", DataType::Boolean, false),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(StringArray::from_iter_values(
                    fields.iter().map(|f| f.name().as_str()),
                )),
                Arc::new(StringArray::from_iter_values(
                    fields.iter().map(|f| f.data_type().to_string()),
                )),
                Arc::new(BooleanArray::from_iter(
                    fields.iter().map(|f| Some(f.is_nullable())),
                )),
                Arc::new(BooleanArray::from_iter(
                    fields.iter().map(|f| Some(partitions.contains(f.name()))),
                )),
            ],
        )?;
        Ok(Outcome::Rows(Rows::from_batches(schema, vec![batch])))
    }

    /// Column names of every warehouse table, for completion (schema.table -> columns).
    pub async fn column_names(&self) -> Vec<(String, Vec<String>)> {
        let mut out = Vec::new();
        let Ok(names) = self.names().await else {
            return out;
        };
        for (schema, tables) in names {
            for t in tables.into_iter().take(200) {
                let name = TableName::Warehouse {
                    schema: schema.clone(),
                    table: t.clone(),
                };
                if let Ok(Some(entry)) = self.warehouse().resolve(&name).await {
                    if let Ok(table) = self.warehouse().open(&entry).await {
                        if let Ok(state) = table.snapshot() {
                            let cols = state
                                .schema()
                                .fields()
                                .map(|f| f.name().to_string())
                                .collect();
                            out.push((format!("{schema}.{t}"), cols));
                        }
                    }
                }
            }
        }
        out
    }
}

/// Deletes every file under a managed table's folder (`DROP TABLE`).
pub(super) async fn delete_folder(entry: &TableEntry) -> Result<()> {
    let (store, path) = catalog::open_store(&catalog::as_dir(&entry.url), &entry.options)?;
    let locations = store.list(Some(&path)).map_ok(|m| m.location).boxed();
    let mut deleted = store.delete_stream(locations);
    while let Some(r) = deleted.next().await {
        match r {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(LakeError::from(e).on_table(entry.name.clone())),
        }
    }
    if entry.url.scheme() == "file" {
        if let Ok(p) = entry.url.to_file_path() {
            let _ = std::fs::remove_dir_all(p);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn patterns() {
        assert!(glob_match("sales.*", "sales.orders"));
        assert!(!glob_match("sales.*", "default.orders"));
        assert!(glob_match("ord", "sales.orders"));
        assert!(glob_match("*.ord?rs", "x.orders"));
    }
}
