//! libFuzzer entry for [`portico_fuzz::http1_head`]; see `tests/fuzz/src/lib.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portico_fuzz::http1_head(data));
