//! The webhook registered with the test API server, as a user installs it:
//! PVs created through the API are changed, refused or let through by it.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::core::v1::PersistentVolume;
use kube::api::{DeleteParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};
use pvwarden_testkit::server::{Config as ServerConfig, Running, Server};
use pvwarden_webhook::tls::{Certificates, SelfSigned};
use pvwarden_webhook::{cabundle, server, watch, Config, Decider, View};
use serde_json::{json, Value};

const CASE: &str = "01-rook-cephfs-static-share-newnamespace";
const ORIGINAL: &str = "pvc-468804a2-9eca-42ac-ae0f-7e8467ee0b27";
const COPY: &str = "pvc-468804a2-9eca-42ac-ae0f-7e8467ee0b27-app-consumer";

struct Cluster {
    server: Running,
    client: Client,
    view: View,
}

async fn client_of(server: &Running) -> Client {
    let kubeconfig = Kubeconfig::from_yaml(&server.kubeconfig).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("client config");
    Client::try_from(config).expect("client")
}

/// The test API server with case 01 loaded, the webhook watching it, and the
/// webhook configurations registered with a generated CA.
async fn start() -> Cluster {
    pvwarden_testkit::server::install_crypto_provider();
    let load = vec![common::cases_dir().join(format!("{CASE}.yaml"))];
    let server = Server::start(ServerConfig {
        load,
        ..ServerConfig::default()
    })
    .await
    .expect("test server starts");
    let client = client_of(&server).await;

    let view = View::new();
    tokio::spawn(watch::run(client.clone(), view.clone()));
    let pki = SelfSigned::generate(&["127.0.0.1".into()]).expect("certificate");
    let tls = Certificates::new(pki.key).server_config().expect("tls");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let webhook = listener.local_addr().expect("address");
    let decider = Arc::new(Decider::new(view.clone(), Config::default()));
    tokio::spawn(server::serve(listener, tls, move |call| {
        let decider = Arc::clone(&decider);
        async move { server::route(&decider, &call) }
    }));

    register(&client, webhook, "Fail").await;
    cabundle::patch(&client, "pvwarden", &pki.ca_pem)
        .await
        .expect("caBundle set");
    // Wait until the view has listed the cluster (a readiness wait, bounded
    // so that a broken watch fails the test instead of hanging it).
    for _ in 0..500 {
        if view.is_ready() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(view.is_ready(), "the view never listed the cluster");
    Cluster {
        server,
        client,
        view,
    }
}

fn webhook_spec(name: &str, url: String, operations: Value, policy: &str) -> Value {
    json!({
        "name": name,
        "clientConfig": {"url": url},
        "rules": [{
            "operations": operations,
            "apiGroups": [""], "apiVersions": ["v1"],
            "resources": ["persistentvolumes", "persistentvolumeclaims"],
            "scope": "*"
        }],
        "failurePolicy": policy,
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        "timeoutSeconds": 5
    })
}

/// Registers both configurations as the packaged manifests do, without a caBundle.
async fn register(client: &Client, at: SocketAddr, policy: &str) {
    let mutating: MutatingWebhookConfiguration = serde_json::from_value(json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": "pvwarden"},
        "webhooks": [webhook_spec(
            "mutate.pvwarden.io", format!("https://{at}/mutate"), json!(["CREATE", "UPDATE"]),
            policy)]
    }))
    .expect("mutating configuration");
    let validating: ValidatingWebhookConfiguration = serde_json::from_value(json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "pvwarden"},
        "webhooks": [webhook_spec(
            "validate.pvwarden.io", format!("https://{at}/validate"),
            json!(["CREATE", "UPDATE", "DELETE"]), policy)]
    }))
    .expect("validating configuration");
    let params = PostParams::default();
    Api::<MutatingWebhookConfiguration>::all(client.clone())
        .create(&params, &mutating)
        .await
        .expect("mutating configuration created");
    Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .create(&params, &validating)
        .await
        .expect("validating configuration created");
}

/// A fresh PV made from one of the case's PVs: new name, no status.
fn variant(of: &str, name: &str, handle_suffix: &str, policy: &str) -> PersistentVolume {
    let (pvs, _) = common::read_case(&common::cases_dir().join(format!("{CASE}.yaml")));
    let mut pv = pvs
        .into_iter()
        .find(|p| p.metadata.name.as_deref() == Some(of))
        .expect("case PV");
    pv.metadata = kube::core::ObjectMeta {
        name: Some(name.into()),
        ..Default::default()
    };
    pv.status = None;
    let spec = pv.spec.as_mut().expect("spec");
    spec.claim_ref = None;
    spec.persistent_volume_reclaim_policy = Some(policy.into());
    if let Some(csi) = spec.csi.as_mut() {
        csi.volume_handle.push_str(handle_suffix);
    }
    pv
}

