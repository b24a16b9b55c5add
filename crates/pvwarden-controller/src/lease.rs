//! Leader election through a `coordination.k8s.io/v1` Lease.
//!
//! Only the leader writes to the cluster (Events). Every write of the Lease
//! is a create, or a replace that carries the `resourceVersion` last read, so
//! the API server refuses it (`409 Conflict`) when another replica wrote in
//! between: two replicas can never both succeed in taking one Lease.
//!
//! A holder's Lease counts as expired when its record (holder and renew
//! time) has not changed for `duration` by *this* replica's clock since it
//! was first seen; clocks of different nodes are never compared. A leader
//! that cannot renew steps down after `renew_deadline`, which is shorter than
//! `duration`, so it has stopped before anyone else may take over. The
//! leaseholder releases the Lease when it shuts down, so that a standby takes
//! over at once rather than after `duration`.
//!
//! A maintained crate for this exists (kube-lease-manager), but it writes the
//! Lease with server-side apply, which the test API server does not serve;
//! this module keeps to GET, POST and PUT.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::Client;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::metrics::Metrics;

/// Where the Lease is and how it is held.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// The Lease's namespace.
    pub namespace: String,
    /// The Lease's name.
    pub name: String,
    /// This replica's identity (its pod name); unique among replicas.
    pub identity: String,
    /// How long a Lease stays valid without renewal.
    pub duration: Duration,
    /// How long a leader keeps leading while renewals fail; less than `duration`.
    pub renew_deadline: Duration,
    /// How often the Lease is read and, when held, renewed.
    pub retry: Duration,
}

impl LeaseConfig {
    /// The usual timings: 15 s validity, 10 s renew deadline, 2 s retry.
    pub fn new(namespace: &str, name: &str, identity: &str) -> LeaseConfig {
        LeaseConfig {
            namespace: namespace.into(),
            name: name.into(),
            identity: identity.into(),
            duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry: Duration::from_secs(2),
        }
    }
}

/// The last record seen of someone else's Lease, and when it was first seen.
#[derive(Debug, PartialEq)]
struct Observed {
    holder: Option<String>,
    renewed: Option<Timestamp>,
}

/// Campaigns for the Lease and keeps `leader` up to date until `stop` turns true.
pub(crate) async fn elect(
    client: Client,
    config: LeaseConfig,
    leader: watch::Sender<bool>,
    mut stop: watch::Receiver<bool>,
    metrics: std::sync::Arc<Metrics>,
) {
    let api: Api<Lease> = Api::namespaced(client, &config.namespace);
    let mut elector = Elector {
        api,
        config,
        observed: None,
        renewed_at: None,
    };
    loop {
        let leading = match elector.try_acquire_or_renew().await {
            Ok(held) => {
                if held {
                    elector.renewed_at = Some(Instant::now());
                }
                held
            }
            Err(err) => {
                metrics.error("lease", "Lease");
                tracing::warn!(lease = %elector.config.name, error = %err, "lease update failed");
                // Keep leading only while the last renewal is recent enough that
                // nobody else can have taken the Lease.
                elector
                    .renewed_at
                    .is_some_and(|at| at.elapsed() < elector.config.renew_deadline)
            }
        };
        if !leading {
            elector.renewed_at = None;
        }
        if *leader.borrow() != leading {
            tracing::info!(
                lease = %elector.config.name,
                identity = %elector.config.identity,
                leading,
                "leadership changed"
            );
            metrics.set_leader(leading);
            leader.send_replace(leading);
        }
        tokio::select! {
            () = tokio::time::sleep(elector.config.retry) => {}
            _ = stop.changed() => break,
        }
        if *stop.borrow() {
            break;
        }
    }
    if *leader.borrow() {
        // Stop acting before the Lease is given up.
        leader.send_replace(false);
        metrics.set_leader(false);
        if let Err(err) = elector.release().await {
            tracing::warn!(lease = %elector.config.name, error = %err, "cannot release lease");
        }
    }
}

struct Elector {
    api: Api<Lease>,
    config: LeaseConfig,
    observed: Option<(Observed, Instant)>,
    renewed_at: Option<Instant>,
}

impl Elector {
    /// Takes or renews the Lease; `Ok(false)` when someone else holds it.
    async fn try_acquire_or_renew(&mut self) -> Result<bool, kube::Error> {
        let now = Timestamp::now();
        let Some(mut lease) = self.api.get_opt(&self.config.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.config.name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(self.spec(now, now, 0)),
            };
            return conflict_is_false(self.api.create(&PostParams::default(), &lease).await);
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        if holder.as_deref() == Some(self.config.identity.as_str()) {
            let acquired = spec.acquire_time.map_or(now, |t| t.0);
            let transitions = spec.lease_transitions.unwrap_or(0);
            lease.spec = Some(self.spec(acquired, now, transitions));
            return self.replace(&lease).await;
        }
        if holder.is_some() && !self.expired(&spec) {
            return Ok(false);
        }
        let transitions = spec.lease_transitions.unwrap_or(0).saturating_add(1);
        lease.spec = Some(self.spec(now, now, transitions));
        let held = self.replace(&lease).await?;
        if held {
            tracing::info!(lease = %self.config.name, previous = ?holder, "lease taken");
        }
        Ok(held)
    }

    /// Whether someone else's record has stood still for longer than its duration.
    fn expired(&mut self, spec: &LeaseSpec) -> bool {
        let record = Observed {
            holder: spec.holder_identity.clone(),
            renewed: spec.renew_time.as_ref().map(|t| t.0),
        };
        let duration = spec
            .lease_duration_seconds
            .and_then(|s| u64::try_from(s).ok())
            .map_or(self.config.duration, Duration::from_secs);
        match &self.observed {
            Some((seen, since)) if *seen == record => since.elapsed() >= duration,
            _ => {
                self.observed = Some((record, Instant::now()));
                false
            }
        }
    }

    fn spec(&self, acquired: Timestamp, renewed: Timestamp, transitions: i32) -> LeaseSpec {
        let seconds = i32::try_from(self.config.duration.as_secs()).unwrap_or(i32::MAX);
        LeaseSpec {
            holder_identity: Some(self.config.identity.clone()),
            lease_duration_seconds: Some(seconds.max(1)),
            acquire_time: Some(MicroTime(acquired)),
            renew_time: Some(MicroTime(renewed)),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    /// A PUT carrying the `resourceVersion` read; a conflict means someone else wrote.
    async fn replace(&self, lease: &Lease) -> Result<bool, kube::Error> {
        let result = self
            .api
            .replace(&self.config.name, &PostParams::default(), lease)
            .await;
        conflict_is_false(result)
    }

    /// Gives the Lease up, if this replica still holds it.
    async fn release(&self) -> Result<(), kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.config.name).await? else {
            return Ok(());
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.renew_time = Some(MicroTime(Timestamp::now()));
        self.replace(&lease).await.map(|_| ())
    }
}

/// A write that lost a race (`409`) is not an error: someone else holds the Lease.
fn conflict_is_false<T>(result: Result<T, kube::Error>) -> Result<bool, kube::Error> {
    match result {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
        Err(err) => Err(err),
    }
}
