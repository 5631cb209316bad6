//! Concurrent writers, Jepsen-style (the reliability campaign's third part): four lakeshell
//! processes at a time run a random mix of appends, MERGE, UPDATE, DELETE, OPTIMIZE and VACUUM
//! on one table, on local disk, on S3 (moto) and on Azure (Azurite). Each statement's outcome
//! is recorded as the process reports it (exit 0: acknowledged; exit 1: failed; anything else:
//! unknown), and a checker then reads the log and the rows and proves:
//!
//! - the versions are contiguous;
//! - every acknowledged write is in the log exactly once (found by its statement text, which
//!   every lakeshell commit records) and every failed write is absent;
//! - an outcome that cannot be known is resolved by reading the log, and is never there twice;
//! - the rows are exactly what the committed writes make, each writer's in its own order (each
//!   writer owns its ids), so nothing was lost or applied twice, and a counter that every
//!   writer UPDATEs equals the UPDATEs committed: no lost update;
//! - every conflict error names the competing version;
//! - delta-rs reads the same rows.
//!
//! `LAKESHELL_WRITER_OPS` sets the statements per writer (6 here; `reliability/run` runs more),
//! `LAKESHELL_RELIABILITY_SEED` the seed, `LAKESHELL_RELIABILITY_REPORT=path` the figures.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::common::{campaign_count, campaign_seed, python, run_ok, stderr, stdout, Rng};
use super::s3::{s3_env, start_moto, BOTO};
use super::stores::{azure_env, start_azurite, Store};

const WRITERS: usize = 4;

/// One statement of a writer, with what it does to the writer's own rows when it commits.
#[derive(Debug, Clone)]
enum Op {
    /// Appends these rows (new ids).
    Append(Vec<(i64, i64)>),
    /// Upserts these rows.
    Merge(Vec<(i64, i64)>),
    /// Adds 1 to the shared counter (id 0); `tag` makes the statement's text unique.
    Bump {
        tag: i64,
    },
    /// Deletes one id; `tag` makes the statement's text unique.
    Delete {
        id: i64,
        tag: i64,
    },
    Optimize,
    Vacuum,
}

