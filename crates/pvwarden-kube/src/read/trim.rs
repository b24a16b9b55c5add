//! Cutting each listed object down to what the model reads.
//!
//! Trimming happens before the sink, for three reasons: memory (a pod or a
//! node is mostly fields the model never looks at), secrecy (container `env`
//! and `last-applied-configuration` can hold credentials, and a snapshot
//! must not), and equality (a live audit and an audit of its snapshot see
//! the very same objects). Each function returns `None` for an object the
//! model has no use for.

use k8s_openapi::api::apps::v1::{
    DaemonSet, DaemonSetSpec, Deployment, DeploymentSpec, StatefulSet, StatefulSetSpec,
};
use k8s_openapi::api::core::v1::{
    Container, Event, Node, PersistentVolume, PersistentVolumeClaim, Pod, PodSpec, PodStatus,
    PodTemplateSpec, Volume,
};
use k8s_openapi::api::storage::v1::{CSIDriver, StorageClass, VolumeAttachment};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::core::PartialObjectMeta;
use pvwarden_domain::object::Object;

/// The annotation `kubectl apply` keeps a whole copy of the object in.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Drops the server's bookkeeping and the applied copy from an object's metadata.
pub fn clean(meta: &mut ObjectMeta) {
    meta.managed_fields = None;
    if let Some(annotations) = &mut meta.annotations {
        annotations.remove(LAST_APPLIED);
        if annotations.is_empty() {
            meta.annotations = None;
        }
    }
}

/// Only the identity and lifecycle of an object, for kinds whose body is not read.
fn identity(meta: ObjectMeta) -> ObjectMeta {
    ObjectMeta {
        name: meta.name,
        namespace: meta.namespace,
        uid: meta.uid,
        creation_timestamp: meta.creation_timestamp,
        deletion_timestamp: meta.deletion_timestamp,
        deletion_grace_period_seconds: meta.deletion_grace_period_seconds,
        ..ObjectMeta::default()
    }
}

/// A PersistentVolume, without bookkeeping.
pub fn pv(mut pv: PersistentVolume) -> Option<Object> {
    clean(&mut pv.metadata);
    Some(Object::PersistentVolume(Box::new(pv)))
}

/// A PersistentVolumeClaim, without bookkeeping.
pub fn claim(mut pvc: PersistentVolumeClaim) -> Option<Object> {
    clean(&mut pvc.metadata);
    Some(Object::PersistentVolumeClaim(Box::new(pvc)))
}

/// A StorageClass, without bookkeeping.
pub fn class(mut sc: StorageClass) -> Option<Object> {
    clean(&mut sc.metadata);
    Some(Object::StorageClass(Box::new(sc)))
}

/// A CSIDriver, without bookkeeping.
pub fn csi_driver(mut driver: CSIDriver) -> Option<Object> {
    clean(&mut driver.metadata);
    Some(Object::CsiDriver(Box::new(driver)))
}

/// A VolumeAttachment, without bookkeeping.
pub fn attachment(mut va: VolumeAttachment) -> Option<Object> {
    clean(&mut va.metadata);
    Some(Object::VolumeAttachment(Box::new(va)))
}

/// A `v1` Event, without bookkeeping.
pub fn event(mut event: Event) -> Option<Object> {
    clean(&mut event.metadata);
    Some(Object::Event(Box::new(event)))
}

/// A node is read for its name only, so it is listed as metadata.
pub fn node(meta: PartialObjectMeta<Node>) -> Option<Object> {
    let node = Node {
        metadata: identity(meta.metadata),
        spec: None,
        status: None,
    };
    Some(Object::Node(Box::new(node)))
}

/// A pod matters only through the claims it uses; others are dropped.
pub fn pod(pod: Pod) -> Option<Object> {
    let spec = pod.spec?;
    let volumes: Vec<Volume> = spec
        .volumes
        .into_iter()
        .flatten()
        .filter(|v| v.persistent_volume_claim.is_some() || v.ephemeral.is_some())
        .map(|v| Volume {
            name: v.name,
            persistent_volume_claim: v.persistent_volume_claim,
            ephemeral: v.ephemeral,
            ..Volume::default()
        })
        .collect();
    if volumes.is_empty() {
        return None;
    }
    let pod = Pod {
        metadata: identity(pod.metadata),
        spec: Some(PodSpec {
            volumes: Some(volumes),
            node_name: spec.node_name,
            ..PodSpec::default()
        }),
        status: pod.status.map(|s| PodStatus {
            phase: s.phase,
            ..PodStatus::default()
        }),
    };
    Some(Object::Pod(Box::new(pod)))
}

/// A Deployment cut to its CSI containers, or `None` when it runs none.
pub fn deployment(d: Deployment) -> Option<Object> {
    let template = csi_template(d.spec.template)?;
    let spec = DeploymentSpec {
        selector: d.spec.selector,
        template,
        ..DeploymentSpec::default()
    };
    let d = Deployment {
        metadata: identity(d.metadata),
        spec,
        status: None,
    };
    Some(Object::Deployment(Box::new(d)))
}

/// A StatefulSet cut to its CSI containers, or `None` when it runs none.
pub fn stateful_set(s: StatefulSet) -> Option<Object> {
    let template = csi_template(s.spec.template)?;
    let spec = StatefulSetSpec {
        selector: s.spec.selector,
        template,
        ..StatefulSetSpec::default()
    };
    let s = StatefulSet {
        metadata: identity(s.metadata),
        spec,
        status: None,
    };
    Some(Object::StatefulSet(Box::new(s)))
}

