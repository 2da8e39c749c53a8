//! The `unisender`, `vk`, `whatsapp` and `viber` clients against fakes of
//! their services (tests/fakes), each following PROVIDERS.md: the exact
//! requests, how every documented answer becomes an outcome, VK's
//! `random_id` replay, WhatsApp's 24-hour rule; then `herald run` end to
//! end through each, ending in the right outbox states and suppressions.

mod fakes;

use std::collections::BTreeMap;
use std::time::Duration;

use herald::provider::unisender::SmsStatus;
use herald::provider::{
    Client, Credential, Message, Outcome, Parts, UnisenderProvider, UnisenderSettings,
    ViberProvider, ViberSettings, VkProvider, VkSettings, WhatsappProvider, WhatsappSettings,
};

use fakes::outcomes::{fails_without_suppressing, is_retry, message, stops, suppresses};
use fakes::{Script, unisender, viber, vk, whatsapp};

fn text(key: &str, channel: &str, recipient: &str, body: &str) -> Message {
    message(
        key,
        channel,
        recipient,
        Parts::Text {
            text: body.to_owned(),
        },
    )
}

fn sent_id(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Sent {
            provider_message_id: Some(id),
        } => id.clone(),
        other => panic!("expected a send, got {other:?}"),
    }
}

// ------------------------------------------------------------------- vk

fn vk_client(url: &str, token: &str) -> Client {
    let mut settings = VkSettings::new(Credential::new(token));
    settings.base_url = url.to_owned();
    settings.timeout = Duration::from_secs(2);
    Client::Vk(VkProvider::new(settings).unwrap())
}

#[tokio::test]
async fn vk_posts_a_form_with_a_stable_63_bit_random_id() {
    let fake = vk::VkFake::start("vk-token", &[]).await;
    let client = vk_client(&fake.server.url, "vk-token");
    assert!(client.honours_idempotency_key());
    let first = text(
        "campaign/sale/1/c-42/vk",
        "vk",
        "123456",
        "Скидка -20% на всё",
    );
    let outcome = client.send(&first).await;
    assert_eq!(sent_id(&outcome), "100");
    let request = &fake.server.requests()[0];
    assert_eq!(request.path, "/method/messages.send");
    assert!(
        request
            .header("content-type")
            .unwrap()
            .starts_with("application/x-www-form-urlencoded")
    );
    let form = request.form();
    assert_eq!(form["peer_id"], "123456");
    assert_eq!(form["message"], "Скидка -20% на всё");
    assert_eq!(form["v"], "5.199");
    let random_id: i64 = form["random_id"].parse().unwrap();
    assert!(random_id > 0);
    assert_eq!(random_id, VkProvider::random_id(&first));
    // Another key, another random_id; the same key, the same one.
    let other = text("campaign/sale/1/c-43/vk", "vk", "654321", "Скидка");
    assert_ne!(VkProvider::random_id(&other), random_id);
    assert_eq!(
        VkProvider::random_id(&text("campaign/sale/1/c-42/vk", "vk", "1", "x")),
        random_id
    );
}

#[tokio::test]
async fn vk_resend_after_a_lost_answer_answers_the_first_message_id_and_sends_once() {
    let fake = vk::VkFake::start("vk-token", &[]).await;
    let client = vk_client(&fake.server.url, "vk-token");
    let message = text("journey/welcome/hello/c-42/vk", "vk", "777", "Привет!");
    fake.server.script([Script::Drop]);
    let lost = client.send(&message).await;
    assert!(matches!(lost, Outcome::Unknown { .. }), "{lost:?}");
    let again = client.send(&message).await;
    assert_eq!(sent_id(&again), "100");
    assert_eq!(fake.delivered().len(), 1, "delivered once");
    assert_eq!(fake.server.requests().len(), 2);
}

