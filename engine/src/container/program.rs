//! The sans-IO interface between the simulation and a program in a container.
//!
//! The loop hands a program one [`Input`] at a time with a [`Ctx`]; the
//! program answers by queuing [`Cmd`]s (listen, connect, send, close, set a
//! timer, resolve, ping, send a datagram, exit). It never sees packets, the
//! queue or other containers: it sees what a real process sees through its
//! sockets — connects that succeed or fail with an errno, messages, closes,
//! lookups. Programs written in Rust implement [`Program`] the same way as
//! the built-in ones.

use crate::id::{ConnId, Sym};
use crate::net::addr::{Ip, SockAddr};
use crate::proto::errno::Errno;
use crate::rng::Rng;
use crate::time::{Dur, Time};

/// What a request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// An HTTP-style GET (or any request/reply: a Redis GET, a gRPC call).
    Get,
    /// Queue: push a task (LPUSH).
    Push(u32),
    /// Queue: blocking pop (BRPOP), or pop-and-move to the processing list (BLMOVE).
    Pop { reliable: bool },
    /// Queue: acknowledge a task taken with a reliable pop (LREM from processing).
    Ack(u32),
    /// TLS ClientHello: the server answers once its handshake is done.
    TlsHello,
}

/// An application message on a TCP connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Msg {
    Request { id: u32, op: Op, size: u32, sent_at: Time },
    Response { id: u32, status: u16, value: Option<u32>, size: u32, sent_at: Time },
}

impl Msg {
    pub fn size(&self) -> u32 {
        match *self {
            Msg::Request { size, .. } | Msg::Response { size, .. } => size,
        }
    }
    /// A plain GET of `size` bytes.
    pub fn get(id: u32, size: u32, sent_at: Time) -> Msg {
        Msg::Request { id, op: Op::Get, size, sent_at }
    }
}

/// What happens to a program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// The process has initialised (after the container's start-up delay).
    Start,
    Timer(u64),
    Connected {
        tag: u64,
        conn: ConnId,
    },
    ConnectFailed {
        tag: u64,
        errno: Errno,
    },
    Accepted {
        conn: ConnId,
    },
    Received {
        conn: ConnId,
        msg: Msg,
    },
    /// The connection ended: `None` for an orderly FIN, an errno for RST.
    Closed {
        conn: ConnId,
        errno: Option<Errno>,
    },
    /// A name lookup finished (getaddrinfo).
    Resolved {
        tag: u64,
        result: crate::proto::dns::Lookup,
    },
    /// ICMP echo reply.
    Pong {
        seq: u16,
        from: Ip,
    },
    /// ICMP destination unreachable (EHOSTUNREACH) or no route (ENETUNREACH) for an echo.
    PingFailed {
        seq: u16,
        errno: Errno,
        from: Ip,
    },
    /// A UDP datagram arrived on a bound port.
    Datagram {
        from: SockAddr,
        seq: u32,
    },
    /// ICMP port unreachable for an earlier datagram: the next send on a
    /// connected UDP socket reports ECONNREFUSED.
    UdpRefused {
        to: SockAddr,
    },
}

/// The state of a queue task, as the trace reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TaskState {
    Pushed,
    Taken,
    Done,
    Requeued,
}

impl TaskState {
    pub fn name(self) -> &'static str {
        match self {
            TaskState::Pushed => "pushed",
            TaskState::Taken => "taken",
            TaskState::Done => "done",
            TaskState::Requeued => "requeued",
        }
    }
}

/// The state of a circuit breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Breaker {
    Closed,
    Open,
    HalfOpen,
}

impl Breaker {
    pub fn name(self) -> &'static str {
        match self {
            Breaker::Closed => "closed",
            Breaker::Open => "open",
            Breaker::HalfOpen => "half-open",
        }
    }
}

