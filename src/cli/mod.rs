//! The command line: `hearth serve`, `hearth backup` and `hearth user ...` (`users.rs`).

pub mod users;

use crate::config::Config;
use clap::{Args, Parser, Subcommand};
use std::io::Read;
use std::time::Duration;

/// Hearth: real-time chat and tasks on one SQLite file.
#[derive(Debug, Parser)]
#[command(name = "hearth", version, about)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
// Parsed once at start; boxing the serve flags would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Copy a database consistently, even while a server writes to it (see README: restoring).
    Backup {
        /// Where to write the copy (a new file).
        path: String,
        /// The database to copy.
        #[arg(long, env = "HEARTH_DB", default_value = "hearth.db")]
        db: String,
    },
    /// Manage users.
    User {
        /// What to do with users.
        #[command(subcommand)]
        command: UserCommand,
    },
}

/// `hearth user ...`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input.
    Create {
        /// The username.
        username: String,
        /// Make the user staff (may use the support console).
        #[arg(long)]
        staff: bool,
        /// Database file.
        #[arg(long, env = "HEARTH_DB", default_value = "hearth.db")]
        db: String,
    },
    /// List registered users.
    List {
        /// Database file.
        #[arg(long, env = "HEARTH_DB", default_value = "hearth.db")]
        db: String,
    },
    /// Make a user staff (or, with --off, no longer staff: their console sockets close).
    SetStaff {
        /// The username.
        username: String,
        /// Withdraw staff rights.
        #[arg(long)]
        off: bool,
        /// Database file.
        #[arg(long, env = "HEARTH_DB", default_value = "hearth.db")]
        db: String,
    },
    /// Set a user's password (read from standard input); revokes their tokens.
    Passwd {
        /// The username.
        username: String,
        /// Database file.
        #[arg(long, env = "HEARTH_DB", default_value = "hearth.db")]
        db: String,
    },
    /// Delete a user; their messages stay without a sender, their sockets close.
    Delete {
        /// The username.
        username: String,
        /// Database file.
        #[arg(long, env = "HEARTH_DB", default_value = "hearth.db")]
        db: String,
    },
    /// Revoke every token of a user; their sockets close with 4401.
    Revoke {
        /// The username.
        username: String,
        /// Database file.
        #[arg(long, env = "HEARTH_DB", default_value = "hearth.db")]
        db: String,
    },
}

impl UserCommand {
    /// Runs the command (blocking: Argon2 and SQLite, no async runtime); the text to print.
    pub fn run(self) -> Result<String, String> {
        match self {
            UserCommand::Create {
                username,
                staff,
                db,
            } => user_create(&username, staff, &db),
            UserCommand::List { db } => users::list(&db),
            UserCommand::SetStaff { username, off, db } => users::set_staff(&username, off, &db),
            UserCommand::Passwd { username, db } => users::passwd(&username, &db),
            UserCommand::Delete { username, db } => users::delete(&username, &db),
            UserCommand::Revoke { username, db } => users::revoke(&username, &db),
        }
    }
}

