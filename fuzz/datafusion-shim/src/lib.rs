//! `datafusion::sql::sqlparser`, the path lakeshell's sources use, without DataFusion.
pub mod sql {
    pub use sqlparser;
}
