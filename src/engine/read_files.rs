//! `read_files(...)`, Databricks' table function: files read as COPY INTO reads them, and the
//! hidden `_metadata` column of every file read.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::sql::sqlparser::ast::{
    ExcludeSelectItem, Expr as SqlExpr, Ident, ObjectName, ObjectNamePart, Query, SelectItem,
    SetExpr, Value as SqlValue, VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::parser::Parser;

use super::careful::file_letters;
use super::copy_into::{FileRead, Mode};
use super::Engine;
use crate::error::{LakeError, Result};
use crate::sql::copy_into::FileFormat;

impl Engine {
    /// `read_files('location', format => 'csv', pattern => '*.csv', schemaHints => 'amount
    /// DECIMAL(10,2)', header => true, ...)`: the files as a table, read as COPY INTO reads them;
    /// the format is the files' extension's when not given.
    pub(super) async fn read_files(
        &self,
        args: &[SqlExpr],
        with_metadata: bool,
    ) -> Result<Arc<dyn TableProvider>> {
        let usage = || {
            LakeError::BadStatement(
                "read_files takes ('location' [, format => 'csv' | 'json' | 'parquet'] [, pattern => 'glob'] [, schemaHints => 'column TYPE, ...'] [, header => true, inferSchema => true, sep => ',', ...])".into(),
            )
        };
        let (first, rest) = args.split_first().ok_or_else(usage)?;
        let location = super::changes::text_arg(first).ok_or_else(usage)?;
        let mut read = FileRead {
            format: FileFormat::Csv,
            pattern: None,
            files: vec![],
            options: vec![],
            hints: vec![],
            mode: Mode::FailFast,
        };
        let mut format = None;
        let mut dead_letter = None;
        for a in rest {
            let SqlExpr::Named { expr, name } = a else {
                return Err(usage());
            };
            let value = option_text(expr).ok_or_else(usage)?;
            match name.value.to_ascii_lowercase().as_str() {
                "format" => {
                    format = Some(FileFormat::parse(&value).ok_or_else(|| {
                        LakeError::BadStatement(format!(
                            "read_files: format '{value}' is not one lakeshell reads; use 'csv', 'json' or 'parquet'"
                        ))
                    })?)
                }
                "pattern" | "pathglobfilter" => read.pattern = Some(value),
                "schemahints" => read.hints = self.schema_hints(&value)?,
                "mode" => read.mode = Mode::parse(&value)?,
                "dead_letter" | "deadlettertable" => dead_letter = Some(value),
                _ => read.options.push((name.value.clone(), value)),
            }
        }
        let files = self.list_source(&location, &read).await?;
        let Some(one) = files.first() else {
            return Err(LakeError::BadStatement(format!(
                "read_files: no files at {location}{}",
                read.pattern
                    .as_ref()
                    .map(|p| format!(" match pattern '{p}'"))
                    .unwrap_or_default()
            )));
        };
        read.format = match format {
            Some(f) => f,
            None => by_extension(&one.name()).ok_or_else(|| {
                LakeError::BadStatement(format!(
                    "read_files: {} has no extension lakeshell knows; say format => 'csv', 'json' or 'parquet'",
                    one.name()
                ))
            })?,
        };
        if read.format == FileFormat::Csv && read.format_option("inferSchema").is_none() {
            // read_files infers column types (Databricks' inferColumnTypes), COPY INTO does not.
            read.options.push(("inferSchema".into(), "true".into()));
        }
        let careful = (read.mode != Mode::FailFast || dead_letter.is_some())
            && read.format != FileFormat::Parquet;
        let frame = if careful {
            match self.careful_frame(&files, &read, with_metadata, None).await {
                Ok((f, rejected, _)) => {
                    if let (Some(dl), false) = (&dead_letter, read.mode == Mode::Permissive) {
                        self.letters_after(dl, file_letters(&rejected))?;
                    }
                    Ok(f)
                }
                Err(e) => Err(e),
            }
        } else {
            self.source_frame(&files, &read, with_metadata).await
        };
        let frame = match frame {
            Ok(f) => f,
            Err(e) => return Err(self.blame_file("read_files", &files, &read, e).await),
        };
        Ok(frame.into_view())
    }

    /// `schemaHints => 'amount DECIMAL(10,2), id BIGINT'`: each column's type, as DataFusion maps
    /// the SQL type.
    pub(super) fn schema_hints(&self, text: &str) -> Result<Vec<(String, DataType)>> {
        use datafusion::logical_expr::ExprSchemable;
        use datafusion::sql::sqlparser::ast::CastKind;
        let bad = |e: String| LakeError::BadStatement(format!("schemaHints '{text}': {e}"));
        let dialect = crate::sql::dialect::LakeDialect;
        let mut p = Parser::new(&dialect)
            .try_with_sql(text)
            .map_err(|e| bad(e.to_string()))?;
        let cols = p
            .parse_comma_separated(|p| Ok((p.parse_identifier()?, p.parse_data_type()?)))
            .map_err(|e| bad(e.to_string()))?;
        let empty = datafusion::common::DFSchema::empty();
        let mut out = Vec::new();
        for (name, ty) in cols {
            let cast = SqlExpr::Cast {
                kind: CastKind::Cast,
                expr: Box::new(SqlExpr::value(SqlValue::Null)),
                data_type: ty,
                array: false,
                format: None,
            };
            let t = self.plan_expr(&cast, &empty)?.get_type(&empty)?;
            out.push((name.value, t));
        }
        Ok(out)
    }
}

