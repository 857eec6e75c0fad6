//! A client: connect (resolving the target by name), retry on failure under
//! a policy, then run a request loop over the connection.
//!
//! This is the seed's `connectWithRetry`: `Fixed { delay, attempts }` is the
//! classic loop, `Exponential` the one with doubling, cap and jitter. When
//! the attempts run out the process exits with `give_up_exit` (1 by default,
//! as an unhandled error in Node does). A connection lost while requests
//! remain starts the connect/retry cycle again.

use super::program::{Cmd, Ctx, Input, Msg, Op, Program, Report};
use crate::id::{ConnId, Sym};
use crate::time::{Dur, Time};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Retry {
    None,
    Fixed { delay: Dur, attempts: u32 },
    Exponential { first: Dur, factor: f64, max: Dur, attempts: u32, jitter: f64 },
}

impl Retry {
    /// Total attempts allowed (first included); 0 = unlimited.
    pub fn attempts(&self) -> u32 {
        match *self {
            Retry::None => 1,
            Retry::Fixed { attempts, .. } | Retry::Exponential { attempts, .. } => attempts,
        }
    }

    /// Delay after failed attempt number `n` (1-based). `unit` is a draw in [0,1).
    pub fn delay(&self, n: u32, unit: f64) -> Dur {
        match *self {
            Retry::None => Dur::ZERO,
            Retry::Fixed { delay, .. } => delay,
            Retry::Exponential { first, factor, max, jitter, .. } => {
                let base = first.as_secs_f64() * factor.powi(n.saturating_sub(1) as i32);
                let capped = base.min(max.as_secs_f64());
                let j = 1.0 + jitter * (2.0 * unit - 1.0);
                Dur((capped * j * 1e9).max(0.0) as u64)
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Requests {
    pub count: u32,
    pub interval: Dur,
    pub timeout: Option<Dur>,
    pub size: u32,
}

#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct Config {
    pub requests: Option<Requests>,
    /// Exit with this code once every request has been answered.
    pub exit_when_done: Option<i32>,
    /// TLS on the connection: a ClientHello round trip before any request.
    pub tls: bool,
    pub host: Sym,
    pub port: u16,
    pub connect_timeout: Option<Dur>,
    pub retry: Retry,
    pub give_up_exit: i32,
}

const TAG_CONNECT: u64 = 1;
const TOKEN_RETRY: u64 = 1;
const TOKEN_NEXT_REQUEST: u64 = 2;
const TOKEN_TIMEOUT_BASE: u64 = 1 << 32;

const TLS_ID: u32 = u32::MAX;

#[derive(Debug, PartialEq, Eq)]
enum State {
    Connecting,
    Handshake(ConnId, Time),
    Waiting,
    Open(ConnId),
    Done,
}

/// `repr(C)`, the request loop's state first and the configuration it reads
/// per request (`requests`) right after, so a request touches the first two
/// cache lines of the program's allocation; the rest of `cfg` is for
/// connecting.
#[repr(C)]
pub struct Client {
    state: State,
    /// Request ids are never reused, so a timer of an earlier connection
    /// cannot hit a request of a later one.
    next_id: u32,
    answered: u32,
    lost: u32,
    attempt: u32,
    /// Ids of requests sent and not yet answered (usually one or two: kept
    /// inline, no allocation or pointer per request).
    outstanding: smallvec::SmallVec<[u32; 4]>,
    cfg: Config,
}

impl Client {
    pub fn new(cfg: Config) -> Client {
        Client {
            cfg,
            state: State::Connecting,
            attempt: 0,
            next_id: 0,
            answered: 0,
            lost: 0,
            outstanding: smallvec::SmallVec::new(),
        }
    }

    fn connect(&mut self, cx: &mut Ctx<'_>) {
        self.attempt += 1;
        self.state = State::Connecting;
        let c = &self.cfg;
        cx.push(Cmd::Connect { host: c.host, port: c.port, timeout: c.connect_timeout, tag: TAG_CONNECT });
    }

    fn failed(&mut self, cx: &mut Ctx<'_>) {
        let max = self.cfg.retry.attempts();
        if max != 0 && self.attempt >= max {
            self.state = State::Done;
            cx.report(Report::GaveUp { attempts: self.attempt });
            cx.push(Cmd::Exit { code: self.cfg.give_up_exit });
            return;
        }
        let unit = cx.rng.unit();
        let delay = self.cfg.retry.delay(self.attempt, unit);
        cx.report(Report::RetryScheduled { attempt: self.attempt + 1, delay });
        self.state = State::Waiting;
        cx.timer(delay, TOKEN_RETRY);
    }

    /// Removes request `id` from the outstanding ones; was it there?
    fn take_outstanding(&mut self, id: u32) -> bool {
        let found = self.outstanding.iter().position(|&o| o == id);
        found.map(|i| self.outstanding.swap_remove(i)).is_some()
    }

    fn send_next(&mut self, cx: &mut Ctx<'_>, conn: ConnId) {
        let Some(r) = self.cfg.requests else { return };
        if self.answered + self.lost + self.outstanding.len() as u32 >= r.count {
            return;
        }
        let id = self.next_id;
        self.next_id += 1;
        self.outstanding.push(id);
        cx.send(conn, Msg::Request { id, op: Op::Get, size: r.size, sent_at: cx.now });
        if let Some(t) = r.timeout {
            cx.timer(t, TOKEN_TIMEOUT_BASE + u64::from(id));
        }
        if self.answered + self.lost + (self.outstanding.len() as u32) < r.count {
            cx.timer(r.interval, TOKEN_NEXT_REQUEST);
        }
    }

    fn opened(&mut self, cx: &mut Ctx<'_>, conn: ConnId) {
        self.state = State::Open(conn);
        self.attempt = 0;
        self.send_next(cx, conn);
        self.maybe_done(cx, conn);
    }

    fn finished(&self) -> bool {
        self.cfg.requests.is_some_and(|r| self.answered + self.lost >= r.count)
    }

    fn maybe_done(&mut self, cx: &mut Ctx<'_>, conn: ConnId) {
        if !self.finished() {
            return;
        }
        self.state = State::Done;
        cx.push(Cmd::Close { conn });
        if let Some(code) = self.cfg.exit_when_done {
            cx.push(Cmd::Exit { code });
        }
    }

    fn on_timer(&mut self, cx: &mut Ctx<'_>, token: u64) {
        match (token, &self.state) {
            (TOKEN_RETRY, State::Waiting) => self.connect(cx),
            (TOKEN_NEXT_REQUEST, State::Open(conn)) => {
                let conn = *conn;
                self.send_next(cx, conn);
            }
            (t, State::Open(conn)) if t >= TOKEN_TIMEOUT_BASE => {
                let conn = *conn;
                let id = (t - TOKEN_TIMEOUT_BASE) as u32;
                if self.take_outstanding(id) {
                    self.lost += 1;
                    cx.report(Report::RequestTimedOut { id });
                    self.maybe_done(cx, conn);
                }
            }
            _ => {}
        }
    }
}

impl Program for Client {
    fn handle(&mut self, cx: &mut Ctx<'_>, input: Input) {
        match input {
            Input::Start => self.connect(cx),
            Input::Timer(token) => self.on_timer(cx, token),
            Input::ConnectFailed { .. } if self.state == State::Connecting => self.failed(cx),
            Input::Connected { conn, .. } if self.cfg.tls => {
                self.state = State::Handshake(conn, cx.now);
                cx.send(conn, Msg::Request { id: TLS_ID, op: Op::TlsHello, size: 517, sent_at: cx.now });
            }
            Input::Connected { conn, .. } => self.opened(cx, conn),
            Input::Received { conn, msg: Msg::Response { id: TLS_ID, .. } } => {
                if let State::Handshake(c, since) = self.state {
                    if c == conn {
                        cx.report(Report::TlsDone { took: cx.now.since(since) });
                        self.opened(cx, conn);
                    }
                }
            }
            Input::Received { conn, msg: Msg::Response { id, .. } } => {
                if self.take_outstanding(id) {
                    self.answered += 1;
                }
                self.maybe_done(cx, conn);
            }
            Input::Closed { conn, .. } if matches!(self.state, State::Handshake(c, _) if c == conn) => self.failed(cx),
            Input::Closed { conn, .. } if self.state == State::Open(conn) => {
                self.outstanding.clear();
                if self.cfg.requests.is_some() && !self.finished() {
                    self.failed(cx);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_delays_double_and_cap() {
        let r = Retry::Exponential { first: Dur::secs(1), factor: 2.0, max: Dur::secs(5), attempts: 10, jitter: 0.0 };
        let d: Vec<u64> = (1..=5).map(|n| r.delay(n, 0.5).0 / 1_000_000_000).collect();
        assert_eq!(d, [1, 2, 4, 5, 5]);
    }

    #[test]
    fn jitter_stays_within_its_band() {
        let r = Retry::Exponential { first: Dur::secs(1), factor: 2.0, max: Dur::secs(60), attempts: 0, jitter: 0.25 };
        assert_eq!(r.delay(1, 0.0), Dur::millis(750));
        assert_eq!(r.delay(1, 0.5), Dur::secs(1));
        assert!(r.delay(1, 0.999_999) < Dur::millis(1250));
        assert_eq!(r.attempts(), 0);
    }
}
