//! Planning a statement with every table it names opened first, once each.
//!
//! DataFusion plans synchronously and knows nothing of table versions, so before it plans:
//! 1. every versioned reference (`t VERSION AS OF 3`, `t@v3`, `TIMESTAMP AS OF ...`), wherever
//!    it stands (queries, subqueries, CTEs, COPY, CREATE VIEW, EXPLAIN, INSERT and MERGE
//!    sources), is opened at its version and renamed to the name it is served under
//!    (`"sales.orders@v3"`); `table_changes(...)` and `incremental(...)` are read the same way;
//! 2. every other table the statement names is looked up once;
//! 3. DataFusion's SQL planner runs against [`Served`], which hands out exactly those tables.
//!
//! [`Opened`] holds what one statement opened, so the scan it plans and the Delta operation it
//! commits read the same snapshot.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::common::{plan_datafusion_err, DFSchema, ResolvedTableReference, TableReference};
use datafusion::config::ConfigOptions;
use datafusion::datasource::provider_as_source;
use datafusion::error::DataFusionError;
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::planner::{ExprPlanner, RelationPlanner};
use datafusion::logical_expr::{
    AggregateUDF, Expr, HigherOrderUDF, LogicalPlan, ScalarUDF, TableSource, WindowUDF,
};
use datafusion::sql::parser::{CopyToSource, Statement as DFStatement};
use datafusion::sql::planner::{ContextProvider, ParserOptions, PlannerContext, SqlToRel};
use datafusion::sql::sqlparser::ast::{Expr as SqlExpr, VisitMut};
use deltalake::DeltaTable;

use super::Engine;
use crate::catalog::{self, TableEntry, TableName, CATALOG, DEFAULT_SCHEMA};
use crate::delta::AsOf;
use crate::error::{LakeError, Result};
use crate::sql::maintenance::VersionSpec;
use crate::sql::time_travel::{self, Travel};

/// What one statement opened: Delta tables by location and version, and the tables the planner
/// is to be given, by name.
#[derive(Default)]
pub(crate) struct Opened {
    deltas: Mutex<HashMap<(String, Option<u64>), DeltaTable>>,
    sources: Mutex<HashMap<ResolvedTableReference, Arc<dyn TableSource>>>,
    /// Lines for the user about what was read (a `table_diff`'s counts).
    notes: Mutex<Vec<String>>,
}

fn resolved(r: TableReference) -> ResolvedTableReference {
    r.resolve(CATALOG, DEFAULT_SCHEMA)
}

fn poisoned<T>(_: T) -> LakeError {
    LakeError::Internal("opened tables lock poisoned".into())
}

impl Opened {
    /// Serves `provider` to the planner as `name`.
    pub(crate) fn serve(
        &self,
        name: TableReference,
        provider: Arc<dyn TableProvider>,
    ) -> Result<()> {
        self.sources
            .lock()
            .map_err(poisoned)?
            .insert(resolved(name), provider_as_source(provider));
        Ok(())
    }

    /// Keeps `table`, opened elsewhere at `version` of `entry`, for the statement's queries.
    pub(crate) fn hold(
        &self,
        entry: &TableEntry,
        version: Option<u64>,
        table: DeltaTable,
    ) -> Result<()> {
        self.deltas
            .lock()
            .map_err(poisoned)?
            .insert((entry.url.to_string(), version), table);
        Ok(())
    }

    /// Keeps a line for the user, shown under the statement's rows.
    pub(crate) fn note(&self, line: String) -> Result<()> {
        self.notes.lock().map_err(poisoned)?.push(line);
        Ok(())
    }

    /// The lines kept for the user.
    pub(crate) fn take_notes(&self) -> Result<Vec<String>> {
        Ok(std::mem::take(&mut *self.notes.lock().map_err(poisoned)?))
    }

    fn served(&self, name: &ResolvedTableReference) -> Result<bool> {
        Ok(self.sources.lock().map_err(poisoned)?.contains_key(name))
    }
}

