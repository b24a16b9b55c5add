//! The webhook against a bare hyper server answering a constant allow, both
//! over the same TLS and HTTP stack, at a fixed request rate and at saturation.
//!
//! ```sh
//! cargo bench -p pvwarden-webhook --bench webhook -- [--pvs N] [--rate R] [--seconds S]
//!     [--connections C] [--decision-only]
//! ```
//!
//! The view holds `--pvs` ceph-csi RBD PVs (default 10,000) and one static
//! CephFS share; requests are PV CREATE reviews on `/validate`: nine in ten a
//! new dynamic PV (allowed), one in ten a static `Delete` copy of the share
//! (refused). Latency is measured from when a request was sent, or from when
//! it was due if the previous answer on its connection held it back, so a
//! stalled server is charged for the requests it delayed.
//!
//! Saturated throughput is measured in ten alternating windows per server,
//! so that a change in the machine's load tilts both alike.
//!
//! The client and both servers run in this process, on the same cores: the
//! server gets a runtime of two workers, the client one of its own. The
//! allocator is mimalloc, as in the `pvwarden` binary that serves the webhook.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::PersistentVolume;
use pvwarden_webhook::review::{answer, Reply};
use pvwarden_webhook::tls::{Certificates, SelfSigned};
use pvwarden_webhook::{server, Config, Decider, Stage, View};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{json, Value};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Args {
    pvs: usize,
    rate: u64,
    seconds: u64,
    connections: usize,
}

fn args() -> Args {
    let mut args = Args {
        pvs: 10_000,
        rate: 1_000,
        seconds: 10,
        connections: 8,
    };
    let raw: Vec<String> = std::env::args().skip(1).collect();
    for pair in raw.windows(2) {
        let value = || {
            pair[1]
                .parse()
                .unwrap_or_else(|_| panic!("bad value for {}", pair[0]))
        };
        match pair[0].as_str() {
            "--pvs" => args.pvs = value() as usize,
            "--rate" => args.rate = value(),
            "--seconds" => args.seconds = value(),
            "--connections" => args.connections = value() as usize,
            _ => {}
        }
    }
    args
}

fn uuid(i: usize) -> String {
    format!("{:08x}-{:04x}-11f1-828d-{:012x}", i, i % 65_536, i * 7919)
}

fn rbd_pv(i: usize) -> Value {
    let name = format!("pvc-{}", uuid(i));
    json!({
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": name,
            "annotations": {"pv.kubernetes.io/provisioned-by": "rook-ceph.rbd.csi.ceph.com"},
            "finalizers": ["kubernetes.io/pv-protection"]},
        "spec": {
            "capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Delete", "storageClassName": "rook-ceph-block",
            "claimRef": {"namespace": "apps", "name": format!("data-{i}"), "uid": uuid(i)},
            "csi": {"driver": "rook-ceph.rbd.csi.ceph.com",
                "volumeHandle": format!("0001-0009-rook-ceph-0000000000000002-{}", uuid(i)),
                "volumeAttributes": {"clusterID": "rook-ceph", "pool": "replicapool",
                    "imageName": format!("csi-vol-{}", uuid(i))}}
        },
        "status": {"phase": "Bound"}
    })
}

fn share_source() -> Value {
    json!({
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": "shared-source",
            "annotations": {"pv.kubernetes.io/provisioned-by": "rook-ceph.cephfs.csi.ceph.com"}},
        "spec": {
            "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "rook-cephfs",
            "claimRef": {"namespace": "media", "name": "shared", "uid": uuid(999_999)},
            "csi": {"driver": "rook-ceph.cephfs.csi.ceph.com",
                "volumeHandle": format!("0001-0009-rook-ceph-0000000000000001-{}", uuid(999_999)),
                "volumeAttributes": {"clusterID": "rook-ceph", "fsName": "fs",
                    "subvolumeName": "csi-vol-share",
                    "subvolumePath": "/volumes/csi/csi-vol-share/abc"}}
        },
        "status": {"phase": "Bound"}
    })
}

fn static_copy(i: u64) -> Value {
    json!({
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": format!("shared-copy-{i}")},
        "spec": {
            "persistentVolumeReclaimPolicy": "Delete", "storageClassName": "",
            "csi": {"driver": "rook-ceph.cephfs.csi.ceph.com",
                "volumeHandle": format!("0001-0009-rook-ceph-0000000000000001-{}-copy-{i}",
                    uuid(999_999)),
                "volumeAttributes": {"clusterID": "rook-ceph", "fsName": "fs",
                    "staticVolume": "true", "rootPath": "/volumes/csi/csi-vol-share/abc"}}
        }
    })
}

