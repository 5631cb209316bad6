//! One end-to-end warehouse test on every store lakeshell is tested on: local disk, S3 (moto's
//! server), Azure (Azurite, npm, installed by scripts/test-deps) and GCS (`tests/gcs_front.py`,
//! a front for the GCS XML API over moto's S3 server). Each runs CTAS, INSERT, MERGE, UPDATE,
//! DELETE, time travel, DESCRIBE HISTORY, OPTIMIZE, VACUUM and RESTORE, and delta-rs (Python)
//! reads every result back. Azure is configured through object_store's own emulator settings
//! (`azure_storage_use_emulator`, the emulator's well-known account), with the emulator's address
//! in `AZURITE_BLOB_STORAGE_URL`. GCS goes through object_store's GCS client unchanged: a
//! service-account key (RS256-signed tokens, verified by the front) and `google_base_url`.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::common::{lakeshell, py, python, run_ok, stderr, stdout};
use super::s3::{s3_env, start_moto, Moto, BOTO};

pub struct Azurite {
    child: Child,
    pub endpoint: String,
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The emulator's well-known account and key (public, in Microsoft's documentation).
const AZ_ACCOUNT: &str = "devstoreaccount1";
const AZ_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

fn azurite_bin() -> PathBuf {
    let _ = python(); // runs scripts/test-deps, which installs azurite
    let dir = std::env::var("LAKESHELL_TEST_NODE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/lakeshell/node")
        });
    dir.join("node_modules/.bin/azurite-blob")
}

/// Azurite's blob service on a free port of 127.0.0.1, in memory, with container `lake`.
pub fn start_azurite() -> Azurite {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let work = tempfile::tempdir().unwrap();
    let child = Command::new(azurite_bin())
        .args([
            "--inMemoryPersistence",
            "--disableTelemetry",
            "--skipApiVersionCheck",
            "--loose",
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            &port.to_string(),
        ])
        // Its debug log and settings stay out of the working directory.
        .current_dir(work.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start azurite (scripts/test-deps installs it)");
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "azurite did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let az = Azurite {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    py(
        &format!(
            "import sys\nfrom azure.storage.blob import BlobServiceClient\nBlobServiceClient.from_connection_string('DefaultEndpointsProtocol=http;AccountName={AZ_ACCOUNT};AccountKey={AZ_KEY};BlobEndpoint=' + sys.argv[1] + '/{AZ_ACCOUNT};').create_container('lake')"
        ),
        &[&az.endpoint],
    );
    az
}

/// Points `cmd` at the emulator.
pub fn azure_env(cmd: &mut Command, endpoint: &str) {
    cmd.env("AZURITE_BLOB_STORAGE_URL", endpoint)
        .env("AZURE_STORAGE_USE_EMULATOR", "true")
        .env_remove("AZURE_STORAGE_ACCOUNT_NAME")
        .env_remove("AZURE_STORAGE_ACCOUNT_KEY");
}

/// The GCS XML API on 127.0.0.1: `tests/gcs_front.py` in front of a moto server that holds
/// bucket `lake`. The front issues one service account, whose key is in `key`.
pub struct Gcs {
    front: Child,
    _moto: Moto,
    _keys: tempfile::TempDir,
    pub endpoint: String,
    /// The service-account key (JSON) the front accepts.
    pub key: String,
    /// A well-formed service-account key the front never issued.
    pub unknown_key: String,
}

impl Drop for Gcs {
    fn drop(&mut self) {
        let _ = self.front.kill();
        let _ = self.front.wait();
    }
}

pub fn start_gcs() -> Gcs {
    let moto = start_moto();
    py(BOTO, &[&moto.endpoint]);
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let keys = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/gcs_front.py");
    let front = Command::new(python())
        .arg(script)
        .args(["--port", &port.to_string(), "--backend", &moto.endpoint])
        .arg("--keys")
        .arg(keys.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the GCS front");
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the GCS front did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let read = |name: &str| std::fs::read_to_string(keys.path().join(name)).unwrap();
    Gcs {
        endpoint: format!("http://127.0.0.1:{port}"),
        key: read("service-account.json"),
        unknown_key: read("unknown-account.json"),
        front,
        _moto: moto,
        _keys: keys,
    }
}

/// Points `cmd` at the GCS front with its service account; plain HTTP to a `google_base_url`
/// on 127.0.0.1 needs no further option.
pub fn gcs_env(cmd: &mut Command, gcs: &Gcs) {
    cmd.env("GOOGLE_BASE_URL", &gcs.endpoint)
        .env("GOOGLE_SERVICE_ACCOUNT_KEY", &gcs.key)
        .env_remove("GOOGLE_SERVICE_ACCOUNT")
        .env_remove("GOOGLE_APPLICATION_CREDENTIALS");
}

/// A store under test: its warehouse URL, how a process reaches it, and delta-rs's options.
pub struct Store<'a> {
    pub name: &'static str,
    pub warehouse: String,
    pub env: Box<dyn Fn(&mut Command) + 'a>,
    /// Python: storage options for delta-rs.
    pub peer_options: String,
}

