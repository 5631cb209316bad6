//! Store faults (the reliability campaign's fourth part): a fault proxy on 127.0.0.1 in front
//! of the S3 server answers some requests itself with 5xx and 429, delays some, drops some
//! connections, and lets some writes land before answering 503 or dropping the connection (a
//! lost acknowledgement). Through it, every write statement either commits once or commits
//! nothing: the log has no gap, every acknowledged write is there once, every failed one is
//! absent, and an UPDATE counter equals the UPDATEs acknowledged. A store that keeps failing
//! gives up within the configured retry time with one line.
//!
//! `LAKESHELL_FAULT_STATEMENTS` sets the statements run through the proxy (24 here;
//! `reliability/run` runs more), `LAKESHELL_RELIABILITY_SEED` the seed, and
//! `LAKESHELL_RELIABILITY_REPORT=path` writes the figures as Markdown.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::common::{campaign_count, campaign_seed, lakeshell, py, run_ok, stderr, stdout, Rng};
use super::s3::{s3_env, start_moto, BOTO};

/// What the proxy does to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// Forwarded, answered as the server answered.
    None,
    /// Answered 503 without forwarding.
    Unavailable,
    /// Answered 500 without forwarding.
    Internal,
    /// Answered 429 (S3's SlowDown) without forwarding.
    Throttled,
    /// Forwarded after a pause.
    Slow,
    /// The connection closed before forwarding.
    Dropped,
    /// A write forwarded (it lands), then answered 503.
    LostAck503,
    /// A write forwarded (it lands), then the connection closed without an answer.
    LostAckDropped,
}

/// Percent chances of each fault, per request.
#[derive(Debug, Clone, Copy)]
pub struct Rates {
    pub unavailable: usize,
    pub internal: usize,
    pub throttled: usize,
    pub slow: usize,
    pub dropped: usize,
    /// Of writes (PUT, POST, DELETE) only.
    pub lost_ack_503: usize,
    pub lost_ack_dropped: usize,
    /// Done to the first write of each commit file, whatever the rates.
    pub first_commit_write: Option<Fault>,
    /// Only requests whose path contains this get faults.
    pub only: Option<&'static str>,
    /// Only writes get faults.
    pub writes_only: bool,
}

impl Rates {
    pub const NONE: Rates = Rates {
        unavailable: 0,
        internal: 0,
        throttled: 0,
        slow: 0,
        dropped: 0,
        lost_ack_503: 0,
        lost_ack_dropped: 0,
        first_commit_write: None,
        only: None,
        writes_only: false,
    };
}

struct State {
    rng: Rng,
    rates: Rates,
    tally: BTreeMap<Fault, usize>,
    /// Faults injected on writes of commit files (`_delta_log/*.json`).
    on_commits: BTreeMap<Fault, usize>,
    /// Commit files written at least once.
    commits_seen: std::collections::HashSet<String>,
}

/// The proxy; it stops when dropped.
pub struct FaultProxy {
    pub endpoint: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.endpoint.trim_start_matches("http://"));
    }
}

impl FaultProxy {
    /// A proxy in front of `upstream` (`http://127.0.0.1:port`) injecting `rates`.
    pub fn start(upstream: &str, rates: Rates, seed: u64) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").to_string();
        let state = Arc::new(Mutex::new(State {
            rng: Rng(seed),
            rates,
            tally: BTreeMap::new(),
            on_commits: BTreeMap::new(),
            commits_seen: Default::default(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (Arc::clone(&state), Arc::clone(&stop));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (s, up) = (Arc::clone(&s), upstream.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, &up, &s);
                });
            }
        });
        FaultProxy {
            endpoint,
            state,
            stop,
        }
    }

    pub fn set_rates(&self, rates: Rates) {
        self.state.lock().unwrap().rates = rates;
    }

    /// Requests seen, by what was done to them.
    pub fn tally(&self) -> BTreeMap<Fault, usize> {
        self.state.lock().unwrap().tally.clone()
    }

    /// Faults injected on requests for commit files.
    pub fn on_commits(&self) -> BTreeMap<Fault, usize> {
        self.state.lock().unwrap().on_commits.clone()
    }
}

