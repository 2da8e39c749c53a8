//! `herald serve` over real HTTP on 127.0.0.1: the test starts the binary
//! on a free port (`--listen 127.0.0.1:0`) in a copy of the planner's
//! fixture with a `serve:` section and messages already in the outbox, and
//! checks what the store holds afterwards.
//!
//! Tokens are issued with the library's [`Signer`] under the secret the
//! test gives the service, as `herald run` issues them.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use serde_json::json;
use sha2::Sha256;

use herald::signed_link::{Links, Purpose, Signer};

mod browser;
mod common;
use common::{copy, herald};

const SECRET: &str = "serve-test-signing-secret";
const WHATSAPP_SECRET: &str = "wa-app-secret";
const WHATSAPP_VERIFY: &str = "wa-verify";
const VIBER_TOKEN: &str = "viber-auth-token";
const UNISENDER_KEY: &str = "unisender-api-key";
const SMSC_SECRET: &str = "smsc-secret-word";

const SERVE: &str = r#"
locale: ru
serve:
  public_url: https://mail.lastochka.example
  secret: ${env:HERALD_SERVE_SECRET}
  max_body_bytes: 65536
  webhooks:
    wa: {secret: "${env:HERALD_WA_SECRET}", verify_token: "${env:HERALD_WA_VERIFY}"}
    vb: {secret: "${env:HERALD_VIBER_TOKEN}"}
    uni: {secret: "${env:HERALD_UNISENDER_KEY}"}
    smsc: {secret: "${env:HERALD_SMSC_SECRET}"}
"#;

const PROVIDERS: &str = r#"providers:
  out: {kind: file, path: out.jsonl}
  wa: {kind: whatsapp, token: "${env:HERALD_VIBER_TOKEN}"}
  vb: {kind: viber, token: "${env:HERALD_VIBER_TOKEN}"}
  uni: {kind: unisender, api_key: "${env:HERALD_UNISENDER_KEY}"}
  smsc: {kind: smsc, login: lastochka, password: "${env:HERALD_SMSC_SECRET}"}
"#;

fn environment(command: &mut Command) -> &mut Command {
    command
        .env("HERALD_SERVE_SECRET", SECRET)
        .env("HERALD_WA_SECRET", WHATSAPP_SECRET)
        .env("HERALD_WA_VERIFY", WHATSAPP_VERIFY)
        .env("HERALD_VIBER_TOKEN", VIBER_TOKEN)
        .env("HERALD_UNISENDER_KEY", UNISENDER_KEY)
        .env("HERALD_SMSC_SECRET", SMSC_SECRET)
}

/// The planner's fixture with `serve:`, its contacts imported, and one sent
/// message per provider in the outbox.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plan/project"),
        dir.path(),
    );
    let manifest = dir.path().join("herald.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap().replace(
        "providers:\n  out: {kind: file, path: out.jsonl}\n",
        PROVIDERS,
    );
    std::fs::write(&manifest, format!("{text}{SERVE}")).unwrap();
    let (_, stderr, code) = herald(dir.path(), &["contacts", "import", "contacts.csv"]);
    assert_eq!(code, 0, "{stderr}");
    let store = rusqlite::Connection::open(dir.path().join("herald.db")).unwrap();
    store
        .execute(
            "UPDATE contacts SET viber_id = '01234567890A=' WHERE id = 'c01'",
            [],
        )
        .unwrap();
    let html =
        "<p>Весна</p><a href=\"https://lastochka.example/sale?utm=mail&amp;id=1\">Купить</a>";
    for (key, contact, channel, provider, provider_id) in [
        ("k-wa", "c01", "email", "wa", "wamid.1"),
        ("k-vb", "c01", "sms", "vb", "5001"),
        ("k-uni", "c01", "email", "uni", "job-1"),
        ("k-smsc", "c01", "sms", "smsc", "77"),
    ] {
        let payload = json!({
            "key": key, "campaign": "sale", "contact_id": contact, "channel": channel,
            "to": "anna@example.com",
            "parts": {"subject": "Весна", "text": "Весна", "html": html},
        })
        .to_string();
        store
            .execute(
                "INSERT INTO outbox (key, kind, name, occurrence, contact_id, channel, provider,
                 payload, state, send_at, not_before, created_at, updated_at, provider_message_id)
                 VALUES (?1, 'campaign', 'sale', '2026-03-10T09:00:00Z', ?2, ?3, ?4, ?5, 'sent',
                 0, 0, 0, 0, ?6)",
                rusqlite::params![key, contact, channel, provider, payload, provider_id],
            )
            .unwrap();
    }
    dir
}

