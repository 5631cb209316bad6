//! Maintenance on real files: FSCK REPAIR after a data file is lost, and OPTIMIZE's progress
//! on a table of hundreds of small files (on a terminal only).

use super::cli::under_pty;
use super::common::{bin, lakeshell, run_ok, stderr, stdout};

#[test]
fn fsck_repair_drops_lost_files_from_the_log() {
    let d = tempfile::tempdir().unwrap();
    run_ok(lakeshell(d.path()).args([
        "-q",
        "-c",
        "CREATE TABLE f PARTITIONED BY (p) AS SELECT * FROM (VALUES (1, 'x'), (2, 'y'), (3, 'y')) AS v(id, p)",
    ]));
    let lost = std::fs::read_dir(d.path().join("lakehouse/default/f/p=y"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "parquet"))
        .unwrap();
    std::fs::remove_file(&lost).unwrap();
    // Reading fails, naming the way out.
    let out = lakeshell(d.path())
        .args(["-c", "SELECT * FROM f"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("FSCK REPAIR TABLE"),
        "{}",
        stderr(&out)
    );
    // A dry run lists the file and changes nothing.
    let dry = run_ok(lakeshell(d.path()).args(["-f", "csv", "-c", "FSCK REPAIR TABLE f DRY RUN"]));
    let name = lost.file_name().unwrap().to_str().unwrap();
    assert!(
        stdout(&dry).contains(name) && stdout(&dry).contains(",true,false"),
        "{}",
        stdout(&dry)
    );
    let v = run_ok(lakeshell(d.path()).args(["-f", "csv", "-c", "DESCRIBE HISTORY f LIMIT 1"]));
    assert!(
        stdout(&v).lines().nth(1).unwrap().starts_with("0,"),
        "{}",
        stdout(&v)
    );
    // The repair commits a new version without the file; the table reads again.
    let fix = run_ok(lakeshell(d.path()).args(["-f", "csv", "-c", "FSCK REPAIR TABLE f"]));
    assert!(stdout(&fix).contains(",true,true"), "{}", stdout(&fix));
    let rows =
        run_ok(lakeshell(d.path()).args(["-f", "csv", "-c", "SELECT id, p FROM f ORDER BY id"]));
    assert_eq!(stdout(&rows), "id,p\n1,x\n");
    let h = run_ok(lakeshell(d.path()).args(["-f", "csv", "-c", "DESCRIBE HISTORY f LIMIT 1"]));
    assert!(stdout(&h).contains("FSCK"), "{}", stdout(&h));
}

#[test]
fn optimize_shows_progress_on_a_terminal_only() {
    let d = tempfile::tempdir().unwrap();
    // 200 partitions with two small files each: 400 files.
    run_ok(lakeshell(d.path()).args([
        "-q",
        "-c",
        "CREATE TABLE many PARTITIONED BY (p) AS SELECT value AS id, value % 200 AS p FROM generate_series(1, 400)",
        "-c",
        "INSERT INTO many SELECT value AS id, value % 200 AS p FROM generate_series(401, 800)",
    ]));
    let cmd = format!(
        "LAKESHELL_PROGRESS_DELAY_MS=0 {} -c \"OPTIMIZE many\"",
        bin().display()
    );
    let tty = under_pty(d.path(), &cmd, "");
    assert!(
        tty.contains("OPTIMIZE default.many: compacting 400 files")
            && tty.contains("Ctrl-C cancels"),
        "no progress on a terminal: {tty}"
    );
    assert!(tty.contains("400"), "{tty}");
    let piped = run_ok(
        lakeshell(d.path())
            .env("LAKESHELL_PROGRESS_DELAY_MS", "0")
            .args(["-f", "csv", "-c", "OPTIMIZE many"]),
    );
    assert!(!stderr(&piped).contains("compacting"));
    let n = run_ok(lakeshell(d.path()).args(["-f", "csv", "-c", "SELECT count(*) AS n FROM many"]));
    assert_eq!(stdout(&n), "n\n800\n");
}

/// The `_delta_log` files of table `t` in `dir`'s warehouse.
fn log_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir.join("lakehouse/default/t/_delta_log"))
        .unwrap()
        .count()
}

