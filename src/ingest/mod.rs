//! Bringing data in, below the engine: the pages of a REST API as JSON records ([`api`]) and
//! CSV and JSON files read record by record, malformed records kept apart ([`records`]). The
//! engine turns what these read into tables (`read_api`, `COPY INTO`, `read_files`).

pub mod api;
pub mod records;
