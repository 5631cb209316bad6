//! `COPY INTO`: the files under a location that the table has not loaded yet, appended in one
//! commit that also records them, so each file is loaded once.
//!
//! The record is the target's own Delta log, atomic with the rows:
//! - the commit's info holds `lakeshell.copyInto`: each file's URL, size, modification time,
//!   etag and fingerprint (size with etag, or size with modification time);
//! - each file also gets an application transaction (`txn`, Delta's action for idempotent
//!   writes): app id `lakeshell.copy_into:<url>`, version the fingerprint. Two loads of one file
//!   at once then conflict in delta-rs's conflict checker, and the loser's retry skips the file;
//!   and a `txn` survives checkpoints and log clean-up, where commit infos do not.
//!
//! A file is skipped when the record holds its URL with the same fingerprint. A file that
//! changed under a loaded URL is skipped too and named in a note (loading it again would add its
//! old rows a second time); `COPY_OPTIONS ('force' = 'true')` loads every file again.
//!
//! The files are listed and read here ([`FileRead`]); `read_files(...)` reads them the same way
//! ([`super::read_files`]), and loads that keep bad records apart, or name the line a load
//! failed on, read them record by record ([`super::careful`]).

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, StringArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, SchemaRef};
use datafusion::common::{Column, ScalarValue, TableReference};
use datafusion::dataframe::DataFrame;
use datafusion::datasource::file_format::csv::CsvFormat;
use datafusion::datasource::file_format::json::JsonFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::logical_expr::{cast, lit, Expr, LogicalPlan, LogicalPlanBuilder};
use datafusion::sql::sqlparser::ast::{
    Ident, ObjectName, ObjectNamePart, Query, SetExpr, VisitMut, VisitorMut,
};
use futures::TryStreamExt;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};
use serde_json::{json, Value};
use url::Url;

use super::careful::file_letters;
use super::plan::Opened;
use super::read_files::{as_strings, exclude_metadata, hinted_as_text, widened, with_hints};
use super::{Engine, ExecOptions, Outcome};
use crate::catalog::{self, TableName};
use crate::delta::write::{write, Extra, WriteMode, WriteRequest};
use crate::delta::Commit;
use crate::error::{LakeError, Result};
use crate::ingest::records::CsvDialect;
use crate::sql::copy_into::{CopyIntoStatement, CopySource, FileFormat};

/// The commit-info key of the loaded-files record.
const RECORD: &str = "lakeshell.copyInto";
/// The name the files are served under to a `COPY INTO ... FROM (query)`.
const SOURCE: &str = "lakeshell_copy_source";
const ROW: &str = "lakeshell_copy_row";

/// One file under the location.
pub(super) struct SourceFile {
    pub(super) url: Url,
    pub(super) meta: ObjectMeta,
}

impl SourceFile {
    pub(super) fn app_id(&self) -> String {
        format!("lakeshell.copy_into:{}", self.url)
    }

    /// Size with etag (S3, Azure, GCS), else size with modification time, hashed to a
    /// non-negative i64 (a `txn` version).
    pub(super) fn fingerprint(&self) -> i64 {
        use md5::{Digest, Md5};
        let m = &self.meta;
        let text = match &m.e_tag {
            Some(tag) => format!("{}|{tag}", m.size),
            None => format!("{}|{}", m.size, m.last_modified.timestamp_millis()),
        };
        let d = Md5::digest(text.as_bytes());
        let mut b = [0u8; 8];
        b.copy_from_slice(&d[..8]);
        i64::from_be_bytes(b) & i64::MAX
    }

    pub(super) fn name(&self) -> String {
        self.meta
            .location
            .filename()
            .unwrap_or_default()
            .to_string()
    }
}

