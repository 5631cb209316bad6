//! Time travel in table references: `t VERSION AS OF 3`, `t TIMESTAMP AS OF expr`, and
//! Databricks' short forms `t@v3` and `t@20240101000000000` (yyyyMMddHHmmssSSS, UTC).
//!
//! DataFusion's planner ignores a table's version, so the engine takes versions out of a
//! statement before planning: [`collect`] lists every versioned reference (anywhere: queries,
//! subqueries, CTEs, COPY, CREATE VIEW, EXPLAIN, MERGE sources), the engine opens each at its
//! version, and [`point_at`] renames each reference to the name the engine registered it under.
//! A table without an alias keeps its own name as alias, so `t.id` keeps working. This module
//! only reads and rewrites syntax.

use std::ops::ControlFlow;

use chrono::NaiveDateTime;
use datafusion::sql::sqlparser::ast::{
    Expr, Ident, ObjectName, ObjectNamePart, TableAlias, TableFactor, TableVersion, Value,
    VisitMut, VisitorMut,
};

use crate::error::{LakeError, Result};

/// The version a table reference asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Travel {
    /// `VERSION AS OF n`, `t@vN`.
    Version(u64),
    /// `t@20240101000000000`: milliseconds since the epoch, UTC.
    TimestampMs(i64),
    /// `TIMESTAMP AS OF expr`: the engine evaluates `expr`.
    Timestamp(Box<Expr>),
}

/// One versioned table reference: the table as named (its version suffix taken off), and the
/// version it asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned {
    pub name: ObjectName,
    pub travel: Travel,
}

/// Splits a name's last part into its base and the version it asks for, if any.
fn split_suffix(name: &str) -> Option<(&str, Travel)> {
    let (base, suffix) = name.rsplit_once('@')?;
    if base.is_empty() {
        return None;
    }
    parse_suffix(suffix).map(|t| (base, t))
}

/// `name` without its version suffix, when it has one (`orders@v3` -> `orders`).
pub fn base_of(name: &str) -> Option<&str> {
    split_suffix(name).map(|(base, _)| base)
}

/// `v3` or Databricks' `20240101000000000`.
fn parse_suffix(s: &str) -> Option<Travel> {
    if let Some(v) = s.strip_prefix(['v', 'V']) {
        return v.parse().ok().map(Travel::Version);
    }
    if s.len() == 17 && s.bytes().all(|b| b.is_ascii_digit()) {
        let t = NaiveDateTime::parse_from_str(&s[..14], "%Y%m%d%H%M%S").ok()?;
        let ms: i64 = s[14..].parse().ok()?;
        return Some(Travel::TimestampMs(t.and_utc().timestamp_millis() + ms));
    }
    None
}

/// Every versioned table reference of `node`, in visiting order.
pub fn collect<N: VisitMut>(node: &mut N) -> Result<Vec<Versioned>> {
    let mut v = Collector(Vec::new());
    if let ControlFlow::Break(e) = node.visit(&mut v) {
        return Err(e);
    }
    Ok(v.0)
}

/// Renames each versioned reference of `node` to `names[i]`, in the order [`collect`] returned
/// them, and drops its version.
pub fn point_at<N: VisitMut>(node: &mut N, names: &[String]) {
    let mut v = Rewriter { names, next: 0 };
    let _ = node.visit(&mut v);
}

struct Collector(Vec<Versioned>);

impl VisitorMut for Collector {
    type Break = LakeError;

    fn pre_visit_table_factor(&mut self, tf: &mut TableFactor) -> ControlFlow<LakeError> {
        match versioned(tf) {
            Ok(Some(t)) => self.0.push(t),
            Ok(None) => {}
            Err(e) => return ControlFlow::Break(e),
        }
        ControlFlow::Continue(())
    }
}

