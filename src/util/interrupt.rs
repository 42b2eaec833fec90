//! SIGINT and SIGTERM: a flag the schedule's loops poll between tasks, so rank 0 saves what it
//! holds and exits instead of dying with it, and the workers hand it their last records first.
//!
//! On Ctrl-C, Open MPI 4.1's mpirun sends every rank SIGCONT, then `odls_base_sigkill_timeout`
//! seconds later (1 s by default) SIGTERM, and as long again later SIGKILL (Slurm's `scancel`
//! and time limit send SIGTERM too): the flag is seen within one task, and only records not
//! yet in the journal are written then. A second signal kills at once (the default action),
//! so a stuck save never traps the user.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use signal_hook::consts::{SIGINT, SIGTERM};

fn flag() -> &'static Arc<AtomicUsize> {
    static FLAG: OnceLock<Arc<AtomicUsize>> = OnceLock::new();
    FLAG.get_or_init(|| Arc::new(AtomicUsize::new(0)))
}

/// Catches SIGINT and SIGTERM from now on.
pub fn install() -> std::io::Result<()> {
    // Shared by both signals: Ctrl-C then `kill` also kills at once.
    let armed = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        // Registered before `armed` is set, so it acts only from the second signal on.
        signal_hook::flag::register_conditional_default(sig, Arc::clone(&armed))?;
        signal_hook::flag::register(sig, Arc::clone(&armed))?;
        signal_hook::flag::register_usize(sig, Arc::clone(flag()), sig as usize)?;
    }
    Ok(())
}

/// The signal received, if any.
pub fn received() -> Option<i32> {
    match flag().load(Ordering::Relaxed) {
        0 => None,
        sig => Some(sig as i32),
    }
}

/// The signal's name, as `stop_reason` spells it.
pub fn name(sig: i32) -> &'static str {
    match sig {
        SIGINT => "SIGINT",
        SIGTERM => "SIGTERM",
        _ => "a signal",
    }
}
