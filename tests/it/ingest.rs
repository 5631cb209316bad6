//! COPY INTO: files loaded once each, on local disk and on the S3 server, with the record of
//! loaded files in the target's own commits; two loads at once still load each file once.

use std::fs;
use std::path::Path;

use super::common::{csv, lakeshell, py, run_ok, stderr, stdout};
use super::s3::{s3_env, start_moto, BOTO};

const ORDERS: &str = "COPY INTO bronze.orders FROM 'landing/' FILEFORMAT = CSV PATTERN = '2024-*/*.csv' FORMAT_OPTIONS ('header' = 'true', 'inferSchema' = 'true')";

fn write(dir: &Path, name: &str, text: &str) {
    let p = dir.join(name);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

/// The result row of a COPY INTO, without its header.
fn copied(dir: &Path, sql: &str) -> String {
    let out = csv(dir, sql);
    out.lines().nth(1).unwrap_or_default().to_string()
}

fn versions(dir: &Path, table: &str) -> usize {
    csv(dir, &format!("DESCRIBE HISTORY {table}"))
        .lines()
        .count()
        - 1
}

#[test]
fn copy_into_loads_each_file_once() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    write(dir, "landing/2024-01/a.csv", "id,amount\n1,10.5\n2,20\n");
    write(dir, "landing/2024-02/b.csv", "id,amount\n3,7.25\n");
    write(dir, "landing/_SUCCESS", "");
    write(dir, "landing/notes.txt", "not matched by PATTERN\n");
    // A missing table is created; the files load, and a re-run loads nothing.
    assert_eq!(copied(dir, ORDERS), "bronze.orders,2,0,3,0,0");
    assert_eq!(copied(dir, ORDERS), "bronze.orders,0,2,0,0,0");
    assert_eq!(
        csv(dir, "SELECT id, amount FROM bronze.orders ORDER BY id"),
        "id,amount\n1,10.5\n2,20.0\n3,7.25\n"
    );
    assert_eq!(
        versions(dir, "bronze.orders"),
        1,
        "a re-run commits nothing"
    );
    // A new file with a column the table lacks: refused without mergeSchema, nothing written.
    write(dir, "landing/2024-02/c.csv", "id,amount,note\n4,1,x\n");
    let out = lakeshell(dir).args(["-c", ORDERS]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("note") && err.contains("'mergeSchema' = 'true'") && err.lines().count() == 1,
        "{err}"
    );
    assert_eq!(versions(dir, "bronze.orders"), 1);
    let merged = format!("{ORDERS} COPY_OPTIONS ('mergeSchema' = 'true')");
    assert_eq!(copied(dir, &merged), "bronze.orders,1,2,1,0,1");
    assert_eq!(
        csv(dir, "SELECT id, note FROM bronze.orders ORDER BY id"),
        "id,note\n1,\n2,\n3,\n4,x\n"
    );
    // A file changed under a loaded name is not loaded again, and is named.
    write(dir, "landing/2024-02/b.csv", "id,amount\n3,7.5\n");
    assert_eq!(copied(dir, ORDERS), "bronze.orders,0,3,0,0,1");
    let out = run_ok(lakeshell(dir).args(["-c", ORDERS]));
    let all = stdout(&out);
    assert!(
        all.contains("changed since they were loaded") && all.contains("2024-02/b.csv"),
        "{all}"
    );
    // force loads every file again.
    let forced = format!("{ORDERS} COPY_OPTIONS ('force' = 'true', 'mergeSchema' = 'true')");
    assert_eq!(copied(dir, &forced), "bronze.orders,3,0,4,0,2");
    assert_eq!(
        csv(dir, "SELECT count(*) AS n FROM bronze.orders"),
        "n\n8\n"
    );
    // delta-rs reads what COPY INTO wrote, and its commit holds the record of loaded files.
    let wh = dir.join("lakehouse/bronze/orders");
    let peer = py(
        "import sys, json\nfrom deltalake import DeltaTable\nt = DeltaTable(sys.argv[1])\nprint(t.to_pyarrow_table().num_rows)\ninfo = t.history(1)[0]\nprint(len(info['lakeshell.copyInto']['files']))",
        &[wh.to_str().unwrap()],
    );
    assert_eq!(peer, "8\n3\n");
}

