//! The event queue: a min-heap ordered by `(time, sequence)`.
//!
//! The sequence number is taken at push time, so events due at the same
//! instant run in the order they were scheduled — the tie-break that makes
//! runs reproducible. Cancellation is lazy: handlers check a generation
//! (container incarnation, slotmap key version) and drop stale events.
//!
//! Layout: an implicit 4-ary heap of 16-byte keys — the time in the high
//! word, and one word holding the sequence number (high 40 bits) and a slot
//! (low 24 bits) in a payload slab — stored as 64-byte-aligned groups of
//! four, so a node's four children are exactly one cache line and the heap
//! is half as deep as a binary one. Unused entries of the last group hold
//! `u128::MAX`, above every key, so a node's children are always compared
//! as a whole group. Payloads sit in 64-byte-aligned slab slots: one line
//! each. Keys are distinct (the sequence is unique), so the order is total
//! and exact.
//!
//! Fused pop-and-push: `pop` leaves the taken root in place (a "hole"); if
//! the handler then schedules an event, `push` writes it into the root and
//! sifts it down once — one pass instead of two. Any other operation fills
//! the hole with the last key first. The logical contents and order are the
//! same either way. Bounds: 2^40 pushes per run, 2^24 events pending.
//!
//! Beside the heap, a FIFO: `push_fifo` appends an event whose time is not
//! earlier than the FIFO's last one (timers of one fixed delay, such as every
//! connection's first SYN retransmission timer, arrive that way), so the
//! FIFO is sorted by the same (time, sequence) key, and `pop` takes the
//! lesser of the heap's root and the FIFO's front. An event that would break
//! the FIFO's order goes to the heap instead, so the order stays exact
//! whatever the caller pushes. Most such timers end up stale; in the FIFO
//! they cost an append and a pop-front instead of two heap passes, and the
//! heap stays smaller.

use super::event::Event;
use crate::time::Time;

const SLOT_BITS: u32 = 24;
const SLOT_MASK: u64 = (1 << SLOT_BITS) - 1;
/// Unused leading entries so that the children of every node, which start
/// at index `4 * i + 4` in this layout, begin a group.
const PAD: usize = 3;
/// Fills the entries of the last group that hold no key.
const EMPTY: u128 = u128::MAX;

/// Four heap entries: one cache line.
#[derive(Clone, Copy)]
#[repr(align(64))]
struct Group([u128; 4]);

#[derive(Default)]
pub struct Queue {
    /// Entry `i` of the heap is `groups[i / 4].0[i % 4]`; entries
    /// `PAD..len` are the heap, `PAD` the root.
    groups: Vec<Group>,
    len: usize,
    /// The root was popped but not yet removed (see the module doc).
    hole: bool,
    slab: Slab,
    seq: u64,
    /// Keys (slot bits zero) and events in (time, sequence) order.
    fifo: std::collections::VecDeque<(u128, Event)>,
}

/// One payload, alone on its cache line.
#[derive(Clone, Copy)]
#[repr(align(64))]
struct Slot(Event);

/// Pending events' payloads, addressed by slot; freed slots are reused
/// first, so a hold (pop then push) writes the slot it just read.
#[derive(Default)]
pub struct Slab {
    items: Vec<Slot>,
    free: Vec<u32>,
}

impl Slab {
    /// Stores `ev`; returns its slot.
    pub fn insert(&mut self, ev: Event) -> u64 {
        match self.free.pop() {
            Some(s) => {
                self.items[s as usize] = Slot(ev);
                u64::from(s)
            }
            None => {
                self.items.push(Slot(ev));
                self.items.len() as u64 - 1
            }
        }
    }

    /// Reads the event in `slot` and frees the slot.
    pub fn take(&mut self, slot: usize) -> Event {
        self.free.push(slot as u32);
        self.items[slot].0
    }

    pub fn get(&self, slot: usize) -> &Event {
        &self.items[slot].0
    }

    pub fn capacity_used(&self) -> usize {
        self.items.len()
    }
}

#[inline]
fn time_of(k: u128) -> u64 {
    (k >> 64) as u64
}

#[inline]
fn slot_of(k: u128) -> usize {
    (k as u64 & SLOT_MASK) as usize
}

impl Queue {
    #[inline]
    fn get(&self, i: usize) -> u128 {
        self.groups[i / 4].0[i % 4]
    }

    #[inline]
    fn set(&mut self, i: usize, k: u128) {
        self.groups[i / 4].0[i % 4] = k;
    }

