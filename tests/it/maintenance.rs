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
