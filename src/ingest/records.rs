//! Record-level reading of CSV and JSON files, for loads that keep malformed records apart (a
//! dead-letter table, `mode` DROPMALFORMED or PERMISSIVE) and for naming the line a failed load
//! stopped at. Each record is checked on its own: one that does not parse (not JSON, not an
//! object, the wrong number of CSV fields), or whose value does not fit its column, is set aside
//! with its line and error, and the others are decoded by arrow's own readers. A file read this
//! way is held in memory while it loads.

use std::io::Cursor;
use std::sync::Arc;

use datafusion::arrow::array::{new_null_array, Array, ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::error::{LakeError, Result};
use crate::sql::copy_into::FileFormat;

/// One record set aside.
#[derive(Debug, Clone)]
pub(crate) struct Rejected {
    /// The record as written.
    pub record: String,
    /// 1-based line where the record starts.
    pub line: u64,
    pub error: String,
}

/// A file's records, parsed but not yet decoded.
pub(crate) struct Records {
    format: FileFormat,
    /// CSV: the header's names (or `column_N`); JSON: empty.
    header: Vec<String>,
    /// The records that parsed: their text and line.
    good: Vec<(String, u64)>,
    pub rejected: Vec<Rejected>,
    csv: CsvDialect,
}

/// The values of a record that did not fit their columns: column name to text.
pub(crate) type Rescued = serde_json::Map<String, serde_json::Value>;

/// A record loaded with its misfits NULL (one row), and the misfits.
pub(crate) type RescuedRow = (RecordBatch, Rescued);

/// How a CSV file is written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CsvDialect {
    pub header: bool,
    pub delimiter: u8,
    pub quote: u8,
    pub escape: Option<u8>,
}

/// serde's error for one line, with its position as a column (serde counts the line as line 1
/// of its own).
fn json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rsplit_once(" at line ") {
        Some((what, _)) => format!("{what} at column {}", e.column()),
        None => text,
    }
}

impl Records {
    /// Splits `bytes` into records and checks each one parses.
    pub(crate) fn split(bytes: &[u8], format: FileFormat, csv: CsvDialect) -> Result<Records> {
        let mut r = Records {
            format,
            header: vec![],
            good: vec![],
            rejected: vec![],
            csv,
        };
        match format {
            FileFormat::Json => {
                let text = String::from_utf8_lossy(bytes);
                for (i, line) in text.lines().enumerate() {
                    if line.trim().is_empty() {
                        continue;
                    }
                    let line_no = i as u64 + 1;
                    match serde_json::from_str::<serde_json::Value>(line) {
                        Ok(v) if v.is_object() => r.good.push((line.to_string(), line_no)),
                        Ok(_) => r.reject(line, line_no, "not a JSON object".into()),
                        Err(e) => r.reject(line, line_no, format!("not valid JSON: {}", json_error(&e))),
                    }
                }
            }
            FileFormat::Csv => r.split_csv(bytes),
            FileFormat::Parquet => {
                return Err(LakeError::Unsupported(
                    "dead letters and mode for Parquet: its records are typed, so only a whole file can be malformed".into(),
                ))
            }
        }
        Ok(r)
    }

    fn reject(&mut self, record: &str, line: u64, error: String) {
        self.rejected.push(Rejected {
            record: record.trim_end_matches(['\r', '\n']).to_string(),
            line,
            error,
        });
    }

    fn split_csv(&mut self, bytes: &[u8]) {
        let mut b = csv::ReaderBuilder::new();
        b.has_headers(false)
            .flexible(true)
            .delimiter(self.csv.delimiter)
            .quote(self.csv.quote)
            .escape(self.csv.escape);
        let mut reader = b.from_reader(bytes);
        let mut starts: Vec<(u64, u64, Result<usize, String>)> = Vec::new();
        let mut rec = csv::ByteRecord::new();
        loop {
            let pos = reader.position().clone();
            match reader.read_byte_record(&mut rec) {
                Ok(false) => break,
                Ok(true) => starts.push((pos.byte(), pos.line(), Ok(rec.len()))),
                Err(e) => starts.push((pos.byte(), pos.line(), Err(e.to_string()))),
            }
            if self.csv.header && self.header.is_empty() && starts.len() == 1 {
                self.header = rec
                    .iter()
                    .map(|f| String::from_utf8_lossy(f).into_owned())
                    .collect();
            }
        }
        let end = bytes.len() as u64;
        let text = |i: usize| -> String {
            let from = starts[i].0 as usize;
            let to = starts.get(i + 1).map_or(end, |s| s.0) as usize;
            String::from_utf8_lossy(&bytes[from..to.min(bytes.len())]).into_owned()
        };
        let skip = usize::from(self.csv.header);
        let expected = match (self.csv.header, starts.first()) {
            (true, _) => self.header.len(),
            (false, Some((_, _, Ok(n)))) => *n,
            _ => 0,
        };
        if !self.csv.header {
            self.header = (1..=expected).map(|i| format!("column_{i}")).collect();
        }
        for (i, (_, line, fields)) in starts.iter().enumerate().skip(skip) {
            let record = text(i);
            let line = *line;
            match fields {
                Ok(n) if *n == expected => self.good.push((record, line)),
                Ok(n) => self.reject(
                    &record,
                    line,
                    format!("expected {expected} fields, found {n}"),
                ),
                Err(e) => {
                    let e = e.clone();
                    self.reject(&record, line, e)
                }
            }
        }
    }

