//! Makes ceph-csi-like volumes on a test Ceph: `pvwarden-ceph-fixture CEPH_CONF SUBVOLUMES
//! IMAGES [FS METADATA_POOL RBD_POOL]`, defaults `cephfs cephfs.cephfs.meta rbd` (the pools
//! `scripts/test-ceph/start.sh` makes). Prints how long it took.

use std::process::ExitCode;

use pvwarden_ceph::rados::fixture::Fixture;
use pvwarden_ceph::rados::Connect;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(conf), Some(subvolumes), Some(images)) = (
        args.first(),
        args.get(1).and_then(|n| n.parse::<usize>().ok()),
        args.get(2).and_then(|n| n.parse::<usize>().ok()),
    ) else {
        eprintln!(
            "usage: pvwarden-ceph-fixture CEPH_CONF SUBVOLUMES IMAGES [FS META_POOL RBD_POOL]"
        );
        return ExitCode::from(2);
    };
    let arg = |i: usize, default: &'static str| args.get(i).map_or(default, String::as_str);
    let connect = Connect {
        conf: Some(conf.into()),
        id: "admin".into(),
        ..Connect::default()
    };
    let started = std::time::Instant::now();
    let result = Fixture::connect(&connect).and_then(|fixture| {
        let fs_uuids: Vec<String> = (0..subvolumes).map(|_| Fixture::uuid()).collect();
        let rbd_uuids: Vec<String> = (0..images).map(|_| Fixture::uuid()).collect();
        fixture.cephfs_volumes(arg(3, "cephfs"), arg(4, "cephfs.cephfs.meta"), &fs_uuids, 8)?;
        fixture.rbd_volumes(arg(5, "rbd"), &rbd_uuids, 8)?;
        Ok(())
    });
    match result {
        Ok(()) => {
            eprintln!(
                "made {subvolumes} subvolumes and {images} images in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("pvwarden-ceph-fixture: {err}");
            ExitCode::FAILURE
        }
    }
}
