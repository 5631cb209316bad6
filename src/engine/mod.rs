//! The only place statements execute. A statement comes in as text, is substituted, parsed once
//! with lakeshell's dialect and dispatched; the result goes back as data ([`Outcome`]) for
//! `output/` to render. The dispatch `match` in [`Engine::execute`] names every kind of
//! statement: it is the map of what lakeshell does.

mod careful;
mod changes;
mod clock;
mod copy_into;
mod create;
mod describe;
mod diff;
mod dml;
mod incremental;
mod inspect;
mod letters;
mod maintenance;
mod merge;
mod plan;
mod preview;
pub mod progress;
mod quality;
mod read_api;
mod read_files;

mod retry;
mod scan_rules;
mod secrets;
mod semi_join;
mod sha2;
mod summarize;
mod variables;

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::catalog::{CatalogProvider, DynamicFileCatalog, UrlTableFactory};
use datafusion::common::TableReference;
use datafusion::datasource::dynamic_file::DynamicListTableFactory;
use datafusion::execution::context::{SessionContext, SessionState};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::execute_stream;
use datafusion::prelude::SessionConfig;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{
    AlterTableOperation, ObjectName, ObjectType, Statement as SQLStatement,
};
use futures::StreamExt;

pub use crate::outcome::{CheckReport, Outcome, Rows};
pub use clock::parse_now;
pub use incremental::Step;
pub use inspect::{TableSummary, VersionSummary};
pub use progress::Progress;

use crate::catalog::provider::{LakeUrlTables, WarehouseCatalog};
use crate::catalog::stores::{LakeStores, Reads};
use crate::catalog::{
    self, Registration, TableEntry, TableName, Warehouse, CATALOG, DEFAULT_SCHEMA,
};
use crate::error::{LakeError, Result};
use crate::sql::alter::{AlterAction, AlterTableStatement};
use crate::sql::maintenance::MaintenanceStatement;
use crate::sql::redact::redact_sql;
use crate::sql::{parse_statement, vars::Vars, LakeStatement, SecretStatement};
use plan::Opened;

/// One batch of rows with `fields`, as an outcome (DESCRIBE, OPTIMIZE, VACUUM ...).
pub(crate) fn rows(
    fields: Vec<datafusion::arrow::datatypes::Field>,
    columns: Vec<datafusion::arrow::array::ArrayRef>,
) -> Result<Outcome> {
    let schema = Arc::new(datafusion::arrow::datatypes::Schema::new(fields));
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns)?;
    Ok(Outcome::Rows(Rows::from_batches(schema, vec![batch])))
}

/// How to run one statement.
#[derive(Debug, Default, Clone)]
pub struct ExecOptions {
    /// Where to publish live figures.
    pub progress: Option<Arc<Progress>>,
    /// Refuse every statement but CHECK and SET (an expectation file).
    pub checks_only: bool,
}

/// What a session may use: memory (queries spill to disk past it, or fail naming it) and where
/// they spill. `SET datafusion.runtime.memory_limit` and `datafusion.runtime.temp_directory`
/// change them in a session.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    /// Bytes of memory for query execution; None: no limit.
    pub memory: Option<usize>,
    /// The folder spill files go to; None: the system's temporary folder.
    pub temp_dir: Option<std::path::PathBuf>,
}

/// A lakeshell session: DataFusion with the warehouse catalog, path-addressed tables and object
/// stores for any URL.
pub struct Engine {
    ctx: SessionContext,
    warehouse: Arc<Warehouse>,
    catalog: Arc<WarehouseCatalog>,
    /// `${name}` values; `run --for-each` sets each element's fields in turn.
    vars: std::sync::RwLock<Vars>,
    /// `SET spark.*` / `SET lakeshell.*` settings DataFusion does not know, keys lower-cased.
    settings: std::sync::Mutex<std::collections::HashMap<String, String>>,
    /// This process's run id, recorded with quality figures, quarantined rows and run logs.
    run_id: String,
    /// "Now" when it was set (`--now`, `SET lakeshell.now`); the clock otherwise.
    now: std::sync::Mutex<Option<chrono::DateTime<chrono::Utc>>>,
    /// The pipeline step statements run in (None outside `lakeshell run`).
    step: std::sync::Mutex<Option<Step>>,
    /// Positions `incremental(...)` read in this statement, recorded when it succeeds.
    pending: std::sync::Mutex<Vec<incremental::Pending>>,
    /// Where the running statement publishes its figures (table functions read before
    /// planning, such as read_api's pages, report here).
    progress: std::sync::Mutex<Option<Arc<Progress>>>,
    /// `DECLARE VARIABLE`s of this session.
    variables: std::sync::Mutex<variables::Variables>,
    /// Dead letters table functions set aside in this statement, written when it succeeds.
    letters: std::sync::Mutex<letters::Pending>,
    /// `lakeshell check --as-of`: the version CHECK reads when it names none (all tables, and
    /// per table).
    check_versions: std::sync::Mutex<(Option<u64>, std::collections::HashMap<String, u64>)>,
    /// What the current statement read: data files not found, CSV and JSON files opened.
    reads: Arc<Reads>,
    /// Read-only mode and what set it (`--read-only`, `target prod`): every statement that
    /// would write is refused before storage is touched.
    read_only: std::sync::Mutex<Option<String>>,
    /// Whether the warehouse's persistent secrets have been read into the session.
    secrets_loaded: std::sync::atomic::AtomicBool,
}

