//! Scenario files: parse (serde + ron), validate (every problem, located),
//! lower (names become indices). The engine never sees a dangling name.
//! Invariant: `schema` holds the crate's only serde types.

pub mod advise;
pub mod compose;
pub mod diag;
pub mod lower;
pub mod schema;

pub use lower::{load_file, load_str, lower, parse, to_ron, Loaded};
