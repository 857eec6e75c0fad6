//! The fabric: a pure router between network namespaces (docker-facts §4–§5).
//!
//! Given a sender's namespace and a destination address it decides: deliver
//! (to which namespace, over which network, after how long), drop (and why),
//! "no neighbour" (an on-link address nobody holds: ARP fails), or "no
//! route" (ENETUNREACH). It knows nothing of TCP or DNS.

use super::record::DropReason;
use super::spec::NetKind;
use super::world::{World, HOST_LAN_IP, LOOPBACK};
use crate::id::{NetId, StackId};
use crate::net::addr::Ip;
use crate::time::Dur;

/// One way through the loopback interface.
pub const LOOPBACK_DELAY: Dur = Dur::micros(5);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Deliver { to: StackId, net: Option<NetId>, src: Ip },
    Drop { reason: DropReason, net: Option<NetId>, src: Ip },
    NoNeighbour { net: NetId, src: Ip },
    Unroutable,
}

/// A connection's delivery route, cached with the topology generation
/// (`World::topo`) it was computed in; any other generation means "compute
/// again". Only deliveries are cached: a drop is recomputed (and recorded)
/// every time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CachedRoute {
    generation: u32,
    to: StackId,
    net: Option<NetId>,
}

impl CachedRoute {
    /// Not computed (generations start at 1).
    pub const NONE: CachedRoute = CachedRoute { generation: 0, to: StackId::HOST, net: None };

    /// What to cache of `r`, computed in `generation`.
    pub fn of(r: Route, generation: u32) -> CachedRoute {
        match r {
            Route::Deliver { to, net, .. } => CachedRoute { generation, to, net },
            _ => CachedRoute::NONE,
        }
    }

    /// The cached destination and network, if computed in `generation`.
    pub fn get(self, generation: u32) -> Option<(StackId, Option<NetId>)> {
        (self.generation == generation).then_some((self.to, self.net))
    }
}

/// Nanoseconds to put `size` bytes on a link of `bps` bits per second,
/// rounded down: exact for every size (a message of more than about 2.3 GB
/// would overflow the product in 64 bits; it is then computed in 128, and
/// a time past 2⁶⁴ ns, some 584 years, saturates).
pub fn transmission_ns(size: u32, bps: u64) -> u64 {
    let bits = u64::from(size) * 8;
    let bps = bps.max(1);
    match bits.checked_mul(1_000_000_000) {
        Some(x) => x / bps,
        None => u64::try_from(u128::from(bits) * 1_000_000_000 / u128::from(bps)).unwrap_or(u64::MAX),
    }
}

impl World {
    /// Something `route` reads changed (an endpoint attached or detached, a
    /// partition started or healed): every connection's cached route is stale.
    /// Generations are 32 bits (a connection's cache is 16 bytes); should
    /// they run out, every cache is emptied and they start again at 1, so a
    /// stale generation can never be taken for the current one.
    pub(super) fn topology_changed(&mut self) {
        if self.topo == u32::MAX {
            self.conns.values_mut().for_each(|c| c.route = CachedRoute::NONE);
            self.topo = 0;
        }
        self.topo += 1;
    }

    /// Is `ip` one of the Docker host's own addresses (for outputs)?
    pub fn is_host_ip_pub(&self, ip: Ip) -> bool {
        self.is_host_ip(ip)
    }

    /// Is `ip` one of the Docker host's own addresses (a bridge gateway, its LAN address)?
    pub(super) fn is_host_ip(&self, ip: Ip) -> bool {
        ip == HOST_LAN_IP || self.nets.values().any(|n| n.gateway() == Some(ip))
    }

    pub(super) fn route(&self, from: StackId, dst: Ip) -> Route {
        if dst.is_loopback() {
            return Route::Deliver { to: from, net: None, src: LOOPBACK };
        }
        if from == StackId::HOST {
            return self.route_from_host(dst);
        }
        let Some(owner) = self.stacks[from.0 as usize].owner else {
            return Route::Unroutable;
        };
        let eps = &self.ctrs[owner].endpoints;
        if eps.iter().any(|e| e.ip == dst) {
            return Route::Deliver { to: from, net: None, src: dst };
        }
        for e in eps {
            let net = &self.nets[e.net];
            if !net.subnet().is_some_and(|s| s.contains(dst)) {
                continue;
            }
            if net.gateway() == Some(dst) {
                return Route::Deliver { to: StackId::HOST, net: Some(e.net), src: e.ip };
            }
            return match net.holders.get(&dst) {
                None => Route::NoNeighbour { net: e.net, src: e.ip },
                Some(_) if !net.icc => Route::Drop { reason: DropReason::Icc, net: Some(e.net), src: e.ip },
                Some(&h) if !self.active_partitions.is_empty() && self.partitioned(owner, h) => {
                    Route::Drop { reason: DropReason::Partition, net: Some(e.net), src: e.ip }
                }
                Some(&h) => Route::Deliver { to: self.ctrs[h].stack, net: Some(e.net), src: e.ip },
            };
        }
        let Some(egress) = eps.iter().find(|e| !self.nets[e.net].internal) else {
            return Route::Unroutable;
        };
        let net = Some(egress.net);
        if self.is_host_ip(dst) {
            return Route::Deliver { to: StackId::HOST, net, src: egress.ip };
        }
        let other_bridge = self.nets.values().any(|n| n.subnet().is_some_and(|s| s.contains(dst)));
        let reason = if other_bridge { DropReason::OtherNetwork } else { DropReason::External };
        Route::Drop { reason, net, src: egress.ip }
    }

