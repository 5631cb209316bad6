//! `read_api('https://...', secret => 'name', params => map(...), records => '$.data',
//! pagination => 'page' | ..., schema => 'id BIGINT, ...')`: the pages of a REST API as a
//! table, one row per record, with `_source_url`, `_page` and `_fetched_at`. The HTTP side is
//! [`crate::ingest::api`]; here the arguments are read, the secret resolved, and the records
//! turned into Arrow (the columns of `schema`, or inferred from the records, nested objects as
//! structs). Like every table function, it is read before planning (see [`super::changes`]), so
//! a failed read fails the statement before anything is written.

use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::TimestampMicrosecondArray;
use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::TableProvider;
use datafusion::datasource::MemTable;
use datafusion::sql::sqlparser::ast::{
    Expr as SqlExpr, FunctionArg, FunctionArgExpr, FunctionArguments, Value as SqlValue,
};
use url::Url;

use super::letters::Letter;
use super::Engine;
use crate::error::{LakeError, Result};
use crate::ingest::api::{self, ApiRequest, Auth, Paging};

const USAGE: &str = "read_api takes ('url', secret => 'name', params => map('k', 'v', ...), headers => map(...), records => '$.path', pagination => 'none' | 'page' | 'offset' | 'cursor' | 'link_header' | 'next_url', page_param, page_size_param, page_size, total_pages_header, total_pages_path, offset_param, limit_param, cursor_path, cursor_param, next_url_path, max_retries, max_pages, timeout_s, schema => 'col TYPE, ...', dead_letter => 'table')";

fn usage(detail: &str) -> LakeError {
    LakeError::BadStatement(format!("read_api: {detail}; {USAGE}"))
}

/// An argument's value as text.
fn text(e: &SqlExpr) -> Option<String> {
    match e {
        SqlExpr::Value(v) => match &v.value {
            SqlValue::SingleQuotedString(s) | SqlValue::DoubleQuotedString(s) => Some(s.clone()),
            SqlValue::Number(n, _) => Some(n.clone()),
            SqlValue::Boolean(b) => Some(b.to_string()),
            _ => None,
        },
        SqlExpr::Identifier(i) => Some(i.value.clone()),
        _ => None,
    }
}

/// `map('k1', 'v1', 'k2', 'v2')` as pairs.
fn pairs(e: &SqlExpr, name: &str) -> Result<Vec<(String, String)>> {
    let bad = || usage(&format!("{name} is map('key', 'value', ...)"));
    let SqlExpr::Function(f) = e else {
        return Err(bad());
    };
    if !f.name.to_string().eq_ignore_ascii_case("map") {
        return Err(bad());
    }
    let FunctionArguments::List(list) = &f.args else {
        return Err(bad());
    };
    let values: Vec<String> = list
        .args
        .iter()
        .map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => text(e).ok_or_else(bad),
            _ => Err(bad()),
        })
        .collect::<Result<_>>()?;
    if !values.len().is_multiple_of(2) {
        return Err(bad());
    }
    Ok(values
        .chunks(2)
        .map(|c| (c[0].clone(), c[1].clone()))
        .collect())
}