    /// The schema arrow infers from the records that parsed.
    pub(crate) fn infer(&self) -> Result<Schema> {
        match self.format {
            FileFormat::Json => {
                let values = self
                    .good
                    .iter()
                    .filter_map(|(l, _)| serde_json::from_str::<serde_json::Value>(l).ok())
                    .map(Ok);
                Ok(datafusion::arrow::json::reader::infer_json_schema_from_iterator(values)?)
            }
            _ => {
                let body = self.body(self.good.iter().map(|(t, _)| t.as_str()));
                let (schema, _) = self
                    .csv_format(false)
                    .infer_schema(Cursor::new(body), None)?;
                // Names from the header; the types arrow found.
                Ok(Schema::new(
                    schema
                        .fields()
                        .iter()
                        .zip(&self.header)
                        .map(|(f, name)| Field::new(name, f.data_type().clone(), true))
                        .collect::<Vec<_>>(),
                ))
            }
        }
    }

    fn csv_format(&self, header: bool) -> datafusion::arrow::csv::reader::Format {
        let mut f = datafusion::arrow::csv::reader::Format::default()
            .with_header(header)
            .with_delimiter(self.csv.delimiter)
            .with_quote(self.csv.quote);
        if let Some(e) = self.csv.escape {
            f = f.with_escape(e);
        }
        f
    }

