//! Helpers shared by the integration tests.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use lakeshell::catalog::{parse_location, StorageOptions, Warehouse};
use lakeshell::engine::{Engine, ExecOptions, Outcome};
use lakeshell::sql::vars::Vars;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixtures() -> PathBuf {
    repo().join("fixtures")
}

/// ../shared/corpus, or $LAKESHELL_CORPUS. Tests that need it fail loudly when it is missing.
pub fn corpus() -> PathBuf {
    let p = std::env::var("LAKESHELL_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo().join("..").join("shared").join("corpus"));
    assert!(
        p.join("MANIFEST.md").exists(),
        "corpus not found at {} (set LAKESHELL_CORPUS)",
        p.display()
    );
    p
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_lakeshell"))
}

/// The binary with a clean environment for lakeshell's own variables, in `cwd`.
pub fn lakeshell(cwd: &Path) -> Command {
    let mut cmd = Command::new(bin());
    cmd.current_dir(cwd)
        .env_remove("LAKESHELL_WAREHOUSE")
        .env_remove("LAKESHELL_CONFIG")
        .env_remove("LAKESHELL_NOW")
        .env("HOME", cwd)
        .env("XDG_CONFIG_HOME", cwd.join(".config"))
        .stdin(Stdio::null());
    cmd
}

pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run lakeshell");
    assert!(
        out.status.success(),
        "lakeshell failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// An engine on a warehouse folder.
pub fn engine(warehouse: &Path, vars: HashMap<String, String>) -> Engine {
    engine_with(warehouse.to_str().unwrap(), StorageOptions::new(), vars)
}

pub fn engine_with(
    warehouse: &str,
    options: StorageOptions,
    vars: HashMap<String, String>,
) -> Engine {
    let wh = Warehouse::new(parse_location(warehouse).unwrap(), options);
    Engine::new(wh, Vars::new(vars)).unwrap()
}

/// Runs any statement; panics on failure.
pub async fn exec(engine: &Engine, sql: &str) -> Outcome {
    engine
        .execute(sql, &ExecOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Runs SQL and returns its rows formatted, one string per row, cells joined by " | ".
pub async fn rows(engine: &Engine, sql: &str) -> Vec<String> {
    match engine
        .execute(sql, &ExecOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
    {
        Outcome::Rows(r) => {
            format_rows(&r.collect().await.unwrap_or_else(|e| panic!("{sql}: {e}")))
        }
        other => panic!("{sql}: expected rows, got {other:?}"),
    }
}

pub fn format_rows(batches: &[RecordBatch]) -> Vec<String> {
    let options = FormatOptions::default().with_null("NULL");
    let mut out = Vec::new();
    for b in batches {
        let fmts: Vec<_> = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
            .collect();
        for r in 0..b.num_rows() {
            out.push(
                fmts.iter()
                    .map(|f| f.value(r).to_string())
                    .collect::<Vec<_>>()
                    .join(" | "),
            );
        }
    }
    out
}

/// A Python with deltalake, duckdb + its delta extension and moto, installed by the project's
/// own script (scripts/test-deps) on first use.
pub fn python() -> &'static Path {
    static PY: OnceLock<PathBuf> = OnceLock::new();
    PY.get_or_init(|| {
        let out = Command::new("bash")
            .arg(repo().join("scripts/test-deps"))
            .stderr(Stdio::inherit())
            .output()
            .expect("run scripts/test-deps");
        assert!(out.status.success(), "scripts/test-deps failed");
        PathBuf::from(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .last()
                .unwrap()
                .trim(),
        )
    })
}

/// Runs the test Python with `args`; returns stdout. Panics with stderr on failure.
pub fn run_python(args: &[&str]) -> String {
    let out = Command::new(python()).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "python {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a Python snippet with `args`; returns stdout. The snippet leaves through `os._exit`:
/// deltalake 1.6's Python package now and then aborts while the interpreter shuts down
/// ("terminate called without an active exception"), after the work is done.
pub fn py(code: &str, args: &[&str]) -> String {
    let code =
        format!("{code}\nimport os as _os, sys as _sys\n_sys.stdout.flush()\n_os._exit(0)\n");
    run_python(&[&["-c", code.as_str()], args].concat())
}

/// Copies a folder tree (fixtures and SQL into a scratch directory).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// A scratch directory holding a copy of the repo's fixtures/ and sql/.
pub fn project() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("fixtures"), &d.path().join("fixtures"));
    copy_dir(&repo().join("sql"), &d.path().join("sql"));
    d
}

/// Query results as CSV.
pub fn csv(dir: &Path, sql: &str) -> String {
    stdout(&run_ok(lakeshell(dir).args(["-f", "csv", "-c", sql])))
}

/// A small deterministic random source (xorshift) for the reliability campaign's tests: the
/// same seed gives the same statements and kill points.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    pub fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// The campaign's seed: `LAKESHELL_RELIABILITY_SEED`, or one from the clock.
pub fn campaign_seed() -> u64 {
    std::env::var("LAKESHELL_RELIABILITY_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        })
}

/// A count of the campaign's from the variable `name`, or `default` (the tests' short count).
pub fn campaign_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// Every file under `dir`.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Adds a section to a reliability report file (`LAKESHELL_RELIABILITY_REPORT`), which the tests
/// of one part of the campaign write in turn.
pub fn append_report(path: &str, text: &str) {
    let text = match std::fs::read_to_string(path) {
        Ok(earlier) => format!("{earlier}\n\n{text}"),
        Err(_) => text.to_string(),
    };
    std::fs::write(path, text).unwrap();
}
