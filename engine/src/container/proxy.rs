//! A reverse proxy / load balancer with nginx upstream semantics
//! (docker-facts §7.5, §10.1), which with a circuit breaker, a retry budget
//! and an mTLS cost is also the service-mesh sidecar.
//!
//! - Upstream names are resolved at start (nginx resolves at config load):
//!   a name that does not resolve stops it from starting ("host not found in
//!   upstream"); every A record becomes a server. With `resolve_every` the
//!   names are resolved again (nginx `resolver ... valid=`).
//! - Smooth weighted round-robin over live servers. A server that fails
//!   `max_fails` times (connect error or timeout) is left out for
//!   `fail_timeout`, then tried again; a lone server is never marked down.
//! - `proxy_next_upstream error timeout`: a failed try moves to the next
//!   server, up to `tries` (0 = every server). Final connect error: 502;
//!   final timeout: 504; no live server: 502 "no live upstreams".
//! - HTTP mode opens one upstream connection per request; TCP (L4) mode pins
//!   each downstream connection to one upstream connection and relays every
//!   message — which is why gRPC behind it is not balanced per request.

use super::program::{Breaker, Cmd, Ctx, Input, Msg, Op, Program, Report};
use crate::id::{ConnId, Sym};
use crate::net::addr::{Ip, SockAddr};
use crate::time::{Dur, Time};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Http,
    Tcp,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BreakerCfg {
    /// Consecutive failures that open the circuit.
    pub failures: u32,
    /// How long it stays open before letting a trial request through.
    pub open_for: Dur,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub port: u16,
    pub mode: Mode,
    /// (name or IP, port, weight)
    pub upstreams: Vec<(Sym, u16, u32)>,
    /// The upstream names as written, for nginx's messages.
    pub upstream_names: Vec<String>,
    pub resolve_every: Option<Dur>,
    pub max_fails: u32,
    pub fail_timeout: Dur,
    pub connect_timeout: Dur,
    pub read_timeout: Dur,
    /// Tries per request (0 = every server): `proxy_next_upstream_tries`.
    pub tries: u32,
    /// Envoy-style retries may pick a server already tried for this request
    /// (nginx never does: with one server there is no retry).
    pub reuse_servers: bool,
    pub next_upstream: bool,
    pub breaker: Option<BreakerCfg>,
    /// Retries allowed as a fraction of requests (Envoy's retry budget), plus 3.
    pub retry_budget: Option<f64>,
    /// Extra time an upstream connection needs before use (mTLS handshake).
    pub upstream_tls: Dur,
}

impl Config {
    /// nginx defaults for one upstream block.
    pub fn nginx(port: u16, upstreams: Vec<(Sym, u16, u32)>) -> Config {
        Config {
            port,
            mode: Mode::Http,
            upstream_names: upstreams.iter().map(|(s, _, _)| format!("#{}", s.0)).collect(),
            upstreams,
            resolve_every: None,
            max_fails: 1,
            fail_timeout: Dur::secs(10),
            connect_timeout: Dur::secs(60),
            read_timeout: Dur::secs(60),
            tries: 0,
            reuse_servers: false,
            next_upstream: true,
            breaker: None,
            retry_budget: None,
            upstream_tls: Dur::ZERO,
        }
    }
}

#[derive(Clone, Debug)]
struct Peer {
    addr: SockAddr,
    weight: i64,
    current: i64,
    fails: u32,
    down_until: Option<Time>,
}

/// One downstream request being proxied (HTTP mode) or one pinned downstream
/// connection (TCP mode).
#[derive(Clone, Debug)]
struct Job {
    down: ConnId,
    down_id: u32,
    sent_at: Time,
    op: Op,
    size: u32,
    tried: Vec<usize>,
    peer: usize,
    up: Option<ConnId>,
    /// The last failure was a timeout (→ 504) rather than an error (→ 502).
    timed_out: bool,
    /// TCP mode: messages that arrived before the upstream connection was up.
    pending: Vec<Msg>,
}

