//! `\chart LABEL VALUE`: a result drawn as horizontal bars, one row per bar, for a quick look
//! at the prompt. The bars are scaled to the largest absolute value and fit the width given;
//! eighth blocks give them a finer end. Negative values are drawn with `-` bars.

use datafusion::arrow::array::{Array, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use unicode_width::UnicodeWidthStr;

use crate::error::{LakeError, Result};

/// Bars drawn at most; the rest are counted.
const MAX_BARS: usize = 50;
const EIGHTHS: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];

fn column(schema: &SchemaRef, name: &str) -> Result<usize> {
    schema
        .fields()
        .iter()
        .position(|f| f.name().eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            LakeError::MetaCommand(format!(
                "no column {name} in the last result (it has {})",
                names.join(", ")
            ))
        })
}

/// The bars of `value` by `label` over `batches`, laid out in `width` columns.
pub fn bars(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    label: &str,
    value: &str,
    width: usize,
) -> Result<String> {
    let (li, vi) = (column(schema, label)?, column(schema, value)?);
    let vtype = schema.field(vi).data_type();
    if !vtype.is_numeric() {
        return Err(LakeError::MetaCommand(format!(
            "{value} is {vtype}, not a number: chart a text column against a number column"
        )));
    }
    let mut rows: Vec<(String, Option<f64>, String)> = Vec::new();
    let options = FormatOptions::default().with_null("NULL");
    for b in batches {
        let labels = ArrayFormatter::try_new(b.column(li).as_ref(), &options)?;
        let shown = ArrayFormatter::try_new(b.column(vi).as_ref(), &options)?;
        let numbers = cast(b.column(vi), &DataType::Float64)?;
        let numbers = numbers
            .as_any()
            .downcast_ref::<datafusion::arrow::array::Float64Array>()
            .ok_or_else(|| LakeError::Internal("a Float64 cast gave another type".into()))?;
        for i in 0..b.num_rows() {
            let v = (!numbers.is_null(i)).then(|| numbers.value(i));
            rows.push((
                labels.value(i).to_string().replace('\n', "↵"),
                v,
                shown.value(i).to_string(),
            ));
        }
    }
    let total = rows.len();
    rows.truncate(MAX_BARS);
    let label_w = rows
        .iter()
        .map(|(l, _, _)| l.width())
        .max()
        .unwrap_or(0)
        .clamp(1, width / 3);
    let value_w = rows.iter().map(|(_, _, s)| s.width()).max().unwrap_or(0);
    let bar_w = width.saturating_sub(label_w + value_w + 4).max(10);
    let top = rows
        .iter()
        .filter_map(|(_, v, _)| v.map(f64::abs))
        .fold(0.0, f64::max);
    let mut out = String::new();
    for (l, v, shown) in &rows {
        let l = fit(l, label_w);
        let pad = " ".repeat(label_w - l.width());
        let bar = match v {
            Some(v) if top > 0.0 && v.is_finite() => {
                let eighths = (v.abs() / top * (bar_w * 8) as f64).round() as usize;
                if *v < 0.0 {
                    "-".repeat(eighths.div_ceil(8))
                } else {
                    format!("{}{}", "█".repeat(eighths / 8), EIGHTHS[eighths % 8])
                }
            }
            _ => String::new(),
        };
        let gap = " ".repeat(bar_w.saturating_sub(bar.width()) + value_w - shown.width());
        out.push_str(&format!("{l}{pad} │{bar}{gap} {shown}\n"));
    }
    if total > rows.len() {
        out.push_str(&format!(
            "{} bars of {total} shown; narrow the result (ORDER BY ... LIMIT) to chart the rest\n",
            rows.len()
        ));
    }
    Ok(out)
}

/// `s` cut to `w` columns with `…`.
fn fit(s: &str, w: usize) -> String {
    if s.width() <= w {
        return s.to_string();
    }
    let mut out = String::new();
    for c in s.chars() {
        if out.width() + 1 >= w {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{Field, Schema};

    use super::*;

    fn result() -> (SchemaRef, Vec<RecordBatch>) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("region", DataType::Utf8, true),
            Field::new("revenue", DataType::Int64, true),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(StringArray::from(vec![Some("north"), Some("south"), None])),
                Arc::new(Int64Array::from(vec![Some(100), Some(50), Some(-25)])),
            ],
        )
        .unwrap();
        (schema, vec![batch])
    }

    #[test]
    fn bars_are_scaled_to_the_largest_value() {
        let (schema, batches) = result();
        let text = bars(&schema, &batches, "region", "REVENUE", 40).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        let full = lines[0].matches('█').count();
        let half = lines[1].matches('█').count();
        assert!(
            full > 0 && (half as f64 - full as f64 / 2.0).abs() <= 1.0,
            "{text}"
        );
        assert!(
            lines[0].ends_with(" 100") && lines[2].contains('-'),
            "{text}"
        );
        assert!(lines.iter().all(|l| l.width() <= 40), "{text}");
    }

    #[test]
    fn wrong_columns_say_what_there_is() {
        let (schema, batches) = result();
        let e = bars(&schema, &batches, "region", "profit", 40).unwrap_err();
        assert!(e.to_string().contains("it has region, revenue"), "{e}");
        let e = bars(&schema, &batches, "revenue", "region", 40).unwrap_err();
        assert!(e.to_string().contains("not a number"), "{e}");
    }
}
