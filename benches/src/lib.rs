//! Workloads for the benchmarks, as scenario text, so they run exactly like
//! user scenarios.

/// The CLI's global allocator (engine/src/main.rs): jemalloc on Linux, on
/// transparent huge pages (.cargo/config.toml); the system's elsewhere.
/// Every bench binary declares `#[global_allocator] static ALLOC:
/// Allocator = ALLOCATOR;` (the scale bench wraps it in a counter), so the
/// benches time what `wharf` runs.
#[cfg(target_os = "linux")]
pub type Allocator = tikv_jemallocator::Jemalloc;
#[cfg(target_os = "linux")]
pub const ALLOCATOR: Allocator = tikv_jemallocator::Jemalloc;
#[cfg(not(target_os = "linux"))]
pub type Allocator = std::alloc::System;
#[cfg(not(target_os = "linux"))]
pub const ALLOCATOR: Allocator = std::alloc::System;

use std::fmt::Write;

/// `pairs` client/server pairs on one network; each client connects once
/// (resolving the server's name through the embedded DNS), and sends
/// `requests` requests over the connection.
pub fn pairs(pairs: usize, requests: u32) -> String {
    let mut s = String::from("Scenario(name: \"pairs\", until: \"10m\", networks: { \"n\": Bridge(subnet: \"10.0.0.0/8\") }, containers: {\n");
    for i in 0..pairs {
        let _ = writeln!(s, "\"s{i}\": (networks: [\"n\"], program: Server(port: 80)),");
        let req =
            if requests > 0 { format!(", requests: (count: {requests}, interval: \"100ms\")") } else { String::new() };
        let _ =
            writeln!(s, "\"c{i}\": (networks: [\"n\"], start_at: \"1s\", program: Client(target: \"s{i}:80\"{req})),");
    }
    s.push_str("})");
    s
}

/// A microservice mesh of `n` services in call chains of ten (each service
/// calls the next in its chain, the last serves alone), with a load client
/// per chain sending a request a second for ten minutes.
pub fn mesh(n: usize) -> String {
    let mut s = String::from(
        "Scenario(name: \"mesh\", until: \"10m\", networks: { \"n\": Bridge(subnet: \"10.0.0.0/8\") }, containers: {\n",
    );
    for i in 0..n {
        let backend = if i % 10 == 9 { String::new() } else { format!(", backend: \"svc{}:80\"", i + 1) };
        let _ = writeln!(
            s,
            "\"svc{i}\": (networks: [\"n\"], startup: \"uniform(0s, 2s)\", program: Server(port: 80{backend})),"
        );
    }
    for i in 0..n / 10 {
        let _ = writeln!(
            s,
            "\"load{i}\": (networks: [\"n\"], start_at: \"5s\", program: Client(target: \"svc{}:80\", requests: (count: 600, interval: \"1s\"))),",
            i * 10
        );
    }
    s.push_str("})");
    s
}

/// The queue interface the hold model needs, so the same loop measures
/// wharf's queue, the std BinaryHeap baseline and the peers.
pub trait Hold {
    fn push(&mut self, at: u64, ev: wharf::sim::event::Event);
    fn pop(&mut self) -> Option<(u64, wharf::sim::event::Event)>;
}

impl Hold for wharf::sim::queue::Queue {
    fn push(&mut self, at: u64, ev: wharf::sim::event::Event) {
        wharf::sim::queue::Queue::push(self, wharf::time::Time(at), ev);
    }
    fn pop(&mut self) -> Option<(u64, wharf::sim::event::Event)> {
        wharf::sim::queue::Queue::pop(self).map(|(t, e)| (t.0, e))
    }
}

/// The baseline: std's binary heap on the same 16-byte `(time, seq|slot)`
/// entries and the same payload slab (wharf's queue before the 4-ary heap).
#[derive(Default)]
pub struct BinaryHeapQueue {
    heap: std::collections::BinaryHeap<std::cmp::Reverse<(u64, u64)>>,
    slab: wharf::sim::queue::Slab,
    seq: u64,
}

impl Hold for BinaryHeapQueue {
    fn push(&mut self, at: u64, ev: wharf::sim::event::Event) {
        let slot = self.slab.insert(ev);
        self.heap.push(std::cmp::Reverse((at, (self.seq << 24) | slot)));
        self.seq += 1;
    }
    fn pop(&mut self) -> Option<(u64, wharf::sim::event::Event)> {
        let std::cmp::Reverse((at, key)) = self.heap.pop()?;
        Some((at, self.slab.take((key & 0xff_ffff) as usize)))
    }
}

/// The hold model's time increment: exponential, mean 1 ms, in ns.
pub fn hold_increment(rng: &mut wharf::rng::Rng) -> u64 {
    (-(1.0 - rng.unit()).ln() * 1e6) as u64
}

