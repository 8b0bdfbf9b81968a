//! rust-criu's plain setters, one line each: the method, its argument type,
//! and the core [`criu::Options`] setter it forwards to. Setters that do
//! more than forward are in client.rs.

use std::os::fd::RawFd;

use crate::client::Criu;

/// One `pub fn setter(&mut self, value: Type)` per line, forwarding the value.
macro_rules! value_setters {
    ($( $(#[$doc:meta])* $setter:ident($ty:ty) => $core:ident; )*) => {
        impl Criu {
            $( $(#[$doc])* pub fn $setter(&mut self, value: $ty) {
                self.options_mut().$core(value);
            } )*
        }
    };
}

/// One `pub fn setter(&mut self, value: String)` per line, forwarding it as `&str`.
macro_rules! text_setters {
    ($( $(#[$doc:meta])* $setter:ident => $core:ident; )*) => {
        impl Criu {
            $( $(#[$doc])* pub fn $setter(&mut self, value: String) {
                self.options_mut().$core(&value);
            } )*
        }
    };
}

value_setters! {
    /// The root of the tree to dump.
    set_pid(i32) => set_pid;
    /// The images directory, as a descriptor that stays open for the call.
    set_images_dir_fd(RawFd) => set_images_dir_fd;
    /// criu's log verbosity, 0 to 4.
    set_log_level(i32) => set_log_level;
    /// Have criu hand over the master side of the restored tree's orphan
    /// pty (with the `orphan-pts-master` notification, which needs
    /// [`Criu::set_notify_scripts`]).
    set_orphan_pts_master(bool) => set_orphan_pts_master;
    /// Keep the tree running after the dump.
    set_leave_running(bool) => set_leave_running;
    /// Allow unix sockets whose peer is outside the tree.
    set_ext_unix_sk(bool) => set_ext_unix_sk;
    /// The tree is a shell job (its session and terminal come from outside).
    set_shell_job(bool) => set_shell_job;
    /// Restore the tree as a sibling of criu (not as its child).
    set_rst_sibling(bool) => set_rst_sibling;
    /// Checkpoint established TCP connections.
    set_tcp_established(bool) => set_tcp_established;
    /// Dump and restore file locks.
    set_file_locks(bool) => set_file_locks;
    /// Dump and restore cgroups.
    set_manage_cgroups(bool) => set_manage_cgroups;
    /// A directory for criu's log and work files, as an open descriptor.
    set_work_dir_fd(RawFd) => set_work_dir_fd;
    /// Ask criu for notifications; the callback of [`Criu::set_notify_cb`]
    /// receives them.
    set_notify_scripts(bool) => set_notify_scripts;
    /// Skip TCP connections still being set up.
    set_tcp_skip_in_flight(bool) => set_tcp_skip_in_flight;
    /// Link unlinked-but-open files back for the dump.
    set_link_remap(bool) => set_link_remap;
    /// Deduplicate pages against the parent images.
    set_auto_dedup(bool) => set_auto_dedup;
    /// A descriptor criu writes one byte to when it is ready (the page
    /// server listening, the restored tree running). As in rust-criu, criu
    /// inherits it only if it is not close-on-exec.
    set_status_fd(i32) => set_status_fd;
    /// Lazy pages: the dump serves memory from a page server instead of
    /// writing it, the restore fetches it on demand.
    set_lazy_pages(bool) => set_lazy_pages;
}

text_setters! {
    /// (Not in rust-criu.) A criu configuration file to read, as
    /// `criu --config`. A file that cannot be opened fails the call (criu
    /// itself would skip it).
    set_config_file => set_config_file;
    /// criu's log file name, in the work directory (by default the images
    /// directory). Naming one also lets a failure's message quote the log.
    set_log_file => set_log_file;
    /// The root directory to restore into.
    set_root => set_root;
    /// The freezer cgroup used to freeze the tree.
    set_freeze_cgroup => set_freeze_cgroup;
    /// Cgroup properties, as a YAML stream.
    set_cgroup_props => set_cgroup_props;
    /// The images of the previous (pre-)dump, relative to the images
    /// directory.
    set_parent_img => set_parent_images;
}
