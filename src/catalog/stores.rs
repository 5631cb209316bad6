//! The object stores DataFusion reads through, built on demand for any `s3://`, `az://`,
//! `abfss://`, `gs://` or `file://` URL with the session's storage options, so files on object
//! storage can be queried by path without registering anything first.
//!
//! Every store a query reads through (those built here and those delta-rs registers for its
//! scans) is watched in [`Reads`]: a data file that is not found is noted, so a failed read can
//! say which file of the table is gone, whatever text the reader wrapped the storage error in;
//! and so is each CSV or JSON file opened, so a record that does not parse can be found again
//! and named with its file and line.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::ObjectStoreRegistry;
use futures::stream::BoxStream;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    ObjectStoreScheme, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions,
    RetryConfig,
};
use url::Url;

use super::options::{for_store, StorageOptions};

/// Builds and caches one object store per scheme and bucket.
#[derive(Debug)]
pub struct LakeStores {
    options: StorageOptions,
    /// Scoped credentials, consulted for each store's URL.
    secrets: Arc<super::secrets::Secrets>,
    cache: RwLock<HashMap<String, Arc<dyn ObjectStore>>>,
    reads: Arc<Reads>,
}

impl LakeStores {
    /// A registry whose stores use `options` (environment and config file already merged in)
    /// and the secret scoped to each store's URL, noting what statements read in `reads`.
    pub fn new(
        options: StorageOptions,
        secrets: Arc<super::secrets::Secrets>,
        reads: Arc<Reads>,
    ) -> Self {
        LakeStores {
            options,
            secrets,
            cache: RwLock::default(),
            reads,
        }
    }

    /// `inner`, the store for `url`, watched.
    fn watched(&self, url: &Url, inner: Arc<dyn ObjectStore>) -> Arc<dyn ObjectStore> {
        let mut root = url.clone();
        root.set_path("/");
        root.set_query(None);
        root.set_fragment(None);
        Arc::new(Watched {
            inner,
            root,
            reads: Arc::clone(&self.reads),
        })
    }

    /// Builds (without caching) a store for `url` with `options`, the retry settings
    /// included (`max_retries`, `retry_timeout`, `init_backoff`, `max_backoff`, `base`, as
    /// delta-rs reads them for the stores of its tables).
    pub fn build(url: &Url, options: &StorageOptions) -> Result<Arc<dyn ObjectStore>> {
        if url.scheme() == "file" {
            return Ok(Arc::new(LocalFileSystem::new()));
        }
        let cannot = |e: String| {
            DataFusionError::Plan(format!("cannot open {}: {e}", super::display_url(url)))
        };
        let opts = for_store(options);
        let retry = retry_config(&opts).map_err(cannot)?;
        let (scheme, _) = ObjectStoreScheme::parse(url).map_err(|e| cannot(e.to_string()))?;
        let built: object_store::Result<Arc<dyn ObjectStore>> = match scheme {
            ObjectStoreScheme::AmazonS3 => configured(
                object_store::aws::AmazonS3Builder::new().with_url(url.as_str()),
                &opts,
                |b, k, v| b.with_config(k, v),
            )
            .with_retry(retry)
            .build()
            .map(|s| Arc::new(s) as _),
            ObjectStoreScheme::MicrosoftAzure => configured(
                object_store::azure::MicrosoftAzureBuilder::new().with_url(url.as_str()),
                &opts,
                |b, k, v| b.with_config(k, v),
            )
            .with_retry(retry)
            .build()
            .map(|s| Arc::new(s) as _),
            ObjectStoreScheme::GoogleCloudStorage => configured(
                object_store::gcp::GoogleCloudStorageBuilder::new().with_url(url.as_str()),
                &opts,
                |b, k, v| b.with_config(k, v),
            )
            .with_retry(retry)
            .build()
            .map(|s| Arc::new(s) as _),
            _ => object_store::parse_url_opts(url, opts).map(|(s, _)| Arc::from(s)),
        };
        built.map_err(|e| cannot(e.to_string()))
    }
}

/// `builder` with each option it knows by name (the others are another store's).
fn configured<B, K: std::str::FromStr>(
    builder: B,
    options: &HashMap<String, String>,
    with: impl Fn(B, K, &str) -> B,
) -> B {
    options
        .iter()
        .fold(builder, |b, (k, v)| match k.parse::<K>() {
            Ok(key) => with(b, key, v),
            Err(_) => b,
        })
}

/// object_store's retry settings with those `options` sets.
fn retry_config(options: &HashMap<String, String>) -> std::result::Result<RetryConfig, String> {
    let mut retry = RetryConfig::default();
    let duration = |k: &str, v: &str| {
        humantime::parse_duration(v)
            .map_err(|_| format!("{k} = '{v}' is not a duration (such as 500ms or 3m)"))
    };
    for (k, v) in options {
        match k.as_str() {
            "max_retries" => {
                retry.max_retries = v
                    .parse()
                    .map_err(|_| format!("max_retries = '{v}' is not a whole number"))?
            }
            "retry_timeout" => retry.retry_timeout = duration(k, v)?,
            "init_backoff" | "backoff_config.init_backoff" | "backoff.init_backoff" => {
                retry.backoff.init_backoff = duration(k, v)?
            }
            "max_backoff" | "backoff_config.max_backoff" | "backoff.max_backoff" => {
                retry.backoff.max_backoff = duration(k, v)?
            }
            "base" | "backoff_config.base" | "backoff.base" => {
                retry.backoff.base = v
                    .parse()
                    .map_err(|_| format!("base = '{v}' is not a number"))?
            }
            _ => {}
        }
    }
    Ok(retry)
}

