use clap::Parser;
use std::io::Write;

/// jemalloc on transparent huge pages (.cargo/config.toml) on Linux.
#[cfg(target_os = "linux")]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    let cli = wharf::cli::Cli::parse();
    let (code, out, err) = wharf::cli::main_with(cli);
    let _ = std::io::stdout().write_all(out.as_bytes());
    let _ = std::io::stderr().write_all(err.as_bytes());
    std::process::exit(code);
}
