//! read_api against a real HTTP server on 127.0.0.1 (`tests/api_server.py`, started per test):
//! every paginator, bearer and OAuth2 secrets, retries of 503 and 429, failures that name the
//! URL and commit nothing, and tokens that never show.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::common::{csv, files_under, lakeshell, python, run_ok, stderr, stdout};

pub struct ApiServer {
    child: Child,
    pub base: String,
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_api() -> ApiServer {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api_server.py");
    let child = Command::new(python())
        .arg(script)
        .args(["--port", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the API server");
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the API server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    ApiServer {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

fn ids(n: usize) -> String {
    let mut s = String::from("id\n");
    for i in 1..=n {
        s.push_str(&format!("{i}\n"));
    }
    s
}

#[test]
fn read_api_follows_every_paginator() {
    let api = start_api();
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let b = &api.base;
    let reads = [
        format!("read_api('{b}/v2/calls', secret => 'calls_api', records => '$.data', pagination => 'page', page_size_param => 'per_page', page_size => 10, total_pages_header => 'X-Pages')"),
        format!("read_api('{b}/v2/calls', secret => 'calls_api', records => '$.data', pagination => 'page', page_size_param => 'per_page', page_size => 7, total_pages_path => '$.meta.pages')"),
        format!("read_api('{b}/offset', pagination => 'offset', page_size => 10)"),
        format!("read_api('{b}/cursor', records => '$.data', pagination => 'cursor', cursor_path => '$.meta.next')"),
        format!("read_api('{b}/link', pagination => 'link_header')"),
        format!("read_api('{b}/next', records => '$.data', pagination => 'next_url', next_url_path => '$.links.next')"),
    ];
    for r in &reads {
        let out = run_ok(lakeshell(dir).env("CALLS_TOKEN", "calls-token").args([
            "-f",
            "csv",
            "-c",
            "CREATE SECRET calls_api (TYPE bearer, TOKEN '${CALLS_TOKEN}')",
            "-c",
            &format!("SELECT id FROM {r} ORDER BY id"),
        ]));
        assert_eq!(stdout(&out), ids(25), "{r}");
    }
    // Columns from `schema`, nested objects as structs; the page each record came from.
    let typed = run_ok(lakeshell(dir).env("CALLS_TOKEN", "calls-token").args([
        "-f",
        "csv",
        "-c",
        "CREATE SECRET calls_api (TYPE bearer, TOKEN '${CALLS_TOKEN}')",
        "-c",
        &format!("SELECT id, started_at, duration_s, agent['name'] AS agent, _page, _source_url LIKE '%page=3%' AS third, _fetched_at IS NOT NULL AS stamped, arrow_typeof(started_at) AS t FROM read_api('{b}/v2/calls', secret => 'calls_api', records => '$.data', pagination => 'page', page_size_param => 'per_page', page_size => 10, total_pages_header => 'X-Pages', schema => 'id BIGINT, started_at TIMESTAMP, duration_s INT, agent STRUCT<id: BIGINT, name: STRING>') WHERE id IN (1, 25) ORDER BY id"),
    ]));
    assert_eq!(
        stdout(&typed),
        "id,started_at,duration_s,agent,_page,third,stamped,t\n1,2024-01-01T10:00:00,30,bo,1,false,true,Timestamp(ns)\n25,2024-01-25T10:00:00,750,bo,3,true,true,Timestamp(ns)\n"
    );
}

#[test]
fn read_api_retries_throttling_and_names_what_failed() {
    let api = start_api();
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let b = &api.base;
    // Each page answers 503, then 429 with Retry-After, then its records.
    assert_eq!(
        csv(dir, &format!("SELECT id FROM read_api('{b}/flaky', records => '$.data', pagination => 'page', total_pages_path => '$.meta.pages') ORDER BY id")),
        ids(25)
    );
    let hits = |route: &str| -> u64 {
        let out = Command::new(python())
            .args(["-c", &format!("import json, urllib.request; print(json.load(urllib.request.urlopen('{b}/hits')).get('{route}', 0))")])
            .output()
            .unwrap();
        stdout(&out).trim().parse().unwrap()
    };
    assert_eq!(hits("/flaky"), 9, "three tries for each of three pages");
    // A dropped connection and a timeout are retried too.
    for (route, extra) in [("/drops", ""), ("/stalls", ", timeout_s => 1")] {
        assert_eq!(
            csv(dir, &format!("SELECT id FROM read_api('{b}{route}', records => '$.data', pagination => 'page'{extra}) ORDER BY id")),
            ids(25),
            "{route}"
        );
        assert_eq!(
            hits(route),
            8,
            "{route}: two tries for each of four pages (the last empty)"
        );
    }
    // A server that stays down: retried max_retries times, then one line naming URL, page and
    // status; the CTAS around it commits nothing.
    let out = lakeshell(dir)
        .args([
            "-c",
            &format!(
                "CREATE TABLE bronze.calls AS SELECT * FROM read_api('{b}/down', max_retries => 2)"
            ),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "read_api {b}/down (page 1): HTTP 503 Service Unavailable after 2 retries"
        )) && err.lines().count() == 1,
        "{err}"
    );
    assert!(!dir.join("lakehouse/bronze/calls/_delta_log").exists());
    assert_eq!(hits("/down"), 3);
    // A refused token is not retried, and never shows.
    let before = hits("/v2/calls");
    let out = lakeshell(dir)
        .env("CALLS_TOKEN", "not-the-token-4711")
        .args([
            "-c",
            "CREATE SECRET calls_api (TYPE bearer, TOKEN '${CALLS_TOKEN}')",
            "-c",
            &format!("SELECT * FROM read_api('{b}/v2/calls', secret => 'calls_api', records => '$.data')"),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("HTTP 401 Unauthorized") && err.contains(&format!("{b}/v2/calls")),
        "{err}"
    );
    assert!(
        !err.contains("4711") && !stdout(&out).contains("4711"),
        "{err}"
    );
    assert_eq!(hits("/v2/calls"), before + 1, "401 is not retried");
    // max_pages stops a server that never ends, and says so.
    let out = run_ok(lakeshell(dir).args([
        "-c",
        &format!("SELECT count(*) AS n FROM read_api('{b}/forever', records => '$.data', pagination => 'next_url', next_url_path => '$.links.next', max_pages => 4)"),
    ]));
    assert!(
        stdout(&out).contains("stopped at max_pages => 4"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn read_api_with_a_persistent_oauth2_secret_loads_bronze_once() {
    let api = start_api();
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let b = &api.base;
    let env = |c: &mut Command| {
        c.env("CALLS_ID", "calls-id")
            .env("CALLS_SECRET", "calls-secret");
    };
    let mut create = lakeshell(dir);
    env(&mut create);
    run_ok(create.args([
        "-c",
        &format!("CREATE PERSISTENT SECRET calls_oauth (TYPE oauth2, TOKEN_URL '{b}/oauth/token', CLIENT_ID '${{CALLS_ID}}', CLIENT_SECRET '${{CALLS_SECRET}}')"),
    ]));
    let kept = std::fs::read_to_string(dir.join("lakehouse/_lakeshell/secrets.json")).unwrap();
    assert!(
        !kept.contains("calls-secret") && kept.contains("${CALLS_SECRET}"),
        "{kept}"
    );
    // A later session reads the secret again; a re-run of the MERGE adds nothing.
    let load = format!("MERGE INTO bronze.calls t USING (SELECT id, duration_s FROM read_api('{b}/oauth/calls', secret => 'calls_oauth', records => '$.data', pagination => 'page')) s ON t.id = s.id WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *");
    run_ok(lakeshell(dir).args([
        "-q",
        "-c",
        "CREATE TABLE bronze.calls (id BIGINT, duration_s BIGINT)",
    ]));
    for _ in 0..2 {
        let mut run = lakeshell(dir);
        env(&mut run);
        run_ok(run.args(["-q", "-c", &load]));
    }
    assert_eq!(
        csv(
            dir,
            "SELECT count(*) AS n, sum(duration_s) AS s FROM bronze.calls"
        ),
        "n,s\n25,9750\n"
    );
}

#[test]
fn an_oauth2_token_refused_is_fetched_again_once() {
    let api = start_api();
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let b = &api.base;
    let secret = format!("CREATE SECRET calls_oauth (TYPE oauth2, TOKEN_URL '{b}/oauth/token', CLIENT_ID 'calls-id', CLIENT_SECRET 'calls-secret')");
    let hits = |route: &str| -> u64 {
        let out = Command::new(python())
            .args(["-c", &format!("import json, urllib.request; print(json.load(urllib.request.urlopen('{b}/hits')).get('{route}', 0))")])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    // Each token serves one page: a 401 fetches a new token and the page is asked again.
    let read = format!("{secret}; SELECT count(*) AS n FROM read_api('{b}/oauth/expiring', secret => 'calls_oauth', records => '$.data', pagination => 'page')");
    assert_eq!(csv(dir, &read), "n\n25\n");
    assert_eq!(
        hits("/oauth/token"),
        4,
        "the first token, and one more for each later page"
    );
    // A token refused again after the refresh fails at once, naming the URL and the status.
    let before = hits("/oauth/token");
    let out = lakeshell(dir)
        .args([
            "-c",
            &format!(
                "{secret}; SELECT * FROM read_api('{b}/oauth/refuses', secret => 'calls_oauth')"
            ),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{b}/oauth/refuses"))
            && err.contains("401")
            && err.lines().count() == 1,
        "{err}"
    );
    assert!(
        !err.contains("calls-secret") && !err.contains("oauth-"),
        "{err}"
    );
    assert_eq!(
        hits("/oauth/token") - before,
        2,
        "one token and one refresh, no more"
    );
    assert_eq!(hits("/oauth/refuses"), 2);
}

#[test]
fn records_that_do_not_fit_go_to_the_dead_letter_table_when_the_statement_succeeds() {
    let api = start_api();
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let b = &api.base;
    let read = format!("SELECT id, duration_s FROM read_api('{b}/malformed', schema => 'id BIGINT, duration_s INT', dead_letter => 'bronze.calls_dead_letter')");
    // Without dead_letter the statement fails, naming the page and the record.
    let out = lakeshell(dir)
        .args([
            "-c",
            &format!(
                "SELECT * FROM read_api('{b}/malformed', schema => 'id BIGINT, duration_s INT')"
            ),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("(page 1): a record does not fit the schema")
            && stderr(&out).contains("\"long\""),
        "{}",
        stderr(&out)
    );
    run_ok(lakeshell(dir).args(["-q", "-c", &format!("CREATE TABLE bronze.calls AS {read}")]));
    assert_eq!(
        csv(dir, "SELECT id FROM bronze.calls ORDER BY id"),
        "id\n1\n3\n"
    );
    let letters = "SELECT regexp_replace(source, '.*/', '') AS src, page, line IS NULL AS no_line, error, target FROM bronze.calls_dead_letter";
    let one = "src,page,no_line,error,target\nmalformed,1,true,\"whilst decoding field 'duration_s': failed to parse \"\"long\"\" as Int32\",bronze.calls\n";
    assert_eq!(csv(dir, letters), one);
    // A statement that fails after reading keeps no letters.
    let out = lakeshell(dir)
        .args(["-c", &format!("CREATE TABLE bronze.calls AS {read}")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(csv(dir, letters), one);
}

#[test]
fn read_api_shows_pages_fetched_on_a_terminal_only() {
    let api = start_api();
    let d = tempfile::tempdir().unwrap();
    // /flaky answers each page on its third try, a second apart: time enough to draw.
    let sql = format!("SELECT count(*) AS n FROM read_api('{}/flaky', records => '$.data', pagination => 'page', total_pages_path => '$.meta.pages')", api.base);
    let cmd = format!(
        "LAKESHELL_PROGRESS_DELAY_MS=0 {} -c \"{sql}\"",
        super::common::bin().display()
    );
    let tty = super::cli::under_pty(d.path(), &cmd, "");
    assert!(
        tty.contains("page(s)") && tty.contains("record(s) fetched"),
        "no progress on a terminal: {tty}"
    );
    let piped = run_ok(
        lakeshell(d.path())
            .env("LAKESHELL_PROGRESS_DELAY_MS", "0")
            .args(["-f", "csv", "-c", &sql]),
    );
    assert!(!stderr(&piped).contains("fetched"));
    assert_eq!(stdout(&piped), "n\n25\n");
}

/// Secret canaries (a `${VAR}` bearer token, an OAuth2 client secret and the tokens it gets, a
/// literal token) are searched for in everything a run leaves: stdout and stderr at
/// `RUST_LOG=trace`, the run report, the run log, commit info and every file of the warehouse.
/// (History is searched by `cli::repl_multiline_history_and_meta_commands`.)
#[test]
fn secrets_stay_out_of_every_output() {
    let api = start_api();
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let b = &api.base;
    std::fs::create_dir_all(dir.join("jobs")).unwrap();
    std::fs::write(
        dir.join("jobs/load.sql"),
        format!(
            "CREATE SECRET calls_api (TYPE bearer, TOKEN '${{CALLS_TOKEN}}');
CREATE SECRET calls_oauth (TYPE oauth2, TOKEN_URL '{b}/oauth/token', CLIENT_ID 'calls-id', CLIENT_SECRET '${{CALLS_SECRET}}');
CREATE SECRET wrong (TYPE bearer, TOKEN 'canary-literal-7');
CREATE TABLE bronze.calls AS SELECT id FROM read_api('{b}/v2/calls', secret => 'calls_api', records => '$.data', pagination => 'page', page_size_param => 'per_page', page_size => 10);
INSERT INTO bronze.calls SELECT id FROM read_api('{b}/oauth/calls', secret => 'calls_oauth', records => '$.data', pagination => 'page');
INSERT INTO bronze.calls SELECT id FROM read_api('{b}/v2/calls', secret => 'wrong', records => '$.data');
"
        ),
    )
    .unwrap();
    let out = lakeshell(dir)
        .env("CALLS_TOKEN", "calls-token")
        .env("CALLS_SECRET", "calls-secret")
        .env("RUST_LOG", "trace")
        .args(["run", "jobs", "--report", "report.json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "the refused token fails the run"
    );
    assert!(stderr(&out).contains("401"), "{}", stderr(&out));
    let mut outputs = vec![
        ("stdout".to_string(), stdout(&out)),
        ("stderr".to_string(), stderr(&out)),
        (
            "report".to_string(),
            std::fs::read_to_string(dir.join("report.json")).unwrap(),
        ),
        (
            "run log".to_string(),
            csv(dir, "SELECT * FROM lakeshell.run_log"),
        ),
        (
            "history".to_string(),
            csv(dir, "DESCRIBE HISTORY bronze.calls"),
        ),
    ];
    assert!(
        outputs[3].1.contains("CREATE SECRET wrong"),
        "{}",
        outputs[3].1
    );
    assert_eq!(
        csv(dir, "SELECT count(*) AS n FROM bronze.calls"),
        "n\n50\n"
    );
    for f in files_under(&dir.join("lakehouse")) {
        let bytes = std::fs::read(&f).unwrap();
        outputs.push((
            f.display().to_string(),
            String::from_utf8_lossy(&bytes).into_owned(),
        ));
    }
    for canary in ["calls-token", "calls-secret", "canary-literal-7", "oauth-1"] {
        for (name, text) in &outputs {
            assert!(!text.contains(canary), "{canary} in {name}: {text}");
        }
    }
}
