//! Backslash meta commands, one enum. Parsed here; [`crate::shell::Shell`] carries them out.

use std::path::PathBuf;

use crate::error::{LakeError, Result};
use crate::output::{Expanded, Format};

/// A meta command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Meta {
    /// `\?` or `\h`: help.
    Help,
    /// `\q`: quit.
    Quit,
    /// `\dt [pattern]`: tables with kind, version and location.
    ListTables(Option<String>),
    /// `\d table`: columns, types, partition columns.
    Describe(String),
    /// `\timing [on|off]`: show elapsed time under results (no argument toggles).
    Timing(Option<bool>),
    /// `\format NAME`: output format.
    Format(Format),
    /// `\maxrows N`: rows shown before a result is cut (0 = all).
    MaxRows(usize),
    /// `\i FILE`: run a script file.
    Include(PathBuf),
    /// `\o [FILE]`: send results to FILE, or back to the terminal.
    Output(Option<PathBuf>),
    /// `\types [on|off]`: column types under the names (no argument toggles).
    Types(Option<bool>),
    /// `\x [on|off|auto]`: expanded display, one line per column (no argument toggles).
    Expanded(Option<Expanded>),
    /// `\pager [on|off]`: results taller than the screen go through `$PAGER` (or `less -S`).
    Pager(Option<bool>),
    /// `\highlight [on|off]`: syntax highlighting at the prompt.
    Highlight(Option<bool>),
    /// `\history [N]`: the last N statements (all without N), secrets redacted. Prompt only.
    History(Option<usize>),
    /// `\e`: edit the current or last statement in `$EDITOR`, then run it. Prompt only.
    Edit,
    /// `\diff t@v3 t@v5 [key]` (or `\diff t 3 5 [key]`): rows added, removed and changed
    /// between two versions, by `table_diff`.
    Diff {
        table: String,
        from: u64,
        to: u64,
        key: Option<String>,
    },
    /// `\chart LABEL VALUE`: the last result as horizontal bars, one text and one number column.
    Chart { label: String, value: String },
}

/// Every meta command with its one-line help, for `\?` and completion.
pub const COMMANDS: [(&str, &str); 18] = [
    ("\\?", "show this help"),
    ("\\q", "quit (Ctrl-D works too)"),
    (
        "\\dt",
        "[PATTERN]  list tables: name, kind, current version, location",
    ),
    (
        "\\d",
        "TABLE  describe a table: columns, types, partition columns",
    ),
    ("\\timing", "[on|off]  show elapsed time under results"),
    (
        "\\format",
        "table|csv|tsv|json|ndjson|markdown  set the output format",
    ),
    (
        "\\maxrows",
        "N  rows shown before a result is cut (0 shows all)",
    ),
    ("\\i", "FILE  run the statements in FILE"),
    (
        "\\o",
        "[FILE]  send results to FILE; \\o alone sends them back here",
    ),
    (
        "\\types",
        "[on|off]  column types under the names (on a terminal)",
    ),
    (
        "\\x",
        "[on|off|auto]  expanded display, one line per column; auto when rows are too wide",
    ),
    (
        "\\pager",
        "[on|off]  results taller than the screen through $PAGER (or less -S)",
    ),
    ("\\highlight", "[on|off]  syntax highlighting at the prompt"),
    ("\\history", "[N]  the last N statements (secrets redacted)"),
    (
        "\\e",
        "edit the current or last statement in $EDITOR, then run it",
    ),
    (
        "\\diff",
        "T@vN T@vM [KEY]  rows added, removed and changed between two versions",
    ),
    (
        "\\chart",
        "LABEL VALUE  the last result as bars: a text column and a number column",
    ),
    ("\\h", "same as \\?"),
];

