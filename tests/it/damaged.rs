//! Damaged tables and files (the reliability campaign's malformed inputs): each damage is made
//! on a fresh copy of a small partitioned table with a checkpoint, and every statement family is
//! run on it in the real binary. Whatever happens there is no panic; a failure is one line that
//! names the table and, where one file is damaged, that file; a read never changes the log, and
//! a failed write commits nothing.
//!
//! `LAKESHELL_RELIABILITY_REPORT=path` writes the figures (damages, statements, outcomes) as a
//! Markdown table for `reliability/run`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::common::{append_report, copy_dir, files_under, lakeshell, run_ok, stderr};

/// One damage: its name, the file its errors must name (if one file is damaged) and what it
/// does to the table folder.
struct Damage {
    name: &'static str,
    file: Option<String>,
    apply: Box<dyn Fn(&Path)>,
}

const READS: &[&str] = &[
    "SELECT count(*) FROM d.t",
    "SELECT * FROM d.t WHERE region = 'eu' ORDER BY id",
    "DESCRIBE HISTORY d.t",
    "DESCRIBE d.t",
];

const WRITES: &[&str] = &[
    "INSERT INTO d.t VALUES (100, 'eu', 1.0)",
    "MERGE INTO d.t AS t USING (SELECT 1 AS id, 'eu' AS region, 2.0 AS amount) s ON t.id = s.id WHEN MATCHED THEN UPDATE SET amount = s.amount WHEN NOT MATCHED THEN INSERT *",
    "UPDATE d.t SET amount = 0 WHERE id = 3",
    "DELETE FROM d.t WHERE id = 2",
    "OPTIMIZE d.t",
    "VACUUM d.t",
];

fn log_file(v: u64) -> String {
    format!("_delta_log/{v:020}.json")
}

/// The data files (relative paths) added by commit `v`.
fn added_by(table: &Path, v: u64) -> Vec<String> {
    fs::read_to_string(table.join(log_file(v)))
        .unwrap()
        .lines()
        .filter_map(|l| {
            let a: serde_json::Value = serde_json::from_str(l).ok()?;
            let p = a.get("add")?.get("path")?.as_str()?.to_string();
            Some(percent_decoded(&p))
        })
        .collect()
}

fn percent_decoded(p: &str) -> String {
    p.replace("%3D", "=").replace("%20", " ")
}

/// Rewrites each action line of commit `v` with `f` (the line as JSON, changed in place).
fn edit_commit(table: &Path, v: u64, f: impl Fn(&mut serde_json::Value)) {
    let path = table.join(log_file(v));
    let text = fs::read_to_string(&path).unwrap();
    let out: Vec<String> = text
        .lines()
        .map(|l| {
            let mut a: serde_json::Value = serde_json::from_str(l).unwrap();
            f(&mut a);
            a.to_string()
        })
        .collect();
    fs::write(path, out.join("\n") + "\n").unwrap();
}

fn truncate(path: &Path, keep: f64) {
    let bytes = fs::read(path).unwrap();
    let n = (bytes.len() as f64 * keep) as usize;
    fs::write(path, &bytes[..n]).unwrap();
}

fn garble(path: &Path) {
    let mut bytes = fs::read(path).unwrap();
    let mid = bytes.len() / 2;
    for b in bytes.iter_mut().skip(mid).take(16) {
        *b = b'#';
    }
    fs::write(path, bytes).unwrap();
}

fn checkpoint_file(table: &Path) -> String {
    fs::read_dir(table.join("_delta_log"))
        .unwrap()
        .filter_map(|e| {
            let n = e.ok()?.file_name().to_string_lossy().into_owned();
            n.ends_with(".checkpoint.parquet").then_some(n)
        })
        .next()
        .expect("the base table has a checkpoint")
}

