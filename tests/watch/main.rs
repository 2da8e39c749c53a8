//! End-to-end tests of `herald watch`: the real binary watches a project in
//! a temporary directory while the tests edit it the ways editors do, and
//! every block it prints is read line by line (never waiting more than ten
//! seconds for one).

mod support;

use std::time::Duration;

use support::{Watch, project};

#[test]
fn start_prints_the_check_and_waits() {
    let dir = project();
    let mut watch = Watch::start(dir.path(), &[]);
    let block = watch.block();
    assert!(block.header().contains("started"), "{block}");
    assert!(block.has("no problems in 2 segments, 1 campaigns, 0 journeys, 3 templates"));
    assert!(block.has("watching "), "{block}");
    watch.quiet(Duration::from_millis(400));
}

#[test]
fn a_changed_partial_re_renders_the_messages_that_include_it() {
    let dir = project();
    let mut watch = Watch::start(dir.path(), &[]);
    watch.block();
    support::write(
        dir.path(),
        "templates/partials/footer.html",
        "<p>Footer v2</p>\n",
    );
    let block = watch.block();
    assert!(
        block
            .header()
            .contains("changed templates/partials/footer.html"),
        "{block}"
    );
    assert!(block.has("re-checked, as they use what changed: campaigns/promo.yaml"));
    assert!(block.has("━━ promo · email · sample-1"), "{block}");
    assert!(block.has("Footer v2"), "{block}");
    // The SMS is inline and reads no template: only the email is re-rendered.
    assert!(!block.has("━━ promo · sms"), "{block}");
    assert!(
        block.last().contains("0 errors, 0 warnings · 1 preview"),
        "{block}"
    );
}

#[test]
fn a_rename_save_is_one_change_of_the_real_file() {
    let dir = project();
    let mut watch = Watch::start(dir.path(), &[]);
    watch.block();
    // What vim and many IDEs do: write a hidden temporary file, then rename it over the original.
    let temporary = dir.path().join("templates/.promo.html.swx");
    std::fs::write(
        &temporary,
        "<h1>Renamed save</h1>{% include \"partials/footer.html\" %}\n\
         <a href=\"{{ links.unsubscribe }}\">Отписаться</a>\n",
    )
    .expect("write");
    std::fs::rename(&temporary, dir.path().join("templates/promo.html")).expect("rename");
    let block = watch.block();
    assert!(
        block.header().ends_with("changed templates/promo.html"),
        "{block}"
    );
    assert!(block.has("Renamed save"), "{block}");
    assert!(block.has("no problems"), "{block}");
}

#[test]
fn a_syntax_error_is_reported_and_its_fix_clears_it() {
    let dir = project();
    let mut watch = Watch::start(dir.path(), &[]);
    watch.block();
    support::write(
        dir.path(),
        "templates/partials/footer.html",
        "<p>{% if %}</p>\n",
    );
    let block = watch.block();
    assert!(block.has("error[T001]: template syntax error"), "{block}");
    assert!(block.has("templates/partials/footer.html:1:"), "{block}");
    assert!(block.has("render error"), "{block}");
    assert!(block.last().contains("1 error, 0 warnings"), "{block}");

    support::write(
        dir.path(),
        "templates/partials/footer.html",
        "<p>Fixed</p>\n",
    );
    let block = watch.block();
    assert!(block.has("no problems"), "{block}");
    assert!(block.has("Fixed"), "{block}");
    assert!(block.last().contains("0 errors, 0 warnings"), "{block}");
}

#[test]
fn a_yaml_error_in_the_manifest_does_not_stop_it() {
    let dir = project();
    let mut watch = Watch::start(dir.path(), &[]);
    watch.block();
    let manifest = std::fs::read_to_string(dir.path().join("herald.yaml")).expect("read");
    support::write(dir.path(), "herald.yaml", "timezone: [unclosed\n");
    let block = watch.block();
    assert!(block.has("error[Y001]"), "{block}");
    support::write(dir.path(), "herald.yaml", &manifest);
    let block = watch.block();
    assert!(block.has("no problems"), "{block}");
    // The manifest changes every message.
    assert!(block.has("━━ promo · sms · sample-1"), "{block}");
}

#[test]
fn deleted_and_recreated_files_are_followed() {
    let dir = project();
    let mut watch = Watch::start(dir.path(), &[]);
    watch.block();
    let segment = std::fs::read_to_string(dir.path().join("segments/buyers.yaml")).expect("read");
    std::fs::remove_file(dir.path().join("segments/buyers.yaml")).expect("remove");
    let block = watch.block();
    assert!(
        block.header().contains("changed segments/buyers.yaml"),
        "{block}"
    );
    assert!(block.has("unknown segment `buyers`"), "{block}");
    assert!(block.has("re-checked, as they use what changed: campaigns/promo.yaml"));

    support::write(dir.path(), "segments/buyers.yaml", &segment);
    let block = watch.block();
    assert!(block.has("no problems"), "{block}");

    // A template deleted, then created again in a new folder layout.
    std::fs::remove_dir_all(dir.path().join("templates/partials")).expect("remove");
    let block = watch.block();
    assert!(block.has("templates/partials/footer.html"), "{block}");
    assert!(block.has("error"), "{block}");
    std::fs::create_dir_all(dir.path().join("templates/partials")).expect("mkdir");
    support::write(
        dir.path(),
        "templates/partials/footer.html",
        "<p>Back</p>\n",
    );
    let block = watch.wait_for(|block| block.has("no problems"));
    assert!(block.has("Back"), "{block}");
}

