//! Writes one generated bench workload as a scenario file, to run or profile
//! with the CLI, e.g.
//! `cargo run --release -p wharf-benches --example workload -- requests 10001 > /tmp/r.ron`
//! then `perf record -g target/release/wharf run -q /tmp/r.ron`.
//!
//! Workloads: `requests HOSTS`, `pools SERVERS SIZE ip|name`, `pairs N`,
//! `mesh N`.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize| args.get(i).and_then(|s| s.parse::<usize>().ok());
    let text = match (args.first().map(String::as_str), num(1), num(2)) {
        (Some("requests"), Some(h), _) => wharf_benches::requests(h, 10),
        (Some("pools"), Some(s), Some(size)) => {
            wharf_benches::pools(s, size as u32, args.get(3).map(String::as_str) == Some("ip"))
        }
        (Some("pairs"), Some(n), _) => wharf_benches::pairs(n, 1),
        (Some("mesh"), Some(n), _) => wharf_benches::mesh(n),
        _ => {
            eprintln!("usage: workload requests HOSTS | pools SERVERS SIZE ip|name | pairs N | mesh N");
            std::process::exit(2);
        }
    };
    print!("{text}");
}
