//! Maintenance racing other writers, in real processes (regression: two OPTIMIZEs at once
//! duplicated every row of the table).
//!
//! Each pair of statements runs in two lakeshell processes whose writes overlap: the test pause
//! (`LAKESHELL_TEST_PAUSE_BEFORE_WRITE_MS`) holds each writer after it has read the table and
//! before it writes, the first for 500 ms and the second for 2,000 ms, so both read the same
//! version and the first commits while the second is still held. Every pair runs in both orders,
//! several rounds (`LAKESHELL_RACE_ROUNDS`, default 2 on local disk and 1 on the S3 server; the
//! reliability campaign runs more and takes the figures from `LAKESHELL_RELIABILITY_REPORT`).
//!
//! The table afterwards must equal one of the two serial orders (A then B, B then A), computed
//! by running the same statements one after the other on a fresh copy, or, when one statement
//! failed with a conflict, the other statement alone. A failure must be a conflict that names the
//! competing version (or, for RESTORE after VACUUM, the deleted file). FSCK finds no file that
//! the log references missing, and delta-rs reads the same rows.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::common::{append_report, lakeshell, py, run_ok, stderr, stdout};
use super::s3::{s3_env, start_moto, BOTO};

/// 4 files in each of 2 partitions, 40 rows: `id`, partition `p`, value `v`.
const SETUP: &[&str] = &[
    "CREATE TABLE t PARTITIONED BY (p) AS SELECT value AS id, CAST(value % 2 AS INT) AS p, CAST(value AS INT) AS v FROM generate_series(1, 10)",
    "INSERT INTO t SELECT value AS id, CAST(value % 2 AS INT) AS p, CAST(value AS INT) AS v FROM generate_series(11, 20)",
    "INSERT INTO t SELECT value AS id, CAST(value % 2 AS INT) AS p, CAST(value AS INT) AS v FROM generate_series(21, 30)",
    "INSERT INTO t SELECT value AS id, CAST(value % 2 AS INT) AS p, CAST(value AS INT) AS v FROM generate_series(31, 40)",
];

/// SETUP, then version 4 deletes a third of the rows, so older files are tombstones for VACUUM
/// and version 3 has files RESTORE must re-add.
const SETUP_WITH_TOMBSTONES: &[&str] = &[
    SETUP[0],
    SETUP[1],
    SETUP[2],
    SETUP[3],
    "DELETE FROM t WHERE id % 3 = 0",
];

const NO_RETENTION: &str = "SET spark.databricks.delta.retentionDurationCheck.enabled = false";

/// What a pair may end in.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// Both statements always succeed: the loser is planned again on the new version.
    BothSucceed,
    /// Both succeed (as one of the serial orders), or the second fails and the table equals
    /// the first alone.
    SerialOrOneFails,
}

struct Pair {
    name: &'static str,
    setup: &'static [&'static str],
    a: &'static [&'static str],
    b: &'static [&'static str],
    expect: Expect,
}

const PAIRS: &[Pair] = &[
    Pair {
        name: "OPTIMIZE || OPTIMIZE",
        setup: SETUP,
        a: &["OPTIMIZE t"],
        b: &["OPTIMIZE t"],
        expect: Expect::BothSucceed,
    },
    Pair {
        name: "OPTIMIZE one partition || OPTIMIZE the other",
        setup: SETUP,
        a: &["OPTIMIZE t WHERE p = 0"],
        b: &["OPTIMIZE t WHERE p = 1"],
        expect: Expect::BothSucceed,
    },
    Pair {
        name: "OPTIMIZE || DELETE without WHERE",
        setup: SETUP,
        a: &["OPTIMIZE t"],
        b: &["DELETE FROM t"],
        expect: Expect::BothSucceed,
    },
    Pair {
        name: "OPTIMIZE || UPDATE without WHERE",
        setup: SETUP,
        a: &["OPTIMIZE t"],
        b: &["UPDATE t SET v = v + 1"],
        expect: Expect::BothSucceed,
    },
    Pair {
        name: "OPTIMIZE || DELETE of one partition",
        setup: SETUP,
        a: &["OPTIMIZE t"],
        b: &["DELETE FROM t WHERE p = 1"],
        expect: Expect::BothSucceed,
    },
    Pair {
        name: "OPTIMIZE || MERGE",
        setup: SETUP,
        a: &["OPTIMIZE t"],
        b: &["MERGE INTO t USING (SELECT value AS id, CAST(value % 2 AS INT) AS p, CAST(value * 100 AS INT) AS v FROM generate_series(35, 45)) AS s ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = s.v WHEN NOT MATCHED THEN INSERT *"],
        expect: Expect::BothSucceed,
    },
    Pair {
        name: "OPTIMIZE ZORDER || INSERT",
        setup: SETUP,
        a: &["OPTIMIZE t ZORDER BY (v)"],
        b: &["INSERT INTO t VALUES (100, 0, 100), (101, 1, 101)"],
        expect: Expect::BothSucceed,
    },
    Pair {
        name: "VACUUM || INSERT",
        setup: SETUP_WITH_TOMBSTONES,
        a: &[NO_RETENTION, "VACUUM t RETAIN 0 HOURS"],
        b: &["INSERT INTO t VALUES (100, 0, 100)"],
        expect: Expect::BothSucceed,
    },
    Pair {
        name: "RESTORE || VACUUM",
        setup: SETUP_WITH_TOMBSTONES,
        a: &["RESTORE TABLE t TO VERSION AS OF 3"],
        b: &[NO_RETENTION, "VACUUM t RETAIN 0 HOURS"],
        expect: Expect::SerialOrOneFails,
    },
];

