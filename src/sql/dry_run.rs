//! `... DRY RUN` after a MERGE, UPDATE, DELETE or OPTIMIZE: the statement is planned and what it
//! would change is shown, and nothing is committed.
//!
//! ```text
//! MERGE INTO t USING s ON ... WHEN ... DRY RUN
//! UPDATE t SET c = e [WHERE p] DRY RUN
//! DELETE FROM t [WHERE p] DRY RUN
//! OPTIMIZE t [WHERE p] [ZORDER BY (c, ...)] DRY RUN
//! ```
//!
//! (`VACUUM` and `FSCK REPAIR TABLE` have a `DRY RUN` of their own.) The words are found on the
//! statement's tokens, so a `DRY RUN` inside a string or a comment is no dry run.

use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

use super::dialect::LakeDialect;

/// The statement kinds that take a trailing `DRY RUN`.
const PREVIEWED: [&str; 4] = ["MERGE", "UPDATE", "DELETE", "OPTIMIZE"];

/// When `sql` is one of [`PREVIEWED`] ending in `DRY RUN` (a `;` after it allowed), the
/// statement without those words.
pub(crate) fn strip(sql: &str) -> Option<&str> {
    let tokens = Tokenizer::new(&LakeDialect, sql)
        .tokenize_with_location()
        .ok()?;
    let words: Vec<_> = tokens
        .iter()
        .filter(|t| !super::split::is_blank(&t.token) && t.token != Token::SemiColon)
        .collect();
    let word = |t: &Token, w: &str| matches!(t, Token::Word(x) if x.quote_style.is_none() && x.value.eq_ignore_ascii_case(w));
    let first = words.first()?;
    if !PREVIEWED.iter().any(|w| word(&first.token, w)) {
        return None;
    }
    let [.., dry, run] = words.as_slice() else {
        return None;
    };
    if !(word(&dry.token, "DRY") && word(&run.token, "RUN")) {
        return None;
    }
    let at = byte_offset(sql, dry.span.start.line, dry.span.start.column)?;
    Some(&sql[..at])
}

/// The byte offset of a 1-based line and character column.
fn byte_offset(sql: &str, line: u64, column: u64) -> Option<usize> {
    let mut offset = 0;
    for (i, text) in sql.split_inclusive('\n').enumerate() {
        if i as u64 + 1 == line {
            let col = usize::try_from(column.checked_sub(1)?).ok()?;
            return Some(
                offset
                    + text
                        .char_indices()
                        .nth(col)
                        .map(|(b, _)| b)
                        .unwrap_or(text.len()),
            );
        }
        offset += text.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::strip;

    #[test]
    fn trailing_dry_run_is_cut_off() {
        assert_eq!(
            strip("DELETE FROM t WHERE a = 1 DRY RUN;"),
            Some("DELETE FROM t WHERE a = 1 ")
        );
        assert_eq!(
            strip("update t\n  set a = 'é'\n  dry run"),
            Some("update t\n  set a = 'é'\n  ")
        );
        assert_eq!(
            strip("OPTIMIZE t ZORDER BY (a) DRY RUN -- look first"),
            Some("OPTIMIZE t ZORDER BY (a) ")
        );
    }

    #[test]
    fn dry_run_in_text_or_other_statements_is_not_one() {
        assert_eq!(strip("DELETE FROM t WHERE a = 'DRY RUN'"), None);
        assert_eq!(strip("DELETE FROM t -- DRY RUN"), None);
        assert_eq!(strip("SELECT 1 AS dry, 2 AS run"), None);
        assert_eq!(strip("VACUUM t DRY RUN"), None);
    }
}
