//! Text parts produced once per template path ([`TextParts`]) must equal
//! converting each contact's own HTML ([`html_to_text`]), whatever the
//! template and whatever the contact's values: markup, entities, odd
//! whitespace, invisible characters, values in tags, raw text elements,
//! tables and links. The HTML is rendered as a send renders it: by herald's
//! template environment, with [`text_part::recording`] finding the values.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, LazyLock};

use herald::template::text_part::html_to_text;
use herald::template::text_part::{self, TextParts};
use herald::template::{PartKind, Templates};
use minijinja::{Environment, Value};
use proptest::prelude::*;

/// Pieces of HTML templates, each printing values in another place.
const FRAGMENTS: &[&str] = &[
    "<p>Здравствуйте, {{ a }}!</p>",
    "<h1>{{ a }} и {{ b }}</h1>",
    "<a href=\"{{ url }}\">{{ a }}</a>",
    "<a href=\"{{ url }}\">{{ url }}</a>",
    "<a href=\"https://shop.example/?c={{ b }}&amp;x=1\">Купить</a>",
    "<a href='{{ url }}'>одинарные кавычки</a>",
    "<img src=\"{{ url }}\" alt=\"{{ a }}\">",
    "<table><tr><td>{{ a }}</td><td>{{ b }}</td></tr><tr><td>длинная ячейка таблицы</td><td>{{ n }}</td></tr></table>",
    "<ul><li>{{ a }}</li><li>{{ b }} {{ n }}</li></ul><ol><li>{{ a }}</li></ol>",
    "<pre>{{ a }}   {{ b }}</pre>",
    "<title>{{ a }}</title>",
    "<style>.x{{ b }}{color:red}</style>",
    "<xmp>{{ a }}</xmp>",
    "<textarea>{{ b }}</textarea>",
    "<!-- {{ a }} -->",
    "<{{ tag }}>в теге</{{ tag }}>",
    "<div class={{ b }}>без кавычек</div>",
    "<p>&{{ entity }};</p>",
    "<p>{{ a | safe }}</p>",
    "{% if n > 2 %}<b>много</b>{% else %}<i>мало</i>{% endif %}",
    "<p>{{ a }}{{ b }}</p>",
    "<blockquote>{{ a }}</blockquote>",
    "{% macro m(x) %}<em>{{ x }}</em>{% endmacro %}<p>{{ m(a) }}</p>",
    "<p>{{ a | upper }} {{ n }} {{ missing | default(\"—\") }}</p>",
    "  {{ a }}   ",
    "<p>Цена: <span>{{ n }}</span>&nbsp;₽</p>",
    "<h2>{{ b }}</h2><hr><p>{{ a }}</p><br>{{ b }}",
    "<p><strong>{{ a }}</strong> <code>{{ b }}</code> <s>{{ a }}</s></p>",
    "<p>1 <{{ a }} 2 </{{ b }}</p>",
    "<p>{{ long }} {{ a }} конец</p>",
    "<!-- скрыто -{{ a }}> видно? -->",
    "<a title=\"x>y\" href={{ url }}>без кавычек</a>",
    "<p>1 <{{ b }}>2</p>",
];

/// The fragments, with `{{ long }}` standing for a paragraph just short of
/// the width where the text part wraps, so that a value's length decides.
fn fragments() -> Vec<String> {
    let long = "ж".repeat(9_950);
    FRAGMENTS
        .iter()
        .map(|fragment| fragment.replace("{{ long }}", &long))
        .collect()
}

