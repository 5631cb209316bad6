//! The HTTP side of `read_api`: the pages of a REST API as JSON records.
//!
//! - **Paging**: none, `page` (a page number, with a page size and the number of pages from a
//!   header or the body), `offset` (offset and limit), `cursor` (a cursor from the body sent
//!   back as a parameter), `link_header` (RFC 8288 `Link: <...>; rel="next"`) and `next_url`
//!   (the next page's URL in the body). Paging stops at the last page (header or body), at an
//!   empty page, a short page, or when there is no next link or cursor; `max_pages` stops a
//!   server that never ends.
//! - **Retries**: 429, 5xx, timeouts and dropped connections are retried with exponential
//!   backoff and jitter, honouring `Retry-After`, up to `max_retries`; then the read fails naming
//!   the URL, the page and the last status. 401 and 403 are not retried (an OAuth2 token is
//!   fetched again once); other 4xx fail at once.
//! - **Secrets**: a bearer token, or an OAuth2 client-credentials grant whose token is fetched
//!   before the first page. Tokens are never part of an error's text.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::header::{HeaderMap, AUTHORIZATION, RETRY_AFTER};
use reqwest::StatusCode;
use serde_json::Value;
use url::Url;

/// How the API is authenticated.
#[derive(Debug, Clone)]
pub enum Auth {
    None,
    Bearer(String),
    OAuth2 {
        token_url: String,
        client_id: String,
        client_secret: String,
        scope: Option<String>,
    },
}

/// How the next page is found.
#[derive(Debug, Clone)]
pub enum Paging {
    None,
    Page {
        param: String,
        size_param: Option<String>,
        size: Option<u64>,
        total_pages_header: Option<String>,
        total_pages_path: Option<String>,
    },
    Offset {
        param: String,
        limit_param: String,
        size: u64,
    },
    Cursor {
        path: String,
        param: String,
    },
    LinkHeader,
    NextUrl {
        path: String,
    },
}

/// One read of an API.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub url: Url,
    pub params: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub auth: Auth,
    /// JSONPath to the records; None: the body, which must be an array.
    pub records: Option<String>,
    pub paging: Paging,
    pub max_retries: usize,
    pub max_pages: u64,
    pub timeout: Duration,
}

/// One page and its records.
#[derive(Debug, Clone)]
pub struct Page {
    pub url: String,
    pub number: u64,
    pub records: Vec<Value>,
}

/// What a read brought back.
#[derive(Debug)]
pub struct Fetched {
    pub pages: Vec<Page>,
    /// Paging stopped at `max_pages`, not at the last page.
    pub stopped_at_max: bool,
}

/// A read that failed: where and why. Never holds a token.
#[derive(Debug, thiserror::Error)]
#[error("{url} (page {page}): {detail}")]
pub struct ApiError {
    pub url: String,
    pub page: u64,
    pub detail: String,
}

/// One attempt's failure, and whether another attempt may succeed.
#[derive(Debug)]
struct Attempt {
    detail: String,
    retry: bool,
    retry_after: Option<Duration>,
    status: Option<StatusCode>,
}

/// JSONPath `path` over `body`: every node it selects.
pub fn select<'a>(body: &'a Value, path: &str) -> Result<Vec<&'a Value>, String> {
    let p = serde_json_path::JsonPath::parse(path).map_err(|e| format!("JSONPath {path}: {e}"))?;
    Ok(p.query(body).all())
}

fn first_text(body: &Value, path: &str) -> Result<Option<String>, String> {
    Ok(select(body, path)?
        .into_iter()
        .next()
        .and_then(|v| match v {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }))
}

/// The records of a page: the nodes `records` selects (an array's elements), or the body.
fn records_of(body: &Value, records: Option<&str>) -> Result<Vec<Value>, String> {
    let Some(path) = records else {
        return match body {
            Value::Array(a) => Ok(a.clone()),
            _ => Err(
                "the body is not an array of records; say where they are, records => '$.data'"
                    .into(),
            ),
        };
    };
    let nodes = select(body, path)?;
    Ok(match nodes.as_slice() {
        [Value::Array(a)] => a.clone(),
        [Value::Null] | [] => vec![],
        _ => nodes.into_iter().cloned().collect(),
    })
}

