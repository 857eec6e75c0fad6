//! The world: arenas of networks, containers, connections; the queue; the
//! trace. `World::new` assembles it from a lowered spec; `run` steps it to
//! the end. Handlers live beside this file, one concern each.

use super::event::{Event, Packet, Seg, Timer};
use super::prefetch::{prefetch_pair, prefetch_span};
use super::queue::Queue;
use super::record::{Ev, Record, Trace};
use super::spec::{CtrSpec, Link, NetKind, Symbols, Upstream, WorldSpec};
use crate::container::client::Client;
use crate::container::health::Health;
use crate::container::program::{Cmd, Input, Program};
use crate::container::restart;
use crate::id::{ConnId, CtrId, DialId, NetId, QueryId, StackId, Sym};
use crate::net::addr::{Ip, SockAddr, Subnet};
use crate::net::ipam::{self, Pool};
use crate::proto::dns::{Cache, Rcode, Registry};
use crate::proto::tcp::SynSchedule;
use crate::rng::Rng;
use crate::time::{Dur, Time};
use slotmap::SlotMap;
use std::collections::BTreeMap;

pub struct Network {
    pub name: String,
    pub kind: NetKind,
    /// Probability that a packet is delivered twice (a degrade fault).
    pub duplicate: f64,
    /// Probability that a packet is held back and overtaken (a degrade fault).
    pub reorder: f64,
    pub cross_node: Dur,
    pub encryption: Dur,
    pub pool: Option<Pool>,
    pub internal: bool,
    pub icc: bool,
    pub link: Link,
    pub rng: Rng,
    /// Who holds each address right now.
    pub holders: super::holders::Holders,
}

