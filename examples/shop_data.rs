//! The sample base of the example shop (`campaigns/shop/data/`): the contacts
//! and events a Russian online shop of clothes and shoes would export every
//! night, made deterministically so that the committed files can be checked
//! against this generator (`tests/shop_data.rs`) and regenerated after a change:
//!
//! ```sh
//! cargo run --example shop_data -- campaigns/shop/data
//! ```
//!
//! The base is written as of 2026-11-30 23:00 Moscow time, the evening before the
//! README's `herald plan --now "2026-12-01 10:00"`. It follows the practice the
//! shop's journeys and campaigns encode: most revenue from a minority of
//! customers; prospects (cold, warm, hot) and customers (active, passive, lapsed)
//! in realistic shares; time zones from Kaliningrad to Vladivostok; consents per
//! channel with their dates and sources, some revoked; birthdays around the
//! planning date (one on 29 February); carts abandoned this week; orders moving
//! through their statuses; and a few contacts with no name, no consent or only
//! one address, so every policy and fallback has someone to act on.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

/// How many contacts the sample base holds.
pub const CONTACTS: u64 = 3_000;

/// The moment the export was taken.
pub fn exported_at() -> Timestamp {
    DateTime::constant(2026, 11, 30, 23, 0, 0, 0)
        .to_zoned_datetime(TimeZone::get("Europe/Moscow").expect("bundled tz"))
        .expect("valid time")
        .timestamp()
}

/// splitmix64: small, fast and the same on every platform, which is all a
/// reproducible sample needs.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A whole number in `low..=high`.
    fn range(&mut self, low: i64, high: i64) -> i64 {
        low + (self.next() % (high - low + 1) as u64) as i64
    }

    /// True with probability `p`.
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }

    /// One of `items` by their weights.
    fn weighted<'a, T>(&mut self, items: &'a [(T, u32)]) -> &'a T {
        let total: u32 = items.iter().map(|(_, weight)| weight).sum();
        let mut roll = (self.next() % u64::from(total)) as u32;
        for (item, weight) in items {
            if roll < *weight {
                return item;
            }
            roll -= weight;
        }
        &items[items.len() - 1].0
    }
}

const FEMALE: [(&str, &str); 16] = [
    ("Анна", "Иванова"),
    ("Мария", "Смирнова"),
    ("Елена", "Кузнецова"),
    ("Ольга", "Попова"),
    ("Наталья", "Васильева"),
    ("Татьяна", "Петрова"),
    ("Ирина", "Соколова"),
    ("Екатерина", "Михайлова"),
    ("Светлана", "Новикова"),
    ("Юлия", "Фёдорова"),
    ("Дарья", "Морозова"),
    ("Алина", "Волкова"),
    ("Ксения", "Алексеева"),
    ("Виктория", "Лебедева"),
    ("Полина", "Семёнова"),
    ("Софья", "Егорова"),
];

const MALE: [(&str, &str); 12] = [
    ("Александр", "Иванов"),
    ("Дмитрий", "Смирнов"),
    ("Максим", "Кузнецов"),
    ("Сергей", "Попов"),
    ("Андрей", "Васильев"),
    ("Алексей", "Петров"),
    ("Артём", "Соколов"),
    ("Илья", "Михайлов"),
    ("Кирилл", "Новиков"),
    ("Михаил", "Фёдоров"),
    ("Никита", "Морозов"),
    ("Иван", "Волков"),
];

/// Latin spellings for the addresses, in the order of the names above.
const FEMALE_LATIN: [&str; 16] = [
    "anna",
    "maria",
    "elena",
    "olga",
    "natalia",
    "tatiana",
    "irina",
    "ekaterina",
    "svetlana",
    "yulia",
    "daria",
    "alina",
    "ksenia",
    "viktoria",
    "polina",
    "sofia",
];
const MALE_LATIN: [&str; 12] = [
    "alexander",
    "dmitry",
    "maxim",
    "sergey",
    "andrey",
    "alexey",
    "artem",
    "ilya",
    "kirill",
    "mikhail",
    "nikita",
    "ivan",
];