/// `hearth serve` flags; each has an environment variable.
#[derive(Debug, Args, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "HEARTH_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// SQLite database file, or :memory:.
    #[arg(long, env = "HEARTH_DB", default_value = "hearth.db")]
    pub db: String,
    /// Access token lifetime in seconds (at least 60; sockets are warned with
    /// `token_expiring` 60 s before expiry, or half the lifetime if that is shorter).
    #[arg(long, env = "HEARTH_TOKEN_TTL", default_value_t = 12 * 3600,
          value_parser = clap::value_parser!(u64).range(60..))]
    pub token_ttl: u64,
    /// Refuse new registrations (403).
    #[arg(long, env = "HEARTH_NO_REGISTRATION")]
    pub no_registration: bool,
    /// Another origin allowed to open WebSockets (repeatable; comma-separated in the env var).
    #[arg(long, env = "HEARTH_ALLOWED_ORIGIN", value_delimiter = ',')]
    pub allowed_origin: Vec<String>,
    /// Server ping interval, seconds.
    #[arg(long, env = "HEARTH_HEARTBEAT_INTERVAL", default_value_t = 20)]
    pub heartbeat_interval: u64,
    /// Close a silent socket after this many seconds (4408).
    #[arg(long, env = "HEARTH_HEARTBEAT_TIMEOUT", default_value_t = 60)]
    pub heartbeat_timeout: u64,
    /// Largest WebSocket message / JSON body in bytes.
    #[arg(long, env = "HEARTH_MAX_MESSAGE_BYTES", default_value_t = 64 * 1024)]
    pub max_message_bytes: usize,
    /// Largest body of POST /api/tasks in bytes.
    #[arg(long, env = "HEARTH_MAX_TASK_BODY_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_task_body_bytes: usize,
    /// Sustained client frames per second per socket.
    #[arg(long, env = "HEARTH_MESSAGES_PER_SECOND", default_value_t = 20)]
    pub messages_per_second: u32,
    /// Open sockets allowed per user.
    #[arg(long, env = "HEARTH_MAX_CONNECTIONS_PER_USER", default_value_t = 32)]
    pub max_connections_per_user: usize,
    /// Tasks running at once, overall (default: one per core).
    #[arg(long, env = "HEARTH_TASK_WORKERS")]
    pub task_workers: Option<usize>,
    /// Tasks running at once per user.
    #[arg(long, env = "HEARTH_TASK_PER_USER", default_value_t = 2)]
    pub task_per_user: usize,
    /// Pause at each task progress report, in milliseconds (0 in production; demos and the
    /// browser tests use it to watch progress).
    #[arg(long, env = "HEARTH_TASK_SLOWDOWN_MS", default_value_t = 0)]
    pub task_slowdown_ms: u64,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "HEARTH_WORKERS")]
    pub workers: Option<usize>,
    /// Milliseconds a closing socket's client has to read its last frames before its TCP
    /// connection is cut.
    #[arg(long, env = "HEARTH_CLOSE_GRACE_MS", default_value_t = 10_000)]
    pub close_grace_ms: u64,
    /// Password hashing threads, each holding one Argon2 buffer (default: one per core).
    #[arg(long, env = "HEARTH_HASH_WORKERS")]
    pub hash_workers: Option<usize>,
    /// Password hashing jobs allowed to wait; beyond, login/register answer 429.
    #[arg(long, env = "HEARTH_HASH_QUEUE", default_value_t = 64)]
    pub hash_queue: usize,
    /// Registrations allowed per client address per window (429 beyond).
    #[arg(long, env = "HEARTH_REGISTER_MAX_PER_WINDOW", default_value_t = 10)]
    pub register_max_per_window: u32,
    /// Window of the per-address registration limit, in seconds.
    #[arg(long, env = "HEARTH_REGISTER_WINDOW", default_value_t = 3600)]
    pub register_window: u64,
    /// Failed logins per username within the login window before logins answer 429.
    #[arg(long, env = "HEARTH_LOGIN_MAX_FAILURES", default_value_t = 5)]
    pub login_max_failures: u32,
    /// Window of the failed-login counter, in seconds.
    #[arg(long, env = "HEARTH_LOGIN_WINDOW", default_value_t = 300)]
    pub login_window: u64,
    /// New support visitors per client address within the guest window (4429 beyond).
    #[arg(long, env = "HEARTH_GUEST_MAX_PER_WINDOW", default_value_t = 20)]
    pub guest_max_per_window: u32,
    /// Window of the guest-creation counter, in seconds.
    #[arg(long, env = "HEARTH_GUEST_WINDOW", default_value_t = 60)]
    pub guest_window: u64,
    /// Frames queued for one socket before it is closed as a slow consumer (4008).
    #[arg(long, env = "HEARTH_OUTBOUND_QUEUE", default_value_t = 256)]
    pub outbound_queue: usize,
    /// Milliseconds between health write probes.
    #[arg(long, env = "HEARTH_HEALTH_PROBE_MS", default_value_t = 2000)]
    pub health_probe_ms: u64,
    /// Tasks one user may have queued or running at once (429 beyond).
    #[arg(long, env = "HEARTH_MAX_ACTIVE_TASKS_PER_USER", default_value_t = 10)]
    pub max_active_tasks_per_user: usize,
    /// REST writes per user per second, with a burst of twice as many (429 beyond; default:
    /// --messages-per-second).
    #[arg(long, env = "HEARTH_REST_WRITES_PER_SECOND")]
    pub rest_writes_per_second: Option<u32>,
    /// Group rooms one user may create per hour (429 beyond).
    #[arg(long, env = "HEARTH_ROOMS_PER_HOUR", default_value_t = 50)]
    pub rooms_per_hour: u32,
    /// Milliseconds a user without a chat socket still counts as online (presence).
    #[arg(long, env = "HEARTH_PRESENCE_GRACE_MS", default_value_t = 10_000)]
    pub presence_grace_ms: u64,
    /// A message bus for several nodes (`nats://host:port`; repeatable or comma-separated).
    /// Refused with a SQLite database.
    #[arg(long, env = "HEARTH_BUS", value_delimiter = ',')]
    pub bus: Vec<String>,
    /// A proxy or load balancer whose X-Forwarded-For header gives the client's address, as a
    /// CIDR block (`10.0.0.0/8`, `::1/128`) or one address (repeatable or comma-separated).
    /// Without it the header is ignored.
    #[arg(long, env = "HEARTH_TRUSTED_PROXY", value_delimiter = ',',
          value_parser = crate::net::parse_trusted_proxy)]
    pub trusted_proxy: Vec<ipnet::IpNet>,
}

