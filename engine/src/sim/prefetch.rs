//! A cache prefetch hint: the one `unsafe` block of the workspace.
//!
//! At 10,000 clients every event reads lines written some 10,000 events
//! earlier (its payload slot, its connection, its container), long evicted
//! from the L2; reading them one after another serialises the misses. A
//! prefetch issued while the previous event runs overlaps them. Stable Rust
//! has no safe prefetch (`core::hint::prefetch_read` is nightly-only), and
//! `_mm_prefetch` takes a raw pointer and is `unsafe` to call outside a
//! `#[target_feature]` function.

/// Asks the CPU to bring the cache line holding `r` into every cache
/// level. A hint: nothing is read, no behaviour changes, no fault can occur.
#[inline(always)]
pub fn prefetch<T>(r: &T) {
    line((r as *const T).cast());
}

/// [`prefetch`] of the first two cache lines of `r` (of a container, whose
/// type is 128-byte aligned: the pair its hot fields are in), never past
/// the value's end.
#[inline(always)]
pub fn prefetch_pair<T>(r: &T) {
    let p: *const u8 = (r as *const T).cast();
    line(p);
    if std::mem::size_of::<T>() > 64 {
        line(p.wrapping_add(64));
    }
}

/// [`prefetch`] of every cache line `r` spans, wherever it starts (a
/// slot of a table whose stride is not a whole number of lines).
#[inline(always)]
pub fn prefetch_span<T>(r: &T) {
    let p: *const u8 = (r as *const T).cast();
    let size = std::mem::size_of::<T>();
    let mut off = 0;
    while off < size {
        line(p.wrapping_add(off));
        off += 64;
    }
    if size > 0 {
        line(p.wrapping_add(size - 1));
    }
}

#[inline(always)]
#[allow(unsafe_code)]
fn line(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 neither reads nor writes memory as far as the
    // program can observe and never faults, whatever the address; these
    // come from inside a live value besides. SSE is part of x86-64's
    // baseline, so the instruction exists on every CPU this code can run on.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
