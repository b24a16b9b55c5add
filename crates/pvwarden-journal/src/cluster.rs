//! The controller's journal: one ConfigMap per run, in the cluster itself.
//!
//! A ConfigMap `pvwarden-run-<id>` in one namespace holds the run under the
//! key `run` and its entries, as a JSON array, under `entries`. It carries the
//! label `pvwarden.io/journal=run`, which is how runs are listed. Every update
//! is a read followed by a replace carrying the resource version read, so two
//! writers never lose each other's records: the loser gets `409 Conflict`,
//! reads again and retries.
//!
//! A ConfigMap holds at most 1 MiB, so a run of more than a few hundred
//! changes (each entry keeps a copy of the object) does not fit; the write
//! that passes the limit fails and the run stops there, which is safe.

use std::collections::BTreeMap;
use std::future::Future;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{ListParams, ObjectMeta, PostParams};
use kube::{Api, Client};

use crate::{Entry, EntryState, Error, Journal, Result, Run, RunId, RunState};

/// The label that marks a ConfigMap as a journal run.
pub const RUN_LABEL: &str = "pvwarden.io/journal";
/// How many times an update is tried again after a conflict.
const ATTEMPTS: u32 = 8;

/// A journal kept as ConfigMaps in one namespace.
#[derive(Clone)]
pub struct ConfigMapJournal {
    api: Api<ConfigMap>,
    namespace: String,
}

impl std::fmt::Debug for ConfigMapJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigMapJournal")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl ConfigMapJournal {
    /// Keeps runs in `namespace`, which must exist.
    pub fn new(client: Client, namespace: &str) -> ConfigMapJournal {
        ConfigMapJournal {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_owned(),
        }
    }

    fn name(run: &RunId) -> String {
        format!("pvwarden-run-{run}")
    }

    fn kube(&self, operation: &str, run: &RunId, source: kube::Error) -> Error {
        Error::Kube {
            operation: format!(
                "{operation} ConfigMap {}/{}",
                self.namespace,
                Self::name(run)
            ),
            source,
        }
    }

    async fn begin_now(&self, run: &Run) -> Result<()> {
        let labels = BTreeMap::from([
            (RUN_LABEL.to_owned(), "run".to_owned()),
            (
                "app.kubernetes.io/managed-by".to_owned(),
                "pvwarden".to_owned(),
            ),
        ]);
        let map = ConfigMap {
            metadata: ObjectMeta {
                name: Some(Self::name(&run.id)),
                labels: Some(labels),
                ..ObjectMeta::default()
            },
            data: Some(encode(run, &[])?),
            ..ConfigMap::default()
        };
        match self.api.create(&PostParams::default(), &map).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 409 => {
                Err(Error::RunExists(run.id.to_string()))
            }
            Err(source) => Err(self.kube("create", &run.id, source)),
        }
    }

    /// Reads the run's ConfigMap, changes the records, and writes it back with
    /// the resource version read; on a conflict, starts again.
    async fn update(
        &self,
        run: &RunId,
        change: impl Fn(&mut Run, &mut Vec<Entry>) -> Result<()>,
    ) -> Result<()> {
        for attempt in 1..=ATTEMPTS {
            let map = self.read(run).await?;
            let (mut record, mut entries) = decode(run, &map)?;
            change(&mut record, &mut entries)?;
            let mut next = map;
            next.data = Some(encode(&record, &entries)?);
            match self
                .api
                .replace(&Self::name(run), &PostParams::default(), &next)
                .await
            {
                Ok(_) => return Ok(()),
                Err(kube::Error::Api(status)) if status.code == 409 => {
                    tracing::debug!(run = %run, attempt, "journal update conflicted; retrying");
                }
                Err(source) => return Err(self.kube("replace", run, source)),
            }
        }
        Err(Error::Contended {
            run: run.to_string(),
            attempts: ATTEMPTS,
        })
    }

    async fn read(&self, run: &RunId) -> Result<ConfigMap> {
        match self.api.get_opt(&Self::name(run)).await {
            Ok(Some(map)) => Ok(map),
            Ok(None) => Err(Error::UnknownRun(run.to_string())),
            Err(source) => Err(self.kube("read", run, source)),
        }
    }

    async fn runs_now(&self) -> Result<Vec<Run>> {
        let params = ListParams::default().labels(&format!("{RUN_LABEL}=run"));
        let list = self.api.list(&params).await.map_err(|source| Error::Kube {
            operation: format!("list ConfigMaps of namespace {}", self.namespace),
            source,
        })?;
        let mut runs = Vec::new();
        for map in &list.items {
            let name = map.metadata.name.as_deref().unwrap_or_default();
            let id = RunId::parse(name.trim_start_matches("pvwarden-run-"));
            runs.push(decode(&id, map)?.0);
        }
        runs.sort_by(|a, b| (a.started, &a.id).cmp(&(b.started, &b.id)));
        Ok(runs)
    }

    async fn run_now(&self, id: &RunId) -> Result<Option<(Run, Vec<Entry>)>> {
        match self.read(id).await {
            Ok(map) => decode(id, &map).map(Some),
            Err(Error::UnknownRun(_)) => Ok(None),
            Err(err) => Err(err),
        }
    }
}

