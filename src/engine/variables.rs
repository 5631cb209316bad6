//! Session variables (`DECLARE VARIABLE`, `SET VAR`, see [`crate::sql::variable`]): a value
//! per name, evaluated when declared or set (its expression may read tables), kept for the
//! session, and put into every statement planned after it where an expression names it (`since`,
//! `session.since`, `system.session.since`), as a typed literal.
//!
//! A variable is put in before DataFusion plans, so one named like a column of the query stands
//! for the variable there; qualify the column (`t.since`) or name variables apart (`v_since`).

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::sql::sqlparser::ast::{
    Expr as SqlExpr, Ident, Query, SelectItem, SetExpr, VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::parser::Parser;

use super::{Engine, Outcome};
use crate::error::{LakeError, Result};
use crate::sql::VariableStatement;

/// The session's variables, by lower-cased name.
pub(crate) type Variables = BTreeMap<String, ScalarValue>;

/// The SQL type a value is written back as.
fn sql_type(t: &DataType) -> Option<String> {
    Some(match t {
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Int8 | DataType::Int16 | DataType::Int32 => "INT".into(),
        DataType::Int64 | DataType::UInt8 | DataType::UInt16 | DataType::UInt32 => "BIGINT".into(),
        DataType::Float32 => "FLOAT".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Decimal128(p, s) => format!("DECIMAL({p}, {s})"),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "STRING".into(),
        DataType::Date32 | DataType::Date64 => "DATE".into(),
        DataType::Timestamp(_, _) => "TIMESTAMP".into(),
        _ => return None,
    })
}

/// `value` as a SQL expression of its own type: `CAST('2024-01-01' AS DATE)`.
fn literal(name: &str, value: &ScalarValue) -> Result<SqlExpr> {
    let t = sql_type(&value.data_type()).ok_or_else(|| {
        LakeError::Unsupported(format!(
            "variable {name} holds a {}; variables hold numbers, text, booleans, dates and timestamps",
            value.data_type()
        ))
    })?;
    let text = if value.is_null() {
        format!("CAST(NULL AS {t})")
    } else {
        // As arrow prints it: ISO dates and timestamps (a timestamp's Display is its integer).
        let shown = value
            .to_array()
            .ok()
            .and_then(|a| datafusion::arrow::util::display::array_value_to_string(&a, 0).ok())
            .unwrap_or_else(|| value.to_string());
        let quoted = datafusion::sql::sqlparser::ast::Value::SingleQuotedString(shown).to_string();
        format!("CAST({quoted} AS {t})")
    };
    let dialect = crate::sql::dialect::LakeDialect;
    Parser::new(&dialect)
        .try_with_sql(&text)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| LakeError::Internal(format!("variable {name} as SQL ({text}): {e}")))
}

