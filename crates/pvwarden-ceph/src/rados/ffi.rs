//! The few librados and librbd calls pvwarden makes, declared by hand, and safe wrappers.
//!
//! The crate `ceph` (3.2.5, the only maintained-looking librados binding) has no
//! `mgr_command`, which the CephFS volumes module answers on, and offers omap reads only as
//! raw `extern` functions; using it would still mean unsafe code here, plus its old
//! dependencies (nix 0.18, nom 5, uuid 0.8). These declarations follow `librados.h` and
//! `librbd.h` of Ceph 16 (pacific) and later, which keep them stable.
//!
//! Every unsafe block is a call into the library with pointers this module owns for the
//! length of the call; buffers the library allocates are freed with its own free function.

#![allow(
    unsafe_code,
    reason = "the librados boundary: every call is wrapped here"
)]

use std::ffi::{c_char, c_int, c_uchar, c_void, CString};
use std::ptr;

type RadosT = *mut c_void;
type IoctxT = *mut c_void;
type ReadOpT = *mut c_void;
type WriteOpT = *mut c_void;
type OmapIterT = *mut c_void;

#[link(name = "rados")]
extern "C" {
    fn rados_create(cluster: *mut RadosT, id: *const c_char) -> c_int;
    fn rados_conf_read_file(cluster: RadosT, path: *const c_char) -> c_int;
    fn rados_conf_set(cluster: RadosT, option: *const c_char, value: *const c_char) -> c_int;
    fn rados_connect(cluster: RadosT) -> c_int;
    fn rados_shutdown(cluster: RadosT);
    fn rados_mon_command(
        cluster: RadosT,
        cmd: *mut *const c_char,
        cmdlen: usize,
        inbuf: *const c_char,
        inbuflen: usize,
        outbuf: *mut *mut c_char,
        outbuflen: *mut usize,
        outs: *mut *mut c_char,
        outslen: *mut usize,
    ) -> c_int;
    fn rados_mgr_command(
        cluster: RadosT,
        cmd: *mut *const c_char,
        cmdlen: usize,
        inbuf: *const c_char,
        inbuflen: usize,
        outbuf: *mut *mut c_char,
        outbuflen: *mut usize,
        outs: *mut *mut c_char,
        outslen: *mut usize,
    ) -> c_int;
    fn rados_buffer_free(buf: *mut c_char);
    fn rados_pool_lookup(cluster: RadosT, pool_name: *const c_char) -> i64;
    fn rados_ioctx_create2(cluster: RadosT, pool_id: i64, ioctx: *mut IoctxT) -> c_int;
    fn rados_ioctx_destroy(io: IoctxT);
    fn rados_ioctx_set_namespace(io: IoctxT, nspace: *const c_char);
    fn rados_create_read_op() -> ReadOpT;
    fn rados_release_read_op(op: ReadOpT);
    fn rados_read_op_omap_get_vals2(
        op: ReadOpT,
        start_after: *const c_char,
        filter_prefix: *const c_char,
        max_return: u64,
        iter: *mut OmapIterT,
        pmore: *mut c_uchar,
        prval: *mut c_int,
    );
    fn rados_read_op_operate(op: ReadOpT, io: IoctxT, oid: *const c_char, flags: c_int) -> c_int;
    fn rados_omap_get_next2(
        iter: OmapIterT,
        key: *mut *mut c_char,
        val: *mut *mut c_char,
        key_len: *mut usize,
        val_len: *mut usize,
    ) -> c_int;
    fn rados_omap_get_end(iter: OmapIterT);
    fn rados_create_write_op() -> WriteOpT;
    fn rados_release_write_op(op: WriteOpT);
    fn rados_write_op_assert_exists(op: WriteOpT);
    fn rados_write_op_omap_rm_keys(op: WriteOpT, keys: *const *const c_char, keys_len: usize);
    fn rados_write_op_operate(
        op: WriteOpT,
        io: IoctxT,
        oid: *const c_char,
        mtime: *mut c_void,
        flags: c_int,
    ) -> c_int;
    fn rados_remove(io: IoctxT, oid: *const c_char) -> c_int;
    fn rados_write_op_omap_set(
        op: WriteOpT,
        keys: *const *const c_char,
        vals: *const *const c_char,
        lens: *const usize,
        num: usize,
    );
}