/// The help text for `\?`.
pub fn help() -> String {
    let mut s = String::from(
        "SQL statements end with ';' and may span lines. Ctrl-C cancels a running statement; Ctrl-D exits.\n\
         Tables: schema.table names folders of the warehouse; CREATE EXTERNAL TABLE name STORED AS DELTA\n\
         LOCATION 'url' registers one elsewhere; delta.`url` and 'path/file.csv' read by path.\n\nMeta commands:\n",
    );
    for (cmd, text) in COMMANDS {
        s.push_str(&format!("  {cmd:<9} {text}\n"));
    }
    s
}

impl Meta {
    /// Parses a line starting with `\`.
    pub fn parse(line: &str) -> Result<Meta> {
        let line = line.trim().trim_end_matches(';').trim();
        let (cmd, arg) = match line.split_once(char::is_whitespace) {
            Some((c, a)) => (c, Some(a.trim()).filter(|a| !a.is_empty())),
            None => (line, None),
        };
        let need = |what: &str| {
            LakeError::MetaCommand(format!("{cmd} needs {what}; \\? lists the meta commands"))
        };
        match cmd {
            "\\?" | "\\h" | "\\help" => Ok(Meta::Help),
            "\\q" | "\\quit" => Ok(Meta::Quit),
            "\\dt" => Ok(Meta::ListTables(arg.map(str::to_string))),
            "\\d" => arg
                .map(|a| Meta::Describe(a.to_string()))
                .ok_or_else(|| need("a table name")),
            "\\timing" => switch(arg)
                .map(Meta::Timing)
                .ok_or_else(|| need("on or off")),
            "\\types" => switch(arg)
                .map(Meta::Types)
                .ok_or_else(|| need("on or off")),
            "\\pager" => switch(arg)
                .map(Meta::Pager)
                .ok_or_else(|| need("on or off")),
            "\\highlight" => switch(arg)
                .map(Meta::Highlight)
                .ok_or_else(|| need("on or off")),
            "\\x" => match arg.map(|a| a.to_ascii_lowercase()).as_deref() {
                Some("auto") => Ok(Meta::Expanded(Some(Expanded::Auto))),
                _ => switch(arg)
                    .map(|on| {
                        Meta::Expanded(on.map(|on| if on { Expanded::On } else { Expanded::Off }))
                    })
                    .ok_or_else(|| need("on, off or auto")),
            },
            "\\history" => match arg {
                None => Ok(Meta::History(None)),
                Some(a) => a
                    .parse()
                    .map(|n| Meta::History(Some(n)))
                    .map_err(|_| need("a number")),
            },
            "\\e" | "\\edit" => Ok(Meta::Edit),
            "\\format" => Ok(Meta::Format(arg.ok_or_else(|| need("a format"))?.parse()?)),
            "\\maxrows" => arg
                .and_then(|a| a.parse().ok())
                .map(Meta::MaxRows)
                .ok_or_else(|| need("a number")),
            "\\i" => arg
                .map(|a| Meta::Include(PathBuf::from(a)))
                .ok_or_else(|| need("a file")),
            "\\o" => Ok(Meta::Output(arg.map(PathBuf::from))),
            "\\diff" => parse_diff(arg.unwrap_or_default()).ok_or_else(|| {
                need("two versions of a table: \\diff orders@v3 orders@v5 [key], or \\diff orders 3 5 [key]")
            }),
            "\\chart" => match arg.map(|a| a.split_whitespace().collect::<Vec<_>>()).as_deref() {
                Some([label, value]) => Ok(Meta::Chart {
                    label: label.to_string(),
                    value: value.to_string(),
                }),
                _ => Err(need("a text column and a number column of the last result: \\chart region revenue")),
            },
            other => Err(LakeError::MetaCommand(format!(
                "unknown meta command {other}; \\? lists them"
            ))),
        }
    }
}

