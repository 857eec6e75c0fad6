//! Addresses and IP address management. Routing lives in `sim::fabric`.

pub mod addr;
pub mod ipam;
