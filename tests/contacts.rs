//! The contact store end to end: `herald contacts import`, `herald events
//! ingest`, `herald contacts clean` and `herald contacts show` on real
//! SQLite files in temp directories, driving the real binary.

use std::path::Path;

use rusqlite::Connection;

mod common;
use common::herald;

const MANIFEST: &str = r#"timezone: Europe/Moscow
country: RU
contact:
  attributes:
    first_name: string
    city: string
    orders_count: integer
    total_spent: number
    birthday: date
    tags: list
    loyalty: {type: enum, values: [basic, silver, gold]}
events:
  purchase:
    properties:
      order_id: {type: string, required: true}
      amount: number
channels:
  email: {provider: file}
  sms: {provider: file}
providers:
  file: {kind: file, path: out.jsonl}
policies:
  lapse_after: 6 months
lint:
  unused-segment: allow
"#;

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("herald.yaml"), MANIFEST).unwrap();
    std::fs::create_dir_all(dir.path().join("segments")).unwrap();
    std::fs::write(
        dir.path().join("segments/buyers.yaml"),
        "filter: did purchase within 90 days\n",
    )
    .unwrap();
    dir
}

fn store(root: &Path) -> Connection {
    Connection::open(root.join("herald.db")).unwrap()
}

fn count(root: &Path, sql: &str) -> i64 {
    store(root).query_row(sql, [], |row| row.get(0)).unwrap()
}

const EDGE_CASES: &str = "\u{feff}id,email,phone,first_name,city,orders_count,total_spent,birthday,tags,loyalty,consent.email,consent.email.at,consent.email.source\n\
c1,Anna@Example.RU,8 912 345-67-89,Анна,\"Москва, \"\"центр\"\"\",3,\"1 990,50\",1990-05-01,\"vip;опт\",gold,granted,2026-01-01T00:00:00Z,site\n\
c2,bad@,,Борис,,x,,,,,,,\n\
c3,,12345,,,,,,,,,,\n\
c4,,+7 912 000-00-01,,,,,31.02.1990,,Gold,,,\n\
c5,,\"8 (912) 000-00-02\",Вера,,,,,,,,,\n\
c6,vera@example.ru,,,,,,,,,maybe,,\n\
\n\
c7,,,\"Многострочное\nимя\",,,,,,,,,\n";