#[link(name = "rbd")]
extern "C" {
    fn rbd_trash_move(io: IoctxT, name: *const c_char, delay: u64) -> c_int;
    fn rbd_remove(io: IoctxT, name: *const c_char) -> c_int;
    fn rbd_create(io: IoctxT, name: *const c_char, size: u64, order: *mut c_int) -> c_int;
}

/// A failed librados call: the call and the errno it returned (`-2` is "not found").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{call} failed: {}{}", errno_text(*.errno), detail_text(.detail))]
pub struct RadosError {
    /// What was called.
    pub call: String,
    /// The negative errno.
    pub errno: i32,
    /// The status text a command answered with, if any.
    pub detail: String,
}

fn errno_text(errno: i32) -> String {
    std::io::Error::from_raw_os_error(-errno).to_string()
}

fn detail_text(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(" ({detail})")
    }
}

impl RadosError {
    /// Returns true when the object or entity does not exist.
    pub fn is_not_found(&self) -> bool {
        self.errno == -2
    }
}

fn check(call: impl Into<String>, rc: c_int) -> Result<c_int, RadosError> {
    if rc < 0 {
        Err(RadosError {
            call: call.into(),
            errno: rc,
            detail: String::new(),
        })
    } else {
        Ok(rc)
    }
}

fn cstring(call: &str, s: &str) -> Result<CString, RadosError> {
    CString::new(s).map_err(|_| RadosError {
        call: call.to_owned(),
        errno: -22,
        detail: format!("{s:?} holds a NUL byte"),
    })
}

/// A configuration value as a C string; an error names the option, never the value (it
/// may be the key).
pub(super) fn value_cstring(call: &str, key: &str, value: &str) -> Result<CString, RadosError> {
    CString::new(value).map_err(|_| RadosError {
        call: call.to_owned(),
        errno: -22,
        detail: format!("the value of {key} holds a NUL byte"),
    })
}

/// A connection to a cluster. librados handles are safe to share between threads.
pub struct Cluster {
    handle: RadosT,
}

// SAFETY: librados documents `rados_t` as thread-safe: calls on one handle from several
// threads are allowed.
unsafe impl Send for Cluster {}
// SAFETY: as above.
unsafe impl Sync for Cluster {}

impl Drop for Cluster {
    fn drop(&mut self) {
        // SAFETY: `handle` came from a successful `rados_create` and is shut down once.
        unsafe { rados_shutdown(self.handle) }
    }
}

impl Cluster {
    /// Connects as `client.<id>` with the configuration file and options given.
    pub fn connect(
        id: &str,
        conf: Option<&str>,
        options: &[(&str, String)],
    ) -> Result<Cluster, RadosError> {
        let id = cstring("rados_create", id)?;
        let mut handle: RadosT = ptr::null_mut();
        // SAFETY: `handle` is a valid out-pointer; `id` lives for the call.
        check("rados_create", unsafe {
            rados_create(&mut handle, id.as_ptr())
        })?;
        let cluster = Cluster { handle };
        if let Some(conf) = conf {
            let path = cstring("rados_conf_read_file", conf)?;
            // SAFETY: the handle is live and `path` lives for the call.
            let rc = unsafe { rados_conf_read_file(cluster.handle, path.as_ptr()) };
            check(format!("reading {conf}"), rc)?;
        }
        for (key, value) in options {
            let k = cstring("rados_conf_set", key)?;
            let v = value_cstring("rados_conf_set", key, value)?;
            // SAFETY: the handle is live and both strings live for the call.
            let rc = unsafe { rados_conf_set(cluster.handle, k.as_ptr(), v.as_ptr()) };
            // The message names the option, never its value (it may be the key).
            check(format!("setting {key}"), rc)?;
        }
        // SAFETY: the handle is live and configured.
        check("connecting to the monitors", unsafe {
            rados_connect(cluster.handle)
        })?;
        Ok(cluster)
    }

