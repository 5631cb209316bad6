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
    #[error(
        "table not found: {name} (looked in {looked_in}); {}",
        did_you_mean(suggestion)
    )]
    TableNotFound {
        name: String,
        looked_in: String,
        /// The closest known name, when one is close.
        suggestion: Option<String>,
    },
    /// A location without a Delta log.
    #[error("not a Delta table: {0} (no _delta_log folder there)")]
    NotDelta(String),
    /// A table that already exists where a statement would create it.
    #[error("table already exists: {0} (use CREATE OR REPLACE TABLE, or IF NOT EXISTS)")]
    TableExists(String),
    /// Something the user asked for that lakeshell does not support (yet).
    #[error("not supported: {0}")]
    Unsupported(String),
    /// A write in a read-only session (`--read-only`, a target with `read_only = true`).
    #[error("read-only: {0}")]
    ReadOnly(String),
    /// A name that cannot name a table or schema.
    #[error("{0}")]
    BadName(String),
    /// A location that cannot be parsed (an unknown scheme, a bad URL or path).
    #[error("{0}")]
    BadLocation(String),
    /// A statement that cannot run as written (a column the table lacks, a clause that does
    /// not fit, a bad argument), with what to do about it.
    #[error("{0}")]
    BadStatement(String),
    /// A version or time outside a table's history, or one no longer available.
    #[error("{0}")]
    Version(String),
    /// A query needed more memory than the session may use, and could not spill.
    #[error("the query needs more memory than the limit of {limit} ({}); raise it with --memory-limit or SET datafusion.runtime.memory_limit = '8G', or let it spill with --temp-dir", one_line(cause))]
    MemoryLimit { limit: String, cause: String },
    /// A data file the table version lists is gone from storage.
    #[error("a data file of this table version is gone: VACUUM deletes the files of old versions, and FSCK REPAIR TABLE removes lost files from the current one (missing: {0})")]
    MissingFile(String),
    /// A row broke a CHECK constraint, NOT NULL or a generated column; nothing was written.
    #[error("{0}")]
    Constraint(String),
    /// A MERGE in which several source rows match one target row.
    #[error("{0}")]
    AmbiguousMerge(String),
    /// Another writer committed a conflicting change while the statement ran; nothing was
    /// written.
    #[error("{0}")]
    Conflict(Box<Conflict>),
    /// A data-quality expectation failed (a FAIL expectation in a write or a check).
    #[error("{0}")]
    Expectation(String),
    /// The target committed, but a write that follows it (quarantine, quality results, the
    /// run log) failed: Delta has no commit across tables.
    #[error("{0}")]
    PartlyWritten(String),
    /// A bad value in a flag, an option, the output format or a pipeline selection.
    #[error("{0}")]
    Flag(String),
    /// A meta command that is unknown or lacks its argument.
    #[error("{0}")]
    MetaCommand(String),
    /// A pipeline that cannot be ordered or selected (a cycle, an unknown file).
    #[error("{0}")]
    Pipeline(String),
    /// The interactive prompt could not start or read a line.
    #[error("prompt: {0}")]
    Prompt(String),
    /// One of lakeshell's own invariants broke (a poisoned lock); a bug to report.
    #[error("internal error: {0}")]
    Internal(String),
    /// A query failed in DataFusion.
    #[error("{}", clean_datafusion(.0))]
    DataFusion(#[source] datafusion::error::DataFusionError),
    /// A Delta operation failed in delta-rs.
    #[error("{}", clean_delta(.0))]
    Delta(#[source] deltalake::DeltaTableError),
    /// An object-store request failed.
    #[error("storage: {}", one_line(&.0.to_string()))]
    Storage(#[from] object_store::Error),
    /// Local I/O failed (reading a script or stdin, writing output or a report), with the file
    /// when there is one.
    #[error("{}", io_line(action, path.as_deref(), source))]
    Io {
        /// `read` or `write`.
        action: &'static str,
        path: Option<std::path::PathBuf>,
        #[source]
        source: std::io::Error,
    },
    /// Rendering output failed.
    #[error("{}", one_line(&.0.to_string()))]
    Arrow(#[source] datafusion::arrow::error::ArrowError),
    /// Configuration file could not be read or parsed.
    #[error("config: {0}")]
    Config(String),
    /// The user pressed Ctrl-C while a statement ran.
    #[error("cancelled")]
    Cancelled,
    /// A failed object-store request, with the store and the warehouse location named.
    #[error("{store} {url}: {source}")]
    OnStore {
        /// `S3`, `Azure`, `GCS`.
        store: &'static str,
        url: String,
        #[source]
        source: Box<LakeError>,
    },
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

    /// Reading `path` failed.
    pub fn read(path: impl Into<std::path::PathBuf>, source: std::io::Error) -> Self {
        LakeError::Io {
            action: "read",
            path: Some(path.into()),
            source,
        }
    }

    /// Writing `path` (or making its folder) failed.
    pub fn write(path: impl Into<std::path::PathBuf>, source: std::io::Error) -> Self {
        LakeError::Io {
            action: "write",
            path: Some(path.into()),
            source,
        }
    }

    /// True when the error is output's reader going away (`lakeshell -c ... | head`): not an
    /// error, the output simply stops. Writers that wrap the I/O error (the CSV writer) keep
    /// only its text.
    pub fn is_broken_pipe(&self) -> bool {
        match self {
            LakeError::Io { source, .. } => source.kind() == std::io::ErrorKind::BrokenPipe,
            LakeError::At { source, .. }
            | LakeError::OnTable { source, .. }
            | LakeError::OnStore { source, .. } => source.is_broken_pipe(),
            LakeError::Arrow(_) | LakeError::DataFusion(_) => {
                self.to_string().contains("Broken pipe (os error 32)")
            }
            _ => false,
        }
    }

    /// The process exit code for this error: 2 for usage and I/O, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            LakeError::Flag(_)
            | LakeError::MetaCommand(_)
            | LakeError::Pipeline(_)
            | LakeError::Prompt(_)
            | LakeError::Config(_)
            | LakeError::Io { .. } => 2,
            // Anything that went wrong in a statement is a statement failure.
            LakeError::At { .. } => 1,
            LakeError::OnTable { source, .. } | LakeError::OnStore { source, .. } => {
                source.exit_code()
            }
            _ => 1,
        }
    }
}

impl From<datafusion::error::DataFusionError> for LakeError {
    /// A lakeshell or delta-rs error that travelled through DataFusion (from a table provider,
    /// a write's stream) comes out as itself.
    fn from(e: datafusion::error::DataFusionError) -> Self {
        use datafusion::error::DataFusionError as D;
        match e {
            D::External(inner) => match inner.downcast::<LakeError>() {
                Ok(l) => *l,
                Err(inner) => match inner.downcast::<deltalake::DeltaTableError>() {
                    Ok(d) => LakeError::from(*d),
                    Err(inner) => LakeError::DataFusion(D::External(inner)),
                },
            },
            D::Diagnostic(d, inner) => match LakeError::from(*inner) {
                LakeError::DataFusion(inner) => {
                    LakeError::DataFusion(D::Diagnostic(d, Box::new(inner)))
                }
                other => other,
            },
            D::Context(ctx, inner) => match LakeError::from(*inner) {
                LakeError::DataFusion(inner) => {
                    LakeError::DataFusion(D::Context(ctx, Box::new(inner)))
                }
                other => other.on_table(ctx),
            },
            other => LakeError::DataFusion(other),
        }
    }
}

impl From<deltalake::DeltaTableError> for LakeError {
    /// A lakeshell error that travelled through delta-rs (a write's input stream) comes out as
    /// itself.
    fn from(e: deltalake::DeltaTableError) -> Self {
        match e {
            deltalake::DeltaTableError::Arrow { source } => LakeError::from(source),
            deltalake::DeltaTableError::GenericError { source } => {
                match source.downcast::<datafusion::error::DataFusionError>() {
                    Ok(d) => LakeError::from(*d),
                    Err(source) => {
                        LakeError::Delta(deltalake::DeltaTableError::GenericError { source })
                    }
                }
            }
            other => LakeError::Delta(other),
        }
    }
}

impl From<datafusion::arrow::error::ArrowError> for LakeError {
    /// An error a stream carried through Arrow (an output writer reading a failed query)
    /// comes out as itself.
    fn from(e: datafusion::arrow::error::ArrowError) -> Self {
        use datafusion::arrow::error::ArrowError as A;
        match e {
            A::ExternalError(inner) => match inner.downcast::<datafusion::error::DataFusionError>()
            {
                Ok(d) => LakeError::from(*d),
                Err(inner) => match inner.downcast::<LakeError>() {
                    Ok(l) => *l,
                    Err(inner) => LakeError::Arrow(A::ExternalError(inner)),
                },
            },
            A::IoError(_, source) => LakeError::from(source),
            other => LakeError::Arrow(other),
        }
    }
}

impl From<std::io::Error> for LakeError {
    fn from(source: std::io::Error) -> Self {
        LakeError::Io {
            action: "use",
            path: None,
            source,
        }
    }
}

/// The end of a not-found line: a guess when there is one, else where to look.
fn did_you_mean(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(name) => format!("did you mean {name}?"),
        None => "\\dt lists the tables".into(),
    }
}

