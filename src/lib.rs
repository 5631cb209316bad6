//! lakeshell: a SQL-first shell for Delta Lake tables on local disk and object storage, on
//! DataFusion and delta-rs.
//!
//! # Layout
//!
//! Each layer uses only the layers below it (`scripts/check-layers` enforces this in CI):
//!
//! ```text
//! main.rs, cli      flags -> Settings; then the REPL, -c, stdin, `run` or `check`
//!   repl            the prompt: history, completion, multi-line input
//!   pipeline        `run`: files in dependency order, --select, reports, the run log; `check`
//!   docs            `lakeshell docs`: a static HTML site of the warehouse and its pipeline
//!   shell           the one statement runner every front end uses: a script splits into pieces
//!                   (sql::split tells SQL from a backslash command), each runs here, results
//!                   stream to output; meta commands (meta.rs, one enum) run here too
//!   engine          the only place statements execute: parse once, one dispatch match, every
//!                   table a statement names opened once (engine/plan.rs), results as data
//!     sql           our dialect over DataFusion's parser: statements, names, versions,
//!                   splitting, ${vars}, redaction; knows no tables
//!     catalog       names and URLs -> Delta tables and object stores: the warehouse,
//!                   registrations, storage options, DataFusion providers
//!     expectations  data-quality expectations: stored, enforced, checked, recorded
//!     ingest        bringing data in: REST API pages over HTTP (read_api's paging, retries,
//!                   secrets), CSV and JSON files read record by record (dead letters)
//!     output        renders outcomes batch by batch (table, csv, tsv, json, ndjson, markdown)
//!       delta       the bottom layer: one file per Delta operation over delta-rs builders, on a
//!                   table already opened; lakeshell's own commit check (delta/commit_check.rs)
//!   outcome, error  neutral types every layer may use: what a statement produced; the one
//!                   error type and its exit codes
//! ```

pub mod catalog;
pub mod cli;
pub mod delta;
pub mod docs;
pub mod engine;
pub mod error;
pub mod expectations;
pub mod ingest;
pub mod meta;
pub mod outcome;
pub mod output;
pub mod pipeline;
pub mod repl;
pub mod shell;
pub mod sql;

pub use error::{LakeError, Result};
