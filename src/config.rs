//! Server configuration: one value that builds the whole app, for the binary and tests alike.

use std::time::Duration;

/// Everything [`crate::Server::start`] needs. `Config::default()` is what `hearth serve` runs
/// with when no flag is given; tests start from [`Config::for_tests`].
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port.
    pub bind: String,
    /// SQLite file path, or `:memory:` for a fresh in-memory database.
    pub db: String,
    /// HTTP worker threads.
    pub workers: usize,
    /// Lifetime of an access token.
    pub token_ttl: Duration,
    /// Lifetime of a WebSocket ticket.
    pub ticket_ttl: Duration,
    /// `false` answers `POST /api/auth/register` with 403.
    pub registration_open: bool,
    /// Extra origins allowed to open WebSockets (besides the request's own host), e.g.
    /// `https://chat.example.com`.
    pub allowed_origins: Vec<String>,
    /// The server pings every socket this often.
    pub heartbeat_interval: Duration,
    /// A socket that sends nothing for this long is closed with 4408.
    pub heartbeat_timeout: Duration,
    /// `token_expiring` is sent this long before a socket's token expires.
    pub token_expiring_notice: Duration,
    /// Largest WebSocket message and REST JSON body, in bytes.
    pub max_message_bytes: usize,
    /// Largest body of `POST /api/tasks` (a list of 100000 numbers is over a megabyte).
    pub max_task_body_bytes: usize,
    /// Sustained client frames per second allowed on one socket.
    pub messages_per_second: u32,
    /// Outbound frames queued per socket before it is closed as a slow consumer (4008).
    pub outbound_queue: usize,
    /// Open sockets allowed per user; one more is closed with 4429.
    pub max_connections_per_user: usize,
    /// How long a closing socket's client has to take its last frames and the close frame;
    /// then its TCP connection is cut (it counts against `max_connections_per_user` until then).
    pub close_grace: Duration,
    /// Failed logins for one username within `login_window` before logins are throttled.
    pub login_max_failures: u32,
    /// Window of the failed-login counter, and how long a throttled username waits.
    pub login_window: Duration,
    /// New support guests allowed per client address within `guest_window`.
    pub guest_max_per_window: u32,
    /// Window of the guest-creation counter.
    pub guest_window: Duration,
    /// Tasks running at once, overall.
    pub task_workers: usize,
    /// Tasks running at once per user.
    pub task_per_user: usize,
    /// A pause at each progress report of a task: zero in production; tests and demos use it
    /// to watch progress and cancellation on small inputs.
    pub task_slowdown: Duration,
    /// Argon2 memory cost in KiB (the default is argon2's recommended 19 MiB).
    pub argon2_memory_kib: u32,
    // -- Reliability: health, quotas (issue 9) --
    /// How often the health check proves that the database takes a write.
    pub health_probe_interval: Duration,
    /// Threads that hash and verify passwords, each with one Argon2 buffer of
    /// `argon2_memory_kib` (default: one per core).
    pub hash_workers: usize,
    /// Password hashing jobs waiting for a worker; one more is refused with 429.
    pub hash_queue: usize,
    /// Registrations allowed per client address within `register_window`.
    pub register_max_per_window: u32,
    /// Window of the per-address registration counter.
    pub register_window: Duration,
    // -- Per-user quotas (finding 8) --
    /// Tasks one user may have `queued` or `running` at once; `start_task` beyond answers
    /// `rate_limited` (counted and inserted in one write transaction).
    pub max_active_tasks_per_user: usize,
    /// REST writes (POST/PUT/PATCH/DELETE under `/api/`, but login, register and logout) one
    /// user may make per second, with a burst of twice as many: a token bucket per user, the
    /// numbers of a socket's flood control (`hearth serve` defaults it to
    /// `messages_per_second`).
    pub rest_writes_per_second: u32,
    /// Group rooms one user may create per hour (a window starting at their first creation);
    /// `create_room` beyond answers `rate_limited` until the window ends.
    pub rooms_per_hour: u32,
    /// How long a user without a `/ws/chat/` socket still counts as online before `presence`
    /// announces them offline (so a reload does not flap).
    pub presence_grace: Duration,
    /// Message bus URLs for several nodes (`--bus nats://...`); empty: one node.
    pub bus: Vec<String>,
    /// Proxies (load balancers) whose `X-Forwarded-For` is believed: a peer inside one of these
    /// blocks passes on the client's address (see [`crate::net::client_ip`]). Empty: the header
    /// is ignored and the client is the TCP peer.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: "127.0.0.1:8080".into(),
            db: "hearth.db".into(),
            workers: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            token_ttl: Duration::from_secs(12 * 3600),
            ticket_ttl: Duration::from_secs(60),
            registration_open: true,
            allowed_origins: Vec::new(),
            heartbeat_interval: Duration::from_secs(20),
            heartbeat_timeout: Duration::from_secs(60),
            token_expiring_notice: Duration::from_secs(60),
            max_message_bytes: 64 * 1024,
            max_task_body_bytes: 4 * 1024 * 1024,
            messages_per_second: 20,
            outbound_queue: 256,
            max_connections_per_user: 32,
            close_grace: Duration::from_secs(10),
            login_max_failures: 5,
            login_window: Duration::from_secs(300),
            task_workers: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            task_per_user: 2,
            task_slowdown: Duration::ZERO,
            guest_max_per_window: 20,
            guest_window: Duration::from_secs(60),
            argon2_memory_kib: 19 * 1024,
            health_probe_interval: Duration::from_secs(2),
            hash_workers: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            hash_queue: 64,
            register_max_per_window: 10,
            register_window: Duration::from_secs(3600),
            max_active_tasks_per_user: 10,
            rest_writes_per_second: 20,
            rooms_per_hour: 50,
            presence_grace: crate::presence::OFFLINE_GRACE,
            bus: Vec::new(),
            trusted_proxies: Vec::new(),
        }
    }
}

impl Config {
    /// Refuses, before anything starts, what cannot run: a `--bus` with a SQLite database
    /// (several nodes must share one PostgreSQL database) and a bus address that is not
    /// `nats://host:port`.
    pub fn check(&self) -> Result<(), String> {
        if !self.bus.is_empty() && !crate::db::pg::is_url(&self.db) {
            return Err(
                "--bus connects several nodes sharing one PostgreSQL database \
                 (--db postgres://...); it cannot be used with a SQLite database"
                    .into(),
            );
        }
        for url in &self.bus {
            if !url.starts_with("nats://") {
                return Err(format!("--bus {url}: expected nats://host:port"));
            }
        }
        Ok(())
    }

    /// How long before a socket's token expires `token_expiring` is sent: the configured
    /// notice, but never more than half a token's lifetime, so that a short-lived token is not
    /// warned about (and refreshed) the moment it is made.
    pub fn expiring_notice(&self) -> Duration {
        self.token_expiring_notice.min(self.token_ttl / 2)
    }

    /// A configuration for tests: a random port on loopback, a fresh in-memory database, one
    /// worker, a cheaper Argon2 so the suite stays fast, and registrations per address
    /// unlimited in practice (every test client is 127.0.0.1). So are REST writes per user:
    /// load and failure tests write from several tasks as fast as they can. The other per-user
    /// quotas keep their defaults; tests of the quotas set their own limits.
    pub fn for_tests() -> Self {
        Config {
            bind: "127.0.0.1:0".into(),
            db: ":memory:".into(),
            workers: 1,
            argon2_memory_kib: 1024,
            register_max_per_window: 100_000,
            rest_writes_per_second: 100_000,
            ..Config::default()
        }
    }
}
