//! Who holds each address of a network: the table every routed packet looks
//! up (the bridge's forwarding database, in effect).
//!
//! Addresses are handed out from the bottom of the subnet, so the first
//! 65,536 offsets from the subnet's base are a directly indexed vector (one
//! load per lookup, whatever the number of containers); anything above that,
//! and every address of a network without a subnet, is in a `BTreeMap`.
//! Iteration is in address order either way: every offset in the map is
//! above every offset in the vector.

use std::collections::BTreeMap;

use crate::id::CtrId;
use crate::net::addr::{Ip, Subnet};

/// Offsets from the subnet's base held in the vector: a /16, Docker's
/// default pool size, fits entirely (512 KiB at most, grown only as far as
/// the highest address handed out).
const DENSE: u32 = 1 << 16;

#[derive(Debug, Default)]
pub struct Holders {
    base: Option<u32>,
    dense: Vec<Option<CtrId>>,
    rest: BTreeMap<Ip, CtrId>,
}

impl Holders {
    pub fn new(subnet: Option<Subnet>) -> Holders {
        Holders { base: subnet.map(|s| s.base), dense: Vec::new(), rest: BTreeMap::new() }
    }

    fn offset(&self, ip: Ip) -> Option<usize> {
        let off = u32::from(ip).wrapping_sub(self.base?);
        (off < DENSE).then_some(off as usize)
    }

    #[inline]
    pub fn get(&self, ip: &Ip) -> Option<&CtrId> {
        match self.offset(*ip) {
            Some(i) => self.dense.get(i)?.as_ref(),
            None => self.rest.get(ip),
        }
    }

    pub fn insert(&mut self, ip: Ip, ctr: CtrId) {
        match self.offset(ip) {
            Some(i) => {
                if i >= self.dense.len() {
                    self.dense.resize(i + 1, None);
                }
                self.dense[i] = Some(ctr);
            }
            None => {
                self.rest.insert(ip, ctr);
            }
        }
    }

    pub fn remove(&mut self, ip: &Ip) {
        match self.offset(*ip) {
            Some(i) => {
                if let Some(slot) = self.dense.get_mut(i) {
                    *slot = None;
                }
            }
            None => {
                self.rest.remove(ip);
            }
        }
    }

    /// Every (address, holder), in address order.
    pub fn iter(&self) -> impl Iterator<Item = (Ip, CtrId)> + '_ {
        let base = self.base.unwrap_or(0);
        let dense = self.dense.iter().enumerate().filter_map(move |(i, c)| Some((Ip::from(base + i as u32), (*c)?)));
        dense.chain(self.rest.iter().map(|(&ip, &c)| (ip, c)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slotmap::SlotMap;

    #[test]
    fn lookups_and_order_match_an_ordered_map_on_both_sides_of_the_dense_range() {
        let mut ids: SlotMap<CtrId, ()> = SlotMap::with_key();
        let subnet = Subnet::new(Ip::new(10, 0, 0, 0), 8);
        let mut h = Holders::new(Some(subnet));
        let mut reference = BTreeMap::new();
        let ips = [
            Ip::new(10, 0, 0, 2),
            Ip::new(10, 0, 255, 255),
            Ip::new(10, 1, 0, 0),
            Ip::new(10, 0, 0, 3),
            Ip::new(10, 200, 0, 1),
        ];
        for ip in ips {
            let c = ids.insert(());
            h.insert(ip, c);
            reference.insert(ip, c);
        }
        h.remove(&Ip::new(10, 0, 0, 3));
        reference.remove(&Ip::new(10, 0, 0, 3));
        h.remove(&Ip::new(10, 1, 0, 0));
        reference.remove(&Ip::new(10, 1, 0, 0));
        for probe in ips.iter().chain(&[Ip::new(10, 0, 0, 9), Ip::new(11, 0, 0, 1), Ip::new(9, 255, 255, 255)]) {
            assert_eq!(h.get(probe), reference.get(probe), "{probe}");
        }
        let got: Vec<_> = h.iter().collect();
        let want: Vec<_> = reference.iter().map(|(&ip, &c)| (ip, c)).collect();
        assert_eq!(got, want);

        let mut plain = Holders::new(None);
        plain.insert(Ip::new(172, 17, 0, 2), ids.insert(()));
        assert!(plain.get(&Ip::new(172, 17, 0, 2)).is_some());
        assert_eq!(plain.iter().count(), 1);
    }
}
