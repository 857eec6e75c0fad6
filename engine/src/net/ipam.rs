//! IP address management, as Docker's default IPAM does it (docker-facts §2).
//!
//! Subnets come from the local pools in order (172.17/16, 172.18/16,
//! 172.19/16, then 172.20/14, 172.24/14, 172.28/14 cut in /16s, then
//! 192.168.0.0/16 cut in /20s); each new network takes the first free one.
//! Inside a subnet, .0 and the broadcast are reserved, the gateway takes .1,
//! and every container gets the lowest free address: a released address goes
//! to the next request. Static addresses (`--ip`) are reserved the same way.

use super::addr::{Ip, Subnet};
use std::collections::BTreeSet;

/// The local default pools, expanded into the subnets they hand out, in order.
pub fn default_pool_subnets() -> impl Iterator<Item = Subnet> {
    let sixteens = (17u32..=31).map(|b| Subnet { base: (172 << 24) | (b << 16), prefix: 16 });
    let twenties = (0u32..16).map(|k| Subnet { base: (192 << 24) | (168 << 16) | (k << 12), prefix: 20 });
    sixteens.chain(twenties)
}

/// The Swarm (overlay) pool: 10.0.0.0/8 cut in /24s.
pub fn overlay_pool_subnets() -> impl Iterator<Item = Subnet> {
    (0u32..65536).map(|k| Subnet { base: (10 << 24) | (k << 8), prefix: 24 })
}

/// Picks the first pool subnet that overlaps none of `taken`.
pub fn next_free_subnet(taken: &[Subnet]) -> Option<Subnet> {
    default_pool_subnets().find(|s| taken.iter().all(|t| !t.overlaps(s)))
}

/// Address allocator of one network.
#[derive(Clone, Debug)]
pub struct Pool {
    pub subnet: Subnet,
    pub gateway: Ip,
    used: BTreeSet<u32>,
    /// Swarm's allocator hands addresses out serially (after the last one
    /// given) instead of lowest-free.
    pub serial: bool,
    last: u32,
    /// No address below this offset is free (makes lowest-free allocation
    /// amortised O(1) instead of a scan from the start).
    hint: u32,
    /// Dynamic addresses come from offsets `range.0 ..= range.1` (`--ip-range`).
    range: (u32, u32),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IpamError {
    Exhausted,
    OutOfSubnet,
    AlreadyAllocated,
}

impl Pool {
    pub fn new(subnet: Subnet, gateway: Ip) -> Pool {
        let mut used = BTreeSet::new();
        used.insert(0);
        used.insert(subnet.size() - 1);
        used.insert(subnet.offset_of(gateway));
        Pool { subnet, gateway, used, serial: false, last: 0, hint: 1, range: (1, subnet.size() - 2) }
    }

    /// Gives dynamic addresses from `range` alone (inside the subnet, as
    /// lowering checks; its own first address included, as moby's
    /// allocator gives it); static ones may still lie anywhere in the subnet.
    pub fn limit_to(&mut self, range: Subnet) {
        let (lo, hi) = (self.subnet.offset_of(range.host(0)), self.subnet.offset_of(range.broadcast()));
        self.range = (lo.max(1), hi.min(self.subnet.size() - 2));
        self.hint = self.range.0;
    }

    /// The lowest free address (or, serially, the next free after the last one given).
    pub fn allocate(&mut self) -> Result<Ip, IpamError> {
        if self.serial {
            let n = self.subnet.size() - 1;
            let next = (1..n).map(|k| (self.last + k) % n).find(|o| *o != 0 && !self.used.contains(o));
            let o = next.ok_or(IpamError::Exhausted)?;
            self.used.insert(o);
            self.last = o;
            return Ok(self.subnet.host(o));
        }
        let mut want = self.hint.max(self.range.0);
        for &u in self.used.range(want..) {
            if u > want {
                break;
            }
            if u == want {
                want += 1;
            }
        }
        self.hint = want + 1;
        if want > self.range.1 {
            return Err(IpamError::Exhausted);
        }
        self.used.insert(want);
        Ok(self.subnet.host(want))
    }

