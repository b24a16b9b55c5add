//! Reading a cluster through the fake API server: paging, restarts, degrading.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod common;

use std::collections::BTreeMap;

use pvwarden_domain::object::{Located, Object};
use pvwarden_kube::progress::Silent;
use pvwarden_kube::{Error, Progress, ReadReport, Reason};
use serde_json::json;

use common::{pv, Fake};

const PVS: &str = "/api/v1/persistentvolumes";
const CLAIMS: &str = "/api/v1/persistentvolumeclaims";
const EVENTS: &str = "/api/v1/events";

/// Reads the fake's cluster, returning every object handed to the sink.
async fn read_all(fake: &std::sync::Arc<Fake>) -> (Vec<Located<Object>>, ReadReport) {
    let mut objects = Vec::new();
    let report = fake
        .cluster()
        .read(&mut |o| objects.push(o), &Silent)
        .await
        .expect("the read must succeed");
    (objects, report)
}

fn names(objects: &[Located<Object>], kind: &str) -> Vec<String> {
    objects
        .iter()
        .filter(|o| o.object.kind() == kind)
        .map(|o| match &o.object {
            Object::PersistentVolume(pv) => pv.metadata.name.clone().unwrap_or_default(),
            other => other.kind().to_owned(),
        })
        .collect()
}

#[tokio::test]
async fn paging_makes_one_request_per_page() {
    for (count, pages) in [(0, 1), (1, 1), (500, 1), (501, 2), (1000, 2), (1234, 3)] {
        let fake = Fake::new();
        fake.add(PVS, (0..count).map(pv));
        let (objects, report) = read_all(&fake).await;

        assert_eq!(fake.requests_to(PVS), pages, "{count} PVs");
        let got = names(&objects, "PersistentVolume");
        let want: Vec<String> = (0..count).map(|i| format!("pv-{i:05}")).collect();
        assert_eq!(got, want, "every PV once, in order");
        assert_eq!(
            report.objects.get("PersistentVolume").copied(),
            (count > 0).then_some(count as u64)
        );
        // The other kinds: 11 empty lists (events twice), /version and one discovery.
        assert_eq!(fake.total_requests(), pages + 13, "{count} PVs");
        assert_eq!(report.requests, fake.total_requests() as u64);
    }
}

#[tokio::test]
async fn continue_tokens_are_followed_with_the_page_size() {
    let fake = Fake::new();
    fake.add(PVS, (0..250).map(pv));
    let mut objects = Vec::new();
    let cluster = fake.cluster().page_size(100);
    cluster
        .read(&mut |o| objects.push(o), &Silent)
        .await
        .unwrap();

    let state = fake.state.lock().unwrap();
    let pages: Vec<&String> = state
        .requests
        .iter()
        .filter(|r| r.starts_with(PVS))
        .collect();
    assert_eq!(pages.len(), 3);
    assert!(pages[0].contains("limit=100") && !pages[0].contains("continue="));
    assert!(pages[1].contains("continue=100"), "{}", pages[1]);
    assert!(pages[2].contains("continue=200"), "{}", pages[2]);
    assert_eq!(names(&objects, "PersistentVolume").len(), 250);
}

#[tokio::test]
async fn expired_list_starts_again_without_duplicates() {
    let fake = Fake::new();
    fake.add(PVS, (0..1234).map(pv));
    fake.with(|s| {
        s.expire.insert(PVS.into(), 1);
    });
    let (objects, report) = read_all(&fake).await;

    // Page 1, page 2 expires, then pages 1, 2 and 3 again.
    assert_eq!(fake.requests_to(PVS), 5);
    assert_eq!(report.restarts, 1);
    let got = names(&objects, "PersistentVolume");
    assert_eq!(got.len(), 1234, "no PV twice after the restart");
    assert_eq!(report.objects["PersistentVolume"], 1234);
}

