//! What the benchmark reads: latencies, and the server process's CPU time and memory from
//! `/proc` (so the provider's and the driver's work are not counted).

use std::time::Duration;

/// Latencies of one phase.
#[derive(Default)]
pub struct Latencies(Vec<Duration>);

impl Latencies {
    pub fn record(&mut self, latency: Duration) {
        self.0.push(latency);
    }

    pub fn extend(&mut self, other: Latencies) {
        self.0.extend(other.0);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The `q` quantile (0–1) in milliseconds, nearest rank; 0 when empty.
    pub fn quantile_ms(&mut self, q: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        self.0.sort_unstable();
        let rank = ((q * self.0.len() as f64).ceil() as usize).clamp(1, self.0.len());
        self.0[rank - 1].as_secs_f64() * 1000.0
    }
}

/// One look at a process.
#[derive(Clone, Copy, Debug)]
pub struct ProcessSample {
    /// User plus system CPU time of all its threads, living and ended.
    pub cpu: Duration,
    /// Peak resident set size so far (`VmHWM`), bytes.
    pub peak_rss: u64,
}

impl ProcessSample {
    pub fn read(pid: u32) -> Result<ProcessSample, String> {
        let stat =
            std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
        let status =
            std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| format!("/proc/{pid}/status: {e}"))?;
        Ok(ProcessSample { cpu: cpu_time(&stat, clock_ticks_per_second())?, peak_rss: peak_rss(&status)? })
    }
}

/// utime + stime (fields 14 and 15); the command name (field 2) may hold spaces, so fields
/// are counted after its closing parenthesis.
fn cpu_time(stat: &str, ticks_per_second: u64) -> Result<Duration, String> {
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).ok_or("/proc/…/stat has no command name")?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name, field 3 (state) is index 0, so field n is index n - 3.
    let ticks = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok()).ok_or("/proc/…/stat is malformed");
    let total = ticks(14)? + ticks(15)?;
    Ok(Duration::from_secs_f64(total as f64 / ticks_per_second as f64))
}

fn peak_rss(status: &str) -> Result<u64, String> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).ok_or("/proc/…/status has no VmHWM")?;
    let kib: u64 = line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).ok_or("VmHWM is malformed")?;
    Ok(kib * 1024)
}

fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf reads a constant of the running system; no memory is touched.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks).ok().filter(|&t| t > 0).unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let mut latencies = Latencies::default();
        for ms in (1..=100).rev() {
            latencies.record(Duration::from_millis(ms));
        }
        assert_eq!(latencies.quantile_ms(0.5), 50.0);
        assert_eq!(latencies.quantile_ms(0.99), 99.0);
        assert_eq!(latencies.quantile_ms(1.0), 100.0);
        assert_eq!(Latencies::default().quantile_ms(0.99), 0.0);
    }

    #[test]
    fn cpu_time_counts_user_and_system_after_a_name_with_spaces() {
        let stat = "42 (latch key) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 100 1000 200";
        assert_eq!(cpu_time(stat, 100), Ok(Duration::from_secs(3)));
    }

    #[test]
    fn peak_rss_is_read_in_bytes() {
        assert_eq!(peak_rss("Name:\tlatchkey\nVmHWM:\t   37000 kB\nVmRSS:\t 1 kB\n"), Ok(37000 * 1024));
    }
}
