//! # wharf — a deterministic discrete-event simulator of container networks
//!
//! Layers depend downward only:
//!
//! 1. Foundations: [`time`], [`id`], [`rng`], [`dist`], [`ascii`].
//! 2. Sans-IO models: [`net`] (addresses, IPAM), [`proto`] (TCP timing, DNS
//!    registry and caches, errno), [`container`] (restart manager,
//!    healthcheck, programs).
//! 3. The loop: [`sim`] (event enum, queue, world, handlers).
//! 4. Scenario: [`scenario`] (RON schema, validation with locations, lowering).
//! 5. Outputs: [`output`] (trace text/JSON, fingerprint, expectations).
//! 6. CLI: [`cli`], a thin layer over the above.
//!
//! Invariant: the engine never reads a wall clock, never uses OS-seeded
//! randomness and never iterates a hash-ordered collection.

pub mod ascii;
pub mod cli;
pub mod container;
pub mod dist;
pub mod explore;
pub mod id;
pub mod net;
pub mod output;
pub mod proto;
pub mod rng;
pub mod run;
pub mod scenario;
pub mod shrink;
pub mod sim;
pub mod time;
