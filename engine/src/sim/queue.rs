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
//! Fused pop-and-push: `pop` leaves the taken root in place (a "hole"),
//! its payload slot still held; if the handler then schedules an event,
//! `push` writes it into that slot and its key into the root, and sifts it
//! down once — one pass instead of two, and no trip through the slab's
//! free list. Any other operation frees the slot and fills the hole with
//! the last key first. The logical contents and order are the
//! same either way. Bounds: 2^40 pushes per run, 2^24 events pending.
//!
//! Beside the heap, lanes: FIFOs of events scheduled a fixed delay after
//! the current time (`push_after`). Time only moves forward, so the events
//! of one delay arrive in (time, sequence) order and a lane stays sorted by
//! the same key as the heap; `pop` takes the least of the heap's root and
//! the lanes' fronts (kept together in one cache line). A lane serves one
//! delay while it holds events and is free again once empty; an event
//! whose delay has no lane and finds none free, or that would break its
//! lane's order (a caller's clock running backwards), goes to the heap, so
//! the order stays exact whatever the caller pushes. Timers — every
//! client's request interval, every connection's first SYN retransmission
//! timer — then cost an append and a pop-front instead of two heap passes
//! and a payload slot, and the heap holds only the events whose delays
//! vary (packets, with their jitter).

use super::event::Event;
use super::prefetch::prefetch;
use crate::time::Time;

const SLOT_BITS: u32 = 24;
const SLOT_MASK: u64 = (1 << SLOT_BITS) - 1;
/// Unused leading entries so that the children of every node, which start
/// at index `4 * i + 4` in this layout, begin a group.
const PAD: usize = 3;
/// `prefetch_next` works from this many heap entries on: with fewer, the
/// pending payloads (64 bytes each, 64 KiB at this size) mostly stay
/// cached, and the prefetches would be instructions only.
const PREFETCH_FROM: usize = 1024;
/// Fills the entries of the last group that hold no key.
const EMPTY: u128 = u128::MAX;

/// Four heap entries: one cache line.
#[derive(Clone, Copy)]
#[repr(align(64))]
struct Group([u128; 4]);

impl Group {
    /// The least of the four and its place, without branches on order
    /// (a node's children in the heap; the lanes' fronts).
    #[inline]
    fn least(self) -> (usize, u128) {
        let [a, b, c, d] = self.0;
        let (i, x) = if b < a { (1, b) } else { (0, a) };
        let (j, y) = if d < c { (3, d) } else { (2, c) };
        if y < x {
            (j, y)
        } else {
            (i, x)
        }
    }
}

pub struct Queue {
    /// Entry `i` of the heap is `groups[i / 4].0[i % 4]`; entries
    /// `PAD..len` are the heap, `PAD` the root.
    groups: Vec<Group>,
    len: usize,
    /// The root was popped but not yet removed (see the module doc); its
    /// payload slot stays taken until `push` reuses it or `settle` frees it.
    hole: bool,
    slab: Slab,
    seq: u64,
    /// Each lane's front key (`EMPTY` when the lane is empty).
    fronts: Group,
    /// The least of `fronts` and its lane, kept up to date so that a pop
    /// from the heap compares one key with the lanes, not four.
    least: (usize, u128),
    lanes: [Lane; LANES],
}

impl Default for Queue {
    fn default() -> Queue {
        Queue {
            groups: Vec::new(),
            len: 0,
            hole: false,
            slab: Slab::default(),
            seq: 0,
            fronts: Group([EMPTY; 4]),
            least: (0, EMPTY),
            lanes: Default::default(),
        }
    }
}

/// How many delays can have a lane at once: their fronts are one `Group`.
const LANES: usize = 4;

/// Events scheduled `delay` after their push time: keys (slot bits zero)
/// and events, in (time, sequence) order.
#[derive(Default)]
struct Lane {
    delay: u64,
    items: std::collections::VecDeque<(u128, Event)>,
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
    #[inline]
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
    #[inline]
    pub fn take(&mut self, slot: usize) -> Event {
        self.free.push(slot as u32);
        self.items[slot].0
    }

