//! kill -9 during writes (the reliability campaign's first part): each write statement runs in
//! the real binary on a copy of a small partitioned table and is killed at a random point of its
//! run. Afterwards the table opens in lakeshell, delta-rs and DuckDB at a committed version with
//! exactly that version's rows, the next write succeeds, and what the killed write left behind
//! is orphan files that VACUUM removes (once they are older than the hour that protects writes
//! in flight).
//!
//! The crash-point test (the second part) aborts the process before or after each write to the
//! store instead, or fails that write, for every write of the statement
//! (`LAKESHELL_TEST_CRASH_AT`, see `src/delta/crash_points.rs`).
//!
//! `LAKESHELL_RELIABILITY_TRIALS` sets the trials per statement (2 here; `reliability/run` runs
//! 25, 200 in all), `LAKESHELL_RELIABILITY_SEED` the random seed, and
//! `LAKESHELL_RELIABILITY_REPORT=path` writes the figures as Markdown.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::common::{
    append_report, campaign_count, campaign_seed, copy_dir, files_under, lakeshell, repo, run_ok,
    run_python, stderr, stdout, Rng,
};

/// A statement killed mid-run, and the table it writes.
struct Write {
    name: &'static str,
    sql: &'static str,
    table: &'static str,
}

const WRITES: &[Write] = &[
    Write {
        name: "CTAS",
        sql: "CREATE TABLE d.c PARTITIONED BY (p) AS SELECT * FROM d.k",
        table: "d.c",
    },
    Write {
        name: "INSERT",
        sql: "INSERT INTO d.k SELECT id + 100000, p, amount FROM d.k",
        table: "d.k",
    },
    Write {
        name: "MERGE",
        sql: "MERGE INTO d.k AS t USING (SELECT id, p, amount * 2 AS amount FROM d.k WHERE id % 3 = 0 UNION ALL SELECT id + 500000, p, amount FROM d.k WHERE id < 200) s ON t.id = s.id WHEN MATCHED THEN UPDATE SET amount = s.amount WHEN NOT MATCHED THEN INSERT *",
        table: "d.k",
    },
    Write {
        name: "UPDATE",
        sql: "UPDATE d.k SET amount = amount + 1 WHERE id % 2 = 0",
        table: "d.k",
    },
    Write {
        name: "DELETE",
        sql: "DELETE FROM d.k WHERE id % 5 = 0",
        table: "d.k",
    },
    Write {
        name: "OPTIMIZE",
        sql: "OPTIMIZE d.k",
        table: "d.k",
    },
    Write {
        name: "VACUUM",
        sql: "SET spark.databricks.delta.retentionDurationCheck.enabled = false; VACUUM d.k RETAIN 0 HOURS",
        table: "d.k",
    },
    Write {
        name: "COPY INTO",
        sql: "COPY INTO d.k FROM 'landing/' FILEFORMAT = CSV FORMAT_OPTIONS ('header' = 'true', 'inferSchema' = 'true')",
        table: "d.k",
    },
];

/// The base: `d.k` written in several commits (many small files, removed files for VACUUM) and
/// a landing folder for COPY INTO.
fn base(root: &Path) -> PathBuf {
    let base = root.join("base");
    build_base(&base);
    base
}

/// Writes the base into the warehouse of a project folder `base` (local, or the one its
/// lakeshell.toml names).
fn build_base(base: &Path) {
    fs::create_dir_all(base.join("landing")).unwrap();
    let mut csv = String::from("id,p,amount\n");
    for i in 0..2000 {
        csv.push_str(&format!("{},{},{}.5\n", 900000 + i, i % 4, i));
    }
    fs::write(base.join("landing/new.csv"), csv).unwrap();
    let mut sql = vec![
        "CREATE TABLE d.k (id BIGINT, p BIGINT, amount DOUBLE) PARTITIONED BY (p)".to_string(),
    ];
    for n in 0..6 {
        sql.push(format!(
            "INSERT INTO d.k SELECT {n} * 10000 + value, value % 4, value * 1.5 FROM generate_series(1, 3000)"
        ));
    }
    sql.push("DELETE FROM d.k WHERE id % 7 = 0".into());
    // Small files after the DELETE's rewrite, for OPTIMIZE to compact.
    for n in 6..8 {
        sql.push(format!(
            "INSERT INTO d.k SELECT {n} * 10000 + value, value % 4, value * 1.5 FROM generate_series(1, 500)"
        ));
    }
    run_ok(lakeshell(base).args(["-q", "-c", &sql.join("; ")]));
}

