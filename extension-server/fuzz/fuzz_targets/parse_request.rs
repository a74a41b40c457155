//! Arbitrary bytes, read as a path below `/apis/primary-all/v1/` and a query
//! split at the first `?`: the parser must never panic, and every input it
//! refuses must be a 400 BadRequest (a 500 or another code would be a bug).

#![no_main]

use extension_server::error::AppError;
use extension_server::request::{parse_params, parse_path};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let input = String::from_utf8_lossy(bytes);
    let (path, query) = match input.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (&*input, None),
    };
    if let Err(err) = parse_path(path) {
        assert!(
            matches!(err, AppError::BadRequest(_)),
            "{path:?} gave {err:?}"
        );
    }
    if let Err(err) = parse_params(query) {
        assert!(
            matches!(err, AppError::BadRequest(_)),
            "{query:?} gave {err:?}"
        );
    }
});
