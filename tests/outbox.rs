//! The outbox through the store's library API: two runners sharing one
//! outbox never hold the same message, a lost lease cannot record an
//! outcome, expired leases are recovered as the provider allows, consent
//! revoked after planning skips the message at claim time, a permanent
//! address error suppresses in the same transaction, and the ledger
//! answers the planner's questions.

use herald::segment::catalog::Catalog;
use herald::store::outbox::{
    CampaignRun, Completion, Intent, Kind, Resolution, STOPPED_MID_REQUEST,
};
use herald::store::{Store, SuppressionReason};
use jiff::Timestamp;

const NOW: i64 = 1_800_000_000;

fn store(dir: &tempfile::TempDir) -> Store {
    Store::open_with_catalog(&dir.path().join("herald.db"), Catalog::default()).unwrap()
}

fn keys(count: usize) -> Vec<String> {
    (0..count)
        .map(|i| format!("campaign/news/2027-01-15T08:00:00Z/c{i:04}/email"))
        .collect()
}

fn intent<'a>(key: &'a str, contact: &'a str, provider: &'a str, consent: bool) -> Intent<'a> {
    Intent {
        key,
        kind: Kind::Campaign,
        name: "news",
        occurrence: "2027-01-15T08:00:00Z",
        step: None,
        contact_id: contact,
        channel: "email",
        provider,
        variant: None,
        payload: "{}",
        cost: 0.5,
        needs_consent: consent,
        send_at: NOW,
    }
}

fn enqueue(store: &Store, keys: &[String], provider: &str) {
    let intents: Vec<Intent> = keys
        .iter()
        .map(|key| intent(key, key.split('/').nth(3).unwrap(), provider, false))
        .collect();
    store.enqueue(&[], &intents, NOW).unwrap();
}

fn state(store: &Store, key: &str) -> (String, Option<String>) {
    store
        .connection()
        .query_row(
            "SELECT state, coalesce(reason, last_error) FROM outbox WHERE key = ?1",
            [key],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap()
}

fn sent(key: &str) -> Completion {
    Completion {
        key: key.to_string(),
        attempt: 1,
        resolution: Resolution::Sent {
            provider_message_id: Some(format!("id-{key}")),
        },
    }
}

#[test]
fn a_second_runner_never_claims_what_the_first_holds() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys(100);
    let first = store(&dir);
    enqueue(&first, &keys, "hook");
    // Enqueueing the same plan again adds nothing.
    enqueue(&first, &keys, "hook");
    let second = store(&dir);

    let a = first.claim("a", "hook", 60, NOW, NOW + 60, NOW).unwrap();
    let b = second.claim("b", "hook", 100, NOW, NOW + 60, NOW).unwrap();
    assert_eq!(a.messages.len(), 60);
    assert_eq!(b.messages.len(), 40);
    let held: std::collections::HashSet<&str> = a.messages.iter().map(|m| m.key.as_str()).collect();
    assert!(b.messages.iter().all(|m| !held.contains(m.key.as_str())));
    assert!(
        second
            .claim("b", "hook", 100, NOW, NOW + 60, NOW)
            .unwrap()
            .messages
            .is_empty()
    );

    // The second runner cannot record an outcome for a message the first holds.
    let stolen: Vec<Completion> = a.messages.iter().map(|m| sent(&m.key)).collect();
    assert_eq!(second.complete("b", &stolen, NOW).unwrap(), 0);
    assert_eq!(state(&first, &a.messages[0].key).0, "sending");
    assert_eq!(first.complete("a", &stolen, NOW).unwrap(), 60);
    assert_eq!(state(&first, &a.messages[0].key).0, "sent");

    // Every claim counted its attempt before any provider was called; the
    // ledger has a row for each attempt that ended.
    let started: i64 = first
        .connection()
        .query_row("SELECT sum(attempts) FROM outbox", [], |row| row.get(0))
        .unwrap();
    assert_eq!(started, 100);
    let ended: i64 = first
        .connection()
        .query_row(
            "SELECT count(*) FROM outbox_attempts WHERE finished_at IS NOT NULL",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(ended, 60);
    // Recovery while the leases run leaves the second runner's messages alone.
    assert_eq!(
        first.recover(NOW + 10, &["hook"], false).unwrap().requeued,
        0
    );
    assert_eq!(state(&first, &b.messages[0].key).0, "sending");
}

#[test]
fn expired_leases_are_resent_only_where_the_key_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let hook = keys(3);
    let chat: Vec<String> = hook
        .iter()
        .map(|key| key.replace("/email", "/telegram"))
        .collect();
    enqueue(&store, &hook, "hook");
    enqueue(&store, &chat, "bot");
    store.claim("dead", "hook", 10, NOW, NOW + 5, NOW).unwrap();
    store.claim("dead", "bot", 10, NOW, NOW + 5, NOW).unwrap();

    let recovered = store.recover(NOW + 6, &["hook"], false).unwrap();
    assert_eq!((recovered.requeued, recovered.unknown), (3, 3));
    assert_eq!(state(&store, &hook[0]).0, "queued");
    assert_eq!(
        state(&store, &chat[0]),
        ("unknown".to_string(), Some(STOPPED_MID_REQUEST.to_string()))
    );
    let interrupted: i64 = store
        .connection()
        .query_row(
            "SELECT count(*) FROM outbox_attempts WHERE outcome = 'interrupted'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(interrupted, 6);
    // The unknown ones are reported, and not claimable...
    assert!(
        store
            .claim("next", "bot", 10, NOW, NOW + 5, NOW)
            .unwrap()
            .messages
            .is_empty()
    );
    let status = store.outbox_status().unwrap();
    assert_eq!(status.problem_count, 3);
    assert_eq!(status.groups[0].counts["unknown"], 3);
    // ...unless the user opts into at-least-once delivery.
    let recovered = store.recover(NOW + 7, &["hook"], true).unwrap();
    assert_eq!(recovered.requeued, 3);
    assert_eq!(
        store
            .claim("next", "bot", 10, NOW, NOW + 5, NOW)
            .unwrap()
            .messages
            .len(),
        3
    );
}

#[test]
fn consent_revoked_after_planning_skips_the_message_at_claim_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let connection = store.connection();
    connection
        .execute_batch(
            "INSERT INTO contacts (id, email) VALUES ('c1', 'a@example.com'), ('c2', 'b@example.com'), ('c3', 'c@example.com');
             INSERT INTO consents (contact_id, channel, status) VALUES ('c1', 'email', 'granted'), ('c2', 'email', 'revoked'), ('c3', 'email', 'granted');
             INSERT INTO suppressions (contact_id, channel, reason) VALUES ('c3', '*', 'complained');",
        )
        .unwrap();
    let keys = ["k1", "k2", "k3"];
    let intents: Vec<Intent> = keys
        .iter()
        .zip(["c1", "c2", "c3"])
        .map(|(key, contact)| intent(key, contact, "hook", true))
        .collect();
    store.enqueue(&[], &intents, NOW).unwrap();
    let claim = store.claim("a", "hook", 10, NOW, NOW + 60, NOW).unwrap();
    assert_eq!(claim.skipped, 2);
    assert_eq!(claim.messages.len(), 1);
    assert_eq!(claim.messages[0].key, "k1");
    assert_eq!(
        state(&store, "k2"),
        ("skipped".into(), Some("consent_revoked".into()))
    );
    assert_eq!(
        state(&store, "k3"),
        ("skipped".into(), Some("suppressed".into()))
    );
}