    /// Sends a JSON command to the monitors; returns the output.
    pub fn mon_command(&self, json: &str) -> Result<Vec<u8>, RadosError> {
        self.command(json, false)
    }

    /// Sends a JSON command to the manager (the volumes module lives there).
    pub fn mgr_command(&self, json: &str) -> Result<Vec<u8>, RadosError> {
        self.command(json, true)
    }

    fn command(&self, json: &str, mgr: bool) -> Result<Vec<u8>, RadosError> {
        let cmd = cstring("command", json)?;
        let mut cmds = [cmd.as_ptr()];
        let mut out: *mut c_char = ptr::null_mut();
        let mut out_len = 0usize;
        let mut status: *mut c_char = ptr::null_mut();
        let mut status_len = 0usize;
        // SAFETY: every pointer is valid for the call; the library allocates `out` and
        // `status`, which are copied and freed below.
        let rc = unsafe {
            let f = if mgr {
                rados_mgr_command
            } else {
                rados_mon_command
            };
            f(
                self.handle,
                cmds.as_mut_ptr(),
                1,
                ptr::null(),
                0,
                &mut out,
                &mut out_len,
                &mut status,
                &mut status_len,
            )
        };
        let output = take_buffer(out, out_len);
        let detail = String::from_utf8_lossy(&take_buffer(status, status_len)).into_owned();
        if rc < 0 {
            return Err(RadosError {
                call: command_name(json),
                errno: rc,
                detail,
            });
        }
        Ok(output)
    }

    /// The id of a pool.
    pub fn pool_id(&self, name: &str) -> Result<i64, RadosError> {
        let call = format!("looking up pool {name}");
        let c_name = cstring(&call, name)?;
        // SAFETY: the handle is live and the name outlives the call.
        let id = unsafe { rados_pool_lookup(self.handle, c_name.as_ptr()) };
        if id < 0 {
            return Err(RadosError {
                call,
                errno: i32::try_from(id).unwrap_or(-2),
                detail: String::new(),
            });
        }
        Ok(id)
    }

    /// Opens a pool by id, in a RADOS namespace (`""` for the default one).
    pub fn ioctx(&self, pool: i64, namespace: &str) -> Result<Ioctx<'_>, RadosError> {
        let mut io: IoctxT = ptr::null_mut();
        // SAFETY: the handle is live and `io` is a valid out-pointer.
        let rc = unsafe { rados_ioctx_create2(self.handle, pool, &mut io) };
        check(format!("opening pool {pool}"), rc)?;
        let ns = cstring("rados_ioctx_set_namespace", namespace)?;
        // SAFETY: `io` is live; the namespace string is copied by the library.
        unsafe { rados_ioctx_set_namespace(io, ns.as_ptr()) };
        Ok(Ioctx {
            io,
            _cluster: std::marker::PhantomData,
        })
    }
}

/// Copies and frees a buffer librados allocated.
fn take_buffer(buf: *mut c_char, len: usize) -> Vec<u8> {
    if buf.is_null() {
        return Vec::new();
    }
    // SAFETY: librados returned `buf` with `len` valid bytes; it is freed once, here.
    unsafe {
        let bytes = std::slice::from_raw_parts(buf.cast::<u8>(), len).to_vec();
        rados_buffer_free(buf);
        bytes
    }
}