impl Network {
    pub fn subnet(&self) -> Option<Subnet> {
        self.pool.as_ref().map(|p| p.subnet)
    }
    pub fn gateway(&self) -> Option<Ip> {
        self.pool.as_ref().map(|p| p.gateway)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Created,
    Running,
    Paused,
    Restarting,
    Exited(i32),
    Removed,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Created => "created",
            State::Running => "running",
            State::Paused => "paused",
            State::Restarting => "restarting",
            State::Exited(_) => "exited",
            State::Removed => "removed",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub net: NetId,
    pub ip: Ip,
}

/// The spec (512 bytes, shared with the loaded scenario: every run of it
/// reads the same one instead of a copy) is behind a pointer, and the
/// random streams' ChaCha states (320 bytes each) are made on their
/// first draw (`Rng`), so a container stays small and 10,000 of them stay
/// cache-friendly.
/// `repr(C, align(128))` with the fields every input reads (the main
/// process, state, incarnation, namespace) first: in the arena
/// (`arena::Dense`, a `Vec`) they are one cache line, the first of the
/// container's ten; a client program's own hot line is the second, so the
/// two lines a client's input reads are one 128-byte-aligned pair, which
/// the L2's adjacent-line prefetch can fetch together.
#[repr(C, align(128))]
pub struct Container {
    /// Processes: 0 is the main program, later ones are `docker exec`
    /// sessions. The main one is inline (no pointer to chase per input).
    pub procs: smallvec::SmallVec<[Proc; 1]>,
    pub state: State,
    /// Bumped at every start: events of an earlier incarnation are stale.
    pub inc: u32,
    pub stack: StackId,
    /// The main program when it is a `Client`, inline (then `procs[0]`
    /// holds no program): its first line — all a request reads — is the
    /// container's second. Other programs are boxed in `procs[0]`.
    pub client: Option<Client>,
    /// The container's stream (start-up delay, program draws).
    pub rng: Rng,
    /// Usually one (kept inline: no allocation per container).
    pub endpoints: smallvec::SmallVec<[Endpoint; 1]>,
    pub name: String,
    pub short_id: String,
    pub spec: std::sync::Arc<CtrSpec>,
    pub started_at: Time,
    /// Attached networks, in order (kept across restarts; changed by connect/disconnect).
    pub nets: smallvec::SmallVec<[NetId; 2]>,
    /// The embedded DNS server's stream for this asker's answers (the
    /// order of several addresses: one address draws nothing).
    pub dns_rng: Rng,
    pub cache: Cache,
    pub restart: restart::Manager,
    pub health: Option<Health>,
    /// The address last held on each network (a restart asks for it
    /// again); usually one, inline.
    pub last_ips: smallvec::SmallVec<[(NetId, Ip); 1]>,
    /// Inputs held while the container is paused.
    pub deferred: Vec<(u8, crate::container::program::Input)>,
    pub manually_stopped: bool,
    /// Compose `up`: the container waits for its dependencies.
    pub waiting: bool,
    /// `docker restart` is waiting for the stop to finish before it starts again.
    pub start_after_stop: bool,
}

impl Container {
    pub fn is_up(&self) -> bool {
        matches!(self.state, State::Running | State::Paused)
    }
}

/// One process of a container.
pub struct Proc {
    /// Taken out while it handles an input.
    pub prog: Option<Box<dyn Program>>,
    pub alive: bool,
}

impl Container {
    /// Is the main program running (initialised and not exited; behind
    /// start-up gates, let through them)?
    pub fn main_running(&self) -> bool {
        self.procs.first().is_some_and(|p| p.alive) && self.main_program().is_none_or(|p| p.started())
    }
    pub fn main_program(&self) -> Option<&dyn Program> {
        match &self.client {
            Some(c) => Some(c),
            None => self.procs.first().and_then(|p| p.prog.as_deref()),
        }
    }
}

pub struct Listener {
    pub owner: CtrId,
    pub proc: u8,
    /// When it started listening.
    pub since: Time,
    pub bind: Ip,
    pub backlog: u32,
    pub queued: u32,
}

pub struct Stack {
    pub owner: Option<CtrId>,
    /// By port, inline (see `ports`).
    pub listeners: super::ports::Ports<Listener>,
    /// Bound UDP ports and the process that reads them.
    pub udp: BTreeMap<u16, (CtrId, u8)>,
    pub next_port: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpState {
    ArpWait,
    SynSent,
    SynRcvd,
    /// Established, waiting in the listener's accept queue.
    Queued,
    Established,
}

pub struct Conn {
    pub stack: StackId,
    pub owner: CtrId,
    pub proc: u8,
    pub inc: u32,
    pub local: SockAddr,
    pub remote: SockAddr,
    pub state: TcpState,
    pub dial: Option<DialId>,
    /// Arrival time of this end's latest segment: later ones never overtake it.
    pub tx_last: Time,
    /// Data segments sent / the highest one delivered (duplicates are dropped).
    pub tx_seq: u32,
    pub rx_seq: u32,
    /// SYNs of this connect dropped on the way, and the last reason.
    pub drops: u16,
    pub last_drop: Option<super::record::DropReason>,
    /// Where this connection's segments go (saves the fabric lookup per segment).
    pub route: super::fabric::CachedRoute,
    /// The other end's connection, once its SYN or SYN-ACK said which (sent
    /// on this end's segments so the peer skips its demultiplexing lookup).
    pub peer: Option<ConnId>,
}

pub struct Dial {
    pub ctr: CtrId,
    pub proc: u8,
    pub inc: u32,
    pub tag: u64,
    pub host: Sym,
    pub port: u16,
    pub started: Time,
    pub conn: Option<ConnId>,
    pub addr: Option<SockAddr>,
}

pub struct Query {
    pub waiter: super::dns::Waiter,
    pub ctr: CtrId,
    pub inc: u32,
    pub name: Sym,
    pub server: Ip,
    pub attempt: u8,
    pub answer: Option<(Rcode, crate::proto::dns::Ips)>,
}

/// Why a run stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Nothing left to do.
    Quiet,
    /// Simulated time reached the scenario's `until`.
    TimeBound,
    /// The event bound was hit (a runaway retry storm?).
    EventBound,
}

/// At most this many held connections size the connection tables up front
/// (4,194,304: a reservation is address space, not memory, until the
/// connections fill it; 2 million held connections — the scale bench's
/// 10⁶ row — then never grow their tables, whose doubling copied every
/// connection and dial: 13 % of the last-level misses of a marginal
/// connection in cachegrind).
const MAX_RESERVED_CONNS: u64 = 1 << 22;

pub const EMBEDDED_DNS: Ip = Ip::new(127, 0, 0, 11);
pub const UPSTREAM_DNS: Ip = Ip::new(8, 8, 8, 8);
pub const LOOPBACK: Ip = Ip::new(127, 0, 0, 1);
pub const HOST_LAN_IP: Ip = Ip::new(192, 168, 65, 3);

pub struct World {
    pub now: Time,
    pub(super) queue: Queue,
    pub nets: SlotMap<NetId, Network>,
    pub ctrs: super::arena::Dense<CtrId, Container>,
    pub(super) conns: super::slots::Slots<ConnId, Conn>,
    pub(super) dials: super::slots::Slots<DialId, Dial>,
    pub(super) queries: super::slots::Slots<QueryId, Query>,
    pub(super) stacks: Vec<Stack>,
    /// Open connections by 4-tuple (lookup only, never iterated; see `demux`).
    pub(super) demux: super::demux::Demux,
    /// Topology generation (`topology_changed`): connections' cached routes
    /// from an older generation are recomputed.
    pub(super) topo: u32,
    pub dns: Registry<NetId, CtrId>,
    /// The registry's id of each queried name, by symbol (`u32::MAX`: not
    /// known yet); ids are permanent, so a known one never goes stale.
    pub(super) dns_name_ids: Vec<u32>,
    pub syms: Symbols,
    pub trace: Trace,
    pub(super) cmds: Vec<Cmd>,
    pub net_order: Vec<NetId>,
    pub ctr_order: Vec<CtrId>,
    /// Who depends on each container (`depends_on`), and whether it is
    /// required: told when it starts. Empty without dependencies.
    pub(super) dependents: BTreeMap<CtrId, Vec<(CtrId, bool)>>,
    pub(super) actions: Vec<(Dur, super::spec::ActionSpec)>,
    pub(super) tools: Vec<crate::container::tools::Tool>,
    pub seed: u64,
    pub until: Time,
    pub max_events: u64,
    pub events: u64,
    pub syn_schedule: SynSchedule,
    pub upstream: Upstream,
    pub stopped: Option<Stop>,
    pub(super) default_bridge: Option<NetId>,
    /// Host port → the running container publishing it.
    pub published: BTreeMap<u16, (CtrId, super::publish::PortMap)>,
    pub(super) nat: Vec<super::publish::NatEntry>,
    pub(super) nat_fwd: BTreeMap<(SockAddr, SockAddr), usize>,
    pub(super) nat_rev: BTreeMap<(SockAddr, SockAddr), usize>,
    pub(super) nat_port: u16,
    /// The last port the allocator handed to a mapping without a host port.
    pub(super) ephemeral_port: u16,
    pub(super) partitions: Vec<super::fault::Partition>,
    pub(super) active_partitions: Vec<usize>,
    pub(super) degrades: Vec<super::fault::Degrade>,
    pub(super) heals: Vec<super::fault::Heal>,
    pub(super) dns_outage: Option<super::spec::DnsOutage>,
    /// When the last fault started or healed (for convergence expectations).
    pub last_fault: Time,
    pub checks: super::checks::Checks,
    /// Captured packets, when capturing (`None`: off).
    pub captured: Option<Vec<super::capture::Captured>>,
    /// A note for the next captured packet (a retransmission number).
    pub(super) next_note: String,
}

/// A deterministic 12-hex-digit container ID from its name.
pub fn short_id(name: &str) -> String {
    let h = blake3::hash(name.as_bytes());
    h.to_hex()[..12].to_string()
}

impl World {
    /// How many events the queue's heap holds before its ladder opens
    /// (tests set it low: the ladder must not change a trace).
    pub fn set_queue_spill_over(&mut self, n: usize) {
        self.queue.set_spill_over(n);
    }

