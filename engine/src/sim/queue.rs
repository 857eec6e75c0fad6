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
//! Beside the heap, lanes: FIFOs of timers scheduled a fixed delay after
//! the current time (`push_after`), 40 bytes an entry (the key's two words
//! and the `Timer`). Time only moves forward, so the timers
//! of one delay arrive in (time, sequence) order and a lane stays sorted by
//! the same key as the heap; `pop` takes the least of the heap's root and
//! the lanes' fronts (kept together in one cache line). A lane serves one
//! delay while it holds events and is free again once empty; an event
//! whose delay has no lane and finds none free, or that would break its
//! lane's order (a caller's clock running backwards), goes to the heap, so
//! the order stays exact whatever the caller pushes. Timers — every
//! client's request interval, every connection's first SYN retransmission
//! timer, every DNS answer (a timer: `Timer::DnsAnswer`) — then cost an
//! append and a pop-front instead of two heap passes and a payload slot,
//! and the heap holds only the events whose delays vary (packets, with
//! their jitter).
//!
//! Beyond the heap, the ladder (`ladder.rs`): once more than `SPILL_OVER`
//! (8,192) events wait in the heap, its events move to a ladder queue —
//! time buckets, finer rungs for crowded buckets — where a push is an O(1)
//! append instead of a heap pass over levels out of cache. The heap then
//! holds only the events before `split`; when it and the run are empty,
//! the ladder's earliest bucket comes out sorted as the run, which pops
//! from the front like a fifth lane (prefetching the payload two ahead,
//! and walking the ladder's next bucket one slot per pop).
//! Every key the ladder keeps is at or after `split` and every key the
//! heap and the run hold is before it, so the order is still exact. The
//! ladder closes when it drains (with at most half the spill size left)
//! and the heap works alone again. Below the spill size (every shipped
//! scenario) nothing of it runs but a compare per push.

use super::event::{Event, Timer};
use super::ladder::Ladder;
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
pub(super) const EMPTY: u128 = u128::MAX;
/// With more events than this in the heap (and the ladder closed), the
/// heap's events move to the ladder. In the hold model the heap is the
/// faster up to about 6,000 pending (its keys then fit the L1 and L2
/// near the root) and the ladder from about 8,500; in the engine, with
/// the loop prefetching along the run, the ladder from here on is as fast
/// as the heap at 10,000 clients and faster from 100,000 connections
/// (without that prefetch it had cost 7 % at 10,000 clients).
const SPILL_OVER: usize = 1 << 13;
/// A pop from the run prefetches the payload of the event this many
/// places after the new head (a new run prefetches its first ones): by
/// the time it is the event after next, its payload is in, and the loop
/// reads it to prefetch that event's connection (`prefetch_next`).
const RUN_AHEAD: usize = 2;

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
    /// The events from `split` on (when it is not `EMPTY`: the ladder is
    /// open); the heap holds those before it.
    ladder: Ladder,
    split: u128,
    /// The ladder's last bucket out, sorted: `run[run_at..]` are pending
    /// (before `split`, beside the heap, which takes the keys pushed
    /// before `split` meanwhile).
    run: Vec<u128>,
    run_at: usize,
    /// `run[run_at]`, or `EMPTY` past the run's end.
    run_head: u128,
    /// `SPILL_OVER` (smaller in tests, to reach the ladder with fewer
    /// events).
    spill_over: usize,
    /// The heap's `len` past which it spills: `PAD + spill_over` while
    /// the ladder is closed, `usize::MAX` while it is open.
    spill_at: usize,
    /// How many times the ladder opened.
    spills: u64,
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
            ladder: Ladder::default(),
            split: EMPTY,
            run: Vec::new(),
            run_at: 0,
            run_head: EMPTY,
            spill_over: SPILL_OVER,
            spill_at: PAD + SPILL_OVER,
            spills: 0,
        }
    }
}

/// How many delays can have a lane at once: their fronts are one `Group`.
const LANES: usize = 4;
/// `least`'s lane when the run's head is the least.
const RUN: usize = LANES;

/// Timers scheduled `delay` after their push time, in (time, sequence)
/// order, stored compact: 40 bytes an entry where a key and an `Event`
/// took 80 (deliveries always go to the heap).
#[derive(Default)]
struct Lane {
    delay: u64,
    items: std::collections::VecDeque<LaneEntry>,
}

/// A lane's timer: its key's two words (the low one's slot bits zero) and
/// the timer.
#[derive(Clone, Copy)]
struct LaneEntry {
    time: u64,
    tag: u64,
    timer: Timer,
}

