//! Data-quality expectations: where they are kept, how they are enforced on rows being written,
//! how a check is turned into queries, and the Delta tables their figures land in.
//!
//! - An expectation attached to a table lives in its properties, as
//!   `lakeshell.expectation.<name>` = `EXPECT ... [ON VIOLATION ...]`, so every session and every
//!   front end that writes through lakeshell enforces it ([`attached`]).
//! - [`enforce`]: row conditions checked on the rows of an INSERT, CREATE TABLE AS or MERGE
//!   source: DROP ROW rows are held back for the quarantine table, FAIL fails the write.
//! - [`check`]: the queries that evaluate any expectation over a table version.
//! - [`results`]: the quarantine table beside a target and `lakeshell.quality_results`.

pub mod check;
pub mod enforce;
pub mod results;

use std::collections::HashMap;

use crate::error::Result;
use crate::sql::Expectation;

/// The property prefix under which expectations are attached to a table.
pub const PROPERTY_PREFIX: &str = "lakeshell.expectation.";

/// The expectations attached to a table, from its properties, in name order.
pub fn attached(configuration: &HashMap<String, String>) -> Result<Vec<Expectation>> {
    let mut found: Vec<(&String, &String)> = configuration
        .iter()
        .filter(|(k, _)| k.starts_with(PROPERTY_PREFIX))
        .collect();
    found.sort();
    found
        .into_iter()
        .map(|(k, v)| Expectation::from_stored(&k[PROPERTY_PREFIX.len()..], v))
        .collect()
}

/// The expectations attached to an opened table (none when it does not exist yet).
pub fn of_table(table: &deltalake::DeltaTable) -> Result<Vec<Expectation>> {
    match table.snapshot() {
        Ok(s) if table.version().is_some() => attached(s.metadata().configuration()),
        _ => Ok(vec![]),
    }
}

/// The property that attaches `e`.
pub fn property(e: &Expectation) -> (String, String) {
    (format!("{PROPERTY_PREFIX}{}", e.name.value), e.body())
}

/// `declared` over `existing`: a declared expectation replaces an attached one of the same name.
pub fn combined(existing: Vec<Expectation>, declared: &[Expectation]) -> Vec<Expectation> {
    let mut out: Vec<Expectation> = existing
        .into_iter()
        .filter(|e| !declared.iter().any(|d| d.name.value == e.name.value))
        .collect();
    out.extend(declared.iter().cloned());
    out
}
