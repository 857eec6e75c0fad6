//! Proptest strategies that generate whole wharf scenarios — networks,
//! containers, programs, restart policies, healthchecks and faults — as RON
//! text, so a failing case prints as a scenario file you can run with
//! `wharf run`. Use them to property-test your own communication patterns:
//!
//! ```no_run
//! use proptest::prelude::*;
//! use wharf_proptest::{topology, run_ron};
//! proptest! {
//!     #[test]
//!     fn never_panics(t in topology()) {
//!         let r = run_ron(&t.to_ron(), true);
//!         prop_assert!(r.world.checks.violations.is_empty());
//!     }
//! }
//! ```

use proptest::prelude::*;
use std::fmt::Write;
use wharf::run::{run, Overrides, RunResult};

/// A user-defined bridge network `n{i}` with subnet 10.{i+1}.0.0/24.
#[derive(Clone, Debug)]
pub struct Net {
    pub icc: bool,
    pub internal: bool,
}

/// Where a client connects.
#[derive(Clone, Debug)]
pub enum Target {
    /// Container `c{i}` by name.
    Name(usize),
    /// An address on network `n{net}`: 10.{net+1}.0.{host}.
    Ip { net: usize, host: u8 },
}

#[derive(Clone, Debug)]
pub enum Prog {
    Idle,
    Server {
        bind_local: bool,
    },
    /// Connects to port 5000 + target index.
    Client {
        target: Target,
        attempts: u32,
        requests: u32,
    },
    Crash {
        after_ms: u32,
        code: i32,
    },
}

#[derive(Clone, Debug)]
pub enum Restart {
    No,
    OnFailure(u32),
    Always,
}

/// Container `c{i}`; a server listens on port 5000 + i.
#[derive(Clone, Debug)]
pub struct Ctr {
    /// Empty: the default bridge.
    pub nets: Vec<usize>,
    pub startup_ms: u32,
    pub program: Prog,
    pub restart: Restart,
    pub health: bool,
}

#[derive(Clone, Debug)]
pub enum Fault {
    Crash(usize),
    Stop(usize),
    Start(usize),
    Pause(usize, u32),
    Partition(usize, usize, u32),
    Disconnect(usize, usize),
    Connect(usize, usize),
}

/// A generated scenario.
#[derive(Clone, Debug)]
pub struct Topology {
    pub seed: u64,
    pub nets: Vec<Net>,
    pub ctrs: Vec<Ctr>,
    /// (milliseconds, fault)
    pub faults: Vec<(u32, Fault)>,
}

fn net_strategy() -> impl Strategy<Value = Net> {
    (prop::bool::weighted(0.8), prop::bool::weighted(0.15)).prop_map(|(icc, internal)| Net { icc, internal })
}

fn ctr_strategy(n_nets: usize, n_ctrs: usize) -> impl Strategy<Value = Ctr> {
    let nets = prop::collection::btree_set(0..n_nets, 0..=n_nets.min(2)).prop_map(|s| s.into_iter().collect());
    let target = prop_oneof![
        4 => (0..n_ctrs).prop_map(Target::Name),
        1 => (0..n_nets, 2u8..8).prop_map(|(net, host)| Target::Ip { net, host }),
    ];
    let program = prop_oneof![
        1 => Just(Prog::Idle),
        3 => prop::bool::weighted(0.2).prop_map(|bind_local| Prog::Server { bind_local }),
        3 => (target, 1u32..5, 0u32..5).prop_map(|(target, attempts, requests)| Prog::Client { target, attempts, requests }),
        1 => (100u32..20_000, prop_oneof![Just(0), Just(1), Just(137)]).prop_map(|(after_ms, code)| Prog::Crash { after_ms, code }),
    ];
    let restart =
        prop_oneof![3 => Just(Restart::No), 1 => (0u32..4).prop_map(Restart::OnFailure), 1 => Just(Restart::Always)];
    (nets, 0u32..5_000, program, restart, prop::bool::weighted(0.3))
        .prop_map(|(nets, startup_ms, program, restart, health)| Ctr { nets, startup_ms, program, restart, health })
}

fn fault_strategy(n_nets: usize, n_ctrs: usize) -> impl Strategy<Value = (u32, Fault)> {
    let c = 0..n_ctrs;
    let f = prop_oneof![
        c.clone().prop_map(Fault::Crash),
        c.clone().prop_map(Fault::Stop),
        c.clone().prop_map(Fault::Start),
        (c.clone(), 100u32..10_000).prop_map(|(a, d)| Fault::Pause(a, d)),
        (c.clone(), c.clone(), 100u32..20_000).prop_map(|(a, b, d)| Fault::Partition(a, b, d)),
        (c.clone(), 0..n_nets).prop_map(|(a, n)| Fault::Disconnect(a, n)),
        (c, 0..n_nets).prop_map(|(a, n)| Fault::Connect(a, n)),
    ];
    (0u32..40_000, f)
}