/// Fills `q` with `n` events, each one [`hold_increment`] after time 0:
/// the hold model's steady state from the first hold on. Increments are
/// exponential, so however long `n` processes have been holding, each
/// one's time to its next event is again exponential (mean 1 ms): all `n`
/// events cycle, the clock advances about 1 ms / `n` per hold, and a new
/// event lands at a uniformly random rank. SimPy's script starts its `n`
/// processes the same way (`benches/peers/simpy_hold.py`).
pub fn hold_fill(q: &mut impl Hold, n: usize, rng: &mut wharf::rng::Rng) {
    for i in 0..n {
        q.push(hold_increment(rng), wharf::sim::event::Event::Timer(wharf::sim::event::Timer::Action(i as u32)));
    }
}

/// `ops` hold operations: pop the earliest, push it again one increment later.
pub fn hold_ops(q: &mut impl Hold, ops: usize, rng: &mut wharf::rng::Rng) {
    for _ in 0..ops {
        let (t, ev) = q.pop().expect("pending");
        q.push(t + hold_increment(rng), std::hint::black_box(ev));
    }
}

/// What each client of [`pairs_mode`] does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PairMode {
    /// The client container runs no program: lifecycle and attachment only.
    Idle,
    /// The client connects to its server's (static) IP: one TCP handshake.
    Ip,
    /// The client connects to its server by name: a DNS query and answer
    /// through the embedded server, then the handshake.
    Name,
}

/// The static address of server `i` in [`pairs_mode`] (10.128.0.0/9; the
/// clients get dynamic addresses from the bottom of 10.0.0.0/8).
pub fn server_ip(i: usize) -> String {
    let a = 0x0a80_0001u32 + i as u32;
    format!("{}.{}.{}.{}", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255)
}

/// Runs `loaded` `repeats` times: the best wall time in seconds, and the
/// last result (earlier ones are dropped, so the heap then holds only that
/// one).
pub fn best_of(loaded: &wharf::scenario::Loaded, repeats: usize) -> (f64, wharf::run::RunResult) {
    let mut best = f64::MAX;
    let mut last = None;
    for _ in 0..repeats {
        let t0 = std::time::Instant::now();
        let r = wharf::run::run(loaded, wharf::run::Overrides::default());
        best = best.min(t0.elapsed().as_secs_f64());
        last = Some(r);
    }
    (best, last.expect("repeats > 0"))
}

/// The opening of a generated scenario with one network `n` on 10.0.0.0/8
/// (room for two million containers) and generous bounds.
fn header(name: &str, until: &str) -> String {
    format!("Scenario(name: \"{name}\", until: \"{until}\", max_events: 1000000000, networks: {{ \"n\": Bridge(subnet: \"10.0.0.0/8\") }}, containers: {{\n")
}

/// Writes server `s{i}` on its static address [`server_ip`]; returns it.
fn static_server(s: &mut String, i: usize) -> String {
    let ip = server_ip(i);
    let _ =
        writeln!(s, "\"s{i}\": (networks: [\"n\"], ipv4_address: {{ \"n\": \"{ip}\" }}, program: Server(port: 80)),");
    ip
}

/// `pairs` servers and `pairs` clients on one network; the connections stay
/// open to the end. The three modes differ only in what the clients do (the
/// scale bench's memory per container and per connection).
pub fn pairs_mode(pairs: usize, mode: PairMode) -> String {
    let mut s = header("pairs", "10s");
    for i in 0..pairs {
        let ip = static_server(&mut s, i);
        let program = match mode {
            PairMode::Idle => String::new(),
            PairMode::Ip => format!(", program: Client(target: \"{ip}:80\")"),
            PairMode::Name => format!(", program: Client(target: \"s{i}:80\")"),
        };
        let _ = writeln!(s, "\"c{i}\": (networks: [\"n\"], start_at: \"1s\"{program}),");
    }
    s.push_str("})");
    s
}

/// One server and `hosts - 1` clients on one user-defined network; each
/// client resolves the server, connects, and does `round_trips` 64-byte
/// requests 1 ms apart (the request/response workload of the peer bench).
pub fn requests(hosts: usize, round_trips: usize) -> String {
    let mut s = String::from("Scenario(name: \"requests\", until: \"10m\", max_events: 1000000000, networks: { \"n\": Bridge() }, containers: {\n\"server\": (networks: [\"n\"], program: Server(port: 80, service_time: \"0s\")),\n");
    for i in 1..hosts {
        let _ = writeln!(s, "\"c{i}\": (networks: [\"n\"], start_at: \"1s\", program: Client(target: \"server:80\", requests: (count: {round_trips}, interval: \"1ms\", size: 64))),");
    }
    s.push_str("})");
    s
}

/// `servers` servers and as many connection pools of `size` connections,
/// pool `i` to server `i` (by name, or by its static IP with `by_ip`):
/// `2 * servers` containers holding `servers * size` open connections.
pub fn pools(servers: usize, size: u32, by_ip: bool) -> String {
    let mut s = header("pools", "10s");
    for i in 0..servers {
        let ip = static_server(&mut s, i);
        let target = if by_ip { ip } else { format!("s{i}") };
        let _ = writeln!(
            s,
            "\"p{i}\": (networks: [\"n\"], start_at: \"1s\", program: Pool(target: \"{target}:80\", size: {size})),"
        );
    }
    s.push_str("})");
    s
}