impl Engine {
    /// The API's records as a table, and a note when paging stopped at `max_pages`.
    pub(super) async fn read_api(
        &self,
        args: &[SqlExpr],
    ) -> Result<(Arc<dyn TableProvider>, Option<String>)> {
        let (first, rest) = args.split_first().ok_or_else(|| usage("no URL given"))?;
        let url_text = text(first).ok_or_else(|| usage("the first argument is the URL"))?;
        let url =
            Url::parse(&url_text).map_err(|e| usage(&format!("{url_text} is not a URL ({e})")))?;
        let mut named = std::collections::HashMap::new();
        let mut params = vec![];
        let mut headers = vec![];
        for a in rest {
            let SqlExpr::Named { expr, name } = a else {
                return Err(usage(
                    "arguments after the URL are named (records => '$.data')",
                ));
            };
            let key = name.value.to_ascii_lowercase();
            match key.as_str() {
                "params" => params = pairs(expr, "params")?,
                "headers" => headers = pairs(expr, "headers")?,
                _ => {
                    let v =
                        text(expr).ok_or_else(|| usage(&format!("{} is a literal", name.value)))?;
                    named.insert(key, v);
                }
            }
        }
        let take = |k: &str| named.get(k).cloned();
        let number = |k: &str, default: u64| -> Result<u64> {
            match named.get(k) {
                Some(v) => v
                    .parse()
                    .map_err(|_| usage(&format!("{k} is a number, not {v}"))),
                None => Ok(default),
            }
        };
        let auth = match take("secret") {
            None => Auth::None,
            Some(name) => self.api_auth(&name)?,
        };
        let paging = match take("pagination").as_deref().unwrap_or("none") {
            "none" => Paging::None,
            "page" => Paging::Page {
                param: take("page_param").unwrap_or_else(|| "page".into()),
                size_param: take("page_size_param"),
                size: named
                    .get("page_size")
                    .map(|_| number("page_size", 0))
                    .transpose()?,
                total_pages_header: take("total_pages_header"),
                total_pages_path: take("total_pages_path"),
            },
            "offset" => Paging::Offset {
                param: take("offset_param").unwrap_or_else(|| "offset".into()),
                limit_param: take("limit_param").unwrap_or_else(|| "limit".into()),
                size: number("page_size", 100)?,
            },
            "cursor" => Paging::Cursor {
                path: take("cursor_path")
                    .ok_or_else(|| usage("pagination => 'cursor' needs cursor_path"))?,
                param: take("cursor_param").unwrap_or_else(|| "cursor".into()),
            },
            "link_header" => Paging::LinkHeader,
            "next_url" => Paging::NextUrl {
                path: take("next_url_path")
                    .ok_or_else(|| usage("pagination => 'next_url' needs next_url_path"))?,
            },
            other => return Err(usage(&format!("pagination '{other}' is not one it knows"))),
        };
        let known = [
            "secret",
            "records",
            "pagination",
            "page_param",
            "page_size_param",
            "page_size",
            "total_pages_header",
            "total_pages_path",
            "offset_param",
            "limit_param",
            "cursor_path",
            "cursor_param",
            "next_url_path",
            "max_retries",
            "max_pages",
            "timeout_s",
            "schema",
            "dead_letter",
        ];
        if let Some(k) = named.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(usage(&format!("{k} is not one of its arguments")));
        }
        let req = ApiRequest {
            url,
            params,
            headers,
            auth,
            records: take("records"),
            paging,
            max_retries: number("max_retries", 5)? as usize,
            max_pages: number("max_pages", 10_000)?,
            timeout: Duration::from_secs(number("timeout_s", 30)?),
        };
        let progress = self.progress();
        let shown = req.url.to_string();
        let seen = move |pages: u64, records: u64| {
            if let Some(p) = &progress {
                p.set_task(format!(
                    "read_api {shown}: {pages} page(s), {records} record(s) fetched"
                ));
            }
        };
        let fetched = api::fetch(&req, &seen)
            .await
            .map_err(|e| LakeError::BadStatement(format!("read_api {e}")))?;
        let schema = match take("schema") {
            Some(s) => Some(self.column_list(&s)?),
            None => None,
        };
        let dead_letter = take("dead_letter");
        let (schema, batches, rejected) = to_arrow(&fetched.pages, schema)?;
        match (&dead_letter, rejected.first()) {
            (_, None) => {}
            (Some(dl), Some(_)) => self.letters_after(dl, rejected)?,
            (None, Some(bad)) => {
                return Err(LakeError::BadStatement(format!(
                    "read_api {} (page {}): a record does not fit the schema: {} (record: {}); dead_letter => 'table' keeps such records apart",
                    bad.source,
                    bad.page.unwrap_or_default(),
                    bad.error,
                    shortened(&bad.record)
                )))
            }
        }
        let note = fetched.stopped_at_max.then(|| {
            format!(
                "read_api {}: stopped at max_pages => {} with more pages to read",
                req.url, req.max_pages
            )
        });
        Ok((Arc::new(MemTable::try_new(schema, vec![batches])?), note))
    }

    /// The credentials of the API secret `name`.
    fn api_auth(&self, name: &str) -> Result<Auth> {
        let secret = self.warehouse.secrets().named(name).ok_or_else(|| {
            LakeError::BadStatement(format!(
                "read_api: no secret {name}; CREATE SECRET {name} (TYPE bearer, TOKEN '${{MY_TOKEN}}') makes one"
            ))
        })?;
        let value = |k: &str| -> Result<String> {
            let v = secret.value(k)?.ok_or_else(|| {
                LakeError::BadStatement(format!("read_api: secret {name} has no {k}"))
            })?;
            if secret.is_credential(k) {
                crate::error::remember_secret(&v);
            }
            Ok(v)
        };
        match secret.kind.as_str() {
            "bearer" => Ok(Auth::Bearer(value("token")?)),
            "oauth2" => Ok(Auth::OAuth2 {
                token_url: value("token_url")?,
                client_id: value("client_id")?,
                client_secret: value("client_secret")?,
                scope: secret.value("scope")?,
            }),
            other => Err(LakeError::BadStatement(format!(
                "read_api: secret {name} is a {other} secret, for a store; an API takes TYPE bearer or oauth2"
            ))),
        }
    }

    /// `'id BIGINT, agent STRUCT<id: BIGINT, name: STRING>'` as an Arrow schema.
    fn column_list(&self, text: &str) -> Result<SchemaRef> {
        let fields: Vec<Field> = self
            .schema_hints(text)?
            .into_iter()
            .map(|(n, t)| Field::new(n, t, true))
            .collect();
        Ok(Arc::new(Schema::new(fields)))
    }
}