impl Store<'_> {
    pub fn command(&self, dir: &Path) -> Command {
        let mut cmd = lakeshell(dir);
        (self.env)(&mut cmd);
        cmd.args(["--warehouse", &self.warehouse]);
        cmd
    }

    fn csv(&self, dir: &Path, sql: &str) -> String {
        stdout(&run_ok(self.command(dir).args(["-f", "csv", "-c", sql])))
    }

    /// Table `t`'s rows as delta-rs reads them, sorted, as `id,name` lines.
    fn peer_rows(&self, version: Option<u64>) -> String {
        let version = version
            .map(|v| format!(", version={v}"))
            .unwrap_or_default();
        let mut cmd = Command::new(python());
        (self.env)(&mut cmd);
        let code = format!(
            "from deltalake import DeltaTable\nt = DeltaTable('{}/default/t', storage_options={}{version}).to_pyarrow_table().sort_by('id').to_pylist()\nprint('\\n'.join(f\"{{r['id']}},{{r['name']}}\" for r in t))\nimport os; os._exit(0)",
            self.warehouse, self.peer_options
        );
        let out = cmd.args(["-c", &code]).output().unwrap();
        assert!(out.status.success(), "delta-rs: {}", stderr(&out));
        stdout(&out)
    }
}

/// The scenario every store runs.
fn end_to_end(store: &Store) {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let ok = |sql: &str| {
        run_ok(store.command(dir).args(["-q", "-c", sql]));
    };
    let rows = |sql: &str| store.csv(dir, sql);
    let name = store.name;
    ok("CREATE TABLE t AS SELECT * FROM (VALUES (1, 'a'), (2, 'b'), (3, 'c')) AS v(id, name)");
    ok("INSERT INTO t VALUES (4, 'd')");
    ok("MERGE INTO t USING (SELECT * FROM (VALUES (2, 'B'), (5, 'e')) AS v(id, name)) AS s ON t.id = s.id WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *");
    ok("UPDATE t SET name = 'C' WHERE id = 3");
    ok("DELETE FROM t WHERE id = 1");
    let now = "2,B\n3,C\n4,d\n5,e\n";
    assert_eq!(
        rows("SELECT id, name FROM t ORDER BY id"),
        format!("id,name\n{now}"),
        "{name}"
    );
    assert_eq!(
        store.peer_rows(None),
        now,
        "{name}: delta-rs reads what lakeshell wrote"
    );
    // Time travel, and the history of every commit.
    assert_eq!(
        rows("SELECT id, name FROM t VERSION AS OF 1 ORDER BY id"),
        "id,name\n1,a\n2,b\n3,c\n4,d\n",
        "{name}"
    );
    let h = rows("DESCRIBE HISTORY t");
    for op in ["WRITE", "MERGE", "UPDATE", "DELETE"] {
        assert!(h.contains(op), "{name}: no {op} in {h}");
    }
    // Maintenance: compaction, back to a version, and a vacuum of the files no version needs.
    let opt = rows("OPTIMIZE t");
    assert!(opt.lines().nth(1).unwrap().contains(",5,"), "{name}: {opt}");
    ok("RESTORE TABLE t TO VERSION AS OF 1");
    let then = "1,a\n2,b\n3,c\n4,d\n";
    assert_eq!(
        rows("SELECT id, name FROM t ORDER BY id"),
        format!("id,name\n{then}"),
        "{name}"
    );
    assert_eq!(
        store.peer_rows(None),
        then,
        "{name}: delta-rs reads the restored table"
    );
    assert_eq!(
        store.peer_rows(Some(5)),
        now,
        "{name}: and the version before it"
    );
    let vacuumed = stdout(&run_ok(store.command(dir).args([
        "-f",
        "csv",
        "-c",
        "SET spark.databricks.delta.retentionDurationCheck.enabled = false",
        "-c",
        "VACUUM t RETAIN 0 HOURS",
    ])));
    assert!(
        vacuumed.lines().count() > 2,
        "{name}: VACUUM deleted nothing: {vacuumed}"
    );
    assert_eq!(
        rows("SELECT id, name FROM t ORDER BY id"),
        format!("id,name\n{then}"),
        "{name}"
    );
    assert_eq!(
        store.peer_rows(None),
        then,
        "{name}: delta-rs reads the vacuumed table"
    );
}

/// Bad store settings: one line naming the store's URL, exit 1.
fn one_line_naming(out: &std::process::Output, url: &str) {
    assert_eq!(out.status.code(), Some(1), "{}", stderr(out));
    let err = stderr(out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(url), "{err}");
}

