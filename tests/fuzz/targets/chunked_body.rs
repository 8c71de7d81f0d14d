//! libFuzzer entry for [`portico_fuzz::chunked_body`]; see `tests/fuzz/src/lib.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portico_fuzz::chunked_body(data));
