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
