//! The real binary: flags, exit codes, stderr lines, rendering, the REPL and progress.

use std::io::Write;
use std::process::Stdio;

use super::common::{lakeshell, run_ok, stderr, stdout};

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn dash_c_renders_a_table_with_a_footer() {
    let d = tmp();
    let out = run_ok(lakeshell(d.path()).args(["-c", "SELECT 1 AS a, 'x' AS b, NULL AS c"]));
    insta::assert_snapshot!(stdout(&out), @r"
    ┌───┬───┬──────┐
    │ a ┆ b ┆ c    │
    ╞═══╪═══╪══════╡
    │ 1 ┆ x ┆ NULL │
    └───┴───┴──────┘
    1 row
    ");
}

#[test]
fn formats_for_machines() {
    let d = tmp();
    let sql = "SELECT * FROM (VALUES (1, 'a,b'), (2, NULL)) t(n, s) ORDER BY n";
    let csv = run_ok(lakeshell(d.path()).args(["--format", "csv", "-c", sql]));
    assert_eq!(stdout(&csv), "n,s\n1,\"a,b\"\n2,\n");
    let tsv = run_ok(lakeshell(d.path()).args(["-f", "tsv", "-c", sql]));
    assert_eq!(stdout(&tsv), "n\ts\n1\ta,b\n2\t\n");
    let json = run_ok(lakeshell(d.path()).args(["-f", "json", "-c", sql]));
    assert_eq!(stdout(&json), "[{\"n\":1,\"s\":\"a,b\"},{\"n\":2}]\n");
    let nd = run_ok(lakeshell(d.path()).args(["-f", "ndjson", "-c", sql]));
    assert_eq!(stdout(&nd), "{\"n\":1,\"s\":\"a,b\"}\n{\"n\":2}\n");
    let md = run_ok(lakeshell(d.path()).args(["-f", "markdown", "-c", sql]));
    insta::assert_snapshot!(stdout(&md), @r"
    | n | s    |
    |---|------|
    | 1 | a,b  |
    | 2 | NULL |
    2 rows
    ");
}

#[test]
fn max_rows_keeps_the_first_and_last_rows() {
    let d = tmp();
    let out = run_ok(lakeshell(d.path()).args([
        "--max-rows",
        "4",
        "-c",
        "SELECT value AS n FROM generate_series(1, 1500)",
    ]));
    insta::assert_snapshot!(stdout(&out), @r"
    ┌──────┐
    │ n    │
    ╞══════╡
    │    1 │
    │    2 │
    │   …  │
    │ 1499 │
    │ 1500 │
    └──────┘
    1,500 rows (4 shown)
    ");
}

#[test]
fn first_failure_stops_the_script_with_file_and_line() {
    let d = tmp();
    let script = d.path().join("job.sql");
    std::fs::write(&script, "SELECT 1;\n\n-- a comment; with a semicolon\nSELECT 'a;b'\n  AS s;\nSELECT * FROM missing_table;\nCREATE TABLE never AS SELECT 1 AS x;\n").unwrap();
    let out = lakeshell(d.path())
        .args(["run", "job.sql"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let all = stderr(&out);
    let lines: Vec<&str> = all.lines().collect();
    assert_eq!(lines.len(), 2, "the error, then the run's summary: {all}");
    let err = lines[0];
    assert!(err.starts_with("error: job.sql:6: SELECT * FROM missing_table: table not found: default.missing_table (looked in "), "{err}");
    assert!(err.ends_with("/lakehouse); \\dt lists the tables"), "{err}");
    assert!(
        lines[1].contains("2 statement(s) ok, failed at job.sql:6, 1 statement(s) skipped"),
        "{all}"
    );
    assert!(
        !d.path().join("lakehouse/default/never").exists(),
        "statements after the failure must not run"
    );
}

#[test]
fn continue_on_error_runs_the_rest_and_still_exits_1() {
    let d = tmp();
    let out = lakeshell(d.path())
        .args([
            "--continue-on-error",
            "-q",
            "-c",
            "SELECT nope; CREATE TABLE t AS SELECT 1 AS x; SELECT count(*) AS n FROM t",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("-c:1: SELECT nope"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).contains("│ 1 │"), "{}", stdout(&out));
}

#[test]
fn exit_2_for_bad_flags_and_unreadable_scripts() {
    let d = tmp();
    let bad_flag = lakeshell(d.path())
        .args(["--no-such-flag"])
        .output()
        .unwrap();
    assert_eq!(bad_flag.status.code(), Some(2));
    let missing = lakeshell(d.path())
        .args(["run", "nope.sql"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(
        stderr(&missing),
        "error: cannot read nope.sql: no such file\n"
    );
    let bad_format = lakeshell(d.path())
        .args(["--format", "xml", "-c", "SELECT 1"])
        .output()
        .unwrap();
    assert_eq!(bad_format.status.code(), Some(2));
    assert!(stderr(&bad_format).contains("unknown format xml"));
}

#[test]
fn variables_come_from_flags_and_environment() {
    let d = tmp();
    let out = run_ok(
        lakeshell(d.path())
            .env("LAKESHELL_TEST_REGION", "eu")
            .args([
                "-f",
                "csv",
                "--var",
                "n=41",
                "-c",
                "SELECT ${n} + 1 AS answer, '${LAKESHELL_TEST_REGION}' AS region",
            ]),
    );
    assert_eq!(stdout(&out), "answer,region\n42,eu\n");
    let undefined = lakeshell(d.path())
        .args(["-c", "SELECT ${missing}"])
        .output()
        .unwrap();
    assert_eq!(undefined.status.code(), Some(1));
    assert!(stderr(&undefined).contains("undefined variable ${missing}: pass --var missing=VALUE"));
}

#[test]
fn memory_limit_spills_or_names_the_limit() {
    let d = tmp();
    let spill = d.path().join("spill");
    std::fs::create_dir(&spill).unwrap();
    // A sort of 2M rows past a 16 MiB limit spills to --temp-dir and finishes.
    let out = run_ok(lakeshell(d.path()).arg("-m").arg("16M").arg("-d").arg(&spill).args([
        "-f",
        "csv",
        "-c",
        "SELECT sum(v * r) AS s FROM (SELECT value AS v, row_number() OVER (ORDER BY random()) AS r FROM generate_series(1, 2000000))",
    ]));
    assert!(stdout(&out).starts_with("s\n"), "{}", stdout(&out));
    // A hash join's build side cannot spill: one line naming the limit, exit 1.
    let join = "SELECT count(*) FROM generate_series(1, 3000000) a JOIN generate_series(1, 3000000) b ON a.value = b.value";
    let out = lakeshell(d.path())
        .args(["--memory-limit", "2M", "-c", join])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(": the query needs more memory than the limit of 2.0 MiB (Failed to allocate"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    // The same limit set in the session.
    let out = lakeshell(d.path())
        .args([
            "-c",
            "SET datafusion.runtime.memory_limit = '2M'",
            "-c",
            join,
        ])
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains("more memory than the limit of 2.0 MiB"),
        "{}",
        stderr(&out)
    );
    let bad = lakeshell(d.path())
        .args(["-m", "lots", "-c", "SELECT 1"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("--memory-limit takes a size such as 4G or 512M"));
}

#[test]
fn errors_never_show_a_secret_or_a_backtrace() {
    let d = tmp();
    run_ok(lakeshell(d.path()).args([
        "-q",
        "-c",
        "CREATE TABLE t AS SELECT 1 AS a; INSERT INTO t VALUES (2)",
    ]));
    // A commit cut short (a torn write): the Delta kernel's error carries a captured backtrace
    // when RUST_BACKTRACE is set.
    let commit = d
        .path()
        .join("lakehouse/default/t/_delta_log/00000000000000000001.json");
    let text = std::fs::read_to_string(&commit).unwrap();
    std::fs::write(&commit, &text[..text.len() / 2]).unwrap();
    // A parse error quotes the token where a secret was substituted; a registration names a
    // literal secret.
    for sql in [
        "SELECT 1 FROM t WHERE a = ${LAKESHELL_TEST_SECRET} )",
        "CREATE EXTERNAL TABLE ext.x STORED AS DELTA LOCATION '/nonexistent/lakeshell/t' OPTIONS ('aws_secret_access_key' 'literal-s3cr3t-99')",
        "SELECT * FROM t",
    ] {
        let out = lakeshell(d.path())
            .env("LAKESHELL_TEST_SECRET", "hunter2-very-secret")
            .env("RUST_BACKTRACE", "1")
            .args(["-c", sql])
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{sql}: {err}");
        assert!(!err.contains("hunter2-very-secret"), "{err}");
        assert!(!err.contains("literal-s3cr3t-99"), "{err}");
        assert!(!err.contains("backtrace") && !err.contains("   0: "), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
}

#[test]
fn sql_on_stdin() {
    let d = tmp();
    let mut child = lakeshell(d.path())
        .args(["-f", "csv"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"SELECT 1 AS a;\nSELECT 'x;y' AS b;\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(stdout(&out), "a\n1\nb\nx;y\n");
}

#[test]
fn writes_print_version_and_rows_and_quiet_hides_them() {
    let d = tmp();
    let out = run_ok(lakeshell(d.path()).args([
        "-c",
        "CREATE TABLE t AS SELECT * FROM generate_series(1, 3)",
    ]));
    let text = stdout(&out);
    assert!(
        text.contains("default.t") && text.contains("CREATE TABLE AS SELECT"),
        "{text}"
    );
    assert!(text.contains("rows_inserted"), "{text}");
    let quiet = run_ok(lakeshell(d.path()).args(["-q", "-c", "INSERT INTO t VALUES (4)"]));
    assert_eq!(stdout(&quiet), "");
    let n = run_ok(lakeshell(d.path()).args(["-f", "csv", "-c", "SELECT count(*) AS n FROM t"]));
    assert_eq!(stdout(&n), "n\n4\n");
}

#[test]
fn warehouse_flag_and_environment_variable() {
    let d = tmp();
    run_ok(lakeshell(d.path()).args([
        "--warehouse",
        "wh1",
        "-q",
        "-c",
        "CREATE TABLE a.t AS SELECT 1 AS x",
    ]));
    assert!(d.path().join("wh1/a/t/_delta_log").is_dir());
    let out = run_ok(lakeshell(d.path()).env("LAKESHELL_WAREHOUSE", "wh1").args([
        "-f",
        "csv",
        "-c",
        "SELECT x FROM a.t",
    ]));
    assert_eq!(stdout(&out), "x\n1\n");
}

#[test]
fn meta_commands_in_scripts() {
    let d = tmp();
    std::fs::write(d.path().join("inc.sql"), "SELECT 2 AS two;\n").unwrap();
    let script = "CREATE TABLE s.t PARTITIONED BY (p) AS SELECT 1 AS id, 'a' AS p;\n\\dt\n\\d s.t\n\\format csv\nSELECT 1 AS one;\n\\i inc.sql\n\\o out.csv\nSELECT 3 AS three;\n\\o\n";
    std::fs::write(d.path().join("m.sql"), script).unwrap();
    let out = run_ok(lakeshell(d.path()).args(["run", "m.sql"]));
    let text = stdout(&out);
    assert!(text.contains("s.t") && text.contains("managed"), "{text}");
    assert!(
        text.contains("│ p      ┆ Utf8") || text.contains("p"),
        "{text}"
    );
    assert!(
        text.contains("one\n1\n") && text.contains("two\n2\n"),
        "{text}"
    );
    assert!(!text.contains("three"), "{text}");
    assert_eq!(
        std::fs::read_to_string(d.path().join("out.csv")).unwrap(),
        "three\n3\n"
    );
}

#[test]
fn help_answers() {
    let d = tmp();
    let out = run_ok(lakeshell(d.path()).arg("--help"));
    let text = stdout(&out);
    for needle in [
        "--warehouse",
        "--var",
        "--format",
        "--continue-on-error",
        "run",
        "Examples",
    ] {
        assert!(text.contains(needle), "{needle} missing from --help");
    }
}

/// Runs `cmd` under a pseudo-terminal (util-linux `script`), feeding `input`.
pub(super) fn under_pty(dir: &std::path::Path, shell_cmd: &str, input: &str) -> String {
    under_pty_sized(dir, shell_cmd, input, None)
}

/// The same on a terminal of `cols` x 30 when `size` is given.
pub(super) fn under_pty_sized(
    dir: &std::path::Path,
    shell_cmd: &str,
    input: &str,
    cols: Option<usize>,
) -> String {
    let shell_cmd = match cols {
        Some(c) => format!("stty cols {c} rows 30; {shell_cmd}"),
        None => shell_cmd.to_string(),
    };
    let mut child = std::process::Command::new("script")
        .args(["-q", "-e", "-c", &shell_cmd, "/dev/null"])
        .current_dir(dir)
        .env("HOME", dir)
        .env("TERM", "xterm")
        .env_remove("LAKESHELL_WAREHOUSE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux script is needed for pty tests");
    let mut stdin = child.stdin.take().unwrap();
    for chunk in input.split_inclusive('\n') {
        stdin.write_all(chunk.as_bytes()).unwrap();
        stdin.flush().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn progress_shows_on_a_terminal_only() {
    let d = tmp();
    let bin = super::common::bin();
    let sql = "SELECT count(*) AS n FROM generate_series(1, 20000000)";
    let cmd = format!(
        "LAKESHELL_PROGRESS_DELAY_MS=0 {} -c \"{sql}\"",
        bin.display()
    );
    let tty = under_pty(d.path(), &cmd, "");
    assert!(
        tty.contains("scanned") && tty.contains("Ctrl-C cancels"),
        "no progress on a terminal: {tty}"
    );
    assert!(tty.contains("20000000"), "{tty}");
    // To a pipe: the same statement prints no progress on stderr or stdout.
    let piped = run_ok(
        lakeshell(d.path())
            .env("LAKESHELL_PROGRESS_DELAY_MS", "0")
            .args(["-c", sql]),
    );
    assert!(!stderr(&piped).contains("scanned"));
    assert!(!stdout(&piped).contains("scanned"));
}

#[test]
fn repl_multiline_history_and_meta_commands() {
    let d = tmp();
    let bin = super::common::bin();
    let cmd = format!("{} --history-file hist", bin.display());
    let input = "CREATE TABLE t AS\nSELECT 41 AS x;\nSELECT x + 1 AS y\n  FROM t;\n\\dt\nSELEC oops;\nSELECT 'still here' AS s;\nCREATE EXTERNAL TABLE e STORED AS DELTA LOCATION 'lakehouse/default/t' OPTIONS ('aws_secret_access_key' 'hunter2');\n\\q\n";
    let screen = under_pty(d.path(), &cmd, input);
    assert!(screen.contains("42"), "{screen}");
    assert!(screen.contains("default.t"), "{screen}");
    assert!(screen.contains("error: syntax error"), "{screen}");
    assert!(
        screen.contains("still here"),
        "the REPL keeps running after an error: {screen}"
    );
    let history = std::fs::read_to_string(d.path().join("hist")).unwrap();
    assert!(history.contains("SELECT x + 1 AS y"), "{history}");
    assert!(
        !history.contains("hunter2"),
        "secrets never reach history: {history}"
    );
    let registry =
        std::fs::read_to_string(d.path().join("lakehouse/_lakeshell/tables.json")).unwrap();
    assert!(
        !registry.contains("hunter2"),
        "secrets never reach the registry: {registry}"
    );
}

#[test]
fn ctrl_c_cancels_the_query_not_the_shell() {
    let d = tmp();
    let bin = super::common::bin();
    let cmd = format!("{} --history-file hist", bin.display());
    // A long query, Ctrl-C (0x03) while it runs, then a quick one.
    let input =
        "SELECT count(*) FROM generate_series(1, 100000000000);\n\x03\nSELECT 'alive' AS s;\n\\q\n";
    let screen = under_pty(d.path(), &cmd, input);
    assert!(screen.contains("cancelled"), "{screen}");
    assert!(screen.contains("alive"), "{screen}");
}

#[test]
fn commits_record_the_statement_as_written_and_lakeshell() {
    let d = tmp();
    run_ok(
        lakeshell(d.path())
            .env("LAKESHELL_TEST_SECRET", "s3cr3t")
            .args([
                "-q",
                "--var",
                "n=5",
                "-c",
                "CREATE TABLE t AS SELECT ${n} AS x, '${LAKESHELL_TEST_SECRET}' AS s",
            ]),
    );
    let log = std::fs::read_to_string(
        d.path()
            .join("lakehouse/default/t/_delta_log/00000000000000000000.json"),
    )
    .unwrap();
    let commit = log.lines().find(|l| l.contains("commitInfo")).unwrap();
    assert!(
        commit.contains(
            r#""sqlText":"CREATE TABLE t AS SELECT ${n} AS x, '${LAKESHELL_TEST_SECRET}' AS s""#
        ),
        "{commit}"
    );
    assert!(!commit.contains("s3cr3t"), "{commit}");
    assert!(
        commit.contains(r#""clientVersion":"lakeshell/"#),
        "{commit}"
    );
}

#[test]
fn repl_tab_completes_table_names() {
    let d = tmp();
    run_ok(lakeshell(d.path()).args(["-q", "-c", "CREATE TABLE events_log AS SELECT 7 AS n"]));
    let bin = super::common::bin();
    let cmd = format!("{} --history-file hist", bin.display());
    let screen = under_pty(d.path(), &cmd, "SELECT n FROM events_l\t;\n\\q\n");
    assert!(screen.contains("events_log"), "{screen}");
    assert!(
        screen.contains("│ 7 │"),
        "the completed statement ran: {screen}"
    );
}

/// A wide table with a multi-line cell, written once for the terminal tests.
fn wide_table(d: &std::path::Path) {
    run_ok(lakeshell(d).args([
        "-q",
        "-c",
        "CREATE TABLE wide AS SELECT value AS id, 'line one\nline two' AS note, value * 1.5 AS amount, \
         repeat('x', 60) AS long_text, 'a' AS c1, 'b' AS c2, 'c' AS c3, 'd' AS c4, 'e' AS c5, \
         'f' AS c6, 'g' AS c7, 'h' AS c8 FROM generate_series(1, 100)",
    ]));
}

/// The screen as text: carriage returns dropped, and from the first table line on.
fn screen_text(raw: &str) -> String {
    let text = raw.replace('\r', "");
    match text.find('┌') {
        Some(i) => text[i..].to_string(),
        None => text,
    }
}

#[test]
fn results_fit_the_terminal_at_80_120_and_200_columns() {
    let d = tmp();
    wide_table(d.path());
    let bin = super::common::bin();
    let cmd = format!("{} -c 'SELECT * FROM wide ORDER BY id'", bin.display());
    for cols in [80, 120, 200] {
        let screen = screen_text(&under_pty_sized(d.path(), &cmd, "", Some(cols)));
        for line in screen.lines() {
            assert!(
                line.chars().count() <= cols,
                "a line wider than {cols} columns: {line:?}\n{screen}"
            );
        }
        insta::assert_snapshot!(format!("wide_at_{cols}"), screen);
    }
    // To a pipe nothing is cut: every row, every column, whole cells, no types.
    let piped = stdout(&run_ok(
        lakeshell(d.path()).args(["-c", "SELECT * FROM wide ORDER BY id"]),
    ));
    assert!(piped.contains(&"x".repeat(60)), "{piped}");
    assert!(piped.contains("│  57 ┆"), "{piped}");
    assert!(piped.contains("100 rows\n"), "{piped}");
    assert!(!piped.contains("varchar"), "{piped}");
}

#[test]
fn types_off_expanded_display_and_pager() {
    let d = tmp();
    wide_table(d.path());
    let bin = super::common::bin();
    let cmd = format!(
        "PAGER='sed s/^/PAGED:/' {} --history-file hist",
        bin.display()
    );
    let input = "\\types off\nSELECT id, amount FROM wide WHERE id = 1;\n\\x auto\nSELECT * FROM wide WHERE id = 2;\n\\x off\n\\pager on\nSELECT id FROM wide ORDER BY id;\nSELECT 'short' AS s;\n\\q\n";
    let screen = under_pty_sized(d.path(), &cmd, input, Some(80)).replace('\r', "");
    // \types off: the first table has no type line.
    let first = &screen[screen.find("│ id").unwrap()..];
    let first = &first[..first.find("1 row").unwrap()];
    assert!(!first.contains("bigint"), "{first}");
    // \x auto: a row too wide for 80 columns is shown one column per line.
    assert!(screen.contains("─[ RECORD 1 ]"), "{screen}");
    assert!(screen.contains("long_text │ xxxxxxxx"), "{screen}");
    // \pager on: the 100-row result is taller than 30 lines and goes through $PAGER; a short one
    // does not.
    assert!(screen.contains("PAGED:│   1 │"), "{screen}");
    assert!(screen.contains("PAGED:100 rows"), "{screen}");
    assert!(!screen.contains("PAGED:│ short"), "{screen}");
    assert!(screen.contains("│ short │"), "{screen}");
}

#[test]
fn versions_complete_and_history_and_edit_work_at_the_prompt() {
    let d = tmp();
    run_ok(lakeshell(d.path()).args(["-q", "-c", "CREATE TABLE t AS SELECT 41 AS x"]));
    run_ok(lakeshell(d.path()).args(["-q", "-c", "INSERT INTO t VALUES (42)"]));
    let bin = super::common::bin();
    // The editor turns 41 into 40 in what it is given.
    let cmd = format!(
        "EDITOR='sed -i s/41/40/' {} --history-file hist",
        bin.display()
    );
    let input = "SELECT count(*) AS n FROM t@v\t\t0;\nSELECT x FROM t VERSION AS OF \t\t\x15SELECT 41 AS y;\n\\e\n\\history 2\n\\q\n";
    let screen = under_pty_sized(d.path(), &cmd, input, Some(120)).replace('\r', "");
    // Both versions are listed, with their operation.
    assert!(screen.contains("v1    "), "{screen}");
    assert!(screen.contains("v0    "), "{screen}");
    assert!(screen.contains("WRITE"), "{screen}");
    // \e ran the edited last statement.
    assert!(screen.contains("SELECT 40 AS y;"), "{screen}");
    assert!(screen.contains("│     40 │"), "{screen}");
    // \history lists the last statements, numbered.
    assert!(screen.contains("SELECT 40 AS y;\n"), "{screen}");
    assert!(screen.contains("\\history 2"), "{screen}");
    // Keywords are highlighted on a terminal.
    assert!(screen.contains("\x1b[1;34mSELECT\x1b[0m"), "{screen}");
}

#[test]
fn diff_summarize_and_chart_at_the_prompt() {
    let d = tmp();
    run_ok(lakeshell(d.path()).args([
        "-q",
        "-c",
        "CREATE TABLE sales AS SELECT * FROM (VALUES (1, 'north', 100), (2, 'south', 50), (3, 'east', 25)) AS v(id, region, revenue)",
        "-c",
        "UPDATE sales SET revenue = 75 WHERE id = 2",
        "-c",
        "DELETE FROM sales WHERE id = 3",
        "-c",
        "INSERT INTO sales VALUES (4, 'west', 10)",
    ]));
    // \diff: the rows and the counts under them.
    let out = run_ok(lakeshell(d.path()).args(["-c", "\\diff sales@v0 sales@v3 id"]));
    let text = stdout(&out);
    assert!(
        text.contains(
            "│ changed ┆  2 ┆ south         ┆ south        ┆             50 ┆            75 │"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "default.sales v0 → v3: 1 added, 1 removed, 1 changed (comparing the two versions)"
        ),
        "{text}"
    );
    // SUMMARIZE says what came from the log's statistics.
    let out = run_ok(lakeshell(d.path()).args(["-c", "SUMMARIZE sales"]));
    assert!(
        stdout(&out).contains(
            "default.sales: row count, null counts, min and max of id, revenue from the Delta log's file statistics"
        ),
        "{}",
        stdout(&out)
    );
    // \chart draws the last result, the longest bar for the largest value.
    let out = run_ok(lakeshell(d.path()).args([
        "-c",
        "SELECT region, revenue FROM sales ORDER BY revenue DESC",
        "-c",
        "\\chart region revenue",
    ]));
    let text = stdout(&out);
    let bars: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('│') && l.contains(" │"))
        .collect();
    assert_eq!(bars.len(), 3, "{text}");
    assert!(
        bars[0].starts_with("north │█") && bars[0].ends_with(" 100"),
        "{text}"
    );
    assert!(
        bars[0].matches('█').count() > bars[1].matches('█').count()
            && bars[1].matches('█').count() > bars[2].matches('█').count(),
        "{text}"
    );
    // Wrong columns name what there is; no result yet says what to run.
    let bad = lakeshell(d.path())
        .args([
            "-c",
            "SELECT region FROM sales",
            "-c",
            "\\chart region revenue",
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("no column revenue in the last result (it has region)"),
        "{}",
        stderr(&bad)
    );
    let none = lakeshell(d.path())
        .args(["-c", "\\chart region revenue"])
        .output()
        .unwrap();
    assert!(
        stderr(&none).contains("run a query first"),
        "{}",
        stderr(&none)
    );
}

/// `lakeshell -c "EXPLAIN ..." | head -3`: a reader that closes the pipe early is not an error.
#[test]
fn a_closed_pipe_is_not_an_error() {
    use std::io::{BufRead, BufReader};
    let d = tmp();
    for sql in [
        "EXPLAIN SELECT * FROM generate_series(1, 10) AS t(x) WHERE x > 2",
        "SELECT * FROM generate_series(1, 2000000)",
    ] {
        let mut child = lakeshell(d.path())
            .args(["-f", "csv", "-c", sql])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        out.read_line(&mut first).unwrap();
        assert!(!first.is_empty());
        drop(out);
        let done = child.wait_with_output().unwrap();
        assert_eq!(done.status.code(), Some(0), "{sql}: {}", stderr(&done));
        assert_eq!(stderr(&done), "", "{sql}");
    }
}
