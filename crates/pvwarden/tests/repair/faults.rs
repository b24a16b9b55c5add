//! Faults: conflicts, server errors, a provisioner that puts its finalizer back, a run
//! killed half way, and running `fix` twice.