#[tokio::test]
async fn vk_errors_inside_http_200_map_as_documented() {
    let fake = vk::VkFake::start("vk-token", &["901901"]).await;
    let client = vk_client(&fake.server.url, "vk-token");
    let send = |peer: &str| text(&format!("k/{peer}"), "vk", peer, "Привет");
    // 901 from the fake itself: no permission to message this user.
    assert!(suppresses(&client.send(&send("901901")).await));
    let cases: [(i64, &str); 12] = [
        (1, "retry"),
        (6, "retry"),
        (9, "retry"),
        (10, "retry"),
        (29, "quota"),
        (5, "stop"),
        (27, "stop"),
        (902, "suppress"),
        (900, "suppress"),
        (113, "suppress"),
        (914, "fail"),
        (100, "fail"),
    ];
    for (code, expected) in cases {
        fake.server
            .script([Script::Answer(vk::error(code, "scripted"))]);
        let outcome = client.send(&send(&code.to_string())).await;
        let ok = match expected {
            "retry" => is_retry(&outcome),
            "quota" => stops(&outcome) == Some(Some(Duration::from_secs(86_400))),
            "stop" => stops(&outcome) == Some(None),
            "suppress" => suppresses(&outcome),
            _ => fails_without_suppressing(&outcome),
        };
        assert!(ok, "VK error {code}: expected {expected}, got {outcome:?}");
        assert!(outcome.reason().starts_with(&format!("VK error {code}:")));
    }
    // Error 6 says the next second will do.
    fake.server
        .script([Script::Answer(vk::error(6, "Too many requests per second"))]);
    assert!(matches!(
        client.send(&send("6")).await,
        Outcome::Retry { after: Some(after), .. } if after == Duration::from_secs(1)
    ));
    // A wrong token, as the fake answers it; the token is never in a reason.
    let wrong = vk_client(&fake.server.url, "other-token");
    let outcome = wrong.send(&send("1")).await;
    assert_eq!(stops(&outcome), Some(None), "{outcome:?}");
    assert!(!outcome.reason().contains("other-token"));
}

// ---------------------------------------------------------------- viber

fn viber_client(url: &str, token: &str, sender: &str) -> Client {
    let mut settings = ViberSettings::new(Credential::new(token), sender.to_owned());
    settings.base_url = url.to_owned();
    settings.timeout = Duration::from_secs(2);
    Client::Viber(ViberProvider::new(settings).unwrap())
}

#[tokio::test]
async fn viber_sends_with_the_auth_token_header_and_the_key_as_tracking_data() {
    let fake = viber::start("viber-token", &[]).await;
    let client = viber_client(&fake.url, "viber-token", "Ласточка");
    let message = text(
        "campaign/sale/1/c-42/viber",
        "viber",
        "01234567890A=",
        "Скидка -20%",
    );
    let outcome = client.send(&message).await;
    assert_eq!(sent_id(&outcome), "5000000000");
    let request = &fake.requests()[0];
    assert_eq!(request.path, "/pa/send_message");
    assert_eq!(request.header("x-viber-auth-token"), Some("viber-token"));
    assert_eq!(
        request.json(),
        serde_json::json!({
            "receiver": "01234567890A=",
            "type": "text",
            "text": "Скидка -20%",
            "sender": {"name": "Ласточка"},
            "tracking_data": "campaign/sale/1/c-42/viber",
        })
    );
    assert!(!client.honours_idempotency_key());
}

#[tokio::test]
async fn viber_status_codes_map_as_documented() {
    let fake = viber::start("viber-token", &["gone="]).await;
    let client = viber_client(&fake.url, "viber-token", "Ласточка");
    let send = |receiver: &str| text("k", "viber", receiver, "Привет");
    assert!(suppresses(&client.send(&send("gone=")).await));
    let wrong = viber_client(&fake.url, "nope", "Ласточка");
    assert_eq!(stops(&wrong.send(&send("a=")).await), Some(None));
    for (status, expected) in [
        (5, "suppress"),
        (6, "suppress"),
        (11, "fail"),
        (3, "fail"),
        (12, "retry"),
        (2, "stop"),
        (7, "stop"),
        (10, "stop"),
        (24, "stop"),
    ] {
        fake.script([Script::Answer(viber::status(status, "scripted"))]);
        let outcome = client.send(&send("a=")).await;
        let ok = match expected {
            "retry" => matches!(
                outcome,
                Outcome::Retry { after: Some(after), .. } if after == Duration::from_secs(3600)
            ),
            "stop" => stops(&outcome) == Some(None),
            "suppress" => suppresses(&outcome),
            _ => fails_without_suppressing(&outcome),
        };
        assert!(
            ok,
            "Viber status {status}: expected {expected}, got {outcome:?}"
        );
    }
    fake.script([Script::Answer(fakes::Reply::json(
        503,
        serde_json::json!({}),
    ))]);
    assert!(is_retry(&client.send(&send("a=")).await));
}

// ------------------------------------------------------------- whatsapp

const WA_TOKEN: &str = "wa-token";
const WA_NUMBER: &str = "106540352242922";

async fn whatsapp_fake(open: &[&str]) -> whatsapp::WhatsappFake {
    whatsapp::WhatsappFake::start(whatsapp::Account {
        token: WA_TOKEN,
        phone_number_id: WA_NUMBER,
        templates: &[("herald_message", "ru")],
        open,
    })
    .await
}

fn whatsapp_client(url: &str, template: &str) -> Client {
    let mut settings = WhatsappSettings::new(
        Credential::new(WA_TOKEN),
        WA_NUMBER.to_owned(),
        template.to_owned(),
        "ru".to_owned(),
    );
    settings.base_url = url.to_owned();
    settings.timeout = Duration::from_secs(2);
    Client::Whatsapp(WhatsappProvider::new(settings).unwrap())
}

