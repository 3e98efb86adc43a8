//! The events the query scenarios read: users who come back over the weeks, in sessions that
//! browse, add to cart and sometimes buy, over the last 60 days, generated from a fixed seed;
//! and identity links that join some of them into persons.

use std::path::Path;
use std::process::Command;

use ::sink::row::EventRow;
use devstack::clickhouse::ClickHouse;
use devstack::demo::Rng;
use uuid::Uuid;

const PATHS: &[&str] = &[
    "/",
    "/pricing",
    "/docs",
    "/blog",
    "/blog/launch",
    "/products",
    "/products/1",
    "/products/2",
    "/products/3",
    "/cart",
    "/checkout",
    "/about",
    "/careers",
    "/contact",
];
const BROWSERS: &[&str] = &["Chrome", "Firefox", "Safari", "Edge", "Samsung Internet"];
const OSES: &[&str] = &["Windows", "macOS", "Linux", "iOS", "Android"];
const DEVICES: &[&str] = &["desktop", "mobile", "tablet"];
const REFERRERS: &[&str] = &[
    "",
    "",
    "google.com",
    "news.ycombinator.com",
    "twitter.com",
    "github.com",
];
const PLANS: &[&str] = &["free", "pro", "team"];

/// Generates sessions of `users` users between `start` and `now` (Unix seconds).
struct Generator {
    rng: Rng,
    project: Uuid,
    users: u64,
    start: i64,
    now: i64,
    sequence: u64,
}

/// What the events of one session share.
struct Visit {
    user: u64,
    referrer: &'static str,
    session: String,
}

/// Free disk the generated events take at their peak, bytes per event: ClickHouse's folder
/// peaked at 23 GB while 100 M events were inserted and merged (10.2 GB once merged), so about
/// three times the merged size, 0.25 GB per 1 M events.
const DISK_BYTES_PER_EVENT: u64 = 250;

/// Fails, before any event is generated, when the file system holding `dir` has less free
/// space than `rows` generated events take at their peak, naming both. When the free space
/// cannot be read (no GNU `df`), says so and goes on.
pub(crate) fn ensure_disk(dir: &Path, rows: usize) -> anyhow::Result<()> {
    let needed = rows as u64 * DISK_BYTES_PER_EVENT;
    let gb = |bytes: u64| bytes as f64 / 1e9;
    let Some(free) = free_bytes(dir) else {
        eprintln!(
            "query: could not read the free disk under {}; {rows} events take about {:.1} GB",
            dir.display(),
            gb(needed)
        );
        return Ok(());
    };
    anyhow::ensure!(
        free >= needed,
        "the query scenarios' {rows} generated events take about {:.1} GB of free disk at their \
         peak (0.25 GB per 1 M events), but {} has {:.1} GB free: free some space, or run \
         with --quick (1 M events)",
        gb(needed),
        dir.display(),
        gb(free)
    );
    Ok(())
}

/// Bytes free to an unprivileged user on the file system holding `dir`, from `df`.
fn free_bytes(dir: &Path) -> Option<u64> {
    let output = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(dir)
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .nth(1)?
        .trim()
        .parse()
        .ok()
}

/// `rows` events (a session is not cut short, so a few more) into `database.events`, created
/// with the sink's schema, streamed in inserts of 200 000 to 1 M (a hundredth of the whole, so
/// 100 M events make 100 inserts, not 500 parts to merge): memory stays that of one session.
pub(crate) async fn insert_events(
    clickhouse: &ClickHouse,
    database: &str,
    project: Uuid,
    rows: usize,
) -> anyhow::Result<()> {
    let server = ::clickhouse::Client::default()
        .with_url(format!("http://127.0.0.1:{}", clickhouse.http_port()))
        .with_validation(false);
    ::sink::schema::apply(&server, database).await?;
    let client = server.with_database(database);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut generator = Generator {
        rng: Rng::with_state(0x9E37_79B9_7F4A_7C15),
        project,
        users: (rows / 50).max(1) as u64,
        start: now - 60 * 86_400,
        now,
        sequence: 0,
    };
    let mut written = 0;
    while written < rows {
        let chunk = (rows - written).min((rows / 100).clamp(200_000, 1_000_000));
        let mut insert = client.insert::<EventRow>("events").await?;
        let mut in_chunk = 0;
        while in_chunk < chunk {
            for row in generator.session() {
                insert.write(&row).await?;
                in_chunk += 1;
            }
        }
        insert.end().await?;
        written += in_chunk;
    }
    link_persons(&client, project, generator.users).await
}

