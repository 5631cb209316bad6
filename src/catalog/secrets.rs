//! Secrets, DuckDB's way: named credentials for a store, each with a scope (a URL prefix). A
//! table's location takes the options of the secret whose scope is its longest prefix, so two
//! tables in different buckets can use different credentials in one statement. Secrets for
//! HTTP APIs (`TYPE bearer`, `TYPE oauth2`) have no scope: `read_api` names the one it uses.
//!
//! Temporary secrets live for the session. Persistent ones are kept in the warehouse
//! (`_lakeshell/secrets.json`) with `${VAR}` references only, resolved from the environment when
//! used, and read again by every session.

use std::sync::RwLock;

use object_store::{ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};
use url::Url;

use super::options::{normalise_key, StorageOptions};
use crate::error::{LakeError, Result};
use crate::sql::vars::Vars;

/// One secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secret {
    pub name: String,
    /// `s3`, `azure`, `gcs`, or for APIs `bearer` or `oauth2`.
    pub kind: String,
    /// The URL prefix the secret is for (`s3://prod-lake/`); a scheme alone covers the store.
    pub scope: String,
    /// object_store option keys and values; a persistent secret's values are `${VAR}`s.
    pub options: StorageOptions,
    #[serde(skip)]
    pub persistent: bool,
}

/// The schemes each kind of secret is for, the first its default scope.
fn schemes(kind: &str) -> &'static [&'static str] {
    match kind {
        "s3" => &["s3://", "s3a://"],
        "azure" => &["az://", "abfss://", "abfs://", "azure://", "adl://"],
        "gcs" => &["gs://"],
        _ => &[],
    }
}

/// A secret's keys as DuckDB writes them, and the object_store keys they set.
fn key_of(kind: &str, key: &str) -> Option<&'static str> {
    Some(match (kind, key.to_ascii_lowercase().as_str()) {
        ("s3", "key_id") => "aws_access_key_id",
        ("s3", "secret") => "aws_secret_access_key",
        ("s3", "session_token") => "aws_session_token",
        ("s3", "region") => "aws_region",
        ("s3", "endpoint") => "aws_endpoint_url",
        ("s3", "url_style") => "aws_virtual_hosted_style_request",
        ("s3", "use_ssl") => "aws_allow_http",
        ("azure", "account_name") => "azure_storage_account_name",
        ("azure", "account_key") => "azure_storage_account_key",
        ("azure", "sas_token") => "azure_storage_sas_token",
        ("azure", "client_id") => "azure_client_id",
        ("azure", "client_secret") => "azure_client_secret",
        ("azure", "tenant_id") => "azure_tenant_id",
        ("azure", "use_emulator") => "azure_storage_use_emulator",
        ("gcs", "service_account_key") => "google_service_account_key",
        ("gcs", "service_account") => "google_service_account",
        _ => return None,
    })
}

/// An API secret's keys.
fn api_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "bearer" => &["token"],
        "oauth2" => &["token_url", "client_id", "client_secret", "scope"],
        _ => &[],
    }
}

impl Secret {
    /// `TYPE bearer (TOKEN)` or `TYPE oauth2 (TOKEN_URL, CLIENT_ID, CLIENT_SECRET [, SCOPE])`.
    fn api(name: &str, kind: &str, params: &[(String, String)]) -> Result<Secret> {
        let keys = api_keys(kind);
        let mut options = StorageOptions::new();
        for (k, v) in params {
            let key = k.to_ascii_lowercase();
            if !keys.contains(&key.as_str()) {
                return Err(LakeError::BadStatement(format!(
                    "CREATE SECRET {name}: {k} is not a {kind} secret's key; {kind} takes {}",
                    keys.join(", ").to_ascii_uppercase()
                )));
            }
            options.insert(key, v.clone());
        }
        let required: &[&str] = if kind == "bearer" {
            &["token"]
        } else {
            &["token_url", "client_id", "client_secret"]
        };
        if let Some(missing) = required.iter().find(|k| !options.contains_key(**k)) {
            return Err(LakeError::BadStatement(format!(
                "CREATE SECRET {name}: a {kind} secret needs {}",
                missing.to_ascii_uppercase()
            )));
        }
        Ok(Secret {
            name: name.to_string(),
            kind: kind.to_string(),
            scope: String::new(),
            options,
            persistent: false,
        })
    }

