//! "Now", from one settable place: `--now`, `LAKESHELL_NOW` or `SET lakeshell.now = '...'`.
//! When it is set, `now()`, `current_timestamp`, `current_date` and `today()` return it, and
//! freshness checks and incremental windows use it, so runs and tests are repeatable.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::Engine;
use crate::error::{LakeError, Result};

/// Parses `2026-11-21`, `2026-11-21 10:00[:00]`, `2026-11-21T10:00:00Z` or RFC 3339 with an
/// offset; times without an offset are UTC.
pub fn parse_now(text: &str) -> Result<DateTime<Utc>> {
    let t = text.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Ok(d.with_timezone(&Utc));
    }
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(t, f) {
            return Ok(d.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(d.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    Err(LakeError::Flag(format!(
        "now: {text:?} is not a time; write it as 2026-11-21, 2026-11-21 10:00:00 or 2026-11-21T10:00:00Z"
    )))
}

/// `now()` / `current_date` fixed at one time.
#[derive(Debug, PartialEq, Eq, Hash)]
struct FixedNow {
    name: &'static str,
    aliases: Vec<String>,
    signature: Signature,
    nanos: i64,
}

impl ScalarUDFImpl for FixedNow {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn aliases(&self) -> &[String] {
        &self.aliases
    }
    fn return_type(&self, _: &[DataType]) -> datafusion::error::Result<DataType> {
        Ok(if self.name == "now" {
            DataType::Timestamp(TimeUnit::Nanosecond, None)
        } else {
            DataType::Date32
        })
    }
    fn invoke_with_args(&self, _: ScalarFunctionArgs) -> datafusion::error::Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(if self.name == "now" {
            ScalarValue::TimestampNanosecond(Some(self.nanos), None)
        } else {
            ScalarValue::Date32(Some(self.nanos.div_euclid(86_400_000_000_000) as i32))
        }))
    }
}

impl Engine {
    /// The time this session calls now: the one set, else the clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
            .lock()
            .ok()
            .and_then(|n| *n)
            .unwrap_or_else(Utc::now)
    }

    /// `now` as a SQL timestamp literal (UTC).
    pub(crate) fn now_sql(&self) -> String {
        format!(
            "CAST('{}' AS TIMESTAMP)",
            self.now().format("%Y-%m-%dT%H:%M:%S%.6f")
        )
    }

    /// Fixes now at `at`, for the SQL functions too.
    pub fn set_now(&self, at: DateTime<Utc>) -> Result<()> {
        let nanos = at
            .timestamp_nanos_opt()
            .ok_or_else(|| LakeError::Flag(format!("now: {at} is outside 1677..2262")))?;
        if let Ok(mut n) = self.now.lock() {
            *n = Some(at);
        }
        for (name, aliases) in [
            ("now", vec!["current_timestamp".to_string()]),
            ("current_date", vec!["today".to_string()]),
        ] {
            self.ctx.register_udf(ScalarUDF::new_from_impl(FixedNow {
                name,
                aliases,
                signature: Signature::nullary(Volatility::Immutable),
                nanos,
            }));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_takes_the_forms_people_write() {
        let want = parse_now("2026-11-21T10:00:00Z").unwrap();
        assert_eq!(parse_now("2026-11-21 10:00:00").unwrap(), want);
        assert_eq!(parse_now("2026-11-21T12:00:00+02:00").unwrap(), want);
        assert_eq!(
            parse_now("2026-11-21").unwrap(),
            parse_now("2026-11-21 00:00").unwrap()
        );
        assert!(parse_now("yesterday").is_err());
    }
}
