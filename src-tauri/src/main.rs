// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // Started as the indexer's document reader, this process reads files and exits here,
    // before anything of the app is set up.
    automix::docs::extract::serve_if_asked();
    limit_malloc_arenas();
    automix_app_lib::run();
}

/// glibc gives every thread that allocates its own malloc arena and keeps their freed memory; the
/// questions run on the blocking pool's threads, so after a dozen answers the app held 0.9–1.2 GB
/// (mostly idle arenas) against 0.73–0.8 GB with two arenas (tests/e2e/03-long-day.test.mjs).
/// Set before any thread starts; `MALLOC_ARENA_MAX` in the environment still wins.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; no other thread exists yet.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}
