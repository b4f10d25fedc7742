//! A Garage cluster on 127.0.0.1 for the tests and the bench: `n` nodes,
//! each a `garage server` process with its own folders and ports, one zone,
//! `replication_factor = n`, a bucket and a key. Garage is a real
//! distributed object store (and one that ignores conditional puts).
//! Its binary comes from `cargo install garage --locked` (not linked).

#![allow(dead_code)] // shared by the tests and the bench, which use different parts

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Node {
    config: PathBuf,
    child: Option<Child>,
    pub s3_port: u16,
}

pub struct Garage {
    pub nodes: Vec<Node>,
    pub key_id: String,
    pub secret: String,
    pub bucket: String,
}

fn port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    getrandom_fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn getrandom_fill(b: &mut [u8]) {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(b)
        .unwrap();
}

impl Garage {
    /// The `garage` binary, when installed.
    pub fn binary() -> Option<PathBuf> {
        let home = PathBuf::from(std::env::var("HOME").unwrap_or_default());
        let p = home.join(".cargo/bin/garage");
        if p.is_file() {
            return Some(p);
        }
        Command::new("garage")
            .arg("--version")
            .output()
            .ok()?
            .status
            .success()
            .then(|| PathBuf::from("garage"))
    }

    /// Starts `n` nodes under `dir` and sets up one layout, a bucket and a key.
    pub fn start(dir: &Path, n: usize) -> Garage {
        let rpc_secret = hex(32);
        let mut nodes = Vec::new();
        for i in 0..n {
            let d = dir.join(format!("node{i}"));
            std::fs::create_dir_all(&d).unwrap();
            let (rpc, s3, admin) = (port(), port(), port());
            let config = d.join("garage.toml");
            std::fs::write(
                &config,
                format!(
                    "metadata_dir = \"{m}\"\ndata_dir = \"{da}\"\ndb_engine = \"sqlite\"\n\
                     replication_factor = {n}\nrpc_bind_addr = \"127.0.0.1:{rpc}\"\n\
                     rpc_public_addr = \"127.0.0.1:{rpc}\"\nrpc_secret = \"{rpc_secret}\"\n\
                     [s3_api]\ns3_region = \"garage\"\napi_bind_addr = \"127.0.0.1:{s3}\"\n\
                     root_domain = \".s3.garage.localhost\"\n\
                     [admin]\napi_bind_addr = \"127.0.0.1:{admin}\"\nadmin_token = \"{t}\"\n",
                    m = d.join("meta").display(),
                    da = d.join("data").display(),
                    t = hex(16),
                ),
            )
            .unwrap();
            nodes.push(Node {
                config,
                child: None,
                s3_port: s3,
            });
        }
        let mut g = Garage {
            nodes,
            key_id: String::new(),
            secret: String::new(),
            bucket: "dmvault".into(),
        };
        for i in 0..n {
            g.start_node(i);
        }
        let ids: Vec<String> = (0..n)
            .map(|i| g.cli(i, &["node", "id", "-q"]).trim().to_owned())
            .collect();
        for id in &ids[1..] {
            g.cli(0, &["node", "connect", id]);
        }
        for id in &ids {
            let short = &id[..id.find('@').unwrap_or(id.len())];
            g.cli(0, &["layout", "assign", "-z", "dc1", "-c", "1G", short]);
        }
        g.cli(0, &["layout", "apply", "--version", "1"]);
        g.cli(0, &["bucket", "create", "dmvault"]);
        let key = g.cli(0, &["key", "create", "dmvault-key"]);
        let field = |name: &str| {
            key.lines()
                .find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_owned()))
                .unwrap_or_else(|| panic!("no {name} in {key}"))
        };
        g.key_id = field("Key ID:");
        g.secret = field("Secret key:");
        g.cli(
            0,
            &[
                "bucket",
                "allow",
                "--read",
                "--write",
                "--owner",
                "dmvault",
                "--key",
                "dmvault-key",
            ],
        );
        g
    }

    /// `garage -c <node i's config> args…`, which must succeed.
    pub fn cli(&self, i: usize, args: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let o = Command::new(Garage::binary().unwrap())
                .arg("-c")
                .arg(&self.nodes[i].config)
                .args(args)
                .output()
                .unwrap();
            if o.status.success() {
                return String::from_utf8_lossy(&o.stdout).into_owned();
            }
            assert!(
                Instant::now() < deadline,
                "garage {args:?}: {}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    pub fn start_node(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let log = std::fs::File::create(node.config.with_file_name("log")).unwrap();
        node.child = Some(
            Command::new(Garage::binary().unwrap())
                .arg("-c")
                .arg(&node.config)
                .arg("server")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap(),
        );
        let port = node.s3_port;
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "garage node {i} did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn stop_node(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The variables a dmvault (or restic) process needs, through node `i`.
    pub fn env(&self, i: usize) -> Vec<(&'static str, String)> {
        vec![
            (
                "AWS_ENDPOINT_URL",
                format!("http://127.0.0.1:{}", self.nodes[i].s3_port),
            ),
            ("AWS_ACCESS_KEY_ID", self.key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret.clone()),
            ("AWS_REGION", "garage".into()),
            ("AWS_DEFAULT_REGION", "garage".into()),
        ]
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.stop_node(i);
        }
    }
}
