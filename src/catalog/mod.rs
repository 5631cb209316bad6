//! Turns names and URLs into Delta tables and object stores.
//!
//! - [`Warehouse`]: the embedded default catalog, a folder (local or on object storage) whose
//!   `<schema>/<table>` Delta folders are tables `schema.table` without registration, plus the
//!   external tables registered with `CREATE EXTERNAL TABLE`, kept in `_lakeshell/tables.json`
//!   inside the warehouse.
//! - [`provider`]: the DataFusion catalog, schema and URL-table providers over it.
//! - [`stores`]: object stores built on demand for any URL a query names.
//! - [`options`]: storage options and credentials.

pub mod cache;
pub mod options;
pub mod provider;
pub mod registry;
pub mod secrets;
pub mod stores;

use std::sync::Arc;

use deltalake::{DeltaTable, DeltaTableBuilder};
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use url::Url;

use crate::delta::AsOf;
use crate::error::{LakeError, Result};
pub use crate::sql::names::{TableName, CATALOG, DEFAULT_SCHEMA, PATH_SCHEMA};
pub use options::StorageOptions;
pub use registry::Registration;

/// Folder inside the warehouse for lakeshell's own files (never a schema).
pub const META_DIR: &str = "_lakeshell";

/// Parses a location as the user wrote it: a URL with a scheme, or a local path (relative to the
/// working directory). Local paths become `file://` URLs.
pub fn parse_location(location: &str) -> Result<Url> {
    let loc = location.trim();
    if loc.is_empty() {
        return Err(LakeError::BadLocation("empty location".into()));
    }
    if let Some((scheme, _)) = loc.split_once("://") {
        let scheme = scheme.to_ascii_lowercase();
        let known = [
            "file", "s3", "s3a", "az", "azure", "abfs", "abfss", "adl", "gs", "memory", "http",
            "https",
        ];
        if !known.contains(&scheme.as_str()) {
            return Err(LakeError::BadLocation(format!(
                "unknown storage scheme {scheme}:// in {loc}"
            )));
        }
        return Url::parse(loc)
            .map_err(|e| LakeError::BadLocation(format!("bad location {loc}: {e}")));
    }
    let path = std::path::Path::new(loc);
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    let abs = normalise_path(&abs);
    Url::from_file_path(&abs).map_err(|_| LakeError::BadLocation(format!("bad path {loc}")))
}

