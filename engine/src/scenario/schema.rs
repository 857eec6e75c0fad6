//! The scenario file format (RON). The only serde types in the crate.
//! Every field is documented in the README's format reference.
//!
//! Values that have their own syntax (durations, delays, addresses,
//! subnets, errno names) are checked while parsing, so their errors carry
//! the exact line and column from the RON parser.

use crate::dist::Delay;
use crate::net::addr::{Ip, Subnet};
use crate::proto::errno::Errno;
use crate::time::{parse_dur, Dur};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::fmt;
use std::marker::PhantomData;

macro_rules! from_str_de {
    ($name:ident, $inner:ty, $expect:literal, $parse:expr) => {
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub struct $name(pub $inner);
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                let f: fn(&str) -> Result<$inner, String> = $parse;
                f(&s).map($name).map_err(|e| de::Error::custom(format!("{e} (expected {})", $expect)))
            }
        }
    };
}

from_str_de!(D, Dur, "a duration like \"250ms\" or \"1m30s\"", |s| { parse_dur(s).map_err(|e| e.0) });
from_str_de!(
    DelayStr,
    Delay,
    "a delay like \"3s\", \"uniform(3s, 8s)\", \"normal(5s, 1s)\" or \"exp(2s)\"",
    Delay::parse
);
from_str_de!(IpStr, Ip, "an IPv4 address like \"172.20.0.10\"", |s| s
    .parse()
    .map_err(|_| format!("`{s}` is not an IPv4 address")));
from_str_de!(SubnetStr, Subnet, "a CIDR subnet like \"172.20.0.0/16\"", Subnet::parse);
from_str_de!(
    ErrnoStr,
    Errno,
    "an errno name: ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, ENETUNREACH, ECONNRESET, ENOTFOUND or EAI_AGAIN",
    |s| Errno::parse(s).ok_or_else(|| format!("unknown errno `{s}`"))
);

/// A map that keeps the file's order and rejects duplicate keys.
#[derive(Clone, Debug, PartialEq)]
pub struct Ordered<T>(pub Vec<(String, T)>);

impl<T> Default for Ordered<T> {
    fn default() -> Self {
        Ordered(Vec::new())
    }
}

