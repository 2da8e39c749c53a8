//! What `herald report` reads from the store, through the library: the
//! goal events merged beside the messages and the held-out contacts in
//! contact order (the first and last contact, contacts with goal events
//! but no messages and the other way round), attribution over overlapping
//! windows across that merge, and the delivery feedback summed up on each
//! message as it is stored, or by the migration for feedback stored before.

mod common;

use std::path::Path;

use common::copy;
use herald::analytics::{ReportRequest, report};
use herald::store::analytics::{GoalEvent, GoalQuery, Reported};
use herald::store::{EventRecord, Store};
use rusqlite::params;

const T: i64 = 1_773_133_200; // 2026-03-10T09:00:00Z, spring_sale's send
const WINBACK: i64 = 1_773_565_200; // 2026-03-15T09:00:00Z
const DAY: i64 = 86_400;
const NOW: &str = "2026-04-30T00:00:00Z";

/// The report fixture's project with an empty store.
fn project() -> (tempfile::TempDir, herald::compiler::Compilation, Store) {
    let dir = tempfile::tempdir().unwrap();
    copy(Path::new("tests/report/project"), dir.path());
    let compilation = herald::compile(dir.path()).unwrap();
    let store = Store::open_with_catalog(
        &dir.path().join("herald.db"),
        compilation.filters.catalog.clone(),
    )
    .unwrap();
    (dir, compilation, store)
}

/// A sent message of `name`, as the runner leaves it; returns its key.
fn message(store: &Store, name: &str, contact: &str, channel: &str, send_at: i64) -> String {
    let key = format!("campaign/{name}/{send_at}/{contact}/{channel}");
    store
        .connection()
        .execute(
            "INSERT INTO outbox (key, kind, name, occurrence, contact_id, channel, provider,
             variant, payload, cost, state, send_at, not_before, created_at, updated_at)
             VALUES (?1, 'campaign', ?2, ?3, ?4, ?5, 'out', 'a', '{}', 1, 'sent', ?6, ?6, ?6,
             ?6)",
            params![key, name, send_at.to_string(), contact, channel, send_at],
        )
        .unwrap();
    key
}

/// A contact held out of `name` at `at`, as the runner records it.
fn held_out(store: &Store, name: &str, contact: &str, at: i64) {
    store
        .connection()
        .execute(
            "INSERT INTO outbox (key, kind, name, occurrence, contact_id, channel, provider,
             payload, state, reason, send_at, not_before, created_at, updated_at)
             VALUES (?1, 'campaign', ?2, ?3, ?4, '', '', '', 'skipped', 'held_out', ?5, ?5, ?5,
             ?5)",
            params![
                format!("campaign/{name}/{at}/{contact}"),
                name,
                at.to_string(),
                contact,
                at
            ],
        )
        .unwrap();
}

fn event(store: &Store, id: &str, contact: &str, event: &str, at: i64, properties: &str) {
    let added = store
        .add_event(&EventRecord {
            id,
            contact,
            event,
            at,
            properties,
        })
        .unwrap();
    assert!(added, "{id}");
}

fn purchase(store: &Store, id: &str, contact: &str, at: i64, amount: f64) {
    event(
        store,
        id,
        contact,
        "purchase",
        at,
        &format!("{{\"amount\": {amount}}}"),
    );
}

/// What the store hands over for `name`: each contact with its messages'
/// send times and its goal events.
fn streamed(store: &Store, name: &str, until: i64) -> Vec<(String, Vec<i64>, Vec<GoalEvent>)> {
    let mut contacts = Vec::new();
    let mut sends = Vec::new();
    store
        .each_reported_message(
            "campaign",
            name,
            (i64::MIN, i64::MAX),
            Some(GoalQuery {
                event: "purchase",
                until,
            }),
            |reported| match reported {
                Reported::Message(message) => sends.push(message.send_at),
                Reported::ContactEnd { contact_id, goals } => {
                    contacts.push((
                        contact_id.to_string(),
                        std::mem::take(&mut sends),
                        goals.to_vec(),
                    ));
                }
            },
        )
        .unwrap();
    contacts
}