/// Reads every page of `req`, calling `seen(pages, records)` after each.
pub async fn fetch(
    req: &ApiRequest,
    seen: &(dyn Fn(u64, u64) + Send + Sync),
) -> Result<Fetched, ApiError> {
    let fail = |url: &Url, page: u64, detail: String| ApiError {
        url: shown(url),
        page,
        detail,
    };
    let client = reqwest::Client::builder()
        .timeout(req.timeout)
        .build()
        .map_err(|e| fail(&req.url, 0, e.to_string()))?;
    let mut token = match &req.auth {
        Auth::None => None,
        Auth::Bearer(t) => Some(t.clone()),
        Auth::OAuth2 { .. } => Some(
            oauth_token(&client, req)
                .await
                .map_err(|d| fail(&req.url, 0, d))?,
        ),
    };
    let mut first = req.url.clone();
    {
        let mut q = first.query_pairs_mut();
        for (k, v) in &req.params {
            q.append_pair(k, v);
        }
        match &req.paging {
            Paging::Page {
                param,
                size_param,
                size,
                ..
            } => {
                q.append_pair(param, "1");
                if let (Some(p), Some(n)) = (size_param, size) {
                    q.append_pair(p, &n.to_string());
                }
            }
            Paging::Offset {
                param,
                limit_param,
                size,
            } => {
                q.append_pair(param, "0");
                q.append_pair(limit_param, &size.to_string());
            }
            _ => {}
        }
    }
    if first.query() == Some("") {
        first.set_query(None);
    }
    let mut pages = Vec::new();
    let mut records_seen = 0u64;
    let mut next = Some(first);
    let mut number = 0u64;
    let mut stopped_at_max = false;
    while let Some(url) = next.take() {
        if number >= req.max_pages {
            stopped_at_max = true;
            break;
        }
        number += 1;
        let (headers, body) = get(&client, req, &url, &mut token)
            .await
            .map_err(|d| fail(&url, number, d))?;
        let body: Value = serde_json::from_slice(&body)
            .map_err(|e| fail(&url, number, format!("the response is not JSON: {e}")))?;
        let records =
            records_of(&body, req.records.as_deref()).map_err(|d| fail(&url, number, d))?;
        let count = records.len() as u64;
        records_seen += count;
        pages.push(Page {
            url: shown(&url),
            number,
            records,
        });
        seen(number, records_seen);
        if count == 0 {
            break;
        }
        next = next_page(req, &url, number, count, &headers, &body)
            .map_err(|d| fail(&url, number, d))?;
    }
    Ok(Fetched {
        pages,
        stopped_at_max,
    })
}

/// The next page's URL, or None after the last.
fn next_page(
    req: &ApiRequest,
    url: &Url,
    number: u64,
    count: u64,
    headers: &HeaderMap,
    body: &Value,
) -> Result<Option<Url>, String> {
    let with = |param: &str, value: &str| -> Url {
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != param)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let mut u = url.clone();
        u.query_pairs_mut()
            .clear()
            .extend_pairs(kept)
            .append_pair(param, value);
        u
    };
    Ok(match &req.paging {
        Paging::None => None,
        Paging::Page {
            param,
            size,
            total_pages_header,
            total_pages_path,
            ..
        } => {
            let total = match (total_pages_header, total_pages_path) {
                (Some(h), _) => headers
                    .get(h.as_str())
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok()),
                (_, Some(p)) => first_text(body, p)?.and_then(|v| v.parse().ok()),
                _ => None,
            };
            let last = total.is_some_and(|t| number >= t) || size.is_some_and(|s| count < s);
            (!last).then(|| with(param, &(number + 1).to_string()))
        }
        Paging::Offset { param, size, .. } => {
            let at: u64 = url
                .query_pairs()
                .find(|(k, _)| k == param)
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            (count >= *size).then(|| with(param, &(at + count).to_string()))
        }
        Paging::Cursor { path, param } => first_text(body, path)?.map(|c| with(param, &c)),
        Paging::LinkHeader => {
            match headers.get("link").and_then(|v| v.to_str().ok()) {
                None => None,
                Some(h) => {
                    let links = parse_link_header::parse_with_rel(h)
                        .map_err(|e| format!("the Link header does not parse: {e:?}"))?;
                    match links.get("next") {
                        Some(l) => Some(url.join(&l.raw_uri).map_err(|e| {
                            format!("the next link {} is not a URL: {e}", l.raw_uri)
                        })?),
                        None => None,
                    }
                }
            }
        }
        Paging::NextUrl { path } => match first_text(body, path)? {
            Some(n) => Some(
                url.join(&n)
                    .map_err(|e| format!("the next URL {n} is not a URL: {e}"))?,
            ),
            None => None,
        },
    })
}