    fn body<'a>(&self, records: impl Iterator<Item = &'a str>) -> Vec<u8> {
        let mut out = Vec::new();
        for r in records {
            out.extend_from_slice(r.trim_end_matches(['\r', '\n']).as_bytes());
            out.push(b'\n');
        }
        out
    }

    /// The records decoded with `schema`'s types (columns by name); a record whose value does
    /// not fit is set aside. The batches have `schema`'s columns, in its order.
    pub(crate) fn decode(&mut self, schema: &SchemaRef) -> Result<Vec<RecordBatch>> {
        let good = std::mem::take(&mut self.good);
        let all = self.decode_some(schema, good.iter().map(|(t, _)| t.as_str()));
        if let Ok(batches) = all {
            return Ok(batches);
        }
        let mut out = Vec::new();
        for (text, line) in &good {
            match self.decode_some(schema, std::iter::once(text.as_str())) {
                Ok(b) => out.extend(b),
                Err(e) => {
                    let why = self.clean(&e.to_string());
                    self.reject(text, *line, why)
                }
            }
        }
        Ok(out)
    }

    /// As [`Records::decode`], for PERMISSIVE loads: a record whose values parse but some do
    /// not fit their columns loads with those columns NULL, and comes back apart as one row with
    /// the values that did not fit, as a JSON object of column to text (Databricks' rescued
    /// data). A record that does not parse at all stays rejected.
    pub(crate) fn decode_rescuing(
        &mut self,
        schema: &SchemaRef,
    ) -> Result<(Vec<RecordBatch>, Vec<RescuedRow>)> {
        let before = self.rejected.len();
        let batches = self.decode(schema)?;
        let misfits = self.rejected.split_off(before);
        let mut rescued = Vec::new();
        for bad in misfits {
            match self.rescue(schema, &bad.record) {
                Some(one) => rescued.push(one),
                None => self.rejected.push(bad),
            }
        }
        Ok((batches, rescued))
    }

    /// `record` with its values that do not fit `schema` as NULLs, and those values.
    fn rescue(&self, schema: &SchemaRef, record: &str) -> Option<RescuedRow> {
        let fits = |f: &Field| {
            self.decode_some(
                &Arc::new(Schema::new(vec![f.clone()])),
                std::iter::once(record),
            )
            .is_ok()
        };
        let misfits: Vec<&Field> = schema
            .fields()
            .iter()
            .map(|f| f.as_ref())
            .filter(|f| !fits(f))
            .collect();
        if misfits.is_empty() {
            return None;
        }
        // Read the misfits as text, then put NULLs of their types in their place.
        let as_text: SchemaRef = Arc::new(Schema::new(
            schema
                .fields()
                .iter()
                .map(|f| {
                    if misfits.iter().any(|m| m.name() == f.name()) {
                        Field::new(f.name(), DataType::Utf8, true)
                    } else {
                        f.as_ref().clone()
                    }
                })
                .collect::<Vec<_>>(),
        ));
        let (text_of, row) = match self.format {
            FileFormat::Json => {
                // JSON values keep their own form; the record without them decodes.
                let mut obj: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(record).ok()?;
                let mut text = serde_json::Map::new();
                for m in &misfits {
                    if let Some(v) = obj.remove(m.name()) {
                        let t = match v {
                            serde_json::Value::String(s) => s,
                            other => other.to_string(),
                        };
                        text.insert(m.name().clone(), serde_json::Value::String(t));
                    }
                }
                let rest = serde_json::Value::Object(obj).to_string();
                let row = self
                    .decode_some(schema, std::iter::once(rest.as_str()))
                    .ok()?;
                (text, row)
            }
            _ => {
                let read = self.decode_some(&as_text, std::iter::once(record)).ok()?;
                let batch = datafusion::arrow::compute::concat_batches(&as_text, &read).ok()?;
                let mut text = serde_json::Map::new();
                let mut columns: Vec<ArrayRef> = Vec::new();
                for (i, f) in schema.fields().iter().enumerate() {
                    if misfits.iter().any(|m| m.name() == f.name()) {
                        let col = batch.column(i);
                        let s = col
                            .as_any()
                            .downcast_ref::<datafusion::arrow::array::StringArray>()?;
                        if s.len() == 1 && !s.is_null(0) {
                            text.insert(
                                f.name().clone(),
                                serde_json::Value::String(s.value(0).to_string()),
                            );
                        }
                        columns.push(new_null_array(f.data_type(), 1));
                    } else {
                        columns.push(Arc::clone(batch.column(i)));
                    }
                }
                (
                    text,
                    vec![RecordBatch::try_new(Arc::clone(schema), columns).ok()?],
                )
            }
        };
        let row = datafusion::arrow::compute::concat_batches(schema, &row).ok()?;
        (row.num_rows() == 1).then_some((row, text_of))
    }

    /// arrow's "Parser error: Error while parsing value 'abc' as type 'Float64' for column 1 at
    /// line 0. Row data: ..." as "column amount: 'abc' is not a Float64".
    fn clean(&self, e: &str) -> String {
        let between = |from: &str, to: &str| -> Option<&str> {
            let start = e.find(from)? + from.len();
            let len = e[start..].find(to)?;
            Some(&e[start..start + len])
        };
        let parsed = (|| {
            let value = between("parsing value '", "' as type")?;
            let ty = between("as type '", "'")?;
            let column: usize = between("for column ", " ")?.parse().ok()?;
            let name = self
                .header
                .get(column)
                .cloned()
                .unwrap_or_else(|| column.to_string());
            Some(format!("column {name}: '{value}' is not a {ty}"))
        })();
        parsed.unwrap_or_else(|| {
            e.trim_start_matches("output: ")
                .trim_start_matches("Parser error: ")
                .trim_start_matches("Json error: ")
                .to_string()
        })
    }

    fn decode_some<'a>(
        &self,
        schema: &SchemaRef,
        records: impl Iterator<Item = &'a str>,
    ) -> Result<Vec<RecordBatch>> {
        let body = self.body(records);
        let batches: Vec<RecordBatch> = match self.format {
            FileFormat::Json => datafusion::arrow::json::ReaderBuilder::new(Arc::clone(schema))
                .build(Cursor::new(body))?
                .collect::<std::result::Result<_, _>>()?,
            _ => {
                // CSV is positional: read with the file's own columns, then line them up.
                let own: SchemaRef = Arc::new(Schema::new(
                    self.header
                        .iter()
                        .map(|h| match schema.field_with_name(h) {
                            Ok(f) => Field::new(h, f.data_type().clone(), true),
                            Err(_) => Field::new(h, DataType::Utf8, true),
                        })
                        .collect::<Vec<_>>(),
                ));
                let read: Vec<RecordBatch> =
                    datafusion::arrow::csv::ReaderBuilder::new(Arc::clone(&own))
                        .with_format(self.csv_format(false))
                        .build(Cursor::new(body))?
                        .collect::<std::result::Result<_, _>>()?;
                read.into_iter()
                    .map(|b| aligned(&b, schema))
                    .collect::<Result<_>>()?
            }
        };
        Ok(batches)
    }
}