impl Default for ServeArgs {
    fn default() -> Self {
        ServeArgs::from_env_defaults()
    }
}

impl ServeArgs {
    fn from_env_defaults() -> Self {
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            args: ServeArgs,
        }
        Only::parse_from(["hearth"]).args
    }

    /// The configuration these flags describe.
    pub fn into_config(self) -> Config {
        let d = Config::default();
        Config {
            bind: self.bind,
            db: self.db,
            workers: self.workers.unwrap_or(d.workers),
            token_ttl: Duration::from_secs(self.token_ttl),
            registration_open: !self.no_registration,
            allowed_origins: self.allowed_origin,
            heartbeat_interval: Duration::from_secs(self.heartbeat_interval.max(1)),
            heartbeat_timeout: Duration::from_secs(self.heartbeat_timeout.max(1)),
            max_message_bytes: self.max_message_bytes,
            max_task_body_bytes: self.max_task_body_bytes,
            messages_per_second: self.messages_per_second,
            max_connections_per_user: self.max_connections_per_user,
            task_workers: self.task_workers.unwrap_or(d.task_workers),
            task_per_user: self.task_per_user,
            task_slowdown: Duration::from_millis(self.task_slowdown_ms),
            close_grace: Duration::from_millis(self.close_grace_ms),
            hash_workers: self.hash_workers.unwrap_or(d.hash_workers),
            hash_queue: self.hash_queue,
            register_max_per_window: self.register_max_per_window,
            register_window: Duration::from_secs(self.register_window),
            login_max_failures: self.login_max_failures.max(1),
            login_window: Duration::from_secs(self.login_window),
            guest_max_per_window: self.guest_max_per_window,
            guest_window: Duration::from_secs(self.guest_window),
            outbound_queue: self.outbound_queue.max(1),
            health_probe_interval: Duration::from_millis(self.health_probe_ms.max(10)),
            max_active_tasks_per_user: self.max_active_tasks_per_user,
            rest_writes_per_second: self
                .rest_writes_per_second
                .unwrap_or(self.messages_per_second),
            rooms_per_hour: self.rooms_per_hour,
            presence_grace: Duration::from_millis(self.presence_grace_ms),
            bus: self.bus,
            trusted_proxies: self.trusted_proxy,
            ..d
        }
    }
}

