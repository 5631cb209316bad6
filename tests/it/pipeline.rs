//! The medallion example (`sql/medallion`, `sql/checks`) as a user runs it from the README.

use std::path::Path;

use super::common::{csv, lakeshell, project, run_ok, stderr, stdout};

const NOW: &str = "2026-11-21T06:00:00Z";

/// Every table of the pipeline, ingestion-time and run columns aside.
fn tables(dir: &Path) -> String {
    csv(
        dir,
        "SELECT * EXCLUDE (_ingested_at, _run_id) FROM bronze.orders ORDER BY _record_hash; \
         SELECT * EXCLUDE (_ingested_at, _run_id) FROM bronze.sensor_readings ORDER BY _record_hash; \
         SELECT * FROM silver.orders ORDER BY order_id; \
         SELECT * EXCLUDE (_run_id, _quarantined_at, _target_version) FROM silver.orders_quarantine ORDER BY _quarantine_key; \
         SELECT * FROM silver.sensor_readings ORDER BY sensor_id, reading_ts; \
         SELECT * EXCLUDE (_run_id, _quarantined_at, _target_version) FROM silver.sensor_readings_quarantine ORDER BY _quarantine_key; \
         SELECT * FROM silver.customers ORDER BY customer_id; \
         SELECT * FROM gold.daily_revenue ORDER BY order_date; \
         SELECT * FROM gold.revenue_by_country ORDER BY country; \
         SELECT * FROM gold.sensor_hourly ORDER BY sensor_id, hour;",
    )
}

fn report(dir: &Path, name: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
}

