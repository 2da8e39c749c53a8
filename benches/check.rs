//! Benchmark: `herald check` on a generated project of 1,000 segments, 500
//! campaigns, 200 journeys and 1,000 templates (SPEC section 10). Target:
//! under 1 s on a 2-core machine.
//!
//! Run with `cargo bench --bench check`. It times the library pipeline
//! (`compile`) and the release binary end to end, and prints the median.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const SEGMENTS: usize = 1_000;
const CAMPAIGNS: usize = 500;
const JOURNEYS: usize = 200;
const TEMPLATES: usize = 1_000;

fn write(root: &Path, name: &str, text: &str) {
    let path = root.join(name);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// A project shaped like a large real one: lifecycle and demographic
/// segments that build on each other, campaigns with variants and files,
/// journeys with waits, branches and sends.
fn generate(root: &Path) {
    write(
        root,
        "herald.yaml",
        r#"timezone: Europe/Moscow
locale: ru
currency: RUB
country: RU
contact:
  attributes:
    first_name: string
    gender: {type: enum, values: [male, female]}
    birthday: date
    city: string
    orders_count: integer
    total_spent: number
    last_purchase_at: datetime
    lifecycle: {type: enum, values: [cold, warm, hot, active, passive, lapsed]}
    tags: list
events:
  purchase: {properties: {amount: number, category: string, order_id: string}}
  cart_abandoned: {properties: {cart_id: string, cart_total: number}}
  signed_up: {properties: {source: string}}
  product_viewed: {properties: {product_id: string, price: number}}
channels:
  email: {provider: mail, from: "Shop <hello@shop.example>", cost: 0.4}
  sms: {provider: smsc, from: SHOP, cost: 2.2, max_parts: 2}
providers:
  mail: {kind: smtp, host: smtp.shop.example, port: 587, username: "${env:SMTP_USER}", password: "${env:SMTP_PASSWORD}"}
  smsc: {kind: smsc, login: "${env:SMSC_LOGIN}", password: "${env:SMSC_PASSWORD}"}
policies:
  quiet_hours: {start: "21:00", end: "09:00"}
  frequency_caps:
    - {max: 3, per: 7 days}
    - {channel: sms, max: 2, per: 30 days}
vars:
  shop_name: Магазин
"#,
    );
    for index in 0..SEGMENTS {
        let reference = if index > 0 && index % 4 == 0 {
            format!(
                " and not in segment \"group{}/segment{}\"",
                (index - 1) % 10,
                index - 1
            )
        } else {
            String::new()
        };
        write(
            root,
            &format!("segments/group{}/segment{index}.yaml", index % 10),
            &format!(
                "description: Generated segment {index}\nfilter: orders_count >= {} and city contains \"москва\" and last_purchase_at within {} days{reference}\n",
                index % 7,
                30 + index % 300
            ),
        );
    }
    for index in 0..TEMPLATES {
        write(
            root,
            &format!("templates/t{}/message{index}.html", index % 20),
            &format!(
                "<h1>{{{{ vars.shop_name }}}}</h1>\n<p>Здравствуйте, {{{{ contact.first_name | default(\"Гость\") }}}}! Предложение {index}.</p>\n<a href=\"{{{{ links.unsubscribe }}}}\">Отписаться</a>\n"
            ),
        );
    }
    for index in 0..CAMPAIGNS {
        write(
            root,
            &format!("campaigns/c{index}.yaml"),
            &format!(
                r#"description: Generated campaign {index}
type: promotional
audience:
  segment: group{group}/segment{segment}
  exclude: [group{group2}/segment{segment2}]
  filter: total_spent > {spent}
schedule:
  at: "{date} 11:00"
channels: {channels}
mode: first_reachable
messages:
  email:
    subject: "Предложение {index}"
    html_file: t{tgroup}/message{template}.html
{sms}variants:
  - name: a
    weight: 50
  - name: b
    weight: 50
    messages:
      email:
        subject: "Только для вас {index}"
        html_file: t{tgroup}/message{template}.html
holdout: 10
goal: {{event: purchase, within: 7 days}}
offer: "-20%"
budget: 50000
"#,
                group = (index * 2) % 10,
                segment = index * 2,
                group2 = (index * 2 + 1) % 10,
                segment2 = index * 2 + 1,
                spent = index * 10,
                tgroup = (index * 2) % 20,
                template = index * 2,
                // One send every three days, SMS on every twentieth: a calendar
                // that keeps to the frequency caps.
                date = jiff::civil::date(2027, 1, 1)
                    .checked_add(jiff::Span::new().days(3 * index as i64))
                    .expect("date in range"),
                channels = if index % 20 == 0 {
                    "[email, sms]"
                } else {
                    "[email]"
                },
                sms = if index % 20 == 0 {
                    "  sms:\n    text: \"-20% до воскресенья: shop.example\"\n"
                } else {
                    ""
                },
            ),
        );
    }
    for index in 0..JOURNEYS {
        let template = (index * 5) % TEMPLATES;
        write(
            root,
            &format!("journeys/j{index}.yaml"),
            &format!(
                r#"description: Generated journey {index}
type: promotional
trigger:
  event: {event}
  filter: orders_count >= {low} and orders_count < {high}
entry:
  reentry: after 30 days
exit: [purchase]
goal: {{event: purchase, within: 3 days}}
priority: {index}
steps:
  - wait: 1 hour
  - id: first
    send:
      channels: [email]
      messages:
        email:
          subject: "Вы забыли корзину"
          html_file: t{tgroup}/message{template}.html
  - wait: 1 day
  - id: check
    branch:
      cases:
        - when: orders_count > 0
          goto: reminder
      otherwise: done
  - id: reminder
    send:
      channels: [sms]
      messages:
        sms:
          text: "Корзина ждёт: shop.example"
  - id: done
    exit: finished
"#,
                tgroup = template % 20,
                // Journeys on one trigger have bands of the audience to
                // themselves, so the conflict rules can prove them disjoint.
                event = ["cart_abandoned", "signed_up", "product_viewed"][index % 3],
                low = index / 3,
                high = index / 3 + 1,
            ),
        );
    }
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let project = tempfile::tempdir().expect("tempdir");
    generate(project.path());
    // `HERALD_BENCH_KEEP=DIR` also writes the project to DIR, to inspect or profile it.
    if let Some(keep) = std::env::var_os("HERALD_BENCH_KEEP") {
        generate(Path::new(&keep));
    }
    println!(
        "generated project: {SEGMENTS} segments, {CAMPAIGNS} campaigns, {JOURNEYS} journeys, {TEMPLATES} templates"
    );

    let runs = 7;
    let mut library = Vec::new();
    let mut diagnostics = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let compilation = herald::compile(project.path()).expect("compiles");
        library.push(start.elapsed());
        diagnostics = compilation.diagnostics.len();
    }
    println!(
        "compile (library): median {:?} over {runs} runs, {diagnostics} diagnostics",
        median(library)
    );

    // Where the time goes, stage by stage (one run each, after the warm-up above).
    let schemas = herald::schema::Schemas::new();
    let start = Instant::now();
    let (loaded, _) = herald::loader::load(project.path(), &schemas).expect("loads");
    let load = start.elapsed();
    let start = Instant::now();
    let (filters, _) = herald::segment::check::check(&loaded);
    let filter = start.elapsed();
    let start = Instant::now();
    let (resolution, _) = herald::resolver::resolve(&loaded, &filters);
    let resolve = start.elapsed();
    let start = Instant::now();
    let journeys = herald::journey::compile(&loaded, &resolution.journeys, &resolution.policies);
    let journey = start.elapsed();
    let start = Instant::now();
    let templates = herald::template::Templates::new(&loaded);
    let _ = herald::template::check::check(&loaded, templates.as_ref());
    let template = start.elapsed();
    let compilation = herald::Compilation {
        project: loaded,
        filters,
        segment_references: resolution.segment_references,
        timezone: resolution.timezone,
        policies: resolution.policies,
        providers: resolution.providers,
        campaigns: resolution.campaigns,
        journeys,
        templates,
        sources: resolution.sources,
        diagnostics: Default::default(),
    };
    let start = Instant::now();
    let _ = herald::lint::check(&compilation);
    let lint = start.elapsed();
    println!(
        "stages: load + schema {load:?}, filters {filter:?}, resolve {resolve:?}, journeys {journey:?}, templates {template:?}, lint and conflicts {lint:?}"
    );

    pathological_filters(&compilation.filters.catalog);

    let binary = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/herald");
    if binary.is_file() {
        let mut process = Vec::new();
        for _ in 0..runs {
            let start = Instant::now();
            let status = Command::new(&binary)
                .args(["check", "--format", "json", "--project"])
                .arg(project.path())
                .output()
                .expect("herald runs")
                .status;
            process.push(start.elapsed());
            assert!(status.code().is_some());
        }
        println!(
            "herald check (release binary, whole process): median {:?} over {runs} runs",
            median(process)
        );
    } else {
        println!("(build with `cargo build --release` to also time the binary end to end)");
    }
}

