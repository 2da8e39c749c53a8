//! A Unisender fake: Unisender Go's `POST
//! /ru/transactional/api/v1/email/send.json` (header `X-API-KEY`, JSON) and
//! the classic API's `POST /ru/api/sendSms?format=json` and `checkSms`
//! (form or query parameters with `api_key`), answered as Unisender
//! documents them. Go lists each recipient under `emails` or, for the
//! addresses in `failed_emails`, with its reason; `sendSms` refuses a
//! sender outside 3-11 characters (`src_invalid`) and the numbers in
//! `bad_phones` (`dest_invalid`); `checkSms` answers the status set for a
//! phone (`ok_delivered` by default).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::{FakeServer, Recorded, Reply};

/// A message the fake accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Accepted {
    Email {
        to: String,
        subject: String,
        herald_key: String,
        from_email: String,
    },
    Sms {
        id: u64,
        phone: String,
        sender: String,
        text: String,
    },
}

pub struct Behaviour<'a> {
    pub api_key: &'a str,
    /// Address → Go's reason (`invalid`, `unsubscribed`, ...).
    pub failed_emails: &'a [(&'a str, &'a str)],
    /// Numbers (digits, no `+`) `sendSms` refuses as `dest_invalid`.
    pub bad_phones: &'a [&'a str],
    /// Number → `checkSms` status.
    pub sms_statuses: &'a [(&'a str, &'a str)],
}

pub struct UnisenderFake {
    pub server: FakeServer,
    accepted: Arc<Mutex<Vec<Accepted>>>,
}

impl UnisenderFake {
    pub async fn start(behaviour: Behaviour<'_>) -> UnisenderFake {
        let accepted: Arc<Mutex<Vec<Accepted>>> = Arc::new(Mutex::new(Vec::new()));
        let store = accepted.clone();
        let key = behaviour.api_key.to_owned();
        let owned = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        let failed_emails = owned(behaviour.failed_emails);
        let statuses = owned(behaviour.sms_statuses);
        let bad_phones: Vec<String> = behaviour.bad_phones.iter().map(|p| p.to_string()).collect();
        let server = FakeServer::start(Arc::new(move |request: &Recorded| {
            let mut store = store.lock().unwrap();
            match request.path.as_str() {
                "/ru/transactional/api/v1/email/send.json" => {
                    if request.header("x-api-key") != Some(key.as_str()) {
                        return Reply::json(
                            401,
                            serde_json::json!({"status": "error", "message": "Invalid API key", "code": 102}),
                        );
                    }
                    let body = request.json();
                    let message = &body["message"];
                    let Some(recipients) = message["recipients"].as_array() else {
                        return go_error(400, "recipients are required", 114);
                    };
                    let from_email = message["from_email"].as_str().unwrap_or("").to_owned();
                    if from_email.is_empty() || message["subject"].as_str().is_none() {
                        return go_error(400, "from_email and subject are required", 114);
                    }
                    let (mut emails, mut failed) = (Vec::new(), serde_json::Map::new());
                    for recipient in recipients {
                        let to = recipient["email"].as_str().unwrap_or("").to_owned();
                        if let Some(reason) = failed_emails.get(&to) {
                            failed.insert(to, reason.as_str().into());
                            continue;
                        }
                        store.push(Accepted::Email {
                            to: to.clone(),
                            subject: message["subject"].as_str().unwrap_or("").to_owned(),
                            herald_key: recipient["metadata"]["herald_key"]
                                .as_str()
                                .unwrap_or("")
                                .to_owned(),
                            from_email: from_email.clone(),
                        });
                        emails.push(to);
                    }
                    Reply::json(
                        200,
                        serde_json::json!({
                            "status": "success",
                            "job_id": format!("1ZymBc-{:04}", store.len()),
                            "emails": emails,
                            "failed_emails": failed,
                        }),
                    )
                }
                "/ru/api/sendSms" | "/ru/api/checkSms" => {
                    let mut form = request.form();
                    form.extend(
                        form_urlencoded::parse(request.query.as_bytes()).into_owned(),
                    );
                    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
                    if field("format") != "json" {
                        return Reply {
                            status: 200,
                            headers: vec![],
                            body: "<error>format</error>".into(),
                        };
                    }
                    if field("api_key") != key {
                        return classic_error("invalid_api_key", "invalid api key");
                    }
                    if request.path == "/ru/api/checkSms" {
                        let id = field("sms_id");
                        let phone = store.iter().find_map(|sent| match sent {
                            Accepted::Sms { id: sent, phone, .. } if sent.to_string() == id => {
                                Some(phone.clone())
                            }
                            _ => None,
                        });
                        return match phone {
                            Some(phone) => Reply::json(
                                200,
                                serde_json::json!({"result": {
                                    "status": statuses.get(&phone).map_or("ok_delivered", String::as_str)
                                }}),
                            ),
                            None => classic_error("invalid_arg", "sms_id not found"),
                        };
                    }
                    let (phone, sender, text) = (field("phone"), field("sender"), field("text"));
                    if !(3..=11).contains(&sender.chars().count()) {
                        return classic_error("src_invalid", "sender is invalid");
                    }
                    if phone.is_empty() || text.is_empty() || text.chars().count() > 1000 {
                        return classic_error("invalid_arg", "phone and text are required");
                    }
                    if bad_phones.contains(&phone) {
                        return classic_error("dest_invalid", "the number is invalid");
                    }
                    let id = 7000 + store.len() as u64;
                    store.push(Accepted::Sms {
                        id,
                        phone,
                        sender,
                        text,
                    });
                    Reply::json(
                        200,
                        serde_json::json!({"result": {"currency": "RUB", "price": 3.2, "sms_id": id}}),
                    )
                }
                _ => Reply {
                    status: 404,
                    headers: vec![],
                    body: "Not Found".into(),
                },
            }
        }))
        .await;
        UnisenderFake { server, accepted }
    }

    pub fn accepted(&self) -> Vec<Accepted> {
        self.accepted.lock().unwrap().clone()
    }
}

/// The classic API's error answer (HTTP 200).
pub fn classic_error(code: &str, message: &str) -> Reply {
    Reply::json(200, serde_json::json!({"error": message, "code": code}))
}

/// Unisender Go's error answer.
pub fn go_error(status: u16, message: &str, code: u64) -> Reply {
    Reply::json(
        status,
        serde_json::json!({"status": "error", "message": message, "code": code}),
    )
}
