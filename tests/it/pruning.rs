//! Partition pruning and min/max statistics skipping on Delta scans, seen in EXPLAIN ANALYZE:
//! a filtered query reads fewer files than the table has.

use std::collections::HashMap;

use super::common::{engine, exec, rows};

/// Data files the Delta scan in an EXPLAIN ANALYZE plan read (its `count_files_scanned`).
fn files_in_plan(plan: &str) -> usize {
    let key = "count_files_scanned=";
    let at = plan
        .find(key)
        .unwrap_or_else(|| panic!("no {key} in {plan}"))
        + key.len();
    plan[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn partition_and_statistics_filters_read_fewer_files() {
    let d = tempfile::tempdir().unwrap();
    let e = engine(d.path(), HashMap::new());
    exec(&e, "CREATE TABLE p PARTITIONED BY (part) AS SELECT value AS id, value % 4 AS part FROM generate_series(0, 99)").await;
    // Three appends with disjoint id ranges: each file's min/max excludes the others.
    for (lo, hi) in [(1000, 1099), (2000, 2099), (3000, 3099)] {
        exec(
            &e,
            &format!("INSERT INTO p SELECT value, 9 FROM generate_series({lo}, {hi})"),
        )
        .await;
    }
    let all = rows(&e, "EXPLAIN ANALYZE SELECT sum(id) FROM p WHERE id >= 0")
        .await
        .join("\n");
    let total = files_in_plan(&all);
    assert_eq!(total, 7, "4 partition files + 3 appended files: {all}");

    let by_partition = rows(&e, "EXPLAIN ANALYZE SELECT sum(id) FROM p WHERE part = 1")
        .await
        .join("\n");
    assert_eq!(files_in_plan(&by_partition), 1, "{by_partition}");

    let by_stats = rows(
        &e,
        "EXPLAIN ANALYZE SELECT sum(id) FROM p WHERE id BETWEEN 2010 AND 2020",
    )
    .await
    .join("\n");
    assert!(files_in_plan(&by_stats) < total, "{by_stats}");
    assert_eq!(files_in_plan(&by_stats), 1, "{by_stats}");

    // And the answers are right.
    assert_eq!(
        rows(&e, "SELECT count(*) FROM p WHERE part = 1").await,
        vec!["25"]
    );
    assert_eq!(
        rows(&e, "SELECT count(*) FROM p WHERE id BETWEEN 2010 AND 2020").await,
        vec!["11"]
    );
}