/// Values as contacts hold them, ordinary and hostile.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(vec![
            "Анна", "Иван Петров", "Mary-Jane", "O'Brien", "Жанна д'Арк", "Zoë", "李雷",
            "<script>alert(1)</script>", "a & b", "&amp;", "&lt;x&gt;", "a  b", " Анна",
            "Анна ", "a\u{a0}b", "a\tb", "a\nb", "x\u{200b}y", "soft\u{ad}hyphen",
            "\u{e000}0\u{e001}", "e\u{301}", "👩‍👩‍👧", "{{ 7 * 7 }}", "a/b/c", "\"quoted\"",
            "1", "", "-", "*bold*", "[1]", "/1", "/x", "!x", "?x", "-", "-x", "b", "p class", "a b", "https://shop.example/x?a=1&b=2",
        ])
        .prop_map(str::to_string),
        1 => "[a-zA-Zа-яА-Я0-9 &<>\"'/;#.-]{1,12}",
        1 => "[а-я]{40,90}",
    ]
}

fn url() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(vec![
            "https://shop.example/p/1",
            "https://unsubscribe.invalid/c-1",
            "https://shop.example/u?token=0123456789abcdef0123456789abcdef0123456789abcdef",
            "mailto:help@shop.example",
            "#top",
            "javascript:alert(1)",
            "https://shop.example/a b",
        ])
        .prop_map(str::to_string),
        "https://shop\\.example/[a-z0-9/?=&]{1,40}",
    ]
}

/// One contact's values.
fn contact() -> impl Strategy<Value = Value> {
    (
        value(),
        value(),
        url(),
        0i64..5,
        proptest::sample::select(vec!["p", "h1", "b", "span", "1", "script"]),
        proptest::sample::select(vec!["amp", "lt", "#x41", "nbsp", "x"]),
    )
        .prop_map(|(a, b, url, n, tag, entity)| {
            Value::from(BTreeMap::from([
                ("a", Value::from(a)),
                ("b", Value::from(b)),
                ("url", Value::from(url)),
                ("n", Value::from(n)),
                ("tag", Value::from(tag)),
                ("entity", Value::from(entity)),
            ]))
        })
}

/// herald's template environment (escaping, filters) with the settings of
/// the render fixture.
static ENVIRONMENT: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/render/project");
    let compilation = herald::compile(&root).expect("fixture compiles");
    let templates = Templates::new(&compilation.project).expect("templates");
    herald::template::environment(Arc::new(HashMap::new()), templates.settings)
});

/// Renders `source` for each contact, three rounds, and checks every text.
fn assert_exact(source: &str, contacts: &[Value]) -> TextParts {
    let name = herald::template::load_name(PartKind::Html, "case.html");
    let template = ENVIRONMENT
        .template_from_named_str(&name, source)
        .expect("fragments compile");
    let texts = TextParts::new();
    for _ in 0..3 {
        for contact in contacts {
            let (html, printed) =
                text_part::recording(|out| template.render_captured_to(contact, out).map(drop))
                    .expect("renders");
            assert_eq!(
                texts.text(&html, &printed),
                html_to_text(&html),
                "template {source:?}, HTML {html:?}"
            );
        }
    }
    texts
}

