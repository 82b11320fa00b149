//! The demo's privacy check: search the database file and its SQLite companions (`-wal`,
//! `-shm`) byte for byte for each client's name and phone number. The store encrypts both,
//! so none may appear in plaintext.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// What one scan looked at and found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    /// The files read.
    pub files: Vec<PathBuf>,
    /// Bytes read in all.
    pub bytes: u64,
    /// Indices (into the needles) of the texts found.
    pub found: BTreeSet<usize>,
}

/// The database file and whichever of its `-wal` and `-shm` files exist.
pub fn database_files(db: &Path) -> Vec<PathBuf> {
    let with_suffix = |suffix: &str| {
        let mut name = OsString::from(db.as_os_str());
        name.push(suffix);
        PathBuf::from(name)
    };
    [db.to_path_buf(), with_suffix("-wal"), with_suffix("-shm")]
        .into_iter()
        .filter(|p| p.is_file())
        .collect()
}

/// Whether `needle` occurs in `haystack` (used for needles shorter than two bytes).
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return false;
    };
    haystack
        .iter()
        .enumerate()
        .filter(|&(_, &b)| b == first)
        .any(|(i, _)| haystack.get(i + 1..i + 1 + rest.len()) == Some(rest))
}

/// Indices of the `needles` that occur in `haystack`, in one pass: needles are indexed by
/// their first two bytes, and only those sharing a position's two bytes are compared there.
fn find_all(haystack: &[u8], needles: &[&[u8]]) -> BTreeSet<usize> {
    let mut found = BTreeSet::new();
    let mut by_prefix: Vec<Vec<usize>> = vec![Vec::new(); 1 << 16];
    for (i, n) in needles.iter().enumerate() {
        match n {
            [a, b, ..] => by_prefix[usize::from(*a) << 8 | usize::from(*b)].push(i),
            _ => {
                if contains(haystack, n) {
                    found.insert(i);
                }
            }
        }
    }
    for (pos, pair) in haystack.windows(2).enumerate() {
        let candidates = &by_prefix[usize::from(pair[0]) << 8 | usize::from(pair[1])];
        for &i in candidates {
            let n = needles[i];
            if haystack.get(pos..pos + n.len()) == Some(n) {
                found.insert(i);
            }
        }
    }
    found
}

/// Search `files` for each of `needles` (exact bytes of the UTF-8 text).
pub fn scan(files: &[PathBuf], needles: &[String]) -> std::io::Result<Scan> {
    let mut out = Scan::default();
    let needle_bytes: Vec<&[u8]> = needles.iter().map(|n| n.as_bytes()).collect();
    for file in files {
        let bytes = std::fs::read(file)?;
        out.bytes += u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        out.found.extend(find_all(&bytes, &needle_bytes));
        out.files.push(file.clone());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_planted_text_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        std::fs::write(&db, b"\x00\x01header Achieng Odhiambo trailer").unwrap();
        std::fs::write(dir.path().join("x.db-wal"), b"+254 712 345 678").unwrap();
        let files = database_files(&db);
        assert_eq!(files.len(), 2);
        let needles = vec![
            "Achieng Odhiambo".to_owned(),
            "+254 712 345 678".to_owned(),
            "Sita Shrestha".to_owned(),
            String::new(),
        ];
        let scan = scan(&files, &needles).unwrap();
        assert_eq!(scan.found.into_iter().collect::<Vec<_>>(), [0, 1]);
        assert_eq!(scan.bytes, 33 + 16);
    }

    #[test]
    fn one_pass_search_agrees_with_the_naive_one() {
        let haystack = b"xxAchieng\x00+254 7 Sita Shrestha\xffA";
        let needles: Vec<&[u8]> = vec![
            b"Achieng",
            b"+254 7",
            b"Sita Shrestha",
            b"Sita Rai",
            b"A",
            b"z",
            b"",
            b"\xffA",
            b"A\x00",
        ];
        let found = find_all(haystack, &needles);
        let naive: BTreeSet<usize> = needles
            .iter()
            .enumerate()
            .filter(|(_, n)| contains(haystack, n))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(found, naive);
        assert_eq!(found.into_iter().collect::<Vec<_>>(), [0, 1, 2, 4, 7]);
    }

    #[test]
    fn contains_handles_edges() {
        assert!(contains(b"abc", b"abc"));
        assert!(contains(b"xxabc", b"abc"));
        assert!(!contains(b"ab", b"abc"));
        assert!(!contains(b"abd", b"abc"));
        assert!(!contains(b"abc", b""));
    }
}
