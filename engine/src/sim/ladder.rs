//! The far part of the event queue: a ladder queue (Tang, Goh and Thng,
//! "Ladder queue: An O(1) priority queue structure for large-scale
//! discrete event simulation", 2005) on the queue's 128-bit keys.
//!
//! Events far from the front cost O(1) here instead of a heap pass over
//! levels out of cache. `top` holds the farthest events unsorted; below
//! it, rungs of time buckets, each rung finer than the one above, cover
//! the time from `split` to `top_start`; a rung's buckets are lists linked
//! through `next`, one entry per payload slot. The queue asks for the
//! front ([`Ladder::take_front`]) only when its heap and its run are
//! empty: the earliest bucket comes out, sorted, as the queue's new run —
//! split into a finer rung first if it holds more than `SPLIT_OVER` events
//! and can still be split; while the run holds fewer than `MIN_RUN`
//! events, the rung's following buckets join it, so the engine's loop,
//! which prefetches along the run, has a next event to look at even where
//! the buckets hold an event or two (1-ns buckets at 10⁴ connections).
//! Every key the ladder keeps is at or after the split it
//! returns, and every key it hands out is before it, so the heap and the
//! ladder together pop in exact (time, sequence) order. While the run
//! pops, the next bucket's list is walked one slot per pop
//! ([`Ladder::walk_ahead`], prefetches only), so that reading it, slot
//! after dependent slot, finds its lines in cache. Sans-IO: keys in, keys
//! out; the payloads stay in the queue's slab.

use super::prefetch::prefetch;
use super::queue::{key_of, slot_of, time_of, EMPTY};

const NIL: u32 = u32::MAX;
/// A bucket with more events than this becomes a finer rung (the paper's
/// THRES), while its width allows.
const SPLIT_OVER: u32 = 50;
/// A run shorter than this takes the rung's next buckets too (see
/// `take_front`).
const MIN_RUN: usize = 8;
/// How many buckets past the one handed out `take_front` looks for the
/// next bucket to walk ahead.
const AHEAD_SCAN: usize = 8;
/// At most this many rungs; the last one's buckets go to the heap whole.
const RUNGS: usize = 8;
/// Times from here on (146 years) never go into the top or a rung, so a
/// rung's range never overflows: they wait apart and come out,
/// `SPLIT_OVER` at a time, when nothing else is left (a saturated
/// `Time + Dur` lands at `u64::MAX`).
const FAR: u64 = 1 << 62;

#[derive(Clone, Copy)]
struct Bucket {
    /// The first slot of the bucket's list (`NIL`: empty).
    head: u32,
    len: u32,
}

const NO_BUCKET: Bucket = Bucket { head: NIL, len: 0 };

/// Buckets of width `1 << shift` from `start`; buckets before `cur` have
/// been taken.
#[derive(Default)]
struct Rung {
    start: u64,
    shift: u32,
    cur: usize,
    buckets: Vec<Bucket>,
    len: usize,
}

impl Rung {
    /// The start of the current bucket: keys at or after it belong here
    /// (up to where the rung above takes over).
    #[inline]
    fn cur_start(&self) -> u64 {
        self.start + ((self.cur as u64) << self.shift)
    }

    /// The first bucket from `cur` on that holds events, within
    /// `AHEAD_SCAN` buckets.
    #[inline]
    fn next_filled(&self) -> Option<usize> {
        self.buckets[self.cur..].iter().take(AHEAD_SCAN).position(|b| b.len > 0).map(|i| self.cur + i)
    }

    /// Resets the rung to `buckets` empty buckets of width `1 << shift`
    /// from `start`.
    fn reset(&mut self, start: u64, shift: u32, buckets: usize) {
        self.start = start;
        self.shift = shift;
        self.cur = 0;
        self.buckets.clear();
        self.buckets.resize(buckets, NO_BUCKET);
        self.len = 0;
    }
}

#[derive(Default)]
pub struct Ladder {
    /// Keys at or after `top_start` (and before `FAR`), unsorted.
    top: Vec<u128>,
    /// Keys at or after `FAR`, unsorted.
    far: Vec<u128>,
    top_min: u64,
    top_max: u64,
    top_start: u64,
    /// `rungs[..depth]` are in use, coarsest first.
    rungs: Vec<Rung>,
    depth: usize,
    /// Per payload slot: its key and the next slot of its bucket.
    keys: Vec<u128>,
    next: Vec<u32>,
    len: usize,
    /// A slot of the next bucket's list, walked one slot per pop of the
    /// run (`walk_ahead`) so that the list's lines are in when that bucket
    /// comes out: a list is read slot by slot, each read waiting on the
    /// one before. `NIL`: nothing to walk.
    ahead: u32,
}

impl Ladder {
    pub fn len(&self) -> usize {
        self.len
    }

