//! An SMSC.ru fake: `/sys/send.php` and `/sys/status.php` with `fmt=3`,
//! parameters in a form body or the query string, answered as SMSC's HTTP
//! API documents. It keeps what it "sent", so `status.php` finds a message
//! by the client's `id` and the phone, and it answers error 9 to the same
//! text to the same phone again (SMSC's "within a minute"; the fake has no
//! clock, so any repeat).

use std::sync::{Arc, Mutex};

use super::{FakeServer, Recorded, Reply};

/// A message the fake accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    pub id: String,
    pub phone: String,
    pub text: String,
}

pub struct SmscFake {
    pub server: FakeServer,
    accepted: Arc<Mutex<Vec<Accepted>>>,
}

impl SmscFake {
    pub async fn start(login: &str, password: &str) -> SmscFake {
        let accepted: Arc<Mutex<Vec<Accepted>>> = Arc::new(Mutex::new(Vec::new()));
        let store = accepted.clone();
        let (login, password) = (login.to_owned(), password.to_owned());
        let server = FakeServer::start(Arc::new(move |request: &Recorded| {
            let form = request.form();
            let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
            if field("login") != login || field("psw") != password {
                return error(2, "authorise error");
            }
            if field("fmt") != "3" {
                return Reply {
                    status: 200,
                    headers: vec![],
                    body: "ERROR = 1 (parameters error)".into(),
                };
            }
            let mut store = store.lock().unwrap();
            match request.path.as_str() {
                "/sys/send.php" => {
                    let (phone, text) = (field("phones"), field("mes"));
                    if phone.is_empty() || text.is_empty() {
                        return error(1, "parameters error");
                    }
                    if store.iter().any(|sent| sent.phone == phone && sent.text == text) {
                        return error(9, "duplicate request, wait a minute");
                    }
                    let id = match field("id") {
                        "" => (store.len() + 1).to_string(),
                        id => id.to_owned(),
                    };
                    store.push(Accepted {
                        id: id.clone(),
                        phone: phone.to_owned(),
                        text: text.to_owned(),
                    });
                    let id: serde_json::Value = id.parse::<u64>().map_or(id.into(), Into::into);
                    Reply::json(
                        200,
                        serde_json::json!({"id": id, "cnt": 1, "cost": "3.50", "balance": "996.50"}),
                    )
                }
                "/sys/status.php" => {
                    let found = store
                        .iter()
                        .any(|sent| sent.id == field("id") && sent.phone == field("phone"));
                    let status = if found { 1 } else { -3 };
                    Reply::json(
                        200,
                        serde_json::json!({
                            "status": status,
                            "last_date": "30.11.2026 10:00:00",
                            "last_timestamp": 1_796_032_800,
                            "err": 0,
                        }),
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
        SmscFake { server, accepted }
    }

    pub fn accepted(&self) -> Vec<Accepted> {
        self.accepted.lock().unwrap().clone()
    }
}

/// SMSC's error answer with `fmt=3` (HTTP 200). Codes 3, 6, 7 and 8 carry
/// an `id`, as documented.
pub fn error(code: u16, description: &str) -> Reply {
    let mut body = serde_json::json!({"error": description, "error_code": code});
    if matches!(code, 3 | 6 | 7 | 8) {
        body["id"] = serde_json::json!(0);
    }
    Reply::json(200, body)
}

/// A status answer for a scripted reconciliation.
pub fn status(status: i64) -> Reply {
    Reply::json(200, serde_json::json!({"status": status, "err": 0}))
}
