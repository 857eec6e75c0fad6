//! The event queue: a min-heap ordered by `(time, sequence)`.
//!
//! The sequence number is taken at push time, so events due at the same
//! instant run in the order they were scheduled — the tie-break that makes
//! runs reproducible. Cancellation is lazy: handlers check a generation
//! (container incarnation, slotmap key version) and drop stale events.

use super::event::Event;
use crate::time::Time;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

struct Entry {
    at: Time,
    seq: u64,
    ev: Event,
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    fn cmp(&self, o: &Self) -> Ordering {
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}

#[derive(Default)]
pub struct Queue {
    heap: BinaryHeap<Entry>,
    seq: u64,
}

impl Queue {
    pub fn push(&mut self, at: Time, ev: Event) {
        let seq = self.seq;
        self.seq += 1;
        self.heap.push(Entry { at, seq, ev });
    }

    pub fn pop(&mut self) -> Option<(Time, Event)> {
        self.heap.pop().map(|e| (e.at, e.ev))
    }

    pub fn peek_time(&self) -> Option<Time> {
        self.heap.peek().map(|e| e.at)
    }

    /// How many pending events satisfy `f` (for end-of-run checks).
    pub fn count(&self, f: impl Fn(&Event) -> bool) -> usize {
        self.heap.iter().filter(|e| f(&e.ev)).count()
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
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
}
