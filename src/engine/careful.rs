//! The careful path of file loads (COPY INTO, read_files): CSV and JSON read record by record
//! (see [`crate::ingest::records`]) when bad records are kept apart (a dead-letter table,
//! `mode` DROPMALFORMED or PERMISSIVE), and, after a plain load failed, the file and line it
//! failed on; and for any statement that failed decoding a CSV or JSON file it read (a file read
//! by path, in a query, an INSERT or a MERGE), the file and line.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::dataframe::DataFrame;
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::datasource::MemTable;
use object_store::ObjectStoreExt;

use super::copy_into::{file_format, file_frame, FileRead, Mode, SourceFile};
use super::letters::Letter;
use super::read_files::{as_strings, widened, with_hints, with_types};
use super::Engine;
use crate::catalog;
use crate::error::{LakeError, Result};
use crate::ingest::records::{Records, Rejected};
use crate::sql::copy_into::FileFormat;

impl Engine {
    /// The rows of `files` read record by record (see [`crate::ingest::records`]): the records that do
    /// not parse, or do not fit `types` (the target's columns), come back apart with their
    /// file; in PERMISSIVE mode a value that does not fit is NULL and kept in the rescued column,
    /// and a record that does not parse is a row of NULLs with its text there.
    pub(super) async fn careful_frame(
        &self,
        files: &[SourceFile],
        read: &FileRead,
        with_metadata: bool,
        types: Option<&SchemaRef>,
    ) -> Result<(DataFrame, Vec<(String, Rejected)>, usize)> {
        let dialect = read.dialect()?;
        let infer = read.infer()?;
        let mut recs = Vec::with_capacity(files.len());
        let mut merged: Option<SchemaRef> = None;
        for f in files {
            let r = Records::split(&self.file_bytes(f).await?, read.format, dialect)?;
            let mut one: SchemaRef = Arc::new(r.infer()?);
            if !infer {
                one = as_strings(&one);
            }
            merged = Some(match merged {
                None => one,
                Some(all) => widened(&all, &one),
            });
            recs.push(r);
        }
        let merged = merged.ok_or_else(|| LakeError::Internal("COPY INTO: no files".into()))?;
        let schema = with_types(&with_hints(&merged, read), types);
        let permissive = read.mode == Mode::Permissive;
        let rescued = read.rescued();
        let out_schema = if permissive {
            let mut fields: Vec<Field> =
                schema.fields().iter().map(|f| f.as_ref().clone()).collect();
            fields.push(Field::new(&rescued, DataType::Utf8, true));
            Arc::new(Schema::new(fields))
        } else {
            Arc::clone(&schema)
        };
        let mut rejected = Vec::new();
        let mut fitted = 0;
        let mut all: Option<DataFrame> = None;
        for (f, mut r) in files.iter().zip(recs) {
            let mut batches;
            if permissive {
                let (good, rescued) = r.decode_rescuing(&schema)?;
                batches = good
                    .iter()
                    .map(|b| with_rescued(b, &out_schema, None))
                    .collect::<Result<Vec<_>>>()?;
                for (row, mut values) in rescued {
                    // Databricks' form: the values that did not fit, and the file.
                    values.insert(
                        "_file_path".into(),
                        serde_json::Value::String(f.url.to_string()),
                    );
                    let text = serde_json::Value::Object(values).to_string();
                    batches.push(with_rescued(&row, &out_schema, Some(&[text.as_str()]))?);
                    fitted += 1;
                }
                if !r.rejected.is_empty() {
                    let text: Vec<&str> = r.rejected.iter().map(|x| x.record.as_str()).collect();
                    let nulls = datafusion::arrow::compute::concat_batches(
                        &schema,
                        std::iter::repeat_n(&null_row(&schema)?, text.len()),
                    )?;
                    batches.push(with_rescued(&nulls, &out_schema, Some(&text))?);
                }
            } else {
                batches = r.decode(&schema)?;
            }
            rejected.extend(r.rejected.into_iter().map(|x| (f.url.to_string(), x)));
            let mem = MemTable::try_new(Arc::clone(&out_schema), vec![batches])?;
            let df = self.ctx.read_table(Arc::new(mem))?;
            let df = file_frame(df, f, &out_schema, &out_schema, with_metadata)?;
            all = Some(match all {
                None => df,
                Some(acc) => acc.union(df)?,
            });
        }
        let df = all.ok_or_else(|| LakeError::Internal("COPY INTO: no files to read".into()))?;
        Ok((df, rejected, fitted))
    }

