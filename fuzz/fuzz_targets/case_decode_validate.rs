#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    preauth_worker_fuzz::case_decode_validate(data);
});
