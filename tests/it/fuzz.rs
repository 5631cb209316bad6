//! A grammar-aware SQL generator (the reliability campaign's fuzzing on stable Rust): thousands
//! of statements built from lakeshell's whole dialect, every statement family, against tables
//! with data, some of them cut short or with a token changed. Every statement must end (no
//! hang) without a panic, with a result or a one-line error.
//!
//! `LAKESHELL_FUZZ_STATEMENTS` sets the count (2,000 here; `reliability/run` runs 10,000),
//! `LAKESHELL_RELIABILITY_SEED` the seed, `LAKESHELL_RELIABILITY_REPORT=path` writes the figures.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures::FutureExt;
use lakeshell::engine::{ExecOptions, Outcome};

use super::common::{campaign_count, campaign_seed, engine, Rng};

const COLUMNS: &[&str] = &["id", "region", "amount", "day", "note", "nope", "_metadata"];
const TYPES: &[&str] = &[
    "BIGINT",
    "INT",
    "DOUBLE",
    "DECIMAL(10,2)",
    "STRING",
    "DATE",
    "TIMESTAMP",
    "BOOLEAN",
    "VARCHAR",
    "ARRAY<INT>",
    "STRUCT<a: INT>",
    "MAP<STRING, INT>",
];

fn literal(r: &mut Rng) -> String {
    match r.below(12) {
        0 => r.below(1000).to_string(),
        1 => format!("-{}", r.below(100)),
        2 => "9223372036854775807".into(),
        3 => "NULL".into(),
        4 => format!(
            "'{}'",
            r.pick(&["eu", "us", "", "it''s", "%_", "2024-01-01"])
        ),
        5 => "DATE '2024-02-30'".into(),
        6 => "DATE '2024-01-15'".into(),
        7 => "TIMESTAMP '2024-01-01 10:00:00'".into(),
        8 => format!("{}.{}", r.below(100), r.below(100)),
        9 => "1e308 * 10".into(),
        10 => "true".into(),
        _ => "'${undefined_var}'".into(),
    }
}

/// The kinds of value the tables' columns hold.
#[derive(Clone, Copy)]
enum Kind {
    Num,
    Str,
    Date,
}

/// An expression of `kind` over the tables' columns; now and then (one in twelve) anything
/// at all, well-typed or not.
fn typed(r: &mut Rng, kind: Kind, depth: usize) -> String {
    if r.chance(8) {
        return expr(r, depth);
    }
    if depth == 0 || r.chance(40) {
        return match kind {
            Kind::Num => match r.below(4) {
                0 => "id".into(),
                1 => "amount".into(),
                2 => r.below(100).to_string(),
                _ => format!("{}.5", r.below(10)),
            },
            Kind::Str => match r.below(4) {
                0 => "region".into(),
                1 => "note".into(),
                _ => format!("'{}'", r.pick(&["eu", "us", "x", "it''s", ""])),
            },
            Kind::Date => match r.below(3) {
                0 => "day".into(),
                _ => format!("DATE '2024-0{}-1{}'", 1 + r.below(9), r.below(9)),
            },
        };
    }
    let d = depth - 1;
    match kind {
        Kind::Num => match r.below(8) {
            0 => format!("{} + {}", typed(r, kind, d), typed(r, kind, d)),
            1 => format!("{} * {}", typed(r, kind, d), typed(r, kind, d)),
            2 => format!("abs({})", typed(r, kind, d)),
            3 => format!("coalesce({}, {})", typed(r, kind, d), typed(r, kind, d)),
            4 => format!("length({})", typed(r, Kind::Str, d)),
            5 => format!(
                "CASE WHEN {} THEN {} ELSE {} END",
                typed_pred(r, d),
                typed(r, kind, d),
                typed(r, kind, d)
            ),
            6 => format!("round({}, 1)", typed(r, kind, d)),
            _ => format!("{} / {}", typed(r, kind, d), typed(r, kind, d)),
        },
        Kind::Str => match r.below(6) {
            0 => format!("upper({})", typed(r, kind, d)),
            1 => format!("{} || {}", typed(r, kind, d), typed(r, kind, d)),
            2 => format!("CAST({} AS STRING)", typed(r, Kind::Num, d)),
            3 => format!("sha2({}, 256)", typed(r, kind, d)),
            4 => format!("substr({}, 1, 2)", typed(r, kind, d)),
            _ => format!("coalesce({}, 'none')", typed(r, kind, d)),
        },
        Kind::Date => match r.below(3) {
            0 => format!("{} + INTERVAL '1' DAY", typed(r, kind, d)),
            1 => format!("coalesce({}, DATE '2024-01-01')", typed(r, kind, d)),
            _ => format!("CAST({} AS DATE)", typed(r, kind, d)),
        },
    }
}

