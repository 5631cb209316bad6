//! The object stores DataFusion reads through, built on demand for any `s3://`, `az://`,
//! `abfss://`, `gs://` or `file://` URL with the session's storage options, so files on object
//! storage can be queried by path without registering anything first.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::ObjectStoreRegistry;
use object_store::local::LocalFileSystem;
use object_store::ObjectStore;
use url::Url;

use super::options::{for_store, StorageOptions};

/// Builds and caches one object store per scheme and bucket.
#[derive(Debug)]
pub struct LakeStores {
    options: StorageOptions,
    cache: RwLock<HashMap<String, Arc<dyn ObjectStore>>>,
}

impl LakeStores {
    /// A registry whose stores use `options` (environment and config file already merged in).
    pub fn new(options: StorageOptions) -> Self {
        LakeStores {
            options,
            cache: RwLock::default(),
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
        let k = key(url);
        if let Some(store) = self.cache.read().ok().and_then(|c| c.get(&k).cloned()) {
            return Ok(store);
        }
        let store = Self::build(url, &self.options)?;
        if let Ok(mut c) = self.cache.write() {
            c.insert(k, Arc::clone(&store));
        }
        Ok(store)
    }
}
