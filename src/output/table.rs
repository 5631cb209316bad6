//! Table and Markdown rendering with comfy-table; cell text comes from Arrow's own formatter so
//! every type prints as Arrow prints it.

use comfy_table::presets::{ASCII_MARKDOWN, UTF8_FULL_CONDENSED};
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::error::Result;

fn right_aligned(t: &DataType) -> bool {
    t.is_numeric()
}

/// Renders `batches` as a table (or Markdown), `NULL` for nulls.
pub fn render(schema: &SchemaRef, batches: &[RecordBatch], markdown: bool) -> Result<String> {
    let mut table = Table::new();
    table.load_preset(if markdown {
        ASCII_MARKDOWN
    } else {
        UTF8_FULL_CONDENSED
    });
    if !markdown {
        table.set_content_arrangement(ContentArrangement::Disabled);
    }
    table.set_header(schema.fields().iter().map(|f| Cell::new(f.name())));
    let options = FormatOptions::default()
        .with_null("NULL")
        .with_display_error(true);
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        for row in 0..batch.num_rows() {
            let cells = formatters.iter().zip(schema.fields()).map(|(f, field)| {
                let cell = Cell::new(f.value(row).to_string());
                if right_aligned(field.data_type()) {
                    cell.set_alignment(CellAlignment::Right)
                } else {
                    cell
                }
            });
            table.add_row(cells);
        }
    }
    Ok(table.to_string())
}