/// One page, with retries; an OAuth2 token refused is fetched again once.
async fn get(
    client: &reqwest::Client,
    req: &ApiRequest,
    url: &Url,
    token: &mut Option<String>,
) -> Result<(HeaderMap, bytes::Bytes), String> {
    let mut refreshed = false;
    loop {
        let bearer = token.clone();
        let attempt = || async {
            let mut r = client.get(url.clone());
            for (k, v) in &req.headers {
                r = r.header(k, v);
            }
            if let Some(t) = &bearer {
                r = r.header(AUTHORIZATION, format!("Bearer {t}"));
            }
            let resp = r.send().await.map_err(|e| Attempt {
                detail: transport(&e),
                retry: true,
                retry_after: None,
                status: None,
            })?;
            let status = resp.status();
            if status.is_success() {
                let headers = resp.headers().clone();
                let body = resp.bytes().await.map_err(|e| Attempt {
                    detail: transport(&e),
                    retry: true,
                    retry_after: None,
                    status: None,
                })?;
                return Ok((headers, body));
            }
            let retry_after = resp
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            Err(Attempt {
                detail: format!("HTTP {status}"),
                retry: status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error(),
                retry_after,
                status: Some(status),
            })
        };
        let tries = std::sync::atomic::AtomicUsize::new(0);
        let result = attempt
            .retry(
                ExponentialBuilder::default()
                    .with_min_delay(Duration::from_millis(200))
                    .with_max_delay(Duration::from_secs(30))
                    .with_max_times(req.max_retries)
                    .with_jitter(),
            )
            .when(|a: &Attempt| a.retry)
            .adjust(|a: &Attempt, d| a.retry_after.or(d))
            .notify(|_, _| {
                tries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            })
            .await;
        match result {
            Ok(ok) => return Ok(ok),
            Err(a)
                if a.status == Some(StatusCode::UNAUTHORIZED)
                    && !refreshed
                    && matches!(req.auth, Auth::OAuth2 { .. }) =>
            {
                refreshed = true;
                *token = Some(oauth_token(client, req).await?);
            }
            Err(a) => {
                let n = tries.load(std::sync::atomic::Ordering::Relaxed);
                return Err(if a.retry && n > 0 {
                    format!("{} after {n} retries", a.detail)
                } else if matches!(
                    a.status,
                    Some(StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
                ) {
                    format!(
                        "{}: the API refused the credentials (check the secret)",
                        a.detail
                    )
                } else {
                    a.detail
                });
            }
        }
    }
}

/// An OAuth2 client-credentials token.
async fn oauth_token(client: &reqwest::Client, req: &ApiRequest) -> Result<String, String> {
    let Auth::OAuth2 {
        token_url,
        client_id,
        client_secret,
        scope,
    } = &req.auth
    else {
        return Err("no OAuth2 secret".into());
    };
    let form = {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "client_credentials")
            .append_pair("client_id", client_id)
            .append_pair("client_secret", client_secret);
        if let Some(s) = scope {
            form.append_pair("scope", s);
        }
        form.finish()
    };
    let resp = client
        .post(token_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .map_err(|e| format!("token from {token_url}: {}", transport(&e)))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("token from {token_url}: HTTP {status}"));
    }
    let body: Value = serde_json::from_slice(&resp.bytes().await.map_err(|e| transport(&e))?)
        .map_err(|e| format!("token from {token_url}: not JSON: {e}"))?;
    let token = body
        .get("access_token")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("token from {token_url}: no access_token in the answer"))?;
    crate::error::remember_secret(token);
    Ok(token.to_string())
}

/// A transport failure in one line, without the URL (the error names it already).
fn transport(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "the connection failed"
    };
    let mut cause = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    if cause.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {cause}")
    }
}

/// A URL as errors and `_source_url` show it.
fn shown(url: &Url) -> String {
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_come_from_a_path_or_the_body() {
        let body: Value =
            serde_json::from_str(r#"{"data": [{"id": 1}, {"id": 2}], "meta": {"next": "c2"}}"#)
                .unwrap();
        assert_eq!(records_of(&body, Some("$.data")).unwrap().len(), 2);
        assert_eq!(records_of(&body, Some("$.data[*]")).unwrap().len(), 2);
        assert!(records_of(&body, None).unwrap_err().contains("records =>"));
        assert_eq!(
            first_text(&body, "$.meta.next").unwrap().as_deref(),
            Some("c2")
        );
        let arr: Value = serde_json::from_str("[{\"id\": 1}]").unwrap();
        assert_eq!(records_of(&arr, None).unwrap().len(), 1);
    }
}
