//! A request/response server: listens on a port (on all addresses or on
//! 127.0.0.1 only), answers every request after a service time.
//!
//! Options make it the middle tier or a fragile service:
//! - `backend`: every request is answered only after a request to a backend
//!   (an API querying its database over one kept-alive connection); with the
//!   backend unreachable it answers 503.
//! - `also`: other services it connects to at start and keeps a connection
//!   open to (a cache, a broker), retried as the backend is; requests do not
//!   use them.
//! - `listen: false`: it listens on nothing (a worker that only holds its
//!   connections).
//! - `needs`: it listens only once it could connect to another service (two
//!   services that each need the other deadlock at start-up).
//! - `warmup`: a database's init server on 127.0.0.1, then a gap, then the
//!   real server — so a localhost healthcheck passes before it is ready.
//! - `crash_after_requests`: it exits on the n-th request.
//! - `tls`: it answers a TLS ClientHello after this much handshake CPU.

use super::program::{Cmd, Ctx, Input, Msg, Op, Program, Report};
use crate::dist::Delay;
use crate::id::{ConnId, Sym};
use crate::net::addr::Ip;
use crate::time::Dur;
use slotmap::Key;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Warmup {
    pub bind: Ip,
    pub duration: Dur,
    /// Nothing listens between the warm-up server and the real one.
    pub gap: Dur,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub port: u16,
    pub bind: Ip,
    pub backlog: u32,
    pub service_time: Delay,
    pub status: u16,
    pub response_size: u32,
    pub warmup: Option<Warmup>,
    /// Exit with `crash_code` when this many requests have been received.
    pub crash_after_requests: Option<u32>,
    pub crash_code: i32,
    pub backend: Option<(Sym, u16)>,
    /// Retry policy of the backend connection (`None`: every second, forever);
    /// out of attempts, the process exits 1 (an unhandled connect error).
    pub backend_retry: Option<super::client::Retry>,
    /// Services connected at start and kept open, retried as the backend.
    pub also: Vec<(Sym, u16)>,
    /// `false`: no listening socket (a worker holding its connections).
    pub listen: bool,
    pub needs: Option<(Sym, u16)>,
    pub tls: Option<Dur>,
}

impl Config {
    pub fn on_port(port: u16) -> Config {
        Config {
            port,
            bind: Ip::UNSPECIFIED,
            backlog: 511,
            service_time: Delay::Fixed(Dur::millis(1)),
            status: 200,
            response_size: 512,
            warmup: None,
            crash_after_requests: None,
            crash_code: 1,
            backend: None,
            backend_retry: None,
            also: Vec::new(),
            listen: true,
            needs: None,
            tls: None,
        }
    }
}

const TOKEN_WARM_END: u64 = u64::MAX;
const TOKEN_REAL_START: u64 = u64::MAX - 1;
const TOKEN_NEEDS_RETRY: u64 = u64::MAX - 2;
const TOKEN_BACKEND_RETRY: u64 = u64::MAX - 3;
const TAG_NEEDS: u64 = 1;
const TAG_BACKEND: u64 = 2;
/// `also[i]`'s connect tag is `TAG_ALSO + i`, its retry token
/// `TOKEN_ALSO_RETRY - i` (never a request slot's key as a token: that would
/// need a slot index within `also.len()` of 2³² − 17).
const TAG_ALSO: u64 = 16;
const TOKEN_ALSO_RETRY: u64 = u64::MAX - 16;

pub struct Server {
    cfg: Config,
    received: u32,
    serving: bool,
    /// Requests being served; a slot's key (as u64) is its timer token.
    working: slotmap::SlotMap<slotmap::DefaultKey, (ConnId, Msg)>,
    backend: Option<ConnId>,
    /// Backend request id → the downstream request waiting for it.
    waiting: Waiting,
    next_backend_id: u32,
    backend_attempts: u32,
    /// `also`'s connections and failed attempts in a row, by index.
    also: Vec<(Option<ConnId>, u32)>,
}

