//! The `lakeshell` binary: parses flags and hands off to [`lakeshell::cli::run`].

use clap::Parser;

/// mimalloc, as datafusion-cli ships: DataFusion allocates many short-lived buffers.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[allow(clippy::print_stderr)] // the one message printed before lakeshell can print it
fn main() {
    // Errors from the Delta kernel carry a captured backtrace in their message when
    // RUST_BACKTRACE is set; a user's error line never shows one. Panics still honour
    // RUST_BACKTRACE. Set before any other thread starts.
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
    }
    quiet_panics();
    let cli = lakeshell::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            std::process::exit(2);
        }
    };
    let code = runtime.block_on(lakeshell::cli::run(cli));
    // Exit with the runtime still up: shutting it down races the Delta kernel's executor
    // thread, which then panics on its closed channel and prints a panic after the error line.
    // `exit` flushes stdout.
    std::process::exit(i32::from(code as u8))
}

/// A panic never prints a backtrace or a multi-line report. On the main thread (a bug in
/// lakeshell or a crate under it) it prints one line and the process exits with 101. Elsewhere
/// (a Tokio worker, whose panic its task's caller receives as an error, such as delta-rs
/// aborting a parquet upload whose store already failed) it prints nothing: the statement's own
/// error line says what failed.
#[allow(clippy::print_stderr)]
fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        if std::thread::current().name() != Some("main") || lakeshell::error::panic_is_caught() {
            return;
        }
        let msg = lakeshell::error::panic_message(info.payload());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let line = msg.lines().next().unwrap_or_default();
        eprintln!("error: internal error: {line}{at} (a bug; please report it)");
    }));
}
