//! The ids of what the shop stores, one type each, so a product id cannot be passed where a
//! session id is expected. On the wire and in the database each is its integer as it was
//! (`#[serde(transparent)]`, `#[sqlx(transparent)]`): the JSON, the URLs and the tables do not
//! change; only the compiler sees the difference.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "ssr", derive(sqlx::Type), sqlx(transparent))]
        pub struct $name(pub i64);

        impl $name {
            /// The integer behind the id (a Redis key, a metric label).
            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        /// From a URL segment or a form field: a decimal integer.
        impl FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map($name)
            }
        }
    };
}

id_type!(
    /// A live session (`live_sessions.id`).
    SessionId
);
id_type!(
    /// A product presented in a session (`products.id`).
    ProductId
);
id_type!(
    /// An order (`orders.id`).
    OrderId
);
id_type!(
    /// A shopper, the signed cookie's subject (`shoppers.id`).
    ShopperId
);
id_type!(
    /// A host account (`hosts.id`).
    HostId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_its_integer_on_the_wire_and_in_urls() {
        assert_eq!(serde_json::to_string(&SessionId(42)).unwrap(), "42");
        assert_eq!(
            serde_json::from_str::<ProductId>("7").unwrap(),
            ProductId(7)
        );
        assert_eq!(format!("/s/{}", SessionId(42)), "/s/42");
        assert_eq!("42".parse::<SessionId>().unwrap(), SessionId(42));
        assert!("4x".parse::<OrderId>().is_err());
    }
}
