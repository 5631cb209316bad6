//! Durability on local disk, seen in the system calls (`strace`, installed by `scripts/test`):
//! a commit is written to a staging file that is fsynced before it is linked to its name, the
//! `_delta_log` folder is fsynced after, and every data file the commit names was fsynced
//! before it. Nothing is acknowledged without its fsyncs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::common::{bin, files_under, lakeshell, run_ok};

fn parquet_files(dir: &Path) -> BTreeSet<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|p| {
            p.extension().is_some_and(|x| x == "parquet")
                && !p.to_string_lossy().contains("_delta_log")
        })
        .collect()
}

#[test]
fn no_commit_is_acknowledged_without_its_fsyncs() {
    assert!(
        Command::new("strace").arg("-V").output().is_ok(),
        "strace is needed (scripts/test installs it)"
    );
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    run_ok(lakeshell(dir).args([
        "-q",
        "-c",
        "CREATE TABLE d.t (id BIGINT, p STRING) PARTITIONED BY (p)",
    ]));
    let table = dir.join("lakehouse/d/t");
    for (version, sql) in [
        (1, "INSERT INTO d.t VALUES (1, 'a'), (2, 'b'), (3, 'a')"),
        (2, "MERGE INTO d.t AS t USING (SELECT 2 AS id, 'b' AS p UNION ALL SELECT 4, 'c') AS s ON t.id = s.id WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"),
        (3, "UPDATE d.t SET id = id + 10 WHERE p = 'a'"),
        (4, "INSERT INTO d.t VALUES (5, 'a'), (6, 'c')"),
        (5, "OPTIMIZE d.t"),
    ] {
        let before = parquet_files(&table);
        let trace = dir.join(format!("trace{version}.txt"));
        let out = Command::new("strace")
            .args(["-f", "-y", "-qq", "-e", "trace=fsync,fdatasync,linkat,link,rename,renameat,renameat2", "-o"])
            .arg(&trace)
            .arg(bin())
            .args(["-q", "-c", sql])
            .current_dir(dir)
            .env("HOME", dir)
            .env_remove("LAKESHELL_WAREHOUSE")
            .output()
            .unwrap();
        assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
        let lines: Vec<String> = std::fs::read_to_string(&trace)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        let commit = format!("_delta_log/{version:020}.json\"");
        let link = lines
            .iter()
            .position(|l| l.contains("link") && l.contains(&commit))
            .unwrap_or_else(|| panic!("{sql}: no link of {commit}:\n{}", lines.join("\n")));
        let fsynced = |from: usize, to: usize, what: &dyn Fn(&str) -> bool| {
            lines[from..to]
                .iter()
                .any(|l| l.contains("fsync(") && what(l))
        };
        let staging = format!("_delta_log/.{version:020}.json.");
        assert!(
            fsynced(0, link, &|l| l.contains(&staging) && l.contains(".staging>")),
            "{sql}: the commit's staging file is not fsynced before its link"
        );
        assert!(
            fsynced(link, lines.len(), &|l| l.contains("/_delta_log>")),
            "{sql}: the log folder is not fsynced after the commit"
        );
        let new: Vec<PathBuf> = parquet_files(&table).difference(&before).cloned().collect();
        assert!(!new.is_empty(), "{sql} wrote no data file");
        for f in new {
            let name = format!("{}>", f.display());
            assert!(
                fsynced(0, link, &|l| l.contains(&name)),
                "{sql}: {} is not fsynced before the commit",
                f.display()
            );
        }
    }
}
