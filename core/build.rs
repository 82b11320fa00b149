//! Deflates the content compiled into the library — the builtin agenda and instrument
//! definitions, ~33 KB of JSON — into `OUT_DIR`, where `src/embedded.rs` includes it (~7 KB):
//! on a phone the library's size matters more than the microseconds it takes to inflate.

use std::error::Error;
use std::io::Write;
use std::path::PathBuf;

/// Source files (relative to the crate) and the names of their compressed copies.
const CONTENT: [(&str, &str); 4] = [
    (
        "src/protocol/content/agenda.en.json",
        "agenda.en.json.deflate",
    ),
    ("src/instruments/data/phq2.json", "phq2.json.deflate"),
    ("src/instruments/data/phq9.json", "phq9.json.deflate"),
    ("src/instruments/data/gad7.json", "gad7.json.deflate"),
];

fn main() -> Result<(), Box<dyn Error>> {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    for (source, name) in CONTENT {
        println!("cargo:rerun-if-changed={source}");
        let text = std::fs::read(source)?;
        let mut encoder =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&text)?;
        std::fs::write(out.join(name), encoder.finish()?)?;
    }
    println!("cargo:rerun-if-changed=build.rs");
    Ok(())
}
