//! The local WeChat Pay and web-authorisation server as a process, for the browser tests:
//!   wechat-sim --port 3109 --dir DIR --notify-url http://127.0.0.1:3108/payments/wechat/notify
//! writes the merchant's private key and the platform's public key to DIR
//! (`merchant.pem`, `platform.pem`), then `DIR/ready`, and serves until killed. The app under
//! test reads them through its usual `APP_WECHATPAY_*` settings (end2end/playwright.config.ts).

use rsa::pkcs8::{EncodePrivateKey, LineEnding};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() {
    let (Some(port), Some(dir)) = (arg("--port"), arg("--dir")) else {
        eprintln!("usage: wechat-sim --port PORT --dir DIR [--notify-url URL]");
        std::process::exit(2);
    };
    let dir = std::path::PathBuf::from(dir);
    let (merchant, platform, _) = wechat_sim::keys();
    let write = |name: &str, text: &str| {
        std::fs::write(dir.join(name), text).unwrap_or_else(|e| {
            eprintln!("wechat-sim: cannot write {name}: {e}");
            std::process::exit(1)
        })
    };
    let merchant_pem = merchant.to_pkcs8_pem(LineEnding::LF).expect("pem");
    write("merchant.pem", &merchant_pem);
    write(
        "platform.pem",
        &wechat_sim::public_pem(&platform.to_public_key()),
    );
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}"))
        .await
        .unwrap_or_else(|e| {
            eprintln!("wechat-sim: cannot listen on {port}: {e}");
            std::process::exit(1)
        });
    let server = wechat_sim::WechatPayServer::serve(listener);
    if let Some(url) = arg("--notify-url") {
        server.notify_to(url);
    }
    write("ready", "");
    println!(
        "wechat-sim: WeChat Pay and authorisation on {}",
        server.url()
    );
    std::future::pending::<()>().await;
}
