#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| aigw_fuzz::Target::AnthropicStream.fuzz(data));
