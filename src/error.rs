//! The one error type at the crate edge, and the exit codes it maps to.
//!
//! Context (a statement's file and line, a table's location) is added by wrapping, never by
//! formatting strings early: `LakeError::At` wraps any error with where it happened.

use std::fmt;

/// Result alias used across lakeshell.
pub type Result<T, E = LakeError> = std::result::Result<T, E>;

/// Where a statement came from: a script file and line, `-c`, stdin or the prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// File name, or `-c`, `<stdin>`, `<prompt>`.
    pub source: String,
    /// 1-based line of the statement's first token.
    pub line: usize,
    /// The statement's first line, as written (trimmed, cut to a readable length).
    pub first_line: String,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.source, self.line, self.first_line)
    }
}

/// Everything that can go wrong in lakeshell.
#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    /// SQL text that does not parse.
    #[error("syntax error: {0}")]
    Parse(String),
    /// A `${name}` with no value.
    #[error("undefined variable ${{{0}}}: pass --var {0}=VALUE or set it in the environment")]
    UndefinedVariable(String),
    /// A table name that resolves to nothing.
    #[error("table not found: {name} (looked in {looked_in}); \\dt lists the tables")]
    TableNotFound { name: String, looked_in: String },
    /// A location without a Delta log.
    #[error("not a Delta table: {0} (no _delta_log folder there)")]
    NotDelta(String),
    /// A table that already exists where a statement would create it.
    #[error("table already exists: {0} (use CREATE OR REPLACE TABLE, or IF NOT EXISTS)")]
    TableExists(String),
    /// Something the user asked for that lakeshell does not support (yet).
    #[error("not supported: {0}")]
    Unsupported(String),
    /// A statement that cannot run as written (a version outside the history, a violated
    /// constraint, an ambiguous MERGE), with what to do about it.
    #[error("{0}")]
    Invalid(String),
    /// Another writer committed a conflicting change while the statement ran; nothing was
    /// written.
    #[error("{0}")]
    Conflict(Box<Conflict>),
    /// A data-quality expectation failed (a FAIL expectation in a write or a check).
    #[error("{0}")]
    Expectation(String),
    /// A bad value in a flag, option or meta command.
    #[error("{0}")]
    Usage(String),
    /// A query failed in DataFusion.
    #[error("{}", clean_datafusion(.0))]
    DataFusion(#[from] datafusion::error::DataFusionError),
    /// A Delta operation failed in delta-rs.
    #[error("{}", clean_delta(.0))]
    Delta(#[from] deltalake::DeltaTableError),
    /// An object-store request failed.
    #[error("storage: {}", one_line(&.0.to_string()))]
    Storage(#[from] object_store::Error),
    /// Local I/O failed (reading a script, writing output).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Rendering output failed.
    #[error("output: {0}")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    /// Configuration file could not be read or parsed.
    #[error("config: {0}")]
    Config(String),
    /// The user pressed Ctrl-C while a statement ran.
    #[error("cancelled")]
    Cancelled,
    /// An error about one table, with the table named.
    #[error("{table}: {source}")]
    OnTable {
        table: String,
        #[source]
        source: Box<LakeError>,
    },
    /// An error in a statement, with where the statement is.
    #[error("{origin}: {source}")]
    At {
        origin: Origin,
        #[source]
        source: Box<LakeError>,
    },
}

/// A commit that lost to another writer's, and what lakeshell knows of the winner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The table written.
    pub table: String,
    /// The competing commit, as `version 5 (OPTIMIZE by lakeshell/0.1.0)`.
    pub competing: Option<String>,
    /// Why the two cannot both commit.
    pub cause: String,
    /// Running the statement again on the new version is what a serial order would have done:
    /// every commit since it read the table left the rows as they were (OPTIMIZE, VACUUM), or
    /// the statement's own outcome does not depend on what it read (a blind append,
    /// maintenance).
    pub retry: bool,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = self
            .competing
            .as_deref()
            .map(|c| format!("{c} was committed by another writer"))
            .unwrap_or_else(|| "another writer committed".into());
        write!(
            f,
            "{}: conflicting write: {who} while this statement ran, and the Delta conflict rules do not allow both ({}); nothing was written, run the statement again",
            self.table, self.cause
        )
    }
}

impl LakeError {
    /// Wraps this error with the statement it came from.
    pub fn at(self, origin: Origin) -> Self {
        LakeError::At {
            origin,
            source: Box::new(self),
        }
    }

    /// Wraps this error with the table it concerns.
    pub fn on_table(self, table: impl Into<String>) -> Self {
        LakeError::OnTable {
            table: table.into(),
            source: Box::new(self),
        }
    }

