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
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;
use std::marker::PhantomData;

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_default_max_events(n: &u64) -> bool {
    *n == default_max_events()
}

fn is_linear(k: &Kernel) -> bool {
    matches!(k.syn_schedule, SynSchedule::Linear)
}

fn is_default_dns(d: &Dns) -> bool {
    matches!(&d.upstream, Upstream::Answering { latency: None, records } if records.is_empty())
}

fn is_no_cache(c: &DnsCache) -> bool {
    matches!(c, DnsCache::None)
}

fn is_exit(o: &OnSigterm) -> bool {
    matches!(o, OnSigterm::Exit)
}

fn is_idle(p: &Program) -> bool {
    matches!(p, Program::Idle)
}

macro_rules! from_str_de {
    ($name:ident, $inner:ty, $expect:literal, $parse:expr) => {
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub struct $name(pub $inner);
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0.to_string())
            }
        }
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

impl<T: Serialize> Serialize for Ordered<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<T> Ordered<T> {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

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
                let mut seen = std::collections::BTreeSet::new();
                while let Some(k) = m.next_key::<String>()? {
                    if !seen.insert(k.clone()) {
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

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default)]
    pub seed: u64,
    #[serde(default = "default_until")]
    pub until: D,
    #[serde(default = "default_max_events", skip_serializing_if = "is_default_max_events")]
    pub max_events: u64,
    #[serde(default, skip_serializing_if = "is_linear")]
    pub kernel: Kernel,
    #[serde(default, skip_serializing_if = "is_default_dns")]
    pub dns: Dns,
    /// Swarm nodes (hosts), for overlay networks; the first is the default.
    #[serde(default)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Ordered::is_empty")]
    pub networks: Ordered<Network>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Ordered::is_empty")]
    pub containers: Ordered<Container>,
    /// `docker compose up --wait --wait-timeout`.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub up_wait: Option<D>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<(D, Action)>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expect: Vec<Expect>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chaos: Option<Chaos>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub converge: Option<Converge>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Kernel {
    #[serde(default)]
    pub syn_schedule: SynSchedule,
}

