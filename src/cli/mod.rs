//! Flags, resolved once into [`Settings`] that the rest of the program trusts, and the top-level
//! dispatch: the REPL, `-c`, `run DIR|FILE...`, `check FILE...`, or SQL piped on stdin.

pub mod config;

use std::collections::HashMap;
use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::catalog::{self, options, StorageOptions, Warehouse};
use crate::engine::Engine;
use crate::error::{LakeError, Result};
use crate::output::{self, Format, PrintOptions};
use crate::shell::{Next, Shell};
use crate::sql::vars::Vars;

/// lakeshell: SQL for Delta Lake tables on local disk and object storage.
#[derive(Debug, Parser)]
#[command(name = "lakeshell", version, about, long_about = None)]
#[command(
    after_help = "Examples:\n  lakeshell                                   start the REPL on ./lakehouse\n  lakeshell run sql/quickstart                run a pipeline folder in dependency order\n  lakeshell run sql/medallion --select silver+  run part of it and what depends on it\n  lakeshell check sql/checks                  evaluate expectation files\n  lakeshell docs sql/medallion --out site     write a static HTML site of the warehouse\n  lakeshell -c \"SELECT * FROM 'data.csv'\"     run one statement\n  echo 'SELECT 1;' | lakeshell --format csv   run SQL from stdin"
)]
pub struct Cli {
    /// Warehouse folder or URL (s3://, az://, abfss://, gs://); default ./lakehouse
    #[arg(long, short = 'w', env = "LAKESHELL_WAREHOUSE", global = true)]
    pub warehouse: Option<String>,
    /// Run this SQL (repeatable); exits when done
    #[arg(long = "command", short = 'c', value_name = "SQL")]
    pub commands: Vec<String>,
    /// Set ${name} for statements (repeatable)
    #[arg(long = "var", value_name = "NAME=VALUE", global = true)]
    pub vars: Vec<String>,
    /// Read ${name}s from a TOML or JSON file of names and values (--var still wins), so one
    /// pipeline serves a backfill, a daily load and a rehydration, each from its own file
    #[arg(long = "vars-file", value_name = "FILE", global = true)]
    pub vars_file: Option<PathBuf>,
    /// Storage option for object stores (repeatable), e.g. aws_region=us-east-1
    #[arg(long = "storage-option", value_name = "KEY=VALUE", global = true)]
    pub storage_options: Vec<String>,
    /// Output format: table, csv, tsv, json, ndjson, markdown
    #[arg(long, short = 'f', global = true)]
    pub format: Option<String>,
    /// Print results only: no messages, footers, write metrics or progress
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
    /// Keep going after a failed statement (the exit code is still 1)
    #[arg(long, global = true)]
    pub continue_on_error: bool,
    /// Rows shown before the middle of a table is elided (0 = all; default 40 on a terminal, all
    /// to a pipe or file)
    #[arg(long, global = true)]
    pub max_rows: Option<usize>,
    /// Config file (default ~/.config/lakeshell/config.toml)
    #[arg(long, env = "LAKESHELL_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// REPL history file (default ~/.lakeshell_history)
    #[arg(long, env = "LAKESHELL_HISTORY", global = true)]
    pub history_file: Option<PathBuf>,
    /// Memory queries may use, e.g. 4G or 512M; past it they spill to disk (default: no limit)
    #[arg(long, short = 'm', global = true, value_name = "SIZE")]
    pub memory_limit: Option<String>,
    /// Folder queries spill to when they pass the memory limit (default: the system's)
    #[arg(long, short = 'd', global = true, value_name = "DIR")]
    pub temp_dir: Option<PathBuf>,
    /// Open every table anew in each statement, keeping no snapshot between statements
    #[arg(long, global = true)]
    pub no_table_cache: bool,
    /// Environment target of the config file ([targets.NAME]): its warehouse, storage options,
    /// variables and read-only flag; ${target} in SQL
    #[arg(long, env = "LAKESHELL_TARGET", global = true, value_name = "NAME")]
    pub target: Option<String>,
    /// Refuse every statement that would write (DML, DDL, maintenance, registrations) before
    /// touching storage; lakeshell's own logs are not written either
    #[arg(long, global = true)]
    pub read_only: bool,
    /// The time now() and freshness checks use (e.g. 2026-11-21T06:00:00Z); default the clock
    #[arg(long, env = "LAKESHELL_NOW", global = true, value_name = "TIME")]
    pub now: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a pipeline: SQL files (a folder's .sql files) in dependency order, worked out from
    /// the tables each statement reads and writes; stops at the first failure with file:line,
    /// reports what was skipped, exit code 1. Every statement is logged in lakeshell.run_log.
    Run {
        /// Pipeline folders or script files
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Run only these files (name, stem or a table they write); NAME+ adds what depends on
        /// it, +NAME what it depends on (repeatable, or comma-separated)
        #[arg(long, short = 's', value_name = "NAME")]
        select: Vec<String>,
        /// Write a JSON report of every statement (file:line, rows, version, duration, status)
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
        /// incremental(...) reads whole tables, ignoring the positions recorded by earlier runs
        #[arg(long)]
        full_refresh: bool,
        /// Run once per element of a JSON array of objects (or a TOML array of tables), the
        /// element's fields as ${name}s (--var still wins); a failed element does not stop the
        /// others
        #[arg(long, value_name = "FILE")]
        for_each: Option<PathBuf>,
        /// With --for-each, stop at the first element that fails
        #[arg(long)]
        fail_fast: bool,
    },
    /// Evaluate expectation files (CHECK statements) and print, per expectation, rows checked,
    /// rows failing, status and failing rows; exit code 1 when a failing expectation fails
    Check {
        /// Expectation files or folders
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Check this version: N for every table, or TABLE=N (repeatable)
        #[arg(long, value_name = "[TABLE=]VERSION")]
        as_of: Vec<String>,
    },
    /// Write a static HTML site of the warehouse (no server, no network): the pipeline's
    /// lineage graph, each table's schema, partitioning, version and history, expectation
    /// results over time and the last runs
    Docs {
        /// Pipeline folder whose files and tables make the lineage graph (default: none, tables
        /// only)
        dir: Option<PathBuf>,
        /// Folder the site is written to
        #[arg(long, short = 'o', default_value = "site")]
        out: PathBuf,
    },
}

/// Flags, config file and environment resolved into one value.
#[derive(Debug)]
pub struct Settings {
    pub warehouse: url::Url,
    pub storage: StorageOptions,
    pub vars: HashMap<String, String>,
    pub print: PrintOptions,
    pub continue_on_error: bool,
    pub history_file: Option<PathBuf>,
    pub limits: crate::engine::Limits,
    /// The environment target chosen, by name.
    pub target: Option<String>,
    /// Read-only mode, and what set it.
    pub read_only: Option<String>,
}

fn pairs(items: &[String], flag: &str) -> Result<Vec<(String, String)>> {
    items
        .iter()
        .map(|s| {
            s.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.to_string()))
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| LakeError::Flag(format!("{flag} takes NAME=VALUE, got {s:?}")))
        })
        .collect()
}

