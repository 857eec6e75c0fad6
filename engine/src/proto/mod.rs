//! Sans-IO protocol models. Each takes `now` and inputs and returns outputs;
//! none touches the event queue, the scenario format or serde.
//! Invariant: nothing here knows about containers' lifecycles or the trace.

pub mod dns;
pub mod errno;
pub mod tcp;
