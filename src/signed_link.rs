//! Signed links: the tokens in the addresses `herald serve` answers, so
//! that a link acts only for what it was issued for. An unsubscribe token
//! names one contact and one channel (nobody can unsubscribe someone else
//! by editing the address); a click token names one outbox message (its
//! clicks are recorded against it, and it redirects only to addresses that
//! message contained).
//!
//! A token is `base64url(payload) "." base64url(HMAC-SHA256(secret,
//! purpose "\n" payload))`, the payload being the fields and the expiry
//! (unix seconds) separated by newlines. The purpose keeps a click token
//! from being used as an unsubscribe token. The secret comes from the
//! environment variable the manifest's `serve.secret` names; changing it
//! invalidates every link already sent, which is the way to revoke them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// What a token is for; part of what is signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Fields: contact id, channel.
    Unsubscribe,
    /// Fields: outbox message key.
    Click,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::Unsubscribe => b"unsubscribe",
            Purpose::Click => b"click",
        }
    }

    fn fields(self) -> usize {
        match self {
            Purpose::Unsubscribe => 2,
            Purpose::Click => 1,
        }
    }
}

/// Why a token was refused. The service answers every one of them alike
/// (403), so a caller learns nothing about which part was wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenError {
    /// Not two base64url parts, or a payload of the wrong shape.
    Malformed,
    /// The signature does not match (forged or altered).
    Forged,
    /// Signed, but past its expiry.
    Expired,
}

/// Issues and verifies tokens under one secret.
#[derive(Clone)]
pub struct Signer {
    secret: Vec<u8>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(..)")
    }
}

impl Signer {
    pub fn new(secret: &[u8]) -> Signer {
        Signer {
            secret: secret.to_vec(),
        }
    }

    fn mac(&self, purpose: Purpose, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.secret)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(purpose.label());
        mac.update(b"\n");
        mac.update(payload);
        mac
    }

    /// A token for `fields` valid until `expires` (unix seconds). A field
    /// holding a newline could not be told apart from two fields, so none
    /// of herald's ids do; such a field is replaced by an empty one, which
    /// matches nothing.
    pub fn issue(&self, purpose: Purpose, fields: &[&str], expires: i64) -> String {
        let mut payload = String::new();
        for field in fields {
            if !field.contains('\n') {
                payload.push_str(field);
            }
            payload.push('\n');
        }
        payload.push_str(&expires.to_string());
        let signature = self
            .mac(purpose, payload.as_bytes())
            .finalize()
            .into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload.as_bytes()),
            URL_SAFE_NO_PAD.encode(signature)
        )
    }

    /// The fields of a token signed for `purpose` and not expired at `now`.
    /// The signature is compared in constant time before anything in the
    /// payload is believed.
    pub fn verify(
        &self,
        purpose: Purpose,
        token: &str,
        now: i64,
    ) -> Result<Vec<String>, TokenError> {
        let (payload, signature) = token.split_once('.').ok_or(TokenError::Malformed)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Malformed)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Malformed)?;
        self.mac(purpose, &payload)
            .verify_slice(&signature)
            .map_err(|_| TokenError::Forged)?;
        let payload = String::from_utf8(payload).map_err(|_| TokenError::Malformed)?;
        let mut fields: Vec<String> = payload.split('\n').map(str::to_string).collect();
        if fields.len() != purpose.fields() + 1 {
            return Err(TokenError::Malformed);
        }
        let expires: i64 = fields
            .pop()
            .and_then(|text| text.parse().ok())
            .ok_or(TokenError::Malformed)?;
        if now > expires {
            return Err(TokenError::Expired);
        }
        Ok(fields)
    }
}

/// The addresses `herald serve` answers, as messages carry them: the
/// manifest's public base URL, the signer, and how long a link stays valid.
#[derive(Clone, Debug)]
pub struct Links {
    base: String,
    signer: Signer,
    /// Seconds from issue to expiry.
    valid_for: i64,
    /// The issue time (unix seconds): the plan's clock, so that a plan is
    /// reproducible.
    issued_at: i64,
    /// Whether sent email has its links pointed at the click redirect.
    track_clicks: bool,
}

impl Links {
    pub fn new(public_url: &str, signer: Signer, valid_for: i64, issued_at: i64) -> Links {
        Links {
            base: public_url.trim_end_matches('/').to_string(),
            signer,
            valid_for,
            issued_at,
            track_clicks: false,
        }
    }

    /// The same links, pointing the links of sent email at the click
    /// redirect.
    pub fn tracking_clicks(self, track_clicks: bool) -> Links {
        Links {
            track_clicks,
            ..self
        }
    }

    pub fn tracks_clicks(&self) -> bool {
        self.track_clicks
    }

