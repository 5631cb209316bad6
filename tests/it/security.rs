//! The reliability campaign's security checks beyond secrets (see `api::secrets_stay_out_of_every_output`):
//! `${var}` values in quoted strings cannot inject SQL, and neither partition values nor table
//! names can make lakeshell write outside the table's location.

use std::path::Path;

use super::common::{csv, files_under, lakeshell, run_ok};

#[test]
fn a_var_in_a_quoted_string_stays_a_value() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    run_ok(lakeshell(dir).args([
        "-q",
        "-c",
        "CREATE TABLE d.p AS SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS t(id, name)",
    ]));
    std::fs::write(
        dir.join("clean.sql"),
        "DELETE FROM d.p WHERE name = '${who}';\n",
    )
    .unwrap();
    run_ok(lakeshell(dir).args(["-q", "--var", "who=x' OR '1' = '1", "run", "clean.sql"]));
    assert_eq!(
        csv(dir, "SELECT count(*) AS n FROM d.p"),
        "n\n2\n",
        "nothing deleted"
    );
    run_ok(lakeshell(dir).args(["-q", "--var", "who=a", "run", "clean.sql"]));
    assert_eq!(csv(dir, "SELECT id FROM d.p"), "id\n2\n");
    // A value with a quote is found as written.
    run_ok(lakeshell(dir).args(["-q", "-c", "INSERT INTO d.p VALUES (3, 'it''s')"]));
    run_ok(lakeshell(dir).args(["-q", "--var", "who=it's", "run", "clean.sql"]));
    assert_eq!(csv(dir, "SELECT id FROM d.p"), "id\n2\n");
}

#[test]
fn partition_values_and_table_names_stay_inside_the_table() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let tricky = [
        "../../escape",
        "/abs/olute",
        "..",
        "a/../../b",
        "%2e%2e%2f",
        "c:\\win",
    ];
    let values: Vec<String> = tricky
        .iter()
        .enumerate()
        .map(|(i, v)| format!("({i}, '{}')", v.replace('\'', "''")))
        .collect();
    run_ok(lakeshell(dir).args([
        "-q",
        "-c",
        &format!(
            "CREATE TABLE d.p (id INT, part STRING) PARTITIONED BY (part); INSERT INTO d.p VALUES {}",
            values.join(", ")
        ),
    ]));
    let table = dir.join("lakehouse/d/p");
    for f in files_under(dir) {
        assert!(
            f.starts_with(&table),
            "{} is outside the table",
            f.display()
        );
    }
    // The values read back as written.
    let mut expected: Vec<String> = tricky.iter().map(|v| format!("{v}\n")).collect();
    expected.sort();
    assert_eq!(
        csv(dir, "SELECT part FROM d.p ORDER BY part"),
        format!("part\n{}", expected.concat())
    );
    // Table names that look like paths are refused or stay in the warehouse.
    for name in [
        "\"..\".\"..\"",
        "\"../../evil\".t",
        "d.\"../../evil\"",
        "\"a/b\".c",
        "d.\"/tmp/evil\"",
    ] {
        let _ = lakeshell(dir)
            .args(["-q", "-c", &format!("CREATE TABLE {name} AS SELECT 1 AS x")])
            .output()
            .unwrap();
    }
    let warehouse = dir.join("lakehouse");
    for f in files_under(dir) {
        assert!(
            f.starts_with(&warehouse),
            "{} is outside the warehouse",
            f.display()
        );
    }
    assert!(!Path::new("/tmp/evil").exists());
}