/// One HTTP request, as read from the client.
struct Request {
    method: String,
    target: String,
    head: Vec<String>,
    body: Vec<u8>,
}

fn read_request(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<Request>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let mut head = vec![line.trim_end().to_string()];
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end().to_string();
        if h.is_empty() {
            break;
        }
        let lower = h.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        assert!(
            !lower.starts_with("transfer-encoding:"),
            "the fault proxy reads bodies by Content-Length: {h}"
        );
        if !lower.starts_with("connection:") {
            head.push(h);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(Some(Request {
        method,
        target,
        head,
        body,
    }))
}

fn answer(client: &mut TcpStream, status: &str, code: &str) -> std::io::Result<()> {
    let body = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>injected by the fault proxy</Message></Error>");
    write!(
        client,
        "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    client.flush()
}

/// Sends the request upstream on a connection of its own and returns the whole response.
fn forward(req: &Request, upstream: &str) -> std::io::Result<Vec<u8>> {
    let mut up = TcpStream::connect(upstream)?;
    let mut head = req.head.join("\r\n");
    head.push_str("\r\nConnection: close\r\n\r\n");
    up.write_all(head.as_bytes())?;
    up.write_all(&req.body)?;
    up.flush()?;
    let mut response = Vec::new();
    up.read_to_end(&mut response)?;
    Ok(response)
}

/// One request per connection: what the proxy answers always closes it.
fn serve(client: TcpStream, upstream: &str, state: &Mutex<State>) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let Some(req) = read_request(&mut reader)? else {
        return Ok(());
    };
    let mut client = client;
    let write = matches!(req.method.as_str(), "PUT" | "POST" | "DELETE");
    let commit = write && req.target.contains("_delta_log/") && req.target.contains(".json");
    let fault = {
        let mut s = state.lock().unwrap();
        let r = s.rates;
        let first = commit && s.commits_seen.insert(req.target.clone());
        let roll = match r.only {
            Some(part) if !req.target.contains(part) => 100,
            _ if r.writes_only && !write => 100,
            _ => s.rng.below(100),
        };
        let mut at = 0;
        let mut pick = |chance: usize, f: Fault| {
            at += chance;
            (roll < at).then_some(f)
        };
        let f = first
            .then_some(r.first_commit_write)
            .flatten()
            .or_else(|| pick(r.unavailable, Fault::Unavailable))
            .or_else(|| pick(r.internal, Fault::Internal))
            .or_else(|| pick(r.throttled, Fault::Throttled))
            .or_else(|| pick(r.slow, Fault::Slow))
            .or_else(|| pick(r.dropped, Fault::Dropped))
            .or_else(|| {
                write
                    .then(|| pick(r.lost_ack_503, Fault::LostAck503))
                    .flatten()
            })
            .or_else(|| {
                write
                    .then(|| pick(r.lost_ack_dropped, Fault::LostAckDropped))
                    .flatten()
            })
            .unwrap_or(Fault::None);
        *s.tally.entry(f).or_default() += 1;
        if commit && f != Fault::None {
            *s.on_commits.entry(f).or_default() += 1;
        }
        f
    };
    match fault {
        Fault::Unavailable => answer(&mut client, "503 Service Unavailable", "ServiceUnavailable"),
        Fault::Internal => answer(&mut client, "500 Internal Server Error", "InternalError"),
        Fault::Throttled => answer(&mut client, "429 Too Many Requests", "SlowDown"),
        Fault::Dropped => client.shutdown(Shutdown::Both),
        Fault::LostAck503 => {
            forward(&req, upstream)?;
            answer(&mut client, "503 Service Unavailable", "ServiceUnavailable")
        }
        Fault::LostAckDropped => {
            forward(&req, upstream)?;
            client.shutdown(Shutdown::Both)
        }
        Fault::Slow | Fault::None => {
            if fault == Fault::Slow {
                std::thread::sleep(Duration::from_millis(700));
            }
            let response = forward(&req, upstream)?;
            client.write_all(&response)?;
            client.flush()?;
            client.shutdown(Shutdown::Both)
        }
    }
}

/// A statement of the faulty run, and what it does when it commits.
enum Op {
    /// Appends ids `from..from + n`.
    Insert { from: i64, n: i64 },
    /// Adds 1 to the counter row (id 0).
    Bump,
    /// Deletes ids `from..from + n` (appended earlier).
    Delete { from: i64, n: i64 },
    /// Upserts ids `from..from + n`: existing ones get amount -1, new ones are inserted.
    Merge { from: i64, n: i64 },
    /// Compacts: no row changes.
    Optimize,
}

impl Op {
    fn sql(&self) -> String {
        match self {
            Op::Insert { from, n } => format!(
                "INSERT INTO f.t SELECT value, value * 2 FROM generate_series({from}, {})",
                from + n - 1
            ),
            Op::Bump => "UPDATE f.t SET amount = amount + 1 WHERE id = 0".into(),
            Op::Delete { from, n } => format!(
                "DELETE FROM f.t WHERE id BETWEEN {from} AND {}",
                from + n - 1
            ),
            Op::Merge { from, n } => format!(
                "MERGE INTO f.t AS t USING (SELECT value AS id, -1 AS amount FROM generate_series({from}, {})) AS s ON t.id = s.id WHEN MATCHED THEN UPDATE SET amount = s.amount WHEN NOT MATCHED THEN INSERT *",
                from + n - 1
            ),
            Op::Optimize => "OPTIMIZE f.t".into(),
        }
    }

    fn family(&self) -> &'static str {
        match self {
            Op::Insert { .. } => "INSERT",
            Op::Bump => "UPDATE",
            Op::Delete { .. } => "DELETE",
            Op::Merge { .. } => "MERGE",
            Op::Optimize => "OPTIMIZE",
        }
    }
}

