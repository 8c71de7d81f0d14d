//! `demo-upstream [ADDR]`: runs the echo server (default `127.0.0.1:9000`).

use std::net::SocketAddr;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr: SocketAddr = match std::env::args().nth(1) {
        Some(arg) => arg.parse().map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("bad address `{arg}`: {e}"),
            )
        })?,
        None => SocketAddr::from(([127, 0, 0, 1], 9000)),
    };
    let listener = tokio::net::TcpListener::bind(addr).await?;
    eprintln!(
        "demo-upstream: echoing on http://{}",
        listener.local_addr()?
    );
    demo_upstream::serve(listener, "demo".into()).await;
    Ok(())
}
