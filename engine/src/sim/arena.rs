//! An arena that only grows: the containers'.
//!
//! A container is never removed from a world (`docker rm` leaves it in the
//! `Removed` state), so its id needs no generation: the arena is a `Vec`
//! and an id is its index. Ids are the slotmap keys a `SlotMap` would have
//! handed out for the same insertions (index from 1, version 1), so every
//! id, and every order derived from ids, is what it was with a `SlotMap`.
//!
//! Why not a `SlotMap`: a lookup there reads the slot's version word, which
//! sits after the value, and the slot's stride (value plus version) is not
//! a whole number of cache lines, so the version and a container's hot
//! fields often lie on two lines. Here a lookup reads only the value, and a
//! value type aligned to 64 bytes (as `Container` is) puts its leading
//! fields on one line.

use slotmap::{Key, KeyData};
use std::marker::PhantomData;

pub struct Dense<K, V> {
    items: Vec<V>,
    _key: PhantomData<fn(K) -> K>,
}

impl<K: Key, V> Default for Dense<K, V> {
    fn default() -> Self {
        Dense { items: Vec::new(), _key: PhantomData }
    }
}

/// The version a `SlotMap` gives a slot's first occupant.
const VERSION: u64 = 1;

impl<K: Key, V> Dense<K, V> {
    fn key(i: usize) -> K {
        KeyData::from_ffi((VERSION << 32) | (i as u64 + 1)).into()
    }

    /// The index of `k`, or `None` for a key this arena cannot have made.
    fn index(k: K) -> Option<usize> {
        let ffi = k.data().as_ffi();
        let idx = (ffi & 0xffff_ffff) as usize;
        (ffi >> 32 == VERSION && idx > 0).then(|| idx - 1)
    }

    pub fn insert(&mut self, v: V) -> K {
        self.items.push(v);
        Self::key(self.items.len() - 1)
    }

    pub fn reserve(&mut self, additional: usize) {
        self.items.reserve(additional);
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Where `k`'s value sits in insertion order (for tables indexed
    /// alongside the arena).
    pub fn position(&self, k: K) -> Option<usize> {
        Self::index(k).filter(|&i| i < self.items.len())
    }

    pub fn get(&self, k: K) -> Option<&V> {
        Self::index(k).and_then(|i| self.items.get(i))
    }

    pub fn get_mut(&mut self, k: K) -> Option<&mut V> {
        Self::index(k).and_then(|i| self.items.get_mut(i))
    }

    /// In insertion order (a `SlotMap`'s slot order, as nothing is removed).
    pub fn iter(&self) -> impl Iterator<Item = (K, &V)> {
        self.items.iter().enumerate().map(|(i, v)| (Self::key(i), v))
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.items.iter()
    }
}

impl<K: Key, V> std::ops::Index<K> for Dense<K, V> {
    type Output = V;
    fn index(&self, k: K) -> &V {
        self.get(k).expect("a container id of this world")
    }
}

impl<K: Key, V> std::ops::IndexMut<K> for Dense<K, V> {
    fn index_mut(&mut self, k: K) -> &mut V {
        self.get_mut(k).expect("a container id of this world")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slotmap::SlotMap;

    #[test]
    fn ids_and_order_are_a_slotmaps() {
        let mut dense: Dense<crate::id::CtrId, u32> = Dense::default();
        let mut slots: SlotMap<crate::id::CtrId, u32> = SlotMap::with_key();
        for v in [7, 3, 9, 1] {
            assert_eq!(dense.insert(v), slots.insert(v));
        }
        assert!(dense.iter().map(|(k, v)| (k, *v)).eq(slots.iter().map(|(k, v)| (k, *v))));
        for (k, v) in slots.iter() {
            assert_eq!(dense[k], *v);
        }
        *dense.get_mut(slots.keys().nth(2).unwrap()).unwrap() += 1;
        assert!(dense.values().copied().eq([7, 3, 10, 1]));
        assert_eq!(dense.len(), 4);
        let keys: Vec<_> = slots.keys().collect();
        assert_eq!(keys.iter().map(|&k| dense.position(k)).collect::<Vec<_>>(), [Some(0), Some(1), Some(2), Some(3)]);
    }

    #[test]
    fn keys_it_cannot_have_made_are_absent() {
        let mut dense: Dense<crate::id::CtrId, u32> = Dense::default();
        let mut slots: SlotMap<crate::id::CtrId, u32> = SlotMap::with_key();
        dense.insert(1);
        let a = slots.insert(1);
        slots.remove(a);
        let reused = slots.insert(2); // same index, version 3
        assert_eq!(dense.get(reused), None);
        assert_eq!(dense.get(crate::id::CtrId::null()), None);
        let beyond = slots.insert(3);
        assert_eq!(dense.get(beyond), None, "index past the end");
        assert_eq!(dense.position(beyond), None);
    }
}