impl Engine {
    /// `entry` at `as_of` (or its latest version), opened once per statement.
    pub(crate) async fn open_table(
        &self,
        opened: &Opened,
        entry: &TableEntry,
        as_of: Option<AsOf>,
    ) -> Result<DeltaTable> {
        let key = |v: Option<u64>| (entry.url.to_string(), v);
        let cached = |v: Option<u64>| -> Result<Option<DeltaTable>> {
            Ok(opened
                .deltas
                .lock()
                .map_err(poisoned)?
                .get(&key(v))
                .cloned())
        };
        if let Some(AsOf::Version(v)) = as_of {
            if let Some(t) = cached(Some(v))? {
                return Ok(t);
            }
        }
        let latest = match cached(None)? {
            Some(t) => t,
            None => {
                let t = self.warehouse.open(entry).await?;
                opened
                    .deltas
                    .lock()
                    .map_err(poisoned)?
                    .insert(key(None), t.clone());
                t
            }
        };
        let Some(as_of) = as_of else {
            return Ok(latest);
        };
        let version = crate::delta::history::resolve(&latest, as_of)
            .await
            .map_err(|e| e.on_table(entry.name.clone()))?;
        if let Some(t) = cached(Some(version))? {
            return Ok(t);
        }
        let mut at = latest;
        crate::catalog::load_version(&mut at, &entry.name, version).await?;
        opened
            .deltas
            .lock()
            .map_err(poisoned)?
            .insert(key(Some(version)), at.clone());
        Ok(at)
    }

    /// Opens `entry` (latest version) and serves it to the planner under `name`, so a query of
    /// the statement reads the snapshot its write commits on.
    pub(crate) async fn open_and_serve(
        &self,
        opened: &Opened,
        entry: &TableEntry,
        name: TableReference,
    ) -> Result<DeltaTable> {
        let table = self.open_table(opened, entry, None).await?;
        let provider = catalog::provider::provider_of(&table, &entry.name).await?;
        opened.serve(name, provider)?;
        Ok(table)
    }

    /// Plans a DataFusion statement, opening what it names first (see the module doc).
    pub(crate) async fn plan_statement(
        &self,
        opened: &Opened,
        mut stmt: DFStatement,
    ) -> Result<LogicalPlan> {
        self.take_versions(opened, &mut stmt).await?;
        self.serve_references(opened, &stmt).await?;
        let state = self.state();
        let served = Served::new(&state, opened, self.looked_in())?;
        let planner = SqlToRel::new_with_options(&served, parser_options(&state));
        Ok(planner.statement_to_plan(stmt)?)
    }

    /// Looks up, once, every table `stmt` names that `opened` does not serve yet (warehouse
    /// tables at their latest version, views, quoted paths, `information_schema`).
    pub(crate) async fn serve_references(&self, opened: &Opened, stmt: &DFStatement) -> Result<()> {
        let state = self.state();
        let references = state.resolve_table_references(stmt)?;
        if references
            .iter()
            .any(|r| r.schema() == Some("information_schema"))
        {
            self.catalog.refresh().await?;
        }
        for r in references {
            let name = resolved(r);
            if opened.served(&name)? {
                continue;
            }
            if let Ok(schema) = state.schema_for_ref(name.clone()) {
                if let Some(table) = schema.table(&name.table).await? {
                    opened.serve(TableReference::from(name.clone()), table)?;
                }
            }
        }
        Ok(())
    }

    /// Plans SQL expressions over `input`'s columns, with the tables `opened` serves for any
    /// subquery in them.
    pub(crate) fn plan_exprs_over(
        &self,
        opened: &Opened,
        input: &LogicalPlan,
        exprs: &[SqlExpr],
    ) -> Result<Vec<Expr>> {
        let state = self.state();
        let served = Served::new(&state, opened, self.looked_in())?;
        let planner = SqlToRel::new_with_options(&served, parser_options(&state));
        let mut context = PlannerContext::new();
        let vars = self.variables();
        exprs
            .iter()
            .map(|e| {
                let mut e = e.clone();
                super::variables::put_in(&mut e, &vars)?;
                Ok(planner.sql_to_expr(e, input.schema(), &mut context)?)
            })
            .collect()
    }

    /// Plans one expression over the columns of `schema` (an expectation's condition; with an
    /// empty schema, a `TIMESTAMP AS OF` time).
    pub(crate) fn plan_expr(&self, e: &SqlExpr, schema: &DFSchema) -> Result<Expr> {
        let state = self.state();
        let served = Served::new(&state, &Opened::default(), self.looked_in())?;
        let planner = SqlToRel::new_with_options(&served, parser_options(&state));
        let mut e = e.clone();
        super::variables::put_in(&mut e, &self.variables())?;
        Ok(planner.sql_to_expr(e, schema, &mut PlannerContext::new())?)
    }

    /// Opens the versions, change feeds and incremental reads `stmt` asks for and points its
    /// references at them.
    async fn take_versions(&self, opened: &Opened, stmt: &mut DFStatement) -> Result<()> {
        match stmt {
            DFStatement::Statement(s) => self.take_versions_in(opened, s.as_mut()).await,
            DFStatement::Explain(e) => Box::pin(self.take_versions(opened, &mut e.statement)).await,
            DFStatement::CopyTo(c) => match &mut c.source {
                CopyToSource::Query(q) => self.take_versions_in(opened, q.as_mut()).await,
                CopyToSource::Relation(_) => Ok(()),
            },
            _ => Ok(()),
        }
    }

