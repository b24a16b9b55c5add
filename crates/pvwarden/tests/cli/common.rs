//! Running the `pvwarden` binary the way a user does, and reading what it says.
//!
//! Every run starts in `tests/data/`, so fixtures are named by their file name
//! and reports show those names as origins. Variables that change defaults
//! (`PVWARDEN_*`, `NO_COLOR`) are cleared, and `audit`/`explain` always get
//! [`NOW`], so that results do not depend on the machine or the clock.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The time every audit and explanation is judged at.
pub const NOW: &str = "2026-12-04T12:00:00Z";

/// How long one run may take before it counts as hung.
const TIMEOUT: Duration = Duration::from_secs(120);

/// The environment variables that would change what a run assumes or prints.
const ENV: &[&str] = &[
    "PVWARDEN_KUBE_VERSION",
    "PVWARDEN_PROVISIONER_VERSION",
    "PVWARDEN_CEPH_CSI_VERSION",
    "PVWARDEN_LOG",
    "PVWARDEN_LOG_FORMAT",
    "NO_COLOR",
];

/// The fixture directory, where every run starts.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// The text of a fixture.
pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(data_dir().join(name)).expect("fixture must be readable")
}

/// The 1-based line of the first line of a fixture equal to `line` (trimmed).
pub fn line_of(name: &str, line: &str) -> u64 {
    let text = fixture(name);
    let index = text.lines().position(|l| l.trim() == line);
    let index = index.unwrap_or_else(|| panic!("{name} has no line {line:?}"));
    u64::try_from(index + 1).expect("line numbers fit in u64")
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    /// The exit code; `None` when a signal ended the process.
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Standard output as one JSON document.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout must be JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Asserts the exit code, showing both streams when it differs.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code,
            Some(code),
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Asserts the process ended by itself, without a panic or a signal.
    #[track_caller]
    pub fn assert_no_panic(&self) -> &Run {
        assert!(
            matches!(self.code, Some(0..=2)),
            "exit {:?} (101 is a panic)\nstderr:\n{}",
            self.code,
            self.stderr
        );
        assert!(
            !self.stderr.contains("panicked"),
            "stderr:\n{}",
            self.stderr
        );
        self
    }
}

/// A run of the binary, built up before it starts.
pub struct Invocation {
    command: Command,
    stdin: Option<Vec<u8>>,
    close_stdout: bool,
}

/// Starts building a run of `pvwarden` with these arguments.
pub fn pvwarden<I, S>(args: I) -> Invocation
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut command = Command::new(env!("CARGO_BIN_EXE_pvwarden"));
    command.current_dir(data_dir()).args(args);
    for var in ENV {
        command.env_remove(var);
    }
    Invocation {
        command,
        stdin: None,
        close_stdout: false,
    }
}

/// `pvwarden audit --now NOW` followed by `args`.
pub fn audit(args: &[&str]) -> Run {
    pvwarden(["audit", "--now", NOW].iter().chain(args)).run()
}

/// `pvwarden audit -o json --now NOW` followed by `args`, with the report parsed.
///
/// Panics unless the run ended with exit code 0 or 1 (no usage or input error).
pub fn audit_json(args: &[&str]) -> Value {
    let run = pvwarden(["audit", "-o", "json", "--now", NOW].iter().chain(args)).run();
    assert!(
        matches!(run.code, Some(0 | 1)),
        "exit {:?}\nstderr:\n{}",
        run.code,
        run.stderr
    );
    run.json()
}

/// `pvwarden explain --now NOW` followed by `args`.
pub fn explain(args: &[&str]) -> Run {
    pvwarden(["explain", "--now", NOW].iter().chain(args)).run()
}

/// The verdict for the PV `name` in a JSON report.
#[track_caller]
pub fn volume<'a>(report: &'a Value, name: &str) -> &'a Value {
    let volumes = report["volumes"]
        .as_array()
        .expect("volumes must be an array");
    volumes
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("PV {name} missing from the report: {report}"))
}

