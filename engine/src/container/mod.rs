//! Containers: lifecycle models (restart manager, healthcheck) and the
//! programs that run inside them. Sans-IO: nothing here owns the event queue.

pub mod client;
pub mod health;
pub mod pool;
pub mod program;
pub mod proxy;
pub mod queue;
pub mod restart;
pub mod server;
pub mod tools;
pub mod wait;
