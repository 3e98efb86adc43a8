//! `cargo xtask demo`: sends a running stack weeks of made-up traffic (`devstack::demo`), by
//! default to the `up` stack's edge as its first admin.

use devstack::demo::{MAX_BATCH_EVENTS, Options, Plan};

use crate::local;

/// Send a running stack (default: the `up` stack's edge) weeks of made-up traffic through the public SDK routes
#[derive(clap::Args)]
pub(crate) struct Args {
    /// Edge's base URL [default: the `up` stack's edge]
    #[arg(long)]
    url: Option<String>,
    /// How far back the history goes [default: 28]
    #[arg(long, value_parser = days)]
    days: Option<u32>,
    /// Distinct visitors over the whole history [default: 1500]
    #[arg(long, value_parser = visitors)]
    visitors: Option<u32>,
    /// Everything random follows from it [default: 1]
    #[arg(long)]
    seed: Option<u64>,
    /// The admin who reads (or issues) the built-in project's write key [default: ADMIN_EMAIL]
    #[arg(long)]
    email: Option<String>,
    /// That admin's password [default: ADMIN_PASSWORD]
    #[arg(long)]
    password: Option<String>,
    /// Events per request [default: 500]
    #[arg(long, value_parser = batch)]
    batch: Option<u32>,
}

/// Everything but the password, which must not reach a log.
impl std::fmt::Debug for Args {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Args")
            .field("url", &self.url)
            .field("days", &self.days)
            .field("visitors", &self.visitors)
            .field("seed", &self.seed)
            .field("email", &self.email)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .field("batch", &self.batch)
            .finish()
    }
}

impl Args {
    /// Sends the traffic and prints what was sent.
    pub(crate) fn run(self) -> anyhow::Result<()> {
        let options = self.options(up_stack()?);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let summary = runtime.block_on(devstack::demo::run(&options))?;
        println!("{}", summary.report(&options.url));
        Ok(())
    }

    /// `defaults` overridden by the flags given.
    pub(crate) fn options(self, defaults: Options) -> Options {
        let mut options = defaults;
        if let Some(url) = self.url {
            options.url = url.trim_end_matches('/').to_owned();
        }
        options.plan.days = self.days.unwrap_or(options.plan.days);
        options.plan.visitors = self.visitors.unwrap_or(options.plan.visitors);
        options.plan.seed = self.seed.unwrap_or(options.plan.seed);
        options.email = self.email.unwrap_or(options.email);
        options.password = self.password.unwrap_or(options.password);
        options.batch_size = self.batch.map_or(options.batch_size, |size| size as usize);
        options
    }
}

/// What `demo` sends, and where, unless told otherwise: the `up` stack's edge and first admin.
pub(crate) fn up_stack() -> anyhow::Result<Options> {
    let (email, password) = local::admin()?;
    Ok(Options {
        url: format!("http://127.0.0.1:{}", local::port("API_GATEWAY_PORT")?),
        email,
        password,
        plan: Plan::default(),
        batch_size: 500,
        progress: true,
    })
}

fn days(text: &str) -> Result<u32, String> {
    number(text, 1..=365)
}

fn visitors(text: &str) -> Result<u32, String> {
    number(text, 1..=1_000_000)
}

fn batch(text: &str) -> Result<u32, String> {
    number(text, 1..=MAX_BATCH_EVENTS as u32)
}

fn number(text: &str, range: std::ops::RangeInclusive<u32>) -> Result<u32, String> {
    text.parse()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            format!(
                "expected a number from {} to {}, got {text:?}",
                range.start(),
                range.end()
            )
        })
}