impl<T> Ordered<T> {
    pub fn get(&self, k: &str) -> Option<&T> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Ordered<T> {
    fn deserialize<De: Deserializer<'de>>(d: De) -> Result<Self, De::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Ordered<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map like { \"name\": value }")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                let mut out: Vec<(String, T)> = Vec::new();
                while let Some(k) = m.next_key::<String>()? {
                    if out.iter().any(|(n, _)| *n == k) {
                        return Err(de::Error::custom(format!("duplicate name `{k}` (names must be unique)")));
                    }
                    let v = m.next_value()?;
                    out.push((k, v));
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(V(PhantomData))
    }
}

fn default_until() -> D {
    D(Dur::secs(600))
}
fn default_max_events() -> u64 {
    10_000_000
}
fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub seed: u64,
    #[serde(default = "default_until")]
    pub until: D,
    #[serde(default = "default_max_events")]
    pub max_events: u64,
    #[serde(default)]
    pub kernel: Kernel,
    #[serde(default)]
    pub dns: Dns,
    /// Swarm nodes (hosts), for overlay networks; the first is the default.
    #[serde(default)]
    pub nodes: Vec<String>,
    #[serde(default)]
    pub networks: Ordered<Network>,
    #[serde(default)]
    pub containers: Ordered<Container>,
    /// `docker compose up --wait --wait-timeout`.
    #[serde(default)]
    pub up_wait: Option<D>,
    #[serde(default)]
    pub actions: Vec<(D, Action)>,
    #[serde(default)]
    pub expect: Vec<Expect>,
    #[serde(default)]
    pub chaos: Option<Chaos>,
    #[serde(default)]
    pub converge: Option<Converge>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kernel {
    #[serde(default)]
    pub syn_schedule: SynSchedule,
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
pub enum SynSchedule {
    #[default]
    Linear,
    Classic,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dns {
    #[serde(default)]
    pub upstream: Upstream,
}

#[derive(Debug, Deserialize)]
pub enum Upstream {
    Answering {
        #[serde(default)]
        latency: Option<D>,
        #[serde(default)]
        records: Ordered<IpStr>,
    },
    Unreachable,
    NotConfigured,
}

impl Default for Upstream {
    fn default() -> Self {
        Upstream::Answering { latency: None, records: Ordered::default() }
    }
}

#[derive(Debug, Deserialize)]
pub enum Network {
    Bridge(#[serde(default)] Bridge),
    Overlay(#[serde(default)] Overlay),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overlay {
    #[serde(default)]
    pub subnet: Option<SubnetStr>,
    #[serde(default)]
    pub encrypted: bool,
    #[serde(default)]
    pub internal: bool,
    /// One-way underlay latency plus VXLAN encapsulation between two nodes.
    #[serde(default)]
    pub cross_node_latency: Option<D>,
    /// Per-packet cost of IPsec ESP (AES-GCM) when encrypted.
    #[serde(default)]
    pub encryption_cost: Option<D>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bridge {
    #[serde(default)]
    pub subnet: Option<SubnetStr>,
    #[serde(default)]
    pub gateway: Option<IpStr>,
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub icc: Option<bool>,
    #[serde(default)]
    pub latency: Option<D>,
    #[serde(default)]
    pub jitter: Option<D>,
    #[serde(default)]
    pub loss: Option<f64>,
    #[serde(default)]
    pub bandwidth_mbps: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Container {
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub networks: Option<Vec<String>>,
    #[serde(default)]
    pub aliases: Ordered<Vec<String>>,
    #[serde(default)]
    pub ipv4_address: Ordered<IpStr>,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub service: Option<String>,
    #[serde(default)]
    pub extra_hosts: Ordered<String>,
    #[serde(default)]
    pub links: Vec<String>,
    #[serde(default)]
    pub env: Ordered<String>,
    #[serde(default)]
    pub start_at: Option<D>,
    #[serde(default)]
    pub manual_start: bool,
    #[serde(default)]
    pub startup: Option<DelayStr>,
    #[serde(default)]
    pub program: Program,
    #[serde(default)]
    pub dns_cache: DnsCache,
    #[serde(default)]
    pub restart: Option<String>,
    #[serde(default)]
    pub healthcheck: Option<Healthcheck>,
    #[serde(default)]
    pub depends_on: Ordered<DependsOn>,
    #[serde(default)]
    pub stop_grace_period: Option<D>,
    #[serde(default)]
    pub on_sigterm: OnSigterm,
    #[serde(default)]
    pub replicas: Option<u32>,
    #[serde(default)]
    pub ports: Vec<String>,
    /// The Swarm node it runs on (one of the scenario's `nodes`).
    #[serde(default)]
    pub node: Option<String>,
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
pub enum OnSigterm {
    #[default]
    Exit,
    Ignore,
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
pub enum DnsCache {
    #[default]
    None,
    Once,
    Jvm,
    Ttl(D),
}

#[derive(Debug, Default, Deserialize)]
pub enum Program {
    #[default]
    Idle,
    Server(#[serde(default)] Server),
    Client(Client),
    Proxy(Proxy),
    Broker {
        #[serde(default)]
        port: Option<u16>,
        #[serde(default)]
        requeue_after: Option<D>,
    },
    Producer {
        target: String,
        count: u32,
        #[serde(default)]
        interval: Option<D>,
        #[serde(default)]
        first_task: Option<u32>,
    },
    Worker {
        target: String,
        #[serde(default)]
        reliable: bool,
        #[serde(default)]
        work_time: Option<D>,
        #[serde(default)]
        crash_on_task: Option<u32>,
    },
    UdpServer {
        port: u16,
    },
    UdpSender {
        target: String,
        count: u32,
        #[serde(default)]
        interval: Option<D>,
        #[serde(default)]
        size: Option<u32>,
    },
    Exit {
        #[serde(default)]
        after: Option<DelayStr>,
        #[serde(default)]
        code: i32,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub bind: Option<IpStr>,
    #[serde(default)]
    pub backlog: Option<u32>,
    #[serde(default)]
    pub service_time: Option<DelayStr>,
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub response_size: Option<u32>,
    #[serde(default)]
    pub warmup: Option<Warmup>,
    #[serde(default)]
    pub crash_after_requests: Option<u32>,
    #[serde(default)]
    pub crash_code: Option<i32>,
    #[serde(default)]
    pub backend: Option<String>,
    #[serde(default)]
    pub needs: Option<String>,
    #[serde(default)]
    pub tls: Option<D>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proxy {
    #[serde(default)]
    pub port: Option<u16>,
    pub upstreams: Vec<String>,
    #[serde(default)]
    pub mode: ProxyMode,
    #[serde(default)]
    pub resolve_every: Option<D>,
    #[serde(default)]
    pub max_fails: Option<u32>,
    #[serde(default)]
    pub fail_timeout: Option<D>,
    #[serde(default)]
    pub connect_timeout: Option<D>,
    #[serde(default)]
    pub read_timeout: Option<D>,
    #[serde(default)]
    pub tries: Option<u32>,
    #[serde(default)]
    pub next_upstream: Option<bool>,
    #[serde(default)]
    pub reuse_servers: bool,
    #[serde(default)]
    pub breaker: Option<BreakerSpec>,
    #[serde(default)]
    pub retry_budget: Option<f64>,
    #[serde(default)]
    pub upstream_tls: Option<D>,
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
pub enum ProxyMode {
    #[default]
    Http,
    Tcp,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerSpec {
    pub failures: u32,
    pub open_for: D,
}

#[derive(Debug, Deserialize)]
pub enum Tool {
    Ping {
        host: String,
        #[serde(default)]
        count: Option<u16>,
    },
    Nslookup {
        name: String,
    },
    Curl {
        url: String,
        #[serde(default)]
        max_time: Option<D>,
    },
    Nc {
        target: String,
        #[serde(default)]
        timeout: Option<D>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Warmup {
    #[serde(default)]
    pub bind: Option<IpStr>,
    #[serde(rename = "for")]
    pub duration: D,
    #[serde(default)]
    pub gap: Option<D>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Client {
    pub target: String,
    #[serde(default)]
    pub connect_timeout: Option<D>,
    #[serde(default)]
    pub retry: Retry,
    #[serde(default)]
    pub requests: Option<Requests>,
    #[serde(default)]
    pub give_up_exit: Option<i32>,
    #[serde(default)]
    pub exit_when_done: Option<i32>,
    #[serde(default)]
    pub tls: bool,
}

#[derive(Debug, Default, Deserialize)]
pub enum Retry {
    #[default]
    None,
    Fixed {
        delay: D,
        attempts: u32,
    },
    Exponential {
        first: D,
        #[serde(default)]
        factor: Option<f64>,
        #[serde(default)]
        max: Option<D>,
        #[serde(default)]
        attempts: u32,
        #[serde(default)]
        jitter: f64,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requests {
    pub count: u32,
    #[serde(default)]
    pub interval: Option<D>,
    #[serde(default)]
    pub timeout: Option<D>,
    #[serde(default)]
    pub size: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Healthcheck {
    pub test: HealthTest,
    #[serde(default)]
    pub interval: Option<D>,
    #[serde(default)]
    pub timeout: Option<D>,
    #[serde(default)]
    pub retries: Option<u32>,
    #[serde(default)]
    pub start_period: Option<D>,
    #[serde(default)]
    pub start_interval: Option<D>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub enum HealthTest {
    Tcp(u16),
    Http(u16),
    Ready,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DependsOn {
    #[serde(default)]
    pub condition: DepCondition,
    #[serde(default = "yes")]
    pub required: bool,
    #[serde(default)]
    pub restart: bool,
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
pub enum DepCondition {
    #[default]
    Started,
    Healthy,
    CompletedSuccessfully,
}

#[derive(Debug, Deserialize)]
pub enum Action {
    Start(String),
    Stop(String),
    Kill(String),
    /// The process dies by itself with this exit code (restart policies apply).
    Crash(String, i32),
    /// `docker compose restart`: also restarts dependents with `restart: true`.
    ComposeRestart(String),
    /// `docker compose up -d SERVICE`: starts it once its dependencies allow.
    ComposeUp(String),
    /// `docker exec CONTAINER tool`: ping, nslookup, curl, nc from inside.
    Exec(String, Tool),
    /// Cut traffic between two sets of containers (or one way), healed after a while.
    Partition {
        #[serde(default)]
        name: Option<String>,
        a: Vec<String>,
        b: Vec<String>,
        #[serde(default)]
        one_way: bool,
        #[serde(default)]
        heal_after: Option<D>,
    },
    /// Make a network worse for a while.
    Degrade {
        network: String,
        #[serde(default)]
        latency: Option<D>,
        #[serde(default)]
        jitter: Option<D>,
        #[serde(default)]
        loss: Option<f64>,
        #[serde(default)]
        duplicate: Option<f64>,
        #[serde(rename = "for")]
        duration: D,
    },
    /// The embedded DNS misbehaves for a while.
    DnsOutage {
        mode: DnsMode,
        #[serde(rename = "for")]
        duration: D,
    },
    Restart(String),
    Pause(String),
    Unpause(String),
    Remove(String),
    Disconnect(String, String),
    Connect(String, String),
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub enum DnsMode {
    Drop,
    ServFail,
    Slow(D),
}

/// Faults drawn per seed (swarm testing).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chaos {
    pub window: (D, D),
    pub max_faults: u32,
    pub faults: Vec<ChaosFault>,
}

#[derive(Debug, Deserialize)]
pub enum ChaosFault {
    Crash(Vec<String>),
    Restart(Vec<String>),
    Pause {
        containers: Vec<String>,
        #[serde(rename = "for")]
        duration: DelayStr,
    },
    Partition {
        a: Vec<String>,
        b: Vec<String>,
        #[serde(rename = "for")]
        duration: DelayStr,
    },
    Loss {
        network: String,
        max: f64,
    },
    DnsOutage {
        mode: DnsMode,
        #[serde(rename = "for")]
        duration: DelayStr,
    },
}

/// After the last fault, the scenario must reach its steady state within a bound.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Converge {
    pub within: D,
    pub expect: Vec<Expect>,
}

#[derive(Debug, Deserialize)]
pub enum Expect {
    Eventually {
        #[serde(rename = "in", default)]
        who: Option<String>,
        event: Event,
        #[serde(default)]
        after: Option<D>,
        #[serde(default)]
        within: Option<D>,
    },
    Never {
        #[serde(rename = "in", default)]
        who: Option<String>,
        event: Event,
        #[serde(default)]
        after: Option<D>,
        #[serde(default)]
        before: Option<D>,
    },
    Sometimes {
        #[serde(rename = "in", default)]
        who: Option<String>,
        event: Event,
        #[serde(default)]
        after: Option<D>,
        #[serde(default)]
        before: Option<D>,
    },
    Count {
        #[serde(rename = "in", default)]
        who: Option<String>,
        event: Event,
        #[serde(default)]
        min: Option<u64>,
        #[serde(default)]
        max: Option<u64>,
        #[serde(default)]
        after: Option<D>,
        #[serde(default)]
        before: Option<D>,
    },
}

#[derive(Debug, Deserialize)]
pub enum Event {
    Connected {
        #[serde(default)]
        to: Option<String>,
    },
    Error {
        #[serde(default)]
        errno: Option<ErrnoStr>,
        #[serde(default)]
        to: Option<String>,
    },
    Resolved {
        name: String,
        #[serde(default)]
        ip: Option<String>,
    },
    Response {
        #[serde(default)]
        status: Option<u16>,
    },
    Started,
    Exited {
        #[serde(default)]
        code: Option<i32>,
    },
    RestartScheduled,
    Healthy,
    Unhealthy,
    ComposeFailed,
    ComposeReady,
    GaveUp,
    Served {
        #[serde(default)]
        status: Option<u16>,
    },
    Proxied {
        #[serde(default)]
        status: Option<u16>,
    },
    Task {
        #[serde(default)]
        id: Option<u32>,
        #[serde(default)]
        state: Option<String>,
    },
    Breaker {
        state: String,
    },
    Output {
        contains: String,
    },
    DatagramReceived,
}
