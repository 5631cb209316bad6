//! Live figures of a running statement, read from the executing plan's metrics: rows and bytes
//! scanned so far, or for maintenance (which runs no plan of ours) what it is working on. The
//! engine publishes them; a display (output/progress) polls.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use datafusion::physical_plan::ExecutionPlan;

use crate::outcome::ProgressSnapshot;

/// Shared between the engine (which sets the plan) and whoever shows progress.
#[derive(Debug)]
pub struct Progress {
    started: Instant,
    plans: Mutex<Vec<Arc<dyn ExecutionPlan>>>,
    task: Mutex<Option<String>>,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            started: Instant::now(),
            plans: Mutex::new(Vec::new()),
            task: Mutex::new(None),
        }
    }
}

impl Progress {
    /// Records a plan whose scans count towards progress.
    pub fn watch(&self, plan: Arc<dyn ExecutionPlan>) {
        if let Ok(mut plans) = self.plans.lock() {
            plans.push(plan);
        }
    }

    /// Says what the statement is working on.
    pub fn set_task(&self, task: impl Into<String>) {
        if let Ok(mut t) = self.task.lock() {
            *t = Some(task.into());
        }
    }

    /// Reads the figures now.
    pub fn snapshot(&self) -> ProgressSnapshot {
        let mut rows = 0;
        let mut bytes = 0;
        if let Ok(plans) = self.plans.lock() {
            for p in plans.iter() {
                walk(p.as_ref(), &mut rows, &mut bytes);
            }
        }
        ProgressSnapshot {
            rows_scanned: rows,
            bytes_scanned: bytes,
            elapsed: self.started.elapsed(),
            task: self.task.lock().ok().and_then(|t| t.clone()),
        }
    }
}

fn walk(plan: &dyn ExecutionPlan, rows: &mut u64, bytes: &mut u64) {
    if let Some(metrics) = plan.metrics() {
        if plan.children().is_empty() {
            *rows += metrics.output_rows().unwrap_or(0) as u64;
        }
        if let Some(b) = metrics.sum_by_name("bytes_scanned") {
            *bytes += b.as_usize() as u64;
        }
    }
    for child in plan.children() {
        walk(child.as_ref(), rows, bytes);
    }
}