    /// The same for any part of a statement (a MERGE source, a REPLACE WHERE query).
    pub(crate) async fn take_versions_in<N: VisitMut>(
        &self,
        opened: &Opened,
        node: &mut N,
    ) -> Result<()> {
        super::variables::put_in(node, &self.variables())?;
        self.read_feeds(opened, node).await?;
        let found = time_travel::collect(node)?;
        let mut names = Vec::with_capacity(found.len());
        for v in found {
            let entry = self
                .resolve_table(&TableName::from_object(&v.name)?)
                .await?;
            let as_of = match v.travel {
                Travel::Version(n) => AsOf::Version(n),
                Travel::TimestampMs(ms) => AsOf::Timestamp(ms),
                Travel::Timestamp(e) => AsOf::Timestamp(self.timestamp_ms(&e).await?),
            };
            let table = self.open_table(opened, &entry, Some(as_of)).await?;
            let name = format!("{}@v{}", entry.name, table.version().unwrap_or_default());
            let provider = catalog::provider::provider_of(&table, &entry.name).await?;
            opened.serve(TableReference::bare(name.as_str()), provider)?;
            names.push(name);
        }
        time_travel::point_at(node, &names);
        Ok(())
    }

    /// `VERSION AS OF n` or `TIMESTAMP AS OF expr` of RESTORE and CHECK, resolved.
    pub(crate) async fn version_spec(&self, spec: &VersionSpec) -> Result<AsOf> {
        Ok(match spec {
            VersionSpec::Version(v) => AsOf::Version(*v),
            VersionSpec::Timestamp(e) => AsOf::Timestamp(self.timestamp_ms(e).await?),
        })
    }

    /// Evaluates a timestamp expression (`'2024-01-01'`, `current_timestamp() - INTERVAL 1
    /// HOUR`) to milliseconds since the epoch, UTC.
    pub(crate) async fn timestamp_ms(&self, e: &SqlExpr) -> Result<i64> {
        use datafusion::arrow::array::{Array, TimestampMillisecondArray};
        use datafusion::arrow::datatypes::TimeUnit;
        let bad = || {
            LakeError::BadStatement(format!(
                "TIMESTAMP AS OF needs a timestamp, and {e} is not one (write it as 'YYYY-MM-DD[ HH:MM:SS]')"
            ))
        };
        let expr = self.plan_expr(e, &DFSchema::empty()).map_err(|_| bad())?;
        // Milliseconds, so dates past 2262 (which nanoseconds cannot hold) work.
        let ms =
            datafusion::logical_expr::cast(expr, DataType::Timestamp(TimeUnit::Millisecond, None));
        let plan = datafusion::logical_expr::LogicalPlanBuilder::empty(true)
            .project(vec![ms])?
            .build()?;
        let batches = self
            .ctx
            .execute_logical_plan(plan)
            .await?
            .collect()
            .await
            .map_err(|_| bad())?;
        let col = batches
            .first()
            .map(|b| b.column(0).clone())
            .ok_or_else(bad)?;
        let ms = col
            .as_any()
            .downcast_ref::<TimestampMillisecondArray>()
            .ok_or_else(bad)?;
        if ms.is_empty() || ms.is_null(0) {
            return Err(bad());
        }
        Ok(ms.value(0))
    }
}

impl Engine {
    /// Where unknown tables are looked for.
    fn looked_in(&self) -> String {
        catalog::display_url(self.warehouse.root())
    }
}

fn parser_options(state: &SessionState) -> ParserOptions {
    ParserOptions::from(&state.config_options().sql_parser)
}

/// What DataFusion's SQL planner sees of a statement's tables: exactly those [`Opened`] holds;
/// functions, variables and options come from the session.
struct Served<'a> {
    state: &'a SessionState,
    tables: HashMap<ResolvedTableReference, Arc<dyn TableSource>>,
    warehouse: String,
}

impl<'a> Served<'a> {
    /// `warehouse` is where an unknown table was looked for, for [`LakeError::TableNotFound`].
    fn new(state: &'a SessionState, opened: &Opened, warehouse: String) -> Result<Self> {
        Ok(Served {
            state,
            tables: opened.sources.lock().map_err(poisoned)?.clone(),
            warehouse,
        })
    }
}

