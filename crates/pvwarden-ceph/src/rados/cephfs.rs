//! Reading the subvolumes straight from the CephFS tree through libcephfs.
//!
//! The volumes module keeps each subvolume's record in `/volumes/<group>/<name>/.meta` (its
//! path and state), its data under the path that record names, and its snapshots in
//! `/volumes/<group>/<name>/.snap`. Reading those directly costs a few metadata-server
//! requests per subvolume instead of two commands through the manager, whose Python module
//! answers one command at a time; the walk runs them concurrently on one mount. A
//! subvolume without a `.meta` (the version 1 layout) is read through the manager instead.

#![allow(
    unsafe_code,
    reason = "the libcephfs boundary: every call is wrapped here"
)]

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::ptr;

use jiff::Timestamp;

use super::ffi::{value_cstring, RadosError};

type MountT = *mut c_void;
type DirT = *mut c_void;

/// `struct dirent` of glibc on Linux.
#[repr(C)]
struct Dirent {
    d_ino: u64,
    d_off: i64,
    d_reclen: u16,
    d_type: u8,
    d_name: [c_char; 256],
}

#[repr(C)]
#[derive(Default)]
struct Timespec {
    tv_sec: i64,
    tv_nsec: i64,
}

/// `struct ceph_statx` of `ceph_ll_client.h`.
#[repr(C)]
#[derive(Default)]
struct Statx {
    stx_mask: u32,
    stx_blksize: u32,
    stx_nlink: u32,
    stx_uid: u32,
    stx_gid: u32,
    stx_mode: u16,
    stx_ino: u64,
    stx_size: u64,
    stx_blocks: u64,
    stx_dev: u64,
    stx_rdev: u64,
    stx_atime: Timespec,
    stx_ctime: Timespec,
    stx_mtime: Timespec,
    stx_btime: Timespec,
    stx_version: u64,
}

const CEPH_STATX_BTIME: u32 = 0x800;
const O_RDONLY: c_int = 0;

#[link(name = "cephfs")]
extern "C" {
    fn ceph_create(cmount: *mut MountT, id: *const c_char) -> c_int;
    fn ceph_conf_read_file(cmount: MountT, path: *const c_char) -> c_int;
    fn ceph_conf_set(cmount: MountT, option: *const c_char, value: *const c_char) -> c_int;
    fn ceph_select_filesystem(cmount: MountT, fs_name: *const c_char) -> c_int;
    fn ceph_mount(cmount: MountT, root: *const c_char) -> c_int;
    fn ceph_unmount(cmount: MountT) -> c_int;
    fn ceph_release(cmount: MountT) -> c_int;
    fn ceph_opendir(cmount: MountT, name: *const c_char, dirpp: *mut DirT) -> c_int;
    fn ceph_readdir(cmount: MountT, dirp: DirT) -> *mut Dirent;
    fn ceph_closedir(cmount: MountT, dirp: DirT) -> c_int;
    fn ceph_open(cmount: MountT, path: *const c_char, flags: c_int, mode: u32) -> c_int;
    fn ceph_read(cmount: MountT, fd: c_int, buf: *mut c_char, size: i64, offset: i64) -> c_int;
    fn ceph_close(cmount: MountT, fd: c_int) -> c_int;
    fn ceph_getxattr(
        cmount: MountT,
        path: *const c_char,
        name: *const c_char,
        value: *mut c_void,
        size: usize,
    ) -> c_int;
    fn ceph_statx(
        cmount: MountT,
        path: *const c_char,
        stx: *mut Statx,
        want: u32,
        flags: u32,
    ) -> c_int;
}

fn fail(call: String, rc: c_int) -> RadosError {
    RadosError {
        call,
        errno: rc,
        detail: String::new(),
    }
}

fn cstring(call: &str, s: &str) -> Result<CString, RadosError> {
    CString::new(s).map_err(|_| RadosError {
        call: call.to_owned(),
        errno: -22,
        detail: format!("{s:?} holds a NUL byte"),
    })
}

/// A mounted filesystem. libcephfs mounts may be used from several threads.
pub struct Mount {
    handle: MountT,
    mounted: bool,
}

// SAFETY: libcephfs serialises calls on one mount internally (its client lock).
unsafe impl Send for Mount {}
// SAFETY: as above.
unsafe impl Sync for Mount {}

impl Drop for Mount {
    fn drop(&mut self) {
        // SAFETY: the handle came from `ceph_create`; it is unmounted (if mounted) and
        // released once.
        unsafe {
            if self.mounted {
                ceph_unmount(self.handle);
            }
            ceph_release(self.handle);
        }
    }
}

impl Mount {
    /// Mounts filesystem `fs` as `client.<id>`.
    pub fn connect(
        id: &str,
        conf: Option<&str>,
        options: &[(&str, String)],
        fs: &str,
    ) -> Result<Mount, RadosError> {
        let c_id = cstring("ceph_create", id)?;
        let mut handle: MountT = ptr::null_mut();
        // SAFETY: `handle` is a valid out-pointer; `c_id` lives for the call.
        let rc = unsafe { ceph_create(&mut handle, c_id.as_ptr()) };
        if rc < 0 {
            return Err(fail("ceph_create".into(), rc));
        }
        let mut mount = Mount {
            handle,
            mounted: false,
        };
        if let Some(conf) = conf {
            let c_conf = cstring("ceph_conf_read_file", conf)?;
            // SAFETY: the handle is live and the path outlives the call.
            let rc = unsafe { ceph_conf_read_file(mount.handle, c_conf.as_ptr()) };
            if rc < 0 {
                return Err(fail(format!("reading {conf}"), rc));
            }
        }
        for (key, value) in options {
            let (k, v) = (
                cstring("ceph_conf_set", key)?,
                value_cstring("ceph_conf_set", key, value)?,
            );
            // SAFETY: the handle is live and both strings outlive the call.
            let rc = unsafe { ceph_conf_set(mount.handle, k.as_ptr(), v.as_ptr()) };
            if rc < 0 {
                return Err(fail(format!("setting {key}"), rc));
            }
        }
        let c_fs = cstring("ceph_select_filesystem", fs)?;
        let root = cstring("ceph_mount", "/")?;
        // SAFETY: the handle is live and the strings outlive the calls.
        let rc = unsafe {
            let rc = ceph_select_filesystem(mount.handle, c_fs.as_ptr());
            if rc < 0 {
                rc
            } else {
                ceph_mount(mount.handle, root.as_ptr())
            }
        };
        if rc < 0 {
            return Err(fail(format!("mounting filesystem {fs}"), rc));
        }
        mount.mounted = true;
        Ok(mount)
    }