    /// Takes `keys` (the ladder must be empty): they all wait in the top
    /// until the next [`Ladder::take_front`]. The split is then 0: every
    /// key goes to the ladder.
    pub fn open(&mut self, keys: impl Iterator<Item = u128>) {
        debug_assert!(self.len == 0 && self.depth == 0);
        self.top_start = 0;
        self.ahead = NIL;
        for k in keys {
            self.push(k);
        }
    }

    /// Stores `key`, which must be at or after the split last returned.
    /// Always inlined: as a call (the compiler's choice with `#[inline]`)
    /// its entry and exit lines alone took 80 instructions per marginal
    /// connection at 10⁶ (cachegrind); inlined, the engine's instructions
    /// fell 0.9–1.0 % (`benches/count.sh` at `pools 1000 20 ip`,
    /// `pools 20000 20 ip`, `requests 10001`).
    #[inline(always)]
    pub fn push(&mut self, key: u128) {
        let t = time_of(key);
        self.len += 1;
        if t >= FAR {
            self.far.push(key);
            return;
        }
        if t >= self.top_start {
            if self.top.is_empty() {
                (self.top_min, self.top_max) = (t, t);
            } else {
                self.top_min = self.top_min.min(t);
                self.top_max = self.top_max.max(t);
            }
            self.top.push(key);
            return;
        }
        let slot = slot_of(key);
        if slot >= self.keys.len() {
            self.keys.resize(slot + 1, EMPTY);
            self.next.resize(slot + 1, NIL);
        }
        self.keys[slot] = key;
        let last = self.depth - 1;
        let i = self.rungs[..last].iter().position(|r| t >= r.cur_start()).unwrap_or(last);
        let r = &mut self.rungs[i];
        debug_assert!(t >= r.cur_start(), "a key before the split");
        let b = (((t - r.start) >> r.shift) as usize).max(r.cur);
        let bucket = &mut r.buckets[b];
        self.next[slot] = bucket.head;
        *bucket = Bucket { head: slot as u32, len: bucket.len + 1 };
        r.len += 1;
    }

    /// Moves the earliest bucket's keys, sorted, to `out` (emptied first)
    /// and returns the new split: the keys left, and the keys pushed from
    /// then on, are all at or after it; the keys handed out all before it.
    /// The ladder stays open when it empties (the queue closes it), except
    /// after its last keys past `FAR`: then `EMPTY`. The ladder must not be
    /// empty.
    pub fn take_front(&mut self, out: &mut Vec<u128>) -> u128 {
        debug_assert!(self.len > 0);
        out.clear();
        loop {
            if self.depth == 0 {
                if self.top.is_empty() {
                    return self.take_far(out);
                }
                self.top_to_rung();
            }
            let d = self.depth - 1;
            if self.rungs[d].len == 0 {
                // Its range was its parent's bucket, already passed.
                self.depth -= 1;
                continue;
            }
            let r = &mut self.rungs[d];
            while r.buckets[r.cur].len == 0 {
                r.cur += 1;
            }
            let b = r.buckets[r.cur];
            r.buckets[r.cur] = NO_BUCKET;
            r.len -= b.len as usize;
            let start = r.cur_start();
            let shift = r.shift;
            r.cur += 1;
            if b.len > SPLIT_OVER && shift > 0 && self.depth < RUNGS {
                // A finer rung over this bucket's range, about one event
                // per bucket.
                let finer = shift.saturating_sub(b.len.next_power_of_two().trailing_zeros());
                self.rungs[self.depth].reset(start, finer, 1 << (shift - finer));
                self.depth += 1;
                let mut s = b.head;
                let c = &mut self.rungs[self.depth - 1];
                while s != NIL {
                    let k = self.keys[s as usize];
                    let nx = self.next[s as usize];
                    let bucket = &mut c.buckets[((time_of(k) - start) >> finer) as usize];
                    self.next[s as usize] = bucket.head;
                    *bucket = Bucket { head: s, len: bucket.len + 1 };
                    s = nx;
                }
                c.len = b.len as usize;
                continue;
            }
            let mut taken = b;
            loop {
                let mut s = taken.head;
                while s != NIL {
                    out.push(self.keys[s as usize]);
                    s = self.next[s as usize];
                }
                self.len -= taken.len as usize;
                // A run of a bucket or two gives the engine's loop no next
                // event to prefetch for a step ahead: while the run is
                // short, the rung's following buckets (time order, none
                // of them to be split) join it, within `AHEAD_SCAN`.
                if out.len() >= MIN_RUN {
                    break;
                }
                let r = &mut self.rungs[d];
                let Some(i) = r.next_filled().filter(|&i| r.buckets[i].len <= SPLIT_OVER) else {
                    break;
                };
                taken = std::mem::replace(&mut r.buckets[i], NO_BUCKET);
                r.len -= taken.len as usize;
                r.cur = i + 1;
            }
            out.sort_unstable();
            let r = &self.rungs[d];
            self.ahead = r.next_filled().map_or(NIL, |i| r.buckets[i].head);
            self.fetch(self.ahead);
            return key_of(self.rungs[d].cur_start(), 0);
        }
    }

