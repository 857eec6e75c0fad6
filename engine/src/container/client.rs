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
    /// The TLS hello is on its way (sent at `Client::tls_since`).
    Handshake(ConnId),
    Waiting,
    Open(ConnId),
    Done,
}

/// `repr(C, align(64))`: everything a request reads or writes — the
/// state, the counters, the outstanding ids and a copy of the request
/// loop's settings — is the program's first cache line (one line per
/// input of the request loop; a unit test checks the offsets; as a main
/// program it is the container's second line); what connecting and
/// retrying read comes after.
#[repr(C, align(64))]
pub struct Client {
    /// Ids of requests sent and not yet answered (usually one or two: kept
    /// inline, no allocation or pointer per request).
    outstanding: smallvec::SmallVec<[u32; 4]>,
    /// The request loop's interval, count and size (the count 0 without a
    /// request loop, which `looping` tells apart from a loop of none).
    interval: Dur,
    state: State,
    /// Request ids are never reused, so a timer of an earlier connection
    /// cannot hit a request of a later one.
    next_id: u32,
    /// Requests answered or timed out.
    settled: u32,
    count: u32,
    size: u32,
    looping: bool,
    /// The request loop has a timeout (`rest.timeout`).
    timed: bool,
    // Not per request:
    tls_since: Time,
    attempt: u32,
    rest: Rest,
}

/// The configuration connecting, retrying and timeouts read: `Config`
/// without the request loop's settings, which `Client` keeps in its first
/// line (the whole `Client` then stays within three lines).
struct Rest {
    timeout: Option<Dur>,
    exit_when_done: Option<i32>,
    tls: bool,
    host: Sym,
    port: u16,
    connect_timeout: Option<Dur>,
    retry: Retry,
    give_up_exit: i32,
}

impl Client {
    pub fn new(cfg: Config) -> Client {
        let Config { requests: r, exit_when_done, tls, host, port, connect_timeout, retry, give_up_exit } = cfg;
        Client {
            outstanding: smallvec::SmallVec::new(),
            interval: r.map_or(Dur::ZERO, |r| r.interval),
            state: State::Connecting,
            next_id: 0,
            settled: 0,
            count: r.map_or(0, |r| r.count),
            size: r.map_or(0, |r| r.size),
            looping: r.is_some(),
            timed: r.is_some_and(|r| r.timeout.is_some()),
            tls_since: Time::ZERO,
            attempt: 0,
            rest: Rest {
                timeout: r.and_then(|r| r.timeout),
                exit_when_done,
                tls,
                host,
                port,
                connect_timeout,
                retry,
                give_up_exit,
            },
        }
    }

    fn connect(&mut self, cx: &mut Ctx<'_>) {
        self.attempt += 1;
        self.state = State::Connecting;
        let c = &self.rest;
        cx.push(Cmd::Connect { host: c.host, port: c.port, timeout: c.connect_timeout, tag: TAG_CONNECT });
    }

    fn failed(&mut self, cx: &mut Ctx<'_>) {
        let max = self.rest.retry.attempts();
        if max != 0 && self.attempt >= max {
            self.state = State::Done;
            cx.report(Report::GaveUp { attempts: self.attempt });
            cx.push(Cmd::Exit { code: self.rest.give_up_exit });
            return;
        }
        let unit = cx.rng.unit();
        let delay = self.rest.retry.delay(self.attempt, unit);
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
        if !self.looping || self.settled + self.outstanding.len() as u32 >= self.count {
            return;
        }
        let id = self.next_id;
        self.next_id += 1;
        self.outstanding.push(id);
        cx.send(conn, Msg::Request { id, op: Op::Get, size: self.size, sent_at: cx.now });
        if self.timed {
            if let Some(t) = self.rest.timeout {
                cx.timer(t, TOKEN_TIMEOUT_BASE + u64::from(id));
            }
        }
        if self.settled + (self.outstanding.len() as u32) < self.count {
            cx.timer(self.interval, TOKEN_NEXT_REQUEST);
        }
    }

    fn opened(&mut self, cx: &mut Ctx<'_>, conn: ConnId) {
        self.state = State::Open(conn);
        self.attempt = 0;
        self.send_next(cx, conn);
        self.maybe_done(cx, conn);
    }

    fn finished(&self) -> bool {
        self.looping && self.settled >= self.count
    }

    fn maybe_done(&mut self, cx: &mut Ctx<'_>, conn: ConnId) {
        if !self.finished() {
            return;
        }
        self.state = State::Done;
        cx.push(Cmd::Close { conn });
        if let Some(code) = self.rest.exit_when_done {
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
                    self.settled += 1;
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
            Input::Connected { conn, .. } if self.rest.tls => {
                self.state = State::Handshake(conn);
                self.tls_since = cx.now;
                cx.send(conn, Msg::Request { id: TLS_ID, op: Op::TlsHello, size: 517, sent_at: cx.now });
            }
            Input::Connected { conn, .. } => self.opened(cx, conn),
            Input::Received { conn, msg: Msg::Response { id: TLS_ID, .. } } => {
                // Not in the TLS handshake on this connection: ignored.
                if self.state != State::Handshake(conn) {
                    return;
                }
                cx.report(Report::TlsDone { took: cx.now.since(self.tls_since) });
                self.opened(cx, conn);
            }
            Input::Received { conn, msg: Msg::Response { id, .. } } => {
                if self.take_outstanding(id) {
                    self.settled += 1;
                }
                self.maybe_done(cx, conn);
            }
            Input::Closed { conn, .. } if self.state == State::Handshake(conn) => self.failed(cx),
            Input::Closed { conn, .. } if self.state == State::Open(conn) => {
                self.outstanding.clear();
                if self.looping && !self.finished() {
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

    /// What a request touches ends within the allocation's first line.
    #[test]
    fn request_state_is_one_cache_line() {
        use std::mem::{align_of, offset_of, size_of};
        assert_eq!(align_of::<Client>(), 64);
        let ends = [
            offset_of!(Client, outstanding) + size_of::<smallvec::SmallVec<[u32; 4]>>(),
            offset_of!(Client, interval) + size_of::<Dur>(),
            offset_of!(Client, state) + size_of::<State>(),
            offset_of!(Client, next_id) + 4,
            offset_of!(Client, settled) + 4,
            offset_of!(Client, count) + 4,
            offset_of!(Client, size) + 4,
            offset_of!(Client, looping) + 1,
            offset_of!(Client, timed) + 1,
        ];
        assert!(ends.iter().all(|&e| e <= 64), "request fields end at {ends:?}");
        assert!(size_of::<Client>() <= 192, "Client is {} bytes", size_of::<Client>());
    }
}
