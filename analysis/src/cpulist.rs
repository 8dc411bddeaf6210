//! Kernel CPU lists (`0-3,7`), as `/sys/devices/system/cpu/{online,isolated,nohz_full}` and the
//! `nohz_full=` / `isolcpus=` parameters write them.

/// Parses a kernel CPU list (`0-3,7`).
pub fn parse_cpu_list(s: &str) -> Vec<usize> {
    let mut v = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<usize>(), b.parse::<usize>()) {
                    v.extend(a..=b);
                }
            }
            None => v.extend(part.parse::<usize>().ok()),
        }
    }
    v
}
