#![no_main]

#[path = "../targets.rs"]
mod targets;

thread_local! {
    static TARGET: targets::FilterTarget = targets::FilterTarget::default();
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    TARGET.with(|target| target.run(data));
});
