//! The only place statements execute. A statement comes in as text, is substituted, parsed with
//! lakeshell's dialect and dispatched; the result goes back as data ([`Outcome`]) for `output/`
//! to render. The dispatch `match` in [`Engine::execute`] is the map of what lakeshell does.

mod changes;
mod clock;
mod create;
mod describe;
mod dml;
mod incremental;
mod inspect;
mod maintenance;
mod merge;
pub mod progress;
mod quality;
mod retry;
mod travel;

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{CatalogProvider, DynamicFileCatalog, UrlTableFactory};
use datafusion::common::TableReference;
use datafusion::datasource::dynamic_file::DynamicListTableFactory;
use datafusion::execution::context::{SessionContext, SessionState};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{DmlStatement, LogicalPlan, WriteOp};
use datafusion::physical_plan::execute_stream;
use datafusion::prelude::SessionConfig;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{ObjectName, ObjectType, Statement as SQLStatement};
use futures::StreamExt;

pub use clock::parse_now;
pub use incremental::Step;
pub use inspect::TableSummary;
pub use progress::{Progress, ProgressSnapshot};
pub use quality::CheckReport;

use crate::catalog::provider::{LakeUrlTables, WarehouseCatalog};
use crate::catalog::stores::LakeStores;
use crate::catalog::{
    self, parse_location, Registration, TableEntry, Warehouse, CATALOG, DEFAULT_SCHEMA,
};
use crate::delta::write::{write, WriteMode, WriteRequest};
use crate::delta::WriteMetrics;
use crate::error::{LakeError, Result};
use crate::sql::{parse_statement, vars::Vars, LakeStatement};

/// What a statement produced.
#[derive(Debug)]
pub enum Outcome {
    /// Rows of a query (the first `kept` of `total_rows`).
    Rows(Rows),
    /// A write's metrics.
    Write(WriteMetrics),
    /// A statement that returns no rows, with a line for the user.
    Message(String),
    /// What `CHECK` found (rows to show, and whether a failing expectation failed).
    Check(CheckReport),
}

/// Query results kept for rendering.
#[derive(Debug)]
pub struct Rows {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    /// Rows the query returned, including those not kept.
    pub total_rows: usize,
}

/// One batch of rows with `fields`, as an outcome (DESCRIBE, OPTIMIZE, VACUUM ...).
pub(crate) fn rows(
    fields: Vec<datafusion::arrow::datatypes::Field>,
    columns: Vec<datafusion::arrow::array::ArrayRef>,
) -> Result<Outcome> {
    let schema = Arc::new(datafusion::arrow::datatypes::Schema::new(fields));
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns)?;
    let total_rows = batch.num_rows();
    Ok(Outcome::Rows(Rows {
        schema,
        batches: vec![batch],
        total_rows,
    }))
}

/// How to run one statement.
#[derive(Debug, Default, Clone)]
pub struct ExecOptions {
    /// Keep at most this many result rows (the rest are counted). None keeps all.
    pub keep_rows: Option<usize>,
    /// Where to publish live figures.
    pub progress: Option<Arc<Progress>>,
}

/// A lakeshell session: DataFusion with the warehouse catalog, path-addressed tables and object
/// stores for any URL.
pub struct Engine {
    ctx: SessionContext,
    warehouse: Arc<Warehouse>,
    catalog: Arc<WarehouseCatalog>,
    vars: Vars,
    /// `SET spark.*` / `SET lakeshell.*` settings DataFusion does not know.
    settings: std::sync::Mutex<std::collections::HashMap<String, String>>,
    /// Session tables holding the change feeds `table_changes(...)` read for this statement.
    change_tables: std::sync::Mutex<Vec<String>>,
    /// This process's run id, recorded with quality figures, quarantined rows and run logs.
    run_id: String,
    /// "Now" when it was set (`--now`, `SET lakeshell.now`); the clock otherwise.
    now: std::sync::Mutex<Option<chrono::DateTime<chrono::Utc>>>,
    /// The pipeline step statements run in (None outside `lakeshell run`).
    step: std::sync::Mutex<Option<Step>>,
    /// Positions `incremental(...)` read in this statement, recorded when it succeeds.
    pending: std::sync::Mutex<Vec<incremental::Pending>>,
    /// `lakeshell check --as-of`: the version CHECK reads when it names none (all tables, and
    /// per table).
    check_versions: std::sync::Mutex<(Option<u64>, std::collections::HashMap<String, u64>)>,
}

