//! The route suite (`suites/api_routes.rs`) on embedded storage: a temp
//! data folder is the truth, keys in its `keys.json`.

#[path = "suites/api_routes.rs"]
mod routes;
#[path = "common/server.rs"]
mod server;

use server::{create_key, Server};

/// What readiness calls the truth's store in this mode.
const STORE_COMPONENT: &str = "storage";

fn start() -> (tempfile::TempDir, Server, String) {
    let tmp = tempfile::tempdir().unwrap();
    let key = create_key(tmp.path(), "acme", false);
    let server = Server::start(tmp.path(), &[]);
    (tmp, server, key)
}
