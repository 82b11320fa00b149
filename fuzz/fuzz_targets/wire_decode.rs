//! Fuzz the sync wire decoder: arbitrary bytes must decode or fail with a typed error —
//! never panic, hang or allocate without bound. Each input is tried as a raw body and
//! wrapped in gzip (so arbitrary bytes reach the JSON parser behind the decompressor).
#![no_main]

use ipc_core::sync::wire::{decode, gzip_raw, EnrolRequest, ErrorBody, SyncRequest, SyncResponse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for body in [data.to_vec(), gzip_raw(data)] {
        let _ = decode::<SyncRequest>(&body);
        let _ = decode::<SyncResponse>(&body);
        let _ = decode::<EnrolRequest>(&body);
        let _ = decode::<ErrorBody>(&body);
    }
});
