//! DataFusion's view of the warehouse: a catalog whose schemas are warehouse schemas, a `delta`
//! schema that addresses tables by path (``delta.`s3://b/t` ``), and a URL-table factory so a
//! quoted path (`SELECT * FROM 'landing/orders.csv'`) reads a file, a folder of files, or a Delta
//! table. Tables are opened when a statement names them, so every statement sees the latest
//! committed version.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use datafusion::catalog::{CatalogProvider, SchemaProvider, TableProvider, UrlTableFactory};
use datafusion::datasource::dynamic_file::DynamicListTableFactory;
use datafusion::error::{DataFusionError, Result};

use super::{parse_location, TableEntry, TableName, Warehouse, PATH_SCHEMA};
use crate::error::LakeError;

fn df_err(e: LakeError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// Opens the latest version of the Delta table of `entry` as a DataFusion table provider.
pub async fn delta_provider(
    warehouse: &Warehouse,
    entry: &TableEntry,
) -> Result<Arc<dyn TableProvider>> {
    let table = warehouse.open(entry).await.map_err(df_err)?;
    provider_of(&table, &entry.name).await
}

/// A DataFusion table provider over an opened Delta table.
pub async fn provider_of(
    table: &deltalake::DeltaTable,
    name: &str,
) -> Result<Arc<dyn TableProvider>> {
    let inner = table
        .table_provider()
        .await
        .map_err(|e| DataFusionError::Context(name.to_string(), Box::new(e)))?;
    Ok(Arc::new(FiltersKept { inner }))
}

/// A Delta scan whose filters DataFusion also applies above it. delta-rs declares filters on
/// partition columns Exact and answers them from the partition values, and its kernel keeps
/// every file for some of them, such as `(region = 'eu') IS NULL`: DataFusion then dropped the
/// filter and counted every row (found by the logic checks in `tests/it/logic.rs`). As Inexact
/// filters they still prune files; the rows are filtered again, which is cheap.
#[derive(Debug)]
struct FiltersKept {
    inner: Arc<dyn TableProvider>,
}

#[async_trait]
impl TableProvider for FiltersKept {
    fn schema(&self) -> datafusion::arrow::datatypes::SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> datafusion::datasource::TableType {
        self.inner.table_type()
    }

    fn get_table_definition(&self) -> Option<&str> {
        self.inner.get_table_definition()
    }

    fn get_logical_plan(
        &self,
    ) -> Option<std::borrow::Cow<'_, datafusion::logical_expr::LogicalPlan>> {
        self.inner.get_logical_plan()
    }

    async fn scan(
        &self,
        state: &dyn datafusion::catalog::Session,
        projection: Option<&Vec<usize>>,
        filters: &[datafusion::logical_expr::Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
        self.inner.scan(state, projection, filters, limit).await
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&datafusion::logical_expr::Expr],
    ) -> Result<Vec<datafusion::logical_expr::TableProviderFilterPushDown>> {
        use datafusion::logical_expr::TableProviderFilterPushDown as P;
        Ok(self
            .inner
            .supports_filters_pushdown(filters)?
            .into_iter()
            .map(|p| match p {
                P::Exact => P::Inexact,
                other => other,
            })
            .collect())
    }

    fn statistics(&self) -> Option<datafusion::common::Statistics> {
        self.inner.statistics()
    }

    async fn insert_into(
        &self,
        state: &dyn datafusion::catalog::Session,
        input: Arc<dyn datafusion::physical_plan::ExecutionPlan>,
        op: datafusion::logical_expr::dml::InsertOp,
    ) -> Result<Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
        self.inner.insert_into(state, input, op).await
    }
}

/// Views and non-Delta external tables (`CREATE VIEW`, `CREATE EXTERNAL TABLE ... STORED AS
/// CSV`) live for the session, as in datafusion-cli: (schema, name) -> provider.
type SessionTables = Arc<RwLock<HashMap<(String, String), Arc<dyn TableProvider>>>>;

/// The `lakeshell` catalog.
#[derive(Debug)]
pub struct WarehouseCatalog {
    warehouse: Arc<Warehouse>,
    session: SessionTables,
    /// schema -> table names, refreshed by [`WarehouseCatalog::refresh`] (listing is async,
    /// DataFusion asks for names synchronously).
    names: Arc<RwLock<BTreeMap<String, Vec<String>>>>,
}

impl WarehouseCatalog {
    pub fn new(warehouse: Arc<Warehouse>) -> Self {
        WarehouseCatalog {
            warehouse,
            session: Default::default(),
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
        if name == PATH_SCHEMA {
            return Some(Arc::new(PathSchema {
                warehouse: Arc::clone(&self.warehouse),
            }));
        }
        Some(Arc::new(WarehouseSchema {
            warehouse: Arc::clone(&self.warehouse),
            schema: name.to_string(),
            names: Arc::clone(&self.names),
            session: Arc::clone(&self.session),
        }))
    }
}

/// One schema of the warehouse.
#[derive(Debug)]
pub struct WarehouseSchema {
    warehouse: Arc<Warehouse>,
    schema: String,
    names: Arc<RwLock<BTreeMap<String, Vec<String>>>>,
    session: SessionTables,
}

impl WarehouseSchema {
    fn session_table(&self, name: &str) -> Option<Arc<dyn TableProvider>> {
        self.session
            .read()
            .ok()?
            .get(&(self.schema.clone(), name.to_string()))
            .cloned()
    }
}

#[async_trait]
impl SchemaProvider for WarehouseSchema {
    fn table_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .names
            .read()
            .ok()
            .and_then(|n| n.get(&self.schema).cloned())
            .unwrap_or_default();
        if let Ok(session) = self.session.read() {
            names.extend(
                session
                    .keys()
                    .filter(|(s, _)| *s == self.schema)
                    .map(|(_, t)| t.clone()),
            );
        }
        names
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if let Some(t) = self.session_table(name) {
            return Ok(Some(t));
        }
        // Quoted paths reach here first; they are the URL-table factory's.
        if name.contains('/') || name.contains('.') {
            return Ok(None);
        }
        let name = TableName::Warehouse {
            schema: self.schema.clone(),
            table: name.to_string(),
        };
        match self.warehouse.resolve(&name).await.map_err(df_err)? {
            Some(entry) => Ok(Some(delta_provider(&self.warehouse, &entry).await?)),
            None => Ok(None),
        }
    }

    fn register_table(
        &self,
        name: String,
        table: Arc<dyn TableProvider>,
    ) -> Result<Option<Arc<dyn TableProvider>>> {
        let mut session = self
            .session
            .write()
            .map_err(|_| DataFusionError::Internal("session tables lock".into()))?;
        Ok(session.insert((self.schema.clone(), name), table))
    }

    fn deregister_table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let mut session = self
            .session
            .write()
            .map_err(|_| DataFusionError::Internal("session tables lock".into()))?;
        Ok(session.remove(&(self.schema.clone(), name.to_string())))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.session_table(name).is_some() || self.table_names().iter().any(|n| n == name)
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
        let entry = self.warehouse.at_location(name).map_err(df_err)?;
        Ok(Some(delta_provider(&self.warehouse, &entry).await?))
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
            let options = self.warehouse.options_for(&parsed);
            if super::is_delta_table(&parsed, &options)
                .await
                .unwrap_or(false)
            {
                let entry = TableEntry {
                    name: url.to_string(),
                    url: parsed,
                    options,
                    external: true,
                };
                return Ok(Some(delta_provider(&self.warehouse, &entry).await?));
            }
        }
        self.files.try_new(url).await
    }
}
