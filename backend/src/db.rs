//! One database handle for both engines. SQL is written once with `$1` placeholders, integer
//! timestamps and `BIGINT` columns so it runs unchanged on SQLite and PostgreSQL; only the DDL
//! differs (one migrations folder per engine).

use std::{path::Path, str::FromStr, sync::Arc, time::Duration};

use sqlx::{
    any::{AnyConnectOptions, AnyPoolOptions},
    AnyPool, Executor,
};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("DATABASE_URL must start with sqlite: or postgres:// (got {0:?})")]
    UnsupportedUrl(String),
    #[error("could not create the database directory {path}: {source}")]
    CreateDir {
        path: String,
        source: std::io::Error,
    },
    #[error("could not connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    kind: DbKind,
    /// How to open more connections (`Db::own_pool`).
    opts: Arc<AnyConnectOptions>,
    /// SQLite allows one writer at a time. Taking this lock before a write transaction makes
    /// concurrent writers queue in-process instead of failing with SQLITE_BUSY when two
    /// deferred transactions both try to upgrade. Unused on PostgreSQL.
    write_lock: Arc<tokio::sync::Mutex<()>>,
}

/// A write transaction; on SQLite it also holds the in-process writer lock until dropped.
pub struct WriteTx {
    pub tx: sqlx::Transaction<'static, sqlx::Any>,
    _guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

impl Db {
    /// Connects (creating the SQLite file and its directory if needed).
    pub async fn connect(url: &str) -> Result<Db, DbError> {
        sqlx::any::install_default_drivers();
        let (kind, url) = normalize_url(url)?;
        let opts = AnyConnectOptions::from_str(&url).map_err(DbError::Connect)?;
        let max = match kind {
            DbKind::Sqlite => 8,
            DbKind::Postgres => 20,
        };
        let pool = open_pool(kind, &opts, max)
            .await
            .map_err(DbError::Connect)?;
        Ok(Db {
            pool,
            kind,
            opts: Arc::new(opts),
            write_lock: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// The same database through a small pool of its own, opened on the runtime this is
    /// called from (SQLite's writer lock stays shared). For a task on a runtime of its own
    /// (`spawn_dedicated`): its connections are then driven by that runtime, not by
    /// one that thousands of requests keep busy.
    pub async fn own_pool(&self, max: u32) -> Result<Db, sqlx::Error> {
        Ok(Db {
            pool: open_pool(self.kind, &self.opts, max).await?,
            kind: self.kind,
            opts: self.opts.clone(),
            write_lock: self.write_lock.clone(),
        })
    }

    pub async fn migrate(&self) -> Result<(), DbError> {
        match self.kind {
            DbKind::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            DbKind::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn kind(&self) -> DbKind {
        self.kind
    }

    /// Begins a transaction that will write.
    pub async fn begin_write(&self) -> Result<WriteTx, sqlx::Error> {
        let guard = match self.kind {
            DbKind::Sqlite => Some(self.write_lock.clone().lock_owned().await),
            DbKind::Postgres => None,
        };
        let tx = self.pool.begin().await?;
        Ok(WriteTx { tx, _guard: guard })
    }

    /// A round trip to the database, for health checks.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

async fn open_pool(
    kind: DbKind,
    opts: &AnyConnectOptions,
    max: u32,
) -> Result<AnyPool, sqlx::Error> {
    match kind {
        DbKind::Sqlite => {
            AnyPoolOptions::new()
                .max_connections(max)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        // WAL: readers never block the writer. FULL: every commit is on disk
                        // before it returns, so an order confirmed to a shopper survives a
                        // power loss, not only a crash (NORMAL would lose the last commits);
                        // group commit keeps that to one sync per batch.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = FULL").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA busy_timeout = 5000").await?;
                        Ok(())
                    })
                })
                .connect_with(opts.clone())
                .await
        }
        DbKind::Postgres => {
            AnyPoolOptions::new()
                .max_connections(max)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(opts.clone())
                .await
        }
    }
}

/// Accepts `sqlite:path`, `sqlite://path` and `postgres(ql)://...`. For SQLite it creates the
/// parent directory and asks for the file to be created when missing.
fn normalize_url(url: &str) -> Result<(DbKind, String), DbError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok((DbKind::Postgres, url.to_string()));
    }
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return Err(DbError::UnsupportedUrl(url.to_string()));
    };
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() {
        return Err(DbError::UnsupportedUrl(url.to_string()));
    }
    if path != ":memory:" {
        if let Some(dir) = Path::new(path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(|source| DbError::CreateDir {
                path: dir.display().to_string(),
                source,
            })?;
        }
    }
    let query = if query.contains("mode=") {
        query.to_string()
    } else if query.is_empty() {
        "mode=rwc".to_string()
    } else {
        format!("{query}&mode=rwc")
    };
    Ok((DbKind::Sqlite, format!("sqlite://{path}?{query}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_are_normalized_to_create_the_file() {
        let dir = std::env::temp_dir().join(format!("db-url-test-{}", std::process::id()));
        let url = format!("sqlite:{}/x.db", dir.display());
        let (kind, norm) = normalize_url(&url).expect("valid url");
        assert_eq!(kind, DbKind::Sqlite);
        assert_eq!(norm, format!("sqlite://{}/x.db?mode=rwc", dir.display()));
        assert!(dir.is_dir());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn postgres_urls_pass_through_and_others_are_refused() {
        assert_eq!(
            normalize_url("postgres://u@h/db").expect("pg").0,
            DbKind::Postgres
        );
        assert!(matches!(
            normalize_url("mysql://x"),
            Err(DbError::UnsupportedUrl(_))
        ));
        assert!(matches!(
            normalize_url("sqlite:"),
            Err(DbError::UnsupportedUrl(_))
        ));
    }
}
