//! Table, expanded and Markdown rendering. Cell text comes from Arrow's own formatter, so every
//! type prints as Arrow prints it; comfy-table draws the borders.
//!
//! On a terminal (a known width) the table is laid out to fit, as DuckDB's CLI does: long cells
//! are cut with `…`, then, when even cut columns do not fit, middle columns are elided and named
//! under the table. Multi-line text shows on one line with `↵`. With no width (a pipe or a file)
//! nothing is cut.

use comfy_table::presets::{ASCII_MARKDOWN, UTF8_FULL_CONDENSED};
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use unicode_width::UnicodeWidthStr;

use crate::error::Result;

/// Cells are cut down to this width before any column is elided.
const MIN_CELL: usize = 12;

/// Expanded display: one line per column (psql's `\x`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Expanded {
    On,
    #[default]
    Off,
    /// Expanded when the columns would not fit the terminal.
    Auto,
}

/// How a table is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// The terminal's width; None never cuts (a pipe or a file).
    pub width: Option<usize>,
    /// Column types under the names.
    pub types: bool,
    pub expanded: Expanded,
    pub markdown: bool,
}

/// What was drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    /// Columns shown (all of them unless some were elided).
    pub columns_shown: usize,
}

/// The text of every cell of `batches`, row by row, `NULL` for nulls.
pub fn cells(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>> {
    let options = FormatOptions::default()
        .with_null("NULL")
        .with_display_error(true);
    let mut rows = Vec::new();
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        for row in 0..batch.num_rows() {
            rows.push(
                formatters
                    .iter()
                    .map(|f| one_line(&f.value(row).to_string()))
                    .collect(),
            );
        }
    }
    Ok(rows)
}

/// Multi-line text on one line: line breaks become `↵`, tabs a space.
fn one_line(s: &str) -> String {
    if !s.contains(['\n', '\r', '\t']) {
        return s.to_string();
    }
    s.replace("\r\n", "↵")
        .replace(['\n', '\r'], "↵")
        .replace('\t', " ")
}

/// `s` cut to `width` display columns, ending in `…` when cut.
fn cut(s: &str, width: usize) -> String {
    if s.width() <= width {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for ch in s.chars() {
        let w = unicode_width::UnicodeWidthChar::width(ch).unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        used += w;
        out.push(ch);
    }
    out.push('…');
    out
}

/// The SQL name of a column type, as DuckDB shows it under a column's name.
pub fn type_name(t: &DataType) -> String {
    match t {
        DataType::Null => "null".into(),
        DataType::Boolean => "boolean".into(),
        DataType::Int8 => "tinyint".into(),
        DataType::Int16 => "smallint".into(),
        DataType::Int32 => "int".into(),
        DataType::Int64 => "bigint".into(),
        DataType::UInt8 => "utinyint".into(),
        DataType::UInt16 => "usmallint".into(),
        DataType::UInt32 => "uint".into(),
        DataType::UInt64 => "ubigint".into(),
        DataType::Float16 => "half".into(),
        DataType::Float32 => "float".into(),
        DataType::Float64 => "double".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "varchar".into(),
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => "blob".into(),
        DataType::Date32 | DataType::Date64 => "date".into(),
        DataType::Time32(_) | DataType::Time64(_) => "time".into(),
        DataType::Timestamp(TimeUnit::Nanosecond, None) => "timestamp_ns".into(),
        DataType::Timestamp(_, None) => "timestamp".into(),
        DataType::Timestamp(_, Some(_)) => "timestamptz".into(),
        DataType::Duration(_) | DataType::Interval(_) => "interval".into(),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => format!("decimal({p},{s})"),
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::ListView(f)
        | DataType::LargeListView(f)
        | DataType::FixedSizeList(f, _) => format!("{}[]", type_name(f.data_type())),
        DataType::Struct(_) => "struct".into(),
        DataType::Map(_, _) => "map".into(),
        DataType::Dictionary(_, v) => type_name(v),
        other => other.to_string().to_ascii_lowercase(),
    }
}

/// Which columns to draw, at what widths; None in `columns` marks the elided middle.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fit {
    columns: Vec<Option<usize>>,
    widths: Vec<usize>,
}

/// Width of a table with columns of `widths`: `│ a │ b │`.
fn drawn(widths: &[usize]) -> usize {
    widths.iter().sum::<usize>() + 3 * widths.len() + 1
}

