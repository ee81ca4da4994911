#![no_main]
//! A trigger expression (`error_rate(health) > 5% over 1m`) is text an
//! operator writes: parsing any text never panics, and an error points at
//! a span inside the text, on character boundaries, so the diagnostic can
//! underline it.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = tejun_probe::parse_expr(text) {
        let end = e.at + e.len;
        assert!(end <= text.len(), "{e:?} outside {text:?}");
        assert!(text.is_char_boundary(e.at) && text.is_char_boundary(end), "{e:?} in {text:?}");
    }
});