    /// The session's store for the file at `url`.
    fn file_store(&self, url: &url::Url) -> Result<Arc<dyn object_store::ObjectStore>> {
        let url = ListingTableUrl::parse(url.as_str())?;
        Ok(self
            .state()
            .runtime_env()
            .object_store(url.object_store())?)
    }

    pub(super) async fn file_bytes(&self, f: &SourceFile) -> Result<bytes::Bytes> {
        let store = self.file_store(&f.url)?;
        Ok(store.get(&f.meta.location).await?.bytes().await?)
    }

    /// The first record of `f` that does not parse, or does not fit the types a plain read
    /// gives it: where a failed load stopped.
    pub(super) async fn first_bad(&self, f: &SourceFile, read: &FileRead) -> Option<Rejected> {
        if read.format == FileFormat::Parquet {
            return None;
        }
        let bytes = self.file_bytes(f).await.ok()?;
        let mut r = Records::split(&bytes, read.format, read.dialect().ok()?).ok()?;
        if let Some(bad) = r.rejected.first() {
            return Some(bad.clone());
        }
        let state = self.state();
        let url = ListingTableUrl::parse(f.url.as_str()).ok()?;
        let store = state.runtime_env().object_store(url.object_store()).ok()?;
        let mut schema = file_format(read)
            .ok()?
            .infer_schema(&state, &store, std::slice::from_ref(&f.meta))
            .await
            .ok()?;
        if !read.infer().ok()? {
            schema = as_strings(&schema);
        }
        let schema = with_hints(&schema, read);
        r.decode(&schema).ok()?;
        r.rejected.first().cloned()
    }

    /// A load that failed names the file it failed on: each file is read alone until one
    /// fails (only after a failure, so a good load reads every file once).
    pub(super) async fn blame_file(
        &self,
        table: &str,
        files: &[SourceFile],
        c: &FileRead,
        e: LakeError,
    ) -> LakeError {
        if files.len() == 1 {
            return self.blamed(table, &files[0], c, e).await;
        }
        for f in files {
            let read = match self.source_frame(std::slice::from_ref(f), c, false).await {
                Ok(df) => df.count().await.map_err(LakeError::from),
                Err(e) => Err(e),
            };
            if let Err(why) = read {
                return self.blamed(table, f, c, why).await;
            }
        }
        e
    }

    /// `COPY INTO t: file:line: error (record: ...)`, the line when it can be found.
    pub(super) async fn blamed(
        &self,
        table: &str,
        f: &SourceFile,
        c: &FileRead,
        e: LakeError,
    ) -> LakeError {
        let file = catalog::display_url(&f.url);
        let what = if table == "read_files" {
            "read_files".to_string()
        } else {
            format!("COPY INTO {table}")
        };
        LakeError::BadStatement(match self.first_bad(f, c).await {
            Some(bad) => format!("{what}: {}", at_record(&file, &bad)),
            None => format!("{what}: {file}: {e}"),
        })
    }
}

