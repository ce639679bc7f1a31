//! /proc readings: CPU ticks of processes, threads and the machine, RSS, thread ids.

/// utime + stime, in clock ticks, of `/proc/<what>/stat` (`what` is a pid, `self`, or
/// `self/task/<tid>`).
pub(crate) fn cpu_ticks(what: &str) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{what}/stat")) else {
        return 0;
    };
    // The command name may contain spaces: fields are counted after its closing parenthesis.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Field 14 (utime) and 15 (stime) of proc(5); `rest` starts at field 3.
    let field = |n: usize| {
        fields
            .get(n - 3)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(14) + field(15)
}

/// Clock ticks of the whole machine (all CPUs), from the first line of `/proc/stat`: time
/// charged to processes (user, nice, system), and interrupt, softirq and steal time.
pub(crate) fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().next().filter(|l| l.starts_with("cpu ")) else {
        return (0, 0);
    };
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let sum = |idx: &[usize]| idx.iter().filter_map(|&i| v.get(i)).sum::<u64>();
    (sum(&[0, 1, 2]), sum(&[5, 6, 7]))
}

/// VmRSS of `/proc/<pid>/status`, in bytes.
pub(crate) fn rss_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// The calling thread's id, from the `/proc/thread-self` link (`<pid>/task/<tid>`).
pub(crate) fn current_tid() -> Option<String> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    Some(link.file_name()?.to_string_lossy().into_owned())
}

/// Per thread of `pid`: (tid, name, utime+stime ticks, context switches).
pub(crate) fn thread_stats(pid: u32) -> Vec<(String, String, u64, u64)> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .map(|entry| {
            let tid = entry.file_name().to_string_lossy().into_owned();
            let what = format!("{pid}/task/{tid}");
            let name = std::fs::read_to_string(format!("/proc/{what}/comm"))
                .unwrap_or_default()
                .trim()
                // "sqlx-sqlite-worker-3" (cut to 15 characters) and kin: one group per kind.
                .trim_end_matches(|c: char| c.is_ascii_digit() || c == '-')
                .to_owned();
            let switches = std::fs::read_to_string(format!("/proc/{what}/status"))
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum();
            let ticks = cpu_ticks(&what);
            (tid, name, ticks, switches)
        })
        .collect()
}

/// CPU ticks by thread name and context switches between two `thread_stats` snapshots.
pub(crate) fn thread_delta(
    before: &[(String, String, u64, u64)],
    after: &[(String, String, u64, u64)],
) -> (Vec<(String, u64)>, u64) {
    let mut by_name: Vec<(String, u64)> = Vec::new();
    let mut switches = 0;
    for (tid, name, ticks, sw) in after {
        let (t0, s0) = before
            .iter()
            .find(|b| &b.0 == tid)
            .map_or((0, 0), |b| (b.2, b.3));
        switches += sw.saturating_sub(s0);
        let d = ticks.saturating_sub(t0);
        match by_name.iter_mut().find(|(n, _)| n == name) {
            Some((_, total)) => *total += d,
            None => by_name.push((name.clone(), d)),
        }
    }
    by_name.sort_by_key(|b| std::cmp::Reverse(b.1));
    (by_name, switches)
}