    /// How many times the queue's ladder has opened in this run.
    pub fn queue_spills(&self) -> u64 {
        self.queue.spills()
    }

    pub fn new(spec: WorldSpec) -> World {
        let mut w = World {
            now: Time::ZERO,
            queue: Queue::default(),
            nets: SlotMap::with_key(),
            ctrs: super::arena::Dense::default(),
            conns: super::slots::Slots::default(),
            dials: super::slots::Slots::default(),
            queries: super::slots::Slots::default(),
            stacks: vec![Stack {
                owner: None,
                listeners: super::ports::Ports::default(),
                udp: BTreeMap::new(),
                next_port: crate::proto::tcp::EPHEMERAL_FIRST,
            }],
            demux: Default::default(),
            topo: 1,
            dns: Registry::default(),
            dns_name_ids: Vec::new(),
            syms: spec.syms,
            trace: Trace::default(),
            cmds: Vec::new(),
            net_order: Vec::new(),
            ctr_order: Vec::new(),
            dependents: BTreeMap::new(),
            actions: spec.actions,
            tools: spec.tools,
            seed: spec.seed,
            until: Time::ZERO + spec.until,
            max_events: spec.max_events,
            events: 0,
            syn_schedule: spec.syn_schedule,
            upstream: spec.upstream,
            stopped: None,
            default_bridge: None,
            published: BTreeMap::new(),
            nat: Vec::new(),
            nat_fwd: BTreeMap::new(),
            nat_rev: BTreeMap::new(),
            nat_port: 20000,
            ephemeral_port: super::publish::EPHEMERAL_LAST,
            partitions: spec.partitions,
            active_partitions: Vec::new(),
            degrades: spec.degrades,
            heals: Vec::new(),
            dns_outage: None,
            last_fault: Time::ZERO,
            checks: super::checks::Checks::default(),
            captured: None,
            next_note: String::new(),
        };
        if let Some(chaos) = &spec.chaos {
            let drawn = super::fault::draw_chaos(chaos, w.seed);
            let text = w.sym(&format!("chaos drew {} fault(s) for seed {}", drawn.len(), w.seed));
            w.record(None, Ev::Fault { text });
            w.actions.extend(drawn);
        }
        w.build_networks(spec.networks);
        w.build_containers(spec.containers);
        if let Some(t) = spec.up_wait {
            w.queue.push(Time::ZERO, Event::Timer(Timer::ComposeWait { deadline: Time::ZERO + t }));
        }
        for i in 0..w.actions.len() {
            let at = Time::ZERO + w.actions[i].0;
            w.queue.push(at, Event::Timer(Timer::Action(i as u32)));
        }
        w
    }