/// The report's files, by file name, in run order.
fn file_names(report: &serde_json::Value) -> Vec<String> {
    report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            f["file"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// The report's row for the silver MERGE (silver_orders.sql, line 20).
fn silver_merge(report: &serde_json::Value) -> serde_json::Value {
    report["statements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["file"].as_str().unwrap().ends_with("silver_orders.sql") && s["line"] == 20)
        .unwrap()
        .clone()
}

#[test]
fn medallion_runs_twice_and_after_a_full_refresh_with_the_same_rows() {
    let d = project();
    let first =
        run_ok(lakeshell(d.path()).args(["run", "sql/medallion", "--report", "first.json"]));
    let notes = stdout(&first);
    assert!(
        notes.contains("note: expectation valid_order_id on silver.orders: dropped 1 row(s), kept in silver.orders_quarantine"),
        "{notes}"
    );
    assert!(
        stderr(&first).contains("5 file(s), 17 statement(s) ok"),
        "{}",
        stderr(&first)
    );
    let after_first = tables(d.path());
    run_ok(lakeshell(d.path()).args(["-q", "run", "sql/medallion", "--report", "second.json"]));
    assert_eq!(after_first, tables(d.path()), "a re-run changes no table");
    run_ok(lakeshell(d.path()).args(["-q", "run", "sql/medallion", "--full-refresh"]));
    assert_eq!(
        after_first,
        tables(d.path()),
        "a full refresh changes no table"
    );

    // Silver: typed, deduplicated to the latest state, bad rows held back with their reasons.
    assert_eq!(
        csv(d.path(), "SELECT order_id, status, amount FROM silver.orders ORDER BY order_id"),
        "order_id,status,amount\n1001,placed,120.50\n1002,placed,75.00\n1003,delivered,42.10\n1004,placed,19.99\n1006,teleported,30.00\n1007,placed,200.00\n1008,cancelled,15.25\n1009,placed,64.00\n"
    );
    assert_eq!(
        csv(
            d.path(),
            "SELECT order_id, amount, _expectations FROM silver.orders_quarantine ORDER BY amount"
        ),
        "order_id,amount,_expectations\n1005,-5.00,[positive_amount]\n,10.00,[valid_order_id]\n"
    );
    assert_eq!(
        csv(
            d.path(),
            "SELECT * FROM gold.daily_revenue ORDER BY order_date"
        ),
        "order_date,orders,customers,revenue\n2026-11-19,4,3,245.49\n2026-11-20,3,3,306.10\n"
    );
    // Quality figures of the first run's silver write, tied to the version it committed.
    let first_report = report(d.path(), "first.json");
    let run_id = first_report["run_id"].as_str().unwrap();
    let silver_version = silver_merge(&first_report)["version"].as_u64().unwrap();
    assert_eq!(
        csv(
            d.path(),
            &format!(
                "SELECT expectation, action, rows_checked, rows_failed, status, table_version FROM lakeshell.quality_results \
                 WHERE run_id = '{run_id}' AND table_name = 'silver.orders' ORDER BY expectation"
            )
        ),
        format!(
            "expectation,action,rows_checked,rows_failed,status,table_version\n\
             has_customer,warn,8,1,warn,{v}\nknown_status,warn,8,1,warn,{v}\n\
             positive_amount,drop,10,1,warn,{v}\nvalid_order_id,drop,10,1,warn,{v}\n",
            v = silver_version
        )
    );
    // The re-run read nothing new from bronze: the silver MERGE got no rows.
    let second = report(d.path(), "second.json");
    let merged = silver_merge(&second);
    assert_eq!(merged["status"], "ok");
    assert_eq!(merged["rows_affected"], 0, "{merged}");
    // The README's health and quality queries.
    let health = csv(d.path(), "SELECT run_id, min(started_at) AS started, count(*) FILTER (WHERE status = 'failed') AS failed FROM lakeshell.run_log GROUP BY run_id ORDER BY started DESC");
    assert_eq!(health.lines().count(), 4, "{health}");
    let quality = csv(d.path(), "SELECT table_name, expectation, sum(rows_failed) AS failed, max(checked_at) AS last FROM lakeshell.quality_results GROUP BY table_name, expectation ORDER BY failed DESC");
    // One dropped row on the first run, none on the re-run, one again on the full refresh.
    assert!(
        quality.contains("silver.orders,valid_order_id,2,"),
        "{quality}"
    );
    // The run log holds one row per statement of every run.
    assert_eq!(
        csv(d.path(), "SELECT count(DISTINCT run_id) AS runs, count(*) AS statements, count(*) FILTER (WHERE status = 'ok') AS ok FROM lakeshell.run_log"),
        "runs,statements,ok\n3,51,51\n"
    );
}

#[test]
fn files_run_in_dependency_order_not_name_order() {
    let d = project();
    run_ok(lakeshell(d.path()).args(["-q", "run", "sql/medallion", "--report", "r.json"]));
    let files = file_names(&report(d.path(), "r.json"));
    assert_eq!(
        files,
        [
            "bronze.sql",
            "silver_orders.sql",
            "silver_sensors.sql",
            "gold.sql",
            "maintenance.sql"
        ]
    );
}

#[test]
fn incremental_runs_read_only_new_bronze_rows() {
    let d = project();
    run_ok(lakeshell(d.path()).args(["-q", "run", "sql/medallion"]));
    std::fs::write(
        d.path().join("fixtures/medallion/orders/orders_2026-11-21.csv"),
        "order_id,customer_id,order_ts,status,amount\n1010,C4,2026-11-21 08:00:00,placed,50.00\n1002,C2,2026-11-21 09:00:00,shipped,75.00\n",
    )
    .unwrap();
    run_ok(lakeshell(d.path()).args(["-q", "run", "sql/medallion", "--report", "r.json"]));
    let r = report(d.path(), "r.json");
    let silver = silver_merge(&r);
    assert_eq!(
        silver["rows_affected"], 2,
        "one insert, one update: {silver}"
    );
    let run_id = r["run_id"].as_str().unwrap();
    assert_eq!(
        csv(
            d.path(),
            &format!("SELECT rows_checked FROM lakeshell.quality_results WHERE run_id = '{run_id}' AND expectation = 'valid_order_id'")
        ),
        "rows_checked\n2\n",
        "only the two new bronze rows reached silver's expectations"
    );
    assert_eq!(
        csv(
            d.path(),
            "SELECT status FROM silver.orders WHERE order_id IN (1002, 1010) ORDER BY order_id"
        ),
        "status\nshipped\nplaced\n"
    );
}

#[test]
fn a_failure_stops_the_run_skips_downstream_and_the_next_run_resumes() {
    let d = project();
    let silver = d.path().join("sql/medallion/silver_orders.sql");
    let good = std::fs::read_to_string(&silver).unwrap();
    // A typo in the silver MERGE: bronze runs, silver fails, gold and maintenance are skipped.
    std::fs::write(
        &silver,
        good.replace("lower(trim(status))", "lower(trim(statu))"),
    )
    .unwrap();
    let out = lakeshell(d.path())
        .args(["run", "sql/medallion", "--report", "r.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("error: sql/medallion/silver_orders.sql:20: MERGE INTO silver.orders AS t"),
        "{err}"
    );
    assert!(
        err.contains("skipped sql/medallion/silver_sensors.sql, sql/medallion/gold.sql, sql/medallion/maintenance.sql"),
        "{err}"
    );
    let r = report(d.path(), "r.json");
    assert_eq!(r["status"], "failed");
    let status: Vec<(String, String)> = r["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["file"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_string(),
                f["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        status,
        [
            ("bronze.sql".into(), "ok".into()),
            ("silver_orders.sql".into(), "failed".into()),
            ("silver_sensors.sql".into(), "skipped".into()),
            ("gold.sql".into(), "skipped".into()),
            ("maintenance.sql".into(), "skipped".into()),
        ]
        .map(|(a, b): (String, String)| (a, b))
    );
    let why: Vec<&str> = r["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["skipped_because"].as_str())
        .collect();
    assert_eq!(
        why,
        [
            "the run stopped when silver_orders.sql failed",
            "downstream of silver_orders.sql, which failed",
            "downstream of silver_orders.sql, which failed"
        ]
    );
    let failed = r["statements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["status"] == "failed")
        .unwrap()
        .clone();
    assert_eq!(failed["line"], 20);
    assert!(
        failed["error"].as_str().unwrap().contains("statu"),
        "{failed}"
    );
    // Nothing of the failed statement was committed, and no position was recorded for it.
    assert_eq!(
        csv(d.path(), "SELECT count(*) AS n FROM silver.orders"),
        "n\n0\n"
    );
    assert!(!d.path().join("lakehouse/gold").exists());
    assert_eq!(
        csv(
            d.path(),
            "SELECT status, count(*) AS n FROM lakeshell.run_log GROUP BY status ORDER BY status"
        ),
        "status,n\nfailed,1\nok,6\nskipped,10\n"
    );
    // Fixed, the next run picks up every bronze row since the last good silver run (none).
    std::fs::write(&silver, good).unwrap();
    run_ok(lakeshell(d.path()).args(["-q", "run", "sql/medallion"]));
    assert_eq!(
        csv(d.path(), "SELECT count(*) AS n FROM silver.orders"),
        "n\n8\n"
    );
}

#[test]
fn select_runs_a_file_and_what_depends_on_it() {
    let d = project();
    run_ok(lakeshell(d.path()).args(["-q", "run", "sql/medallion"]));
    run_ok(lakeshell(d.path()).args([
        "-q",
        "run",
        "sql/medallion",
        "--select",
        "silver.sensor_readings+",
        "--report",
        "r.json",
    ]));
    let files = file_names(&report(d.path(), "r.json"));
    assert_eq!(files, ["silver_sensors.sql", "gold.sql", "maintenance.sql"]);
    run_ok(lakeshell(d.path()).args([
        "-q",
        "run",
        "sql/medallion",
        "--select",
        "silver_orders+",
        "--report",
        "r.json",
    ]));
    let files = file_names(&report(d.path(), "r.json"));
    assert_eq!(files, ["silver_orders.sql", "gold.sql", "maintenance.sql"]);
    let out = lakeshell(d.path())
        .args(["run", "sql/medallion", "--select", "platinum"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--select platinum: no file or written table is called platinum; the files are bronze.sql, silver_orders.sql"), "{}", stderr(&out));
}

#[test]
fn check_reports_each_expectation_and_fails_on_a_failing_one() {
    let d = project();
    run_ok(lakeshell(d.path()).args(["-q", "run", "sql/medallion"]));
    let ok = run_ok(lakeshell(d.path()).args(["-f", "csv", "check", "sql/checks", "--now", NOW]));
    let text = stdout(&ok);
    assert!(text.contains(",known_customer,EXPECT (customer_id) REFERENCES silver.customers (customer_id),8,1,warn,\"{order_id: 1008, customer_id: C9,"), "{text}");
    assert!(text.contains("fresh_orders,"), "{text}");
    assert!(
        text.contains(",pass,newest 2026-11-20T16:40:00; oldest allowed 2026-11-20T06:00:00"),
        "{text}"
    );
    // Two days later the orders are stale: a FAIL expectation fails, exit code 1.
    let late = lakeshell(d.path())
        .args([
            "-f",
            "csv",
            "check",
            "sql/checks",
            "--now",
            "2026-11-23T06:00:00Z",
        ])
        .output()
        .unwrap();
    assert_eq!(late.status.code(), Some(1));
    assert!(
        stdout(&late)
            .contains(",fail,newest 2026-11-20T16:40:00; oldest allowed 2026-11-22T06:00:00"),
        "{}",
        stdout(&late)
    );
    assert!(
        stderr(&late).contains("error: sql/checks/medallion.sql:7: CHECK silver.orders (: silver.orders: expectation(s) failed: fresh_orders"),
        "{}",
        stderr(&late)
    );
    // A given version: silver.orders version 0 is the empty table.
    let old = lakeshell(d.path())
        .args([
            "-f",
            "csv",
            "check",
            "sql/checks",
            "--now",
            NOW,
            "--as-of",
            "silver.orders=0",
        ])
        .output()
        .unwrap();
    assert_eq!(old.status.code(), Some(1));
    assert!(stdout(&old).contains("silver.orders,0,some_orders,EXPECT ROW COUNT BETWEEN 1 AND 1000000 ON VIOLATION FAIL UPDATE,0,,fail,0 rows"), "{}", stdout(&old));
    // Every check is in the results table.
    assert_eq!(
        csv(d.path(), "SELECT count(DISTINCT run_id) AS runs FROM lakeshell.quality_results WHERE source = 'CHECK'"),
        "runs\n3\n"
    );
}
