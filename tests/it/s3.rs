//! A warehouse on a real S3-compatible server (moto's server mode from PyPI, installed by
//! scripts/test-deps), started on 127.0.0.1 for the test and stopped after. delta-rs commits
//! with conditional PUTs, which moto honours: no unsafe renames.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::common::{lakeshell, py, python, run_ok, stderr, stdout};

pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_moto() -> Moto {
    start_moto_with(&[])
}

/// moto with `env` set (for example its request recorder).
pub fn start_moto_with(env: &[(&str, &str)]) -> Moto {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(python())
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto server");
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Moto {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    }
}

pub const BOTO: &str = "import boto3, sys\n\
s3 = boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='test', aws_secret_access_key='test', region_name='us-east-1')\n\
s3.create_bucket(Bucket='lake')\n\
s3.put_object(Bucket='lake', Key='landing/orders.csv', Body=b'id,amount\\n1,10.5\\n2,20\\n')\n";

pub fn s3_env(cmd: &mut Command, endpoint: &str) {
    cmd.env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE");
}

#[test]
fn warehouse_on_s3_end_to_end() {
    let moto = start_moto();
    py(BOTO, &[&moto.endpoint]);
    let d = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let mut cmd = lakeshell(d.path());
        s3_env(&mut cmd, &moto.endpoint);
        cmd.args(["--warehouse", "s3://lake/wh"]).args(args);
        cmd
    };
    // Create from a CSV on S3, insert, query.
    run_ok(&mut run(&["-q", "-c", "CREATE TABLE sales.orders PARTITIONED BY (big) AS SELECT id, amount, amount > 15 AS big FROM 's3://lake/landing/orders.csv'"]));
    run_ok(&mut run(&[
        "-q",
        "-c",
        "INSERT INTO sales.orders VALUES (3, 1.25, false)",
    ]));
    // A new process sees it all.
    let out = run_ok(&mut run(&[
        "-f",
        "csv",
        "-c",
        "SELECT id, amount, big FROM sales.orders ORDER BY id",
    ]));
    assert_eq!(
        stdout(&out),
        "id,amount,big\n1,10.5,false\n2,20.0,true\n3,1.25,false\n"
    );
    let dt = run_ok(&mut run(&["-f", "csv", "-c", "\\dt"]));
    assert!(
        stdout(&dt).contains("sales.orders,managed,1,s3://lake/wh/sales/orders"),
        "{}",
        stdout(&dt)
    );
    // By path, and registered as an external table whose secret is kept as a reference.
    let by_path = run_ok(&mut run(&[
        "-f",
        "csv",
        "-c",
        "SELECT count(*) AS n FROM delta.`s3://lake/wh/sales/orders`",
    ]));
    assert_eq!(stdout(&by_path), "n\n3\n");
    run_ok(&mut run(&["-q", "-c", "CREATE EXTERNAL TABLE ext.orders STORED AS DELTA LOCATION 's3://lake/wh/sales/orders' OPTIONS ('aws_secret_access_key' '${AWS_SECRET_ACCESS_KEY}', 'aws_region' 'us-east-1')"]));
    let ext = run_ok(&mut run(&[
        "-f",
        "csv",
        "-c",
        "SELECT sum(amount) AS s FROM ext.orders",
    ]));
    assert_eq!(stdout(&ext), "s\n31.75\n");
    let registry = py(
        "import boto3, sys\ns3 = boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='test', aws_secret_access_key='test', region_name='us-east-1')\nprint(s3.get_object(Bucket='lake', Key='wh/_lakeshell/tables.json')['Body'].read().decode())",
        &[&moto.endpoint],
    );
    assert!(
        registry.contains("${AWS_SECRET_ACCESS_KEY}") && !registry.contains("\"test\""),
        "{registry}"
    );
    // A bucket that does not exist: one clear line, exit 1.
    let mut bad = lakeshell(d.path());
    s3_env(&mut bad, &moto.endpoint);
    let out = bad
        .args([
            "--warehouse",
            "s3://no-such-bucket/wh",
            "-c",
            "CREATE TABLE t AS SELECT 1 AS x",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
}

#[test]
fn read_only_session_sends_no_write_to_the_store() {
    let d = tempfile::tempdir().unwrap();
    let recording = d.path().join("requests.jsonl");
    let moto = start_moto_with(&[
        ("MOTO_ENABLE_RECORDING", "true"),
        ("MOTO_RECORDER_FILEPATH", recording.to_str().unwrap()),
    ]);
    py(BOTO, &[&moto.endpoint]);
    // A target that is read-only, in the project's lakeshell.toml.
    std::fs::write(
        d.path().join("lakeshell.toml"),
        "target = 'dev'\n[targets.dev]\nwarehouse = 's3://lake/wh'\n[targets.prod]\nwarehouse = 's3://lake/wh'\nread_only = true\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let mut cmd = lakeshell(d.path());
        s3_env(&mut cmd, &moto.endpoint);
        cmd.env_remove("LAKESHELL_TARGET").args(args);
        cmd
    };
    run_ok(&mut run(&[
        "-q",
        "-c",
        "CREATE TABLE t AS SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS v(id, name)",
    ]));
    std::fs::write(&recording, "").unwrap();
    let writes = [
        "MERGE INTO t USING (SELECT 3 AS id, 'c' AS name) AS s ON t.id = s.id WHEN NOT MATCHED THEN INSERT *",
        "INSERT INTO t VALUES (9, 'z')",
        "OPTIMIZE t",
        "DROP TABLE t",
        "CREATE EXTERNAL TABLE e STORED AS DELTA LOCATION 's3://lake/wh/default/t'",
    ];
    for (flags, why) in [
        (vec!["--target", "prod"], "target prod"),
        (vec!["--read-only"], "--read-only"),
    ] {
        for sql in writes {
            let mut cmd = run(&flags);
            let out = cmd.args(["-c", sql]).output().unwrap();
            assert_eq!(out.status.code(), Some(1), "{sql}");
            let err = stderr(&out);
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(
                err.contains(&format!(
                    "this session is read-only ({why}); nothing was done"
                )),
                "{err}"
            );
        }
        // Reads work, and the dry run and CHECK too (its results are not recorded).
        let mut cmd = run(&flags);
        let out = run_ok(cmd.args([
            "-f",
            "csv",
            "-c",
            "SELECT count(*) AS n FROM t",
            "-c",
            "MERGE INTO t USING (SELECT 3 AS id, 'c' AS name) AS s ON t.id = s.id WHEN NOT MATCHED THEN INSERT * DRY RUN",
            "-c",
            "CHECK t (CONSTRAINT ids EXPECT (id > 0))",
        ]));
        assert!(stdout(&out).starts_with("n\n2\n"), "{}", stdout(&out));
    }
    // The store saw reads, and not one write.
    let log = std::fs::read_to_string(&recording).unwrap();
    let methods: Vec<String> = log
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["method"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(
        methods.iter().any(|m| m == "GET"),
        "no reads recorded: {log}"
    );
    let written: Vec<&String> = methods
        .iter()
        .filter(|m| matches!(m.as_str(), "PUT" | "POST" | "DELETE" | "PATCH"))
        .collect();
    assert!(
        written.is_empty(),
        "{} write request(s): {log}",
        written.len()
    );
    // The dev target writes, and its commits say so.
    run_ok(&mut run(&["-q", "-c", "INSERT INTO t VALUES (3, 'c')"]));
    let h = run_ok(&mut run(&[
        "-f",
        "json",
        "-c",
        "SELECT count(*) AS n FROM t",
    ]));
    assert_eq!(stdout(&h), "[{\"n\":3}]\n");
    let commit = py(
        "import boto3, sys\ns3 = boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='test', aws_secret_access_key='test', region_name='us-east-1')\nprint(s3.get_object(Bucket='lake', Key='wh/default/t/_delta_log/00000000000000000001.json')['Body'].read().decode())",
        &[&moto.endpoint],
    );
    assert!(commit.contains("\"lakeshell.target\":\"dev\""), "{commit}");
}

#[test]
fn secrets_are_scoped_by_the_longest_prefix_and_persist_as_references() {
    // Two S3 servers, one bucket each: a table on each is reachable only with its own secret.
    let one = start_moto();
    let two = start_moto();
    let bucket = "import boto3, sys\nboto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='test', aws_secret_access_key='test', region_name='us-east-1').create_bucket(Bucket=sys.argv[2])\n";
    py(bucket, &[&one.endpoint, "one"]);
    py(bucket, &[&two.endpoint, "two"]);
    let d = tempfile::tempdir().unwrap();
    let run = || {
        let mut cmd = lakeshell(d.path());
        cmd.env_remove("AWS_ENDPOINT_URL")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_PROFILE")
            .env("MOTO_SECRET", "test");
        cmd
    };
    let secret = |name: &str, scope: &str, endpoint: &str, persistent: bool| {
        format!(
            "CREATE {}SECRET {name} (TYPE s3, KEY_ID 'test', SECRET '${{MOTO_SECRET}}', REGION 'us-east-1', ENDPOINT '{endpoint}', SCOPE '{scope}')",
            if persistent { "PERSISTENT " } else { "" }
        )
    };
    // A catch-all secret for S3 points at the wrong server; the bucket scopes win.
    let out = run_ok(run().args([
        "-f",
        "csv",
        "-c",
        &secret("anywhere", "s3://", &two.endpoint, false),
        "-c",
        &secret("first", "s3://one/", &one.endpoint, false),
        "-c",
        "CREATE TABLE a LOCATION 's3://one/a' AS SELECT * FROM (VALUES (1, 'x'), (2, 'y')) AS v(id, v)",
        "-c",
        "CREATE TABLE b LOCATION 's3://two/b' AS SELECT * FROM (VALUES (1, 10), (2, 20)) AS v(id, n)",
        "-c",
        "SELECT a.id, a.v, b.n FROM a JOIN b ON a.id = b.id ORDER BY a.id",
        "-c",
        "SHOW SECRETS",
    ]));
    let text = stdout(&out);
    assert!(text.contains("id,v,n\n1,x,10\n2,y,20\n"), "{text}");
    assert!(
        text.contains(
            "name,type,scope,persistent\nanywhere,s3,s3://,false\nfirst,s3,s3://one/,false\n"
        ),
        "{text}"
    );
    assert!(
        !text.contains("test'"),
        "SHOW SECRETS shows no value: {text}"
    );
    // Without the secrets (a new session, temporary ones gone) bucket one is out of reach.
    let lost = run()
        .args(["-c", "SELECT count(*) FROM a"])
        .output()
        .unwrap();
    assert_eq!(lost.status.code(), Some(1), "{}", stderr(&lost));
    // A persistent secret with a written-out value is refused, and the value is not shown.
    let refused = run()
        .args(["-c", "CREATE PERSISTENT SECRET p (TYPE s3, KEY_ID 'test', SECRET 'hunter2-literal', SCOPE 's3://one/')"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let err = stderr(&refused);
    assert!(
        err.contains("keeps ${VAR} references only") && !err.contains("hunter2"),
        "{err}"
    );
    // Persistent secrets keep references, and every later session reads them.
    run_ok(run().args([
        "-q",
        "-c",
        &secret("one_p", "s3://one/", &one.endpoint, true),
        "-c",
        &secret("two_p", "s3://two/", &two.endpoint, true),
    ]));
    let kept = std::fs::read_to_string(d.path().join("lakehouse/_lakeshell/secrets.json")).unwrap();
    assert!(
        kept.contains("\"aws_secret_access_key\": \"${MOTO_SECRET}\""),
        "{kept}"
    );
    let later = run_ok(run().args([
        "-f",
        "csv",
        "-c",
        "SELECT a.id, b.n FROM a JOIN b ON a.id = b.id ORDER BY a.id",
    ]));
    assert_eq!(stdout(&later), "id,n\n1,10\n2,20\n");
    // A read-only session may not change them.
    let ro = run()
        .args(["--read-only", "-c", "DROP SECRET one_p"])
        .output()
        .unwrap();
    assert_eq!(ro.status.code(), Some(1));
    assert!(
        stderr(&ro).contains("DROP SECRET would write"),
        "{}",
        stderr(&ro)
    );
    run_ok(run().args(["-q", "-c", "DROP PERSISTENT SECRET one_p"]));
    let gone = run()
        .args(["-c", "SELECT count(*) FROM a"])
        .output()
        .unwrap();
    assert_eq!(gone.status.code(), Some(1), "{}", stderr(&gone));
}
