//! The channels herald sends through, and what herald knows about each: its
//! name in YAML, the contact field that addresses it and the longest message
//! its platform accepts. The manifest's `channels:`, the segment language's
//! `reachable by`, the built-in contact fields and the content rules take
//! their channel knowledge from here.

use std::fmt;

/// A kind of channel, as named under `channels:` in `herald.yaml`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChannelKind {
    Email,
    Sms,
    Telegram,
    Whatsapp,
    Viber,
    Vk,
    /// Odnoklassniki.
    Ok,
    Push,
}

impl ChannelKind {
    /// Every channel kind, in the order used for listings.
    pub const ALL: [ChannelKind; 8] = [
        ChannelKind::Email,
        ChannelKind::Sms,
        ChannelKind::Telegram,
        ChannelKind::Whatsapp,
        ChannelKind::Viber,
        ChannelKind::Vk,
        ChannelKind::Ok,
        ChannelKind::Push,
    ];

    /// The name written in YAML and filters (`email`, `sms`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ChannelKind::Email => "email",
            ChannelKind::Sms => "sms",
            ChannelKind::Telegram => "telegram",
            ChannelKind::Whatsapp => "whatsapp",
            ChannelKind::Viber => "viber",
            ChannelKind::Vk => "vk",
            ChannelKind::Ok => "ok",
            ChannelKind::Push => "push",
        }
    }

    /// The channel kind with this name.
    pub fn from_name(name: &str) -> Option<ChannelKind> {
        ChannelKind::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
    }

    /// The built-in contact field that holds a contact's address on this
    /// channel, which `reachable by` needs set. Contacts have no address
    /// field for Odnoklassniki yet, so nobody is reachable there.
    pub fn address_field(self) -> Option<&'static str> {
        Some(match self {
            ChannelKind::Email => "email",
            ChannelKind::Sms => "phone",
            ChannelKind::Telegram => "telegram_chat_id",
            ChannelKind::Whatsapp => "whatsapp",
            ChannelKind::Viber => "viber_id",
            ChannelKind::Vk => "vk_id",
            ChannelKind::Ok => return None,
            ChannelKind::Push => "push_token",
        })
    }

    /// The longest text, in characters, a messenger platform accepts in one
    /// message; email and SMS have no such limit (SMS is counted in parts).
    pub fn text_limit(self) -> Option<usize> {
        match self {
            ChannelKind::Telegram | ChannelKind::Whatsapp | ChannelKind::Vk | ChannelKind::Ok => {
                Some(4096)
            }
            ChannelKind::Viber => Some(1000),
            ChannelKind::Push => Some(178),
            ChannelKind::Email | ChannelKind::Sms => None,
        }
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_by_name() {
        for kind in ChannelKind::ALL {
            assert_eq!(ChannelKind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(ChannelKind::from_name("fax"), None);
    }
}
