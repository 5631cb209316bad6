//! The README's main job: `lakeshell run sql/quickstart`, run twice in a copy of the repo's
//! fixtures; both runs leave the same tables.

use super::common::{copy_dir, lakeshell, repo, run_ok, stdout};

fn snapshot(dir: &std::path::Path) -> String {
    let sql = "SELECT * FROM bronze.orders ORDER BY order_id, order_ts; \
               SELECT * FROM bronze.customers ORDER BY customer_id; \
               SELECT * FROM silver.orders ORDER BY order_id; \
               SELECT * FROM gold.revenue_by_country ORDER BY country;";
    stdout(&run_ok(lakeshell(dir).args(["-f", "csv", "-c", sql])))
}

#[test]
fn quickstart_runs_twice_with_the_same_tables() {
    let d = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("fixtures"), &d.path().join("fixtures"));
    copy_dir(&repo().join("sql"), &d.path().join("sql"));
    let first = run_ok(lakeshell(d.path()).args(["run", "sql/quickstart"]));
    let report = stdout(&first);
    assert!(report.contains("gold.revenue_by_country"), "{report}");
    let after_first = snapshot(d.path());
    run_ok(lakeshell(d.path()).args(["run", "sql/quickstart"]));
    let after_second = snapshot(d.path());
    assert_eq!(after_first, after_second);
    // Silver is cleaned: no null ids, no negative amounts, no duplicates, statuses normalised.
    assert!(
        after_first.contains("NL,2,133.49") || after_first.contains("NL,3,153.39"),
        "{after_first}"
    );
    let silver = stdout(&run_ok(lakeshell(d.path()).args([
        "-f",
        "csv",
        "-c",
        "SELECT count(*) AS n, count(DISTINCT order_id) AS d, min(amount) AS m FROM silver.orders",
    ])));
    assert_eq!(silver, "n,d,m\n7,7,12.99\n");
    // The second run wrote new versions of the same tables: history survives.
    let dt = stdout(&run_ok(lakeshell(d.path()).args([
        "-f",
        "csv",
        "-c",
        "\\dt gold.*",
    ])));
    assert!(dt.contains("gold.revenue_by_country,managed,1,"), "{dt}");
}