/// Where a round's table lives.
#[derive(Clone)]
enum Store {
    Local,
    S3 { endpoint: String },
}

/// One scratch warehouse for a round.
struct Warehouse {
    store: Store,
    cwd: PathBuf,
    url: String,
}

impl Warehouse {
    fn new(store: &Store, cwd: &Path, name: &str) -> Self {
        let url = match store {
            Store::Local => cwd.join(name).display().to_string(),
            Store::S3 { .. } => format!("s3://lake/races/{name}"),
        };
        Warehouse {
            store: store.clone(),
            cwd: cwd.to_path_buf(),
            url,
        }
    }

    fn cmd(&self, statements: &[&str]) -> Command {
        let mut cmd = lakeshell(&self.cwd);
        if let Store::S3 { endpoint } = &self.store {
            s3_env(&mut cmd, endpoint);
        }
        cmd.args(["--warehouse", &self.url, "-q", "-f", "csv"]);
        for s in statements {
            cmd.args(["-c", s]);
        }
        cmd
    }

    fn rows(&self) -> String {
        stdout(&run_ok(
            &mut self.cmd(&["SELECT id, p, v FROM t ORDER BY id, p, v"]),
        ))
    }

    /// FSCK's dry run lists the files the log references that are missing: none.
    fn assert_no_missing_files(&self, what: &str) {
        let fsck = stdout(&run_ok(&mut self.cmd(&["FSCK REPAIR TABLE t DRY RUN"])));
        assert_eq!(fsck.lines().count(), 1, "{what}: missing files:\n{fsck}");
    }
}

/// The table after running each group of statements in order, one process after the other,
/// if every group succeeded (a RESTORE after a VACUUM of its files fails).
fn serial(dir: &Path, name: &str, setup: &[&str], groups: &[&[&str]]) -> Option<String> {
    let wh = Warehouse::new(&Store::Local, dir, name);
    run_ok(&mut wh.cmd(setup));
    let mut all_ok = true;
    for g in groups {
        all_ok &= wh.cmd(g).output().expect("run lakeshell").status.success();
    }
    all_ok.then(|| wh.rows())
}

/// The two statements at once: `first` is held 500 ms, `second` 2,000 ms.
fn race(wh: &Warehouse, first: &[&str], second: &[&str]) -> (Output, Output) {
    let spawn = |statements: &[&str], pause: &str| {
        wh.cmd(statements)
            .env("LAKESHELL_TEST_PAUSE_BEFORE_WRITE_MS", pause)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start a writer")
    };
    let one = spawn(first, "500");
    let two = spawn(second, "2000");
    (
        one.wait_with_output().unwrap(),
        two.wait_with_output().unwrap(),
    )
}

