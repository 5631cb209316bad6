//! `DESCRIBE HISTORY`, `DESCRIBE DETAIL` and `SHOW TBLPROPERTIES`, with Databricks' column
//! names, as rows.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Int64Array, StringArray, TimestampMillisecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, TimeUnit};
use serde_json::Value;

use super::{rows, Engine, Outcome};
use crate::delta::history::read_history;
use crate::error::Result;
use crate::sql::DescribeStatement;

fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

fn json_text(v: Option<&Value>) -> Option<String> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    }
}

impl Engine {
    pub(super) async fn describe(&self, stmt: DescribeStatement) -> Result<Outcome> {
        let entry = self.entry_for(stmt.table()).await?;
        let table = self.warehouse.open(&entry).await?;
        match stmt {
            DescribeStatement::History { limit, .. } => {
                let history = read_history(&table, limit.map(|n| n as usize)).await?;
                let text = |k: &str| -> Vec<Option<String>> {
                    history.iter().map(|e| json_text(e.info.get(k))).collect()
                };
                let engine: Vec<Option<String>> = history
                    .iter()
                    .map(|e| match (e.text("engine"), e.text("engineInfo")) {
                        (Some(ours), Some(writer)) if ours != writer => {
                            Some(format!("{ours} ({writer})"))
                        }
                        (Some(ours), _) => Some(ours),
                        (None, info) => info.or_else(|| e.text("clientVersion")),
                    })
                    .collect();
                rows(
                    vec![
                        Field::new("version", DataType::Int64, false),
                        Field::new("timestamp", ts_type(), false),
                        Field::new("operation", DataType::Utf8, true),
                        Field::new("operationParameters", DataType::Utf8, true),
                        Field::new("readVersion", DataType::Int64, true),
                        Field::new("isolationLevel", DataType::Utf8, true),
                        Field::new("isBlindAppend", DataType::Boolean, true),
                        Field::new("operationMetrics", DataType::Utf8, true),
                        Field::new("userMetadata", DataType::Utf8, true),
                        Field::new("engineInfo", DataType::Utf8, true),
                        Field::new("sqlText", DataType::Utf8, true),
                    ],
                    vec![
                        Arc::new(Int64Array::from_iter_values(
                            history.iter().map(|e| e.version as i64),
                        )),
                        Arc::new(
                            TimestampMillisecondArray::from_iter_values(
                                history.iter().map(|e| e.timestamp),
                            )
                            .with_timezone("UTC"),
                        ),
                        Arc::new(StringArray::from(text("operation"))),
                        Arc::new(StringArray::from(text("operationParameters"))),
                        Arc::new(Int64Array::from_iter(
                            history
                                .iter()
                                .map(|e| e.info.get("readVersion").and_then(Value::as_i64)),
                        )),
                        Arc::new(StringArray::from(text("isolationLevel"))),
                        Arc::new(BooleanArray::from_iter(
                            history
                                .iter()
                                .map(|e| e.info.get("isBlindAppend").and_then(Value::as_bool)),
                        )),
                        Arc::new(StringArray::from(text("operationMetrics"))),
                        Arc::new(StringArray::from(text("userMetadata"))),
                        Arc::new(StringArray::from(engine)),
                        Arc::new(StringArray::from(text("sqlText"))),
                    ],
                )
            }
            DescribeStatement::Detail { .. } => {
                let state = table
                    .snapshot()
                    .map_err(crate::delta::on_table(&entry.name))?;
                let metadata = serde_json::to_value(state.metadata()).unwrap_or_default();
                let protocol = serde_json::to_value(state.protocol()).unwrap_or_default();
                let (mut files, mut bytes) = (0i64, 0i64);
                for f in state.log_data().iter() {
                    files += 1;
                    bytes += f.size();
                }
                let latest = read_history(&table, Some(1)).await?;
                let list = |v: Option<&Value>| -> String {
                    match v {
                        Some(Value::Array(items)) => {
                            let names: Vec<String> = items
                                .iter()
                                .map(|i| i.as_str().map(str::to_string).unwrap_or(i.to_string()))
                                .collect();
                            format!("[{}]", names.join(", "))
                        }
                        _ => "[]".into(),
                    }
                };
                let mut features: Vec<String> = Vec::new();
                for k in ["readerFeatures", "writerFeatures"] {
                    if let Some(Value::Array(items)) = protocol.get(k) {
                        for i in items {
                            let f = i.as_str().map(str::to_string).unwrap_or(i.to_string());
                            if !features.contains(&f) {
                                features.push(f);
                            }
                        }
                    }
                }
                features.sort();
                let one = |s: Option<String>| Arc::new(StringArray::from(vec![s])) as ArrayRef;
                rows(
                    vec![
                        Field::new("format", DataType::Utf8, false),
                        Field::new("id", DataType::Utf8, true),
                        Field::new("name", DataType::Utf8, true),
                        Field::new("description", DataType::Utf8, true),
                        Field::new("location", DataType::Utf8, false),
                        Field::new("createdAt", ts_type(), true),
                        Field::new("lastModified", ts_type(), true),
                        Field::new("partitionColumns", DataType::Utf8, false),
                        Field::new("numFiles", DataType::Int64, false),
                        Field::new("sizeInBytes", DataType::Int64, false),
                        Field::new("properties", DataType::Utf8, false),
                        Field::new("minReaderVersion", DataType::Int64, true),
                        Field::new("minWriterVersion", DataType::Int64, true),
                        Field::new("tableFeatures", DataType::Utf8, false),
                        Field::new("version", DataType::Int64, false),
                    ],
                    vec![
                        one(Some("delta".into())),
                        one(json_text(metadata.get("id"))),
                        one(Some(entry.name.clone())),
                        one(json_text(metadata.get("description"))),
                        one(Some(crate::catalog::display_url(&entry.url))),
                        Arc::new(
                            TimestampMillisecondArray::from(vec![metadata
                                .get("createdTime")
                                .and_then(Value::as_i64)])
                            .with_timezone("UTC"),
                        ),
                        Arc::new(
                            TimestampMillisecondArray::from(vec![latest
                                .first()
                                .map(|e| e.timestamp)])
                            .with_timezone("UTC"),
                        ),
                        one(Some(list(metadata.get("partitionColumns")))),
                        Arc::new(Int64Array::from(vec![files])),
                        Arc::new(Int64Array::from(vec![bytes])),
                        one(Some(
                            metadata
                                .get("configuration")
                                .cloned()
                                .unwrap_or(Value::Object(Default::default()))
                                .to_string(),
                        )),
                        Arc::new(Int64Array::from(vec![protocol
                            .get("minReaderVersion")
                            .and_then(Value::as_i64)])),
                        Arc::new(Int64Array::from(vec![protocol
                            .get("minWriterVersion")
                            .and_then(Value::as_i64)])),
                        one(Some(format!("[{}]", features.join(", ")))),
                        Arc::new(Int64Array::from(vec![
                            table.version().unwrap_or_default() as i64
                        ])),
                    ],
                )
            }
            DescribeStatement::TblProperties { key, .. } => {
                let state = table
                    .snapshot()
                    .map_err(crate::delta::on_table(&entry.name))?;
                let mut props: Vec<(String, String)> = state
                    .metadata()
                    .configuration()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                props.sort();
                if let Some(k) = key {
                    let value = props
                        .iter()
                        .find(|(p, _)| *p == k)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_else(|| {
                            format!("Table {} does not have property: {k}", entry.name)
                        });
                    props = vec![(k, value)];
                }
                rows(
                    vec![
                        Field::new("key", DataType::Utf8, false),
                        Field::new("value", DataType::Utf8, false),
                    ],
                    vec![
                        Arc::new(StringArray::from_iter_values(props.iter().map(|p| &p.0))),
                        Arc::new(StringArray::from_iter_values(props.iter().map(|p| &p.1))),
                    ],
                )
            }
        }
    }
}
