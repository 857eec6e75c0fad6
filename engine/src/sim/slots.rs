//! A generational arena for the tables that free entries: the connections,
//! the dials and the DNS queries.
//!
//! It hands out exactly the keys a `slotmap::SlotMap` would for the same
//! inserts and removals, and iterates in the same order: a sentinel slot 0,
//! new slots pushed at the end with version 1, freed slots reused last
//! freed first, a slot's version made even when freed and odd again when
//! reused. So every id, and every order derived from ids (which connections
//! a crash closes first), is what it was with a `SlotMap`; a test drives
//! both with the same operations and compares.
//!
//! Why not the `SlotMap`: any look at a slot there — even to prefetch it —
//! first reads the slot's version, which sits after the value, so the event
//! loop's prefetch of the connection of the event after next was a demand
//! load that stalled retirement when it missed (`perf` put 71 % of
//! `World::run`'s samples at 400,000 connections on that one check). Here
//! [`Slots::prefetch`] computes the slot's address from the key's index
//! alone and reads nothing, and the version sits in front of the value, on
//! the line of its leading fields.

use slotmap::{Key, KeyData};
use std::marker::PhantomData;

use super::prefetch::prefetch_span;

/// One slot: the version first (odd while occupied), then the free list's
/// link, then the value (`None` while free).
#[repr(C)]
struct Slot<V> {
    version: u32,
    next_free: u32,
    value: Option<V>,
}

pub struct Slots<K, V> {
    slots: Vec<Slot<V>>,
    free_head: u32,
    len: u32,
    _key: PhantomData<fn(K) -> K>,
}

impl<K: Key, V> Default for Slots<K, V> {
    fn default() -> Self {
        Slots { slots: vec![Slot { version: 0, next_free: 0, value: None }], free_head: 1, len: 0, _key: PhantomData }
    }
}

fn key<K: Key>(idx: u32, version: u32) -> K {
    KeyData::from_ffi((u64::from(version) << 32) | u64::from(idx)).into()
}

fn split<K: Key>(k: K) -> (usize, u32) {
    let ffi = k.data().as_ffi();
    ((ffi & 0xffff_ffff) as usize, (ffi >> 32) as u32)
}

impl<K: Key, V> Slots<K, V> {
    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many values fit before the slots grow (the sentinel apart).
    pub fn capacity(&self) -> usize {
        self.slots.capacity() - 1
    }

    /// Room for `additional` more values than are held now.
    pub fn reserve(&mut self, additional: usize) {
        let needed = (self.len() + additional).saturating_sub(self.slots.len() - 1);
        self.slots.reserve(needed);
    }

    pub fn insert(&mut self, value: V) -> K {
        self.len += 1;
        if let Some(slot) = self.slots.get_mut(self.free_head as usize) {
            let idx = self.free_head;
            slot.version |= 1;
            slot.value = Some(value);
            self.free_head = slot.next_free;
            return key(idx, slot.version);
        }
        let idx = u32::try_from(self.slots.len()).ok().filter(|&i| i < u32::MAX).expect("more than 2^32 slots");
        self.slots.push(Slot { version: 1, next_free: 0, value: Some(value) });
        self.free_head = idx + 1;
        key(idx, 1)
    }

    /// The slot `k` names, if it still holds `k`'s value.
    #[inline]
    fn slot(&self, k: K) -> Option<&Slot<V>> {
        let (idx, version) = split(k);
        self.slots.get(idx).filter(|s| s.version == version)
    }

    pub fn get(&self, k: K) -> Option<&V> {
        self.slot(k).and_then(|s| s.value.as_ref())
    }

    pub fn get_mut(&mut self, k: K) -> Option<&mut V> {
        let (idx, version) = split(k);
        self.slots.get_mut(idx).filter(|s| s.version == version).and_then(|s| s.value.as_mut())
    }

    pub fn contains_key(&self, k: K) -> bool {
        self.get(k).is_some()
    }

    pub fn remove(&mut self, k: K) -> Option<V> {
        let (idx, version) = split(k);
        if self.slots.get(idx)?.version != version {
            return None;
        }
        self.release(idx)
    }

    /// Takes slot `idx`'s value and frees the slot: its version made even
    /// (no key of it matches now), the free list's head.
    fn release(&mut self, idx: usize) -> Option<V> {
        let slot = &mut self.slots[idx];
        let value = slot.value.take()?;
        slot.version = slot.version.wrapping_add(1);
        slot.next_free = self.free_head;
        self.free_head = idx as u32;
        self.len -= 1;
        Some(value)
    }

    /// Keeps the values `f` says to, visiting them in slot order (freed
    /// ones join the free list in that order, as a `SlotMap`'s do).
    pub fn retain(&mut self, mut f: impl FnMut(K, &mut V) -> bool) {
        for idx in 1..self.slots.len() {
            let slot = &mut self.slots[idx];
            let Some(v) = slot.value.as_mut() else { continue };
            if !f(key(idx as u32, slot.version), v) {
                self.release(idx);
            }
        }
    }