const TAG_RESOLVE: u64 = 1 << 62;
const TOKEN_READ: u64 = 1 << 61;
const TOKEN_TLS: u64 = 1 << 60;
const TOKEN_RESOLVE_AGAIN: u64 = 1 << 59;
const TOKEN_CLOSE_BREAKER: u64 = 1 << 58;

pub struct Proxy {
    cfg: Config,
    peers: Vec<Peer>,
    pending_names: usize,
    resolved: Vec<(usize, crate::proto::dns::Ips)>,
    listening: bool,
    next_job: u64,
    jobs: BTreeMap<u64, Job>,
    by_up: BTreeMap<ConnId, u64>,
    /// TCP mode: downstream connection → its job.
    by_down: BTreeMap<ConnId, u64>,
    breaker: Breaker,
    consecutive_failures: u32,
    requests: u64,
    retries: u64,
}

impl Proxy {
    pub fn new(cfg: Config) -> Proxy {
        Proxy {
            cfg,
            peers: vec![],
            pending_names: 0,
            resolved: vec![],
            listening: false,
            next_job: 0,
            jobs: BTreeMap::new(),
            by_up: BTreeMap::new(),
            by_down: BTreeMap::new(),
            breaker: Breaker::Closed,
            consecutive_failures: 0,
            requests: 0,
            retries: 0,
        }
    }

    fn resolve_all(&mut self, cx: &mut Ctx<'_>) {
        self.pending_names = self.cfg.upstreams.len();
        self.resolved.clear();
        for (i, (host, _, _)) in self.cfg.upstreams.iter().enumerate() {
            cx.push(Cmd::Resolve { host: *host, tag: TAG_RESOLVE + i as u64 });
        }
    }

    fn on_resolved(&mut self, cx: &mut Ctx<'_>, i: usize, result: crate::proto::dns::Lookup) {
        match result {
            Ok(ips) => self.resolved.push((i, ips)),
            Err(_) if !self.listening => {
                let (_, port, _) = self.cfg.upstreams[i];
                let name = self.cfg.upstream_names.get(i).cloned().unwrap_or_default();
                cx.print(format!("nginx: [emerg] host not found in upstream \"{name}:{port}\""));
                cx.push(Cmd::Exit { code: 1 });
                return;
            }
            Err(_) => {}
        }
        self.pending_names -= 1;
        if self.pending_names > 0 {
            return;
        }
        self.rebuild_peers();
        if !self.listening {
            self.listening = true;
            cx.push(Cmd::Listen { bind: Ip::UNSPECIFIED, port: self.cfg.port, backlog: 511 });
        }
        if let Some(d) = self.cfg.resolve_every {
            cx.timer(d, TOKEN_RESOLVE_AGAIN);
        }
    }

    /// New server list from the answers, keeping the state of servers that stay.
    fn rebuild_peers(&mut self) {
        self.resolved.sort_by_key(|(i, _)| *i);
        let mut peers = Vec::new();
        for (i, ips) in &self.resolved {
            let (_, port, weight) = self.cfg.upstreams[*i];
            for ip in ips {
                let addr = SockAddr::new(*ip, port);
                let old = self.peers.iter().find(|p| p.addr == addr).cloned();
                peers.push(old.unwrap_or(Peer {
                    addr,
                    weight: i64::from(weight.max(1)),
                    current: 0,
                    fails: 0,
                    down_until: None,
                }));
            }
        }
        self.peers = peers;
    }

    fn available(&self, i: usize, now: Time) -> bool {
        self.peers.len() == 1 || self.peers[i].down_until.is_none_or(|t| now >= t)
    }

