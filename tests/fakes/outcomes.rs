//! What the provider tests build and expect: a message to send, and the
//! kinds of [`Outcome`] a client's answer may come to.

use std::collections::BTreeMap;
use std::time::Duration;

use herald::provider::{Message, Origin, Outcome, Parts};

/// A message of the `black_friday` campaign, variant `b`, to contact `c-42`.
pub fn message(key: &str, channel: &str, recipient: &str, parts: Parts) -> Message {
    Message {
        key: key.to_owned(),
        origin: Origin::Campaign {
            campaign: "black_friday".to_owned(),
        },
        contact_id: "c-42".to_owned(),
        channel: channel.to_owned(),
        variant: Some("b".to_owned()),
        recipient: recipient.to_owned(),
        parts,
        headers: BTreeMap::new(),
    }
}

pub fn retry_after_of(outcome: &Outcome) -> Option<Duration> {
    match outcome {
        Outcome::Retry { after, .. } => *after,
        other => panic!("expected a retry, got {other:?}"),
    }
}

pub fn is_retry(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Retry { .. })
}

pub fn is_unknown(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Unknown { .. })
}

pub fn suppresses(outcome: &Outcome) -> bool {
    matches!(
        outcome,
        Outcome::Failed {
            suppress: Some(_),
            ..
        }
    )
}

pub fn fails_without_suppressing(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Failed { suppress: None, .. })
}

/// `Some(resume_after)` when the provider is stopped.
pub fn stops(outcome: &Outcome) -> Option<Option<Duration>> {
    match outcome {
        Outcome::StopProvider { resume_after, .. } => Some(*resume_after),
        _ => None,
    }
}
