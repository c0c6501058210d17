//! Helpers shared by the registry's benchmark examples.

/// CPU seconds (user + system) this process has used, from /proc/self/stat
/// (Linux; clock ticks of 10 ms). CPU per operation is steadier than wall
/// time on a machine shared with other work.
#[allow(dead_code)] // not every example that includes this module times CPU
pub fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0
}

/// Registers the synthetic population's facilities (each its own provider
/// organization), as an operator would before the first submission.
#[allow(dead_code)] // not every example that includes this module loads a population
pub fn register_facilities(reg: &immunis_registry::Registry, generator: &immunis_synth::Generator) {
    let admin = immunis_registry::console_admin();
    for f in generator.facilities() {
        reg.register_facility(
            &admin,
            &f.name,
            immunis_model::OrganizationKind::Provider,
            &f.code,
            &f.name,
        )
        .expect("facility");
    }
}