fn io_line(action: &str, path: Option<&std::path::Path>, e: &std::io::Error) -> String {
    match path {
        Some(p) => format!("cannot {action} {}: {e}", p.display()),
        None => e.to_string(),
    }
}

/// DataFusion errors carry nested context prefixes ("External error: ...", "Error during
/// planning: ..."); a user wants the cause, once, on one line.
fn clean_datafusion(e: &datafusion::error::DataFusionError) -> String {
    use datafusion::error::DataFusionError as D;
    if let Some(path) = missing_object(e) {
        return LakeError::MissingFile(path).to_string();
    }
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
    one_line(&inner)
}

/// The errors `e` wraps, itself first, through every `source()`.
pub fn chain<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e), |e| e.source())
}

/// The first error of type `T` in `e`'s chain.
pub fn find<'a, T: std::error::Error + 'static>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    chain(e).find_map(|e| e.downcast_ref::<T>())
}

/// The path of an object that was not found, anywhere in `e`'s chain.
pub fn missing_object(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    chain(e).find_map(|e| match e.downcast_ref::<object_store::Error>() {
        Some(object_store::Error::NotFound { path, .. }) => Some(path.clone()),
        _ => None,
    })
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
        "Transaction failed: ",
    ] {
        while let Some(rest) = s.strip_prefix(prefix) {
            s = rest;
        }
    }
    one_line(s)
}