    /// Whether this is an API secret (no scope; named by `read_api`).
    pub fn is_api(&self) -> bool {
        !api_keys(&self.kind).is_empty()
    }

    /// Whether `key`'s value is a credential (kept as a `${VAR}` when persistent, never shown):
    /// an API secret's TOKEN and CLIENT_SECRET, not its TOKEN_URL; a store's secret keys.
    pub fn is_credential(&self, key: &str) -> bool {
        if self.is_api() {
            return matches!(key, "token" | "client_secret");
        }
        crate::sql::redact::is_secret_key(key)
    }

    /// A key's value, `${VAR}`s resolved from the environment.
    pub fn value(&self, key: &str) -> Result<Option<String>> {
        match self.options.get(key) {
            Some(v) => Ok(Some(Vars::default().substitute(v)?)),
            None => Ok(None),
        }
    }

    /// A secret from `CREATE SECRET`'s `(TYPE kind, KEY value, ...)`. Keys are DuckDB's (KEY_ID,
    /// SECRET, REGION, ENDPOINT ...) or object_store's own (`aws_allow_http`).
    pub fn new(name: &str, kind: &str, params: &[(String, String)]) -> Result<Secret> {
        let kind = kind.to_ascii_lowercase();
        let kind = match kind.as_str() {
            "s3" | "r2" => "s3".to_string(),
            "azure" | "adls" => "azure".to_string(),
            "gcs" | "gcp" => "gcs".to_string(),
            "bearer" | "oauth2" => return Secret::api(name, &kind, params),
            other => {
                return Err(LakeError::BadStatement(format!(
                    "CREATE SECRET {name}: TYPE {other} is not one lakeshell knows; use s3, azure or gcs (stores), bearer or oauth2 (APIs)"
                )))
            }
        };
        let prefix = match kind.as_str() {
            "s3" => "aws_",
            "azure" => "azure_",
            _ => "google_",
        };
        let mut scope = schemes(&kind)[0].to_string();
        let mut options = StorageOptions::new();
        for (k, v) in params {
            if k.eq_ignore_ascii_case("scope") {
                scope = v.clone();
                continue;
            }
            let key = match key_of(&kind, k) {
                Some(key) => key.to_string(),
                None if normalise_key(k).starts_with(prefix) => normalise_key(k),
                None => {
                    return Err(LakeError::BadStatement(format!(
                        "CREATE SECRET {name}: {k} is not a {kind} secret's key; {kind} takes {}, or object_store's {prefix}* options",
                        match kind.as_str() {
                            "s3" => "KEY_ID, SECRET, SESSION_TOKEN, REGION, ENDPOINT, URL_STYLE, USE_SSL",
                            "azure" => "ACCOUNT_NAME, ACCOUNT_KEY, SAS_TOKEN, CLIENT_ID, CLIENT_SECRET, TENANT_ID, USE_EMULATOR",
                            _ => "SERVICE_ACCOUNT_KEY, SERVICE_ACCOUNT",
                        }
                    )))
                }
            };
            let value = match (key.as_str(), v.to_ascii_lowercase().as_str()) {
                ("aws_virtual_hosted_style_request", "path") => "false".to_string(),
                ("aws_virtual_hosted_style_request", "vhost") => "true".to_string(),
                // USE_SSL false means plain HTTP is allowed.
                ("aws_allow_http", "false") => "true".to_string(),
                ("aws_allow_http", "true") => "false".to_string(),
                _ => v.clone(),
            };
            options.insert(key, value);
        }
        if !schemes(&kind).iter().any(|s| scope.starts_with(s)) {
            return Err(LakeError::BadStatement(format!(
                "CREATE SECRET {name}: SCOPE {scope} is not a {kind} location (it starts with {})",
                schemes(&kind).join(" or ")
            )));
        }
        Ok(Secret {
            name: name.to_string(),
            kind,
            scope,
            options,
            persistent: false,
        })
    }

