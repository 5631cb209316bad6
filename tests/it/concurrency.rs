//! Two lakeshell processes writing one table at the same time, on local disk, on S3 (moto), on
//! Azure (Azurite) and on GCS (the XML API front over moto).
//! `LAKESHELL_TEST_PAUSE_BEFORE_WRITE_MS` holds each writer between reading the table's version
//! and writing, so the writes really overlap: both processes read the same version before
//! either commits.

use std::path::Path;
use std::process::{Command, Output};

use super::common::py;
use super::common::{lakeshell, run_ok, stderr, stdout};
use super::s3::{s3_env, start_moto, BOTO};
use super::stores::{azure_env, gcs_env, start_azurite, start_gcs};

/// Runs the same kind of statement in two processes at once.
fn together(make: &dyn Fn(&str) -> Command, a: &str, b: &str) -> (Output, Output) {
    together_paused(make, (a, 2000), (b, 2000))
}

/// The same, with each writer's pause given: the shorter one commits first.
fn together_paused(
    make: &dyn Fn(&str) -> Command,
    (a, pause_a): (&str, u64),
    (b, pause_b): (&str, u64),
) -> (Output, Output) {
    let mut first = make(a);
    let mut second = make(b);
    for c in [&mut first, &mut second] {
        c.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
    }
    first.env("LAKESHELL_TEST_PAUSE_BEFORE_WRITE_MS", pause_a.to_string());
    second.env("LAKESHELL_TEST_PAUSE_BEFORE_WRITE_MS", pause_b.to_string());
    let one = first.spawn().expect("first writer");
    let two = second.spawn().expect("second writer");
    (
        one.wait_with_output().unwrap(),
        two.wait_with_output().unwrap(),
    )
}

fn check_writers(make: &dyn Fn(&str) -> Command, read: &dyn Fn(&str) -> String) {
    run_ok(&mut make(
        "CREATE TABLE t AS SELECT * FROM (VALUES (1, 10), (2, 20)) AS v(id, n)",
    ));
    // Two appends: both land, once each.
    let (a, b) = together(
        make,
        "INSERT INTO t VALUES (3, 30)",
        "INSERT INTO t VALUES (4, 40)",
    );
    assert!(
        a.status.success() && b.status.success(),
        "{}\n{}",
        stderr(&a),
        stderr(&b)
    );
    assert_eq!(
        read("SELECT id, n FROM t ORDER BY id"),
        "id,n\n1,10\n2,20\n3,30\n4,40\n"
    );
    // Two updates of the same row: one wins, the other fails naming the competing version, and
    // no update is lost or applied twice.
    let (a, b) = together(
        make,
        "UPDATE t SET n = n + 1 WHERE id = 1",
        "UPDATE t SET n = n + 100 WHERE id = 1",
    );
    let ok = [&a, &b].iter().filter(|o| o.status.success()).count();
    assert_eq!(
        ok,
        1,
        "exactly one UPDATE commits:\n{}\n{}",
        stderr(&a),
        stderr(&b)
    );
    let loser = if a.status.success() { &b } else { &a };
    assert_eq!(loser.status.code(), Some(1));
    let msg = stderr(loser);
    assert!(
        msg.contains("conflicting write: version ") && msg.contains("nothing was written"),
        "{msg}"
    );
    let n = read("SELECT n FROM t WHERE id = 1");
    assert!(n == "n\n11\n" || n == "n\n110\n", "{n}");
    assert_eq!(read("SELECT count(*) AS c FROM t"), "c\n4\n");
    // An append next to a delete does not conflict under Delta's rules: both land, also when
    // the delete commits first (delta-rs refuses the append; lakeshell runs it again).
    let (a, b) = together_paused(
        make,
        ("DELETE FROM t WHERE id = 2", 1000),
        ("INSERT INTO t VALUES (5, 50)", 3000),
    );
    assert!(
        a.status.success() && b.status.success(),
        "{}\n{}",
        stderr(&a),
        stderr(&b)
    );
    assert_eq!(read("SELECT id FROM t ORDER BY id"), "id\n1\n3\n4\n5\n");
}

fn local(dir: &Path, sql: &str) -> Command {
    let mut cmd = lakeshell(dir);
    cmd.args(["-q", "-c", sql]);
    cmd
}

#[test]
fn concurrent_writers_on_local_disk() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().to_path_buf();
    let read = |sql: &str| stdout(&run_ok(lakeshell(&dir).args(["-f", "csv", "-c", sql])));
    check_writers(&|sql| local(&dir, sql), &read);
}

#[test]
fn concurrent_writers_on_s3() {
    let moto = start_moto();
    py(BOTO, &[&moto.endpoint]);
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().to_path_buf();
    let endpoint = moto.endpoint.clone();
    let make = |sql: &str| {
        let mut cmd = lakeshell(&dir);
        s3_env(&mut cmd, &endpoint);
        cmd.args(["--warehouse", "s3://lake/conc", "-q", "-c", sql]);
        cmd
    };
    let read = |sql: &str| {
        let mut cmd = lakeshell(&dir);
        s3_env(&mut cmd, &endpoint);
        stdout(&run_ok(cmd.args([
            "--warehouse",
            "s3://lake/conc",
            "-f",
            "csv",
            "-c",
            sql,
        ])))
    };
    check_writers(&make, &read);
}

#[test]
fn concurrent_writers_on_azure() {
    let az = start_azurite();
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().to_path_buf();
    let endpoint = az.endpoint.clone();
    let make = |sql: &str| {
        let mut cmd = lakeshell(&dir);
        azure_env(&mut cmd, &endpoint);
        cmd.args(["--warehouse", "az://lake/conc", "-q", "-c", sql]);
        cmd
    };
    let read = |sql: &str| {
        let mut cmd = lakeshell(&dir);
        azure_env(&mut cmd, &endpoint);
        stdout(&run_ok(cmd.args([
            "--warehouse",
            "az://lake/conc",
            "-f",
            "csv",
            "-c",
            sql,
        ])))
    };
    check_writers(&make, &read);
}

#[test]
fn concurrent_writers_on_gcs() {
    let gcs = start_gcs();
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().to_path_buf();
    let make = |sql: &str| {
        let mut cmd = lakeshell(&dir);
        gcs_env(&mut cmd, &gcs);
        cmd.args(["--warehouse", "gs://lake/conc", "-q", "-c", sql]);
        cmd
    };
    let read = |sql: &str| {
        let mut cmd = lakeshell(&dir);
        gcs_env(&mut cmd, &gcs);
        stdout(&run_ok(cmd.args([
            "--warehouse",
            "gs://lake/conc",
            "-f",
            "csv",
            "-c",
            sql,
        ])))
    };
    check_writers(&make, &read);
}
