//! `portico-loadgen`: an open-loop HTTP/1.1 load generator, the fixed-rate
//! latency row of the peer benchmark (`tests/load/peers.sh`).
//!
//! `--rate R` requests per second are spread over `--connections N`
//! keep-alive connections, each sending on its own fixed schedule (one
//! request every N/R seconds, staggered). Latency is measured from when a
//! request was *scheduled*, not when it was sent, so a stalled server is
//! charged for the requests that queued behind the stall (no coordinated
//! omission, as in wrk2). Prints `p50_us p99_us sent errors`.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

struct Args {
    url: http::Uri,
    rate: f64,
    connections: usize,
    seconds: f64,
}

fn args() -> Result<Args> {
    let mut url = None;
    let mut rate = None;
    let mut connections = 32usize;
    let mut seconds = 8.0f64;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--url" => url = Some(value.parse::<http::Uri>().context("--url")?),
            "--rate" => rate = Some(value.parse::<f64>().context("--rate")?),
            "--connections" => connections = value.parse().context("--connections")?,
            "--seconds" => seconds = value.parse().context("--seconds")?,
            _ => bail!(
                "unknown flag {flag}; usage: --url U --rate R [--connections N] [--seconds S]"
            ),
        }
    }
    let url = url.context("--url is required")?;
    let rate = rate.context("--rate is required")?;
    if rate <= 0.0 || connections == 0 || seconds <= 0.0 {
        bail!("--rate, --connections and --seconds must be positive");
    }
    Ok(Args {
        url,
        rate,
        connections,
        seconds,
    })
}

/// One connection's schedule; returns each request's latency in µs and the
/// number of failed requests.
async fn connection(args: &Args, index: usize, start: Instant) -> Result<(Vec<u32>, u64)> {
    let authority = args
        .url
        .authority()
        .context("--url needs host:port")?
        .clone();
    let stream = TcpStream::connect(authority.as_str()).await?;
    stream.set_nodelay(true)?;
    let (mut send, conn) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let interval = Duration::from_secs_f64(args.connections as f64 / args.rate);
    let offset = interval.mul_f64(index as f64 / args.connections as f64);
    let end = start + Duration::from_secs_f64(args.seconds);
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut scheduled = start + offset;
    while scheduled < end {
        tokio::time::sleep_until(scheduled.into()).await;
        let request = http::Request::get(args.url.path_and_query().map_or("/", |p| p.as_str()))
            .header(http::header::HOST, authority.as_str())
            .body(Empty::<Bytes>::new())?;
        let ok = match send.send_request(request).await {
            Ok(response) => {
                let ok = response.status().is_success();
                response.into_body().collect().await.is_ok() && ok
            }
            Err(_) => false,
        };
        if ok {
            let micros = scheduled.elapsed().as_micros();
            latencies.push(u32::try_from(micros).unwrap_or(u32::MAX));
        } else {
            errors += 1;
        }
        scheduled += interval;
    }
    Ok((latencies, errors))
}

fn main() -> Result<()> {
    let args = args()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (mut all, errors) = runtime.block_on(async {
        let start = Instant::now() + Duration::from_millis(100);
        let mut tasks = Vec::new();
        let args = std::sync::Arc::new(args);
        for index in 0..args.connections {
            let args = args.clone();
            tasks.push(tokio::spawn(async move {
                connection(&args, index, start).await
            }));
        }
        let mut all = Vec::new();
        let mut errors = 0;
        for task in tasks {
            let (latencies, failed) = task.await??;
            all.extend(latencies);
            errors += failed;
        }
        Ok::<_, anyhow::Error>((all, errors))
    })?;
    if all.is_empty() {
        bail!("no request succeeded ({errors} failed)");
    }
    all.sort_unstable();
    let at = |q: f64| all[((all.len() - 1) as f64 * q) as usize];
    println!("{} {} {} {}", at(0.5), at(0.99), all.len(), errors);
    Ok(())
}