impl Server {
    pub fn new(cfg: Config) -> Server {
        Server {
            also: vec![(None, 0); cfg.also.len()],
            cfg,
            received: 0,
            serving: false,
            working: slotmap::SlotMap::new(),
            backend: None,
            waiting: Waiting::default(),
            next_backend_id: 0,
            backend_attempts: 0,
        }
    }

    fn listen(&mut self, cx: &mut Ctx<'_>, bind: Ip) {
        cx.push(Cmd::Listen { bind, port: self.cfg.port, backlog: self.cfg.backlog });
    }

    fn begin(&mut self, cx: &mut Ctx<'_>) {
        if let Some((host, port)) = self.cfg.backend {
            cx.push(Cmd::Connect { host, port, timeout: Some(Dur::secs(5)), tag: TAG_BACKEND });
        }
        for i in 0..self.cfg.also.len() {
            self.connect_also(cx, i);
        }
        match self.cfg.warmup {
            _ if !self.cfg.listen => self.serving = true,
            Some(w) => {
                self.listen(cx, w.bind);
                cx.timer(w.duration, TOKEN_WARM_END);
            }
            None => {
                self.serving = true;
                self.listen(cx, self.cfg.bind);
            }
        }
    }

    fn connect_also(&self, cx: &mut Ctx<'_>, i: usize) {
        let (host, port) = self.cfg.also[i];
        cx.push(Cmd::Connect { host, port, timeout: Some(Dur::secs(5)), tag: TAG_ALSO + i as u64 });
    }

    /// `also[i]`'s index from a connect tag's offset past `TAG_ALSO` or a
    /// retry token's below `TOKEN_ALSO_RETRY`.
    fn also_at(&self, offset: Option<u64>) -> Option<usize> {
        let i = usize::try_from(offset?).ok()?;
        (i < self.also.len()).then_some(i)
    }

    /// What happens to the `also` connections: was `input` one of theirs?
    fn also_input(&mut self, cx: &mut Ctx<'_>, input: &Input) -> bool {
        match *input {
            Input::Connected { tag, conn } => match self.also_at(tag.checked_sub(TAG_ALSO)) {
                Some(i) => self.also[i] = (Some(conn), 0),
                None => return false,
            },
            Input::ConnectFailed { tag, .. } => match self.also_at(tag.checked_sub(TAG_ALSO)) {
                Some(i) => self.connect_failed(cx, Some(i)),
                None => return false,
            },
            Input::Closed { conn, .. } | Input::Received { conn, .. } => {
                match self.also.iter().position(|a| a.0 == Some(conn)) {
                    Some(i) if matches!(input, Input::Closed { .. }) => {
                        self.also[i].0 = None;
                        cx.timer(Dur::secs(1), TOKEN_ALSO_RETRY - i as u64);
                    }
                    Some(_) => {}
                    None => return false,
                }
            }
            _ => return false,
        }
        true
    }

    fn connect_needs(&self, cx: &mut Ctx<'_>) {
        if let Some((host, port)) = self.cfg.needs {
            cx.push(Cmd::Connect { host, port, timeout: Some(Dur::secs(5)), tag: TAG_NEEDS });
        }
    }

    fn respond(&self, cx: &mut Ctx<'_>, conn: ConnId, req: Msg, status: u16) {
        let Msg::Request { id, sent_at, .. } = req else { return };
        let size = self.cfg.response_size;
        cx.send(conn, Msg::Response { id, status, value: None, size, sent_at });
        cx.report(Report::Served { status });
    }