impl LaneEntry {
    #[inline]
    fn key(&self) -> u128 {
        key_of(self.time, self.tag)
    }
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
pub(super) fn time_of(k: u128) -> u64 {
    (k >> 64) as u64
}

#[inline]
pub(super) fn slot_of(k: u128) -> usize {
    (k as u64 & SLOT_MASK) as usize
}

/// The key of time `time` and low word (sequence and slot) `tag`.
#[inline]
pub(super) fn key_of(time: u64, tag: u64) -> u128 {
    (u128::from(time) << 64) | u128::from(tag)
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

    /// Schedules `timer` at `now + after` through the lane of delay `after`
    /// (else through the heap: same order either way).
    pub fn push_after(&mut self, now: Time, after: crate::time::Dur, timer: Timer) {
        let at = (now + after).0;
        let entry = LaneEntry { time: at, tag: self.seq << SLOT_BITS, timer };
        let key = entry.key();
        let mut free = None;
        for (i, lane) in self.lanes.iter_mut().enumerate() {
            match lane.items.back() {
                Some(last) if lane.delay == after.0 => {
                    if last.key() > key {
                        return self.push(Time(at), Event::Timer(timer));
                    }
                    self.seq += 1;
                    lane.items.push_back(entry);
                    return;
                }
                None if free.is_none() => free = Some(i),
                _ => {}
            }
        }
        let Some(i) = free else { return self.push(Time(at), Event::Timer(timer)) };
        self.seq += 1;
        let lane = &mut self.lanes[i];
        lane.delay = after.0;
        lane.items.push_back(entry);
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

    /// The lane whose front is least, and that key (`EMPTY`: all empty);
    /// the run counts as lane `RUN`.
    #[inline]
    fn least_lane(&self) -> (usize, u128) {
        let (i, k) = self.fronts.least();
        if self.run_head < k {
            (RUN, self.run_head)
        } else {
            (i, k)
        }
    }

    /// Takes lane `i`'s front (which must exist), or the run's head.
    fn pop_lane(&mut self, i: usize) -> Event {
        if i == RUN {
            return self.pop_run();
        }
        let lane = &mut self.lanes[i];
        let entry = lane.items.pop_front().expect("a lane's front key is set");
        self.fronts.0[i] = lane.items.front().map_or(EMPTY, LaneEntry::key);
        self.least = self.least_lane();
        Event::Timer(entry.timer)
    }

    /// Takes the run's head (which must exist).
    #[inline(never)]
    fn pop_run(&mut self) -> Event {
        let head = self.run_head;
        self.run_at += 1;
        self.run_head = self.run.get(self.run_at).copied().unwrap_or(EMPTY);
        self.least = self.least_lane();
        // The run's order is known: start fetching a later payload.
        if let Some(&k) = self.run.get(self.run_at + RUN_AHEAD) {
            self.prefetch_payload(k);
        }
        self.ladder.walk_ahead();
        self.slab.take(slot_of(head))
    }

    pub fn push(&mut self, at: Time, ev: Event) {
        if self.hole {
            // The popped root's slot is still held: the new event takes it.
            let slot = slot_of(self.get(PAD));
            self.slab.items[slot] = Slot(ev);
            let key = self.key(at, slot as u64);
            if key < self.split {
                self.hole = false;
                self.sift_down(PAD, key);
            } else {
                self.remove_root();
                self.ladder.push(key);
            }
            return;
        }
        let slot = self.slab.insert(ev);
        assert!(slot <= SLOT_MASK, "more than 2^24 events pending at once");
        let key = self.key(at, slot);
        if key >= self.split {
            return self.ladder.push(key);
        }
        self.append(key);
        if self.len > self.spill_at {
            self.spill();
        }
    }

    /// Opens the ladder with the heap's events (and the run's): the next
    /// pop takes its front bucket back.
    #[cold]
    fn spill(&mut self) {
        let groups = &mut self.groups;
        let run = self.run.drain(self.run_at..);
        self.ladder.open((PAD..self.len).map(|i| std::mem::replace(&mut groups[i / 4].0[i % 4], EMPTY)).chain(run));
        (self.len, self.run_at, self.run_head) = (PAD, 0, EMPTY);
        self.run.clear();
        self.least = self.least_lane();
        self.split = 0;
        self.spill_at = usize::MAX;
        self.spills += 1;
    }

    /// Sets how many events the heap holds before the ladder opens
    /// (`SPILL_OVER` by default; tests set it low).
    pub fn set_spill_over(&mut self, n: usize) {
        self.spill_over = n;
        if self.split == EMPTY {
            self.spill_at = PAD + n;
        }
    }

    /// How many times the ladder has opened.
    pub fn spills(&self) -> u64 {
        self.spills
    }

    /// Closes the empty ladder: the heap alone again.
    fn close(&mut self) {
        self.ladder.close();
        self.split = EMPTY;
        self.spill_at = PAD + self.spill_over;
    }

    /// Adds `key` at the heap's end and sifts it up.
    fn append(&mut self, key: u128) {
        if self.len == 0 {
            self.len = PAD;
        }
        if self.len / 4 == self.groups.len() {
            self.groups.push(Group([EMPTY; 4]));
        }
        self.len += 1;
        self.sift_up(self.len - 1, key);
    }

    /// Settles a popped root, and with the heap empty lets the ladder's
    /// front come in: the least pending key is then the root's or a lane's
    /// (the run counts as one).
    #[inline]
    fn settle_front(&mut self) {
        self.settle();
        if self.len <= PAD {
            self.front_empty();
        }
    }

    /// The heap is empty: with the run empty too, the ladder's front bucket
    /// becomes the run (its first payloads prefetched), or, with the ladder
    /// empty as well, the ladder closes.
    #[cold]
    fn front_empty(&mut self) {
        if self.run_head != EMPTY {
            return;
        }
        if self.ladder.len() > 0 {
            self.split = self.ladder.take_front(&mut self.run);
            self.run_at = 0;
            self.run_head = self.run.first().copied().unwrap_or(EMPTY);
            self.least = self.least_lane();
            for &k in self.run.iter().take(RUN_AHEAD + 1) {
                self.prefetch_payload(k);
            }
            if self.ladder.len() == 0 && self.run.len() <= self.spill_over / 2 {
                // Back to the heap alone until it grows past the spill
                // size again (not sooner: a spill moves the whole heap).
                self.close();
            }
        } else if self.split != EMPTY {
            self.close();
        }
    }

    /// The key of an event at `at` in `slot`, taking the next sequence number.
    #[inline]
    fn key(&mut self, at: Time, slot: u64) -> u128 {
        let key = key_of(at.0, (self.seq << SLOT_BITS) | slot);
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
        self.settle_front();
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
    /// pop missing in turn (the run's payloads are prefetched as it pops).
    /// And while the ladder's run is being popped, returns the payloads of
    /// its next event and of the one after (if any), whose order is known
    /// ahead, so the caller can fetch what they will read (their
    /// connection, their container) while the current event runs; the heap
    /// or a lane may still come first. Hints: it takes `&self`, so it
    /// cannot change order or contents. The engine's loop calls it after
    /// each pop; the bare queue (the hold benchmark) does not.
    #[inline]
    pub fn prefetch_next(&self) -> Option<(&Event, Option<&Event>)> {
        if self.len + self.ladder.len() < PREFETCH_FROM {
            return None;
        }
        if let Some(children) = self.groups.get(1) {
            for k in children.0 {
                self.prefetch_payload(k);
            }
        }
        if self.run_head == EMPTY {
            return None;
        }
        let after = self.run.get(self.run_at + 1).map(|&k| self.slab.get(slot_of(k)));
        Some((self.slab.get(slot_of(self.run_head)), after))
    }

    /// Starts fetching the payload slot of key `k` (a hint: a slot past
    /// the slab, such as `EMPTY`'s below 2^24 slots, fetches nothing).
    #[inline]
    fn prefetch_payload(&self, k: u128) {
        if let Some(s) = self.slab.items.get(slot_of(k)) {
            prefetch(s);
        }
    }

    pub fn peek_time(&mut self) -> Option<Time> {
        self.settle_front();
        let least = self.root().min(self.least.1);
        (least != EMPTY).then(|| Time(time_of(least)))
    }

    /// How many pending events satisfy `f` (for end-of-run checks).
    pub fn count(&mut self, f: impl Fn(&Event) -> bool) -> usize {
        self.settle();
        let in_heap = (PAD..self.len).filter(|&i| f(self.slab.get(slot_of(self.get(i))))).count();
        let mut in_ladder = 0;
        self.ladder.for_each(|k| in_ladder += usize::from(f(self.slab.get(slot_of(k)))));
        let in_run = self.run[self.run_at..].iter().filter(|&&k| f(self.slab.get(slot_of(k)))).count();
        in_heap + in_ladder + in_run + self.count_in_lanes(&f)
    }

    /// How many timers waiting in the lanes satisfy `f`.
    pub fn count_in_lanes(&self, f: impl Fn(&Event) -> bool) -> usize {
        self.lanes.iter().flat_map(|l| &l.items).filter(|e| f(&Event::Timer(e.timer))).count()
    }

    pub fn len(&self) -> usize {
        self.len.saturating_sub(PAD) - usize::from(self.hole)
            + self.ladder.len()
            + (self.run.len() - self.run_at)
            + self.lanes.iter().map(|l| l.items.len()).sum::<usize>()
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
        self.slab.free.push(slot_of(self.get(PAD)) as u32);
        self.remove_root();
    }

    /// Fills the hole with the heap's last key (the root's slot is kept).
    #[inline]
    fn remove_root(&mut self) {
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

    fn action(i: u32) -> Event {
        Event::Timer(Timer::Action(i))
    }

    #[test]
    fn ties_keep_push_order() {
        let mut q = Queue::default();
        for i in 0..5u32 {
            q.push(Time(10), action(i));
        }
        q.push(Time(5), action(99));
        let order: Vec<u32> = std::iter::from_fn(|| q.pop())
            .map(|(_, e)| match e {
                Event::Timer(Timer::Action(i)) => i,
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(order, [99, 0, 1, 2, 3, 4]);
    }

    #[test]
    fn slots_are_reused_and_order_holds_across_reuse() {
        let mut q = Queue::default();
        q.push(Time(3), action(3));
        q.push(Time(1), action(1));
        assert_eq!(q.pop().map(|(t, _)| t), Some(Time(1)));
        q.push(Time(2), action(2));
        q.push(Time(3), action(4));
        let order: Vec<(u64, Event)> = std::iter::from_fn(|| q.pop()).map(|(t, e)| (t.0, e)).collect();
        assert_eq!(order, [(2, action(2)), (3, action(3)), (3, action(4))]);
        assert_eq!(q.slab.capacity_used(), 3, "a freed slot is reused");
        // A popped root's slot is taken by the push that follows (the fused
        // hold) and freed by any other operation: holds and pops in turn
        // never need a fourth slot.
        for i in 0..100u32 {
            q.push(Time(10 + u64::from(i)), action(i));
            let (t, _) = q.pop().expect("pending");
            q.push(t + crate::time::Dur(7), action(i));
            q.pop();
            q.pop();
            q.push(t + crate::time::Dur(3), action(i));
        }
        assert_eq!(q.slab.capacity_used(), 3, "slots taken across holds and pops");
        assert_eq!(std::mem::size_of::<u128>(), 16);
    }

    /// Lanes hold timers in 40-byte entries and give back the timers they
    /// were given, in (time, sequence) order with the heap's events.
    #[test]
    fn lanes_keep_timers_compact() {
        assert_eq!(std::mem::size_of::<LaneEntry>(), 40);
        assert!(std::mem::size_of::<Event>() <= 64);
        let mut q = Queue::default();
        let d = crate::time::Dur(5);
        let syn = Timer::SynTimer { conn: crate::id::ConnId::default(), sent: 2, started: Time(0) };
        let prog = Timer::ProgTimer { ctr: Default::default(), inc: 7, proc: 1, token: u64::MAX };
        q.push_after(Time(0), d, syn);
        q.push_after(Time(0), crate::time::Dur(3), prog);
        q.push(Time(4), action(1));
        q.push_after(Time(1), d, Timer::Action(2));
        assert_eq!(q.lanes.iter().map(|l| l.items.len()).sum::<usize>(), 3);
        assert_eq!(q.count(|e| matches!(e, Event::Timer(Timer::SynTimer { sent: 2, .. }))), 1);
        let order: Vec<(u64, Event)> = std::iter::from_fn(|| q.pop()).map(|(t, e)| (t.0, e)).collect();
        let want = [(3, Event::Timer(prog)), (4, action(1)), (5, Event::Timer(syn)), (6, action(2))];
        assert_eq!(order, want);
    }

    /// While the ladder's run pops, `prefetch_next` names the run's next
    /// two events, for the loop's prefetches: with nothing pushed meanwhile
    /// (no heap or lane event can come first) they are the next two pops.
    #[test]
    fn prefetch_next_names_the_runs_next_events() {
        let mut rng = crate::rng::Rng::fork(3, "run-next");
        let mut q = Queue::default();
        q.set_spill_over(64);
        for i in 0..5_000u32 {
            q.push(Time(rng.below(1_000_000)), action(i));
        }
        let mut pops = Vec::new();
        let mut hints = Vec::new();
        while let Some((_, ev)) = q.pop() {
            pops.push(ev);
            hints.push(q.prefetch_next().map(|(next, after)| (*next, after.copied())));
        }
        let mut named = 0;
        for (k, hint) in hints.iter().enumerate() {
            if let Some((next, after)) = hint {
                named += 1;
                assert_eq!(pops.get(k + 1), Some(next), "after pop {k}");
                if let Some(after) = after {
                    assert_eq!(pops.get(k + 2), Some(after), "after pop {k}");
                }
            }
        }
        assert!(q.spills() > 0 && named > 1_000, "the run named {named} events");
    }

    /// With more than `spill_over` events pending the ladder takes the far
    /// ones: the order stays exactly a sorted reference's, whatever the
    /// spread of times — ties by the thousand, a window of nanoseconds or
    /// of hours, times at `u64::MAX` (a saturated `Time + Dur`) — through
    /// the ladder opening, splitting buckets into rungs, closing when it
    /// drains, and opening again.
    #[test]
    fn ladder_keeps_the_order() {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        for seed in 0..12 {
            let mut rng = crate::rng::Rng::fork(seed, "ladder-test");
            let mut q = Queue::default();
            q.set_spill_over(1024);
            let mut reference = BinaryHeap::new();
            let (mut pushed, mut now) = (0u32, 0u64);
            for round in 0..6 {
                // Fill well past the spill size, then pop and hold, then
                // drain most of it (sometimes all: the ladder closes).
                let window = [4, 1_000, 1_000_000, 3_600_000_000_000][(seed as usize + round) % 4];
                let fill = 2_000 + rng.below(3_000) as usize;
                for step in 0..fill * 3 {
                    let push = step < fill || rng.below(2) == 0;
                    if push {
                        let t = match rng.below(20) {
                            0 => u64::MAX,
                            1 => now,
                            2 => now + window * 1000,
                            3 => {
                                // Through a lane, beside the run.
                                let d = crate::time::Dur(window / 2 + 1);
                                q.push_after(Time(now), d, Timer::Action(pushed));
                                reference.push(Reverse((now + d.0, pushed)));
                                pushed += 1;
                                continue;
                            }
                            _ => now + rng.below(window),
                        };
                        q.push(Time(t), action(pushed));
                        reference.push(Reverse((t, pushed)));
                        pushed += 1;
                    } else {
                        let got = q.pop().map(|(t, e)| (t.0, e));
                        let want = reference.pop().map(|Reverse((t, i))| (t, action(i)));
                        assert_eq!(got, want, "seed {seed} round {round}");
                        if let Some((t, _)) = got {
                            now = t.min(u64::MAX / 2);
                        }
                    }
                    if step % 997 == 0 {
                        assert_eq!(q.peek_time().map(|t| t.0), reference.peek().map(|Reverse((t, _))| *t));
                        assert_eq!(q.len(), reference.len());
                        assert_eq!(q.count(|_| true), reference.len());
                    }
                }
                let keep = if round % 2 == 0 { 0 } else { reference.len() / 3 };
                while reference.len() > keep {
                    let Reverse((t, i)) = reference.pop().expect("pending");
                    assert_eq!(q.pop().map(|(t, e)| (t.0, e)), Some((t, action(i))), "seed {seed}");
                    now = t.min(u64::MAX / 2);
                }
                if keep == 0 {
                    assert!(q.is_empty() && q.split == EMPTY, "drained: the ladder closed");
                }
            }
            assert!(q.spills() > 0, "the ladder was used");
        }
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
                                q.push_after(Time(from), crate::time::Dur(d), Timer::Action(pushed));
                                from + d
                            }
                            None => {
                                let t = now + rng.below(window);
                                q.push(Time(t), action(pushed));
                                t
                            }
                        };
                        reference.push(Reverse((t, pushed)));
                        pushed += 1;
                    }
                    4..=6 => {
                        let got = q.pop().map(|(t, e)| (t.0, e));
                        let want = reference.pop().map(|Reverse((t, i))| (t, action(i)));
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
                            Some(_) => Ok(reference.pop().map(|Reverse((t, i))| (t, action(i))).expect("peeked")),
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
                assert_eq!(q.pop().map(|(t, e)| (t.0, e)), Some((t, action(i))));
            }
            assert!(q.is_empty() && q.pop().is_none());
        }
    }
}