    /// Whether the secret is for `url`: its scope is a prefix of it (a scheme-wide scope covers
    /// the store's other schemes too, `abfss://` as well as `az://`).
    fn covers(&self, url: &str) -> Option<usize> {
        if self.is_api() {
            return None;
        }
        let kinds = schemes(&self.kind);
        if kinds.contains(&self.scope.as_str()) {
            return kinds
                .iter()
                .any(|s| url.starts_with(s))
                .then_some(self.scope.len());
        }
        let scope = self.scope.trim_end_matches('/');
        let rest = url.strip_prefix(scope)?;
        (rest.is_empty() || rest.starts_with('/')).then_some(scope.len())
    }
}

/// The warehouse's file of persistent secrets.
#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    secrets: Vec<Secret>,
}

/// The secrets of a session.
#[derive(Debug, Default)]
pub struct Secrets {
    list: RwLock<Vec<Secret>>,
}

fn poisoned<T>(_: T) -> LakeError {
    LakeError::Internal("secrets lock poisoned".into())
}

impl Secrets {
    /// The options of the secret whose scope is the longest prefix of `url`, `${VAR}`s
    /// resolved from the environment (a reference to an unset variable is left out).
    pub fn for_url(&self, url: &Url) -> Vec<(String, String)> {
        let Ok(list) = self.list.read() else {
            return Vec::new();
        };
        let best = list
            .iter()
            .filter_map(|s| s.covers(url.as_str()).map(|n| (n, s)))
            .max_by_key(|(n, _)| *n);
        let vars = Vars::default();
        best.map(|(_, s)| {
            s.options
                .iter()
                .filter_map(|(k, v)| vars.substitute(v).ok().map(|v| (k.clone(), v)))
                .collect()
        })
        .unwrap_or_default()
    }

    /// Adds `secret` (replacing one of the same name when `replace`).
    pub fn add(&self, secret: Secret, replace: bool) -> Result<()> {
        let mut list = self.list.write().map_err(poisoned)?;
        if let Some(i) = list.iter().position(|s| s.name == secret.name) {
            if !replace {
                return Err(LakeError::BadStatement(format!(
                    "secret {} exists; CREATE OR REPLACE SECRET replaces it",
                    secret.name
                )));
            }
            list.remove(i);
        }
        list.push(secret);
        Ok(())
    }

    /// Removes secret `name`; whether there was one.
    pub fn remove(&self, name: &str) -> Result<Option<Secret>> {
        let mut list = self.list.write().map_err(poisoned)?;
        Ok(list
            .iter()
            .position(|s| s.name == name)
            .map(|i| list.remove(i)))
    }

    /// Every secret, by name.
    /// The secret named `name`.
    pub fn named(&self, name: &str) -> Option<Secret> {
        let list = self.list.read().ok()?;
        list.iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
            .cloned()
    }