impl Settings {
    /// Resolves flags over the config file over defaults.
    pub fn resolve(cli: &Cli, interactive: bool) -> Result<Settings> {
        let cfg = config::Config::load(cli.config.as_deref())?;
        let target = cfg.target(cli.target.as_deref())?;
        let warehouse = cli
            .warehouse
            .clone()
            .or(target.as_ref().and_then(|(_, t)| t.warehouse.clone()))
            .or(cfg.warehouse.clone())
            .unwrap_or_else(|| "lakehouse".into());
        let warehouse = catalog::parse_location(&warehouse)
            .map_err(|e| LakeError::Flag(format!("--warehouse: {e}")))?;
        let env = options::from_env();
        let storage = options::merged(
            &options::merged(
                &options::merged(&env, cfg.storage.clone()),
                target
                    .as_ref()
                    .map(|(_, t)| t.storage.clone())
                    .unwrap_or_default(),
            ),
            pairs(&cli.storage_options, "--storage-option")?,
        );
        let format = match cli.format.as_deref().or(cfg.format.as_deref()) {
            Some(f) => f.parse::<Format>()?,
            None => Format::Table,
        };
        let max_rows = cli.max_rows.or(cfg.max_rows);
        Ok(Settings {
            warehouse,
            storage,
            vars: {
                let mut vars: HashMap<String, String> = HashMap::new();
                if let Some((name, t)) = &target {
                    vars.insert("target".into(), name.clone());
                    vars.extend(t.vars.clone());
                }
                if let Some(f) = &cli.vars_file {
                    vars.extend(config::vars_file(f)?);
                }
                vars.extend(pairs(&cli.vars, "--var")?);
                vars
            },
            print: PrintOptions {
                format,
                max_rows,
                timing: interactive,
                quiet: cli.quiet,
                ..PrintOptions::default()
            },
            continue_on_error: cli.continue_on_error,
            history_file: cli.history_file.clone().or(cfg.history_file),
            limits: crate::engine::Limits {
                memory: match cli.memory_limit.as_deref().or(cfg.memory_limit.as_deref()) {
                    Some(m) => Some(
                        datafusion::prelude::SessionContext::parse_capacity_limit(
                            "--memory-limit",
                            m,
                        )
                        .map_err(|_| {
                            LakeError::Flag(format!(
                                "--memory-limit takes a size such as 4G or 512M, got {m:?}"
                            ))
                        })?,
                    ),
                    None => None,
                },
                temp_dir: cli.temp_dir.clone().or(cfg.temp_dir),
            },
            read_only: if cli.read_only {
                Some("--read-only".into())
            } else {
                target
                    .as_ref()
                    .filter(|(_, t)| t.read_only)
                    .map(|(name, _)| format!("target {name}"))
            },
            target: target.map(|(name, _)| name),
        })
    }
}

