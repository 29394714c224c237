//! The repository layer: every SQL statement the application runs lives under here, grouped
//! by domain. Functions take `&Db` (or a transaction) and return domain/model types.

pub mod catalog;