fn typed_pred(r: &mut Rng, depth: usize) -> String {
    if r.chance(8) {
        return pred(r, depth);
    }
    let kind = [Kind::Num, Kind::Str, Kind::Date][r.below(3)];
    let a = typed(r, kind, depth);
    match r.below(7) {
        0 => format!("{a} = {}", typed(r, kind, 0)),
        1 => format!("{a} > {}", typed(r, kind, depth)),
        2 => format!("{a} IS NULL"),
        3 => format!("{a} IN ({}, {})", typed(r, kind, 0), typed(r, kind, 0)),
        4 => format!(
            "{} AND {}",
            typed_pred(r, depth.saturating_sub(1)),
            typed_pred(r, depth.saturating_sub(1))
        ),
        5 => format!("NOT ({})", typed_pred(r, depth.saturating_sub(1))),
        _ => format!("{a} IS NOT NULL"),
    }
}

fn expr(r: &mut Rng, depth: usize) -> String {
    if depth == 0 || r.chance(35) {
        return if r.chance(55) {
            r.pick(COLUMNS).to_string()
        } else {
            literal(r)
        };
    }
    let a = expr(r, depth - 1);
    let b = expr(r, depth - 1);
    match r.below(12) {
        0 => format!("{a} + {b}"),
        1 => format!("{a} / {b}"),
        2 => format!("CAST({a} AS {})", r.pick(TYPES)),
        3 => format!("coalesce({a}, {b})"),
        4 => format!("CASE WHEN {} THEN {a} ELSE {b} END", pred(r, depth - 1)),
        5 => format!("sha2({a}, {})", r.pick(&["256", "0", "7", "NULL"])),
        6 => format!("upper({a})"),
        7 => format!("{a} || {b}"),
        8 => format!("date_trunc('month', {a})"),
        9 => format!("({a})"),
        10 => format!("abs({a}) % {b}"),
        _ => format!(
            "{}({a})",
            r.pick(&["length", "round", "trim", "nosuchfn", "sum"])
        ),
    }
}

fn pred(r: &mut Rng, depth: usize) -> String {
    let a = expr(r, depth);
    match r.below(8) {
        0 => format!("{a} = {}", literal(r)),
        1 => format!("{a} > {}", expr(r, depth)),
        2 => format!("{a} IS NULL"),
        3 => format!("{a} IN ({}, {})", literal(r), literal(r)),
        4 => format!("{a} BETWEEN {} AND {}", literal(r), literal(r)),
        5 => format!("NOT ({})", pred(r, depth.saturating_sub(1))),
        6 => format!(
            "{} AND {}",
            pred(r, depth.saturating_sub(1)),
            pred(r, depth.saturating_sub(1))
        ),
        _ => format!("{a} LIKE 'e%'"),
    }
}

/// A table with the five columns, mostly; now and then one that is not there.
fn table(r: &mut Rng) -> &'static str {
    if r.chance(12) {
        r.pick(&["f.ordrs", "f.missing", "orders", "f.items"])
    } else {
        r.pick(&["f.orders", "f.cdf"])
    }
}

fn table_ref(r: &mut Rng) -> String {
    let t = table(r);
    match r.below(12) {
        0 => format!("{t} VERSION AS OF {}", r.below(4)),
        1 => format!("{t}@v{}", r.below(4)),
        2 => format!("{t} TIMESTAMP AS OF '2000-01-01'"),
        3 => format!(
            "(SELECT id, region, amount, day, note FROM table_changes('{t}', {}))",
            r.below(3)
        ),
        4 => "(SELECT id, region, amount, CAST(NULL AS DATE) AS day, 'file' AS note FROM read_files('landing/', header => true, mode => 'DROPMALFORMED'))".into(),
        5 => format!("(SELECT * FROM incremental('{t}'))"),
        _ => t.to_string(),
    }
}