#[test]
fn whatsapp_window_is_open_for_24_hours_after_the_last_inbound_message() {
    let now = 1_800_000_000;
    assert!(!WhatsappProvider::window_open(None, now));
    assert!(WhatsappProvider::window_open(Some(now - 60), now));
    assert!(WhatsappProvider::window_open(Some(now - 86_399), now));
    assert!(!WhatsappProvider::window_open(Some(now - 86_400), now));
    // An event after the clock (a virtual clock in the past) opens nothing.
    assert!(!WhatsappProvider::window_open(Some(now + 60), now));
}

#[tokio::test]
async fn whatsapp_sends_the_template_outside_the_window_and_text_inside_it() {
    let fake = whatsapp_fake(&["79161234501"]).await;
    let client = whatsapp_client(&fake.server.url, "herald_message");
    assert_eq!(client.inbound_event(), Some("whatsapp_inbound"));
    let closed = text(
        "campaign/sale/1/c-41/whatsapp",
        "whatsapp",
        "79161234599",
        "Скидка -20%",
    );
    assert_eq!(
        sent_id(&client.send_in_window(&closed, false).await),
        "wamid.HBgL0001"
    );
    let open = text(
        "campaign/sale/1/c-42/whatsapp",
        "whatsapp",
        "79161234501",
        "Скидка -20%",
    );
    assert_eq!(
        sent_id(&client.send_in_window(&open, true).await),
        "wamid.HBgL0002"
    );
    let requests = fake.server.requests();
    assert_eq!(requests[0].path, format!("/v21.0/{WA_NUMBER}/messages"));
    assert_eq!(requests[0].header("authorization"), Some("Bearer wa-token"));
    assert_eq!(
        requests[0].json(),
        serde_json::json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "79161234599",
            "type": "template",
            "template": {
                "name": "herald_message",
                "language": {"code": "ru"},
                "components": [{"type": "body", "parameters": [{"type": "text", "text": "Скидка -20%"}]}],
            },
            "biz_opaque_callback_data": "campaign/sale/1/c-41/whatsapp",
        })
    );
    assert_eq!(requests[1].json()["type"], "text");
    assert_eq!(requests[1].json()["text"]["body"], "Скидка -20%");
    let accepted = fake.accepted();
    assert_eq!(
        accepted.iter().map(|a| a.kind.as_str()).collect::<Vec<_>>(),
        ["template", "text"]
    );
    assert_eq!(accepted[1].callback_data, "campaign/sale/1/c-42/whatsapp");
}