/// The verdict for the claim `namespace/name` in a JSON report.
#[track_caller]
pub fn claim<'a>(report: &'a Value, namespace: &str, name: &str) -> &'a Value {
    let claims = report["claims"]
        .as_array()
        .expect("claims must be an array");
    claims
        .iter()
        .find(|c| c["namespace"] == namespace && c["name"] == name)
        .unwrap_or_else(|| panic!("claim {namespace}/{name} missing from the report: {report}"))
}

/// The rule ids of a verdict's findings (or of another list of findings).
pub fn rules_of(findings: &Value) -> Vec<String> {
    let findings = findings.as_array().map(Vec::as_slice).unwrap_or_default();
    findings
        .iter()
        .filter_map(|f| f["rule"].as_str().map(str::to_owned))
        .collect()
}

/// The names of the PVs in a JSON report, in report order.
pub fn volume_names(report: &Value) -> Vec<String> {
    let volumes = report["volumes"]
        .as_array()
        .expect("volumes must be an array");
    volumes
        .iter()
        .filter_map(|v| v["name"].as_str().map(str::to_owned))
        .collect()
}

impl Invocation {
    /// Feeds these bytes to standard input (else standard input is empty).
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Invocation {
        self.stdin = Some(bytes.into());
        self
    }

    /// Sets an environment variable for the run.
    pub fn env(mut self, key: &str, value: &str) -> Invocation {
        self.command.env(key, value);
        self
    }

    /// Closes the reading end of standard output before the binary writes anything.
    pub fn stdout_closed(mut self) -> Invocation {
        self.close_stdout = true;
        self
    }

    /// Runs the binary to its end, killing it if it outlives the timeout.
    pub fn run(mut self) -> Run {
        let mut child = self
            .command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the pvwarden binary must start");

        // Each stream gets its own thread so that a full pipe never blocks the child.
        let stdin = child.stdin.take().expect("stdin is piped");
        let input = self.stdin.take().unwrap_or_default();
        let writer = std::thread::spawn(move || {
            let mut stdin = stdin;
            // The binary may exit without reading all of its input; that is not a failure here.
            let _ = stdin.write_all(&input);
        });
        let stdout = child.stdout.take().expect("stdout is piped");
        let stdout = if self.close_stdout {
            drop(stdout);
            None
        } else {
            Some(read_all(stdout))
        };
        let stderr = read_all(child.stderr.take().expect("stderr is piped"));

        let deadline = Instant::now() + TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait().expect("waiting on pvwarden must work") {
                break status;
            }
            if Instant::now() > deadline {
                child.kill().expect("a hung pvwarden must be killable");
                panic!("pvwarden ran longer than {TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        writer.join().expect("stdin writer must not panic");
        let stdout = stdout.map(|h| h.join().expect("stdout reader must not panic"));
        Run {
            code: status.code(),
            stdout: stdout.unwrap_or_default(),
            stderr: stderr.join().expect("stderr reader must not panic"),
        }
    }
}

fn read_all(mut stream: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        stream
            .read_to_end(&mut bytes)
            .expect("reading a pipe from pvwarden must work");
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// A directory of its own under the system's temporary directory, removed on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates a fresh directory whose name says which test made it.
    pub fn new(test: &str) -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("pvwarden-test-{test}-{}-{n}-{nanos}", std::process::id());
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path).expect("temporary directory must be creatable");
        TempDir { path }
    }

    /// Writes a file into the directory and returns its absolute path as a string.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> String {
        let path = self.path.join(name);
        std::fs::write(&path, contents).expect("temporary file must be writable");
        path.to_str().expect("temporary paths are UTF-8").to_owned()
    }

    /// The absolute path of a file in the directory, as a string.
    pub fn path(&self, name: &str) -> String {
        self.path
            .join(name)
            .to_str()
            .expect("temporary paths are UTF-8")
            .to_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Best effort: a leftover directory under the temporary dir harms nothing.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
