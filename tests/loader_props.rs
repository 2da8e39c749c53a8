//! Property tests: whatever bytes or YAML-shaped text a project file holds,
//! the compiler returns diagnostics and never panics.

use proptest::prelude::*;

use herald::compiler::compile_with;
use herald::schema::Schemas;

const MANIFEST: &str = "timezone: Europe/Moscow\nchannels:\n  email: {provider: local}\nproviders:\n  local: {kind: file, path: out.jsonl}\n";

/// Text built from YAML's own pieces, so the parser sees deep, odd and
/// almost-valid structure rather than only noise.
fn yaml_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("filter".to_string()),
        Just("description".to_string()),
        Just("type".to_string()),
        Just("audience".to_string()),
        Just("steps".to_string()),
        Just(": ".to_string()),
        Just(":".to_string()),
        Just("\n".to_string()),
        Just("\n  ".to_string()),
        Just("- ".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("{".to_string()),
        Just("}".to_string()),
        Just(", ".to_string()),
        Just("\"".to_string()),
        Just("'".to_string()),
        Just("&a ".to_string()),
        Just("*a".to_string()),
        Just("<<: *a".to_string()),
        Just("!!str ".to_string()),
        Just("|\n  ".to_string()),
        Just("# comment".to_string()),
        Just("---\n".to_string()),
        Just("no".to_string()),
        Just("~".to_string()),
        Just("\t".to_string()),
        Just("Москва".to_string()),
        "[a-z_]{1,8}",
        "[0-9]{1,12}",
    ];
    prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

fn compile_files(files: &[(&str, Vec<u8>)]) {
    let project = tempfile::tempdir().expect("tempdir");
    for (name, bytes) in files {
        let path = project.path().join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, bytes).expect("write");
    }
    thread_local! {
        static SCHEMAS: Schemas = Schemas::new();
    }
    SCHEMAS.with(|schemas| {
        let compilation =
            compile_with(project.path(), schemas).expect("a readable project compiles");
        for diagnostic in compilation.diagnostics.iter() {
            // Every diagnostic about a file carries a span inside that file.
            if let Some(span) = diagnostic.span() {
                let file = compilation.project.sources.file(span.file);
                assert!(span.end as usize <= file.text.len(), "{diagnostic:?}");
            }
        }
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_in_any_file_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300), which in 0usize..4) {
        let mut files = vec![
            ("herald.yaml", MANIFEST.as_bytes().to_vec()),
            ("segments/a.yaml", b"filter: x > 1\n".to_vec()),
        ];
        let target = ["herald.yaml", "segments/a.yaml", "campaigns/c.yaml", "journeys/j.yaml"][which];
        files.retain(|(name, _)| *name != target);
        files.push((target, bytes));
        compile_files(&files);
    }

    #[test]
    fn arbitrary_yaml_never_panics(text in yaml_like(), which in 0usize..4) {
        let mut files = vec![("herald.yaml", MANIFEST.as_bytes().to_vec())];
        let target = ["herald.yaml", "segments/a.yaml", "campaigns/c.yaml", "journeys/j.yaml"][which];
        files.retain(|(name, _)| *name != target);
        files.push((target, text.into_bytes()));
        compile_files(&files);
    }
}