/// A running `herald serve`, stopped (SIGTERM) when dropped.
struct Server {
    child: Child,
    address: String,
    root: PathBuf,
}

impl Server {
    fn start(root: &Path) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_herald"));
        environment(&mut command)
            .current_dir(root)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let address = loop {
            let line = lines
                .next()
                .expect("herald serve printed its address")
                .unwrap();
            if let Some(address) = line.strip_prefix("herald serve: listening on http://") {
                break address.to_string();
            }
        };
        // Keep reading the request log so the pipe never fills.
        std::thread::spawn(move || for _ in lines {});
        Server {
            child,
            address,
            root: root.to_path_buf(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Stops with SIGTERM; the exit code.
    fn stop(&mut self) -> Option<i32> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().ok().and_then(|status| status.code())
    }

    fn count(&self, sql: &str) -> i64 {
        let store = rusqlite::Connection::open(self.root.join("herald.db")).unwrap();
        store.query_row(sql, [], |row| row.get(0)).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn links(issued_at: i64) -> Links {
    Links::new(
        "https://mail.lastochka.example",
        Signer::new(SECRET.as_bytes()),
        3600,
        issued_at,
    )
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// The path of a link on the public address, to ask the test's server.
fn path_of(link: &str) -> &str {
    link.strip_prefix("https://mail.lastochka.example").unwrap()
}

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    hex(&mac.finalize().into_bytes())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn whatsapp_body(statuses: serde_json::Value) -> String {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [
        {"field": "messages", "value": {"messaging_product": "whatsapp", "statuses": statuses}}
    ]}]})
    .to_string()
}

/// A Unisender Go status callback about `k-uni`, signed as Unisender signs:
/// `auth` is the MD5 of the body written with the API key in its place.
fn unisender(status: &str) -> String {
    let body = |auth: &str| {
        json!({"auth": auth, "events_by_user": [{"user_id": 1, "events": [
            {"event_name": "transactional_email_status", "event_data": {
                "job_id": "job-1", "email": "anna@example.com", "status": status,
                "event_time": "2026-03-10 09:05:00",
                "metadata": {"herald_key": "k-uni"},
                "delivery_info": {"delivery_status": "err_spam_rejected"}}}]}]})
        .to_string()
    };
    let unsigned = body(UNISENDER_KEY);
    body(&hex(&Md5::digest(unsigned.as_bytes())))
}

/// Follows a click address once: the status and the redirect's target.
async fn click(server: &Server, link: &str) -> (u16, Option<String>) {
    let response = client()
        .get(server.url(path_of(link)))
        .send()
        .await
        .unwrap();
    let location = response
        .headers()
        .get("location")
        .map(|value| value.to_str().unwrap().to_string());
    (response.status().as_u16(), location)
}

