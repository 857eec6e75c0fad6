//! The sans-IO interface between the simulation and a program in a container.
//!
//! The loop hands a program one [`Input`] at a time with a [`Ctx`]; the
//! program answers by queuing [`Cmd`]s (listen, connect, send, close, set a
//! timer, exit). It never sees packets, the queue or other containers: it
//! sees what a real process sees through its sockets — connects that succeed
//! or fail with an errno, messages, closes. Programs written in Rust
//! implement [`Program`] the same way as the built-in ones.

use crate::id::{ConnId, Sym};
use crate::net::addr::Ip;
use crate::proto::errno::Errno;
use crate::rng::Rng;
use crate::time::{Dur, Time};

/// An application message on a TCP connection (HTTP-ish request/response).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Msg {
    Request { id: u32, size: u32, sent_at: Time },
    Response { id: u32, status: u16, size: u32, sent_at: Time },
}

impl Msg {
    pub fn size(&self) -> u32 {
        match *self {
            Msg::Request { size, .. } | Msg::Response { size, .. } => size,
        }
    }
}

/// What happens to a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
}

/// Something a program reports for the trace, beyond what the loop sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Report {
    RetryScheduled { attempt: u32, delay: Dur },
    GaveUp { attempts: u32 },
    RequestTimedOut { id: u32 },
}

/// What a program asks of its container's kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
}

/// A process that does nothing (`sleep infinity`).
pub struct Idle;

impl Program for Idle {
    fn handle(&mut self, _: &mut Ctx<'_>, _: Input) {}
}
