//! The services' error: what went wrong on the server, with its cause kept.
//!
//! [`AppError`] is what crosses the wire: `Clone + Serialize`, a status and a message for the
//! shopper, no cause. A database or Redis failure turned into `AppError::Internal` where it
//! happened would lose the cause before anyone logged it. So the services answer with
//! [`Error`]: either a wire error already decided ([`Error::App`]: not found, conflict, rate
//! limited...) or a fault that keeps its `#[source]` chain. The edge (server functions,
//! plain routes) converts with `?` (`From<Error> for AppError`); that conversion logs a fault
//! once, with the whole chain, and answers with the wire error it maps to.

use std::fmt;

pub use shop_core::error::AppError;

/// The boxed cause of a fault.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result` with the services' error as its default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A failure that is decided and needs no cause: it goes out as it is.
    #[error(transparent)]
    App(#[from] AppError),
    /// The database failed.
    #[error("database")]
    Database(#[from] sqlx::Error),
    /// A service we depend on (Redis in distributed mode, the WeChat API) failed or could
    /// not be reached: the caller may try again (503).
    #[error("{what} unavailable")]
    Unavailable {
        what: &'static str,
        #[source]
        source: Cause,
    },
    /// Any other fault of ours: what we were doing, and why it failed when there is a cause.
    #[error("{what}")]
    Fault {
        what: String,
        #[source]
        source: Option<Cause>,
    },
}

impl Error {
    /// A fault without an underlying error (an invariant that did not hold).
    pub fn fault(what: impl Into<String>) -> Error {
        Error::Fault {
            what: what.into(),
            source: None,
        }
    }

    /// A fault caused by `source`.
    pub fn caused(what: impl Into<String>, source: impl Into<Cause>) -> Error {
        Error::Fault {
            what: what.into(),
            source: Some(source.into()),
        }
    }

    /// `what` (a service we depend on) failed with `source`.
    pub fn unavailable(what: &'static str, source: impl Into<Cause>) -> Error {
        Error::Unavailable {
            what,
            source: source.into(),
        }
    }

    /// The wire error this maps to, without logging (tests, and callers that branch on it).
    pub fn wire(&self) -> AppError {
        match self {
            Error::App(e) => e.clone(),
            Error::Database(e) if is_text_the_database_cannot_hold(e) => {
                AppError::bad_request("The request holds a character that is not allowed (NUL).")
            }
            Error::Unavailable { .. } => AppError::Unavailable,
            Error::Database(_) | Error::Fault { .. } => AppError::Internal,
        }
    }

    /// An unknown session, product, order...: the caller may answer 404 its own way.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::App(e) if e.is_not_found())
    }

    /// The wire error, if this is one already decided (not a fault).
    pub fn as_app(&self) -> Option<&AppError> {
        match self {
            Error::App(e) => Some(e),
            _ => None,
        }
    }
}

impl From<shop_core::domain::session::NotNow> for Error {
    fn from(not_now: shop_core::domain::session::NotNow) -> Error {
        Error::App(not_now.into())
    }
}

/// Text PostgreSQL cannot hold (a NUL character, SQLSTATE 22021 / 22P05) came from the client:
/// its request is bad, not our server.
fn is_text_the_database_cannot_hold(err: &sqlx::Error) -> bool {
    let code = err.as_database_error().and_then(|e| e.code());
    matches!(code.as_deref(), Some("22021" | "22P05"))
}

/// An error and its causes on one line: `database: error returned from database: ...`.
pub struct Chain<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(c) = cause {
            write!(f, ": {c}")?;
            cause = c.source();
        }
        Ok(())
    }
}

impl From<Error> for AppError {
    /// The edge: a fault is logged here, once, with its chain; the client gets the wire error.
    fn from(err: Error) -> AppError {
        let wire = err.wire();
        match &err {
            Error::App(_) => {}
            Error::Database(_) if wire.status() == 400 => {
                tracing::info!(error = %Chain(&err), "text the database cannot hold")
            }
            Error::Unavailable { .. } => tracing::warn!(error = %Chain(&err), "unavailable"),
            Error::Database(_) | Error::Fault { .. } => {
                tracing::error!(error = %Chain(&err), "server fault")
            }
        }
        wire
    }
}

/// Turns any error into a fault that keeps it as its cause: `.fault("reading the key")?`.
pub trait ResultExt<T> {
    fn fault(self, what: &'static str) -> Result<T>;
}

impl<T, E: Into<Cause>> ResultExt<T> for std::result::Result<T, E> {
    fn fault(self, what: &'static str) -> Result<T> {
        self.map_err(|e| Error::caused(what, e))
    }
}

/// An `Option` that must hold a value: `None` is a fault of ours, described by `what`.
pub trait OptionExt<T> {
    fn or_fault(self, what: &'static str) -> Result<T>;
}

impl<T> OptionExt<T> for Option<T> {
    fn or_fault(self, what: &'static str) -> Result<T> {
        self.ok_or_else(|| Error::fault(what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_keeps_its_cause_for_the_log_and_goes_out_as_internal() {
        let io = std::io::Error::other("disk full");
        let err = Error::caused("writing the upload", io);
        assert_eq!(Chain(&err).to_string(), "writing the upload: disk full");
        assert_eq!(AppError::from(err), AppError::Internal);
    }

    #[test]
    fn a_decided_error_goes_out_unchanged() {
        let err = Error::from(AppError::not_found("No such session"));
        assert_eq!(err.as_app(), Some(&AppError::not_found("No such session")));
        assert_eq!(AppError::from(err), AppError::not_found("No such session"));
    }

    #[test]
    fn a_database_fault_names_the_database_and_its_cause() {
        let err = Error::from(sqlx::Error::RowNotFound);
        let line = Chain(&err).to_string();
        assert!(line.starts_with("database: "), "{line}");
        assert!(line.contains("no rows returned"), "{line}");
        assert_eq!(err.wire(), AppError::Internal);
    }

    #[test]
    fn a_missing_value_is_a_fault() {
        let none: Option<u8> = None;
        let err = none.or_fault("status column").unwrap_err();
        assert_eq!(err.to_string(), "status column");
        assert_eq!(err.wire(), AppError::Internal);
    }
}
