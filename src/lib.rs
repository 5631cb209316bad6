//! lakeshell: a SQL-first shell for Delta Lake tables on local disk and object storage, on
//! DataFusion and delta-rs.
//!
//! # Layout
//!
//! ```text
//! main.rs, cli        flags -> Settings; REPL | -c | run FILE... | stdin
//!   repl, shell       the prompt; the one executor the REPL and scripts share (shell.rs)
//!   pipeline          `run`: files in dependency order, --select, reports, the run log
//!   meta              backslash commands, one enum
//!   engine            the only place statements execute; results come back as data
//!     sql             our dialect: wraps DataFusion's parser; splitting, ${vars}, redaction
//!     catalog         warehouse, registrations, storage options, object stores, providers
//!     delta           one file per Delta operation over delta-rs builders
//!     expectations    data-quality expectations: stored, enforced, checked, recorded
//!     output          renders Arrow batches (table, csv, tsv, json, ndjson, markdown)
//!   error             the one error type and exit codes
//! ```

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod catalog;
pub mod cli;
pub mod delta;
pub mod engine;
pub mod error;
pub mod expectations;
pub mod meta;
pub mod output;
pub mod pipeline;
pub mod repl;
pub mod shell;
pub mod sql;

pub use error::{LakeError, Result};