/// Random topologies: 1–3 networks, 2–8 containers, up to 5 faults.
pub fn topology() -> impl Strategy<Value = Topology> {
    (1usize..=3, 2usize..=8, any::<u64>()).prop_flat_map(|(n_nets, n_ctrs, seed)| {
        (
            prop::collection::vec(net_strategy(), n_nets),
            prop::collection::vec(ctr_strategy(n_nets, n_ctrs), n_ctrs),
            prop::collection::vec(fault_strategy(n_nets, n_ctrs), 0..=5),
        )
            .prop_map(move |(nets, ctrs, faults)| Topology { seed, nets, ctrs, faults })
    })
}

impl Topology {
    /// The scenario as a RON file.
    pub fn to_ron(&self) -> String {
        let mut s = format!("Scenario(name: \"generated\", seed: {}, until: \"1m\", networks: {{\n", self.seed);
        for (i, n) in self.nets.iter().enumerate() {
            let _ = writeln!(
                s,
                "  \"n{i}\": Bridge(subnet: \"10.{}.0.0/24\", icc: {}, internal: {}),",
                i + 1,
                n.icc,
                n.internal
            );
        }
        s.push_str("}, containers: {\n");
        for (i, c) in self.ctrs.iter().enumerate() {
            let _ = writeln!(s, "  \"c{i}\": ({}),", self.ctr_ron(i, c));
        }
        s.push_str("}, actions: [\n");
        for (t, f) in &self.faults {
            let a = match f {
                Fault::Crash(c) => format!("Crash(\"c{c}\", 1)"),
                Fault::Stop(c) => format!("Stop(\"c{c}\")"),
                Fault::Start(c) => format!("Start(\"c{c}\")"),
                Fault::Pause(c, _) => format!("Pause(\"c{c}\")"),
                Fault::Partition(a, b, d) => format!("Partition(a: [\"c{a}\"], b: [\"c{b}\"], heal_after: \"{d}ms\")"),
                Fault::Disconnect(c, n) => format!("Disconnect(\"c{c}\", \"n{n}\")"),
                Fault::Connect(c, n) => format!("Connect(\"c{c}\", \"n{n}\")"),
            };
            let _ = writeln!(s, "  (\"{t}ms\", {a}),");
            if let Fault::Pause(c, d) = f {
                let _ = writeln!(s, "  (\"{}ms\", Unpause(\"c{c}\")),", t + d);
            }
        }
        s.push_str("])\n");
        s
    }

    fn ctr_ron(&self, i: usize, c: &Ctr) -> String {
        let nets: Vec<String> = c.nets.iter().map(|n| format!("\"n{n}\"")).collect();
        let mut s = String::new();
        if !nets.is_empty() {
            let _ = write!(s, "networks: [{}], ", nets.join(", "));
        }
        let _ = write!(s, "startup: \"{}ms\", ", c.startup_ms);
        match &c.restart {
            Restart::No => {}
            Restart::OnFailure(n) => {
                let _ = write!(s, "restart: \"on-failure:{n}\", ");
            }
            Restart::Always => s.push_str("restart: \"always\", "),
        }
        let port = 5000 + i;
        match &c.program {
            Prog::Idle => {}
            Prog::Server { bind_local } => {
                let bind = if *bind_local { "127.0.0.1" } else { "0.0.0.0" };
                let _ = write!(s, "program: Server(port: {port}, bind: \"{bind}\"), ");
                if c.health {
                    let _ = write!(s, "healthcheck: (test: Tcp({port}), interval: \"1s\"), ");
                }
            }
            Prog::Client { target, attempts, requests } => {
                let (host, tport) = match target {
                    Target::Name(t) => (format!("c{t}"), 5000 + t),
                    Target::Ip { net, host } => (format!("10.{}.0.{host}", net + 1), 5000 + usize::from(*host) - 2),
                };
                let req = if *requests > 0 {
                    format!(", requests: (count: {requests}, interval: \"1s\", timeout: \"3s\")")
                } else {
                    String::new()
                };
                let _ = write!(
                    s,
                    "program: Client(target: \"{host}:{tport}\", connect_timeout: \"10s\", retry: Fixed(delay: \"1s\", attempts: {attempts}){req}), "
                );
            }
            Prog::Crash { after_ms, code } => {
                let _ = write!(s, "program: Exit(after: \"{after_ms}ms\", code: {code}), ");
            }
        }
        s
    }
}

/// Loads and runs a scenario given as RON text; panics with the diagnostics
/// if it does not load (a generator bug).
pub fn run_ron(src: &str, checks: bool) -> RunResult {
    let loaded = wharf::scenario::load_str("generated.ron", src).unwrap_or_else(|d| panic!("{}\n{src}", d.render()));
    run(&loaded, Overrides { checks, ..Overrides::default() })
}

