//! Arbitrary bytes, read as a path below `/apis/primary-all/v1/` (as a
//! primary and as any route) and a query split at the first `?`: the parser
//! must never panic, and every input it refuses must be a 400 BadRequest (a
//! 500 or another code would be a bug).

#![no_main]

use extension_server::error::AppError;
use extension_server::http::request::{parse_params, parse_path, parse_route};
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
    let name_selected = match parse_params(query) {
        Ok(params) => params.name_selected,
        Err(err) => {
            assert!(
                matches!(err, AppError::BadRequest(_)),
                "{query:?} gave {err:?}"
            );
            None
        }
    };
    // Every route (owners, toplevel, a kind with a selected name), too.
    if let Err(err) = parse_route(path, name_selected.as_deref()) {
        assert!(
            matches!(err, AppError::BadRequest(_)),
            "{path:?} gave {err:?}"
        );
    }
});