fn key(url: &Url) -> String {
    format!("{}://{}", url.scheme(), url.authority())
}

impl ObjectStoreRegistry for LakeStores {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        let store = self.watched(url, store);
        self.cache.write().ok()?.insert(key(url), store)
    }

    fn deregister_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        self.cache
            .write()
            .ok()
            .and_then(|mut c| c.remove(&key(url)))
            .ok_or_else(|| DataFusionError::Execution(format!("no object store for {url}")))
    }

    fn get_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        let secret = self.secrets.for_url(url);
        // A store is kept per bucket and credentials: a secret made later gets its own.
        let k = if secret.is_empty() {
            key(url)
        } else {
            format!("{}|{:?}", key(url), secret)
        };
        if let Some(store) = self.cache.read().ok().and_then(|c| c.get(&k).cloned()) {
            return Ok(store);
        }
        let options = super::options::merged(&self.options, secret);
        let store = self.watched(url, Self::build(url, &options)?);
        if let Ok(mut c) = self.cache.write() {
            c.insert(k, Arc::clone(&store));
        }
        Ok(store)
    }
}

/// What a statement's reads touched: the data files not found, and the CSV and JSON files
/// opened (the first 64 of them).
#[derive(Debug, Default)]
pub struct Reads {
    missing: std::sync::Mutex<Vec<String>>,
    opened: std::sync::Mutex<Vec<Opened>>,
}

/// A CSV or JSON file a statement opened.
#[derive(Debug, Clone)]
pub struct Opened {
    /// The file's URL.
    pub url: Url,
    /// Its path in its store.
    pub path: Path,
}

impl Reads {
    /// How many opened files are kept per statement.
    const OPENED: usize = 64;

    /// Forgets what earlier statements read.
    pub fn clear(&self) {
        if let Ok(mut m) = self.missing.lock() {
            m.clear();
        }
        if let Ok(mut o) = self.opened.lock() {
            o.clear();
        }
    }

    /// The first data file not found since [`Reads::clear`].
    pub fn first_missing(&self) -> Option<String> {
        self.missing.lock().ok()?.first().cloned()
    }

    /// The CSV and JSON files opened since [`Reads::clear`], in the order first opened.
    pub fn opened(&self) -> Vec<Opened> {
        self.opened.lock().map(|o| o.clone()).unwrap_or_default()
    }

    fn note_missing(&self, e: &object_store::Error) {
        if let object_store::Error::NotFound { path, .. } = e {
            // The log is probed for versions that do not exist yet; only data files count.
            if !path.contains("_delta_log") {
                if let Ok(mut m) = self.missing.lock() {
                    m.push(path.clone());
                }
            }
        }
    }

    fn note_opened(&self, w: &Watched, path: &Path) {
        let text = matches!(
            path.extension().map(str::to_ascii_lowercase).as_deref(),
            Some("csv" | "tsv" | "json" | "ndjson" | "jsonl")
        );
        if !text || path.as_ref().contains("_delta_log") {
            return;
        }
        let Ok(mut o) = self.opened.lock() else {
            return;
        };
        if o.len() >= Self::OPENED || o.iter().any(|f| &f.path == path) {
            return;
        }
        if let Ok(url) = w.root.join(path.as_ref()) {
            o.push(Opened {
                url,
                path: path.clone(),
            });
        }
    }
}

/// A store whose reads are noted in [`Reads`]; everything passes through.
#[derive(Debug)]
struct Watched {
    inner: Arc<dyn ObjectStore>,
    /// The store's URL without a path (`s3://bucket/`, `file:///`).
    root: Url,
    reads: Arc<Reads>,
}

impl std::fmt::Display for Watched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.inner)
    }
}

#[async_trait::async_trait]
impl ObjectStore for Watched {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        // A HEAD is a probe (is this name a file?), not a read of a data file.
        let probe = options.head;
        let r = self.inner.get_opts(location, options).await;
        if !probe {
            match &r {
                Err(e) => self.reads.note_missing(e),
                Ok(_) => self.reads.note_opened(self, location),
            }
        }
        r
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[std::ops::Range<u64>],
    ) -> object_store::Result<Vec<bytes::Bytes>> {
        let r = self.inner.get_ranges(location, ranges).await;
        match &r {
            Err(e) => self.reads.note_missing(e),
            Ok(_) => self.reads.note_opened(self, location),
        }
        r
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(
        &self,
        from: &Path,
        to: &Path,
        options: RenameOptions,
    ) -> object_store::Result<()> {
        self.inner.rename_opts(from, to, options).await
    }
}
