"""lakeshell's benchmark: lakeshell side by side with DuckDB (delta extension), polars
(scan_delta + SQL) and delta-rs's QueryBuilder, on the same TPC-H Delta tables, in one run.

    bench.py [--scale 1] [--runs 3] [--smoke] [--memory-limit 4G] [--only tpch,session,...]
             [--work DIR] [--out DIR] --lakeshell BIN

Every engine's answers are checked against DuckDB's; a wrong answer from anyone fails the run
(exit 1). `--smoke` runs each query once and times nothing: the test suite uses it at scale 0.1.

Timing: a fresh process per engine and workload (tables are opened inside the timed part), the
best of --runs wall times, and the process's peak resident memory. lakeshell runs through its
binary (`lakeshell -c "query"`), one process per run, timed from outside (process start
included); each Python peer runs in one worker process that times each run inside. The
one-process mode (1b) runs all 22 queries in one process per engine.
"""
import argparse
import csv
import datetime
import decimal
import glob
import io
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time

TABLES = ["region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem"]
PEERS = ["duckdb", "polars", "delta-rs"]
ENGINES = ["lakeshell"] + PEERS
TOLERANCE = 1e-4  # |a - b| <= TOLERANCE * max(1, |a|, |b|) for numbers
LIMITS = []  # lakeshell's --memory-limit, when the run sets one


# ---------------------------------------------------------------- values and answers

def norm(v):
    """One comparable value: numbers as floats, dates as ISO strings, text stripped."""
    if v is None:
        return None
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, (int, float, decimal.Decimal)):
        return float(v)
    if isinstance(v, datetime.datetime):
        return v.replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(v, datetime.date):
        return v.isoformat()
    s = str(v).strip()
    try:
        return float(s)
    except ValueError:
        return s


def sort_key(row):
    return json.dumps([("%.4g" % v) if isinstance(v, float) else v for v in row])


def same(a, b):
    """Rows of two engines agree (order-insensitive, numbers within TOLERANCE)."""
    if len(a) != len(b):
        return False, "%d rows vs %d" % (len(a), len(b))
    for ra, rb in zip(sorted(a, key=sort_key), sorted(b, key=sort_key)):
        if len(ra) != len(rb):
            return False, "%d columns vs %d" % (len(ra), len(rb))
        for x, y in zip(ra, rb):
            if isinstance(x, float) and isinstance(y, float):
                if not math.isclose(x, y, rel_tol=TOLERANCE, abs_tol=TOLERANCE):
                    return False, "%r vs %r" % (x, y)
            elif x != y:
                return False, "%r vs %r" % (x, y)
    return True, ""


# ---------------------------------------------------------------- the peers (worker side)

def delta_ext(name):
    import duckdb
    import duckdb_ext
    base = list(duckdb_ext.__path__)[0]
    found = glob.glob(os.path.join(base, "extensions", "v" + duckdb.__version__, "*", name + ".duckdb_extension"))
    if not found:
        raise SystemExit("%s.duckdb_extension not found under %s" % (name, base))
    return found[0]


def duckdb_con():
    import duckdb
    con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    con.execute("LOAD '%s'" % delta_ext("delta"))
    return con


def run_peer(engine, tables, sql):
    """Opens the tables and runs sql; returns normalised rows."""
    if engine == "duckdb":
        con = duckdb_con()
        for name, path in tables.items():
            con.execute("CREATE VIEW %s AS SELECT * FROM delta_scan('%s')" % (name, path))
        return [[norm(v) for v in r] for r in con.execute(sql).fetchall()]
    if engine == "polars":
        import polars as pl
        ctx = pl.SQLContext({name: pl.scan_delta(path) for name, path in tables.items()})
        return [[norm(v) for v in r] for r in ctx.execute(sql.rstrip().rstrip(";")).collect().rows()]
    if engine == "delta-rs":
        import deltalake
        qb = deltalake.QueryBuilder()
        for name, path in tables.items():
            qb = qb.register(name, deltalake.DeltaTable(path))
        import pyarrow as pa
        t = pa.table(qb.execute(sql.rstrip().rstrip(";")).read_all())
        return [[norm(r[c]) for c in t.column_names] for r in t.to_pylist()]
    raise SystemExit("unknown engine " + engine)


def run_session(engine, tables, queries):
    """All queries in one process, as an analyst's session runs them: the tables are opened
    once, then each query runs in turn. Returns {query: rows or an error}."""
    out = {}
    if engine == "duckdb":
        con = duckdb_con()
        for name, path in tables.items():
            con.execute("CREATE VIEW %s AS SELECT * FROM delta_scan('%s')" % (name, path))
        run = lambda sql: [[norm(v) for v in r] for r in con.execute(sql).fetchall()]
    elif engine == "polars":
        import polars as pl
        ctx = pl.SQLContext({name: pl.scan_delta(path) for name, path in tables.items()})
        run = lambda sql: [[norm(v) for v in r] for r in ctx.execute(sql.rstrip().rstrip(";")).collect().rows()]
    elif engine == "delta-rs":
        import deltalake
        import pyarrow as pa
        qb = deltalake.QueryBuilder()
        for name, path in tables.items():
            qb = qb.register(name, deltalake.DeltaTable(path))

        def run(sql):
            t = pa.table(qb.execute(sql.rstrip().rstrip(";")).read_all())
            return [[norm(r[c]) for c in t.column_names] for r in t.to_pylist()]
    else:
        raise SystemExit("unknown engine " + engine)
    for name, sql in queries:
        try:
            out[name] = run(sql)
        except Exception as e:
            out[name] = {"error": ("%s: %s" % (type(e).__name__, e)).splitlines()[0][:200]}
    return out