/// Posts `body` to a webhook with its signature header; the status.
async fn post_signed(
    server: &Server,
    client: &reqwest::Client,
    path: &str,
    (header, signature): (&str, String),
    body: &str,
) -> u16 {
    client
        .post(server.url(path))
        .header(header, signature)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn post_viber(server: &Server, client: &reqwest::Client, body: &str) -> u16 {
    let signature = hmac_hex(VIBER_TOKEN, body.as_bytes());
    let header = ("X-Viber-Content-Signature", signature);
    post_signed(server, client, "/webhooks/vb", header, body).await
}

async fn post_whatsapp(server: &Server, client: &reqwest::Client, body: &str) -> u16 {
    let signature = format!("sha256={}", hmac_hex(WHATSAPP_SECRET, body.as_bytes()));
    let header = ("X-Hub-Signature-256", signature);
    post_signed(server, client, "/webhooks/wa", header, body).await
}

#[test]
fn one_click_post_unsubscribes_at_once_and_a_second_changes_nothing() {
    let dir = project();
    let mut server = Server::start(dir.path());
    let link = links(now()).unsubscribe("c01", "email");
    runtime().block_on(async {
        let client = client();
        for _ in 0..2 {
            let response = client
                .post(server.url(path_of(&link)))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body("List-Unsubscribe=One-Click")
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            assert!(response.text().await.unwrap().contains("вы отписаны"));
        }
    });
    assert_eq!(
        server.count(
            "SELECT count(*) FROM suppressions WHERE contact_id = 'c01' AND channel = 'email'
             AND reason = 'unsubscribed'"
        ),
        1
    );
    assert_eq!(
        server.count(
            "SELECT count(*) FROM consents WHERE contact_id = 'c01' AND channel = 'email'
             AND status = 'revoked' AND source = 'one-click unsubscribe'"
        ),
        1
    );
    assert_eq!(
        server.count(
            "SELECT count(*) FROM consent_history WHERE contact_id = 'c01' AND channel = 'email'
             AND status = 'revoked'"
        ),
        1
    );
    // Another channel of the same contact is untouched.
    assert_eq!(
        server.count("SELECT count(*) FROM suppressions WHERE channel = 'sms'"),
        0
    );
    assert_eq!(server.stop(), Some(0));
}

#[test]
fn get_shows_a_confirmation_page_in_the_project_locale_and_changes_nothing() {
    let dir = project();
    let server = Server::start(dir.path());
    let link = links(now()).unsubscribe("c01", "email");
    let page = runtime().block_on(async {
        let response = client()
            .get(server.url(path_of(&link)))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    });
    assert!(page.contains("<html lang=\"ru\">"), "{page}");
    assert!(
        page.contains("Отписаться от сообщений по каналу «email»?"),
        "{page}"
    );
    assert!(page.contains("<form method=\"post\""), "{page}");
    assert_eq!(server.count("SELECT count(*) FROM suppressions"), 0);
}

#[test]
fn a_tampered_or_expired_token_gets_403_and_changes_nothing() {
    let dir = project();
    let server = Server::start(dir.path());
    let link = links(now()).unsubscribe("c01", "email");
    let token = link.rsplit('/').next().unwrap();
    let (payload, signature) = token.split_once('.').unwrap();
    // Another contact's id under c01's signature.
    let forged_payload = {
        use base64::Engine;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let text = String::from_utf8(engine.decode(payload).unwrap()).unwrap();
        engine.encode(text.replace("c01", "c02"))
    };
    let expired = links(now() - 7200).unsubscribe("c01", "email");
    let other_secret =
        Links::new("https://x", Signer::new(b"guess"), 3600, now()).unsubscribe("c01", "email");
    let click_as_unsubscribe =
        Signer::new(SECRET.as_bytes()).issue(Purpose::Click, &["c01", "email"], now() + 3600);
    let paths = [
        format!("/u/{forged_payload}.{signature}"),
        format!("/u/{payload}.{}x", &signature[..signature.len() - 1]),
        path_of(&expired).to_string(),
        format!("/u/{}", other_secret.rsplit('/').next().unwrap()),
        format!("/u/{click_as_unsubscribe}"),
        "/u/not-a-token".to_string(),
    ];
    runtime().block_on(async {
        let client = client();
        for path in &paths {
            let post = client
                .post(server.url(path))
                .body("List-Unsubscribe=One-Click")
                .send()
                .await
                .unwrap();
            assert_eq!(post.status(), 403, "{path}");
            let get = client.get(server.url(path)).send().await.unwrap();
            assert_eq!(get.status(), 403, "{path}");
            assert!(get.text().await.unwrap().contains("Ссылка недействительна"));
        }
    });
    assert_eq!(server.count("SELECT count(*) FROM suppressions"), 0);
    assert_eq!(
        server.count("SELECT count(*) FROM consent_history WHERE source = 'one-click unsubscribe'"),
        0
    );
}

#[test]
fn whatsapp_statuses_are_recorded_once_and_a_permanent_failure_suppresses() {
    let dir = project();
    let server = Server::start(dir.path());
    let delivered = whatsapp_body(json!([
        {"id": "wamid.1", "status": "delivered", "timestamp": "1773133200",
         "recipient_id": "79161234501", "biz_opaque_callback_data": "k-wa"},
        {"id": "wamid.1", "status": "read", "timestamp": "1773133260", "recipient_id": "79161234501"},
    ]));
    let failed = whatsapp_body(json!([
        {"id": "wamid.1", "status": "failed", "timestamp": "1773133300", "recipient_id": "79161234501",
         "biz_opaque_callback_data": "k-wa",
         "errors": [{"code": 131026, "title": "Message undeliverable"}]},
    ]));
    runtime().block_on(async {
        let client = client();
        // The subscription handshake.
        let challenge = client
            .get(server.url(&format!(
                "/webhooks/wa?hub.mode=subscribe&hub.verify_token={WHATSAPP_VERIFY}&hub.challenge=1158201444"
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(challenge.status(), 200);
        assert_eq!(challenge.text().await.unwrap(), "1158201444");
        let wrong = client
            .get(server.url(
                "/webhooks/wa?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1",
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 403);
        // Each request three times: WhatsApp retries until it gets a 2xx.
        for body in [&delivered, &failed] {
            for _ in 0..3 {
                assert_eq!(post_whatsapp(&server, &client, body).await, 200);
            }
        }
    });
    assert_eq!(
        server.count(
            "SELECT count(*) FROM events WHERE contact_id = 'c01' AND event = 'message_delivered'
             AND json_extract(properties, '$.message_key') = 'k-wa'"
        ),
        1
    );
    assert_eq!(
        server.count("SELECT count(*) FROM events WHERE event = 'message_read'"),
        1
    );
    assert_eq!(
        server.count(
            "SELECT count(*) FROM events WHERE event = 'message_failed'
             AND json_extract(properties, '$.error_code') = 131026"
        ),
        1
    );
    assert_eq!(
        server.count(
            "SELECT count(*) FROM suppressions WHERE contact_id = 'c01' AND channel = 'email'
             AND reason = 'invalid' AND detail LIKE '%131026%'"
        ),
        1
    );
}

#[test]
fn viber_unisender_and_smsc_statuses_are_recorded_with_their_suppressions() {
    let dir = project();
    let server = Server::start(dir.path());
    let viber = json!({"event": "seen", "timestamp": 1773133200000i64, "message_token": 5001,
                       "user_id": "01234567890A="})
    .to_string();
    let smsc = |status: &str| {
        let checksum = hex(&Md5::digest(
            format!("77:79161234501:{status}:{SMSC_SECRET}").as_bytes(),
        ));
        format!("id=77&phone=79161234501&status={status}&err=0&ts=1773133200&md5={checksum}")
    };
    runtime().block_on(async {
        let client = client();
        assert_eq!(post_viber(&server, &client, &viber).await, 200);
        for status in ["opened", "spam", "spam"] {
            let response = client
                .post(server.url("/webhooks/uni"))
                .header("Content-Type", "application/json")
                .body(unisender(status))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
        }
        for status in ["1", "22"] {
            let response = client
                .post(server.url("/webhooks/smsc"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(smsc(status))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
        }
    });
    let events = |event: &str, key: &str| {
        server.count(&format!(
            "SELECT count(*) FROM events WHERE event = '{event}'
             AND json_extract(properties, '$.message_key') = '{key}'"
        ))
    };
    assert_eq!(events("message_read", "k-vb"), 1);
    assert_eq!(events("email_opened", "k-uni"), 1);
    assert_eq!(events("email_complained", "k-uni"), 1);
    assert_eq!(events("message_delivered", "k-smsc"), 1);
    assert_eq!(events("message_failed", "k-smsc"), 1);
    assert_eq!(
        server.count(
            "SELECT count(*) FROM suppressions WHERE contact_id = 'c01' AND channel = 'email'
             AND reason = 'complained'"
        ),
        1
    );
    assert_eq!(
        server.count(
            "SELECT count(*) FROM suppressions WHERE contact_id = 'c01' AND channel = 'sms'
             AND reason = 'invalid'"
        ),
        1
    );
}

#[test]
fn unsubscribing_through_a_provider_revokes_consent_once() {
    let dir = project();
    let server = Server::start(dir.path());
    let viber = json!({"event": "unsubscribed", "timestamp": 1773133200000i64,
                       "user_id": "01234567890A=", "message_token": 7})
    .to_string();
    runtime().block_on(async {
        let client = client();
        for _ in 0..2 {
            assert_eq!(post_viber(&server, &client, &viber).await, 200);
            let response = client
                .post(server.url("/webhooks/uni"))
                .body(unisender("unsubscribed"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
        }
    });
    for channel in ["viber", "email"] {
        assert_eq!(
            server.count(&format!(
                "SELECT count(*) FROM suppressions WHERE contact_id = 'c01'
                 AND channel = '{channel}' AND reason = 'unsubscribed'"
            )),
            1,
            "{channel}"
        );
        assert_eq!(
            server.count(&format!(
                "SELECT count(*) FROM consent_history WHERE contact_id = 'c01'
                 AND channel = '{channel}' AND status = 'revoked'"
            )),
            1,
            "{channel}"
        );
    }
    assert_eq!(
        server.count("SELECT count(*) FROM events WHERE event = 'unsubscribed'"),
        2
    );
}

#[test]
fn a_bad_signature_is_refused_with_nothing_written() {
    let dir = project();
    let server = Server::start(dir.path());
    let body = whatsapp_body(json!([
        {"id": "wamid.1", "status": "failed", "timestamp": "1773133300",
         "biz_opaque_callback_data": "k-wa", "errors": [{"code": 131026}]},
    ]));
    let viber = json!({"event": "delivered", "timestamp": 1, "message_token": 5001}).to_string();
    runtime().block_on(async {
        let client = client();
        let requests = [
            client
                .post(server.url("/webhooks/wa"))
                .header(
                    "X-Hub-Signature-256",
                    format!("sha256={}", hmac_hex("not-the-secret", body.as_bytes())),
                )
                .body(body.clone()),
            client.post(server.url("/webhooks/wa")).body(body.clone()),
            client
                .post(server.url("/webhooks/vb"))
                .header("X-Viber-Content-Signature", hmac_hex(VIBER_TOKEN, b"other"))
                .body(viber.clone()),
            client.post(server.url("/webhooks/uni")).body(
                json!({"auth": "0123456789abcdef0123456789abcdef", "events_by_user": []})
                    .to_string(),
            ),
            client
                .post(server.url("/webhooks/smsc"))
                .body("id=77&phone=79161234501&status=22&md5=00ff"),
        ];
        for request in requests {
            assert_eq!(request.send().await.unwrap().status(), 403);
        }
    });
    assert_eq!(server.count("SELECT count(*) FROM events"), 0);
    assert_eq!(server.count("SELECT count(*) FROM suppressions"), 0);
}

#[test]
fn an_oversized_body_gets_413_and_health_answers() {
    let dir = project();
    let mut server = Server::start(dir.path());
    runtime().block_on(async {
        let client = client();
        let big = "x".repeat(65_537);
        let response = client
            .post(server.url("/webhooks/wa"))
            .header("X-Hub-Signature-256", "sha256=00")
            .body(big)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 413);
        let health = client.get(server.url("/healthz")).send().await.unwrap();
        assert_eq!(health.status(), 200);
        assert_eq!(
            client
                .get(server.url("/nowhere"))
                .send()
                .await
                .unwrap()
                .status(),
            404
        );
    });
    assert_eq!(server.stop(), Some(0));
}

#[test]
fn a_click_redirects_only_to_an_address_of_its_message() {
    let dir = project();
    let server = Server::start(dir.path());
    let links = links(now());
    let inside = links.click("k-uni", "https://lastochka.example/sale?utm=mail&id=1");
    let outside = links.click("k-uni", "https://phishing.example/");
    runtime().block_on(async {
        for _ in 0..2 {
            assert_eq!(
                click(&server, &inside).await,
                (
                    302,
                    Some("https://lastochka.example/sale?utm=mail&id=1".into())
                )
            );
        }
        assert_eq!(click(&server, &outside).await, (404, None));
    });
    assert_eq!(
        server.count(
            "SELECT count(*) FROM events WHERE event = 'email_clicked' AND contact_id = 'c01'"
        ),
        1
    );
}

#[test]
fn a_thousand_concurrent_webhooks_are_all_recorded() {
    let dir = project();
    let server = Server::start(dir.path());
    // One distinct status per request, each about the WhatsApp message.
    let bodies: Vec<String> = (0..1000)
        .map(|index| {
            whatsapp_body(
                json!([{"id": format!("wamid.{index}"), "status": "delivered",
                "timestamp": "1773133200", "biz_opaque_callback_data": "k-wa"}]),
            )
        })
        .collect();
    let statuses = runtime().block_on(async {
        let client = client();
        let tasks: Vec<_> = bodies
            .into_iter()
            .map(|body| {
                let client = client.clone();
                let url = server.url("/webhooks/wa");
                tokio::spawn(async move {
                    client
                        .post(url)
                        .header(
                            "X-Hub-Signature-256",
                            format!("sha256={}", hmac_hex(WHATSAPP_SECRET, body.as_bytes())),
                        )
                        .body(body)
                        .send()
                        .await
                        .map(|response| response.status().as_u16())
                        .unwrap_or(0)
                })
            })
            .collect();
        let mut statuses = Vec::new();
        for task in tasks {
            statuses.push(task.await.unwrap());
        }
        statuses
    });
    assert!(statuses.iter().all(|status| *status == 200));
    assert_eq!(
        server.count("SELECT count(*) FROM events WHERE event = 'message_delivered'"),
        1000
    );
}

#[test]
fn plan_signs_each_contacts_unsubscribe_link_and_header() {
    let dir = project();
    let mut command = Command::new(env!("CARGO_BIN_EXE_herald"));
    let output = environment(&mut command)
        .current_dir(dir.path())
        .args(["plan", "--now", "2026-03-10 12:00", "--format", "json"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let start = stdout
        .find("https://mail.lastochka.example/u/")
        .unwrap_or_else(|| panic!("no signed link in {stdout}"));
    let link: String = stdout[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "-_./:".contains(*c))
        .collect();
    let token = link.rsplit('/').next().unwrap();
    let fields = Signer::new(SECRET.as_bytes())
        .verify(Purpose::Unsubscribe, token, now())
        .unwrap();
    assert_eq!(fields[1], "email");
    assert!(
        stdout.contains(&format!("<{link}>")),
        "List-Unsubscribe: {stdout}"
    );
    assert!(!stdout.contains("unsubscribe.invalid"));
}

#[test]
fn the_unsubscribe_page_works_in_a_browser() {
    if !browser::have_chromium() {
        return;
    }
    let dir = project();
    let server = Server::start(dir.path());
    let link = links(now()).unsubscribe("c01", "email");
    let profile = tempfile::tempdir().unwrap();
    let port = browser::free_port();
    let mut chromium = browser::Browser(
        browser::chromium(profile.path())
            .arg(format!("--remote-debugging-port={port}"))
            .arg(server.url(path_of(&link)))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut page = browser::DevTools::connect(port, &server.address);
    page.wait_until("document.getElementById('unsubscribe') !== null");
    assert_eq!(page.evaluate("document.documentElement.lang"), "ru");
    assert!(
        page.evaluate("document.body.innerText")
            .contains("Отписаться от сообщений по каналу «email»?")
    );
    // Showing the page changed nothing.
    assert_eq!(server.count("SELECT count(*) FROM suppressions"), 0);
    page.evaluate("document.getElementById('unsubscribe').click()");
    page.wait_until("document.getElementById('done') !== null");
    assert!(
        page.evaluate("document.body.innerText")
            .contains("вы отписаны")
    );
    chromium.stop();
    assert_eq!(
        server.count(
            "SELECT count(*) FROM suppressions WHERE contact_id = 'c01' AND channel = 'email'
             AND reason = 'unsubscribed'"
        ),
        1
    );
}

#[test]
fn run_points_email_links_at_the_click_redirect_which_records_and_redirects() {
    let dir = project();
    let manifest = dir.path().join("herald.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap().replace(
        "  max_body_bytes: 65536\n",
        "  max_body_bytes: 65536\n  track_clicks: true\n",
    );
    std::fs::write(&manifest, text).unwrap();
    let campaign = dir.path().join("campaigns/sale.yaml");
    let text = std::fs::read_to_string(&campaign).unwrap().replace(
        "<p>Скидка -20% на всё.</p>",
        "<p><a href=\"https://lastochka.example/sale?from=mail&amp;c=20\">Скидка -20%</a> на всё.</p>",
    );
    std::fs::write(&campaign, text).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_herald"));
    let output = environment(&mut command)
        .current_dir(dir.path())
        .args([
            "run",
            "--once",
            "--now",
            "2026-03-10 12:00",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let sent = std::fs::read_to_string(dir.path().join("out.jsonl")).unwrap();
    let email: serde_json::Value = sent
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .find(|message| message["channel"] == "email" && message["contact_id"] == "c01")
        .expect("c01's email");
    let html = email["parts"]["html"].as_str().unwrap();
    // The offer's link goes through the redirect, the unsubscribe link does not.
    assert!(
        !html.contains("href=\"https://lastochka.example/sale"),
        "{html}"
    );
    assert!(
        html.contains("href=\"https://mail.lastochka.example/u/"),
        "{html}"
    );
    let start = html
        .find("https://mail.lastochka.example/c/")
        .expect("a click link");
    let link = &html[start..start + html[start..].find('"').unwrap()];
    let server = Server::start(dir.path());
    runtime().block_on(async {
        assert_eq!(
            click(&server, link).await,
            (
                302,
                Some("https://lastochka.example/sale?from=mail&c=20".into())
            )
        );
        // The same token for another address is refused.
        let other = link.replace("?url=", "?url=https%3A%2F%2Fevil.example&x=");
        assert_eq!(click(&server, &other).await, (404, None));
    });
    assert_eq!(
        server.count(
            "SELECT count(*) FROM events WHERE event = 'email_clicked' AND contact_id = 'c01'
             AND json_extract(properties, '$.url') = 'https://lastochka.example/sale?from=mail&c=20'"
        ),
        1
    );
}

#[test]
fn serve_refuses_to_start_without_its_secret_or_its_store() {
    let dir = project();
    let serve = |command: &mut Command| {
        let output = command
            .current_dir(dir.path())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let mut command = Command::new(env!("CARGO_BIN_EXE_herald"));
    environment(&mut command).env_remove("HERALD_SERVE_SECRET");
    let (code, stderr) = serve(&mut command);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("`HERALD_SERVE_SECRET` is not set"),
        "{stderr}"
    );
    std::fs::remove_file(dir.path().join("herald.db")).unwrap();
    let (code, stderr) = serve(environment(&mut Command::new(env!("CARGO_BIN_EXE_herald"))));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("no such file"), "{stderr}");
    assert!(!dir.path().join("herald.db").exists());
}

#[test]
fn journey_emails_carry_the_contacts_signed_link_and_tracked_clicks() {
    let dir = tempfile::tempdir().unwrap();
    copy(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns/shop"),
        dir.path(),
    );
    let _ = std::fs::remove_file(dir.path().join("herald.db"));
    std::fs::write(
        dir.path().join("data/contacts.csv"),
        "id,email,timezone,created_at,first_name,gender,orders_count,total_spent,lifecycle,loyalty,consent.email\n\
         w1,w1@example.com,Europe/Moscow,2026-12-01T07:00:00Z,Анна,female,0,0,cold,basic,granted\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("data/events.jsonl"),
        r#"{"id":"e1","contact_id":"w1","event":"signed_up","at":"2026-12-01T07:00:00Z","properties":{"source":"site"}}"#,
    )
    .unwrap();
    let (_, stderr, code) = herald(dir.path(), &["sync"]);
    assert_eq!(code, 0, "{stderr}");
    let compilation = herald::compile(dir.path()).unwrap();
    let store = herald::store::Store::open(
        &dir.path().join("herald.db"),
        &compilation.project.manifest.as_ref().unwrap().value,
    )
    .unwrap();
    let links = links(now()).tracking_clicks(true);
    herald::run::journeys::advance_with_links(
        &compilation,
        &store,
        "2026-12-01T07:00:00Z".parse().unwrap(),
        Some(&links),
    )
    .unwrap();
    let payload: String = store
        .connection()
        .query_row(
            "SELECT payload FROM outbox WHERE kind = 'journey' AND contact_id = 'w1'
             AND channel = 'email'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    let message: serde_json::Value = serde_json::from_str(&payload).unwrap();
    let header = message["headers"]["List-Unsubscribe"].as_str().unwrap();
    let token = header
        .trim_matches(|c| c == '<' || c == '>')
        .strip_prefix("https://mail.lastochka.example/u/")
        .unwrap();
    let fields = Signer::new(SECRET.as_bytes())
        .verify(Purpose::Unsubscribe, token, now())
        .unwrap();
    assert_eq!(fields, ["w1", "email"]);
    let html = message["parts"]["html"].as_str().unwrap();
    assert!(html.contains("https://mail.lastochka.example/c/"), "{html}");
}
