//! Strict percent-decoding, for paths, queries and header keys.
//!
//! The `percent-encoding` crate decodes leniently: a `%` that is not
//! followed by two hex digits passes through as it is. kube-apiserver and
//! client-go treat such an escape as malformed, and so does this server, so
//! [`decode`] first checks that every `%` starts a whole escape.

use percent_encoding::percent_decode_str;

/// Why a text could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Malformed {
    /// A `%` not followed by two hex digits; the escape as written.
    Escape(String),
    /// The decoded bytes are not UTF-8.
    NotUtf8,
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Escape(escape) => write!(
                f,
                "{escape:?} is a malformed %-escape (expected % and two hex digits)"
            ),
            Self::NotUtf8 => write!(f, "it is not UTF-8 once %-decoded"),
        }
    }
}

/// Decodes every `%XX` escape of `text`, refusing a malformed one (`%zz`,
/// `%+1`, a `%` at the end) and bytes that are not UTF-8.
pub fn decode(text: &str) -> Result<String, Malformed> {
    check_escapes(text)?;
    utf8(text)
}

/// [`decode`] for a query component, where `+` stands for a space (as in
/// forms; a `+` itself is written `%2B`).
pub fn decode_form(text: &str) -> Result<String, Malformed> {
    check_escapes(text)?;
    utf8(&text.replace('+', " "))
}

/// Decodes the whole escapes of `text` (check them with [`decode`] first)
/// and takes bytes that are not UTF-8 as U+FFFD.
pub fn decode_lossy(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

fn check_escapes(text: &str) -> Result<(), Malformed> {
    match first_malformed_escape(text) {
        Some(at) => Err(Malformed::Escape(text[at..].chars().take(3).collect())),
        None => Ok(()),
    }
}

fn utf8(text: &str) -> Result<String, Malformed> {
    percent_decode_str(text)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| Malformed::NotUtf8)
}

/// Where the first `%` that does not start `%` and two hex digits is.
fn first_malformed_escape(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'%')
        .map(|(at, _)| at)
        .find(|at| {
            !bytes
                .get(at + 1..at + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_escapes_are_decoded() {
        assert_eq!(decode("a%2Fb%20c").unwrap(), "a/b c");
        assert_eq!(decode("caf%C3%A9").unwrap(), "café");
        assert_eq!(decode("plain").unwrap(), "plain");
    }

    #[test]
    fn a_malformed_escape_is_refused_and_named() {
        for (text, escape) in [
            ("%zz", "%zz"),
            ("a%+1", "%+1"),
            ("end%", "%"),
            ("x%4", "%4"),
        ] {
            assert_eq!(
                decode(text),
                Err(Malformed::Escape(escape.to_string())),
                "{text}"
            );
        }
    }

    #[test]
    fn in_a_query_a_plus_is_a_space_and_an_escaped_plus_a_plus() {
        assert_eq!(decode_form("a+b%2Bc").unwrap(), "a b+c");
        assert_eq!(
            decode_form("%+1"),
            Err(Malformed::Escape("%+1".to_string()))
        );
    }

    #[test]
    fn bytes_that_are_not_utf8_are_refused_or_replaced() {
        assert_eq!(decode("%FF%FE"), Err(Malformed::NotUtf8));
        assert_eq!(decode_lossy("%82%2fb"), "\u{FFFD}/b");
    }
}