/// The rows the table must hold after the acknowledged ops: id -> amount.
fn expected(acked: &[&Op]) -> BTreeMap<i64, i64> {
    let mut rows = BTreeMap::from([(0, 0)]);
    for op in acked {
        match op {
            Op::Insert { from, n } => {
                for id in *from..from + n {
                    assert!(rows.insert(id, id * 2).is_none());
                }
            }
            Op::Bump => *rows.get_mut(&0).unwrap() += 1,
            Op::Delete { from, n } => {
                for id in *from..from + n {
                    rows.remove(&id);
                }
            }
            Op::Merge { from, n } => {
                for id in *from..from + n {
                    rows.insert(id, -1);
                }
            }
            Op::Optimize => {}
        }
    }
    rows
}

/// moto, the proxy in front of it, and a project whose warehouse is on it with `f.t` created
/// (`id`, `amount`; the counter row `0, 0`).
struct Faulty {
    moto: super::s3::Moto,
    proxy: FaultProxy,
    dir: tempfile::TempDir,
}

impl Faulty {
    /// `storage` is the config file's `[storage]` table (the retry settings).
    fn start(seed: u64, storage: &str) -> Faulty {
        let moto = start_moto();
        py(BOTO, &[&moto.endpoint]);
        let proxy = FaultProxy::start(&moto.endpoint, Rates::NONE, seed);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("lakeshell.toml"),
            format!("warehouse = 's3://lake/faulty'\n[storage]\n{storage}"),
        )
        .unwrap();
        let f = Faulty { moto, proxy, dir };
        run_ok(&mut f.command(
            &f.moto.endpoint,
            &[
                "-q",
                "-c",
                "CREATE TABLE f.t (id BIGINT, amount BIGINT); INSERT INTO f.t VALUES (0, 0)",
            ],
        ));
        f
    }

    fn command(&self, endpoint: &str, args: &[&str]) -> Command {
        let mut cmd = lakeshell(self.dir.path());
        s3_env(&mut cmd, endpoint);
        cmd.env_remove("LAKESHELL_TARGET").args(args);
        cmd
    }

    /// Runs `sql` through the proxy.
    fn through(&self, sql: &str) -> std::process::Output {
        self.command(&self.proxy.endpoint, &["-q", "-c", sql])
            .output()
            .unwrap()
    }

    /// `sql`'s CSV read straight from moto.
    fn direct(&self, sql: &str) -> String {
        stdout(&run_ok(
            &mut self.command(&self.moto.endpoint, &["-f", "csv", "-c", sql]),
        ))
    }

    /// The table's versions and their operations, oldest first, read straight from moto.
    fn versions(&self) -> Vec<(u64, String)> {
        let history = self.direct("DESCRIBE HISTORY f.t");
        let mut versions: Vec<(u64, String)> = history
            .lines()
            .skip(1)
            .map(|l| {
                let mut fields = l.split(',');
                let v = fields.next().unwrap().parse().unwrap();
                (v, fields.nth(1).unwrap().to_string())
            })
            .collect();
        versions.sort();
        for (i, (v, _)) in versions.iter().enumerate() {
            assert_eq!(*v, i as u64, "the log has a gap: {versions:?}");
        }
        versions
    }
}

