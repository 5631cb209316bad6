//! `datafusion::sql::sqlparser` (and, with the `parser` feature, `datafusion::sql::parser`,
//! `datafusion::error` and `datafusion::common`), the paths lakeshell's sources use.
pub mod sql {
    #[cfg(feature = "parser")]
    pub use datafusion_sql::parser;
    pub use sqlparser;
}

#[cfg(feature = "parser")]
pub mod error {
    pub use datafusion_common::DataFusionError;
}

#[cfg(feature = "parser")]
pub mod common {
    pub use datafusion_common::TableReference;
}
