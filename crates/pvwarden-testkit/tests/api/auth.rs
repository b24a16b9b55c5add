//! Authentication (401) and per-token permissions (403).

use pvwarden_testkit::server::{Config, Rule, TokenSpec};
use serde_json::json;

use crate::common::{self, pv, Client, PVS};

fn reader() -> TokenSpec {
    TokenSpec {
        token: "reader-token".to_owned(),
        user: "alice".to_owned(),
        rules: vec![Rule {
            verbs: vec!["get".to_owned(), "list".to_owned(), "watch".to_owned()],
            api_groups: vec![String::new()],
            resources: vec!["persistentvolumes".to_owned()],
        }],
    }
}

#[tokio::test]
async fn requests_without_a_valid_token_get_401() {
    let h = common::start().await;
    let want = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "Unauthorized", "reason": "Unauthorized", "code": 401});
    for token in [None, Some("wrong")] {
        let client = Client::new(&h.server, token);
        assert_eq!(client.get(PVS).await, (401, want.clone()));
        assert_eq!(client.get("/version").await.0, 401);
    }
    h.server.shutdown().await;
}

#[tokio::test]
async fn a_token_may_only_do_what_its_rules_allow() {
    let h = common::start_with(Config {
        tokens: vec![reader()],
        ..Config::default()
    })
    .await;
    let alice = Client::new(&h.server, Some("reader-token"));
    assert_eq!(alice.get(PVS).await.0, 200);
    assert_eq!(
        alice.get("/api/v1").await.0,
        200,
        "discovery is open to every user"
    );

    let (status, body) = alice.post(PVS, &pv("a")).await;
    assert_eq!(status, 403);
    assert_eq!(
        body,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "reason": "Forbidden", "code": 403,
        "message": "persistentvolumes is forbidden: User \"alice\" cannot create resource \
            \"persistentvolumes\" in API group \"\" at the cluster scope",
        "details": {"kind": "persistentvolumes"}})
    );

    let (status, body) = alice
        .get("/api/v1/namespaces/apps/persistentvolumeclaims/c")
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        body["message"],
        "persistentvolumeclaims \"c\" is forbidden: User \"alice\" cannot \
        get resource \"persistentvolumeclaims\" in API group \"\" in the namespace \"apps\""
    );
    assert_eq!(
        body["details"],
        json!({"name": "c", "kind": "persistentvolumeclaims"})
    );

    let (status, body) = alice.get("/apis/storage.k8s.io/v1/storageclasses").await;
    assert_eq!(status, 403);
    assert_eq!(
        body["details"],
        json!({"group": "storage.k8s.io", "kind": "storageclasses"})
    );
    h.server.shutdown().await;
}

#[tokio::test]
async fn a_status_rule_is_separate_from_the_main_resource() {
    let token = TokenSpec {
        rules: vec![Rule {
            verbs: vec!["*".to_owned()],
            api_groups: vec![String::new()],
            resources: vec!["persistentvolumes".to_owned()],
        }],
        ..reader()
    };
    let h = common::start_with(Config {
        tokens: vec![token],
        ..Config::default()
    })
    .await;
    let alice = Client::new(&h.server, Some("reader-token"));
    assert_eq!(alice.post(PVS, &pv("a")).await.0, 201);
    let (status, body) = alice.get(&format!("{PVS}/a/status")).await;
    assert_eq!(status, 403);
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("resource \"persistentvolumes/status\""));
    h.server.shutdown().await;
}

#[tokio::test]
async fn only_the_admin_reaches_the_test_endpoints() {
    let h = common::start_with(Config {
        tokens: vec![reader()],
        ..Config::default()
    })
    .await;
    let alice = Client::new(&h.server, Some("reader-token"));
    let (status, body) = alice.get("/pvwarden-test/backend").await;
    assert_eq!(status, 403);
    assert_eq!(
        body["message"],
        "forbidden: User \"alice\" cannot get path \"/pvwarden-test/backend\""
    );
    h.server.shutdown().await;
}