def worker(args):
    """One process per engine and workload: best of N runs and this process's peak memory."""
    spec = json.loads(args.spec)
    engine, kind, runs = spec["engine"], spec["kind"], spec["runs"]
    best, rows, info = None, None, {}
    try:
        for i in range(runs):
            prep = spec.get("fresh_copy")
            if prep:
                shutil.rmtree(prep["to"], ignore_errors=True)
                shutil.copytree(prep["from"], prep["to"])
            start = time.perf_counter()
            if kind == "query":
                rows = run_peer(engine, spec["tables"], spec["sql"])
            elif kind == "merge":
                import deltalake
                dt = deltalake.DeltaTable(spec["target"])
                source = deltalake.DeltaTable(spec["source"]).to_pyarrow_table()
                info = (dt.merge(source, spec["on"], source_alias="s", target_alias="t")
                        .when_matched_update_all().when_not_matched_insert_all().execute())
            elif kind == "optimize":
                import deltalake
                info = deltalake.DeltaTable(spec["target"]).optimize.compact()
            elif kind == "count":
                rows = run_peer(engine, {"t": spec["target"]}, "SELECT count(*) FROM t")
            elif kind == "startup":
                rows = run_peer(engine, {}, "SELECT 1")
            elif kind == "export":
                con = duckdb_con()
                con.execute("COPY (SELECT * FROM delta_scan('%s')) TO '%s' (HEADER)" % (spec["table"], spec["to"]))
                rows = [[os.path.getsize(spec["to"])]]
            elif kind == "session":
                rows = run_session(engine, spec["tables"], spec["queries"])
            elapsed = time.perf_counter() - start
            best = elapsed if best is None else min(best, elapsed)
        out = {"ok": True, "best": best, "rows": rows, "info": info}
    except Exception as e:  # a query a peer cannot run is reported, not fatal
        out = {"ok": False, "error": ("%s: %s" % (type(e).__name__, e)).splitlines()[0][:300]}
    out["rss_mib"] = vm_hwm_kib("self") / 1024.0
    print(json.dumps(out, default=str))


