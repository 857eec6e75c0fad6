//! Typed handles into the simulation's arenas.
//!
//! Invariant: a key is only ever used with the arena that minted it; stale
//! keys (a connection already freed) are detected by slotmap's versioning.

use slotmap::new_key_type;

new_key_type! {
    /// A network (default bridge, user bridge, host, none).
    pub struct NetId;
    /// A container.
    pub struct CtrId;
    /// A TCP connection end (one per side).
    pub struct ConnId;
    /// A pending `connect()` of a program: resolution, then handshake.
    pub struct DialId;
    /// An outstanding DNS query of a client resolver.
    pub struct QueryId;
}

/// An interned string (names, targets): cheap to copy into trace records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sym(pub u32);

/// A network namespace: 0 is the Docker host's, then one per container
/// (`network_mode: host` containers share the host's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StackId(pub u32);

impl StackId {
    pub const HOST: StackId = StackId(0);
}
