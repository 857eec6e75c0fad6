//! Name resolution as a program inside a container experiences it:
//! /etc/hosts (links, extra_hosts, own name), the program's cache, then the
//! nameserver — Docker's embedded server on user-defined networks, the host's
//! upstream on the default bridge (docker-facts §1, §3, §7).

use super::event::Timer;
use super::record::{ConnectFailure, Ev, Resolution};
use super::spec::{DnsOutage, Mode, Upstream};
use super::world::{Query, World, EMBEDDED_DNS, LOOPBACK, UPSTREAM_DNS};
use crate::container::program::Input;
use crate::id::{CtrId, DialId, NetId, QueryId, Sym};

/// Who waits for a lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Waiter {
    /// A `connect()` by name.
    Dial(DialId),
    /// A program's own getaddrinfo (proxies, tools).
    Lookup { proc: u8, inc: u32, tag: u64 },
}
use crate::net::addr::{Ip, SockAddr};
use crate::proto::dns::{Ips, Lookup, Rcode, FORWARD_MAX_UPSTREAMS, FORWARD_TIMEOUT};
use crate::proto::errno::Errno;
use crate::time::Dur;

/// Loopback plus dockerd's handling of a query (unconfirmed; chosen).
pub const EMBEDDED_LATENCY: Dur = Dur::micros(100);

impl World {
    /// Starts a dial: resolve its host (if a name), then connect.
    pub(super) fn resolve_and_connect(&mut self, dial: DialId) {
        let d = &self.dials[dial];
        let (ctr, name) = (d.ctr, d.host);
        if let Some(ip) = self.syms.ip(name) {
            return self.tcp_connect(dial, ip);
        }
        self.getaddrinfo(ctr, name, Waiter::Dial(dial));
    }

    /// getaddrinfo inside container `ctr`: /etc/hosts, the program's cache,
    /// then a query to the container's nameserver.
    pub(super) fn getaddrinfo(&mut self, ctr: CtrId, name_sym: Sym, waiter: Waiter) {
        if let Some(ip) = self.syms.ip(name_sym) {
            return self.resolved(ctr, name_sym, waiter, Ok(smallvec::smallvec![ip]), Resolution::Literal);
        }
        if let Some(ip) = self.etc_hosts(ctr, self.syms.get(name_sym)) {
            return self.resolved(ctr, name_sym, waiter, Ok(smallvec::smallvec![ip]), Resolution::Hosts);
        }
        if let Some(hit) = self.ctrs[ctr].cache.get(self.now, self.syms.get(name_sym)).cloned() {
            return self.resolved(ctr, name_sym, waiter, hit, Resolution::Cache);
        }
        let server = if self.user_nets(ctr).next().is_some() { EMBEDDED_DNS } else { UPSTREAM_DNS };
        let owner = &self.ctrs[self.net_owner(ctr)];
        if owner.spec.mode == Mode::None || (owner.endpoints.is_empty() && owner.spec.mode != Mode::Host) {
            return self.resolved(ctr, name_sym, waiter, Err(Errno::EaiAgain), Resolution::Dns);
        }
        let inc = self.ctrs[ctr].inc;
        let q = self.queries.insert(Query { waiter, ctr, inc, name: name_sym, server, attempt: 1, answer: None });
        self.send_query(q);
    }

    /// Where a container's DNS traffic is seen: its loopback for the
    /// embedded server, its first network for the host's upstream.
    fn dns_path(&self, ctr: CtrId, q: QueryId, server: Ip) -> (Option<super::capture::Iface>, SockAddr) {
        let port = 40000 + (Self::dns_id(q) % 20000);
        let owner = &self.ctrs[self.net_owner(ctr)];
        match owner.endpoints.first() {
            Some(e) if server != EMBEDDED_DNS => (Some(super::capture::Iface::Net(e.net)), SockAddr::new(e.ip, port)),
            _ => (Some(super::capture::Iface::Lo(self.net_owner(ctr))), SockAddr::new(LOOPBACK, port)),
        }
    }