    /// nginx's smooth weighted round-robin over available servers not yet tried.
    fn pick(&mut self, now: Time, tried: &[usize]) -> Option<usize> {
        let mut cand: Vec<usize> =
            (0..self.peers.len()).filter(|&i| !tried.contains(&i) && self.available(i, now)).collect();
        if cand.is_empty() && self.cfg.reuse_servers {
            cand = (0..self.peers.len()).filter(|&i| self.available(i, now)).collect();
        }
        if cand.is_empty() {
            return None;
        }
        let total: i64 = cand.iter().map(|&i| self.peers[i].weight).sum();
        for &i in &cand {
            self.peers[i].current += self.peers[i].weight;
        }
        let best = *cand.iter().max_by_key(|&&i| (self.peers[i].current, std::cmp::Reverse(i)))?;
        self.peers[best].current -= total;
        Some(best)
    }

    fn max_tries(&self) -> usize {
        match self.cfg.tries {
            0 => self.peers.len().max(1),
            n if self.cfg.reuse_servers => n as usize,
            n => (n as usize).min(self.peers.len().max(1)),
        }
    }

    fn start_try(&mut self, cx: &mut Ctx<'_>, job_id: u64) {
        let now = cx.now;
        let Some(job) = self.jobs.get(&job_id) else { return };
        let tried = job.tried.clone();
        let Some(p) = self.pick(now, &tried) else {
            let status = if tried.is_empty() {
                cx.print("no live upstreams while connecting to upstream");
                502
            } else if self.jobs[&job_id].timed_out {
                504
            } else {
                502
            };
            return self.finish(cx, job_id, status, None);
        };
        self.dial(cx, job_id, p);
    }

    /// Tries server `p` for job `job_id`.
    fn dial(&mut self, cx: &mut Ctx<'_>, job_id: u64, p: usize) {
        let job = self.jobs.get_mut(&job_id).expect("job");
        job.tried.push(p);
        job.peer = p;
        let addr = self.peers[p].addr;
        cx.push(Cmd::ConnectAddr { addr, timeout: Some(self.cfg.connect_timeout), tag: job_id });
    }

    fn peer_failed(&mut self, cx: &mut Ctx<'_>, p: usize) {
        let now = cx.now;
        let (max, fail_timeout, single) = (self.cfg.max_fails, self.cfg.fail_timeout, self.peers.len() == 1);
        let peer = &mut self.peers[p];
        peer.fails += 1;
        if !single && max > 0 && peer.fails >= max && peer.down_until.is_none_or(|t| now >= t) {
            peer.down_until = Some(now + fail_timeout);
            cx.report(Report::Peer { addr: peer.addr, down: true });
        }
    }

    fn peer_ok(&mut self, cx: &mut Ctx<'_>, p: usize) {
        let peer = &mut self.peers[p];
        if peer.down_until.take().is_some() {
            cx.report(Report::Peer { addr: peer.addr, down: false });
        }
        peer.fails = 0;
    }

    /// A try failed (error or timeout): next server if allowed, else answer.
    fn try_failed(&mut self, cx: &mut Ctx<'_>, job_id: u64, timeout: bool) {
        let Some(job) = self.jobs.get_mut(&job_id) else { return };
        job.timed_out = timeout;
        let (peer, tries) = (job.peer, job.tried.len());
        if let Some(up) = job.up.take() {
            self.by_up.remove(&up);
            cx.push(Cmd::Close { conn: up });
        }
        self.peer_failed(cx, peer);
        self.breaker_result(cx, false);
        let retry_ok =
            self.cfg.next_upstream && tries < self.max_tries() && self.cfg.mode == Mode::Http && self.budget_allows();
        if retry_ok {
            self.retries += 1;
            return self.start_try(cx, job_id);
        }
        self.finish(cx, job_id, if timeout { 504 } else { 502 }, None);
    }

    fn budget_allows(&self) -> bool {
        self.cfg.retry_budget.is_none_or(|b| (self.retries as f64) < b * self.requests as f64 + 3.0)
    }