#[tokio::test]
async fn list_that_keeps_expiring_is_given_up() {
    let fake = Fake::new();
    fake.add(PVS, (0..1234).map(pv));
    fake.with(|s| {
        s.expire.insert(PVS.into(), 100);
    });
    let err = fake.cluster().read(&mut |_| {}, &Silent).await.unwrap_err();
    assert!(matches!(err, Error::Expired { restarts: 3, .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "the list of persistentvolumes expired 3 times while paging; try again"
    );
    // Each attempt: one good page and one expired continuation.
    assert_eq!(fake.requests_to(PVS), 8);
}

#[tokio::test]
async fn forbidden_claims_degrade_with_a_warning() {
    let fake = Fake::new();
    fake.add(PVS, (0..3).map(pv));
    fake.with(|s| {
        s.forbidden.insert(CLAIMS.into());
    });
    let (objects, report) = read_all(&fake).await;

    assert_eq!(
        names(&objects, "PersistentVolume").len(),
        3,
        "the audit goes on"
    );
    assert_eq!(report.degraded.len(), 1);
    let degraded = &report.degraded[0];
    assert_eq!(degraded.reason, Reason::Forbidden);
    assert_eq!(
        degraded.permission.to_string(),
        "list persistentvolumeclaims in API group \"\""
    );
    assert_eq!(
        degraded.to_string(),
        "missing permission: list persistentvolumeclaims in API group \"\"; audited without \
         claims (their verdicts, and whether a PV's claim still exists)"
    );
}

#[tokio::test]
async fn forbidden_volumes_fail_the_read() {
    let fake = Fake::new();
    fake.with(|s| {
        s.forbidden.insert(PVS.into());
    });
    let err = fake.cluster().read(&mut |_| {}, &Silent).await.unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "not allowed to list persistentvolumes in API group \"\" \
         (`pvwarden rbac` prints the role it needs): forbidden: cannot access \
         /api/v1/persistentvolumes"
    );
}

#[tokio::test]
async fn server_errors_stop_the_read_and_name_the_request() {
    let fake = Fake::new();
    fake.with(|s| {
        s.broken.insert(CLAIMS.into());
    });
    let err = fake.cluster().read(&mut |_| {}, &Silent).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "list persistentvolumeclaims: the API server answered 500 InternalError: \
         etcdserver: request timed out"
    );
}

#[tokio::test]
async fn forbidden_events_are_asked_for_once() {
    let fake = Fake::new();
    fake.with(|s| {
        s.forbidden.insert(EVENTS.into());
    });
    let (_, report) = read_all(&fake).await;
    assert_eq!(
        fake.requests_to(EVENTS),
        1,
        "the second event list is not tried"
    );
    let permissions: Vec<String> = report
        .degraded
        .iter()
        .map(|d| d.permission.to_string())
        .collect();
    assert_eq!(permissions, ["list events in API group \"\""]);
}

#[tokio::test]
async fn events_are_listed_about_volumes_and_claims_only() {
    let fake = Fake::new();
    let event = |kind: &str, name: &str| {
        json!({"apiVersion": "v1", "kind": "Event",
               "metadata": {"name": format!("{name}.1"), "namespace": "default"},
               "involvedObject": {"kind": kind, "name": name},
               "reason": "VolumeFailedDelete", "type": "Warning", "message": "rpc error"})
    };
    fake.add(
        EVENTS,
        [
            event("PersistentVolume", "a"),
            event("Pod", "b"),
            event("PersistentVolumeClaim", "c"),
        ],
    );
    let (objects, report) = read_all(&fake).await;

    assert_eq!(report.objects["Event"], 2);
    assert_eq!(
        objects
            .iter()
            .filter(|o| o.object.kind() == "Event")
            .count(),
        2
    );
    let state = fake.state.lock().unwrap();
    let selectors: Vec<&String> = state
        .requests
        .iter()
        .filter(|r| r.starts_with(EVENTS))
        .collect();
    assert!(
        selectors[0].contains("fieldSelector=involvedObject.kind%3DPersistentVolume&")
            || selectors[0].ends_with("fieldSelector=involvedObject.kind%3DPersistentVolume"),
        "{}",
        selectors[0]
    );
    assert!(
        selectors[1].contains("involvedObject.kind%3DPersistentVolumeClaim"),
        "{}",
        selectors[1]
    );
}

#[tokio::test]
async fn version_comes_from_the_server() {
    let fake = Fake::new();
    let (_, report) = read_all(&fake).await;
    let server = report.server.expect("the fake serves /version");
    assert_eq!(server.git_version, "v1.30.4-fake.1");
    assert_eq!(server.version.map(|v| v.to_string()), Some("1.30.4".into()));
}

#[tokio::test]
async fn forbidden_version_degrades() {
    let fake = Fake::new();
    fake.with(|s| {
        s.forbidden.insert("/version".into());
    });
    let (_, report) = read_all(&fake).await;
    assert_eq!(report.server, None);
    assert_eq!(report.degraded[0].permission.to_string(), "get /version");
}

