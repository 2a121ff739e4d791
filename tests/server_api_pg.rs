//! The route suite (`suites/api_routes.rs`) with Postgres as the source of
//! truth: a fresh database on the test cluster per test, keys in its
//! `api_keys`, the data folder an index cache.

#[path = "common/postgres.rs"]
mod postgres;
#[path = "suites/api_routes.rs"]
mod routes;
#[path = "common/server.rs"]
mod server;

use server::{create_key_db, Server};

/// What readiness calls the truth's store in this mode.
const STORE_COMPONENT: &str = "database";

fn start() -> (tempfile::TempDir, Server, String) {
    let url = postgres::shared().database();
    let tmp = tempfile::tempdir().unwrap();
    let key = create_key_db(&url, "acme", false);
    let server = Server::start(tmp.path(), &["--database-url", &url]);
    (tmp, server, key)
}
