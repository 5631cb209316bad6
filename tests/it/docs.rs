//! `lakeshell docs`: the site of the medallion example, rendered in headless Chromium (Debian's
//! package; `scripts/test` installs it): the page renders, and its lineage graph holds every
//! table the pipeline writes.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::common::{csv, lakeshell, project, run_ok, stderr};

/// Chromium: `$LAKESHELL_CHROMIUM`, else `chromium` or `chromium-browser` on the PATH.
fn chromium() -> PathBuf {
    if let Ok(p) = std::env::var("LAKESHELL_CHROMIUM") {
        return p.into();
    }
    for name in ["chromium", "chromium-browser"] {
        if let Some(p) = std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        }) {
            return p;
        }
    }
    panic!("no chromium on the PATH: run the tests with scripts/test, which installs it");
}

/// Chromium, headless, on `page` with `args`; its own profile in `profile`.
fn headless(page: &Path, profile: &Path, args: &[String]) -> std::process::Output {
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            &format!("--user-data-dir={}", profile.display()),
        ])
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "chromium: {}", stderr(&out));
    out
}

#[test]
fn docs_site_renders_the_pipeline_in_a_browser() {
    let d = project();
    run_ok(lakeshell(d.path()).args(["-q", "run", "sql/medallion"]));
    // The example's checks record a failing expectation in lakeshell.quality_results.
    let checked = lakeshell(d.path())
        .args(["-q", "check", "sql/checks"])
        .output()
        .unwrap();
    assert_eq!(checked.status.code(), Some(1), "{}", stderr(&checked));
    run_ok(lakeshell(d.path()).args(["-q", "run", "sql/medallion"]));
    // A failing run, to be highlighted.
    std::fs::write(d.path().join("broken.sql"), "SELECT * FROM silver.nope;\n").unwrap();
    let failed = lakeshell(d.path())
        .args(["-q", "run", "broken.sql"])
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(1));

    let made = run_ok(lakeshell(d.path()).args(["docs", "sql/medallion", "--out", "site"]));
    assert!(
        stderr(&made).contains("wrote site/index.html"),
        "{}",
        stderr(&made)
    );
    let page = d.path().join("site/index.html");
    let profile = tempfile::tempdir().unwrap();
    let dom =
        String::from_utf8(headless(&page, profile.path(), &["--dump-dom".to_string()]).stdout)
            .unwrap();
    assert!(dom.contains("<h2>Lineage</h2>"), "{dom}");

    // Every table the pipeline writes is a node of the graph, linked to its section.
    let written = csv(
        d.path(),
        "SELECT DISTINCT table_name FROM lakeshell.run_log WHERE pipeline = 'medallion' AND table_name IS NOT NULL ORDER BY 1",
    );
    let tables: Vec<&str> = written.lines().skip(1).collect();
    assert_eq!(tables.len(), 9, "{written}");
    for t in &tables {
        let layer = t.split('.').next().unwrap();
        assert!(
            dom.contains(&format!(
                "<g class=\"node table {layer}\" data-name=\"{t}\">"
            )),
            "{t} is not in the graph"
        );
        let section = format!("t-{}", t.replace('.', "-"));
        assert!(
            dom.contains(&format!("<section id=\"{section}\"")),
            "{t} has no section"
        );
    }
    for f in [
        "bronze.sql",
        "silver_orders.sql",
        "silver_sensors.sql",
        "gold.sql",
        "maintenance.sql",
    ] {
        assert!(
            dom.contains(&format!("data-name=\"{f}\"")),
            "{f} is not in the graph"
        );
    }
    // History, expectations over time, and the failed run in colour with its error.
    assert!(dom.contains("<svg class=\"timeline\""));
    assert!(dom.contains("<table class=\"expectations\">"));
    assert!(dom.contains("<td class=\"fail\"") && dom.contains("<td class=\"pass\""));
    assert!(dom.contains("<tr class=\"run failed\">"));
    assert!(dom.contains("silver.nope"), "the failed statement is shown");

    // And it draws: a screenshot with something on it.
    let shot = d.path().join("shot.png");
    headless(
        &page,
        profile.path(),
        &[
            "--window-size=1400,900".to_string(),
            format!("--screenshot={}", shot.display()),
        ],
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    assert!(
        png.len() > 20_000,
        "a near-empty screenshot: {} bytes",
        png.len()
    );
}
