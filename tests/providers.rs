//! The provider clients against fakes of their services (tests/fakes): the
//! exact requests each sends, and how every documented answer becomes an
//! outcome. Plus the pure parts: backoff bounds, `Retry-After`, signatures.

mod fakes;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use herald::provider::webhook::{
    IDEMPOTENCY_HEADER, SIGNATURE_HEADER, SignatureError, sign, verify_signature,
};
use herald::provider::{
    Backoff, Client, Credential, FileProvider, FileSettings, Message, Origin, Outcome, Parts,
    SmscAuth, SmscProvider, SmscSettings, SmtpProvider, SmtpSecurity, SmtpSettings,
    TelegramProvider, TelegramSettings, WebhookProvider, WebhookSettings, parse_retry_after,
};

use fakes::outcomes::{
    fails_without_suppressing, is_retry, is_unknown, message, retry_after_of, stops, suppresses,
};
use fakes::{Reply, Script};

fn sms(key: &str, phone: &str, text: &str) -> Message {
    message(
        key,
        "sms",
        phone,
        Parts::Text {
            text: text.to_owned(),
        },
    )
}

fn email(key: &str, to: &str) -> Message {
    message(
        key,
        "email",
        to,
        Parts::Email {
            subject: "Чёрная пятница: скидки до 50%".to_owned(),
            text: "Здравствуйте, Анна! Скидки до 50% до воскресенья.".to_owned(),
            html: Some("<p>Здравствуйте, <b>Анна</b>! Скидки до 50%.</p>".to_owned()),
        },
    )
    .with_one_click_unsubscribe("https://shop.example/u/tok123")
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

// ---------------------------------------------------------------- retry

#[test]
fn backoff_ceiling_doubles_from_the_base_up_to_the_cap() {
    let backoff = Backoff {
        base: Duration::from_millis(500),
        cap: Duration::from_secs(10),
        max_attempts: 100,
    };
    let ceilings: Vec<_> = (1..=7).map(|attempt| backoff.ceiling(attempt)).collect();
    assert_eq!(
        ceilings,
        [500, 1000, 2000, 4000, 8000, 10_000, 10_000].map(Duration::from_millis)
    );
    // No overflow far out.
    assert_eq!(backoff.ceiling(u32::MAX), Duration::from_secs(10));
}

#[test]
fn backoff_full_jitter_stays_between_zero_and_the_ceiling_and_spreads() {
    let backoff = Backoff {
        base: Duration::from_secs(1),
        cap: Duration::from_secs(60),
        max_attempts: 10,
    };
    let mut random = fastrand::Rng::with_seed(7);
    for attempt in 1..10 {
        let ceiling = backoff.ceiling(attempt);
        let delays: Vec<_> = (0..2000)
            .map(|_| backoff.next_delay(attempt, None, &mut random).unwrap())
            .collect();
        assert!(delays.iter().all(|delay| *delay <= ceiling));
        // Full jitter: uniform over [0, ceiling], so about half fall below the middle.
        let low = delays.iter().filter(|delay| **delay < ceiling / 2).count();
        assert!(
            (800..1200).contains(&low),
            "attempt {attempt}: {low} of 2000 below half"
        );
    }
}

#[test]
fn backoff_gives_up_after_the_last_attempt_and_honours_a_hint() {
    let backoff = Backoff {
        base: Duration::from_secs(1),
        cap: Duration::from_secs(60),
        max_attempts: 3,
    };
    let mut random = fastrand::Rng::with_seed(1);
    let hint = Some(Duration::from_secs(90));
    assert_eq!(backoff.next_delay(1, hint, &mut random), hint);
    assert!(backoff.next_delay(2, None, &mut random).is_some());
    assert_eq!(backoff.next_delay(3, None, &mut random), None);
    assert_eq!(backoff.next_delay(3, hint, &mut random), None);
}

#[test]
fn retry_after_reads_seconds_and_every_http_date_form() {
    let now = UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
    assert_eq!(
        parse_retry_after("120", now),
        Some(Duration::from_secs(120))
    );
    assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
    let in_a_minute = Some(Duration::from_secs(60));
    assert_eq!(
        parse_retry_after("Sun, 06 Nov 1994 08:50:37 GMT", now),
        in_a_minute
    );
    assert_eq!(
        parse_retry_after("Sunday, 06-Nov-94 08:50:37 GMT", now),
        in_a_minute
    );
    assert_eq!(
        parse_retry_after("Sun Nov  6 08:50:37 1994", now),
        in_a_minute
    );
    // A date already past means "now".
    assert_eq!(
        parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
        Some(Duration::ZERO)
    );
    for bad in ["", "-5", "1.5", "soon", "Sun, 06 Nov 1994"] {
        assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
    }
}

// ------------------------------------------------------------ signature

#[test]
fn webhook_signature_verifies_and_refuses_tampering_staleness_and_garbage() {
    let secret = b"whsec_test";
    let body = br#"{"key":"k1"}"#;
    let header = sign(secret, 1_796_000_000, body);
    assert!(header.starts_with("t=1796000000,v1="));
    assert_eq!(header.len(), "t=1796000000,v1=".len() + 64);
    let tolerance = Duration::from_secs(300);
    let verify = |secret: &[u8], header: &str, body: &[u8], now| {
        verify_signature(secret, header, body, now, tolerance)
    };
    assert_eq!(verify(secret, &header, body, 1_796_000_100), Ok(()));
    assert_eq!(
        verify(secret, &header, br#"{"key":"k2"}"#, 1_796_000_000),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        verify(b"other", &header, body, 1_796_000_000),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        verify(secret, &header, body, 1_796_000_301),
        Err(SignatureError::Stale)
    );
    // A rotated secret: any v1 may match.
    let rotated = format!("{header},v1={}", "0".repeat(64));
    assert_eq!(verify(secret, &rotated, body, 1_796_000_000), Ok(()));
    for garbage in [
        "",
        "t=abc,v1=00",
        "v1=00",
        "t=1796000000",
        "t=1796000000,v1=zz",
    ] {
        assert_eq!(
            verify(secret, garbage, body, 1_796_000_000),
            Err(SignatureError::Malformed),
            "{garbage:?}"
        );
    }
}

// ----------------------------------------------------------------- file

#[tokio::test]
async fn file_provider_writes_one_json_line_per_key_and_never_twice() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("out/messages.jsonl");
    let settings = FileSettings { path: path.clone() };
    let provider = Client::File(FileProvider::open(settings.clone()).unwrap());
    assert!(provider.honours_idempotency_key());
    let mut first = email("k1", "anna@example.com");
    first.origin = Origin::Journey {
        journey: "welcome".to_owned(),
        step: "day_3".to_owned(),
    };
    let second = sms("k2", "+79161234567", "Скидка 10%");
    for message in [&first, &second, &first] {
        assert_eq!(
            provider.send(message).await,
            Outcome::Sent {
                provider_message_id: None
            }
        );
    }
    assert!(matches!(
        provider.reconcile(&first).await,
        Some(Outcome::Sent { .. })
    ));
    let unsent = sms("k3", "+79161234567", "never written");
    assert!(is_retry(&provider.reconcile(&unsent).await.unwrap()));
    drop(provider);
    // Reopened (a restarted runner): the key is still known.
    let provider = FileProvider::open(settings).unwrap();
    provider.send(&second);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(
        lines[0],
        serde_json::json!({
            "key": "k1",
            "journey": "welcome",
            "step": "day_3",
            "contact_id": "c-42",
            "channel": "email",
            "variant": "b",
            "to": "anna@example.com",
            "parts": {
                "subject": "Чёрная пятница: скидки до 50%",
                "text": "Здравствуйте, Анна! Скидки до 50% до воскресенья.",
                "html": "<p>Здравствуйте, <b>Анна</b>! Скидки до 50%.</p>",
            },
            "headers": {
                "List-Unsubscribe": "<https://shop.example/u/tok123>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        })
    );
    assert_eq!(lines[1]["campaign"], "black_friday");
    assert_eq!(lines[1]["parts"], serde_json::json!({"text": "Скидка 10%"}));
    // The lines read back as messages.
    let back: Message = serde_json::from_value(lines[0].clone()).unwrap();
    assert_eq!(back, first);
}

#[tokio::test]
async fn file_provider_drops_a_line_cut_short_by_a_crash() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("messages.jsonl");
    std::fs::write(&path, "{\"key\":\"k1\"}\n{\"key\":\"k2\",\"par").unwrap();
    let provider = FileProvider::open(FileSettings { path: path.clone() }).unwrap();
    provider.send(&sms("k1", "+79161234567", "again"));
    provider.send(&sms("k2", "+79161234567", "whole"));
    let text = std::fs::read_to_string(&path).unwrap();
    let keys: Vec<String> = text
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["key"].to_string())
        .collect();
    assert_eq!(keys, ["\"k1\"", "\"k2\""]);

    std::fs::write(&path, "not json\n").unwrap();
    let error = FileProvider::open(FileSettings { path }).unwrap_err();
    assert!(error.0.contains("line 1 is not a message"), "{error}");
}

// -------------------------------------------------------------- webhook

const WEBHOOK_SECRET: &str = "whsec_5ecret";

fn webhook(url: &str, timeout: Duration) -> Client {
    let mut settings = WebhookSettings::new(url);
    settings.secret = Some(Credential::new(WEBHOOK_SECRET));
    settings.token = Some(Credential::new("bearer-token"));
    settings.timeout = timeout;
    Client::Webhook(WebhookProvider::new(settings).unwrap())
}

#[tokio::test]
async fn webhook_posts_signed_json_with_the_idempotency_key() {
    let fake = fakes::webhook::WebhookFake::start(WEBHOOK_SECRET).await;
    let provider = webhook(
        &format!("{}/hooks/herald", fake.server.url),
        Duration::from_secs(5),
    );
    assert!(provider.honours_idempotency_key());
    let message = sms("black_friday/c-42/sms", "+79161234567", "Скидка 10%");
    assert_eq!(
        provider.send(&message).await,
        Outcome::Sent {
            provider_message_id: Some("wh-black_friday/c-42/sms".to_owned())
        }
    );
    let requests = fake.server.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/hooks/herald")
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.header(IDEMPOTENCY_HEADER),
        Some("black_friday/c-42/sms")
    );
    assert_eq!(request.header("authorization"), Some("Bearer bearer-token"));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let signature = request.header(SIGNATURE_HEADER).unwrap();
    verify_signature(
        WEBHOOK_SECRET.as_bytes(),
        signature,
        &request.body,
        now,
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(
        request.json(),
        serde_json::json!({
            "key": "black_friday/c-42/sms",
            "campaign": "black_friday",
            "contact_id": "c-42",
            "channel": "sms",
            "variant": "b",
            "to": "+79161234567",
            "parts": {"text": "Скидка 10%"},
        })
    );
    assert_eq!(fake.received().get("black_friday/c-42/sms"), Some(&1));
}

#[tokio::test]
async fn webhook_retries_429_503_408_and_5xx_honouring_retry_after() {
    let fake = fakes::webhook::WebhookFake::start(WEBHOOK_SECRET).await;
    let provider = webhook(&fake.server.url, Duration::from_secs(5));
    let in_two_minutes = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
    fake.server.script([
        Script::Answer(Reply::json(429, serde_json::json!({})).with_header("retry-after", "7")),
        Script::Answer(
            Reply::json(503, serde_json::json!({})).with_header("retry-after", &in_two_minutes),
        ),
        Script::Answer(Reply::json(408, serde_json::json!({}))),
        Script::Answer(Reply::json(500, serde_json::json!({"error": "boom"}))),
        Script::Answer(Reply::json(502, serde_json::json!({}))),
    ]);
    let message = sms("k-retry", "+79161234567", "hi");
    assert_eq!(
        retry_after_of(&provider.send(&message).await),
        Some(Duration::from_secs(7))
    );
    let after = retry_after_of(&provider.send(&message).await).unwrap();
    assert!(
        (Duration::from_secs(118)..=Duration::from_secs(120)).contains(&after),
        "{after:?}"
    );
    assert_eq!(retry_after_of(&provider.send(&message).await), None);
    let outcome = provider.send(&message).await;
    assert!(
        outcome.reason().contains("500") && outcome.reason().contains("boom"),
        "{outcome:?}"
    );
    assert!(is_retry(&provider.send(&message).await));
    // The same key went out every time.
    assert!(
        fake.server
            .requests()
            .iter()
            .all(|request| request.header(IDEMPOTENCY_HEADER) == Some("k-retry"))
    );
}

#[tokio::test]
async fn webhook_other_4xx_fail_for_good_and_auth_errors_stop_the_provider() {
    let fake = fakes::webhook::WebhookFake::start(WEBHOOK_SECRET).await;
    let provider = webhook(&fake.server.url, Duration::from_secs(5));
    fake.server.script([
        Script::Answer(Reply::json(422, serde_json::json!({"error": "bad phone"}))),
        Script::Answer(Reply::json(400, serde_json::json!({}))),
        Script::Answer(Reply::json(301, serde_json::json!({})).with_header("location", "/x")),
    ]);
    let message = sms("k-4xx", "+79161234567", "hi");
    assert!(fails_without_suppressing(&provider.send(&message).await));
    assert!(fails_without_suppressing(&provider.send(&message).await));
    assert_eq!(stops(&provider.send(&message).await), Some(None));
    // A wrong secret: the fake's real verification refuses it with 401.
    let mut settings = WebhookSettings::new(fake.server.url.clone());
    settings.secret = Some(Credential::new("wrong"));
    let wrong = WebhookProvider::new(settings).unwrap();
    assert_eq!(stops(&wrong.send(&message).await), Some(None));
    assert!(fake.received().is_empty());
}

#[tokio::test]
async fn webhook_lost_answers_are_unknown_and_a_resend_carries_the_same_key() {
    let fake = fakes::webhook::WebhookFake::start(WEBHOOK_SECRET).await;
    let provider = webhook(&fake.server.url, Duration::from_millis(300));
    fake.server
        .script([Script::Drop, Script::Slow(Duration::from_millis(1500))]);
    let message = sms("k-lost", "+79161234567", "hi");
    let dropped = provider.send(&message).await;
    assert!(is_unknown(&dropped), "{dropped:?}");
    let slow = provider.send(&message).await;
    assert!(is_unknown(&slow), "{slow:?}");
    // The webhook honours the key, so the runner may send again.
    assert!(matches!(
        provider.send(&message).await,
        Outcome::Sent { .. }
    ));
    assert_eq!(fake.received().get("k-lost"), Some(&3));
    assert!(provider.reconcile(&message).await.is_none());
    // Nobody listening: nothing was sent, so a plain retry.
    let unreachable = webhook(
        &format!("http://127.0.0.1:{}/", closed_port()),
        Duration::from_secs(1),
    );
    assert!(is_retry(&unreachable.send(&message).await));
}

// ------------------------------------------------------------- telegram

const BOT_TOKEN: &str = "123456:ABC-def_ghi";

fn telegram(url: &str, token: &str) -> Client {
    let mut settings = TelegramSettings::new(Credential::new(token));
    settings.base_url = url.to_owned();
    settings.parse_mode = Some("HTML".to_owned());
    settings.timeout = Duration::from_millis(300);
    Client::Telegram(TelegramProvider::new(settings).unwrap())
}

fn chat(key: &str, chat_id: &str) -> Message {
    message(
        key,
        "telegram",
        chat_id,
        Parts::Text {
            text: "<b>Анна</b>, ваша корзина ждёт".to_owned(),
        },
    )
}

#[tokio::test]
async fn telegram_sends_message_to_the_chat() {
    let fake = fakes::telegram::start(BOT_TOKEN).await;
    let provider = telegram(&fake.url, BOT_TOKEN);
    assert!(!provider.honours_idempotency_key());
    assert_eq!(
        provider.send(&chat("k1", "987654321")).await,
        Outcome::Sent {
            provider_message_id: Some("4711".to_owned())
        }
    );
    let requests = fake.requests();
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].path, format!("/bot{BOT_TOKEN}/sendMessage"));
    assert_eq!(requests[0].header("content-type"), Some("application/json"));
    assert_eq!(
        requests[0].json(),
        serde_json::json!({
            "chat_id": "987654321",
            "text": "<b>Анна</b>, ваша корзина ждёт",
            "parse_mode": "HTML",
        })
    );
}