/// Identity links as the sink projects them: every tenth user turns out to be the next one,
/// so queries count persons through some 10 % of the ids linked (200 000 on 100 M events).
async fn link_persons(
    client: &::clickhouse::Client,
    project: Uuid,
    users: u64,
) -> anyhow::Result<()> {
    client
        .query(
            "INSERT INTO person_ids (project_id, distinct_id, person_id, person_key, version, \
             is_deleted) SELECT toUUID(?), concat('user-', toString(number * 10)), toUUID(?), \
             concat('user-', toString(number * 10 + 1)), 1, 0 FROM system.numbers LIMIT ?",
        )
        .bind(project.to_string())
        .bind(project.to_string())
        .bind(users / 10)
        .execute()
        .await?;
    Ok(())
}

impl Generator {
    /// One session: a user, a day (users come back in later weeks), a few events.
    fn session(&mut self) -> Vec<EventRow> {
        let rng = &mut self.rng;
        let user = rng.below(self.users);
        let home_day = (user * 7_919) % 60;
        let day = (home_day + 7 * rng.below(4)).min(59);
        let mut at = self.start + (day * 86_400 + rng.below(86_400)) as i64;
        let visit = Visit {
            user,
            referrer: rng.pick(REFERRERS),
            session: format!("s-{}", rng.next_u64()),
        };
        let length = 3 + rng.below(6);
        let mut carted = false;
        let mut rows = Vec::with_capacity(length as usize);
        for _ in 0..length {
            let rng = &mut self.rng;
            let roll = rng.below(100);
            let (event, path) = if carted && roll < 25 {
                ("purchase", "/checkout")
            } else if roll < 20 {
                carted = true;
                ("add_to_cart", rng.pick(&PATHS[6..9]))
            } else {
                ("$pageview", rng.pick(PATHS))
            };
            at = (at + 10 + rng.below(300) as i64).min(self.now);
            self.sequence += 1;
            let event_id = Uuid::from_u64_pair(rng.next_u64(), rng.next_u64());
            rows.push(self.row(&visit, at, event, path, event_id));
        }
        rows
    }

    /// The stored row of one event of `visit` at `at`.
    fn row(&self, visit: &Visit, at: i64, event: &str, path: &str, event_id: Uuid) -> EventRow {
        let Visit {
            user,
            referrer,
            ref session,
        } = *visit;
        let seconds = u32::try_from(at).unwrap_or(u32::MAX);
        let of = |values: &[&str]| values[(user % values.len() as u64) as usize].to_owned();
        EventRow {
            project_id: self.project,
            date: u16::try_from(at / 86_400).unwrap_or(u16::MAX),
            timestamp: seconds,
            event: event.to_owned(),
            event_id,
            kind: if event == "$pageview" {
                "page"
            } else {
                "track"
            }
            .to_owned(),
            distinct_id: format!("user-{user}"),
            user_id: String::new(),
            session_id: session.clone(),
            received_at: seconds,
            prop_keys: vec!["plan".to_owned()],
            prop_values: vec![of(PLANS)],
            url: format!("https://shop.example{path}"),
            host: "shop.example".to_owned(),
            path: path.to_owned(),
            referrer: if referrer.is_empty() {
                String::new()
            } else {
                format!("https://{referrer}/")
            },
            referrer_domain: referrer.to_owned(),
            browser: of(BROWSERS),
            os: of(OSES),
            device_type: of(DEVICES),
            lib: "web".to_owned(),
            ip: "203.0.113.0".to_owned(),
            is_bot: 0,
            country: String::new(),
            region: String::new(),
            city: String::new(),
            utm_source: String::new(),
            utm_medium: String::new(),
            utm_campaign: String::new(),
            utm_term: String::new(),
            utm_content: String::new(),
            channel: String::new(),
            stream_sequence: self.sequence,
        }
    }
}
