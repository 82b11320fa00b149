//! Memory and CPU of the current process, from Linux `/proc/self` (the bench runs on Linux).

/// Read a `kB` field of `/proc/self/status` (`VmRSS`, `VmHWM`), in KiB.
pub fn status_kib(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_status_kib(&text, field)
}

fn parse_status_kib(text: &str, field: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().strip_suffix("kB")?.trim().parse().ok()
    })
}

/// Resident set size now, KiB.
pub fn rss_kib() -> u64 {
    status_kib("VmRSS").unwrap_or(0)
}

/// Peak resident set size of the process so far, KiB.
pub fn peak_rss_kib() -> u64 {
    status_kib("VmHWM").unwrap_or(0)
}

/// Reset the peak RSS (`VmHWM`) to the current RSS (Linux >= 4.0: `5` to
/// `/proc/self/clear_refs`), so that a later peak measures only what follows. Returns whether
/// the kernel accepted it.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", b"5").is_ok()
}

/// User + system CPU time of the process so far, in milliseconds (`/proc/self/stat`,
/// clock ticks of 10 ms, the Linux default).
pub fn cpu_ms() -> u64 {
    let Ok(text) = std::fs::read_to_string("/proc/self/stat") else {
        return 0;
    };
    parse_stat_cpu_ms(&text).unwrap_or(0)
}

fn parse_stat_cpu_ms(text: &str) -> Option<u64> {
    // The command name (field 2) may contain spaces; fields after its closing ')' are fixed.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 3, so utime (14) and stime (15) are at indices 11 and 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) * 10)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_status_and_stat() {
        let status = "Name:\tx\nVmHWM:\t  12345 kB\nVmRSS:\t   6789 kB\n";
        assert_eq!(parse_status_kib(status, "VmRSS"), Some(6789));
        assert_eq!(parse_status_kib(status, "VmHWM"), Some(12345));
        assert_eq!(parse_status_kib(status, "VmSwap"), None);
        let stat = "42 (a b) S 1 2 3 4 5 6 7 8 9 10 250 30 0 0";
        assert_eq!(parse_stat_cpu_ms(stat), Some(2800));
    }

    #[test]
    fn reads_this_process_and_resets_the_peak() {
        assert!(rss_kib() > 0);
        // A transient 64 MiB allocation, touched, then freed: the peak remembers it until reset.
        let big = vec![1u8; 64 << 20];
        assert!(std::hint::black_box(&big)
            .iter()
            .step_by(4096)
            .all(|b| *b == 1));
        drop(big);
        let before = peak_rss_kib();
        assert!(
            before >= rss_kib() + 32 * 1024,
            "peak {before} vs rss {}",
            rss_kib()
        );
        assert!(reset_peak_rss());
        assert!(peak_rss_kib() < before - 32 * 1024);
    }
}