    /// Schedules `ev` at `at` through the FIFO when `at` is not earlier than
    /// the FIFO's last event (else through the heap: same order either way).
    pub fn push_fifo(&mut self, at: Time, ev: Event) {
        if self.fifo.back().is_some_and(|&(k, _)| time_of(k) > at.0) {
            return self.push(at, ev);
        }
        let key = (u128::from(at.0) << 64) | u128::from(self.seq << SLOT_BITS);
        self.seq += 1;
        self.fifo.push_back((key, ev));
    }

    /// Is the FIFO's front earlier than the heap's root (the heap settled)?
    fn fifo_first(&self) -> bool {
        self.fifo.front().is_some_and(|&(k, _)| self.len <= PAD || k < self.get(PAD))
    }

    pub fn push(&mut self, at: Time, ev: Event) {
        let slot = self.slab.insert(ev);
        assert!(slot <= SLOT_MASK, "more than 2^24 events pending at once");
        let key = (u128::from(at.0) << 64) | u128::from((self.seq << SLOT_BITS) | slot);
        debug_assert!(key != EMPTY);
        self.seq += 1;
        if self.hole {
            self.hole = false;
            self.sift_down(PAD, key);
        } else {
            if self.len == 0 {
                self.len = PAD;
            }
            if self.len / 4 == self.groups.len() {
                self.groups.push(Group([EMPTY; 4]));
            }
            self.len += 1;
            self.sift_up(self.len - 1, key);
        }
    }

    pub fn pop(&mut self) -> Option<(Time, Event)> {
        self.pop_due(Time(u64::MAX)).ok()
    }

    /// The earliest event if it is due at or before `limit`; else the time
    /// of the earliest (`Err(Some(t))`, left in place) or `Err(None)` when
    /// nothing is pending. One pass where `peek_time` then `pop` take two.
    pub fn pop_due(&mut self, limit: Time) -> Result<(Time, Event), Option<Time>> {
        self.settle();
        if self.fifo_first() {
            let t = Time(time_of(self.fifo[0].0));
            if t > limit {
                return Err(Some(t));
            }
            return Ok((t, self.fifo.pop_front().expect("fifo_first").1));
        }
        if self.len <= PAD {
            return Err(None);
        }
        let k = self.get(PAD);
        let t = Time(time_of(k));
        if t > limit {
            return Err(Some(t));
        }
        self.hole = true;
        Ok((t, self.slab.take(slot_of(k))))
    }

    pub fn peek_time(&mut self) -> Option<Time> {
        self.settle();
        if self.fifo_first() {
            return self.fifo.front().map(|&(k, _)| Time(time_of(k)));
        }
        (self.len > PAD).then(|| Time(time_of(self.get(PAD))))
    }

    /// How many pending events satisfy `f` (for end-of-run checks).
    pub fn count(&mut self, f: impl Fn(&Event) -> bool) -> usize {
        self.settle();
        let in_heap = (PAD..self.len).filter(|&i| f(self.slab.get(slot_of(self.get(i))))).count();
        in_heap + self.fifo.iter().filter(|(_, ev)| f(ev)).count()
    }