/// `table`'s rows as lakeshell reads them (sorted `id,p,amount` lines), and its version; None
/// when there is no such table.
fn rows(dir: &Path, table: &str) -> Option<(u64, String)> {
    let out = lakeshell(dir)
        .args([
            "-f",
            "csv",
            "-c",
            &format!("SELECT id, p, amount FROM {table} ORDER BY id"),
        ])
        .output()
        .unwrap();
    if !out.status.success() {
        let err = stderr(&out);
        assert!(
            err.contains("table not found") || err.contains("not a Delta table"),
            "{table} does not open: {err}"
        );
        return None;
    }
    let v = stdout(&run_ok(lakeshell(dir).args([
        "-f",
        "csv",
        "-c",
        &format!("DESCRIBE HISTORY {table} LIMIT 1"),
    ])));
    let version = v
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    Some((version, stdout(&out)))
}

/// The table's rows as delta-rs and DuckDB read them, as `id,p,amount` lines sorted by id, and
/// the version delta-rs opened.
fn peer_rows(path: &Path) -> (u64, String, String) {
    peers_read(&["read", path.to_str().unwrap(), "id,p,amount"])
}

/// The same, for a table on the S3 server at `endpoint`.
fn peer_rows_s3(url: &str, endpoint: &str) -> (u64, String, String) {
    peers_read(&["read-s3", url, "id,p,amount", endpoint])
}

/// How delta-rs and DuckDB (`peers`, from [`peer_rows`]) disagree with lakeshell's `version`
/// and `rows` (CSV with its header).
fn peers_disagree(version: u64, rows: &str, peers: (u64, String, String)) -> Vec<String> {
    let (pv, by_delta_rs, by_duckdb) = peers;
    let mine: String = rows.lines().skip(1).map(|l| format!("{l}\n")).collect();
    let mut out = Vec::new();
    if pv != version {
        out.push(format!("delta-rs opens version {pv}, lakeshell {version}"));
    }
    if by_delta_rs != mine {
        out.push("delta-rs reads other rows".into());
    }
    if by_duckdb != mine {
        out.push("DuckDB reads other rows".into());
    }
    out
}

/// `tests/peers.py` with `args`: the version delta-rs opened and both peers' rows.
fn peers_read(args: &[&str]) -> (u64, String, String) {
    let script = repo().join("tests/peers.py");
    let mut all = vec![script.to_str().unwrap()];
    all.extend_from_slice(args);
    let got: serde_json::Value = serde_json::from_str(&run_python(&all)).unwrap();
    let lines = |v: &serde_json::Value| -> String {
        let mut rows: Vec<(i64, String)> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let r = r.as_array().unwrap();
                let s = |i: usize| r[i].as_str().unwrap_or("").to_string();
                (s(0).parse().unwrap(), format!("{},{},{}", s(0), s(1), s(2)))
            })
            .collect();
        rows.sort();
        rows.into_iter().map(|(_, l)| l + "\n").collect()
    };
    (
        got["version"].as_u64().unwrap(),
        lines(&got["deltalake"]),
        lines(&got["duckdb"]),
    )
}

/// Data files under a table folder (not its log).
fn data_files(table: &Path) -> BTreeSet<PathBuf> {
    let log = table.join("_delta_log");
    files_under(table)
        .into_iter()
        .filter(|p| !p.starts_with(&log))
        .collect()
}

/// The data files the table's current version reads, as delta-rs lists them.
fn live_files(path: &Path) -> BTreeSet<PathBuf> {
    let code = "import sys\nfrom deltalake import DeltaTable\nprint('\\n'.join(DeltaTable(sys.argv[1]).file_uris()))";
    let out = run_python(&["-c", code, path.to_str().unwrap()]);
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let l = l.trim().trim_start_matches("file://");
            PathBuf::from(l.replace("%3D", "="))
        })
        .collect()
}

/// Makes every data file of `table`, and every staging file in its log, look `by` older.
fn age(table: &Path, by: Duration) {
    age_files(
        &data_files(table)
            .into_iter()
            .chain(log_staging(table))
            .collect::<Vec<_>>(),
        by,
    );
}

