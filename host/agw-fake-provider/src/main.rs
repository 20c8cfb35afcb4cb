//! `agw-fake-provider [PORT]`: serves the fake on `127.0.0.1:PORT` (default: any free port)
//! and prints its base URL, for recording the Python gateway against it.

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let port = match std::env::args().nth(1) {
        Some(raw) => raw.parse().map_err(|_| std::io::Error::other(format!("not a port: {raw}")))?,
        None => 0,
    };
    let fake = agw_fake_provider::FakeProvider::bind(std::net::SocketAddr::from(([127, 0, 0, 1], port))).await?;
    println!("{}", fake.base_url());
    tokio::signal::ctrl_c().await?;
    fake.stop();
    Ok(())
}
