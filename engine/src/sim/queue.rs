//! The event queue: a min-heap ordered by `(time, sequence)`.
//!
//! The sequence number is taken at push time, so events due at the same
//! instant run in the order they were scheduled — the tie-break that makes
//! runs reproducible. Cancellation is lazy: handlers check a generation
//! (container incarnation, slotmap key version) and drop stale events.
//!
//! Heap entries are 16 bytes — the time, and one word holding the sequence
//! number (high 40 bits) and a slot (low 24 bits) in a payload slab — so the
//! heap stays cache-friendly with a million pending events. Bounds: 2^40
//! pushes per run, 2^24 events pending at once.

use super::event::Event;
use crate::time::Time;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

const SLOT_BITS: u32 = 24;
const SLOT_MASK: u64 = (1 << SLOT_BITS) - 1;

#[derive(Default)]
pub struct Queue {
    heap: BinaryHeap<Reverse<(u64, u64)>>,
    slab: Vec<Event>,
    free: Vec<u32>,
    seq: u64,
}

impl Queue {
    pub fn push(&mut self, at: Time, ev: Event) {
        let slot = match self.free.pop() {
            Some(s) => {
                self.slab[s as usize] = ev;
                u64::from(s)
            }
            None => {
                self.slab.push(ev);
                self.slab.len() as u64 - 1
            }
        };
        assert!(slot <= SLOT_MASK, "more than 2^24 events pending at once");
        let key = (self.seq << SLOT_BITS) | slot;
        self.seq += 1;
        self.heap.push(Reverse((at.0, key)));
    }

    pub fn pop(&mut self) -> Option<(Time, Event)> {
        let Reverse((at, key)) = self.heap.pop()?;
        let slot = (key & SLOT_MASK) as u32;
        self.free.push(slot);
        Some((Time(at), self.slab[slot as usize]))
    }

    pub fn peek_time(&self) -> Option<Time> {
        self.heap.peek().map(|Reverse((at, _))| Time(*at))
    }

    /// How many pending events satisfy `f` (for end-of-run checks).
    pub fn count(&self, f: impl Fn(&Event) -> bool) -> usize {
        self.heap.iter().filter(|Reverse((_, k))| f(&self.slab[(k & SLOT_MASK) as usize])).count()
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
        assert_eq!(q.slab.len(), 3, "a freed slot is reused");
        assert_eq!(std::mem::size_of::<Reverse<(u64, u64)>>(), 16);
    }
}