/// Cities as customers type them at checkout, with their time zones and weights.
const CITIES: [(&str, &str, u32); 17] = [
    ("Москва", "Europe/Moscow", 300),
    ("Moscow", "Europe/Moscow", 10),
    ("Санкт-Петербург", "Europe/Moscow", 100),
    ("СПб", "Europe/Moscow", 25),
    ("Питер", "Europe/Moscow", 10),
    ("Казань", "Europe/Moscow", 45),
    ("Нижний Новгород", "Europe/Moscow", 40),
    ("Тула", "Europe/Moscow", 20),
    ("Калининград", "Europe/Kaliningrad", 20),
    ("Самара", "Europe/Samara", 35),
    ("Екатеринбург", "Asia/Yekaterinburg", 55),
    ("Челябинск", "Asia/Yekaterinburg", 30),
    ("Омск", "Asia/Omsk", 20),
    ("Новосибирск", "Asia/Novosibirsk", 45),
    ("Красноярск", "Asia/Krasnoyarsk", 25),
    ("Иркутск", "Asia/Irkutsk", 15),
    ("Владивосток", "Asia/Vladivostok", 20),
];

const DOMAINS: [&str; 7] = [
    "mail.ru",
    "yandex.ru",
    "gmail.com",
    "bk.ru",
    "list.ru",
    "inbox.ru",
    "rambler.ru",
];

const CATEGORIES: [(&str, i64, i64, u32); 5] = [
    ("clothes", 1_490, 8_990, 40),
    ("shoes", 2_990, 14_990, 25),
    ("accessories", 490, 3_990, 15),
    ("sportswear", 1_990, 7_990, 12),
    ("kids", 790, 3_990, 8),
];

const PRODUCTS: [(&str, &str); 10] = [
    ("Платье миди из вискозы", "clothes"),
    ("Пуховик оверсайз", "clothes"),
    ("Джинсы прямого кроя", "clothes"),
    ("Кеды из натуральной кожи", "shoes"),
    ("Ботинки челси", "shoes"),
    ("Кроссовки для бега", "sportswear"),
    ("Шарф из кашемира", "accessories"),
    ("Сумка-шопер", "accessories"),
    ("Комбинезон детский зимний", "kids"),
    ("Худи с начёсом", "sportswear"),
];

/// One contact row and the events that belong to it.
struct Generated {
    row: Vec<String>,
    events: Vec<serde_json::Value>,
}

const COLUMNS: [&str; 32] = [
    "id",
    "email",
    "phone",
    "telegram_chat_id",
    "whatsapp",
    "timezone",
    "created_at",
    "first_name",
    "last_name",
    "gender",
    "birthday",
    "city",
    "orders_count",
    "total_spent",
    "last_purchase_at",
    "lifecycle",
    "loyalty",
    "tags",
    "preferred_channel",
    "favorite_category",
    "clothing_size",
    "bonus_balance",
    "acquisition_source",
    "consent.email",
    "consent.email.at",
    "consent.email.source",
    "consent.sms",
    "consent.sms.at",
    "consent.telegram",
    "consent.telegram.at",
    "consent.whatsapp",
    "consent.whatsapp.at",
];

