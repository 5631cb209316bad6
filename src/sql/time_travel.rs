//! Time travel in table references: `t VERSION AS OF 3`, `t TIMESTAMP AS OF expr`, and
//! Databricks' short forms `t@v3` and `t@20240101000000000` (yyyyMMddHHmmssSSS, UTC).
//!
//! DataFusion's planner ignores a table's version, so a statement is rewritten before planning:
//! each versioned table's name gets a suffix (`t@v3`, `t@ts1704067200000`) that the catalog's
//! table providers split off again ([`split_as_of`]) to open that version. A table without an
//! alias gets its own name as alias, so `t.id` keeps working. Timestamp expressions are
//! evaluated by the engine between [`collect`] and [`apply`].

use std::ops::ControlFlow;

use chrono::{NaiveDateTime, TimeZone, Utc};
use datafusion::sql::sqlparser::ast::{
    Expr, Ident, TableAlias, TableFactor, TableVersion, Value, VisitMut, VisitorMut,
};

use crate::error::{LakeError, Result};

/// Which version of a table a reference reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    /// A table version.
    Version(u64),
    /// The latest version committed at or before this time (milliseconds since the epoch, UTC).
    Timestamp(i64),
}

impl AsOf {
    /// The suffix the rewritten table name carries.
    pub fn suffix(&self) -> String {
        match self {
            AsOf::Version(v) => format!("@v{v}"),
            AsOf::Timestamp(ms) => format!("@ts{ms}"),
        }
    }
}

impl std::fmt::Display for AsOf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AsOf::Version(v) => write!(f, "version {v}"),
            AsOf::Timestamp(ms) => match Utc.timestamp_millis_opt(*ms).single() {
                Some(t) => write!(f, "timestamp {}", t.format("%Y-%m-%d %H:%M:%S%.3f UTC")),
                None => write!(f, "timestamp {ms}"),
            },
        }
    }
}

/// Splits a table name into its base and the version it asks for, if any.
pub fn split_as_of(name: &str) -> (&str, Option<AsOf>) {
    let Some((base, suffix)) = name.rsplit_once('@') else {
        return (name, None);
    };
    match parse_suffix(suffix) {
        Some(as_of) if !base.is_empty() => (base, Some(as_of)),
        _ => (name, None),
    }
}

/// `v3`, `ts1704067200000` or Databricks' `20240101000000000`.
fn parse_suffix(s: &str) -> Option<AsOf> {
    if let Some(v) = s.strip_prefix(['v', 'V']) {
        return v.parse().ok().map(AsOf::Version);
    }
    if let Some(ms) = s.strip_prefix("ts") {
        return ms.parse().ok().map(AsOf::Timestamp);
    }
    if s.len() == 17 && s.bytes().all(|b| b.is_ascii_digit()) {
        let t = NaiveDateTime::parse_from_str(&s[..14], "%Y%m%d%H%M%S").ok()?;
        let ms: i64 = s[14..].parse().ok()?;
        return Some(AsOf::Timestamp(t.and_utc().timestamp_millis() + ms));
    }
    None
}

/// A version a statement asks for, before evaluation.
#[derive(Debug, Clone, PartialEq)]
pub enum Travel {
    /// Known from the text.
    Known(AsOf),
    /// `TIMESTAMP AS OF expr`: the engine evaluates `expr`.
    Timestamp(Box<Expr>),
}

/// Collects every versioned table reference of `node`, in visiting order.
pub fn collect<N: VisitMut>(node: &mut N) -> Result<Vec<Travel>> {
    let mut v = Collector(Vec::new());
    if let ControlFlow::Break(e) = node.visit(&mut v) {
        return Err(e);
    }
    Ok(v.0)
}

/// Rewrites the versioned references of `node` with their resolved versions, in the order
/// [`collect`] returned them.
pub fn apply<N: VisitMut>(node: &mut N, resolved: &[AsOf]) {
    let mut v = Rewriter { resolved, next: 0 };
    let _ = node.visit(&mut v);
}

struct Collector(Vec<Travel>);

impl VisitorMut for Collector {
    type Break = LakeError;

    fn pre_visit_table_factor(&mut self, tf: &mut TableFactor) -> ControlFlow<LakeError> {
        match travel_of(tf) {
            Ok(Some(t)) => self.0.push(t),
            Ok(None) => {}
            Err(e) => return ControlFlow::Break(e),
        }
        ControlFlow::Continue(())
    }
}