/// What a table factor asks for, if anything.
fn versioned(tf: &TableFactor) -> Result<Option<Versioned>> {
    let TableFactor::Table {
        name,
        alias,
        version,
        args: None,
        ..
    } = tf
    else {
        return Ok(None);
    };
    let travel = match version {
        Some(TableVersion::VersionAsOf(e)) => {
            let v = match e {
                Expr::Value(v) => match &v.value {
                    Value::Number(n, _) => n.parse::<u64>().ok(),
                    _ => None,
                },
                _ => None,
            };
            Some(Travel::Version(v.ok_or_else(|| {
                LakeError::BadStatement(format!(
                    "VERSION AS OF needs a version number (0 or more), not {e}"
                ))
            })?))
        }
        Some(TableVersion::TimestampAsOf(e)) | Some(TableVersion::ForSystemTimeAsOf(e)) => {
            Some(Travel::Timestamp(Box::new(e.clone())))
        }
        Some(other) => {
            return Err(LakeError::Unsupported(format!(
                "table version {other}: use VERSION AS OF n or TIMESTAMP AS OF expr"
            )))
        }
        None => None,
    };
    if let Some(travel) = travel {
        return Ok(Some(Versioned {
            name: name.clone(),
            travel,
        }));
    }
    // `t@v3` is one identifier; `` `path`@v3 `` parses as the alias `@v3`.
    if let Some(last) = name.0.last().and_then(|p| p.as_ident()) {
        if last.quote_style.is_none() {
            if let Some((base, travel)) = split_suffix(&last.value) {
                let mut name = name.clone();
                if let Some(ObjectNamePart::Identifier(i)) = name.0.last_mut() {
                    i.value = base.to_string();
                }
                return Ok(Some(Versioned { name, travel }));
            }
        }
    }
    if let Some(a) = alias {
        if let Some(travel) = a.name.value.strip_prefix('@').and_then(parse_suffix) {
            return Ok(Some(Versioned {
                name: name.clone(),
                travel,
            }));
        }
    }
    Ok(None)
}

struct Rewriter<'a> {
    names: &'a [String],
    next: usize,
}

impl VisitorMut for Rewriter<'_> {
    type Break = ();

    fn pre_visit_table_factor(&mut self, tf: &mut TableFactor) -> ControlFlow<()> {
        let Ok(Some(found)) = versioned(tf) else {
            return ControlFlow::Continue(());
        };
        let Some(target) = self.names.get(self.next) else {
            return ControlFlow::Break(());
        };
        self.next += 1;
        if let TableFactor::Table {
            name,
            alias,
            version,
            ..
        } = tf
        {
            *version = None;
            if alias
                .as_ref()
                .is_some_and(|a| a.name.value.starts_with('@'))
            {
                *alias = None;
            }
            let base = found.name.0.last().and_then(|p| p.as_ident()).cloned();
            if alias.is_none() {
                if let Some(base) = base.filter(|b| b.quote_style.is_none()) {
                    *alias = Some(TableAlias {
                        explicit: true,
                        name: Ident::new(base.value),
                        columns: vec![],
                        at: None,
                    });
                }
            }
            *name = ObjectName(vec![ObjectNamePart::Identifier(Ident::with_quote(
                '"',
                target.clone(),
            ))]);
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::dialect::LakeDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn rewrite(sql: &str, names: &[&str]) -> (Vec<Versioned>, String) {
        let mut stmt = Parser::parse_sql(&LakeDialect, sql).unwrap().remove(0);
        let found = collect(&mut stmt).unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        point_at(&mut stmt, &names);
        (found, stmt.to_string())
    }

    #[test]
    fn versions_become_registered_names_with_aliases() {
        let (found, sql) = rewrite(
            "SELECT t.id FROM t VERSION AS OF 3 JOIN s@v1 AS x ON t.id = x.id",
            &["v#1", "v#2"],
        );
        assert_eq!(found[0].travel, Travel::Version(3));
        assert_eq!(found[0].name.to_string(), "t");
        assert_eq!(found[1].travel, Travel::Version(1));
        assert_eq!(found[1].name.to_string(), "s");
        assert_eq!(
            sql,
            "SELECT t.id FROM \"v#1\" AS t JOIN \"v#2\" AS x ON t.id = x.id"
        );
    }

    #[test]
    fn timestamps_and_paths() {
        let (found, sql) = rewrite(
            "SELECT * FROM delta.`/data/t`@v2, u TIMESTAMP AS OF '2024-01-01', w@20240101000000000",
            &["a", "b", "c"],
        );
        assert_eq!(found[0].name.to_string(), "delta.`/data/t`");
        assert!(matches!(found[1].travel, Travel::Timestamp(_)));
        assert_eq!(found[2].travel, Travel::TimestampMs(1704067200000));
        assert_eq!(sql, "SELECT * FROM \"a\", \"b\" AS u, \"c\" AS w");
        assert_eq!(split_suffix("a@b"), None);
        assert_eq!(
            split_suffix("/x/t@v12"),
            Some(("/x/t", Travel::Version(12)))
        );
    }

    #[test]
    fn bad_versions_are_errors() {
        let mut stmt = Parser::parse_sql(&LakeDialect, "SELECT * FROM t VERSION AS OF 1.5")
            .unwrap()
            .remove(0);
        assert!(collect(&mut stmt).is_err());
    }
}