    fn on_request(&mut self, cx: &mut Ctx<'_>, conn: ConnId, msg: Msg) {
        if let Msg::Request { op: Op::TlsHello, id, sent_at, .. } = msg {
            let key = self.working.insert((conn, Msg::Request { id, op: Op::TlsHello, size: 0, sent_at }));
            let token = key.data().as_ffi();
            return cx.timer(self.cfg.tls.unwrap_or(Dur::ZERO), token);
        }
        self.received += 1;
        if self.cfg.crash_after_requests.is_some_and(|n| self.received >= n) {
            cx.push(Cmd::Exit { code: self.cfg.crash_code });
            return;
        }
        if self.cfg.backend.is_some() {
            return self.call_backend(cx, conn, msg);
        }
        let token = self.working.insert((conn, msg)).data().as_ffi();
        let d = self.cfg.service_time.sample(cx.rng);
        cx.timer(d, token);
    }

    fn call_backend(&mut self, cx: &mut Ctx<'_>, conn: ConnId, msg: Msg) {
        let Some(b) = self.backend else {
            return self.respond(cx, conn, msg, 503);
        };
        let id = self.next_backend_id;
        self.next_backend_id += 1;
        self.waiting.insert(id, (conn, msg));
        cx.send(b, Msg::Request { id, op: Op::Get, size: 128, sent_at: cx.now });
    }

    /// A connect to the backend (`None`) or to `also[i]` failed: retry by
    /// the backend's policy, or exit 1 out of attempts.
    fn connect_failed(&mut self, cx: &mut Ctx<'_>, which: Option<usize>) {
        let (attempts, token) = match which {
            None => (&mut self.backend_attempts, TOKEN_BACKEND_RETRY),
            Some(i) => (&mut self.also[i].1, TOKEN_ALSO_RETRY - i as u64),
        };
        *attempts += 1;
        let attempts = *attempts;
        let Some(r) = self.cfg.backend_retry else { return cx.timer(Dur::secs(1), token) };
        if r.attempts() != 0 && attempts >= r.attempts() {
            cx.report(Report::GaveUp { attempts });
            return cx.push(Cmd::Exit { code: 1 });
        }
        let unit = cx.rng.unit();
        let delay = r.delay(attempts, unit);
        cx.report(Report::RetryScheduled { attempt: attempts + 1, delay });
        cx.timer(delay, token);
    }

    fn on_timer(&mut self, cx: &mut Ctx<'_>, token: u64) {
        match token {
            TOKEN_WARM_END => {
                cx.push(Cmd::Unlisten { port: self.cfg.port });
                cx.timer(self.cfg.warmup.map_or(Dur::ZERO, |w| w.gap), TOKEN_REAL_START);
            }
            TOKEN_REAL_START => {
                self.serving = true;
                self.listen(cx, self.cfg.bind);
            }
            TOKEN_NEEDS_RETRY => self.connect_needs(cx),
            TOKEN_BACKEND_RETRY => {
                if let Some((host, port)) = self.cfg.backend {
                    cx.push(Cmd::Connect { host, port, timeout: Some(Dur::secs(5)), tag: TAG_BACKEND });
                }
            }
            // A request's service time (the common case: looked up first),
            // or an `also` retry (no request slot has such a key).
            t => {
                let key = slotmap::KeyData::from_ffi(t).into();
                if let Some((conn, msg)) = self.working.remove(key) {
                    let status =
                        if matches!(msg, Msg::Request { op: Op::TlsHello, .. }) { 200 } else { self.cfg.status };
                    self.respond(cx, conn, msg, status);
                } else if let Some(i) = self.also_at(TOKEN_ALSO_RETRY.checked_sub(t)) {
                    self.connect_also(cx, i);
                }
            }
        }
    }
}

/// Downstream requests waiting for a backend answer, by backend request
/// id. Ids are handed out in increasing order, so this is a queue of slots
/// from the oldest id still waiting: an insert appends, an answer empties
/// its slot, emptied slots leave from the front. (A `BTreeMap` allocated
/// and freed a node whenever it went from empty to one entry and back:
/// once per request on a lightly loaded middle tier.)
#[derive(Default)]
struct Waiting {
    /// The id of `slots[0]`.
    first: u32,
    slots: std::collections::VecDeque<Option<(ConnId, Msg)>>,
}