    pub fn len(&self) -> usize {
        self.len.saturating_sub(PAD) - usize::from(self.hole) + self.fifo.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes a popped root for good: the last key takes its place.
    fn settle(&mut self) {
        if !self.hole {
            return;
        }
        self.hole = false;
        self.len -= 1;
        let last = self.get(self.len);
        self.set(self.len, EMPTY);
        if self.len > PAD {
            self.sift_down(PAD, last);
        }
    }

    fn sift_up(&mut self, mut pos: usize, key: u128) {
        while pos > PAD {
            let parent = (pos - PAD - 1) / 4 + PAD;
            let p = self.get(parent);
            if p <= key {
                break;
            }
            self.set(pos, p);
            pos = parent;
        }
        self.set(pos, key);
    }

    /// Places `key` at `pos` (whose old key is discarded) and restores the
    /// heap below it. A node's children are one whole group (missing
    /// children read as `EMPTY`, which is never less than a key).
    fn sift_down(&mut self, mut pos: usize, key: u128) {
        let len = self.len;
        loop {
            let first = 4 * (pos - PAD) + 1 + PAD;
            if first >= len {
                break;
            }
            let Group([a, b, c, d]) = self.groups[first / 4];
            // The least child, without branches on order.
            let (i, x) = if b < a { (first + 1, b) } else { (first, a) };
            let (j, y) = if d < c { (first + 3, d) } else { (first + 2, c) };
            let (m, v) = if y < x { (j, y) } else { (i, x) };
            if v >= key {
                break;
            }
            self.set(pos, v);
            pos = m;
        }
        self.set(pos, key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_keep_push_order() {
        let mut q = Queue::default();
        for i in 0..5u32 {
            q.push(Time(10), Event::Action(i));
        }
        q.push(Time(5), Event::Action(99));
        let order: Vec<u32> = std::iter::from_fn(|| q.pop())
            .map(|(_, e)| match e {
                Event::Action(i) => i,
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(order, [99, 0, 1, 2, 3, 4]);
    }

    #[test]
    fn slots_are_reused_and_order_holds_across_reuse() {
        let mut q = Queue::default();
        q.push(Time(3), Event::Action(3));
        q.push(Time(1), Event::Action(1));
        assert_eq!(q.pop().map(|(t, _)| t), Some(Time(1)));
        q.push(Time(2), Event::Action(2));
        q.push(Time(3), Event::Action(4));
        let order: Vec<(u64, Event)> = std::iter::from_fn(|| q.pop()).map(|(t, e)| (t.0, e)).collect();
        assert_eq!(order, [(2, Event::Action(2)), (3, Event::Action(3)), (3, Event::Action(4))]);
        assert_eq!(q.slab.capacity_used(), 3, "a freed slot is reused");
        assert_eq!(std::mem::size_of::<u128>(), 16);
    }

    /// The 4-ary heap with fused pop-push pops exactly what a sorted
    /// reference (std BinaryHeap on `(time, push index)`) pops, under random
    /// interleavings of pushes, pops, peeks and counts, with many ties.
    #[test]
    fn same_order_as_a_reference_heap() {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        for seed in 0..40 {
            let mut rng = crate::rng::Rng::fork(seed, "queue-test");
            let mut q = Queue::default();
            let mut reference = BinaryHeap::new();
            let (mut pushed, mut now) = (0u32, 0u64);
            for _ in 0..3000 {
                match rng.below(8) {
                    0..=3 => {
                        // Ties are common: times drawn from a narrow window.
                        // Some go through the FIFO: a fixed delay (kept in
                        // order) or any time (out of order: to the heap).
                        let window = if seed % 2 == 0 { 4 } else { 1000 };
                        let (t, fifo) = match rng.below(4) {
                            0 => (now + window, true),
                            1 => (now + rng.below(window), true),
                            _ => (now + rng.below(window), false),
                        };
                        if fifo {
                            q.push_fifo(Time(t), Event::Action(pushed));
                        } else {
                            q.push(Time(t), Event::Action(pushed));
                        }
                        reference.push(Reverse((t, pushed)));
                        pushed += 1;
                    }
                    4..=6 => {
                        let got = q.pop().map(|(t, e)| (t.0, e));
                        let want = reference.pop().map(|Reverse((t, i))| (t, Event::Action(i)));
                        assert_eq!(got, want, "seed {seed}");
                        if let Some((t, _)) = got {
                            now = t;
                        }
                    }
                    7 if rng.below(2) == 0 => {
                        // pop_due: pops only what is due by `limit`.
                        let limit = now + rng.below(8);
                        let got = q.pop_due(Time(limit)).map(|(t, e)| (t.0, e)).map_err(|t| t.map(|t| t.0));
                        let want = match reference.peek() {
                            Some(&Reverse((t, _))) if t > limit => Err(Some(t)),
                            Some(_) => {
                                Ok(reference.pop().map(|Reverse((t, i))| (t, Event::Action(i))).expect("peeked"))
                            }
                            None => Err(None),
                        };
                        assert_eq!(got, want, "seed {seed}");
                        if let Ok((t, _)) = got {
                            now = t;
                        }
                    }
                    _ => {
                        assert_eq!(q.peek_time().map(|t| t.0), reference.peek().map(|Reverse((t, _))| *t));
                        assert_eq!(q.len(), reference.len());
                        assert_eq!(q.count(|_| true), reference.len());
                    }
                }
            }
            while let Some(Reverse((t, i))) = reference.pop() {
                assert_eq!(q.pop().map(|(t, e)| (t.0, e)), Some((t, Event::Action(i))));
            }
            assert!(q.is_empty() && q.pop().is_none());
        }
    }
}
