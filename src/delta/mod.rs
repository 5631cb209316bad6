//! Delta operations, one file each, over delta-rs builders. Nothing here prints; each operation
//! returns its metrics as data.
//!
//! - [`write`]: append, overwrite and create-as-select from a DataFusion plan.

pub mod source;
pub mod write;

use serde_json::json;

/// The name and version lakeshell records as the engine in every commit.
pub fn engine_info() -> String {
    format!("lakeshell/{}", env!("CARGO_PKG_VERSION"))
}

/// Commit metadata: the statement as written (secrets redacted) and lakeshell's name.
pub fn commit_properties(sql: Option<&str>) -> deltalake::kernel::transaction::CommitProperties {
    let mut meta = vec![
        ("clientVersion".to_string(), json!(engine_info())),
        ("engine".to_string(), json!(engine_info())),
    ];
    if let Some(sql) = sql {
        meta.push((
            "sqlText".to_string(),
            json!(crate::sql::redact::redact_sql(sql)),
        ));
    }
    deltalake::kernel::transaction::CommitProperties::default().with_metadata(meta)
}

/// What a write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteMetrics {
    /// `schema.table` or the location written.
    pub table: String,
    /// `CREATE TABLE AS SELECT`, `CREATE OR REPLACE TABLE AS SELECT`, `WRITE` ...
    pub operation: String,
    /// The table version the write committed.
    pub version: u64,
    /// Rows written.
    pub rows_written: u64,
    /// Data files added.
    pub files_added: u64,
}