/// Issue 13: one filter of a pathological size through the filter stage
/// (parse, type check, analysis), timed; tests/pathological.rs asserts the
/// outcome (a diagnostic or a result), this measures how long it takes.
/// `HERALD_BENCH_OR_TERMS=5000,20000` chooses the `or` chain lengths.
fn pathological_filters(catalog: &herald::segment::catalog::Catalog) {
    let terms: Vec<usize> = std::env::var("HERALD_BENCH_OR_TERMS")
        .unwrap_or_else(|_| "5000,20000,50000".into())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    let chain = |terms: usize, joiner: &str, term: &dyn Fn(usize) -> String| {
        (0..terms).map(term).collect::<Vec<_>>().join(joiner)
    };
    let mut cases: Vec<(String, String)> = Vec::new();
    for &n in &terms {
        cases.push((
            format!("or chain of {n} equalities"),
            chain(n, " or ", &|i| format!("city = \"c{i}\"")),
        ));
        cases.push((
            format!("or chain of {n} mixed terms"),
            chain(n, " or ", &|i| match i % 3 {
                0 => format!("orders_count > {i}"),
                1 => format!("not (city = \"c{i}\")"),
                _ => "city is set".to_string(),
            }),
        ));
    }
    let largest = terms.iter().copied().max().unwrap_or(0);
    cases.push((
        format!("and chain of {largest} terms"),
        chain(largest, " and ", &|i| format!("orders_count != {i}")),
    ));
    cases.push((
        format!("in list of {largest} values"),
        format!(
            "city in [{}]",
            chain(largest, ", ", &|i| format!("\"c{i}\""))
        ),
    ));
    cases.push((
        "12,000 chained `not`".to_string(),
        format!("{}city = \"x\"", "not ".repeat(12_000)),
    ));
    for (name, text) in cases {
        let start = Instant::now();
        let (_, issues) = herald::segment::check::check_text(&text, Some(catalog), None);
        println!(
            "filter stage, {name} ({} KB): {:?}, {} diagnostics",
            text.len() / 1024,
            start.elapsed(),
            issues.len()
        );
    }
}
