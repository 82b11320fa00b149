//! Content compiled into the library: the builtin agenda and instrument definitions, kept
//! deflate-compressed (by `build.rs`) and inflated when loaded — ~7 KB of the phone library
//! instead of ~33 KB (docs/benchmarks.md, "Mobile library size").

use std::io::Read;

/// The builtin English agenda (`protocol/content/agenda.en.json`).
pub(crate) const AGENDA_EN: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/agenda.en.json.deflate"));
/// The builtin PHQ-2 definition (`instruments/data/phq2.json`).
pub(crate) const PHQ2: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/phq2.json.deflate"));
/// The builtin PHQ-9 definition (`instruments/data/phq9.json`).
pub(crate) const PHQ9: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/phq9.json.deflate"));
/// The builtin GAD-7 definition (`instruments/data/gad7.json`).
pub(crate) const GAD7: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/gad7.json.deflate"));

/// The text of one of the constants above. Fails only if the library itself is damaged.
pub(crate) fn text(compressed: &[u8]) -> std::io::Result<String> {
    let mut text = String::new();
    flate2::read::DeflateDecoder::new(compressed).read_to_string(&mut text)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn each_embedded_document_is_its_source_file() {
        for (compressed, source) in [
            (AGENDA_EN, include_str!("protocol/content/agenda.en.json")),
            (PHQ2, include_str!("instruments/data/phq2.json")),
            (PHQ9, include_str!("instruments/data/phq9.json")),
            (GAD7, include_str!("instruments/data/gad7.json")),
        ] {
            assert_eq!(text(compressed).unwrap(), source);
            assert!(compressed.len() * 2 < source.len(), "compressed");
        }
    }

    #[test]
    fn damaged_content_is_an_error() {
        assert!(text(&AGENDA_EN[..AGENDA_EN.len() / 2]).is_err());
        assert!(text(b"not deflate").is_err());
    }
}