/// How files are read: what COPY INTO's clauses and `read_files`' arguments both say.
pub(super) struct FileRead {
    pub format: FileFormat,
    pub pattern: Option<String>,
    /// Names under the location; empty: every file.
    pub files: Vec<String>,
    /// FORMAT_OPTIONS (`header`, `inferSchema`, `sep`, ...); keys without case.
    pub options: Vec<(String, String)>,
    /// `schemaHints`: columns read as text and cast to the given type, not inferred.
    pub hints: Vec<(String, DataType)>,
    /// What a malformed record does.
    pub mode: Mode,
}

/// `mode`: what a record that does not parse, or does not fit its column, does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// Fails the load, naming file and line (or goes to the dead-letter table).
    FailFast,
    /// A value that does not fit its column loads as NULL, kept in the rescued-data column with
    /// the file (Databricks' form); a record that does not parse loads as a row of NULLs with
    /// its text there.
    Permissive,
    /// Dropped and counted.
    DropMalformed,
}

impl Mode {
    pub(super) fn parse(v: &str) -> Result<Mode> {
        match v.to_ascii_uppercase().as_str() {
            "FAILFAST" => Ok(Mode::FailFast),
            "PERMISSIVE" => Ok(Mode::Permissive),
            "DROPMALFORMED" => Ok(Mode::DropMalformed),
            _ => Err(LakeError::BadStatement(format!(
                "mode '{v}': use FAILFAST, PERMISSIVE or DROPMALFORMED"
            ))),
        }
    }
}

impl FileRead {
    pub(super) fn of(c: &CopyIntoStatement) -> Result<FileRead> {
        let mode = match c.format_option("mode").or_else(|| c.copy_option("mode")) {
            Some(v) => Mode::parse(v)?,
            None => Mode::FailFast,
        };
        Ok(FileRead {
            format: c.format,
            pattern: c.pattern.clone(),
            files: c.files.clone(),
            options: c.format_options.clone(),
            hints: vec![],
            mode,
        })
    }

    /// The rescued-data column of PERMISSIVE loads.
    pub(super) fn rescued(&self) -> String {
        self.format_option("rescuedDataColumn")
            .unwrap_or("_rescued_data")
            .to_string()
    }

    pub(super) fn infer(&self) -> Result<bool> {
        match self.format_option("inferSchema") {
            Some(v) => parse_bool("inferSchema", v),
            None => Ok(self.format != FileFormat::Csv),
        }
    }

    pub(super) fn dialect(&self) -> Result<CsvDialect> {
        let byte = |keys: &[&str], default: u8| -> Result<u8> {
            match keys
                .iter()
                .find_map(|k| self.format_option(k).map(|v| (*k, v)))
            {
                Some((k, v)) => one_byte(k, v),
                None => Ok(default),
            }
        };
        Ok(CsvDialect {
            header: match self.format_option("header") {
                Some(v) => parse_bool("header", v)?,
                None => false,
            },
            delimiter: byte(&["delimiter", "sep"], b',')?,
            quote: byte(&["quote"], b'"')?,
            escape: self
                .format_option("escape")
                .map(|v| one_byte("escape", v))
                .transpose()?,
        })
    }

    pub(super) fn format_option(&self, key: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn hint(&self, column: &str) -> Option<&DataType> {
        self.hints
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(column))
            .map(|(_, t)| t)
    }
}

/// What one COPY INTO did.
struct Loaded {
    table: String,
    files_loaded: u64,
    files_skipped: u64,
    rows_loaded: u64,
    rows_rejected: u64,
    version: Option<u64>,
    notes: Vec<String>,
}