/// Files in the table's log being written when the write was killed: a commit's staging file
/// (`.N.json.<uuid>.staging`) or a checkpoint under object_store's staging name (`…#1`).
fn log_staging(table: &Path) -> BTreeSet<PathBuf> {
    let log = table.join("_delta_log");
    fs::read_dir(&log)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    let name = p.file_name().unwrap().to_string_lossy();
                    (name.starts_with('.') && name.ends_with(".staging")) || name.contains('#')
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Sets the modification time of `files` to `by` ago.
fn age_files<'a>(files: impl IntoIterator<Item = &'a PathBuf>, by: Duration) {
    let then = std::time::SystemTime::now() - by;
    for f in files {
        fs::File::options()
            .append(true)
            .open(f)
            .and_then(|h| h.set_modified(then))
            .unwrap();
    }
}

/// Files no version of the table reads now, relative to the table folder: data files, and the
/// staging files a killed write left in the log.
fn unread(table: &Path) -> BTreeSet<PathBuf> {
    let live = live_files(table);
    data_files(table)
        .difference(&live)
        .cloned()
        .chain(log_staging(table))
        .filter_map(|p| p.strip_prefix(table).ok().map(Path::to_path_buf))
        .collect()
}

/// Runs `sql` in `work`; its stderr when it fails.
fn run_sql(work: &Path, sql: &str) -> Result<(), String> {
    let out = lakeshell(work).args(["-q", "-c", sql]).output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(stderr(&out))
    }
}

/// What a trial is checked against: the statement, and its table before and after an
/// uninterrupted run.
struct Check<'a> {
    w: &'a Write,
    before: &'a Option<(u64, String)>,
    after: &'a (u64, String),
    /// The base's own removed files (its DELETE's): not what a killed write left.
    base_unread: &'a BTreeSet<PathBuf>,
}

impl Check<'_> {
    /// Checks the table in `work` after a write that was interrupted (or `finished`): it opens
    /// in lakeshell, delta-rs and DuckDB at the version before or after the write with exactly
    /// that version's rows, the next write succeeds, and VACUUM removes what the write left.
    /// Problems go to the tally under `label`; the outcome is 0 (the version before), 1 (the
    /// version after) or 2 (finished).
    fn trial(&self, work: &Path, finished: bool, label: &str, tally: &mut Tally) -> Option<usize> {
        let Check {
            w,
            before,
            after,
            base_unread,
        } = *self;
        let before = before.clone();
        let after = after.clone();
        tally.trials += 1;
        let table_dir = work.join("lakehouse").join(w.table.replace('.', "/"));
        let mut problem = |what: String| tally.problems.push(format!("{label}: {what}"));
        let mut now = rows(work, w.table);
        // Before the commit: the version before. After it: the version the write made (or,
        // for a write that changes no rows, such as VACUUM's start and end commits, any
        // version between).
        let same_rows = before.as_ref().map(|b| &b.1) == Some(&after.1);
        let which = match (&now, &before) {
            (None, None) => 0,
            (Some(n), Some(b)) if n == b => 0,
            (Some(n), _) if *n == after => 1,
            (Some(n), Some(b)) if same_rows && n.1 == after.1 && b.0 < n.0 && n.0 < after.0 => 1,
            (Some(n), _) => {
                problem(format!(
                    "version {} has rows of neither the version before nor after",
                    n.0
                ));
                return None;
            }
            (None, Some(_)) => {
                problem("the table no longer opens".into());
                return None;
            }
        };
        if now.is_none() {
            // A CTAS killed before its commit: running it again succeeds.
            if let Err(e) = run_sql(work, w.sql) {
                problem(format!("the write run again fails: {e}"));
            }
            now = rows(work, w.table);
            if now.as_ref() != Some(&after) {
                problem("the write run again has other rows".into());
            }
        }
        let outcome = if finished {
            tally.finished += 1;
            2
        } else if which == 0 {
            tally.killed_before_commit += 1;
            0
        } else {
            tally.killed_after_commit += 1;
            1
        };
        if let Some((v, mine)) = &now {
            for p in peers_disagree(*v, mine, peer_rows(&table_dir)) {
                problem(p);
            }
            // What the killed write left: orphans only, which VACUUM removes.
            let orphans = unread(&table_dir);
            tally.orphans_left += orphans.difference(base_unread).count();
            if let Err(e) = run_sql(
                work,
                &format!("INSERT INTO {} VALUES (-1, 0, 0.0)", w.table),
            ) {
                problem(format!("the next write fails: {e}"));
            }
            // The night's VACUUM, hours later: what a killed write left is past the window
            // that protects writes in flight.
            age(&table_dir, Duration::from_secs(2 * 3600));
            let vacuum = format!("SET spark.databricks.delta.retentionDurationCheck.enabled = false; VACUUM {} RETAIN 0 HOURS", w.table);
            if let Err(e) = run_sql(work, &vacuum) {
                problem(format!("VACUUM fails: {e}"));
            }
            let left = unread(&table_dir);
            if !left.is_empty() {
                problem(format!("VACUUM leaves files no version reads: {left:?}"));
            }
        }
        Some(outcome)
    }
}