/// Puts each variable `node` names in as its value.
/// Refuses `@name` (a SQL variable of other engines' dialects) in `node`: delta-rs, which
/// takes MERGE's conditions and values as SQL text, panics on one.
pub(crate) fn refuse_at_variables<N: VisitMut>(node: &mut N) -> Result<()> {
    struct Find(Option<String>);
    impl VisitorMut for Find {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &mut SqlExpr) -> ControlFlow<()> {
            if let SqlExpr::Identifier(i) = e {
                if i.quote_style.is_none() && i.value.starts_with('@') {
                    self.0 = Some(i.value.clone());
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut f = Find(None);
    let _ = node.visit(&mut f);
    match f.0 {
        Some(name) => Err(LakeError::BadStatement(format!(
            "{name}: lakeshell has no @variables; declare one with DECLARE VARIABLE {0} INT DEFAULT 1 and use it as {0}",
            name.trim_start_matches('@')
        ))),
        None => Ok(()),
    }
}

pub(crate) fn put_in<N: VisitMut>(node: &mut N, vars: &Variables) -> Result<()> {
    if vars.is_empty() {
        return Ok(());
    }
    struct Put<'a>(&'a Variables, Option<LakeError>);
    impl VisitorMut for Put<'_> {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &mut SqlExpr) -> ControlFlow<()> {
            let name = match e {
                SqlExpr::Identifier(i) if i.quote_style.is_none() => Some(i.value.clone()),
                SqlExpr::CompoundIdentifier(parts) => {
                    let words: Vec<String> =
                        parts.iter().map(|p| p.value.to_ascii_lowercase()).collect();
                    match words.as_slice() {
                        [s, n] if s == "session" => Some(n.clone()),
                        [sys, s, n] if sys == "system" && s == "session" => Some(n.clone()),
                        _ => None,
                    }
                }
                _ => None,
            };
            if let Some(n) = name.map(|n| n.to_ascii_lowercase()) {
                if let Some(v) = self.0.get(&n) {
                    match literal(&n, v) {
                        Ok(l) => *e = l,
                        Err(err) => {
                            self.1 = Some(err);
                            return ControlFlow::Break(());
                        }
                    }
                }
            }
            ControlFlow::Continue(())
        }
    }
    // A variable selected on its own keeps its name as the column's (`SELECT since`).
    struct Named<'a>(&'a Variables);
    impl VisitorMut for Named<'_> {
        type Break = ();
        fn pre_visit_query(&mut self, q: &mut Query) -> ControlFlow<()> {
            if let SetExpr::Select(s) = q.body.as_mut() {
                for item in &mut s.projection {
                    if let SelectItem::UnnamedExpr(SqlExpr::Identifier(i)) = item {
                        if i.quote_style.is_none()
                            && self.0.contains_key(&i.value.to_ascii_lowercase())
                        {
                            *item = SelectItem::ExprWithAlias {
                                expr: SqlExpr::Identifier(i.clone()),
                                alias: Ident::new(i.value.to_ascii_lowercase()),
                            };
                        }
                    }
                }
            }
            ControlFlow::Continue(())
        }
    }
    let _ = node.visit(&mut Named(vars));
    let mut put = Put(vars, None);
    let _ = node.visit(&mut put);
    match put.1 {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

impl Engine {
    /// The variables declared so far.
    pub(crate) fn variables(&self) -> Variables {
        self.variables.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// `expr` evaluated now (cast to `to` when given), variables put in.
    async fn value_of(&self, expr: &SqlExpr, to: Option<&DataType>) -> Result<ScalarValue> {
        let sql = format!("SELECT {expr}");
        let batches = self.collect_sql(&sql).await?;
        // `SELECT expr` gives one row; a subquery of more than one is DataFusion's error.
        let value = match batches.iter().find(|b| b.num_rows() > 0) {
            Some(b) => ScalarValue::try_from_array(b.column(0), 0)?,
            None => ScalarValue::Null,
        };
        match to {
            Some(t) => Ok(value
                .cast_to(t)
                .map_err(|e| LakeError::BadStatement(format!("{expr} is not a {t}: {e}")))?),
            None => Ok(value),
        }
    }

    /// The arrow type of a SQL type.
    async fn arrow_type(&self, t: &datafusion::sql::sqlparser::ast::DataType) -> Result<DataType> {
        let v = self
            .value_of(
                &SqlExpr::Cast {
                    kind: datafusion::sql::sqlparser::ast::CastKind::Cast,
                    expr: Box::new(SqlExpr::value(datafusion::sql::sqlparser::ast::Value::Null)),
                    data_type: t.clone(),
                    array: false,
                    format: None,
                },
                None,
            )
            .await?;
        Ok(v.data_type())
    }

    pub(super) async fn variable(&self, v: VariableStatement) -> Result<Outcome> {
        let key = |i: &datafusion::sql::sqlparser::ast::Ident| i.value.to_ascii_lowercase();
        match v {
            VariableStatement::Declare {
                name,
                or_replace,
                data_type,
                default,
            } => {
                let n = key(&name);
                if self.variables().contains_key(&n) && !or_replace {
                    return Err(LakeError::BadStatement(format!(
                        "variable {n} exists; DECLARE OR REPLACE VARIABLE {n} ... declares it again, SET VAR {n} = ... changes it"
                    )));
                }
                let to = match &data_type {
                    Some(t) => Some(self.arrow_type(t).await?),
                    None => None,
                };
                let value = match (&default, &to) {
                    (Some(e), _) => self.value_of(e, to.as_ref()).await?,
                    (None, Some(t)) => ScalarValue::try_from(t)?,
                    (None, None) => ScalarValue::Null,
                };
                let shown = value.to_string();
                self.set_variable(n.clone(), value)?;
                Ok(Outcome::Message(format!("variable {n} = {shown}")))
            }
            VariableStatement::Set(sets) => {
                let mut shown = Vec::new();
                for (name, e) in sets {
                    let n = key(&name);
                    let Some(old) = self.variables().get(&n).cloned() else {
                        return Err(LakeError::BadStatement(format!(
                            "no variable {n}; DECLARE VARIABLE {n} DEFAULT ... declares it"
                        )));
                    };
                    let value = self.value_of(&e, Some(&old.data_type())).await?;
                    shown.push(format!("{n} = {value}"));
                    self.set_variable(n, value)?;
                }
                Ok(Outcome::Message(format!("variable {}", shown.join(", "))))
            }
            VariableStatement::Drop { name, if_exists } => {
                let n = key(&name);
                let gone = self
                    .variables
                    .lock()
                    .map_err(|_| LakeError::Internal("variables lock poisoned".into()))?
                    .remove(&n);
                match (gone, if_exists) {
                    (Some(_), _) => Ok(Outcome::Message(format!("dropped variable {n}"))),
                    (None, true) => Ok(Outcome::Message(format!("no variable {n}"))),
                    (None, false) => Err(LakeError::BadStatement(format!("no variable {n}"))),
                }
            }
        }
    }

    fn set_variable(&self, name: String, value: ScalarValue) -> Result<()> {
        self.variables
            .lock()
            .map_err(|_| LakeError::Internal("variables lock poisoned".into()))?
            .insert(name, value);
        Ok(())
    }
}
