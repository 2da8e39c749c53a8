#![no_main]

#[path = "../targets.rs"]
mod targets;

thread_local! {
    static TARGET: targets::ProjectTarget = targets::ProjectTarget::default();
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    TARGET.with(|target| target.yaml(data));
});