fn encode(run: &Run, entries: &[Entry]) -> Result<BTreeMap<String, String>> {
    let corrupt = |source| Error::Corrupt {
        what: format!("run {}", run.id),
        source,
    };
    Ok(BTreeMap::from([
        (
            "run".to_owned(),
            serde_json::to_string(run).map_err(corrupt)?,
        ),
        (
            "entries".to_owned(),
            serde_json::to_string(entries).map_err(corrupt)?,
        ),
    ]))
}

fn decode(id: &RunId, map: &ConfigMap) -> Result<(Run, Vec<Entry>)> {
    let corrupt = |source| Error::Corrupt {
        what: format!("run {id}"),
        source,
    };
    let data = map.data.clone().unwrap_or_default();
    let run = data.get("run").map(String::as_str).unwrap_or("null");
    let entries = data.get("entries").map(String::as_str).unwrap_or("[]");
    Ok((
        serde_json::from_str(run).map_err(corrupt)?,
        serde_json::from_str(entries).map_err(corrupt)?,
    ))
}

impl Journal for ConfigMapJournal {
    fn begin(&self, run: &Run) -> impl Future<Output = Result<()>> + Send {
        self.begin_now(run)
    }

    fn record(&self, entry: &Entry) -> impl Future<Output = Result<()>> + Send {
        let entry = entry.clone();
        async move {
            let run = entry.run.clone();
            self.update(&run, |_, entries| {
                if entries.iter().any(|e| e.seq == entry.seq) {
                    return Err(Error::EntryExists {
                        run: run.to_string(),
                        seq: entry.seq,
                    });
                }
                entries.push(entry.clone());
                Ok(())
            })
            .await
        }
    }

    fn mark(
        &self,
        run: &RunId,
        seq: u32,
        state: EntryState,
        error: Option<&str>,
    ) -> impl Future<Output = Result<()>> + Send {
        let error = error.map(str::to_owned);
        async move {
            self.update(run, |_, entries| {
                let entry = entries.iter_mut().find(|e| e.seq == seq).ok_or_else(|| {
                    Error::UnknownEntry {
                        run: run.to_string(),
                        seq,
                    }
                })?;
                entry.state = state;
                entry.error.clone_from(&error);
                Ok(())
            })
            .await
        }
    }

    async fn finish(&self, run: &RunId, state: RunState) -> Result<()> {
        self.update(run, |record, _| {
            record.state = state;
            Ok(())
        })
        .await
    }

    fn runs(&self) -> impl Future<Output = Result<Vec<Run>>> + Send {
        self.runs_now()
    }

    fn run(&self, id: &RunId) -> impl Future<Output = Result<Option<(Run, Vec<Entry>)>>> + Send {
        self.run_now(id)
    }
}
