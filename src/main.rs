fn main() {
    std::process::exit(herald::run(std::env::args_os()));
}