/// Runs lakeshell and returns the process exit code: 0 ok, 1 a statement failed, 2 usage or
/// unreadable input.
pub async fn run(cli: Cli) -> i32 {
    match run_inner(cli).await {
        Ok(code) => code,
        Err(e) if e.is_broken_pipe() => 0,
        Err(e) => {
            output::print_error(&mut std::io::stderr(), &e);
            e.exit_code()
        }
    }
}

async fn run_inner(cli: Cli) -> Result<i32> {
    let stdin_tty = std::io::stdin().is_terminal();
    let interactive = cli.commands.is_empty() && cli.command.is_none() && stdin_tty;
    let settings = Settings::resolve(&cli, interactive)?;
    let mut warehouse = Warehouse::new(settings.warehouse.clone(), settings.storage.clone());
    if cli.no_table_cache {
        warehouse = warehouse.without_table_cache();
    }
    let engine = Engine::with_limits(
        warehouse,
        Vars::new(settings.vars.clone()),
        &settings.limits,
    )?;
    if let Some(now) = &cli.now {
        engine.set_now(crate::engine::parse_now(now)?)?;
    }
    engine.set_read_only(settings.read_only.clone())?;
    if let Some(t) = &settings.target {
        crate::delta::set_target(t);
    }
    let mut shell = Shell::new(engine, settings.print.clone(), true);

    if interactive {
        return crate::repl::run(shell, settings.history_file.clone()).await;
    }
    let mut failures = 0usize;
    let mut run = |r: Result<(Next, usize)>| -> Result<bool> {
        let (next, failed) = r?;
        failures += failed;
        Ok(next == Next::Quit)
    };
    for (i, sql) in cli.commands.iter().enumerate() {
        let source = if cli.commands.len() == 1 {
            "-c".to_string()
        } else {
            format!("-c #{}", i + 1)
        };
        if run(shell
            .run_text(&source, sql, settings.continue_on_error)
            .await)?
        {
            return Ok(exit(failures));
        }
    }
    match &cli.command {
        Some(Command::Run {
            files,
            select,
            report,
            full_refresh,
            for_each,
            fail_fast,
        }) => {
            let opts = crate::pipeline::RunOptions {
                select: select.clone(),
                report: report.clone(),
                full_refresh: *full_refresh,
                continue_on_error: settings.continue_on_error,
            };
            let code = match for_each {
                Some(f) => {
                    let elements = crate::pipeline::for_each_elements(f)?;
                    let overrides = pairs(&cli.vars, "--var")?;
                    crate::pipeline::run_for_each(
                        &mut shell, files, &opts, &elements, &overrides, *fail_fast,
                    )
                    .await?
                }
                None => crate::pipeline::run(&mut shell, files, &opts).await?,
            };
            return Ok(code.max(exit(failures)));
        }
        Some(Command::Check { files, as_of }) => {
            check_as_of(&shell.engine, as_of)?;
            let code = crate::pipeline::check(&mut shell, files).await?;
            return Ok(code.max(exit(failures)));
        }
        Some(Command::Docs { dir, out }) => {
            let site = crate::docs::gather(&shell.engine, dir.as_deref()).await?;
            let page = crate::docs::write(&site, out)?;
            if !settings.print.quiet {
                output::print_echo(
                    &mut std::io::stderr(),
                    &format!(
                        "wrote {} ({} tables, {} pipeline files); open it in a browser",
                        page.display(),
                        site.tables.len(),
                        site.files.len()
                    ),
                );
            }
            return Ok(exit(failures));
        }
        None => {}
    }
    if cli.commands.is_empty() && cli.command.is_none() {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| LakeError::read("<stdin>", e))?;
        run(shell
            .run_text("<stdin>", &text, settings.continue_on_error)
            .await)?;
    }
    Ok(exit(failures))
}

fn exit(failures: usize) -> i32 {
    if failures > 0 {
        1
    } else {
        0
    }
}

/// `--as-of N` and `--as-of TABLE=N`.
fn check_as_of(engine: &Engine, items: &[String]) -> Result<()> {
    let mut default = None;
    let mut tables = HashMap::new();
    for item in items {
        let bad = || {
            LakeError::Flag(format!(
                "--as-of takes VERSION or TABLE=VERSION, got {item:?}"
            ))
        };
        match item.split_once('=') {
            Some((t, v)) => {
                let table = crate::sql::tables::normalise_text(t.trim()).ok_or_else(bad)?;
                tables.insert(table, v.trim().parse::<u64>().map_err(|_| bad())?);
            }
            None => default = Some(item.trim().parse::<u64>().map_err(|_| bad())?),
        }
    }
    engine.set_check_versions(default, tables);
    Ok(())
}
