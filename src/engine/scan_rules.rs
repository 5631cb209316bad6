//! Physical-plan rules of lakeshell's own.
//!
//! [`PushdownAsConfigured`]: delta-rs's kernel scan turns on Parquet filter pushdown (late
//! materialisation, a row filter evaluated while decoding) for every filtered scan, whatever the
//! session says (`datafusion.execution.parquet.pushdown_filters`, off by default). On TPC-H's
//! filtered scans that decodes the filter columns twice and is slower, as DataFusion's own
//! benchmarks show. The rule gives each Parquet scan the session's setting back; the predicate
//! stays, so row groups and pages are still pruned by their statistics, and delta-rs declares such
//! filters Inexact, so DataFusion keeps the filter above the scan and results are unchanged.

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::config::ConfigOptions;
use datafusion::datasource::physical_plan::{FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::Result;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;

/// Gives every Parquet scan the session's `pushdown_filters` setting.
#[derive(Debug, Default)]
pub struct PushdownAsConfigured;

impl PhysicalOptimizerRule for PushdownAsConfigured {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let wanted = config.execution.parquet.pushdown_filters;
        plan.transform_up(|node| {
            let Some(exec) = node.downcast_ref::<DataSourceExec>() else {
                return Ok(Transformed::no(node));
            };
            let Some((scan, source)) = exec.downcast_to_file_source::<ParquetSource>() else {
                return Ok(Transformed::no(node));
            };
            if source.table_parquet_options().global.pushdown_filters == wanted {
                return Ok(Transformed::no(node));
            }
            let source = source.clone().with_pushdown_filters(wanted);
            let scan = FileScanConfigBuilder::from(scan.clone())
                .with_source(Arc::new(source))
                .build();
            Ok(Transformed::yes(
                DataSourceExec::from_data_source(scan) as Arc<dyn ExecutionPlan>
            ))
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "lakeshell_pushdown_as_configured"
    }

    fn schema_check(&self) -> bool {
        true
    }
}