    fn route_from_host(&self, dst: Ip) -> Route {
        if self.is_host_ip(dst) {
            return Route::Deliver { to: StackId::HOST, net: None, src: dst };
        }
        for &id in &self.net_order {
            let n = &self.nets[id];
            if !matches!(n.kind, NetKind::Bridge | NetKind::DefaultBridge) {
                continue;
            }
            let (Some(subnet), Some(gw)) = (n.subnet(), n.gateway()) else {
                continue;
            };
            if subnet.contains(dst) {
                return match n.holders.get(&dst) {
                    Some(&h) => Route::Deliver { to: self.ctrs[h].stack, net: Some(id), src: gw },
                    None => Route::NoNeighbour { net: id, src: gw },
                };
            }
        }
        Route::Drop { reason: DropReason::External, net: None, src: HOST_LAN_IP }
    }

    /// One-way delay of a packet of `size` bytes over `net`, or `None` when the
    /// link loses it. One random draw per packet: high bits jitter, low bits loss.
    pub(super) fn link_delay(&mut self, net: Option<NetId>, size: u32, from: StackId, to: StackId) -> Option<Dur> {
        let Some(id) = net else {
            return Some(LOOPBACK_DELAY);
        };
        let cross = if self.nets[id].kind == NetKind::Overlay && self.node_of(from) != self.node_of(to) {
            self.nets[id].cross_node + self.nets[id].encryption
        } else {
            Dur::ZERO
        };
        let n = &mut self.nets[id];
        let l = n.link;
        let r = n.rng.next_u64();
        if l.loss > 0.0 && ((r & 0xffff_ffff) as f64) < l.loss * 4_294_967_296.0 {
            return None;
        }
        let jitter = if l.jitter.0 > 0 { (r >> 32) % (l.jitter.0 + 1) } else { 0 };
        let tx = transmission_ns(size, l.bandwidth_bps);
        let held = if n.reorder > 0.0 && n.rng.unit() < n.reorder {
            n.rng.below(l.latency.0.saturating_mul(2).saturating_add(1))
        } else {
            0
        };
        Some(Dur(l.latency.0.saturating_add(jitter).saturating_add(tx).saturating_add(held)) + cross)
    }

    /// A degraded link delivers some packets twice (the copy shortly after).
    pub(super) fn maybe_duplicate(&mut self, net: Option<NetId>, at: crate::time::Time, p: super::event::Packet) {
        let Some(id) = net else { return };
        let n = &mut self.nets[id];
        if n.duplicate > 0.0 && n.rng.unit() < n.duplicate {
            let later = at + n.link.latency;
            self.checks.attempts += 1;
            self.push_packet(later, p);
        }
    }

    /// The Swarm node a namespace lives on (the host's is node 0).
    fn node_of(&self, s: StackId) -> u32 {
        self.stacks[s.0 as usize].owner.map_or(0, |c| self.ctrs[c].spec.node)
    }
}

#[cfg(test)]
mod tests {
    use super::transmission_ns;

    /// The transmission time is size × 8 / bandwidth, rounded down, for
    /// every size: a 4 GB message on 10 Gbit/s takes 3.2 s (the 64-bit
    /// product wrapped it to 1.356 s before).
    #[test]
    fn transmission_time_is_exact_for_every_size() {
        assert_eq!(transmission_ns(1_250, 10_000_000_000), 1_000);
        assert_eq!(transmission_ns(100, 3), 266_666_666_666);
        assert_eq!(transmission_ns(4_000_000_000, 10_000_000_000), 3_200_000_000);
        assert_eq!(transmission_ns(u32::MAX, 8), u64::from(u32::MAX) * 1_000_000_000);
        assert_eq!(transmission_ns(u32::MAX, 1), u64::MAX, "past 2^64 ns it saturates");
        assert_eq!(transmission_ns(10, 0), 80_000_000_000, "a zero bandwidth counts as 1 bit/s");
    }
}
