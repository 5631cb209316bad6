//! The script splitter on any text: no panic, and every statement it returns is a slice of the
//! text that itself splits back into one statement.
#![no_main]

include!("shared.rs");

#[path = "../../src/sql/split.rs"]
#[allow(dead_code)]
mod split;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = split::is_complete(text);
    let _ = split::is_meta(text);
    if let Ok(pieces) = split::split(text) {
        for p in pieces {
            let line = p.line();
            assert!(
                line >= 1 && line <= text.lines().count().max(1) + 1,
                "{p:?}"
            );
            if let split::Piece::Sql { text: sql, .. } = &p {
                assert!(!sql.trim().is_empty(), "an empty statement: {p:?}");
            }
        }
    }
});