impl Engine {
    pub(super) async fn copy_into(
        &self,
        c: CopyIntoStatement,
        sql: &str,
        opts: &ExecOptions,
    ) -> Result<Outcome> {
        let name = TableName::from_object(&c.table)?;
        let target = self.warehouse.resolve_for_write(&name).await?;
        let force = flag(&c, "force")?;
        let merge = flag(&c, "mergeSchema")?;
        let read = FileRead::of(&c)?;
        let dead_letter = match c.copy_option("deadLetterTable") {
            Some(n) => Some(
                self.warehouse
                    .resolve_for_write(&TableName::from_text(n)?)
                    .await?,
            ),
            None => None,
        };
        // Records are checked one by one when a malformed one is not to fail the load.
        let careful = (dead_letter.is_some() || read.mode != Mode::FailFast)
            && read.format != FileFormat::Parquet;
        let (location, query) = match &c.source {
            CopySource::Location(l) => (l.clone(), None),
            CopySource::Query(q) => {
                let mut q = q.as_ref().clone();
                let l = take_location(&mut q)?;
                (l, Some(q))
            }
        };
        let with_metadata = query
            .as_ref()
            .is_some_and(|q| q.to_string().contains("_metadata"));
        let _order = with_metadata.then(|| FileOrder::keep(&self.ctx));
        let listed_at = catalog::parse_location(split_glob(&location).0.as_str())?;
        let loaded = super::retry::retrying(|| async {
            let table = self.warehouse.open_for_write(&target).await?;
            let files = self.list_source(&location, &read).await?;
            let mut notes = Vec::new();
            if files.is_empty() {
                notes.push(format!(
                    "no files at {}{}",
                    catalog::display_url(&listed_at),
                    c.pattern
                        .as_ref()
                        .map(|p| format!(" match PATTERN '{p}'"))
                        .unwrap_or_default()
                ));
            }
            let record = if force {
                HashMap::new()
            } else {
                loaded_files(&table, &target.name, &files).await?
            };
            let mut new = Vec::new();
            let mut skipped = 0;
            let mut changed = Vec::new();
            for f in files {
                match record.get(f.url.as_str()) {
                    Some(fp) if *fp == f.fingerprint() => skipped += 1,
                    Some(_) => {
                        skipped += 1;
                        changed.push(catalog::display_url(&f.url));
                    }
                    None => new.push(f),
                }
            }
            if !changed.is_empty() {
                let shown: Vec<&str> = changed.iter().take(5).map(String::as_str).collect();
                notes.push(format!(
                    "{} file(s) changed since they were loaded and were not loaded again: {}{}; COPY_OPTIONS ('force' = 'true') loads them again",
                    changed.len(),
                    shown.join(", "),
                    if changed.len() > 5 { ", ..." } else { "" }
                ));
            }
            let mut done = Loaded {
                table: target.name.clone(),
                files_loaded: new.len() as u64,
                files_skipped: skipped,
                rows_loaded: 0,
                rows_rejected: 0,
                version: table.version(),
                notes,
            };
            if new.is_empty() {
                return Ok((done, None, vec![]));
            }
            let read_now = if careful {
                let types = table
                    .snapshot()
                    .ok()
                    .map(|s| s.snapshot().arrow_schema());
                self.careful_frame(&new, &read, with_metadata, types.as_ref())
                    .await
            } else {
                self.source_frame(&new, &read, with_metadata)
                    .await
                    .map(|f| (f, vec![], 0))
            };
            let (source, rejected, fitted) = match read_now {
                Ok(s) => s,
                Err(e) => return Err(self.blame_file(&target.name, &new, &read, e).await),
            };
            if read.mode == Mode::Permissive {
                if !rejected.is_empty() {
                    done.notes.push(format!(
                        "{} record(s) did not parse and were loaded as NULLs with their text in {}",
                        rejected.len(),
                        read.rescued()
                    ));
                }
                if fitted > 0 {
                    done.notes.push(format!(
                        "{fitted} record(s) had values that did not fit their columns: loaded as NULLs, with the values in {}",
                        read.rescued()
                    ));
                }
            } else {
                done.rows_rejected = rejected.len() as u64;
            }
            let rejected = if read.mode == Mode::Permissive {
                vec![]
            } else {
                rejected
            };
            let plan = match &query {
                None => source.into_unoptimized_plan(),
                Some(q) => {
                    let opened = Opened::default();
                    opened.serve(TableReference::bare(SOURCE), source.into_view())?;
                    self.plan_query(&opened, q).await?
                }
            };
            let exists = table.version().is_some();
            let plan = if exists {
                fit(plan, &table, &target.name, merge)?
            } else {
                plan
            };
            let input = self.run_for_write(plan, opts).await?;
            let (input, enforcement) = self.enforced(input, &target, &table, &[])?;
            let req = WriteRequest {
                table,
                commit: Commit {
                    table: &target.name,
                    sql: Some(sql),
                },
                mode: if exists {
                    WriteMode::Append
                } else {
                    WriteMode::Create
                },
                partition_by: vec![],
                properties: vec![],
                comment: None,
                operation: "COPY INTO",
                replace_where: None,
                merge_schema: merge,
                extra: record_of(&new),
            };
            let m = match write(&self.state(), input, req).await {
                Err(e) if !matches!(e, LakeError::Conflict(_)) => {
                    return Err(self.blame_file(&target.name, &new, &read, e).await)
                }
                other => other?,
            };
            done.rows_loaded = m.rows_inserted;
            done.version = Some(m.version);
            Ok((done, Some((m, enforcement)), rejected))
        })
        .await?;
        let (mut done, written, rejected) = loaded;
        if let Some((mut m, enforcement)) = written {
            self.record_enforcement(&target, &mut m, enforcement)
                .await?;
            done.version = Some(m.version);
            done.notes.extend(m.notes);
        }
        // Dead letters go in after the rows commit: a re-run skips the file, so they are never
        // kept twice.
        if let Some(dl) = &dead_letter {
            if !rejected.is_empty() {
                self.keep_letters(&dl.name, &file_letters(&rejected), Some(&target.name))
                    .await
                    .map_err(|e| {
                        LakeError::PartlyWritten(format!(
                            "{} version {} was written, but its {} rejected record(s) could not be kept in {}: {e}",
                            target.name,
                            done.version.unwrap_or_default(),
                            rejected.len(),
                            dl.name
                        ))
                    })?;
                done.notes.push(format!(
                    "{} record(s) rejected, kept in {}",
                    rejected.len(),
                    dl.name
                ));
            }
        } else if !rejected.is_empty() {
            done.notes.push(format!(
                "{} malformed record(s) dropped (DROPMALFORMED)",
                rejected.len()
            ));
        }
        let notes = std::mem::take(&mut done.notes);
        let out = super::rows(
            vec![
                Field::new("table", DataType::Utf8, false),
                Field::new("files_loaded", DataType::UInt64, false),
                Field::new("files_skipped", DataType::UInt64, false),
                Field::new("rows_loaded", DataType::UInt64, false),
                Field::new("rows_rejected", DataType::UInt64, false),
                Field::new("version", DataType::UInt64, true),
            ],
            vec![
                Arc::new(StringArray::from(vec![done.table])) as ArrayRef,
                Arc::new(UInt64Array::from(vec![done.files_loaded])),
                Arc::new(UInt64Array::from(vec![done.files_skipped])),
                Arc::new(UInt64Array::from(vec![done.rows_loaded])),
                Arc::new(UInt64Array::from(vec![done.rows_rejected])),
                Arc::new(UInt64Array::from(vec![done.version])),
            ],
        )?;
        Ok(match out {
            Outcome::Rows(r) => Outcome::Rows(r.with_notes(notes)),
            other => other,
        })
    }