/// `batch` with `schema`'s columns in its order, NULL where it has none.
fn aligned(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|f| match batch.schema().index_of(f.name()) {
            Ok(i) => Arc::clone(batch.column(i)),
            Err(_) => new_null_array(f.data_type(), batch.num_rows()),
        })
        .collect();
    Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: CsvDialect = CsvDialect {
        header: true,
        delimiter: b',',
        quote: b'"',
        escape: None,
    };

    #[test]
    fn malformed_csv_records_are_set_aside_with_their_lines() {
        let text = b"id,amount\n1,10.5\n2,20,extra\n3,abc\n4,\"4.5\"\n";
        let mut r = Records::split(text, FileFormat::Csv, CSV).unwrap();
        assert_eq!(r.rejected.len(), 1);
        assert_eq!(r.rejected[0].line, 3);
        assert_eq!(r.rejected[0].record, "2,20,extra");
        assert!(r.rejected[0].error.contains("expected 2 fields, found 3"));
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("amount", DataType::Float64, true),
        ]));
        let batches = r.decode(&schema).unwrap();
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows, 2);
        assert_eq!(r.rejected.len(), 2);
        assert_eq!(
            (r.rejected[1].line, r.rejected[1].record.as_str()),
            (4, "3,abc")
        );
    }

    #[test]
    fn values_that_do_not_fit_are_rescued_and_the_rest_of_the_record_loads() {
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("amount", DataType::Float64, true),
        ]));
        let text = b"id,amount\n1,10.5\n2,abc\n3,4,extra\n";
        let mut r = Records::split(text, FileFormat::Csv, CSV).unwrap();
        let (good, rescued) = r.decode_rescuing(&schema).unwrap();
        assert_eq!(good.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
        assert_eq!(rescued.len(), 1);
        let (row, json) = &rescued[0];
        assert_eq!(
            serde_json::Value::Object(json.clone()).to_string(),
            r#"{"amount":"abc"}"#
        );
        let ids = row
            .column(0)
            .as_any()
            .downcast_ref::<datafusion::arrow::array::Int64Array>()
            .unwrap();
        assert_eq!((ids.value(0), row.column(1).is_null(0)), (2, true));
        assert_eq!(
            r.rejected.len(),
            1,
            "the record with a field too many stays rejected"
        );
        let text = b"{\"id\": 1, \"amount\": \"x1\"}\n{\"id\": \"two\", \"amount\": 2}\n";
        let mut r = Records::split(text, FileFormat::Json, CSV).unwrap();
        let (good, rescued) = r.decode_rescuing(&schema).unwrap();
        assert_eq!(good.iter().map(|b| b.num_rows()).sum::<usize>(), 0);
        let json: Vec<String> = rescued
            .iter()
            .map(|(_, j)| serde_json::Value::Object(j.clone()).to_string())
            .collect();
        assert_eq!(json, [r#"{"amount":"x1"}"#, r#"{"id":"two"}"#]);
    }

    #[test]
    fn malformed_json_lines_are_set_aside() {
        let text = b"{\"id\": 1}\n[1]\n{\"id\": 2\n\n{\"id\": \"x\"}\n";
        let mut r = Records::split(text, FileFormat::Json, CSV).unwrap();
        let lines: Vec<u64> = r.rejected.iter().map(|x| x.line).collect();
        assert_eq!(lines, [2, 3]);
        assert_eq!(
            r.rejected[1].error,
            "not valid JSON: EOF while parsing an object at column 8"
        );
        let schema: SchemaRef =
            Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, true)]));
        let rows: usize = r
            .decode(&schema)
            .unwrap()
            .iter()
            .map(|b| b.num_rows())
            .sum();
        assert_eq!(rows, 1);
        assert_eq!(r.rejected.last().unwrap().line, 5);
    }
}
