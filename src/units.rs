//! How kafkasim writes quantities for people, in one place: scenario files, the
//! runner's findings and the checkers' descriptions spell a duration the same way.
//!
//! Depends on nothing.

/// Formats milliseconds the way scenario files write them: `"150ms"`, `"2s"`, `"2.5s"`,
/// `"1m"`, `"1m30s"`. The result parses back to the same value.
pub fn format_duration_ms(ms: u64) -> String {
    if ms == 0 {
        return "0s".to_string();
    }
    if ms < 1_000 {
        return format!("{ms}ms");
    }
    if ms.is_multiple_of(60_000) {
        return format!("{}m", ms / 60_000);
    }
    if ms > 60_000 && ms.is_multiple_of(1_000) {
        return format!("{}m{}s", ms / 60_000, (ms % 60_000) / 1_000);
    }
    if ms.is_multiple_of(1_000) {
        return format!("{}s", ms / 1_000);
    }
    let secs = format!("{}.{:03}", ms / 1_000, ms % 1_000);
    format!("{}s", secs.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_scenario_files_write_them() {
        let cases = [(0, "0s"), (150, "150ms"), (2_000, "2s"), (2_500, "2.5s"), (60_000, "1m"), (90_000, "1m30s")];
        for (ms, text) in cases {
            assert_eq!(format_duration_ms(ms), text);
        }
    }
}
