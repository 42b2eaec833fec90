//! The `net` result on the terminal, OSU style: `#` lines, a table of every ordered pair, then
//! host×host matrices (row = sender, column = receiver) and the flags.

use std::fmt::Write;

use super::schema::NetReport;

/// The whole text for stdout.
pub fn table(r: &NetReport) -> String {
    let mut s = String::new();
    header(&mut s, r);
    pairs(&mut s, r);
    let names: Vec<&str> = r.hosts.iter().map(|h| h.name.as_str()).collect();
    let bw = |i: usize, j: usize| {
        cell(r, i, j, |p| {
            (p.measured.bandwidth_mb_per_s, p.slow_bandwidth)
        })
    };
    let lat = |i: usize, j: usize| cell(r, i, j, |p| (p.measured.latency_us, p.slow_latency));
    let _ = writeln!(s, "#\n# bandwidth, MB/s: row host sends to column host");
    matrix(&mut s, &names, bw);
    let _ = writeln!(
        s,
        "#\n# latency, us: row host starts the ping-pong with column host"
    );
    matrix(&mut s, &names, lat);
    let _ = writeln!(s, "#");
    if r.flags.is_empty() {
        let _ = writeln!(
            s,
            "# no host or link is far slower than the typical host's best (factor {})",
            r.reference.slow_factor
        );
    }
    for f in &r.flags {
        let _ = writeln!(s, "# FLAG {f}");
    }
    s
}

fn header(s: &mut String, r: &NetReport) {
    let c = &r.config;
    let _ = writeln!(
        s,
        "# cluster-bench v{} net: {} hosts, {} ranks, {} ordered pairs in {} rounds, {:.1} s, {}",
        r.version,
        r.hosts.len(),
        r.ranks,
        r.pairs.len(),
        r.rounds,
        r.wall_s,
        r.mpi_library
    );
    let _ = writeln!(
        s,
        "# latency: {}-byte ping-pong, median of {} half round-trips after {} untimed",
        c.latency_bytes, c.latency_repeats, c.latency_warmup
    );
    let _ = writeln!(
        s,
        "# bandwidth: {}-byte messages, {} in flight per acknowledged window, windows for {} s \
         after {} untimed message(s); 1 MB = 10^6 bytes",
        c.bandwidth_bytes, c.bandwidth_window, c.bandwidth_s, c.bandwidth_warmup
    );
    let _ = writeln!(
        s,
        "# typical host's best: {:.1} MB/s, {:.1} us; '!' marks a link under 1/{} of it (or over {}x)",
        r.reference.bandwidth_mb_per_s,
        r.reference.latency_us,
        r.reference.slow_factor,
        r.reference.slow_factor
    );
}

fn pairs(s: &mut String, r: &NetReport) {
    let w = r
        .hosts
        .iter()
        .map(|h| h.name.len())
        .max()
        .unwrap_or(0)
        .max(4);
    let _ = writeln!(s, "#");
    let _ = writeln!(
        s,
        "# {:<w$} {:<w$} {:>5} {:>12} {:>12} {:>16}",
        "from", "to", "round", "latency_us", "min_us", "bandwidth_MB/s"
    );
    for p in &r.pairs {
        let m = &p.measured;
        let _ = writeln!(
            s,
            "  {:<w$} {:<w$} {:>5} {:>12.2} {:>12.2} {:>16.2}",
            p.from, p.to, m.round, m.latency_us, m.latency_min_us, m.bandwidth_mb_per_s
        );
    }
}

/// The value of pair (i, j) with '!' when slow; '-' on the diagonal.
fn cell(
    r: &NetReport,
    i: usize,
    j: usize,
    get: impl Fn(&super::schema::PairEntry) -> (f64, bool),
) -> String {
    let (from, to) = (&r.hosts[i].name, &r.hosts[j].name);
    match r.pairs.iter().find(|p| &p.from == from && &p.to == to) {
        Some(p) => {
            let (v, slow) = get(p);
            format!("{v:.1}{}", if slow { "!" } else { " " })
        }
        None => "- ".into(),
    }
}

/// Rows labelled `K name`, columns by number K (names would make 40 columns unreadable).
fn matrix(s: &mut String, names: &[&str], cell: impl Fn(usize, usize) -> String) {
    let w = names.iter().map(|n| n.len()).max().unwrap_or(0).max(4);
    let mut head = format!("# {:>3} {:<w$}", "", "");
    for j in 0..names.len() {
        let _ = write!(head, " {:>9}", format!("{} ", j + 1));
    }
    let _ = writeln!(s, "{head}");
    for (i, name) in names.iter().enumerate() {
        let mut row = format!("  {:>3} {name:<w$}", i + 1);
        for j in 0..names.len() {
            let _ = write!(row, " {:>9}", cell(i, j));
        }
        let _ = writeln!(s, "{row}");
    }
}