#[test]
fn goal_events_are_merged_with_the_contacts_they_belong_to() {
    let (_dir, _, store) = project();
    // Goal events before the first contact with messages, between
    // contacts, and after the last, of contacts that got nothing.
    purchase(&store, "p-a", "a", T + DAY, 1.0);
    message(&store, "spring_sale", "b", "email", T);
    message(&store, "spring_sale", "b", "sms", T);
    purchase(&store, "p-b2", "b", T + 2 * DAY, 2.0);
    purchase(&store, "p-b1", "b", T + DAY, 3.0);
    event(&store, "v-b", "b", "visit", T + DAY, "{}");
    message(&store, "spring_sale", "c", "email", T);
    purchase(&store, "p-d", "d", T + DAY, 4.0);
    message(&store, "spring_sale", "e", "email", T);
    purchase(&store, "p-e", "e", T + 3 * DAY, 5.0);
    // At the same moment: in the order stored, whatever the amounts.
    purchase(&store, "p-e-same", "e", T + 3 * DAY, 0.5);
    purchase(&store, "p-e-late", "e", T + 30 * DAY, 6.0);
    purchase(&store, "p-f", "f", T + DAY, 7.0);
    // Another campaign's contacts are not handed over.
    message(&store, "winback", "d", "email", WINBACK);

    let goal = |at: i64, amount: f64| GoalEvent {
        at,
        amount: Some(amount),
    };
    assert_eq!(
        streamed(&store, "spring_sale", T + 10 * DAY),
        vec![
            (
                "b".to_string(),
                vec![T, T],
                vec![goal(T + DAY, 3.0), goal(T + 2 * DAY, 2.0)]
            ),
            ("c".to_string(), vec![T], vec![]),
            (
                "e".to_string(),
                vec![T],
                vec![goal(T + 3 * DAY, 5.0), goal(T + 3 * DAY, 0.5)]
            ),
        ]
    );
    // Nothing after `until`, and nothing at all for a contact alone.
    assert_eq!(
        streamed(&store, "spring_sale", T + DAY),
        vec![
            ("b".to_string(), vec![T, T], vec![goal(T + DAY, 3.0)]),
            ("c".to_string(), vec![T], vec![]),
            ("e".to_string(), vec![T], vec![]),
        ]
    );
    assert_eq!(
        streamed(&store, "winback", T + 10 * DAY),
        vec![("d".to_string(), vec![WINBACK], vec![goal(T + DAY, 4.0)])]
    );

    // The held-out contacts, merged the same way.
    held_out(&store, "winback", "a", WINBACK);
    held_out(&store, "winback", "c", WINBACK);
    held_out(&store, "winback", "f", WINBACK);
    let mut held = Vec::new();
    store
        .each_held_out_contact(
            "campaign",
            "winback",
            (i64::MIN, i64::MAX),
            Some(GoalQuery {
                event: "purchase",
                until: T + 10 * DAY,
            }),
            |contact, at, goals| held.push((contact.to_string(), at, goals.to_vec())),
        )
        .unwrap();
    assert_eq!(
        held,
        vec![
            ("a".to_string(), WINBACK, vec![goal(T + DAY, 1.0)]),
            ("c".to_string(), WINBACK, vec![]),
            ("f".to_string(), WINBACK, vec![goal(T + DAY, 7.0)]),
        ]
    );
}