    fn build_networks(&mut self, specs: Vec<super::spec::NetSpec>) {
        let mut taken: Vec<Subnet> = Vec::new();
        for s in specs {
            let pool = match s.kind {
                NetKind::Host | NetKind::None => None,
                NetKind::DefaultBridge | NetKind::Bridge | NetKind::Overlay => {
                    let subnet =
                        s.subnet.or_else(|| ipam::next_free_subnet(&taken)).expect("validated: a free subnet exists");
                    taken.push(subnet);
                    let mut pool = Pool::new(subnet, s.gateway.unwrap_or_else(|| subnet.host(1)));
                    pool.serial = s.kind == NetKind::Overlay;
                    if let Some(r) = s.ip_range {
                        pool.limit_to(r);
                    }
                    Some(pool)
                }
            };
            let rng = Rng::fork(self.seed, &format!("net/{}", s.name));
            let holders = super::holders::Holders::new(pool.as_ref().map(|p| p.subnet));
            let id = self.nets.insert(Network {
                name: s.name,
                kind: s.kind,
                duplicate: 0.0,
                reorder: 0.0,
                cross_node: s.cross_node,
                encryption: s.encryption,
                pool,
                internal: s.internal,
                icc: s.icc,
                link: s.link,
                rng,
                holders,
            });
            if s.kind == NetKind::DefaultBridge {
                self.default_bridge = Some(id);
            }
            self.net_order.push(id);
        }
    }