/// POSTs a PV with the admin token and returns status, Warning headers and body.
async fn post_pv(server: &Running, pv: &PersistentVolume) -> (u16, Vec<String>, Value) {
    let (_, mut sender) = common::tls_connect(server.addr, &[&server.ca_pem]).await;
    let request = hyper::Request::post("/api/v1/persistentvolumes")
        .header("host", server.addr.to_string())
        .header("authorization", format!("Bearer {}", server.admin_token))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(
            serde_json::to_vec(pv).expect("encodes"),
        )))
        .expect("request");
    let response = sender.send_request(request).await.expect("response");
    let status = response.status().as_u16();
    let warnings = response
        .headers()
        .get_all("warning")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    (status, warnings, common::json_body(response).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rook_share_copy_with_delete_is_switched_to_retain() {
    let cluster = start().await;
    let copy = variant(COPY, "app-consumer-2", "-2", "Delete");
    let (status, warnings, body) = post_pv(&cluster.server, &copy).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["spec"]["persistentVolumeReclaimPolicy"], "Retain");
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("299 - ") && w.contains("static-delete-never-deletes")),
        "{warnings:?}"
    );
    let stored = Api::<PersistentVolume>::all(cluster.client.clone())
        .get("app-consumer-2")
        .await
        .expect("stored");
    let policy = stored.spec.and_then(|s| s.persistent_volume_reclaim_policy);
    assert_eq!(policy.as_deref(), Some("Retain"));

    // A dry run is judged the same way and stores nothing.
    let dry = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let again = variant(COPY, "app-consumer-3", "-3", "Delete");
    let answered = Api::<PersistentVolume>::all(cluster.client.clone())
        .create(&dry, &again)
        .await
        .expect("dry run admitted");
    let policy = answered
        .spec
        .and_then(|s| s.persistent_volume_reclaim_policy);
    assert_eq!(policy.as_deref(), Some("Retain"));
    let gone = Api::<PersistentVolume>::all(cluster.client.clone())
        .get_opt("app-consumer-3")
        .await
        .expect("get");
    assert!(gone.is_none(), "a dry run must store nothing");
    cluster.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_pv_with_the_same_handle_is_refused() {
    let cluster = start().await;
    let duplicate = variant(ORIGINAL, "original-again", "", "Retain");
    let api = Api::<PersistentVolume>::all(cluster.client.clone());
    let err = api
        .create(&PostParams::default(), &duplicate)
        .await
        .expect_err("a duplicate handle must be refused");
    let kube::Error::Api(status) = err else {
        panic!("expected an API error, got {err}");
    };
    assert_eq!(status.code, 403, "{status:?}");
    assert!(
        status
            .message
            .starts_with("admission webhook \"validate.pvwarden.io\" denied the request: "),
        "{}",
        status.message
    );
    assert!(
        status.message.contains("duplicate-volume-handle"),
        "{}",
        status.message
    );
    assert!(api.get_opt("original-again").await.expect("get").is_none());
    assert!(cluster.view.pv(ORIGINAL).is_some());
    cluster.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_policy_decides_when_a_webhook_is_down() {
    let cluster = start().await;
    // Nothing listens on port 1 of loopback.
    let broken = |policy: &str| -> ValidatingWebhookConfiguration {
        serde_json::from_value(json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": "zz-broken"},
            "webhooks": [webhook_spec("broken.example.io", "https://127.0.0.1:1/".into(),
                json!(["CREATE"]), policy)]
        }))
        .expect("configuration")
    };
    let configs = Api::<ValidatingWebhookConfiguration>::all(cluster.client.clone());
    configs
        .create(&PostParams::default(), &broken("Ignore"))
        .await
        .expect("created");
    let api = Api::<PersistentVolume>::all(cluster.client.clone());
    let plain = variant(ORIGINAL, "unrelated", "-unrelated", "Retain");
    api.create(&PostParams::default(), &plain)
        .await
        .expect("Ignore lets the request through");

    configs
        .delete("zz-broken", &DeleteParams::default())
        .await
        .expect("deleted");
    configs
        .create(&PostParams::default(), &broken("Fail"))
        .await
        .expect("created");
    let other = variant(ORIGINAL, "unrelated-2", "-unrelated-2", "Retain");
    let err = api
        .create(&PostParams::default(), &other)
        .await
        .expect_err("Fail refuses the request");
    let kube::Error::Api(status) = err else {
        panic!("expected an API error, got {err}");
    };
    assert_eq!(status.code, 500);
    assert!(status
        .message
        .contains("failed calling webhook \"broken.example.io\""));
    cluster.server.shutdown().await;
}
