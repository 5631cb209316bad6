//! Logic checks, as SQLancer does them (the reliability campaign's part 8): ternary logic
//! partitioning over a partitioned table whose files carry statistics. For a predicate `p`,
//! every row is in exactly one of `WHERE p`, `WHERE NOT (p)` and `WHERE (p) IS NULL`, so their
//! counts add up to the table's; and each count is the same with data skipping on and off, and
//! the same as DuckDB's over the same table.

use std::collections::HashMap;

use lakeshell::engine::{ExecOptions, Outcome};

use super::common::{campaign_count, campaign_seed, engine, format_rows, py, Rng};

/// A predicate over `id BIGINT, p STRING, amount DOUBLE, day DATE, note STRING` that DuckDB
/// and lakeshell read alike.
fn predicate(r: &mut Rng, depth: usize) -> String {
    if depth > 0 && r.below(3) == 0 {
        let a = predicate(r, depth - 1);
        let b = predicate(r, depth - 1);
        return match r.below(3) {
            0 => format!("({a} AND {b})"),
            1 => format!("({a} OR {b})"),
            _ => format!("NOT ({a})"),
        };
    }
    let n = r.below(60) as i64 - 5;
    match r.below(12) {
        0 => format!("id > {n}"),
        1 => format!("id % 7 = {}", n.rem_euclid(7)),
        2 => format!("amount < {n}.5"),
        3 => "amount IS NULL".to_string(),
        4 => format!("p = '{}'", ["a", "b", "c", "z"][r.below(4)]),
        5 => format!("p IN ('a', '{}')", ["b", "c", "z"][r.below(3)]),
        6 => format!("day >= DATE '2024-01-{:02}'", 1 + r.below(28)),
        7 => format!("note LIKE '{}%'", ["n", "x", ""][r.below(3)]),
        8 => format!("id BETWEEN {n} AND {}", n + 10),
        9 => format!("coalesce(amount, -1) > {n}"),
        10 => format!("(CASE WHEN p = 'a' THEN amount ELSE id END) > {n}"),
        _ => format!("note IS NOT NULL AND id < {n}"),
    }
}

async fn count(e: &lakeshell::engine::Engine, sql: &str) -> i64 {
    match e
        .execute(sql, &ExecOptions::default())
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"))
    {
        Outcome::Rows(rows) => format_rows(&rows.collect().await.unwrap())[0]
            .parse()
            .unwrap(),
        other => panic!("{sql}: {other:?}"),
    }
}

#[test]
fn ternary_partitions_add_up_with_and_without_skipping_and_agree_with_duckdb() {
    let n = campaign_count("LAKESHELL_LOGIC_PREDICATES", 150);
    let seed = campaign_seed();
    let d = tempfile::tempdir().unwrap();
    let warehouse = d.path().join("lakehouse");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let skipping = engine(&warehouse, HashMap::new());
    rt.block_on(async {
        for sql in [
            "CREATE TABLE d.l (id BIGINT, p STRING, amount DOUBLE, day DATE, note STRING) PARTITIONED BY (p)",
            // Several files per partition, each with its own range of ids and days, and NULLs.
            "INSERT INTO d.l SELECT value, CASE WHEN value % 3 = 0 THEN 'a' WHEN value % 3 = 1 THEN 'b' ELSE NULL END, CASE WHEN value % 5 = 0 THEN NULL ELSE value * 1.5 END, DATE '2024-01-01' + CAST(value % 20 AS INT), CASE WHEN value % 4 = 0 THEN NULL ELSE 'n' || value END FROM generate_series(0, 19)",
            "INSERT INTO d.l SELECT value, 'c', value - 30.0, DATE '2024-01-15' + CAST(value % 10 AS INT), 'x' FROM generate_series(20, 39)",
            "INSERT INTO d.l SELECT value, CASE WHEN value % 2 = 0 THEN 'a' ELSE 'b' END, NULL AS amount, NULL AS day, NULL AS note FROM generate_series(40, 54)",
        ] {
            skipping
                .execute(sql, &ExecOptions::default())
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
    });
    // A second session reads every file whole: no pruning by statistics, no row filters.
    let plain = engine(&warehouse, HashMap::new());
    rt.block_on(async {
        for sql in [
            "SET datafusion.execution.parquet.pruning = false",
            "SET datafusion.execution.parquet.pushdown_filters = false",
            "SET datafusion.optimizer.filter_null_join_keys = false",
        ] {
            plain.execute(sql, &ExecOptions::default()).await.unwrap();
        }
    });
    let mut r = Rng(seed);
    let predicates: Vec<String> = (0..n).map(|_| predicate(&mut r, 2)).collect();
    let total = rt.block_on(count(&skipping, "SELECT count(*) FROM d.l"));
    assert_eq!(total, 55);
    let mut ours = Vec::new();
    let mut problems = Vec::new();
    for p in &predicates {
        let (t, f, u, t_plain) = rt.block_on(async {
            (
                count(&skipping, &format!("SELECT count(*) FROM d.l WHERE {p}")).await,
                count(
                    &skipping,
                    &format!("SELECT count(*) FROM d.l WHERE NOT ({p})"),
                )
                .await,
                count(
                    &skipping,
                    &format!("SELECT count(*) FROM d.l WHERE ({p}) IS NULL"),
                )
                .await,
                count(&plain, &format!("SELECT count(*) FROM d.l WHERE {p}")).await,
            )
        });
        if t + f + u != total {
            problems.push(format!("{p}: {t} + {f} + {u} != {total}"));
        }
        if t != t_plain {
            problems.push(format!("{p}: {t} with data skipping, {t_plain} without"));
        }
        ours.push(t);
    }
    // DuckDB, over the same table, the same predicates.
    let table = warehouse.join("d/l");
    let code = "import sys, json\nsys.path.insert(0, sys.argv[3])\nfrom peers import delta_extension\nimport duckdb\ncon = duckdb.connect(config={'allow_unsigned_extensions': 'true'})\ncon.execute(\"LOAD '%s'\" % delta_extension())\nps = json.loads(open(sys.argv[2]).read())\nprint(json.dumps([con.execute(f\"SELECT count(*) FROM delta_scan('{sys.argv[1]}') WHERE {p}\").fetchone()[0] for p in ps]))";
    let list = d.path().join("predicates.json");
    std::fs::write(&list, serde_json::to_string(&predicates).unwrap()).unwrap();
    let tests_dir = super::common::repo().join("tests");
    let theirs: Vec<i64> = serde_json::from_str(&py(
        code,
        &[
            table.to_str().unwrap(),
            list.to_str().unwrap(),
            tests_dir.to_str().unwrap(),
        ],
    ))
    .unwrap();
    for ((p, a), b) in predicates.iter().zip(&ours).zip(&theirs) {
        if a != b {
            problems.push(format!("{p}: lakeshell {a}, DuckDB {b}"));
        }
    }
    if let Ok(path) = std::env::var("LAKESHELL_RELIABILITY_REPORT") {
        std::fs::write(
            path,
            format!(
                "## Logic checks (ternary logic partitioning)\n\nSeed {seed}. {n} predicates over a partitioned table of {total} rows in 3 commits (NULLs in every column, statistics on every file): each checked as p / NOT p / p IS NULL adding up to the table, the same count with data skipping off, and the same count in DuckDB: {} problems.{}\n",
                problems.len(),
                problems.iter().map(|p| format!("\n- {p}")).collect::<String>()
            ),
        )
        .unwrap();
    }
    assert!(problems.is_empty(), "seed {seed}:\n{}", problems.join("\n"));
}
