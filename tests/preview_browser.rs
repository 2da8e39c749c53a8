//! The preview page of `herald watch --serve` in a real browser: headless
//! Chromium (which `.ci/run` installs) loads the page, a template changes,
//! and the page updates itself without a reload.
//!
//! Skipped, with a message, where `/usr/bin/chromium` is missing, except under
//! `CI=true`, where a missing browser fails the test.

#[path = "watch/support.rs"]
mod support;

mod browser;

use std::process::Stdio;
use std::time::Duration;

use browser::{Browser, DevTools, chromium, free_port, have_chromium, output_within};
use support::{Watch, project};

#[test]
fn the_page_shows_every_message_rendered_on_the_server() {
    if !have_chromium() {
        return;
    }
    let dir = project();
    let mut watch = Watch::start(dir.path(), &["--serve", "0"]);
    let address = support::page_address(&watch.block());
    let profile = tempfile::tempdir().expect("profile");
    let mut command = chromium(profile.path());
    command.args(["--dump-dom", &format!("http://{address}/")]);
    let dom = output_within(command, Duration::from_secs(30));
    assert!(dom.contains("Footer v1"), "{dom}");
    assert!(dom.contains("Скидка для вас"), "{dom}");
    assert!(dom.contains("Ласточка: скидка до воскресенья"), "{dom}");

    support::write(
        dir.path(),
        "templates/partials/footer.html",
        "<p>Footer v2</p>\n",
    );
    watch.block();
    let mut command = chromium(profile.path());
    command.args(["--dump-dom", &format!("http://{address}/")]);
    let dom = output_within(command, Duration::from_secs(30));
    assert!(dom.contains("Footer v2"), "{dom}");
}

#[test]
fn the_open_page_updates_itself_when_a_template_changes() {
    if !have_chromium() {
        return;
    }
    let dir = project();
    let mut watch = Watch::start(dir.path(), &["--serve", "0"]);
    let address = support::page_address(&watch.block());
    let profile = tempfile::tempdir().expect("profile");
    let port = free_port();
    let mut browser = Browser(
        chromium(profile.path())
            .arg(format!("--remote-debugging-port={port}"))
            .arg(format!("http://{address}/"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromium starts"),
    );
    let mut page = DevTools::connect(port, &address);
    // The page is loaded and its event stream is open.
    page.wait_until("document.getElementById('status').textContent === 'live'");
    let text = "document.querySelector('iframe').srcdoc";
    assert!(page.evaluate(text).contains("Footer v1"));
    // A mark that a reload would erase.
    page.evaluate("window.herald_test_mark = 1");

    support::write(
        dir.path(),
        "templates/partials/footer.html",
        "<p>Footer v2</p>\n",
    );
    watch.block();
    page.wait_until(&format!("{text}.includes('Footer v2')"));
    assert_eq!(page.evaluate("String(window.herald_test_mark)"), "1");
    assert!(
        page.evaluate("document.getElementById('status').textContent")
            .starts_with("updated")
    );
    browser.stop();
}