    /// Only keys past `FAR` are left: the least `SPLIT_OVER` of them go
    /// out (all, when no more: the ladder closes), and the least of the
    /// rest is the split — so a later key before it goes to the heap, and
    /// the far keys never all cross to the heap and back.
    fn take_far(&mut self, out: &mut Vec<u128>) -> u128 {
        let n = SPLIT_OVER as usize;
        if self.far.len() > n {
            self.far.select_nth_unstable(n);
            out.extend(self.far.drain(..n));
            out.sort_unstable();
            self.len -= n;
            return self.far[0];
        }
        out.append(&mut self.far);
        out.sort_unstable();
        self.len = 0;
        self.close();
        EMPTY
    }

    /// One step along the next bucket's list (see `ahead`): reads the link
    /// fetched one step ago and fetches the slot after it. A hint: a list
    /// changed meanwhile (a push, a split) only makes it fetch another
    /// slot's lines.
    #[inline]
    pub fn walk_ahead(&mut self) {
        if let Some(&n) = self.next.get(self.ahead as usize) {
            self.ahead = n;
            self.fetch(n);
        }
    }

    #[inline]
    fn fetch(&self, slot: u32) {
        if let (Some(k), Some(n)) = (self.keys.get(slot as usize), self.next.get(slot as usize)) {
            prefetch(k);
            prefetch(n);
        }
    }

    /// Closes the empty ladder: the next `open` starts afresh.
    pub fn close(&mut self) {
        debug_assert!(self.len == 0);
        self.ahead = NIL;
        self.depth = 0;
        self.top_start = 0;
    }

    /// Spreads the top over a new coarsest rung of about one event per
    /// bucket (the ladder has no rung in use, and the top holds keys).
    fn top_to_rung(&mut self) {
        debug_assert!(!self.top.is_empty());
        let (start, end) = (self.top_min, self.top_max);
        let width = ((end - start) / self.top.len() as u64).max(1).next_power_of_two();
        let shift = width.trailing_zeros();
        let buckets = ((end - start) >> shift) as usize + 1;
        if self.rungs.is_empty() {
            self.rungs.resize_with(RUNGS, Rung::default);
        }
        self.rungs[0].reset(start, shift, buckets);
        self.top_start = start + ((buckets as u64) << shift);
        self.depth = 1;
        let mut top = std::mem::take(&mut self.top);
        self.len -= top.len();
        for &k in &top {
            self.push(k);
        }
        top.clear();
        if self.top.is_empty() {
            self.top = top;
        }
    }

    /// Calls `f` with every key held, in no particular order.
    pub fn for_each(&self, mut f: impl FnMut(u128)) {
        self.top.iter().chain(&self.far).for_each(|&k| f(k));
        for r in &self.rungs[..self.depth] {
            for b in &r.buckets[r.cur..] {
                let mut s = b.head;
                while s != NIL {
                    f(self.keys[s as usize]);
                    s = self.next[s as usize];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::queue::slot_of;

    /// After a bucket comes out, `walk_ahead` steps through the slots of
    /// the bucket that comes out next (fetching their lines before
    /// `take_front` reads them), and stops at its end.
    #[test]
    fn walk_ahead_visits_the_next_bucket() {
        let mut l = Ladder::default();
        // Sixteen times 1 µs apart, `MIN_RUN` keys each (slot = sequence =
        // i): one bucket per time, each a run by itself.
        let per = MIN_RUN as u64;
        l.open((0..16 * per).map(|i| key_of((i / per) * 1_000 + 7, (i << 24) | i)));
        let mut out = Vec::new();
        for _ in 0..3 {
            l.take_front(&mut out);
            let mut walked = vec![l.ahead];
            for _ in 0..100 {
                l.walk_ahead();
                if l.ahead == NIL {
                    break;
                }
                walked.push(l.ahead);
            }
            l.take_front(&mut out);
            let mut next: Vec<u32> = out.iter().map(|&k| slot_of(k) as u32).collect();
            walked.sort_unstable();
            next.sort_unstable();
            assert_eq!((walked.len(), walked), (MIN_RUN, next));
        }
    }

    /// Buckets of one event each: a run takes the following buckets until
    /// it holds `MIN_RUN` events, in order, and the split falls after them.
    #[test]
    fn short_buckets_join_one_run() {
        let mut l = Ladder::default();
        l.open((0..100u64).map(|i| key_of(i * 1_000, (i << 24) | i)));
        let mut out = Vec::new();
        let mut seen = Vec::new();
        while l.len > 0 {
            let split = l.take_front(&mut out);
            assert!(out.len() >= MIN_RUN || l.len == 0, "a run of {} with {} left", out.len(), l.len);
            assert!(out.iter().all(|&k| k < split), "every key handed out is before the split");
            seen.extend(out.iter().map(|&k| slot_of(k)));
        }
        assert_eq!(seen, (0..100).collect::<Vec<_>>());
    }
}