    fn build_containers(&mut self, specs: Vec<std::sync::Arc<CtrSpec>>) {
        // Each container on a user-defined network registers its name and
        // short ID there, plain and network-qualified: size the DNS tables
        // once instead of rehashing them as thousands of containers start.
        let on_user_nets = specs
            .iter()
            .filter(|s| s.attach.iter().any(|a| self.nets[self.net_order[a.net]].kind.user_defined()))
            .count();
        self.dns.reserve(4 * on_user_nets);
        // The arenas are sized once too: growing the container arena
        // copies every container at each doubling.
        self.ctrs.reserve(specs.len());
        self.ctr_order.reserve(specs.len());
        self.stacks.reserve(specs.len());
        // And the connection tables, for the connections the programs hold
        // once running (both ends when the server is simulated too): a pool
        // of 20 otherwise copies its connections through five doublings.
        // Capped: a hint, not a limit, and never an allocation a mistyped
        // pool size could make fail. (The demultiplexing table is left to
        // grow: sized up front, its inserts scatter over the whole table
        // from the first connection on, which measured 10 % slower at
        // 20,000 pooled connections than growing it.)
        let held = specs.iter().map(|s| s.program.connections_held()).sum::<u64>().min(MAX_RESERVED_CONNS) as usize;
        self.conns.reserve(2 * held);
        self.dials.reserve(held);
        // Queries in flight: at most one per connection opened by name.
        let lookups = specs.iter().map(|s| s.program.lookups_held(&self.syms)).sum::<u64>();
        self.queries.reserve(lookups.min(MAX_RESERVED_CONNS) as usize);
        // (dependency, dependent, required) by position, noted while each
        // spec is at hand.
        let mut depends: Vec<(usize, usize, bool)> = Vec::new();
        for s in specs {
            let at = self.ctr_order.len();
            depends.extend(s.depends_on.iter().map(|d| (d.on, at, d.required)));
            let stack = match s.mode {
                super::spec::Mode::Host => StackId::HOST,
                super::spec::Mode::Container(k) => self.ctrs[self.ctr_order[k]].stack,
                _ => {
                    self.stacks.push(Stack {
                        owner: None,
                        listeners: super::ports::Ports::default(),
                        udp: BTreeMap::new(),
                        next_port: crate::proto::tcp::EPHEMERAL_FIRST,
                    });
                    StackId(self.stacks.len() as u32 - 1)
                }
            };
            let nets = s.attach.iter().map(|a| self.net_order[a.net]).collect();
            let start_at = s.start_at;
            let c = Container {
                short_id: short_id(&s.name),
                rng: Rng::fork_parts(self.seed, &["ctr/", &s.name]),
                dns_rng: Rng::fork_parts(self.seed, &["dns/", &s.name]),
                cache: Cache::new(s.dns_cache),
                restart: restart::Manager::new(s.restart),
                name: s.name.clone(),
                stack,
                state: State::Created,
                inc: 0,
                started_at: Time::ZERO,
                endpoints: smallvec::SmallVec::new(),
                nets,
                procs: smallvec::SmallVec::new(),
                client: None,
                health: None,
                manually_stopped: false,
                last_ips: smallvec::SmallVec::new(),
                waiting: false,
                deferred: Vec::new(),
                start_after_stop: false,
                spec: s,
            };
            let id = self.ctrs.insert(c);
            if stack != StackId::HOST && self.stacks[stack.0 as usize].owner.is_none() {
                self.stacks[stack.0 as usize].owner = Some(id);
            }
            self.ctr_order.push(id);
            self.record(Some(id), Ev::Create);
            if let Some(at) = start_at {
                self.schedule_up(id, Time::ZERO + at);
            }
        }
        for (on, w, required) in depends {
            self.dependents.entry(self.ctr_order[on]).or_default().push((self.ctr_order[w], required));
        }
    }

    pub fn record(&mut self, ctr: Option<CtrId>, ev: Ev) {
        self.trace.push(Record { t: self.now, ctr, ev });
    }

    /// TCP endpoints in ESTABLISHED now (each open connection has two).
    pub fn established(&self) -> usize {
        self.conns.values().filter(|c| c.state == TcpState::Established).count()
    }

    pub fn sym(&mut self, s: &str) -> Sym {
        self.syms.intern(s)
    }

    /// Schedules `ev` `after` from now (through the queue's lane for that
    /// delay when it has one: timers of one delay come in time order).
    pub(super) fn at(&mut self, after: Dur, timer: Timer) {
        self.queue.push_after(self.now, after, timer);
    }

    /// Steps until the queue is empty or a bound is hit.
    pub fn run(&mut self) -> Stop {
        loop {
            let next = if self.events < self.max_events {
                self.queue.pop_due(self.until)
            } else {
                match self.queue.peek_time() {
                    Some(t) if t <= self.until => return self.finish(Stop::EventBound),
                    later_or_none => Err(later_or_none),
                }
            };
            match next {
                Ok((t, ev)) => {
                    self.now = t;
                    self.events += 1;
                    if let Some((next, after)) = self.queue.prefetch_next() {
                        self.prefetch_targets(next, after);
                    }
                    self.dispatch(ev);
                }
                Err(None) => return self.finish(Stop::Quiet),
                Err(Some(_)) => {
                    self.now = self.until;
                    return self.finish(Stop::TimeBound);
                }
            }
        }
    }

    /// Steps every event due at or before `t` (for inspection at a time).
    pub fn run_until(&mut self, t: Time) {
        while self.events < self.max_events {
            let Ok((at, ev)) = self.queue.pop_due(t) else { break };
            self.now = at;
            self.events += 1;
            self.dispatch(ev);
        }
        self.now = self.now.max(t);
    }

