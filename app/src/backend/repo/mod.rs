//! The repository layer: every SQL statement the application runs lives under here, grouped
//! by domain. Functions take `&Db` and return domain/model types.

pub mod catalog;
pub mod orders;
pub mod phones;
pub mod shopping;
pub mod studio;
pub mod video;
