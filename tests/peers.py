"""Reads a Delta table with the peers lakeshell must interoperate with, for the Rust tests.

usage: peers.py read PATH COL[,COL...]   -> JSON {"deltalake": rows, "duckdb": rows, "version": n}
       peers.py read-s3 URL COL[,COL...] ENDPOINT
                                         -> the same for s3://bucket/table on a local S3 server
                                            (access key and secret "test")
       peers.py write PATH               -> writes a small table with delta-rs (Python)
       peers.py mutate PATH              -> delta-rs updates, deletes, merges and optimizes a
                                            table with columns (id BIGINT, name STRING)
Rows are sorted lists of normalised strings, so engines compare exactly.
"""
import datetime
import decimal
import glob
import json
import os
import sys

import duckdb
import deltalake


def norm(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, datetime.datetime):
        return v.replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(v, datetime.date):
        return v.isoformat()
    if isinstance(v, float):
        return repr(v)
    return str(v)


def delta_extension(name="delta"):
    import duckdb_ext  # noqa: F401  (the duckdb-ext-delta package)
    base = os.path.dirname(duckdb_ext.__file__) if getattr(duckdb_ext, "__file__", None) else list(duckdb_ext.__path__)[0]
    found = glob.glob(os.path.join(base, "extensions", "v" + duckdb.__version__, "*", name + ".duckdb_extension"))
    if not found:
        raise SystemExit(name + ".duckdb_extension not found under " + base)
    return found[0]


def read(path, cols, endpoint=None):
    options = None
    if endpoint:
        options = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                   "AWS_REGION": "us-east-1", "AWS_ALLOW_HTTP": "true"}
    dt = deltalake.DeltaTable(path, storage_options=options)
    table = dt.to_pyarrow_table(columns=cols)
    by_deltalake = sorted(([norm(r[c]) for c in cols] for r in table.to_pylist()), key=json.dumps)
    con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    if endpoint:
        con.execute("LOAD '%s'" % delta_extension("httpfs"))
        con.execute("CREATE SECRET s (TYPE s3, KEY_ID 'test', SECRET 'test', REGION 'us-east-1', "
                    "ENDPOINT '%s', URL_STYLE 'path', USE_SSL false)" % endpoint.split("://", 1)[-1])
    con.execute("LOAD '%s'" % delta_extension())
    quoted = ", ".join('"%s"' % c for c in cols)
    got = con.execute("SELECT %s FROM delta_scan(?)" % quoted, [path]).fetchall()
    by_duckdb = sorted(([norm(v) for v in r] for r in got), key=json.dumps)
    print(json.dumps({"deltalake": by_deltalake, "duckdb": by_duckdb, "version": dt.version()}))


def write(path):
    import pyarrow as pa
    data = pa.table({
        "id": pa.array([1, 2, 3], pa.int64()),
        "name": pa.array(["a", "b", None]),
        "score": pa.array([1.5, 2.25, -3.0]),
        "day": pa.array([datetime.date(2024, 1, 1), datetime.date(2024, 1, 2), datetime.date(2024, 1, 2)]),
    })
    deltalake.write_deltalake(path, data, partition_by=["day"])
    deltalake.write_deltalake(path, data.slice(0, 1), mode="append")


def mutate(path):
    import pyarrow as pa
    dt = deltalake.DeltaTable(path)
    dt.update(predicate="id = 1", updates={"name": "'one'"})
    dt.delete("id = 2")
    source = pa.table({"id": pa.array([3, 9], pa.int64()), "name": pa.array(["three", "nine"])})
    (
        dt.merge(source, "t.id = s.id", source_alias="s", target_alias="t")
        .when_matched_update_all()
        .when_not_matched_insert_all()
        .execute()
    )
    dt.optimize.compact()


def fieldid_parquet(path):
    """A parquet file whose schema carries PARQUET:field_id, as some tools write."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    schema = pa.schema([
        pa.field("k", pa.int64(), metadata={b"PARQUET:field_id": b"1"}),
        pa.field("v", pa.string(), metadata={b"PARQUET:field_id": b"2"}),
    ])
    pq.write_table(pa.table({"k": [1, 2], "v": ["x", "y"]}, schema=schema), path)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "read":
        read(sys.argv[2], sys.argv[3].split(","))
    elif cmd == "read-s3":
        read(sys.argv[2], sys.argv[3].split(","), sys.argv[4])
    elif cmd == "write":
        write(sys.argv[2])
    elif cmd == "mutate":
        mutate(sys.argv[2])
    elif cmd == "fieldid-parquet":
        fieldid_parquet(sys.argv[2])
    else:
        raise SystemExit("unknown command " + cmd)
    # deltalake 1.6 now and then aborts while the interpreter shuts down, after the work is done.
    sys.stdout.flush()
    os._exit(0)