impl Op {
    fn sql(&self) -> String {
        let values = |rows: &[(i64, i64)]| {
            rows.iter()
                .map(|(id, a)| format!("({id}, {a})"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Op::Append(rows) => format!("INSERT INTO j.t VALUES {}", values(rows)),
            Op::Merge(rows) => format!(
                "MERGE INTO j.t AS t USING (SELECT * FROM (VALUES {}) AS v(id, amount)) AS s ON t.id = s.id WHEN MATCHED THEN UPDATE SET amount = s.amount WHEN NOT MATCHED THEN INSERT *",
                values(rows)
            ),
            Op::Bump { tag } => {
                format!("UPDATE j.t SET amount = amount + 1 WHERE id IN (0, -{tag})")
            }
            Op::Delete { id, tag } => format!("DELETE FROM j.t WHERE id IN ({id}, -{tag})"),
            Op::Optimize => "OPTIMIZE j.t".into(),
            Op::Vacuum => "SET spark.databricks.delta.retentionDurationCheck.enabled = false; VACUUM j.t RETAIN 0 HOURS".into(),
        }
    }

    /// Whether the statement's commit is found by its text (OPTIMIZE and VACUUM read alike
    /// in every writer, and may have nothing to commit).
    fn traced(&self) -> bool {
        !matches!(self, Op::Optimize | Op::Vacuum)
    }

    fn family(&self) -> &'static str {
        match self {
            Op::Append(_) => "append",
            Op::Merge(_) => "MERGE",
            Op::Bump { .. } => "UPDATE",
            Op::Delete { .. } => "DELETE",
            Op::Optimize => "OPTIMIZE",
            Op::Vacuum => "VACUUM",
        }
    }

    /// Applies the op to a writer's rows.
    fn apply(&self, rows: &mut BTreeMap<i64, i64>, counter: &mut i64) {
        match self {
            Op::Append(new) | Op::Merge(new) => {
                for (id, a) in new {
                    rows.insert(*id, *a);
                }
            }
            Op::Bump { .. } => *counter += 1,
            Op::Delete { id, .. } => {
                rows.remove(id);
            }
            Op::Optimize | Op::Vacuum => {}
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Acknowledged,
    Failed,
    Unknown,
}

struct Done {
    writer: usize,
    op: Op,
    outcome: Outcome,
    err: String,
}

/// A writer's next op, from its rows as far as its committed ops go.
fn next_op(rng: &mut Rng, writer: usize, step: usize, rows: &BTreeMap<i64, i64>) -> Op {
    let base = (writer as i64 + 1) * 1_000_000 + step as i64 * 10;
    let own = |rng: &mut Rng| -> Option<i64> {
        (!rows.is_empty()).then(|| *rows.keys().nth(rng.below(rows.len())).unwrap())
    };
    match rng.below(100) {
        0..=34 => Op::Append((0..3).map(|i| (base + i, step as i64)).collect()),
        35..=54 => {
            let mut upsert: Vec<(i64, i64)> = own(rng)
                .into_iter()
                .map(|id| (id, -(step as i64)))
                .collect();
            upsert.push((base, -(step as i64)));
            Op::Merge(upsert)
        }
        55..=74 => Op::Bump { tag: base },
        75..=84 => match own(rng) {
            Some(id) => Op::Delete { id, tag: base },
            None => Op::Bump { tag: base },
        },
        85..=94 => Op::Optimize,
        _ => Op::Vacuum,
    }
}

/// The table's history: (version, operation, sqlText), oldest first.
fn history(store: &Store, dir: &Path) -> Vec<(u64, String, String)> {
    let out = stdout(&run_ok(store.command(dir).args([
        "-f",
        "json",
        "-c",
        "DESCRIBE HISTORY j.t",
    ])));
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let mut h: Vec<(u64, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["version"].as_u64().unwrap(),
                r["operation"].as_str().unwrap_or_default().to_string(),
                r["sqlText"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    h.sort();
    h
}

/// What one run found.
#[derive(Default)]
struct Figures {
    statements: usize,
    acknowledged: usize,
    failed: usize,
    conflicts: usize,
    unknown: usize,
    versions: u64,
    by_family: BTreeMap<&'static str, [usize; 2]>,
    /// Failures other than conflicts, as reported.
    other_errors: Vec<String>,
}

/// Runs the writers on `store` and checks their history; returns the figures.
fn run_writers(store: &Store, seed: u64, per_writer: usize) -> Figures {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    run_ok(store.command(dir).args([
        "-q",
        "-c",
        "CREATE TABLE j.t (id BIGINT, amount BIGINT); INSERT INTO j.t VALUES (0, 0)",
    ]));
    let mut rngs: Vec<Rng> = (0..WRITERS)
        .map(|w| Rng(seed ^ ((w as u64 + 1) * 0x9e37)))
        .collect();
    // Each writer's rows as its acknowledged ops leave them (its next op is chosen from them).
    let mut models: Vec<BTreeMap<i64, i64>> = vec![BTreeMap::new(); WRITERS];
    let mut running: Vec<Option<(Child, Op)>> = (0..WRITERS).map(|_| None).collect();
    let mut steps = [0usize; WRITERS];
    let mut done: Vec<Done> = Vec::new();
    loop {
        let mut busy = false;
        for w in 0..WRITERS {
            if running[w].is_none() && steps[w] < per_writer {
                let op = next_op(&mut rngs[w], w, steps[w], &models[w]);
                steps[w] += 1;
                let child = store
                    .command(dir)
                    .args(["-q", "-c", &op.sql()])
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap();
                running[w] = Some((child, op));
            }
            let finished = match &mut running[w] {
                Some((child, _)) => child.try_wait().unwrap().is_some(),
                None => false,
            };
            if finished {
                let (child, op) = running[w].take().unwrap();
                let out = child.wait_with_output().unwrap();
                let outcome = match out.status.code() {
                    Some(0) => Outcome::Acknowledged,
                    Some(1) => Outcome::Failed,
                    _ => Outcome::Unknown,
                };
                if outcome == Outcome::Acknowledged {
                    let mut c = 0;
                    op.apply(&mut models[w], &mut c);
                }
                done.push(Done {
                    writer: w,
                    op,
                    outcome,
                    err: stderr(&out).trim_end().to_string(),
                });
            }
            busy |= running[w].is_some() || steps[w] < per_writer;
        }
        if !busy {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // The checker.
    let h = history(store, dir);
    let label = store.name;
    for (i, (v, _, _)) in h.iter().enumerate() {
        assert_eq!(*v, i as u64, "{label}: the log has a gap: {h:?}");
    }
    let commits_of = |sql: &str| h.iter().filter(|(_, _, s)| s == sql).count();
    let mut figures = Figures {
        statements: done.len(),
        versions: h.len() as u64,
        ..Figures::default()
    };
    let mut committed = vec![false; done.len()];
    let names_version = regex::Regex::new(r"version \d+").unwrap();
    for (i, d) in done.iter().enumerate() {
        let sql = d.op.sql();
        let n = commits_of(&sql);
        let entry = figures.by_family.entry(d.op.family()).or_default();
        match d.outcome {
            Outcome::Acknowledged => {
                figures.acknowledged += 1;
                entry[0] += 1;
                if d.op.traced() {
                    assert_eq!(n, 1, "{label}: acknowledged {sql} is in the log {n} times");
                }
                committed[i] = true;
            }
            Outcome::Failed => {
                figures.failed += 1;
                entry[1] += 1;
                assert_eq!(
                    d.err.lines().count(),
                    1,
                    "{label}: {sql} failed in more than one line: {}",
                    d.err
                );
                assert!(!d.err.contains("internal error"), "{label}: {}", d.err);
                if d.op.traced() {
                    assert_eq!(n, 0, "{label}: failed {sql} is in the log: {}", d.err);
                }
                if !d.err.contains("conflict") {
                    figures.other_errors.push(d.err.clone());
                } else {
                    figures.conflicts += 1;
                    assert!(
                        names_version.is_match(&d.err),
                        "{label}: the conflict does not name the competing version: {}",
                        d.err
                    );
                }
            }
            Outcome::Unknown => {
                figures.unknown += 1;
                assert!(n <= 1, "{label}: {sql} is in the log {n} times");
                committed[i] = n == 1;
            }
        }
    }
    // The rows: every writer's committed ops in its own order, and the counter.
    let mut want: BTreeMap<i64, i64> = BTreeMap::new();
    let mut counter = 0;
    for w in 0..WRITERS {
        let mut rows = BTreeMap::new();
        for (i, d) in done.iter().enumerate() {
            if d.writer == w && committed[i] {
                d.op.apply(&mut rows, &mut counter);
            }
        }
        want.extend(rows);
    }
    want.insert(0, counter);
    let lines: String = want.iter().map(|(id, a)| format!("{id},{a}\n")).collect();
    let got = stdout(&run_ok(store.command(dir).args([
        "-f",
        "csv",
        "-c",
        "SELECT id, amount FROM j.t ORDER BY id",
    ])));
    assert_eq!(
        got,
        format!("id,amount\n{lines}"),
        "{label}: the rows are not what the committed writes make (seed {seed})"
    );
    let updates = h.iter().filter(|(_, op, _)| op == "UPDATE").count() as i64;
    assert_eq!(counter, updates, "{label}: the counter against the log");
    // delta-rs reads the same.
    let mut cmd = Command::new(python());
    (store.env)(&mut cmd);
    let code = format!(
        "from deltalake import DeltaTable\nt = DeltaTable('{}/j/t', storage_options={}).to_pyarrow_table().sort_by('id').to_pylist()\nprint(''.join(f\"{{r['id']}},{{r['amount']}}\\n\" for r in t), end='')\nimport os; os._exit(0)",
        store.warehouse, store.peer_options
    );
    let out = cmd.args(["-c", &code]).output().unwrap();
    assert!(out.status.success(), "delta-rs: {}", stderr(&out));
    assert_eq!(stdout(&out), lines, "{label}: delta-rs reads other rows");
    figures
}

fn report(store: &str, f: &Figures, took: Duration) -> String {
    let families: Vec<String> = f
        .by_family
        .iter()
        .map(|(k, [ok, failed])| format!("{k} {ok}/{failed}"))
        .collect();
    format!(
        "| {store} | {} | {} | {} | {} | {} | {} | {} | {:.0} s |",
        f.statements,
        f.acknowledged,
        f.failed,
        f.conflicts,
        f.unknown,
        f.versions,
        families.join(", "),
        took.as_secs_f64()
    )
}

#[test]
fn four_writers_leave_a_history_the_checker_accepts() {
    let seed = campaign_seed();
    let per_writer = campaign_count("LAKESHELL_WRITER_OPS", 6);
    let mut lines = Vec::new();
    // Local disk.
    let d = tempfile::tempdir().unwrap();
    let local = Store {
        name: "local",
        warehouse: d.path().join("wh").display().to_string(),
        env: Box::new(|_| {}),
        peer_options: "{}".into(),
    };
    let started = Instant::now();
    let f = run_writers(&local, seed, per_writer);
    lines.push(report("local disk", &f, started.elapsed()));
    let mut others = f.other_errors;
    // S3.
    let moto = start_moto();
    super::common::py(BOTO, &[&moto.endpoint]);
    let endpoint = moto.endpoint.clone();
    let s3 = Store {
        name: "s3",
        warehouse: "s3://lake/writers".into(),
        env: Box::new(move |c| s3_env(c, &endpoint)),
        peer_options: format!("{{'AWS_ENDPOINT_URL': '{}', 'AWS_ACCESS_KEY_ID': 'test', 'AWS_SECRET_ACCESS_KEY': 'test', 'AWS_REGION': 'us-east-1', 'AWS_ALLOW_HTTP': 'true'}}", moto.endpoint),
    };
    let started = Instant::now();
    let f = run_writers(&s3, seed, per_writer);
    lines.push(report("S3 (moto)", &f, started.elapsed()));
    others.extend(f.other_errors);
    // Azure.
    let az = start_azurite();
    let endpoint = az.endpoint.clone();
    let azure = Store {
        name: "azure",
        warehouse: "az://lake/writers".into(),
        env: Box::new(move |c| azure_env(c, &endpoint)),
        peer_options: "{'azure_storage_use_emulator': 'true'}".into(),
    };
    let started = Instant::now();
    let f = run_writers(&azure, seed, per_writer);
    lines.push(report("Azure (Azurite)", &f, started.elapsed()));
    others.extend(f.other_errors);
    if let Ok(path) = std::env::var("LAKESHELL_RELIABILITY_REPORT") {
        let text = format!(
            "## Concurrent writers (Jepsen-style)\n\n{WRITERS} processes at a time, {per_writer} statements each, seed {seed}. The checker held on every store: contiguous versions; every acknowledged write in the log once, every failed one absent; unknown outcomes resolved from the log; the rows exactly what the committed writes make; the shared counter equal to the UPDATEs committed; every conflict error naming the competing version; delta-rs reading the same rows.\n\n| store | statements | acknowledged | failed | conflicts | unknown | versions | by family (acknowledged/failed) | time |\n|---|---|---|---|---|---|---|---|---|\n{}\n\nFailures other than conflicts: {}.\n{}",
            lines.join("\n"),
            others.len(),
            others.iter().map(|e| format!("\n- {e}")).collect::<String>()
        );
        std::fs::write(path, text).unwrap();
    }
}
