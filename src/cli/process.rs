//! Process-wide tuning the binary applies before its runtime starts threads:
//! mimalloc's purge delay and transparent huge pages (both measured in
//! bench/RESULTS.md), and the file-creation mask. The allocator itself is
//! declared in `main.rs`.

/// `mi_option_purge_delay` in mimalloc 3's option enum (the sys crate does not
/// name it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Applies the tuning; call it first in `main`, before any thread exists
/// (mimalloc reads its options as each thread's heap starts).
pub fn tune_process() {
    // mimalloc 3 returns freed memory to the OS after 1 s (version 2: 10 ms).
    // A check or sync frees its batches much faster than that, so the
    // process held ~40 MB it no longer used at its peak (1M first check: 146
    // MB). At 10 ms a 1M initial sync gave back and faulted in again the
    // memory of every page it parsed (1.2 s of system time); 100 ms keeps it
    // between pages: 0.6-1.0 s faster, peak RSS 103 -> 118 MB (check 77 -> 84
    // MB; bench/RESULTS.md). mimalloc's own `MIMALLOC_PURGE_DELAY`, when set,
    // is left to rule.
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: setting an option only times when free pages are given
        // back; it runs before any other thread exists.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 100) };
    }
    disable_transparent_huge_pages();
    private_files();
}

/// Files this process creates are 0600 and directories 0700 (umask 077):
/// the database, its WAL, letters, mail written as files and the audit
/// witness hold citizens' data or protect it, and were created 0644 (the data
/// directory 0755), readable by every user of the machine. An operator who
/// wants a group to read them sets it on the directory (setgid and ACLs are
/// kept) or runs the service under systemd's `UMask=`, which this keeps
/// unless it is wider.
fn private_files() {
    // SAFETY: umask only sets the calling process's file-creation mask.
    #[cfg(unix)]
    unsafe {
        let old = libc::umask(0o077);
        // A stricter mask set by the service manager stays.
        libc::umask(old | 0o077);
    }
}

/// Transparent huge pages off for this process. mimalloc asks for them
/// (`madvise`), and with freed memory given back soon after, memory reused a
/// moment later was faulted in again as a whole 2 MB page and zeroed: 11% of
/// an incremental sync's samples at 1M, and 20-30 MB of peak RSS in a sync
/// or check (bench/RESULTS.md). Failing (an old kernel) changes nothing else.
fn disable_transparent_huge_pages() {
    // SAFETY: PR_SET_THP_DISABLE only sets a flag of the calling process.
    #[cfg(target_os = "linux")]
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}