#[test]
fn a_burst_of_saves_ends_in_the_last_state() {
    let dir = project();
    let mut watch = Watch::start(dir.path(), &[]);
    watch.block();
    for version in 1..=20 {
        support::write(
            dir.path(),
            "templates/partials/footer.html",
            &format!("<p>Burst {version}</p>\n"),
        );
        std::thread::sleep(Duration::from_millis(3));
    }
    let mut blocks = 0;
    let block = watch.wait_for(|block| {
        blocks += 1;
        block.has("Burst 20")
    });
    assert!(block.has("no problems"), "{block}");
    assert!(blocks < 20, "a burst of 20 saves printed {blocks} blocks");
    watch.quiet(Duration::from_millis(300));
}

#[test]
fn hidden_files_and_other_folders_are_ignored() {
    let dir = project();
    let mut watch = Watch::start(dir.path(), &[]);
    watch.block();
    support::write(dir.path(), "templates/.promo.html.swp", "swap");
    support::write(dir.path(), "templates/promo.html~", "backup");
    support::write(dir.path(), "notes/todo.txt", "not part of the project");
    support::write(dir.path(), "herald.db", "store");
    watch.quiet(Duration::from_millis(400));
    support::write(
        dir.path(),
        "segments/buyers.yaml",
        "filter: orders_count > 1\n",
    );
    let block = watch.block();
    assert!(
        block.header().ends_with("changed segments/buyers.yaml"),
        "{block}"
    );
    // A segment change re-checks but renders nothing.
    assert!(block.last().contains("0 previews"), "{block}");
}

#[test]
fn contact_from_the_command_line_must_exist() {
    let dir = project();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["--project"])
        .arg(dir.path())
        .args(["watch", "--contact", "nobody"])
        .output()
        .expect("herald runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("herald: "));
}

#[test]
fn a_missing_project_exits_2_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["--project"])
        .arg(dir.path().join("nowhere"))
        .arg("watch")
        .output()
        .expect("herald runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot read the herald project"),
        "{stderr}"
    );
}

#[test]
fn the_project_directory_disappearing_ends_it_with_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("project");
    support::write_project(&path);
    let mut watch = Watch::start(&path, &[]);
    watch.block();
    std::fs::remove_dir_all(&path).expect("remove");
    let status = watch.exit_status(Duration::from_secs(10));
    assert_eq!(status, Some(2), "stderr: {}", watch.stderr());
    assert!(watch.stderr().contains("the directory was removed"));
}

#[test]
fn the_preview_page_is_served_and_events_announce_each_check() {
    use std::io::{BufRead, BufReader, Write};

    let dir = project();
    let mut watch = Watch::start(dir.path(), &["--serve", "0"]);
    let address = support::page_address(&watch.block());
    assert!(address.starts_with("127.0.0.1:"), "{address}");

    let (status, page) = support::get(&address, "/");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(page.contains("Footer v1"), "{page}");
    assert!(page.contains("Ласточка: скидка до воскресенья"), "{page}");
    assert!(page.contains("UCS-2 · 31 characters · 1 part"), "{page}");
    assert!(page.contains("<iframe sandbox"), "{page}");
    let (_, page) = support::get(&address, "/?contact=sample-1");
    assert!(page.contains("selected>sample-1"), "{page}");
    assert_eq!(
        support::get(&address, "/nothing").0,
        "HTTP/1.1 404 Not Found"
    );

    let mut events = std::net::TcpStream::connect(&address).expect("connect");
    events
        .set_read_timeout(Some(support::WAIT))
        .expect("timeout");
    write!(events, "GET /events HTTP/1.1\r\nHost: {address}\r\n\r\n").expect("request");
    let mut events = BufReader::new(events);
    let mut next_data = || loop {
        let mut line = String::new();
        events.read_line(&mut line).expect("event line");
        if let Some(data) = line.strip_prefix("data: ") {
            return data.trim().to_string();
        }
    };
    assert_eq!(next_data(), "1");

    support::write(
        dir.path(),
        "templates/partials/footer.html",
        "<p>Footer v2</p>\n",
    );
    watch.block();
    assert_eq!(next_data(), "2");
    let (_, page) = support::get(&address, "/");
    assert!(page.contains("Footer v2"), "{page}");
    assert!(page.contains(r#"data-version="2""#), "{page}");
}