/// What a table factor asks for, if anything.
fn travel_of(tf: &TableFactor) -> Result<Option<Travel>> {
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
    match version {
        Some(TableVersion::VersionAsOf(e)) => {
            let v = match e {
                Expr::Value(v) => match &v.value {
                    Value::Number(n, _) => n.parse::<u64>().ok(),
                    _ => None,
                },
                _ => None,
            };
            let v = v.ok_or_else(|| {
                LakeError::Invalid(format!(
                    "VERSION AS OF needs a version number (0 or more), not {e}"
                ))
            })?;
            return Ok(Some(Travel::Known(AsOf::Version(v))));
        }
        Some(TableVersion::TimestampAsOf(e)) | Some(TableVersion::ForSystemTimeAsOf(e)) => {
            return Ok(Some(Travel::Timestamp(Box::new(e.clone()))));
        }
        Some(other) => {
            return Err(LakeError::Unsupported(format!(
                "table version {other}: use VERSION AS OF n or TIMESTAMP AS OF expr"
            )))
        }
        None => {}
    }
    // `t@v3` is one identifier; `` `path`@v3 `` parses as the alias `@v3`.
    if let Some(last) = name.0.last().and_then(|p| p.as_ident()) {
        if last.quote_style.is_none() {
            if let (_, Some(as_of)) = split_as_of(&last.value) {
                return Ok(Some(Travel::Known(as_of)));
            }
        }
    }
    if let Some(a) = alias {
        if let Some(s) = a.name.value.strip_prefix('@') {
            if let Some(as_of) = parse_suffix(s) {
                return Ok(Some(Travel::Known(as_of)));
            }
        }
    }
    Ok(None)
}

struct Rewriter<'a> {
    resolved: &'a [AsOf],
    next: usize,
}

impl VisitorMut for Rewriter<'_> {
    type Break = ();

    fn pre_visit_table_factor(&mut self, tf: &mut TableFactor) -> ControlFlow<()> {
        if !matches!(travel_of(tf), Ok(Some(_))) {
            return ControlFlow::Continue(());
        }
        let Some(as_of) = self.resolved.get(self.next).copied() else {
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
            if let Some(datafusion::sql::sqlparser::ast::ObjectNamePart::Identifier(last)) =
                name.0.last_mut()
            {
                let base = split_as_of(&last.value).0.to_string();
                if alias.is_none() && last.quote_style.is_none() {
                    *alias = Some(TableAlias {
                        explicit: true,
                        name: Ident::new(base.clone()),
                        columns: vec![],
                        at: None,
                    });
                }
                last.value = format!("{base}{}", as_of.suffix());
            }
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::dialect::LakeDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn rewrite(sql: &str, resolved: &[AsOf]) -> (Vec<Travel>, String) {
        let mut stmt = Parser::parse_sql(&LakeDialect, sql).unwrap().remove(0);
        let found = collect(&mut stmt).unwrap();
        apply(&mut stmt, resolved);
        (found, stmt.to_string())
    }

    #[test]
    fn version_forms_become_suffixes_with_aliases() {
        let (found, sql) = rewrite(
            "SELECT t.id FROM t VERSION AS OF 3 JOIN s@v1 AS x ON t.id = x.id",
            &[AsOf::Version(3), AsOf::Version(1)],
        );
        assert_eq!(
            found,
            vec![
                Travel::Known(AsOf::Version(3)),
                Travel::Known(AsOf::Version(1))
            ]
        );
        assert_eq!(
            sql,
            "SELECT t.id FROM t@v3 AS t JOIN s@v1 AS x ON t.id = x.id"
        );
    }

    #[test]
    fn timestamps_and_paths() {
        let (found, sql) = rewrite(
            "SELECT * FROM delta.`/data/t`@v2, u TIMESTAMP AS OF '2024-01-01'",
            &[AsOf::Version(2), AsOf::Timestamp(1704067200000)],
        );
        assert!(matches!(found[1], Travel::Timestamp(_)));
        assert_eq!(
            sql,
            "SELECT * FROM delta.`/data/t@v2`, u@ts1704067200000 AS u"
        );
        assert_eq!(
            split_as_of("orders@20240101000000000"),
            ("orders", Some(AsOf::Timestamp(1704067200000)))
        );
        assert_eq!(split_as_of("a@b"), ("a@b", None));
        assert_eq!(split_as_of("/x/t@v12"), ("/x/t", Some(AsOf::Version(12))));
    }

    #[test]
    fn bad_versions_are_errors() {
        let mut stmt = Parser::parse_sql(&LakeDialect, "SELECT * FROM t VERSION AS OF 1.5")
            .unwrap()
            .remove(0);
        assert!(collect(&mut stmt).is_err());
    }
}
