//! Outputs of a run: the trace (text and JSON lines), its fingerprint, and
//! the evaluation of a scenario's expectations. Reads the world; never
//! changes it.

pub mod expect;
pub mod graph;
pub mod inspect;
pub mod pcap;
pub mod summary;
pub mod timeline;
pub mod trace;
