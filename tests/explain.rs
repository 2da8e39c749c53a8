//! `herald explain` for every code, pinned: the text users read is the
//! rule's documentation, wherever that documentation is kept in the tree.

use std::process::Command;

use herald::codes::Code;

fn explain(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_herald"))
        .arg("explain")
        .args(args)
        .output()
        .expect("herald runs");
    assert_eq!(output.status.code(), Some(0), "herald explain {args:?}");
    String::from_utf8(output.stdout).expect("UTF-8 stdout")
}

#[test]
fn explain_output_of_every_code_is_unchanged() {
    let mut all = String::new();
    for code in Code::ALL {
        all.push_str(&format!("===== herald explain {code}\n"));
        all.push_str(&explain(&[code.as_str()]));
    }
    insta::assert_snapshot!(all);
}

#[test]
fn explain_list_is_unchanged() {
    insta::assert_snapshot!(explain(&["--list"]));
}
