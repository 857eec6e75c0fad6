//! Writes one generated bench workload as a scenario file, to run or profile
//! with the CLI, e.g.
//! `cargo run --release -p wharf-benches --example workload -- requests 10001 > /tmp/r.ron`
//! then `perf record -g target/release/wharf run -q /tmp/r.ron`.
//!
//! Workloads: `requests HOSTS [ROUND_TRIPS]` (10 by default), `pools SERVERS SIZE ip|name`, `pairs N [idle|ip|name]`,
//! `mesh N`. With `--run N` first it runs the workload N times in-process
//! instead and prints the best wall time of a run (what the benches time),
//! e.g. to compare two builds or under `perf record`.

/// The CLI's allocator (`wharf_benches::Allocator`).
#[global_allocator]
static ALLOC: wharf_benches::Allocator = wharf_benches::ALLOCATOR;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut runs = 0;
    if args.first().map(String::as_str) == Some("--run") {
        runs = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1);
        args.drain(..2.min(args.len()));
    }
    let num = |i: usize| args.get(i).and_then(|s| s.parse::<usize>().ok());
    let text = match (args.first().map(String::as_str), num(1), num(2)) {
        (Some("requests"), Some(h), trips) => wharf_benches::requests(h, trips.unwrap_or(10)),
        (Some("pools"), Some(s), Some(size)) => {
            wharf_benches::pools(s, size as u32, args.get(3).map(String::as_str) == Some("ip"))
        }
        (Some("pairs"), Some(n), _) => {
            let mode = match args.get(2).map(String::as_str) {
                Some("idle") => wharf_benches::PairMode::Idle,
                Some("name") => wharf_benches::PairMode::Name,
                _ => wharf_benches::PairMode::Ip,
            };
            wharf_benches::pairs_mode(n, mode)
        }
        (Some("mesh"), Some(n), _) => wharf_benches::mesh(n),
        _ => {
            eprintln!("usage: workload requests HOSTS [ROUND_TRIPS] | pools SERVERS SIZE ip|name | pairs N [idle|ip|name] | mesh N");
            std::process::exit(2);
        }
    };
    if runs == 0 {
        print!("{text}");
        return;
    }
    let loaded = wharf::scenario::load_str("workload.ron", &text).expect("generated scenarios are valid");
    let (best, r) = wharf_benches::best_of(&loaded, runs);
    eprintln!("{} events; best of {runs} runs: {:.3} ms", r.world.events, best * 1e3);
}
