// What lakeshell's sources expect at `crate::error`, for the fuzz targets that include them.
pub mod error {
    #[derive(Debug)]
    pub enum LakeError {
        Parse(String),
        UndefinedVariable(String),
    }
    pub type Result<T> = std::result::Result<T, LakeError>;
    pub fn remember_secret(_: &str) {}
}
