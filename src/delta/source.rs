//! The rows a write consumes, as a one-shot source: lakeshell runs the statement's query itself
//! (so its scan shows in progress and is cancelled with the statement), counts the rows, strips
//! field metadata that must not reach a Delta schema (`PARQUET:field_id`, which DuckDB's delta
//! reader turns into all-NULL columns), makes every column nullable as Spark's CTAS does, and
//! hands delta-rs a plan that reads that stream once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::streaming::StreamingTable;
use datafusion::datasource::provider_as_source;
use datafusion::error::DataFusionError;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use futures::StreamExt;

use crate::error::Result;

/// A schema with no field or schema metadata, every field nullable (recursively for nested
/// fields' metadata).
pub fn clean_schema(schema: &Schema) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| Field::new(f.name(), f.data_type().clone(), true))
        .collect();
    Arc::new(Schema::new(fields))
}

struct OneShot {
    schema: SchemaRef,
    stream: Mutex<Option<SendableRecordBatchStream>>,
    rows: Arc<AtomicU64>,
}

impl std::fmt::Debug for OneShot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OneShot")
            .field("schema", &self.schema)
            .finish()
    }
}

impl PartitionStream for OneShot {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let schema = Arc::clone(&self.schema);
        let rows = Arc::clone(&self.rows);
        let taken = self.stream.lock().ok().and_then(|mut s| s.take());
        match taken {
            Some(stream) => {
                let out_schema = Arc::clone(&schema);
                let mapped = stream.map(move |batch| {
                    let batch = batch?;
                    rows.fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
                    RecordBatch::try_new(Arc::clone(&out_schema), batch.columns().to_vec())
                        .map_err(DataFusionError::from)
                });
                Box::pin(RecordBatchStreamAdapter::new(schema, mapped))
            }
            None => {
                let err = futures::stream::once(async {
                    Err(DataFusionError::Internal(
                        "write source was read twice".into(),
                    ))
                });
                Box::pin(RecordBatchStreamAdapter::new(schema, err))
            }
        }
    }
}

/// A logical plan over `stream` that can be executed once, and the counter of rows it yielded.
pub fn one_shot_plan(stream: SendableRecordBatchStream) -> Result<(LogicalPlan, Arc<AtomicU64>)> {
    let schema = clean_schema(stream.schema().as_ref());
    let rows = Arc::new(AtomicU64::new(0));
    let part = OneShot {
        schema: Arc::clone(&schema),
        stream: Mutex::new(Some(stream)),
        rows: Arc::clone(&rows),
    };
    let table = StreamingTable::try_new(schema, vec![Arc::new(part)])?;
    let plan =
        LogicalPlanBuilder::scan("source", provider_as_source(Arc::new(table)), None)?.build()?;
    Ok((plan, rows))
}
