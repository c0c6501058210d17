//! `immunis bench-mllp`: a load generator for end-to-end ingest benchmarks.
//! Opens N MLLP connections to a running registry, each sending its share of
//! the messages one at a time and waiting for the ACK (as EHR interfaces do),
//! and reports throughput and ACK latency percentiles.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use immunis_hl7::{frame, MllpDecoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn load_messages(file: &PathBuf, limit: Option<usize>) -> Result<Vec<Vec<u8>>> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    let batch = immunis_hl7::split_messages(&text);
    let mut out: Vec<Vec<u8>> = batch
        .messages
        .iter()
        .map(|m| {
            m.trim_end_matches(['\n', '\r'])
                .replace('\n', "\r")
                .into_bytes()
        })
        .collect();
    if let Some(l) = limit {
        out.truncate(l);
    }
    if out.is_empty() {
        bail!("{} holds no HL7 messages", file.display());
    }
    Ok(out)
}

async fn connection(addr: SocketAddr, messages: Vec<Vec<u8>>) -> Result<(Vec<Duration>, [u64; 3])> {
    let mut stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connect {addr}"))?;
    stream.set_nodelay(true)?;
    let mut decoder = MllpDecoder::new(16 * 1024 * 1024);
    let mut buf = vec![0u8; 64 * 1024];
    let mut latencies = Vec::with_capacity(messages.len());
    let mut codes = [0u64; 3];
    for m in messages {
        let t0 = Instant::now();
        stream.write_all(&frame(&m)).await?;
        let reply = loop {
            if let Some(r) = decoder.next_frame() {
                break r.map_err(|e| anyhow::anyhow!("bad reply framing: {e}"))?;
            }
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                bail!("server closed the connection");
            }
            decoder.push(buf.get(..n).unwrap_or_default());
        };
        latencies.push(t0.elapsed());
        let text = String::from_utf8_lossy(&reply);
        let code = text
            .split('\r')
            .find(|s| s.starts_with("MSA|"))
            .and_then(|s| s.split('|').nth(1))
            .unwrap_or("");
        match code {
            "AA" => {
                codes[0] += 1;
                if text.contains("QAK|") && !text.contains("|OK|") && !text.contains("|NF|") {
                    codes[1] += 1;
                }
            }
            "AE" => codes[1] += 1,
            _ => codes[2] += 1,
        }
    }
    Ok((latencies, codes))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(idx).copied().unwrap_or(Duration::ZERO)
}

pub fn bench_mllp(
    addr: SocketAddr,
    connections: usize,
    file: PathBuf,
    limit: Option<usize>,
    as_z34: bool,
) -> Result<ExitCode> {
    let mut messages = load_messages(&file, limit)?;
    if as_z34 {
        messages = messages
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                immunis_hl7::qbp::z34_query_for(&String::from_utf8_lossy(m), i)
                    .map(String::into_bytes)
            })
            .collect();
    }
    let total = messages.len();
    let connections = connections.max(1);
    let mut shares: Vec<Vec<Vec<u8>>> = (0..connections).map(|_| Vec::new()).collect();
    for (i, m) in messages.into_iter().enumerate() {
        if let Some(s) = shares.get_mut(i % connections) {
            s.push(m);
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (mut lat, codes, elapsed) = rt.block_on(async move {
        let t0 = Instant::now();
        let handles: Vec<_> = shares
            .into_iter()
            .map(|s| tokio::spawn(connection(addr, s)))
            .collect();
        let mut lat = Vec::with_capacity(total);
        let mut codes = [0u64; 3];
        for h in handles {
            let (l, c) = h.await.context("connection task")??;
            lat.extend(l);
            for (a, b) in codes.iter_mut().zip(c) {
                *a += b;
            }
        }
        anyhow::Ok((lat, codes, t0.elapsed()))
    })?;
    lat.sort();
    println!(
        "{total} messages over {connections} connections in {:.2} s: {:.0} msg/s; ACK latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; AA {} AE {} AR {}",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        percentile(&lat, 0.50).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        codes[0],
        codes[1],
        codes[2]
    );
    Ok(ExitCode::SUCCESS)
}