#[test]
fn conversions_over_overlapping_windows_at_the_edges_of_the_merge() {
    let (_dir, compilation, store) = project();
    // spring_sale's goal: a purchase within 7 days of a received message.
    // The first contact: windows after T and T + 6 days overlap, one run
    // to T + 13 days; its purchase at T + 12 days is credited to the SMS.
    message(&store, "spring_sale", "a1", "email", T);
    message(&store, "spring_sale", "a1", "sms", T + 6 * DAY);
    purchase(&store, "1", "a1", T - DAY, 1.0);
    purchase(&store, "2", "a1", T + 12 * DAY, 10.0);
    purchase(&store, "3", "a1", T + 12 * DAY + 1, 100.0);
    // Messages and no goal events.
    message(&store, "spring_sale", "a2", "email", T);
    // Goal events and no messages: not a conversion of the campaign.
    purchase(&store, "4", "a3", T + DAY, 1_000.0);
    // Two windows that do not overlap: the purchase between them is
    // outside both.
    message(&store, "spring_sale", "a4", "email", T);
    message(&store, "spring_sale", "a4", "sms", T + 20 * DAY);
    purchase(&store, "5", "a4", T + 10 * DAY, 10_000.0);
    // The last contact converts, after the only window of the one before.
    message(&store, "spring_sale", "a5", "email", T);
    purchase(&store, "6", "a5", T + 7 * DAY, 100_000.0);
    purchase(&store, "7", "zz", T + DAY, 1_000_000.0);
    // winback's control group (14 days): the first held-out contact
    // converts (a week after it was held out), the last does not (its
    // purchase is after the window), nor the one between (before it).
    held_out(&store, "winback", "a1", WINBACK);
    held_out(&store, "winback", "a3", WINBACK);
    held_out(&store, "winback", "zz", WINBACK);
    purchase(&store, "8", "zz", WINBACK + 15 * DAY, 1.0);

    // The contacts themselves: the report reads ranges of them at once.
    for contact in ["a1", "a2", "a3", "a4", "a5", "zz"] {
        store
            .connection()
            .execute("INSERT INTO contacts (id) VALUES (?1)", [contact])
            .unwrap();
    }

    let request = ReportRequest {
        names: vec!["spring_sale".into(), "winback".into()],
        from: None,
        to: None,
        now: NOW.parse().unwrap(),
        threads: Some(1),
    };
    let result = report(&compilation, &store, &request).unwrap();
    // Read in 2 to 7 ranges of contacts (up to one contact each, the
    // boundaries falling on contacts with messages, with goal events only,
    // and the last), the report is the one pass's.
    let whole = serde_json::to_value(&result).unwrap();
    for threads in 2..=7 {
        let request = ReportRequest {
            threads: Some(threads),
            ..request.clone()
        };
        let split = report(&compilation, &store, &request).unwrap();
        assert_eq!(
            serde_json::to_value(&split).unwrap(),
            whole,
            "{threads} ranges"
        );
    }
    let spring = result.campaigns.iter().find(|c| c.name == "spring_sale");
    let spring = spring.unwrap();
    assert_eq!(spring.totals.recipients, 4);
    assert_eq!(spring.totals.conversions, 2);
    assert_eq!(spring.totals.revenue, 100_010.0);
    let channel = |name: &str| {
        &spring
            .channels
            .iter()
            .find(|row| row.name == name)
            .unwrap()
            .funnel
    };
    assert_eq!(
        (channel("email").conversions, channel("email").revenue),
        (1, 100_000.0)
    );
    assert_eq!(
        (channel("sms").conversions, channel("sms").revenue),
        (1, 10.0)
    );
    let winback = result.campaigns.iter().find(|c| c.name == "winback");
    let holdout = winback.unwrap().holdout.as_ref().unwrap();
    assert_eq!((holdout.held_out, holdout.conversions), (3, 1));

    // Before the purchases, nothing: goal events after now do not count.
    let early = ReportRequest {
        now: "2026-03-12T00:00:00Z".parse().unwrap(),
        ..request
    };
    let result = report(&compilation, &store, &early).unwrap();
    assert!(result.campaigns.iter().all(|c| c.totals.conversions == 0));
}

/// The facts the report reads about each of `name`'s messages:
/// (contact, delivered at, opened, clicked, failed, bounced, complained).
fn facts(store: &Store, name: &str) -> Vec<(String, Option<i64>, [bool; 5])> {
    let mut facts = Vec::new();
    store
        .each_reported_message("campaign", name, (i64::MIN, i64::MAX), None, |reported| {
            if let Reported::Message(m) = reported {
                facts.push((
                    format!("{}/{}", m.contact_id, m.channel),
                    m.delivered_at,
                    [m.opened, m.clicked, m.failed, m.bounced, m.complained],
                ));
            }
        })
        .unwrap();
    facts
}

fn feedback(store: &Store, id: &str, key: &str, kind: &str, at: i64) {
    let properties = serde_json::json!({ "message_key": key }).to_string();
    event(store, id, "x", kind, at, &properties);
}

