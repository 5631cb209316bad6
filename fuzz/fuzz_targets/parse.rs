//! lakeshell's statement parser (DataFusion's, with Delta's and Databricks' statements on top)
//! on any text: it returns a statement or an error, never panics or overflows its stack, and a
//! statement it returns prints without panicking.
#![no_main]

// What lakeshell's sources expect at `crate::error`.
pub mod error {
    #[derive(Debug)]
    pub enum LakeError {
        Parse(String),
        BadName(String),
        BadStatement(String),
        Internal(String),
        Unsupported(String),
        UndefinedVariable(String),
    }
    impl std::fmt::Display for LakeError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{self:?}")
        }
    }
    pub type Result<T, E = LakeError> = std::result::Result<T, E>;
    pub fn remember_secret(_: &str) {}
}

#[path = "../../src/sql/mod.rs"]
#[allow(dead_code)]
mod sql;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(stmt) = sql::parse_statement(text) {
        let _ = stmt.to_string();
    }
});
