//! Resolving table versions in a statement before DataFusion plans it: `TIMESTAMP AS OF`
//! expressions are evaluated here, then every versioned reference is rewritten (see
//! [`crate::sql::time_travel`]).

use datafusion::arrow::array::{Array, TimestampMillisecondArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{Expr, VisitMut};

use super::Engine;
use crate::error::{LakeError, Result};
use crate::sql::maintenance::VersionSpec;
use crate::sql::time_travel::{self, AsOf, Travel};

impl Engine {
    /// Rewrites the versioned table references in `node`.
    pub(super) async fn travel<N: VisitMut>(&self, node: &mut N) -> Result<()> {
        self.table_changes(node).await?;
        let found = time_travel::collect(node)?;
        if found.is_empty() {
            return Ok(());
        }
        let mut resolved = Vec::with_capacity(found.len());
        for t in found {
            resolved.push(match t {
                Travel::Known(a) => a,
                Travel::Timestamp(e) => AsOf::Timestamp(self.timestamp_ms(&e).await?),
            });
        }
        time_travel::apply(node, &resolved);
        Ok(())
    }

    /// The same for a DataFusion statement (including the one inside EXPLAIN).
    pub(super) async fn travel_statement(&self, stmt: &mut DFStatement) -> Result<()> {
        match stmt {
            DFStatement::Statement(s) => self.travel(s.as_mut()).await,
            DFStatement::Explain(e) => Box::pin(self.travel_statement(&mut e.statement)).await,
            _ => Ok(()),
        }
    }

    /// `VERSION AS OF n` or `TIMESTAMP AS OF expr`, resolved.
    pub(super) async fn version_spec(&self, spec: &VersionSpec) -> Result<AsOf> {
        Ok(match spec {
            VersionSpec::Version(v) => AsOf::Version(*v),
            VersionSpec::Timestamp(e) => AsOf::Timestamp(self.timestamp_ms(e).await?),
        })
    }

    /// Evaluates a timestamp expression (`'2024-01-01'`, `current_timestamp() - INTERVAL 1
    /// HOUR`) to milliseconds since the epoch, UTC.
    pub(super) async fn timestamp_ms(&self, e: &Expr) -> Result<i64> {
        let bad = || {
            LakeError::Invalid(format!(
                "TIMESTAMP AS OF needs a timestamp, and {e} is not one (write it as 'YYYY-MM-DD[ HH:MM:SS]')"
            ))
        };
        // Milliseconds, so dates past 2262 (which nanoseconds cannot hold) work.
        let sql = format!("SELECT arrow_cast(({e}), 'Timestamp(Millisecond, None)')");
        let batches = match self.ctx.sql(&sql).await {
            Ok(df) => df.collect().await.map_err(|_| bad())?,
            Err(_) => return Err(bad()),
        };
        let col = batches
            .first()
            .map(|b| b.column(0).clone())
            .ok_or_else(bad)?;
        let ms = cast(&col, &DataType::Timestamp(TimeUnit::Millisecond, None))?;
        let ms = ms
            .as_any()
            .downcast_ref::<TimestampMillisecondArray>()
            .ok_or_else(bad)?;
        if ms.is_empty() || ms.is_null(0) {
            return Err(bad());
        }
        Ok(ms.value(0))
    }
}