def vm_hwm_kib(pid):
    """Peak resident memory of a process since its exec (VmHWM). getrusage's ru_maxrss would
    include the parent's memory at fork time."""
    try:
        with open("/proc/%s/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def memory_cap_kib():
    """A peer may use up to 3/4 of this machine's memory: past it the worker is stopped and the
    query reported as out of memory, rather than the machine's out-of-memory killer ending the
    whole run."""
    try:
        with open("/proc/meminfo") as f:
            return int(f.readline().split()[1]) * 3 // 4
    except OSError:
        return None


def vm_rss_kib(pid):
    try:
        with open("/proc/%s/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def spawn_worker(spec):
    import tempfile
    cap = memory_cap_kib()
    with tempfile.TemporaryFile() as so, tempfile.TemporaryFile() as se:
        p = subprocess.Popen([sys.executable, __file__, "worker", json.dumps(spec)], stdout=so, stderr=se)
        over = False
        while p.poll() is None:
            if cap and vm_rss_kib(p.pid) > cap:
                p.kill()
                p.wait()
                over = True
                break
            time.sleep(0.02)
        so.seek(0)
        se.seek(0)
        stdout, stderr = so.read().decode(), se.read().decode()
    if over:
        return {"ok": False, "error": "out of memory: stopped past %.1f GiB" % (cap / 1024 / 1024)}
    if p.returncode != 0:
        return {"ok": False, "error": (stderr.strip().splitlines() or ["worker failed"])[-1][:300]}
    return json.loads(stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- lakeshell (its binary)

def lakeshell(bin_, args, runs=1, prepare=None):
    """Runs the lakeshell binary `runs` times (a fresh process each), timed from outside; rows
    from its CSV output."""
    r = external([bin_] + args, runs, prepare)
    if r["ok"]:
        r["rows"] = [[norm(v) for v in row] for row in list(csv.reader(io.StringIO(r.pop("stdout"))))[1:]]
    return r


def external(cmd, runs=1, prepare=None, stdout_path=None):
    """Runs `cmd` `runs` times (a fresh process each), timed from outside; its peak memory is
    sampled from /proc every few milliseconds while it runs. With stdout_path, the output goes
    to that file and is not read back."""
    import tempfile
    best, peak, out = None, 0.0, ""
    for _ in range(runs):
        if prepare:
            prepare()
        with (open(stdout_path, "w+b") if stdout_path else tempfile.TemporaryFile()) as so, tempfile.TemporaryFile() as se:
            start = time.perf_counter()
            p = subprocess.Popen(cmd, stdout=so, stderr=se)
            hwm = 0
            while True:
                hwm = max(hwm, vm_hwm_kib(p.pid))
                done, status = os.waitpid(p.pid, os.WNOHANG)
                if done:
                    break
                time.sleep(0.003)
            elapsed = time.perf_counter() - start
            p.returncode = os.waitstatus_to_exitcode(status)
            so.seek(0)
            se.seek(0)
            stdout, stderr = ("" if stdout_path else so.read().decode()), se.read().decode()
        peak = max(peak, hwm / 1024.0)
        if p.returncode != 0:
            lines = stderr.strip().splitlines()
            return {"ok": False, "error": lines[-1][:300] if lines else "exit %d" % p.returncode}
        best = elapsed if best is None else min(best, elapsed)
        out = stdout
    return {"ok": True, "best": best, "stdout": out, "rss_mib": peak}


def peer_process(spec, runs):
    """A peer's whole process (interpreter start, imports, work), timed from outside like
    lakeshell's: for the start-up workload."""
    spec = dict(spec, runs=1)
    r = external([sys.executable, __file__, "worker", json.dumps(spec)], runs)
    if not r["ok"]:
        return r
    inner = json.loads(r.pop("stdout").strip().splitlines()[-1])
    if not inner["ok"]:
        return inner
    r["rows"] = inner.get("rows")
    return r


# ---------------------------------------------------------------- data

def sh(cmd, **kw):
    subprocess.run(cmd, check=True, **kw)


def generate(work, scale, bin_):
    """TPC-H parquet (tpchgen-cli), then Delta tables written by lakeshell and by delta-rs."""
    import deltalake
    import pyarrow as pa
    import pyarrow.parquet as pq
    raw = os.path.join(work, "parquet")
    done = os.path.join(work, "ready")
    if os.path.exists(done):
        return
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(raw)
    tpchgen = os.path.join(os.path.dirname(sys.executable), "tpchgen-cli")
    print("bench: generating TPC-H at scale %s" % scale, file=sys.stderr)
    sh([tpchgen, "-s", str(scale), "--format=parquet", "-o", raw])
    # lakeshell's tables: CREATE TABLE ... AS SELECT from the parquet files.
    script = "".join("CREATE TABLE %s AS SELECT * FROM '%s/%s.parquet';\n" % (t, raw, t) for t in TABLES)
    with open(os.path.join(work, "load.sql"), "w") as f:
        f.write(script)
    sh([bin_, "-q", "-w", os.path.join(work, "by-lakeshell"), "run", os.path.join(work, "load.sql")])
    # delta-rs's tables, without parquet field ids in the schema (DuckDB's delta extension reads
    # every column as NULL when they are there).
    for t in TABLES:
        data = pq.read_table(os.path.join(raw, "%s.parquet" % t))
        schema = pa.schema([pa.field(f.name, f.type, f.nullable) for f in data.schema])
        deltalake.write_deltalake(os.path.join(work, "by-delta-rs", t), data.cast(schema))
    reg = "".join("CREATE EXTERNAL TABLE %s STORED AS DELTA LOCATION '%s';\n"
                  % (t, os.path.join(work, "by-delta-rs", t)) for t in TABLES)
    with open(os.path.join(work, "register.sql"), "w") as f:
        f.write(reg)
    sh([bin_, "-q", "-w", os.path.join(work, "wh-delta-rs"), "run", os.path.join(work, "register.sql")])
    with open(done, "w") as f:
        f.write("ok\n")


def queries(work):
    con = duckdb_con()
    con.execute("LOAD '%s'" % delta_ext("tpch"))
    qdir = os.path.join(work, "queries")
    os.makedirs(qdir, exist_ok=True)
    out = []
    for nr, sql in con.execute("SELECT query_nr, query FROM tpch_queries() ORDER BY 1").fetchall():
        path = os.path.join(qdir, "q%02d.sql" % nr)
        with open(path, "w") as f:
            f.write(sql)
        out.append((nr, sql, path))
    return out


def table_paths(work, which):
    if which == "lakeshell":
        return {t: os.path.join(work, "by-lakeshell", "default", t) for t in TABLES}
    return {t: os.path.join(work, "by-delta-rs", t) for t in TABLES}


# ---------------------------------------------------------------- workloads

class Failure(Exception):
    pass


def tpch(work, bin_, runs, failures):
    """Workload 1: the 22 queries on both table sets; every answer checked against DuckDB's."""
    results = {}
    warehouses = {"lakeshell": os.path.join(work, "by-lakeshell"), "delta-rs": os.path.join(work, "wh-delta-rs")}
    for written_by in ["lakeshell", "delta-rs"]:
        tables = table_paths(work, written_by)
        for nr, sql, path in queries(work):
            row = {}
            row["duckdb"] = spawn_worker({"engine": "duckdb", "kind": "query", "runs": runs, "tables": tables, "sql": sql})
            if not row["duckdb"]["ok"]:
                failures.append("q%02d: DuckDB, the reference, failed: %s" % (nr, row["duckdb"]["error"]))
                continue
            truth = row["duckdb"]["rows"]
            row["lakeshell"] = lakeshell(bin_, LIMITS + ["-q", "-f", "csv", "-w", warehouses[written_by], "-c", sql], runs)
            for peer in ["polars", "delta-rs"]:
                row[peer] = spawn_worker({"engine": peer, "kind": "query", "runs": runs, "tables": tables, "sql": sql})
            for engine in ENGINES:
                r = row[engine]
                if not r["ok"]:
                    if engine == "lakeshell":
                        failures.append("q%02d on %s's tables: lakeshell failed: %s" % (nr, written_by, r["error"]))
                    continue
                ok, why = same(r["rows"], truth)
                r["correct"] = ok
                if not ok:
                    failures.append("q%02d on %s's tables: %s's answer differs from DuckDB's (%s)" % (nr, written_by, engine, why))
                r.pop("rows", None)
            row["duckdb"].pop("rows", None)
            results["%s/q%02d" % (written_by, nr)] = row
            print("bench: q%02d on %s's tables done" % (nr, written_by), file=sys.stderr)
    return results


def session(work, bin_, runs, failures):
    """Workload 1b: the 22 queries in one process per engine (one lakeshell script, one Python
    process per peer), on lakeshell's tables; answers checked against DuckDB's one by one."""
    tables = table_paths(work, "lakeshell")
    qs = [("q%02d" % nr, sql) for nr, sql, _ in queries(work)]
    out_dir = os.path.join(work, "session-out")
    script = os.path.join(work, "session.sql")
    with open(script, "w") as f:
        for name, sql in qs:
            f.write("\\o %s\n%s\n" % (os.path.join(out_dir, name + ".csv"), sql.rstrip().rstrip(";") + ";"))
        f.write("\\o\n")
    res = {}
    for engine in PEERS:
        res[engine] = spawn_worker({"engine": engine, "kind": "session", "runs": runs, "tables": tables, "queries": qs})
    truth = res["duckdb"].get("rows") if res["duckdb"].get("ok") else None

    def prepare():
        shutil.rmtree(out_dir, ignore_errors=True)
        os.makedirs(out_dir)
    for label, extra in [("lakeshell", []), ("lakeshell (no table cache)", ["--no-table-cache"])]:
        r = external([bin_] + LIMITS + extra + ["-q", "-f", "csv", "-w", os.path.join(work, "by-lakeshell"), "-c", "\\i " + script], runs, prepare)
        if r["ok"]:
            r.pop("stdout", None)
            got = {}
            for name, _ in qs:
                with open(os.path.join(out_dir, name + ".csv")) as f:
                    got[name] = [[norm(v) for v in row] for row in list(csv.reader(f))[1:]]
            r["rows"] = got
        else:
            failures.append("one-process TPC-H: %s failed: %s" % (label, r["error"]))
        res[label] = r
    for engine, r in res.items():
        if not r.get("ok") or truth is None:
            continue
        bad = []
        answered = 0
        for name, _ in qs:
            mine = r["rows"].get(name)
            if isinstance(mine, dict):
                continue
            answered += 1
            ok, why = same(mine, truth[name]) if not isinstance(truth.get(name), dict) else (True, "")
            if not ok:
                bad.append("%s (%s)" % (name, why))
        r["answered"] = answered
        r["correct"] = not bad
        if bad:
            failures.append("one-process TPC-H: %s's answers differ from DuckDB's: %s" % (engine, ", ".join(bad)))
        r.pop("rows", None)
    return res


ON_KEYS = "t.l_orderkey = s.l_orderkey AND t.l_linenumber = s.l_linenumber"


def changes(work, bin_, runs, scale, failures):
    """Workload 6: what this version's changes buy, query by query, on lakeshell's tables: the
    22 queries as the timed run has them (`-c`), with Parquet filter pushdown forced on as
    delta-rs's scan has it (`SET datafusion.execution.parquet.pushdown_filters = true`: the
    setting lakeshell now keeps), and as `lakeshell run q.sql` (which logs the run in
    lakeshell.run_log). The earlier report (`--before`, a results .json) adds its lakeshell
    column: the binary before all of them."""
    wh = os.path.join(work, "wh-changes")
    shutil.copytree(os.path.join(work, "by-lakeshell"), wh, dirs_exist_ok=True)
    out = {}
    for nr, sql, path in queries(work):
        name = "q%02d" % nr
        row = {"now": lakeshell(bin_, LIMITS + ["-q", "-f", "csv", "-w", wh, "-c", sql], runs),
               "forced pushdown": lakeshell(bin_, LIMITS + ["-q", "-f", "csv", "-w", wh, "-c",
                                            "SET datafusion.execution.parquet.pushdown_filters = true", "-c", sql], runs),
               "run (run log)": lakeshell(bin_, LIMITS + ["-q", "-f", "csv", "-w", wh, "run", path], runs)}
        for r in row.values():
            r.pop("rows", None)
        out[name] = row
        print("bench: %s changes done" % name, file=sys.stderr)
    return out


def merge(work, bin_, runs, scale, failures):
    """Workload 2: MERGE of ~15% of lineitem's rows (2/3 matching keys, 1/3 new), spread over
    the whole table."""
    import deltalake
    base = os.path.join(work, "by-delta-rs", "lineitem")
    source = os.path.join(work, "merge-source")
    if not os.path.exists(source):
        con = duckdb_con()
        src = con.execute(
            "WITH l AS (SELECT * FROM delta_scan('%s')), "
            "m AS (SELECT * REPLACE (l_comment || ' (merged)' AS l_comment) FROM l USING SAMPLE 10 PERCENT (reservoir, 42)), "
            "n AS (SELECT * REPLACE (l_orderkey + (SELECT max(l_orderkey) FROM l) AS l_orderkey) FROM l USING SAMPLE 5 PERCENT (reservoir, 7)) "
            "SELECT * FROM m UNION ALL SELECT * FROM n" % base).arrow()
        if hasattr(src, "read_all"):
            src = src.read_all()
        deltalake.write_deltalake(source, src)
    return upsert(work, bin_, runs, failures, "MERGE", base, source, "merge")


def merge_clustered(work, bin_, runs, scale, failures):
    """Workload 2b: MERGE of 1% of lineitem's keys, all in one range of l_orderkey, into a copy
    of lineitem written in l_orderkey order as 60 files: only the files whose key range the
    source overlaps need rewriting."""
    import deltalake
    base = os.path.join(work, "lineitem-clustered")
    if not os.path.exists(os.path.join(base, "_delta_log")):
        con = duckdb_con()
        data = con.execute("SELECT * FROM delta_scan('%s') ORDER BY l_orderkey, l_linenumber"
                           % os.path.join(work, "by-delta-rs", "lineitem")).arrow()
        if hasattr(data, "read_all"):
            data = data.read_all()
        step = -(-data.num_rows // 60)
        for i in range(60):
            deltalake.write_deltalake(base, data.slice(i * step, step), mode="append")
    source = os.path.join(work, "merge-clustered-source")
    if not os.path.exists(source):
        con = duckdb_con()
        # The orders whose keys sit at 40%..41% of the key range: their lines are updated, and
        # every fifth order gets a new line 8 (an insert inside the same range).
        src = con.execute(
            "WITH l AS (SELECT * FROM delta_scan('%s')), "
            "k AS (SELECT quantile_disc(l_orderkey, 0.40) AS lo, quantile_disc(l_orderkey, 0.41) AS hi FROM l), "
            "r AS (SELECT l.* FROM l, k WHERE l_orderkey BETWEEN lo AND hi) "
            "SELECT * REPLACE (l_comment || ' (merged)' AS l_comment) FROM r "
            "UNION ALL SELECT * REPLACE (8 AS l_linenumber) FROM r WHERE l_linenumber = 1 AND l_orderkey %% 5 = 0"
            % base).arrow()
        if hasattr(src, "read_all"):
            src = src.read_all()
        deltalake.write_deltalake(source, src)
    return upsert(work, bin_, runs, failures, "MERGE 1% clustered", base, source, "merge-clustered")


def upsert(work, bin_, runs, failures, label, base, source, name):
    """MERGE `source` into a fresh copy of `base` (UPDATE SET * / INSERT *) with lakeshell and
    with delta-rs; rows changed checked, files rewritten reported."""
    con = duckdb_con()
    n_source, n_match = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE l_comment LIKE '%%(merged)') FROM delta_scan('%s')" % source).fetchone()
    n_target = con.execute("SELECT count(*) FROM delta_scan('%s')" % base).fetchone()[0]
    expect = {"inserted": n_source - n_match, "updated": n_match}
    target = os.path.join(work, name + "-target")
    wh = os.path.join(work, "wh-" + name)
    sql = ("MERGE INTO delta.`%s` t USING delta.`%s` s ON %s "
           "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *" % (target, source, ON_KEYS))

    def fresh():
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(base, target)
    n_files = None
    out = {"lakeshell": lakeshell(bin_, LIMITS + ["-f", "csv", "-w", wh, "-c", sql], runs, fresh)}
    if out["lakeshell"]["ok"]:
        rows = out["lakeshell"].pop("rows")
        got = {"inserted": int(rows[0][3]), "updated": int(rows[0][4])} if rows else {}
        out["lakeshell"]["files_rewritten"] = int(rows[0][8]) if rows else None
        out["lakeshell"]["correct"] = got == expect
        if got != expect:
            failures.append("%s: lakeshell changed %s rows, expected %s" % (label, got, expect))
    else:
        failures.append("%s: lakeshell failed: %s" % (label, out["lakeshell"]["error"]))
    out["delta-rs"] = spawn_worker({"engine": "delta-rs", "kind": "merge", "runs": runs, "target": target,
                                    "source": source, "on": ON_KEYS, "fresh_copy": {"from": base, "to": target}})
    if out["delta-rs"]["ok"]:
        info = out["delta-rs"].pop("info")
        got = {"inserted": info.get("num_target_rows_inserted"), "updated": info.get("num_target_rows_updated")}
        out["delta-rs"]["files_rewritten"] = info.get("num_target_files_removed")
        out["delta-rs"]["correct"] = got == expect
        if got != expect:
            failures.append("%s: delta-rs changed %s rows, expected %s" % (label, got, expect))
        out["delta-rs"].pop("rows", None)
    import deltalake
    n_files = len(deltalake.DeltaTable(base).file_uris())
    out["_about"] = ("target %d rows in %d files; source %d rows (%d matching, %d new). Files rewritten: %s."
                     % (n_target, n_files, n_source, n_match, n_source - n_match,
                        ", ".join("%s %s" % (e, out[e].get("files_rewritten", "?")) for e in ["lakeshell", "delta-rs"])))
    return out


def export(work, bin_, runs, scale, failures):
    """Workload 5: a whole table exported to CSV (`lakeshell -f csv -c "SELECT * FROM t" > file`),
    for orders and for lineitem (4x its rows): peak memory must not grow with the result."""
    out = {}
    for t in ["orders", "lineitem"]:
        dest = os.path.join(work, "export-%s.csv" % t)
        row = {"lakeshell": external([bin_] + LIMITS + ["-q", "-f", "csv", "-w", os.path.join(work, "by-lakeshell"), "-c",
                                      "SELECT * FROM %s" % t], runs, stdout_path=dest)}
        if row["lakeshell"]["ok"]:
            row["lakeshell"].pop("stdout", None)
            with open(dest, "rb") as f:
                lines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
            row["lakeshell"]["bytes"] = os.path.getsize(dest)
            row["lakeshell"]["lines"] = lines
        else:
            failures.append("CSV export of %s: lakeshell failed: %s" % (t, row["lakeshell"]["error"]))
        if os.path.exists(dest):
            os.remove(dest)
        ddest = os.path.join(work, "export-%s-duckdb.csv" % t)
        row["duckdb"] = spawn_worker({"engine": "duckdb", "kind": "export", "runs": runs,
                                      "table": table_paths(work, "lakeshell")[t], "to": ddest})
        if row["duckdb"].get("ok"):
            row["duckdb"].pop("rows", None)
        if os.path.exists(ddest):
            os.remove(ddest)
        out[t] = row
    con = duckdb_con()
    for t in ["orders", "lineitem"]:
        r = out[t]["lakeshell"]
        if r.get("ok"):
            n = con.execute("SELECT count(*) FROM delta_scan('%s')" % table_paths(work, "lakeshell")[t]).fetchone()[0]
            r["correct"] = r["lines"] == n + 1
            if not r["correct"]:
                failures.append("CSV export of %s: %d lines for %d rows" % (t, r["lines"], n))
    out["_about"] = ("`lakeshell -f csv -c \"SELECT * FROM t\" > file`, against DuckDB's `COPY (SELECT * FROM delta_scan(...)) TO 'file' (HEADER)`"
                     " in its worker process (the Python interpreter included in its memory).")
    return out


def compaction(work, bin_, runs, scale, failures):
    """Workload 3: OPTIMIZE of a table written as a few hundred small files."""
    import deltalake
    files = 300 if scale >= 0.1 else 50
    base = os.path.join(work, "small-files")
    if not os.path.exists(base):
        data = deltalake.DeltaTable(os.path.join(work, "by-delta-rs", "orders")).to_pyarrow_table()
        step = max(1, data.num_rows // files)
        for i in range(files):
            deltalake.write_deltalake(base, data.slice(i * step, step), mode="append")
    target = os.path.join(work, "small-files-run")

    def fresh():
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(base, target)
    n_files = len(deltalake.DeltaTable(base).file_uris())
    out = {"lakeshell": lakeshell(bin_, LIMITS + ["-f", "csv", "-w", os.path.join(work, "wh-opt"), "-c", "OPTIMIZE delta.`%s`" % target], runs, fresh)}
    if out["lakeshell"]["ok"]:
        rows = out["lakeshell"].pop("rows")
        removed = int(rows[0][2]) if rows else -1
        out["lakeshell"]["correct"] = removed == n_files
        if removed != n_files:
            failures.append("OPTIMIZE: lakeshell removed %d files of %d" % (removed, n_files))
    else:
        failures.append("OPTIMIZE: lakeshell failed: %s" % out["lakeshell"]["error"])
    out["delta-rs"] = spawn_worker({"engine": "delta-rs", "kind": "optimize", "runs": runs, "target": target,
                                    "fresh_copy": {"from": base, "to": target}})
    if out["delta-rs"]["ok"]:
        info = out["delta-rs"].pop("info")
        out["delta-rs"]["correct"] = info.get("numFilesRemoved") == n_files
        out["delta-rs"].pop("rows", None)
    out["_about"] = "%d files of `orders`" % n_files
    return out


def startup(work, bin_, runs, scale, failures):
    """Workload 4: `lakeshell -c "SELECT 1"`, and opening a table with a long history."""
    import deltalake
    import pyarrow as pa
    commits = 3000 if scale >= 0.5 else 200
    hist = os.path.join(work, "long-history-%d" % commits)
    if not os.path.exists(os.path.join(hist, "ready")):
        shutil.rmtree(hist, ignore_errors=True)
        t = os.path.join(hist, "table")
        one = pa.table({"id": pa.array([0], pa.int64())})
        deltalake.write_deltalake(t, one, configuration={"delta.checkpointInterval": "100"})
        dt = deltalake.DeltaTable(t)
        for i in range(1, commits):
            deltalake.write_deltalake(dt, pa.table({"id": pa.array([i], pa.int64())}), mode="append")
        with open(os.path.join(hist, "ready"), "w") as f:
            f.write("ok\n")
    table = os.path.join(hist, "table")
    out = {"select1": {}, "history": {}}
    out["select1"]["lakeshell"] = lakeshell(bin_, ["-q", "-f", "csv", "-w", os.path.join(work, "wh-empty"), "-c", "SELECT 1"], runs)
    for peer in PEERS:
        out["select1"][peer] = peer_process({"engine": peer, "kind": "startup"}, runs)
    out["history"]["lakeshell"] = lakeshell(bin_, ["-f", "csv", "-w", os.path.join(work, "wh-empty"), "-c",
                                                   "SELECT count(*) AS n FROM delta.`%s`" % table], runs)
    for peer in PEERS:
        out["history"][peer] = peer_process({"engine": peer, "kind": "count", "target": table}, runs)
    for name, r in out["history"].items():
        if r["ok"]:
            ok = r["rows"] == [[float(commits)]]
            r["correct"] = ok
            if not ok:
                failures.append("long history: %s counted %s rows, expected %d" % (name, r["rows"], commits))
        elif name == "lakeshell":
            failures.append("long history: lakeshell failed: %s" % r["error"])
    for part in out.values():
        for r in part.values():
            r.pop("rows", None)
            r.pop("info", None)
    out["_about"] = ("Whole processes, timed from outside for every engine (interpreter start and imports "
                     "included for the Python peers). The long history: %d commits, a checkpoint every 100." % commits)
    return out


# ---------------------------------------------------------------- report

def cell(r):
    if not r:
        return "n/a"
    if not r.get("ok"):
        return "out of memory" if str(r.get("error", "")).startswith("out of memory") else "unsupported"
    mark = "" if r.get("correct", True) else " WRONG"
    return "%.3f s, %.0f MiB%s" % (r["best"], r["rss_mib"], mark)


def ratio(row, engines):
    me = row.get("lakeshell")
    peers = [row[e] for e in engines if e != "lakeshell" and row.get(e) and row[e].get("ok") and row[e].get("correct", True)]
    if not me or not me.get("ok") or not peers:
        return "n/a"
    best = min(peers, key=lambda p: p["best"])
    name = [e for e in engines if row.get(e) is best][0]
    return "%.2f (%s)" % (me["best"] / best["best"], name) if best["best"] > 0 else "n/a"


def mem_ratio(row):
    me, duck = row.get("lakeshell"), row.get("duckdb")
    if not me or not me.get("ok") or not duck or not duck.get("ok") or not duck.get("rss_mib"):
        return "n/a"
    return "%.2f" % (me["rss_mib"] / duck["rss_mib"])


def table(title, rows, engines, about=None, memory=False):
    lines = ["### " + title, ""]
    if about:
        lines += [about, ""]
    extra = " memory / DuckDB's |" if memory else ""
    lines.append("| | " + " | ".join(engines) + " | lakeshell / best peer |" + extra)
    lines.append("|---" * (len(engines) + 2 + (1 if memory else 0)) + "|")
    for name, row in rows:
        lines.append("| %s | %s | %s |%s" % (name, " | ".join(cell(row.get(e)) for e in engines), ratio(row, engines),
                                             (" %s |" % mem_ratio(row)) if memory else ""))
    return "\n".join(lines) + "\n"


def targets(res):
    """The issue's targets, each with what this run measured."""
    out = []

    def t(what, ok, got):
        out.append("| %s | %s | %s |" % (what, "met" if ok else "**not met**", got))
    for written_by in ["lakeshell", "delta-rs"]:
        rows = {k.split("/")[1]: v for k, v in res["tpch"].items() if k.startswith(written_by + "/")}
        if not rows:
            continue
        me = [v["lakeshell"]["best"] for v in rows.values() if v.get("lakeshell", {}).get("ok")]
        duck = [v["duckdb"]["best"] for v in rows.values() if v.get("duckdb", {}).get("ok")]
        if len(me) == len(rows) and len(duck) == len(rows):
            t("TPC-H total at or below DuckDB's (%s's tables)" % written_by, sum(me) <= sum(duck),
              "%.2f s vs %.2f s" % (sum(me), sum(duck)))
        worst = []
        mem = []
        for q, v in sorted(rows.items()):
            r = ratio(v, ENGINES)
            if r != "n/a" and float(r.split()[0]) > 2.0:
                worst.append("%s %s" % (q, r))
            m = mem_ratio(v)
            if m != "n/a" and float(m) > 1.5:
                mem.append("%s %s" % (q, m))
        t("no query above 2x the best peer (%s's tables)" % written_by, not worst, ", ".join(worst) or "none above")
        t("peak memory at most 1.5x DuckDB's (%s's tables)" % written_by, not mem, ", ".join(mem) or "none above")
    s = res.get("session", {})
    if s.get("lakeshell", {}).get("ok") and s.get("duckdb", {}).get("ok"):
        t("one-process TPC-H at or below DuckDB's", s["lakeshell"]["best"] <= s["duckdb"]["best"],
          "%.2f s vs %.2f s" % (s["lakeshell"]["best"], s["duckdb"]["best"]))
    for key, label, limit in [("merge", "MERGE 15% at most 0.8x delta-rs's time", 0.8),
                              ("merge_clustered", "MERGE 1% clustered at most 0.3x delta-rs's time", 0.3),
                              ("compaction", "OPTIMIZE at most 0.8x delta-rs's time", 0.8)]:
        r = res.get(key, {})
        if r.get("lakeshell", {}).get("ok") and r.get("delta-rs", {}).get("ok"):
            x = r["lakeshell"]["best"] / r["delta-rs"]["best"]
            t(label, x <= limit, "%.2fx" % x)
    r = res.get("merge", {})
    if r.get("lakeshell", {}).get("ok") and r.get("delta-rs", {}).get("ok"):
        x = r["lakeshell"]["rss_mib"] / r["delta-rs"]["rss_mib"]
        t("MERGE 15% at most 0.5x delta-rs's memory", x <= 0.5, "%.2fx" % x)
    st = res.get("startup", {}).get("select1", {}).get("lakeshell", {})
    if st.get("ok"):
        t("start-up (`-c \"SELECT 1\"`) at or below 20 ms", st["best"] <= 0.020, "%.1f ms" % (st["best"] * 1000))
    e = res.get("export", {})
    if e.get("orders", {}).get("lakeshell", {}).get("ok") and e.get("lineitem", {}).get("lakeshell", {}).get("ok"):
        a, b = e["orders"]["lakeshell"]["rss_mib"], e["lineitem"]["lakeshell"]["rss_mib"]
        t("CSV export memory does not grow with the result (orders -> lineitem, 4x the rows)", b <= a * 1.5 + 32,
          "%.0f MiB -> %.0f MiB" % (a, b))
    return "\n".join(["## Targets", "", "| target | | measured |", "|---|---|---|"] + out) + "\n"


def versions(bin_):
    import deltalake
    import duckdb
    import polars
    v = {"lakeshell": subprocess.run([bin_, "--version"], capture_output=True, text=True).stdout.strip(),
         "duckdb": duckdb.__version__, "polars": polars.__version__, "deltalake (delta-rs)": deltalake.__version__,
         "python": platform.python_version()}
    tg = os.path.join(os.path.dirname(sys.executable), "tpchgen-cli")
    v["tpchgen-cli"] = subprocess.run([tg, "--version"], capture_output=True, text=True).stdout.strip()
    return v


def machine():
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = "%.1f GiB" % (kb / 1024 / 1024)
    except OSError:
        pass
    return "%d cores, %s memory, %s" % (os.cpu_count() or 0, mem, platform.platform())


def report(args, res, failures):
    lines = ["# lakeshell benchmark" + (" (smoke run: answers checked, timings not meaningful)" if args.smoke else ""), "",
             "Scale factor %s, best of %d runs, %s." % (args.scale, args.runs, datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
             "", "Machine: " + machine(), "",
             "Versions: " + ", ".join("%s %s" % kv for kv in versions(args.lakeshell).items()), "",
             "Each cell: best wall time of the runs and the process's peak resident memory. lakeshell runs",
             "as its binary (`lakeshell -c \"query\"`, a fresh process per run, timed from outside, start-up",
             "included); each Python peer runs in one fresh worker process per workload that times each run",
             "(tables opened inside the timed part) and whose peak memory includes the Python interpreter.",
             "Answers are checked against DuckDB's: numbers agree within a relative %g." % TOLERANCE,
             "\"unsupported\": the peer could not run the query. Ratio > 1 means lakeshell is slower.", ""]
    if LIMITS:
        lines += ["lakeshell ran every workload with `%s`." % " ".join(LIMITS), ""]
    for written_by in ["lakeshell", "delta-rs"] if res["tpch"] else []:
        rows = [(k.split("/")[1], v) for k, v in sorted(res["tpch"].items()) if k.startswith(written_by + "/")]
        total = {}
        for e in ENGINES:
            rs = [v.get(e) for _, v in rows]
            if all(r and r.get("ok") for r in rs):
                total[e] = {"ok": True, "best": sum(r["best"] for r in rs), "rss_mib": max(r["rss_mib"] for r in rs)}
        rows.append(("total (engines that ran all 22)", total))
        lines.append(table("1. TPC-H on tables written by %s" % written_by, rows, ENGINES, memory=True))
    if "session" in res:
        srows = []
        for label, r in res["session"].items():
            if r.get("ok"):
                r = dict(r)
                srows.append("| %s | %.3f s | %.0f MiB | %d of 22 | %s |" % (
                    label, r["best"], r["rss_mib"], r.get("answered", 0), "yes" if r.get("correct") else "**no**"))
            else:
                srows.append("| %s | failed: %s | | | |" % (label, r.get("error")))
        lines += ["### 1b. TPC-H in one process (an analyst's session)", "",
                  "The 22 queries in one process per engine, on lakeshell's tables: one lakeshell script "
                  "(`lakeshell -c '\\i session.sql'`, each result to a CSV file with `\\o`), one Python process per peer "
                  "(DuckDB: views over `delta_scan`; polars: one SQLContext over `scan_delta`; delta-rs: one QueryBuilder). "
                  "\"no table cache\" is lakeshell with `--no-table-cache`: every statement opens its tables again, "
                  "so the difference is what keeping table snapshots (file lists with their statistics) across "
                  "statements buys.", "",
                  "| engine | time (all 22) | peak memory | answered | answers agree |", "|---|---|---|---|---|"] + srows + [""]
    if "merge" in res:
        lines.append(table("2. MERGE upsert into lineitem", [("merge", res["merge"])], ["lakeshell", "delta-rs"], res["merge"].get("_about")))
    if "merge_clustered" in res:
        lines.append(table("2b. MERGE of 1% of the keys, in one key range", [("merge", res["merge_clustered"])],
                           ["lakeshell", "delta-rs"], res["merge_clustered"].get("_about")))
    if "compaction" in res:
        lines.append(table("3. Compaction (OPTIMIZE)", [("optimize", res["compaction"])], ["lakeshell", "delta-rs"], res["compaction"].get("_about")))
    if "startup" in res:
        lines.append(table("4. Start-up", [("SELECT 1", res["startup"]["select1"]), ("count(*) of a long history", res["startup"]["history"])],
                           ENGINES, res["startup"].get("_about")))
    if "export" in res:
        lines.append(table("5. Export to CSV", [(t, res["export"][t]) for t in ["orders", "lineitem"]], ["lakeshell", "duckdb"],
                           res["export"].get("_about")))
    if "changes" in res:
        before = {}
        if args.before and os.path.exists(args.before):
            with open(args.before) as f:
                old = json.load(f)
            before = {k.split("/")[1]: v.get("lakeshell") for k, v in old.get("tpch", {}).items()
                      if k.startswith("lakeshell/")}
        cols = ["before"] if before else []
        cols += ["run (run log)", "forced pushdown", "now"]
        lines += ["### 6. What the changes bought, query by query", "",
                  "lakeshell alone, on its own tables. \"before\": the previous report's lakeshell "
                  "(glibc malloc, filter pushdown forced by delta-rs's scan, `lakeshell run`, no snapshot cache). "
                  "\"run (run log)\": this binary as `lakeshell run q.sql`, which commits a row to lakeshell.run_log. "
                  "\"forced pushdown\": this binary with `SET datafusion.execution.parquet.pushdown_filters = true`, "
                  "as delta-rs's scan forces it. \"now\": `lakeshell -c`, as the TPC-H table above. "
                  "Cells are the best of the runs; the last columns are now / forced pushdown and now / before.", "",
                  "| query | " + " | ".join(cols) + " | now / forced pushdown |" + (" now / before |" if before else ""),
                  "|---" * (len(cols) + 2 + (1 if before else 0)) + "|"]
        tot = {c: 0.0 for c in cols}
        for q, row in sorted(res["changes"].items()):
            row = dict(row)
            if before:
                row["before"] = before.get(q) or {}
            cells = []
            for c in cols:
                r = row.get(c) or {}
                cells.append("%.3f s" % r["best"] if r.get("ok") else "failed")
                tot[c] += r["best"] if r.get("ok") else float("nan")
            f = lambda a, b: "%.2f" % (row[a]["best"] / row[b]["best"]) if row.get(a, {}).get("ok") and row.get(b, {}).get("ok") else "n/a"
            lines.append("| %s | %s | %s |%s" % (q, " | ".join(cells), f("now", "forced pushdown"),
                                                (" %s |" % f("now", "before")) if before else ""))
        lines.append("| total | %s | %.2f |%s" % (" | ".join("%.2f s" % tot[c] for c in cols), tot["now"] / tot["forced pushdown"],
                                                (" %.2f |" % (tot["now"] / tot["before"])) if before else ""))
        lines.append("")
    lines.append(targets(res))
    lines.append("## Checks\n")
    lines.append("All answers agree." if not failures else "\n".join("- FAILED: " + f for f in failures))
    return "\n".join(lines) + "\n"


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        a = argparse.Namespace(spec=sys.argv[2])
        return worker(a)
    p = argparse.ArgumentParser()
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--smoke", action="store_true", help="one run each, answers checked, nothing timed")
    p.add_argument("--work", default=None)
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    p.add_argument("--lakeshell", required=True)
    p.add_argument("--memory-limit", default=None, help="lakeshell's --memory-limit for every workload (4G, 512M)")
    p.add_argument("--before", default=None, help="an earlier run's results .json, for the changes workload")
    p.add_argument("--only", default=None, help="comma-separated workloads to run (tpch,session,merge,merge_clustered,compaction,startup,export,changes)")
    args = p.parse_args()
    if args.memory_limit:
        LIMITS.extend(["--memory-limit", args.memory_limit])
    if args.scale == int(args.scale):
        args.scale = int(args.scale)
    if args.smoke:
        args.runs = 1
    args.lakeshell = os.path.abspath(args.lakeshell)
    work = args.work or os.path.join(os.path.expanduser("~/.cache/lakeshell/bench"), "sf%s" % args.scale)
    generate(work, args.scale, args.lakeshell)
    failures = []
    only = set(args.only.split(",")) if args.only else None
    want = lambda w: only is None or w in only
    res = {"tpch": tpch(work, args.lakeshell, args.runs, failures) if want("tpch") else {}}
    if want("session"):
        res["session"] = session(work, args.lakeshell, args.runs, failures)
    for key, fn in [("merge", merge), ("merge_clustered", merge_clustered), ("compaction", compaction),
                    ("startup", startup), ("export", export), ("changes", changes)]:
        # The changes workload is an extra: it runs only when asked for.
        if want(key) and (key != "changes" or only):
            res[key] = fn(work, args.lakeshell, args.runs, args.scale, failures)
    text = report(args, res, failures)
    os.makedirs(args.out, exist_ok=True)
    name = ("smoke-sf%s" % args.scale if args.smoke else "sf%s" % args.scale) + \
        ("-" + "-".join(sorted(only)) if only else "") + ".md"
    with open(os.path.join(args.out, name), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, name.replace(".md", ".json")), "w") as f:
        json.dump(res, f, indent=1, default=str)
    print(text)
    if failures:
        print("bench: %d check(s) failed" % len(failures), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
