//! A throwaway PostgreSQL cluster from the binaries on PATH (`initdb`,
//! `pg_ctl`, `psql`), on a free port in a temp folder, as the `postgres`
//! user when the tests run as root. One shared cluster per test binary
//! ([`shared`]), a fresh database per test ([`Cluster::database`]); a test
//! that stops Postgres makes its own ([`Cluster::start`]). A watchdog stops
//! the cluster and removes its folder when the test process exits.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A running cluster.
pub struct Cluster {
    /// Its folder (data in `data/`, socket and log beside).
    pub dir: PathBuf,
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
    as_postgres: bool,
}

static SHARED: OnceLock<Cluster> = OnceLock::new();
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

/// The cluster this test binary shares.
pub fn shared() -> &'static Cluster {
    SHARED.get_or_init(Cluster::start)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Cluster {
    /// Makes and starts a new cluster (panics with what is missing).
    pub fn start() -> Cluster {
        for tool in ["initdb", "pg_ctl", "psql"] {
            let found = Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            assert!(
                found,
                "PostgreSQL's `{tool}` is not on PATH: install the PostgreSQL server binaries \
                 (Debian: postgresql-15) to run the Postgres tests"
            );
        }
        let dir = std::env::temp_dir().join(format!(
            "moltsearch-pg-{}-{}",
            std::process::id(),
            NEXT_DB.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("cluster folder");
        let as_postgres = is_root();
        let c = Cluster {
            dir,
            port: free_port(),
            as_postgres,
        };
        if as_postgres {
            c.run("chown", &["postgres:postgres", &c.path("")]);
        }
        c.tool(
            "initdb",
            &[
                "-D",
                &c.path("data"),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        c.pg_start();
        c.watchdog();
        c
    }

    fn path(&self, rel: &str) -> String {
        self.dir.join(rel).to_string_lossy().into_owned()
    }

    fn run(&self, program: &str, args: &[&str]) {
        let out = Command::new(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs a PostgreSQL tool (as `postgres` when root).
    fn tool(&self, program: &str, args: &[&str]) {
        if self.as_postgres {
            let mut all = vec!["-u", "postgres", "--", program];
            all.extend_from_slice(args);
            self.run("runuser", &all);
        } else {
            self.run(program, args);
        }
    }

    fn pg_start(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.path("")
        );
        self.tool(
            "pg_ctl",
            &[
                "-D",
                &self.path("data"),
                "-o",
                &opts,
                "-l",
                &self.path("log"),
                "-w",
                "start",
            ],
        );
    }

    /// Stops the cluster (fast shutdown: open connections are cut).
    pub fn stop(&self) {
        self.tool(
            "pg_ctl",
            &["-D", &self.path("data"), "-m", "fast", "-w", "stop"],
        );
    }

    /// Starts it again after [`Cluster::stop`].
    pub fn restart(&self) {
        self.pg_start();
    }

    /// Stops the cluster and removes its folder once this process exits.
    fn watchdog(&self) {
        let stop = if self.as_postgres {
            format!(
                "runuser -u postgres -- pg_ctl -D '{}' -m immediate stop",
                self.path("data")
            )
        } else {
            format!("pg_ctl -D '{}' -m immediate stop", self.path("data"))
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf '{dir}'",
            pid = std::process::id(),
            dir = self.path("")
        );
        // `setsid -f` forks the watchdog into its own session and returns.
        let started = Command::new("setsid")
            .args(["-f", "sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(started, "the cluster's watchdog did not start");
    }

    /// A URL to the `postgres` database (for admin statements).
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// A fresh, empty database; its URL.
    pub fn database(&self) -> String {
        let name = format!(
            "t{}_{}",
            std::process::id(),
            NEXT_DB.fetch_add(1, Ordering::Relaxed)
        );
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// `psql` on database `db` of this cluster, stopping at the first
    /// error; add the statement (`-c`) and any output flags.
    pub fn psql_command(&self, db: &str) -> Command {
        let mut cmd = Command::new("psql");
        cmd.args([
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-U",
            "postgres",
        ])
        .args(["-d", db, "-v", "ON_ERROR_STOP=1"]);
        cmd
    }

    /// Runs SQL on database `db` with psql; its output (unaligned, tuples
    /// only).
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = self
            .psql_command(db)
            .args(["-At", "-c", sql])
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Waits until the cluster accepts connections.
    pub fn wait_ready(&self, within: Duration) {
        let start = Instant::now();
        while start.elapsed() < within {
            let ok = self
                .psql_command("postgres")
                .args(["-Atc", "SELECT 1"])
                .output()
                .is_ok_and(|o| o.status.success());
            if ok {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("postgres did not come back within {within:?}");
    }
}

/// The database name of a URL made by [`Cluster::database`].
pub fn db_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or_default()
}