/// A parquet file holding `id` as text: a data file of the wrong type.
fn wrong_typed_parquet(dest: &Path) {
    use datafusion::arrow::array::{Float64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, true),
        Field::new("amount", DataType::Float64, true),
    ]));
    let batch = datafusion::arrow::array::RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(StringArray::from(vec!["four"])),
            Arc::new(Float64Array::from(vec![4.0])),
        ],
    )
    .unwrap();
    let file = fs::File::create(dest).unwrap();
    let mut w = datafusion::parquet::arrow::ArrowWriter::try_new(file, schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

/// The table's newest commit version.
fn latest(table: &Path) -> u64 {
    fs::read_dir(table.join("_delta_log"))
        .unwrap()
        .filter_map(|e| {
            let n = e.ok()?.file_name().to_string_lossy().into_owned();
            n.strip_suffix(".json")?.parse::<u64>().ok()
        })
        .max()
        .unwrap()
}

/// A metaData action like version 0's, with its schema string changed by `f`, appended to
/// commit `v`.
fn append_metadata(t: &Path, v: u64, f: impl Fn(&str) -> String) {
    let mut meta: serde_json::Value = serde_json::from_str(
        fs::read_to_string(t.join(log_file(0)))
            .unwrap()
            .lines()
            .find(|l| l.contains("\"metaData\""))
            .unwrap(),
    )
    .unwrap();
    let schema = meta["metaData"]["schemaString"]
        .as_str()
        .unwrap()
        .to_string();
    meta["metaData"]["schemaString"] = f(&schema).into();
    let mut s = fs::read_to_string(t.join(log_file(v))).unwrap();
    s.push_str(&meta.to_string());
    s.push('\n');
    fs::write(t.join(log_file(v)), s).unwrap();
}

fn damages(table: &Path) -> Vec<Damage> {
    // The damaged commit is the newest, which no checkpoint covers.
    let top = latest(table);
    let last = added_by(table, top)[0].clone();
    let first = added_by(table, 1)[0].clone();
    let checkpoint = checkpoint_file(table);
    let d = |name: &'static str, file: Option<String>, apply: Box<dyn Fn(&Path)>| Damage {
        name,
        file,
        apply,
    };
    assert!(
        !checkpoint.starts_with(&format!("{top:020}")),
        "the newest commit is after the checkpoint"
    );
    let l3 = log_file(top);
    let l2 = log_file(top - 1);
    let cp = checkpoint.clone();
    let (last1, last2, last3, last4, last5) = (
        last.clone(),
        last.clone(),
        last.clone(),
        last.clone(),
        last.clone(),
    );
    let first1 = first.clone();
    let name_of = |p: &str| p.rsplit('/').next().unwrap_or(p).to_string();
    vec![
        d("commit JSON truncated", Some(name_of(&l3)), {
            let l = l3.clone();
            Box::new(move |t| truncate(&t.join(&l), 0.5))
        }),
        d("commit JSON garbled", Some(name_of(&l3)), {
            let l = l3.clone();
            Box::new(move |t| garble(&t.join(&l)))
        }),
        d("commit file empty", Some(name_of(&l3)), {
            let l = l3.clone();
            Box::new(move |t| fs::write(t.join(&l), "").unwrap())
        }),
        d("commit not JSON", Some(name_of(&l3)), {
            let l = l3.clone();
            Box::new(move |t| fs::write(t.join(&l), "hello, world\n").unwrap())
        }),
        d("commit line not an action", Some(name_of(&l3)), {
            let l = l3.clone();
            Box::new(move |t| {
                let mut s = fs::read_to_string(t.join(&l)).unwrap();
                s.push_str("[1, 2, 3]\n");
                fs::write(t.join(&l), s).unwrap()
            })
        }),
        d("gap in the log", None, {
            let l = l2.clone();
            Box::new(move |t| {
                // The version before the newest is missing.
                fs::remove_file(t.join(&l)).unwrap();
            })
        }),
        d("first commit missing, no checkpoint", None, {
            let cp = cp.clone();
            Box::new(move |t| {
                fs::remove_file(t.join("_delta_log").join(&cp)).unwrap();
                let _ = fs::remove_file(t.join("_delta_log/_last_checkpoint"));
                fs::remove_file(t.join(log_file(0))).unwrap();
            })
        }),
        d("checkpoint garbled", Some(checkpoint.clone()), {
            let cp = cp.clone();
            Box::new(move |t| garble(&t.join("_delta_log").join(&cp)))
        }),
        d("checkpoint truncated", Some(checkpoint.clone()), {
            let cp = cp.clone();
            Box::new(move |t| truncate(&t.join("_delta_log").join(&cp), 0.4))
        }),
        d("checkpoint missing, _last_checkpoint names it", None, {
            let cp = cp.clone();
            Box::new(move |t| fs::remove_file(t.join("_delta_log").join(&cp)).unwrap())
        }),
        d(
            "_last_checkpoint garbled",
            Some("_last_checkpoint".into()),
            Box::new(|t| {
                fs::write(t.join("_delta_log/_last_checkpoint"), "{\"version\": ").unwrap()
            }),
        ),
        d(
            "_last_checkpoint names a version that has none",
            None,
            Box::new(|t| {
                fs::write(
                    t.join("_delta_log/_last_checkpoint"),
                    "{\"version\":1,\"size\":4}",
                )
                .unwrap()
            }),
        ),
        d(
            "_last_checkpoint names a future version",
            None,
            Box::new(|t| {
                fs::write(
                    t.join("_delta_log/_last_checkpoint"),
                    "{\"version\":40,\"size\":4}",
                )
                .unwrap()
            }),
        ),
        d("data file missing", Some(name_of(&last)), {
            Box::new(move |t| fs::remove_file(t.join(&last1)).unwrap())
        }),
        d("data file truncated", Some(name_of(&last)), {
            Box::new(move |t| truncate(&t.join(&last2), 0.5))
        }),
        d("data file garbled", Some(name_of(&last)), {
            Box::new(move |t| garble(&t.join(&last3)))
        }),
        d("data file empty", Some(name_of(&last)), {
            Box::new(move |t| fs::write(t.join(&last4), "").unwrap())
        }),
        d("data file of the wrong type", Some(name_of(&last)), {
            Box::new(move |t| wrong_typed_parquet(&t.join(&last5)))
        }),
        d(
            "first data file missing (read through the checkpoint)",
            Some(name_of(&first)),
            Box::new(move |t| fs::remove_file(t.join(&first1)).unwrap()),
        ),
        d("unknown reader feature", None, {
            let l = l3.clone();
            Box::new(move |t| {
                let mut s = fs::read_to_string(t.join(&l)).unwrap();
                s.push_str("{\"protocol\":{\"minReaderVersion\":3,\"minWriterVersion\":7,\"readerFeatures\":[\"timeTravelToTheFuture\"],\"writerFeatures\":[\"timeTravelToTheFuture\"]}}\n");
                fs::write(t.join(&l), s).unwrap()
            })
        }),
        d("unknown writer feature", None, {
            let l = l3.clone();
            Box::new(move |t| {
                let mut s = fs::read_to_string(t.join(&l)).unwrap();
                s.push_str("{\"protocol\":{\"minReaderVersion\":1,\"minWriterVersion\":7,\"writerFeatures\":[\"writeBackwards\"]}}\n");
                fs::write(t.join(&l), s).unwrap()
            })
        }),
        d("reader version from the future", None, {
            let l = l3.clone();
            Box::new(move |t| {
                let mut s = fs::read_to_string(t.join(&l)).unwrap();
                s.push_str("{\"protocol\":{\"minReaderVersion\":99,\"minWriterVersion\":99}}\n");
                fs::write(t.join(&l), s).unwrap()
            })
        }),
        d(
            "schema string not JSON",
            None,
            Box::new(move |t| append_metadata(t, top, |_| "{not json".into())),
        ),
        d(
            "schema with an unknown type",
            None,
            Box::new(move |t| append_metadata(t, top, |s| s.replace("\"long\"", "\"hyperlong\""))),
        ),
        d(
            "schema that drops a column the data has",
            None,
            Box::new(move |t| {
                append_metadata(t, top, |s| {
                    let mut v: serde_json::Value = serde_json::from_str(s).unwrap();
                    v["fields"]
                        .as_array_mut()
                        .unwrap()
                        .retain(|f| f["name"] != "amount");
                    v.to_string()
                })
            }),
        ),
        d("no metadata", None, {
            let cp = cp.clone();
            Box::new(move |t| {
                fs::remove_file(t.join("_delta_log").join(&cp)).unwrap();
                let _ = fs::remove_file(t.join("_delta_log/_last_checkpoint"));
                edit_commit(t, 0, |a| {
                    if a.get("metaData").is_some() {
                        *a = serde_json::json!({"commitInfo": {"operation": "damaged"}});
                    }
                })
            })
        }),
        d("no protocol", None, {
            let cp = cp.clone();
            Box::new(move |t| {
                fs::remove_file(t.join("_delta_log").join(&cp)).unwrap();
                let _ = fs::remove_file(t.join("_delta_log/_last_checkpoint"));
                edit_commit(t, 0, |a| {
                    if a.get("protocol").is_some() {
                        *a = serde_json::json!({"commitInfo": {"operation": "damaged"}});
                    }
                })
            })
        }),
        d(
            "add of a file outside the table",
            None,
            Box::new(move |t| {
                edit_commit(t, top, |a| {
                    if let Some(add) = a.get_mut("add") {
                        add["path"] = "../../../outside.parquet".into();
                    }
                })
            }),
        ),
        d(
            "add with a negative size",
            None,
            Box::new(move |t| {
                edit_commit(t, top, |a| {
                    if let Some(add) = a.get_mut("add") {
                        add["size"] = (-5).into();
                    }
                })
            }),
        ),
        d(
            "partition values of a column the table lacks",
            None,
            Box::new(move |t| {
                edit_commit(t, top, |a| {
                    if let Some(add) = a.get_mut("add") {
                        add["partitionValues"] = serde_json::json!({"nation": "x"});
                    }
                })
            }),
        ),
        d(
            "statistics not JSON",
            None,
            Box::new(move |t| {
                edit_commit(t, top, |a| {
                    if let Some(add) = a.get_mut("add") {
                        add["stats"] = "{\"numRecords\": ".into();
                    }
                })
            }),
        ),
        d(
            "_delta_log is a file",
            None,
            Box::new(|t| {
                fs::remove_dir_all(t.join("_delta_log")).unwrap();
                fs::write(t.join("_delta_log"), "not a folder").unwrap();
            }),
        ),
        d(
            "_delta_log empty",
            None,
            Box::new(|t| {
                fs::remove_dir_all(t.join("_delta_log")).unwrap();
                fs::create_dir(t.join("_delta_log")).unwrap();
            }),
        ),
        d("a commit's version repeated in a second metadata", None, {
            let l = l2.clone();
            Box::new(move |t| {
                let meta = fs::read_to_string(t.join(log_file(0)))
                    .unwrap()
                    .lines()
                    .find(|l| l.contains("\"metaData\""))
                    .unwrap()
                    .to_string();
                let mut s = fs::read_to_string(t.join(&l)).unwrap();
                s.push_str(&meta);
                s.push('\n');
                s.push_str(&meta);
                s.push('\n');
                fs::write(t.join(&l), s).unwrap()
            })
        }),
    ]
}