#[test]
fn feedback_is_summed_up_on_its_message_as_it_is_stored() {
    let (_dir, compilation, store) = project();
    let email = message(&store, "spring_sale", "a", "email", T);
    let sms = message(&store, "spring_sale", "a", "sms", T);
    let bounced = message(&store, "spring_sale", "b", "email", T);
    message(&store, "spring_sale", "c", "email", T);
    // Out of order: the first arrival counts, whichever came in first.
    feedback(&store, "1", &email, "email_clicked", T + 700);
    feedback(&store, "2", &email, "message_delivered", T + 60);
    feedback(&store, "3", &email, "email_opened", T + 600);
    feedback(&store, "4", &sms, "message_read", T + 30);
    feedback(&store, "5", &bounced, "email_bounced", T + 10);
    feedback(&store, "6", &bounced, "email_complained", T + 20);
    // Not feedback, or about no message herald sent: nothing changes.
    feedback(&store, "7", &bounced, "purchase", T + 5);
    feedback(
        &store,
        "8",
        "campaign/spring_sale/none/c/email",
        "message_delivered",
        T,
    );
    event(&store, "9", "c", "message_delivered", T, "{}");
    // A replayed event is not stored again.
    assert!(
        !store
            .add_event(&EventRecord {
                id: "2",
                contact: "x",
                event: "message_delivered",
                at: T + 1,
                properties: "{}",
            })
            .unwrap()
    );
    let expected = vec![
        (
            "a/email".to_string(),
            Some(T + 60),
            [true, true, false, false, false],
        ),
        (
            "a/sms".to_string(),
            Some(T + 30),
            [true, false, false, false, false],
        ),
        (
            "b/email".to_string(),
            None,
            [false, false, true, true, true],
        ),
        ("c/email".to_string(), None, [false; 5]),
    ];
    assert_eq!(facts(&store, "spring_sale"), expected);

    // A store whose feedback was stored before the summary existed gets it
    // from its events when it is migrated (schema version 12; the report's
    // index of version 8 is put back first, as such a store has it).
    let path = store.path().to_path_buf();
    store
        .connection()
        .execute_batch(
            "DROP INDEX outbox_by_source_contact;
             CREATE INDEX outbox_by_source_contact ON outbox (kind, name, contact_id, send_at);
             UPDATE outbox SET delivered_at = NULL, opened_at = NULL, clicked_at = NULL,
               failed_at = NULL, bounced_at = NULL, complained_at = NULL;
             ALTER TABLE outbox DROP COLUMN delivered_at;
             ALTER TABLE outbox DROP COLUMN opened_at;
             ALTER TABLE outbox DROP COLUMN clicked_at;
             ALTER TABLE outbox DROP COLUMN failed_at;
             ALTER TABLE outbox DROP COLUMN bounced_at;
             ALTER TABLE outbox DROP COLUMN complained_at;
             DELETE FROM schema_version WHERE version >= 12",
        )
        .unwrap();
    drop(store);
    let store = Store::open_with_catalog(&path, compilation.filters.catalog.clone()).unwrap();
    assert_eq!(facts(&store, "spring_sale"), expected);
}

/// A report reads a campaign in ranges of contacts on several threads by
/// default only when it is large: the count behind that stops at the size
/// asked about and keeps to the period.
#[test]
fn a_campaign_is_large_from_the_count_asked_about_within_the_period() {
    let (_dir, _compilation, store) = project();
    for (contact, at) in [("a1", T), ("a2", T), ("a3", T + DAY)] {
        message(&store, "spring_sale", contact, "email", at);
    }
    let all = (i64::MIN, i64::MAX);
    let large = |period, count| {
        store
            .messages_at_least("campaign", "spring_sale", period, count)
            .unwrap()
    };
    assert!(large(all, 3));
    assert!(!large(all, 4));
    assert!(large((T, T + 1), 2));
    assert!(!large((T, T + 1), 3));
    assert!(
        !store
            .messages_at_least("campaign", "winback", all, 1)
            .unwrap()
    );
}

/// The goal events handed over with each contact equal a lookup of that
/// contact's own events, and each message is marked unsubscribed exactly
/// when its contact unsubscribed from its channel (or from all) after it,
/// whatever their spread: contacts with no events, with more events than a
/// batch holds, long runs of events and suppressions of contacts without
/// messages (which a batch passes by or seeks over), events after the
/// report's now, other suppressions, and the contacts read in a range.
mod contact_merges {
    use super::*;
    use herald::store::analytics::ContactRange;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    struct Contact {
        messaged: bool,
        /// Purchases, as offsets from T.
        purchases: Vec<i64>,
        /// Suppressions: channel, reason and offset from T.
        suppressions: Vec<(&'static str, &'static str, i64)>,
    }

