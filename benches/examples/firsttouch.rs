//! What memory costs the first time a process touches it, through the CLI's
//! allocator: `cargo run --release -p wharf-benches --example firsttouch -- 1024`
//! allocates that many MiB three times over, writes one byte per 4 KiB page
//! and frees it, and prints each round's GB/s (then a second pass over the
//! same pages: cache and TLB, no page faults). Compare with
//! `_RJEM_MALLOC_CONF=thp:never` in front (jemalloc reads it at start): on
//! Linux the CLI's jemalloc asks for transparent huge pages
//! (`.cargo/config.toml`). The README's Performance section has what this
//! measured on the project's VM, and why the first round can be slow there.

use std::io::Write;
use std::time::Instant;

/// The CLI's allocator (`wharf_benches::Allocator`).
#[global_allocator]
static ALLOC: wharf_benches::Allocator = wharf_benches::ALLOCATOR;

const PAGE: usize = 4096;

fn main() {
    let Some(mib) = std::env::args().nth(1).and_then(|a| a.parse::<usize>().ok()).filter(|&m| m > 0) else {
        eprintln!("usage: firsttouch MIB   (e.g. firsttouch 1024)");
        std::process::exit(2);
    };
    let Some(bytes) = mib.checked_mul(1 << 20) else {
        eprintln!("firsttouch: {mib} MiB is more than this machine can address");
        std::process::exit(2);
    };
    let mut out = std::io::stdout().lock();
    for round in 1..=3 {
        // A zeroed buffer this large is mapped fresh (or reused from what
        // jemalloc kept, zeroed again); the loop's first write to each page
        // is what faults it in. Allocation and first writes are timed
        // together.
        let t0 = Instant::now();
        let mut v = vec![0u8; bytes];
        for i in (0..bytes).step_by(PAGE) {
            v[i] = 1;
        }
        std::hint::black_box(&mut v);
        let first = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        for i in (0..bytes).step_by(PAGE) {
            v[i] = 2;
        }
        std::hint::black_box(&mut v);
        let again = t1.elapsed().as_secs_f64();
        drop(v);
        let line = writeln!(
            out,
            "round {round}: allocate and first touch {:.3} s ({:.2} GB/s), touch again {:.3} s",
            first,
            bytes as f64 / first / 1e9,
            again
        );
        if line.is_err() {
            return; // stdout closed (`| head -1`): nothing more to say.
        }
    }
}