/// `hearth user create`: reads the password from standard input (first line).
pub fn user_create(username: &str, staff: bool, db: &str) -> Result<String, String> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| format!("reading the password from standard input: {e}"))?;
    let password = input.lines().next().unwrap_or("");
    let store = crate::db::store::Store::open(db).map_err(|e| e.to_string())?;
    let user = crate::auth::create_user_blocking(&store, username, password, staff)
        .map_err(|e| e.to_string())?;
    Ok(format!(
        "created user {} (id {}){}",
        user.username,
        user.id,
        if user.is_staff { ", staff" } else { "" }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_reach_the_config() {
        let cli = Cli::parse_from([
            "hearth",
            "serve",
            "--bind",
            "127.0.0.1:9",
            "--token-ttl",
            "60",
            "--no-registration",
            "--allowed-origin",
            "http://a.example",
            "--allowed-origin",
            "http://b.example",
            "--task-workers",
            "3",
            "--task-per-user",
            "1",
            "--close-grace-ms",
            "250",
            "--hash-workers",
            "3",
            "--hash-queue",
            "7",
            "--register-max-per-window",
            "4",
            "--register-window",
            "90",
            "--max-active-tasks-per-user",
            "6",
            "--rest-writes-per-second",
            "8",
            "--rooms-per-hour",
            "12",
        ]);
        let Some(Command::Serve(args)) = cli.command else {
            panic!("serve")
        };
        let c = args.into_config();
        assert_eq!(c.bind, "127.0.0.1:9");
        assert_eq!(c.token_ttl, Duration::from_secs(60));
        assert!(!c.registration_open);
        assert_eq!(c.allowed_origins, ["http://a.example", "http://b.example"]);
        assert_eq!((c.task_workers, c.task_per_user), (3, 1));
        assert_eq!(c.db, "hearth.db");
        assert_eq!(c.close_grace, Duration::from_millis(250));
        assert_eq!(
            ServeArgs::default().into_config().close_grace,
            Config::default().close_grace
        );
        assert_eq!((c.hash_workers, c.hash_queue), (3, 7));
        assert_eq!(c.register_max_per_window, 4);
        assert_eq!(c.register_window, Duration::from_secs(90));
        // A token lifetime under a minute is refused.
        assert!(Cli::try_parse_from(["hearth", "serve", "--token-ttl", "59"]).is_err());
        // Flags with no value given keep the built-in defaults.
        let d = Config::default();
        let plain = ServeArgs::default().into_config();
        assert_eq!(
            (plain.login_max_failures, plain.login_window),
            (d.login_max_failures, d.login_window)
        );
        assert_eq!(
            (plain.guest_max_per_window, plain.guest_window),
            (d.guest_max_per_window, d.guest_window)
        );
        assert_eq!(plain.outbound_queue, d.outbound_queue);
        assert_eq!(plain.health_probe_interval, d.health_probe_interval);
        assert_eq!(c.max_active_tasks_per_user, 6);
        assert_eq!(c.rest_writes_per_second, 8);
        assert_eq!(c.rooms_per_hour, 12);
        let d = ServeArgs::default().into_config();
        assert_eq!(
            (
                d.max_active_tasks_per_user,
                d.rest_writes_per_second,
                d.rooms_per_hour
            ),
            (10, 20, 50)
        );
        let Some(Command::Serve(args)) =
            Cli::parse_from(["hearth", "serve", "--messages-per-second", "7"]).command
        else {
            panic!("serve")
        };
        assert_eq!(
            args.into_config().rest_writes_per_second,
            7,
            "REST writes follow the socket's rate"
        );
    }

    #[test]
    fn trusted_proxies_are_parsed_and_bad_ones_refused() {
        let Some(Command::Serve(args)) = Cli::parse_from([
            "hearth",
            "serve",
            "--trusted-proxy",
            "10.0.0.0/8",
            "--trusted-proxy",
            "::1, 192.168.0.1",
        ])
        .command
        else {
            panic!("serve")
        };
        let want: Vec<ipnet::IpNet> = ["10.0.0.0/8", "::1/128", "192.168.0.1/32"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(args.into_config().trusted_proxies, want);
        assert!(ServeArgs::default()
            .into_config()
            .trusted_proxies
            .is_empty());
        let err = Cli::try_parse_from(["hearth", "serve", "--trusted-proxy", "10.0.0.0/33"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--trusted-proxy") && err.contains("CIDR"),
            "{err}"
        );
    }
}