#[tokio::test]
async fn whatsapp_text_refused_with_131047_goes_as_the_template_in_the_same_attempt() {
    // herald thought the window open; WhatsApp says it closed.
    let fake = whatsapp_fake(&[]).await;
    let client = whatsapp_client(&fake.server.url, "herald_message");
    let message = text("k/c-42/whatsapp", "whatsapp", "79160000000", "Заказ готов");
    assert_eq!(
        sent_id(&client.send_in_window(&message, true).await),
        "wamid.HBgL0001"
    );
    let kinds: Vec<_> = fake
        .server
        .requests()
        .iter()
        .map(|request| request.json()["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, ["text", "template"]);
}

#[tokio::test]
async fn whatsapp_errors_map_as_documented() {
    let fake = whatsapp_fake(&[]).await;
    let client = whatsapp_client(&fake.server.url, "herald_message");
    let send = || text("k/c-42/whatsapp", "whatsapp", "79160000000", "Заказ готов");
    // The fake's own refusals: an unapproved template stops the provider
    // (every message would fail alike); a parameter with a line break
    // fails the message.
    let unapproved = whatsapp_client(&fake.server.url, "not_approved");
    assert_eq!(stops(&unapproved.send(&send()).await), Some(None));
    let multiline = text("k2", "whatsapp", "79160000000", "Заказ\nготов");
    let outcome = client.send(&multiline).await;
    assert!(fails_without_suppressing(&outcome), "{outcome:?}");
    assert!(outcome.reason().contains("132018"));
    for (status, code, expected) in [
        (429, 130429, "retry"),
        (400, 131056, "retry"),
        (400, 131057, "retry"),
        (500, 131000, "retry"),
        (400, 131026, "suppress"),
        (400, 131048, "fail"),
        (400, 131047, "fail"),
        (400, 131031, "stop"),
        (400, 368, "stop"),
        (401, 190, "stop"),
        (400, 100, "fail"),
    ] {
        fake.server.script([Script::Answer(
            whatsapp::error(status, code, "scripted", "details").with_header("retry-after", "7"),
        )]);
        let outcome = client.send(&send()).await;
        let ok = match expected {
            "retry" => matches!(
                outcome,
                Outcome::Retry { after: Some(after), .. } if after == Duration::from_secs(7)
            ),
            "stop" => stops(&outcome) == Some(None),
            "suppress" => suppresses(&outcome),
            _ => fails_without_suppressing(&outcome),
        };
        assert!(ok, "WhatsApp {code}: expected {expected}, got {outcome:?}");
    }
    fake.server.script([Script::Drop]);
    assert!(matches!(
        client.send(&send()).await,
        Outcome::Unknown { .. }
    ));
    assert!(!client.honours_idempotency_key());
}

#[test]
fn whatsapp_callback_data_is_the_key_or_its_hash_when_too_long() {
    use herald::provider::whatsapp::callback_data;
    assert_eq!(
        callback_data("campaign/x/1/c/whatsapp"),
        "campaign/x/1/c/whatsapp"
    );
    let long = "k".repeat(600);
    let data = callback_data(&long);
    assert!(data.starts_with("sha256:") && data.len() <= 512, "{data}");
}

// ------------------------------------------------------------ unisender

const UNISENDER_KEY: &str = "uni-key";

fn unisender_provider(url: &str, key: &str) -> UnisenderProvider {
    let mut settings = UnisenderSettings::new(Credential::new(key));
    settings.base_url = Some(url.to_owned());
    settings.from_email = Some("news@lastochka.example".to_owned());
    settings.from_name = Some("Ласточка".to_owned());
    settings.sms_sender = Some("Lastochka".to_owned());
    settings.timeout = Duration::from_secs(2);
    UnisenderProvider::new(settings).unwrap()
}

fn email(key: &str, to: &str) -> Message {
    message(
        key,
        "email",
        to,
        Parts::Email {
            subject: "Скидка -20%".to_owned(),
            text: "Скидка -20% на всё".to_owned(),
            html: Some("<p>Скидка -20% на всё</p>".to_owned()),
        },
    )
    .with_one_click_unsubscribe("https://lastochka.example/u/tok")
}

async fn unisender_fake() -> unisender::UnisenderFake {
    unisender::UnisenderFake::start(unisender::Behaviour {
        api_key: UNISENDER_KEY,
        failed_emails: &[
            ("gone@example.com", "permanent_unavailable"),
            ("busy@example.com", "temporary_unavailable"),
            ("left@example.com", "unsubscribed"),
        ],
        bad_phones: &["70000000000", "79160000002"],
        sms_statuses: &[
            ("79160000004", "err_dest_invalid"),
            ("79160000003", "ok_sent"),
        ],
    })
    .await
}

#[tokio::test]
async fn unisender_go_sends_email_with_the_key_in_metadata() {
    let fake = unisender_fake().await;
    let client = Client::Unisender(unisender_provider(&fake.server.url, UNISENDER_KEY));
    let outcome = client
        .send(&email("campaign/sale/1/c-42/email", "anna@example.com"))
        .await;
    assert_eq!(sent_id(&outcome), "1ZymBc-0001");
    let request = &fake.server.requests()[0];
    assert_eq!(request.path, "/ru/transactional/api/v1/email/send.json");
    assert_eq!(request.header("x-api-key"), Some(UNISENDER_KEY));
    let body = request.json();
    let sent = &body["message"];
    assert_eq!(sent["recipients"][0]["email"], "anna@example.com");
    assert_eq!(
        sent["recipients"][0]["metadata"]["herald_key"],
        "campaign/sale/1/c-42/email"
    );
    assert_eq!(sent["from_email"], "news@lastochka.example");
    assert_eq!(sent["from_name"], "Ласточка");
    assert_eq!(sent["body"]["plaintext"], "Скидка -20% на всё");
    assert_eq!(sent["body"]["html"], "<p>Скидка -20% на всё</p>");
    assert_eq!(
        sent["headers"]["List-Unsubscribe-Post"],
        "List-Unsubscribe=One-Click"
    );
}

#[tokio::test]
async fn unisender_go_failed_emails_and_http_errors_map_as_documented() {
    let fake = unisender_fake().await;
    let client = Client::Unisender(unisender_provider(&fake.server.url, UNISENDER_KEY));
    assert!(suppresses(
        &client.send(&email("k1", "gone@example.com")).await
    ));
    assert!(suppresses(
        &client.send(&email("k2", "left@example.com")).await
    ));
    assert!(is_retry(
        &client.send(&email("k3", "busy@example.com")).await
    ));
    let wrong = Client::Unisender(unisender_provider(&fake.server.url, "nope"));
    assert_eq!(
        stops(&wrong.send(&email("k4", "anna@example.com")).await),
        Some(None)
    );
    fake.server.script([
        Script::Answer(unisender::go_error(503, "maintenance", 0).with_header("retry-after", "30")),
        Script::Answer(unisender::go_error(400, "bad request", 114)),
    ]);
    assert!(matches!(
        client.send(&email("k5", "anna@example.com")).await,
        Outcome::Retry { after: Some(after), .. } if after == Duration::from_secs(30)
    ));
    assert!(fails_without_suppressing(
        &client.send(&email("k6", "anna@example.com")).await
    ));
}

#[tokio::test]
async fn unisender_sends_sms_and_reads_its_status() {
    let fake = unisender_fake().await;
    let provider = unisender_provider(&fake.server.url, UNISENDER_KEY);
    let client = Client::Unisender(unisender_provider(&fake.server.url, UNISENDER_KEY));
    let outcome = client
        .send(&text("k/sms/1", "sms", "+79160000001", "Скидка -20%"))
        .await;
    let id = sent_id(&outcome);
    assert_eq!(id, "7000");
    let request = &fake.server.requests()[0];
    assert_eq!(request.path, "/ru/api/sendSms");
    assert_eq!(request.query, "format=json");
    let form = request.form();
    assert_eq!(form["api_key"], UNISENDER_KEY);
    assert_eq!(form["phone"], "79160000001");
    assert_eq!(form["sender"], "Lastochka");
    assert_eq!(form["text"], "Скидка -20%");
    assert_eq!(provider.sms_status(&id).await, Ok(SmsStatus::Delivered));
    let bad = client
        .send(&text("k/sms/2", "sms", "+79160000004", "Скидка"))
        .await;
    assert_eq!(
        provider.sms_status(&sent_id(&bad)).await,
        Ok(SmsStatus::Failed {
            reason: "Unisender SMS status err_dest_invalid".into(),
            suppress: true
        })
    );
    let pending = client
        .send(&text("k/sms/3", "sms", "+79160000003", "Скидка"))
        .await;
    assert_eq!(
        provider.sms_status(&sent_id(&pending)).await,
        Ok(SmsStatus::Pending)
    );
    assert!(provider.sms_status("999").await.is_err());
}

#[tokio::test]
async fn unisender_sms_errors_map_as_documented() {
    let fake = unisender_fake().await;
    let client = Client::Unisender(unisender_provider(&fake.server.url, UNISENDER_KEY));
    let sms = |phone: &str| text("k", "sms", phone, "Скидка");
    assert!(suppresses(&client.send(&sms("+70000000000")).await));
    let wrong = Client::Unisender(unisender_provider(&fake.server.url, "nope"));
    assert_eq!(stops(&wrong.send(&sms("+79160000001")).await), Some(None));
    for (code, expected) in [
        ("not_enough_money", "stop"),
        ("access_denied", "stop"),
        ("src_invalid", "stop"),
        ("invalid_arg", "fail"),
        ("retry_later", "retry"),
        ("api_call_limit_exceeded_for_api_key", "retry"),
    ] {
        fake.server
            .script([Script::Answer(unisender::classic_error(code, "scripted"))]);
        let outcome = client.send(&sms("+79160000001")).await;
        let ok = match expected {
            "retry" => is_retry(&outcome),
            "stop" => stops(&outcome) == Some(None),
            _ => fails_without_suppressing(&outcome),
        };
        assert!(ok, "Unisender {code}: expected {expected}, got {outcome:?}");
    }
    // A lost answer leaves no sms_id to ask about: unknown, not resent.
    fake.server.script([Script::Drop]);
    let message = sms("+79160000001");
    assert!(matches!(
        client.send(&message).await,
        Outcome::Unknown { .. }
    ));
    assert_eq!(client.reconcile(&message).await, None);
}

// ------------------------------------------------- herald run, end to end

mod common;

const NOW: &str = "2026-03-10 12:00";

/// Runs `herald` in `root` off the async runtime (the fakes keep
/// answering), with the tests' secrets in the environment.
async fn herald(root: &std::path::Path, arguments: &[&str]) -> (String, String, i32) {
    let root = root.to_path_buf();
    let arguments: Vec<String> = arguments.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let arguments: Vec<&str> = arguments.iter().map(String::as_str).collect();
        common::herald_with(
            &root,
            &arguments,
            &[
                ("HERALD_TEST_VK_TOKEN", "vk-token"),
                ("HERALD_TEST_VIBER_TOKEN", "viber-token"),
                ("HERALD_TEST_WA_TOKEN", WA_TOKEN),
                ("HERALD_TEST_UNISENDER_KEY", UNISENDER_KEY),
            ],
        )
    })
    .await
    .unwrap()
}