    /// Software pipelining along the ladder's run, whose order is known:
    /// the event after next gets its connection fetched (and, for a SYN or
    /// a handshake's ACK, its namespace, whose listener they read; for a
    /// DNS answer, its query; for a program timer, its container; for a SYN timer, mostly stale, the
    /// connection it checks), and the next, whose connection came in the
    /// same way one event ago, gets its container and, when that connection
    /// is still connecting, the dial its SYN-ACK completes — so the misses
    /// of a run of events far apart in memory overlap the events before
    /// them instead of each stalling its own handler. Their payloads were
    /// fetched earlier still (`RUN_AHEAD`). Hints only: nothing here
    /// writes, and `Slots::prefetch` reads nothing either.
    fn prefetch_targets(&self, next: &Event, after: Option<&Event>) {
        match after {
            Some(Event::Deliver(p)) => {
                if let Some(id) = p.conn {
                    self.conns.prefetch(id);
                }
                match p.seg {
                    // A SYN and a handshake's ACK read the namespace's
                    // listener (inline in the `Stack`).
                    Seg::Syn { .. } | Seg::Ack => {
                        if let Some(s) = self.stacks.get(p.to.0 as usize) {
                            prefetch_span(s);
                        }
                    }
                    _ => {}
                }
            }
            Some(Event::Timer(Timer::ProgTimer { ctr, .. })) => {
                if let Some(c) = self.ctrs.get(*ctr) {
                    prefetch_pair(c);
                }
            }
            Some(Event::Timer(Timer::SynTimer { conn, .. })) => self.conns.prefetch(*conn),
            Some(Event::Timer(Timer::DnsAnswer { query, .. })) => self.queries.prefetch(*query),
            _ => {}
        }
        if let Event::Deliver(p) = next {
            let owner = match p.conn.and_then(|id| self.conns.get(id)) {
                Some(c) => {
                    // A connecting end: its SYN-ACK completes the dial.
                    if let Some(d) = c.dial.filter(|_| c.state == TcpState::SynSent) {
                        self.dials.prefetch(d);
                    }
                    Some(c.owner)
                }
                None => self.stacks.get(p.to.0 as usize).and_then(|s| s.owner),
            };
            if let Some(c) = owner.and_then(|o| self.ctrs.get(o)) {
                prefetch_pair(c);
            }
        } else if let Event::Timer(Timer::DnsAnswer { ctr, .. }) = next {
            if let Some(c) = self.ctrs.get(*ctr) {
                prefetch_pair(c);
            }
        }
    }

    fn finish(&mut self, why: Stop) -> Stop {
        if why == Stop::Quiet {
            // Stale timers (lazily cancelled) may have moved the clock past the last real event.
            self.now = self.trace.last().map_or(self.now, |r| r.t);
        }
        let reason = match why {
            Stop::Quiet => "no more events".to_string(),
            Stop::TimeBound => format!("time bound reached (until {})", self.until.since(Time::ZERO)),
            Stop::EventBound => format!(
                "event bound reached: {} events (max_events); a runaway retry loop? raise max_events if intended",
                self.events
            ),
        };
        let reason = self.sym(&reason);
        self.record(None, Ev::RunEnded { reason });
        self.stopped = Some(why.clone());
        why
    }

    fn dispatch(&mut self, ev: Event) {
        match ev {
            Event::Deliver(p) => {
                self.checks.delivered += 1;
                self.on_deliver(p)
            }
            Event::Timer(t) => self.on_timer(t),
        }
    }

    #[inline]
    fn on_timer(&mut self, t: Timer) {
        match t {
            Timer::SynTimer { conn, sent, started } => self.on_syn_timer(conn, sent, started),
            Timer::ArpTimer { conn, probes } => self.on_arp_timer(conn, probes),
            Timer::DialTimeout { dial } => self.on_dial_timeout(dial),
            Timer::DnsTimeout { query, attempt } => self.on_dns_timeout(query, attempt),
            Timer::DnsAnswer { query, attempt, .. } => {
                self.checks.delivered += 1;
                self.on_dns_answer(query, attempt)
            }
            Timer::ProgTimer { ctr, inc, proc, token } => self.on_prog_timer(ctr, inc, proc, token),
            Timer::ProgramStart { ctr, inc } => self.on_program_start(ctr, inc),
            Timer::Probe { ctr, inc } => self.on_probe(ctr, inc),
            Timer::ProbeDone { ctr, inc, started, ok } => self.on_probe_done(ctr, inc, started, ok),
            Timer::Restart { ctr, inc } => self.on_restart(ctr, inc),
            Timer::KillAfterGrace { ctr, inc } => self.on_kill_after_grace(ctr, inc),
            Timer::ComposePoll { ctr } => self.on_compose_poll(ctr),
            Timer::ComposeCheck { ctr } => self.on_compose_check(ctr),
            Timer::ComposeWait { deadline } => self.on_compose_wait(deadline),
            Timer::Action(i) => self.on_action(i),
            Timer::Heal { heal } => self.on_heal(heal),
            Timer::EchoUnreachable { ctr, inc, proc, seq, from } => {
                if self.live(ctr, inc) {
                    let errno = crate::proto::errno::Errno::Ehostunreach;
                    self.deliver_input(ctr, proc, Input::PingFailed { seq, errno, from });
                }
            }
        }
    }