/// A file's format by its extension.
pub(super) fn by_extension(name: &str) -> Option<FileFormat> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    match ext.as_str() {
        "csv" | "tsv" | "txt" => Some(FileFormat::Csv),
        "json" | "ndjson" | "jsonl" => Some(FileFormat::Json),
        "parquet" => Some(FileFormat::Parquet),
        _ => None,
    }
}

/// An option's value as text: `'csv'`, `true`, `1000`.
pub(super) fn option_text(e: &SqlExpr) -> Option<String> {
    match e {
        SqlExpr::Value(v) => match &v.value {
            SqlValue::SingleQuotedString(s) | SqlValue::DoubleQuotedString(s) => Some(s.clone()),
            SqlValue::Boolean(b) => Some(b.to_string()),
            SqlValue::Number(n, _) => Some(n.clone()),
            _ => None,
        },
        SqlExpr::Identifier(i) => Some(i.value.clone()),
        _ => None,
    }
}

/// True when `node` names `_metadata` (`_metadata.file_name`, `_metadata`).
pub(super) fn mentions_metadata<N: VisitMut>(node: &mut N) -> bool {
    struct Find(bool);
    impl VisitorMut for Find {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &mut SqlExpr) -> std::ops::ControlFlow<()> {
            let named = match e {
                SqlExpr::Identifier(i) => i.value == "_metadata",
                SqlExpr::CompoundIdentifier(parts) => parts.iter().any(|p| p.value == "_metadata"),
                _ => false,
            };
            if named {
                self.0 = true;
                return std::ops::ControlFlow::Break(());
            }
            std::ops::ControlFlow::Continue(())
        }
    }
    let mut f = Find(false);
    let _ = node.visit(&mut f);
    f.0
}

/// Every `*` of a SELECT that reads a relation served as `prefix#n` leaves `_metadata` out, as
/// Databricks' hidden column is.
pub(super) fn hide_metadata<N: VisitMut>(node: &mut N, prefix: &str) {
    struct Hide<'a>(&'a str);
    impl VisitorMut for Hide<'_> {
        type Break = ();
        fn pre_visit_query(&mut self, q: &mut Query) -> std::ops::ControlFlow<()> {
            if let SetExpr::Select(s) = q.body.as_mut() {
                let reads = s.from.iter().any(|t| {
                    std::iter::once(&t.relation)
                        .chain(t.joins.iter().map(|j| &j.relation))
                        .any(|r| match r {
                            datafusion::sql::sqlparser::ast::TableFactor::Table {
                                name, ..
                            } => name
                                .to_string()
                                .trim_matches('"')
                                .starts_with(&format!("{}#", self.0)),
                            _ => false,
                        })
                });
                if reads {
                    exclude_metadata(&mut s.projection);
                }
            }
            std::ops::ControlFlow::Continue(())
        }
    }
    let _ = node.visit(&mut Hide(prefix));
}

pub(super) fn exclude_metadata(projection: &mut [SelectItem]) {
    for item in projection {
        if let SelectItem::Wildcard(o) = item {
            if o.opt_exclude.is_none() && o.opt_except.is_none() {
                o.opt_exclude = Some(ExcludeSelectItem::Single(ObjectName(vec![
                    ObjectNamePart::Identifier(Ident::new("_metadata")),
                ])));
            }
        }
    }
}

/// One schema for rows of `a` and of `b`: their columns in order of appearance, a column in
/// both with the narrowest type that holds either (integers and floats as floats, anything
/// else that differs as text).
pub(super) fn widened(a: &SchemaRef, b: &SchemaRef) -> SchemaRef {
    let mut fields: Vec<Field> = a.fields().iter().map(|f| f.as_ref().clone()).collect();
    for f in b.fields() {
        match fields.iter_mut().find(|x| x.name() == f.name()) {
            None => fields.push(f.as_ref().clone().with_nullable(true)),
            Some(x) if x.data_type() == f.data_type() => {}
            Some(x) => {
                let (l, r) = (x.data_type(), f.data_type());
                let t = match (l, r) {
                    (DataType::Null, t) | (t, DataType::Null) => t.clone(),
                    (l, r) if l.is_integer() && r.is_integer() => DataType::Int64,
                    (l, r) if l.is_numeric() && r.is_numeric() => DataType::Float64,
                    _ => DataType::Utf8,
                };
                *x = Field::new(x.name(), t, true);
            }
        }
    }
    Arc::new(Schema::new(fields))
}

/// Hinted columns as text, so the cast to the hint parses the value as written.
pub(super) fn hinted_as_text(schema: &SchemaRef, c: &FileRead) -> SchemaRef {
    Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| match c.hint(f.name()) {
                Some(_) => Field::new(f.name(), DataType::Utf8, true),
                None => f.as_ref().clone(),
            })
            .collect::<Vec<_>>(),
    ))
}

/// The schema with each hinted column of the type its hint gives.
pub(super) fn with_hints(schema: &SchemaRef, c: &FileRead) -> SchemaRef {
    Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| match c.hint(f.name()) {
                Some(t) => Field::new(f.name(), t.clone(), true),
                None => f.as_ref().clone(),
            })
            .collect::<Vec<_>>(),
    ))
}

/// Every column as text (CSV without `inferSchema`, as Databricks reads it).
pub(super) fn as_strings(schema: &SchemaRef) -> SchemaRef {
    Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| Field::new(f.name(), DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ))
}

/// The schema with each column the target has of the target's type.
pub(super) fn with_types(schema: &SchemaRef, types: Option<&SchemaRef>) -> SchemaRef {
    let Some(t) = types else {
        return Arc::clone(schema);
    };
    Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| match t.field_with_name(f.name()) {
                Ok(tf) => Field::new(f.name(), tf.data_type().clone(), true),
                Err(_) => f.as_ref().clone(),
            })
            .collect::<Vec<_>>(),
    ))
}
