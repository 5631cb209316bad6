//! [`SelectiveSemiJoinFirst`]: a logical rule for `key IN (SELECT key ... GROUP BY key HAVING ...)`.
//!
//! DataFusion turns the IN into a left semi join on top of the query's other joins, and a hash
//! join builds its left side: every row the other joins produce is held in memory, to keep the
//! few whose key the subquery lists (TPC-H q18: 6 million joined rows held, 57 kept). DataFusion
//! 55 has no statistics to swap the sides by. When the subquery is an aggregate behind a HAVING
//! filter (few rows, by its nature), this rule moves the semi join down to the table the key
//! columns come from, through inner joins and projections that pass the columns on, and makes
//! the subquery the side that is built (a right semi join): the table's scan then streams past
//! a small hash table, and the joins above it see only the rows that matched.
//!
//! A semi join only drops rows of its left side, so it commutes with the inner joins and
//! column-passing projections above that side; results are unchanged.

use std::sync::Arc;

use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, Result};
use datafusion::logical_expr::{Expr, Join, JoinType, LogicalPlan, Projection};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

/// Moves selective semi joins (a HAVING subquery) down to the table their keys come from.
#[derive(Debug, Default)]
pub struct SelectiveSemiJoinFirst;

impl OptimizerRule for SelectiveSemiJoinFirst {
    fn name(&self) -> &str {
        "lakeshell_selective_semi_join_first"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::TopDown)
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        let LogicalPlan::Join(join) = &plan else {
            return Ok(Transformed::no(plan));
        };
        if join.join_type != JoinType::LeftSemi
            || join.filter.is_some()
            || join.null_aware
            || join.on.is_empty()
            || !is_having_subquery(&join.right)
        {
            return Ok(Transformed::no(plan));
        }
        let Some(keys) = join
            .on
            .iter()
            .map(|(l, _)| match l {
                Expr::Column(c) => Some(c.clone()),
                _ => None,
            })
            .collect::<Option<Vec<Column>>>()
        else {
            return Ok(Transformed::no(plan));
        };
        let rewritten = push_down(&join.left, &keys, join)?;
        Ok(Transformed::yes(rewritten))
    }
}

/// True for `[SubqueryAlias] [Projection] Filter Aggregate`: a subquery that keeps the groups a
/// HAVING clause lets through.
fn is_having_subquery(plan: &LogicalPlan) -> bool {
    match plan {
        LogicalPlan::SubqueryAlias(a) => is_having_subquery(&a.input),
        LogicalPlan::Projection(p) => is_having_subquery(&p.input),
        LogicalPlan::Filter(f) => has_aggregate(&f.input),
        _ => false,
    }
}

fn has_aggregate(plan: &LogicalPlan) -> bool {
    match plan {
        LogicalPlan::Aggregate(_) => true,
        LogicalPlan::Projection(p) => has_aggregate(&p.input),
        _ => false,
    }
}

/// `plan` with the semi join `semi` applied at the lowest point that still has every key
/// column: below inner joins (on the side holding the keys) and projections that pass the keys
/// on. There, the subquery becomes the built side: `RightSemi(subquery, plan)`.
fn push_down(plan: &Arc<LogicalPlan>, keys: &[Column], semi: &Join) -> Result<LogicalPlan> {
    let has_all = |p: &LogicalPlan| keys.iter().all(|k| p.schema().has_column(k));
    match plan.as_ref() {
        LogicalPlan::Projection(p)
            if has_all(&p.input)
                && keys.iter().all(|k| {
                    p.expr
                        .iter()
                        .any(|e| matches!(e, Expr::Column(c) if c == k))
                }) =>
        {
            let input = push_down(&p.input, keys, semi)?;
            Ok(LogicalPlan::Projection(Projection::try_new(
                p.expr.clone(),
                Arc::new(input),
            )?))
        }
        LogicalPlan::Join(j) if j.join_type == JoinType::Inner => {
            let (left, right) = if has_all(&j.left) {
                (
                    Arc::new(push_down(&j.left, keys, semi)?),
                    Arc::clone(&j.right),
                )
            } else if has_all(&j.right) {
                (
                    Arc::clone(&j.left),
                    Arc::new(push_down(&j.right, keys, semi)?),
                )
            } else {
                return built_from_subquery(plan, semi);
            };
            Ok(LogicalPlan::Join(Join::try_new(
                left,
                right,
                j.on.clone(),
                j.filter.clone(),
                j.join_type,
                j.join_constraint,
                j.null_equality,
                j.null_aware,
            )?))
        }
        _ => built_from_subquery(plan, semi),
    }
}