impl Waiting {
    /// Adds the request waiting for backend id `id`, the next one handed out.
    fn insert(&mut self, id: u32, v: (ConnId, Msg)) {
        if self.slots.is_empty() {
            self.first = id;
        }
        debug_assert_eq!(id, self.first + self.slots.len() as u32, "ids are handed out in order");
        self.slots.push_back(Some(v));
    }

    fn remove(&mut self, id: u32) -> Option<(ConnId, Msg)> {
        let i = id.checked_sub(self.first)? as usize;
        let v = self.slots.get_mut(i)?.take();
        self.trim();
        v
    }

    fn retain(&mut self, keep: impl Fn(&(ConnId, Msg)) -> bool) {
        for s in &mut self.slots {
            if s.as_ref().is_some_and(|v| !keep(v)) {
                *s = None;
            }
        }
        self.trim();
    }

    /// The waiting requests in id order.
    fn into_values(self) -> impl Iterator<Item = (ConnId, Msg)> {
        self.slots.into_iter().flatten()
    }

    fn trim(&mut self) {
        while self.slots.front().is_some_and(Option::is_none) {
            self.slots.pop_front();
            self.first += 1;
        }
    }
}

impl Program for Server {
    fn handle(&mut self, cx: &mut Ctx<'_>, input: Input) {
        if !self.also.is_empty() && self.also_input(cx, &input) {
            return;
        }
        match input {
            Input::Start if self.cfg.needs.is_some() => self.connect_needs(cx),
            Input::Start => self.begin(cx),
            Input::Connected { tag: TAG_NEEDS, conn } => {
                cx.push(Cmd::Close { conn });
                self.begin(cx);
            }
            Input::ConnectFailed { tag: TAG_NEEDS, .. } => {
                cx.report(Report::RetryScheduled { attempt: 0, delay: Dur::secs(1) });
                cx.timer(Dur::secs(1), TOKEN_NEEDS_RETRY);
            }
            Input::Connected { tag: TAG_BACKEND, conn } => {
                self.backend = Some(conn);
                self.backend_attempts = 0;
            }
            Input::ConnectFailed { tag: TAG_BACKEND, .. } => self.connect_failed(cx, None),

            Input::Received { conn, msg: Msg::Response { id, status, .. } } if Some(conn) == self.backend => {
                if let Some((down, req)) = self.waiting.remove(id) {
                    self.respond(cx, down, req, if status < 500 { self.cfg.status } else { 502 });
                }
            }
            Input::Received { conn, msg: msg @ Msg::Request { .. } } => self.on_request(cx, conn, msg),
            Input::Timer(token) => self.on_timer(cx, token),
            Input::Closed { conn, .. } if Some(conn) == self.backend => {
                self.backend = None;
                let waiting = std::mem::take(&mut self.waiting);
                for (down, req) in waiting.into_values() {
                    self.respond(cx, down, req, 503);
                }
                cx.timer(Dur::secs(1), TOKEN_BACKEND_RETRY);
            }
            Input::Closed { conn, .. } => {
                self.working.retain(|_, (c, _)| *c != conn);
                self.waiting.retain(|(c, _)| *c != conn);
            }
            _ => {}
        }
    }

    fn ready(&self) -> bool {
        self.serving
    }