#[derive(Default)]
struct Tally {
    trials: usize,
    killed_before_commit: usize,
    killed_after_commit: usize,
    finished: usize,
    orphans_left: usize,
    problems: Vec<String>,
}

#[test]
fn kill_9_during_writes_leaves_a_committed_version() {
    let per = campaign_count("LAKESHELL_RELIABILITY_TRIALS", 2);
    let seed = campaign_seed();
    let mut rng = Rng(seed);
    let root = tempfile::tempdir().unwrap();
    let base = base(root.path());
    // The base's own removed files (its DELETE's): not what a killed write left.
    let base_unread = unread(&base.join("lakehouse/d/k"));
    let mut tally = Tally::default();
    let mut lines = Vec::new();
    for (wi, w) in WRITES.iter().enumerate() {
        // The reference: the statement run to its end on a copy, timed; its rows after.
        let reference = root.path().join(format!("ref{wi}"));
        copy_dir(&base, &reference);
        let before = rows(&reference, w.table);
        let started = Instant::now();
        run_ok(lakeshell(&reference).args(["-q", "-c", w.sql]));
        let took = started.elapsed();
        let after = rows(&reference, w.table).expect("the table after the write");
        let mut outcomes = [0usize; 3];
        for trial in 0..per {
            let work = root.path().join(format!("w{wi}-{trial}"));
            copy_dir(&base, &work);
            let at = Duration::from_micros(rng.below(took.as_micros() as usize + 1) as u64);
            let mut child = lakeshell(&work)
                .args(["-q", "-c", w.sql])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(at);
            let _ = child.kill(); // SIGKILL
            let status = child.wait().unwrap();
            let label = format!("{} trial {trial} (killed at {at:?}, seed {seed})", w.name);
            let check = Check {
                w,
                before: &before,
                after: &after,
                base_unread: &base_unread,
            };
            if let Some(outcome) = check.trial(&work, status.success(), &label, &mut tally) {
                outcomes[outcome] += 1;
            }
            fs::remove_dir_all(&work).unwrap();
        }
        lines.push(format!(
            "| {} | {} | {:.0} ms | {} | {} | {} |",
            w.name,
            per,
            took.as_secs_f64() * 1000.0,
            outcomes[0],
            outcomes[1],
            outcomes[2]
        ));
    }
    if let Ok(path) = std::env::var("LAKESHELL_RELIABILITY_REPORT") {
        let text = format!(
            "## kill -9 during writes (local disk)\n\nSeed {seed}. {} trials: {} killed before their commit (the table at the version before), {} killed after it (the version after), {} finished before the kill; {} orphan files left by killed writes, all removed by VACUUM; {} problems.\n\n| statement | trials | uninterrupted run | killed before commit | killed after commit | finished |\n|---|---|---|---|---|---|\n{}\n{}",
            tally.trials,
            tally.killed_before_commit,
            tally.killed_after_commit,
            tally.finished,
            tally.orphans_left,
            tally.problems.len(),
            lines.join("\n"),
            tally.problems.iter().map(|p| format!("\n- {p}")).collect::<String>()
        );
        append_report(&path, &text);
    }
    assert!(
        tally.problems.is_empty(),
        "{} of {} trials:\n{}",
        tally.problems.len(),
        tally.trials,
        tally.problems.join("\n")
    );
}

/// The statements the test suite tries at every crash point; `reliability/run` tries them all
/// (`LAKESHELL_CRASH_POINTS=all`).
const SHORT_CRASH_POINTS: &[&str] = &["INSERT", "MERGE"];