/// Retries as object_store makes them, with shorter pauses so that runs stay short.
const QUICK_RETRIES: &str = "init_backoff = '20ms'\nmax_backoff = '500ms'\nretry_timeout = '60s'\n";

/// A failed statement exits 1 with one line, and nothing panics.
fn one_line_or_ok(sql: &str, out: &std::process::Output) {
    let err = stderr(out);
    assert!(
        !err.contains("panicked")
            && !err.contains("RUST_BACKTRACE")
            && !err.contains("internal error"),
        "{sql}: {err}"
    );
    if !out.status.success() {
        assert_eq!(out.status.code(), Some(1), "{sql}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{sql}: {err}");
    }
}

#[test]
fn writes_through_a_faulty_store_commit_once_or_not_at_all() {
    let seed = campaign_seed();
    let statements = campaign_count("LAKESHELL_FAULT_STATEMENTS", 24);
    let f = Faulty::start(seed, QUICK_RETRIES);
    let proxy = &f.proxy;
    proxy.set_rates(Rates {
        unavailable: 6,
        internal: 3,
        throttled: 4,
        slow: 3,
        dropped: 3,
        lost_ack_503: 12,
        lost_ack_dropped: 10,
        first_commit_write: None,
        only: None,
        writes_only: false,
    });
    let mut rng = Rng(seed ^ 0x5eed);
    let mut ops = Vec::new();
    let mut next_id = 1_i64;
    let mut outcomes: Vec<(Op, bool, String)> = Vec::new();
    let started = Instant::now();
    for i in 0..statements {
        let op = match i % 6 {
            0 | 3 => {
                let op = Op::Insert {
                    from: next_id,
                    n: 50,
                };
                next_id += 50;
                op
            }
            1 => Op::Bump,
            // Within the ids appended so far, so that no later append repeats one.
            2 => Op::Merge {
                from: 1 + rng.below((next_id - 20).max(1) as usize) as i64,
                n: 20,
            },
            4 => Op::Delete {
                from: 1 + rng.below((next_id - 10).max(1) as usize) as i64,
                n: 10,
            },
            _ => Op::Optimize,
        };
        let out = f.through(&op.sql());
        one_line_or_ok(&op.sql(), &out);
        let err = stderr(&out);
        ops.push(op.sql());
        outcomes.push((op, out.status.success(), err.trim_end().to_string()));
    }
    let elapsed = started.elapsed();
    let tally = proxy.tally();
    let on_commits = proxy.on_commits();
    proxy.set_rates(Rates::NONE);
    // Read without the proxy: the log, and the rows.
    let versions = f.versions();
    let history = format!("{versions:?}");
    let acked: Vec<&Op> = outcomes
        .iter()
        .filter(|(_, ok, _)| *ok)
        .map(|(op, _, _)| op)
        .collect();
    let failed: Vec<&(Op, bool, String)> = outcomes.iter().filter(|(_, ok, _)| !*ok).collect();
    // Every write commits once or not at all. A failed UPDATE, DELETE or MERGE may still find
    // nothing to change; OPTIMIZE is allowed to commit nothing. Row-changing commits are
    // counted against the acknowledged statements.
    let commits = |op: &str| versions.iter().filter(|(_, o)| o == op).count();
    let acked_of = |family: &str| acked.iter().filter(|o| o.family() == family).count();
    assert_eq!(
        commits("WRITE"),
        1 + acked_of("INSERT"),
        "appends committed other than acknowledged:\n{history}\n{outcomes:#?}",
        outcomes = outcomes
            .iter()
            .map(|(o, ok, e)| format!("{} -> {ok} {e}", o.sql()))
            .collect::<Vec<_>>()
    );
    assert_eq!(commits("UPDATE"), acked_of("UPDATE"), "{history}");
    assert_eq!(commits("MERGE"), acked_of("MERGE"), "{history}");
    assert!(commits("DELETE") <= acked_of("DELETE"), "{history}");
    // The rows: exactly the acknowledged writes, each once (the counter is every UPDATE
    // acknowledged, none lost, none twice).
    let want: String = std::iter::once("id,amount\n".to_string())
        .chain(
            expected(&acked)
                .into_iter()
                .map(|(id, a)| format!("{id},{a}\n")),
        )
        .collect();
    let got = f.direct("SELECT id, amount FROM f.t ORDER BY id");
    assert!(
        got == want,
        "rows differ from the acknowledged writes (seed {seed})\n{}",
        ops.join("\n")
    );
    // The next write without faults succeeds.
    let last = f.through("INSERT INTO f.t VALUES (-1, -1)");
    assert!(last.status.success(), "{}", stderr(&last));
    if let Ok(path) = std::env::var("LAKESHELL_RELIABILITY_REPORT") {
        let mut md = format!(
            "## Store faults: {statements} statements through the fault proxy in front of moto\n\n\
             Invariant: every statement commits once or not at all; the log has no gap; the rows are \
             exactly the acknowledged writes (an UPDATE counter equals the UPDATEs acknowledged); \
             the next write succeeds. Seed {seed}, {:.0} s.\n\n\
             | requests | count | of them, commit writes |\n|---|---:|---:|\n",
            elapsed.as_secs_f64()
        );
        for (f, n) in &tally {
            md.push_str(&format!(
                "| {f:?} | {n} | {} |\n",
                on_commits.get(f).copied().unwrap_or(0)
            ));
        }
        md.push_str(&format!(
            "\nStatements acknowledged: {}; failed with one line: {}; invariant held: yes.\n",
            acked.len(),
            failed.len()
        ));
        for (op, _, e) in failed.iter().take(5) {
            md.push_str(&format!("\n- `{}`: {e}", op.sql()));
        }
        md.push('\n');
        std::fs::write(path, md).unwrap();
    }
}