/// `t@vN t@vM [key]`, `t@vN @vM [key]` or `t N M [key]`.
fn parse_diff(arg: &str) -> Option<Meta> {
    let words: Vec<&str> = arg.split_whitespace().collect();
    let at = |w: &str| -> Option<(String, u64)> {
        let (t, v) = w.rsplit_once('@')?;
        let v = v.strip_prefix(['v', 'V'])?.parse().ok()?;
        Some((t.to_string(), v))
    };
    let (table, from, to, rest) = match words.as_slice() {
        [a, b, rest @ ..] if at(a).is_some() => {
            let (table, from) = at(a)?;
            let (other, to) = at(b)?;
            if !other.is_empty() && other != table {
                return None;
            }
            (table, from, to, rest)
        }
        [t, a, b, rest @ ..] => (t.to_string(), a.parse().ok()?, b.parse().ok()?, rest),
        _ => return None,
    };
    let key = match rest {
        [] => None,
        [k] => Some(k.strip_prefix("key=").unwrap_or(k).to_string()),
        _ => return None,
    };
    Some(Meta::Diff {
        table,
        from,
        to,
        key,
    })
}

/// `on`/`off` as a switch; no argument is None (toggle); anything else is an error (None).
fn switch(arg: Option<&str>) -> Option<Option<bool>> {
    match arg.map(|a| a.to_ascii_lowercase()).as_deref() {
        None => Some(None),
        Some("on") => Some(Some(true)),
        Some("off") => Some(Some(false)),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_command() {
        assert_eq!(Meta::parse("\\?").unwrap(), Meta::Help);
        assert_eq!(Meta::parse("\\q").unwrap(), Meta::Quit);
        assert_eq!(
            Meta::parse("\\dt sales.*").unwrap(),
            Meta::ListTables(Some("sales.*".into()))
        );
        assert_eq!(Meta::parse("\\dt").unwrap(), Meta::ListTables(None));
        assert_eq!(
            Meta::parse("\\d orders").unwrap(),
            Meta::Describe("orders".into())
        );
        assert_eq!(
            Meta::parse("\\timing off").unwrap(),
            Meta::Timing(Some(false))
        );
        assert_eq!(
            Meta::parse("\\format csv").unwrap(),
            Meta::Format(Format::Csv)
        );
        assert_eq!(Meta::parse("\\maxrows 5").unwrap(), Meta::MaxRows(5));
        assert_eq!(
            Meta::parse("\\i a.sql").unwrap(),
            Meta::Include("a.sql".into())
        );
        assert_eq!(Meta::parse("\\o").unwrap(), Meta::Output(None));
        assert_eq!(
            Meta::parse("\\types off").unwrap(),
            Meta::Types(Some(false))
        );
        assert_eq!(
            Meta::parse("\\x auto").unwrap(),
            Meta::Expanded(Some(Expanded::Auto))
        );
        assert_eq!(Meta::parse("\\x").unwrap(), Meta::Expanded(None));
        assert_eq!(Meta::parse("\\pager on").unwrap(), Meta::Pager(Some(true)));
        assert_eq!(Meta::parse("\\history 5").unwrap(), Meta::History(Some(5)));
        assert_eq!(Meta::parse("\\e").unwrap(), Meta::Edit);
        assert!(Meta::parse("\\x sideways").is_err());
        let diff = Meta::Diff {
            table: "s.orders".into(),
            from: 3,
            to: 5,
            key: Some("id".into()),
        };
        assert_eq!(
            Meta::parse("\\diff s.orders@v3 s.orders@v5 id").unwrap(),
            diff
        );
        assert_eq!(Meta::parse("\\diff s.orders@v3 @v5 key=id").unwrap(), diff);
        assert_eq!(Meta::parse("\\diff s.orders 3 5 id").unwrap(), diff);
        assert!(Meta::parse("\\diff a@v1 b@v2").is_err());
        assert_eq!(
            Meta::parse("\\chart region revenue").unwrap(),
            Meta::Chart {
                label: "region".into(),
                value: "revenue".into()
            }
        );
        assert!(Meta::parse("\\chart region").is_err());
    }

    #[test]
    fn bad_input_says_what_to_do() {
        let e = Meta::parse("\\maxrows lots").unwrap_err().to_string();
        assert!(e.contains("needs a number"), "{e}");
        assert!(Meta::parse("\\zz")
            .unwrap_err()
            .to_string()
            .contains("\\? lists them"));
    }
}