#[derive(Debug, Default, Clone, Copy, Deserialize, Serialize)]
pub enum SynSchedule {
    #[default]
    Linear,
    Classic,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Dns {
    #[serde(default)]
    pub upstream: Upstream,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub enum Upstream {
    Answering {
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        latency: Option<D>,
        #[serde(default)]
        #[serde(skip_serializing_if = "Ordered::is_empty")]
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

#[derive(Debug, Clone, Deserialize, Serialize)]
pub enum Network {
    Bridge(#[serde(default)] Bridge),
    Overlay(#[serde(default)] Overlay),
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Overlay {
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet: Option<SubnetStr>,
    #[serde(default)]
    #[serde(skip_serializing_if = "is_false")]
    pub encrypted: bool,
    #[serde(default)]
    #[serde(skip_serializing_if = "is_false")]
    pub internal: bool,
    /// One-way underlay latency plus VXLAN encapsulation between two nodes.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cross_node_latency: Option<D>,
    /// Per-packet cost of IPsec ESP (AES-GCM) when encrypted.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_cost: Option<D>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Bridge {
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet: Option<SubnetStr>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpStr>,
    /// `--ip-range`: the part of the subnet containers are given addresses
    /// from (a static address may lie anywhere in the subnet).
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<SubnetStr>,
    #[serde(default)]
    #[serde(skip_serializing_if = "is_false")]
    pub internal: bool,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icc: Option<bool>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency: Option<D>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jitter: Option<D>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bandwidth_mbps: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Container {
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub networks: Option<Vec<String>>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Ordered::is_empty")]
    pub aliases: Ordered<Vec<String>>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Ordered::is_empty")]
    pub ipv4_address: Ordered<IpStr>,
    /// `{ "net": 10 }`: the endpoint's priority (compose
    /// `networks.<net>.priority`): a higher one comes first among the
    /// container's endpoints.
    #[serde(default)]
    #[serde(skip_serializing_if = "Ordered::is_empty")]
    pub priority: Ordered<i32>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Ordered::is_empty")]
    pub extra_hosts: Ordered<String>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Ordered::is_empty")]
    pub env: Ordered<String>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_at: Option<D>,
    #[serde(default)]
    #[serde(skip_serializing_if = "is_false")]
    pub manual_start: bool,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub startup: Option<DelayStr>,
    #[serde(default, skip_serializing_if = "is_idle")]
    pub program: Program,
    /// Start-up gates (`wait-for-it.sh`, `wait-for`, an `until nc -z`
    /// loop) the program waits behind, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wait_for: Vec<Gate>,
    #[serde(default, skip_serializing_if = "is_no_cache")]
    pub dns_cache: DnsCache,
    /// resolv.conf `options` (`--dns-option`, compose `dns_opt`):
    /// `timeout:N` and `attempts:N` as glibc reads them; `ndots:N` accepted.
    #[serde(default)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_options: Vec<String>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart: Option<String>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Ordered::is_empty")]
    pub depends_on: Ordered<DependsOn>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_grace_period: Option<D>,
    #[serde(default, skip_serializing_if = "is_exit")]
    pub on_sigterm: OnSigterm,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<String>,
    /// The Swarm node it runs on (one of the scenario's `nodes`).
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// A start-up gate: the script or loop a command runs before the program.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum Gate {
    /// vishnubob's `wait-for-it.sh TARGET -t TIMEOUT [-s]`.
    WaitForIt {
        target: String,
        /// Whole seconds; `"0s"` waits without a timeout (15 s by default).
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        timeout: Option<D>,
        /// After a timeout, exit 124 instead of running the program.
        #[serde(default)]
        #[serde(skip_serializing_if = "is_false")]
        strict: bool,
    },
    /// eficode's `wait-for TARGET -t TIMEOUT` (v1): TIMEOUT probes 1 s
    /// apart, then "Operation timed out" and exit 1.
    WaitFor {
        target: String,
        /// Whole seconds, counted as probes (15 by default).
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        timeout: Option<D>,
    },
    /// The shell loop `until nc -z HOST PORT; do sleep SLEEP; done`.
    NcLoop {
        target: String,
        /// Between probes (1 s by default).
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        sleep: Option<D>,
    },
}

impl Gate {
    pub fn target(&self) -> &str {
        match self {
            Gate::WaitForIt { target, .. } | Gate::WaitFor { target, .. } | Gate::NcLoop { target, .. } => target,
        }
    }
}

#[derive(Debug, Default, Clone, Copy, Deserialize, Serialize)]
pub enum OnSigterm {
    #[default]
    Exit,
    Ignore,
}

#[derive(Debug, Default, Clone, Copy, Deserialize, Serialize)]
pub enum DnsCache {
    #[default]
    None,
    Once,
    Jvm,
    Ttl(D),
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub enum Program {
    #[default]
    Idle,
    Server(#[serde(default)] Server),
    Client(Client),
    Proxy(Proxy),
    Broker {
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        port: Option<u16>,
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        requeue_after: Option<D>,
    },
    Producer {
        target: String,
        count: u32,
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        interval: Option<D>,
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        first_task: Option<u32>,
    },
    Worker {
        target: String,
        #[serde(default)]
        #[serde(skip_serializing_if = "is_false")]
        reliable: bool,
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        work_time: Option<D>,
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        crash_on_task: Option<u32>,
    },
    UdpServer {
        port: u16,
    },
    /// A connection pool (HikariCP defaults): keeps `size` connections open.
    Pool {
        target: String,
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        size: Option<u32>,
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        connect_timeout: Option<D>,
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        retry: Option<D>,
    },
    UdpSender {
        target: String,
        count: u32,
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        interval: Option<D>,
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        size: Option<u32>,
    },
    Exit {
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        after: Option<DelayStr>,
        #[serde(default)]
        code: i32,
    },
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<IpStr>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backlog: Option<u32>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_time: Option<DelayStr>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_size: Option<u32>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warmup: Option<Warmup>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crash_after_requests: Option<u32>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crash_code: Option<i32>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// How the backend connection is retried; without it, every second forever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_retry: Option<Retry>,
    /// `false`: it listens on nothing — a worker that only holds its
    /// connections (`backend`, `also`). Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<bool>,
    /// Other services it connects to at start and keeps a connection open
    /// to (a cache, a broker), retried as the backend is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<String>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub needs: Option<String>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<D>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Proxy {
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    pub upstreams: Vec<String>,
    #[serde(default)]
    pub mode: ProxyMode,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolve_every: Option<D>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_fails: Option<u32>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_timeout: Option<D>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_timeout: Option<D>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_timeout: Option<D>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tries: Option<u32>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_upstream: Option<bool>,
    #[serde(default)]
    #[serde(skip_serializing_if = "is_false")]
    pub reuse_servers: bool,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breaker: Option<BreakerSpec>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_budget: Option<f64>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_tls: Option<D>,
}

#[derive(Debug, Default, Clone, Copy, Deserialize, Serialize)]
pub enum ProxyMode {
    #[default]
    Http,
    Tcp,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerSpec {
    pub failures: u32,
    pub open_for: D,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub enum Tool {
    Ping {
        host: String,
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        count: Option<u16>,
    },
    Nslookup {
        name: String,
    },
    Curl {
        url: String,
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        max_time: Option<D>,
    },
    Nc {
        target: String,
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        timeout: Option<D>,
    },
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Warmup {
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<IpStr>,
    #[serde(rename = "for")]
    pub duration: D,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gap: Option<D>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Client {
    pub target: String,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_timeout: Option<D>,
    #[serde(default)]
    pub retry: Retry,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests: Option<Requests>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub give_up_exit: Option<i32>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_when_done: Option<i32>,
    #[serde(default)]
    #[serde(skip_serializing_if = "is_false")]
    pub tls: bool,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
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
        #[serde(skip_serializing_if = "Option::is_none")]
        factor: Option<f64>,
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        max: Option<D>,
        #[serde(default)]
        attempts: u32,
        #[serde(default)]
        jitter: f64,
    },
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Requests {
    pub count: u32,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<D>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<D>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u32>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Healthcheck {
    pub test: HealthTest,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<D>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<D>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_period: Option<D>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_interval: Option<D>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
pub enum HealthTest {
    Tcp(u16),
    Http(u16),
    Ready,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DependsOn {
    #[serde(default)]
    pub condition: DepCondition,
    #[serde(default = "yes")]
    #[serde(skip_serializing_if = "is_true")]
    pub required: bool,
    #[serde(default)]
    #[serde(skip_serializing_if = "is_false")]
    pub restart: bool,
}

#[derive(Debug, Default, Clone, Copy, Deserialize, Serialize)]
pub enum DepCondition {
    #[default]
    Started,
    Healthy,
    CompletedSuccessfully,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
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
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        a: Vec<String>,
        b: Vec<String>,
        #[serde(default)]
        #[serde(skip_serializing_if = "is_false")]
        one_way: bool,
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        heal_after: Option<D>,
    },
    /// Make a network worse for a while.
    Degrade {
        network: String,
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        latency: Option<D>,
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        jitter: Option<D>,
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        loss: Option<f64>,
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        duplicate: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reorder: Option<f64>,
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

#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
pub enum DnsMode {
    Drop,
    ServFail,
    Slow(D),
}

/// Faults drawn per seed (swarm testing).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Chaos {
    pub window: (D, D),
    pub max_faults: u32,
    pub faults: Vec<ChaosFault>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
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
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Converge {
    pub within: D,
    pub expect: Vec<Expect>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub enum Expect {
    Eventually {
        #[serde(rename = "in", default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        who: Option<String>,
        event: Event,
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        after: Option<D>,
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        within: Option<D>,
    },
    Never {
        #[serde(rename = "in", default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        who: Option<String>,
        event: Event,
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        after: Option<D>,
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        before: Option<D>,
    },
    Always {
        #[serde(rename = "in", default, skip_serializing_if = "Option::is_none")]
        who: Option<String>,
        event: Event,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<D>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<D>,
    },
    Sometimes {
        #[serde(rename = "in", default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        who: Option<String>,
        event: Event,
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        after: Option<D>,
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        before: Option<D>,
    },
    Latency {
        #[serde(rename = "in", default, skip_serializing_if = "Option::is_none")]
        who: Option<String>,
        p: f64,
        max: D,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<D>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<D>,
    },
    Rate {
        #[serde(rename = "in", default, skip_serializing_if = "Option::is_none")]
        who: Option<String>,
        event: Event,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_per_s: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_per_s: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<D>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<D>,
    },
    Count {
        #[serde(rename = "in", default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        who: Option<String>,
        event: Event,
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        min: Option<u64>,
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        max: Option<u64>,
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        after: Option<D>,
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        before: Option<D>,
    },
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub enum Event {
    Connected {
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        to: Option<String>,
    },
    Error {
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        errno: Option<ErrnoStr>,
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        to: Option<String>,
    },
    Resolved {
        name: String,
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        ip: Option<String>,
    },
    Response {
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
    },
    Started,
    Exited {
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
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
        #[serde(skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
    },
    Proxied {
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
    },
    Task {
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<u32>,
        #[serde(default)]
        #[serde(skip_serializing_if = "Option::is_none")]
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