    pub(super) fn send_packet(&mut self, p: Packet, after: Dur) {
        let at = self.now + after;
        self.checks.attempts += 1;
        self.push_packet(at, p);
    }

    /// Queues a packet for delivery (every packet goes through here).
    pub(super) fn push_packet(&mut self, at: Time, p: Packet) {
        self.checks.pushed += 1;
        self.queue.push(at, Event::Deliver(p));
    }

    /// Records a drop of a transmission attempt.
    pub(super) fn count_drop(&mut self) {
        self.checks.dropped += 1;
    }

    /// Is `(ctr, inc)` still the live incarnation?
    pub(super) fn live(&self, ctr: CtrId, inc: u32) -> bool {
        self.ctrs.get(ctr).is_some_and(|c| c.inc == inc && c.is_up())
    }

    /// The container whose endpoints give `ctr` its network view (itself, or
    /// the container whose namespace it shares).
    pub fn net_owner(&self, ctr: CtrId) -> CtrId {
        let s = self.ctrs[ctr].stack;
        if s == StackId::HOST {
            return ctr;
        }
        self.stacks[s.0 as usize].owner.unwrap_or(ctr)
    }

    /// Is `net` the default `bridge` (no embedded DNS, no DNS names)?
    pub fn is_default_bridge(&self, net: NetId) -> bool {
        self.default_bridge == Some(net)
    }

    pub fn ctr_by_name(&self, name: &str) -> Option<CtrId> {
        self.ctr_order.iter().copied().find(|&c| self.ctrs[c].name == name)
    }

