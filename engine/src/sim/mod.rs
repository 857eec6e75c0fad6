//! The simulation loop: one closed event enum, one queue ordered by
//! `(time, sequence)`, one handler per event, all on one thread.
//!
//! Invariant: no wall clock, no OS randomness, no hash-ordered iteration:
//! arenas are slotmaps (iterated in slot order) or, for the containers,
//! which are never removed, a `Vec` (`arena`), and maps are BTreeMaps or
//! vectors indexed by a dense number (`holders`); the few hash tables
//! (`demux`, the DNS registry's) use a fixed hash and are only looked up.

pub mod arena;
pub mod capture;
pub mod checks;
mod datagram;
pub mod demux;
pub mod dns;
pub mod event;
mod explain;
mod fabric;
pub mod fault;
pub mod holders;
mod ladder;
mod lifecycle;
pub mod ports;
mod prefetch;
mod programs;
pub mod publish;
pub mod queue;
pub mod record;
pub mod slots;
pub mod spec;
mod tcp;
pub mod world;

pub use world::{Stop, World};
