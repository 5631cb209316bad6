//! The benchmark's smoke run at TPC-H scale factor 0.1: every engine (lakeshell, DuckDB,
//! polars, delta-rs) runs every workload once on fresh data and their answers must agree. No
//! timing is asserted; `bench/run` is the timed run.

use std::process::Command;

use super::common::{bin, python, repo};

#[test]
fn benchmark_engines_agree_at_scale_0_1() {
    let work = tempfile::tempdir().unwrap();
    let out = Command::new(python())
        .arg(repo().join("bench/bench.py"))
        .args(["--smoke", "--scale", "0.1", "--lakeshell"])
        .arg(bin())
        .arg("--work")
        .arg(work.path().join("data"))
        .arg("--out")
        .arg(work.path().join("results"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bench failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("All answers agree."), "{stdout}");
    // lakeshell ran all 22 queries on both table sets.
    let report = std::fs::read_to_string(work.path().join("results/smoke-sf0.1.md")).unwrap();
    for n in 1..=22 {
        let q = format!("| q{n:02} | ");
        assert_eq!(
            report
                .lines()
                .filter(|l| l.starts_with(&q) && !l.starts_with(&format!("{q}unsupported")))
                .count(),
            2,
            "q{n:02} on both table sets:\n{report}"
        );
    }
}