    #[inline]
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

    /// Schedules `ev` at `now + after` through the lane of delay `after`
    /// (else through the heap: same order either way).
    pub fn push_after(&mut self, now: Time, after: crate::time::Dur, ev: Event) {
        let at = (now + after).0;
        let key = (u128::from(at) << 64) | u128::from(self.seq << SLOT_BITS);
        let mut free = None;
        for (i, lane) in self.lanes.iter_mut().enumerate() {
            match lane.items.back() {
                Some(&(last, _)) if lane.delay == after.0 => {
                    if last > key {
                        return self.push(Time(at), ev);
                    }
                    self.seq += 1;
                    lane.items.push_back((key, ev));
                    return;
                }
                None if free.is_none() => free = Some(i),
                _ => {}
            }
        }
        let Some(i) = free else { return self.push(Time(at), ev) };
        self.seq += 1;
        let lane = &mut self.lanes[i];
        lane.delay = after.0;
        lane.items.push_back((key, ev));
        self.fronts.0[i] = key;
        if key < self.least.1 {
            self.least = (i, key);
        }
    }

    /// The heap's root key (`EMPTY` when the heap is empty).
    #[inline]
    fn root(&self) -> u128 {
        if self.len > PAD {
            self.get(PAD)
        } else {
            EMPTY
        }
    }

    /// The lane whose front is least, and that key (`EMPTY`: all empty).
    #[inline]
    fn least_lane(&self) -> (usize, u128) {
        self.fronts.least()
    }

    /// Takes lane `i`'s front (which must exist).
    fn pop_lane(&mut self, i: usize) -> Event {
        let lane = &mut self.lanes[i];
        let (_, ev) = lane.items.pop_front().expect("a lane's front key is set");
        self.fronts.0[i] = lane.items.front().map_or(EMPTY, |&(k, _)| k);
        self.least = self.least_lane();
        ev
    }

