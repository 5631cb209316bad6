//! Which tables a statement reads and which it writes, by name (`schema.table`), for ordering a
//! pipeline's files and naming an incremental consumer. Paths and CTE names are left out;
//! `incremental('t')` and `table_changes('t', ...)` read `t`. Maintenance statements (OPTIMIZE,
//! VACUUM, FSCK, DESCRIBE, CHECK) count as reads: they belong after the table's writers.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{
    Expr, FromTable, FunctionArg, FunctionArgExpr, ObjectName, Query, Statement, TableFactor,
    TableObject, Value, Visit, Visitor,
};

use super::expectation::Check;
use super::maintenance::MaintenanceStatement;
use super::names::{TableName, DEFAULT_SCHEMA};
use super::LakeStatement;

/// The tables one statement reads and writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatementTables {
    pub reads: BTreeSet<String>,
    pub writes: BTreeSet<String>,
}

/// `schema.table` for a name as written (a version suffix such as `@v3` dropped), or None for a
/// path (``delta.`/x` ``, `'f.csv'`).
pub fn normalise(name: &ObjectName) -> Option<String> {
    let qualified = TableName::from_object(name).ok()?.qualified()?;
    Some(match super::time_travel::base_of(&qualified) {
        Some(base) => base.to_string(),
        None => qualified,
    })
}

/// A table named in a string (`'silver.orders'`), as `incremental('...')` takes it.
pub fn normalise_text(text: &str) -> Option<String> {
    TableName::from_text(text).ok()?.qualified()
}

/// The table functions whose first argument names the table they read.
const TABLE_FUNCTIONS: [&str; 2] = ["incremental", "table_changes"];

#[derive(Default)]
struct Reads {
    found: BTreeSet<String>,
    ctes: BTreeSet<String>,
}

impl Visitor for Reads {
    type Break = ();
    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
        if let Some(with) = &q.with {
            for cte in &with.cte_tables {
                self.ctes.insert(format!(
                    "{DEFAULT_SCHEMA}.{}",
                    cte.alias.name.value.to_ascii_lowercase()
                ));
            }
        }
        ControlFlow::Continue(())
    }
    fn pre_visit_table_factor(&mut self, tf: &TableFactor) -> ControlFlow<()> {
        let TableFactor::Table { name, args, .. } = tf else {
            return ControlFlow::Continue(());
        };
        match args {
            Some(args) => {
                let f = name.to_string().to_ascii_lowercase();
                if TABLE_FUNCTIONS.contains(&f.as_str()) {
                    if let Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Value(v)))) =
                        args.args.first()
                    {
                        if let Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) =
                            &v.value
                        {
                            if let Some(t) = normalise_text(s) {
                                self.found.insert(t);
                            }
                        }
                    }
                }
            }
            None => {
                if let Some(t) = normalise(name) {
                    self.found.insert(t);
                }
            }
        }
        ControlFlow::Continue(())
    }
}

fn reads_of<V: Visit>(node: &V, into: &mut BTreeSet<String>) {
    let mut r = Reads::default();
    let _ = node.visit(&mut r);
    into.extend(r.found.into_iter().filter(|t| !r.ctes.contains(t)));
}

fn add(set: &mut BTreeSet<String>, name: &ObjectName) {
    if let Some(t) = normalise(name) {
        set.insert(t);
    }
}