/// The pages' records as batches of `schema` (or the schema inferred from them), with the page
/// each came from; a record that does not fit comes back apart, as a dead letter.
fn to_arrow(
    pages: &[api::Page],
    schema: Option<SchemaRef>,
) -> Result<(SchemaRef, Vec<RecordBatch>, Vec<Letter>)> {
    let records: Vec<&serde_json::Value> = pages.iter().flat_map(|p| p.records.iter()).collect();
    if let Some(bad) = records.iter().find(|r| !r.is_object()) {
        return Err(LakeError::BadStatement(format!(
            "read_api: a record is not a JSON object ({}); say where the records are with records => '$.path'",
            shortened(&bad.to_string())
        )));
    }
    let data: SchemaRef = match schema {
        Some(s) => s,
        None => Arc::new(
            datafusion::arrow::json::reader::infer_json_schema_from_iterator(
                records.iter().map(|r| Ok((*r).clone())),
            )?,
        ),
    };
    let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let mut fields: Vec<Field> = data.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("_source_url", DataType::Utf8, false));
    fields.push(Field::new("_page", DataType::Int64, false));
    fields.push(Field::new("_fetched_at", ts, false));
    let out = Arc::new(Schema::new(fields));
    let now = chrono::Utc::now().timestamp_micros();
    let decode = |rows: &[serde_json::Value]| -> std::result::Result<Vec<RecordBatch>, String> {
        let mut decoder = datafusion::arrow::json::ReaderBuilder::new(Arc::clone(&data))
            .build_decoder()
            .map_err(|e| e.to_string())?;
        decoder.serialize(rows).map_err(|e| e.to_string())?;
        let mut got = Vec::new();
        while let Some(b) = decoder.flush().map_err(|e| e.to_string())? {
            got.push(b);
        }
        Ok(got)
    };
    let mut batches = Vec::new();
    let mut rejected = Vec::new();
    for p in pages.iter().filter(|p| !p.records.is_empty()) {
        let decoded = match decode(&p.records) {
            Ok(b) => b,
            // One record at a time, to set aside the ones that do not fit.
            Err(_) => {
                let mut kept = Vec::new();
                for r in &p.records {
                    match decode(std::slice::from_ref(r)) {
                        Ok(b) => kept.extend(b),
                        Err(e) => rejected.push(Letter {
                            record: r.to_string(),
                            source: p.url.clone(),
                            line: None,
                            page: Some(p.number as i64),
                            error: e.trim_start_matches("Json error: ").to_string(),
                        }),
                    }
                }
                kept
            }
        };
        for b in decoded {
            let n = b.num_rows();
            let mut columns: Vec<ArrayRef> = b.columns().to_vec();
            columns.push(Arc::new(StringArray::from(vec![p.url.as_str(); n])));
            columns.push(Arc::new(Int64Array::from(vec![p.number as i64; n])));
            columns.push(Arc::new(
                TimestampMicrosecondArray::from(vec![now; n]).with_timezone("UTC"),
            ));
            batches.push(RecordBatch::try_new(Arc::clone(&out), columns)?);
        }
    }
    Ok((out, batches, rejected))
}

fn shortened(s: &str) -> String {
    let t: String = s.chars().take(60).collect();
    if t.len() < s.len() {
        format!("{t}...")
    } else {
        t
    }
}
