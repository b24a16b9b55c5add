//! Reading a cluster: the order of the lists, paging, restarts and degrading.
//!
//! Every kind is listed in pages of [`Cluster::page_size`] objects, following
//! `continue` tokens, one kind after the other, so a read costs
//! `ceil(N / page size)` requests per kind plus `/version` and one discovery
//! request. The lists run one at a time on purpose: the sink is a plain
//! `FnMut`, and a read of 100,000 objects is bound by the server's paging,
//! not by round trips.

mod listing;
pub mod trim;

use std::collections::HashSet;
use std::fmt::Debug;
use std::hash::{DefaultHasher, Hash, Hasher};

use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use kube::{Client, Resource, ResourceExt};
use pvwarden_domain::object::{Located, Object, Origin, VolumeSnapshot, VolumeSnapshotContent};
use serde::de::DeserializeOwned;

use self::listing::*;
use crate::rbac::{SNAPSHOT_GROUP, SNAPSHOT_GROUP_VERSION};
use crate::report::{Degraded, Permission, ReadReport, Reason};
use crate::{Cluster, Error, Progress, Result};

/// How many times one list is started again after its `continue` token expired.
const MAX_RESTARTS: u32 = 3;

/// Reads everything; see [`Cluster::read`].
pub(crate) async fn read(
    cluster: &Cluster,
    sink: &mut dyn FnMut(Located<Object>),
    progress: &dyn Progress,
) -> Result<ReadReport> {
    let mut reader = Reader {
        cluster,
        sink,
        progress,
        report: ReadReport {
            context: cluster.context.clone(),
            ..ReadReport::default()
        },
    };
    let outcome = reader.run().await;
    progress.done();
    outcome.map(|()| reader.report)
}

/// What to do after a failed page.
enum Next {
    /// Start the list again from the beginning.
    Restart,
    /// Go on without this list.
    Skip,
}

struct Reader<'a> {
    cluster: &'a Cluster,
    sink: &'a mut dyn FnMut(Located<Object>),
    progress: &'a dyn Progress,
    report: ReadReport,
}