/// Lays out columns of `natural` widths in `width`: every column whole if they fit; else long
/// columns cut to the widest width that fits (not below [`MIN_CELL`]); else the first and last
/// columns at that minimum, alternately, and `…` for the middle.
fn fit(natural: &[usize], width: Option<usize>) -> Fit {
    let all = || (0..natural.len()).map(Some).collect();
    let width = match width {
        Some(w) if drawn(natural) > w => w,
        _ => {
            return Fit {
                columns: all(),
                widths: natural.to_vec(),
            }
        }
    };
    let capped = |cap: usize| natural.iter().map(|w| (*w).min(cap)).collect::<Vec<_>>();
    if drawn(&capped(MIN_CELL)) <= width {
        let (mut lo, mut hi) = (MIN_CELL, natural.iter().copied().max().unwrap_or(MIN_CELL));
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if drawn(&capped(mid)) <= width {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        let mut widths = capped(lo);
        // What is left goes to the columns that were cut, left to right.
        let mut spare = width - drawn(&widths);
        for (w, n) in widths.iter_mut().zip(natural) {
            let more = (n - *w).min(spare);
            *w += more;
            spare -= more;
        }
        return Fit {
            columns: all(),
            widths,
        };
    }
    let capped = capped(MIN_CELL);
    let marker = 1 + 3;
    let (mut left, mut right) = (Vec::new(), Vec::new());
    let mut used = 1 + marker;
    let (mut i, mut j) = (0usize, natural.len());
    // Alternately from the left and the right; when one side's next column does not fit,
    // the other side may still have one that does.
    let mut sides_full = [false, false];
    while i < j && !(sides_full[0] && sides_full[1]) {
        let take_left = !sides_full[0] && (left.len() <= right.len() || sides_full[1]);
        let c = if take_left { i } else { j - 1 };
        if used + capped[c] + 3 > width {
            sides_full[usize::from(!take_left)] = true;
            continue;
        }
        used += capped[c] + 3;
        if take_left {
            left.push(c);
            i += 1;
        } else {
            right.push(c);
            j -= 1;
        }
    }
    if left.is_empty() {
        // Not even one column fits whole: the first, cut to what there is.
        let w = width.saturating_sub(1 + marker + 3).max(1);
        return Fit {
            columns: vec![Some(0), None],
            widths: vec![w, 1],
        };
    }
    let mut columns: Vec<Option<usize>> = left.into_iter().map(Some).collect();
    columns.push(None);
    columns.extend(right.into_iter().rev().map(Some));
    let widths = columns
        .iter()
        .map(|c| c.map(|c| capped[c]).unwrap_or(1))
        .collect();
    Fit { columns, widths }
}

/// Draws `head` rows and, when rows were elided, a `…` row and the `tail` rows.
pub fn render(
    schema: &SchemaRef,
    head: &[Vec<String>],
    tail: Option<&[Vec<String>]>,
    layout: &Layout,
) -> Rendered {
    let fields = schema.fields();
    let types: Vec<String> = fields.iter().map(|f| type_name(f.data_type())).collect();
    let show_types = layout.types && !layout.markdown;
    let rows = || head.iter().chain(tail.unwrap_or_default());
    let natural: Vec<usize> = (0..fields.len())
        .map(|c| {
            let header =
                fields[c]
                    .name()
                    .width()
                    .max(if show_types { types[c].width() } else { 0 });
            rows()
                .map(|r| r.get(c).map(|s| s.width()).unwrap_or(0))
                .max()
                .unwrap_or(0)
                .max(header)
        })
        .collect();
    let width = layout.width.filter(|_| !layout.markdown);
    let fitted = fit(&natural, width);
    let elided = fitted.columns.contains(&None);
    let expanded = !layout.markdown
        && (layout.expanded == Expanded::On || (layout.expanded == Expanded::Auto && elided));
    if expanded {
        return Rendered {
            text: render_expanded(schema, rows(), width),
            columns_shown: fields.len(),
        };
    }

    let mut table = Table::new();
    table.load_preset(if layout.markdown {
        ASCII_MARKDOWN
    } else {
        UTF8_FULL_CONDENSED
    });
    table.set_content_arrangement(ContentArrangement::Disabled);
    table.set_header(
        fitted
            .columns
            .iter()
            .zip(&fitted.widths)
            .map(|(c, w)| match c {
                Some(c) => {
                    let name = cut(fields[*c].name(), *w);
                    Cell::new(if show_types {
                        format!("{name}\n{}", cut(&types[*c], *w))
                    } else {
                        name
                    })
                }
                None => Cell::new("…"),
            }),
    );
    let numeric: Vec<bool> = fields.iter().map(|f| f.data_type().is_numeric()).collect();
    let add = |table: &mut Table, row: &Vec<String>| {
        table.add_row(
            fitted
                .columns
                .iter()
                .zip(&fitted.widths)
                .map(|(c, w)| match c {
                    Some(c) => {
                        let cell =
                            Cell::new(cut(row.get(*c).map(String::as_str).unwrap_or(""), *w));
                        if numeric[*c] {
                            cell.set_alignment(CellAlignment::Right)
                        } else {
                            cell
                        }
                    }
                    None => Cell::new("…"),
                }),
        );
    };
    for row in head {
        add(&mut table, row);
    }
    if let Some(tail) = tail {
        table.add_row(
            fitted
                .columns
                .iter()
                .map(|_| Cell::new("…").set_alignment(CellAlignment::Center)),
        );
        for row in tail {
            add(&mut table, row);
        }
    }
    let mut text = table.to_string();
    let shown = fitted.columns.iter().flatten().count();
    if elided {
        let omitted: Vec<&str> = (0..fields.len())
            .filter(|c| !fitted.columns.contains(&Some(*c)))
            .map(|c| fields[c].name().as_str())
            .collect();
        let noun = if omitted.len() == 1 {
            "column"
        } else {
            "columns"
        };
        let note = format!("… {} more {noun}: {}", omitted.len(), omitted.join(", "));
        text.push('\n');
        text.push_str(&match width {
            Some(w) => cut(&note, w),
            None => note,
        });
    }
    Rendered {
        text,
        columns_shown: shown,
    }
}

/// One block per row, one line per column: `name │ value`.
fn render_expanded<'a>(
    schema: &SchemaRef,
    rows: impl Iterator<Item = &'a Vec<String>>,
    width: Option<usize>,
) -> String {
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let name_width = names.iter().map(|n| n.width()).max().unwrap_or(0);
    let value_width = width.map(|w| w.saturating_sub(name_width + 3).max(1));
    let mut out = String::new();
    for (i, row) in rows.enumerate() {
        let title = format!("─[ RECORD {} ]", i + 1);
        let rule = width
            .unwrap_or(name_width + 3 + 20)
            .min(name_width + 3 + row.iter().map(|v| v.width()).max().unwrap_or(0))
            .max(title.width());
        out.push_str(&title);
        out.push_str(&"─".repeat(rule - title.width()));
        out.push('\n');
        for (name, value) in names.iter().zip(row) {
            let value = match value_width {
                Some(w) => cut(value, w),
                None => value.clone(),
            };
            let pad = name_width - name.width();
            out.push_str(&format!("{name}{} │ {value}\n", " ".repeat(pad)));
        }
    }
    out.pop();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_cells_are_cut_and_lines_joined() {
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(one_line("a\nb\r\nc\td"), "a↵b↵c d");
    }

    #[test]
    fn columns_fit_then_cut_then_elide() {
        // Fits whole.
        let f = fit(&[3, 4], Some(80));
        assert_eq!(f.widths, vec![3, 4]);
        // Cut: the long column shrinks to what fits, the short one stays.
        let f = fit(&[3, 100], Some(40));
        assert_eq!(drawn(&f.widths), 40);
        assert_eq!(f.widths[0], 3);
        // Elided: twenty columns of 20 in 80 keep the first and last.
        let f = fit(&[20; 20], Some(80));
        assert!(f.columns.contains(&None));
        assert_eq!(f.columns.first(), Some(&Some(0)));
        assert_eq!(f.columns.last(), Some(&Some(19)));
        assert!(drawn(&f.widths) <= 80, "{f:?}");
        // No width: never cut.
        assert_eq!(fit(&[200; 3], None).widths, vec![200; 3]);
    }

    #[test]
    fn types_have_sql_names() {
        assert_eq!(type_name(&DataType::Int64), "bigint");
        assert_eq!(type_name(&DataType::Utf8View), "varchar");
        assert_eq!(type_name(&DataType::Decimal128(10, 2)), "decimal(10,2)");
    }
}