/// Something a program reports for the trace, beyond what the loop sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Report {
    RetryScheduled {
        attempt: u32,
        delay: Dur,
    },
    GaveUp {
        attempts: u32,
    },
    RequestTimedOut {
        id: u32,
    },
    Task {
        id: u32,
        state: TaskState,
    },
    /// A proxy answered a downstream request with `status` (via `upstream`, if any).
    Proxied {
        status: u16,
        upstream: Option<SockAddr>,
        tries: u32,
    },
    /// A proxy marks a peer unavailable (`down`) or available again.
    Peer {
        addr: SockAddr,
        down: bool,
    },
    Breaker(Breaker),
    /// A line a tool prints (ping, nslookup, curl, nc).
    Output(String),
    /// A TLS handshake completed on a connection after this long.
    TlsDone {
        took: Dur,
    },
    /// A server answered a request.
    Served {
        status: u16,
    },
    /// A start-up gate opened (`ok`: a probe connected) or gave up,
    /// `after` its start.
    Waited {
        host: Sym,
        port: u16,
        ok: bool,
        after: Dur,
        kind: super::wait::GateKind,
    },
    /// The program behind start-up gates has initialised and starts.
    ProgramStarted,
    /// A UDP datagram was read.
    DatagramIn {
        from: SockAddr,
        seq: u32,
    },
}

/// What a program asks of its container's kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cmd {
    Listen {
        bind: Ip,
        port: u16,
        backlog: u32,
    },
    /// Close the listening socket on `port`.
    Unlisten {
        port: u16,
    },
    /// Resolve `host` (unless it is an IP literal) then connect to `port`.
    Connect {
        host: Sym,
        port: u16,
        timeout: Option<Dur>,
        tag: u64,
    },
    /// Connect to an address (no lookup).
    ConnectAddr {
        addr: SockAddr,
        timeout: Option<Dur>,
        tag: u64,
    },
    Send {
        conn: ConnId,
        msg: Msg,
    },
    Close {
        conn: ConnId,
    },
    Timer {
        after: Dur,
        token: u64,
    },
    Exit {
        code: i32,
    },
    Report(Report),
    /// getaddrinfo through the container's resolver and the program's cache.
    Resolve {
        host: Sym,
        tag: u64,
    },
    /// ICMP echo request.
    Ping {
        ip: Ip,
        seq: u16,
    },
    /// Bind a UDP port.
    UdpBind {
        port: u16,
    },
    /// Send a datagram.
    UdpSend {
        to: SockAddr,
        seq: u32,
        size: u32,
    },
}

/// The program's view of the world during one input.
pub struct Ctx<'a> {
    pub now: Time,
    pub rng: &'a mut Rng,
    cmds: &'a mut Vec<Cmd>,
}

impl<'a> Ctx<'a> {
    pub fn new(now: Time, rng: &'a mut Rng, cmds: &'a mut Vec<Cmd>) -> Ctx<'a> {
        Ctx { now, rng, cmds }
    }
    pub fn push(&mut self, c: Cmd) {
        self.cmds.push(c);
    }
    pub fn timer(&mut self, after: Dur, token: u64) {
        self.push(Cmd::Timer { after, token });
    }
    pub fn send(&mut self, conn: ConnId, msg: Msg) {
        self.push(Cmd::Send { conn, msg });
    }
    pub fn report(&mut self, r: Report) {
        self.push(Cmd::Report(r));
    }
    pub fn print(&mut self, line: impl Into<String>) {
        self.report(Report::Output(line.into()));
    }
}

/// A program running in a container.
pub trait Program {
    fn handle(&mut self, cx: &mut Ctx<'_>, input: Input);
    /// Whether the program counts as ready for a `Ready` healthcheck.
    fn ready(&self) -> bool {
        true
    }
    /// Whether an HTTP GET to `port` would get a 2xx/3xx (`curl -f`).
    fn http_ok(&self, _port: u16) -> bool {
        false
    }
    /// Whether the program itself has started (false while a
    /// start-up gate in front of it waits).
    fn started(&self) -> bool {
        true
    }
}

/// A process that does nothing (`sleep infinity`).
pub struct Idle;

impl Program for Idle {
    fn handle(&mut self, _: &mut Ctx<'_>, _: Input) {}
}

/// Test support: hands one input to a program at `now`, returns its commands.
#[cfg(test)]
pub fn step(p: &mut dyn Program, now: Time, input: Input) -> Vec<Cmd> {
    let mut rng = Rng::fork(0, "t");
    let mut cmds = vec![];
    p.handle(&mut Ctx::new(now, &mut rng, &mut cmds), input);
    cmds
}