/// Crash points (the campaign's second part): each write statement runs with the process
/// aborted before, or after, its k-th write to the table's store, or with that write failing,
/// for every k the statement has. The same invariants as after kill -9 hold.
#[test]
fn every_crash_point_of_a_write_leaves_a_committed_version() {
    let all = std::env::var("LAKESHELL_CRASH_POINTS").is_ok_and(|v| v == "all");
    let root = tempfile::tempdir().unwrap();
    let base = base(root.path());
    let base_unread = unread(&base.join("lakehouse/d/k"));
    let mut tally = Tally::default();
    let mut lines = Vec::new();
    for (wi, w) in WRITES.iter().enumerate() {
        if !all && !SHORT_CRASH_POINTS.contains(&w.name) {
            continue;
        }
        let reference = root.path().join(format!("ref{wi}"));
        copy_dir(&base, &reference);
        let before = rows(&reference, w.table);
        run_ok(lakeshell(&reference).args(["-q", "-c", w.sql]));
        let after = rows(&reference, w.table).expect("the table after the write");
        let check = Check {
            w,
            before: &before,
            after: &after,
            base_unread: &base_unread,
        };
        // outcomes per mode: [version before, version after, finished]
        let mut per_mode = Vec::new();
        let mut writes = 0;
        for mode in ["before", "after", "fail"] {
            let mut outcomes = [0usize; 3];
            let mut k = 1;
            loop {
                // `before` finds how many writes the statement makes: the first k it
                // finishes without reaching; the other modes try those.
                if mode != "before" && k > writes {
                    break;
                }
                let work = root.path().join(format!("cp{wi}-{mode}-{k}"));
                copy_dir(&base, &work);
                let out = lakeshell(&work)
                    .args(["-q", "-c", w.sql])
                    .env("LAKESHELL_TEST_CRASH_AT", format!("{k}:{mode}"))
                    .output()
                    .unwrap();
                let label = format!("{} at write {k}, {mode}", w.name);
                let finished = out.status.success();
                if mode == "before" && finished {
                    writes = k - 1;
                    fs::remove_dir_all(&work).unwrap();
                    break;
                }
                let err = stderr(&out);
                let expected_exit = if mode == "fail" { [0, 1] } else { [134, 134] };
                let code = {
                    use std::os::unix::process::ExitStatusExt;
                    out.status.code().or(out.status.signal().map(|s| 128 + s))
                };
                if !code.is_some_and(|c| expected_exit.contains(&c)) {
                    tally
                        .problems
                        .push(format!("{label}: exit {code:?}: {err}"));
                }
                if mode == "fail"
                    && !finished
                    && (err.trim_end().lines().count() != 1 || err.contains("internal error"))
                {
                    tally
                        .problems
                        .push(format!("{label}: not one clean line: {err}"));
                }
                if let Some(o) = check.trial(&work, finished, &label, &mut tally) {
                    outcomes[o] += 1;
                }
                fs::remove_dir_all(&work).unwrap();
                k += 1;
                assert!(k < 500, "{} never finishes", w.name);
            }
            per_mode.push(outcomes);
        }
        let cell = |o: [usize; 3]| format!("{} / {} / {}", o[0], o[1], o[2]);
        lines.push(format!(
            "| {} | {writes} | {} | {} | {} |",
            w.name,
            cell(per_mode[0]),
            cell(per_mode[1]),
            cell(per_mode[2])
        ));
    }
    if let Ok(path) = std::env::var("LAKESHELL_RELIABILITY_REPORT") {
        let text = format!(
            "## Crash points (local disk)\n\nEvery write a statement makes to its table's store (data files, the commit, deletes), with the process aborted before it, aborted after it, or the write failing: {} trials, {} problems. Each cell: table at the version before / at the version after / statement finished.\n\n| statement | writes | abort before | abort after | write fails |\n|---|---|---|---|---|\n{}\n{}",
            tally.trials,
            tally.problems.len(),
            lines.join("\n"),
            tally.problems.iter().map(|p| format!("\n- {p}")).collect::<String>()
        );
        append_report(&path, &text);
    }
    assert!(
        tally.problems.is_empty(),
        "{} of {} trials:\n{}",
        tally.problems.len(),
        tally.trials,
        tally.problems.join("\n")
    );
}

/// The statements killed on S3: all of them (VACUUM's removal of leftovers is checked with a
/// VACUUM planned hours ahead, as S3 objects cannot be aged).
const ON_S3: &[&str] = &[
    "CTAS",
    "INSERT",
    "MERGE",
    "UPDATE",
    "DELETE",
    "OPTIMIZE",
    "VACUUM",
    "COPY INTO",
];