impl Engine {
    /// A session over `warehouse`, substituting `vars` into statements.
    pub fn new(warehouse: Warehouse, mut vars: Vars) -> Result<Self> {
        crate::delta::commit_check::install();
        let run_id = uuid::Uuid::new_v4().to_string();
        vars.set_default("run_id", &run_id);
        let warehouse = Arc::new(warehouse);
        let config = SessionConfig::new()
            .with_information_schema(true)
            .with_default_catalog_and_schema(CATALOG, DEFAULT_SCHEMA)
            .with_create_default_catalog_and_schema(false)
            // delta-rs's workaround: hash-join IN-list pushdown can panic on dictionary keys.
            .set_usize("datafusion.optimizer.hash_join_inlist_pushdown_max_size", 0)
            .set_usize(
                "datafusion.optimizer.hash_join_inlist_pushdown_max_distinct_values",
                0,
            )
            // INT96 timestamps (older Spark, Databricks) as microseconds: nanoseconds overflow
            // past the year 2262, and real tables hold 9999-12-31.
            .set_str("datafusion.execution.parquet.coerce_int96", "us");
        let runtime = RuntimeEnvBuilder::new()
            .with_object_store_registry(Arc::new(LakeStores::new(warehouse.options().clone())))
            .build_arc()?;
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(runtime)
            .with_default_features()
            // delta-rs plans its writes with extension nodes only its planner executes.
            .with_query_planner(deltalake::delta_datafusion::planner::DeltaPlanner::new())
            .build();
        let ctx = SessionContext::new_with_state(state);
        let catalog = Arc::new(WarehouseCatalog::new(Arc::clone(&warehouse)));
        ctx.register_catalog(CATALOG, Arc::clone(&catalog) as Arc<dyn CatalogProvider>);

        // Quoted paths in FROM: files by extension, or Delta folders.
        let files = Arc::new(DynamicListTableFactory::default());
        let factory = Arc::new(LakeUrlTables {
            warehouse: Arc::clone(&warehouse),
            files: Arc::clone(&files),
        });
        let catalogs = Arc::new(DynamicFileCatalog::new(
            Arc::clone(ctx.state().catalog_list()),
            factory as Arc<dyn UrlTableFactory>,
        ));
        let session_id = ctx.session_id();
        let ctx: SessionContext = ctx
            .into_state_builder()
            .with_session_id(session_id)
            .with_catalog_list(catalogs)
            .build()
            .into();
        files.session_store().with_state(ctx.state_weak_ref());
        Ok(Engine {
            ctx,
            warehouse,
            catalog,
            vars,
            settings: Default::default(),
            change_tables: Default::default(),
            run_id,
            now: Default::default(),
            step: Default::default(),
            pending: Default::default(),
            check_versions: Default::default(),
        })
    }

    /// The warehouse this session uses.
    pub fn warehouse(&self) -> &Warehouse {
        &self.warehouse
    }

    /// The DataFusion session (for tests and completion).
    pub fn state(&self) -> SessionState {
        self.ctx.state()
    }

    /// `raw` with `${var}`s substituted.
    pub fn substitute(&self, raw: &str) -> Result<String> {
        self.vars.substitute(raw)
    }