impl Reader<'_> {
    async fn run(&mut self) -> Result<()> {
        self.server_version().await?;

        // Volumes first: without them there is nothing to audit.
        self.all(&PERSISTENT_VOLUMES, trim::pv).await?;
        self.all(&CLAIMS, trim::claim).await?;

        // The storage machinery around them.
        self.all(&STORAGE_CLASSES, trim::class).await?;
        self.all(&CSI_DRIVERS, trim::csi_driver).await?;
        self.all(&ATTACHMENTS, trim::attachment).await?;
        self.all(&NODES, trim::node).await?;
        self.all(&PODS, trim::pod).await?;

        // What happened to them, and who runs the CSI sidecars.
        self.all(&PV_EVENTS, trim::event).await?;
        self.all(&CLAIM_EVENTS, trim::event).await?;
        self.all(&DEPLOYMENTS, trim::deployment).await?;
        self.all(&STATEFUL_SETS, trim::stateful_set).await?;
        self.all(&DAEMON_SETS, trim::daemon_set).await?;

        let client = self.cluster.client.clone();
        self.snapshots(&client).await
    }

    /// Lists a built-in kind across all namespaces.
    async fn all<K>(&mut self, listing: &Listing, trim: fn(K) -> Option<Object>) -> Result<()>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
    {
        let api = Api::<K>::all(self.cluster.client.clone());
        self.list(api, &(), listing, move |item| Ok(trim(item)))
            .await
    }

    /// Asks for `/version` (once per [`Cluster`]); a refusal only costs the assumption.
    async fn server_version(&mut self) -> Result<()> {
        if !self.cluster.version.initialized() {
            self.report.requests += 1;
        }
        match self.cluster.version().await {
            Ok(version) => {
                tracing::debug!(git_version = %version.git_version, "server version read");
                self.report.server = Some(version.clone());
                Ok(())
            }
            Err(err) => {
                let Some(reason) = err.refusal() else {
                    return Err(err);
                };
                let permission = Permission {
                    verb: "get",
                    resource: "/version",
                    group: None,
                };
                self.degrade(permission, reason, "the server's Kubernetes release");
                Ok(())
            }
        }
    }

    /// Lists VolumeSnapshots and their contents when the server serves them.
    async fn snapshots(&mut self, client: &Client) -> Result<()> {
        self.report.requests += 1;
        let resources = match client
            .list_api_group_resources(SNAPSHOT_GROUP_VERSION)
            .await
        {
            Ok(resources) => resources,
            Err(err) => {
                return match refused(&err) {
                    Some(Reason::NotFound) => {
                        tracing::debug!(group = SNAPSHOT_GROUP_VERSION, "api group not served");
                        Ok(())
                    }
                    Some(reason) => {
                        let permission = Permission {
                            verb: "get",
                            resource: "/apis/snapshot.storage.k8s.io/v1",
                            group: None,
                        };
                        self.degrade(permission, reason, "volume snapshots and their contents");
                        Ok(())
                    }
                    None => Err(Error::from_kube(
                        || format!("get /apis/{SNAPSHOT_GROUP_VERSION}"),
                        err,
                        |source| Error::Discovery {
                            group_version: SNAPSHOT_GROUP_VERSION,
                            source,
                        },
                    )),
                };
            }
        };
        let served = |plural: &str| resources.resources.iter().any(|r| r.name == plural);

        if served(SNAPSHOTS.resource) {
            let resource = snapshot_resource(&SNAPSHOTS);
            let api = Api::<DynamicObject>::all_with(client.clone(), &resource);
            self.list(api, &resource, &SNAPSHOTS, snapshot).await?;
        }
        if served(SNAPSHOT_CONTENTS.resource) {
            let resource = snapshot_resource(&SNAPSHOT_CONTENTS);
            let api = Api::<DynamicObject>::all_with(client.clone(), &resource);
            self.list(api, &resource, &SNAPSHOT_CONTENTS, snapshot_content)
                .await?;
        }
        Ok(())
    }

    /// Lists one resource page by page, handing each kept object to the sink.
    async fn list<K, F>(
        &mut self,
        api: Api<K>,
        dynamic: &K::DynamicType,
        listing: &Listing,
        mut convert: F,
    ) -> Result<()>
    where
        K: Resource + Clone + DeserializeOwned + Debug,
        F: FnMut(K) -> Result<Option<Object>, String>,
    {
        // Events are listed twice under one permission; one refusal is enough.
        if self.is_degraded(&listing.permission()) {
            return Ok(());
        }
        let mut delivered: HashSet<u64> = HashSet::new();
        let mut restarts = 0;
        let mut token: Option<String> = None;
        loop {
            let params = ListParams {
                limit: Some(self.cluster.page_size),
                continue_token: token.take(),
                field_selector: listing.field_selector.map(str::to_owned),
                ..ListParams::default()
            };
            self.report.requests += 1;
            let page = match api.list(&params).await {
                Ok(page) => page,
                Err(err) => match self.failed(listing, err, &mut restarts)? {
                    Next::Restart => continue,
                    Next::Skip => return Ok(()),
                },
            };

            for item in page.items {
                // After a restart, objects already handed over are skipped so
                // that events and pod uses are not counted twice.
                if !delivered.insert(key(&item)) {
                    continue;
                }
                let origin = self.origin::<K>(dynamic, &item);
                let name = display_name(&item);
                match convert(item) {
                    Ok(Some(object)) => {
                        *self.report.objects.entry(listing.kind).or_default() += 1;
                        (self.sink)(Located { object, origin });
                    }
                    Ok(None) => *self.report.dropped.entry(listing.kind).or_default() += 1,
                    Err(problem) => {
                        tracing::warn!(
                            kind = listing.kind,
                            name,
                            error = %problem,
                            "object not understood"
                        );
                        let text = format!("{origin}: {} {name}: {problem}", listing.kind);
                        self.report.errors.push(text);
                    }
                }
            }
            self.progress.read(listing.kind, self.listed(listing.kind));

            match page.metadata.continue_ {
                Some(next) if !next.is_empty() => token = Some(next),
                _ => return Ok(()),
            }
        }
    }

    /// Decides what a failed LIST means: restart, go on without it, or fail.
    fn failed(&mut self, listing: &Listing, err: kube::Error, restarts: &mut u32) -> Result<Next> {
        if is_expired(&err) {
            if *restarts >= MAX_RESTARTS {
                return Err(Error::Expired {
                    resource: listing.qualified(),
                    restarts: *restarts,
                });
            }
            *restarts += 1;
            self.report.restarts += 1;
            tracing::warn!(
                resource = %listing.qualified(),
                restart = *restarts,
                "list expired while paging; starting it again"
            );
            return Ok(Next::Restart);
        }
        match refused(&err) {
            Some(reason) if !listing.required => {
                self.degrade(listing.permission(), reason, listing.without);
                Ok(Next::Skip)
            }
            Some(Reason::Forbidden) => Err(Error::Forbidden {
                permission: listing.permission(),
                message: server_message(&err),
            }),
            _ => Err(Error::from_kube(
                || format!("list {}", listing.qualified()),
                err,
                |source| Error::List {
                    resource: listing.qualified(),
                    source,
                },
            )),
        }
    }

    fn degrade(&mut self, permission: Permission, reason: Reason, without: &'static str) {
        if self.is_degraded(&permission) {
            return;
        }
        let degraded = Degraded {
            permission,
            reason,
            without,
        };
        tracing::warn!(
            %permission,
            ?reason,
            without,
            "part of the cluster not read; auditing without it"
        );
        self.report.degraded.push(degraded);
    }

    fn is_degraded(&self, permission: &Permission) -> bool {
        self.report
            .degraded
            .iter()
            .any(|d| d.permission == *permission)
    }

    fn listed(&self, kind: &str) -> u64 {
        let kept = self.report.objects.get(kind).copied().unwrap_or(0);
        kept + self.report.dropped.get(kind).copied().unwrap_or(0)
    }

    /// `cluster:<context>` followed by the object's API path.
    fn origin<K: Resource>(&self, dynamic: &K::DynamicType, item: &K) -> Origin {
        let meta = item.meta();
        let collection = K::url_path(dynamic, meta.namespace.as_deref());
        let name = meta.name.as_deref().unwrap_or("");
        Origin::new(
            format!("cluster:{}{collection}/{name}", self.cluster.context),
            0,
        )
    }
}