    /// The files under `location` (a folder, one file, or a folder and a glob) that match
    /// PATTERN and FILES, by path. Names starting `_` or `.` (`_SUCCESS`, `.crc`) are not data.
    pub(super) async fn list_source(
        &self,
        location: &str,
        c: &FileRead,
    ) -> Result<Vec<SourceFile>> {
        let (base, glob_in_path) = split_glob(location);
        let url = catalog::parse_location(&base)?;
        let options = self.warehouse.options_for(&url);
        let (store, prefix) = catalog::open_store(&url, &options)?;
        let mut metas = Vec::new();
        let mut root = prefix.clone();
        if glob_in_path.is_none() && !location.ends_with('/') {
            if let Ok(m) = store.head(&prefix).await {
                root = object_store::path::Path::from_iter(
                    prefix
                        .parts()
                        .take(prefix.parts().count().saturating_sub(1)),
                );
                metas.push(m);
            }
        }
        if metas.is_empty() {
            metas = match store.list(Some(&prefix)).try_collect().await {
                Ok(m) => m,
                Err(object_store::Error::NotFound { .. }) => vec![],
                Err(e) => return Err(e.into()),
            };
        }
        let patterns = [glob_in_path.as_deref(), c.pattern.as_deref()]
            .into_iter()
            .flatten()
            .map(|p| {
                glob::Pattern::new(p)
                    .map_err(|e| LakeError::BadStatement(format!("COPY INTO: PATTERN '{p}': {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let options = glob::MatchOptions {
            require_literal_separator: true,
            ..Default::default()
        };
        let mut files = Vec::new();
        for meta in metas {
            let relative: Vec<String> = meta
                .location
                .prefix_match(&root)
                .map(|parts| parts.map(|p| p.as_ref().to_string()).collect())
                .unwrap_or_default();
            if relative.is_empty()
                || relative
                    .iter()
                    .any(|p| p.starts_with('_') || p.starts_with('.'))
            {
                continue;
            }
            let relative = relative.join("/");
            if !patterns.iter().all(|p| p.matches_with(&relative, options)) {
                continue;
            }
            if !c.files.is_empty() && !c.files.contains(&relative) {
                continue;
            }
            let mut file_url = url.clone();
            file_url.set_path(&format!("/{}", meta.location.as_ref()));
            files.push(SourceFile {
                url: file_url,
                meta,
            });
        }
        files.sort_by(|a, b| a.url.as_str().cmp(b.url.as_str()));
        Ok(files)
    }

    /// The rows of `files`, read with the statement's format options; with `_metadata` (a
    /// struct of each row's file and its position in it) when the query asks for it.
    pub(super) async fn source_frame(
        &self,
        files: &[SourceFile],
        c: &FileRead,
        with_metadata: bool,
    ) -> Result<DataFrame> {
        let format = file_format(c)?;
        let state = self.state();
        let first = ListingTableUrl::parse(files[0].url.as_str())?;
        let store = state.runtime_env().object_store(first.object_store())?;
        let infer = match c.format_option("inferSchema") {
            Some(v) => parse_bool("inferSchema", v)?,
            None => c.format != FileFormat::Csv,
        };
        // Each file's schema, then one that holds them all: DataFusion's own merge refuses
        // 1 and 1.5 in one column when they are in different files.
        let mut own = Vec::with_capacity(files.len());
        let mut merged: Option<SchemaRef> = None;
        for f in files {
            let mut one = format
                .infer_schema(&state, &store, std::slice::from_ref(&f.meta))
                .await?;
            if !infer {
                one = as_strings(&one);
            }
            if c.format != FileFormat::Parquet && !c.hints.is_empty() {
                one = hinted_as_text(&one, c);
            }
            merged = Some(match merged {
                None => Arc::clone(&one),
                Some(all) => widened(&all, &one),
            });
            own.push(one);
        }
        let read_schema =
            merged.ok_or_else(|| LakeError::Internal("COPY INTO: no files".into()))?;
        let schema = with_hints(&read_schema, c);
        let options = ListingOptions::new(format).with_file_extension("");
        let table = |urls: Vec<ListingTableUrl>, schema: &SchemaRef| -> Result<Arc<ListingTable>> {
            let config = ListingTableConfig::new_with_multi_paths(urls)
                .with_listing_options(options.clone())
                .with_schema(Arc::clone(schema));
            Ok(Arc::new(ListingTable::try_new(config)?))
        };
        // CSV columns are positional: a file whose columns differ is read with its own.
        let positional = c.format == FileFormat::Csv;
        let same = own.iter().all(|s| s.fields() == schema.fields());
        if !with_metadata && c.hints.is_empty() && (same || !positional) {
            let urls = files
                .iter()
                .map(|f| ListingTableUrl::parse(f.url.as_str()))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            return Ok(self.ctx.read_table(table(urls, &schema)?)?);
        }
        let mut all: Option<DataFrame> = None;
        for (f, file_schema) in files.iter().zip(&own) {
            let read_as = if positional {
                file_schema
            } else {
                &read_schema
            };
            let df = self.ctx.read_table(table(
                vec![ListingTableUrl::parse(f.url.as_str())?],
                read_as,
            )?)?;
            let df = file_frame(df, f, read_as, &schema, with_metadata)?;
            all = Some(match all {
                None => df,
                Some(acc) => acc.union(df)?,
            });
        }
        all.ok_or_else(|| LakeError::Internal("COPY INTO: no files to read".into()))
    }
}

/// `_metadata` of the rows of `f`: its file and each row's position in it (the frame's `ROW`).
fn metadata_of(f: &SourceFile) -> Expr {
    let modified = ScalarValue::TimestampMicrosecond(
        Some(f.meta.last_modified.timestamp_micros()),
        Some("UTC".into()),
    );
    let row = Expr::Column(Column::from_name(ROW)) - lit(1u64);
    datafusion::functions::core::expr_fn::named_struct(vec![
        lit("file_path"),
        lit(f.url.to_string()),
        lit("file_name"),
        lit(f.name()),
        lit("file_size"),
        lit(f.meta.size as i64),
        lit("file_modification_time"),
        lit(modified),
        lit("file_row_index"),
        cast(row, DataType::Int64),
    ])
}

/// `f`'s rows (read as `read_as`) with `schema`'s columns, cast to its types, NULL where the
/// file has none; and `_metadata` when asked.
pub(super) fn file_frame(
    df: DataFrame,
    f: &SourceFile,
    read_as: &SchemaRef,
    schema: &SchemaRef,
    with_metadata: bool,
) -> Result<DataFrame> {
    let df = if with_metadata {
        df.window(vec![
            datafusion::functions_window::expr_fn::row_number().alias(ROW)
        ])?
    } else {
        df
    };
    let mut columns: Vec<Expr> = schema
        .fields()
        .iter()
        .map(|fl| {
            let value = if read_as.field_with_name(fl.name()).is_ok() {
                Expr::Column(Column::from_name(fl.name()))
            } else {
                lit(ScalarValue::Null)
            };
            cast(value, fl.data_type().clone()).alias(fl.name())
        })
        .collect();
    if with_metadata {
        columns.push(metadata_of(f).alias("_metadata"));
    }
    Ok(df.select(columns)?)
}

/// `folder/2024-*/x.csv` → (`folder/`, `2024-*/x.csv`): the part to list and the glob in it.
pub(super) fn split_glob(location: &str) -> (String, Option<String>) {
    match location.find(['*', '?', '[', '{']) {
        None => (location.to_string(), None),
        Some(i) => {
            let cut = location[..i].rfind('/').map(|j| j + 1).unwrap_or(0);
            let base = if cut == 0 { "." } else { &location[..cut] };
            (base.to_string(), Some(location[cut..].to_string()))
        }
    }
}

/// The quoted path a `COPY INTO ... FROM (query)` reads, which the query then reads as the
/// files to load; a `*` of it leaves `_metadata` out, as Databricks' hidden column is.
fn take_location(q: &mut Query) -> Result<String> {
    struct Paths(Vec<String>);
    impl VisitorMut for Paths {
        type Break = ();
        fn post_visit_relation(&mut self, name: &mut ObjectName) -> std::ops::ControlFlow<()> {
            if let [ObjectNamePart::Identifier(id)] = name.0.as_slice() {
                if id.quote_style == Some('\'') {
                    self.0.push(id.value.clone());
                    *name = ObjectName(vec![ObjectNamePart::Identifier(Ident::new(SOURCE))]);
                }
            }
            std::ops::ControlFlow::Continue(())
        }
    }
    let mut paths = Paths(Vec::new());
    let _ = q.visit(&mut paths);
    if let SetExpr::Select(s) = q.body.as_mut() {
        exclude_metadata(&mut s.projection);
    }
    match paths.0.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(LakeError::BadStatement(
            "COPY INTO ... FROM (query): the query reads no quoted location; write FROM 'landing/orders/' in it".into(),
        )),
        _ => Err(LakeError::BadStatement(
            "COPY INTO ... FROM (query): the query reads more than one quoted location; load each with its own COPY INTO".into(),
        )),
    }
}

/// The format and its options, as DataFusion's readers take them.
pub(super) fn file_format(
    c: &FileRead,
) -> Result<Arc<dyn datafusion::datasource::file_format::FileFormat>> {
    Ok(match c.format {
        FileFormat::Csv => {
            let mut f = CsvFormat::default().with_has_header(match c.format_option("header") {
                Some(v) => parse_bool("header", v)?,
                None => false,
            });
            for key in ["delimiter", "sep"] {
                if let Some(v) = c.format_option(key) {
                    f = f.with_delimiter(one_byte(key, v)?);
                }
            }
            if let Some(v) = c.format_option("quote") {
                f = f.with_quote(one_byte("quote", v)?);
            }
            if let Some(v) = c.format_option("escape") {
                f = f.with_escape(Some(one_byte("escape", v)?));
            }
            if let Some(v) = c.format_option("multiLine") {
                f = f.with_newlines_in_values(parse_bool("multiLine", v)?);
            }
            Arc::new(f)
        }
        FileFormat::Json => Arc::new(JsonFormat::default()),
        FileFormat::Parquet => Arc::new(ParquetFormat::default()),
    })
}

fn one_byte(key: &str, v: &str) -> Result<u8> {
    match v.as_bytes() {
        [b] => Ok(*b),
        _ => Err(LakeError::BadStatement(format!(
            "COPY INTO: FORMAT_OPTIONS '{key}' is one character, not '{v}'"
        ))),
    }
}

fn parse_bool(key: &str, v: &str) -> Result<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(LakeError::BadStatement(format!(
            "COPY INTO: option '{key}' is 'true' or 'false', not '{v}'"
        ))),
    }
}

fn flag(c: &CopyIntoStatement, key: &str) -> Result<bool> {
    c.copy_option(key)
        .map(|v| parse_bool(key, v))
        .transpose()
        .map(Option::unwrap_or_default)
}

/// The files' columns matched to the table's by name and cast to their types; with
/// `mergeSchema`, columns the table lacks are added, otherwise they are an error.
fn fit(
    plan: LogicalPlan,
    table: &deltalake::DeltaTable,
    name: &str,
    merge: bool,
) -> Result<LogicalPlan> {
    let schema = table
        .snapshot()
        .map_err(crate::delta::on_table(name))?
        .snapshot()
        .arrow_schema();
    let given: Vec<String> = plan
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let unknown: Vec<&str> = given
        .iter()
        .filter(|c| schema.field_with_name(c).is_err())
        .map(String::as_str)
        .collect();
    if !merge {
        if !unknown.is_empty() {
            return Err(LakeError::BadStatement(format!(
                "COPY INTO {name}: the files have column(s) {} that the table lacks; COPY_OPTIONS ('mergeSchema' = 'true') adds them",
                unknown.join(", ")
            )));
        }
        return super::dml::fit_to_table(plan, table, name, &given);
    }
    let projection: Vec<Expr> = plan
        .schema()
        .columns()
        .into_iter()
        .map(|c| match schema.field_with_name(&c.name) {
            Ok(f) => cast(Expr::Column(c.clone()), f.data_type().clone()).alias(c.name.clone()),
            Err(_) => Expr::Column(c),
        })
        .collect();
    Ok(LogicalPlanBuilder::from(plan)
        .project(projection)?
        .build()?)
}

/// The files a table has loaded (URL → fingerprint): the commit infos of its retained log, and,
/// when the log no longer reaches version 0, each candidate's `txn` in the snapshot.
async fn loaded_files(
    table: &deltalake::DeltaTable,
    name: &str,
    candidates: &[SourceFile],
) -> Result<HashMap<String, i64>> {
    let mut out = HashMap::new();
    if table.version().is_none() {
        return Ok(out);
    }
    let history = crate::delta::history::read_history(table, None)
        .await
        .map_err(|e| e.on_table(name.to_string()))?;
    for entry in history.iter().rev() {
        let files = entry
            .info
            .get(RECORD)
            .and_then(|r| r.get("files"))
            .and_then(Value::as_array);
        for f in files.into_iter().flatten() {
            if let (Some(p), Some(fp)) = (f["path"].as_str(), f["fingerprint"].as_i64()) {
                out.insert(p.to_string(), fp);
            }
        }
    }
    if history.last().is_some_and(|e| e.version > 0) {
        let snapshot = table.snapshot().map_err(crate::delta::on_table(name))?;
        let log_store = table.log_store();
        for c in candidates {
            if out.contains_key(c.url.as_str()) {
                continue;
            }
            let v = snapshot
                .transaction_version(log_store.as_ref(), c.app_id())
                .await
                .map_err(crate::delta::on_table(name))?;
            if let Some(v) = v {
                out.insert(c.url.to_string(), v);
            }
        }
    }
    Ok(out)
}

/// The record a load commits: commit info and one `txn` per file.
fn record_of(files: &[SourceFile]) -> Extra {
    let now = chrono::Utc::now().timestamp_millis();
    let listed: Vec<Value> = files
        .iter()
        .map(|f| {
            json!({
                "path": f.url.as_str(),
                "size": f.meta.size,
                "modified": f.meta.last_modified.to_rfc3339(),
                "etag": f.meta.e_tag,
                "fingerprint": f.fingerprint(),
            })
        })
        .collect();
    Extra {
        transactions: files
            .iter()
            .map(|f| {
                deltalake::kernel::Transaction::new_with_last_update(
                    f.app_id(),
                    f.fingerprint(),
                    Some(now),
                )
            })
            .collect(),
        metadata: vec![(RECORD.to_string(), json!({ "files": listed }))],
    }
}

/// While a `_metadata` load runs, each file is read as one stream, in order, so
/// `file_row_index` is the row's position in its file.
struct FileOrder {
    ctx: datafusion::execution::context::SessionContext,
    before: bool,
}

impl FileOrder {
    fn keep(ctx: &datafusion::execution::context::SessionContext) -> FileOrder {
        let state = ctx.state_ref();
        let mut s = state.write();
        let o = &mut s.config_mut().options_mut().optimizer;
        let before = o.repartition_file_scans;
        o.repartition_file_scans = false;
        FileOrder {
            ctx: ctx.clone(),
            before,
        }
    }
}

impl Drop for FileOrder {
    fn drop(&mut self) {
        let state = self.ctx.state_ref();
        state
            .write()
            .config_mut()
            .options_mut()
            .optimizer
            .repartition_file_scans = self.before;
    }
}

#[cfg(test)]
mod tests {
    use super::split_glob;

    #[test]
    fn a_glob_in_the_location_splits_off() {
        assert_eq!(
            split_glob("s3://b/landing/"),
            ("s3://b/landing/".into(), None)
        );
        assert_eq!(
            split_glob("s3://b/landing/2024-*/*.csv"),
            ("s3://b/landing/".into(), Some("2024-*/*.csv".into()))
        );
        assert_eq!(split_glob("*.json"), (".".into(), Some("*.json".into())));
    }
}
