//! Scale and memory: `cargo bench -p wharf-benches --bench scale`.
//!
//! Not a criterion bench: each size runs a few times and prints the best
//! wall time, the events, and the heap bytes the finished world holds
//! (measured with a counting global allocator); then the marginal cost of a
//! connection (pools of 20 versus 10, by IP and by name: one TCP handshake,
//! one DNS query+answer), and request/response throughput.
//! `WHARF_BENCH_MILLION=1` adds 1,000,000 pairs and 1,000,000 pooled
//! connections, the latter in two rounds (max RSS about 3.4 GB; about a minute);
//! `WHARF_BENCH_BIG=1` adds 100,000 containers holding 1,000,000 connections.
//! `WHARF_BENCH_ONLY=memory|connections|requests` runs one part;
//! `WHARF_BENCH_VERBOSE=1` prints each connection run's time (pools of 10
//! and 20 by IP, then by name) on stderr.

use cap::Cap;
use std::time::Instant;
use wharf::run::{run, Overrides};
use wharf::scenario::{load_str, Loaded};
use wharf_benches::{best_of, pairs_mode, PairMode};

/// Counts live heap bytes (the `cap` crate's allocator, no limit set)
/// around the CLI's allocator (`wharf_benches::Allocator`), so the bench
/// times what `wharf` runs.
#[global_allocator]
static ALLOC: Cap<wharf_benches::Allocator> = Cap::new(wharf_benches::ALLOCATOR, usize::MAX);

fn live() -> usize {
    ALLOC.allocated()
}

struct Measured {
    secs: f64,
    events: u64,
    /// Heap bytes held by the finished world, its trace excluded.
    world: usize,
    /// Heap bytes of the trace records.
    trace: usize,
}

/// Like [`best_of`], but times only what follows the containers' start at
/// 1 s (the pools' or clients' programs: connects, handshakes, lookups,
/// requests): the network attach of every container runs untimed first, so
/// its cost and its noise stay out of the difference between two pool
/// sizes. Returns the best time and the events timed.
fn best_after_start(loaded: &Loaded, repeats: usize) -> (f64, u64) {
    let mut best = (f64::MAX, 0);
    for _ in 0..repeats {
        let mut w = wharf::run::world_at(loaded, Overrides::default(), wharf::time::Dur::secs(1));
        let before = w.events;
        let t0 = Instant::now();
        w.run();
        let secs = t0.elapsed().as_secs_f64();
        if secs < best.0 {
            best = (secs, w.events - before);
        }
    }
    best
}

fn measure(pairs: usize, mode: PairMode, repeats: usize) -> Measured {
    let loaded = load_str("pairs.ron", &pairs_mode(pairs, mode)).expect("valid");
    let before = live();
    let (secs, mut r) = best_of(&loaded, repeats);
    let with_trace = live() - before;
    drop(std::mem::take(&mut r.world.trace));
    let world = live() - before;
    Measured { secs, events: r.world.events, world, trace: with_trace - world }
}

/// The marginal cost of one connection: pools of 20 versus pools of 10
/// (the same containers; `conns` more connections), by IP (a handshake) and
/// by name (a DNS query and answer first), timed from the pools' start.
/// Each size prints its best over the rounds and, on a second line, its
/// first round alone: at 1,000,000 connections the first round is the
/// first time the process touches that much memory, which on a VM can cost
/// more than the engine's work (the README's Performance section).
fn per_connection() {
    println!("\nconnections  handshake_ns  events  dns_query+answer_ns  events");
    let mut sizes = vec![(100usize, 20, 10), (10_000, 5, 2), (100_000, 3, 1)];
    if std::env::var_os("WHARF_BENCH_MILLION").is_some() {
        sizes.push((1_000_000, 2, 1));
    }
    for (conns, rounds, repeats) in sizes {
        // The four runs alternate, round by round, and each keeps its best:
        // a slow spell of the shared host then costs all four alike instead
        // of landing in one term of a difference.
        let loaded: Vec<Loaded> = [(10, true), (20, true), (10, false), (20, false)]
            .iter()
            .map(|&(size, by_ip)| load_str("pools.ron", &wharf_benches::pools(conns / 10, size, by_ip)).expect("valid"))
            .collect();
        let mut best = [(f64::MAX, 0u64); 4];
        let mut first = best;
        let verbose = std::env::var_os("WHARF_BENCH_VERBOSE").is_some();
        for round in 0..rounds {
            for ((b, f), l) in best.iter_mut().zip(first.iter_mut()).zip(&loaded) {
                let r = best_after_start(l, repeats);
                if verbose {
                    eprintln!("  {conns} connections, round {}: {:.2} ms, {} events", round + 1, r.0 * 1e3, r.1);
                }
                if round == 0 {
                    *f = r;
                }
                if r.0 < b.0 {
                    *b = r;
                }
            }
        }
        print_marginal(&conns.to_string(), conns, best);
        print_marginal("  round 1", conns, first);
    }
}

/// One line of [`per_connection`]: the four runs' (seconds, events) give the
/// marginal handshake and the marginal DNS query and answer.
fn print_marginal(label: &str, conns: usize, runs: [(f64, u64); 4]) {
    let [(ip10, e_ip10), (ip20, e_ip20), (name10, e_name10), (name20, e_name20)] = runs;
    let per = |d: f64| d * 1e9 / conns as f64;
    let hs = per(ip20 - ip10);
    let dns = per(name20 - name10) - hs;
    let (e_hs, e_dns) = ((e_ip20 - e_ip10) / conns as u64, (e_name20 - e_name10 - (e_ip20 - e_ip10)) / conns as u64);
    println!("{label:>11}  {hs:>12.0}  {e_hs:>6}  {dns:>19.0}  {e_dns:>6}");
}