/// The tables `stmt` reads and writes.
pub fn tables(stmt: &LakeStatement) -> StatementTables {
    let mut t = StatementTables::default();
    match stmt {
        LakeStatement::CreateTable(ct) => {
            add(&mut t.writes, &ct.name);
            if let Some(q) = &ct.query {
                reads_of(q.as_ref(), &mut t.reads);
            }
            if let Some(c) = &ct.clone {
                add(&mut t.reads, &c.source);
            }
        }
        LakeStatement::Merge(m) => {
            if let TableFactor::Table { name, .. } = &m.target {
                add(&mut t.writes, name);
            }
            reads_of(&m.source, &mut t.reads);
        }
        LakeStatement::AlterTable(a) => add(&mut t.writes, &a.table),
        LakeStatement::CopyInto(c) => {
            add(&mut t.writes, &c.table);
            if let crate::sql::copy_into::CopySource::Query(q) = &c.source {
                reads_of(q.as_ref(), &mut t.reads);
            }
        }
        LakeStatement::ReplaceWhere(r) => {
            add(&mut t.writes, &r.table);
            reads_of(r.query.as_ref(), &mut t.reads);
        }
        LakeStatement::Maintenance(m) => match m {
            MaintenanceStatement::Restore { table, .. } => add(&mut t.writes, table),
            MaintenanceStatement::Optimize { table, .. }
            | MaintenanceStatement::Vacuum { table, .. }
            | MaintenanceStatement::Fsck { table, .. } => add(&mut t.reads, table),
            MaintenanceStatement::Convert { .. } => {}
        },
        LakeStatement::Describe(d) => add(&mut t.reads, d.table()),
        LakeStatement::Set(_) | LakeStatement::Secret(_) => {}
        LakeStatement::Variable(v) => match v {
            crate::sql::VariableStatement::Declare {
                default: Some(e), ..
            } => reads_of(e, &mut t.reads),
            crate::sql::VariableStatement::Set(sets) => {
                for (_, e) in sets {
                    reads_of(e, &mut t.reads);
                }
            }
            _ => {}
        },
        LakeStatement::Summarize(crate::sql::SummarizeStatement::Table { table, .. }) => {
            add(&mut t.reads, table)
        }
        LakeStatement::Summarize(crate::sql::SummarizeStatement::Query(q)) => {
            reads_of(q.as_ref(), &mut t.reads)
        }
        LakeStatement::DryRun(inner) => {
            let planned = tables(inner);
            t.reads.extend(planned.reads);
            t.reads.extend(planned.writes);
        }
        LakeStatement::Check(c) => {
            add(&mut t.reads, &c.table);
            for e in &c.expectations {
                match &e.check {
                    Check::References { table, .. } => add(&mut t.reads, table),
                    Check::NoRows(q) => reads_of(q.as_ref(), &mut t.reads),
                    _ => {}
                }
            }
        }
        LakeStatement::DataFusion(df) => match df.as_ref() {
            DFStatement::Statement(s) => match s.as_ref() {
                Statement::Insert(i) => {
                    if let TableObject::TableName(n) = &i.table {
                        add(&mut t.writes, n);
                    }
                    if let Some(src) = &i.source {
                        reads_of(src.as_ref(), &mut t.reads);
                    }
                }
                Statement::Update(u) => {
                    if let TableFactor::Table { name, .. } = &u.table.relation {
                        add(&mut t.writes, name);
                    }
                    reads_of(s.as_ref(), &mut t.reads);
                }
                Statement::Delete(d) => {
                    let from = match &d.from {
                        FromTable::WithFromKeyword(f) | FromTable::WithoutKeyword(f) => f,
                    };
                    for f in from {
                        if let TableFactor::Table { name, .. } = &f.relation {
                            add(&mut t.writes, name);
                        }
                    }
                    reads_of(s.as_ref(), &mut t.reads);
                }
                Statement::Drop { names, .. } => {
                    for n in names {
                        add(&mut t.writes, n);
                    }
                }
                other => reads_of(other, &mut t.reads),
            },
            DFStatement::CreateExternalTable(c) => add(&mut t.writes, &c.name),
            _ => {}
        },
    }
    let writes = t.writes.clone();
    t.reads.retain(|r| !writes.contains(r));
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::parse_statement;

    fn rw(sql: &str) -> (Vec<String>, Vec<String>) {
        let t = tables(&parse_statement(sql).unwrap());
        (
            t.reads.into_iter().collect(),
            t.writes.into_iter().collect(),
        )
    }

    #[test]
    fn reads_and_writes_of_each_statement() {
        assert_eq!(
            rw("CREATE OR REPLACE TABLE gold.daily AS WITH x AS (SELECT * FROM silver.orders) SELECT * FROM x JOIN Silver.Customers c ON true"),
            (vec!["silver.customers".into(), "silver.orders".into()], vec!["gold.daily".into()])
        );
        assert_eq!(
            rw("MERGE INTO silver.orders t USING (SELECT * FROM incremental('bronze.orders')) s ON t.id = s.id WHEN NOT MATCHED THEN INSERT *"),
            (vec!["bronze.orders".into()], vec!["silver.orders".into()])
        );
        assert_eq!(
            rw("INSERT INTO bronze.raw SELECT * FROM 'fixtures/x.csv'"),
            (vec![], vec!["bronze.raw".into()])
        );
        assert_eq!(
            rw("OPTIMIZE silver.orders ZORDER BY (id)"),
            (vec!["silver.orders".into()], vec![])
        );
        assert_eq!(
            rw("DELETE FROM t WHERE id IN (SELECT id FROM s.gone)"),
            (vec!["s.gone".into()], vec!["default.t".into()])
        );
        assert_eq!(rw("SELECT * FROM delta.`/data/t`"), (vec![], vec![]));
    }
}