/// Every file under `dir`, with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    if !dir.is_dir() {
        return fs::read(dir)
            .map(|b| BTreeMap::from([(dir.to_path_buf(), b)]))
            .unwrap_or_default();
    }
    files_under(dir)
        .into_iter()
        .map(|p| {
            let b = fs::read(&p).unwrap();
            (p, b)
        })
        .collect()
}

/// What is wrong with `err`, a failed statement's stderr: a panic or backtrace, more than one
/// line, or one of `names` (the table, the damaged file) missing from it.
fn unclean(err: &str, names: &[&str]) -> Vec<String> {
    let mut wrong = Vec::new();
    if err.contains("panicked") || err.contains("backtrace") || err.contains("internal error") {
        wrong.push(format!("panic or backtrace: {err}"));
    }
    if err.trim_end().lines().count() != 1 {
        wrong.push(format!("not one line: {err}"));
    }
    for name in names {
        if !err.contains(name) {
            wrong.push(format!("does not name {name}: {err}"));
        }
    }
    wrong
}

/// Every folder under `dir`.
fn folders(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for e in fs::read_dir(&d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                found.push(e.path());
                pending.push(e.path());
            }
        }
    }
    found.sort();
    found
}

/// The figures of one run of the campaign.
#[derive(Default)]
struct Figures {
    trials: usize,
    succeeded: usize,
    failed_cleanly: usize,
    problems: Vec<String>,
}