#[tokio::test]
async fn telegram_errors_become_retries_suppressions_and_stops() {
    use fakes::telegram::error;
    let fake = fakes::telegram::start(BOT_TOKEN).await;
    let provider = telegram(&fake.url, BOT_TOKEN);
    fake.script(
        [
            error(429, "Too Many Requests: retry after 5", Some(5)),
            error(403, "Forbidden: bot was blocked by the user", None),
            error(403, "Forbidden: user is deactivated", None),
            error(400, "Bad Request: chat not found", None),
            error(400, "Bad Request: can't parse entities", None),
            error(500, "Internal Server Error", None),
            error(502, "Bad Gateway", None),
        ]
        .map(Script::Answer),
    );
    let message = chat("k1", "987654321");
    assert_eq!(
        retry_after_of(&provider.send(&message).await),
        Some(Duration::from_secs(5))
    );
    for _ in 0..3 {
        let outcome = provider.send(&message).await;
        assert!(suppresses(&outcome), "{outcome:?}");
    }
    assert!(fails_without_suppressing(&provider.send(&message).await));
    assert_eq!(retry_after_of(&provider.send(&message).await), None);
    assert!(is_retry(&provider.send(&message).await));
    // A wrong token: the Bot API answers 404, which stops the provider.
    let wrong = telegram(&fake.url, "999:wrong");
    assert_eq!(stops(&wrong.send(&message).await), Some(None));
}

