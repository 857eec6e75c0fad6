//! The lowered model: everything a run needs, with names already resolved to
//! indices. The scenario layer produces it (from RON or compose); the engine
//! never sees a dangling name.

use crate::container::{client, health, restart, server};
use crate::dist::Delay;
use crate::id::Sym;
use crate::net::addr::{Ip, Subnet};
use crate::proto::dns::CachePolicy;
use crate::proto::tcp::SynSchedule;
use crate::time::Dur;
use std::collections::BTreeMap;

/// Interned strings.
#[derive(Clone, Debug, Default)]
pub struct Symbols {
    map: BTreeMap<String, Sym>,
    names: Vec<String>,
    /// Each symbol parsed as an IPv4 literal, once (a connect to an address
    /// need not parse its text again).
    ips: Vec<Option<Ip>>,
}

impl Symbols {
    pub fn intern(&mut self, s: &str) -> Sym {
        if let Some(&k) = self.map.get(s) {
            return k;
        }
        let k = Sym(self.names.len() as u32);
        self.names.push(s.to_string());
        self.ips.push(s.parse().ok());
        self.map.insert(s.to_string(), k);
        k
    }
    pub fn get(&self, k: Sym) -> &str {
        &self.names[k.0 as usize]
    }
    /// The symbol as an IPv4 literal, if it is one.
    pub fn ip(&self, k: Sym) -> Option<Ip> {
        self.ips[k.0 as usize]
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Upstream {
    /// The host's resolver answers after `latency`: known `records`, else NXDOMAIN.
    Answering { latency: Dur, records: Vec<(String, Ip)> },
    /// Configured but never answers (no internet).
    Unreachable,
    /// No upstream at all: the embedded server answers SERVFAIL at once.
    NotConfigured,
}

impl NetKind {
    /// User-defined networks have Docker's embedded DNS.
    pub fn user_defined(self) -> bool {
        matches!(self, NetKind::Bridge | NetKind::Overlay)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetKind {
    DefaultBridge,
    Bridge,
    /// Swarm overlay spanning nodes: VXLAN between nodes, optionally IPsec-encrypted.
    Overlay,
    Host,
    None,
}

/// Link characteristics of a network (one hop through the bridge).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Link {
    pub latency: Dur,
    pub jitter: Dur,
    pub loss: f64,
    pub bandwidth_bps: u64,
}

impl Default for Link {
    /// veth + Linux bridge on one host: ~50 µs one way, ±10 µs, no loss,
    /// 10 Gbit/s (unconfirmed: chosen as typical of a local bridge).
    fn default() -> Self {
        Link { latency: Dur::micros(50), jitter: Dur::micros(10), loss: 0.0, bandwidth_bps: 10_000_000_000 }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct NetSpec {
    pub name: String,
    pub kind: NetKind,
    /// Overlay: extra one-way cost between two nodes (underlay + VXLAN), and of encryption.
    pub cross_node: Dur,
    pub encryption: Dur,
    pub subnet: Option<Subnet>,
    pub gateway: Option<Ip>,
    /// Where dynamic addresses come from (`--ip-range`); the whole subnet without.
    pub ip_range: Option<Subnet>,
    pub internal: bool,
    pub icc: bool,
    pub link: Link,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AttachSpec {
    pub net: usize,
    pub aliases: Vec<String>,
    pub ip: Option<Ip>,
    /// The endpoint's priority: a higher one comes first in the sandbox.
    pub priority: i32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Bridge,
    Host,
    None,
    /// `network_mode: container:NAME` / `service:NAME`: shares that container's
    /// network namespace (its addresses, ports and DNS view).
    Container(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// TCP connect to 127.0.0.1:port inside the container (`pg_isready`, `nc -z`).
    Tcp(u16),
    /// HTTP GET to localhost:port (`curl -f http://localhost/health`).
    Http(u16),
    /// The program says it is ready.
    Ready,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HealthSpec {
    pub cfg: health::Config,
    pub probe: Probe,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    Started,
    Healthy,
    CompletedSuccessfully,
}

impl Condition {
    pub fn name(self) -> &'static str {
        match self {
            Condition::Started => "service_started",
            Condition::Healthy => "service_healthy",
            Condition::CompletedSuccessfully => "service_completed_successfully",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dep {
    pub on: usize,
    pub condition: Condition,
    pub required: bool,
    pub restart: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sigterm {
    /// The process handles SIGTERM and exits 0.
    Exit,
    /// PID 1 without a handler: SIGTERM is ignored, SIGKILL after the grace period.
    Ignore,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ProgramSpec {
    Idle,
    Server(server::Config),
    Client(client::Config),
    Proxy(crate::container::proxy::Config),
    Broker(crate::container::queue::BrokerConfig),
    Producer(crate::container::queue::ProducerConfig),
    Worker(crate::container::queue::WorkerConfig),
    UdpServer(u16),
    UdpSender(crate::container::tools::UdpSenderConfig),
    Pool(crate::container::pool::PoolConfig),
    /// A process that exits by itself after a delay with a code (a job, a crash).
    Exit {
        after: Delay,
        code: i32,
    },
}

impl ProgramSpec {
    /// The TCP connections the program keeps open once it runs, as a
    /// sizing hint for the connection tables (a pool its size; a client,
    /// producer or worker its one connection; others none held).
    pub fn connections_held(&self) -> u64 {
        match self {
            ProgramSpec::Pool(p) => u64::from(p.size),
            ProgramSpec::Client(_) | ProgramSpec::Producer(_) | ProgramSpec::Worker(_) => 1,
            _ => 0,
        }
    }

    /// Of those, the ones opened by name, each after a DNS lookup (a sizing
    /// hint for the table of queries in flight): all or none, as the
    /// program's one target is a name or an address.
    pub fn lookups_held(&self, syms: &Symbols) -> u64 {
        let host = match self {
            ProgramSpec::Pool(p) => p.host,
            ProgramSpec::Client(c) => c.host,
            ProgramSpec::Producer(p) => p.host,
            ProgramSpec::Worker(w) => w.host,
            _ => return 0,
        };
        if syms.ip(host).is_some() {
            0
        } else {
            self.connections_held()
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct CtrSpec {
    pub name: String,
    pub hostname: Option<String>,
    pub service: Option<String>,
    pub mode: Mode,
    pub attach: Vec<AttachSpec>,
    pub extra_hosts: Vec<(String, Ip)>,
    pub links: Vec<(usize, String)>,
    /// `None`: not started until an action starts it.
    pub start_at: Option<Dur>,
    pub startup: Delay,
    pub program: ProgramSpec,
    /// Start-up gates in front of the program, in order.
    pub wait_for: Vec<crate::container::wait::Gate>,
    pub dns_cache: CachePolicy,
    /// The resolver's `options timeout:N attempts:N`.
    pub resolver: ResolvOptions,
    pub restart: restart::Policy,
    pub health: Option<HealthSpec>,
    pub stop_grace: Dur,
    pub on_sigterm: Sigterm,
    pub depends_on: Vec<Dep>,
    pub ports: Vec<super::publish::PortMap>,
    /// The Swarm node (host) the container runs on; 0 = the first node.
    pub node: u32,
}

/// What glibc's resolver reads from resolv.conf's `options` line and the
/// simulation reproduces: the wait for an answer, and how many times each
/// query is sent (docker-facts §7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResolvOptions {
    pub timeout: Dur,
    pub attempts: u8,
}

impl Default for ResolvOptions {
    fn default() -> Self {
        ResolvOptions { timeout: crate::proto::dns::GLIBC_TIMEOUT, attempts: crate::proto::dns::GLIBC_ATTEMPTS }
    }
}

/// How the embedded DNS misbehaves during an outage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnsOutage {
    /// Queries get no answer (clients time out: EAI_AGAIN after 10 s).
    Drop,
    ServFail,
    /// Answers arrive this much later.
    Slow(Dur),
}

/// One kind of fault chaos may draw, with the bounds of its parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum ChaosKind {
    Crash(Vec<usize>),
    Restart(Vec<usize>),
    Pause(Vec<usize>, Delay),
    Partition(usize, Delay),
    /// Loss on a network, uniform in [0, max).
    Loss(usize, f64),
    Dns(DnsOutage, Delay),
}

/// Faults drawn per seed: up to `max_faults` of `kinds`, at times in `window`.
#[derive(Clone, Debug, PartialEq)]
pub struct ChaosSpec {
    pub window: (Dur, Dur),
    pub max_faults: u32,
    pub kinds: Vec<ChaosKind>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ActionSpec {
    Start(usize),
    Stop(usize),
    Kill(usize),
    Crash(usize, i32),
    ComposeRestart(usize),
    ComposeUp(usize),
    /// `docker exec`: run tool number `.1` of `WorldSpec::tools` in the container.
    Exec(usize, usize),
    /// Start partition number `.0` of `WorldSpec::partitions`.
    Partition(usize),
    /// Start a partition for a drawn duration (chaos).
    PartitionFor(usize, Dur),
    /// Degrade a network: `WorldSpec::degrades[.0]`.
    Degrade(usize),
    /// Chaos: loss (in millionths) on a network for a duration.
    DegradeLoss(usize, u32, Dur),
    /// Embedded DNS outage for a duration.
    Dns(DnsOutage, Dur),
    Restart(usize),
    Pause(usize),
    Unpause(usize),
    Remove(usize),
    Disconnect(usize, usize),
    Connect(usize, usize),
}

#[derive(Clone, Debug)]
pub struct WorldSpec {
    pub seed: u64,
    pub until: Dur,
    pub max_events: u64,
    pub syn_schedule: SynSchedule,
    pub upstream: Upstream,
    pub networks: Vec<NetSpec>,
    /// Shared, not copied, by every run of the scenario (a container's
    /// spec is read-only during a run).
    pub containers: Vec<std::sync::Arc<CtrSpec>>,
    pub actions: Vec<(Dur, ActionSpec)>,
    pub partitions: Vec<super::fault::Partition>,
    pub degrades: Vec<super::fault::Degrade>,
    pub chaos: Option<ChaosSpec>,
    /// Tools run by `Exec` actions.
    pub tools: Vec<crate::container::tools::Tool>,
    /// `docker compose up --wait` with this timeout.
    pub up_wait: Option<Dur>,
    pub syms: Symbols,
}