    fn finish(&mut self, cx: &mut Ctx<'_>, job_id: u64, status: u16, value: Option<u32>) {
        let Some(job) = self.jobs.remove(&job_id) else { return };
        if let Some(up) = job.up {
            self.by_up.remove(&up);
            cx.push(Cmd::Close { conn: up });
        }
        let upstream = (!job.tried.is_empty() && status < 500).then(|| self.peers[job.peer].addr);
        cx.report(Report::Proxied { status, upstream, tries: job.tried.len() as u32 });
        let msg = Msg::Response { id: job.down_id, status, value, size: 256, sent_at: job.sent_at };
        cx.send(job.down, msg);
    }

    fn breaker_result(&mut self, cx: &mut Ctx<'_>, ok: bool) {
        let Some(b) = self.cfg.breaker else { return };
        if ok {
            self.consecutive_failures = 0;
            if self.breaker != Breaker::Closed {
                self.breaker = Breaker::Closed;
                cx.report(Report::Breaker(Breaker::Closed));
            }
            return;
        }
        self.consecutive_failures += 1;
        let trip = self.breaker == Breaker::HalfOpen || self.consecutive_failures >= b.failures;
        if trip && self.breaker != Breaker::Open {
            self.breaker = Breaker::Open;
            cx.report(Report::Breaker(Breaker::Open));
            cx.timer(b.open_for, TOKEN_CLOSE_BREAKER);
        }
    }

    fn on_request(&mut self, cx: &mut Ctx<'_>, down: ConnId, msg: Msg) {
        let Msg::Request { id, op, size, sent_at } = msg else { return };
        if self.cfg.mode == Mode::Tcp {
            return self.relay_down(cx, down, msg);
        }
        self.requests += 1;
        let job_id = self.new_job(down, id, sent_at, op, size);
        if self.breaker == Breaker::Open {
            return self.finish(cx, job_id, 503, None);
        }
        if self.breaker == Breaker::HalfOpen && self.jobs.values().any(|j| j.up.is_some()) {
            return self.finish(cx, job_id, 503, None);
        }
        self.start_try(cx, job_id);
    }

    /// Registers a job for a request (or, in TCP mode, a connection) from `down`.
    fn new_job(&mut self, down: ConnId, down_id: u32, sent_at: Time, op: Op, size: u32) -> u64 {
        let job_id = self.next_job;
        self.next_job += 1;
        let job = Job {
            down,
            down_id,
            sent_at,
            op,
            size,
            tried: vec![],
            peer: 0,
            up: None,
            timed_out: false,
            pending: vec![],
        };
        self.jobs.insert(job_id, job);
        job_id
    }

    /// TCP mode: a message from the downstream side goes to its pinned upstream.
    fn relay_down(&mut self, cx: &mut Ctx<'_>, down: ConnId, msg: Msg) {
        let Some(job) = self.by_down.get(&down).and_then(|j| self.jobs.get_mut(j)) else { return };
        match job.up {
            Some(up) => cx.send(up, msg),
            None => job.pending.push(msg),
        }
    }

    fn on_connected(&mut self, cx: &mut Ctx<'_>, job_id: u64, conn: ConnId) {
        let Some(job) = self.jobs.get_mut(&job_id) else {
            return cx.push(Cmd::Close { conn });
        };
        job.up = Some(conn);
        self.by_up.insert(conn, job_id);
        if self.cfg.upstream_tls > Dur::ZERO {
            return cx.timer(self.cfg.upstream_tls, TOKEN_TLS + job_id);
        }
        self.send_upstream(cx, job_id);
    }

    fn send_upstream(&mut self, cx: &mut Ctx<'_>, job_id: u64) {
        let Some(job) = self.jobs.get(&job_id) else { return };
        let Some(up) = job.up else { return };
        if self.cfg.mode == Mode::Tcp {
            let p = job.peer;
            let pending = std::mem::take(&mut self.jobs.get_mut(&job_id).expect("job").pending);
            for msg in pending {
                cx.send(up, msg);
            }
            return self.peer_ok(cx, p);
        }
        let msg = Msg::Request { id: job_id as u32, op: job.op, size: job.size, sent_at: cx.now };
        cx.send(up, msg);
        cx.timer(self.cfg.read_timeout, TOKEN_READ + job_id);
    }

