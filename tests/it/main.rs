//! The one integration-test binary (every extra tests/*.rs would link DataFusion and deltalake
//! again). Modules:
//! - `slt`: SQL behaviour from tests/slt/*.slt, each file on a fresh session and scratch dir.
//! - `cli`: the real binary: flags, exit codes, stderr, rendering, REPL and progress under a pty.
//! - `corpus`: every table of ../shared/corpus against its expected contents.
//! - `pruning`: partition pruning and file skipping seen in EXPLAIN ANALYZE.
//! - `quickstart`: the README's pipeline, run twice.
//! - `pipeline`: the medallion example: idempotent re-runs, incremental reads, quarantine,
//!   quality results, reports, the run log, failures and skipped files, --select, `check`.
//! - `interop`: delta-rs (Python) and DuckDB read what lakeshell writes.
//! - `s3`: a warehouse on a real S3-compatible server on 127.0.0.1.
//! - `stores`: one end-to-end warehouse test on local disk, S3 (moto) and Azure (Azurite).
//! - `api`: read_api against a local HTTP server (paginators, retries, secrets).
//! - `ingest`: COPY INTO, each file once (local disk, S3, two loads at once).
//! - `docs`: `lakeshell docs` rendered in headless Chromium.
//! - `races`: maintenance racing other writers in real processes, on local disk and on S3.
//! - `crashes`: writes killed with SIGKILL at random points (local disk and S3), and aborted or
//!   failed at every write to the store: a committed version, nothing lost.
//! - `fuzz`: generated statements of every family: no panic, no hang, one-line errors.
//! - `security`: `${var}` values stay values in strings; nothing is written outside a table.
//! - `durability`: under strace, no local commit is acknowledged without its fsyncs.
//! - `logic`: ternary logic partitioning, with and without data skipping, against DuckDB.
//! - `damaged`: 30+ damaged tables through every statement family: one line, nothing changed.
//! - `faults`: writes through a fault proxy in front of S3: once or not at all, bounded retries.
//! - `writers`: four writers at once on local disk, S3 and Azure, their history checked.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod api;
mod bench;
mod cli;
mod common;
mod concurrency;
mod corpus;
mod crashes;
mod damaged;
mod docs;
mod durability;
mod faults;
mod fuzz;
mod ingest;
mod interop;
mod logic;
mod maintenance;
mod pipeline;
mod pruning;
mod quickstart;
mod races;
mod s3;
mod security;
mod slt;
mod stores;
mod writers;
