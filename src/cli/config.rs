//! The config file: `--config FILE`, `$LAKESHELL_CONFIG`, a project's `lakeshell.toml` (found
//! from the working directory up, as dbt finds its project), or `~/.config/lakeshell/config.toml`
//! when it exists; the first of these wins.
//!
//! ```toml
//! warehouse = "s3://bucket/lake"
//! format = "table"
//! max_rows = 40
//! history_file = "~/.lakeshell_history"
//! memory_limit = "4G"   # queries spill to temp_dir past it
//! temp_dir = "/var/tmp/lakeshell"
//!
//! [storage]            # options for every object store; AWS_*/AZURE_*/GOOGLE_* env vars too
//! aws_region = "us-east-1"
//! aws_endpoint_url = "http://127.0.0.1:9000"
//!
//! target = "dev"       # the target used when --target names none
//! [targets.dev]
//! warehouse = "./lakehouse"
//! [targets.prod]
//! warehouse = "s3://prod-lake/warehouse"
//! read_only = true
//! [targets.prod.storage]
//! aws_region = "eu-west-1"
//! [targets.prod.vars]
//! env = "prod"
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::catalog::StorageOptions;
use crate::error::{LakeError, Result};

/// What a config file may set.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub warehouse: Option<String>,
    pub format: Option<String>,
    pub max_rows: Option<usize>,
    pub history_file: Option<PathBuf>,
    /// Memory for query execution (`4G`, `512M`).
    pub memory_limit: Option<String>,
    /// Where queries spill past the memory limit.
    pub temp_dir: Option<PathBuf>,
    #[serde(default, deserialize_with = "scalars")]
    pub storage: StorageOptions,
    /// The target used when `--target` and `$LAKESHELL_TARGET` name none.
    pub target: Option<String>,
    #[serde(default)]
    pub targets: std::collections::BTreeMap<String, Target>,
}

/// An environment (dev, prod): its warehouse, storage options, variables and whether it is
/// read-only. What a target sets wins over the file's top level; flags win over both.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub warehouse: Option<String>,
    #[serde(default)]
    pub read_only: bool,
    #[serde(default, deserialize_with = "scalars")]
    pub storage: StorageOptions,
    #[serde(default)]
    pub vars: std::collections::BTreeMap<String, String>,
}

/// A table of options whose values may be written as TOML strings, numbers or booleans
/// (`max_retries = 4`, `allow_http = true`); object stores take them all as text.
fn scalars<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<StorageOptions, D::Error> {
    let table = std::collections::BTreeMap::<String, toml::Value>::deserialize(d)?;
    table
        .into_iter()
        .map(|(k, v)| {
            let text = match v {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                other => {
                    return Err(serde::de::Error::custom(format!(
                        "{k}: expected a string, number or boolean, found {}",
                        other.type_str()
                    )))
                }
            };
            Ok((k, text))
        })
        .collect()
}

/// The file name of a project's config.
pub const PROJECT_FILE: &str = "lakeshell.toml";

/// The project's `lakeshell.toml` in `dir` or the nearest folder above it.
pub fn project_path(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .map(|d| d.join(PROJECT_FILE))
        .find(|p| p.is_file())
}

/// The default config path.
pub fn default_path() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("lakeshell").join("config.toml"))
}

impl Config {
    /// The target `name` (or the file's default target), by name, or an error listing the
    /// targets there are. None when neither names one.
    pub fn target(&self, name: Option<&str>) -> Result<Option<(String, Target)>> {
        let Some(name) = name.or(self.target.as_deref()) else {
            return Ok(None);
        };
        match self.targets.get(name) {
            Some(t) => Ok(Some((name.to_string(), t.clone()))),
            None => Err(LakeError::Config(format!(
                "unknown target {name}: {}",
                if self.targets.is_empty() {
                    "the config file defines none; add a [targets.NAME] table".to_string()
                } else {
                    format!(
                        "the config file defines {}",
                        self.targets.keys().cloned().collect::<Vec<_>>().join(", ")
                    )
                }
            ))),
        }
    }

