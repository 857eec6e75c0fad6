//! The one closed event enum. Events are imperative (what to do next);
//! trace records, in `record.rs`, are past tense (what happened).

use crate::container::program::Msg;
use crate::id::{ConnId, CtrId, DialId, QueryId, StackId};
use crate::net::addr::SockAddr;
use crate::time::Time;

/// A TCP segment or DNS datagram, as a typed value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seg {
    /// The handshake segments name the sender's connection (`from`), which
    /// the receiver keeps as its peer, much as it keeps the sender's initial
    /// sequence number; later segments name it back (`Packet::conn`).
    Syn {
        from: Option<ConnId>,
    },
    SynAck {
        from: Option<ConnId>,
    },
    Ack,
    Rst,
    Fin,
    /// Application data; `seq` numbers a connection's data segments so a
    /// duplicated segment is discarded like TCP does.
    Data {
        msg: Msg,
        seq: u32,
    },
    /// ICMP echo request or reply of process `proc` of `ctr` (the pinger).
    Echo {
        seq: u16,
        reply: bool,
        ctr: CtrId,
        proc: u8,
    },
    /// A UDP datagram from process `proc` of `ctr`.
    Udp {
        seq: u32,
        size: u32,
        ctr: CtrId,
        proc: u8,
    },
    /// ICMP port unreachable for a datagram of `ctr`/`proc`.
    PortUnreachable {
        ctr: CtrId,
        proc: u8,
    },
}

impl Seg {
    /// The same segment relayed by a NAT, which starts a connection of its
    /// own: it names no connection of either side.
    pub fn relayed(self) -> Seg {
        match self {
            Seg::Syn { .. } => Seg::Syn { from: None },
            Seg::SynAck { .. } => Seg::SynAck { from: None },
            seg => seg,
        }
    }
}

/// A packet in flight to a network namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet {
    pub src: SockAddr,
    pub dst: SockAddr,
    pub seg: Seg,
    pub to: StackId,
    /// TCP only: the receiver's connection, when the sender knows it (from
    /// the peer's SYN or SYN-ACK) — a hint, used only if that connection
    /// still exists with exactly this 4-tuple, which is then what the
    /// demultiplexing table would answer (it saves the lookup).
    pub conn: Option<ConnId>,
}

/// What the queue holds: a packet in flight or a timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A packet arrives at its destination namespace.
    Deliver(Packet),
    /// A timer is due.
    Timer(Timer),
}

impl Event {
    /// A packet in flight, as the checks count them: a delivery, or the
    /// nameserver's answer (a datagram that travels as a timer).
    pub fn is_packet(&self) -> bool {
        matches!(self, Event::Deliver(_) | Event::Timer(Timer::DnsAnswer { .. }))
    }
}

/// Everything scheduled but a packet's delivery — and one datagram, the
/// nameserver's answer (`DnsAnswer`). A timer's fields fit 24 bytes where
/// a packet's take 64: the queue's lanes, which hold only timers (every
/// connection's first SYN retransmission timer, every resolver attempt's
/// timeout, every DNS answer, every client's request interval), store
/// them in 40-byte entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// A SYN retransmission timer of a connecting socket, which sent its
    /// first SYN at `started` (the retransmissions are timed from it).
    SynTimer { conn: ConnId, sent: u8, started: Time },
    /// A neighbour (ARP) probe timer of a connecting socket.
    ArpTimer { conn: ConnId, probes: u8 },
    /// A program's connect timeout.
    DialTimeout { dial: DialId },
    /// A resolver's per-attempt timeout.
    DnsTimeout { query: QueryId, attempt: u8 },
    /// The nameserver's answer to attempt `attempt` of `query` (asked from
    /// container `ctr`) arrives. A datagram, but one that nothing on its
    /// path drops, reorders or routes — it comes back over the asking
    /// container's loopback (or, for the host's upstream, a path the model
    /// gives a fixed delay) — so it needs none of a packet's fields and
    /// travels as a timer: through a lane of its delay, an append and a
    /// pop, where a million answers due at one instant (queries sent
    /// together, an answer's delay has no jitter) would otherwise fill the
    /// heap. The checks count it as a packet all the same.
    DnsAnswer { query: QueryId, ctr: CtrId, attempt: u8 },
    /// ARP for an echo's destination failed: "Destination Host Unreachable".
    EchoUnreachable { ctr: CtrId, inc: u32, proc: u8, seq: u16, from: crate::net::addr::Ip },
    /// A program timer.
    ProgTimer { ctr: CtrId, inc: u32, proc: u8, token: u64 },
    /// A container's process finished initialising: the program starts.
    ProgramStart { ctr: CtrId, inc: u32 },
    /// A healthcheck probe is due.
    Probe { ctr: CtrId, inc: u32 },
    /// A healthcheck probe finished.
    ProbeDone { ctr: CtrId, inc: u32, started: Time, ok: bool },
    /// The restart manager's delay is over.
    Restart { ctr: CtrId, inc: u32 },
    /// The stop grace period is over: SIGKILL.
    KillAfterGrace { ctr: CtrId, inc: u32 },
    /// Compose may begin a service's wait: have its dependencies started?
    ComposePoll { ctr: CtrId },
    /// Compose checks the conditions a service waits for (every 500 ms).
    ComposeCheck { ctr: CtrId },
    /// `up --wait` checks the services (every 500 ms) until `deadline`.
    ComposeWait { deadline: Time },
    /// A fault's duration is over.
    Heal { heal: u32 },
    /// A scheduled action of the scenario (index into its action list).
    Action(u32),
}
