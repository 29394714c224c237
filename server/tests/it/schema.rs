//! The two migration folders (SQLite, PostgreSQL) define the same schema by hand: this checks
//! that they agree, table by table and column by column (name, kind of type, nullability,
//! primary key), so a migration written for one engine cannot silently miss the other.

use std::collections::BTreeMap;

use crate::common::{fresh_database, Backend};

/// table -> column -> (type class, nullable, part of the primary key)
type Schema = BTreeMap<String, BTreeMap<String, (String, bool, bool)>>;

fn type_class(t: &str) -> String {
    let t = t.to_ascii_lowercase();
    if t.contains("int") {
        "integer".into()
    } else if t.contains("char") || t.contains("text") {
        "text".into()
    } else if t.contains("bool") {
        "boolean".into()
    } else if t.contains("real")
        || t.contains("double")
        || t.contains("float")
        || t.contains("numeric")
    {
        "number".into()
    } else {
        t
    }
}

async fn sqlite_schema(url: &str) -> Schema {
    let db = shop_backend::Db::connect(url).await.expect("sqlite");
    db.migrate().await.expect("migrate");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table'
           AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%' ORDER BY name",
    )
    .fetch_all(db.pool())
    .await
    .expect("tables");
    let mut schema = Schema::new();
    for t in tables {
        let cols: Vec<(String, String, i64, i64)> = sqlx::query_as(&format!(
            "SELECT name, type, \"notnull\", pk FROM pragma_table_info('{t}')"
        ))
        .fetch_all(db.pool())
        .await
        .expect("columns");
        schema.insert(
            t,
            cols.into_iter()
                .map(|(name, ty, notnull, pk)| {
                    (name, (type_class(&ty), notnull == 0 && pk == 0, pk > 0))
                })
                .collect(),
        );
    }
    schema
}

async fn postgres_schema(url: &str) -> Schema {
    let db = shop_backend::Db::connect(url).await.expect("postgres");
    db.migrate().await.expect("migrate");
    let cols: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text
           FROM information_schema.columns
          WHERE table_schema = 'public' AND table_name NOT LIKE '_sqlx%'",
    )
    .fetch_all(db.pool())
    .await
    .expect("columns");
    let pks: Vec<(String, String)> = sqlx::query_as(
        "SELECT k.table_name::text, k.column_name::text
           FROM information_schema.table_constraints c
           JOIN information_schema.key_column_usage k
             ON k.constraint_name = c.constraint_name AND k.table_schema = c.table_schema
          WHERE c.constraint_type = 'PRIMARY KEY' AND c.table_schema = 'public'",
    )
    .fetch_all(db.pool())
    .await
    .expect("primary keys");
    let mut schema = Schema::new();
    for (table, column, ty, nullable) in cols {
        let pk = pks.iter().any(|(t, c)| *t == table && *c == column);
        schema
            .entry(table)
            .or_default()
            .insert(column, (type_class(&ty), nullable == "YES" && !pk, pk));
    }
    schema
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_migrations_define_the_same_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some((pg_url, _pg)) = fresh_database(Backend::Postgres, dir.path()).await else {
        return;
    };
    let (lite_url, _) = fresh_database(Backend::Sqlite, dir.path())
        .await
        .expect("sqlite url");
    let lite = sqlite_schema(&lite_url).await;
    let pg = postgres_schema(&pg_url).await;
    assert_eq!(
        lite.keys().collect::<Vec<_>>(),
        pg.keys().collect::<Vec<_>>(),
        "the same tables"
    );
    for (table, columns) in &lite {
        assert_eq!(
            columns, &pg[table],
            "table {table}: (type, nullable, primary key) per column"
        );
    }
    assert!(lite.len() > 10, "{} tables", lite.len());
}