    /// Loads `path` if given (it must exist), else the default path if it exists.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let project = || std::env::current_dir().ok().and_then(|d| project_path(&d));
        let (path, required) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => match project().or_else(default_path) {
                Some(p) => (p, false),
                None => return Ok(Config::default()),
            },
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).map_err(|e| {
                LakeError::Config(format!(
                    "{}: {}",
                    path.display(),
                    crate::error::one_line(&e.to_string())
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                Ok(Config::default())
            }
            Err(e) => Err(LakeError::Config(format!(
                "cannot read {}: {e}",
                path.display()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects_unknown_keys() {
        let c: Config =
            toml::from_str("warehouse = 's3://b/w'\n[storage]\naws_region = 'x'\nmax_retries = 4\nallow_http = true\n").unwrap();
        assert_eq!(c.warehouse.as_deref(), Some("s3://b/w"));
        assert_eq!(c.storage["aws_region"], "x");
        assert_eq!(c.storage["max_retries"], "4");
        assert_eq!(c.storage["allow_http"], "true");
        assert!(toml::from_str::<Config>("wherehouse = 1").is_err());
    }

    #[test]
    fn targets_are_chosen_by_name_or_default() {
        let c: Config = toml::from_str(
            "target = 'dev'\n[targets.dev]\nwarehouse = 'lh'\n[targets.prod]\nwarehouse = 's3://p/w'\nread_only = true\n[targets.prod.storage]\naws_region = 'eu-west-1'\n[targets.prod.vars]\nenv = 'prod'\n",
        )
        .unwrap();
        let (name, dev) = c.target(None).unwrap().unwrap();
        assert_eq!(
            (name.as_str(), dev.warehouse.as_deref()),
            ("dev", Some("lh"))
        );
        let (_, prod) = c.target(Some("prod")).unwrap().unwrap();
        assert!(prod.read_only && prod.storage["aws_region"] == "eu-west-1");
        assert_eq!(prod.vars["env"], "prod");
        let e = c.target(Some("staging")).unwrap_err().to_string();
        assert!(
            e.contains("unknown target staging") && e.contains("dev, prod"),
            "{e}"
        );
        assert!(Config::default().target(None).unwrap().is_none());
    }

    #[test]
    fn a_project_file_is_found_from_below() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(PROJECT_FILE), "").unwrap();
        let deep = d.path().join("a/b");
        std::fs::create_dir_all(&deep).unwrap();
        assert_eq!(project_path(&deep), Some(d.path().join(PROJECT_FILE)));
    }
}

/// `--vars-file`: names and values from a TOML or JSON file (by its extension; TOML otherwise).
/// Values are strings, numbers or booleans, as `--var` would give them.
pub fn vars_file(path: &Path) -> Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).map_err(|e| LakeError::read(path, e))?;
    let bad = |e: String| LakeError::Config(format!("--vars-file {}: {e}", path.display()));
    let json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let table: serde_json::Map<String, serde_json::Value> = if json {
        serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?
    } else {
        let t: toml::Table =
            toml::from_str(&text).map_err(|e| bad(crate::error::one_line(&e.to_string())))?;
        serde_json::to_value(t)
            .ok()
            .and_then(|v| v.as_object().cloned())
            .ok_or_else(|| bad("not a table of names and values".into()))?
    };
    crate::sql::vars::scalar_pairs(table).map_err(bad)
}

#[cfg(test)]
mod vars_file_tests {
    use super::vars_file;

    #[test]
    fn toml_and_json_give_the_same_variables() {
        let d = tempfile::tempdir().unwrap();
        let t = d.path().join("daily.toml");
        std::fs::write(
            &t,
            "from_date = \"2024-01-01\"\nmax_pages = 10\nfull = false\n",
        )
        .unwrap();
        let j = d.path().join("daily.json");
        std::fs::write(
            &j,
            r#"{"from_date": "2024-01-01", "max_pages": 10, "full": false}"#,
        )
        .unwrap();
        let mut a = vars_file(&t).unwrap();
        let mut b = vars_file(&j).unwrap();
        a.sort();
        b.sort();
        assert_eq!(a, b);
        assert!(a.contains(&("max_pages".to_string(), "10".to_string())));
        std::fs::write(&j, r#"{"nested": {"a": 1}}"#).unwrap();
        assert!(vars_file(&j)
            .unwrap_err()
            .to_string()
            .contains("a string, a number"));
    }
}