/// Request/response with 10 … 10,000 clients: throughput, and the engine's
/// cost per delivered packet (wall time over packets delivered); the whole
/// run, and the run after the clients' network attach.
fn requests_scaling() {
    println!(
        "\nhosts  wall_ms    events  delivered_packets  ns/event  ns/packet  requests/s  after_start_ms  requests/s"
    );
    // Sizes alternate, round by round, each keeping its best (as in
    // `per_connection`): the ratio between sizes — the flatness the issue
    // asks for — then compares runs from the same spells of the host.
    const ROUNDS: usize = 3;
    let sizes = [(11usize, 17), (101, 7), (1001, 2), (10_001, 1)];
    let loaded: Vec<Loaded> = sizes
        .iter()
        .map(|&(hosts, _)| load_str("requests.ron", &wharf_benches::requests(hosts, 10)).expect("valid"))
        .collect();
    let mut best = vec![(f64::MAX, f64::MAX, None); sizes.len()];
    for _ in 0..ROUNDS {
        for ((b, l), &(_, repeats)) in best.iter_mut().zip(&loaded).zip(&sizes) {
            let (whole, r) = best_of(l, repeats);
            if whole < b.0 {
                b.0 = whole;
            }
            b.2 = Some((r.world.events, r.world.checks.delivered));
            // The same run timed from the clients' container start (their
            // network attach at 1 s runs untimed): programs, lookups,
            // handshakes and the requests themselves.
            b.1 = b.1.min(best_after_start(l, repeats).0);
        }
    }
    for (&(hosts, _), &(best, after, counts)) in sizes.iter().zip(&best) {
        let (events, packets) = counts.expect("ROUNDS > 0");
        let requests = (10 * (hosts - 1)) as f64;
        println!(
            "{hosts:>5}  {:>7.2}  {events:>8}  {packets:>17}  {:>8.0}  {:>9.0}  {:>10.0}  {:>14.2}  {:>10.0}",
            best * 1e3,
            best * 1e9 / events as f64,
            best * 1e9 / packets as f64,
            requests / best,
            after * 1e3,
            requests / after
        );
    }
}

/// The memory target: 100,000 containers holding 1,000,000 open
/// connections (50,000 servers, 50,000 pools of 20). `WHARF_BENCH_BIG=1`.
fn hundred_thousand_containers() {
    if std::env::var_os("WHARF_BENCH_BIG").is_none() {
        return;
    }
    let loaded = load_str("pools.ron", &wharf_benches::pools(50_000, 20, false)).expect("valid");
    let before = live();
    let t0 = Instant::now();
    let mut r = run(&loaded, Overrides::default());
    let secs = t0.elapsed().as_secs_f64();
    let with_trace = live() - before;
    let open = r.world.established();
    drop(std::mem::take(&mut r.world.trace));
    let world = live() - before;
    let gib = |b: usize| b as f64 / (1u64 << 30) as f64;
    println!(
        "\n100,000 containers, {open} connection endpoints (client + server side): {secs:.1} s, {} events; \
         world {:.2} GiB, trace {:.2} GiB, process peak {:.2} GiB",
        r.world.events,
        gib(world),
        gib(with_trace - world),
        gib(ALLOC.max_allocated())
    );
}

/// Is `part` selected (`WHARF_BENCH_ONLY` unset, or naming it)?
fn part(part: &str) -> bool {
    std::env::var("WHARF_BENCH_ONLY").map_or(true, |only| only == part)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` asks every bench target; nothing to list here.
    }
    if part("memory") {
        memory();
    }
    if part("connections") {
        per_connection();
    }
    if part("requests") {
        requests_scaling();
    }
    hundred_thousand_containers();
}

/// Memory per container and per open connection, and the cost of pairs.
fn memory() {
    let mut sizes = vec![(100, 20), (10_000, 5), (100_000, 2)];
    if std::env::var_os("WHARF_BENCH_MILLION").is_some() {
        sizes.push((1_000_000, 1));
    }
    println!("pairs      mode  wall_ms   events  ns/event  world_B/pair  trace_B/pair  process_peak_MiB");
    for (n, repeats) in sizes {
        let idle = measure(n, PairMode::Idle, repeats);
        let ip = measure(n, PairMode::Ip, repeats);
        let name = measure(n, PairMode::Name, repeats);
        for (label, m) in [("idle", &idle), ("ip", &ip), ("name", &name)] {
            println!(
                "{n:>9}  {label:>4}  {:>7.1}  {:>7}  {:>8.0}  {:>12}  {:>12}  {:>16.1}",
                m.secs * 1e3,
                m.events,
                m.secs * 1e9 / m.events as f64,
                m.world / n,
                m.trace / n,
                ALLOC.max_allocated() as f64 / (1 << 20) as f64
            );
        }
        println!(
            "{n:>9}  memory: {} B per container (idle world / 2n), {} B per open connection (ip - idle)",
            idle.world / (2 * n),
            (ip.world as i64 - idle.world as i64) / n as i64,
        );
    }
}