/// The fixture (three contacts, one campaign per channel) with `providers`
/// added and the channels in `routes` (channel → provider) sent through
/// them; contacts and events imported.
async fn project(providers: &str, routes: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/providers_more/project");
    common::copy(&fixture, dir.path());
    let manifest = dir.path().join("herald.yaml");
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    text = text.replace(
        "  out: {kind: file, path: out.jsonl}\n",
        &format!("  out: {{kind: file, path: out.jsonl}}\n{providers}"),
    );
    for (channel, provider) in routes {
        text = text.replace(
            &format!("  {channel}: {{provider: out"),
            &format!("  {channel}: {{provider: {provider}"),
        );
    }
    std::fs::write(&manifest, text).unwrap();
    for arguments in [
        ["contacts", "import", "contacts.csv"],
        ["events", "ingest", "events.jsonl"],
    ] {
        let (_, stderr, code) = herald(dir.path(), &arguments).await;
        assert_eq!(code, 0, "{stderr}");
    }
    let (stdout, stderr, code) = herald(dir.path(), &["check"]).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    dir
}

async fn run_once(root: &std::path::Path) -> serde_json::Value {
    let (stdout, stderr, code) =
        herald(root, &["run", "--once", "--now", NOW, "--format", "json"]).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// The outbox counts by state of one campaign.
async fn counts(root: &std::path::Path, campaign: &str) -> BTreeMap<String, u64> {
    let (stdout, stderr, code) = herald(root, &["status", "--format", "json"]).await;
    assert_eq!(code, 0, "{stderr}");
    let status: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let group = status["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|group| group["name"] == campaign)
        .unwrap_or_else(|| panic!("no {campaign} in {status}"));
    group["counts"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(state, count)| (state.clone(), count.as_u64().unwrap()))
        .filter(|(_, count)| *count > 0)
        .collect()
}

fn suppressed(root: &std::path::Path, contact: &str, channel: &str) -> bool {
    let store = herald::store::Store::open_read_only(
        &root.join("herald.db"),
        herald::segment::catalog::Catalog::default(),
    )
    .unwrap();
    store.suppressed(contact, channel).unwrap()
}

fn states(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs
        .iter()
        .map(|(state, count)| (state.to_string(), *count))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn herald_run_through_vk_resends_a_lost_request_safely_and_suppresses_901() {
    let fake = vk::VkFake::start("vk-token", &["1002"]).await;
    // The first request takes effect and its answer is lost.
    fake.server.script([Script::Drop]);
    let providers = format!(
        "  community: {{kind: vk, token: \"${{env:HERALD_TEST_VK_TOKEN}}\", base_url: \"{}\", rate_limit: 100}}\n",
        fake.server.url
    );
    let dir = project(&providers, &[("vk", "community")]).await;
    let report = run_once(dir.path()).await;
    assert_eq!(report["unknown"], 0, "{report}");
    assert_eq!(
        counts(dir.path(), "ready_vk").await,
        states(&[("sent", 2), ("failed", 1)])
    );
    // Each reachable peer got exactly one message, the lost one included.
    let peers = fake.by_peer();
    assert_eq!(peers.keys().collect::<Vec<_>>(), ["1001", "1003"]);
    assert!(
        peers.values().all(|messages| messages.len() == 1),
        "{peers:?}"
    );
    assert_eq!(
        fake.server.requests().len(),
        4,
        "three sends and one resend"
    );
    assert!(suppressed(dir.path(), "c2", "vk"));
    assert!(!suppressed(dir.path(), "c1", "vk"));
    // Running the same occurrence again sends nothing.
    run_once(dir.path()).await;
    assert_eq!(fake.server.requests().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn herald_run_through_viber_sends_with_the_sender_name_and_suppresses_unsubscribed() {
    let fake = viber::start("viber-token", &["gone-viber="]).await;
    let providers = format!(
        "  bot: {{kind: viber, token: \"${{env:HERALD_TEST_VIBER_TOKEN}}\", base_url: \"{}\"}}\n",
        fake.url
    );
    let dir = project(&providers, &[("viber", "bot")]).await;
    run_once(dir.path()).await;
    assert_eq!(
        counts(dir.path(), "ready_viber").await,
        states(&[("sent", 2), ("failed", 1)])
    );
    assert!(suppressed(dir.path(), "c2", "viber"));
    let requests = fake.requests();
    assert_eq!(requests.len(), 3);
    assert!(
        requests
            .iter()
            .all(|request| request.json()["sender"]["name"] == "Ласточка")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn herald_run_through_whatsapp_sends_text_inside_the_window_and_the_template_outside() {
    // c1 wrote four hours before the run, c3 two days before, c2 never.
    let fake = whatsapp_fake(&["+79160000001", "+79160000003"]).await;
    let providers = format!(
        "  wa: {{kind: whatsapp, token: \"${{env:HERALD_TEST_WA_TOKEN}}\", phone_number_id: \"{WA_NUMBER}\", template: herald_message, base_url: \"{}\"}}\n",
        fake.server.url
    );
    let dir = project(&providers, &[("whatsapp", "wa")]).await;
    run_once(dir.path()).await;
    assert_eq!(
        counts(dir.path(), "ready_whatsapp").await,
        states(&[("sent", 3)])
    );
    let mut accepted = fake.accepted();
    accepted.sort_by(|a, b| a.to.cmp(&b.to));
    let forms: Vec<_> = accepted
        .iter()
        .map(|a| (a.to.as_str(), a.kind.as_str()))
        .collect();
    assert_eq!(
        forms,
        [
            ("+79160000001", "text"),
            ("+79160000002", "template"),
            ("+79160000003", "template"),
        ]
    );
    assert_eq!(accepted[0].text, "Анна, ваш заказ ждёт в пункте выдачи.");
    assert!(
        accepted
            .iter()
            .all(|a| a.callback_data.ends_with("/whatsapp")
                && a.callback_data.starts_with("campaign/ready_whatsapp/")),
        "{accepted:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn herald_run_through_unisender_sends_email_by_go_and_sms_by_the_classic_api() {
    let fake = unisender_fake().await;
    let providers = format!(
        "  uni_mail: {{kind: unisender, api_key: \"${{env:HERALD_TEST_UNISENDER_KEY}}\", base_url: \"{url}\", rate_limit: 100}}\n  uni_sms: {{kind: unisender, api_key: \"${{env:HERALD_TEST_UNISENDER_KEY}}\", base_url: \"{url}\", rate_limit: 100}}\n",
        url = fake.server.url
    );
    let dir = project(&providers, &[("email", "uni_mail"), ("sms", "uni_sms")]).await;
    run_once(dir.path()).await;
    for campaign in ["ready_email", "ready_sms"] {
        assert_eq!(
            counts(dir.path(), campaign).await,
            states(&[("sent", 2), ("failed", 1)]),
            "{campaign}"
        );
    }
    // gone@example.com is permanently unavailable; +79160000002 invalid.
    assert!(suppressed(dir.path(), "c2", "email"));
    assert!(suppressed(dir.path(), "c2", "sms"));
    let accepted = fake.accepted();
    assert_eq!(accepted.len(), 4);
    for sent in accepted {
        match sent {
            unisender::Accepted::Email {
                from_email,
                herald_key,
                ..
            } => {
                assert_eq!(from_email, "news@lastochka.example");
                assert!(
                    herald_key.starts_with("campaign/ready_email/"),
                    "{herald_key}"
                );
            }
            unisender::Accepted::Sms { sender, .. } => assert_eq!(sender, "Lastochka"),
        }
    }
}

/// The outbox rows of one campaign: key, contact and state.
fn outbox_rows(root: &std::path::Path, campaign: &str) -> Vec<(String, String, String)> {
    let store = rusqlite::Connection::open(root.join("herald.db")).unwrap();
    store
        .prepare("SELECT key, contact_id, state FROM outbox WHERE name = ?1 ORDER BY contact_id")
        .unwrap()
        .query_map([campaign], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The delivery events recorded for a message, by its key.
fn delivery_events(root: &std::path::Path, key: &str) -> Vec<String> {
    let store = rusqlite::Connection::open(root.join("herald.db")).unwrap();
    store
        .prepare(
            "SELECT event FROM events WHERE json_extract(properties, '$.message_key') = ?1
             ORDER BY event",
        )
        .unwrap()
        .query_map([key], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn requests_to(fake: &unisender::UnisenderFake, path: &str) -> usize {
    fake.server
        .requests()
        .iter()
        .filter(|request| request.path == path)
        .count()
}

/// Unisender tells what became of an SMS only when asked (`checkSms`): the
/// runner asks after its deliveries, records a delivered or failed status
/// as `herald serve` records a webhook (an event linked to the message; an
/// invalid number suppressed), and asks again about one still `ok_sent`
/// only after the interval, never about one whose status is final.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn herald_run_polls_unisender_check_sms_until_each_sms_has_a_final_status() {
    let fake = unisender::UnisenderFake::start(unisender::Behaviour {
        api_key: UNISENDER_KEY,
        failed_emails: &[],
        bad_phones: &[],
        sms_statuses: &[
            ("79160000002", "err_dest_invalid"),
            ("79160000003", "ok_sent"),
        ],
    })
    .await;
    let providers = format!(
        "  uni_sms: {{kind: unisender, api_key: \"${{env:HERALD_TEST_UNISENDER_KEY}}\", base_url: \"{}\", rate_limit: 100}}\n",
        fake.server.url
    );
    let dir = project(&providers, &[("sms", "uni_sms")]).await;
    let report = run_once(dir.path()).await;
    assert_eq!(
        report["statuses"],
        serde_json::json!({"asked": 3, "delivered": 1, "failed": 1}),
        "{report}"
    );
    let rows = outbox_rows(dir.path(), "ready_sms");
    let events: Vec<Vec<String>> = rows
        .iter()
        .map(|(key, _, _)| delivery_events(dir.path(), key))
        .collect();
    assert_eq!(
        events,
        [vec!["message_delivered"], vec!["message_failed"], vec![]],
        "{rows:?}"
    );
    // The message stays sent (the provider took it); the number is suppressed.
    assert!(rows.iter().all(|(_, _, state)| state == "sent"), "{rows:?}");
    assert!(suppressed(dir.path(), "c2", "sms"));
    assert!(!suppressed(dir.path(), "c3", "sms"));
    assert_eq!(requests_to(&fake, "/ru/api/checkSms"), 3);

    // Within the interval nobody is asked again.
    let report = run_once(dir.path()).await;
    assert_eq!(report.get("statuses"), None, "{report}");
    assert_eq!(requests_to(&fake, "/ru/api/checkSms"), 3);

    // After it, only the SMS still `ok_sent`.
    let (stdout, stderr, code) = herald(
        dir.path(),
        &[
            "run",
            "--once",
            "--now",
            "2026-03-10 13:00",
            "--format",
            "json",
        ],
    )
    .await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    let report: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap();
    assert_eq!(
        report["statuses"],
        serde_json::json!({"asked": 1, "delivered": 0, "failed": 0}),
        "{report}"
    );
    let asked = fake.server.requests();
    let last = asked.last().unwrap();
    assert_eq!(last.path, "/ru/api/checkSms");
    assert_eq!(
        requests_to(&fake, "/ru/api/sendSms"),
        3,
        "nothing sent twice"
    );
}

/// A runner killed while Unisender holds its `sendSms` request leaves the
/// message without the `sms_id` that `checkSms` would need, and Unisender
/// has no idempotency key: unlike SMSC's (whose `id` is herald's), the
/// message cannot be looked up, so the next run records it as `unknown`
/// and reports it, and does not send it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unisender_sms_whose_runner_died_mid_request_is_reported_unknown_not_resent() {
    let fake = unisender_fake().await;
    // The first request takes effect; its answer never comes in time.
    fake.server.script([Script::Slow(Duration::from_secs(120))]);
    let providers = format!(
        "  uni_sms: {{kind: unisender, api_key: \"${{env:HERALD_TEST_UNISENDER_KEY}}\", base_url: \"{}\", rate_limit: 100}}\n",
        fake.server.url
    );
    let dir = project(&providers, &[("sms", "uni_sms")]).await;
    let mut runner = common::spawn_with(
        dir.path(),
        &["run", "--once", "--now", NOW, "--lease", "2"],
        &[("HERALD_TEST_UNISENDER_KEY", UNISENDER_KEY)],
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while requests_to(&fake, "/ru/api/sendSms") < 3 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        requests_to(&fake, "/ru/api/sendSms"),
        3,
        "every SMS reached Unisender"
    );
    // The two answered requests are recorded before the kill (a loaded
    // machine may not have got there yet): only the unanswered one is in
    // doubt.
    let mut states = counts(dir.path(), "ready_sms").await;
    while (states.get("sending") != Some(&1) || states.values().sum::<u64>() != 3)
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
        states = counts(dir.path(), "ready_sms").await;
    }
    assert_eq!(states.get("sending"), Some(&1), "{states:?}");
    runner.kill().unwrap();
    runner.wait().unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let report = run_once(dir.path()).await;
    assert_eq!(report["recovered"]["unknown"], 1, "{report}");
    assert_eq!(
        counts(dir.path(), "ready_sms").await.get("unknown"),
        Some(&1)
    );
    assert_eq!(
        requests_to(&fake, "/ru/api/sendSms"),
        3,
        "nothing sent twice"
    );
    let (stdout, _, code) = herald(dir.path(), &["status"]).await;
    assert_eq!(code, 0);
    assert!(stdout.contains("unknown"), "{stdout}");
    // A later run leaves it as it is.
    run_once(dir.path()).await;
    assert_eq!(
        counts(dir.path(), "ready_sms").await.get("unknown"),
        Some(&1)
    );
    assert_eq!(requests_to(&fake, "/ru/api/sendSms"), 3);
}
