//! The book's inline samples, compiled as doctests.
//!
//! Long samples live in compiled targets and are included into the book by
//! anchor; short ones stand in the chapters as `rust` or `rust,no_run`
//! fences. Each chapter is attached here as documentation, so that
//! `cargo test --doc -p primary-all-book` compiles every such fence, and a
//! chapter that grows one cannot ship it broken. (`mdbook test` cannot link
//! external crates, so it is never used.)

#[cfg(doctest)]
#[doc = include_str!("src/ch03-00-design.md")]
struct Ch03Design;

#[cfg(doctest)]
#[doc = include_str!("src/ch04-00-implementation.md")]
struct Ch04Implementation;

#[cfg(doctest)]
#[doc = include_str!("src/ch04-04-testing.md")]
struct Ch04Testing;

#[cfg(doctest)]
#[doc = include_str!("src/ch05-00-evaluation.md")]
struct Ch05Evaluation;
