//! Child processes that never outlive us. Each child is spawned from one long-lived thread with
//! `PR_SET_PDEATHSIG`, so the kernel signals it when this process ends, however it ends
//! (a panicking test binary, `kill -9` of `cargo xtask up`). Children get their own process
//! group, so a Ctrl-C in the terminal reaches only us and we stop them in order.

#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;

/// How a child is started and stopped.
#[derive(Debug, Clone)]
pub struct Options {
    /// Signal for an orderly stop (`SIGTERM` for most servers, `SIGINT` for PostgreSQL's fast
    /// shutdown). It is also the parent-death signal.
    pub stop_signal: i32,
    /// How long an orderly stop may take before `SIGKILL`.
    pub stop_timeout: Duration,
    /// Run as this (uid, gid) instead of ours (PostgreSQL refuses to run as root).
    pub run_as: Option<(u32, u32)>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            stop_signal: libc::SIGTERM,
            stop_timeout: Duration::from_secs(20),
            run_as: None,
        }
    }
}

/// A running child process, stopped when dropped.
#[derive(Debug)]
pub struct Process {
    name: String,
    child: Child,
    options: Options,
    exited: Option<ExitStatus>,
}

impl Process {
    /// Spawns `command` with stdout and stderr appended to `log`.
    pub fn spawn(
        name: &str,
        mut command: Command,
        log: &Path,
        options: Options,
    ) -> anyhow::Result<Self> {
        let log_file = File::options()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening log {}", log.display()))?;
        command
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .process_group(0);
        let death_signal = options.stop_signal;
        let run_as = options.run_as;
        // SAFETY: the closure runs in the forked child before exec and calls only
        // async-signal-safe functions (setgroups, setgid, setuid, prctl, getppid).
        unsafe {
            command.pre_exec(move || {
                if let Some((uid, gid)) = run_as {
                    if libc::setgroups(0, std::ptr::null()) != 0
                        || libc::setgid(gid) != 0
                        || libc::setuid(uid) != 0
                    {
                        return Err(io::Error::last_os_error());
                    }
                }
                // After the credential change, which would clear it.
                if libc::prctl(libc::PR_SET_PDEATHSIG, death_signal as libc::c_ulong) != 0 {
                    return Err(io::Error::last_os_error());
                }
                // The spawning thread lives as long as the process, so a re-parented child
                // means we are already gone.
                if libc::getppid() == 1 {
                    return Err(io::Error::other("parent exited during spawn"));
                }
                Ok(())
            });
        }
        let child =
            spawn_from_reaper_thread(command).with_context(|| format!("starting {name}"))?;
        Ok(Self {
            name: name.to_owned(),
            child,
            options,
            exited: None,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time (user and system) the process has used so far, from `/proc`; `None` once it
    /// has exited.
    pub fn cpu_seconds(&self) -> Option<f64> {
        cpu_seconds_of(self.pid())
    }

    /// The exit status, when the child has exited.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().ok().flatten();
        }
        self.exited
    }

    /// Waits until `ready` holds; fails early, with the end of `log`, if the process exits.
    pub fn wait_ready(
        &mut self,
        what: &str,
        timeout: Duration,
        log: &Path,
        mut ready: impl FnMut() -> bool,
    ) -> anyhow::Result<()> {
        let mut exited = None;
        let outcome = crate::wait::until(what, timeout, || {
            exited = self.exit_status();
            exited.is_some() || ready()
        });
        if let Some(status) = exited {
            anyhow::bail!("{} {}:\n{}", self.name, describe(status), log_tail(log, 20));
        }
        outcome.with_context(|| format!("{} log ends with:\n{}", self.name, log_tail(log, 20)))
    }

    /// Sends the stop signal, waits up to the stop timeout, then kills.
    pub fn stop(&mut self) {
        if self.exit_status().is_some() {
            return;
        }
        self.signal(self.options.stop_signal);
        let deadline = Instant::now() + self.options.stop_timeout;
        while Instant::now() < deadline {
            if self.exit_status().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        self.kill();
    }

    /// `SIGKILL`, then reaps the child.
    pub fn kill(&mut self) {
        if self.exit_status().is_none() {
            self.signal(libc::SIGKILL);
            self.exited = self.child.wait().ok();
        }
    }

    fn signal(&self, signal: i32) {
        let Ok(pid) = libc::pid_t::try_from(self.child.id()) else {
            return;
        };
        // SAFETY: kill(2) with a pid we spawned and have not reaped yet, so it is still ours.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Describes how a process ended, for error messages.
pub fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => "ended".to_owned(),
    }
}

type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

/// The parent-death signal fires when the *thread* that forked the child ends, so every child
/// is forked by this one thread, which lives until the process exits.
fn spawn_from_reaper_thread(command: Command) -> io::Result<Child> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (requests, incoming) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("devstack-spawner".to_owned())
            .spawn(move || {
                for (mut command, reply) in incoming {
                    let _ = reply.send(command.spawn());
                }
            })
            .map(|_| ())
            .unwrap_or_else(|err| panic!("cannot start the spawner thread: {err}"));
        Mutex::new(requests)
    });
    let (reply, answer) = mpsc::channel();
    spawner
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .send((command, reply))
        .map_err(|_| io::Error::other("spawner thread is gone"))?;
    answer
        .recv()
        .map_err(|_| io::Error::other("spawner thread is gone"))?
}

/// Last lines of a log file, to explain why a server did not start.
pub fn log_tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The `kB` figure of the line starting with `key` in a `/proc` file such as `meminfo` or
/// `<pid>/status`.
pub fn proc_kib(file: &str, key: &str) -> Option<f64> {
    std::fs::read_to_string(file)
        .ok()?
        .lines()
        .find_map(|line| {
            line.strip_prefix(key)
                .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse().ok())
        })
}

/// CPU time (user and system) the process `pid` has used so far, from `/proc`; `None` when there
/// is no such process.
pub fn cpu_seconds_of(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 2..)?.split(' ').collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // `/proc` counts in USER_HZ, which Linux fixes at 100 for user space.
    Some(ticks as f64 / 100.0)
}
