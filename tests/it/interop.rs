//! What lakeshell writes, delta-rs (Python `deltalake`) and DuckDB's delta extension read back
//! identically; what delta-rs writes, lakeshell reads.

use serde_json::Value;

use super::common::{lakeshell, repo, run_ok, run_python, stdout};

fn peers(args: &[&str]) -> String {
    let script = repo().join("tests/peers.py");
    run_python(&[&[script.to_str().unwrap()], args].concat())
}

fn read_with_peers(path: &std::path::Path, cols: &[&str]) -> Value {
    serde_json::from_str(&peers(&["read", path.to_str().unwrap(), &cols.join(",")])).unwrap()
}

#[test]
fn peers_read_what_lakeshell_writes() {
    let d = tempfile::tempdir().unwrap();
    let sql = "CREATE TABLE shop.items PARTITIONED BY (day) AS SELECT * FROM (VALUES \
        (1, 'apple', 1.5, true, CAST('2024-01-01' AS DATE), CAST(2.50 AS DECIMAL(10,2)), CAST('2024-01-01 10:00:00' AS TIMESTAMP)), \
        (2, 'pear', -0.25, false, CAST('2024-01-02' AS DATE), CAST(3.10 AS DECIMAL(10,2)), CAST('2024-01-02 11:30:00' AS TIMESTAMP)), \
        (3, NULL, NULL, NULL, CAST('2024-01-02' AS DATE), NULL, NULL)) AS t(id, name, price, fresh, day, cost, seen); \
        INSERT INTO shop.items VALUES (4, 'fig', 2.0, true, CAST('2024-01-03' AS DATE), CAST(0.99 AS DECIMAL(10,2)), CAST('2024-01-03 00:00:00' AS TIMESTAMP));";
    run_ok(lakeshell(d.path()).args(["-q", "-c", sql]));
    let table = d.path().join("lakehouse/shop/items");
    let got = read_with_peers(
        &table,
        &["id", "name", "price", "fresh", "day", "cost", "seen"],
    );
    let expected = serde_json::json!([
        [
            "1",
            "apple",
            "1.5",
            "true",
            "2024-01-01",
            "2.50",
            "2024-01-01 10:00:00"
        ],
        [
            "2",
            "pear",
            "-0.25",
            "false",
            "2024-01-02",
            "3.10",
            "2024-01-02 11:30:00"
        ],
        ["3", null, null, null, "2024-01-02", null, null],
        [
            "4",
            "fig",
            "2.0",
            "true",
            "2024-01-03",
            "0.99",
            "2024-01-03 00:00:00"
        ],
    ]);
    let sort = |v: &Value| {
        let mut rows: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.to_string())
            .collect();
        rows.sort();
        rows
    };
    assert_eq!(sort(&got["deltalake"]), sort(&expected), "delta-rs read");
    assert_eq!(sort(&got["duckdb"]), sort(&expected), "duckdb read");
    assert_eq!(got["version"], 1);

    // CREATE OR REPLACE keeps the table (new version), and peers see the replacement.
    run_ok(lakeshell(d.path()).args([
        "-q",
        "-c",
        "CREATE OR REPLACE TABLE shop.items AS SELECT 9 AS id",
    ]));
    let got = read_with_peers(&table, &["id"]);
    assert_eq!(got["deltalake"], serde_json::json!([["9"]]));
    assert_eq!(got["duckdb"], serde_json::json!([["9"]]));
    assert_eq!(got["version"], 2);
}

#[test]
fn parquet_field_ids_do_not_reach_the_delta_schema() {
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("ids.parquet");
    peers(&["fieldid-parquet", file.to_str().unwrap()]);
    run_ok(lakeshell(d.path()).args(["-q", "-c", "CREATE TABLE t AS SELECT * FROM 'ids.parquet'"]));
    let log = std::fs::read_to_string(
        d.path()
            .join("lakehouse/default/t/_delta_log/00000000000000000000.json"),
    )
    .unwrap();
    assert!(
        !log.contains("field_id") && !log.contains("field.id"),
        "{log}"
    );
    let got = read_with_peers(&d.path().join("lakehouse/default/t"), &["k", "v"]);
    assert_eq!(
        got["duckdb"],
        serde_json::json!([["1", "x"], ["2", "y"]]),
        "DuckDB reads values, not NULLs"
    );
}

#[test]
fn lakeshell_reads_what_delta_rs_writes() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("from_python");
    peers(&["write", path.to_str().unwrap()]);
    let out = run_ok(lakeshell(d.path()).args([
        "-f",
        "csv",
        "-c",
        "SELECT id, name, score, CAST(day AS VARCHAR) AS day FROM 'from_python' ORDER BY id, day",
    ]));
    assert_eq!(stdout(&out), "id,name,score,day\n1,a,1.5,2024-01-01\n1,a,1.5,2024-01-01\n2,b,2.25,2024-01-02\n3,,-3.0,2024-01-02\n");
}
