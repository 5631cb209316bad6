//! How a statement names a table, the one set of rules every part of lakeshell uses: a
//! warehouse name (`t`, `schema.t`, `lakeshell.schema.t`; unquoted parts lower-cased as SQL
//! identifiers are), or a location (``delta.`s3://b/t` ``, a quoted path, `'silver/orders'`).

use datafusion::common::TableReference;
use datafusion::sql::sqlparser::ast::ObjectName;

use crate::error::{LakeError, Result};

/// The schema an unqualified name means.
pub const DEFAULT_SCHEMA: &str = "default";
/// The catalog name lakeshell registers with DataFusion.
pub const CATALOG: &str = "lakeshell";
/// The schema that addresses a table by its location: ``delta.`s3://b/t` ``.
pub const PATH_SCHEMA: &str = "delta";

/// A table as a statement names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TableName {
    /// `schema.table` in the warehouse (or registered there).
    Warehouse { schema: String, table: String },
    /// A location, as written.
    Path(String),
}

impl TableName {
    /// A name from its parts, already normalised (unquoted parts lower-cased).
    pub fn from_parts(parts: &[String]) -> Result<TableName> {
        let looks_like_path = |s: &str| s.contains('/') || s.contains(':') || s.contains('.');
        match parts {
            [t] if looks_like_path(t) => Ok(TableName::Path(t.clone())),
            [t] => Ok(TableName::warehouse(DEFAULT_SCHEMA, t)),
            [s, t] if s == PATH_SCHEMA => Ok(TableName::Path(t.clone())),
            [s, t] => Ok(TableName::warehouse(s, t)),
            [c, s, t] if c == CATALOG && s == PATH_SCHEMA => Ok(TableName::Path(t.clone())),
            [c, s, t] if c == CATALOG => Ok(TableName::warehouse(s, t)),
            _ => Err(LakeError::BadName(format!(
                "bad table name {}: use schema.table",
                parts.join(".")
            ))),
        }
    }

    /// The name of an `ObjectName` as parsed.
    pub fn from_object(name: &ObjectName) -> Result<TableName> {
        let parts: Vec<String> = name
            .0
            .iter()
            .map(|p| {
                p.as_ident()
                    .map(|i| {
                        if i.quote_style.is_some() {
                            i.value.clone()
                        } else {
                            i.value.to_ascii_lowercase()
                        }
                    })
                    .unwrap_or_default()
            })
            .collect();
        Self::from_parts(&parts)
    }

    /// The name of a DataFusion table reference (its parts are already normalised).
    pub fn from_reference(r: &TableReference) -> Result<TableName> {
        let parts: Vec<String> = match r {
            TableReference::Bare { table } => vec![table.to_string()],
            TableReference::Partial { schema, table } => {
                vec![schema.to_string(), table.to_string()]
            }
            TableReference::Full {
                catalog,
                schema,
                table,
            } => vec![catalog.to_string(), schema.to_string(), table.to_string()],
        };
        Self::from_parts(&parts)
    }

    /// A table named in a string (`'silver.orders'` or `'s3://b/t'`), as table functions and
    /// flags take it.
    pub fn from_text(text: &str) -> Result<TableName> {
        let text = text.trim();
        if text.contains('/') || text.contains(':') {
            return Ok(TableName::Path(text.to_string()));
        }
        let parts: Vec<String> = text.split('.').map(str::to_ascii_lowercase).collect();
        Self::from_parts(&parts)
    }

    fn warehouse(schema: &str, table: &str) -> TableName {
        TableName::Warehouse {
            schema: schema.to_string(),
            table: table.to_string(),
        }
    }

    /// `schema.table`, for a warehouse name.
    pub fn qualified(&self) -> Option<String> {
        match self {
            TableName::Warehouse { schema, table } => Some(format!("{schema}.{table}")),
            TableName::Path(_) => None,
        }
    }
}

impl std::fmt::Display for TableName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TableName::Warehouse { schema, table } => write!(f, "{schema}.{table}"),
            TableName::Path(p) => f.write_str(p),
        }
    }
}

/// The name among `known` (qualified `schema.table`) closest to `wanted`, a mistyped table name,
/// for a "did you mean" hint: at most one edit per three characters (and at least one), and none
/// for an exact match. An unqualified `wanted` (in the default schema) also matches a table of
/// the same name in any schema.
pub fn closest_table<'a>(
    wanted: &str,
    known: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let bare = wanted
        .strip_prefix(&format!("{DEFAULT_SCHEMA}."))
        .unwrap_or(wanted);
    let unqualified = !bare.contains('.');
    known
        .into_iter()
        .filter(|k| *k != wanted)
        .map(|k| {
            let mut d = strsim::damerau_levenshtein(wanted, k);
            if unqualified {
                let table = k.rsplit('.').next().unwrap_or(k);
                d = d.min(strsim::damerau_levenshtein(bare, table));
            }
            (d, k)
        })
        .filter(|(d, _)| *d <= (bare.chars().count() / 3).max(1))
        .min_by_key(|(d, k)| (*d, k.len()))
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::dialect::LakeDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn object(sql: &str) -> TableName {
        let mut p = Parser::new(&LakeDialect).try_with_sql(sql).unwrap();
        TableName::from_object(&p.parse_object_name(false).unwrap()).unwrap()
    }

    #[test]
    fn every_spelling_resolves_the_same_way() {
        let orders = TableName::Warehouse {
            schema: "sales".into(),
            table: "orders".into(),
        };
        assert_eq!(object("sales.orders"), orders);
        assert_eq!(object("Sales.Orders"), orders);
        assert_eq!(object("lakeshell.sales.orders"), orders);
        assert_eq!(TableName::from_text("sales.orders").unwrap(), orders);
        assert_eq!(
            TableName::from_reference(&TableReference::full("lakeshell", "sales", "orders"))
                .unwrap(),
            orders
        );
        assert_eq!(object("t").qualified().unwrap(), "default.t");
        assert_eq!(
            object("delta.`s3://b/t`"),
            TableName::Path("s3://b/t".into())
        );
        assert_eq!(
            TableName::from_text("s3://b/t").unwrap(),
            TableName::Path("s3://b/t".into())
        );
        assert!(TableName::from_parts(&["a".into(), "b".into(), "c".into()]).is_err());
    }

    #[test]
    fn suggests_the_closest_table_name() {
        let known = [
            "silver.orders",
            "silver.customers",
            "gold.revenue",
            "default.orders",
        ];
        let k = || known.iter().copied();
        assert_eq!(closest_table("silver.ordrs", k()), Some("silver.orders"));
        assert_eq!(closest_table("silver.orders", k()), None);
        assert_eq!(closest_table("gold.revenu", k()), Some("gold.revenue"));
        // A bare name finds its table in any schema.
        assert_eq!(
            closest_table("default.customer", k()),
            Some("silver.customers")
        );
        // Too far from everything: no guess.
        assert_eq!(closest_table("default.zzz", k()), None);
        assert_eq!(closest_table("silver.x", k()), None);
    }
}
