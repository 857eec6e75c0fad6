//! Explanations: when a program sees an error, say why, from the state of
//! the world at that moment — the "because" a person would find by running
//! `docker ps`, `docker network inspect` and tcpdump.

use super::record::DropReason;
use super::spec::Mode;
use super::world::{Dial, State, World};
use crate::id::CtrId;
use crate::net::addr::SockAddr;
use crate::proto::errno::Errno;
use crate::time::Time;

impl World {
    fn holder_of(&self, from: CtrId, ip: crate::net::addr::Ip) -> Option<CtrId> {
        let owner = self.net_owner(from);
        self.ctrs[owner]
            .endpoints
            .iter()
            .find_map(|e| self.nets[e.net].holders.get(&ip).copied())
            .or_else(|| self.net_order.iter().find_map(|&n| self.nets[n].holders.get(&ip).copied()))
    }

    fn ago(&self, t: Time) -> String {
        format!("{} ago", self.now.since(t))
    }

    /// Why a connect failed with `errno`.
    pub(super) fn explain_connect(&self, d: &Dial, errno: Errno, drops: u16, last_drop: Option<DropReason>) -> String {
        let target = self.syms.get(d.host);
        let Some(addr) = d.addr else { return String::new() };
        match errno {
            Errno::Econnrefused => self.why_refused(d.ctr, target, addr),
            Errno::Etimedout if drops > 0 => {
                let why = last_drop.map_or("on the way", |r| r.name());
                let parts = self.partition_names(d.ctr);
                format!("{drops} SYN(s) dropped ({why}{parts}); no answer")
            }
            Errno::Etimedout => {
                format!("no SYN-ACK from {addr} (peer paused, accept queue full, or connect timeout too short)")
            }
            Errno::Ehostunreach => match self.last_holder(addr) {
                Some((c, t)) => {
                    format!("nobody holds {} now: {} released it {}", addr.ip, self.ctrs[c].name, self.ago(t))
                }
                None => format!("nobody holds {} on the subnet (3 ARP probes unanswered)", addr.ip),
            },
            Errno::Enetunreach => {
                let c = &self.ctrs[self.net_owner(d.ctr)];
                if c.spec.mode == Mode::None {
                    "network mode none: only loopback".into()
                } else {
                    format!("no route to {}: {} is only on internal networks", addr.ip, c.name)
                }
            }
            Errno::Eaddrnotavail => {
                use crate::proto::tcp::{EPHEMERAL_FIRST, EPHEMERAL_LAST};
                format!(
                    "all ephemeral ports ({EPHEMERAL_FIRST}-{EPHEMERAL_LAST}) to {addr} are in use by open connections"
                )
            }
            _ => String::new(),
        }
    }

    fn why_refused(&self, from: CtrId, target: &str, addr: SockAddr) -> String {
        if self.is_host_ip(addr.ip) || addr.ip.is_loopback() {
            if let Some((c, pm)) = self.published.get(&addr.port) {
                let name = &self.ctrs[*c].name;
                return format!(
                    "port {} is published by {name}, but nothing listens on {name}:{}",
                    addr.port, pm.ctr_port
                );
            }
        }
        let Some(h) = self.holder_of(from, addr.ip).or_else(|| self.is_host_ip(addr.ip).then(|| self.net_owner(from)))
        else {
            return format!("nothing listens on {addr}");
        };
        let hc = &self.ctrs[h];
        let stack = &self.stacks[hc.stack.0 as usize];
        if let Some(l) = stack.listeners.get(&addr.port) {
            if l.bind.is_unspecified() || l.bind == addr.ip {
                let ago = self.ago(l.since);
                return format!(
                    "nothing listened on {}:{} when the SYN arrived ({} started listening {ago})",
                    hc.name, addr.port, hc.name
                );
            }
            return format!("{} listens on {}:{} only, not on {}", hc.name, l.bind, addr.port, addr.ip);
        }
        let stale = !target.eq_ignore_ascii_case(&hc.name)
            && self.ctr_order.iter().any(|&c| self.ctrs[c].name.eq_ignore_ascii_case(target))
            && target.parse::<crate::net::addr::Ip>().is_err();
        if stale {
            return format!("{} now belongs to {}, not {target}: stale address", addr.ip, hc.name);
        }
        if hc.state == State::Running && !hc.main_running() {
            return format!(
                "nothing listens on {}:{}: its process is still initialising (started {})",
                hc.name,
                addr.port,
                self.ago(hc.started_at)
            );
        }
        format!("nothing listens on {}:{} (it has no listener on that port)", hc.name, addr.port)
    }

    fn partition_names(&self, ctr: CtrId) -> String {
        let idx = self.ctr_order.iter().position(|&c| c == ctr);
        let names: Vec<&str> = self
            .active_partitions
            .iter()
            .map(|&p| &self.partitions[p])
            .filter(|p| idx.is_some_and(|i| p.a.contains(&i) || p.b.contains(&i)))
            .map(|p| p.name.as_str())
            .collect();
        if names.is_empty() {
            String::new()
        } else {
            format!(" {}", names.join(", "))
        }
    }

    /// Who held `addr` last, and when the endpoint went away.
    fn last_holder(&self, addr: SockAddr) -> Option<(CtrId, Time)> {
        self.trace.iter().rev().find_map(|r| match (&r.ev, r.ctr) {
            (super::record::Ev::NetDisconnect { ip, .. }, Some(c)) if *ip == addr.ip => Some((c, r.t)),
            _ => None,
        })
    }

    /// Why a lookup of `name` failed with `errno` inside `ctr`.
    pub(super) fn explain_lookup(&self, ctr: CtrId, name: &str, errno: Errno) -> String {
        let owner = &self.ctrs[self.net_owner(ctr)];
        let user_nets: Vec<&str> = owner
            .endpoints
            .iter()
            .filter(|e| self.nets[e.net].kind.user_defined())
            .map(|e| self.nets[e.net].name.as_str())
            .collect();
        if errno == Errno::EaiAgain {
            return match (self.dns_outage, user_nets.is_empty()) {
                (Some(_), _) => "the embedded DNS is failing (outage)".into(),
                (None, true) => "the host's nameserver did not answer".into(),
                (None, false) if owner.endpoints.iter().all(|e| self.nets[e.net].internal) => {
                    "internal networks only: the embedded DNS does not forward external names (SERVFAIL)".into()
                }
                (None, false) => "SERVFAIL or no answer from the nameserver".into(),
            };
        }
        if user_nets.is_empty() {
            return "no embedded DNS on the default bridge: container names do not resolve (use a user-defined network or --link)".into();
        }
        let Some(&t) = self.ctr_order.iter().find(|&&c| {
            let x = &self.ctrs[c];
            x.name.eq_ignore_ascii_case(name) || x.spec.service.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(name))
        }) else {
            if name.eq_ignore_ascii_case("host.docker.internal") {
                return "on Linux host.docker.internal exists only with extra_hosts: host-gateway".into();
            }
            return format!("no container or alias `{name}` on {}", user_nets.join(", "));
        };
        let tc = &self.ctrs[t];
        if !tc.is_up() {
            return format!("{} is {}: its name is removed until it runs again", tc.name, tc.state.name());
        }
        let theirs: Vec<&str> = tc.endpoints.iter().map(|e| self.nets[e.net].name.as_str()).collect();
        format!(
            "{} is on {}; {} is on {}: no shared network",
            tc.name,
            theirs.join(", "),
            self.ctrs[ctr].name,
            user_nets.join(", ")
        )
    }
}
