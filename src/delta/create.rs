//! `CREATE TABLE t (columns ...)` with no query: an empty Delta table with its schema (NOT NULL,
//! comments, generated columns), partitioning and properties, over delta-rs's create builder.

use deltalake::kernel::StructField;
use deltalake::protocol::SaveMode;
use deltalake::DeltaTableBuilder;

use super::{commit_properties, on_table, WriteMetrics};
use crate::catalog::{options::for_store, TableEntry};
use crate::error::Result;

/// What to create.
pub struct CreateRequest<'a> {
    pub target: &'a TableEntry,
    pub columns: Vec<StructField>,
    pub partition_by: Vec<String>,
    pub properties: Vec<(String, String)>,
    pub comment: Option<String>,
    /// Replace an existing table (as a new version of it).
    pub replace: bool,
    pub sql: &'a str,
}

/// Creates the table.
pub async fn create(req: CreateRequest<'_>) -> Result<WriteMetrics> {
    let target = req.target;
    if target.url.scheme() == "file" {
        if let Ok(path) = target.url.to_file_path() {
            std::fs::create_dir_all(&path)?;
        }
    }
    let table = DeltaTableBuilder::from_url(target.url.clone())?
        .with_storage_options(for_store(&target.options))
        .build()?;
    let (_, name) = target.name.rsplit_once('.').unwrap_or(("", &target.name));
    let mut b = table
        .create()
        .with_table_name(name)
        .with_columns(req.columns)
        .with_partition_columns(req.partition_by)
        .with_configuration(req.properties.into_iter().map(|(k, v)| (k, Some(v))))
        .with_raise_if_key_not_exists(false)
        .with_save_mode(if req.replace {
            SaveMode::Overwrite
        } else {
            SaveMode::ErrorIfExists
        })
        .with_commit_properties(commit_properties(Some(req.sql), None));
    if let Some(c) = req.comment {
        b = b.with_comment(c);
    }
    let table = b.await.map_err(on_table(target))?;
    Ok(WriteMetrics::new(
        target,
        if req.replace {
            "CREATE OR REPLACE TABLE"
        } else {
            "CREATE TABLE"
        },
        table.version(),
    ))
}