/// Byte ranges of `html` at character boundaries, ordered and apart, from
/// fractions of its length.
fn ranges(html: &str, fractions: &[(u16, u8)]) -> Vec<std::ops::Range<usize>> {
    let mut boundaries: Vec<usize> = fractions
        .iter()
        .map(|&(at, _)| html.len() * usize::from(at) / usize::from(u16::MAX))
        .filter(|&at| html.is_char_boundary(at))
        .collect();
    boundaries.sort_unstable();
    boundaries.dedup();
    let mut result: Vec<std::ops::Range<usize>> = Vec::new();
    for (index, &start) in boundaries.iter().enumerate() {
        let length = usize::from(fractions[index % fractions.len()].1 % 24) + 1;
        let end = (start + length..=html.len())
            .find(|&end| html.is_char_boundary(end))
            .unwrap_or(html.len());
        if result.last().is_none_or(|last| last.end <= start) && start < end {
            result.push(start..end);
        }
    }
    result
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// [`TextParts::text`] is exact for any ranges, not only those of
    /// printed values: it decides for itself what a marker may stand for.
    #[test]
    fn any_ranges_give_the_exact_text(
        fragments in proptest::collection::vec(proptest::sample::select(fragments()), 1..6),
        contacts in proptest::collection::vec(contact(), 1..4),
        fractions in proptest::collection::vec((any::<u16>(), any::<u8>()), 1..40),
    ) {
        let source = fragments.concat();
        let name = herald::template::load_name(PartKind::Html, "case.html");
        let template = ENVIRONMENT.template_from_named_str(&name, &source).expect("compiles");
        let texts = TextParts::new();
        for _ in 0..3 {
            for contact in &contacts {
                let html = template.render(contact).expect("renders");
                let printed = ranges(&html, &fractions);
                prop_assert_eq!(texts.text(&html, &printed), html_to_text(&html), "{:?} {:?}", html, printed);
            }
        }
    }

    #[test]
    fn text_parts_equal_converting_each_contacts_html(
        fragments in proptest::collection::vec(proptest::sample::select(fragments()), 1..8),
        contacts in proptest::collection::vec(contact(), 1..6),
    ) {
        assert_exact(&fragments.concat(), &contacts);
    }
}

/// The point of it all: a layout whose every contact has a name of their
/// own converts once, not once per contact.
#[test]
fn a_newsletter_with_unique_names_converts_once() {
    let source = "<html><head><title>Распродажа</title><style>td{padding:8px}</style></head><body>\
        <table width=\"100%\"><tr><td><a href=\"https://shop.example/\"><img src=\"https://shop.example/logo.png\" alt=\"Ласточка\"></a></td></tr>\
        <tr><td><h1>Здравствуйте, {{ a }}!</h1><p>Скидка 25% на обувь для вас, {{ a }}. У вас {{ n }} заказа.</p>\
        {% for product in ['Кроссовки «Стриж»', 'Ботинки «Сокол»'] %}<h2>{{ product }}</h2><p><a class=\"button\" href=\"https://shop.example/p?utm_campaign={{ b }}\">Купить</a></p>{% endfor %}\
        </td></tr><tr><td><p><a href=\"{{ url }}\">Отписаться</a></p></td></tr></table></body></html>";
    let contacts: Vec<Value> = (0..200)
        .map(|index| {
            Value::from(BTreeMap::from([
                ("a", Value::from(format!("Покупатель {index}"))),
                ("b", Value::from("spring")),
                (
                    "url",
                    Value::from(format!("https://unsubscribe.invalid/c-{index}")),
                ),
                ("n", Value::from(index % 3 + 2)),
            ]))
        })
        .collect();
    let texts = assert_exact(source, &contacts);
    let (lookups, hits) = texts.statistics();
    assert_eq!(lookups, 600);
    // Seen once, then remembered: every other message comes from memory.
    assert_eq!(hits, 598, "{lookups} lookups, {hits} from memory");
}

#[test]
fn a_long_link_is_not_broken_across_lines() {
    let link = format!(
        "https://shop.example/unsubscribe/{}",
        "0123456789".repeat(8)
    );
    let text = html_to_text(&format!("<a href=\"{link}\">Отписаться</a>"));
    assert!(
        text.lines().any(|line| line == format!("[1]: {link}")),
        "{text}"
    );
}

/// A paragraph stays on one line: clients reflow it to their screen. A
/// layout table's cells follow each other (a line apart, as html2text's
/// raw mode puts them), with no borders or padding.
#[test]
fn paragraphs_are_not_wrapped_and_layout_tables_are_not_drawn() {
    let paragraph = "Весенняя распродажа: скидка 25% на всю обувь до воскресенья. ".repeat(4);
    let text = html_to_text(&format!(
        "<table><tr><td><p>{paragraph}</p></td></tr><tr><td><p>Подвал</p></td></tr></table>"
    ));
    assert_eq!(text, format!("{}\nПодвал", paragraph.trim_end()));
}
