//! Rendering throughput, the acceptance benchmark of the templates stage:
//! contacts streamed from a real SQLite contact store, each rendered the
//! `promo` campaign of the `tests/render/project` fixture: a typical email
//! (subject, preheader, HTML from a template file, the text part produced
//! from the HTML, the unsubscribe headers) and an SMS (text, encoding and
//! parts). Target: 200,000 messages per second on 2 cores.
//!
//! `cargo bench --bench render` renders 1,000,000 contacts; `-- N` another
//! count, `-- --threads N` another number of render threads (default: one
//! per core), `-- --campaign newsletter` another campaign of the fixture:
//! a layout with a header, three product cards and a footer (about 5 KB of
//! HTML, where `promo` has 0.3 KB), or `-- --campaign catalog`: 24 product
//! cards in nested tables with inline styles, as email builders write them
//! (51 KB).
//!
//! The store is generated once into `target/bench-render/` and reused.
//! [`Renderer::render_stream`] reads the rows on the main thread and hands
//! them in batches through a bounded channel to the render threads, as a
//! send does. Reported: messages per second, CPU time (of every thread,
//! against the machine's cores: another process on the machine shows as
//! less than 100%), peak memory (VmHWM, reset after set-up so that it shows
//! the streaming and rendering), and how many text parts came from memory.

mod support;

use std::path::{Path, PathBuf};
use std::time::Instant;

use herald::contact::{Contact, Value as Stored};
use herald::store::Store;
use herald::template::renderer::{Renderer, Rendering};
use herald::template::{self, Templates};

/// The allocator of the `herald` binary (`src/main.rs`), so that the figure
/// is the product's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The clock of the renders.
const NOW: &str = "2026-03-02T09:00:00Z";

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let option = |name: &str| {
        let index = arguments.iter().position(|argument| argument == name)?;
        arguments.get(index + 1).map(String::as_str)
    };
    // The count is the number that is not an option's value.
    let count = (0..arguments.len())
        .filter(|&index| index == 0 || !arguments[index - 1].starts_with("--"))
        .find_map(|index| arguments[index].parse().ok())
        .unwrap_or(1_000_000);
    let campaign = option("--campaign").unwrap_or("promo");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let compilation =
        herald::compile(&root.join("tests/render/project")).expect("fixture compiles");
    let manifest = &compilation
        .project
        .manifest
        .as_ref()
        .expect("manifest")
        .value;
    let templates = Templates::new(&compilation.project).expect("templates");
    let target = templates
        .targets
        .iter()
        .find(|target| target.name == campaign)
        .expect("campaign of the fixture");
    let vars = template::vars_value(manifest);
    let renderer = Renderer::new(&templates, target, &vars, NOW).expect("templates compile");

    let path = store_path(root, count);
    if !path.is_file() {
        generate(&path, manifest, count);
    }
    let store = Store::open(&path, manifest).expect("store opens");
    let set_up_peak = support::peak_memory_kb();
    support::reset_peak_memory();

    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let threads = option("--threads")
        .and_then(|threads| threads.parse().ok())
        .unwrap_or(cores);
    let cpu_before = support::cpu_seconds();
    let started = Instant::now();
    // (messages, bytes of parts) per render thread.
    let mut totals = vec![(0usize, 0usize); threads];
    let sinks = totals
        .iter_mut()
        .map(|(messages, bytes)| {
            move |_: &Contact, rendering: Rendering| {
                for message in rendering.expect("renders") {
                    *messages += 1;
                    *bytes += message.parts.values().map(String::len).sum::<usize>();
                }
            }
        })
        .collect();
    let contacts = renderer
        .render_stream(|visit| store.each_contact(visit), sinks)
        .expect("store streams");
    let (messages, bytes) = totals
        .iter()
        .fold((0, 0), |(m, b), (tm, tb)| (m + tm, b + tb));
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = support::cpu_seconds() - cpu_before;
    assert_eq!(contacts, count, "the store holds {count} contacts");
    assert_eq!(messages, count * target.messages.len());
    let (conversions, remembered) = renderer.text_statistics();
    println!(
        "rendered {messages} messages ({contacts} contacts from {} × email + SMS, {} MB of parts) \
         on {threads} render threads in {elapsed:.2} s: {:.0} messages/s; \
         CPU {cpu:.2} s ({:.0}% of {cores} cores); peak memory (VmHWM) {} MB while \
         streaming and rendering ({} MB during set-up); \
         text parts from HTML: {conversions}, {remembered} of them remembered",
        path.display(),
        bytes / 1_000_000,
        messages as f64 / elapsed,
        100.0 * cpu / elapsed / cores as f64,
        support::peak_memory_kb() / 1024,
        set_up_peak / 1024,
    );
}

/// The cached store of `count` contacts, kept under `target/` (not committed).
fn store_path(root: &Path, count: usize) -> PathBuf {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    target
        .join("bench-render")
        .join(format!("contacts-{count}-v{GENERATION}.db"))
}

/// Bump when [`generate`] changes, so that a cached store is not reused.
const GENERATION: u32 = 2;

