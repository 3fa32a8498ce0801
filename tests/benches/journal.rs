//! `cargo xtask bench journal`: the PostgreSQL pool against a throwaway
//! cluster on loopback (bounded), each figure beside its baseline:
//! 1,000 sequential queries through the pool vs a new connection per query;
//! pooled query latency vs one dedicated connection; how long after a
//! `pg_ctl restart` the journal answers again.

use std::time::{Duration, Instant};

use resilience_host::journal::postgres::PgJournal;
use resilience_tests::pg::PgCluster;

const N: usize = 1_000;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let pg = PgCluster::start("bench");
        let journal = PgJournal::connect(pg.url(), Default::default()).await.expect("pool");
        journal.get("v", "k").await.expect("warm up");

        // Through the pool (the journal's own lookup query).
        let t = Instant::now();
        let mut pooled = Vec::with_capacity(N);
        for i in 0..N {
            let q = Instant::now();
            journal.get("v", &format!("k{i}")).await.expect("query");
            pooled.push(q.elapsed());
        }
        let pooled_total = t.elapsed();

        // The same query on one dedicated connection.
        let (client, conn) = tokio_postgres::connect(pg.url(), tokio_postgres::NoTls).await.expect("connect");
        tokio::spawn(conn);
        let sql = "SELECT venue, key, operation, params, digest, state, result, error_kind, error_message, created_ms, updated_ms \
                   FROM resilience_journal WHERE venue = $1 AND key = $2";
        let stmt = client.prepare(sql).await.expect("prepare");
        let mut dedicated = Vec::with_capacity(N);
        for i in 0..N {
            let q = Instant::now();
            client.query_opt(&stmt, &[&"v", &format!("k{i}")]).await.expect("query");
            dedicated.push(q.elapsed());
        }

        // A new connection per query (what the seed did before its pool).
        let t = Instant::now();
        for i in 0..N {
            let (c, conn) = tokio_postgres::connect(pg.url(), tokio_postgres::NoTls).await.expect("connect");
            let task = tokio::spawn(conn);
            c.query_opt(sql, &[&"v", &format!("k{i}")]).await.expect("query");
            drop(c);
            let _ = task.await;
        }
        let per_query_total = t.elapsed();

        // Recovery after a restart.
        pg.restart();
        let t = Instant::now();
        while journal.get("v", "k").await.is_err() {
            if t.elapsed() > Duration::from_secs(30) {
                panic!("no recovery within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let recovery = t.elapsed();

        let (pm, dm) = (median(pooled), median(dedicated));
        println!("| scenario | measured | baseline (same run) | ratio |");
        println!("|---|---|---|---|");
        println!(
            "| {N} sequential journal lookups | through the pool: {:.1} ms | connect per query: {:.1} ms | pool {:.1}x faster |",
            pooled_total.as_secs_f64() * 1e3,
            per_query_total.as_secs_f64() * 1e3,
            per_query_total.as_secs_f64() / pooled_total.as_secs_f64()
        );
        println!(
            "| pooled query latency | median {:.0} us | one dedicated connection: median {:.0} us | {:.2}x |",
            pm.as_secs_f64() * 1e6,
            dm.as_secs_f64() * 1e6,
            pm.as_secs_f64() / dm.as_secs_f64()
        );
        println!(
            "| recovery after `pg_ctl restart` (fast) | journal answers {:.0} ms after the server is back | - | - |",
            recovery.as_secs_f64() * 1e3
        );
    });
}