fn base_table(root: &Path) -> PathBuf {
    let base = root.join("base");
    fs::create_dir_all(&base).unwrap();
    for sql in [
        "CREATE TABLE d.t (id BIGINT, region STRING, amount DOUBLE) PARTITIONED BY (region) TBLPROPERTIES ('delta.checkpointInterval' = '4')",
        "INSERT INTO d.t VALUES (1, 'eu', 1.0), (2, 'us', 2.0)",
        "INSERT INTO d.t VALUES (3, 'eu', 3.0)",
        "INSERT INTO d.t VALUES (4, 'eu', 4.0)",
        "INSERT INTO d.t VALUES (5, 'us', 5.0)",
        "INSERT INTO d.t VALUES (6, 'eu', 6.0)",
    ] {
        run_ok(lakeshell(&base).args(["-q", "-c", sql]));
    }
    base
}

#[test]
fn damaged_tables_fail_in_one_line_and_change_nothing() {
    let root = tempfile::tempdir().unwrap();
    let base = base_table(root.path());
    let table = base.join("lakehouse/d/t");
    let all = damages(&table);
    assert!(all.len() >= 30, "{} damages", all.len());
    let mut figures = Figures::default();
    let mut rows = Vec::new();
    for (i, damage) in all.iter().enumerate() {
        let mut outcomes = Vec::new();
        for (j, sql) in READS.iter().chain(WRITES).enumerate() {
            let work = root.path().join(format!("w{i}-{j}"));
            copy_dir(&base, &work);
            let t = work.join("lakehouse/d/t");
            (damage.apply)(&t);
            let before = snapshot(&t.join("_delta_log"));
            let out = lakeshell(&work).args(["-q", "-c", sql]).output().unwrap();
            let err = stderr(&out);
            let after = snapshot(&t.join("_delta_log"));
            figures.trials += 1;
            let mut problem = |what: String| {
                figures
                    .problems
                    .push(format!("{} / {sql}: {what}", damage.name))
            };
            let is_read = j < READS.len();
            match out.status.code() {
                Some(0) => {
                    figures.succeeded += 1;
                    outcomes.push("ok");
                    if is_read && before != after {
                        problem("a read changed the log".into());
                    }
                }
                Some(1) => {
                    outcomes.push("error");
                    let names: Vec<&str> = std::iter::once("d.t")
                        .chain(damage.file.as_deref())
                        .collect();
                    let unclean = unclean(&err, &names);
                    let mut clean = unclean.is_empty();
                    unclean.into_iter().for_each(&mut problem);
                    if before != after {
                        problem("a failed statement changed the log".into());
                        clean = false;
                    }
                    if clean {
                        figures.failed_cleanly += 1;
                    }
                }
                other => {
                    outcomes.push("crash");
                    problem(format!("exit {other:?}: {err}"));
                }
            }
            fs::remove_dir_all(&work).unwrap();
        }
        rows.push(format!("| {} | {} |", damage.name, outcomes.join(" · ")));
    }
    if let Ok(path) = std::env::var("LAKESHELL_RELIABILITY_REPORT") {
        let header: Vec<&str> = READS.iter().chain(WRITES).copied().collect();
        let text = format!(
            "## Damaged tables\n\n{} damages × {} statements = {} trials: {} succeeded, {} failed with one clean line, {} problems.\n\nStatements, in order: {}.\n\n| damage | outcomes |\n|---|---|\n{}\n",
            all.len(),
            header.len(),
            figures.trials,
            figures.succeeded,
            figures.failed_cleanly,
            figures.problems.len(),
            header.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join("; "),
            rows.join("\n")
        );
        append_report(&path, &text);
    }
    assert!(
        figures.problems.is_empty(),
        "{} of {} trials:\n{}",
        figures.problems.len(),
        figures.trials,
        figures.problems.join("\n")
    );
}