    /// The HTML of message `key` with every `href` to an http(s) address
    /// (other than herald's own, such as the unsubscribe link) replaced by
    /// its click address.
    pub fn track_clicks_in(&self, key: &str, html: &str) -> String {
        let mut out = String::with_capacity(html.len() + html.len() / 4);
        let mut rest = html;
        while let Some(start) = rest.find("href=") {
            let (before, after) = rest.split_at(start + "href=".len());
            out.push_str(before);
            let quote = match after.chars().next() {
                Some(quote @ ('"' | '\'')) => quote,
                _ => {
                    rest = after;
                    continue;
                }
            };
            let Some(end) = after[1..].find(quote) else {
                rest = after;
                continue;
            };
            let target = &after[1..=end];
            let url = target.replace("&amp;", "&");
            let tracked = (url.starts_with("https://") || url.starts_with("http://"))
                && !url.starts_with(&self.base);
            out.push(quote);
            if tracked {
                out.push_str(&self.click(key, &url));
            } else {
                out.push_str(target);
            }
            out.push(quote);
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        out
    }

    fn expires(&self) -> i64 {
        self.issued_at.saturating_add(self.valid_for)
    }

    /// The one-click unsubscribe address of a contact on a channel.
    pub fn unsubscribe(&self, contact: &str, channel: &str) -> String {
        let token = self
            .signer
            .issue(Purpose::Unsubscribe, &[contact, channel], self.expires());
        format!("{}{}{token}", self.base, UNSUBSCRIBE_PATH)
    }

    /// The address that records a click of `target` in message `key` and
    /// redirects there.
    pub fn click(&self, key: &str, target: &str) -> String {
        let token = self.signer.issue(Purpose::Click, &[key], self.expires());
        let mut url = format!("{}{}{token}?url=", self.base, CLICK_PATH);
        url.extend(percent_encode(target));
        url
    }
}

/// Where unsubscribe tokens are answered, followed by the token.
pub const UNSUBSCRIBE_PATH: &str = "/u/";
/// Where click tokens are answered, followed by the token and `?url=`.
pub const CLICK_PATH: &str = "/c/";

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
pub fn percent_encode(value: &str) -> impl Iterator<Item = char> + '_ {
    value.bytes().flat_map(|byte| {
        let plain = byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~');
        let text: Vec<char> = if plain {
            vec![char::from(byte)]
        } else {
            format!("%{byte:02X}").chars().collect()
        };
        text.into_iter()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_verifies_only_unchanged_for_its_purpose_and_in_time() {
        let signer = Signer::new(b"secret");
        let token = signer.issue(Purpose::Unsubscribe, &["c1", "email"], 100);
        assert_eq!(
            signer.verify(Purpose::Unsubscribe, &token, 100),
            Ok(vec!["c1".to_string(), "email".to_string()])
        );
        assert_eq!(
            signer.verify(Purpose::Unsubscribe, &token, 101),
            Err(TokenError::Expired)
        );
        assert_eq!(
            signer.verify(Purpose::Click, &token, 0),
            Err(TokenError::Forged)
        );
        assert_eq!(
            Signer::new(b"other").verify(Purpose::Unsubscribe, &token, 0),
            Err(TokenError::Forged)
        );
        // Another contact's payload under this signature.
        let (_, signature) = token.split_once('.').unwrap();
        let forged = format!("{}.{signature}", URL_SAFE_NO_PAD.encode("c2\nemail\n100"));
        assert_eq!(
            signer.verify(Purpose::Unsubscribe, &forged, 0),
            Err(TokenError::Forged)
        );
        assert_eq!(
            signer.verify(Purpose::Unsubscribe, "no-dot", 0),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn tracked_html_points_links_at_the_redirect_except_its_own() {
        let links = Links::new("https://mail.example", Signer::new(b"s"), 10, 0);
        let html = "<a href=\"https://shop.example/a?b=1&amp;c=2\">A</a>\
                    <a href='mailto:x@example.com'>M</a>\
                    <a href=\"https://mail.example/u/t\">U</a><a href=x>X</a>";
        let tracked = links.track_clicks_in("k", html);
        assert!(
            tracked.starts_with("<a href=\"https://mail.example/c/"),
            "{tracked}"
        );
        assert!(tracked.contains("?url=https%3A%2F%2Fshop.example%2Fa%3Fb%3D1%26c%3D2\">A</a>"));
        assert!(tracked.contains("<a href='mailto:x@example.com'>M</a>"));
        assert!(tracked.contains("<a href=\"https://mail.example/u/t\">U</a><a href=x>X</a>"));
    }

    #[test]
    fn links_carry_the_base_and_an_encoded_target() {
        let links = Links::new("https://mail.example/", Signer::new(b"s"), 10, 0);
        assert!(
            links
                .unsubscribe("c1", "email")
                .starts_with("https://mail.example/u/")
        );
        assert!(
            links
                .click("k", "https://shop.example/a?b=1")
                .ends_with("?url=https%3A%2F%2Fshop.example%2Fa%3Fb%3D1")
        );
    }
}
