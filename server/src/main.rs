use server::{config::Config, shutdown_signal, Server};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("configuration error: {e}");
            std::process::exit(2);
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&config.server.log).unwrap_or_else(|e| {
                eprintln!("configuration error: invalid value for APP_LOG: {e}");
                std::process::exit(2);
            }),
        )
        .init();

    let shutdown = shutdown_signal();
    let server = match Server::bind(config.clone()).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("start-up failed: {e}");
            eprintln!("start-up failed: {e}");
            std::process::exit(1);
        }
    };
    let addr = server.local_addr();
    tracing::info!(%addr, database = %server::config::redact_url(&config.database.url), "listening");
    // Not println!: a closed stdout (a supervisor that stopped reading) must not panic the
    // server; these lines are a courtesy, the log has the same facts.
    {
        use std::io::Write;
        let mut out = std::io::stdout();
        let _ = writeln!(
            out,
            "Live shopping is running on http://{addr}  (Ctrl-C to stop)"
        );
        if config.server.demo_data {
            let _ = writeln!(
                out,
                "Demo host sign-in: {} / {}",
                server::demo::DEMO_HOST_EMAIL,
                server::demo::DEMO_HOST_PASSWORD
            );
        }
        let _ = out.flush();
    }
    if let Err(e) = server.run(shutdown).await {
        tracing::error!("server error: {e}");
        std::process::exit(1);
    }
    tracing::info!("stopped");
}