/// One bad CSV or JSON file: its name in `landing/`, its text, and the line its errors must
/// name (None where no single record is to blame).
struct BadFile {
    name: &'static str,
    what: &'static str,
    text: Vec<u8>,
    line: Option<u64>,
    /// The damage is a value, not a record: a count that reads no column succeeds.
    in_a_value: bool,
}

fn bad_files() -> Vec<BadFile> {
    let mut late = b"id,region,amount\n".to_vec();
    for i in 0..1500 {
        late.extend(format!("{i},eu,{i}.5\n").bytes());
    }
    late.extend(b"1500,eu,abc\n");
    vec![
    BadFile {
        name: "garbled.json",
        what: "JSON line not JSON",
        text: b"{\"id\": 10, \"region\": \"eu\", \"amount\": 1.5}\n{\"id\" 11, \"region\": \"us\", \"amount\": 2.5}\n".to_vec(),
        line: Some(2),
        in_a_value: false,
    },
    BadFile {
        name: "truncated.json",
        what: "JSON file truncated",
        text: b"{\"id\": 10, \"region\": \"eu\", \"amount\": 1.5}\n{\"id\": 11, \"region\": \"us\", \"amount\": 2.5}\n{\"id\": 12, \"reg".to_vec(),
        line: Some(3),
        in_a_value: false,
    },
    BadFile {
        name: "array.json",
        what: "JSON line an array",
        text: b"{\"id\": 10, \"region\": \"eu\", \"amount\": 1.5}\n[11, \"us\", 2.5]\n".to_vec(),
        line: Some(2),
        in_a_value: false,
    },
    BadFile {
        name: "fields.csv",
        what: "CSV record with an extra field",
        text: b"id,region,amount\n10,eu,1.5\n11,us,2.5,extra\n".to_vec(),
        line: Some(3),
        in_a_value: false,
    },
    BadFile {
        name: "short.csv",
        what: "CSV record with a field missing",
        text: b"id,region,amount\n10,eu,1.5\n11,us,2.5\n12,eu\n".to_vec(),
        line: Some(4),
        in_a_value: false,
    },
    BadFile {
        name: "late.csv",
        what: "CSV value of the wrong type after the rows types are inferred from",
        text: late,
        line: Some(1502),
        in_a_value: true,
    },
]
}