/// `RightSemi(subquery, plan)`: the rows of `plan` whose keys the subquery lists, with the
/// subquery as the side a hash join builds.
fn built_from_subquery(plan: &Arc<LogicalPlan>, semi: &Join) -> Result<LogicalPlan> {
    Ok(LogicalPlan::Join(Join::try_new(
        Arc::clone(&semi.right),
        Arc::clone(plan),
        semi.on
            .iter()
            .map(|(l, r)| (r.clone(), l.clone()))
            .collect(),
        None,
        JoinType::RightSemi,
        semi.join_constraint,
        semi.null_equality,
        false,
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::execution::SessionStateBuilder;
    use datafusion::prelude::SessionContext;

    async fn session(with_rule: bool) -> SessionContext {
        let mut state = SessionStateBuilder::new().with_default_features();
        if with_rule {
            state = state.with_optimizer_rule(Arc::new(SelectiveSemiJoinFirst));
        }
        let ctx = SessionContext::new_with_state(state.build());
        for sql in [
            "CREATE TABLE c AS SELECT value AS ck, 'c' || value AS name FROM generate_series(1, 50)",
            "CREATE TABLE o AS SELECT value AS ok, value % 50 + 1 AS ck FROM generate_series(1, 400)",
            "CREATE TABLE l AS SELECT value % 400 + 1 AS ok, value % 7 AS qty FROM generate_series(1, 4000)",
        ] {
            ctx.sql(sql).await.unwrap().collect().await.unwrap();
        }
        ctx
    }

    const Q: &str = "SELECT name, o.ok, sum(qty) AS q FROM c, o, l \
        WHERE o.ok IN (SELECT ok FROM l GROUP BY ok HAVING sum(qty) > 33) \
        AND c.ck = o.ck AND o.ok = l.ok GROUP BY name, o.ok ORDER BY o.ok";

    #[tokio::test]
    async fn having_subquery_is_built_at_its_table_and_answers_agree() {
        let with = session(true).await;
        let plan = with.sql(Q).await.unwrap().into_optimized_plan().unwrap();
        let text = plan.display_indent().to_string();
        // The semi join sits right above the scan of o, the subquery first.
        assert!(
            text.contains("RightSemi Join: __correlated_sq_1.ok = o.ok"),
            "{text}"
        );
        assert!(!text.contains("LeftSemi"), "{text}");
        let got = with.sql(Q).await.unwrap().collect().await.unwrap();
        let want = session(false)
            .await
            .sql(Q)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let show = |b| {
            datafusion::arrow::util::pretty::pretty_format_batches(b)
                .unwrap()
                .to_string()
        };
        assert_eq!(show(&got), show(&want));
        assert!(got.iter().map(|b| b.num_rows()).sum::<usize>() > 0);
    }

    #[tokio::test]
    async fn other_semi_joins_are_left_alone() {
        let ctx = session(true).await;
        let q =
            "SELECT o.ok FROM o, c WHERE o.ck = c.ck AND o.ok IN (SELECT ok FROM l WHERE qty > 5)";
        let text = ctx
            .sql(q)
            .await
            .unwrap()
            .into_optimized_plan()
            .unwrap()
            .display_indent()
            .to_string();
        assert!(text.contains("LeftSemi Join"), "{text}");
    }
}
