use clap::Parser;

#[cfg(target_os = "linux")]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
use std::io::Write;

fn main() {
    let cli = wharf::cli::Cli::parse();
    let (code, out, err) = wharf::cli::main_with(cli);
    let _ = std::io::stdout().write_all(out.as_bytes());
    let _ = std::io::stderr().write_all(err.as_bytes());
    std::process::exit(code);
}
