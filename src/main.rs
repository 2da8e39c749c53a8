/// mimalloc rather than glibc's allocator: rendering a send allocates and
/// frees every part of every message from several threads, and mimalloc's
/// thread-local heaps made the render benchmark 8% faster.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(herald::run(std::env::args_os()));
}
