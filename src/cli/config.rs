//! The config file: `--config FILE`, `$LAKESHELL_CONFIG`, or `~/.config/lakeshell/config.toml`
//! when it exists.
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
    #[serde(default)]
    pub storage: StorageOptions,
}

/// The default config path.
pub fn default_path() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("lakeshell").join("config.toml"))
}

impl Config {
    /// Loads `path` if given (it must exist), else the default path if it exists.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let (path, required) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => match default_path() {
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
            toml::from_str("warehouse = 's3://b/w'\n[storage]\naws_region = 'x'\n").unwrap();
        assert_eq!(c.warehouse.as_deref(), Some("s3://b/w"));
        assert_eq!(c.storage["aws_region"], "x");
        assert!(toml::from_str::<Config>("wherehouse = 1").is_err());
    }
}