fn normalise_path(p: &std::path::Path) -> std::path::PathBuf {
    use std::path::Component;
    let mut out = std::path::PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// A URL as shown to users: no credentials in user-info or query string (SAS tokens).
pub fn display_url(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_password(None);
    let _ = u.set_username("");
    u.set_query(None);
    let s = u.to_string();
    match u.scheme() {
        "file" => u
            .to_file_path()
            .map(|p| p.display().to_string().trim_end_matches('/').to_string())
            .unwrap_or(s),
        _ => s.trim_end_matches('/').to_string(),
    }
}

/// `url` with a trailing slash, so joining a child keeps the last segment.
pub fn as_dir(url: &Url) -> Url {
    let mut u = url.clone();
    if !u.path().ends_with('/') {
        u.set_path(&format!("{}/", u.path()));
    }
    u
}

/// The object store for a URL and the path of the URL inside it.
pub fn open_store(url: &Url, options: &StorageOptions) -> Result<(Arc<dyn ObjectStore>, Path)> {
    let store = stores::LakeStores::build(url, options)?;
    let path =
        Path::from_url_path(url.path()).map_err(|e| LakeError::BadLocation(e.to_string()))?;
    Ok((store, path))
}

/// True when `url` holds a Delta table (a `_delta_log/` with at least one file, not counting
/// hidden ones: a commit still being written, or whose writer was killed, is not a table yet).
pub async fn is_delta_table(url: &Url, options: &StorageOptions) -> Result<bool> {
    let (store, path) = open_store(url, options)?;
    let log = path.clone().join("_delta_log");
    let mut listing = store.list(Some(&log));
    loop {
        match listing.try_next().await {
            // A file being written when its writer was killed (`.N.json.<uuid>.staging`, the
            // first commit's included) is not a table yet.
            Ok(Some(m)) if m.location.filename().is_some_and(|n| n.starts_with('.')) => {}
            Ok(Some(_)) => return Ok(true),
            Ok(None) => return Ok(false),
            Err(object_store::Error::NotFound { .. }) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Loads the Delta table at `url` (latest version). Only when loading fails does it look for a
/// `_delta_log`, to say "not a Delta table" rather than delta-rs's path error; callers such as
/// [`Warehouse::resolve`] have usually just checked, so the common path lists the log once.
pub async fn open_delta(url: &Url, options: &StorageOptions) -> Result<DeltaTable> {
    let loaded = DeltaTableBuilder::from_url(url.clone())?
        .with_storage_options(options::for_store(options))
        .load()
        .await;
    match loaded {
        Ok(table) => Ok(table),
        Err(e) => match is_delta_table(url, options).await {
            Ok(false) => Err(LakeError::NotDelta(display_url(url))),
            _ => {
                let err = LakeError::from(e);
                // The kernel's JSON and Parquet errors do not say which file of the log they
                // came from; find it.
                let text = err.to_string();
                if let Some(file) = damaged_log_file(url, options, &text).await {
                    return Err(LakeError::Delta(deltalake::DeltaTableError::Generic(
                        format!("{text} (in {file})"),
                    )));
                }
                Err(err)
            }
        },
    }
}

/// The log file a load failed on, from the error's kind: for a JSON error, the first commit
/// after the newest checkpoint that is not one JSON object per line; for a Parquet error, the
/// newest checkpoint.
async fn damaged_log_file(url: &Url, options: &StorageOptions, error: &str) -> Option<String> {
    let json = error.contains("Json error") || error.contains("JSON");
    let parquet = error.contains("Parquet error");
    if !json && !parquet {
        return None;
    }
    let (store, path) = open_store(url, options).ok()?;
    let log = path.clone().join("_delta_log");
    let metas: Vec<object_store::ObjectMeta> = store.list(Some(&log)).try_collect().await.ok()?;
    let checkpoint = metas
        .iter()
        .filter_map(|m| m.location.filename().map(str::to_string))
        .filter(|n| n.contains(".checkpoint.") && n.ends_with(".parquet"))
        .max();
    if parquet {
        return checkpoint.map(|n| format!("_delta_log/{n}"));
    }
    let from = checkpoint
        .as_deref()
        .and_then(|n| n.get(..20)?.parse::<u64>().ok())
        .unwrap_or(0);
    let mut commits: Vec<&object_store::ObjectMeta> = metas
        .iter()
        .filter(|m| crate::delta::history::commit_version(&m.location) >= Some(from))
        .collect();
    commits.sort_by_key(|m| m.location.clone());
    for m in commits {
        let bytes = store.get(&m.location).await.ok()?.bytes().await.ok()?;
        let bad = String::from_utf8_lossy(&bytes).lines().any(|l| {
            !l.trim().is_empty()
                && !serde_json::from_str::<serde_json::Value>(l).is_ok_and(|v| v.is_object())
        });
        if bad {
            return m.location.filename().map(|n| format!("_delta_log/{n}"));
        }
    }
    None
}

/// The table at `entry`, built but not loaded (a local folder is made for it).
pub fn new_table(entry: &TableEntry) -> Result<DeltaTable> {
    if entry.url.scheme() == "file" {
        if let Ok(path) = entry.url.to_file_path() {
            std::fs::create_dir_all(&path).map_err(|e| LakeError::write(&path, e))?;
        }
    }
    Ok(DeltaTableBuilder::from_url(entry.url.clone())?
        .with_storage_options(options::for_store(&entry.options))
        .build()?)
}

/// The local folder of `entry`, when it is on local disk and does not exist yet: a write that
/// fails there may take away the folder it made ([`remove_empty_folder`]).
pub fn folder_to_make(entry: &TableEntry) -> Option<std::path::PathBuf> {
    let path = entry.url.to_file_path().ok()?;
    (entry.url.scheme() == "file" && !path.exists()).then_some(path)
}

/// Removes `dir` if nothing but empty folders is under it (what a failed CREATE TABLE AS
/// SELECT made before it wrote a file); a folder that holds a file stays, whoever wrote it.
pub fn remove_empty_folder(dir: &std::path::Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_empty_folder(&e.path());
            }
        }
    }
    // Fails, and so keeps the folder, when anything is left in it.
    let _ = std::fs::remove_dir(dir);
}

/// A table the catalog resolved: its display name, location and storage options.
#[derive(Debug, Clone)]
pub struct TableEntry {
    /// `schema.table`, or the location for path-addressed tables.
    pub name: String,
    /// Where the Delta table lives.
    pub url: Url,
    /// Storage options for that location.
    pub options: StorageOptions,
    /// Registered with CREATE EXTERNAL TABLE (rather than found in the warehouse).
    pub external: bool,
}

/// The embedded default warehouse.
#[derive(Debug)]
pub struct Warehouse {
    root: Url,
    options: StorageOptions,
    secrets: Arc<secrets::Secrets>,
    registry: registry::Registry,
    cache: cache::TableCache,
}

impl Warehouse {
    /// A warehouse at `root` (a folder URL), using `options` for its storage.
    pub fn new(root: Url, options: StorageOptions) -> Self {
        let root = as_dir(&root);
        let registry = registry::Registry::new(
            root.join(&format!("{META_DIR}/tables.json"))
                .unwrap_or_else(|_| root.clone()),
        );
        Warehouse {
            root,
            options,
            secrets: Default::default(),
            registry,
            cache: cache::TableCache::new(true),
        }
    }

    /// The same warehouse, opening every table anew in each statement (`--no-table-cache`).
    pub fn without_table_cache(mut self) -> Self {
        self.cache = cache::TableCache::new(false);
        self
    }

    /// Opens `entry` at its latest version (a snapshot kept from an earlier statement, brought
    /// up to date).
    pub async fn open(&self, entry: &TableEntry) -> Result<DeltaTable> {
        self.cache
            .latest(entry.url.as_str(), || {
                open_delta(&entry.url, &entry.options)
            })
            .await
            .map_err(|e| e.on_table(entry.name.clone()))
    }

    /// Opens `entry` at `as_of`, or its latest version; errors name the table.
    pub async fn open_at(&self, entry: &TableEntry, as_of: Option<AsOf>) -> Result<DeltaTable> {
        let mut table = self.open(entry).await?;
        let Some(as_of) = as_of else {
            return Ok(table);
        };
        let version = crate::delta::history::resolve(&table, as_of)
            .await
            .map_err(|e| e.on_table(entry.name.clone()))?;
        load_version(&mut table, &entry.name, version).await?;
        Ok(table)
    }

    /// The table at `entry` for a write that may create it: opened at its latest version when
    /// it exists, otherwise built but not loaded (a local folder is made for it).
    pub async fn open_for_write(&self, entry: &TableEntry) -> Result<DeltaTable> {
        if is_delta_table(&entry.url, &entry.options).await? {
            return self.open(entry).await;
        }
        new_table(entry)
    }

    /// Forgets what the session kept of `entry` (DROP TABLE).
    pub fn forget(&self, entry: &TableEntry) {
        self.cache.forget(entry.url.as_str());
    }

    /// The warehouse folder.
    pub fn root(&self) -> &Url {
        &self.root
    }

    /// The storage options in force (environment, config file, flags).
    pub fn options(&self) -> &StorageOptions {
        &self.options
    }

    /// The options for `url`: those in force, overlaid with the secret whose scope is the
    /// longest prefix of `url`.
    pub fn options_for(&self, url: &Url) -> StorageOptions {
        options::merged(&self.options, self.secrets.for_url(url))
    }

    /// The session's secrets (shared with the object-store registry).
    pub fn secrets(&self) -> &Arc<secrets::Secrets> {
        &self.secrets
    }

    fn secrets_url(&self) -> Url {
        self.root
            .join(&format!("{META_DIR}/secrets.json"))
            .unwrap_or_else(|_| self.root.clone())
    }

    /// Reads the warehouse's persistent secrets into the session.
    pub async fn load_secrets(&self) -> Result<()> {
        let url = self.secrets_url();
        self.secrets.load(&url, &self.options_for(&url)).await
    }

    /// Writes the session's persistent secrets to the warehouse.
    pub async fn save_secrets(&self) -> Result<()> {
        let url = self.secrets_url();
        self.secrets.save(&url, &self.options_for(&url)).await
    }

    /// Where `schema.table` lives when it is a warehouse (managed) table.
    pub fn table_url(&self, schema: &str, table: &str) -> Result<Url> {
        check_name(schema)?;
        check_name(table)?;
        self.root
            .join(&format!("{schema}/{table}"))
            .map_err(|e| LakeError::BadName(format!("bad table name {schema}.{table}: {e}")))
    }

    /// The table `name` names: a registration first, then a Delta folder in the warehouse; a
    /// location is taken as it is. None when nothing is there.
    pub async fn resolve(&self, name: &TableName) -> Result<Option<TableEntry>> {
        let (schema, table) = match name {
            TableName::Path(p) => return Ok(Some(self.at_location(p)?)),
            TableName::Warehouse { schema, table } => (schema, table),
        };
        let qualified = format!("{schema}.{table}");
        if let Some(reg) = self.registry.get(&self.options, &qualified).await? {
            let url = parse_location(&reg.location)?;
            let options = reg.resolved_options(&self.options_for(&url))?;
            return Ok(Some(TableEntry {
                name: qualified,
                url,
                options,
                external: true,
            }));
        }
        if check_name(schema).is_err() || check_name(table).is_err() {
            return Ok(None);
        }
        let url = self.table_url(schema, table)?;
        let options = self.options_for(&url);
        if is_delta_table(&url, &options).await? {
            return Ok(Some(TableEntry {
                name: qualified,
                url,
                options,
                external: false,
            }));
        }
        Ok(None)
    }

    /// The table `name` names, or a clear error saying where it was looked for.
    pub async fn resolve_existing(&self, name: &TableName) -> Result<TableEntry> {
        self.resolve(name)
            .await?
            .ok_or_else(|| LakeError::TableNotFound {
                name: name.to_string(),
                looked_in: display_url(&self.root),
                suggestion: None,
            })
    }

    /// The entry a write to `name` goes to, whether or not the table exists yet.
    pub async fn resolve_for_write(&self, name: &TableName) -> Result<TableEntry> {
        if let Some(entry) = self.resolve(name).await? {
            return Ok(entry);
        }
        let TableName::Warehouse { schema, table } = name else {
            return self.at_location(&name.to_string());
        };
        let url = self.table_url(schema, table)?;
        Ok(TableEntry {
            name: name.to_string(),
            options: self.options_for(&url),
            url,
            external: false,
        })
    }

    /// A table addressed by its location, with the warehouse's storage options.
    pub fn at_location(&self, location: &str) -> Result<TableEntry> {
        let url = parse_location(location)?;
        Ok(TableEntry {
            name: location.to_string(),
            options: self.options_for(&url),
            url,
            external: true,
        })
    }

    /// Schema names: folders of the warehouse and schemas of registrations, with `default`.
    pub async fn schemas(&self) -> Result<Vec<String>> {
        let mut names = self.list_dirs(&self.root).await?;
        for reg in self.registry.all(&self.options).await? {
            if let Ok(TableName::Warehouse { schema, .. }) = TableName::from_text(&reg.name) {
                names.push(schema);
            }
        }
        names.push(DEFAULT_SCHEMA.into());
        names.retain(|n| !n.starts_with('_') && !n.starts_with('.'));
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// All tables of one schema, sorted, as entries.
    pub async fn tables(&self, schema: &str) -> Result<Vec<TableEntry>> {
        let mut out = Vec::new();
        if check_name(schema).is_ok() {
            let dir = self
                .root
                .join(&format!("{schema}/"))
                .map_err(|e| LakeError::BadName(format!("bad schema name {schema}: {e}")))?;
            for t in self.list_dirs(&dir).await? {
                let url = self.table_url(schema, &t)?;
                let options = self.options_for(&url);
                if is_delta_table(&url, &options).await? {
                    out.push(TableEntry {
                        name: format!("{schema}.{t}"),
                        url,
                        options,
                        external: false,
                    });
                }
            }
        }
        for reg in self.registry.all(&self.options).await? {
            let in_schema = matches!(
                TableName::from_text(&reg.name)?,
                TableName::Warehouse { schema: s, .. } if s == schema
            );
            if in_schema {
                let url = parse_location(&reg.location)?;
                out.retain(|e| e.name != reg.name);
                out.push(TableEntry {
                    name: reg.name.clone(),
                    options: reg.resolved_options(&self.options_for(&url))?,
                    url,
                    external: true,
                });
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    async fn list_dirs(&self, dir: &Url) -> Result<Vec<String>> {
        let (store, path) = open_store(dir, &self.options_for(dir))?;
        match store.list_with_delimiter(Some(&path)).await {
            Ok(listing) => Ok(listing
                .common_prefixes
                .iter()
                .filter_map(|p| p.filename().map(|s| s.to_string()))
                .collect()),
            Err(object_store::Error::NotFound { .. }) => Ok(vec![]),
            Err(e) => Err(LakeError::from(e).on_table(display_url(dir))),
        }
    }

    /// Records an external table. Secret option values are stored only as `${VAR}` references.
    pub async fn register(&self, reg: Registration, replace: bool) -> Result<Vec<String>> {
        self.registry.add(&self.options, reg, replace).await
    }

    /// Forgets an external table; true when one was registered.
    pub async fn unregister(&self, name: &str) -> Result<bool> {
        self.registry.remove(&self.options, name).await
    }
}

/// Table and schema names become folder names: keep them to what is safe in a path.
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with('_')
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(LakeError::BadName(format!(
            "bad name {name:?}: schema and table names are letters, digits, _ and -"
        )))
    }
}

/// Moves `table` (the table `name`) to `version`, unless it is there; a version whose log or
/// files are gone is an error that says so.
pub async fn load_version(table: &mut DeltaTable, name: &str, version: u64) -> Result<()> {
    if table.version() != Some(version) {
        table.load_version(version).await.map_err(|e| {
            LakeError::Version(format!(
                "{name}: version {version} is no longer available ({}); VACUUM or log cleanup removed it",
                LakeError::from(e)
            ))
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse() {
        assert_eq!(parse_location("s3://b/p").unwrap().as_str(), "s3://b/p");
        assert_eq!(
            parse_location("/tmp/x/../y").unwrap().as_str(),
            "file:///tmp/y"
        );
        assert!(parse_location("ftp://x").is_err());
    }

    #[test]
    fn azure_and_gcs_warehouses_are_configured_without_network() {
        let az =
            StorageOptions::from([("azure_storage_account_name".to_string(), "acct".to_string())]);
        for url in [
            "az://container/lake",
            "abfss://container@acct.dfs.core.windows.net/lake",
        ] {
            let (_, path) = open_store(&parse_location(url).unwrap(), &az).unwrap();
            assert_eq!(path.as_ref(), "lake", "{url}");
        }
        let gs = StorageOptions::from([("google_bucket".to_string(), "b".to_string())]);
        let (_, path) = open_store(&parse_location("gs://bucket/lake").unwrap(), &gs).unwrap();
        assert_eq!(path.as_ref(), "lake");
        let wh = Warehouse::new(parse_location("gs://bucket/lake").unwrap(), gs);
        assert_eq!(
            wh.table_url("sales", "orders").unwrap().as_str(),
            "gs://bucket/lake/sales/orders"
        );
    }

    #[test]
    fn display_hides_credentials() {
        let u = Url::parse("az://acct/c/t?sv=1&sig=secret").unwrap();
        assert_eq!(display_url(&u), "az://acct/c/t");
    }

    #[test]
    fn unsafe_names_are_refused() {
        assert!(check_name("../etc").is_err());
        assert!(check_name("_lakeshell").is_err());
        assert!(check_name("orders-2024").is_ok());
    }
}
