//! External-table registrations, kept in the warehouse (`_lakeshell/tables.json`) so they persist
//! across sessions and machines. Secret option values are never stored in clear: a value written
//! as a `${VAR}` reference is kept as that reference and resolved when the table is opened; a
//! literal secret is dropped, and must come from the environment or config file next time.

use object_store::{ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};
use url::Url;

use super::options::{merged, StorageOptions};
use super::secrets::is_reference;
use crate::error::{LakeError, Result};
use crate::sql::redact::is_secret_key;
use crate::sql::vars::Vars;

/// One external table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// `schema.table`.
    pub name: String,
    /// The table's location as written.
    pub location: String,
    /// Storage options; secrets only as `${VAR}` references.
    #[serde(default)]
    pub options: StorageOptions,
}

impl Registration {
    /// The options to open the table with: the session's, overlaid with the registration's,
    /// `${VAR}` references resolved from the environment.
    pub fn resolved_options(&self, base: &StorageOptions) -> Result<StorageOptions> {
        let vars = Vars::default();
        let mut extra = Vec::new();
        for (k, v) in &self.options {
            extra.push((k.clone(), vars.substitute(v)?));
        }
        Ok(merged(base, extra))
    }

    /// Drops literal secret values, keeping `${VAR}` references. Returns the keys dropped.
    pub fn strip_secrets(&mut self) -> Vec<String> {
        let dropped: Vec<String> = self
            .options
            .iter()
            .filter(|(k, v)| is_secret_key(k) && !is_reference(v))
            .map(|(k, _)| k.clone())
            .collect();
        for k in &dropped {
            self.options.remove(k);
        }
        dropped
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    tables: Vec<Registration>,
}

/// The registrations file.
#[derive(Debug)]
pub struct Registry {
    url: Url,
}

impl Registry {
    pub fn new(url: Url) -> Self {
        Registry { url }
    }

    async fn load(&self, options: &StorageOptions) -> Result<File> {
        let (store, path) = super::open_store(&self.url, options)?;
        match store.get(&path).await {
            Ok(got) => {
                let bytes = got.bytes().await?;
                serde_json::from_slice(&bytes).map_err(|e| {
                    LakeError::Config(format!(
                        "{} is not a valid registry: {e}",
                        super::display_url(&self.url)
                    ))
                })
            }
            Err(object_store::Error::NotFound { .. }) => Ok(File::default()),
            Err(e) => Err(e.into()),
        }
    }

    async fn save(&self, options: &StorageOptions, file: &File) -> Result<()> {
        if self.url.scheme() == "file" {
            if let Some(dir) = self
                .url
                .to_file_path()
                .ok()
                .and_then(|p| p.parent().map(|d| d.to_path_buf()))
            {
                std::fs::create_dir_all(dir)?;
            }
        }
        let (store, path) = super::open_store(&self.url, options)?;
        let body = serde_json::to_vec_pretty(file).map_err(|e| LakeError::Config(e.to_string()))?;
        store.put(&path, PutPayload::from(body)).await?;
        Ok(())
    }

    pub async fn all(&self, options: &StorageOptions) -> Result<Vec<Registration>> {
        Ok(self.load(options).await?.tables)
    }

    pub async fn get(&self, options: &StorageOptions, name: &str) -> Result<Option<Registration>> {
        Ok(self
            .load(options)
            .await?
            .tables
            .into_iter()
            .find(|r| r.name == name))
    }

    /// Adds a registration; returns the secret keys that were not stored.
    pub async fn add(
        &self,
        options: &StorageOptions,
        mut reg: Registration,
        replace: bool,
    ) -> Result<Vec<String>> {
        let dropped = reg.strip_secrets();
        let mut file = self.load(options).await?;
        if let Some(pos) = file.tables.iter().position(|r| r.name == reg.name) {
            if !replace {
                return Err(LakeError::TableExists(reg.name));
            }
            file.tables.remove(pos);
        }
        file.tables.push(reg);
        file.tables.sort_by(|a, b| a.name.cmp(&b.name));
        self.save(options, &file).await?;
        Ok(dropped)
    }

    pub async fn remove(&self, options: &StorageOptions, name: &str) -> Result<bool> {
        let mut file = self.load(options).await?;
        let before = file.tables.len();
        file.tables.retain(|r| r.name != name);
        if file.tables.len() == before {
            return Ok(false);
        }
        self.save(options, &file).await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_secrets_are_dropped_references_kept() {
        let mut reg = Registration {
            name: "default.t".into(),
            location: "s3://b/t".into(),
            options: StorageOptions::from([
                ("aws_secret_access_key".to_string(), "hunter2".to_string()),
                ("aws_session_token".to_string(), "${TOKEN}".to_string()),
                ("aws_region".to_string(), "us-east-1".to_string()),
            ]),
        };
        assert_eq!(
            reg.strip_secrets(),
            vec!["aws_secret_access_key".to_string()]
        );
        assert!(reg.options.contains_key("aws_session_token"));
        assert!(reg.options.contains_key("aws_region"));
    }
}