/// A DaemonSet cut to its CSI containers, or `None` when it runs none.
pub fn daemon_set(d: DaemonSet) -> Option<Object> {
    let template = csi_template(d.spec.template)?;
    let spec = DaemonSetSpec {
        selector: d.spec.selector,
        template,
        ..DaemonSetSpec::default()
    };
    let d = DaemonSet {
        metadata: identity(d.metadata),
        spec,
        status: None,
    };
    Some(Object::DaemonSet(Box::new(d)))
}

/// The pod template cut to its CSI containers, or `None` when it runs none.
///
/// A container keeps its name, image, command and arguments: the release is
/// in the image tag and the feature gates are in the arguments. Its `env`
/// is never kept.
fn csi_template(template: PodTemplateSpec) -> Option<PodTemplateSpec> {
    let spec = template.spec?;
    let keep = |containers: Vec<Container>| -> Vec<Container> {
        containers
            .into_iter()
            .filter(|c| c.image.as_deref().is_some_and(is_csi_image))
            .map(|c| Container {
                name: c.name,
                image: c.image,
                command: c.command,
                args: c.args,
                ..Container::default()
            })
            .collect()
    };
    let containers = keep(spec.containers);
    let init_containers = keep(spec.init_containers.unwrap_or_default());
    if containers.is_empty() && init_containers.is_empty() {
        return None;
    }
    Some(PodTemplateSpec {
        metadata: None,
        spec: Some(PodSpec {
            containers,
            init_containers: (!init_containers.is_empty()).then_some(init_containers),
            ..PodSpec::default()
        }),
    })
}

/// Returns true for csi-provisioner, csi-attacher and cephcsi images, whatever the registry.
pub(crate) fn is_csi_image(image: &str) -> bool {
    let repo = image.rsplit('/').next().unwrap_or(image);
    let name = repo.split([':', '@']).next().unwrap_or(repo);
    matches!(name, "csi-provisioner" | "csi-attacher" | "cephcsi")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::{EnvVar, PersistentVolumeClaimVolumeSource};

    use super::*;

    fn container(name: &str, image: &str) -> Container {
        Container {
            name: name.into(),
            image: Some(image.into()),
            args: Some(vec!["--feature-gates=HonorPVReclaimPolicy=true".into()]),
            env: Some(vec![EnvVar {
                name: "PASSWORD".into(),
                value: Some("hunter2".into()),
                ..EnvVar::default()
            }]),
            ..Container::default()
        }
    }

    fn deployment_with(containers: Vec<Container>) -> Deployment {
        Deployment {
            metadata: ObjectMeta {
                name: Some("csi-cephfsplugin-provisioner".into()),
                namespace: Some("rook-ceph".into()),
                annotations: Some(BTreeMap::from([(LAST_APPLIED.into(), "{}".into())])),
                ..ObjectMeta::default()
            },
            spec: DeploymentSpec {
                template: PodTemplateSpec {
                    metadata: None,
                    spec: Some(PodSpec {
                        containers,
                        ..PodSpec::default()
                    }),
                },
                ..DeploymentSpec::default()
            },
            status: None,
        }
    }

    #[test]
    fn csi_images_are_recognised_across_registries() {
        assert!(is_csi_image(
            "registry.k8s.io/sig-storage/csi-provisioner:v5.0.1"
        ));
        assert!(is_csi_image("localhost:5000/csi-attacher@sha256:abc"));
        assert!(is_csi_image("quay.io/cephcsi/cephcsi:v3.12.0"));
        assert!(!is_csi_image("nginx:1.25"));
        assert!(!is_csi_image(
            "registry.k8s.io/sig-storage/csi-resizer:v1.11.0"
        ));
    }

    #[test]
    fn workloads_keep_only_csi_containers_without_env() {
        let d = deployment_with(vec![
            container("app", "nginx:1.25"),
            container(
                "csi-provisioner",
                "registry.k8s.io/sig-storage/csi-provisioner:v5.0.1",
            ),
        ]);
        let Some(Object::Deployment(d)) = deployment(d) else {
            panic!("a provisioner deployment must be kept")
        };
        let spec = d.spec.template.spec.expect("template spec");
        assert_eq!(spec.containers.len(), 1);
        assert_eq!(spec.containers[0].name, "csi-provisioner");
        assert!(spec.containers[0].env.is_none());
        assert!(spec.containers[0].args.is_some());
        assert!(d.metadata.annotations.is_none());
    }

    #[test]
    fn workloads_without_csi_containers_are_dropped() {
        let d = deployment_with(vec![container("app", "nginx:1.25")]);
        assert!(deployment(d).is_none());
    }

    #[test]
    fn pods_keep_only_claim_volumes() {
        let claim = Volume {
            name: "data".into(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: "data".into(),
                read_only: None,
            }),
            ..Volume::default()
        };
        let scratch = Volume {
            name: "tmp".into(),
            ..Volume::default()
        };
        let pod_with = |volumes: Vec<Volume>| Pod {
            metadata: ObjectMeta {
                name: Some("web-0".into()),
                namespace: Some("shop".into()),
                labels: Some(BTreeMap::from([("app".into(), "web".into())])),
                ..ObjectMeta::default()
            },
            spec: Some(PodSpec {
                containers: vec![container("web", "nginx:1.25")],
                volumes: Some(volumes),
                node_name: Some("n1".into()),
                ..PodSpec::default()
            }),
            status: None,
        };
        assert!(pod(pod_with(vec![scratch.clone()])).is_none());
        let Some(Object::Pod(p)) = pod(pod_with(vec![scratch, claim])) else {
            panic!("a pod using a claim must be kept")
        };
        let spec = p.spec.expect("spec");
        assert!(spec.containers.is_empty());
        assert_eq!(spec.volumes.expect("volumes").len(), 1);
        assert_eq!(spec.node_name.as_deref(), Some("n1"));
        assert!(p.metadata.labels.is_none());
    }
}