    /// Runs one statement, written as `raw` (before `${var}` substitution). Positions that
    /// `incremental(...)` read are recorded only when it succeeds.
    pub async fn execute(&self, raw: &str, opts: &ExecOptions) -> Result<Outcome> {
        self.drop_pending();
        let out = self.execute_statement(raw, opts).await;
        match &out {
            Ok(_) => self.record_positions().await?,
            Err(_) => self.drop_pending(),
        }
        out
    }

    async fn execute_statement(&self, raw: &str, opts: &ExecOptions) -> Result<Outcome> {
        self.drop_change_tables();
        let sql = self.vars.substitute(raw)?;
        if let Some(msg) = self.lake_setting(&sql)? {
            return Ok(Outcome::Message(msg));
        }
        let stmt = parse_statement(&sql)?;
        let writes = crate::sql::tables::tables(&stmt).writes;
        self.set_step_target(writes.into_iter().next().unwrap_or_else(|| "query".into()));
        match stmt {
            LakeStatement::CreateTable(ct) => self.create_table(ct, raw, opts).await,
            LakeStatement::Describe(d) => self.describe(d).await,
            LakeStatement::Maintenance(m) => self.maintenance(m, raw, opts).await,
            LakeStatement::Merge(m) => self.merge(*m, raw).await,
            LakeStatement::AlterTable(a) => self.alter(a, raw).await,
            LakeStatement::ReplaceWhere(r) => self.replace_where(r, raw, opts).await,
            LakeStatement::Check(c) => self.check(c).await,
            LakeStatement::DataFusion(mut df) => {
                self.travel_statement(&mut df).await?;
                match *df {
                DFStatement::CreateExternalTable(cet) if cet.file_type.eq_ignore_ascii_case("delta") => {
                    self.register_external(cet, raw).await
                }
                DFStatement::Statement(s) => match *s {
                    SQLStatement::Insert(_) => self.insert(DFStatement::Statement(s), raw, opts).await,
                    SQLStatement::Update(u) => self.update(u, raw).await,
                    SQLStatement::Delete(d) => self.delete(d, raw).await,
                    SQLStatement::Drop { object_type: ObjectType::Table, if_exists, names, .. } => {
                        self.drop_tables(&names, if_exists).await
                    }
                    SQLStatement::CreateSchema { .. } => Ok(Outcome::Message(
                        "schemas need no creating: a table written as schema.table makes its schema".into(),
                    )),
                    other => self.query(DFStatement::Statement(Box::new(other)), &sql, opts).await,
                },
                other => self.query(other, &sql, opts).await,
                }
            }
        }
    }

