//! The object stores DataFusion reads through, built on demand for any `s3://`, `az://`,
//! `abfss://`, `gs://` or `file://` URL with the session's storage options, so files on object
//! storage can be queried by path without registering anything first.

use std::sync::{Arc, RwLock};

use dashmap_lite::Cache;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::ObjectStoreRegistry;
use object_store::local::LocalFileSystem;
use object_store::ObjectStore;
use url::Url;

use super::options::{for_store, StorageOptions};

/// Builds and caches one object store per scheme and bucket.
#[derive(Debug)]
pub struct LakeStores {
    options: RwLock<StorageOptions>,
    cache: Cache,
}

impl LakeStores {
    /// A registry whose stores use `options` (environment and config file already merged in).
    pub fn new(options: StorageOptions) -> Self {
        LakeStores {
            options: RwLock::new(options),
            cache: Cache::default(),
        }
    }

    /// Builds (without caching) a store for `url` with `options`.
    pub fn build(url: &Url, options: &StorageOptions) -> Result<Arc<dyn ObjectStore>> {
        if url.scheme() == "file" {
            return Ok(Arc::new(LocalFileSystem::new()));
        }
        let opts = for_store(options);
        let (store, _) = object_store::parse_url_opts(url, opts).map_err(|e| {
            DataFusionError::Plan(format!("cannot open {}: {e}", super::display_url(url)))
        })?;
        Ok(Arc::from(store))
    }
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
        self.cache.insert(key(url), store)
    }

    fn deregister_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        self.cache
            .remove(&key(url))
            .ok_or_else(|| DataFusionError::Execution(format!("no object store for {url}")))
    }

    fn get_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        let k = key(url);
        if let Some(store) = self.cache.get(&k) {
            return Ok(store);
        }
        let options = self.options.read().map(|o| o.clone()).unwrap_or_default();
        let store = Self::build(url, &options)?;
        self.cache.insert(k, Arc::clone(&store));
        Ok(store)
    }
}

/// A tiny thread-safe map; enough for a handful of stores.
mod dashmap_lite {
    use std::collections::HashMap;
    use std::sync::{Arc, RwLock};

    use object_store::ObjectStore;

    #[derive(Debug, Default)]
    pub struct Cache(RwLock<HashMap<String, Arc<dyn ObjectStore>>>);

    impl Cache {
        pub fn get(&self, k: &str) -> Option<Arc<dyn ObjectStore>> {
            self.0.read().ok()?.get(k).cloned()
        }
        pub fn insert(&self, k: String, v: Arc<dyn ObjectStore>) -> Option<Arc<dyn ObjectStore>> {
            self.0.write().ok()?.insert(k, v)
        }
        pub fn remove(&self, k: &str) -> Option<Arc<dyn ObjectStore>> {
            self.0.write().ok()?.remove(k)
        }
    }
}
