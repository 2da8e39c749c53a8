//! One-click unsubscribe (RFC 8058). The token in the address names the
//! contact and the channel and is signed ([`crate::signed_link`]):
//!
//! - `POST` (what a mail client sends for `List-Unsubscribe-Post:
//!   List-Unsubscribe=One-Click`, and what the confirmation page's button
//!   sends) unsubscribes at once: the channel is suppressed as
//!   `unsubscribed` and its consent revoked, with a history entry;
//! - `GET` only shows the confirmation page, in the project's locale: mail
//!   scanners follow links, and a GET that unsubscribed would unsubscribe
//!   people who never clicked.
//!
//! A forged, altered or expired token changes nothing and gets 403.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{Service, Written, now};
use crate::signed_link::Purpose;

/// Where a consent change made here says it came from.
pub const SOURCE: &str = "one-click unsubscribe";

/// The page's words in one language.
struct Words {
    lang: &'static str,
    title: &'static str,
    question: &'static str,
    button: &'static str,
    done: &'static str,
    invalid: &'static str,
    failed: &'static str,
}

const RUSSIAN: Words = Words {
    lang: "ru",
    title: "Отписка от рассылки",
    question: "Отписаться от сообщений по каналу «{channel}»?",
    button: "Отписаться",
    done: "Готово: вы отписаны от сообщений по каналу «{channel}».",
    invalid: "Ссылка недействительна или устарела. Отписаться можно по ссылке из последнего письма.",
    failed: "Не удалось сохранить отписку. Попробуйте ещё раз через минуту.",
};

const ENGLISH: Words = Words {
    lang: "en",
    title: "Unsubscribe",
    question: "Unsubscribe from messages by {channel}?",
    button: "Unsubscribe",
    done: "Done: you are unsubscribed from messages by {channel}.",
    invalid: "This link is not valid or has expired. Use the link in the latest message.",
    failed: "The unsubscribe could not be saved. Please try again in a minute.",
};

fn words(locale: &str) -> &'static Words {
    if locale.to_lowercase().starts_with("ru") {
        &RUSSIAN
    } else {
        &ENGLISH
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A small self-contained page (no scripts, no external resources).
fn page(status: StatusCode, words: &Words, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{title}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}}\
         button{{font-size:1rem;padding:.6rem 1.2rem;cursor:pointer}}</style></head>\
         <body><h1>{title}</h1>{body}</body></html>\n",
        lang = words.lang,
        title = words.title,
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        html,
    )
        .into_response()
}

/// The contact and channel of a valid token.
fn verified(service: &Service, token: &str) -> Option<(String, String)> {
    let mut fields = service
        .signer
        .verify(Purpose::Unsubscribe, token, now())
        .ok()?;
    let channel = fields.pop()?;
    let contact = fields.pop()?;
    Some((contact, channel))
}

fn invalid(words: &Words) -> Response {
    page(
        StatusCode::FORBIDDEN,
        words,
        &format!("<p id=\"invalid\">{}</p>", words.invalid),
    )
}

/// `GET /u/<token>`: the confirmation page; changes nothing.
pub async fn confirm(State(service): State<Arc<Service>>, Path(token): Path<String>) -> Response {
    let words = words(&service.locale);
    let Some((_, channel)) = verified(&service, &token) else {
        return invalid(words);
    };
    let question = words.question.replace("{channel}", &escape(&channel));
    // An empty action posts to this same address, token included; the
    // field is the one RFC 8058 mail clients send.
    page(
        StatusCode::OK,
        words,
        &format!(
            "<form method=\"post\" action=\"\"><p>{question}</p>\
             <input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\
             <button type=\"submit\" id=\"unsubscribe\">{}</button></form>",
            words.button
        ),
    )
}

/// `POST /u/<token>`: unsubscribes at once. The body is not needed (RFC
/// 8058 fixes it), so any body within the size limit is accepted.
pub async fn unsubscribe(
    State(service): State<Arc<Service>>,
    Path(token): Path<String>,
    _body: axum::body::Bytes,
) -> Response {
    let words = words(&service.locale);
    let Some((contact, channel)) = verified(&service, &token) else {
        return invalid(words);
    };
    let at = now();
    let done = words.done.replace("{channel}", &escape(&channel));
    let written = service
        .writer
        .write(move |store| {
            let changed = store.unsubscribe(&contact, &channel, at, SOURCE)?;
            Ok(Written {
                added: u64::from(changed),
                unmatched: 0,
            })
        })
        .await;
    match written {
        Ok(_) => page(StatusCode::OK, words, &format!("<p id=\"done\">{done}</p>")),
        Err(error) => {
            eprintln!("herald serve: unsubscribe not recorded: {error}");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                words,
                &format!("<p id=\"failed\">{}</p>", words.failed),
            )
        }
    }
}