fn snapshot_resource(listing: &Listing) -> ApiResource {
    ApiResource {
        group: SNAPSHOT_GROUP.to_owned(),
        version: "v1".to_owned(),
        api_version: SNAPSHOT_GROUP_VERSION.to_owned(),
        kind: listing.kind.to_owned(),
        plural: listing.resource.to_owned(),
    }
}

fn snapshot(object: DynamicObject) -> Result<Option<Object>, String> {
    let mut snapshot: VolumeSnapshot =
        serde_json::from_value(object.data).map_err(|e| e.to_string())?;
    snapshot.metadata = object.metadata;
    trim::clean(&mut snapshot.metadata);
    Ok(Some(Object::VolumeSnapshot(Box::new(snapshot))))
}

fn snapshot_content(object: DynamicObject) -> Result<Option<Object>, String> {
    let mut content: VolumeSnapshotContent =
        serde_json::from_value(object.data).map_err(|e| e.to_string())?;
    content.metadata = object.metadata;
    trim::clean(&mut content.metadata);
    Ok(Some(Object::VolumeSnapshotContent(Box::new(content))))
}

/// A short key for an object, to recognise it when a list starts again.
fn key<K: Resource>(item: &K) -> u64 {
    let mut hasher = DefaultHasher::new();
    item.meta().namespace.hash(&mut hasher);
    item.meta().name.hash(&mut hasher);
    hasher.finish()
}

fn display_name<K: Resource>(item: &K) -> String {
    let name = item.name_any();
    match item.namespace() {
        Some(ns) => format!("{ns}/{name}"),
        None => name,
    }
}

/// `403` or `404`, by code or by reason (a proxy may answer without a Status).
fn refused(err: &kube::Error) -> Option<Reason> {
    match err {
        kube::Error::Api(status) => Reason::of(status.code, &status.reason),
        _ => None,
    }
}

/// The message of an API error, or the error itself when it has none.
fn server_message(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => other.to_string(),
    }
}

/// `410 Gone` with reason `Expired`: the `continue` token is too old.
fn is_expired(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status)
        if status.code == 410 || status.reason == "Expired" || status.reason == "Gone")
}