#[tokio::test]
async fn snapshots_are_read_when_the_group_is_served() {
    let fake = Fake::new();
    fake.with(|s| s.snapshots = true);
    fake.add(
        "/apis/snapshot.storage.k8s.io/v1/volumesnapshots",
        [
            json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
                "metadata": {"name": "s1", "namespace": "db", "managedFields": [{"manager": "x"}]},
                "spec": {"source": {"persistentVolumeClaimName": "data"}},
                "status": {"readyToUse": true}}),
        ],
    );
    fake.add(
        "/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents",
        [
            json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotContent",
                "metadata": {"name": "c1"},
                "spec": {"driver": "rbd.csi.ceph.com", "deletionPolicy": "Retain",
                         "source": {"volumeHandle": "0001-abc"}}}),
        ],
    );
    let (objects, report) = read_all(&fake).await;

    assert!(report.degraded.is_empty());
    let snapshot = objects.iter().find_map(|o| match &o.object {
        Object::VolumeSnapshot(s) => Some(s),
        _ => None,
    });
    let snapshot = snapshot.expect("the snapshot is read");
    assert_eq!(
        snapshot.spec.source.persistent_volume_claim_name.as_deref(),
        Some("data")
    );
    assert!(
        snapshot.metadata.managed_fields.is_none(),
        "managedFields are dropped"
    );
    let content = objects.iter().find_map(|o| match &o.object {
        Object::VolumeSnapshotContent(c) => Some(c),
        _ => None,
    });
    assert_eq!(
        content.expect("the content is read").spec.driver,
        "rbd.csi.ceph.com"
    );
}

#[tokio::test]
async fn missing_snapshot_group_is_not_a_warning() {
    let fake = Fake::new();
    let (_, report) = read_all(&fake).await;
    assert!(report.degraded.is_empty());
    assert_eq!(
        fake.requests_to("/apis/snapshot.storage.k8s.io/v1/volumesnapshots"),
        0
    );
}

#[tokio::test]
async fn pods_and_workloads_the_model_ignores_are_dropped() {
    let fake = Fake::new();
    let pod = |name: &str, claim: Option<&str>| {
        let volumes = match claim {
            Some(c) => json!([{"name": "v", "persistentVolumeClaim": {"claimName": c}}]),
            None => json!([{"name": "v", "emptyDir": {}}]),
        };
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "a"},
               "spec": {"containers": [{"name": "c", "image": "nginx",
                                         "env": [{"name": "TOKEN", "value": "secret"}]}],
                        "volumes": volumes}})
    };
    fake.add("/api/v1/pods", [pod("p1", Some("data")), pod("p2", None)]);
    let deployment = |name: &str, image: &str| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": name, "namespace": "a"},
               "spec": {"selector": {}, "template": {"spec": {"containers": [
                   {"name": "c", "image": image,
                    "env": [{"name": "TOKEN", "value": "secret"}]}]}}}})
    };
    fake.add(
        "/apis/apps/v1/deployments",
        [
            deployment("web", "nginx:1.25"),
            deployment(
                "provisioner",
                "registry.k8s.io/sig-storage/csi-provisioner:v5.0.1",
            ),
        ],
    );
    let (objects, report) = read_all(&fake).await;

    let expected = BTreeMap::from([("Deployment", 1), ("Pod", 1)]);
    assert_eq!(report.objects, expected);
    assert_eq!(report.dropped, expected);
    for located in &objects {
        let text = match &located.object {
            Object::Pod(p) => serde_json::to_string(p).unwrap(),
            Object::Deployment(d) => serde_json::to_string(d).unwrap(),
            _ => continue,
        };
        assert!(!text.contains("secret"), "env is never kept: {text}");
    }
}

#[tokio::test]
async fn origins_name_the_context_and_the_api_path() {
    let fake = Fake::new();
    fake.add(PVS, [pv(7)]);
    fake.add(
        CLAIMS,
        [json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": "data", "namespace": "shop"}})],
    );
    let (objects, _) = read_all(&fake).await;
    let origins: Vec<String> = objects.iter().map(|o| o.origin.to_string()).collect();
    assert_eq!(
        origins,
        [
            "cluster:test/api/v1/persistentvolumes/pv-00007",
            "cluster:test/api/v1/namespaces/shop/persistentvolumeclaims/data",
        ]
    );
}

/// Records what a read reports, to check that progress is told page by page.
#[derive(Default)]
struct Recorder {
    seen: std::sync::Mutex<Vec<(&'static str, u64)>>,
    done: std::sync::atomic::AtomicBool,
}

impl Progress for Recorder {
    fn read(&self, kind: &'static str, listed: u64) {
        self.seen.lock().unwrap().push((kind, listed));
    }
    fn done(&self) {
        self.done.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test]
async fn progress_counts_objects_per_kind_after_each_page() {
    let fake = Fake::new();
    fake.add(PVS, (0..1234).map(pv));
    let recorder = Recorder::default();
    fake.cluster().read(&mut |_| {}, &recorder).await.unwrap();

    let seen = recorder.seen.lock().unwrap();
    let pvs: Vec<u64> = seen
        .iter()
        .filter(|(k, _)| *k == "PersistentVolume")
        .map(|(_, n)| *n)
        .collect();
    assert_eq!(pvs, [500, 1000, 1234]);
    assert!(recorder.done.load(std::sync::atomic::Ordering::SeqCst));
}