#[test]
fn copy_into_from_a_query_selects_file_metadata() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    write(
        dir,
        "events/1.json",
        "{\"id\": 1, \"k\": \"a\"}\n{\"id\": 2, \"k\": \"b\"}\n",
    );
    write(dir, "events/2.json", "{\"id\": 3, \"k\": \"c\"}\n");
    let sql = "COPY INTO bronze.events FROM (SELECT *, _metadata.file_name AS source_file, _metadata.file_row_index AS line, current_timestamp() AS ingested_at FROM 'events/') FILEFORMAT = JSON";
    assert_eq!(copied(dir, sql), "bronze.events,2,0,3,0,0");
    assert_eq!(
        csv(
            dir,
            "SELECT id, k, source_file, line FROM bronze.events ORDER BY id"
        ),
        "id,k,source_file,line\n1,a,1.json,0\n2,b,1.json,1\n3,c,2.json,0\n"
    );
    // `*` leaves `_metadata` out, as Databricks' hidden column is.
    let cols = csv(dir, "DESCRIBE bronze.events");
    assert!(!cols.contains("_metadata"), "{cols}");
    // A malformed file fails the load, naming the file; nothing is committed.
    write(dir, "events/3.json", "{\"id\": 4, \"k\": \"d\"}\n");
    write(dir, "events/4.json", "{\"id\": 5, \"k\"\n");
    let out = lakeshell(dir).args(["-c", sql]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("bronze.events") && err.contains("events/4.json") && err.lines().count() == 1,
        "{err}"
    );
    assert_eq!(versions(dir, "bronze.events"), 1);
    fs::remove_file(dir.join("events/4.json")).unwrap();
    assert_eq!(copied(dir, sql), "bronze.events,1,2,1,0,1");
}

#[test]
fn two_loads_at_once_load_each_file_once() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    write(dir, "landing/2024-01/a.csv", "id,amount\n1,10.5\n");
    assert_eq!(copied(dir, ORDERS), "bronze.orders,1,0,1,0,0");
    write(dir, "landing/2024-01/b.csv", "id,amount\n2,2\n");
    write(dir, "landing/2024-01/c.csv", "id,amount\n3,3\n");
    // Both read version 0 and find b and c new; one commits, the other conflicts on the files'
    // application transactions, retries, and finds nothing left to load.
    let spawn = |pause: &str| {
        lakeshell(dir)
            .env("LAKESHELL_TEST_PAUSE_BEFORE_WRITE_MS", pause)
            .args(["-f", "csv", "-c", ORDERS])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn("1500"), spawn("1500"));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(
        a.status.success() && b.status.success(),
        "{}\n{}",
        stderr(&a),
        stderr(&b)
    );
    let loaded: Vec<String> = [&a, &b]
        .iter()
        .map(|o| stdout(o).lines().nth(1).unwrap_or_default().to_string())
        .collect();
    assert!(
        loaded.contains(&"bronze.orders,2,1,2,0,1".to_string())
            && loaded.contains(&"bronze.orders,0,3,0,0,1".to_string()),
        "{loaded:?}"
    );
    assert_eq!(
        csv(dir, "SELECT id FROM bronze.orders ORDER BY id"),
        "id\n1\n2\n3\n"
    );
}

#[test]
fn copy_into_on_s3() {
    let moto = start_moto();
    py(BOTO, &[&moto.endpoint]);
    let d = tempfile::tempdir().unwrap();
    let run = |sql: &str| {
        let mut cmd = lakeshell(d.path());
        s3_env(&mut cmd, &moto.endpoint);
        let out = run_ok(cmd.args(["--warehouse", "s3://lake/wh", "-f", "csv", "-c", sql]));
        stdout(&out)
    };
    let sql = "COPY INTO bronze.orders FROM 's3://lake/landing/' FILEFORMAT = CSV FORMAT_OPTIONS ('header' = 'true', 'inferSchema' = 'true')";
    assert!(run(sql).contains("bronze.orders,1,0,2,0,0"));
    assert!(run(sql).contains("bronze.orders,0,1,0,0,0"));
    assert_eq!(
        run("SELECT id, amount FROM bronze.orders ORDER BY id"),
        "id,amount\n1,10.5\n2,20.0\n"
    );
}