    /// `SET spark.… = value` and `SET lakeshell.… = value`: settings of lakeshell's own (and
    /// Databricks' names for them), which DataFusion's SET would reject.
    fn lake_setting(&self, sql: &str) -> Result<Option<String>> {
        let t = sql.trim().trim_end_matches(';').trim();
        if !t.get(..4).is_some_and(|h| h.eq_ignore_ascii_case("set ")) {
            return Ok(None);
        }
        let body = t[4..].trim();
        let lower = body.to_ascii_lowercase();
        if !(lower.starts_with("spark.") || lower.starts_with("lakeshell.")) {
            return Ok(None);
        }
        let (key, value) = match body.split_once('=') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => match body.split_once(char::is_whitespace) {
                Some((k, v)) => (k.trim(), v.trim()),
                None => return Ok(None),
            },
        };
        let value = value.trim_matches(|c| c == '\'' || c == '"').to_string();
        if key.eq_ignore_ascii_case("lakeshell.now") {
            self.set_now(clock::parse_now(&value)?)?;
            return Ok(Some(format!(
                "now is {}",
                self.now().format("%Y-%m-%d %H:%M:%S UTC")
            )));
        }
        if let Ok(mut s) = self.settings.lock() {
            s.insert(key.to_ascii_lowercase(), value.clone());
        }
        Ok(Some(format!("{key} = {value}")))
    }

    /// A boolean setting made with SET, or `default`.
    fn setting_bool(&self, key: &str, default: bool) -> bool {
        self.settings
            .lock()
            .ok()
            .and_then(|s| s.get(&key.to_ascii_lowercase()).cloned())
            .map(|v| {
                !matches!(
                    v.to_ascii_lowercase().as_str(),
                    "false" | "0" | "off" | "no"
                )
            })
            .unwrap_or(default)
    }

    /// Plans one query written by lakeshell itself (table versions resolved).
    async fn plan_sql(&self, sql: &str) -> Result<LogicalPlan> {
        let LakeStatement::DataFusion(mut df) = parse_statement(sql)? else {
            return Err(LakeError::Unsupported(format!("internal query {sql}")));
        };
        self.travel_statement(&mut df).await?;
        self.state()
            .statement_to_plan(*df)
            .await
            .map_err(|e| self.explain_error(e))
    }

    /// Runs one query written by lakeshell itself and collects its rows.
    async fn collect_sql(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        let plan = self.plan_sql(sql).await?;
        Ok(self.ctx.execute_logical_plan(plan).await?.collect().await?)
    }

    /// The Delta table a statement names.
    async fn entry_for(&self, name: &ObjectName) -> Result<TableEntry> {
        let reference = Self::object_reference(name)?;
        self.resolve_reference(&reference, false).await
    }

    async fn plan(&self, stmt: DFStatement, sql: &str) -> Result<LogicalPlan> {
        let lower = sql.to_ascii_lowercase();
        if lower.contains("information_schema") || lower.trim_start().starts_with("show") {
            self.catalog.refresh().await?;
        }
        self.state()
            .statement_to_plan(stmt)
            .await
            .map_err(|e| self.explain_error(e))
    }

    /// Turns DataFusion's "table 'lakeshell.default.x' not found" into our error that names the
    /// table as the user wrote it and where it was looked for.
    fn explain_error(&self, e: datafusion::error::DataFusionError) -> LakeError {
        let msg = e.to_string();
        if let Some(start) = msg.find("table '") {
            let rest = &msg[start + 7..];
            if let Some(end) = rest.find("' not found") {
                let full = &rest[..end];
                let name = full
                    .strip_prefix(&format!("{CATALOG}."))
                    .unwrap_or(full)
                    .to_string();
                return LakeError::TableNotFound {
                    name,
                    looked_in: catalog::display_url(self.warehouse.root()),
                };
            }
        }
        LakeError::from(e)
    }

    async fn query(&self, stmt: DFStatement, sql: &str, opts: &ExecOptions) -> Result<Outcome> {
        let plan = self.plan(stmt, sql).await?;
        match &plan {
            LogicalPlan::Dml(DmlStatement {
                op: WriteOp::Update | WriteOp::Delete | WriteOp::MergeInto(_),
                ..
            }) => {
                return Err(LakeError::Unsupported(
                    "this form of UPDATE, DELETE or MERGE".into(),
                ))
            }
            LogicalPlan::Ddl(_) | LogicalPlan::Statement(_) => {
                let df = self.ctx.execute_logical_plan(plan).await?;
                let batches = df.collect().await?;
                let rows = batches.iter().map(|b| b.num_rows()).sum::<usize>();
                if rows == 0 {
                    return Ok(Outcome::Message("OK".into()));
                }
                let schema = batches[0].schema();
                return Ok(Outcome::Rows(Rows {
                    schema,
                    batches,
                    total_rows: rows,
                }));
            }
            _ => {}
        }
        let df = self.ctx.execute_logical_plan(plan).await?;
        let physical = df.create_physical_plan().await?;
        if let Some(p) = &opts.progress {
            p.watch(Arc::clone(&physical));
        }
        let schema = physical.schema();
        let mut stream = execute_stream(physical, self.ctx.task_ctx())?;
        let limit = opts.keep_rows.unwrap_or(usize::MAX);
        let mut batches = Vec::new();
        let mut kept = 0usize;
        let mut total = 0usize;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            total += batch.num_rows();
            if kept < limit {
                let take = (limit - kept).min(batch.num_rows());
                kept += take;
                batches.push(if take == batch.num_rows() {
                    batch
                } else {
                    batch.slice(0, take)
                });
            }
        }
        Ok(Outcome::Rows(Rows {
            schema,
            batches,
            total_rows: total,
        }))
    }

    /// Resolves a table reference from a statement to a Delta table entry.
    async fn resolve_reference(
        &self,
        reference: &TableReference,
        for_write: bool,
    ) -> Result<TableEntry> {
        let schema = reference.schema().unwrap_or(DEFAULT_SCHEMA).to_string();
        let table = reference.table().to_string();
        if catalog::PATH_SCHEMAS.contains(&schema.as_str()) {
            let url = parse_location(&table)?;
            return Ok(TableEntry {
                name: table,
                url,
                options: self.warehouse.options().clone(),
                external: true,
            });
        }
        if for_write {
            return self.warehouse.resolve_for_write(&schema, &table).await;
        }
        self.warehouse
            .resolve(&schema, &table)
            .await?
            .ok_or_else(|| LakeError::TableNotFound {
                name: format!("{schema}.{table}"),
                looked_in: catalog::display_url(self.warehouse.root()),
            })
    }

    fn object_reference(name: &ObjectName) -> Result<TableReference> {
        let parts: Vec<String> = name
            .0
            .iter()
            .map(|p| {
                p.as_ident()
                    .map(|i| {
                        if i.quote_style.is_some() {
                            i.value.clone()
                        } else {
                            i.value.to_ascii_lowercase()
                        }
                    })
                    .unwrap_or_default()
            })
            .collect();
        match parts.as_slice() {
            [t] => Ok(TableReference::bare(t.as_str())),
            [s, t] => Ok(TableReference::partial(s.as_str(), t.as_str())),
            [c, s, t] if c == CATALOG => Ok(TableReference::partial(s.as_str(), t.as_str())),
            _ => Err(LakeError::Usage(format!(
                "bad table name {name}: use schema.table"
            ))),
        }
    }

    async fn run_for_write(
        &self,
        plan: LogicalPlan,
        opts: &ExecOptions,
    ) -> Result<datafusion::execution::SendableRecordBatchStream> {
        let state = self.state();
        let physical = state.create_physical_plan(&plan).await?;
        if let Some(p) = &opts.progress {
            p.watch(Arc::clone(&physical));
        }
        Ok(execute_stream(physical, self.ctx.task_ctx())?)
    }

    async fn insert(&self, stmt: DFStatement, raw: &str, opts: &ExecOptions) -> Result<Outcome> {
        let plan = self.plan(stmt, raw).await?;
        let LogicalPlan::Dml(dml) = plan else {
            return Err(LakeError::Unsupported("this INSERT form".into()));
        };
        let (mode, operation) = match &dml.op {
            WriteOp::Insert(InsertOp::Append) => (WriteMode::Append, "INSERT"),
            WriteOp::Insert(InsertOp::Overwrite) => (WriteMode::Overwrite, "INSERT OVERWRITE"),
            other => return Err(LakeError::Unsupported(format!("{other} on Delta tables"))),
        };
        let target = self.resolve_reference(&dml.table_name, false).await?;
        let (mut m, enforcement) = retry::retrying(|| async {
            let input = self.run_for_write(dml.input.as_ref().clone(), opts).await?;
            let (input, enforcement) = self.enforced(input, &target, &[]).await?;
            let req = WriteRequest {
                target: &target,
                mode,
                partition_by: vec![],
                properties: vec![],
                comment: None,
                sql: Some(raw),
                operation,
                replace_where: None,
                merge_schema: false,
            };
            Ok((write(&self.state(), input, req).await?, enforcement))
        })
        .await?;
        self.record_enforcement(&target, &mut m, enforcement)
            .await?;
        Ok(Outcome::Write(m))
    }

    async fn register_external(
        &self,
        cet: datafusion::sql::parser::CreateExternalTable,
        raw: &str,
    ) -> Result<Outcome> {
        let reference = Self::object_reference(&cet.name)?;
        let schema = reference.schema().unwrap_or(DEFAULT_SCHEMA).to_string();
        let table = reference.table().to_string();
        catalog::check_name(&schema)?;
        catalog::check_name(&table)?;
        let [location] = cet.locations.as_slice() else {
            return Err(LakeError::Usage(
                "a Delta table has exactly one LOCATION".into(),
            ));
        };
        // Options as written (before ${var} substitution), so references survive.
        let raw_options = match parse_statement(raw) {
            Ok(LakeStatement::DataFusion(df)) => match *df {
                DFStatement::CreateExternalTable(c) => c.options,
                _ => cet.options.clone(),
            },
            _ => cet.options.clone(),
        };
        let value = |v: &datafusion::sql::sqlparser::ast::Value| match v {
            datafusion::sql::sqlparser::ast::Value::SingleQuotedString(s)
            | datafusion::sql::sqlparser::ast::Value::DoubleQuotedString(s) => s.clone(),
            other => other.to_string(),
        };
        let now: Vec<(String, String)> = cet
            .options
            .iter()
            .map(|(k, v)| (k.clone(), value(v)))
            .collect();
        let url = parse_location(location)?;
        let options = catalog::options::merged(self.warehouse.options(), now);
        let name = format!("{schema}.{table}");
        let entry = TableEntry {
            name: name.clone(),
            url: url.clone(),
            options,
            external: true,
        };
        let opened = catalog::open_delta(&entry.url, &entry.options)
            .await
            .map_err(|e| e.on_table(catalog::display_url(&url)))?;
        let reg = Registration {
            name: name.clone(),
            location: location.clone(),
            options: raw_options
                .iter()
                .map(|(k, v)| (catalog::options::normalise_key(k), value(v)))
                .collect(),
        };
        let dropped = self
            .warehouse
            .register(reg, cet.or_replace || cet.if_not_exists)
            .await?;
        let mut msg = format!(
            "registered {name} -> {} (version {})",
            catalog::display_url(&url),
            opened.version().unwrap_or_default()
        );
        for key in dropped {
            msg.push_str(&format!(
                "\nnote: secret option {key} was used now but not stored; write it as '${{VAR}}' to keep a reference, or set it in the environment or config file"
            ));
        }
        Ok(Outcome::Message(msg))
    }

    async fn drop_tables(&self, names: &[ObjectName], if_exists: bool) -> Result<Outcome> {
        let mut done = Vec::new();
        for n in names {
            let reference = Self::object_reference(n)?;
            let schema = reference.schema().unwrap_or(DEFAULT_SCHEMA).to_string();
            let table = reference.table().to_string();
            match self.warehouse.resolve(&schema, &table).await? {
                None if if_exists => {}
                None => {
                    return Err(LakeError::TableNotFound {
                        name: format!("{schema}.{table}"),
                        looked_in: catalog::display_url(self.warehouse.root()),
                    })
                }
                Some(entry) if entry.external => {
                    self.warehouse.unregister(&entry.name).await?;
                    done.push(format!("unregistered {} (its files are kept)", entry.name));
                }
                Some(entry) => {
                    inspect::delete_folder(&entry).await?;
                    done.push(format!("dropped {} and deleted its files", entry.name));
                }
            }
        }
        Ok(Outcome::Message(if done.is_empty() {
            "nothing to drop".into()
        } else {
            done.join("\n")
        }))
    }

    /// Refreshes and returns schema -> table names.
    pub async fn names(&self) -> Result<std::collections::BTreeMap<String, Vec<String>>> {
        self.catalog.refresh().await
    }
}