impl ContextProvider for Served<'_> {
    fn get_expr_planners(&self) -> &[Arc<dyn ExprPlanner>] {
        self.state.expr_planners()
    }

    fn get_relation_planners(&self) -> &[Arc<dyn RelationPlanner>] {
        self.state.relation_planners()
    }

    fn get_table_source(
        &self,
        name: TableReference,
    ) -> datafusion::error::Result<Arc<dyn TableSource>> {
        let shown = match &name {
            TableReference::Full {
                catalog,
                schema,
                table,
            } if catalog.as_ref() == CATALOG => {
                format!("{schema}.{table}")
            }
            TableReference::Bare { table } => format!("{DEFAULT_SCHEMA}.{table}"),
            other => other.to_string(),
        };
        self.tables.get(&resolved(name)).cloned().ok_or_else(|| {
            DataFusionError::External(Box::new(LakeError::TableNotFound {
                name: shown,
                looked_in: self.warehouse.clone(),
                suggestion: None,
            }))
        })
    }

    fn get_table_function_source(
        &self,
        name: &str,
        args: Vec<Expr>,
    ) -> datafusion::error::Result<Arc<dyn TableSource>> {
        use datafusion::catalog::TableFunctionArgs;
        use datafusion::optimizer::simplify_expressions::ExprSimplifier;
        let function = self
            .state
            .table_functions()
            .get(name)
            .cloned()
            .ok_or_else(|| plan_datafusion_err!("table function '{name}' not found"))?;
        let context = datafusion::logical_expr::simplify::SimplifyContext::builder()
            .with_config_options(Arc::clone(self.state.config_options()))
            .with_query_execution_start_time(
                self.state.execution_props().query_execution_start_time,
            )
            .build();
        let simplifier = ExprSimplifier::new(context);
        let schema = DFSchema::empty();
        let args = args
            .into_iter()
            .map(|a| {
                simplifier
                    .coerce(a, &schema)
                    .and_then(|e| simplifier.simplify(e))
            })
            .collect::<datafusion::error::Result<Vec<_>>>()?;
        let provider =
            function.create_table_provider_with_args(TableFunctionArgs::new(&args, self.state))?;
        Ok(provider_as_source(provider))
    }

    fn create_cte_work_table(
        &self,
        name: &str,
        schema: SchemaRef,
    ) -> datafusion::error::Result<Arc<dyn TableSource>> {
        let table = datafusion::datasource::cte_worktable::CteWorkTable::new(name, schema);
        Ok(provider_as_source(Arc::new(table)))
    }

    fn get_function_meta(&self, name: &str) -> Option<Arc<ScalarUDF>> {
        self.state.scalar_functions().get(name).cloned()
    }

    fn get_higher_order_meta(&self, name: &str) -> Option<Arc<HigherOrderUDF>> {
        self.state.higher_order_functions().get(name).cloned()
    }

    fn get_aggregate_meta(&self, name: &str) -> Option<Arc<AggregateUDF>> {
        self.state.aggregate_functions().get(name).cloned()
    }

    fn get_window_meta(&self, name: &str) -> Option<Arc<WindowUDF>> {
        self.state.window_functions().get(name).cloned()
    }

    fn get_variable_type(&self, variable_names: &[String]) -> Option<DataType> {
        use datafusion::logical_expr::var_provider::{is_system_variables, VarType};
        if variable_names.is_empty() {
            return None;
        }
        let kind = if is_system_variables(variable_names) {
            VarType::System
        } else {
            VarType::UserDefined
        };
        self.state
            .execution_props()
            .var_providers
            .as_ref()
            .and_then(|p| p.get(&kind)?.get_type(variable_names))
    }

    fn options(&self) -> &ConfigOptions {
        self.state.config_options()
    }

    fn udf_names(&self) -> Vec<String> {
        self.state.scalar_functions().keys().cloned().collect()
    }

    fn higher_order_function_names(&self) -> Vec<String> {
        self.state
            .higher_order_functions()
            .keys()
            .cloned()
            .collect()
    }

    fn udaf_names(&self) -> Vec<String> {
        self.state.aggregate_functions().keys().cloned().collect()
    }

    fn udwf_names(&self) -> Vec<String> {
        self.state.window_functions().keys().cloned().collect()
    }

    fn get_file_type(
        &self,
        ext: &str,
    ) -> datafusion::error::Result<Arc<dyn datafusion::common::file_options::file_type::FileType>>
    {
        self.state
            .get_file_format_factory(&ext.to_lowercase())
            .map(datafusion::datasource::file_format::format_as_file_type)
            .ok_or_else(|| {
                plan_datafusion_err!("There is no registered file format with ext {ext}")
            })
    }
}