/// Secret values this process has used (substituted from a secret-named variable, or given as
/// a credential option): no error line shows them.
static SECRETS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Remembers `value` as a secret, so [`mask_secrets`] hides it. Values under 4 characters are
/// not remembered: masking them would blank ordinary words.
pub fn remember_secret(value: &str) {
    if value.chars().count() < 4 {
        return;
    }
    if let Ok(mut known) = SECRETS.lock() {
        if !known.iter().any(|k| k == value) {
            known.push(value.to_string());
            // Longest first, so a secret that contains another is masked whole.
            known.sort_by_key(|k| std::cmp::Reverse(k.len()));
        }
    }
}

/// `text` with every remembered secret replaced by `***`.
pub fn mask_secrets(text: &str) -> String {
    let Ok(known) = SECRETS.lock() else {
        return text.to_string();
    };
    let mut out = text.to_string();
    for secret in known.iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "***");
        }
    }
    out
}

/// Folds a multi-line message into one line, and an XML error body from an object store
/// (`<Error><Code>NoSuchBucket</Code><Message>...</Message>...`) into `NoSuchBucket: ...`.
/// Remembered secrets are masked.
pub fn one_line(s: &str) -> String {
    let s = &mask_secrets(s);
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
    fn remembered_secrets_never_reach_an_error_line() {
        remember_secret("s3cr3t-value-xyz");
        remember_secret("abc"); // too short to mask
        assert_eq!(
            one_line("sql parser error: Expected: ), found: 's3cr3t-value-xyz' near abc"),
            "sql parser error: Expected: ), found: '***' near abc"
        );
    }

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
        let e = LakeError::Flag("bad".into()).on_table("t");
        assert_eq!(e.exit_code(), 2);
        let origin = Origin {
            source: "a.sql".into(),
            line: 1,
            first_line: "\\maxrows x".into(),
        };
        assert_eq!(e.at(origin).exit_code(), 1);
    }
}

thread_local! {
    /// How many panic-catching polls are running on this thread ([`caught_panics`]).
    static CATCHING: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// True while a panic on this thread is being caught and turned into an error, so the
/// process's panic hook stays quiet about it.
pub fn panic_is_caught() -> bool {
    CATCHING.with(|c| c.get() > 0)
}

/// `fut` with a panic while it is polled caught: `Err` carries the panic's message.
pub async fn caught_panics<T>(
    fut: impl std::future::Future<Output = T>,
) -> std::result::Result<T, String> {
    use futures::FutureExt;
    struct Quiet<F>(std::pin::Pin<Box<F>>);
    impl<F: std::future::Future> std::future::Future for Quiet<F> {
        type Output = F::Output;
        fn poll(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<F::Output> {
            struct Leave;
            impl Drop for Leave {
                fn drop(&mut self) {
                    CATCHING.with(|c| c.set(c.get().saturating_sub(1)));
                }
            }
            CATCHING.with(|c| c.set(c.get() + 1));
            let _leave = Leave;
            self.0.as_mut().poll(cx)
        }
    }
    std::panic::AssertUnwindSafe(Quiet(Box::pin(fut)))
        .catch_unwind()
        .await
        .map_err(|payload| panic_message(payload.as_ref()))
}

/// What a panic said (its payload's text).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}
