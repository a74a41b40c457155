//! The chosen output format applied to one answer of the server.
//!
//! JSON and YAML show the server's answer as it came (only re-indented), so
//! that scripts see every field, including ones this plugin does not know;
//! tree and table formats go through [`crate::render`].

use std::time::{SystemTime, UNIX_EPOCH};

use k8s_openapi::jiff::Timestamp;
use primary_all::wire::{OwnerChain, PrimaryWithSecondaries, TopLevelList};
use serde::de::DeserializeOwned;

use crate::api;
use crate::render;

/// An output format, with what the human ones need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The answer as indented JSON.
    Json,
    /// The answer as YAML.
    Yaml,
    /// The answer for people: a tree (`get`, `owners`) or a table (`toplevel`).
    Human {
        /// With ANSI colours.
        color: bool,
        /// With the extra columns of `-o wide`.
        wide: bool,
    },
}

/// Which answer a text is, so that the human format knows how to show it.
pub trait Answer: DeserializeOwned {
    /// The answer for people.
    fn render(&self, color: bool, wide: bool) -> String;
}

impl Answer for PrimaryWithSecondaries {
    fn render(&self, color: bool, wide: bool) -> String {
        let options = render::Options {
            color,
            wide,
            now: now(),
        };
        render::primary_tree(self, &options)
    }
}

impl Answer for OwnerChain {
    fn render(&self, color: bool, _wide: bool) -> String {
        render::owner_chain(self, color)
    }
}

impl Answer for TopLevelList {
    fn render(&self, color: bool, wide: bool) -> String {
        render::top_level_table(self, wide, color)
    }
}

/// Formats the JSON `answer` of the server, read as an `A` for people.
///
/// # Errors
///
/// [`api::Error::Decode`] when the answer is not an `A`, or cannot be
/// written as YAML.
pub fn format<A: Answer>(answer: &serde_json::Value, format: Format) -> Result<String, api::Error> {
    match format {
        Format::Json => {
            let mut text = serde_json::to_string_pretty(answer).map_err(api::Error::Decode)?;
            text.push('\n');
            Ok(text)
        }
        Format::Yaml => serde_saphyr::to_string(answer)
            .map_err(|e| api::Error::Decode(serde::de::Error::custom(format!("as YAML: {e}")))),
        Format::Human { color, wide } => {
            let typed: A = serde_json::from_value(answer.clone()).map_err(api::Error::Decode)?;
            Ok(typed.render(color, wide))
        }
    }
}

/// Formats the answer text of the server.
///
/// # Errors
///
/// As [`format()`], and when the text is not JSON.
pub fn format_text<A: Answer>(text: &str, format: Format) -> Result<String, api::Error> {
    let answer: serde_json::Value = serde_json::from_str(text).map_err(api::Error::Decode)?;
    self::format::<A>(&answer, format)
}

fn now() -> Timestamp {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Timestamp::from_second(i64::try_from(seconds).unwrap_or(0)).unwrap_or(Timestamp::UNIX_EPOCH)
}