    fn on_upstream_response(&mut self, cx: &mut Ctx<'_>, job_id: u64, msg: Msg) {
        let Msg::Response { status, value, .. } = msg else { return };
        let Some(job) = self.jobs.get(&job_id) else { return };
        let p = job.peer;
        self.peer_ok(cx, p);
        self.breaker_result(cx, status < 500);
        self.finish(cx, job_id, status, value);
    }

    fn on_closed(&mut self, cx: &mut Ctx<'_>, conn: ConnId) {
        if let Some(job_id) = self.by_up.remove(&conn) {
            if self.cfg.mode == Mode::Tcp {
                if let Some(job) = self.jobs.remove(&job_id) {
                    self.by_down.remove(&job.down);
                    cx.push(Cmd::Close { conn: job.down });
                }
                return;
            }
            if let Some(job) = self.jobs.get_mut(&job_id) {
                job.up = None;
            }
            return self.try_failed(cx, job_id, false);
        }
        if let Some(job_id) = self.by_down.remove(&conn) {
            if let Some(up) = self.jobs.remove(&job_id).and_then(|j| j.up) {
                self.by_up.remove(&up);
                cx.push(Cmd::Close { conn: up });
            }
        }
        self.jobs.retain(|_, j| j.down != conn || j.up.is_some());
    }

    fn on_accepted(&mut self, cx: &mut Ctx<'_>, down: ConnId) {
        if self.cfg.mode != Mode::Tcp {
            return;
        }
        let job_id = self.new_job(down, 0, cx.now, Op::Get, 0);
        self.by_down.insert(down, job_id);
        let Some(p) = self.pick(cx.now, &[]) else {
            self.jobs.remove(&job_id);
            self.by_down.remove(&down);
            return cx.push(Cmd::Close { conn: down });
        };
        self.dial(cx, job_id, p);
    }

    fn on_timer(&mut self, cx: &mut Ctx<'_>, token: u64) {
        if token == TOKEN_RESOLVE_AGAIN {
            return self.resolve_all(cx);
        }
        if token == TOKEN_CLOSE_BREAKER {
            self.breaker = Breaker::HalfOpen;
            return cx.report(Report::Breaker(Breaker::HalfOpen));
        }
        if (TOKEN_READ..TOKEN_READ + (1 << 40)).contains(&token) {
            let job_id = token - TOKEN_READ;
            if self.jobs.get(&job_id).is_some_and(|j| j.up.is_some()) {
                self.try_failed(cx, job_id, true);
            }
        } else if (TOKEN_TLS..TOKEN_TLS + (1 << 40)).contains(&token) {
            self.send_upstream(cx, token - TOKEN_TLS);
        }
    }
}

impl Program for Proxy {
    fn handle(&mut self, cx: &mut Ctx<'_>, input: Input) {
        match input {
            Input::Start => self.resolve_all(cx),
            Input::Resolved { tag, result } if tag >= TAG_RESOLVE => {
                self.on_resolved(cx, (tag - TAG_RESOLVE) as usize, result)
            }
            Input::Accepted { conn } => self.on_accepted(cx, conn),
            Input::Received { conn, msg } => match (self.by_up.get(&conn).copied(), msg) {
                (Some(job), Msg::Response { .. }) if self.cfg.mode == Mode::Http => {
                    self.on_upstream_response(cx, job, msg)
                }
                (Some(job), _) => {
                    if let Some(down) = self.jobs.get(&job).map(|j| j.down) {
                        cx.send(down, msg);
                    }
                }
                (None, _) => self.on_request(cx, conn, msg),
            },
            Input::Connected { tag, conn } => self.on_connected(cx, tag, conn),
            Input::ConnectFailed { tag, errno } => {
                let timeout = errno == crate::proto::errno::Errno::Etimedout;
                if self.cfg.mode == Mode::Tcp {
                    if let Some(job) = self.jobs.remove(&tag) {
                        self.by_down.remove(&job.down);
                        let p = job.peer;
                        self.peer_failed(cx, p);
                        cx.push(Cmd::Close { conn: job.down });
                    }
                    return;
                }
                self.try_failed(cx, tag, timeout)
            }
            Input::Closed { conn, .. } => self.on_closed(cx, conn),
            Input::Timer(t) => self.on_timer(cx, t),
            _ => {}
        }
    }