/// A database with a random start-up and a correct healthcheck, and an API
/// that waits for `service_healthy` (plus unrelated noise containers).
pub fn healthy_dependency() -> impl Strategy<Value = String> {
    (0u32..20_000, 100u32..3_000, 1u32..6, 0usize..4, any::<u64>()).prop_map(|(startup, interval, retries, noise, seed)| {
        let mut s = format!(
            "Scenario(name: \"healthy dependency\", seed: {seed}, until: \"2m\", networks: {{ \"net\": Bridge() }}, containers: {{\n\
             \"db\": (networks: [\"net\"], startup: \"{startup}ms\", program: Server(port: 5432),\n\
                      healthcheck: (test: Tcp(5432), interval: \"{interval}ms\", retries: {retries}, start_period: \"1m\", start_interval: \"{interval}ms\")),\n\
             \"api\": (networks: [\"net\"], depends_on: {{ \"db\": (condition: Healthy) }}, program: Client(target: \"db:5432\")),\n"
        );
        for k in 0..noise {
            let _ = writeln!(s, "\"noise{k}\": (networks: [\"net\"], program: Client(target: \"db:5432\", retry: Fixed(delay: \"500ms\", attempts: 0))),");
        }
        s.push_str("})");
        s
    })
}

/// A client that does not retry, behind a start-up gate (one of the three
/// tools, none that gives up) on a database slow to start, beside noise.
pub fn gated_dependency() -> impl Strategy<Value = String> {
    let gate = prop_oneof![
        Just("WaitForIt(target: \"db:5432\", timeout: \"0s\")".to_string()),
        (100u32..3_000).prop_map(|ms| format!("NcLoop(target: \"db:5432\", sleep: \"{ms}ms\")")),
        Just("WaitFor(target: \"db:5432\", timeout: \"60s\")".to_string()),
    ];
    (0u32..20_000, 0u32..3_000, gate, 0usize..4, any::<u64>()).prop_map(|(startup, api_startup, gate, noise, seed)| {
        let mut s = format!(
            "Scenario(name: \"gated dependency\", seed: {seed}, until: \"2m\", networks: {{ \"net\": Bridge() }}, containers: {{\n\
             \"db\": (networks: [\"net\"], startup: \"{startup}ms\", program: Server(port: 5432)),\n\
             \"api\": (networks: [\"net\"], startup: \"{api_startup}ms\", wait_for: [{gate}], program: Client(target: \"db:5432\", retry: None)),\n"
        );
        for k in 0..noise {
            let _ = writeln!(s, "\"noise{k}\": (networks: [\"net\"], program: Client(target: \"db:5432\", retry: Fixed(delay: \"700ms\", attempts: 0))),");
        }
        s.push_str("})");
        s
    })
}

/// nginx over `replicas` servers and one client sending `requests` requests
/// one at a time.
pub fn balanced() -> impl Strategy<Value = (String, usize, u32)> {
    (2usize..=5, 1u32..=40, any::<u64>()).prop_map(|(replicas, requests, seed)| {
        let s = format!(
            "Scenario(name: \"round robin\", seed: {seed}, until: \"2m\", networks: {{ \"net\": Bridge() }}, containers: {{\n\
             \"app\": (networks: [\"net\"], replicas: {replicas}, program: Server(port: 8080)),\n\
             \"lb\": (networks: [\"net\"], start_at: \"1s\", program: Proxy(port: 80, upstreams: [\"app:8080\"])),\n\
             \"client\": (networks: [\"net\"], start_at: \"2s\", program: Client(target: \"lb:80\", requests: (count: {requests}, interval: \"100ms\"))),\n\
             }})"
        );
        (s, replicas, requests)
    })
}

/// A reliable work queue with `tasks` tasks, 2–3 workers, one of which
/// crashes on a random task, and random work times.
pub fn reliable_queue() -> impl Strategy<Value = (String, u32)> {
    (1u32..=15, 2usize..=3, 1u32..=4, 100u32..2_000, any::<u64>()).prop_map(|(tasks, workers, crash_on, work_ms, seed)| {
        let mut s = format!(
            "Scenario(name: \"reliable queue\", seed: {seed}, until: \"10m\", networks: {{ \"net\": Bridge() }}, containers: {{\n\
             \"redis\": (networks: [\"net\"], program: Broker(port: 6379, requeue_after: \"5s\")),\n\
             \"producer\": (networks: [\"net\"], start_at: \"1s\", program: Producer(target: \"redis:6379\", count: {tasks}, interval: \"100ms\")),\n"
        );
        for w in 0..workers {
            let crash = if w == 0 { format!(", crash_on_task: {crash_on}") } else { String::new() };
            let _ = writeln!(
                s,
                "\"worker{w}\": (networks: [\"net\"], program: Worker(target: \"redis:6379\", reliable: true, work_time: \"{work_ms}ms\"{crash})),"
            );
        }
        s.push_str("})");
        (s, tasks)
    })
}