/// The `prefix` of a JSON command, for error messages.
fn command_name(json: &str) -> String {
    serde_json::from_str::<serde_json::Value>(json)
        .ok()
        .and_then(|v| v["prefix"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "command".to_owned())
}

/// An open pool and namespace.
pub struct Ioctx<'a> {
    io: IoctxT,
    _cluster: std::marker::PhantomData<&'a Cluster>,
}

impl Drop for Ioctx<'_> {
    fn drop(&mut self) {
        // SAFETY: `io` came from a successful `rados_ioctx_create2` and is destroyed once.
        unsafe { rados_ioctx_destroy(self.io) }
    }
}

/// One page of an omap read.
pub struct OmapPage {
    /// Keys and values, in key order.
    pub entries: Vec<(String, Vec<u8>)>,
    /// Whether more keys follow the last one.
    pub more: bool,
}

impl Ioctx<'_> {
    /// Reads up to `max` omap keys (with their values) after `after` that start with `prefix`,
    /// in one round trip.
    pub fn omap_page(
        &self,
        oid: &str,
        after: &str,
        prefix: &str,
        max: u64,
    ) -> Result<OmapPage, RadosError> {
        let call = format!("reading the omap of {oid}");
        let c_oid = cstring(&call, oid)?;
        let c_after = cstring(&call, after)?;
        let c_prefix = cstring(&call, prefix)?;
        let mut iter: OmapIterT = ptr::null_mut();
        let mut more: c_uchar = 0;
        let mut prval: c_int = 0;
        // SAFETY: the op is created and released here; `iter`, `more` and `prval` outlive
        // the operate call that fills them, and the strings outlive the op.
        let rc = unsafe {
            let op = rados_create_read_op();
            rados_read_op_omap_get_vals2(
                op,
                c_after.as_ptr(),
                c_prefix.as_ptr(),
                max,
                &mut iter,
                &mut more,
                &mut prval,
            );
            let rc = rados_read_op_operate(op, self.io, c_oid.as_ptr(), 0);
            let entries = if rc >= 0 && prval >= 0 && !iter.is_null() {
                read_iter(iter)
            } else {
                Vec::new()
            };
            if !iter.is_null() {
                rados_omap_get_end(iter);
            }
            rados_release_read_op(op);
            if rc < 0 {
                Err(rc)
            } else if prval < 0 {
                Err(prval)
            } else {
                Ok(entries)
            }
        };
        match rc {
            Ok(entries) => Ok(OmapPage {
                entries,
                more: more != 0,
            }),
            Err(errno) => Err(RadosError {
                call,
                errno,
                detail: String::new(),
            }),
        }
    }

    /// Removes omap keys, only if the object exists.
    pub fn omap_remove_keys(&self, oid: &str, keys: &[&str]) -> Result<(), RadosError> {
        let call = format!("removing omap keys of {oid}");
        let c_oid = cstring(&call, oid)?;
        let c_keys = keys
            .iter()
            .map(|k| cstring(&call, k))
            .collect::<Result<Vec<_>, _>>()?;
        let ptrs: Vec<*const c_char> = c_keys.iter().map(|k| k.as_ptr()).collect();
        // SAFETY: the op is created and released here; the key strings and the pointer
        // array outlive the operate call.
        let rc = unsafe {
            let op = rados_create_write_op();
            rados_write_op_assert_exists(op);
            rados_write_op_omap_rm_keys(op, ptrs.as_ptr(), ptrs.len());
            let rc = rados_write_op_operate(op, self.io, c_oid.as_ptr(), ptr::null_mut(), 0);
            rados_release_write_op(op);
            rc
        };
        check(call, rc).map(|_| ())
    }

    /// Sets omap keys, creating the object if needed.
    pub fn omap_set(&self, oid: &str, entries: &[(&str, &str)]) -> Result<(), RadosError> {
        let call = format!("setting omap keys of {oid}");
        let c_oid = cstring(&call, oid)?;
        let keys = entries
            .iter()
            .map(|(k, _)| cstring(&call, k))
            .collect::<Result<Vec<_>, _>>()?;
        let key_ptrs: Vec<*const c_char> = keys.iter().map(|k| k.as_ptr()).collect();
        let val_ptrs: Vec<*const c_char> = entries.iter().map(|(_, v)| v.as_ptr().cast()).collect();
        let lens: Vec<usize> = entries.iter().map(|(_, v)| v.len()).collect();
        // SAFETY: the op is created and released here; keys, values and lengths outlive the
        // operate call, and each value pointer has its length beside it.
        let rc = unsafe {
            let op = rados_create_write_op();
            rados_write_op_omap_set(
                op,
                key_ptrs.as_ptr(),
                val_ptrs.as_ptr(),
                lens.as_ptr(),
                entries.len(),
            );
            let rc = rados_write_op_operate(op, self.io, c_oid.as_ptr(), ptr::null_mut(), 0);
            rados_release_write_op(op);
            rc
        };
        check(call, rc).map(|_| ())
    }

    /// Creates an RBD image of `size` bytes with the default features.
    pub fn rbd_create(&self, image: &str, size: u64) -> Result<(), RadosError> {
        let call = format!("creating image {image}");
        let c_name = cstring(&call, image)?;
        let mut order: c_int = 0;
        // SAFETY: the ioctx is live; the name and `order` outlive the call.
        check(call, unsafe {
            rbd_create(self.io, c_name.as_ptr(), size, &mut order)
        })
        .map(|_| ())
    }

    /// Removes an object.
    pub fn remove(&self, oid: &str) -> Result<(), RadosError> {
        let call = format!("removing {oid}");
        let c_oid = cstring(&call, oid)?;
        // SAFETY: the ioctx is live and the name outlives the call.
        check(call, unsafe { rados_remove(self.io, c_oid.as_ptr()) }).map(|_| ())
    }

    /// Moves an RBD image to the trash (restorable until the trash is purged).
    pub fn rbd_trash_move(&self, image: &str) -> Result<(), RadosError> {
        let call = format!("moving image {image} to the trash");
        let c_name = cstring(&call, image)?;
        // SAFETY: the ioctx is live and the name outlives the call.
        check(call, unsafe { rbd_trash_move(self.io, c_name.as_ptr(), 0) }).map(|_| ())
    }

    /// Removes an RBD image for good.
    pub fn rbd_remove(&self, image: &str) -> Result<(), RadosError> {
        let call = format!("removing image {image}");
        let c_name = cstring(&call, image)?;
        // SAFETY: the ioctx is live and the name outlives the call.
        check(call, unsafe { rbd_remove(self.io, c_name.as_ptr()) }).map(|_| ())
    }
}

/// Drains an omap iterator.
///
/// # Safety
///
/// `iter` must be a live iterator filled by a completed read op.
unsafe fn read_iter(iter: OmapIterT) -> Vec<(String, Vec<u8>)> {
    let mut entries = Vec::new();
    loop {
        let mut key: *mut c_char = ptr::null_mut();
        let mut val: *mut c_char = ptr::null_mut();
        let mut key_len = 0usize;
        let mut val_len = 0usize;
        // SAFETY: the caller guarantees `iter`; the out-pointers are valid.
        let rc =
            unsafe { rados_omap_get_next2(iter, &mut key, &mut val, &mut key_len, &mut val_len) };
        if rc < 0 || key.is_null() {
            break;
        }
        // SAFETY: the iterator owns `key` (`key_len` bytes) and `val` (`val_len` bytes)
        // until the next call; both are copied before it.
        let (k, v) = unsafe {
            let k = std::slice::from_raw_parts(key.cast::<u8>(), key_len);
            let v = if val.is_null() {
                Vec::new()
            } else {
                std::slice::from_raw_parts(val.cast::<u8>(), val_len).to_vec()
            };
            (String::from_utf8_lossy(k).into_owned(), v)
        };
        entries.push((k, v));
    }
    entries
}