    /// The values and their keys, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (K, &V)> {
        self.slots.iter().enumerate().filter_map(|(i, s)| s.value.as_ref().map(|v| (key(i as u32, s.version), v)))
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.slots.iter().filter_map(|s| s.value.as_ref())
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.slots.iter_mut().filter_map(|s| s.value.as_mut())
    }

    /// A prefetch hint for `k`'s slot, computed from the key's index alone:
    /// nothing of the slot is read (a stale key prefetches whatever the slot
    /// holds now, harmlessly).
    #[inline(always)]
    pub fn prefetch(&self, k: K) {
        if let Some(s) = self.slots.get(split(k).0) {
            prefetch_span(s);
        }
    }
}

impl<K: Key, V> std::ops::Index<K> for Slots<K, V> {
    type Output = V;
    fn index(&self, k: K) -> &V {
        self.get(k).expect("a key of a value this table still holds")
    }
}

impl<K: Key, V> std::ops::IndexMut<K> for Slots<K, V> {
    fn index_mut(&mut self, k: K) -> &mut V {
        self.get_mut(k).expect("a key of a value this table still holds")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::ConnId;
    use slotmap::SlotMap;

    /// The same inserts, removals (of live, freed and never-made keys),
    /// retains and reserves on both: the same keys, lookups, lengths and
    /// iteration order throughout.
    #[test]
    fn hands_out_what_a_slotmap_would() {
        let mut ours: Slots<ConnId, u64> = Slots::default();
        let mut theirs: SlotMap<ConnId, u64> = SlotMap::with_key();
        let mut keys: Vec<ConnId> = Vec::new();
        // Removals refused and done: the sequence must try both.
        let mut outcomes = [0u32; 2];
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for step in 0..20_000u64 {
            let r = next();
            match r % 10 {
                0..=4 => {
                    let (a, b) = (ours.insert(step), theirs.insert(step));
                    assert_eq!(a, b, "step {step}: insert");
                    keys.push(a);
                }
                5..=7 if !keys.is_empty() => {
                    // Any key made so far: live ones are removed, ones
                    // removed before are refused, by both alike.
                    let k = keys[(r >> 8) as usize % keys.len()];
                    let removed = ours.remove(k);
                    assert_eq!(removed, theirs.remove(k), "step {step}: remove");
                    outcomes[usize::from(removed.is_some())] += 1;
                }
                8 if step % 97 == 0 => {
                    let m = (r >> 8) % 5;
                    ours.retain(|_, v| *v % 5 != m);
                    theirs.retain(|_, v| *v % 5 != m);
                }
                8 => {
                    ours.reserve(step as usize % 50);
                    theirs.reserve(step as usize % 50);
                }
                _ => {
                    // A key this table never made, and one of each made.
                    let never = key::<ConnId>(1_000_000 + step as u32, 1);
                    assert_eq!(ours.get(never), None);
                    assert!(!ours.contains_key(never));
                    if let Some(&k) = keys.get((r >> 8) as usize % keys.len().max(1)) {
                        assert_eq!(ours.get(k), theirs.get(k), "step {step}: get");
                        ours.prefetch(k);
                    }
                }
            }
            assert_eq!(ours.len(), theirs.len());
        }
        assert!(outcomes.iter().all(|&n| n > 100), "removals refused / done: {outcomes:?}");
        assert!(ours.iter().eq(theirs.iter()), "the same values in the same order");
        assert!(ours.values().eq(theirs.values()));
        assert!(keys.iter().all(|&k| ours.get(k) == theirs.get(k)));
        // A freed key is refused once its slot holds another value.
        let k = ours.insert(7);
        ours.remove(k);
        let k2 = ours.insert(8);
        assert_ne!(k, k2);
        assert_eq!((ours.get(k), ours.get(k2)), (None, Some(&8)));
        assert_eq!(ours[k2], 8);
        ours[k2] = 9;
        assert_eq!(ours.get_mut(k2).copied(), Some(9));
    }

    /// A key of a removed value panics on indexing, like a `SlotMap`'s.
    #[test]
    #[should_panic(expected = "a key of a value this table still holds")]
    fn indexing_a_freed_key_panics() {
        let mut s: Slots<ConnId, u8> = Slots::default();
        let k = s.insert(1);
        s.remove(k);
        let _ = s[k];
    }

    /// Capacity and reserve count values, not the sentinel.
    #[test]
    fn reserve_counts_values() {
        let mut s: Slots<ConnId, u8> = Slots::default();
        s.reserve(100);
        assert!(s.capacity() >= 100);
        let cap = s.capacity();
        for i in 0..100 {
            s.insert(i);
        }
        assert_eq!(s.capacity(), cap, "100 values fit in a reserve of 100");
    }
}