impl Engine {
    /// A session over `warehouse`, substituting `vars` into statements.
    pub fn new(warehouse: Warehouse, vars: Vars) -> Result<Self> {
        Self::with_limits(warehouse, vars, &Limits::default())
    }

    /// The same, with a memory limit and a spill folder.
    pub fn with_limits(warehouse: Warehouse, mut vars: Vars, limits: &Limits) -> Result<Self> {
        crate::delta::commit_check::install();
        let run_id = uuid::Uuid::new_v4().to_string();
        vars.set_default("run_id", &run_id);
        let warehouse = Arc::new(warehouse);
        let reads = Arc::new(Reads::default());
        let config = SessionConfig::new()
            .with_information_schema(true)
            .with_default_catalog_and_schema(CATALOG, DEFAULT_SCHEMA)
            .with_create_default_catalog_and_schema(false)
            // INT96 timestamps (older Spark, Databricks) as microseconds: nanoseconds overflow
            // past the year 2262, and real tables hold 9999-12-31.
            .set_str("datafusion.execution.parquet.coerce_int96", "us");
        let mut runtime = RuntimeEnvBuilder::new();
        if let Some(limit) = limits.memory {
            runtime = runtime.with_memory_limit(limit, 1.0);
        }
        if let Some(dir) = &limits.temp_dir {
            runtime = runtime.with_temp_file_path(dir);
        }
        let runtime = runtime
            .with_object_store_registry(Arc::new(LakeStores::new(
                warehouse.options().clone(),
                Arc::clone(warehouse.secrets()),
                Arc::clone(&reads),
            )))
            .build_arc()?;
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(runtime)
            .with_default_features()
            .with_optimizer_rule(Arc::new(semi_join::SelectiveSemiJoinFirst))
            .with_physical_optimizer_rules(
                std::iter::once(Arc::new(scan_rules::PushdownAsConfigured)
                    as Arc<
                        dyn datafusion::physical_optimizer::PhysicalOptimizerRule + Send + Sync,
                    >)
                .chain(datafusion::physical_optimizer::optimizer::PhysicalOptimizer::new().rules)
                .collect(),
            )
            // delta-rs plans its writes with extension nodes only its planner executes.
            .with_query_planner(deltalake::delta_datafusion::planner::DeltaPlanner::new())
            .build();
        let ctx = SessionContext::new_with_state(state);
        ctx.register_udf(sha2::udf());
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
            vars: std::sync::RwLock::new(vars),
            settings: Default::default(),
            run_id,
            now: Default::default(),
            step: Default::default(),
            pending: Default::default(),
            letters: Default::default(),
            variables: Default::default(),
            progress: Default::default(),
            check_versions: Default::default(),
            reads,
            read_only: Default::default(),
            secrets_loaded: Default::default(),
        })
    }

    /// Turns read-only mode on (`Some(what set it)`) or off.
    pub fn set_read_only(&self, why: Option<String>) -> Result<()> {
        *self
            .read_only
            .lock()
            .map_err(|_| LakeError::Internal("read-only lock poisoned".into()))? = why;
        Ok(())
    }

    /// What set read-only mode, when it is on.
    pub fn read_only(&self) -> Option<String> {
        self.read_only.lock().ok().and_then(|r| r.clone())
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
        self.vars()?.substitute(raw)
    }

    fn vars(&self) -> Result<std::sync::RwLockReadGuard<'_, Vars>> {
        self.vars
            .read()
            .map_err(|_| LakeError::Internal("variables lock poisoned".into()))
    }

    /// The running statement's progress, if someone watches it.
    pub(crate) fn progress(&self) -> Option<Arc<Progress>> {
        self.progress.lock().ok().and_then(|p| p.clone())
    }

    /// The `${name}` values as they are now.
    pub fn vars_snapshot(&self) -> Result<Vars> {
        Ok(self.vars()?.clone())
    }

    /// Puts back values taken with [`Engine::vars_snapshot`].
    pub fn restore_vars(&self, vars: Vars) -> Result<()> {
        *self
            .vars
            .write()
            .map_err(|_| LakeError::Internal("variables lock poisoned".into()))? = vars;
        Ok(())
    }

    /// Sets `${name}`s for the statements from now on (over `--var`'s, which callers re-apply
    /// when those are to win).
    pub fn set_vars(&self, values: &[(String, String)]) -> Result<()> {
        let mut vars = self
            .vars
            .write()
            .map_err(|_| LakeError::Internal("variables lock poisoned".into()))?;
        for (k, v) in values {
            vars.set(k, v);
        }
        Ok(())
    }

    /// Runs one statement, written as `raw` (before `${var}` substitution). Positions that
    /// `incremental(...)` read are recorded only when it succeeds.
    pub async fn execute(&self, raw: &str, opts: &ExecOptions) -> Result<Outcome> {
        let stmt = parse_statement(&self.substitute(raw)?)?;
        self.execute_parsed(raw, stmt, opts).await
    }

    /// `e`, a statement's failure, said better when lakeshell knows more: a data file its reads
    /// did not find names the file (whatever text the reader wrapped the storage error in), and
    /// a CSV or JSON record that did not parse names its file and line.
    pub async fn explain(&self, e: LakeError) -> LakeError {
        /// Errors a reader of data files gives (not lakeshell's own, such as a table not found).
        fn from_a_read(e: &LakeError) -> bool {
            match e {
                LakeError::DataFusion(_)
                | LakeError::Delta(_)
                | LakeError::Arrow(_)
                | LakeError::Storage(_) => true,
                LakeError::OnTable { source, .. } => from_a_read(source),
                _ => false,
            }
        }
        // The first DataFusion error in the chain is often a wrapper (a shared or external
        // error): look at each.
        let exhausted = crate::error::chain(&e).find_map(|e| {
            match e.downcast_ref::<datafusion::error::DataFusionError>() {
                Some(datafusion::error::DataFusionError::ResourcesExhausted(cause)) => Some(cause),
                _ => None,
            }
        });
        if let Some(cause) = exhausted {
            use datafusion::execution::memory_pool::MemoryLimit;
            let limit = match self.state().runtime_env().memory_pool.memory_limit() {
                MemoryLimit::Finite(n) => crate::output::progress::human_bytes(n as u64),
                _ => "this machine's memory".into(),
            };
            // DataFusion lists the top consumers first; the failed allocation is the news.
            let cause = cause.rsplit("Error: ").next().unwrap_or(cause);
            return LakeError::MemoryLimit {
                limit,
                cause: cause.to_string(),
            };
        }
        // Only a failure that is about a file not found (a storage NotFound in its chain, or
        // text naming the file, where a reader wrapped the error in a string): a query that
        // failed for another reason after some read missed a file keeps its own error.
        let about_a_missing_file = |path: &str| {
            let name = path.rsplit('/').next().unwrap_or(path);
            crate::error::missing_object(&e).is_some() || e.to_string().contains(name)
        };
        match self.reads.first_missing() {
            Some(path) if from_a_read(&e) && about_a_missing_file(&path) => {
                LakeError::MissingFile(path)
            }
            _ if from_a_read(&e) => self.locate_bad_record(e).await,
            _ => e,
        }
    }

    /// `e`, a failed request to an object store, with the store and the warehouse's URL named
    /// when the error does not name them already.
    fn name_store(&self, e: LakeError) -> LakeError {
        let root = self.warehouse.root();
        let store = match root.scheme() {
            "s3" | "s3a" => "S3",
            "az" | "abfs" | "abfss" | "azure" | "adl" => "Azure",
            "gs" => "GCS",
            _ => return e,
        };
        let from_store = crate::error::find::<object_store::Error>(&e).is_some()
            || e.to_string().contains("storage: ");
        let url = crate::catalog::display_url(root);
        if !from_store || e.to_string().contains(&url) {
            return e;
        }
        LakeError::OnStore {
            store,
            url,
            source: Box::new(e),
        }
    }

    /// Runs `stmt`, parsed from `raw` (with `${var}`s substituted) by the caller.
    pub async fn execute_parsed(
        &self,
        raw: &str,
        stmt: LakeStatement,
        opts: &ExecOptions,
    ) -> Result<Outcome> {
        self.drop_pending();
        self.drop_pending_letters();
        self.reads.clear();
        if let Ok(mut p) = self.progress.lock() {
            p.clone_from(&opts.progress);
        }
        let target = crate::sql::tables::tables(&stmt).writes.into_iter().next();
        let out = match self.load_secrets_once().await {
            Ok(()) => self.dispatch(raw, stmt, opts).await,
            Err(e) => Err(e),
        };
        let out = match out {
            Err(e) => Err(self.name_store(self.suggest(e).await)),
            ok => ok,
        };
        match &out {
            Ok(_) => {
                self.record_positions().await?;
                self.write_pending_letters(target.as_deref()).await?;
            }
            Err(_) => {
                self.drop_pending();
                self.drop_pending_letters();
            }
        }
        out
    }

    /// The dispatch: one arm per kind of statement.
    async fn dispatch(
        &self,
        raw: &str,
        stmt: LakeStatement,
        opts: &ExecOptions,
    ) -> Result<Outcome> {
        if opts.checks_only && !matches!(stmt, LakeStatement::Check(_) | LakeStatement::Set(_)) {
            return Err(LakeError::BadStatement(
                "an expectation file holds CHECK statements (and SET); run other statements with lakeshell run".into(),
            ));
        }
        if let Some(why) = self.read_only() {
            if let Some(what) = writes(&stmt) {
                return Err(LakeError::ReadOnly(format!(
                    "{what} would write, and this session is read-only ({why}); nothing was done"
                )));
            }
        }
        // Commits record the statement as written: variables unsubstituted, secrets redacted.
        let sql = redact_sql(raw);
        let sql = sql.as_str();
        let writes = crate::sql::tables::tables(&stmt).writes;
        self.set_step_target(writes.into_iter().next().unwrap_or_else(|| "query".into()));
        use MaintenanceStatement as M;
        match stmt {
            LakeStatement::CreateTable(ct) => self.create_table(ct, sql, opts).await,
            LakeStatement::Describe(d) => self.describe(d).await,
            LakeStatement::Maintenance(M::Restore { table, to }) => {
                self.restore(&table, &to, sql, opts).await
            }
            LakeStatement::Maintenance(M::Optimize {
                table,
                predicate,
                zorder_by,
            }) => {
                self.optimize(&table, predicate.as_deref(), &zorder_by, sql, opts)
                    .await
            }
            LakeStatement::Maintenance(M::Vacuum {
                table,
                retain_hours,
                dry_run,
            }) => self.vacuum(&table, retain_hours, dry_run, sql, opts).await,
            LakeStatement::Maintenance(M::Fsck { table, dry_run }) => {
                self.fsck(&table, dry_run, sql, opts).await
            }
            LakeStatement::Maintenance(M::Convert {
                location,
                partitioned_by,
                ..
            }) => self.convert(&location, &partitioned_by, sql).await,
            LakeStatement::Merge(m) => self.merge(*m, sql).await,
            LakeStatement::AlterTable(AlterTableStatement { table, action }) => match action {
                AlterAction::AddConstraint { name, check } => {
                    self.add_constraint(&table, &name, &check, sql).await
                }
                AlterAction::AddExpectation(e) => self.add_expectation(&table, &e, sql).await,
                AlterAction::DropConstraint { name, if_exists } => {
                    self.drop_constraint(&table, &name, if_exists, sql).await
                }
                AlterAction::SetProperties(p) => self.set_properties(&table, &p, sql).await,
                AlterAction::UnsetProperties { keys, if_exists } => {
                    self.unset_properties(&table, &keys, if_exists, sql).await
                }
                AlterAction::AddColumns(cols) => self.add_columns(&table, &cols, sql).await,
                AlterAction::DropNotNull(c) => self.drop_not_null(&table, &c, sql).await,
            },
            LakeStatement::ReplaceWhere(r) => self.replace_where(r, sql, opts).await,
            LakeStatement::Check(c) => self.check(c).await,
            LakeStatement::Set(s) => self.set(&s.key, &s.value),
            LakeStatement::DryRun(planned) => self.dry_run(*planned).await,
            LakeStatement::Summarize(s) => self.summarize(s).await,
            LakeStatement::Secret(s) => self.secret(s, raw).await,
            LakeStatement::CopyInto(c) => self.copy_into(*c, sql, opts).await,
            LakeStatement::Variable(v) => self.variable(v).await,
            LakeStatement::DataFusion(df) => match *df {
                DFStatement::CreateExternalTable(cet)
                    if cet.file_type.eq_ignore_ascii_case("delta") =>
                {
                    self.register_external(cet, raw).await
                }
                DFStatement::Statement(s) => match *s {
                    SQLStatement::Insert(i) => self.insert(i, sql, opts).await,
                    SQLStatement::Update(u) => self.update(u, sql).await,
                    SQLStatement::Delete(d) => self.delete(d, sql).await,
                    SQLStatement::Drop {
                        object_type: ObjectType::Table,
                        if_exists,
                        names,
                        ..
                    } => self.drop_tables(&names, if_exists).await,
                    SQLStatement::CreateSchema { .. } => Ok(Outcome::Message(
                        "schemas need no creating: a table written as schema.table makes its schema".into(),
                    )),
                    SQLStatement::AlterTable(a)
                        if a.operations
                            .iter()
                            .all(|o| matches!(o, AlterTableOperation::RenameTable { .. })) =>
                    {
                        Err(LakeError::Unsupported(
                            "ALTER TABLE ... RENAME: Delta tables are folders of the warehouse; CREATE TABLE new DEEP CLONE old, then DROP TABLE old".into(),
                        ))
                    }
                    other => {
                        self.query(DFStatement::Statement(Box::new(other)), opts)
                            .await
                    }
                },
                other => self.query(other, opts).await,
            },
        }
    }

    /// `SET spark.… = value` and `SET lakeshell.… = value`.
    fn set(&self, key: &str, value: &str) -> Result<Outcome> {
        if key == "lakeshell.now" {
            self.set_now(clock::parse_now(value)?)?;
            return Ok(Outcome::Message(format!(
                "now is {}",
                self.now().format("%Y-%m-%d %H:%M:%S UTC")
            )));
        }
        self.settings
            .lock()
            .map_err(|_| LakeError::Internal("settings lock poisoned".into()))?
            .insert(key.to_string(), value.to_string());
        Ok(Outcome::Message(format!("{key} = {value}")))
    }

    /// A boolean setting made with SET (`key` lower-cased), or `default`.
    fn setting_bool(&self, key: &str, default: bool) -> bool {
        self.settings
            .lock()
            .ok()
            .and_then(|s| s.get(key).cloned())
            .map(|v| {
                !matches!(
                    v.to_ascii_lowercase().as_str(),
                    "false" | "0" | "off" | "no"
                )
            })
            .unwrap_or(default)
    }

    /// Plans one query written by lakeshell itself (its own SQL: CHECK's counts, the run log,
    /// incremental positions), with table versions resolved, reading the tables `opened` holds.
    async fn plan_sql_in(&self, opened: &Opened, sql: &str) -> Result<LogicalPlan> {
        let LakeStatement::DataFusion(df) = parse_statement(sql)? else {
            return Err(LakeError::Internal(format!("not a query: {sql}")));
        };
        self.plan_statement(opened, *df).await
    }

    /// Runs one query written by lakeshell itself and collects its rows.
    async fn collect_sql(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        self.collect_sql_in(&Opened::default(), sql).await
    }

    /// The same, reading the tables `opened` serves (the snapshot a statement wrote on).
    async fn collect_sql_in(&self, opened: &Opened, sql: &str) -> Result<Vec<RecordBatch>> {
        let plan = self.plan_sql_in(opened, sql).await?;
        Ok(self.ctx.execute_logical_plan(plan).await?.collect().await?)
    }

    /// The one way a table name becomes a table: `name` resolved in the warehouse, or an error
    /// that says where it was looked for.
    pub(crate) async fn resolve_table(&self, name: &TableName) -> Result<TableEntry> {
        self.warehouse.resolve_existing(name).await
    }

    /// The Delta table a statement names.
    async fn entry_for(&self, name: &ObjectName) -> Result<TableEntry> {
        self.resolve_table(&TableName::from_object(name)?).await
    }

    /// Runs any other DataFusion statement: a query streams its rows; DDL (views, non-Delta
    /// external tables, DataFusion's SET) runs at once.
    async fn query(&self, stmt: DFStatement, opts: &ExecOptions) -> Result<Outcome> {
        let opened = Opened::default();
        let plan = self.plan_statement(&opened, stmt).await?;
        if let LogicalPlan::Dml(_) = plan {
            return Err(LakeError::Unsupported(
                "this form of INSERT, UPDATE, DELETE or MERGE".into(),
            ));
        }
        if let LogicalPlan::Ddl(_) | LogicalPlan::Statement(_) = plan {
            let batches = self.ctx.execute_logical_plan(plan).await?.collect().await?;
            let Some(first) = batches.iter().find(|b| b.num_rows() > 0) else {
                return Ok(Outcome::Message("OK".into()));
            };
            let schema = first.schema();
            return Ok(Outcome::Rows(Rows::from_batches(schema, batches)));
        }
        let physical = self.state().create_physical_plan(&plan).await?;
        if let Some(p) = &opts.progress {
            p.watch(Arc::clone(&physical));
        }
        let schema = physical.schema();
        let stream = execute_stream(physical, self.ctx.task_ctx())?;
        Ok(Outcome::Rows(Rows {
            schema,
            batches: Box::pin(stream.map(|b| b.map_err(LakeError::from))),
            notes: opened.take_notes()?,
        }))
    }

    /// Executes a write's input plan, its scans watched for progress.
    async fn run_for_write(
        &self,
        plan: LogicalPlan,
        opts: &ExecOptions,
    ) -> Result<datafusion::execution::SendableRecordBatchStream> {
        let physical = self.state().create_physical_plan(&plan).await?;
        if let Some(p) = &opts.progress {
            p.watch(Arc::clone(&physical));
        }
        Ok(execute_stream(physical, self.ctx.task_ctx())?)
    }

    /// `CREATE EXTERNAL TABLE name STORED AS DELTA LOCATION 'url' [OPTIONS (...)]`: a
    /// registration kept in the warehouse. Secret options are kept only as `${VAR}` references:
    /// the options stored are those of `raw`, the statement before substitution.
    async fn register_external(
        &self,
        cet: datafusion::sql::parser::CreateExternalTable,
        raw: &str,
    ) -> Result<Outcome> {
        let name = TableName::from_object(&cet.name)?;
        let TableName::Warehouse { schema, table } = &name else {
            return Err(LakeError::BadName(format!(
                "{name}: a registration takes a name, schema.table"
            )));
        };
        catalog::check_name(schema)?;
        catalog::check_name(table)?;
        let [location] = cet.locations.as_slice() else {
            return Err(LakeError::BadStatement(
                "a Delta table has exactly one LOCATION".into(),
            ));
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
        let stored = self.vars()?.unsubstituted(raw, &now);
        let url = catalog::parse_location(location)?;
        let qualified = name.to_string();
        let entry = TableEntry {
            name: qualified.clone(),
            url: url.clone(),
            options: catalog::options::merged(&self.warehouse.options_for(&url), now),
            external: true,
        };
        let opened = catalog::open_delta(&entry.url, &entry.options)
            .await
            .map_err(|e| e.on_table(catalog::display_url(&url)))?;
        let reg = Registration {
            name: qualified.clone(),
            location: location.clone(),
            options: stored
                .into_iter()
                .map(|(k, v)| (catalog::options::normalise_key(&k), v))
                .collect(),
        };
        let dropped = self
            .warehouse
            .register(reg, cet.or_replace || cet.if_not_exists)
            .await?;
        let mut msg = format!(
            "registered {qualified} -> {} (version {})",
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
            let name = TableName::from_object(n)?;
            match self.warehouse.resolve(&name).await? {
                None if if_exists => {}
                None => {
                    return Err(LakeError::TableNotFound {
                        name: name.to_string(),
                        looked_in: catalog::display_url(self.warehouse.root()),
                        suggestion: None,
                    })
                }
                Some(entry) if entry.external => {
                    self.warehouse.unregister(&entry.name).await?;
                    done.push(format!("unregistered {} (its files are kept)", entry.name));
                }
                Some(entry) => {
                    self.warehouse.forget(&entry);
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

    /// `e` with a "did you mean" when it is about a table not found and a known table's name
    /// is close to it.
    async fn suggest(&self, e: LakeError) -> LakeError {
        match e {
            LakeError::TableNotFound {
                name,
                looked_in,
                suggestion: None,
            } => {
                let known: Vec<String> = match self.names().await {
                    Ok(names) => names
                        .iter()
                        .flat_map(|(s, ts)| ts.iter().map(move |t| format!("{s}.{t}")))
                        .collect(),
                    Err(_) => vec![],
                };
                let suggestion =
                    crate::sql::names::closest_table(&name, known.iter().map(String::as_str))
                        .map(str::to_string);
                LakeError::TableNotFound {
                    name,
                    looked_in,
                    suggestion,
                }
            }
            LakeError::OnTable { table, source } => LakeError::OnTable {
                table,
                source: Box::new(Box::pin(self.suggest(*source)).await),
            },
            e => e,
        }
    }

    /// Refreshes and returns schema -> table names.
    pub async fn names(&self) -> Result<std::collections::BTreeMap<String, Vec<String>>> {
        self.catalog.refresh().await
    }
}

/// The name a statement's table is served to the planner under.
/// The kind of write `stmt` is (`MERGE INTO`), or None when it writes nothing to storage.
/// Queries, DESCRIBE, SUMMARIZE, CHECK (its results are then not recorded), SET, dry runs,
/// session views and `COPY ... TO` a file outside the warehouse do not write.
fn writes(stmt: &LakeStatement) -> Option<&'static str> {
    use MaintenanceStatement as M;
    Some(match stmt {
        LakeStatement::CreateTable(_) => "CREATE TABLE",
        LakeStatement::Maintenance(M::Restore { .. }) => "RESTORE",
        LakeStatement::Maintenance(M::Optimize { .. }) => "OPTIMIZE",
        LakeStatement::Maintenance(M::Vacuum { dry_run: false, .. }) => "VACUUM",
        LakeStatement::Maintenance(M::Fsck { dry_run: false, .. }) => "FSCK REPAIR TABLE",
        LakeStatement::Maintenance(M::Convert { .. }) => "CONVERT TO DELTA",
        LakeStatement::Merge(_) => "MERGE INTO",
        LakeStatement::AlterTable(_) => "ALTER TABLE",
        LakeStatement::ReplaceWhere(_) => "INSERT ... REPLACE WHERE",
        LakeStatement::CopyInto(_) => "COPY INTO",
        LakeStatement::Secret(SecretStatement::Create { .. }) => "CREATE SECRET",
        LakeStatement::Secret(SecretStatement::Drop { .. }) => "DROP SECRET",
        LakeStatement::Secret(SecretStatement::Show) => return None,
        LakeStatement::DataFusion(df) => match df.as_ref() {
            DFStatement::CreateExternalTable(cet)
                if cet.file_type.eq_ignore_ascii_case("delta") =>
            {
                "CREATE EXTERNAL TABLE"
            }
            DFStatement::Statement(s) => match s.as_ref() {
                SQLStatement::Insert(_) => "INSERT",
                SQLStatement::Update(_) => "UPDATE",
                SQLStatement::Delete(_) => "DELETE",
                SQLStatement::Truncate(_) => "TRUNCATE",
                SQLStatement::Drop {
                    object_type: ObjectType::Table,
                    ..
                } => "DROP TABLE",
                SQLStatement::AlterTable(_) => "ALTER TABLE",
                _ => return None,
            },
            _ => return None,
        },
        LakeStatement::Maintenance(M::Vacuum { .. } | M::Fsck { .. })
        | LakeStatement::Describe(_)
        | LakeStatement::Check(_)
        | LakeStatement::Set(_)
        | LakeStatement::Variable(_)
        | LakeStatement::Summarize(_)
        | LakeStatement::DryRun(_) => return None,
    })
}

/// `name` as a double-quoted SQL identifier, for the SQL lakeshell writes itself.
pub(crate) fn quoted(name: &str) -> String {
    datafusion::sql::sqlparser::ast::Ident::with_quote('"', name).to_string()
}

fn served_name(name: &ObjectName) -> Result<TableReference> {
    Ok(match TableName::from_object(name)? {
        TableName::Warehouse { schema, table } => {
            TableReference::full(CATALOG, schema.as_str(), table.as_str())
        }
        TableName::Path(p) => TableReference::partial(catalog::PATH_SCHEMA, p.as_str()),
    })
}