#[test]
fn outcomes_retry_fail_and_suppress_in_one_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let keys = keys(3);
    store
        .connection()
        .execute_batch("INSERT INTO contacts (id, email) VALUES ('c0001', 'gone@example.com')")
        .unwrap();
    enqueue(&store, &keys, "hook");
    store.claim("a", "hook", 10, NOW, NOW + 60, NOW).unwrap();
    let completions = vec![
        Completion {
            key: keys[0].clone(),
            attempt: 1,
            resolution: Resolution::Retry {
                not_before: NOW + 30,
                error: "HTTP 503".into(),
            },
        },
        Completion {
            key: keys[1].clone(),
            attempt: 1,
            resolution: Resolution::Failed {
                error: "550 no such mailbox".into(),
                suppress: Some((SuppressionReason::Bounced, "550 no such mailbox".into())),
            },
        },
        Completion {
            key: keys[2].clone(),
            attempt: 1,
            resolution: Resolution::Dead {
                error: "retries exhausted".into(),
            },
        },
    ];
    assert_eq!(store.complete("a", &completions, NOW).unwrap(), 3);
    assert_eq!(state(&store, &keys[0]).0, "queued");
    // Not claimable before its retry time.
    assert!(
        store
            .claim("a", "hook", 10, NOW + 29, NOW + 60, NOW)
            .unwrap()
            .messages
            .is_empty()
    );
    let again = store
        .claim("a", "hook", 10, NOW + 30, NOW + 90, NOW + 30)
        .unwrap();
    assert_eq!(again.messages[0].attempt, 2);
    assert_eq!(state(&store, &keys[1]).0, "failed");
    assert!(store.suppressed("c0001", "email").unwrap());
    let status = store.outbox_status().unwrap();
    assert_eq!(status.problem_count, 1);
    assert_eq!(
        status.problems[0].last_error.as_deref(),
        Some("retries exhausted")
    );
    assert_eq!(status.oldest_pending.unwrap().key, keys[0]);
}

#[test]
fn the_ledger_answers_the_planner() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let occurrence: Timestamp = "2027-01-15T08:00:00Z".parse().unwrap();
    let run = CampaignRun {
        campaign: "news",
        occurrence,
        planned: 2,
        held_out: 0,
        excluded: "{}",
        cost: 1.0,
    };
    assert!(!store.occurrence_enqueued("news", occurrence).unwrap());
    let keys = keys(2);
    let intents: Vec<Intent> = keys
        .iter()
        .map(|key| intent(key, "c1", "hook", false))
        .collect();
    store.enqueue(&[run], &intents, NOW).unwrap();
    assert!(store.occurrence_enqueued("news", occurrence).unwrap());
    let at = Timestamp::from_second(NOW).unwrap();
    let day = jiff::SignedDuration::from_hours(24);
    assert_eq!(
        store.sent_messages("c1", None, at - day, at + day).unwrap(),
        2
    );
    assert_eq!(
        store
            .sent_messages("c1", Some("sms"), at - day, at + day)
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .sent_messages("c1", None, at + day, at + day + day)
            .unwrap(),
        0
    );
}