#[test]
fn dry_runs_show_the_change_and_commit_nothing() {
    let d = tempfile::tempdir().unwrap();
    run_ok(lakeshell(d.path()).args([
        "-q",
        "-c",
        "CREATE TABLE t AS SELECT * FROM (VALUES (1, 'a'), (2, 'b'), (3, 'c')) AS v(id, name)",
        "-c",
        "INSERT INTO t VALUES (4, 'd')",
        "-c",
        "INSERT INTO t VALUES (5, 'e')",
    ]));
    let merge = "MERGE INTO t USING (SELECT * FROM (VALUES (1, 'x'), (9, 'z'), (5, 'del')) AS v(id, name)) AS s ON t.id = s.id WHEN MATCHED AND s.name = 'del' THEN DELETE WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *";
    let logs = log_files(d.path());
    let previews = [
        (
            "DELETE FROM t WHERE id > 3 DRY RUN",
            vec![
                "│ delete ┆  4 ┆ d    │",
                "DELETE default.t: would delete 2 rows",
                "files rewritten: 2 of 3",
            ],
        ),
        (
            "UPDATE t SET name = upper(name) WHERE id = 1 DRY RUN",
            vec![
                "│ update ┆  1 ┆ A    ┆ a           │",
                "would update 1 row",
                "files rewritten: 1 of 3",
            ],
        ),
        (
            &format!("{merge} DRY RUN"),
            vec![
                "│ insert ┆  9 ┆ z    │",
                "│ update ┆  1 ┆ x    │",
                "│ delete ┆  5 ┆ e    │",
                "MERGE INTO default.t: would insert 1 row, update 1 row, delete 1 row",
                "files rewritten: 2 of 3",
            ],
        ),
        (
            "OPTIMIZE t DRY RUN",
            vec!["OPTIMIZE default.t: would compact 3 files", "into 1 file"],
        ),
    ];
    for (sql, expected) in previews {
        let out = run_ok(lakeshell(d.path()).args(["-c", sql]));
        let text = stdout(&out);
        for e in expected {
            assert!(text.contains(e), "{sql}: no {e:?} in\n{text}");
        }
        assert!(
            text.contains("DRY RUN: nothing was committed; default.t stays at version 2"),
            "{text}"
        );
    }
    // The table's version is unchanged, and no commit was written.
    let h = run_ok(lakeshell(d.path()).args(["-f", "csv", "-c", "DESCRIBE HISTORY t LIMIT 1"]));
    assert!(
        stdout(&h).lines().nth(1).unwrap().starts_with("2,"),
        "{}",
        stdout(&h)
    );
    assert_eq!(log_files(d.path()), logs);
    let rows = run_ok(lakeshell(d.path()).args(["-f", "csv", "-c", "SELECT count(*) AS n FROM t"]));
    assert_eq!(stdout(&rows), "n\n5\n");
    // What the real statements then do is what the dry runs said.
    let done = run_ok(lakeshell(d.path()).args(["-f", "csv", "-c", merge]));
    assert_eq!(
        stdout(&done).lines().nth(1),
        Some("default.t,MERGE,3,1,1,1,2,1,2"),
        "{}",
        stdout(&done)
    );
    let plan = run_ok(lakeshell(d.path()).args(["-c", "OPTIMIZE t DRY RUN"]));
    assert!(
        stdout(&plan).contains("would compact 2 files"),
        "{}",
        stdout(&plan)
    );
    let compacted = run_ok(lakeshell(d.path()).args(["-f", "csv", "-c", "OPTIMIZE t"]));
    assert!(
        stdout(&compacted)
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("default.t,4,2,1,"),
        "{}",
        stdout(&compacted)
    );
    // Other statements take no DRY RUN.
    let bad = lakeshell(d.path())
        .args(["-c", "INSERT INTO t VALUES (7, 'g') DRY RUN"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
}