fn review(i: u64, pv: &Value) -> Bytes {
    let body = json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": format!("req-{i}"),
            "kind": {"group": "", "version": "v1", "kind": "PersistentVolume"},
            "resource": {"group": "", "version": "v1", "resource": "persistentvolumes"},
            "name": pv["metadata"]["name"], "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:rook-ceph:csi-provisioner"},
            "object": pv, "oldObject": null, "dryRun": false
        }
    });
    Bytes::from(serde_json::to_vec(&body).expect("review encodes"))
}

/// The request bodies, cycled through by the clients.
fn bodies() -> Vec<Bytes> {
    (0..1_000u64)
        .map(|i| {
            if i % 10 == 9 {
                review(i, &static_copy(i))
            } else {
                review(i, &rbd_pv(2_000_000 + i as usize))
            }
        })
        .collect()
}

fn view(pvs: usize) -> View {
    let view = View::new();
    for i in 0..pvs {
        let pv: PersistentVolume = serde_json::from_value(rbd_pv(i)).expect("PV");
        view.apply_pv(pv);
    }
    view.apply_pv(serde_json::from_value(share_source()).expect("PV"));
    view.set_ready();
    view
}

/// Starts a server on its own two-worker runtime; returns its address.
fn start<H, F>(
    runtime: &tokio::runtime::Runtime,
    tls: Arc<rustls::ServerConfig>,
    handler: H,
) -> std::net::SocketAddr
where
    H: Fn(server::Call) -> F + Clone + Send + Sync + 'static,
    F: std::future::Future<Output = Reply> + Send + 'static,
{
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    runtime.spawn(server::serve(listener, tls, handler));
    addr
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: std::net::SocketAddr, ca_pem: &str) -> Sender {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("CA")).expect("root");
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::from(addr.ip()), tcp)
        .await
        .expect("handshake");
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("http handshake");
    tokio::spawn(connection);
    sender
}

async fn send(sender: &mut Sender, addr: std::net::SocketAddr, body: &Bytes) {
    sender.ready().await.expect("connection ready");
    let request = hyper::Request::post("/validate")
        .header("host", addr.to_string())
        .header("content-type", "application/json")
        .body(Full::new(body.clone()))
        .expect("request");
    let response = sender.send_request(request).await.expect("response");
    assert_eq!(response.status(), 200);
    response.into_body().collect().await.expect("body");
}

struct Run {
    latencies: Vec<Duration>,
    elapsed: Duration,
}

/// Sends `rate` requests a second for `seconds`, spread over the connections.
async fn fixed_rate(
    addr: std::net::SocketAddr,
    ca: &str,
    bodies: Arc<Vec<Bytes>>,
    a: &Args,
) -> Run {
    let per_connection = a.rate as f64 / a.connections as f64;
    let interval = Duration::from_secs_f64(1.0 / per_connection);
    let count = (per_connection * a.seconds as f64) as u64;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..a.connections {
        let mut sender = connect(addr, ca).await;
        let bodies = Arc::clone(&bodies);
        // Stagger the connections across one interval.
        let offset = interval.mul_f64(c as f64 / a.connections as f64);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(count as usize);
            let begin = Instant::now() + offset;
            let mut previous_done = begin;
            for i in 0..count {
                let due = begin + interval.mul_f64(i as f64);
                tokio::time::sleep_until(due.into()).await;
                // The timer wakes up to a millisecond late; that is the
                // client's delay, not the server's. A request held back by
                // the previous answer is charged from when it was due.
                let start = if previous_done > due {
                    due
                } else {
                    Instant::now()
                };
                let body = &bodies[(i as usize * 7 + c) % bodies.len()];
                send(&mut sender, addr, body).await;
                previous_done = Instant::now();
                latencies.push(previous_done - start);
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("client task"));
    }
    Run {
        latencies,
        elapsed: start.elapsed(),
    }
}

