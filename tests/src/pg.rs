//! A throwaway PostgreSQL cluster for tests: `initdb` + `pg_ctl` in a temp
//! dir on a free loopback port, stopped on drop. PostgreSQL refuses to run as
//! root, so as root the cluster runs as the `postgres` system user, owning
//! the temp dir. `DATABASE_URL`, when set, is used instead (not stopped).

use std::path::PathBuf;
use std::process::Command;

#[derive(Debug)]
pub struct PgCluster {
    dir: Option<PathBuf>,
    port: u16,
    url: String,
    ssl: bool,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Run a PostgreSQL tool, as `postgres` when we are root.
fn pg_tool(args: &[&str]) -> std::process::Output {
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]);
        c.args(args);
        c
    } else {
        let mut c = Command::new(args[0]);
        c.args(&args[1..]);
        c
    };
    cmd.output()
        .unwrap_or_else(|e| panic!("running {}: {e}", args[0]))
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

impl PgCluster {
    /// Start a cluster (or use `DATABASE_URL`). A database per test: `db`.
    pub fn start(db: &str) -> PgCluster {
        if let Ok(url) = std::env::var("DATABASE_URL") {
            return PgCluster {
                dir: None,
                port: 0,
                url,
                ssl: false,
            };
        }
        Self::start_cluster(db, false)
    }

    /// A cluster that also accepts TLS, with a certificate for 127.0.0.1 from a
    /// throwaway CA (see [`PgCluster::ca_file`]).
    pub fn start_with_tls(db: &str) -> PgCluster {
        Self::start_cluster(db, true)
    }

    /// The CA that signed a TLS cluster's certificate.
    pub fn ca_file(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join("ca.crt"))
    }

    fn start_cluster(db: &str, ssl: bool) -> PgCluster {
        let dir =
            std::env::temp_dir().join(format!("rh-pg-{}-{db}-{}", std::process::id(), free_port()));
        std::fs::create_dir_all(&dir).expect("pg temp dir");
        if is_root() {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status();
            assert!(
                ok.is_ok_and(|s| s.success()),
                "chown of the cluster dir to postgres"
            );
        }
        if ssl {
            crate::tls::TestCa::write(&dir);
            let _ = Command::new("chmod")
                .arg("600")
                .arg(dir.join("server.key"))
                .status();
            if is_root() {
                let _ = Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(&dir)
                    .status();
            }
        }
        let data = dir.join("data");
        let d = data.to_str().unwrap().to_string();
        let out = pg_tool(&[
            "initdb",
            "-D",
            &d,
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]);
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let mut cluster = PgCluster {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            dir: Some(dir),
            port,
            ssl,
        };
        cluster.pg_ctl_start();
        let out = pg_tool(&[
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "postgres",
            "-c",
            &format!("CREATE DATABASE {db}"),
        ]);
        assert!(
            out.status.success(),
            "createdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        cluster.url = format!("postgres://postgres@127.0.0.1:{port}/{db}");
        cluster
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn data(&self) -> Option<String> {
        self.dir
            .as_ref()
            .map(|d| d.join("data").to_str().unwrap().to_string())
    }

    fn pg_ctl_start(&self) {
        let (Some(data), Some(dir)) = (self.data(), &self.dir) else {
            return;
        };
        let log = dir.join("pg.log");
        let mut opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            dir.display()
        );
        if self.ssl {
            opts.push_str(&format!(
                " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                dir.join("server.crt").display(),
                dir.join("server.key").display()
            ));
        }
        let out = pg_tool(&[
            "pg_ctl",
            "-D",
            &data,
            "-l",
            log.to_str().unwrap(),
            "-o",
            &opts,
            "-w",
            "start",
        ]);
        assert!(
            out.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `pg_ctl restart` (fast shutdown): every open connection is killed.
    pub fn restart(&self) {
        let Some(data) = self.data() else { return };
        let out = pg_tool(&["pg_ctl", "-D", &data, "-m", "fast", "-w", "stop"]);
        assert!(
            out.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.pg_ctl_start();
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if let Some(data) = self.data() {
            let _ = pg_tool(&["pg_ctl", "-D", &data, "-m", "immediate", "-w", "stop"]);
        }
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