    pub fn all(&self) -> Vec<Secret> {
        let mut all = self.list.read().map(|l| l.clone()).unwrap_or_default();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Reads the persistent secrets kept at `url`.
    pub async fn load(&self, url: &Url, options: &StorageOptions) -> Result<()> {
        let (store, path) = super::open_store(url, options)?;
        let file: File = match store.get(&path).await {
            Ok(got) => serde_json::from_slice(&got.bytes().await?).map_err(|e| {
                LakeError::Config(format!(
                    "{} is not a valid secrets file: {e}",
                    super::display_url(url)
                ))
            })?,
            Err(object_store::Error::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let mut list = self.list.write().map_err(poisoned)?;
        for mut s in file.secrets {
            s.persistent = true;
            list.retain(|o| o.name != s.name);
            list.push(s);
        }
        Ok(())
    }

    /// Writes the persistent secrets to `url`.
    pub async fn save(&self, url: &Url, options: &StorageOptions) -> Result<()> {
        let file = File {
            secrets: self.all().into_iter().filter(|s| s.persistent).collect(),
        };
        if url.scheme() == "file" {
            if let Some(dir) = url
                .to_file_path()
                .ok()
                .and_then(|p| p.parent().map(|d| d.to_path_buf()))
            {
                std::fs::create_dir_all(&dir).map_err(|e| LakeError::write(&dir, e))?;
            }
        }
        let (store, path) = super::open_store(url, options)?;
        let body =
            serde_json::to_vec_pretty(&file).map_err(|e| LakeError::Config(e.to_string()))?;
        store.put(&path, PutPayload::from(body)).await?;
        Ok(())
    }
}

/// Whether `v` is a `${VAR}` reference and nothing else.
pub fn is_reference(v: &str) -> bool {
    let v = v.trim();
    v.starts_with("${") && v.ends_with('}') && v.matches("${").count() == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(name: &str, scope: &str, region: &str) -> Secret {
        Secret::new(
            name,
            "S3",
            &[
                ("SCOPE".into(), scope.into()),
                ("REGION".into(), region.into()),
                ("URL_STYLE".into(), "path".into()),
            ],
        )
        .unwrap()
    }

    #[test]
    fn the_longest_scope_wins() {
        let secrets = Secrets::default();
        secrets.add(s3("any", "s3://", "r-any"), false).unwrap();
        secrets
            .add(s3("lake", "s3://lake/", "r-lake"), false)
            .unwrap();
        secrets
            .add(s3("prod", "s3://lake/prod", "r-prod"), false)
            .unwrap();
        let region = |u: &str| {
            secrets
                .for_url(&Url::parse(u).unwrap())
                .into_iter()
                .find(|(k, _)| k == "aws_region")
                .map(|(_, v)| v)
        };
        assert_eq!(region("s3://lake/prod/t").as_deref(), Some("r-prod"));
        assert_eq!(region("s3://lake/production/t").as_deref(), Some("r-lake"));
        assert_eq!(region("s3://other/t").as_deref(), Some("r-any"));
        assert_eq!(region("az://c/t"), None);
        assert!(secrets.add(s3("lake", "s3://x/", "r"), false).is_err());
        let lake = secrets
            .all()
            .into_iter()
            .find(|s| s.name == "lake")
            .unwrap();
        assert_eq!(lake.options["aws_virtual_hosted_style_request"], "false");
    }

    #[test]
    fn bad_secrets_say_what_is_allowed() {
        let e = Secret::new("x", "s3", &[("PASSWORD".into(), "p".into())]).unwrap_err();
        assert!(e.to_string().contains("KEY_ID, SECRET"), "{e}");
        let e = Secret::new("x", "ftp", &[]).unwrap_err();
        assert!(e.to_string().contains("use s3, azure or gcs"), "{e}");
        let api = Secret::new(
            "calls",
            "oauth2",
            &[
                ("TOKEN_URL".into(), "http://127.0.0.1:1/token".into()),
                ("CLIENT_ID".into(), "id".into()),
                ("CLIENT_SECRET".into(), "${CALLS_SECRET}".into()),
            ],
        )
        .unwrap();
        assert!(api.is_api() && api.covers("s3://b/t").is_none());
        let e = Secret::new("b", "bearer", &[]).unwrap_err();
        assert!(e.to_string().contains("needs TOKEN"), "{e}");
        let e = Secret::new("x", "azure", &[("SCOPE".into(), "s3://b/".into())]).unwrap_err();
        assert!(e.to_string().contains("not a azure location"), "{e}");
    }
}