/// Statements that read a file by path, each with `{f}` for the file's path.
const FILE_READS: &[&str] = &[
    "SELECT count(*) FROM '{f}'",
    "SELECT * FROM '{f}' ORDER BY id",
    "INSERT INTO d.t SELECT id, region, amount FROM '{f}'",
    "MERGE INTO d.t AS t USING (SELECT id, region, amount FROM '{f}') s ON t.id = s.id WHEN MATCHED THEN UPDATE SET amount = s.amount WHEN NOT MATCHED THEN INSERT *",
    "CREATE TABLE d.n AS SELECT * FROM '{f}'",
    "COPY INTO d.t FROM '{f}' FILEFORMAT = {format} FORMAT_OPTIONS ('header' = 'true', 'inferSchema' = 'true')",
    "SELECT * FROM read_files('{f}', header => true)",
];

#[test]
fn bad_csv_and_json_files_fail_in_one_line_naming_file_and_line() {
    let root = tempfile::tempdir().unwrap();
    let base = base_table(root.path());
    let mut figures = Figures::default();
    let mut rows = Vec::new();
    let bad_files = bad_files();
    for (i, bad) in bad_files.iter().enumerate() {
        let mut outcomes = Vec::new();
        for (j, template) in FILE_READS.iter().enumerate() {
            let work = root.path().join(format!("f{i}-{j}"));
            copy_dir(&base, &work);
            fs::create_dir_all(work.join("landing")).unwrap();
            fs::write(work.join("landing").join(bad.name), &bad.text).unwrap();
            let format = if bad.name.ends_with(".csv") {
                "CSV"
            } else {
                "JSON"
            };
            let sql = template
                .replace("{f}", &format!("landing/{}", bad.name))
                .replace("{format}", format);
            let lakehouse = work.join("lakehouse");
            let before = (snapshot(&lakehouse), folders(&lakehouse));
            let out = lakeshell(&work).args(["-q", "-c", &sql]).output().unwrap();
            let err = stderr(&out);
            figures.trials += 1;
            let mut problem = |what: String| {
                figures
                    .problems
                    .push(format!("{} / {sql}: {what}", bad.what))
            };
            match out.status.code() {
                Some(1) => {
                    outcomes.push("error");
                    let file = format!("/landing/{}", bad.name);
                    let named = match bad.line {
                        Some(l) => format!("{file}:{l}"),
                        None => file,
                    };
                    let unclean = unclean(&err, &[&named]);
                    let mut clean = unclean.is_empty();
                    unclean.into_iter().for_each(&mut problem);
                    if (snapshot(&lakehouse), folders(&lakehouse)) != before {
                        problem(
                            "a failed statement changed the warehouse (a file or a folder)".into(),
                        );
                        clean = false;
                    }
                    if clean {
                        figures.failed_cleanly += 1;
                    }
                }
                Some(0) if bad.in_a_value && sql.starts_with("SELECT count(*)") => {
                    figures.succeeded += 1;
                    outcomes.push("ok (reads no value)");
                }
                Some(0) => {
                    outcomes.push("ok");
                    problem("a bad file was read without an error".into());
                }
                other => {
                    outcomes.push("crash");
                    problem(format!("exit {other:?}: {err}"));
                }
            }
            fs::remove_dir_all(&work).unwrap();
        }
        rows.push(format!("| {} | {} |", bad.what, outcomes.join(" · ")));
    }
    if let Ok(path) = std::env::var("LAKESHELL_RELIABILITY_REPORT") {
        let text = format!(
            "## Bad CSV and JSON files\n\n{} files × {} statements = {} trials: {} failed with one clean line naming the file and line, {} succeeded (a count that reads no value), {} problems.\n\nStatements, in order (`f` the file): {}.\n\n| file | outcomes |\n|---|---|\n{}\n",
            bad_files.len(),
            FILE_READS.len(),
            figures.trials,
            figures.failed_cleanly,
            figures.succeeded,
            figures.problems.len(),
            FILE_READS.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join("; "),
            rows.join("\n")
        );
        append_report(&path, &text);
    }
    assert!(
        figures.problems.is_empty(),
        "{} of {} trials:\n{}",
        figures.problems.len(),
        figures.trials,
        figures.problems.join("\n")
    );
}