    impl Contact {
        /// Whether its email at T led to an unsubscribe (the last
        /// suppression of a channel replaces the others).
        fn unsubscribed(&self) -> bool {
            ["email", "*"].iter().any(|channel| {
                self.suppressions
                    .iter()
                    .rev()
                    .find(|(on, ..)| on == channel)
                    .is_some_and(|(_, reason, at)| *reason == "unsubscribed" && *at >= 0)
            })
        }
    }

    fn contacts() -> impl Strategy<Value = Vec<Contact>> {
        let events = prop_oneof![
            4 => proptest::collection::vec(-DAY..40 * DAY, 0..3),
            1 => proptest::collection::vec(-DAY..40 * DAY, 10..80),
        ];
        let suppression = (
            prop_oneof![Just("email"), Just("sms"), Just("*")],
            prop_oneof![3 => Just("unsubscribed"), 1 => Just("bounced")],
            -DAY..DAY,
        );
        let contact = (
            any::<bool>(),
            events,
            proptest::collection::vec(suppression, 0..3),
        )
            .prop_map(|(messaged, purchases, suppressions)| Contact {
                messaged,
                purchases,
                suppressions,
            });
        proptest::collection::vec(contact, 1..60)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn each_contact_gets_exactly_its_own_goal_events_and_unsubscribes(
            contacts in contacts(),
            cut in 0usize..60,
            until in 0..30 * DAY,
        ) {
            let (_dir, _compilation, store) = project();
            let connection = store.connection();
            connection.execute_batch("BEGIN").unwrap();
            let mut id = 0;
            for (index, contact) in contacts.iter().enumerate() {
                let name = format!("c{index:03}");
                connection
                    .execute("INSERT INTO contacts (id) VALUES (?1)", [&name])
                    .unwrap();
                if contact.messaged {
                    message(&store, "spring_sale", &name, "email", T);
                }
                for at in &contact.purchases {
                    id += 1;
                    purchase(&store, &id.to_string(), &name, T + at, id as f64);
                }
                for (channel, reason, at) in &contact.suppressions {
                    connection
                        .execute(
                            "INSERT OR REPLACE INTO suppressions (contact_id, channel, reason, at)
                             VALUES (?1, ?2, ?3, ?4)",
                            params![name, channel, reason, T + at],
                        )
                        .unwrap();
                }
            }
            connection.execute_batch("COMMIT").unwrap();
            let until = T + until;
            let cut = format!("c{cut:03}");
            let mut lookup = connection
                .prepare(
                    "SELECT at, json_extract(properties, '$.amount') FROM events
                     WHERE event = 'purchase' AND contact_id = ?1 AND at <= ?2
                     ORDER BY at, rowid",
                )
                .unwrap();
            for range in [
                ContactRange::ALL,
                ContactRange { from: "", until: Some(&cut) },
                ContactRange { from: &cut, until: None },
            ] {
                let mut handed = Vec::new();
                store
                    .each_reported_message_of(
                        "campaign",
                        "spring_sale",
                        (i64::MIN, i64::MAX),
                        range,
                        Some(GoalQuery { event: "purchase", until }),
                        |reported| match reported {
                            Reported::Message(message) => handed.push((
                                message.contact_id.to_string(),
                                Err(message.unsubscribed),
                            )),
                            Reported::ContactEnd { contact_id, goals } => {
                                handed.push((contact_id.to_string(), Ok(goals.to_vec())))
                            }
                        },
                    )
                    .unwrap();
                let mut expected = Vec::new();
                for (index, contact) in contacts.iter().enumerate() {
                    let name = format!("c{index:03}");
                    let within = name.as_str() >= range.from
                        && range.until.is_none_or(|until| name.as_str() < until);
                    if !contact.messaged || !within {
                        continue;
                    }
                    let goals = lookup
                        .query_map(params![name, until], |row| {
                            Ok(GoalEvent { at: row.get(0)?, amount: row.get(1)? })
                        })
                        .unwrap()
                        .collect::<Result<_, _>>()
                        .unwrap();
                    expected.push((name.clone(), Err(contact.unsubscribed())));
                    expected.push((name, Ok(goals)));
                }
                prop_assert_eq!(handed, expected, "{:?}", range);
            }
        }
    }
}
