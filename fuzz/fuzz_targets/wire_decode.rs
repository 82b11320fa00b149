//! Fuzz the sync wire decoder: arbitrary bytes must decode or fail with a typed error —
//! never panic, hang or allocate without bound. Each input is tried as a raw body and
//! wrapped in gzip (so arbitrary bytes reach the JSON parser behind the decompressor), and
//! as the `op_columns` of a reply (so they reach the columnar page's checks); every reply
//! that decodes has its operations read back, rows or columns.
#![no_main]

use ipc_core::sync::wire::{decode, gzip_raw, EnrolRequest, ErrorBody, SyncRequest, SyncResponse};
use libfuzzer_sys::fuzz_target;

const REPLY_HEAD: &[u8] = br#"{"version":1,"acked":[],"rejected":[],"ops":[],"removed":[],"cursor":0,"more":false,"server_time_ms":0,"wipe":false,"op_columns":"#;

fuzz_target!(|data: &[u8]| {
    let as_page = [REPLY_HEAD, data, b"}"].concat();
    for body in [data.to_vec(), gzip_raw(data), as_page] {
        let _ = decode::<SyncRequest>(&body);
        if let Ok(mut reply) = decode::<SyncResponse>(&body) {
            let _ = reply.take_ops();
        }
        let _ = decode::<EnrolRequest>(&body);
        let _ = decode::<ErrorBody>(&body);
    }
});