    /// The process exit code for this error: 2 for usage and unreadable input, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            LakeError::Usage(_) | LakeError::Config(_) => 2,
            // Anything that went wrong in a statement is a statement failure.
            LakeError::At { .. } => 1,
            LakeError::OnTable { source, .. } => source.exit_code(),
            _ => 1,
        }
    }
}

/// DataFusion errors carry nested context prefixes ("External error: ...", "Error during
/// planning: ..."); a user wants the cause, once, on one line.
fn clean_datafusion(e: &datafusion::error::DataFusionError) -> String {
    use datafusion::error::DataFusionError as D;
    let inner = match e {
        D::External(inner) => {
            if let Some(d) = inner.downcast_ref::<deltalake::DeltaTableError>() {
                return clean_delta(d);
            }
            inner.to_string()
        }
        D::Context(ctx, inner) => format!("{ctx}: {}", clean_datafusion(inner)),
        D::Plan(s) => s.clone(),
        D::SQL(e, _) => format!("syntax error: {e}"),
        D::SchemaError(e, _) => e.to_string(),
        D::Execution(s) => s.clone(),
        D::Diagnostic(_, inner) => clean_datafusion(inner),
        D::Shared(inner) => clean_datafusion(inner),
        D::ObjectStore(os) => format!("storage: {os}"),
        D::ArrowError(a, _) => a.to_string(),
        other => other.to_string(),
    };
    if inner.contains("Object at location") && inner.contains("not found") {
        return format!(
            "{}; a data file of this table version is gone: VACUUM deletes the files of old versions, and FSCK REPAIR TABLE removes lost files from the current one",
            one_line(&inner)
        );
    }
    if inner.contains("is declared as non-nullable but contains null values") {
        return format!(
            "NOT NULL constraint violated: a NULL went to a column declared NOT NULL; nothing was written ({})",
            one_line(&inner)
        );
    }
    one_line(&inner)
}

fn clean_delta(e: &deltalake::DeltaTableError) -> String {
    use deltalake::DeltaTableError as E;
    let s = match e {
        E::NotATable(p) => format!("not a Delta table: {p} (no _delta_log folder there)"),
        E::InvalidTableLocation(p) => format!("invalid table location: {p}"),
        other => other.to_string(),
    };
    // delta-rs nests its wrappers' names into the text; the cause is what a user needs.
    let mut s = s.as_str();
    for prefix in [
        "Generic DeltaTable error: ",
        "Generic error: ",
        "Arrow error: ",
        "Kernel error: ",
        "External error: ",
    ] {
        while let Some(rest) = s.strip_prefix(prefix) {
            s = rest;
        }
    }
    one_line(s)
}

/// Folds a multi-line message into one line, and an XML error body from an object store
/// (`<Error><Code>NoSuchBucket</Code><Message>...</Message>...`) into `NoSuchBucket: ...`.
pub fn one_line(s: &str) -> String {
    let s = match s.find("<?xml").or_else(|| s.find("<Error>")) {
        Some(start) => {
            let tag = |t: &str| {
                let open = format!("<{t}>");
                let close = format!("</{t}>");
                let from = s.find(&open)? + open.len();
                let to = s[from..].find(&close)? + from;
                Some(s[from..to].to_string())
            };
            let head = s[..start].trim_end().trim_end_matches(':');
            match (tag("Code"), tag("Message")) {
                (Some(c), Some(m)) => format!("{head}: {c}: {m}"),
                (Some(c), None) => format!("{head}: {c}"),
                _ => s[..start].to_string(),
            }
        }
        None => s.to_string(),
    };
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_error_bodies_become_one_line() {
        let raw = "Generic S3 error: Error performing GET http://x/b in 3ms - Server returned non-2xx status code: 404 Not Found: <?xml version=\"1.0\"?>\n<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>";
        assert_eq!(
            one_line(raw),
            "Generic S3 error: Error performing GET http://x/b in 3ms - Server returned non-2xx status code: 404 Not Found: NoSuchBucket: The specified bucket does not exist"
        );
    }

    #[test]
    fn at_shows_file_line_and_cause() {
        let e = LakeError::Parse("Expected: end of statement".into()).at(Origin {
            source: "a.sql".into(),
            line: 3,
            first_line: "SELEC 1".into(),
        });
        assert_eq!(
            e.to_string(),
            "a.sql:3: SELEC 1: syntax error: Expected: end of statement"
        );
        assert_eq!(e.exit_code(), 1);
    }

    #[test]
    fn usage_errors_exit_2_unless_a_statement_failed() {
        let e = LakeError::Usage("bad".into()).on_table("t");
        assert_eq!(e.exit_code(), 2);
        let origin = Origin {
            source: "a.sql".into(),
            line: 1,
            first_line: "\\maxrows x".into(),
        };
        assert_eq!(e.at(origin).exit_code(), 1);
    }
}