    /// The names in a directory, without `.` and `..`.
    pub fn list(&self, path: &str) -> Result<Vec<String>, RadosError> {
        let call = format!("listing {path}");
        let c_path = cstring(&call, path)?;
        let mut dir: DirT = ptr::null_mut();
        // SAFETY: the mount is live; `dir` is a valid out-pointer.
        let rc = unsafe { ceph_opendir(self.handle, c_path.as_ptr(), &mut dir) };
        if rc < 0 {
            return Err(fail(call, rc));
        }
        let mut names = Vec::new();
        loop {
            // SAFETY: `dir` is open; the entry stays valid until the next readdir, and its
            // name is NUL-terminated; it is copied before that.
            let name = unsafe {
                let entry = ceph_readdir(self.handle, dir);
                if entry.is_null() {
                    break;
                }
                CStr::from_ptr((*entry).d_name.as_ptr())
                    .to_string_lossy()
                    .into_owned()
            };
            if name != "." && name != ".." {
                names.push(name);
            }
        }
        // SAFETY: `dir` is open and closed once.
        unsafe { ceph_closedir(self.handle, dir) };
        Ok(names)
    }

    /// A small file's contents (up to 64 KiB).
    pub fn read_small(&self, path: &str) -> Result<Vec<u8>, RadosError> {
        let call = format!("reading {path}");
        let c_path = cstring(&call, path)?;
        // SAFETY: the mount is live and the path outlives the call.
        let fd = unsafe { ceph_open(self.handle, c_path.as_ptr(), O_RDONLY, 0) };
        if fd < 0 {
            return Err(fail(call, fd));
        }
        let mut buf = vec![0u8; 64 * 1024];
        let len = i64::try_from(buf.len()).unwrap_or(i64::MAX);
        // SAFETY: `fd` is open and `buf` has `len` writable bytes; `fd` is closed once.
        let n = unsafe {
            let n = ceph_read(self.handle, fd, buf.as_mut_ptr().cast(), len, 0);
            ceph_close(self.handle, fd);
            n
        };
        if n < 0 {
            return Err(fail(call, n));
        }
        buf.truncate(usize::try_from(n).unwrap_or(0));
        Ok(buf)
    }

    /// A virtual extended attribute such as `ceph.dir.rbytes`, as text.
    pub fn xattr(&self, path: &str, name: &str) -> Result<String, RadosError> {
        let call = format!("reading {name} of {path}");
        let (c_path, c_name) = (cstring(&call, path)?, cstring(&call, name)?);
        let mut buf = [0u8; 64];
        // SAFETY: the mount is live; `buf` has its length writable bytes.
        let n = unsafe {
            ceph_getxattr(
                self.handle,
                c_path.as_ptr(),
                c_name.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        if n < 0 {
            return Err(fail(call, n));
        }
        let n = usize::try_from(n).unwrap_or(0).min(buf.len());
        Ok(String::from_utf8_lossy(&buf[..n])
            .trim_end_matches('\0')
            .to_owned())
    }

    /// When a directory was made.
    pub fn birth(&self, path: &str) -> Result<Option<Timestamp>, RadosError> {
        let call = format!("stat of {path}");
        let c_path = cstring(&call, path)?;
        let mut stx = Statx::default();
        // SAFETY: the mount is live; `stx` is a valid `struct ceph_statx`.
        let rc = unsafe { ceph_statx(self.handle, c_path.as_ptr(), &mut stx, CEPH_STATX_BTIME, 0) };
        if rc < 0 {
            return Err(fail(call, rc));
        }
        if stx.stx_mask & CEPH_STATX_BTIME == 0 {
            return Ok(None);
        }
        let nanos = i32::try_from(stx.stx_btime.tv_nsec).unwrap_or(0);
        Ok(Timestamp::new(stx.stx_btime.tv_sec, nanos).ok())
    }
}

/// A subvolume's `.meta` record: its data path and state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meta {
    /// `path`.
    pub path: Option<String>,
    /// `state`.
    pub state: Option<String>,
}

/// Reads the `key = value` lines of a `.meta` record (an INI file).
pub fn parse_meta(text: &str) -> Meta {
    let mut meta = Meta::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim().to_owned();
        match key.trim() {
            "path" => meta.path = Some(value),
            "state" => meta.state = Some(value),
            _ => {}
        }
    }
    meta
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_records_give_path_and_state() {
        let meta = parse_meta(
            "[GLOBAL]\nversion = 2\ntype = subvolume\npath = /volumes/csi/a/u1\nstate = complete\n",
        );
        assert_eq!(meta.path.as_deref(), Some("/volumes/csi/a/u1"));
        assert_eq!(meta.state.as_deref(), Some("complete"));
        assert_eq!(parse_meta("garbage"), Meta::default());
    }
}