/// A SELECT of the five columns' kinds (id, region, amount, day, note), so that it fits the
/// tables when inserted; a fifth of the time, any columns.
fn select(r: &mut Rng) -> String {
    let cols = if r.chance(20) {
        let n = 1 + r.below(3);
        (0..n).map(|_| expr(r, 2)).collect::<Vec<_>>().join(", ")
    } else {
        [
            ("id", Kind::Num),
            ("region", Kind::Str),
            ("amount", Kind::Num),
            ("day", Kind::Date),
            ("note", Kind::Str),
        ]
        .iter()
        .map(|(name, k)| {
            if r.chance(60) {
                name.to_string()
            } else {
                format!("{} AS {name}", typed(r, *k, 2))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
    };
    let mut s = format!(
        "SELECT {}{} FROM {} AS a",
        if r.chance(10) { "DISTINCT " } else { "" },
        cols,
        table_ref(r)
    );
    if r.chance(15) {
        s.push_str(&format!(
            " {} JOIN {} AS j USING (id)",
            r.pick(&["", "LEFT", "FULL"]),
            table_ref(r),
        ));
    }
    if r.chance(60) {
        s.push_str(&format!(" WHERE {}", typed_pred(r, 2)));
    }
    if r.chance(25) {
        s.push_str(&format!(" ORDER BY {} NULLS LAST", typed(r, Kind::Num, 1)));
    }
    if r.chance(30) {
        s.push_str(&format!(" LIMIT {}", r.below(5)));
    }
    s
}

fn aggregate(r: &mut Rng) -> String {
    format!(
        "SELECT region, {}({}) AS x, count(*) AS n FROM {} GROUP BY region{}",
        r.pick(&["sum", "avg", "min", "max", "count", "approx_distinct"]),
        typed(r, Kind::Num, 2),
        table_ref(r),
        if r.chance(30) {
            " HAVING count(*) > 1"
        } else {
            ""
        }
    )
}

fn values(r: &mut Rng) -> String {
    let one = |r: &mut Rng| {
        if r.chance(10) {
            format!("({}, {}, {})", literal(r), literal(r), literal(r))
        } else {
            format!(
                "({}, {}, {}, {}, {})",
                r.below(50),
                typed(r, Kind::Str, 0),
                typed(r, Kind::Num, 0)
                    .replace("id", "1")
                    .replace("amount", "2.5"),
                r.pick(&["DATE '2024-03-01'", "NULL", "DATE '2024-02-30'"]),
                r.pick(&["'n'", "NULL", "'${undefined_var}'"])
            )
        }
    };
    (0..1 + r.below(3))
        .map(|_| one(r))
        .collect::<Vec<_>>()
        .join(", ")
}

fn statement(r: &mut Rng) -> String {
    let t = table(r);
    match r.below(36) {
        0..=4 => select(r),
        34 | 35 => aggregate(r),
        5 => format!("SELECT * FROM {}", table_ref(r)),
        6 => format!("INSERT INTO {t} VALUES {}", values(r)),
        7 => format!("INSERT INTO {t} {}", select(r)),
        8 => format!("INSERT OVERWRITE {t} {}", select(r)),
        9 => {
            let region = r.pick(&["eu", "us"]);
            format!(
                "INSERT INTO {t} REPLACE WHERE region = '{region}' SELECT id, region, amount, day, note FROM {} WHERE {}region = '{region}'",
                table_ref(r),
                if r.chance(50) { format!("{} AND ", typed_pred(r, 1)) } else { String::new() }
            )
        }
        10 => {
            let (c, k) = [("amount", Kind::Num), ("note", Kind::Str), ("day", Kind::Date), ("nope", Kind::Num)][r.below(4)];
            format!("UPDATE {t} SET {c} = {} WHERE {}", typed(r, k, 2), typed_pred(r, 2))
        }
        11 => format!("DELETE FROM {t} WHERE {}", typed_pred(r, 2)),
        12 => format!(
            "MERGE INTO {t} AS t USING ({}) AS s ON t.id = s.id WHEN MATCHED {}THEN {} WHEN NOT MATCHED THEN {}",
            select(r),
            if r.chance(30) { format!("AND {} ", typed_pred(r, 1)) } else { String::new() },
            r.pick(&["UPDATE SET *", "DELETE", "UPDATE SET amount = s.amount", "UPDATE SET nope = 1"]),
            r.pick(&["INSERT *", "INSERT (id) VALUES (s.id)", "INSERT (id, nope) VALUES (1, 2)"])
        ),
        13 => format!("CREATE {}TABLE f.new{} AS {}", if r.chance(50) { "OR REPLACE " } else { "" }, r.below(4), select(r)),
        14 => format!(
            "CREATE {}TABLE {}f.made{} ({} {}, {} {}){}",
            if r.chance(30) { "OR REPLACE " } else { "" },
            if r.chance(30) { "IF NOT EXISTS " } else { "" },
            r.below(3),
            r.pick(COLUMNS),
            r.pick(TYPES),
            r.pick(COLUMNS),
            r.pick(TYPES),
            r.pick(&["", " PARTITIONED BY (id)", " PARTITIONED BY (nope)", " TBLPROPERTIES ('delta.enableChangeDataFeed' = 'true')"])
        ),
        15 => format!(
            "ALTER TABLE {} ADD COLUMN {} {}",
            if r.chance(20) { t.to_string() } else { format!("f.made{}", r.below(3)) },
            r.pick(&["extra", "more", "id", "amount"]),
            r.pick(TYPES)
        ),
        16 => format!("ALTER TABLE {t} SET TBLPROPERTIES ('{}' = '{}')", r.pick(&["owner", "delta.appendOnly", "delta.checkpointInterval"]), r.pick(&["x", "true", "-1"])),
        17 => format!(
            "DROP {} {}{}{}",
            r.pick(&["TABLE", "TABLE", "VIEW"]),
            if r.chance(50) { "IF EXISTS " } else { "" },
            r.pick(&["f.new", "f.made", "f.ordrs", "v"]),
            r.below(4)
        ),
        18 => format!("{} {t}", r.pick(&["DESCRIBE", "DESCRIBE HISTORY", "DESCRIBE DETAIL", "SUMMARIZE", "SHOW TBLPROPERTIES", "SHOW COLUMNS FROM", "DESCRIBE EXTENDED"])),
        19 => format!(
            "OPTIMIZE {t}{}{}",
            if r.chance(30) { format!(" WHERE region = '{}'", r.pick(&["eu", "us"])) } else { String::new() },
            if r.chance(30) { format!(" ZORDER BY ({})", r.pick(COLUMNS)) } else { String::new() }
        ),
        20 => format!(
            "VACUUM {t}{}{}",
            if r.chance(50) { format!(" RETAIN {} HOURS", r.pick(&["0", "168", "-1", "1.5"])) } else { String::new() },
            if r.chance(60) { " DRY RUN" } else { "" }
        ),
        21 => format!("RESTORE TABLE {t} TO VERSION AS OF {}", r.below(8)),
        22 => format!("FSCK REPAIR TABLE {t}{}", if r.chance(50) { " DRY RUN" } else { "" }),
        23 => format!(
            "COPY INTO {t} FROM '{}' FILEFORMAT = {}{}",
            r.pick(&["landing/", "landing/a.csv", "nowhere/"]),
            r.pick(&["CSV", "JSON", "PARQUET", "AVRO"]),
            r.pick(&["", " FORMAT_OPTIONS ('header' = 'true')", " FORMAT_OPTIONS ('mode' = 'PERMISSIVE')", " COPY_OPTIONS ('force' = 'true', 'mergeSchema' = 'true')", " PATTERN = '['"])
        ),
        24 => format!("DECLARE OR REPLACE VARIABLE v{} {} DEFAULT {}", r.below(3), r.pick(&["BIGINT", "DOUBLE", "STRING", "DATE"]), r.pick(&["1", "(SELECT max(id) FROM f.orders)", "'x'", "DATE '2024-01-01'", "NULL"])),
        25 => format!("SET VAR v{} = {}", r.below(3), typed(r, Kind::Num, 1).replace("id", "1").replace("amount", "2")),
        26 => format!("SET {} = {}", r.pick(&["datafusion.execution.batch_size", "lakeshell.vacuum.retention_check", "datafusion.nope", "spark.databricks.delta.retentionDurationCheck.enabled"]), r.pick(&["0", "true", "'x'", "8192"])),
        27 => format!("EXPLAIN {}", select(r)),
        28 => format!("{} DRY RUN", r.pick(&["DELETE FROM f.orders WHERE id > 2", "UPDATE f.orders SET amount = 0", "OPTIMIZE f.orders", "MERGE INTO f.orders t USING f.items s ON t.id = s.id WHEN MATCHED THEN DELETE"])),
        29 => format!("CREATE {}VIEW v{} AS {}", if r.chance(50) { "OR REPLACE " } else { "" }, r.below(2), select(r)),
        30 => format!("COPY ({}) TO 'out/{}.{}'", select(r), r.below(3), r.pick(&["csv", "parquet", "json"])),
        31 => format!("CREATE SECRET s{} (TYPE {}, {} '{}')", r.below(2), r.pick(&["s3", "bearer", "oauth2", "azure", "nope"]), r.pick(&["TOKEN", "KEY_ID", "CLIENT_ID"]), r.pick(&["x", "${NOPE}"])),
        32 => format!("SELECT * FROM read_api('http://127.0.0.1:1/none', {})", r.pick(&["max_retries => 0", "pagination => 'nope'", "records => '$['", "schema => 'id BIGINT'"])),
        _ => format!("CONVERT TO DELTA parquet.`{}`", r.pick(&["out/", "nowhere/"])),
    }
}

/// Cuts `sql` short, or changes one word, so the parser's error paths are walked too.
fn mangle(r: &mut Rng, sql: String) -> (String, bool) {
    let changed = match r.below(10) {
        0 => {
            let cut = r.below(sql.len());
            let mut at = cut;
            while !sql.is_char_boundary(at) {
                at -= 1;
            }
            sql[..at].to_string()
        }
        1 => {
            let words: Vec<&str> = sql.split(' ').collect();
            let i = r.below(words.len());
            let mut w: Vec<String> = words.iter().map(|s| s.to_string()).collect();
            w[i] = r
                .pick(&[
                    "(", ")", "'", ",", "SELECT", "WHERE", ";", "@v", "--", "/*", "\"", "${",
                ])
                .to_string();
            w.join(" ")
        }
        _ => return (sql, false),
    };
    (changed, true)
}

/// A statement's family: its first words (`SELECT`, `INSERT INTO`, `DESCRIBE HISTORY`).
fn family_of(sql: &str) -> String {
    let words: Vec<String> = sql
        .split_whitespace()
        .take(3)
        .map(|w| w.to_uppercase())
        .collect();
    let keep = match words.first().map(String::as_str) {
        Some("SELECT" | "UPDATE" | "EXPLAIN" | "OPTIMIZE" | "VACUUM" | "DECLARE" | "COPY") => {
            if words.get(1).map(String::as_str) == Some("INTO") {
                2
            } else {
                1
            }
        }
        Some("INSERT") => 2,
        Some("DESCRIBE" | "SHOW" | "SET" | "CREATE" | "DROP")
            if words.get(1).is_some_and(|w| {
                w.contains('.')
                    || w.starts_with("DATAFUSION")
                    || w.starts_with("SPARK")
                    || w.starts_with("LAKESHELL")
            }) =>
        {
            1
        }
        Some("SUMMARIZE") => 1,
        _ => 2,
    };
    let mut f = words[..keep.min(words.len())].join(" ");
    if sql.contains("REPLACE WHERE") {
        f.push_str(" ... REPLACE WHERE");
    }
    if sql.contains(" DRY RUN") {
        f.push_str(" ... DRY RUN");
    }
    f
}

#[test]
fn generated_statements_of_every_family_never_panic_or_hang() {
    let count = campaign_count("LAKESHELL_FUZZ_STATEMENTS", 2000);
    let seed = campaign_seed();
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("landing")).unwrap();
    std::fs::write(
        d.path().join("landing/a.csv"),
        "id,region,amount\n1,eu,1.5\n2,us,x\n3,eu\n",
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let e = engine(&d.path().join("lakehouse"), Default::default());
    let opts = ExecOptions::default();
    let setup = [
        "CREATE TABLE f.orders (id BIGINT, region STRING, amount DOUBLE, day DATE, note STRING) PARTITIONED BY (region) TBLPROPERTIES ('delta.enableChangeDataFeed' = 'true')",
        "INSERT INTO f.orders VALUES (1, 'eu', 10.5, DATE '2024-01-01', 'a'), (2, 'us', 20.0, DATE '2024-01-02', NULL), (3, 'eu', NULL, NULL, 'c')",
        "INSERT INTO f.orders VALUES (4, 'us', 4.0, DATE '2024-02-01', 'd')",
        "CREATE TABLE f.items AS SELECT id, amount * 2 AS amount, 'x' AS note FROM f.orders",
        "CREATE TABLE f.cdf TBLPROPERTIES ('delta.enableChangeDataFeed' = 'true') AS SELECT * FROM f.orders",
        "UPDATE f.cdf SET amount = 1 WHERE id = 1",
    ];
    for s in setup {
        rt.block_on(e.execute(s, &opts))
            .unwrap_or_else(|err| panic!("{s}: {err}"));
    }
    let mut r = Rng(seed);
    let mut families: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut mangled_count = 0;
    let mut problems = Vec::new();
    for _ in 0..count {
        let generated = statement(&mut r);
        let family = family_of(&generated);
        // Paths are the scratch folder's.
        let root = d.path().display().to_string();
        let (sql, mangled) = mangle(&mut r, generated);
        let sql = sql
            .replace("'landing/", &format!("'{root}/landing/"))
            .replace("'nowhere/", &format!("'{root}/nowhere/"))
            .replace("'out/", &format!("'{root}/out/"))
            .replace("`out/", &format!("`{root}/out/"))
            .replace("`nowhere/", &format!("`{root}/nowhere/"));
        let run = async {
            match e.execute(&sql, &opts).await {
                Ok(Outcome::Rows(rows)) => {
                    rows.collect().await.map(|_| ()).map_err(|e| e.to_string())
                }
                Ok(_) => Ok(()),
                Err(err) => Err(err.to_string()),
            }
        };
        let outcome = rt.block_on(async {
            tokio::time::timeout(
                Duration::from_secs(30),
                AssertUnwindSafe(run).catch_unwind(),
            )
            .await
        });
        mangled_count += usize::from(mangled);
        let entry = families.entry(family).or_default();
        match outcome {
            Err(_) => problems.push(format!("hang (30 s): {sql}")),
            Ok(Err(_)) => problems.push(format!("panic: {sql}")),
            Ok(Ok(Ok(()))) => entry.0 += 1,
            Ok(Ok(Err(msg))) => {
                entry.1 += 1;
                // A panic caught inside delta-rs is one line, but still a bug to find.
                if msg.contains("panicked") || msg.contains("a bug in delta-rs") {
                    problems.push(format!("panic in a task: {sql}: {msg}"));
                } else if msg.trim_end().lines().count() > 1 {
                    problems.push(format!(
                        "error of {} lines: {sql}: {msg}",
                        msg.lines().count()
                    ));
                }
            }
        }
    }
    if let Ok(path) = std::env::var("LAKESHELL_RELIABILITY_REPORT") {
        let rows: String = families
            .iter()
            .map(|(f, (ok, err))| format!("| {f} | {ok} | {err} |\n"))
            .collect();
        std::fs::write(
            path,
            format!(
                "## Generated SQL\n\nSeed {seed}. {count} statements from every family of the dialect ({mangled_count} of them cut short or with a word changed), in one session on tables with data: {} problems (panics, hangs over 30 s, errors of more than one line).\n\n| family (as generated) | succeeded | failed with an error |\n|---|---|---|\n{rows}{}",
                problems.len(),
                problems.iter().map(|p| format!("\n- {p}")).collect::<String>()
            ),
        )
        .unwrap();
    }
    assert!(
        problems.is_empty(),
        "seed {seed}: {} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