fn rfc3339(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn phone_as_typed(random: &mut Random, digits: &str) -> String {
    // digits: ten national digits starting with 9.
    let (a, b, c, d) = (&digits[0..3], &digits[3..6], &digits[6..8], &digits[8..10]);
    match random.range(0, 4) {
        0 => format!("+7{digits}"),
        1 => format!("8 ({a}) {b}-{c}-{d}"),
        2 => format!("+7 {a} {b} {c} {d}"),
        3 => format!("8{digits}"),
        _ => format!("8 {a} {b}-{c}-{d}"),
    }
}

fn contact(number: u64, random: &mut Random, now: Timestamp) -> Generated {
    let id = format!("c{number:05}");
    let mut events = Vec::new();
    let mut event_number = 0u32;
    let mut event = |name: &str, at: Timestamp, properties: serde_json::Value| {
        event_number += 1;
        events.push(serde_json::json!({
            "id": format!("{id}-e{event_number:03}"),
            "contact_id": id,
            "event": name,
            "at": rfc3339(at),
            "properties": properties,
        }));
    };

    let gender = *random.weighted(&[("female", 62), ("male", 33), ("", 5)]);
    let (first, last, latin) = match gender {
        "male" => {
            let index = random.range(0, MALE.len() as i64 - 1) as usize;
            (MALE[index].0, MALE[index].1, MALE_LATIN[index])
        }
        _ => {
            let index = random.range(0, FEMALE.len() as i64 - 1) as usize;
            (FEMALE[index].0, FEMALE[index].1, FEMALE_LATIN[index])
        }
    };
    // A name is what the greeting needs most: 8% of accounts have none.
    let named = random.chance(0.92);
    let (city, zone) = {
        let pairs: Vec<((&str, &str), u32)> = CITIES
            .iter()
            .map(|(city, zone, weight)| ((*city, *zone), *weight))
            .collect();
        *random.weighted(&pairs)
    };
    let has_email = random.chance(0.9);
    let has_phone = !has_email || random.chance(0.78);
    let email = has_email.then(|| {
        // Unique by construction: addresses merge contacts on import.
        format!("{latin}.{number}@{}", random.pick(&DOMAINS))
    });
    let national = format!("9{:09}", random.range(0, 999_999_999));
    let phone = has_phone.then(|| phone_as_typed(random, &national));
    let telegram = random
        .chance(0.25)
        .then(|| random.range(100_000_000, 7_999_999_999).to_string());
    let whatsapp = (has_phone && random.chance(0.22)).then(|| format!("+7{national}"));

    // Joined between January 2023 and last night; a few this fortnight.
    let days_ago = if random.chance(0.03) {
        random.range(0, 13)
    } else {
        random.range(14, 1_430)
    };
    let created = now - (days_ago * 24).hours() - random.range(0, 86_399).seconds();
    event(
        "signed_up",
        created,
        serde_json::json!({"source": random.pick(&["site", "app", "store", "popup"])}),
    );

    // Birthdays: most people give one; a cluster around the planning date so the
    // birthday journey has work; one leap-day birthday.
    let birthday = if number == 29 {
        Some(Date::constant(1992, 2, 29))
    } else if random.chance(0.85) {
        let age = *random.weighted(&[(20, 15), (30, 40), (40, 30), (55, 15)]) + random.range(-4, 5);
        let year = 2026 - age as i16;
        let day_of_year = if random.chance(0.06) {
            random.range(330, 345) // late November to mid December
        } else {
            random.range(0, 364)
        };
        Some(Date::new(year, 1, 1).expect("valid date") + day_of_year.days())
    } else {
        None
    };

    // Orders: 55% are customers; a few bring most of the revenue.
    let orders = if random.chance(0.55) {
        *random.weighted(&[(1, 40), (2, 22), (3, 14), (4, 8), (6, 8), (9, 5), (14, 3)])
    } else {
        0
    };
    let favourite = *random.weighted(
        &CATEGORIES
            .iter()
            .map(|(name, _, _, weight)| (*name, *weight))
            .collect::<Vec<_>>(),
    );
    let lifetime = (now - created).as_secs().max(3_600);
    // Recency of the last order decides the lifecycle stage.
    let last_order_ago = if orders > 0 {
        let share = *random.weighted(&[(60, 25), (180, 20), (900, 55)]);
        let seconds =
            (random.range(1, share) * 86_400 + random.range(0, 86_399)).min(lifetime - 60);
        Some(seconds.max(600))
    } else {
        None
    };
    let mut total = 0i64;
    let mut last_purchase = None;
    for order in 0..orders {
        let ago = match (order + 1 == orders, last_order_ago) {
            (true, Some(last)) => last,
            _ => {
                let earliest = last_order_ago.unwrap_or(600) + 86_400;
                random.range(earliest.min(lifetime - 60), lifetime - 60)
            }
        };
        let at = now - ago.seconds();
        let category = if random.chance(0.6) {
            favourite
        } else {
            CATEGORIES[random.range(0, 4) as usize].0
        };
        let (_, low, high, _) = CATEGORIES
            .iter()
            .find(|(name, ..)| *name == category)
            .expect("known category");
        let items = random.range(1, 3);
        let amount = (random.range(*low, *high) / 10 * 10 - 10) * items;
        let order_id = format!("{}-{:02}", 100_000 + number, order + 1);
        let mut properties = serde_json::json!({
            "order_id": order_id,
            "amount": amount,
            "category": category,
            "items_count": items,
        });
        if random.chance(0.2) {
            let discount = *random.pick(&[10, 15, 20]);
            properties["promo_code"] = format!("SALE{discount}").into();
            properties["discount_percent"] = discount.into();
        }
        event("purchase", at, properties);
        total += amount;
        if last_purchase.is_none_or(|last| at > last) {
            last_purchase = Some(at);
        }
        // Orders of the last week are still moving through their statuses.
        if ago < 7 * 86_400 {
            let statuses = [
                "created",
                "paid",
                "assembling",
                "handed_to_courier",
                "delivered",
            ];
            let reached = random.range(1, statuses.len() as i64 - 1) as usize;
            for (step, status) in statuses.iter().take(reached + 1).enumerate() {
                let at = at + (step as i64 * 7 * 3_600).seconds();
                if at < now {
                    let mut properties =
                        serde_json::json!({"order_id": order_id, "status": status});
                    if *status == "handed_to_courier" {
                        properties["tracking_url"] =
                            format!("https://lastochka.example/track/{order_id}").into();
                    }
                    event("order_status_changed", at, properties);
                }
            }
        } else if random.chance(0.3) {
            event(
                "review_left",
                at + (random.range(5, 20) * 86_400).seconds(),
                serde_json::json!({"order_id": order_id, "rating": random.range(3, 5)}),
            );
        }
    }

    // Browsing and email engagement in the last month.
    let engaged = random.chance(if orders > 0 { 0.45 } else { 0.3 });
    if engaged {
        for _ in 0..random.range(1, 5) {
            let (name, category) = *random.pick(&PRODUCTS);
            let ago = random.range(600, 29 * 86_400).min(lifetime - 60).max(60);
            event(
                "product_viewed",
                now - ago.seconds(),
                serde_json::json!({
                    "product_id": format!("p{}", 1_000 + random.range(0, 400)),
                    "product_name": name,
                    "category": category,
                    "price": random.range(9, 150) * 100 - 10,
                }),
            );
        }
        if has_email && random.chance(0.5) {
            let ago = random.range(3_600, 25 * 86_400).min(lifetime - 60).max(60);
            let campaign = *random.pick(&["promo/monthly_sale", "promo/shoes_collection"]);
            event(
                "email_opened",
                now - ago.seconds(),
                serde_json::json!({"campaign": campaign}),
            );
            if random.chance(0.4) {
                event(
                    "email_clicked",
                    now - (ago - 120).max(1).seconds(),
                    serde_json::json!({"campaign": campaign, "url": "https://lastochka.example/sale"}),
                );
            }
        }
    }
    // Carts left this week: what the abandoned-cart journey is for.
    let abandoned = random.chance(if engaged { 0.12 } else { 0.02 });
    if abandoned {
        let (name, _) = *random.pick(&PRODUCTS);
        let items = random.range(1, 4);
        let ago = random.range(1_800, 6 * 86_400).min(lifetime - 60).max(60);
        event(
            "cart_abandoned",
            now - ago.seconds(),
            serde_json::json!({
                "cart_id": format!("cart-{number}"),
                "items_count": items,
                "cart_total": items * (random.range(9, 120) * 100 - 10),
                "first_item": name,
                "first_item_image": format!("https://lastochka.example/img/{}.jpg", random.range(1, 400)),
            }),
        );
    }

    let since_last = last_purchase.map(|at| (now - at).as_secs() / 86_400);
    let lifecycle = match since_last {
        Some(days) if days <= 90 => "active",
        Some(days) if days <= 182 => "passive",
        Some(_) => "lapsed",
        None if abandoned => "hot",
        None if engaged => "warm",
        None => "cold",
    };
    let loyalty = match total {
        t if t >= 50_000 => "gold",
        t if t >= 15_000 => "silver",
        _ => "basic",
    };
    let mut tags = Vec::new();
    if number <= 3 {
        tags.push("staff");
    }
    if total >= 50_000 {
        tags.push("vip");
    }
    if random.chance(0.03) {
        tags.push("wholesale");
    }
    if random.chance(0.1) {
        tags.push("newsletter-2025");
    }

    let consent = |random: &mut Random, present: bool, share: f64| -> (String, String) {
        if !present {
            return (String::new(), String::new());
        }
        if random.chance(share) {
            let granted = created + random.range(0, 3_600).seconds();
            if random.chance(0.04) {
                let revoked = now - (random.range(1, 300) * 86_400).seconds();
                let revoked = if revoked > granted { revoked } else { now };
                return ("revoked".into(), rfc3339(revoked));
            }
            ("granted".into(), rfc3339(granted))
        } else {
            (String::new(), String::new())
        }
    };
    let (email_consent, email_at) = consent(random, has_email, 0.86);
    let email_source = if email_consent.is_empty() {
        String::new()
    } else {
        random
            .pick(&["checkout", "signup form", "popup", "loyalty card"])
            .to_string()
    };
    let (sms_consent, sms_at) = consent(random, has_phone, 0.62);
    let (telegram_consent, telegram_at) = consent(random, telegram.is_some(), 0.95);
    let (whatsapp_consent, whatsapp_at) = consent(random, whatsapp.is_some(), 0.9);

    let preferred = *random.weighted(&[
        ("", 60),
        ("email", 18),
        ("sms", 8),
        ("telegram", 9),
        ("whatsapp", 5),
    ]);
    let size = match (gender, favourite) {
        (_, "kids") => "",
        ("male", _) => random.pick(&["m", "l", "xl", "xxl"]),
        _ => random.pick(&["xs", "s", "m", "l", "xl"]),
    };
    let bonus = if orders > 0 {
        total / 100 * random.range(1, 5) / 5
    } else {
        0
    };
    let mut row = vec![
        id.clone(),
        email.unwrap_or_default(),
        phone.unwrap_or_default(),
        telegram.unwrap_or_default(),
        whatsapp.unwrap_or_default(),
        // Only a third of accounts carry their own zone; the rest fall back
        // to the project's (Moscow), as a real export would.
        if zone != "Europe/Moscow" || random.chance(0.3) {
            zone.to_string()
        } else {
            String::new()
        },
        rfc3339(created),
        if named {
            first.to_string()
        } else {
            String::new()
        },
        if named && random.chance(0.8) {
            last.to_string()
        } else {
            String::new()
        },
        gender.to_string(),
        birthday.map(|d| d.to_string()).unwrap_or_default(),
        city.to_string(),
        orders.to_string(),
        total.to_string(),
        last_purchase.map(rfc3339).unwrap_or_default(),
        lifecycle.to_string(),
        loyalty.to_string(),
        tags.join(";"),
        preferred.to_string(),
        favourite.to_string(),
        size.to_string(),
        if bonus > 0 {
            bonus.to_string()
        } else {
            String::new()
        },
        random
            .pick(&["site", "site", "app", "store", "marketplace"])
            .to_string(),
        email_consent,
        email_at,
        email_source,
        sms_consent,
        sms_at,
        telegram_consent,
        telegram_at,
        whatsapp_consent,
        whatsapp_at,
    ];
    debug_assert_eq!(row.len(), COLUMNS.len());
    row.shrink_to_fit();
    events.sort_by(|a, b| a["at"].as_str().cmp(&b["at"].as_str()));
    Generated { row, events }
}

/// The contacts file (CSV) and the events file (JSONL, in time order), as text.
pub fn generate() -> (String, String) {
    let now = exported_at();
    let mut random = Random(0x4C41_5354_4F43_484B); // "LASTOCHK"
    let mut contacts = csv::Writer::from_writer(Vec::new());
    contacts.write_record(COLUMNS).expect("write to memory");
    let mut events = Vec::new();
    for number in 1..=CONTACTS {
        let generated = contact(number, &mut random, now);
        contacts
            .write_record(&generated.row)
            .expect("write to memory");
        events.extend(generated.events);
    }
    events.sort_by(|a, b| {
        (a["at"].as_str(), a["id"].as_str()).cmp(&(b["at"].as_str(), b["id"].as_str()))
    });
    let mut lines = String::new();
    for event in &events {
        writeln!(lines, "{event}").expect("write to a string");
    }
    let contacts = String::from_utf8(contacts.into_inner().expect("flush to memory"))
        .expect("CSV of UTF-8 fields");
    (contacts, lines)
}

#[allow(dead_code)]
fn main() {
    let directory = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "campaigns/shop/data".to_string());
    let directory = Path::new(&directory);
    std::fs::create_dir_all(directory).expect("create the data directory");
    let (contacts, events) = generate();
    for (name, text) in [("contacts.csv", contacts), ("events.jsonl", events)] {
        let path = directory.join(name);
        let mut file = std::fs::File::create(&path).expect("create a data file");
        file.write_all(text.as_bytes()).expect("write a data file");
        println!("wrote {} ({} lines)", path.display(), text.lines().count());
    }
}
