//! Trace records: what happened, in past tense, as typed values. Rendering
//! (text, JSON) lives in `output::trace`.

use crate::container::health::Status;
use crate::container::program::{Breaker, TaskState};
use crate::id::{CtrId, NetId, Sym};
use crate::net::addr::{Ip, SockAddr};
use crate::proto::dns::Rcode;
use crate::proto::errno::Errno;
use crate::time::{Dur, Time};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DropReason {
    /// `enable_icc=false` on the bridge both ends share.
    Icc,
    /// Destination is on another bridge network (DOCKER-ISOLATION).
    OtherNetwork,
    /// Random loss on the link.
    Loss,
    /// Accept queue of the listener is full.
    Backlog,
    /// Destination outside every simulated network.
    External,
    /// Nobody holds the destination address any more.
    NoNeighbour,
    /// An active network partition.
    Partition,
}

impl DropReason {
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Icc => "icc disabled",
            DropReason::OtherNetwork => "other network (isolation)",
            DropReason::Loss => "link loss",
            DropReason::Backlog => "accept queue full",
            DropReason::External => "external address (not simulated)",
            DropReason::NoNeighbour => "no neighbour",
            DropReason::Partition => "partition",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Flags {
    Syn,
    SynAck,
    Rst,
    Fin,
}

impl Flags {
    /// tcpdump's notation.
    pub fn tcpdump(self) -> &'static str {
        match self {
            Flags::Syn => "[S]",
            Flags::SynAck => "[S.]",
            Flags::Rst => "[R.]",
            Flags::Fin => "[F.]",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Resolution {
    Literal,
    Hosts,
    Cache,
    Dns,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ev {
    Create,
    Start,
    StartFailed { reason: Sym },
    NetConnect { net: NetId, ip: Ip },
    NetDisconnect { net: NetId, ip: Ip },
    ProgramStarted,
    Listen { addr: SockAddr },
    Unlisten { addr: SockAddr },
    Kill { signal: u8 },
    Stop,
    Die { code: i32 },
    Restart { delay: Dur, count: u32 },
    Health { status: Status },
    Pause,
    Unpause,
    Remove,
    ComposeWaiting { on: CtrId, condition: Sym },
    ComposeFailed { message: Sym },
    ComposeReady { message: Sym },
    DnsQuery { name: Sym, server: Ip, attempt: u8 },
    DnsAnswer { name: Sym, rcode: Rcode, ips: crate::proto::dns::Ips },
    Resolved { name: Sym, ip: Ip, via: Resolution },
    ResolveFailed { name: Sym, errno: Errno, cause: Sym },
    Segment { src: SockAddr, dst: SockAddr, flags: Flags, retransmit: u8 },
    Dropped { src: SockAddr, dst: SockAddr, reason: DropReason },
    ArpProbe { target: Ip, n: u8 },
    Connected { target: Sym, addr: SockAddr, after: Dur },
    ConnectFailed { target: Sym, port: u16, addr: Option<SockAddr>, errno: Errno, after: Dur, cause: Sym },
    Accepted { peer: SockAddr },
    Response { peer: SockAddr, status: u16, latency: Dur },
    RequestTimedOut { id: u32 },
    Closed { peer: SockAddr, errno: Option<Errno> },
    RetryScheduled { attempt: u32, delay: Dur },
    GaveUp { attempts: u32 },
    ProbeResult { ok: bool, started: Time },
    RunEnded { reason: Sym },
    Served { status: u16 },
    Task { id: u32, state: TaskState },
    Proxied { status: u16, upstream: Option<SockAddr>, tries: u32 },
    Peer { addr: SockAddr, down: bool },
    Breaker { state: Breaker },
    Output { line: Sym },
    TlsDone { took: Dur },
    Datagram { src: SockAddr, dst: SockAddr, seq: u32 },
    DatagramIn { from: SockAddr, seq: u32 },
    PortForward { published: SockAddr, backend: SockAddr, userland: bool },
    Fault { text: Sym },
    PortUnreachable { src: SockAddr, dst: SockAddr },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub t: Time,
    /// The container whose view this is; `None` for the engine itself.
    pub ctr: Option<CtrId>,
    pub ev: Ev,
}

impl Ev {
    /// The errno a program saw, if this record is a failure.
    pub fn errno(&self) -> Option<Errno> {
        match *self {
            Ev::ResolveFailed { errno, .. } | Ev::ConnectFailed { errno, .. } => Some(errno),
            Ev::Closed { errno, .. } => errno,
            Ev::RequestTimedOut { .. } => Some(Errno::Etimedout),
            _ => None,
        }
    }
}
