//! Auto-remediation through the repair engine, as `pvwarden fix` does it.
//!
//! For the PVs handed over in one pass, the [`Repairer`] reads the cluster
//! afresh (the mirror may lag behind the API), audits it with the same model,
//! plans a `fix` of exactly those PVs with [`pvwarden_repair::plan::plan`],
//! and carries the plan out with [`pvwarden_repair::apply`]. The plan's digest
//! is confirmed by the controller itself: the operator confirmed ahead of time
//! by enabling the rule. Everything else is the engine's: the per-PV lease
//! annotation, the re-read and test operations before each change, the bounded
//! wait, and the journal, kept as ConfigMaps ([`ConfigMapJournal`]) in the
//! controller's namespace, where it outlives the pod. The CLI's `journal`,
//! `undo` and `fix --resume` read only their SQLite file, so a controller's
//! run is read with `kubectl get configmap` and undone by hand from its
//! entries (each keeps the object as it was before the change).
//!
//! What the planner refuses (a dynamic PV whose storage may hold data,
//! `pv-protection`, an attachment, a claim still in use) is logged and left
//! alone: the request never names `--orphan-backend`, `--detach-stale` or
//! `--rebind`. At most `max_changes` changes are made per pass; PVs beyond the
//! budget are returned as deferred, and the controller hands them over again
//! on its next pass while their finding holds.

use jiff::{SignedDuration, Timestamp};
use kube::Client;
use pvwarden_domain::audit::Auditor;
use pvwarden_domain::evidence::Settings as ModelSettings;
use pvwarden_domain::inventory::Inventory;
use pvwarden_domain::version::{Assumptions, Overrides};
use pvwarden_journal::{ConfigMapJournal, RunState};
use pvwarden_kube::progress::Silent;
use pvwarden_kube::Cluster;
use pvwarden_repair::plan::{self, Mode, Plan, Request};
use pvwarden_repair::{Operator, Settings};

use crate::{Remediator, Remedied, RemedyFuture, Wanted};

/// How the controller repairs.
#[derive(Debug, Clone)]
pub struct RepairConfig {
    /// The namespace the journal's ConfigMaps are written in (the controller's own).
    pub namespace: String,
    /// At most this many changes per pass.
    pub max_changes: usize,
    /// The engine's limits (how long to wait for a PV to go, retries).
    pub settings: Settings,
}

impl RepairConfig {
    /// Journals in `namespace`, at most `max_changes` changes per pass, the engine's defaults.
    pub fn new(namespace: &str, max_changes: usize) -> RepairConfig {
        RepairConfig {
            namespace: namespace.into(),
            max_changes,
            settings: Settings::default(),
        }
    }
}

/// A [`Remediator`] that plans and applies with the repair engine.
pub struct Repairer {
    cluster: Cluster,
    journal: ConfigMapJournal,
    config: RepairConfig,
    overrides: Overrides,
    stuck_after: SignedDuration,
    operator: Operator,
}

impl std::fmt::Debug for Repairer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repairer")
            .field("config", &self.config)
            .field("operator", &self.operator)
            .finish_non_exhaustive()
    }
}

impl Repairer {
    /// A repairer on `client`, judging as the controller configured by `controller` does.
    pub fn new(client: Client, controller: &crate::Config, config: RepairConfig) -> Repairer {
        let rules: Vec<&str> = controller.remediate.iter().map(String::as_str).collect();
        let operator = Operator {
            // The replica's identity (its pod), never a credential.
            name: format!("pvwarden-controller/{}", controller.identity),
            context: controller.context.clone(),
            command: format!("serve controller --remediate {}", rules.join(",")),
        };
        Repairer {
            cluster: Cluster::from_client(client.clone(), controller.context.clone()),
            journal: ConfigMapJournal::new(client, &config.namespace),
            config,
            overrides: controller.overrides,
            stuck_after: controller.stuck_after,
            operator,
        }
    }

    /// Reads the whole cluster and plans a fix of `names`.
    async fn plan(&self, names: Vec<String>) -> Result<Plan, String> {
        let cluster = self.cluster.clone();
        let overrides = self.overrides;
        let stuck_after = self.stuck_after;
        let max_changes = self.config.max_changes;
        let handle = tokio::runtime::Handle::current();
        // The reader's future is not `Send` (its sink and progress are plain trait
        // objects), and auditing a large cluster is CPU work: both run on a blocking
        // thread, which drives the read to completion itself.
        tokio::task::spawn_blocking(move || {
            let mut inventory = Inventory::new();
            let mut rejected = Vec::new();
            let mut sink = |located| {
                if let Err(err) = inventory.add(located) {
                    rejected.push(err.to_string());
                }
            };
            let read = handle
                .block_on(cluster.read(&mut sink, &Silent))
                .map_err(|err| format!("cannot read the cluster: {err}"))?;
            // As for `fix`: a kind left out would read as unknown to the model, which could
            // make a finalizer look safe to remove, so a partial read plans nothing.
            if let Some(missing) = read.degraded.first() {
                return Err(format!("cannot plan from a partial read: {missing}"));
            }
            if let Some(error) = read.errors.first().or(rejected.first()) {
                return Err(format!(
                    "cannot plan from a cluster not read whole: {error}"
                ));
            }
            let server = read.server.as_ref().and_then(|s| s.version);
            let assumptions =
                Assumptions::from_components(inventory.components()).resolve(server, &overrides);
            let settings = ModelSettings {
                now: Timestamp::now(),
                stuck_after,
            };
            let auditor = Auditor::new(&inventory, assumptions, settings).with_story(false);
            let (volumes, claims) = plan::verdicts(&auditor, &inventory);
            let request = Request {
                mode: Mode::Fix,
                names,
                nodes_listed: true,
                max_changes: Some(max_changes),
                ..Request::default()
            };
            Ok(plan::plan(&inventory, &volumes, &claims, &request))
        })
        .await
        .map_err(|err| format!("planning failed: {err}"))?
    }

    async fn repair(&self, wanted: &[Wanted]) -> Result<Remedied, String> {
        let mut names: Vec<String> = wanted.iter().map(|w| w.volume.clone()).collect();
        names.sort();
        names.dedup();
        let plan = self.plan(names).await?;
        for refusal in &plan.refused {
            tracing::warn!(
                subject = %refusal.subject,
                reason = %refusal.reason,
                manual = %refusal.manual,
                "remediation refused by the planner; left alone"
            );
        }
        let remedied = Remedied {
            deferred: plan.deferred.clone(),
        };
        if plan.is_empty() {
            return Ok(remedied);
        }
        let digest = plan.digest();
        let client = self.cluster.client();
        let report = pvwarden_repair::apply(
            client,
            &self.journal,
            &plan,
            &digest,
            &self.operator,
            &self.config.settings,
        )
        .await
        .map_err(|err| format!("the repair stopped: {err}"))?;
        for target in &report.targets {
            tracing::info!(
                run = %report.run,
                volume = %target.pv,
                ok = target.ok,
                notes = %target.notes.join("; "),
                "remediated"
            );
        }
        if report.state != RunState::Done {
            return Err(format!(
                "run {} ended {} (its journal: ConfigMap pvwarden-run-{} in namespace {})",
                report.run,
                report.state.as_str(),
                report.run,
                self.config.namespace
            ));
        }
        Ok(remedied)
    }
}

impl Remediator for Repairer {
    fn remediate<'a>(&'a self, wanted: &'a [Wanted]) -> RemedyFuture<'a> {
        Box::pin(self.repair(wanted))
    }
}