/// Writes `count` contacts into a new store at `path`, built under a
/// temporary name and renamed, so that an interrupted run is never taken for
/// a complete store.
///
/// First names follow a long tail, as in a real base: a few common names
/// cover most contacts, one in eight has none, and one in twenty-five has
/// the full name typed into the first-name field (tens of thousands of
/// different values). The HTML differs with the greeting, so this decides
/// how often a text part can come from memory.
fn generate(path: &Path, manifest: &herald::model::Manifest, count: usize) {
    const FEMALE: [&str; 32] = [
        "Мария",
        "Анна",
        "Елена",
        "Ольга",
        "Наталья",
        "Татьяна",
        "Ирина",
        "Екатерина",
        "Светлана",
        "Юлия",
        "Дарья",
        "Анастасия",
        "Марина",
        "Людмила",
        "Галина",
        "Ксения",
        "Алина",
        "Виктория",
        "Полина",
        "Вера",
        "Надежда",
        "Любовь",
        "Софья",
        "Валентина",
        "Евгения",
        "Кристина",
        "Оксана",
        "Лариса",
        "Нина",
        "Зоя",
        "Alice",
        "Александра-Виктория",
    ];
    const MALE: [&str; 32] = [
        "Александр",
        "Сергей",
        "Дмитрий",
        "Андрей",
        "Алексей",
        "Иван",
        "Михаил",
        "Николай",
        "Павел",
        "Евгений",
        "Максим",
        "Владимир",
        "Артём",
        "Егор",
        "Роман",
        "Олег",
        "Игорь",
        "Юрий",
        "Виктор",
        "Денис",
        "Антон",
        "Константин",
        "Никита",
        "Кирилл",
        "Григорий",
        "Степан",
        "Тимур",
        "Руслан",
        "Вадим",
        "Фёдор",
        "John",
        "Константин-Александр",
    ];
    const PATRONYMIC: [&str; 16] = [
        "Александров",
        "Сергеев",
        "Дмитриев",
        "Андреев",
        "Алексеев",
        "Иванов",
        "Михайлов",
        "Николаев",
        "Павлов",
        "Владимиров",
        "Викторов",
        "Юрьев",
        "Олегов",
        "Игорев",
        "Петров",
        "Борисов",
    ];
    const SURNAME: [&str; 24] = [
        "Иванов",
        "Смирнов",
        "Кузнецов",
        "Попов",
        "Васильев",
        "Петров",
        "Соколов",
        "Михайлов",
        "Новиков",
        "Фёдоров",
        "Морозов",
        "Волков",
        "Алексеев",
        "Лебедев",
        "Семёнов",
        "Егоров",
        "Павлов",
        "Козлов",
        "Степанов",
        "Николаев",
        "Орлов",
        "Андреев",
        "Макаров",
        "Никитин",
    ];
    let started = Instant::now();
    std::fs::create_dir_all(path.parent().expect("directory")).expect("target directory");
    let partial = path.with_extension("partial");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", partial.display()));
    }
    let store = Store::open(&partial, manifest).expect("store opens");
    store.begin().expect("begin");
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut random = move || {
        // xorshift: varied but reproducible contacts.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for index in 0..count {
        let mut contact = Contact {
            id: format!("c-{index:07}"),
            ..Contact::default()
        };
        let attributes = &mut contact.attributes;
        let string = |text: String| Stored::String(text);
        attributes.insert("email".into(), string(format!("c{index}@example.com")));
        attributes.insert(
            "phone".into(),
            string(format!("+7916{:07}", index % 10_000_000)),
        );
        attributes.insert("timezone".into(), string("Europe/Moscow".into()));
        attributes.insert("locale".into(), string("ru".into()));
        attributes.insert(
            "created_at".into(),
            Stored::Datetime(1_735_689_600 + (random() % 31_536_000) as i64),
        );
        // Four in ten are prospects without orders.
        let orders = match random() % 10 {
            0..=3 => 0,
            n => n as i64 * 2 - 7,
        };
        attributes.insert("orders_count".into(), Stored::Integer(orders));
        let (gender, names) = match random() % 20 {
            0 => (None, &MALE),
            1..=10 => (Some("female"), &FEMALE),
            _ => (Some("male"), &MALE),
        };
        if let Some(gender) = gender {
            attributes.insert("gender".into(), string(gender.into()));
        }
        // The smaller of two draws: common names come first in the lists.
        let pick = |random: &mut dyn FnMut() -> u64, length: usize| {
            (random() as usize % length).min(random() as usize % length)
        };
        let suffix = if gender == Some("female") { "а" } else { "" };
        let first_name = match random() % 200 {
            0..=24 => None,
            25..=32 => Some(format!(
                "{} {}{} {}{suffix}",
                names[pick(&mut random, names.len())],
                PATRONYMIC[pick(&mut random, PATRONYMIC.len())],
                if suffix.is_empty() { "ич" } else { "на" },
                SURNAME[pick(&mut random, SURNAME.len())],
            )),
            _ => Some(names[pick(&mut random, names.len())].to_string()),
        };
        if let Some(first_name) = first_name {
            attributes.insert("first_name".into(), string(first_name));
        }
        store.put_contact(&contact).expect("contact stored");
    }
    store.commit().expect("commit");
    drop(store);
    std::fs::rename(&partial, path).expect("store renamed");
    eprintln!(
        "generated {count} contacts into {} in {:.1} s",
        path.display(),
        started.elapsed().as_secs_f64()
    );
}