#[tokio::test]
async fn telegram_lost_answers_are_unknown_and_never_show_the_token() {
    let fake = fakes::telegram::start(BOT_TOKEN).await;
    let provider = telegram(&fake.url, BOT_TOKEN);
    fake.script([Script::Drop, Script::Slow(Duration::from_millis(1500))]);
    for _ in 0..2 {
        let outcome = provider.send(&chat("k1", "987654321")).await;
        assert!(is_unknown(&outcome), "{outcome:?}");
        assert!(!outcome.reason().contains(BOT_TOKEN), "{outcome:?}");
    }
    assert!(provider.reconcile(&chat("k1", "987654321")).await.is_none());
    let settings = TelegramSettings::new(Credential::new(BOT_TOKEN));
    assert!(!format!("{settings:?}").contains(BOT_TOKEN));
}

// ----------------------------------------------------------------- smsc

fn smsc(url: &str, password: &str, timeout: Duration) -> Client {
    let mut settings = SmscSettings::new(SmscAuth::Login {
        login: "shop".to_owned(),
        password: Credential::new(password),
    });
    settings.base_url = url.to_owned();
    settings.sender = Some("SHOP".to_owned());
    settings.timeout = timeout;
    settings.blocked_pause = Duration::from_secs(300);
    Client::Smsc(SmscProvider::new(settings).unwrap())
}

