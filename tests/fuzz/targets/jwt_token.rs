//! libFuzzer entry for [`portico_fuzz::jwt_token`]; see `tests/fuzz/src/lib.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portico_fuzz::jwt_token(data));
