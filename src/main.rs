//! The `lakeshell` binary: parses flags and hands off to [`lakeshell::cli::run`].

use clap::Parser;

/// mimalloc, as datafusion-cli ships: DataFusion allocates many short-lived buffers.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[allow(clippy::print_stderr)] // the one message printed before lakeshell can print it
fn main() -> std::process::ExitCode {
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
            return std::process::ExitCode::from(2);
        }
    };
    let code = runtime.block_on(lakeshell::cli::run(cli));
    std::process::ExitCode::from(code as u8)
}
