//! The `uniffi-bindgen` command, built from the same uniffi version as the library so the
//! generated Kotlin and Swift always match the scaffolding (`scripts/bindings` runs it).

fn main() {
    uniffi::uniffi_bindgen_main()
}