#[test]
fn malformed_records_go_to_the_dead_letter_table_once() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    write(
        dir,
        "landing/a.csv",
        "id,amount\n1,10.5\n2,20,extra\n3,abc\n4,4.5\n",
    );
    write(dir, "landing/b.csv", "id,amount\n5,5\n");
    run_ok(lakeshell(dir).args([
        "-q",
        "-c",
        "CREATE TABLE bronze.orders (id BIGINT, amount DOUBLE)",
    ]));
    let plain = "COPY INTO bronze.orders FROM 'landing/' FILEFORMAT = CSV FORMAT_OPTIONS ('header' = 'true')";
    // Without a dead-letter table the load fails at the first bad record: file and line.
    let out = lakeshell(dir).args(["-c", plain]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("landing/a.csv:3: expected 2 fields, found 3 (record: 2,20,extra)")
            && err.lines().count() == 1,
        "{err}"
    );
    assert_eq!(versions(dir, "bronze.orders"), 1, "nothing committed");
    // With one, the good rows load and the bad records are kept with file, line and error.
    let kept = format!("{plain} COPY_OPTIONS ('deadLetterTable' = 'bronze.orders_dead_letter')");
    assert_eq!(copied(dir, &kept), "bronze.orders,2,0,3,2,1");
    assert_eq!(
        csv(dir, "SELECT id, amount FROM bronze.orders ORDER BY id"),
        "id,amount\n1,10.5\n4,4.5\n5,5.0\n"
    );
    let dl = "SELECT record, regexp_replace(source, '.*/', '') AS file, line, error, target, run_id IS NOT NULL AND rejected_at IS NOT NULL AS stamped FROM bronze.orders_dead_letter ORDER BY line";
    let letters = "record,file,line,error,target,stamped\n\"2,20,extra\",a.csv,3,\"expected 2 fields, found 3\",bronze.orders,true\n\"3,abc\",a.csv,4,column amount: 'abc' is not a Float64,bronze.orders,true\n";
    assert_eq!(csv(dir, dl), letters);
    // A re-run loads nothing and keeps no second copy.
    assert_eq!(copied(dir, &kept), "bronze.orders,0,2,0,0,1");
    assert_eq!(csv(dir, dl), letters);
    // read_files keeps them too, once its statement succeeds.
    let out = csv(dir, "SELECT count(*) AS n FROM read_files('landing/', header => true, dead_letter => 'bronze.read_dl')");
    assert_eq!(out, "n\n4\n");
    assert_eq!(
        csv(
            dir,
            "SELECT line, page IS NULL AS p, error FROM bronze.read_dl"
        ),
        "line,p,error\n3,true,\"expected 2 fields, found 3\"\n"
    );
    // DROPMALFORMED drops and counts; PERMISSIVE loads NULLs with the text rescued.
    let drop = "COPY INTO bronze.dropped FROM 'landing/' FILEFORMAT = CSV FORMAT_OPTIONS ('header' = 'true', 'inferSchema' = 'true', 'mode' = 'DROPMALFORMED')";
    assert_eq!(copied(dir, drop), "bronze.dropped,2,0,4,1,0");
    let keep = "COPY INTO bronze.rescued FROM 'landing/' FILEFORMAT = JSON FORMAT_OPTIONS ('mode' = 'PERMISSIVE')";
    write(dir, "events/1.json", "{\"id\": 1}\n{\"id\": 2\n");
    let keep = keep.replace("'landing/'", "'events/'");
    assert_eq!(copied(dir, &keep), "bronze.rescued,1,0,2,0,0");
    assert_eq!(
        csv(
            dir,
            "SELECT id, _rescued_data FROM bronze.rescued ORDER BY id"
        ),
        "id,_rescued_data\n1,\n,\"{\"\"id\"\": 2\"\n"
    ); // A value that does not fit its column is rescued with its file; the rest of the record loads.
    let rescue = "COPY INTO bronze.fitted FROM 'landing/' FILEFORMAT = CSV FORMAT_OPTIONS ('header' = 'true', 'mode' = 'PERMISSIVE', 'rescuedDataColumn' = 'rescued')";
    run_ok(lakeshell(dir).args([
        "-q",
        "-c",
        "CREATE TABLE bronze.fitted (id BIGINT, amount DOUBLE, rescued STRING)",
    ]));
    assert_eq!(copied(dir, rescue), "bronze.fitted,2,0,5,0,1");
    assert_eq!(
        csv(
            dir,
            "SELECT id, amount, regexp_replace(rescued, '\"file://[^\"]*/', '\"') AS rescued FROM bronze.fitted ORDER BY id NULLS LAST"
        ),
        "id,amount,rescued\n1,10.5,\n3,,\"{\"\"_file_path\"\":\"\"a.csv\"\",\"\"amount\"\":\"\"abc\"\"}\"\n4,4.5,\n5,5.0,\n,,\"2,20,extra\"\n"
    );
}

