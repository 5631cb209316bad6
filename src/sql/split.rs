//! Splits a script into statements and meta commands with the SQL tokenizer, so a `;` inside a
//! string, a quoted identifier or a comment never ends a statement. Each piece keeps the line it
//! starts on, for `file:line` in errors.

use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

use crate::error::{LakeError, Result};

/// One unit of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// A SQL statement, without its terminating `;`.
    Sql { text: String, line: usize },
    /// A backslash meta command on a line of its own (`\timing on`).
    Meta { text: String, line: usize },
}

impl Piece {
    /// The 1-based line the piece starts on.
    pub fn line(&self) -> usize {
        match self {
            Piece::Sql { line, .. } | Piece::Meta { line, .. } => *line,
        }
    }
}

/// Byte offsets of line starts, to turn tokenizer locations (line, char column) into slices.
struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Lines { text, starts }
    }

    fn offset(&self, line: u64, column: u64) -> usize {
        let Some(&start) = self.starts.get(line.saturating_sub(1) as usize) else {
            return self.text.len();
        };
        let rest = &self.text[start..];
        rest.char_indices()
            .nth(column.saturating_sub(1) as usize)
            .map(|(i, _)| start + i)
            .unwrap_or(self.text.len())
    }

    fn line_end(&self, line: u64) -> usize {
        self.starts
            .get(line as usize)
            .map(|next| next - 1)
            .unwrap_or(self.text.len())
    }
}

fn tokenize(text: &str) -> Result<Vec<TokenWithSpan>> {
    Tokenizer::new(&GenericDialect {}, text)
        .tokenize_with_location()
        .map_err(|e| LakeError::Parse(e.to_string()))
}

/// Whitespace, a comment or the end: a token that says nothing.
pub(crate) fn is_blank(tok: &Token) -> bool {
    matches!(tok, Token::Whitespace(_) | Token::EOF)
}

/// Splits `text` into statements and meta commands.
pub fn split(text: &str) -> Result<Vec<Piece>> {
    let tokens = tokenize(text)?;
    let lines = Lines::new(text);
    let mut pieces = Vec::new();
    // Start of the statement being collected: (token index, line).
    let mut start: Option<(usize, u64)> = None;
    let mut i = 0;
    while i < tokens.len() {
        let tok = &tokens[i];
        match (&tok.token, start) {
            (t, None) if is_blank(t) => {}
            (Token::SemiColon, None) => {}
            (Token::Backslash, None) => {
                // A meta command runs to the end of its line.
                let line = tok.span.start.line;
                let from = lines.offset(line, tok.span.start.column);
                let to = lines.line_end(line);
                pieces.push(Piece::Meta {
                    text: text[from..to].trim().to_string(),
                    line: line as usize,
                });
                while i + 1 < tokens.len() && tokens[i + 1].span.start.line == line {
                    i += 1;
                }
            }
            (_, None) => start = Some((i, tok.span.start.line)),
            (Token::SemiColon, Some((s, line))) => {
                push_sql(&mut pieces, text, &lines, &tokens[s..i], line);
                start = None;
            }
            _ => {}
        }
        i += 1;
    }
    if let Some((s, line)) = start {
        push_sql(&mut pieces, text, &lines, &tokens[s..], line);
    }
    Ok(pieces)
}

fn push_sql(pieces: &mut Vec<Piece>, text: &str, lines: &Lines, toks: &[TokenWithSpan], line: u64) {
    let Some(first) = toks.first() else { return };
    let last = toks
        .iter()
        .rev()
        .find(|t| !is_blank(&t.token))
        .unwrap_or(first);
    let from = lines.offset(first.span.start.line, first.span.start.column);
    let to = lines
        .offset(last.span.end.line, last.span.end.column)
        .max(from);
    let body = text[from..to].trim_end();
    if !body.is_empty() {
        pieces.push(Piece::Sql {
            text: body.to_string(),
            line: line as usize,
        });
    }
}

/// True when `line` is a backslash meta command rather than SQL: the one rule every front end
/// uses (through [`split`]).
pub fn is_meta(line: &str) -> bool {
    line.trim_start().starts_with('\\')
}

/// True when `buffer` holds at least one complete statement: its last token (comments aside) is
/// `;`, or it is a meta command. Used by the REPL to decide whether to keep reading lines.
pub fn is_complete(buffer: &str) -> bool {
    if is_meta(buffer) {
        return true;
    }
    match tokenize(buffer) {
        // An unterminated string or comment: keep reading.
        Err(_) => false,
        Ok(tokens) => tokens
            .iter()
            .rev()
            .find(|t| !is_blank(&t.token))
            .map(|t| t.token == Token::SemiColon)
            .unwrap_or(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql(text: &str, line: usize) -> Piece {
        Piece::Sql {
            text: text.into(),
            line,
        }
    }

    #[test]
    fn semicolons_in_strings_comments_and_identifiers_do_not_split() {
        let script = "SELECT 'a;b' AS \"x;y\"; -- c;d\n/* e;f */ SELECT 2;";
        assert_eq!(
            split(script).unwrap(),
            vec![sql("SELECT 'a;b' AS \"x;y\"", 1), sql("SELECT 2", 2)]
        );
    }

    #[test]
    fn lines_point_at_first_token_and_last_statement_needs_no_semicolon() {
        let script = "\n\n-- header\nSELECT 1\n  FROM t;\n\nSELECT 2";
        assert_eq!(
            split(script).unwrap(),
            vec![sql("SELECT 1\n  FROM t", 4), sql("SELECT 2", 7)]
        );
    }

    #[test]
    fn meta_commands_take_their_line() {
        let script = "\\timing on\nSELECT 1;\n  \\format csv\n";
        assert_eq!(
            split(script).unwrap(),
            vec![
                Piece::Meta {
                    text: "\\timing on".into(),
                    line: 1
                },
                sql("SELECT 1", 2),
                Piece::Meta {
                    text: "\\format csv".into(),
                    line: 3
                },
            ]
        );
    }

    #[test]
    fn unicode_before_a_statement_keeps_offsets_right() {
        let script = "SELECT 'é😈';\nSELECT 'ü'";
        assert_eq!(
            split(script).unwrap(),
            vec![sql("SELECT 'é😈'", 1), sql("SELECT 'ü'", 2)]
        );
    }

    #[test]
    fn completeness_for_the_prompt() {
        assert!(is_complete("SELECT 1;"));
        assert!(is_complete("SELECT 1; -- trailing"));
        assert!(!is_complete("SELECT 1"));
        assert!(!is_complete("SELECT ';"));
        assert!(is_complete("\\dt"));
    }
}