/// Sends as fast as the connections allow for `window`; returns requests answered a second.
async fn saturate(
    addr: std::net::SocketAddr,
    ca: &str,
    bodies: Arc<Vec<Bytes>>,
    a: &Args,
    window: Duration,
) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + window;
    let mut tasks = Vec::new();
    let start = Instant::now();
    for c in 0..a.connections {
        let mut sender = connect(addr, ca).await;
        let (bodies, done) = (Arc::clone(&bodies), Arc::clone(&done));
        tasks.push(tokio::spawn(async move {
            let mut i = c;
            while Instant::now() < deadline {
                send(&mut sender, addr, &bodies[i % bodies.len()]).await;
                done.fetch_add(1, Ordering::Relaxed);
                i += 7;
            }
        }));
    }
    for task in tasks {
        task.await.expect("client task");
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

fn report(name: &str, mut run: Run) -> (Duration, f64) {
    run.latencies.sort();
    let rps = run.latencies.len() as f64 / run.elapsed.as_secs_f64();
    let p99 = percentile(&run.latencies, 0.99);
    println!(
        "{name:<8} fixed rate: {rps:>8.0} req/s answered, p50 {:>7.3} ms, p99 {:>7.3} ms, \
         max {:>7.3} ms ({} requests)",
        percentile(&run.latencies, 0.5).as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        run.latencies
            .last()
            .copied()
            .unwrap_or_default()
            .as_secs_f64()
            * 1e3,
        run.latencies.len()
    );
    (p99, rps)
}

/// The cost of answering a review without TLS and HTTP, on one core.
fn decision_alone(decider: &Decider, bodies: &[Bytes]) {
    let start = Instant::now();
    let mut answered = 0u32;
    while start.elapsed() < Duration::from_secs(2) {
        for body in bodies {
            let (reply, _) = answer(decider, Stage::Validate, body);
            assert_eq!(reply.status, 200);
            answered += 1;
        }
    }
    let each = start.elapsed().as_secs_f64() / f64::from(answered);
    println!(
        "decision alone: {:.1} us per review (one thread)",
        each * 1e6
    );
}

fn main() {
    let a = args();
    rustls::crypto::ring::default_provider()
        .install_default()
        .expect("crypto provider");
    let servers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("server runtime");
    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("client runtime");

    let pki = SelfSigned::generate(&["127.0.0.1".into()]).expect("certificate");
    let tls = Certificates::new(pki.key).server_config().expect("tls");
    let built = Instant::now();
    let decider = Arc::new(Decider::new(view(a.pvs), Config::default()));
    println!(
        "view of {} PVs built in {:.2} s; {} connections, {} req/s for {} s",
        a.pvs + 1,
        built.elapsed().as_secs_f64(),
        a.connections,
        a.rate,
        a.seconds
    );
    let bodies = Arc::new(bodies());
    decision_alone(&decider, &bodies);
    if std::env::args().any(|a| a == "--decision-only") {
        return;
    }
    let webhook = start(&servers, Arc::clone(&tls), move |call| {
        let decider = Arc::clone(&decider);
        async move { server::route(&decider, &call) }
    });
    let allow = Bytes::from_static(
        br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"","allowed":true}}"#,
    );
    let bare = start(&servers, tls, move |_call| {
        let body = allow.to_vec();
        async move { Reply { status: 200, body } }
    });

    let ca = pki.ca_pem;
    // Warm up both (connections, caches, allocator).
    client.block_on(async {
        let mut w = connect(webhook, &ca).await;
        let mut b = connect(bare, &ca).await;
        for body in bodies.iter() {
            send(&mut w, webhook, body).await;
            send(&mut b, bare, body).await;
        }
    });

    let run = client.block_on(fixed_rate(webhook, &ca, Arc::clone(&bodies), &a));
    let (p99_webhook, _) = report("webhook", run);
    let run = client.block_on(fixed_rate(bare, &ca, Arc::clone(&bodies), &a));
    let (p99_bare, _) = report("bare", run);
    // Alternate short windows, so that a change in the machine's load
    // between two long runs cannot tilt the ratio.
    let rounds = 10;
    let window = Duration::from_secs(a.seconds).div_f64(f64::from(rounds));
    let (mut webhook_max, mut bare_max) = (0.0, 0.0);
    for _ in 0..rounds {
        webhook_max += client.block_on(saturate(webhook, &ca, Arc::clone(&bodies), &a, window));
        bare_max += client.block_on(saturate(bare, &ca, Arc::clone(&bodies), &a, window));
    }
    webhook_max /= f64::from(rounds);
    bare_max /= f64::from(rounds);
    println!("webhook  saturated: {webhook_max:>8.0} req/s");
    println!("bare     saturated: {bare_max:>8.0} req/s");
    println!(
        "ratio webhook/bare: throughput {:.2}, p99 at {} req/s {:.2}x",
        webhook_max / bare_max,
        a.rate,
        p99_webhook.as_secs_f64() / p99_bare.as_secs_f64().max(1e-9)
    );
}
