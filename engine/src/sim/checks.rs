//! Invariant checks run beside the simulation (switched on for property
//! tests): each violation is recorded with the time and what was wrong.
//!
//! - isolation: a packet between two containers goes over a network both
//!   are attached to, and never across `enable_icc=false`;
//! - DNS scope: the embedded DNS answers a name only with addresses of
//!   running containers on a network the asker is attached to;
//! - packet conservation: every transmission attempt is queued or dropped
//!   with a reason; every queued packet is delivered or still in flight.

use super::event::Event;
use super::world::World;
use crate::id::{CtrId, NetId, StackId};
use crate::net::addr::Ip;

/// Counters and violations of one run.
#[derive(Clone, Debug, Default)]
pub struct Checks {
    pub enabled: bool,
    pub violations: Vec<String>,
    pub attempts: u64,
    pub pushed: u64,
    pub dropped: u64,
    pub delivered: u64,
}

impl World {
    pub(super) fn violation(&mut self, what: String) {
        let t = self.now;
        self.checks.violations.push(format!("{t}: {what}"));
    }

    /// Isolation: called for every packet queued between two namespaces.
    /// Inline, so a run without checks pays one test per packet, not a call.
    #[inline]
    pub(super) fn check_isolation(&mut self, from: StackId, to: StackId, net: Option<NetId>) {
        if self.checks.enabled {
            self.check_isolation_on(from, to, net);
        }
    }

    #[inline(never)]
    fn check_isolation_on(&mut self, from: StackId, to: StackId, net: Option<NetId>) {
        if from == to || from == StackId::HOST || to == StackId::HOST {
            return;
        }
        let (Some(a), Some(b)) = (self.stacks[from.0 as usize].owner, self.stacks[to.0 as usize].owner) else { return };
        let on = |c: CtrId, n: NetId| self.ctrs[c].endpoints.iter().any(|e| e.net == n);
        let ok = net.is_some_and(|n| on(a, n) && on(b, n) && self.nets[n].icc);
        if !ok {
            let (an, bn) = (self.ctrs[a].name.clone(), self.ctrs[b].name.clone());
            self.violation(format!("isolation: packet {an} -> {bn} over {net:?} they do not share (or icc disabled)"));
        }
    }

    /// DNS scope: every address answered for `asker` is reachable by it.
    pub(super) fn check_dns_answer(&mut self, asker: CtrId, name: crate::id::Sym, ips: &[Ip]) {
        if !self.checks.enabled {
            return;
        }
        let name = self.syms.get(name).to_string();
        let owner = self.net_owner(asker);
        let nets: Vec<NetId> = self.ctrs[owner].endpoints.iter().map(|e| e.net).collect();
        for ip in ips {
            let held = nets.iter().any(|&n| self.nets[n].holders.get(ip).is_some_and(|&h| self.ctrs[h].is_up()));
            if !held {
                let who = self.ctrs[asker].name.clone();
                self.violation(format!(
                    "dns scope: {name} answered {ip} to {who}, not a running container on its networks"
                ));
            }
        }
    }

    /// Packet conservation at the end of a run.
    pub fn check_conservation(&mut self) {
        if !self.checks.enabled {
            return;
        }
        let in_flight = self.queue.count(Event::is_packet) as u64;
        let c = &self.checks;
        if c.attempts != c.pushed + c.dropped || c.pushed != c.delivered + in_flight {
            let msg = format!(
                "conservation: {} attempts, {} queued, {} dropped, {} delivered, {in_flight} in flight",
                c.attempts, c.pushed, c.dropped, c.delivered
            );
            self.violation(msg);
        }
    }
}