fn rounds(default: usize) -> usize {
    std::env::var("LAKESHELL_RACE_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(default)
}

/// How the races of one pair ended.
#[derive(Default)]
struct Ended {
    both_committed: usize,
    one_failed: usize,
}

fn check_pairs(store: Store, rounds: usize) {
    let where_ = match store {
        Store::Local => "local disk",
        Store::S3 { .. } => "S3",
    };
    let d = tempfile::tempdir().unwrap();
    let mut rows = Vec::new();
    let mut races = 0;
    for (n, pair) in PAIRS.iter().enumerate() {
        let mut ended = Ended::default();
        // The serial outcomes, on local disk.
        let ab = serial(
            d.path(),
            &format!("ref{n}-ab"),
            pair.setup,
            &[pair.a, pair.b],
        );
        let ba = serial(
            d.path(),
            &format!("ref{n}-ba"),
            pair.setup,
            &[pair.b, pair.a],
        );
        let a_alone = serial(d.path(), &format!("ref{n}-a"), pair.setup, &[pair.a]);
        let b_alone = serial(d.path(), &format!("ref{n}-b"), pair.setup, &[pair.b]);
        for round in 0..rounds {
            for swapped in [false, true] {
                let (first, second) = if swapped {
                    (pair.b, pair.a)
                } else {
                    (pair.a, pair.b)
                };
                let what = format!(
                    "{} (round {round}, {} first)",
                    pair.name,
                    if swapped { "B" } else { "A" }
                );
                let wh = Warehouse::new(&store, d.path(), &format!("p{n}-r{round}-{swapped}"));
                run_ok(&mut wh.cmd(pair.setup));
                let (one, two) = race(&wh, first, second);
                let rows = wh.rows();
                let (ok1, ok2) = (one.status.success(), two.status.success());
                races += 1;
                if ok1 && ok2 {
                    ended.both_committed += 1;
                } else {
                    ended.one_failed += 1;
                }
                match (ok1, ok2) {
                    (true, true) => assert!(
                        ab.as_ref() == Some(&rows) || ba.as_ref() == Some(&rows),
                        "{what}: both committed, but the table is neither serial order:\n{rows}\nA then B:\n{ab:?}\nB then A:\n{ba:?}"
                    ),
                    (true, false) | (false, true) => {
                        assert_eq!(
                            pair.expect,
                            Expect::SerialOrOneFails,
                            "{what}: one statement failed:\n{}\n{}",
                            stderr(&one),
                            stderr(&two)
                        );
                        let (winner, loser) = if ok1 { (first, &two) } else { (second, &one) };
                        assert_eq!(loser.status.code(), Some(1), "{what}");
                        let msg = stderr(loser);
                        assert!(
                            (msg.contains("conflicting write: version ")
                                && msg.contains("nothing was written"))
                                || msg.contains("can no longer be restored"),
                            "{what}: the failure must name the competing version: {msg}"
                        );
                        let alone = if std::ptr::eq(winner, pair.a) {
                            &a_alone
                        } else {
                            &b_alone
                        };
                        assert_eq!(
                            Some(&rows),
                            alone.as_ref(),
                            "{what}: the table must equal the winner alone"
                        );
                    }
                    (false, false) => panic!(
                        "{what}: both failed:\n{}\n{}",
                        stderr(&one),
                        stderr(&two)
                    ),
                }
                wh.assert_no_missing_files(&what);
                if round == 0 && !swapped {
                    assert_delta_rs_reads(&wh, &rows, &what);
                }
            }
        }
        rows.push(format!(
            "| {} | {} | {} | {} |",
            pair.name.replace('|', "\\|"),
            2 * rounds,
            ended.both_committed,
            ended.one_failed
        ));
    }
    if let Ok(path) = std::env::var("LAKESHELL_RELIABILITY_REPORT") {
        let text = format!(
            "## Maintenance races ({where_})\n\n{} pairs × 2 orders × {rounds} rounds = {races} races, each pair's writes overlapping; every table afterwards equals a serial order (or, where one failed with a conflict naming the competing version, the winner alone), no file the log names is missing and delta-rs reads the same rows; 0 problems.\n\n| pair | races | both committed | one failed (conflict) |\n|---|---|---|---|\n{}\n",
            PAIRS.len(),
            rows.join("\n")
        );
        append_report(&path, &text);
    }
}

/// delta-rs (Python) reads the same rows.
fn assert_delta_rs_reads(wh: &Warehouse, rows: &str, what: &str) {
    let (uri, opts) = match &wh.store {
        Store::Local => (format!("{}/default/t", wh.url), "{}".to_string()),
        Store::S3 { endpoint } => (
            format!("{}/default/t", wh.url),
            format!(
                "{{'AWS_ENDPOINT_URL': '{endpoint}', 'AWS_ACCESS_KEY_ID': 'test', 'AWS_SECRET_ACCESS_KEY': 'test', 'AWS_REGION': 'us-east-1', 'AWS_ALLOW_HTTP': 'true'}}"
            ),
        ),
    };
    let code = format!(
        "import deltalake\n\
t = deltalake.DeltaTable('{uri}', storage_options={opts}).to_pyarrow_table().to_pylist()\n\
rows = sorted((r['id'], r['p'], r['v']) for r in t)\n\
print('id,p,v')\n\
for r in rows: print(','.join(str(x) for x in r))\n"
    );
    assert_eq!(py(&code, &[]), rows, "{what}: delta-rs reads other rows");
}

#[test]
fn maintenance_races_on_local_disk() {
    check_pairs(Store::Local, rounds(2));
}

#[test]
fn maintenance_races_on_s3() {
    let moto = start_moto();
    py(BOTO, &[&moto.endpoint]);
    check_pairs(
        Store::S3 {
            endpoint: moto.endpoint.clone(),
        },
        rounds(1),
    );
}
