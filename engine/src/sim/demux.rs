//! The TCP demultiplexing table: each open connection's (namespace, local,
//! remote) 4-tuple → the connection.
//!
//! Compact: an entry is the connection's id and 32 bits of its 4-tuple's
//! hash, 12 bytes (a map keyed by the 4-tuple took 24), and the 4-tuple
//! itself is read from the connection when a stored hash matches. The table
//! grows by rehashing from the stored hashes alone, so growing never reads a
//! connection. Only looked up, never iterated, and the hash is a fixed
//! function of the 4-tuple: nothing in it depends on anything but the run's
//! inputs.
//!
//! The caller keeps one entry per 4-tuple (connect skips ephemeral ports
//! whose 4-tuple is in use; a SYN makes a connection only when none has its
//! 4-tuple) and removes a connection's entry when it frees the connection
//! (`remove` matches the id, so it works once the connection is gone).

use std::hash::{Hash, Hasher};

use hashbrown::HashTable;

use super::slots::Slots;
use super::world::Conn;
use crate::id::{ConnId, StackId};
use crate::net::addr::SockAddr;

/// A connection's namespace, local and remote address.
pub type FourTuple = (StackId, SockAddr, SockAddr);

#[derive(Default)]
pub struct Demux {
    table: HashTable<(u32, ConnId)>,
}

fn hash32(key: &FourTuple) -> u32 {
    let mut h = rustc_hash::FxHasher::default();
    key.hash(&mut h);
    let x = h.finish();
    (x ^ (x >> 32)) as u32
}

/// The table's 64-bit hash of a stored 32-bit one: a multiply spreads it to
/// the high bits (the table's per-entry tag) as well as the low (the bucket).
fn widen(h: u32) -> u64 {
    u64::from(h).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl Demux {
    /// The open connection with this 4-tuple.
    pub fn get(&self, key: &FourTuple, conns: &Slots<ConnId, Conn>) -> Option<ConnId> {
        let h = hash32(key);
        let is =
            |&(eh, id): &(u32, ConnId)| eh == h && conns.get(id).is_some_and(|c| (c.stack, c.local, c.remote) == *key);
        self.table.find(widen(h), is).map(|&(_, id)| id)
    }

    /// Adds `conn` under its 4-tuple `key`, which no open connection has.
    pub fn insert(&mut self, key: &FourTuple, conn: ConnId) {
        let h = hash32(key);
        self.table.insert_unique(widen(h), (h, conn), |&(h, _)| widen(h));
    }

    /// Removes connection `conn`, stored under `key`.
    pub fn remove(&mut self, key: &FourTuple, conn: ConnId) {
        let h = hash32(key);
        if let Ok(e) = self.table.find_entry(widen(h), |&(eh, id)| eh == h && id == conn) {
            e.remove();
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.table.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::addr::Ip;
    use crate::sim::fabric::CachedRoute;
    use crate::sim::world::TcpState;
    use crate::time::Time;

    fn conn(stack: u32, lport: u16, rport: u16) -> Conn {
        Conn {
            stack: StackId(stack),
            owner: Default::default(),
            proc: 0,
            inc: 0,
            local: SockAddr::new(Ip::new(10, 0, 0, 2), lport),
            remote: SockAddr::new(Ip::new(10, 0, 0, 3), rport),
            state: TcpState::Established,
            dial: None,
            tx_last: Time::ZERO,
            tx_seq: 0,
            rx_seq: 0,
            drops: 0,
            last_drop: None,
            route: CachedRoute::NONE,
            peer: None,
        }
    }

    /// Against a BTreeMap of the same 4-tuples, through growth (many
    /// rehashes), removal and lookups of absent and freed connections.
    #[test]
    fn agrees_with_an_ordered_map_through_growth_and_removal() {
        let mut conns: Slots<ConnId, Conn> = Slots::default();
        let mut demux = Demux::default();
        let mut reference = std::collections::BTreeMap::new();
        for i in 0..5_000u32 {
            let c = conn(i % 7, 32_768 + (i % 20_000) as u16, 80 + (i / 20_000) as u16);
            let key = (c.stack, c.local, c.remote);
            let id = conns.insert(c);
            demux.insert(&key, id);
            reference.insert(key, id);
        }
        // Remove every third, freeing the connection first (as free_conn does).
        let keys: Vec<_> = reference.keys().copied().collect();
        for key in keys.iter().step_by(3) {
            let id = reference.remove(key).unwrap();
            conns.remove(id);
            demux.remove(key, id);
        }
        assert_eq!(demux.len(), reference.len());
        for key in &keys {
            assert_eq!(demux.get(key, &conns), reference.get(key).copied(), "{key:?}");
        }
        // A 4-tuple nobody has, and one whose connection was freed and whose
        // slot was reused by a connection with another 4-tuple.
        let absent = (StackId(99), keys[0].1, keys[0].2);
        assert_eq!(demux.get(&absent, &conns), None);
        let reused = conns.insert(conn(8, 1, 1));
        demux.insert(&(StackId(8), conns[reused].local, conns[reused].remote), reused);
        assert_eq!(demux.get(&keys[0], &conns), None);
        assert_eq!(demux.get(&(StackId(8), conns[reused].local, conns[reused].remote), &conns), Some(reused));
    }

    /// Two 4-tuples whose 32-bit hashes collide (found by search, the same
    /// pair every run): each finds only its own connection, and removing one
    /// leaves the other.
    #[test]
    fn colliding_hashes_are_told_apart_by_the_connection() {
        let nth = |i: u32| conn(i / 28_000, 32_768 + (i % 28_000) as u16, 80);
        let mut seen = std::collections::BTreeMap::new();
        let (i, j) = (0u32..)
            .find_map(|j| {
                let c = nth(j);
                seen.insert(hash32(&(c.stack, c.local, c.remote)), j).map(|i| (i, j))
            })
            .unwrap();
        let (a, b) = (nth(i), nth(j));
        let mut conns: Slots<ConnId, Conn> = Slots::default();
        let mut demux = Demux::default();
        let (ka, kb) = ((a.stack, a.local, a.remote), (b.stack, b.local, b.remote));
        assert_ne!(ka, kb);
        assert_eq!(hash32(&ka), hash32(&kb));
        let ia = conns.insert(a);
        demux.insert(&ka, ia);
        assert_eq!(demux.get(&kb, &conns), None, "a colliding 4-tuple is not a match");
        let ib = conns.insert(b);
        demux.insert(&kb, ib);
        assert_eq!((demux.get(&ka, &conns), demux.get(&kb, &conns)), (Some(ia), Some(ib)));
        // The later one: a removal that matched the hash alone would take
        // the earlier, found first.
        conns.remove(ib);
        demux.remove(&kb, ib);
        assert_eq!((demux.get(&ka, &conns), demux.get(&kb, &conns)), (Some(ia), None));
        conns.remove(ia);
        demux.remove(&ka, ia);
        assert!(demux.is_empty());
    }
}
