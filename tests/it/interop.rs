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

/// Reads `table` with lakeshell as rows of strings (CSV, no NULLs in these tables).
fn read_with_lakeshell(dir: &std::path::Path, table: &str, cols: &[&str]) -> Vec<Vec<String>> {
    let out = run_ok(lakeshell(dir).args([
        "-f",
        "csv",
        "-c",
        &format!("SELECT {} FROM {table}", cols.join(", ")),
    ]));
    let mut rows: Vec<Vec<String>> = stdout(&out)
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    rows.sort_by_key(|r| serde_json::to_string(r).unwrap());
    rows
}

fn rows(v: &[&[&str]]) -> Vec<Vec<String>> {
    let mut r: Vec<Vec<String>> = v
        .iter()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    r.sort_by_key(|r| serde_json::to_string(r).unwrap());
    r
}

#[test]
fn peers_read_tables_changed_by_every_statement() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("plain")).unwrap();
    let script = r#"
        CREATE TABLE base AS SELECT * FROM (VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd')) AS v(id, name);
        CREATE TABLE upd AS SELECT * FROM base;
        UPDATE upd SET name = upper(name) WHERE id IN (SELECT id FROM base WHERE id > 2);
        CREATE TABLE del AS SELECT * FROM base;
        DELETE FROM del WHERE id = (SELECT min(id) FROM base);
        CREATE TABLE mrg AS SELECT * FROM base;
        MERGE INTO mrg t USING (SELECT 2 AS id, 'B' AS name UNION ALL SELECT 5, 'e') AS s ON t.id = s.id
          WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT * WHEN NOT MATCHED BY SOURCE AND t.id = 4 THEN DELETE;
        CREATE TABLE rpl PARTITIONED BY (name) AS SELECT * FROM base;
        INSERT INTO rpl REPLACE WHERE name = 'a' SELECT 10 AS id, 'a' AS name;
        CREATE TABLE opt PARTITIONED BY (name) AS SELECT * FROM base;
        INSERT INTO opt VALUES (5, 'a');
        INSERT INTO opt VALUES (6, 'a');
        OPTIMIZE opt ZORDER BY (id);
        CREATE TABLE rst AS SELECT * FROM base;
        DELETE FROM rst;
        RESTORE TABLE rst TO VERSION AS OF 0;
        CREATE TABLE alt AS SELECT * FROM base;
        ALTER TABLE alt ADD CONSTRAINT pos CHECK (id > 0);
        ALTER TABLE alt ADD COLUMNS (note STRING);
        ALTER TABLE alt SET TBLPROPERTIES ('owner' = 'x');
        INSERT INTO alt VALUES (5, 'e', 'n');
        CREATE TABLE cdf TBLPROPERTIES ('delta.enableChangeDataFeed' = 'true') AS SELECT * FROM base;
        UPDATE cdf SET name = 'z' WHERE id = 1;
        DELETE FROM cdf WHERE id = 2;
        CREATE TABLE gen (id BIGINT NOT NULL, name STRING, tag STRING GENERATED ALWAYS AS (upper(name)));
        INSERT INTO gen (id, name) SELECT id, name FROM base;
        CREATE TABLE cln DEEP CLONE base;
        SET spark.databricks.delta.retentionDurationCheck.enabled = false;
        CREATE TABLE vac AS SELECT * FROM base;
        DELETE FROM vac WHERE id > 2;
        VACUUM vac RETAIN 0 HOURS;
        CREATE TABLE ovw AS SELECT * FROM base;
        INSERT OVERWRITE ovw SELECT * FROM base WHERE id % 2 = 0;
        CREATE TABLE fsk PARTITIONED BY (name) AS SELECT * FROM base;
        COPY (SELECT * FROM base) TO 'plain/part-0.parquet';
        CONVERT TO DELTA parquet.`plain`;
    "#;
    std::fs::write(d.path().join("all.sql"), script).unwrap();
    run_ok(lakeshell(d.path()).args(["-q", "run", "all.sql"]));
    // A lost data file, then FSCK REPAIR.
    let lost = std::fs::read_dir(d.path().join("lakehouse/default/fsk/name=b"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "parquet"))
        .unwrap();
    std::fs::remove_file(lost).unwrap();
    run_ok(lakeshell(d.path()).args(["-q", "-c", "FSCK REPAIR TABLE fsk"]));
    let cases: Vec<(&str, &str, Vec<Vec<String>>)> = vec![
        (
            "upd",
            "default/upd",
            rows(&[&["1", "a"], &["2", "b"], &["3", "C"], &["4", "D"]]),
        ),
        (
            "del",
            "default/del",
            rows(&[&["2", "b"], &["3", "c"], &["4", "d"]]),
        ),
        (
            "mrg",
            "default/mrg",
            rows(&[&["1", "a"], &["2", "B"], &["3", "c"], &["5", "e"]]),
        ),
        (
            "rpl",
            "default/rpl",
            rows(&[&["10", "a"], &["2", "b"], &["3", "c"], &["4", "d"]]),
        ),
        (
            "opt",
            "default/opt",
            rows(&[
                &["1", "a"],
                &["2", "b"],
                &["3", "c"],
                &["4", "d"],
                &["5", "a"],
                &["6", "a"],
            ]),
        ),
        (
            "rst",
            "default/rst",
            rows(&[&["1", "a"], &["2", "b"], &["3", "c"], &["4", "d"]]),
        ),
        (
            "alt",
            "default/alt",
            rows(&[
                &["1", "a"],
                &["2", "b"],
                &["3", "c"],
                &["4", "d"],
                &["5", "e"],
            ]),
        ),
        (
            "cdf",
            "default/cdf",
            rows(&[&["1", "z"], &["3", "c"], &["4", "d"]]),
        ),
        (
            "gen",
            "default/gen",
            rows(&[&["1", "a"], &["2", "b"], &["3", "c"], &["4", "d"]]),
        ),
        (
            "cln",
            "default/cln",
            rows(&[&["1", "a"], &["2", "b"], &["3", "c"], &["4", "d"]]),
        ),
        ("vac", "default/vac", rows(&[&["1", "a"], &["2", "b"]])),
        ("ovw", "default/ovw", rows(&[&["2", "b"], &["4", "d"]])),
        (
            "fsk",
            "default/fsk",
            rows(&[&["1", "a"], &["3", "c"], &["4", "d"]]),
        ),
        (
            "delta.`plain`",
            "../plain",
            rows(&[&["1", "a"], &["2", "b"], &["3", "c"], &["4", "d"]]),
        ),
    ];
    for (table, dir, expected) in cases {
        let path = d.path().join("lakehouse").join(dir);
        let got = read_with_peers(&path, &["id", "name"]);
        let as_rows = |v: &Value| -> Vec<Vec<String>> {
            let mut r: Vec<Vec<String>> = serde_json::from_value(v.clone()).unwrap();
            r.sort_by_key(|r| serde_json::to_string(r).unwrap());
            r
        };
        assert_eq!(
            as_rows(&got["deltalake"]),
            expected,
            "delta-rs reads {table}"
        );
        assert_eq!(as_rows(&got["duckdb"]), expected, "DuckDB reads {table}");
        assert_eq!(
            read_with_lakeshell(d.path(), table, &["id", "name"]),
            expected,
            "lakeshell reads {table}"
        );
    }
    // The generated column, as every engine computes it.
    let got = read_with_peers(&d.path().join("lakehouse/default/gen"), &["id", "tag"]);
    assert_eq!(
        got["duckdb"],
        serde_json::json!([["1", "A"], ["2", "B"], ["3", "C"], ["4", "D"]])
    );
}