    /// The user-defined networks a container is attached to now, in order.
    fn user_nets(&self, ctr: CtrId) -> impl Iterator<Item = NetId> + '_ {
        self.ctrs[self.net_owner(ctr)].endpoints.iter().map(|e| e.net).filter(|&n| self.nets[n].kind.user_defined())
    }

    /// /etc/hosts: the container's own names, `extra_hosts`, `--link` entries.
    fn etc_hosts(&self, ctr: CtrId, name: &str) -> Option<Ip> {
        let c = &self.ctrs[ctr];
        if name.eq_ignore_ascii_case("localhost") {
            return Some(LOOPBACK);
        }
        let own = [Some(c.name.as_str()), c.spec.hostname.as_deref(), Some(c.short_id.as_str())];
        if own.iter().flatten().any(|n| n.eq_ignore_ascii_case(name)) {
            return c.endpoints.first().map(|e| e.ip).or(Some(LOOPBACK));
        }
        if let Some((_, ip)) = c.spec.extra_hosts.iter().find(|(h, _)| h.eq_ignore_ascii_case(name)) {
            return Some(*ip);
        }
        let bridge = self.default_bridge?;
        c.spec.links.iter().find_map(|(idx, alias)| {
            let src = &self.ctrs[self.ctr_order[*idx]];
            let hit = alias.eq_ignore_ascii_case(name) || src.name.eq_ignore_ascii_case(name);
            hit.then(|| src.last_ips.iter().find(|(n, _)| *n == bridge).map(|&(_, ip)| ip)).flatten()
        })
    }

    fn send_query(&mut self, q: QueryId) {
        let Query { ctr, name, server, attempt, .. } = self.queries[q];
        self.record(Some(ctr), Ev::DnsQuery { name, server, attempt });
        if self.capturing() {
            let (iface, src) = self.dns_path(ctr, q, server);
            let what = super::capture::What::DnsQuery { id: Self::dns_id(q), name: self.syms.get(name).to_string() };
            let note = if attempt > 1 { format!("resolver retry, attempt {attempt}") } else { String::new() };
            self.capture(iface, src, SockAddr::new(server, 53), what, note);
        }
        let answer = self.answer_for(ctr, name, server);
        // The answer travels over the container's loopback, where nothing
        // drops it, and removes the query when it arrives: a timeout due
        // later could only ever be stale, so it is not scheduled.
        let timeout = self.ctrs[ctr].spec.resolver.timeout;
        if answer.as_ref().is_none_or(|&(_, _, delay)| delay >= timeout) {
            self.at(timeout, Timer::DnsTimeout { query: q, attempt });
        }
        let Some((rcode, ips, delay)) = answer else {
            return;
        };
        self.queries[q].answer = Some((rcode, ips));
        // A datagram sent and queued like any packet (see `Timer::DnsAnswer`).
        self.checks.attempts += 1;
        self.checks.pushed += 1;
        self.at(delay, Timer::DnsAnswer { query: q, ctr, attempt });
    }

    /// What the nameserver answers, and when; `None`: it never answers.
    fn answer_for(&mut self, ctr: CtrId, name: crate::id::Sym, server: Ip) -> Option<(Rcode, Ips, Dur)> {
        if server == UPSTREAM_DNS {
            let (rc, ips, d) = self.upstream_answer(self.syms.get(name))?;
            return Some((rc, ips, d));
        }
        let extra = match self.dns_outage {
            Some(DnsOutage::Drop) => return None,
            Some(DnsOutage::ServFail) => return Some((Rcode::ServFail, Ips::new(), EMBEDDED_LATENCY)),
            Some(DnsOutage::Slow(d)) => d,
            None => Dur::ZERO,
        };
        let nets: smallvec::SmallVec<[NetId; 4]> = self.user_nets(ctr).collect();
        if let Some((_, mut ips)) = self.dns_name_id(name).and_then(|id| self.dns.resolve_id(&nets, id)) {
            self.check_dns_answer(ctr, name, &ips);
            self.ctrs[ctr].dns_rng.shuffle(&mut ips);
            return Some((Rcode::NoError, ips, EMBEDDED_LATENCY + extra));
        }
        let external = self.ctrs[self.net_owner(ctr)].endpoints.iter().any(|e| !self.nets[e.net].internal);
        if !external {
            return Some((Rcode::ServFail, Ips::new(), EMBEDDED_LATENCY));
        }
        match self.upstream_answer(self.syms.get(name)) {
            Some((rc, ips, d)) => Some((rc, ips, d + EMBEDDED_LATENCY)),
            None if self.upstream == Upstream::NotConfigured => Some((Rcode::ServFail, Ips::new(), EMBEDDED_LATENCY)),
            None => {
                Some((Rcode::ServFail, Ips::new(), FORWARD_TIMEOUT.saturating_mul(u64::from(FORWARD_MAX_UPSTREAMS))))
            }
        }
    }

    /// The registry's id for the queried name `sym`, remembered once known.
    fn dns_name_id(&mut self, sym: crate::id::Sym) -> Option<u32> {
        let i = sym.0 as usize;
        if let Some(&id) = self.dns_name_ids.get(i).filter(|&&id| id != u32::MAX) {
            return Some(id);
        }
        let id = self.dns.name_id(self.syms.get(sym))?;
        if i >= self.dns_name_ids.len() {
            self.dns_name_ids.resize(i + 1, u32::MAX);
        }
        self.dns_name_ids[i] = id;
        Some(id)
    }

    fn upstream_answer(&self, name: &str) -> Option<(Rcode, Ips, Dur)> {
        match &self.upstream {
            Upstream::Answering { latency, records } => {
                let ips: Ips =
                    records.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, ip)| *ip).collect();
                let rc = if ips.is_empty() { Rcode::NxDomain } else { Rcode::NoError };
                Some((rc, ips, *latency))
            }
            Upstream::Unreachable | Upstream::NotConfigured => None,
        }
    }

    pub(super) fn on_dns_answer(&mut self, q: QueryId, _attempt: u8) {
        let Some(query) = self.queries.remove(q) else {
            return;
        };
        if !self.live(query.ctr, query.inc) {
            return;
        }
        let (rcode, ips) = query.answer.unwrap_or((Rcode::ServFail, Ips::new()));
        let result: Lookup = match rcode {
            Rcode::NoError if !ips.is_empty() => Ok(ips.clone()),
            Rcode::NoError | Rcode::NxDomain => Err(Errno::Enotfound),
            Rcode::ServFail => Err(Errno::EaiAgain),
        };
        if self.capturing() {
            let (iface, dst) = self.dns_path(query.ctr, q, query.server);
            let n = self.syms.get(query.name).to_string();
            let what = super::capture::What::DnsAnswer { id: Self::dns_id(q), name: n, rcode, ips: ips.to_vec() };
            self.capture(iface, SockAddr::new(query.server, 53), dst, what, String::new());
        }
        let ips = self.trace.ip_list(&ips);
        self.record(Some(query.ctr), Ev::DnsAnswer { name: query.name, rcode, ips });
        let now = self.now;
        self.ctrs[query.ctr].cache.store(now, self.syms.get(query.name), &result);
        self.resolved(query.ctr, query.name, query.waiter, result, Resolution::Dns);
    }

    pub(super) fn on_dns_timeout(&mut self, q: QueryId, attempt: u8) {
        let Some(query) = self.queries.get_mut(q) else {
            return;
        };
        if query.attempt != attempt {
            return;
        }
        if attempt < self.ctrs[query.ctr].spec.resolver.attempts {
            query.attempt += 1;
            return self.send_query(q);
        }
        let query = self.queries.remove(q).expect("present");
        if self.live(query.ctr, query.inc) {
            self.resolved(query.ctr, query.name, query.waiter, Err(Errno::EaiAgain), Resolution::Dns);
        }
    }

    /// A lookup finished: a dial connects to the first address (or fails);
    /// a program's own lookup gets the whole answer.
    fn resolved(&mut self, ctr: CtrId, name: Sym, waiter: Waiter, result: Lookup, via: Resolution) {
        if let Waiter::Dial(d) = waiter {
            if !self.dials.contains_key(d) {
                return;
            }
        }
        match &result {
            Ok(ips) if via != Resolution::Literal => self.record(Some(ctr), Ev::Resolved { name, ip: ips[0], via }),
            Err(errno) => {
                let why = self.explain_lookup(ctr, self.syms.get(name), *errno);
                let cause = self.sym(&why);
                self.record(Some(ctr), Ev::ResolveFailed { name, errno: *errno, cause });
            }
            Ok(_) => {}
        }
        match (waiter, result) {
            (Waiter::Dial(dial), Ok(ips)) => self.tcp_connect(dial, ips[0]),
            (Waiter::Dial(dial), Err(errno)) => self.dial_fail(dial, errno),
            (Waiter::Lookup { proc, inc, tag }, result) => {
                if self.live(ctr, inc) {
                    self.deliver_input(ctr, proc, Input::Resolved { tag, result });
                }
            }
        }
    }

    /// A dial failed with `errno`: record it and tell the program.
    pub(super) fn dial_fail(&mut self, dial: DialId, errno: Errno) {
        let Some(d) = self.dials.remove(dial) else {
            return;
        };
        let (drops, last_drop) = d.conn.and_then(|c| self.conns.get(c)).map_or((0, None), |c| (c.drops, c.last_drop));
        let cause = if matches!(errno, Errno::Enotfound | Errno::EaiAgain) {
            String::new()
        } else {
            self.explain_connect(&d, errno, drops, last_drop)
        };
        let cause = self.sym(&cause);
        if let Some(c) = d.conn {
            self.free_conn(c);
        }
        let after = self.now.since(d.started);
        let (target, port, addr) = (d.host, d.port, d.addr);
        let failure = ConnectFailure { target, port, addr, errno, after, cause };
        self.record(Some(d.ctr), Ev::ConnectFailed(Box::new(failure)));
        if self.live(d.ctr, d.inc) {
            self.deliver_input(d.ctr, d.proc, Input::ConnectFailed { tag: d.tag, errno });
        }
    }

    pub(super) fn on_dial_timeout(&mut self, dial: DialId) {
        if self.dials.contains_key(dial) {
            self.dial_fail(dial, Errno::Etimedout);
        }
    }
}