    /// Reserves a requested (static) address.
    pub fn reserve(&mut self, ip: Ip) -> Result<Ip, IpamError> {
        if !self.subnet.contains(ip) {
            return Err(IpamError::OutOfSubnet);
        }
        if !self.used.insert(self.subnet.offset_of(ip)) {
            return Err(IpamError::AlreadyAllocated);
        }
        Ok(ip)
    }

    pub fn release(&mut self, ip: Ip) {
        if self.subnet.contains(ip) && ip != self.gateway {
            let o = self.subnet.offset_of(ip);
            self.used.remove(&o);
            self.hint = self.hint.min(o);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_in_docker_order() {
        let first: Vec<String> = default_pool_subnets().take(4).map(|s| s.to_string()).collect();
        assert_eq!(first, ["172.17.0.0/16", "172.18.0.0/16", "172.19.0.0/16", "172.20.0.0/16"]);
        assert_eq!(default_pool_subnets().nth(15).unwrap().to_string(), "192.168.0.0/20");
        let taken = [Subnet::parse("172.17.0.0/16").unwrap()];
        assert_eq!(next_free_subnet(&taken).unwrap().to_string(), "172.18.0.0/16");
    }

    #[test]
    fn lowest_free_and_reuse() {
        let s = Subnet::parse("172.18.0.0/16").unwrap();
        let mut p = Pool::new(s, s.host(1));
        let a = p.allocate().unwrap();
        let b = p.allocate().unwrap();
        assert_eq!((a.to_string(), b.to_string()), ("172.18.0.2".into(), "172.18.0.3".into()));
        p.release(a);
        assert_eq!(p.allocate().unwrap(), a, "released address goes to the next request");
        assert_eq!(p.allocate().unwrap().to_string(), "172.18.0.4");
    }

    /// `--ip-range`: dynamic addresses from the range only, its first
    /// address included; static ones anywhere in the subnet; exhausted at
    /// the range's end.
    #[test]
    fn an_ip_range_bounds_the_dynamic_addresses() {
        let s = Subnet::parse("10.9.0.0/24").unwrap();
        let mut p = Pool::new(s, s.host(1));
        p.limit_to(Subnet::parse("10.9.0.252/30").unwrap());
        assert_eq!(p.reserve(s.host(3)), Ok(s.host(3)), "a static address outside the range");
        assert_eq!(p.allocate(), Ok(s.host(252)));
        assert_eq!(p.allocate(), Ok(s.host(253)));
        assert_eq!(p.allocate(), Ok(s.host(254)));
        assert_eq!(p.allocate(), Err(IpamError::Exhausted), "255 is the subnet's broadcast");
        p.release(s.host(3));
        p.release(s.host(253));
        assert_eq!(p.allocate(), Ok(s.host(253)), "not the released static address below the range");
    }

    #[test]
    fn static_addresses() {
        let s = Subnet::parse("10.5.0.0/24").unwrap();
        let mut p = Pool::new(s, s.host(1));
        let ip: Ip = "10.5.0.2".parse().unwrap();
        assert_eq!(p.reserve(ip), Ok(ip));
        assert_eq!(p.reserve(ip), Err(IpamError::AlreadyAllocated));
        assert_eq!(p.reserve("10.6.0.2".parse().unwrap()), Err(IpamError::OutOfSubnet));
        assert_eq!(p.allocate().unwrap().to_string(), "10.5.0.3");
    }

    #[test]
    fn swarm_allocates_serially() {
        let s = Subnet::parse("10.0.1.0/24").unwrap();
        let mut p = Pool::new(s, s.host(1));
        p.serial = true;
        let a = p.allocate().unwrap();
        let b = p.allocate().unwrap();
        p.release(a);
        assert_eq!(p.allocate().unwrap().to_string(), "10.0.1.4", "not the released .2");
        assert_eq!(b.to_string(), "10.0.1.3");
    }

    #[test]
    fn exhaustion() {
        let s = Subnet::parse("10.5.0.0/30").unwrap();
        let mut p = Pool::new(s, s.host(1));
        assert_eq!(p.allocate().unwrap().to_string(), "10.5.0.2");
        assert_eq!(p.allocate(), Err(IpamError::Exhausted));
    }
}
