//! Who holds each address of a network: the table every routed packet looks
//! up (the bridge's forwarding database, in effect).
//!
//! A two-level table indexed by the address's offset from the subnet's base,
//! like a page table: pages of 1,024 holders, allocated when the first
//! address in their range is handed out. A lookup is two loads whatever the
//! number of containers, and iteration is in address order. Docker hands
//! out addresses from the bottom of the subnet, so a /16 with a few hundred
//! containers holds one or two pages (8 KiB each); a static address high in
//! a /8 adds one page and a pointer per 1,024 addresses below it (64 KiB of
//! pointers for 10.128.0.0).

use crate::id::CtrId;
use crate::net::addr::{Ip, Subnet};

const PAGE_BITS: u32 = 10;
const PAGE: usize = 1 << PAGE_BITS;

type Page = Box<[Option<CtrId>; PAGE]>;

#[derive(Debug)]
pub struct Holders {
    /// `None` for a network without a subnet, which never holds an address.
    subnet: Option<Subnet>,
    pages: Vec<Option<Page>>,
}

impl Holders {
    pub fn new(subnet: Option<Subnet>) -> Holders {
        Holders { subnet, pages: Vec::new() }
    }

    /// (page, index in the page) of `ip`; `None` outside the subnet.
    fn place(&self, ip: Ip) -> Option<(usize, usize)> {
        let s = self.subnet.filter(|s| s.contains(ip))?;
        let off = s.offset_of(ip) as usize;
        Some((off >> PAGE_BITS, off & (PAGE - 1)))
    }

    #[inline]
    pub fn get(&self, ip: &Ip) -> Option<&CtrId> {
        let (p, i) = self.place(*ip)?;
        self.pages.get(p)?.as_ref()?[i].as_ref()
    }

    /// Records `ctr` at `ip`, an address the network's IPAM handed out (so
    /// inside its subnet: `Pool::reserve` refuses any other).
    pub fn insert(&mut self, ip: Ip, ctr: CtrId) {
        let (p, i) = self.place(ip).expect("IPAM hands out addresses inside the subnet");
        if p >= self.pages.len() {
            self.pages.resize_with(p + 1, || None);
        }
        self.pages[p].get_or_insert_with(|| Box::new([None; PAGE]))[i] = Some(ctr);
    }

    pub fn remove(&mut self, ip: &Ip) {
        if let Some((p, i)) = self.place(*ip) {
            if let Some(Some(page)) = self.pages.get_mut(p) {
                page[i] = None;
            }
        }
    }

    /// Every (address, holder), in address order.
    pub fn iter(&self) -> impl Iterator<Item = (Ip, CtrId)> + '_ {
        let subnet = self.subnet;
        self.pages.iter().enumerate().filter_map(|(p, page)| Some((p, page.as_ref()?))).flat_map(move |(p, page)| {
            page.iter().enumerate().filter_map(move |(i, c)| {
                let host = subnet?.host(((p << PAGE_BITS) | i) as u32);
                Some((host, (*c)?))
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slotmap::SlotMap;
    use std::collections::BTreeMap;

    #[test]
    fn lookups_and_order_match_an_ordered_map_across_pages() {
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

        // A network without a subnet holds nothing and answers every lookup.
        let plain = Holders::new(None);
        assert_eq!(plain.get(&Ip::new(172, 17, 0, 2)), None);
        assert_eq!(plain.iter().count(), 0);
    }
}
