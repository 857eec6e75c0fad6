//! Trace records: what happened, in past tense, as typed values. Rendering
//! (text, JSON) lives in `output::trace`.

use crate::container::health::Status;
use crate::container::program::{Breaker, TaskState};
use crate::container::wait::GateKind;
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
    DnsAnswer { name: Sym, rcode: Rcode, ips: IpList },
    Resolved { name: Sym, ip: Ip, via: Resolution },
    ResolveFailed { name: Sym, errno: Errno, cause: Sym },
    Segment { src: SockAddr, dst: SockAddr, flags: Flags, retransmit: u8 },
    Dropped { src: SockAddr, dst: SockAddr, reason: DropReason },
    ArpProbe { target: Ip, n: u8 },
    Connected { target: Sym, addr: SockAddr, after: Dur },
    ConnectFailed(Box<ConnectFailure>),
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
    Waited { host: Sym, port: u16, ok: bool, after: Dur, kind: GateKind },
    TlsDone { took: Dur },
    Datagram { src: SockAddr, dst: SockAddr, seq: u32 },
    DatagramIn { from: SockAddr, seq: u32 },
    PortForward { published: SockAddr, backend: SockAddr, userland: bool },
    Fault { text: Sym },
    PortUnreachable { src: SockAddr, dst: SockAddr },
}

/// A failed connect: the largest record and a rare one, so `Ev` holds it
/// boxed and every other record stays 40 bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectFailure {
    pub target: Sym,
    pub port: u16,
    pub addr: Option<SockAddr>,
    pub errno: Errno,
    pub after: Dur,
    pub cause: Sym,
}

/// A DNS answer's addresses, kept by the trace (`Trace::ips`): an inline
/// list would make every record 48 bytes instead of 40.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpList {
    start: u32,
    len: u32,
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
            Ev::ResolveFailed { errno, .. } => Some(errno),
            Ev::ConnectFailed(ref f) => Some(f.errno),
            Ev::Closed { errno, .. } => errno,
            Ev::RequestTimedOut { .. } => Some(Errno::Etimedout),
            _ => None,
        }
    }
}

/// Chunk `i` holds `FIRST_CHUNK << i` records, at most `MAX_CHUNK`.
const FIRST_CHUNK: usize = 256;
/// 8,192 records: 384 KiB.
const MAX_CHUNK: usize = 8192;

/// The trace: every record, in order. Stored in chunks that never move once
/// allocated, so a long run's trace grows without copying what it already
/// holds: a `Vec`'s doubling copies everything at each step and, where the
/// allocator hands out fresh pages for the larger buffer, has the kernel
/// zero about twice the memory the trace ends up using. Chunks grow from
/// 256 records to 8,192, so a short run allocates little.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    chunks: Vec<Vec<Record>>,
    len: usize,
    /// The DNS answers' addresses, one list after another.
    ips: Vec<Ip>,
}

/// The records in order (double-ended: `.rev()` walks back from the latest).
pub type Iter<'a> = std::iter::Flatten<std::slice::Iter<'a, Vec<Record>>>;

impl Trace {
    #[inline]
    pub fn push(&mut self, r: Record) {
        self.len += 1;
        if let Some(c) = self.chunks.last_mut() {
            if c.len() < c.capacity() {
                c.push(r);
                return;
            }
        }
        self.new_chunk(r);
    }

    #[cold]
    fn new_chunk(&mut self, r: Record) {
        let cap = (FIRST_CHUNK << self.chunks.len().min(8)).min(MAX_CHUNK);
        let mut c = Vec::with_capacity(cap);
        c.push(r);
        self.chunks.push(c);
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Keeps `ips` for a record; [`Trace::ips`] gives them back.
    pub fn ip_list(&mut self, ips: &[Ip]) -> IpList {
        // A run's records fit in memory, so their addresses fit in 2³² slots.
        let at = |n: usize| u32::try_from(n).expect("fewer than 2^32 answered addresses");
        let list = IpList { start: at(self.ips.len()), len: at(ips.len()) };
        self.ips.extend_from_slice(ips);
        list
    }

    /// The addresses of a DNS answer's record.
    pub fn ips(&self, list: IpList) -> &[Ip] {
        &self.ips[list.start as usize..][..list.len as usize]
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn last(&self) -> Option<&Record> {
        self.chunks.last().and_then(|c| c.last())
    }

    pub fn iter(&self) -> Iter<'_> {
        self.chunks.iter().flatten()
    }
}

impl<'a> IntoIterator for &'a Trace {
    type Item = &'a Record;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(i: u64) -> Record {
        Record { t: Time(i), ctr: None, ev: Ev::Fault { text: Sym(i as u32) } }
    }

    /// DNS answers' address lists, kept beside the records, come back
    /// whole and in order, the empty one too.
    #[test]
    fn ip_lists_read_back() {
        let mut t = Trace::default();
        let lists: Vec<Vec<Ip>> = vec![
            vec![[10, 0, 0, 2].into()],
            vec![],
            vec![[10, 0, 0, 3].into(), [10, 0, 0, 4].into(), [10, 0, 0, 5].into()],
        ];
        let kept: Vec<IpList> = lists.iter().map(|l| t.ip_list(l)).collect();
        for (k, l) in kept.iter().zip(&lists) {
            assert_eq!(t.ips(*k), &l[..]);
        }
        assert_eq!(std::mem::size_of::<Record>(), 40);
    }

    /// Pushes across many chunk boundaries read back as a `Vec` would, in
    /// both directions, and no chunk ever moved (its buffer address is the
    /// one it was allocated with).
    #[test]
    fn reads_back_like_a_vec_across_chunks() {
        let mut t = Trace::default();
        let mut v = Vec::new();
        assert!(t.is_empty() && t.last().is_none());
        let mut firsts: Vec<*const Record> = Vec::new();
        for i in 0..40_000 {
            t.push(rec(i));
            v.push(rec(i));
            if t.chunks.len() > firsts.len() {
                firsts.push(t.chunks.last().unwrap().as_ptr());
            }
            assert_eq!(t.len(), v.len());
            assert_eq!(t.last(), v.last());
        }
        assert!(t.iter().eq(v.iter()));
        assert!(t.iter().rev().eq(v.iter().rev()));
        assert!((&t).into_iter().take(300).eq(v.iter().take(300)));
        let sizes: Vec<usize> = t.chunks.iter().map(Vec::len).collect();
        assert_eq!(sizes[..7], [256, 512, 1024, 2048, 4096, 8192, 8192]);
        assert!(sizes.iter().all(|&n| n <= MAX_CHUNK));
        let now: Vec<*const Record> = t.chunks.iter().map(|c| c.as_ptr()).collect();
        assert_eq!(now, firsts, "a chunk was reallocated");
    }
}