    pub fn net_by_name(&self, name: &str) -> Option<NetId> {
        self.net_order.iter().copied().find(|&n| self.nets[n].name == name)
    }
}

#[cfg(test)]
mod sizing_tests {
    /// The connection tables are sized when the world is built for the
    /// connections its programs hold (a pool its size, a client one; both
    /// ends here, the servers being simulated): filling them never grows
    /// them, so no doubling copies every connection.
    #[test]
    fn held_connections_fit_the_tables_sized_at_build() {
        let text = r#"Scenario(name: "sizing", until: "5s", networks: { "n": Bridge(subnet: "10.0.0.0/24") }, containers: {
            "s0": (networks: ["n"], ipv4_address: { "n": "10.0.0.10" }, program: Server(port: 80)),
            "s1": (networks: ["n"], ipv4_address: { "n": "10.0.0.11" }, program: Server(port: 80)),
            "p0": (networks: ["n"], start_at: "1s", program: Pool(target: "10.0.0.10:80", size: 20)),
            "p1": (networks: ["n"], start_at: "1s", program: Pool(target: "s1:80", size: 20)),
            "c0": (networks: ["n"], start_at: "1s", program: Client(target: "s0:80")),
        })"#;
        let loaded = crate::scenario::load_str("sizing.ron", text).expect("valid");
        let mut w = super::World::new(loaded.spec.clone());
        let (conns, dials, queries) = (w.conns.capacity(), w.dials.capacity(), w.queries.capacity());
        assert!(conns >= 2 * 41 && dials >= 41, "sized for 41 held connections: {conns} / {dials}");
        // p1's 20 and c0's one are opened by name; p0's by address.
        assert!((21..41).contains(&queries), "sized for 21 lookups: {queries}");
        w.run();
        assert_eq!(w.conns.len(), 2 * 41, "every held connection open, both ends");
        let now = (w.conns.capacity(), w.dials.capacity(), w.queries.capacity());
        assert_eq!(now, (conns, dials, queries), "the tables never grew");
    }

    /// A crowd of DNS answers due at one instant — a pool's lookups sent
    /// together; an answer's delay has no jitter — waits in a lane, an
    /// append and a pop each, not in the heap (a million of them, at 10⁶
    /// lookups, had made every pop a pass over ten levels of the heap).
    #[test]
    fn dns_answers_wait_in_a_lane() {
        use super::super::event::{Event, Timer};
        use crate::time::{Dur, Time};
        let text = r#"Scenario(name: "answers", until: "5s", networks: { "n": Bridge(subnet: "10.0.0.0/24") }, containers: {
            "s1": (networks: ["n"], program: Server(port: 80)),
            "p1": (networks: ["n"], start_at: "1s", program: Pool(target: "s1:80", size: 30)),
        })"#;
        let loaded = crate::scenario::load_str("answers.ron", text).expect("valid");
        let mut w = super::World::new(loaded.spec.clone());
        let answer = |e: &Event| matches!(e, Event::Timer(Timer::DnsAnswer { .. }));
        let mut t = Time::ZERO;
        while w.queue.count(answer) == 0 {
            t = t + Dur::micros(10);
            assert!(t < Time::ZERO + Dur::secs(5), "no DNS answer was ever pending");
            w.run_until(t);
        }
        assert_eq!(w.queue.count(answer), 30, "the pool's 30 lookups are answered together");
        assert_eq!(w.queue.count_in_lanes(answer), 30, "all of them in a lane");
        w.run();
        assert_eq!(w.conns.len(), 2 * 30, "every connection opened by name");
    }

    /// Cached routes carry a 32-bit topology generation: when generations
    /// run out they start again at 1, and every cache is emptied first, so
    /// a route cached long ago in generation 1 is not taken for current.
    #[test]
    fn topology_generations_wrap_without_reviving_stale_routes() {
        use super::super::fabric::{CachedRoute, Route};
        let text = r#"Scenario(name: "wrap", until: "5s", networks: { "n": Bridge(subnet: "10.0.0.0/24") }, containers: {
            "s0": (networks: ["n"], ipv4_address: { "n": "10.0.0.10" }, program: Server(port: 80)),
            "p0": (networks: ["n"], start_at: "1s", program: Pool(target: "10.0.0.10:80", size: 3)),
        })"#;
        let loaded = crate::scenario::load_str("wrap.ron", text).expect("valid");
        let mut w = super::World::new(loaded.spec.clone());
        w.run();
        assert_eq!(w.conns.len(), 6);
        let stale = Route::Deliver { to: crate::id::StackId(0), net: None, src: [10, 0, 0, 1].into() };
        for c in w.conns.values_mut() {
            c.route = CachedRoute::of(stale, 1);
        }
        w.topo = u32::MAX - 1;
        w.topology_changed();
        assert_eq!(w.topo, u32::MAX);
        assert!(w.conns.values().all(|c| c.route.get(1).is_some()), "not emptied before the wrap");
        w.topology_changed();
        assert_eq!(w.topo, 1);
        assert!(w.conns.values().all(|c| c.route.get(w.topo).is_none()), "a stale route survived the wrap");
    }
}

#[cfg(test)]
mod size_tests {
    /// The hot structures' sizes are part of the performance design (README,
    /// Performance): a queue payload is one 64-byte slab slot, a trace record
    /// 40 bytes, a container slot stays small enough for 10,000 to be
    /// cache-friendly (ten lines since a client program is inline; only the
    /// first is read per input, and for a client the second, in the same
    /// 128-byte pair). A field that grows one of them fails here first.
    #[test]
    fn hot_structures_stay_within_their_budgets() {
        use std::mem::size_of;
        assert!(size_of::<super::Event>() <= 64, "Event is {} bytes", size_of::<super::Event>());
        assert!(size_of::<super::Record>() <= 40, "Record is {} bytes", size_of::<super::Record>());
        assert!(size_of::<super::Conn>() <= 88, "Conn is {} bytes", size_of::<super::Conn>());
        assert!(size_of::<super::Container>() <= 640, "Container is {} bytes", size_of::<super::Container>());
        // The fields every input reads share the container's first line.
        use std::mem::offset_of;
        let hot = [
            offset_of!(super::Container, procs) + size_of::<smallvec::SmallVec<[super::Proc; 1]>>(),
            offset_of!(super::Container, state) + size_of::<super::State>(),
            offset_of!(super::Container, inc) + size_of::<u32>(),
            offset_of!(super::Container, stack) + size_of::<crate::id::StackId>(),
        ];
        assert!(hot.iter().all(|&end| end <= 64), "hot fields end at {hot:?}");
        // An inline client's hot line is the second, in the same
        // 128-byte-aligned pair.
        assert_eq!(offset_of!(super::Container, client), 64);
        assert_eq!(std::mem::align_of::<super::Container>(), 128);
    }
}