#[tokio::test]
async fn smsc_sends_a_utf8_form_with_herald_s_own_id() {
    let fake = fakes::smsc::SmscFake::start("shop", "pw").await;
    let provider = smsc(&fake.server.url, "pw", Duration::from_secs(5));
    assert!(!provider.honours_idempotency_key());
    let message = sms(
        "bf/c-42/sms",
        "+79161234567",
        "Анна, скидка 10% до воскресенья",
    );
    let herald_id = SmscProvider::message_id(&message).to_string();
    assert_eq!(
        provider.send(&message).await,
        Outcome::Sent {
            provider_message_id: Some(herald_id.clone())
        }
    );
    let request = &fake.server.requests()[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/sys/send.php")
    );
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert!(request.query.is_empty(), "credentials stay out of the URL");
    let expected: BTreeMap<String, String> = [
        ("login", "shop"),
        ("psw", "pw"),
        ("phones", "+79161234567"),
        ("mes", "Анна, скидка 10% до воскресенья"),
        ("sender", "SHOP"),
        ("id", herald_id.as_str()),
        ("fmt", "3"),
        ("charset", "utf-8"),
        ("cost", "3"),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .collect();
    assert_eq!(request.form(), expected);
    // The id is stable and in SMSC's range.
    let id: u32 = herald_id.parse().unwrap();
    assert!((1..=0x7fff_ffff).contains(&id));
    assert_eq!(
        SmscProvider::message_id(&message.clone()).to_string(),
        herald_id
    );
}

#[tokio::test]
async fn smsc_error_codes_map_as_providers_md_says() {
    use fakes::smsc::error;
    let fake = fakes::smsc::SmscFake::start("shop", "pw").await;
    let provider = smsc(&fake.server.url, "pw", Duration::from_secs(5));
    let codes = [1, 2, 3, 4, 5, 6, 7, 8];
    fake.server
        .script(codes.map(|code| Script::Answer(error(code, "scripted"))));
    let message = sms("k1", "+79161234567", "hi");
    let mut outcomes = Vec::new();
    for _ in codes {
        outcomes.push(provider.send(&message).await);
    }
    for (code, outcome) in codes.iter().zip(&outcomes) {
        let expected = match code {
            1 | 2 | 3 | 5 => stops(outcome) == Some(None),
            4 => stops(outcome) == Some(Some(Duration::from_secs(300))),
            6 | 8 => fails_without_suppressing(outcome),
            7 => suppresses(outcome),
            _ => unreachable!(),
        };
        assert!(expected, "code {code}: {outcome:?}");
        assert!(
            outcome.reason().contains(&format!("SMSC error {code}")),
            "{outcome:?}"
        );
    }
    // The real check: a wrong password gets error 2 from the fake itself.
    let wrong = smsc(&fake.server.url, "nope", Duration::from_secs(5));
    assert_eq!(stops(&wrong.send(&message).await), Some(None));
    // 5xx from SMSC's front: retry.
    fake.server
        .script([Script::Answer(Reply::json(502, serde_json::json!({})))]);
    assert!(is_retry(&provider.send(&message).await));
    assert!(fake.accepted().is_empty());
}

#[tokio::test]
async fn smsc_error_9_is_reconciled_through_the_status_and_never_resent() {
    let fake = fakes::smsc::SmscFake::start("shop", "pw").await;
    let provider = smsc(&fake.server.url, "pw", Duration::from_millis(300));
    let message = sms("k9", "+79161234567", "Скидка 10%");
    // The answer is lost, but SMSC took the message.
    fake.server
        .script([Script::Slow(Duration::from_millis(1500))]);
    let lost = provider.send(&message).await;
    assert!(is_unknown(&lost), "{lost:?}");
    // Sent again anyway (say, at-least-once): SMSC says 9, the client asks
    // the status by herald's id and reports it sent.
    let herald_id = SmscProvider::message_id(&message).to_string();
    assert_eq!(
        provider.send(&message).await,
        Outcome::Sent {
            provider_message_id: Some(herald_id.clone())
        }
    );
    let paths: Vec<String> = fake
        .server
        .requests()
        .iter()
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(paths, ["/sys/send.php", "/sys/send.php", "/sys/status.php"]);
    let status = fake.server.requests()[2].form();
    assert_eq!(status["id"], herald_id);
    assert_eq!(status["phone"], "+79161234567");
    assert_eq!(status["fmt"], "3");
    assert_eq!(fake.accepted().len(), 1);
    // Error 9 for a message SMSC cannot find by herald's id (an identical
    // text sent by someone else): unknown, still not resent.
    fake.server
        .script([Script::Answer(fakes::smsc::error(9, "duplicate request"))]);
    let other = sms("k-other", "+79160000000", "hi");
    let outcome = provider.send(&other).await;
    assert!(is_unknown(&outcome), "{outcome:?}");
    assert_eq!(fake.accepted().len(), 1);
}

#[tokio::test]
async fn smsc_reconcile_asks_the_status_of_an_unknown_send() {
    let fake = fakes::smsc::SmscFake::start("shop", "pw").await;
    let provider = smsc(&fake.server.url, "pw", Duration::from_secs(5));
    let message = sms("k-drop", "+79161234567", "hi");
    fake.server.script([Script::Drop]);
    assert!(is_unknown(&provider.send(&message).await));
    assert!(matches!(
        provider.reconcile(&message).await,
        Some(Outcome::Sent { .. })
    ));
    // Never accepted: safe to send.
    let never = sms("k-never", "+79161234567", "other text");
    assert!(is_retry(&provider.reconcile(&never).await.unwrap()));
    // What the status says about failures.
    fake.server.script([
        Script::Answer(fakes::smsc::status(22)),
        Script::Answer(fakes::smsc::status(20)),
        Script::Answer(fakes::smsc::status(24)),
        Script::Answer(fakes::smsc::error(9, "too many status requests")),
    ]);
    assert!(suppresses(&provider.reconcile(&message).await.unwrap()));
    assert!(fails_without_suppressing(
        &provider.reconcile(&message).await.unwrap()
    ));
    assert_eq!(
        stops(&provider.reconcile(&message).await.unwrap()),
        Some(None)
    );
    assert!(is_unknown(&provider.reconcile(&message).await.unwrap()));
}

// ----------------------------------------------------------------- smtp

fn smtp_provider(port: u16) -> SmtpProvider {
    let mut settings = SmtpSettings::new(
        "127.0.0.1",
        SmtpSecurity::Plain,
        "Магазин <news@shop.example>",
    );
    settings.port = port;
    settings.timeout = Duration::from_secs(2);
    SmtpProvider::new(settings).unwrap()
}

#[tokio::test]
async fn smtp_delivers_multipart_utf8_mail_with_one_click_unsubscribe() {
    let Some(server) = fakes::smtp::SmtpFake::start() else {
        return;
    };
    let provider = smtp_provider(server.port);
    let message = email("black_friday/c-42/email", "anna@example.com");
    let message_id = provider.message_id(&message);
    assert_eq!(
        provider.send(&message).await,
        Outcome::Sent {
            provider_message_id: Some(message_id.clone())
        }
    );
    let mut plain = email("k-plain", "boris@example.com");
    plain.parts = Parts::Email {
        subject: "Only text".to_owned(),
        text: "Привет".to_owned(),
        html: None,
    };
    assert!(matches!(provider.send(&plain).await, Outcome::Sent { .. }));

    let received = server.received(2, Duration::from_secs(5));
    assert_eq!(received.len(), 2);
    let mail = &received[0];
    assert_eq!(mail["mail_from"], "news@shop.example");
    assert_eq!(mail["rcpt_tos"], serde_json::json!(["anna@example.com"]));
    let headers = &mail["headers"];
    assert_eq!(headers["Subject"], "Чёрная пятница: скидки до 50%");
    assert_eq!(headers["To"], "anna@example.com");
    assert_eq!(headers["From"], "Магазин <news@shop.example>");
    assert_eq!(headers["Message-ID"], message_id.as_str());
    assert!(message_id.starts_with("<herald.") && message_id.ends_with("@shop.example>"));
    assert_eq!(
        headers["List-Unsubscribe"],
        "<https://shop.example/u/tok123>"
    );
    assert_eq!(
        headers["List-Unsubscribe-Post"],
        "List-Unsubscribe=One-Click"
    );
    // On the wire the headers are 7-bit: RFC 2047 encoded words.
    let raw = mail["raw"].as_str().unwrap();
    let head = &raw[..raw.find("\r\n\r\n").unwrap()];
    assert!(head.is_ascii(), "{head}");
    assert!(head.contains("Subject: =?utf-8?"), "{head}");
    assert_eq!(mail["content_type"], "multipart/alternative");
    let parts = mail["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0]["content_type"], "text/plain");
    assert_eq!(parts[1]["content_type"], "text/html");
    for part in parts {
        assert_eq!(part["charset"], "utf-8");
    }
    assert_eq!(
        parts[0]["text"].as_str().unwrap().trim_end(),
        "Здравствуйте, Анна! Скидки до 50% до воскресенья."
    );
    assert_eq!(
        parts[1]["text"].as_str().unwrap().trim_end(),
        "<p>Здравствуйте, <b>Анна</b>! Скидки до 50%.</p>"
    );
    let plain = &received[1];
    assert_eq!(plain["content_type"], "text/plain");
    assert_eq!(
        plain["parts"][0]["text"].as_str().unwrap().trim_end(),
        "Привет"
    );
}

#[tokio::test]
async fn smtp_replies_become_suppressions_retries_and_unknowns() {
    let Some(server) = fakes::smtp::SmtpFake::start() else {
        return;
    };
    let provider = smtp_provider(server.port);
    let rejected = provider.send(&email("k1", "reject-anna@example.com")).await;
    assert!(suppresses(&rejected), "{rejected:?}");
    assert!(rejected.reason().contains("550"), "{rejected:?}");
    let later = provider.send(&email("k2", "later-anna@example.com")).await;
    assert!(is_retry(&later), "{later:?}");
    let dropped = provider.send(&email("k3", "drop-anna@example.com")).await;
    assert!(is_unknown(&dropped), "{dropped:?}");
    let invalid = provider.send(&email("k4", "not an address")).await;
    assert!(suppresses(&invalid), "{invalid:?}");
    // The server still works after all that.
    assert!(matches!(
        provider.send(&email("k5", "anna@example.com")).await,
        Outcome::Sent { .. }
    ));
    assert_eq!(server.received(1, Duration::from_secs(5)).len(), 1);
}

#[tokio::test]
async fn smtp_refuses_plain_text_to_another_machine_and_retries_when_unreachable() {
    let remote = SmtpSettings::new("smtp.example.com", SmtpSecurity::Plain, "news@shop.example");
    let error = SmtpProvider::new(remote).unwrap_err();
    assert!(error.0.contains("only allowed to this machine"), "{error}");
    let mut tls = SmtpSettings::new(
        "smtp.example.com",
        SmtpSecurity::StartTls,
        "news@shop.example",
    );
    assert_eq!(tls.port, 587);
    tls.username = Some("user".to_owned());
    assert!(
        SmtpProvider::new(tls.clone()).is_err(),
        "a username without a password"
    );
    tls.password = Some(Credential::new("pw"));
    assert!(SmtpProvider::new(tls).is_ok());
    assert_eq!(SmtpSecurity::ImplicitTls.default_port(), 465);

    let provider = smtp_provider(closed_port());
    let outcome = provider.send(&email("k1", "anna@example.com")).await;
    assert!(is_retry(&outcome), "{outcome:?}");
}