/// The objects of the table at argv[1] on the S3 server at argv[2] that its current version
/// does not read (its log aside), one per line.
const UNREAD_ON_S3: &str = "import sys, boto3, os\n\
from deltalake import DeltaTable\n\
url, endpoint = sys.argv[1], sys.argv[2]\n\
opts = {'AWS_ENDPOINT_URL': endpoint, 'AWS_ACCESS_KEY_ID': 'test', 'AWS_SECRET_ACCESS_KEY': 'test', 'AWS_REGION': 'us-east-1', 'AWS_ALLOW_HTTP': 'true'}\n\
live = set(DeltaTable(url, storage_options=opts).file_uris())\n\
s3 = boto3.client('s3', endpoint_url=endpoint, aws_access_key_id='test', aws_secret_access_key='test', region_name='us-east-1')\n\
bucket, prefix = url[len('s3://'):].split('/', 1)\n\
keys = [o['Key'] for page in s3.get_paginator('list_objects_v2').paginate(Bucket=bucket, Prefix=prefix + '/') for o in page.get('Contents', [])]\n\
print('\\n'.join(k for k in keys if '/_delta_log/' not in k and 's3://%s/%s' % (bucket, k) not in live))\n\
sys.stdout.flush(); os._exit(0)\n";

/// kill -9 during writes on S3 (moto): the table opens in lakeshell, delta-rs and DuckDB at the
/// version before or after the write with exactly its rows, the next write succeeds, and a
/// VACUUM hours later leaves nothing that no version reads.
#[test]
fn kill_9_during_writes_on_s3() {
    let per = campaign_count("LAKESHELL_RELIABILITY_TRIALS", 1);
    let seed = campaign_seed();
    let mut rng = Rng(seed ^ 0x53);
    let moto = super::s3::start_moto();
    super::common::py(super::s3::BOTO, &[&moto.endpoint]);
    let root = tempfile::tempdir().unwrap();
    let mut n = 0;
    // A project folder whose warehouse is a fresh prefix of the bucket, with the base in it.
    let mut project = |name: &str| {
        n += 1;
        let dir = root.path().join(format!("{name}{n}"));
        fs::create_dir_all(&dir).unwrap();
        fs::write(
            dir.join("lakeshell.toml"),
            format!(
                "warehouse = 's3://lake/k{n}'\n[storage]\naws_endpoint_url = '{}'\naws_access_key_id = 'test'\naws_secret_access_key = 'test'\naws_region = 'us-east-1'\n",
                moto.endpoint
            ),
        )
        .unwrap();
        build_base(&dir);
        (dir, format!("s3://lake/k{n}"))
    };
    let mut problems = Vec::new();
    let mut lines = Vec::new();
    let mut trials = 0;
    for w in WRITES.iter().filter(|w| ON_S3.contains(&w.name)) {
        let (reference, _) = project("ref");
        let before = rows(&reference, w.table);
        let started = Instant::now();
        run_ok(lakeshell(&reference).args(["-q", "-c", w.sql]));
        let took = started.elapsed();
        let after = rows(&reference, w.table).unwrap();
        let mut outcomes = [0usize; 3];
        for trial in 0..per {
            trials += 1;
            let (work, url) = project("w");
            let at = Duration::from_micros(rng.below(took.as_micros() as usize + 1) as u64);
            let mut child = lakeshell(&work)
                .args(["-q", "-c", w.sql])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(at);
            let _ = child.kill();
            let status = child.wait().unwrap();
            let label = format!(
                "{} on S3 trial {trial} (killed at {at:?}, seed {seed})",
                w.name
            );
            let mut which = None;
            let now = match rows(&work, w.table) {
                Some(now) => now,
                None if before.is_none() => {
                    // A CTAS killed before its commit: running it again succeeds.
                    which = Some(0);
                    if let Err(e) = run_sql(&work, w.sql) {
                        problems.push(format!("{label}: run again, it fails: {e}"));
                        continue;
                    }
                    rows(&work, w.table).unwrap()
                }
                None => {
                    problems.push(format!("{label}: the table no longer opens"));
                    continue;
                }
            };
            let same_rows = before.as_ref().map(|b| &b.1) == Some(&after.1);
            let which = if let Some(w) = which {
                w
            } else if Some(&now) == before.as_ref() {
                0
            } else if now == after || (same_rows && now.1 == after.1) {
                1
            } else {
                problems.push(format!(
                    "{label}: version {} has rows of neither version",
                    now.0
                ));
                continue;
            };
            outcomes[if status.success() { 2 } else { which }] += 1;
            let peers = peer_rows_s3(
                &format!("{url}/{}", w.table.replace('.', "/")),
                &moto.endpoint,
            );
            for p in peers_disagree(now.0, &now.1, peers) {
                problems.push(format!("{label}: {p}"));
            }
            if let Err(e) = run_sql(
                &work,
                &format!("INSERT INTO {} VALUES (-1, 0, 0.0)", w.table),
            ) {
                problems.push(format!("{label}: the next write fails: {e}"));
            }
            // The night's VACUUM, hours later (S3 objects cannot be aged: VACUUM plans as if it
            // ran two hours from now): nothing is left that no version reads.
            let vacuum = lakeshell(&work)
                .env("LAKESHELL_TEST_VACUUM_HOURS_AHEAD", "2")
                .args([
                    "-q",
                    "-c",
                    &format!("SET spark.databricks.delta.retentionDurationCheck.enabled = false; VACUUM {} RETAIN 0 HOURS", w.table),
                ])
                .output()
                .unwrap();
            if !vacuum.status.success() {
                problems.push(format!("{label}: VACUUM fails: {}", stderr(&vacuum)));
            }
            let left = run_python(&[
                "-c",
                UNREAD_ON_S3,
                &format!("{url}/{}", w.table.replace('.', "/")),
                &moto.endpoint,
            ]);
            if !left.trim().is_empty() {
                problems.push(format!(
                    "{label}: VACUUM leaves files no version reads: {left}"
                ));
            }
        }
        lines.push(format!(
            "| {} | {per} | {:.0} ms | {} | {} | {} |",
            w.name,
            took.as_secs_f64() * 1000.0,
            outcomes[0],
            outcomes[1],
            outcomes[2]
        ));
    }
    // Orphans for certain: an INSERT aborted just before its commit (its fifth write, after
    // four data files). A VACUUM now keeps them (they may be a running write's); one hours
    // later removes them.
    let (work, url) = project("orphans");
    let insert = WRITES.iter().find(|w| w.name == "INSERT").unwrap();
    let out = lakeshell(&work)
        .env("LAKESHELL_TEST_CRASH_AT", "5:before")
        .args(["-q", "-c", insert.sql])
        .output()
        .unwrap();
    assert!(!out.status.success(), "the INSERT was to abort");
    let unread_now = || run_python(&["-c", UNREAD_ON_S3, &format!("{url}/d/k"), &moto.endpoint]);
    let before_vacuum = unread_now();
    let vacuum = |ahead: &str| {
        run_ok(
            lakeshell(&work)
                .env("LAKESHELL_TEST_VACUUM_HOURS_AHEAD", ahead)
                .args(["-q", "-c", "SET spark.databricks.delta.retentionDurationCheck.enabled = false; VACUUM d.k RETAIN 0 HOURS"]),
        );
    };
    // The base's removed files go (RETAIN 0 HOURS); the aborted INSERT's four files stay.
    vacuum("0");
    let kept = unread_now();
    assert_eq!(
        kept.lines().count(),
        4,
        "a VACUUM within the hour keeps them: {kept}"
    );
    assert!(kept.lines().all(|f| before_vacuum.contains(f)), "{kept}");
    vacuum("2");
    assert_eq!(unread_now().trim(), "", "a VACUUM hours later removes them");
    if let Ok(path) = std::env::var("LAKESHELL_RELIABILITY_REPORT") {
        let text = format!(
            "## kill -9 during writes (S3, moto)\n\nSeed {seed}. {trials} trials; after each, lakeshell, delta-rs and DuckDB read the same committed version with its rows, the next write succeeds, and VACUUM (planned as if two hours later) leaves no file that no version reads; {} problems.\n\n| statement | trials | uninterrupted run | killed before commit | killed after commit | finished |\n|---|---|---|---|---|---|\n{}\n{}",
            problems.len(),
            lines.join("\n"),
            problems.iter().map(|p| format!("\n- {p}")).collect::<String>()
        );
        append_report(&path, &text);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A CTAS killed while lakeshell wrote its first commit leaves `_delta_log` holding only that
/// commit's staging file: there is no table yet, so running the CTAS again succeeds (found by
/// the kill campaign, where it said "table already exists" of a table that did not open), and
/// VACUUM later removes the leftover.
#[test]
fn a_ctas_killed_in_its_first_commit_can_run_again() {
    let root = tempfile::tempdir().unwrap();
    let log = root.path().join("lakehouse/d/c/_delta_log");
    fs::create_dir_all(&log).unwrap();
    let staging = log.join(".00000000000000000000.json.0d1f5c3e.staging");
    fs::write(&staging, b"{\"commitInfo\":{}}\n").unwrap();
    let missing = lakeshell(root.path())
        .args(["-q", "-c", "SELECT * FROM d.c"])
        .output()
        .unwrap();
    assert!(
        stderr(&missing).contains("not found"),
        "{}",
        stderr(&missing)
    );
    run_sql(
        root.path(),
        "CREATE TABLE d.c AS SELECT 1 AS id, 0 AS p, 0.5 AS amount",
    )
    .unwrap();
    assert_eq!(rows(root.path(), "d.c").unwrap().0, 0);
    age_files([&staging], Duration::from_secs(2 * 3600));
    run_sql(
        root.path(),
        "SET spark.databricks.delta.retentionDurationCheck.enabled = false; VACUUM d.c RETAIN 0 HOURS",
    )
    .unwrap();
    assert!(
        !staging.exists(),
        "VACUUM removes the killed commit's staging file"
    );
}

/// A write killed while object_store's local store was writing a file leaves it under its
/// staging name (`….parquet#1`, a checkpoint's in the log too), and one killed while lakeshell
/// wrote its commit leaves the commit's staging file (`_delta_log/.N.json.<uuid>.staging`); no
/// listing of the store shows them. VACUUM finds those on local disk and deletes them once they
/// are past the in-flight hour, not before.
#[test]
fn vacuum_removes_half_written_staging_files() {
    let root = tempfile::tempdir().unwrap();
    let base = base(root.path());
    let table = base.join("lakehouse/d/k");
    let old = table.join("p=1/part-00000-killed-c000.snappy.parquet#1");
    fs::write(&old, b"half a parquet file").unwrap();
    age(&table, Duration::from_secs(2 * 3600));
    let old_commit = table.join("_delta_log/.00000000000000000009.json.5b9e0c1f.staging");
    fs::write(&old_commit, b"{\"commitInfo\":{}}").unwrap();
    let old_checkpoint = table.join("_delta_log/00000000000000000009.checkpoint.parquet#1");
    fs::write(&old_checkpoint, b"half a checkpoint").unwrap();
    age_files(
        [&old_commit, &old_checkpoint],
        Duration::from_secs(2 * 3600),
    );
    let young = table.join("p=2/part-00000-running-c000.snappy.parquet#2");
    fs::write(&young, b"a file still being written").unwrap();
    let young_commit = table.join("_delta_log/.00000000000000000009.json.77aa01c2.staging");
    fs::write(&young_commit, b"{\"commitInfo\":{}}").unwrap();
    let before = rows(&base, "d.k");
    let vacuum = "SET spark.databricks.delta.retentionDurationCheck.enabled = false; VACUUM d.k RETAIN 0 HOURS";
    let dry = stdout(&run_ok(lakeshell(&base).args([
        "-f",
        "csv",
        "-c",
        &format!("{vacuum} DRY RUN"),
    ])));
    assert!(
        dry.contains("part-00000-killed-c000.snappy.parquet#1"),
        "{dry}"
    );
    assert!(
        dry.contains(".00000000000000000009.json.5b9e0c1f.staging"),
        "{dry}"
    );
    assert!(
        !dry.contains("running") && !dry.contains("77aa01c2"),
        "{dry}"
    );
    assert!(old.exists());
    run_ok(lakeshell(&base).args(["-q", "-c", vacuum]));
    assert!(!old.exists(), "the stale staging file is deleted");
    assert!(
        !old_commit.exists(),
        "the stale commit staging file is deleted"
    );
    assert!(
        !old_checkpoint.exists(),
        "the half-written checkpoint is deleted"
    );
    assert!(
        young.exists() && young_commit.exists(),
        "files younger than the in-flight hour are kept"
    );
    assert_eq!(
        rows(&base, "d.k").unwrap().1,
        before.unwrap().1,
        "VACUUM changes no rows"
    );
}
