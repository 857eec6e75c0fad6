//! A namespace's listening sockets by port, held in the namespace itself.
//!
//! A namespace listens on a port or two (a server), most on none (a
//! client). A `BTreeMap` allocated a node of about 400 bytes for the first
//! listener, so a SYN or the ACK completing a handshake read the namespace,
//! then that node, each a miss at 10⁵ servers. Here the first listener
//! sits inline in the namespace's `Stack` (a vector sorted by port,
//! spilling to the heap past one), so one prefetch of the namespace covers
//! it. Same order as the map it replaces: ascending ports.

use smallvec::SmallVec;

#[derive(Clone, Debug)]
pub struct Ports<V>(SmallVec<[(u16, V); 1]>);

impl<V> Default for Ports<V> {
    fn default() -> Self {
        Ports(SmallVec::new())
    }
}

impl<V> Ports<V> {
    fn find(&self, port: u16) -> Result<usize, usize> {
        self.0.binary_search_by_key(&port, |e| e.0)
    }

    pub fn get(&self, port: &u16) -> Option<&V> {
        self.find(*port).ok().map(|i| &self.0[i].1)
    }

    pub fn get_mut(&mut self, port: &u16) -> Option<&mut V> {
        self.find(*port).ok().map(|i| &mut self.0[i].1)
    }

    pub fn contains_key(&self, port: &u16) -> bool {
        self.find(*port).is_ok()
    }

    /// Sets `port`'s value; returns the one it replaces.
    pub fn insert(&mut self, port: u16, v: V) -> Option<V> {
        match self.find(port) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, v)),
            Err(i) => {
                self.0.insert(i, (port, v));
                None
            }
        }
    }

    pub fn remove(&mut self, port: &u16) -> Option<V> {
        self.find(*port).ok().map(|i| self.0.remove(i).1)
    }

    /// Keeps the entries `f` says to, visited in port order.
    pub fn retain(&mut self, mut f: impl FnMut(&u16, &mut V) -> bool) {
        self.0.retain(|(p, v)| f(p, v));
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    #[cfg(test)]
    /// The entries in port order.
    pub fn iter(&self) -> impl Iterator<Item = (&u16, &V)> {
        self.0.iter().map(|(p, v)| (p, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// The same inserts (new and replacing), removals, lookups and retains
    /// as a `BTreeMap`: the same answers and the same order throughout.
    #[test]
    fn behaves_like_an_ordered_map() {
        let mut ours: Ports<u32> = Ports::default();
        let mut theirs: BTreeMap<u16, u32> = BTreeMap::new();
        let mut x: u32 = 0x9e37_79b9;
        for step in 0..5_000u32 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            // Few distinct ports, so inserts replace and removals hit.
            let port = (x >> 8) as u16 % 12;
            match x % 7 {
                0..=2 => assert_eq!(ours.insert(port, step), theirs.insert(port, step), "insert {port}"),
                3 | 4 => assert_eq!(ours.remove(&port), theirs.remove(&port), "remove {port}"),
                5 if step % 13 == 0 => {
                    let m = x % 3;
                    ours.retain(|p, v| (u32::from(*p) + *v) % 3 != m);
                    theirs.retain(|p, v| (u32::from(*p) + *v) % 3 != m);
                }
                _ => {
                    assert_eq!(ours.get(&port), theirs.get(&port));
                    assert_eq!(ours.contains_key(&port), theirs.contains_key(&port));
                    if let (Some(a), Some(b)) = (ours.get_mut(&port), theirs.get_mut(&port)) {
                        *a += 1;
                        *b += 1;
                    }
                }
            }
            assert_eq!(ours.len(), theirs.len());
            assert!(ours.iter().eq(theirs.iter()), "step {step}: same entries in the same order");
        }
        assert_eq!(ours.is_empty(), theirs.is_empty());
    }
}
