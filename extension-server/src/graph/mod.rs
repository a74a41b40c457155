//! Pure logic over objects already read: no client, no I/O.
//!
//! * [`ownership`]: who owns or labels whom, and the walk down from a
//!   primary;
//! * [`tree`]: an answer's secondaries nested below their owners;
//! * [`rules`]: the relationship rules file, parsed and checked.

pub mod ownership;
pub mod rules;
pub mod tree;