#[test]
fn end_to_end_on_local_disk() {
    let d = tempfile::tempdir().unwrap();
    let wh = d.path().join("wh");
    end_to_end(&Store {
        name: "local",
        warehouse: wh.display().to_string(),
        env: Box::new(|_| {}),
        peer_options: "{}".into(),
    });
}

#[test]
fn end_to_end_on_s3() {
    let moto = start_moto();
    py(BOTO, &[&moto.endpoint]);
    let endpoint = moto.endpoint.clone();
    end_to_end(&Store {
        name: "s3",
        warehouse: "s3://lake/e2e".into(),
        env: Box::new(move |c| s3_env(c, &endpoint)),
        peer_options: format!(
            "{{'AWS_ENDPOINT_URL': '{}', 'AWS_ACCESS_KEY_ID': 'test', 'AWS_SECRET_ACCESS_KEY': 'test', 'AWS_REGION': 'us-east-1', 'AWS_ALLOW_HTTP': 'true'}}",
            moto.endpoint
        ),
    });
}

#[test]
fn end_to_end_on_azure() {
    let az = start_azurite();
    let endpoint = az.endpoint.clone();
    end_to_end(&Store {
        name: "azure",
        warehouse: "az://lake/e2e".into(),
        env: Box::new(move |c| azure_env(c, &endpoint)),
        peer_options: "{'azure_storage_use_emulator': 'true'}".into(),
    });
    // A container that does not exist, and a wrong key.
    let d = tempfile::tempdir().unwrap();
    let mut missing = lakeshell(d.path());
    azure_env(&mut missing, &az.endpoint);
    let out = missing
        .args([
            "--warehouse",
            "az://nope/wh",
            "-c",
            "CREATE TABLE t AS SELECT 1 AS x",
        ])
        .output()
        .unwrap();
    one_line_naming(&out, "az://nope/wh");
    let mut wrong = lakeshell(d.path());
    azure_env(&mut wrong, &az.endpoint);
    let out = wrong
        .env("AZURE_STORAGE_ACCOUNT_KEY", "d3Jvbmc=")
        .env("AZURE_STORAGE_ACCOUNT_NAME", AZ_ACCOUNT)
        .args([
            "--warehouse",
            "az://lake/e2e",
            "-c",
            "SELECT count(*) FROM t",
        ])
        .output()
        .unwrap();
    one_line_naming(&out, "az://lake/e2e");
}

#[test]
fn end_to_end_on_gcs() {
    let gcs = start_gcs();
    end_to_end(&Store {
        name: "gcs",
        warehouse: "gs://lake/e2e".into(),
        env: Box::new(|c| gcs_env(c, &gcs)),
        peer_options: "{'google_allow_http': 'true'}".into(),
    });
    let d = tempfile::tempdir().unwrap();
    // A bucket that does not exist, and a key the server never issued.
    let mut missing = lakeshell(d.path());
    gcs_env(&mut missing, &gcs);
    let out = missing
        .args([
            "--warehouse",
            "gs://nope/wh",
            "-c",
            "CREATE TABLE t AS SELECT 1 AS x",
        ])
        .output()
        .unwrap();
    one_line_naming(&out, "gs://nope/wh");
    let mut wrong = lakeshell(d.path());
    gcs_env(&mut wrong, &gcs);
    let out = wrong
        .env("GOOGLE_SERVICE_ACCOUNT_KEY", &gcs.unknown_key)
        .args([
            "--warehouse",
            "gs://lake/e2e",
            "-c",
            "SELECT count(*) FROM t",
        ])
        .output()
        .unwrap();
    one_line_naming(&out, "gs://lake/e2e");
    assert!(!stderr(&out).contains("PRIVATE KEY"), "{}", stderr(&out));
    // A secret in DuckDB's form, scoped to the bucket, outranks the environment's wrong key
    // (the warehouse is local here: reading its persistent secrets needs no key).
    let mut scoped = lakeshell(d.path());
    gcs_env(&mut scoped, &gcs);
    let out = run_ok(
        scoped
            .env("GOOGLE_SERVICE_ACCOUNT_KEY", &gcs.unknown_key)
            .env("GCS_KEY_JSON", &gcs.key)
            .args([
                "-f",
                "csv",
                "-c",
                "CREATE SECRET g (TYPE gcs, SERVICE_ACCOUNT_KEY '${GCS_KEY_JSON}', SCOPE 'gs://lake/')",
                "-c",
                "SELECT count(*) AS n FROM delta.`gs://lake/e2e/default/t`",
            ]),
    );
    assert!(stdout(&out).ends_with("n\n4\n"), "{}", stdout(&out));
}
