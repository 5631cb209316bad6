//! Storage options and credentials: from the usual environment variables (AWS_*, AZURE_*,
//! GOOGLE_*), then the config file's `[storage]` table, then a statement's `OPTIONS`, each later
//! source winning. Keys are lower-cased, as object_store and delta-rs accept them.

use std::collections::{BTreeMap, HashMap};

/// Option name -> value, sorted for stable printing.
pub type StorageOptions = BTreeMap<String, String>;

const ENV_PREFIXES: [&str; 3] = ["AWS_", "AZURE_", "GOOGLE_"];

/// The storage options found in the environment.
pub fn from_env() -> StorageOptions {
    std::env::vars()
        .filter(|(k, _)| ENV_PREFIXES.iter().any(|p| k.starts_with(p)))
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect()
}

/// `base` overlaid with `extra`, keys lower-cased.
pub fn merged(
    base: &StorageOptions,
    extra: impl IntoIterator<Item = (String, String)>,
) -> StorageOptions {
    let mut out = base.clone();
    for (k, v) in extra {
        out.insert(normalise_key(&k), v);
    }
    out
}

/// Lower-cases a key and accepts DataFusion-style dotted keys (`aws.secret_access_key`).
pub fn normalise_key(key: &str) -> String {
    key.to_ascii_lowercase().replace('.', "_")
}

/// The options as the HashMap delta-rs and object_store take. S3-compatible endpoints and GCS
/// base URLs over plain HTTP (a local server) are allowed without a second option.
pub fn for_store(options: &StorageOptions) -> HashMap<String, String> {
    let mut out: HashMap<String, String> = options
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, v) in &out {
        if crate::sql::redact::is_secret_key(k) {
            crate::error::remember_secret(v);
        }
    }
    let endpoint = out
        .get("aws_endpoint_url")
        .or_else(|| out.get("aws_endpoint"))
        .cloned();
    if let Some(endpoint) = endpoint {
        out.entry("aws_endpoint".into()).or_insert(endpoint.clone());
        if endpoint.starts_with("http://") {
            out.entry("aws_allow_http".into()).or_insert("true".into());
            out.entry("allow_http".into()).or_insert("true".into());
        }
    }
    let gcs_over_http = out
        .get("google_base_url")
        .is_some_and(|u| u.starts_with("http://"));
    if gcs_over_http {
        out.entry("google_allow_http".into())
            .or_insert("true".into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_sources_win_and_keys_normalise() {
        let base = StorageOptions::from([("aws_region".to_string(), "eu-west-1".to_string())]);
        let m = merged(&base, [("AWS.REGION".to_string(), "us-east-1".to_string())]);
        assert_eq!(m["aws_region"], "us-east-1");
    }

    #[test]
    fn local_http_endpoint_is_allowed() {
        let o = StorageOptions::from([(
            "aws_endpoint_url".to_string(),
            "http://127.0.0.1:5000".to_string(),
        )]);
        let s = for_store(&o);
        assert_eq!(s["aws_allow_http"], "true");
        assert_eq!(s["aws_endpoint"], "http://127.0.0.1:5000");
        let g = StorageOptions::from([(
            "google_base_url".to_string(),
            "http://127.0.0.1:4443".to_string(),
        )]);
        assert_eq!(for_store(&g)["google_allow_http"], "true");
    }
}