    fn http_ok(&self, port: u16) -> bool {
        self.cfg.listen && port == self.cfg.port && self.cfg.status < 400
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Time;

    /// `Waiting` against the `BTreeMap` it replaced, through random
    /// inserts (in id order, as handed out), answers (in and out of order,
    /// repeated, unknown), retains and takes.
    #[test]
    fn waiting_behaves_as_an_ordered_map() {
        use std::collections::BTreeMap;
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let conns: Vec<ConnId> = {
            let mut m: slotmap::SlotMap<ConnId, ()> = slotmap::SlotMap::with_key();
            (0..3).map(|_| m.insert(())).collect()
        };
        let msg = |id| Msg::Request { id, op: Op::Get, size: 1, sent_at: crate::time::Time::ZERO };
        let (mut w, mut m) = (Waiting::default(), BTreeMap::new());
        let mut id = 0u32;
        for _ in 0..20_000 {
            match next() % 10 {
                0..=3 => {
                    let v = (conns[(next() % 3) as usize], msg(id));
                    w.insert(id, v);
                    m.insert(id, v);
                    id += 1;
                }
                4..=7 => {
                    let k = id.saturating_sub((next() % 8) as u32);
                    assert_eq!(w.remove(k), m.remove(&k), "remove {k}");
                }
                8 => {
                    let c = conns[(next() % 3) as usize];
                    w.retain(|(x, _)| *x != c);
                    m.retain(|_, (x, _)| *x != c);
                }
                _ => {
                    if next() % 20 == 0 {
                        let all: Vec<_> = std::mem::take(&mut w).into_values().collect();
                        assert!(all.into_iter().eq(std::mem::take(&mut m).into_values()));
                    }
                }
            }
            assert!(w.slots.iter().flatten().eq(m.values()), "same contents in id order");
            assert!(w.slots.front().is_none_or(Option::is_some), "emptied slots leave from the front");
        }
    }

    fn step(s: &mut Server, input: Input) -> Vec<Cmd> {
        crate::container::program::step(s, Time::ZERO, input)
    }

    fn cfg() -> Config {
        Config { service_time: Delay::Fixed(Dur::millis(2)), response_size: 100, ..Config::on_port(5432) }
    }

    #[test]
    fn warmup_listens_on_localhost_then_gap_then_everywhere() {
        let w = Warmup { bind: Ip::LOCALHOST, duration: Dur::secs(3), gap: Dur::millis(500) };
        let mut s = Server::new(Config { warmup: Some(w), ..cfg() });
        let c = step(&mut s, Input::Start);
        assert_eq!(c[0], Cmd::Listen { bind: Ip::LOCALHOST, port: 5432, backlog: 511 });
        assert!(!s.ready());
        let c = step(&mut s, Input::Timer(TOKEN_WARM_END));
        assert_eq!(c, [Cmd::Unlisten { port: 5432 }, Cmd::Timer { after: Dur::millis(500), token: TOKEN_REAL_START }]);
        let c = step(&mut s, Input::Timer(TOKEN_REAL_START));
        assert_eq!(c, [Cmd::Listen { bind: Ip::UNSPECIFIED, port: 5432, backlog: 511 }]);
        assert!(s.ready());
    }

    #[test]
    fn answers_after_service_time_and_crashes_on_the_nth_request() {
        let mut s = Server::new(Config { crash_after_requests: Some(2), crash_code: 139, ..cfg() });
        step(&mut s, Input::Start);
        let conn = ConnId::default();
        let req = |id| Input::Received { conn, msg: Msg::get(id, 10, Time::ZERO) };
        let c = step(&mut s, req(0));
        let [Cmd::Timer { after, token }] = c[..] else { panic!("one timer expected, got {c:?}") };
        assert_eq!(after, Dur::millis(2));
        let c = step(&mut s, Input::Timer(token));
        assert!(matches!(c[0], Cmd::Send { msg: Msg::Response { id: 0, status: 200, .. }, .. }));
        assert_eq!(step(&mut s, req(1)), [Cmd::Exit { code: 139 }]);
    }

    #[test]
    fn without_its_backend_it_answers_503() {
        let mut s = Server::new(Config { backend: Some((Sym(0), 5432)), ..cfg() });
        step(&mut s, Input::Start);
        let conn = ConnId::default();
        let c = step(&mut s, Input::Received { conn, msg: Msg::get(7, 10, Time::ZERO) });
        assert!(matches!(c[0], Cmd::Send { msg: Msg::Response { id: 7, status: 503, .. }, .. }), "{c:?}");
    }

    /// `also`: each service is connected at start, retried by the backend's
    /// policy (out of attempts: exit 1), reconnected a second after a close;
    /// requests still go to the backend alone.
    #[test]
    fn it_holds_a_connection_to_every_other_service_it_uses() {
        use crate::container::client::Retry;
        use crate::proto::errno::Errno;
        let (db, cache, broker) = ((Sym(0), 5432), (Sym(1), 6379), (Sym(2), 5672));
        let retry = Some(Retry::Fixed { delay: Dur::secs(2), attempts: 2 });
        let mut s = Server::new(Config { backend: Some(db), backend_retry: retry, also: vec![cache, broker], ..cfg() });
        let c = step(&mut s, Input::Start);
        let connects: Vec<(Sym, u16, u64)> = c
            .iter()
            .filter_map(|x| match *x {
                Cmd::Connect { host, port, tag, .. } => Some((host, port, tag)),
                _ => None,
            })
            .collect();
        assert_eq!(
            connects,
            [(db.0, db.1, TAG_BACKEND), (cache.0, cache.1, TAG_ALSO), (broker.0, broker.1, TAG_ALSO + 1)]
        );
        let mut m = slotmap::SlotMap::<ConnId, ()>::with_key();
        let (down, to_db, to_cache) = (m.insert(()), m.insert(()), m.insert(()));
        step(&mut s, Input::Connected { tag: TAG_BACKEND, conn: to_db });
        step(&mut s, Input::Connected { tag: TAG_ALSO, conn: to_cache });
        let refused = Input::ConnectFailed { tag: TAG_ALSO + 1, errno: Errno::Econnrefused };
        let c = step(&mut s, refused.clone());
        assert!(c.contains(&Cmd::Timer { after: Dur::secs(2), token: TOKEN_ALSO_RETRY - 1 }), "{c:?}");
        let c = step(&mut s, Input::Timer(TOKEN_ALSO_RETRY - 1));
        assert!(matches!(c[..], [Cmd::Connect { tag, .. }] if tag == TAG_ALSO + 1), "{c:?}");
        assert!(step(&mut s, refused).contains(&Cmd::Exit { code: 1 }), "out of attempts");
        let c = step(&mut s, Input::Received { conn: down, msg: Msg::get(7, 10, Time::ZERO) });
        assert!(matches!(c[..], [Cmd::Send { conn, .. }] if conn == to_db), "requests use the backend: {c:?}");
        let c = step(&mut s, Input::Closed { conn: to_cache, errno: None });
        assert_eq!(c, [Cmd::Timer { after: Dur::secs(1), token: TOKEN_ALSO_RETRY }]);
        let c = step(&mut s, Input::Timer(TOKEN_ALSO_RETRY));
        assert!(matches!(c[..], [Cmd::Connect { tag: TAG_ALSO, .. }]), "{c:?}");
    }

    /// `listen: false`: no socket, ready at once, and no HTTP answer.
    #[test]
    fn a_worker_listens_on_nothing() {
        let mut s = Server::new(Config { listen: false, backend: Some((Sym(0), 6379)), ..cfg() });
        let c = step(&mut s, Input::Start);
        assert!(matches!(c[..], [Cmd::Connect { tag: TAG_BACKEND, .. }]), "{c:?}");
        assert!(s.ready() && !s.http_ok(5432));
    }

    #[test]
    fn a_server_that_needs_another_listens_only_after_reaching_it() {
        let mut s = Server::new(Config { needs: Some((Sym(0), 80)), ..cfg() });
        let c = step(&mut s, Input::Start);
        assert!(matches!(c[0], Cmd::Connect { tag: TAG_NEEDS, .. }));
        let c = step(&mut s, Input::ConnectFailed { tag: TAG_NEEDS, errno: crate::proto::errno::Errno::Econnrefused });
        assert!(c.iter().all(|x| !matches!(x, Cmd::Listen { .. })));
        let c = step(&mut s, Input::Connected { tag: TAG_NEEDS, conn: ConnId::default() });
        assert!(c.iter().any(|x| matches!(x, Cmd::Listen { .. })));
    }
}