#[test]
fn csv_edge_cases_are_imported_or_rejected_with_line_and_reason() {
    let dir = project();
    let root = dir.path();
    std::fs::write(root.join("contacts.csv"), EDGE_CASES).unwrap();
    let (stdout, stderr, status) = herald(root, &["contacts", "import", "contacts.csv"]);
    assert_eq!(status, 1, "{stderr}");
    insta::assert_snapshot!(stdout, @"contacts.csv: 7 contacts: 3 inserted, 0 updated, 0 unchanged, 4 rejected (see contacts.csv.rejects.csv)");
    let rejects = std::fs::read_to_string(root.join("contacts.csv.rejects.csv")).unwrap();
    insta::assert_snapshot!(rejects, @r#"
    line,reason,id,email,phone,first_name,city,orders_count,total_spent,birthday,tags,loyalty,consent.email,consent.email.at,consent.email.source
    3,email `bad@` is not valid: Domain is empty.; orders_count: `x` is not an integer,c2,bad@,,Борис,,x,,,,,,,
    4,phone `12345` is not a valid number (read with default region RU),c3,,12345,,,,,,,,,,
    5,"birthday: `31.02.1990` is not a date; write `YYYY-MM-DD`; loyalty: `Gold` is not one of basic, silver, gold; did you mean `gold`?",c4,,+7 912 000-00-01,,,,,31.02.1990,,Gold,,,
    7,consent.email: `maybe` is not `granted` or `revoked`,c6,vera@example.ru,,,,,,,,,maybe,,
    "#);
    let connection = store(root);
    let (email, phone, city, orders, spent, tags): (String, String, String, i64, f64, String) =
        connection
            .query_row(
                "SELECT email, phone, city, orders_count, total_spent, tags FROM contacts WHERE id = 'c1'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
            )
            .unwrap();
    assert_eq!(email, "anna@example.ru");
    assert_eq!(phone, "+79123456789");
    assert_eq!(city, "Москва, \"центр\"");
    assert_eq!((orders, spent), (3, 1990.5));
    assert_eq!(tags, r#"["vip","опт"]"#);
    let phone: String = connection
        .query_row("SELECT phone FROM contacts WHERE id = 'c5'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(phone, "+79120000002");
    let name: String = connection
        .query_row("SELECT first_name FROM contacts WHERE id = 'c7'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(name, "Многострочное\nимя");
}

#[test]
fn unknown_column_stops_the_import_before_anything_is_written() {
    let dir = project();
    let root = dir.path();
    std::fs::write(
        root.join("c.csv"),
        "id,cty,consent.emial\nc1,Москва,granted\n",
    )
    .unwrap();
    let (stdout, stderr, status) = herald(root, &["contacts", "import", "c.csv"]);
    assert_eq!((stdout.as_str(), status), ("", 1));
    insta::assert_snapshot!(stderr, @r"
    herald: c.csv:1: column 2: unknown column `cty`; did you mean `city`?
    herald: c.csv:1: column 3: unknown channel `emial` in column `consent.emial`; did you mean `consent.email`?
    herald: nothing was imported
    ");
    assert_eq!(count(root, "SELECT count(*) FROM contacts"), 0);
}

#[test]
fn semicolon_csv_and_jsonl_are_read_alike() {
    let dir = project();
    let root = dir.path();
    std::fs::write(
        root.join("a.csv"),
        "id;email;tags\nc1;a@example.ru;vip, опт\n",
    )
    .unwrap();
    std::fs::write(
        root.join("b.jsonl"),
        "{\"id\": \"c2\", \"email\": \"B@Example.ru\", \"tags\": [\"vip\"], \"orders_count\": 2, \"consent\": {\"email\": {\"status\": \"granted\", \"at\": \"2026-01-01T00:00:00Z\"}}}\n\n{\"id\": \"c3\", \"unknown\": 1}\nnot json\n",
    )
    .unwrap();
    assert_eq!(herald(root, &["contacts", "import", "a.csv"]).2, 0);
    let (stdout, _, status) = herald(root, &["contacts", "import", "b.jsonl", "--format", "json"]);
    assert_eq!(status, 1);
    insta::assert_snapshot!(stdout, @r#"{"inserted":1,"rejected":2,"rejects":"b.jsonl.rejects.jsonl","unchanged":0,"updated":0}"#);
    let rejects = std::fs::read_to_string(root.join("b.jsonl.rejects.jsonl")).unwrap();
    insta::assert_snapshot!(rejects, @r#"
    {"line":3,"reason":"unknown column `unknown`: not a built-in field, a declared attribute or `consent.<channel>`","record":{"id":"c3","unknown":1}}
    {"line":4,"reason":"not valid JSON: expected ident at line 1 column 2","record":"not json"}
    "#);
    assert_eq!(
        count(
            root,
            "SELECT count(*) FROM consents WHERE status = 'granted'"
        ),
        1
    );
}

#[test]
fn duplicates_merge_by_id_email_or_phone_and_keep_the_files_id_as_alias() {
    let dir = project();
    let root = dir.path();
    std::fs::write(
        root.join("first.csv"),
        "id,email,phone,city\nc1,anna@example.ru,,Москва\nc2,,89120000003,Казань\n",
    )
    .unwrap();
    std::fs::write(
        root.join("second.csv"),
        "id,email,phone,city,orders_count\ncrm-1,ANNA@example.ru,,,4\n,,+7 912 000-00-03,Самара,\nc2,anna@example.ru,,,\n",
    )
    .unwrap();
    assert_eq!(herald(root, &["contacts", "import", "first.csv"]).2, 0);
    let (stdout, _, status) = herald(root, &["contacts", "import", "second.csv"]);
    assert_eq!(status, 1);
    insta::assert_snapshot!(stdout, @"second.csv: 3 contacts: 0 inserted, 2 updated, 0 unchanged, 1 rejected (see second.csv.rejects.csv)");
    let rejects = std::fs::read_to_string(root.join("second.csv.rejects.csv")).unwrap();
    assert!(
        rejects.contains("4,the id matches contact `c2` but the email matches contact `c1`"),
        "{rejects}"
    );
    assert_eq!(count(root, "SELECT count(*) FROM contacts"), 2);
    // An empty cell keeps the stored city.
    assert_eq!(
        count(
            root,
            "SELECT orders_count FROM contacts WHERE id = 'c1' AND city = 'Москва'"
        ),
        4
    );
    assert_eq!(
        count(
            root,
            "SELECT count(*) FROM contacts WHERE id = 'c2' AND city = 'Самара'"
        ),
        1
    );
    assert_eq!(
        count(
            root,
            "SELECT count(*) FROM contact_aliases WHERE alias = 'crm-1' AND contact_id = 'c1'"
        ),
        1
    );
    // Events under the alias belong to the merged contact.
    std::fs::write(
        root.join("events.jsonl"),
        "{\"id\": \"e1\", \"contact_id\": \"crm-1\", \"event\": \"purchase\", \"at\": \"2026-02-01T10:00:00Z\", \"properties\": {\"order_id\": \"o1\"}}\n",
    )
    .unwrap();
    assert_eq!(herald(root, &["events", "ingest", "events.jsonl"]).2, 0);
    assert_eq!(
        count(root, "SELECT count(*) FROM events WHERE contact_id = 'c1'"),
        1
    );
}

#[test]
fn reimporting_the_same_file_changes_nothing() {
    let dir = project();
    let root = dir.path();
    std::fs::write(
        root.join("c.csv"),
        "id,email,phone,total_spent,consent.email,consent.sms\nc1,a@example.ru,89123456789,10.5,granted,revoked\nc2,b@example.ru,,,granted,\n",
    )
    .unwrap();
    assert_eq!(herald(root, &["contacts", "import", "c.csv"]).2, 0);
    let before = dump(root);
    let (stdout, _, status) = herald(root, &["contacts", "import", "c.csv"]);
    assert_eq!(status, 0);
    insta::assert_snapshot!(stdout, @"c.csv: 2 contacts: 0 inserted, 0 updated, 2 unchanged, 0 rejected");
    assert_eq!(dump(root), before);
}

fn dump(root: &Path) -> String {
    let connection = store(root);
    let mut out = String::new();
    for table in [
        "contacts",
        "consents",
        "consent_history",
        "suppressions",
        "contact_aliases",
        "events",
    ] {
        let mut statement = connection
            .prepare(&format!("SELECT * FROM {table} ORDER BY 1, 2"))
            .unwrap();
        let columns = statement.column_count();
        let mut rows = statement.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            let cells: Vec<String> = (0..columns)
                .map(|i| format!("{:?}", row.get::<_, rusqlite::types::Value>(i).unwrap()))
                .collect();
            out.push_str(&format!("{table}: {}\n", cells.join(" | ")));
        }
    }
    out
}

#[test]
fn consent_changes_are_appended_to_the_history() {
    let dir = project();
    let root = dir.path();
    let write = |name: &str, status: &str, at: &str, source: &str| {
        std::fs::write(
            root.join(name),
            format!("id,email,consent.email,consent.email.at,consent.email.source\nc1,a@example.ru,{status},{at},{source}\n"),
        )
        .unwrap();
    };
    write("1.csv", "granted", "2026-01-01T00:00:00Z", "site");
    write(
        "2.csv",
        "revoked",
        "2026-02-01T00:00:00Z",
        "unsubscribe link",
    );
    write("3.csv", "granted", "2026-03-01T00:00:00+03:00", "shop");
    for file in ["1.csv", "2.csv", "3.csv", "2.csv"] {
        assert_eq!(herald(root, &["contacts", "import", file]).2, 0);
    }
    let (stdout, _, status) = herald(
        root,
        &["contacts", "show", "c1", "--now", "2026-03-02T00:00:00Z"],
    );
    assert_eq!(status, 0);
    let history = stdout
        .lines()
        .skip_while(|line| !line.starts_with("consent:"))
        .take_while(|line| !line.starts_with("suppressions"))
        .collect::<Vec<_>>()
        .join("\n");
    // Importing the older revocation again adds nothing and leaves the
    // latest (granted) current.
    insta::assert_snapshot!(history, @r"
    consent:
      email  granted  2026-02-28T21:00:00Z  shop
    consent history:
      email  granted  2026-01-01T00:00:00Z  site
      email  revoked  2026-02-01T00:00:00Z  unsubscribe link
      email  granted  2026-02-28T21:00:00Z  shop
    ");
}

#[test]
fn events_are_validated_idempotent_and_never_invent_contacts() {
    let dir = project();
    let root = dir.path();
    std::fs::write(root.join("c.csv"), "id,email\nc1,a@example.ru\n").unwrap();
    assert_eq!(herald(root, &["contacts", "import", "c.csv"]).2, 0);
    let events = [
        r#"{"id": "e1", "contact_id": "c1", "event": "purchase", "at": "2026-02-01T10:00:00Z", "properties": {"order_id": "o1", "amount": "1990.5"}}"#,
        r#"{"id": "e2", "contact_id": "ghost", "event": "purchase", "at": "2026-02-01T10:00:00Z", "properties": {"order_id": "o2"}}"#,
        r#"{"id": "e3", "contact_id": "c1", "event": "purchse", "at": "2026-02-01T10:00:00Z"}"#,
        r#"{"id": "e4", "contact_id": "c1", "event": "purchase", "at": "yesterday", "properties": {"amount": "много", "coupon": "X"}}"#,
        r#"{"id": "e1", "contact_id": "c1", "event": "purchase", "at": "2026-02-01T10:00:00Z", "properties": {"order_id": "o1", "amount": 1990.5}}"#,
    ];
    std::fs::write(root.join("e.jsonl"), events.join("\n")).unwrap();
    let (stdout, _, status) = herald(root, &["events", "ingest", "e.jsonl"]);
    assert_eq!(status, 1);
    insta::assert_snapshot!(stdout, @"e.jsonl: 5 events: 1 inserted, 0 updated, 1 unchanged, 3 rejected (see e.jsonl.rejects.jsonl)");
    let rejects: Vec<String> = std::fs::read_to_string(root.join("e.jsonl.rejects.jsonl"))
        .unwrap()
        .lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            format!("{}: {}", value["line"], value["reason"].as_str().unwrap())
        })
        .collect();
    insta::assert_snapshot!(rejects.join("\n"), @r"
    2: unknown contact `ghost`; import the contact first
    3: unknown event `purchse`; did you mean `purchase`?
    4: at: `yesterday` is not an RFC 3339 time; amount: `много` is not a number; unknown property `coupon` of `purchase`; required property `order_id` of `purchase` is missing
    ");
    assert_eq!(count(root, "SELECT count(*) FROM contacts"), 1);
    let (stdout, _, _) = herald(root, &["events", "ingest", "e.jsonl"]);
    insta::assert_snapshot!(stdout, @"e.jsonl: 5 events: 0 inserted, 0 updated, 2 unchanged, 3 rejected (see e.jsonl.rejects.jsonl)");
    std::fs::write(
        root.join("changed.jsonl"),
        r#"{"id": "e1", "contact_id": "c1", "event": "purchase", "at": "2026-02-02T10:00:00Z", "properties": {"order_id": "o1"}}"#,
    )
    .unwrap();
    let (_, _, status) = herald(root, &["events", "ingest", "changed.jsonl"]);
    assert_eq!(status, 1);
}

#[test]
fn events_need_a_store() {
    let dir = project();
    std::fs::write(dir.path().join("e.jsonl"), "").unwrap();
    let (_, stderr, status) = herald(dir.path(), &["events", "ingest", "e.jsonl"]);
    assert_eq!(status, 2);
    assert!(stderr.contains("import contacts first"), "{stderr}");
}

#[test]
fn clean_marks_invalid_and_lapsed_contacts_without_deleting() {
    let dir = project();
    let root = dir.path();
    std::fs::write(
        root.join("c.csv"),
        "id,email,created_at\nbuyer,a@example.ru,2025-01-01\nold,b@example.ru,2025-01-01\nnew,c@example.ru,2026-02-01\nnobody,,2025-01-01\n",
    )
    .unwrap();
    assert_eq!(herald(root, &["contacts", "import", "c.csv"]).2, 0);
    std::fs::write(
        root.join("e.jsonl"),
        "{\"id\": \"e1\", \"contact_id\": \"buyer\", \"event\": \"purchase\", \"at\": \"2026-02-01T10:00:00Z\", \"properties\": {\"order_id\": \"o1\"}}\n{\"id\": \"e2\", \"contact_id\": \"old\", \"event\": \"purchase\", \"at\": \"2025-06-01T10:00:00Z\", \"properties\": {\"order_id\": \"o2\"}}\n",
    )
    .unwrap();
    assert_eq!(herald(root, &["events", "ingest", "e.jsonl"]).2, 0);
    // A bad address written by an older tool.
    store(root)
        .execute(
            "UPDATE contacts SET email = 'broken@@example' WHERE id = 'new'",
            [],
        )
        .unwrap();
    let now = ["--now", "2026-03-01T09:00:00Z"];
    let before = dump(root);
    let (stdout, _, status) = herald(
        root,
        &[&["contacts", "clean", "--dry-run"][..], &now].concat(),
    );
    assert_eq!(status, 0);
    insta::assert_snapshot!(stdout, @r"
    old  lapse: no conversion since 2025-06-01
    new  suppress email: email `broken@@example` is not valid: Invalid character.
    nobody  suppress *: no address on any channel
    nobody  lapse: never converted; in the base since 2024-12-31
    4 contacts checked: 2 would be suppressed as invalid, 2 would be marked lapsed, 0 would be no longer lapsed; dry run, nothing changed
    ");
    assert_eq!(dump(root), before);
    let (stdout, _, _) = herald(root, &[&["contacts", "clean"][..], &now].concat());
    insta::assert_snapshot!(stdout, @"4 contacts checked: 2 suppressed as invalid, 2 marked lapsed, 0 no longer lapsed");
    let (stdout, _, _) = herald(root, &[&["contacts", "clean"][..], &now].concat());
    insta::assert_snapshot!(stdout, @"4 contacts checked: 0 suppressed as invalid, 0 marked lapsed, 0 no longer lapsed");
    assert_eq!(count(root, "SELECT count(*) FROM contacts"), 4);
    // The lapsed customer buys again: the next clean clears the mark.
    std::fs::write(
        root.join("e2.jsonl"),
        "{\"id\": \"e3\", \"contact_id\": \"old\", \"event\": \"purchase\", \"at\": \"2026-02-20T10:00:00Z\", \"properties\": {\"order_id\": \"o3\"}}\n",
    )
    .unwrap();
    assert_eq!(herald(root, &["events", "ingest", "e2.jsonl"]).2, 0);
    let (stdout, _, _) = herald(root, &[&["contacts", "clean"][..], &now].concat());
    insta::assert_snapshot!(stdout, @"4 contacts checked: 0 suppressed as invalid, 0 marked lapsed, 1 no longer lapsed");
    let (stdout, _, _) = herald(root, &[&["contacts", "show", "nobody"][..], &now].concat());
    assert!(
        stdout.contains("*  invalid  2026-03-01T09:00:00Z  no address on any channel"),
        "{stdout}"
    );
    assert!(
        stdout.contains("lapsed: since 2026-03-01T09:00:00Z (never converted"),
        "{stdout}"
    );
}

#[test]
fn show_prints_consent_events_and_segments() {
    let dir = project();
    let root = dir.path();
    std::fs::write(
        root.join("c.csv"),
        "id,email,first_name,consent.email,consent.email.at,consent.email.source\nc1,a@example.ru,Анна,granted,2026-01-01T00:00:00Z,site\n",
    )
    .unwrap();
    assert_eq!(herald(root, &["contacts", "import", "c.csv"]).2, 0);
    std::fs::write(
        root.join("e.jsonl"),
        "{\"id\": \"e1\", \"contact_id\": \"c1\", \"event\": \"purchase\", \"at\": \"2026-02-01T10:00:00Z\", \"properties\": {\"order_id\": \"o1\", \"amount\": 990}}\n",
    )
    .unwrap();
    assert_eq!(herald(root, &["events", "ingest", "e.jsonl"]).2, 0);
    let (stdout, _, status) = herald(
        root,
        &["contacts", "show", "c1", "--now", "2026-03-01T09:00:00Z"],
    );
    assert_eq!(status, 0);
    let stdout: String = stdout
        .lines()
        .filter(|line| !line.contains("created_at"))
        .map(|line| format!("{line}\n"))
        .collect();
    insta::assert_snapshot!(stdout, @r#"
    contact c1
      email       a@example.ru
      first_name  Анна
    consent:
      email  granted  2026-01-01T00:00:00Z  site
    consent history:
      email  granted  2026-01-01T00:00:00Z  site
    suppressions: none
    lapsed: no
    events: 1 (latest 1 shown)
      2026-02-01T10:00:00Z  purchase  e1  {"amount":990.0,"order_id":"o1"}
    segments: buyers
    "#);
    let (_, stderr, status) = herald(root, &["contacts", "show", "nobody"]);
    assert_eq!(status, 1);
    assert!(stderr.contains("no contact `nobody`"));
}

#[test]
fn an_older_store_is_migrated_forward_with_its_data() {
    let dir = project();
    let root = dir.path();
    // Schema version 1 as the first release wrote it, built by hand.
    {
        let connection = store(root);
        connection
            .execute_batch(
                "CREATE TABLE schema_version (version INTEGER NOT NULL);
                 INSERT INTO schema_version VALUES (1);
                 CREATE TABLE contacts (id TEXT PRIMARY KEY NOT NULL, email TEXT, phone TEXT,
                   telegram_chat_id TEXT, whatsapp TEXT, viber_id TEXT, vk_id TEXT, push_token TEXT,
                   timezone TEXT, locale TEXT, created_at INTEGER, city TEXT, orders_count INTEGER);
                 CREATE TABLE consents (contact_id TEXT NOT NULL, channel TEXT NOT NULL,
                   status TEXT NOT NULL, at INTEGER, source TEXT, PRIMARY KEY (contact_id, channel)) WITHOUT ROWID;
                 CREATE TABLE consent_history (contact_id TEXT NOT NULL, channel TEXT NOT NULL,
                   status TEXT NOT NULL, at INTEGER, source TEXT);
                 CREATE TABLE suppressions (contact_id TEXT NOT NULL, channel TEXT NOT NULL,
                   reason TEXT NOT NULL, at INTEGER, PRIMARY KEY (contact_id, channel)) WITHOUT ROWID;
                 CREATE TABLE events (id TEXT PRIMARY KEY NOT NULL, contact_id TEXT NOT NULL,
                   event TEXT NOT NULL, at INTEGER NOT NULL, properties TEXT NOT NULL DEFAULT '{}');
                 INSERT INTO contacts (id, email, city, orders_count) VALUES ('old', 'old@example.ru', 'Тула', 2);
                 INSERT INTO suppressions VALUES ('old', 'sms', 'bounced', 100);",
            )
            .unwrap();
    }
    std::fs::write(
        root.join("c.csv"),
        "id,email,loyalty\nold,,gold\nnew,new@example.ru,basic\n",
    )
    .unwrap();
    let (stdout, stderr, status) = herald(root, &["contacts", "import", "c.csv"]);
    assert_eq!(status, 0, "{stderr}");
    insta::assert_snapshot!(stdout, @"c.csv: 2 contacts: 1 inserted, 1 updated, 0 unchanged, 0 rejected");
    assert_eq!(
        count(root, "SELECT max(version) FROM schema_version"),
        herald::store::schema::VERSION
    );
    assert_eq!(
        count(
            root,
            "SELECT count(*) FROM contacts WHERE id = 'old' AND city = 'Тула' AND orders_count = 2 AND loyalty = 'gold'"
        ),
        1
    );
    assert_eq!(
        count(
            root,
            "SELECT count(*) FROM suppressions WHERE reason = 'bounced' AND detail IS NULL"
        ),
        1
    );
    for table in [
        "outbox",
        "outbox_attempts",
        "campaign_runs",
        "enrolments",
        "journey_log",
        "lapses",
        "contact_aliases",
        "attribute_types",
    ] {
        assert_eq!(
            count(
                root,
                &format!("SELECT count(*) FROM sqlite_master WHERE name = '{table}'")
            ),
            1,
            "{table}"
        );
    }
    assert_eq!(count(root, "SELECT count(*) FROM attribute_types"), 7);
}

/// An anniversary trigger's index of a date attribute's month and day goes
/// with the column when the attribute's type changes (an empty column is
/// made again with its new type): the store opens, nothing else is lost,
/// and the next anniversary lookup makes the index again.
#[test]
fn an_anniversary_index_goes_with_its_column_when_the_type_changes() {
    let dir = project();
    let root = dir.path();
    std::fs::write(root.join("c.csv"), "id,city\nc1,Москва\n").unwrap();
    assert_eq!(herald(root, &["contacts", "import", "c.csv"]).2, 0);
    let indexes = "SELECT count(*) FROM sqlite_master WHERE name = 'contacts_anniversary_birthday'";
    let lookup = |root: &Path| {
        let catalog = herald::compile(root).unwrap().filters.catalog;
        let store = herald::store::Store::open_with_catalog(&root.join("herald.db"), catalog);
        store
            .unwrap()
            .anniversaries("birthday", &["12-05".to_string()])
            .unwrap()
            .len()
    };
    assert_eq!(lookup(root), 0);
    assert_eq!(count(root, indexes), 1);
    let changed = MANIFEST.replace("    birthday: date\n", "    birthday: string\n");
    std::fs::write(root.join("herald.yaml"), &changed).unwrap();
    std::fs::write(root.join("c.csv"), "id,city,birthday\nc2,Тула,1990-12-05\n").unwrap();
    let (_, stderr, status) = herald(root, &["contacts", "import", "c.csv"]);
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(count(root, indexes), 0);
    assert_eq!(
        count(root, "SELECT count(*) FROM contacts WHERE city = 'Москва'"),
        1
    );
    assert_eq!(lookup(root), 1);
    assert_eq!(count(root, indexes), 1);
}

#[test]
fn a_type_change_that_would_lose_data_stops_with_a_clear_error() {
    let dir = project();
    let root = dir.path();
    std::fs::write(root.join("c.csv"), "id,orders_count,city\nc1,3,Москва\n").unwrap();
    assert_eq!(herald(root, &["contacts", "import", "c.csv"]).2, 0);
    let changed = MANIFEST.replace("    city: string\n", "    city: integer\n");
    std::fs::write(root.join("herald.yaml"), &changed).unwrap();
    let (_, stderr, status) = herald(root, &["contacts", "import", "c.csv"]);
    assert_eq!(status, 2);
    insta::assert_snapshot!(stderr.replace(&root.display().to_string(), "<dir>"), @"herald: contact store ./herald.db: attribute `city` changed type from string to integer in herald.yaml, but 1 contact holds a value that cannot be converted without loss; declare it `string` again, or add a new attribute for the new type and move the values (nothing was changed)");
    assert_eq!(
        count(root, "SELECT count(*) FROM contacts WHERE city = 'Москва'"),
        1
    );
    // Widening integer to number converts the stored values.
    let widened = MANIFEST.replace("    orders_count: integer\n", "    orders_count: number\n");
    std::fs::write(root.join("herald.yaml"), &widened).unwrap();
    let (_, stderr, status) = herald(root, &["contacts", "import", "c.csv"]);
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(
        count(
            root,
            "SELECT count(*) FROM contacts WHERE typeof(orders_count) = 'real'"
        ),
        1
    );
    // A new attribute gets a column.
    let added = widened.replace("    city: string\n", "    city: string\n    vip: boolean\n");
    std::fs::write(root.join("herald.yaml"), &added).unwrap();
    std::fs::write(root.join("d.csv"), "id,vip\nc1,да\n").unwrap();
    assert_eq!(herald(root, &["contacts", "import", "d.csv"]).2, 0);
    assert_eq!(count(root, "SELECT vip FROM contacts WHERE id = 'c1'"), 1);
}

#[test]
fn a_killed_import_keeps_whole_batches_and_completes_on_the_next_run() {
    let dir = project();
    let root = dir.path();
    let rows = 100_000;
    let mut csv = String::from("id,email,phone,city,orders_count\n");
    for i in 0..rows {
        csv.push_str(&format!(
            "c{i},user{i}@example.ru,+7912{:07},Москва,{}\n",
            i,
            i % 10
        ));
    }
    std::fs::write(root.join("big.csv"), csv).unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("herald"))
        .current_dir(root)
        .args(["contacts", "import", "big.csv"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once some batches are in.
    let started = std::time::Instant::now();
    loop {
        std::thread::sleep(std::time::Duration::from_millis(20));
        let done = root.join("herald.db").is_file()
            && Connection::open(root.join("herald.db"))
                .and_then(|c| {
                    c.query_row("SELECT count(*) FROM contacts", [], |r| r.get::<_, i64>(0))
                })
                .is_ok_and(|n| n > 0);
        if done || started.elapsed().as_secs() > 60 {
            break;
        }
    }
    child.kill().unwrap();
    let _ = child.wait();
    let partial = count(root, "SELECT count(*) FROM contacts");
    assert_eq!(partial % 10_000, 0, "whole batches only: {partial}");
    let integrity: String = store(root)
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let (stdout, stderr, status) = herald(root, &["contacts", "import", "big.csv"]);
    assert_eq!(status, 0, "{stderr}");
    let inserted = rows - partial;
    assert_eq!(
        stdout,
        format!(
            "big.csv: {rows} contacts: {inserted} inserted, 0 updated, {partial} unchanged, 0 rejected\n"
        )
    );
    assert_eq!(count(root, "SELECT count(*) FROM contacts"), rows);
    assert_eq!(merge_indexes(root), 3);
}

fn merge_indexes(root: &Path) -> i64 {
    count(
        root,
        "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN
         ('contacts_by_email', 'contacts_by_phone', 'consent_history_by_contact')",
    )
}

/// An import into an empty store loads without the email, phone and
/// consent-history indexes and builds them at the end: its merges must be
/// those of an import into a store that has them.
#[test]
fn an_import_into_an_empty_store_merges_like_one_with_indexes_and_builds_them() {
    let file = "id,email,phone,city,consent.email,consent.email.at\n\
        c1,a@example.ru,,Москва,granted,2026-01-01T00:00:00Z\n\
        c1,b@example.ru,,,granted,2026-01-01T00:00:00Z\n\
        c3,A@example.ru,89120000001,Тула,revoked,2026-01-02T00:00:00Z\n\
        c4,b@example.ru,,Казань,,\n\
        ,,+7 912 000-00-01,Самара,granted,2026-01-03T00:00:00Z\n\
        c5,a@example.ru,89120000002,,,\n\
        c6,b@example.ru,89120000002,,,\n";
    let dump = |root: &Path| -> Vec<String> {
        let connection = store(root);
        let mut rows = Vec::new();
        for sql in [
            "SELECT id || '|' || coalesce(email, '') || '|' || coalesce(phone, '') || '|' || coalesce(city, '') FROM contacts WHERE id <> 'other' ORDER BY id",
            "SELECT alias || '>' || contact_id FROM contact_aliases ORDER BY alias",
            "SELECT contact_id || channel || status || at FROM consent_history ORDER BY 1",
            "SELECT contact_id || channel || status || at FROM consents WHERE contact_id <> 'other' ORDER BY 1",
        ] {
            let mut statement = connection.prepare(sql).unwrap();
            let found: Vec<String> = statement
                .query_map([], |row| row.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            rows.extend(found);
        }
        rows
    };
    // Into an empty store (bulk load) and into one already holding a contact.
    let empty = project();
    std::fs::write(empty.path().join("c.csv"), file).unwrap();
    let (bulk, stderr, _) = herald(empty.path(), &["contacts", "import", "c.csv"]);
    assert!(stderr.is_empty() || !stderr.contains("failed"), "{stderr}");
    let filled = project();
    std::fs::write(
        filled.path().join("other.csv"),
        "id,email\nother,other@example.ru\n",
    )
    .unwrap();
    assert_eq!(
        herald(filled.path(), &["contacts", "import", "other.csv"]).2,
        0
    );
    std::fs::write(filled.path().join("c.csv"), file).unwrap();
    let (indexed, _, _) = herald(filled.path(), &["contacts", "import", "c.csv"]);
    assert_eq!(bulk, indexed);
    insta::assert_snapshot!(bulk, @"c.csv: 7 contacts: 2 inserted, 4 updated, 0 unchanged, 1 rejected (see c.csv.rejects.csv); 4 merged into earlier rows of the file");
    assert_eq!(dump(empty.path()), dump(filled.path()));
    assert_eq!(merge_indexes(empty.path()), 3);
    let rejects = std::fs::read_to_string(empty.path().join("c.csv.rejects.csv")).unwrap();
    assert_eq!(
        rejects,
        std::fs::read_to_string(filled.path().join("c.csv.rejects.csv")).unwrap()
    );
    // The same file again, now with the indexes, does the same in both.
    assert_eq!(
        herald(empty.path(), &["contacts", "import", "c.csv"]).0,
        herald(filled.path(), &["contacts", "import", "c.csv"]).0
    );
    assert_eq!(dump(empty.path()), dump(filled.path()));
}

/// A store left without its merge indexes (an import killed before it built
/// them) gets them back when a command next opens it to write.
#[test]
fn missing_merge_indexes_are_built_when_the_store_is_opened() {
    let dir = project();
    let root = dir.path();
    std::fs::write(root.join("c.csv"), "id,email\nc1,a@example.ru\n").unwrap();
    assert_eq!(herald(root, &["contacts", "import", "c.csv"]).2, 0);
    store(root)
        .execute_batch(
            "DROP INDEX contacts_by_email; DROP INDEX contacts_by_phone;
             DROP INDEX consent_history_by_contact;",
        )
        .unwrap();
    assert_eq!(merge_indexes(root), 0);
    // A reader works without them and leaves the store as it is.
    let (_, stderr, status) = herald(root, &["contacts", "show", "c1"]);
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(merge_indexes(root), 0);
    let (_, stderr, status) = herald(root, &["contacts", "import", "c.csv"]);
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(merge_indexes(root), 3);
}

/// The phone fast path must give what libphonenumber gives on every input
/// it accepts, and leave the rest to libphonenumber.
#[test]
fn the_russian_mobile_fast_path_agrees_with_libphonenumber() {
    use herald::contacts::normalise::{Rules, phone_by_metadata, russian_mobile};
    let regions = [
        Rules::new(Some("RU"), "Europe/Moscow").unwrap(),
        Rules::new(None, "UTC").unwrap(),
        Rules::new(Some("KZ"), "Asia/Almaty").unwrap(),
    ];
    let mut inputs: Vec<String> = [
        "8 912 345-67-89",
        "+7 (912) 345-67-89",
        "89123456789",
        "9123456789",
        "+79123456789",
        "79123456789",
        "8 (999) 000-00-00",
        "+7 999 999 99 99",
        "8 812 123-45-67",
        "+7 495 123 45 67",
        "8 912 345-67-8",
        "8 912 345-67-890",
        "+8 912 345-67-89",
        "++79123456789",
        "(8) 912 345 67 89",
        "8-912-345-67-89-",
        "()89123456789",
        "9 1 2 3 4 5 6 7 8 9",
        "+7 912 345-67-89 доб. 5",
        "+7.912.345.67.89",
        "+7 912 345‑67‑89",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Every Russian mobile prefix in each accepted shape, and shapes around
    // them, with a pseudo-random subscriber number.
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let separators = [" ", "-", "(", ")", "", "  "];
    for prefix in 0..1000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let rest = format!("{:07}", seed % 10_000_000);
        let national = format!("{:03}{rest}", prefix);
        let separator = separators[(seed % separators.len() as u64) as usize];
        let split = format!(
            "{}{separator}{}{separator}{}",
            &national[..3],
            &national[3..6],
            &national[6..]
        );
        for lead in ["+7", "8", "", "7", "+8", "+7 ", "8 ("] {
            inputs.push(format!("{lead}{split}"));
            inputs.push(format!("{lead}{national}"));
        }
    }
    let mut fast = 0;
    for rules in &regions {
        for input in &inputs {
            let Some(e164) = russian_mobile(input, rules.region) else {
                continue;
            };
            fast += 1;
            assert_eq!(
                phone_by_metadata(input, rules).as_deref(),
                Ok(e164.as_str()),
                "{input} with region {:?}: fast path {e164}",
                rules.region
            );
        }
    }
    assert!(fast > 1_000, "the fast path took only {fast} inputs");
}

/// New contacts skip the merge lookups through a filter of the keys seen:
/// a key written earlier in the same file must still be found.
#[test]
fn duplicates_within_one_file_merge_although_new_contacts_skip_lookups() {
    let dir = project();
    let root = dir.path();
    std::fs::write(
        root.join("c.csv"),
        "id,email,phone,city\nc1,anna@example.ru,,Москва\nc9,ANNA@example.ru,,\n,,89120000001,Тула\nc2,,+7 912 000-00-01,\n",
    )
    .unwrap();
    let (stdout, stderr, status) = herald(root, &["contacts", "import", "c.csv"]);
    assert_eq!(status, 0, "{stderr}");
    insta::assert_snapshot!(stdout, @"c.csv: 4 contacts: 2 inserted, 2 updated, 0 unchanged, 0 rejected; 2 merged into earlier rows of the file");
    assert_eq!(count(root, "SELECT count(*) FROM contacts"), 2);
    assert_eq!(
        count(
            root,
            "SELECT count(*) FROM contact_aliases WHERE (alias, contact_id) IN (VALUES ('c9', 'c1'), ('c2', '+79120000001'))"
        ),
        2
    );
}

/// The rejects of each line, as `line: reason`.
fn reject_reasons(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    if path.extension().is_some_and(|e| e == "jsonl") {
        return text
            .lines()
            .map(|line| {
                let value: serde_json::Value = serde_json::from_str(line).unwrap();
                format!("{}: {}", value["line"], value["reason"].as_str().unwrap())
            })
            .collect::<Vec<_>>()
            .join("\n");
    }
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    reader
        .records()
        .map(|record| {
            let record = record.unwrap();
            format!("{}: {}", &record[0], &record[1])
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_rejects_path_that_is_the_input_is_refused_before_anything_is_read() {
    let dir = project();
    let root = dir.path();
    let input = "id,email\nc1,a@example.ru\nc2,bad@\n";
    std::fs::write(root.join("c.csv"), input).unwrap();
    std::os::unix::fs::symlink(root.join("c.csv"), root.join("link.csv")).unwrap();
    std::fs::create_dir(root.join("sub")).unwrap();
    for rejects in ["c.csv", "./link.csv", "sub/../c.csv"] {
        let (_, stderr, status) =
            herald(root, &["contacts", "import", "c.csv", "--rejects", rejects]);
        assert_eq!(status, 2, "{rejects}: {stderr}");
        assert!(stderr.contains("is the input file"), "{stderr}");
        assert_eq!(std::fs::read_to_string(root.join("c.csv")).unwrap(), input);
    }
    assert!(!root.join("herald.db").exists());
    std::fs::write(root.join("e.jsonl"), "{}\n").unwrap();
    let (_, stderr, status) = herald(
        root,
        &["events", "ingest", "e.jsonl", "--rejects", "e.jsonl"],
    );
    assert_eq!(status, 2, "{stderr}");
    assert_eq!(
        std::fs::read_to_string(root.join("e.jsonl")).unwrap(),
        "{}\n"
    );
}

#[test]
fn an_unwritable_rejects_file_stops_the_import_before_anything_is_committed() {
    let dir = project();
    let root = dir.path();
    std::fs::write(root.join("c.csv"), "id,email\nc1,a@example.ru\nc2,bad@\n").unwrap();
    let (_, stderr, status) = herald(
        root,
        &[
            "contacts",
            "import",
            "c.csv",
            "--rejects",
            "no/such/dir/r.csv",
        ],
    );
    assert_eq!(status, 2, "{stderr}");
    assert!(
        stderr.contains("cannot create the rejects file no/such/dir/r.csv"),
        "{stderr}"
    );
    assert!(!root.join("herald.db").exists());
    // A file that opens but cannot take the rejects: the batch holding
    // them is not committed.
    if Path::new("/dev/full").exists() {
        let (_, stderr, status) = herald(
            root,
            &["contacts", "import", "c.csv", "--rejects", "/dev/full"],
        );
        assert_eq!(status, 2, "{stderr}");
        assert!(stderr.contains("cannot write /dev/full"), "{stderr}");
        assert_eq!(count(root, "SELECT count(*) FROM contacts"), 0);
        assert!(Path::new("/dev/full").exists());
    }
}

#[test]
fn a_new_contact_without_a_required_attribute_is_rejected_but_an_update_may_omit_it() {
    let dir = project();
    let root = dir.path();
    let manifest = MANIFEST.replace(
        "    city: string\n",
        "    city: {type: string, required: true}\n",
    );
    std::fs::write(root.join("herald.yaml"), manifest).unwrap();
    std::fs::write(
        root.join("c.csv"),
        "id,email,city\nc1,a@example.ru,Тула\nc2,b@example.ru,\n",
    )
    .unwrap();
    let (stdout, _, status) = herald(root, &["contacts", "import", "c.csv"]);
    assert_eq!(status, 1);
    insta::assert_snapshot!(stdout, @"c.csv: 2 contacts: 1 inserted, 0 updated, 0 unchanged, 1 rejected (see c.csv.rejects.csv)");
    insta::assert_snapshot!(reject_reasons(&root.join("c.csv.rejects.csv")), @"3: required attribute `city` is missing; a new contact needs it (`required: true` in herald.yaml)");
    std::fs::write(root.join("update.csv"), "id,first_name\nc1,Анна\n").unwrap();
    let (stdout, _, status) = herald(root, &["contacts", "import", "update.csv"]);
    assert_eq!(status, 0);
    insta::assert_snapshot!(stdout, @"update.csv: 1 contacts: 0 inserted, 1 updated, 0 unchanged, 0 rejected");
}

#[test]
fn control_characters_in_ids_and_keys_are_rejected() {
    let dir = project();
    let root = dir.path();
    std::fs::write(
        root.join("c.csv"),
        "id,email,phone\nr1,a@example.ru,\nr3\0,b@example.ru,\nr4,c\x01@example.ru,\nr5,,+7912\x07000-00-01\n",
    )
    .unwrap();
    let (stdout, _, status) = herald(root, &["contacts", "import", "c.csv"]);
    assert_eq!(status, 1);
    insta::assert_snapshot!(stdout, @"c.csv: 4 contacts: 1 inserted, 0 updated, 0 unchanged, 3 rejected (see c.csv.rejects.csv)");
    insta::assert_snapshot!(reject_reasons(&root.join("c.csv.rejects.csv")), @r#"
    3: id "r3\0" contains the control character U+0000; ids and keys must be printable
    4: email "c\u{1}@example.ru" contains the control character U+0001; ids and keys must be printable
    5: phone "+7912\u{7}000-00-01" contains the control character U+0007; ids and keys must be printable
    "#);
    std::fs::write(
        root.join("e.jsonl"),
        "{\"id\": \"e\\u0000\", \"contact_id\": \"r1\", \"event\": \"purchase\", \"at\": \"2026-01-01T00:00:00Z\", \"properties\": {\"order_id\": \"o\"}}\n",
    )
    .unwrap();
    let (_, _, status) = herald(root, &["events", "ingest", "e.jsonl"]);
    assert_eq!(status, 1);
    insta::assert_snapshot!(reject_reasons(&root.join("e.jsonl.rejects.jsonl")), @r#"1: id "e\0" contains the control character U+0000; ids and keys must be printable"#);
    assert_eq!(count(root, "SELECT count(*) FROM events"), 0);
}

#[test]
fn an_unclosed_quote_is_reported_with_the_line_it_opened_on() {
    let dir = project();
    let root = dir.path();
    std::fs::write(
        root.join("c.csv"),
        "id,email,city\nc1,a@example.ru,Тула\nc2,\"b@example.ru,Тула\nc3,c@example.ru,Тула\nc4,d@example.ru,Тула\n",
    )
    .unwrap();
    let (stdout, _, status) = herald(root, &["contacts", "import", "c.csv"]);
    assert_eq!(status, 1);
    insta::assert_snapshot!(stdout, @"c.csv: 2 contacts: 1 inserted, 0 updated, 0 unchanged, 1 rejected (see c.csv.rejects.csv)");
    insta::assert_snapshot!(reject_reasons(&root.join("c.csv.rejects.csv")), @"3: a quote opened on line 3 is never closed, so the rest of the file was read as one field");
}

#[test]
fn duplicate_ids_within_one_file_are_counted_in_the_summary() {
    let dir = project();
    let root = dir.path();
    std::fs::write(
        root.join("c.csv"),
        "id,email,city\nc1,a@example.ru,Тула\nc2,b@example.ru,Тула\nc1,,Москва\nc1,,Москва\n",
    )
    .unwrap();
    let (stdout, _, status) = herald(root, &["contacts", "import", "c.csv"]);
    assert_eq!(status, 0);
    insta::assert_snapshot!(stdout, @"c.csv: 4 contacts: 2 inserted, 1 updated, 1 unchanged, 0 rejected; 2 merged into earlier rows of the file");
    // Again: the file's rows name stored contacts, and still repeat each other.
    let (stdout, _, _) = herald(root, &["contacts", "import", "c.csv", "--format", "json"]);
    insta::assert_snapshot!(stdout, @r#"{"inserted":0,"merged":2,"rejected":0,"unchanged":2,"updated":2}"#);
}

#[test]
fn rejects_line_numbers_are_right_for_crlf_lf_bom_and_multiline_fields() {
    let dir = project();
    let root = dir.path();
    let rows = [
        "id,email,city",
        "c1,a@example.ru,\"Тула,\r\nцентр\"",
        "c2,bad@,Тула",
        "",
        "c3,c@example.ru,\"две\nстроки\"",
        "c4,also-bad@,Тула",
    ];
    for (name, newline, bom) in [
        ("crlf.csv", "\r\n", ""),
        ("lf.csv", "\n", ""),
        ("bom.csv", "\r\n", "\u{feff}"),
    ] {
        std::fs::write(
            root.join(name),
            format!("{bom}{}{newline}", rows.join(newline)),
        )
        .unwrap();
        let (_, stderr, status) = herald(root, &["contacts", "import", name]);
        assert_eq!(status, 1, "{stderr}");
        let rejects = root.join(format!("{name}.rejects.csv"));
        assert_eq!(
            reject_reasons(&rejects),
            "4: email `bad@` is not valid: Domain is empty.\n8: email `also-bad@` is not valid: Domain is empty.",
            "{name}"
        );
        let text = std::fs::read_to_string(&rejects).unwrap();
        assert!(text.contains(",c2,bad@,Тула\n"), "{name}: {text:?}");
    }
    let city: String = store(root)
        .query_row("SELECT city FROM contacts WHERE id = 'c1'", [], |row| {
            row.get(0)
        })
        .unwrap();
    assert_eq!(city, "Тула,\r\nцентр");
}

#[test]
fn event_problems_say_exactly_what_is_wrong() {
    let dir = project();
    let root = dir.path();
    std::fs::write(root.join("c.csv"), "id,email\nc1,a@example.ru\n").unwrap();
    assert_eq!(herald(root, &["contacts", "import", "c.csv"]).2, 0);
    let line = |id: &str, at: &str, properties: &str| {
        format!(
            r#"{{"id": "{id}", "contact_id": "c1", "event": "purchase", "at": "{at}", "properties": {properties}}}"#
        )
    };
    let mut file = [
        line(
            "e1",
            "2026-02-01T10:00:00Z",
            r#"{"order_id": {"n": 1}, "amount": true}"#,
        ),
        line("e2", "9999-12-31T12:00:00Z", r#"{"order_id": "o2"}"#),
        line("e3", "2026-02-01T10:00:00+25:00", r#"{"order_id": "o3"}"#),
        line("e4", "2026-02-30T10:00:00Z", r#"{"order_id": "o4"}"#),
        line("e5", "2026-02-01T10:00:00+03:00", r#"{"order_id": "o5"}"#),
    ]
    .join("\n")
    .into_bytes();
    let bad = line(
        "e6",
        "2026-02-01T10:00:00Z",
        "{\"order_id\": \"o\u{fffd}\"}",
    )
    .replace('\u{fffd}', "\u{1}")
    .into_bytes()
    .into_iter()
    .map(|byte| if byte == 1 { 0xff } else { byte })
    .collect::<Vec<u8>>();
    file.push(b'\n');
    file.extend_from_slice(&bad);
    file.push(b'\n');
    std::fs::write(root.join("e.jsonl"), &file).unwrap();
    let (stdout, _, status) = herald(root, &["events", "ingest", "e.jsonl"]);
    assert_eq!(status, 1);
    insta::assert_snapshot!(stdout, @"e.jsonl: 6 events: 1 inserted, 0 updated, 0 unchanged, 5 rejected (see e.jsonl.rejects.jsonl)");
    let rejects = std::fs::read(root.join("e.jsonl.rejects.jsonl")).unwrap();
    let (text, last) = rejects[..rejects.len() - 1].split_at(
        rejects[..rejects.len() - 1]
            .iter()
            .rposition(|byte| *byte == b'\n')
            .unwrap()
            + 1,
    );
    std::fs::write(root.join("valid.jsonl"), text).unwrap();
    insta::assert_snapshot!(reject_reasons(&root.join("valid.jsonl")), @r#"
    1: amount: `true` is a boolean, not a number; order_id: `{"n":1}` is an object, not a string
    2: at: `9999-12-31T12:00:00Z` is outside the times herald can store (-9999-01-02 to 9999-12-30)
    3: at: `2026-02-01T10:00:00+25:00` has the UTC offset `+25:00`, which does not exist; offsets run from -23:59 to +23:59
    4: at: `2026-02-30T10:00:00Z` is not an RFC 3339 time: parsed date is not valid: parameter 'day' for `2026-02` is invalid, must be in range `1..=28`
    "#);
    // The non-UTF-8 line comes back with its own bytes.
    assert!(
        last.windows(bad.len())
            .any(|window| window == bad.as_slice()),
        "{}",
        String::from_utf8_lossy(last)
    );
    assert!(String::from_utf8_lossy(last).contains("not valid UTF-8"));
}

/// A project with two imported contacts, for the tests of a store another
/// program holds or protects.
fn imported_project() -> tempfile::TempDir {
    let dir = project();
    let root = dir.path();
    std::fs::write(
        root.join("c.csv"),
        "id,email,city\nc1,a@example.ru,Тула\nc2,b@example.ru,Омск\n",
    )
    .unwrap();
    assert_eq!(herald(root, &["contacts", "import", "c.csv"]).2, 0);
    dir
}

/// The commands that only read the store.
const READS: &[&[&str]] = &[
    &["segment", "buyers", "--count"],
    &["segment", "--filter", "city = \"Тула\"", "--list"],
    &["segment", "buyers", "--explain"],
    &["contacts", "show", "c1"],
];

#[test]
fn read_only_commands_read_a_store_another_program_is_writing() {
    let dir = imported_project();
    let root = dir.path();
    // Another program in the middle of a write transaction, as a backup
    // tool or `sqlite3` with `BEGIN IMMEDIATE` would be.
    let writer = store(root);
    writer
        .execute_batch("BEGIN IMMEDIATE; UPDATE contacts SET city = 'Уфа' WHERE id = 'c2'")
        .unwrap();
    for arguments in READS {
        let started = std::time::Instant::now();
        let (stdout, stderr, status) = herald(root, arguments);
        assert_eq!(status, 0, "{arguments:?}: {stderr}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(3),
            "{arguments:?} waited for the writer"
        );
        if arguments[1] == "--filter" {
            assert_eq!(stdout, "c1\n");
        }
    }
    writer.execute_batch("ROLLBACK").unwrap();
}

#[test]
fn a_write_that_waits_for_the_lock_says_who_holds_it_and_how_long_it_waited() {
    let dir = imported_project();
    let root = dir.path();
    // This test process holds the lock: it is the program to be named.
    let writer = store(root);
    writer.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (_, stderr, status) = herald(root, &["contacts", "import", "c.csv"]);
    writer.execute_batch("ROLLBACK").unwrap();
    assert_eq!(status, 2, "{stderr}");
    assert!(stderr.contains("the store is locked by "), "{stderr}");
    assert!(
        stderr.contains(&format!("(pid {})", std::process::id())),
        "{stderr}"
    );
    assert!(stderr.contains("gave up after waiting 5."), "{stderr}");
    assert!(!stderr.contains("database is locked"), "{stderr}");
}

#[test]
fn a_reader_does_not_upgrade_a_store_and_says_a_writer_must() {
    let dir = imported_project();
    let root = dir.path();
    let manifest = MANIFEST.replace(
        "    city: string\n",
        "    city: string\n    region: string\n",
    );
    std::fs::write(root.join("herald.yaml"), manifest).unwrap();
    for arguments in READS {
        let (_, stderr, status) = herald(root, arguments);
        assert_eq!(status, 2, "{arguments:?}: {stderr}");
        assert!(stderr.contains("`region`"), "{stderr}");
        assert!(
            stderr.contains("run a command that writes to it"),
            "{stderr}"
        );
    }
    assert_eq!(
        count(
            root,
            "SELECT count(*) FROM pragma_table_info('contacts') WHERE name = 'region'"
        ),
        0
    );
    assert_eq!(herald(root, &["contacts", "import", "c.csv"]).2, 0);
    assert_eq!(herald(root, READS[0]).2, 0);
}

/// Makes a file unwritable even for root (which ignores permission bits)
/// with the immutable attribute, and takes the attribute back on drop so
/// the temporary directory can be removed.
struct Immutable<'a>(&'a Path);

impl Immutable<'_> {
    fn set(path: &Path) -> Option<Immutable<'_>> {
        let status = std::process::Command::new("chattr")
            .arg("+i")
            .arg(path)
            .status()
            .ok()?;
        status.success().then_some(Immutable(path))
    }
}

impl Drop for Immutable<'_> {
    fn drop(&mut self) {
        let _ = std::process::Command::new("chattr")
            .arg("-i")
            .arg(self.0)
            .status();
    }
}

#[test]
fn a_read_only_store_serves_readers_and_refuses_writers_with_a_reason() {
    use std::os::unix::fs::PermissionsExt;
    let dir = imported_project();
    let root = dir.path();
    let path = root.join("herald.db");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    // Root writes to a 0444 file regardless; the immutable attribute stops it too.
    let _guard = match Immutable::set(&path) {
        Some(guard) => Some(guard),
        None if std::fs::OpenOptions::new().write(true).open(&path).is_ok() => {
            eprintln!("skipped: running as root without `chattr +i`, the file stays writable");
            return;
        }
        None => None,
    };
    for arguments in READS {
        let (_, stderr, status) = herald(root, arguments);
        assert_eq!(status, 0, "{arguments:?}: {stderr}");
    }
    std::fs::write(root.join("d.csv"), "id,email\nc3,c@example.ru\n").unwrap();
    let (_, stderr, status) = herald(root, &["contacts", "import", "d.csv"]);
    assert_eq!(status, 2, "{stderr}");
    assert!(stderr.contains("the store file is read-only"), "{stderr}");
    assert_eq!(count(root, "SELECT count(*) FROM contacts"), 2);
}

#[test]
fn a_first_import_without_created_at_warns_that_the_whole_base_joined_now() {
    let dir = project();
    let root = dir.path();
    std::fs::write(
        root.join("base.csv"),
        "id,email\nc1,a@example.ru\nc2,b@example.ru\n",
    )
    .unwrap();
    let (stdout, stderr, status) = herald(root, &["contacts", "import", "base.csv"]);
    assert_eq!(status, 0, "{stderr}");
    insta::assert_snapshot!(stdout, @"base.csv: 2 contacts: 2 inserted, 0 updated, 0 unchanged, 0 rejected");
    insta::assert_snapshot!(stderr.trim(), @"warning: base.csv: 2 of the 2 new contacts have no `created_at`, so they joined now, at this import; if this is an existing base, give its sign-up dates in a `created_at` column and import again (it updates them), or segments like `created_at within 14 days` and welcome journeys treat all of them as new");

    // Followed: the dates given again replace the import time.
    std::fs::write(
        root.join("base.csv"),
        "id,email,created_at\nc1,a@example.ru,2019-03-01T10:00:00Z\nc2,b@example.ru,2020-07-15T08:30:00Z\n",
    )
    .unwrap();
    let (stdout, stderr, _) = herald(root, &["contacts", "import", "base.csv"]);
    assert_eq!(stderr, "");
    insta::assert_snapshot!(stdout, @"base.csv: 2 contacts: 0 inserted, 2 updated, 0 unchanged, 0 rejected");
    assert_eq!(
        count(
            root,
            "SELECT count(*) FROM contacts WHERE created_at < 1600000000"
        ),
        2
    );

    // Later sign-ups without the column did join at their import: no warning.
    std::fs::write(root.join("new.csv"), "id,email\nc3,c@example.ru\n").unwrap();
    let (_, stderr, status) = herald(root, &["contacts", "import", "new.csv"]);
    assert_eq!((status, stderr.as_str()), (0, ""));
}

/// Found by tests/import_props.rs: a record without an id whose email a
/// contact had before an earlier row of the file changed it is that contact
/// (its id is that email), not a new contact whose insert would clash.
#[test]
fn a_record_without_an_id_finds_the_contact_that_took_its_email_as_id() {
    let dir = project();
    let root = dir.path();
    std::fs::write(
        root.join("c.csv"),
        "id,email\n,a@example.ru\nc1,a@example.ru\nc1,b@example.ru\n,a@example.ru\n",
    )
    .unwrap();
    let (stdout, stderr, status) = herald(root, &["contacts", "import", "c.csv"]);
    assert_eq!(status, 0, "{stderr}");
    insta::assert_snapshot!(stdout, @"c.csv: 4 contacts: 1 inserted, 3 updated, 0 unchanged, 0 rejected; 3 merged into earlier rows of the file");
    assert_eq!(
        count(
            root,
            "SELECT count(*) FROM contacts WHERE id = 'a@example.ru' AND email = 'a@example.ru'"
        ),
        1
    );
}