/// The README's ingestion example, `sql/ingest/`, against the local API server: each mode of
/// the calls pipeline twice, the landing folder with dead letters, the metadata-driven load.
#[test]
fn the_ingest_example_runs_every_mode_and_reruns_change_nothing() {
    let api = super::api::start_api();
    let p = super::common::project();
    let dir = p.path();
    let run = |args: &[&str]| {
        let mut cmd = lakeshell(dir);
        cmd.env("CALLS_TOKEN", "calls-token").arg("run").args(args);
        cmd
    };
    let api_var = format!("api={}", api.base);
    for job in ["backfill", "daily", "monthly", "daily"] {
        let vars = format!("sql/ingest/jobs/{job}.toml");
        run_ok(&mut run(&[
            "sql/ingest/calls",
            "--vars-file",
            &vars,
            "--var",
            &api_var,
        ]));
        assert_eq!(
            csv(
                dir,
                "SELECT count(*) AS n, count(DISTINCT call_key) AS k FROM bronze.calls"
            ),
            "n,k\n25,25\n",
            "{job}"
        );
    }
    assert_eq!(
        csv(
            dir,
            "SELECT count(*) AS n, sum(minutes) AS m FROM silver.calls"
        ),
        "n,m\n25,162.5\n"
    );
    // The landing folder: good rows in, bad records kept once however often it runs.
    for _ in 0..2 {
        run_ok(&mut run(&[
            "sql/ingest/landing",
            "--var",
            "landing=fixtures/ingest/landing",
        ]));
    }
    assert_eq!(
        csv(dir, "SELECT order_id FROM bronze.orders ORDER BY order_id"),
        "order_id\n1\n2\n3\n"
    );
    assert_eq!(
        csv(
            dir,
            "SELECT line, error FROM bronze.orders_dead_letter ORDER BY line"
        ),
        "line,error\n3,column amount: 'oops' is not a Float64\n4,\"expected 3 fields, found 4\"\n"
    );
    // Metadata-driven: one run per source table, each reported.
    let report = dir.join("for-each.json");
    for _ in 0..2 {
        run_ok(&mut run(&[
            "sql/ingest/load_table.sql",
            "--for-each",
            "sql/ingest/sources.json",
            "--var",
            "landing=fixtures/ingest/landing",
            "--report",
            report.to_str().unwrap(),
        ]));
    }
    assert_eq!(
        csv(dir, "SELECT (SELECT count(*) FROM bronze.customers) AS c, (SELECT count(*) FROM bronze.products) AS p, (SELECT count(*) FROM bronze.products_dead_letter) AS d"),
        "c,p,d\n3,2,1\n"
    );
    let r: serde_json::Value = serde_json::from_str(&fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["elements"].as_array().unwrap().len(), 2);
    assert_eq!(r["elements"][1]["vars"]["table"], "bronze.products");
    // A failed element is reported and the others still run; --fail-fast stops at it.
    write(
        dir,
        "sources-bad.json",
        r#"[{"table": "bronze.c2", "folder": "customers", "format": "AVRO"},
            {"table": "bronze.c3", "folder": "customers", "format": "CSV"}]"#,
    );
    let bad = |extra: &[&str]| {
        let mut args = vec![
            "sql/ingest/load_table.sql",
            "--for-each",
            "sources-bad.json",
            "--var",
            "landing=fixtures/ingest/landing",
        ];
        args.extend_from_slice(extra);
        run(&args).output().unwrap()
    };
    let out = bad(&["--fail-fast"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("1 failed (element 1), 1 skipped after --fail-fast"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.join("lakehouse/bronze/c3/_delta_log").exists());
    let out = bad(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("2 element(s), 1 ok, 1 failed (element 1)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(csv(dir, "SELECT count(*) AS n FROM bronze.c3"), "n\n3\n");
}

#[test]
fn a_tables_expectations_apply_to_what_copy_into_loads() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    write(dir, "landing/a.csv", "id,amount\n1,10\n2,-5\n3,7\n");
    run_ok(lakeshell(dir).args([
        "-q",
        "-c",
        "CREATE TABLE bronze.orders (id BIGINT, amount DOUBLE)",
        "-c",
        "ALTER TABLE bronze.orders ADD CONSTRAINT positive EXPECT (amount > 0) ON VIOLATION DROP ROW",
    ]));
    let sql = "COPY INTO bronze.orders FROM 'landing/' FILEFORMAT = CSV FORMAT_OPTIONS ('header' = 'true')";
    assert_eq!(copied(dir, sql), "bronze.orders,1,0,2,0,2");
    assert_eq!(
        csv(dir, "SELECT id FROM bronze.orders ORDER BY id"),
        "id\n1\n3\n"
    );
    let q = csv(dir, "SELECT count(*) AS n FROM bronze.orders_quarantine");
    assert_eq!(q, "n\n1\n");
}

/// `sql/ingest/load_incremental.sql`: each table's own watermark, and a backfill by --var.
#[test]
fn each_table_loads_past_its_own_watermark_and_a_backfill_is_safe() {
    let p = super::common::project();
    let dir = p.path();
    let run = |extra: &[&str]| {
        let mut cmd = lakeshell(dir);
        cmd.args([
            "-q",
            "run",
            "sql/ingest/load_incremental.sql",
            "--for-each",
            "sql/ingest/tables.json",
            "--var",
            "landing=fixtures/ingest/tables",
        ])
        .args(extra);
        run_ok(&mut cmd);
    };
    let accounts = "SELECT account_id, name FROM bronze.accounts ORDER BY account_id";
    run(&[]);
    run(&[]);
    assert_eq!(csv(dir, accounts), "account_id,name\n1,Ada\n2,Brook\n");
    assert_eq!(
        csv(dir, "SELECT count(*) AS n FROM bronze.stores"),
        "n\n3\n"
    );
    // A newer version of 1 loads; an older one of 2, behind the watermark, does not.
    write(
        dir,
        "fixtures/ingest/tables/accounts/accounts-2.csv",
        "account_id,name,updated_at\n1,Ada Lovelace,2024-01-05T09:00:00\n2,Old Brook,2023-12-01T09:00:00\n",
    );
    run(&[]);
    assert_eq!(
        csv(dir, accounts),
        "account_id,name\n1,Ada Lovelace\n2,Brook\n"
    );
    // A backfill reads everything again and keeps the newest of each key.
    run(&["--var", "from_date=2000-01-01"]);
    assert_eq!(
        csv(dir, accounts),
        "account_id,name\n1,Ada Lovelace\n2,Brook\n"
    );
    assert_eq!(
        csv(dir, "SELECT count(*) AS n FROM bronze.stores"),
        "n\n3\n"
    );
}