impl Engine {
    /// `e`, a failure decoding a CSV or JSON file the statement opened (a file read by path, or
    /// by `read_files`, whose rows are read after it returned), with the file and the line of
    /// its first record that does not parse or does not fit the types a plain read infers:
    /// each opened file of that format is read again, only now that the statement failed. An
    /// error that no record explains still names the file when the statement opened one.
    pub(super) async fn locate_bad_record(&self, e: LakeError) -> LakeError {
        if let LakeError::OnTable { table, source } = e {
            return LakeError::OnTable {
                table,
                source: Box::new(Box::pin(self.locate_bad_record(*source)).await),
            };
        }
        let text = e.to_string();
        let format = if text.contains("Json error") {
            FileFormat::Json
        } else if text.contains("Csv error") || text.contains("Error while parsing value") {
            FileFormat::Csv
        } else {
            return e;
        };
        let opened: Vec<_> = self
            .reads
            .opened()
            .into_iter()
            .filter(|f| super::read_files::by_extension(f.path.as_ref()) == Some(format))
            .collect();
        for f in &opened {
            let Ok(store) = self.file_store(&f.url) else {
                continue;
            };
            let Ok(meta) = store.head(&f.path).await else {
                continue;
            };
            if meta.size > REREAD_LIMIT {
                continue;
            }
            let sep = if f.path.extension() == Some("tsv") {
                "\t"
            } else {
                ","
            };
            // As a file read by path is read: a CSV header, types inferred.
            let read = FileRead {
                format,
                pattern: None,
                files: vec![],
                options: vec![
                    ("header".into(), "true".into()),
                    ("inferschema".into(), "true".into()),
                    ("sep".into(), sep.into()),
                ],
                hints: vec![],
                mode: Mode::FailFast,
            };
            let file = SourceFile {
                url: f.url.clone(),
                meta,
            };
            if let Some(bad) = self.first_bad(&file, &read).await {
                return LakeError::BadStatement(at_record(&catalog::display_url(&f.url), &bad));
            }
        }
        match opened.as_slice() {
            [f] if !text.contains(&catalog::display_url(&f.url)) => {
                LakeError::BadStatement(format!("{}: {text}", catalog::display_url(&f.url)))
            }
            _ => e,
        }
    }
}

/// `file:line: error (record: ...)`, for a record that does not parse or fit.
fn at_record(file: &str, bad: &Rejected) -> String {
    format!(
        "{file}:{}: {} (record: {})",
        bad.line,
        bad.error,
        shortened(&bad.record)
    )
}

/// The largest CSV or JSON file read again to find a bad record's line.
const REREAD_LIMIT: u64 = 256 << 20;

/// One row of NULLs.
pub(super) fn null_row(schema: &SchemaRef) -> Result<RecordBatch> {
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|f| datafusion::arrow::array::new_null_array(f.data_type(), 1))
        .collect();
    Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
}

/// `batch` with the rescued-data column: `text` per row, or NULL.
pub(super) fn with_rescued(
    batch: &RecordBatch,
    out: &SchemaRef,
    text: Option<&[&str]>,
) -> Result<RecordBatch> {
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    columns.push(match text {
        Some(t) => Arc::new(StringArray::from(t.to_vec())),
        None => datafusion::arrow::array::new_null_array(&DataType::Utf8, batch.num_rows()),
    });
    Ok(RecordBatch::try_new(Arc::clone(out), columns)?)
}

/// Records set aside from files, as dead letters.
pub(super) fn file_letters(rejected: &[(String, Rejected)]) -> Vec<Letter> {
    rejected
        .iter()
        .map(|(source, r)| Letter {
            record: r.record.clone(),
            source: source.clone(),
            line: Some(r.line as i64),
            page: None,
            error: r.error.clone(),
        })
        .collect()
}

/// A record for an error line: its first 80 characters, control characters escaped (`\u{0}`),
/// so a binary file's bytes cannot garble the terminal.
pub(super) fn shortened(record: &str) -> String {
    let mut t = String::new();
    for c in record.chars().take(80) {
        if c.is_control() {
            t.extend(c.escape_default());
        } else {
            t.push(c);
        }
    }
    if record.chars().nth(80).is_some() {
        t.push_str("...");
    }
    t
}

#[cfg(test)]
mod tests {
    use super::shortened;

    #[test]
    fn records_in_error_lines_are_short_and_printable() {
        assert_eq!(shortened("\0\u{1b}[2J{"), "\\u{0}\\u{1b}[2J{");
        let long = "x".repeat(81);
        assert_eq!(shortened(&long), format!("{}...", "x".repeat(80)));
        assert_eq!(shortened(&long[..80]), "x".repeat(80));
    }
}