/// Each commit's first PUT lands and its answer is lost (a 503, or the connection closed): the
/// retried PUT finds the version taken, and lakeshell recognises its own commit there instead of
/// committing the same rows again at the next version.
#[test]
fn a_lost_acknowledgement_is_not_a_second_copy() {
    for lost in [Fault::LostAck503, Fault::LostAckDropped] {
        let f = Faulty::start(campaign_seed(), QUICK_RETRIES);
        f.proxy.set_rates(Rates {
            first_commit_write: Some(lost),
            ..Rates::NONE
        });
        let writes = [
            "INSERT INTO f.t VALUES (1, 10), (2, 20)",
            "UPDATE f.t SET amount = amount + 1 WHERE id = 0",
            "MERGE INTO f.t AS t USING (SELECT 2 AS id, 21 AS amount UNION ALL SELECT 3, 30) AS s ON t.id = s.id WHEN MATCHED THEN UPDATE SET amount = s.amount WHEN NOT MATCHED THEN INSERT *",
            "DELETE FROM f.t WHERE id = 1",
            "INSERT INTO f.t VALUES (4, 40)",
        ];
        for sql in writes {
            let out = f.through(sql);
            assert!(out.status.success(), "{lost:?}: {sql}: {}", stderr(&out));
        }
        let lost_acks = f.proxy.on_commits().get(&lost).copied().unwrap_or(0);
        assert!(lost_acks >= writes.len(), "{lost:?}: {:?}", f.proxy.tally());
        let ops: Vec<String> = f.versions().into_iter().map(|(_, op)| op).collect();
        assert_eq!(
            ops,
            [
                "CREATE TABLE",
                "WRITE",
                "WRITE",
                "UPDATE",
                "MERGE",
                "DELETE",
                "WRITE"
            ],
            "{lost:?}"
        );
        assert_eq!(
            f.direct("SELECT id, amount FROM f.t ORDER BY id"),
            "id,amount\n0,1\n2,21\n3,30\n4,40\n",
            "{lost:?}"
        );
    }
}

