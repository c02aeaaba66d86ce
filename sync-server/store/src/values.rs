//! Typed values the store reads and writes: an email address normalised once, and the
//! closed sets of stored names (order and ticket status, outbox kind) as enums, so no caller
//! compares strings by hand.

use std::fmt;

/// An email address as the server compares and stores it: trimmed and ASCII-lowercased.
///
/// Only ASCII is folded: lowercasing non-ASCII letters could merge two addresses that a
/// mail server keeps apart (the local part is case-sensitive by the RFC; only the common
/// ASCII convention is safe to fold).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

impl Email {
    /// Normalises `raw` (no validation: see the server's contact rules for that).
    pub fn new(raw: &str) -> Self {
        Self(normalize_email(raw))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The normalised address, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for Email {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Email {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for Email {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

/// The one normalisation of an address: trimmed, ASCII-lowercased ([`Email`]).
pub fn normalize_email(raw: &str) -> String {
    raw.trim().to_ascii_lowercase()
}

/// A closed set of stored names: each variant's stored (and wire) name, read back strictly.
macro_rules! stored_names {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// The stored and wire name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = crate::StoreError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    other => Err(crate::StoreError::Corrupt(format!(
                        concat!("unknown ", stringify!($name), " {:?}"),
                        other
                    ))),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// Compares with a stored name, as reports and tests spell it.
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}

stored_names! {
    /// Where an order is in its life.
    OrderStatus {
        /// Waiting for payment (Stripe); holds its capacity.
        Pending = "pending",
        /// Paid (or demo, or comp): its tickets are issued.
        Paid = "paid",
        /// Cancelled before payment.
        Cancelled = "cancelled",
        /// Not paid in time: its capacity went back.
        Expired = "expired",
        /// Refunded in full.
        Refunded = "refunded",
    }
}

stored_names! {
    /// Whether a ticket still admits.
    TicketStatus {
        /// Admits (subject to the gate's rules).
        Valid = "valid",
        /// Voided or refunded: never admits.
        Void = "void",
    }
}

stored_names! {
    /// What an outbox email is: the worker composes each kind from what the database says
    /// when it sends.
    OutboxKind {
        /// An order's confirmation with its tickets.
        OrderConfirmation = "order_confirmation",
        /// A refund's notice.
        PaymentRefunded = "payment_refunded",
        /// An account's address confirmation link.
        VerifyEmail = "verify_email",
        /// A password reset link.
        PasswordReset = "password_reset",
        /// To the giver of a transferred ticket.
        TicketTransferredOut = "ticket_transferred_out",
        /// To the recipient of a transferred ticket.
        TicketTransferredIn = "ticket_transferred_in",
        /// An upgraded ticket's new pass.
        TicketUpgraded = "ticket_upgraded",
        /// A ticket's new code, reissued under a new signing key.
        TicketReissued = "ticket_reissued",
        /// "Email me my tickets again".
        MyTickets = "my_tickets",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_trimmed_and_ascii_folded_only() {
        assert_eq!(Email::new("  Ana@Example.ORG "), "ana@example.org");
        assert_eq!(
            Email::new("ÄRZTE@example.org").as_str(),
            "Ärzte@example.org"
        );
    }

    #[test]
    fn stored_names_read_back_and_refuse_strangers() {
        for k in [OutboxKind::OrderConfirmation, OutboxKind::MyTickets] {
            assert_eq!(k.as_str().parse::<OutboxKind>().ok(), Some(k));
        }
        assert!("paid ".parse::<OrderStatus>().is_err());
        assert_eq!(TicketStatus::Void.to_string(), "void");
    }
}
