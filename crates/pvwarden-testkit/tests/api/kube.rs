//! kube-rs against the server: the client layer pvwarden's live reader is built on.

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::PersistentVolume;
use kube::api::{ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::watcher;
use kube::{Api, Client};

use crate::common::{self, pv, PVS};

async fn client(h: &common::Harness) -> Client {
    let kubeconfig = Kubeconfig::from_yaml(&h.server.kubeconfig).unwrap();
    let options = KubeConfigOptions::default();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .unwrap();
    Client::try_from(config).unwrap()
}

#[tokio::test]
async fn kube_rs_lists_pages_and_creates_through_the_kubeconfig() {
    let h = common::start().await;
    for name in ["a", "b", "c"] {
        h.admin.post(PVS, &pv(name)).await;
    }
    let api: Api<PersistentVolume> = Api::all(client(&h).await);
    let page = api.list(&ListParams::default().limit(2)).await.unwrap();
    assert_eq!(page.items.len(), 2);
    let token = page.metadata.continue_.clone().unwrap();
    let rest = api
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 1);

    let new: PersistentVolume = serde_json::from_value(pv("d")).unwrap();
    let created = api.create(&PostParams::default(), &new).await.unwrap();
    assert!(created.metadata.uid.is_some());
    let err = api.create(&PostParams::default(), &new).await.unwrap_err();
    match err {
        kube::Error::Api(status) => assert_eq!(status.reason, "AlreadyExists"),
        other => panic!("expected an API error, got {other}"),
    }
    h.server.shutdown().await;
}

#[tokio::test]
async fn kube_rs_watchers_see_the_initial_list_and_changes() {
    let h = common::start().await;
    h.admin.post(PVS, &pv("a")).await;
    let api: Api<PersistentVolume> = Api::all(client(&h).await);
    for config in [
        watcher::Config::default(),
        watcher::Config::default().streaming_lists(),
    ] {
        let mut events = watcher(api.clone(), config).boxed();
        let mut initial = Vec::new();
        loop {
            match events.try_next().await.unwrap().unwrap() {
                watcher::Event::Init => {}
                watcher::Event::InitApply(pv) => initial.push(pv.metadata.name.unwrap()),
                watcher::Event::InitDone => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(initial, ["a"]);
        let name = "w".to_owned();
        h.admin.post(PVS, &pv(&name)).await;
        loop {
            let event = tokio::time::timeout(std::time::Duration::from_secs(5), events.try_next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            if let watcher::Event::Apply(pv) = event {
                assert_eq!(pv.metadata.name.as_deref(), Some(name.as_str()));
                break;
            }
        }
        h.admin.delete(&format!("{PVS}/{name}")).await;
    }
    h.server.shutdown().await;
}
