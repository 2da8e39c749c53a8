//! The compiled program through the library API: after `compile`, the shop
//! example's policies, providers, campaigns and journeys are typed values
//! that a runner can use without reading a YAML string again.

use std::path::Path;

use herald::campaign::{Every, Schedule};
use herald::duration::{Duration, Reentry, TimeOfDay, Unit, Wait};
use herald::journey::{Action, Trigger};
use herald::model::MessageType;
use herald::provider::{ProviderConfig, Secret};

fn shop() -> herald::Compilation {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns/shop");
    herald::compile(&root).expect("the shop example compiles")
}

fn time(text: &str) -> TimeOfDay {
    TimeOfDay::parse(text).expect("time of day")
}

#[test]
fn policies_are_typed() {
    let compilation = shop();
    let policies = &compilation.policies;
    let quiet = policies.quiet_hours.expect("quiet hours");
    assert_eq!((quiet.start, quiet.end), (time("21:00"), time("09:00")));
    assert!(quiet.contains(time("23:00")) && !quiet.contains(time("12:00")));
    let caps: Vec<(Option<&str>, u32, Duration)> = policies
        .frequency_caps
        .iter()
        .map(|cap| (cap.channel.as_deref(), cap.window.count, cap.window.period))
        .collect();
    let days = |amount| Duration {
        amount,
        unit: Unit::Day,
    };
    assert_eq!(
        caps,
        [
            (None, 2, days(1)),
            (None, 6, days(7)),
            (Some("email"), 3, days(7)),
            (Some("sms"), 5, days(30)),
            (Some("telegram"), 3, days(7)),
            (Some("whatsapp"), 2, days(7)),
        ]
    );
    assert!(policies.needs_consent(MessageType::Promotional));
    assert!(!policies.needs_consent(MessageType::Transactional));
    assert_eq!(
        compilation
            .timezone
            .as_ref()
            .and_then(|zone| zone.iana_name()),
        Some("Europe/Moscow")
    );
}

#[test]
fn providers_are_one_variant_per_kind_with_secrets_left_in_the_environment() {
    let compilation = shop();
    let smsc = &compilation.providers["smsc"];
    assert_eq!(
        smsc.config,
        ProviderConfig::Smsc {
            login: "${env:SMSC_LOGIN}".into(),
            password: Secret::Env("SMSC_PASSWORD".into()),
        }
    );
    assert_eq!(smsc.rate_limit, Some(30.0));
    assert!(matches!(
        &compilation.providers["smtp"].config,
        ProviderConfig::Smtp {
            port: Some(587),
            ..
        }
    ));
    assert!(matches!(
        &compilation.providers["whatsapp"].config,
        ProviderConfig::Webhook {
            secret: Some(Secret::Env(_)),
            ..
        }
    ));
    assert_eq!(
        compilation.providers["outbox"].config,
        ProviderConfig::File {
            path: "outbox.jsonl".into()
        }
    );
}

#[test]
fn campaign_schedules_lay_out_in_the_project_time_zone() {
    let compilation = shop();
    let campaign = compilation
        .campaigns
        .iter()
        .find(|campaign| campaign.name == "promo/monthly_sale")
        .expect("monthly sale");
    let schedule = campaign.schedule.as_ref().expect("a valid schedule");
    assert!(matches!(schedule, Schedule::Recurring(r) if r.every == Every::Month(vec![5, 20])));
    let zone = compilation.timezone.as_ref().expect("zone");
    let times: Vec<String> = schedule
        .occurrences(
            "2027-03-01T00:00:00Z".parse().expect("timestamp"),
            "2027-04-01T00:00:00Z".parse().expect("timestamp"),
            zone,
        )
        .iter()
        .map(|zoned| zoned.strftime("%Y-%m-%d %H:%M %:z").to_string())
        .collect();
    assert_eq!(
        times,
        ["2027-03-05 11:00 +03:00", "2027-03-20 11:00 +03:00"]
    );
    assert_eq!(campaign.holdout, Some(10.0));
    assert_eq!(campaign.variants.len(), 2);
    let goal = campaign.goal.as_ref().expect("goal");
    assert_eq!(goal.event, "purchase");
    // Every campaign of the example has a schedule that `check` accepted.
    assert!(compilation.campaigns.iter().all(|c| c.schedule.is_some()));
}

#[test]
fn journeys_are_state_machines_with_typed_triggers_and_waits() {
    let compilation = shop();
    let birthday = compilation
        .journeys
        .iter()
        .find(|journey| journey.journey == "birthday")
        .expect("birthday journey");
    assert_eq!(
        birthday.trigger,
        Some(Trigger::Anniversary {
            attribute: "birthday".into(),
            at: time("10:00")
        })
    );
    assert_eq!(
        birthday.reentry,
        Reentry::After(Duration {
            amount: 11,
            unit: Unit::Month
        })
    );
    assert_eq!(birthday.exit, ["purchase"]);
    let goal = birthday.goal.as_ref().expect("goal");
    assert_eq!(
        goal.window,
        Duration {
            amount: 14,
            unit: Unit::Day
        }
    );
    let waits: Vec<Wait> = compilation
        .journeys
        .iter()
        .flat_map(|journey| &journey.states)
        .filter(|state| state.action == Action::Wait)
        .filter_map(|state| state.wait)
        .collect();
    assert!(!waits.is_empty());
    assert!(compilation.templates.is_some());
}