    fn ready(&self) -> bool {
        self.listening
    }

    fn http_ok(&self, port: u16) -> bool {
        self.listening && port == self.cfg.port
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn proxy(n: usize, weights: &[u32]) -> Proxy {
        let ups = weights.iter().enumerate().map(|(i, w)| (Sym(i as u32), 80, *w)).collect();
        let mut p = Proxy::new(Config::nginx(80, ups));
        p.resolved = (0..n).map(|i| (i, smallvec::smallvec![Ip::new(10, 0, 0, 2 + i as u8)])).collect();
        p.rebuild_peers();
        p
    }

    #[test]
    fn smooth_weighted_round_robin_matches_nginx() {
        let mut p = proxy(3, &[5, 1, 1]);
        let seq: Vec<usize> = (0..7).map(|_| p.pick(Time::ZERO, &[]).unwrap()).collect();
        assert_eq!(seq, [0, 0, 1, 0, 2, 0, 0], "nginx's documented sequence a a b a c a a");
        let mut q = proxy(3, &[1, 1, 1]);
        let seq: Vec<usize> = (0..6).map(|_| q.pick(Time::ZERO, &[]).unwrap()).collect();
        assert_eq!(seq, [0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn failed_server_is_skipped_for_fail_timeout_then_tried_again() {
        let mut p = proxy(2, &[1, 1]);
        let mut rng = Rng::fork(0, "t");
        let mut cmds = vec![];
        let mut cx = Ctx::new(Time::ZERO, &mut rng, &mut cmds);
        p.peer_failed(&mut cx, 0);
        assert!(!p.available(0, Time::ZERO + Dur::secs(9)));
        assert!(p.available(0, Time::ZERO + Dur::secs(10)));
        assert_eq!(cmds.len(), 1, "reported down once");
    }

    #[test]
    fn a_lone_server_is_never_marked_down() {
        let mut p = proxy(1, &[1]);
        let mut rng = Rng::fork(0, "t");
        let mut cmds = vec![];
        let mut cx = Ctx::new(Time::ZERO, &mut rng, &mut cmds);
        p.peer_failed(&mut cx, 0);
        p.peer_failed(&mut cx, 0);
        assert!(p.available(0, Time::ZERO));
        assert!(cmds.is_empty());
    }

    #[test]
    fn breaker_opens_after_consecutive_failures_and_half_opens_later() {
        let mut p = proxy(1, &[1]);
        p.cfg.breaker = Some(BreakerCfg { failures: 3, open_for: Dur::secs(5) });
        let mut rng = Rng::fork(0, "t");
        let mut cmds = vec![];
        let mut cx = Ctx::new(Time::ZERO, &mut rng, &mut cmds);
        p.breaker_result(&mut cx, false);
        p.breaker_result(&mut cx, false);
        assert_eq!(p.breaker, Breaker::Closed);
        p.breaker_result(&mut cx, false);
        assert_eq!(p.breaker, Breaker::Open);
        p.on_timer(&mut cx, TOKEN_CLOSE_BREAKER);
        assert_eq!(p.breaker, Breaker::HalfOpen);
        p.breaker_result(&mut cx, false);
        assert_eq!(p.breaker, Breaker::Open, "a failed trial opens it again");
        p.on_timer(&mut cx, TOKEN_CLOSE_BREAKER);
        p.breaker_result(&mut cx, true);
        assert_eq!(p.breaker, Breaker::Closed);
    }
}
