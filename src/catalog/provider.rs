//! DataFusion's view of the warehouse: a catalog whose schemas are warehouse schemas, a `delta`
//! schema that addresses tables by path (``delta.`s3://b/t` ``), and a URL-table factory so a
//! quoted path (`SELECT * FROM 'landing/orders.csv'`) reads a file, a folder of files, or a Delta
//! table. Tables are opened when a statement names them, so every statement sees the latest
//! committed version.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use datafusion::catalog::{CatalogProvider, SchemaProvider, TableProvider, UrlTableFactory};
use datafusion::datasource::dynamic_file::DynamicListTableFactory;
use datafusion::error::{DataFusionError, Result};

use super::{open_delta, parse_location, TableEntry, Warehouse, PATH_SCHEMAS};
use crate::error::LakeError;

fn df_err(e: LakeError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// Opens the Delta table of `entry` as a DataFusion table provider.
pub async fn delta_provider(entry: &TableEntry) -> Result<Arc<dyn TableProvider>> {
    let table = open_delta(&entry.url, &entry.options)
        .await
        .map_err(|e| df_err(e.on_table(entry.name.clone())))?;
    let provider = table
        .table_provider()
        .await
        .map_err(|e| DataFusionError::Context(entry.name.clone(), Box::new(e)))?;
    Ok(provider)
}

/// The `lakeshell` catalog.
#[derive(Debug)]
pub struct WarehouseCatalog {
    warehouse: Arc<Warehouse>,
    /// schema -> table names, refreshed by [`WarehouseCatalog::refresh`] (listing is async,
    /// DataFusion asks for names synchronously).
    names: Arc<RwLock<BTreeMap<String, Vec<String>>>>,
}

impl WarehouseCatalog {
    pub fn new(warehouse: Arc<Warehouse>) -> Self {
        WarehouseCatalog {
            warehouse,
            names: Default::default(),
        }
    }

    /// Re-lists schemas and tables for `SHOW TABLES`, `information_schema` and completion.
    pub async fn refresh(&self) -> crate::error::Result<BTreeMap<String, Vec<String>>> {
        let mut names = BTreeMap::new();
        for schema in self.warehouse.schemas().await? {
            let tables = self.warehouse.tables(&schema).await?;
            let t = tables
                .iter()
                .map(|e| e.name.rsplit('.').next().unwrap_or_default().to_string())
                .collect();
            names.insert(schema, t);
        }
        if let Ok(mut guard) = self.names.write() {
            *guard = names.clone();
        }
        Ok(names)
    }
}

impl CatalogProvider for WarehouseCatalog {
    fn schema_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .names
            .read()
            .map(|n| n.keys().cloned().collect())
            .unwrap_or_default();
        if names.is_empty() {
            names.push(super::DEFAULT_SCHEMA.to_string());
        }
        names
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        if PATH_SCHEMAS.contains(&name) {
            return Some(Arc::new(PathSchema {
                warehouse: Arc::clone(&self.warehouse),
            }));
        }
        Some(Arc::new(WarehouseSchema {
            warehouse: Arc::clone(&self.warehouse),
            schema: name.to_string(),
            names: Arc::clone(&self.names),
        }))
    }
}

/// One schema of the warehouse.
#[derive(Debug)]
pub struct WarehouseSchema {
    warehouse: Arc<Warehouse>,
    schema: String,
    names: Arc<RwLock<BTreeMap<String, Vec<String>>>>,
}

#[async_trait]
impl SchemaProvider for WarehouseSchema {
    fn table_names(&self) -> Vec<String> {
        self.names
            .read()
            .ok()
            .and_then(|n| n.get(&self.schema).cloned())
            .unwrap_or_default()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        // Quoted paths reach here first; they are the URL-table factory's.
        if name.contains('/') || name.contains('.') {
            return Ok(None);
        }
        match self
            .warehouse
            .resolve(&self.schema, name)
            .await
            .map_err(df_err)?
        {
            Some(entry) => Ok(Some(delta_provider(&entry).await?)),
            None => Ok(None),
        }
    }

    fn table_exist(&self, name: &str) -> bool {
        self.table_names().iter().any(|n| n == name)
    }
}

/// The `delta` schema: the table name is the table's location.
#[derive(Debug)]
pub struct PathSchema {
    warehouse: Arc<Warehouse>,
}

#[async_trait]
impl SchemaProvider for PathSchema {
    fn table_names(&self) -> Vec<String> {
        vec![]
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let url = parse_location(name).map_err(df_err)?;
        let entry = TableEntry {
            name: name.to_string(),
            url,
            options: self.warehouse.options().clone(),
            external: true,
        };
        Ok(Some(delta_provider(&entry).await?))
    }

    fn table_exist(&self, _name: &str) -> bool {
        false
    }
}

/// Resolves quoted paths in FROM: a Delta folder reads as Delta, anything else as DataFusion's
/// listing tables do (CSV, JSON/NDJSON, Parquet, Avro, by extension).
#[derive(Debug)]
pub struct LakeUrlTables {
    pub warehouse: Arc<Warehouse>,
    pub files: Arc<DynamicListTableFactory>,
}

#[async_trait]
impl UrlTableFactory for LakeUrlTables {
    async fn try_new(&self, url: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if let Ok(parsed) = parse_location(url) {
            let options = self.warehouse.options();
            if super::is_delta_table(&parsed, options)
                .await
                .unwrap_or(false)
            {
                let entry = TableEntry {
                    name: url.to_string(),
                    url: parsed,
                    options: options.clone(),
                    external: true,
                };
                return Ok(Some(delta_provider(&entry).await?));
            }
        }
        self.files.try_new(url).await
    }
}