#[test]
fn lakeshell_reads_what_delta_rs_changes() {
    let d = tempfile::tempdir().unwrap();
    run_ok(lakeshell(d.path()).args([
        "-q",
        "-c",
        "CREATE TABLE t AS SELECT * FROM (VALUES (1, 'a'), (2, 'b'), (3, 'c')) AS v(id, name)",
    ]));
    let path = d.path().join("lakehouse/default/t");
    peers(&["mutate", path.to_str().unwrap()]);
    let expected = rows(&[&["1", "one"], &["3", "three"], &["9", "nine"]]);
    assert_eq!(
        read_with_lakeshell(d.path(), "t", &["id", "name"]),
        expected
    );
    // And lakeshell keeps writing to it: history shows both writers.
    run_ok(lakeshell(d.path()).args(["-q", "-c", "UPDATE t SET name = 'ONE' WHERE id = 1"]));
    let out = run_ok(lakeshell(d.path()).args(["-f", "csv", "-c", "DESCRIBE HISTORY t"]));
    let text = stdout(&out);
    for op in ["WRITE", "UPDATE", "DELETE", "MERGE", "lakeshell/"] {
        assert!(text.contains(op), "{op} in history:\n{text}");
    }
    let got = read_with_peers(&path, &["id", "name"]);
    assert_eq!(
        got["deltalake"],
        serde_json::json!([["1", "ONE"], ["3", "three"], ["9", "nine"]])
    );
}