/// A store that answers every request with 503: the statement gives up once the configured
/// retry time is spent, in one line naming the table and the store's answer, and commits
/// nothing.
#[test]
fn a_store_that_keeps_failing_gives_up_in_one_line() {
    let f = Faulty::start(
        campaign_seed(),
        "init_backoff = '50ms'\nmax_backoff = '500ms'\nretry_timeout = '3s'\nmax_retries = 4\n",
    );
    // The table's files only: the warehouse's own files are read, the table is not.
    f.proxy.set_rates(Rates {
        unavailable: 100,
        only: Some("/faulty/f/t/"),
        ..Rates::NONE
    });
    for sql in ["INSERT INTO f.t VALUES (1, 10)", "SELECT count(*) FROM f.t"] {
        let out = f.through(sql);
        one_line_or_ok(sql, &out);
        assert_eq!(out.status.code(), Some(1), "{sql}");
        let err = stderr(&out);
        assert!(
            err.contains("f.t") || err.contains("s3://lake/faulty"),
            "{sql}: {err}"
        );
        assert!(err.contains("503"), "{sql}: {err}");
        // The configured retries, not object_store's defaults.
        assert!(
            err.contains("max_retries: 4, retry_timeout: 3s"),
            "{sql}: {err}"
        );
    }
    assert!(f.proxy.tally()[&Fault::Unavailable] > 1, "retried");
    // Every commit write refused: the data files are written, the commit is not.
    f.proxy.set_rates(Rates {
        unavailable: 100,
        only: Some("/_delta_log/0"),
        writes_only: true,
        ..Rates::NONE
    });
    let sql = "INSERT INTO f.t VALUES (2, 20)";
    let out = f.through(sql);
    one_line_or_ok(sql, &out);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{sql}: {err}");
    assert!(
        err.contains("f.t: nothing was committed (writing version 2 failed: ")
            && err.contains("_delta_log/00000000000000000002.json")
            && err.contains("503"),
        "{sql}: {err}"
    );
    f.proxy.set_rates(Rates::NONE);
    assert_eq!(f.versions().len(), 2);
    assert_eq!(
        f.direct("SELECT id, amount FROM f.t ORDER BY id"),
        "id,amount\n0,0\n"
    );
}