    pub fn push(&mut self, at: Time, ev: Event) {
        if self.hole {
            // The popped root's slot is still held: the new event takes it.
            self.hole = false;
            let slot = slot_of(self.get(PAD));
            self.slab.items[slot] = Slot(ev);
            let key = self.key(at, slot as u64);
            self.sift_down(PAD, key);
        } else {
            let slot = self.slab.insert(ev);
            assert!(slot <= SLOT_MASK, "more than 2^24 events pending at once");
            let key = self.key(at, slot);
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

    /// The key of an event at `at` in `slot`, taking the next sequence number.
    #[inline]
    fn key(&mut self, at: Time, slot: u64) -> u128 {
        let key = (u128::from(at.0) << 64) | u128::from((self.seq << SLOT_BITS) | slot);
        debug_assert!(key != EMPTY);
        self.seq += 1;
        key
    }

    #[inline]
    pub fn pop(&mut self) -> Option<(Time, Event)> {
        self.pop_due(Time(u64::MAX)).ok()
    }

    /// The earliest event if it is due at or before `limit`; else the time
    /// of the earliest (`Err(Some(t))`, left in place) or `Err(None)` when
    /// nothing is pending. One pass where `peek_time` then `pop` take two.
    #[inline]
    pub fn pop_due(&mut self, limit: Time) -> Result<(Time, Event), Option<Time>> {
        self.settle();
        debug_assert_eq!(self.least, self.least_lane(), "the cached least lane");
        let (lane, front) = self.least;
        let root = self.root();
        if front < root {
            let t = Time(time_of(front));
            if t > limit {
                return Err(Some(t));
            }
            return Ok((t, self.pop_lane(lane)));
        }
        if root == EMPTY {
            return Err(None);
        }
        let t = Time(time_of(root));
        if t > limit {
            return Err(Some(t));
        }
        self.hole = true;
        Ok((t, *self.slab.get(slot_of(root))))
    }

    /// Starts fetching the payload slots of the root's children (the
    /// first group) — most often the next events the heap hands out — so
    /// that the event about to run overlaps their misses instead of each
    /// pop missing in turn. A hint: it takes `&self`, so it cannot change
    /// order or contents. The engine's loop calls it after each pop; the
    /// bare queue (the hold benchmark) does not.
    pub fn prefetch_next(&self) {
        if self.len < PREFETCH_FROM {
            return;
        }
        if let Some(children) = self.groups.get(1) {
            for k in children.0 {
                if let Some(s) = self.slab.items.get(slot_of(k)) {
                    prefetch(s);
                }
            }
        }
    }

    pub fn peek_time(&mut self) -> Option<Time> {
        self.settle();
        let root = self.root();
        let least = root.min(self.least.1);
        (least != EMPTY).then(|| Time(time_of(least)))
    }

    /// How many pending events satisfy `f` (for end-of-run checks).
    pub fn count(&mut self, f: impl Fn(&Event) -> bool) -> usize {
        self.settle();
        let in_heap = (PAD..self.len).filter(|&i| f(self.slab.get(slot_of(self.get(i))))).count();
        in_heap + self.lanes.iter().flat_map(|l| &l.items).filter(|(_, ev)| f(ev)).count()
    }

    pub fn len(&self) -> usize {
        self.len.saturating_sub(PAD) - usize::from(self.hole) + self.lanes.iter().map(|l| l.items.len()).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes a popped root for good: its slot is freed and the last key
    /// takes its place.
    #[inline]
    fn settle(&mut self) {
        if !self.hole {
            return;
        }
        self.hole = false;
        self.slab.free.push(slot_of(self.get(PAD)) as u32);
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
    fn sift_down(&mut self, pos: usize, key: u128) {
        // The children of `pos` are entries `4 * (pos - PAD) + 4 ..`: group
        // `pos - PAD + 1`. Past the heap's end a group holds `EMPTY` or does
        // not exist, so either ends the descent without a length test. The
        // position is kept as its group `g` and place `l` (`pos = 4g + l`),
        // so child `i` is place `i` of group `4g + l - PAD + 1`: no
        // division per level.
        let groups = &mut self.groups[..];
        let (mut g, mut l) = (pos / 4, pos % 4);
        while let Some(children) = groups.get(4 * g + l + 1 - PAD) {
            let (i, v) = children.least();
            if v >= key {
                break;
            }
            groups[g].0[l & 3] = v;
            (g, l) = (4 * g + l + 1 - PAD, i);
        }
        groups[g].0[l & 3] = key;
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
        // A popped root's slot is taken by the push that follows (the fused
        // hold) and freed by any other operation: holds and pops in turn
        // never need a fourth slot.
        for i in 0..100u32 {
            q.push(Time(10 + u64::from(i)), Event::Action(i));
            let (t, _) = q.pop().expect("pending");
            q.push(t + crate::time::Dur(7), Event::Action(i));
            q.pop();
            q.pop();
            q.push(t + crate::time::Dur(3), Event::Action(i));
        }
        assert_eq!(q.slab.capacity_used(), 3, "slots taken across holds and pops");
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
                        // Some go through the lanes: a fixed delay (kept in
                        // order), one of a few delays (more than there are
                        // lanes), any delay, or a fixed delay from a clock
                        // that went back (out of its lane's order: to the
                        // heap).
                        let window = if seed % 2 == 0 { 4 } else { 1000 };
                        let delay = match rng.below(6) {
                            0 => Some((now, window)),
                            1 => Some((now, window / 4 * (1 + rng.below(6)))),
                            2 => Some((now, rng.below(window))),
                            3 => Some((now.saturating_sub(rng.below(3)), window)),
                            _ => None,
                        };
                        let t = match delay {
                            Some((from, d)) => {
                                q.push_after(Time(from), crate::time::Dur(d), Event::Action(pushed));
                                from + d
                            }
                            None => {
                                let t = now + rng.below(window);
                                q.push(Time(t), Event::Action(pushed));
                                t
                            }
                        };
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
