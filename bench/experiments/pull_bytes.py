#!/usr/bin/env python3
"""What would bring the initial pull to 3x fewer bytes than PouchDB (issue 4)?

Offline experiment, not a test: reads the operations a bench-sync run stored on its server
(C=200), rebuilds pull pages of 1,000 operations the way the server sends them, and
compresses them several ways; prints the bytes and the ratio against the peer's pull
(1,158,534 bytes up + down at C=200; ours sends 2,455 bytes up).

    target/release/ipc-bench-sync run --workloads target/bench-sync \
        --linkproxy target/bench-sync/sync-peer/linkproxy.js --work /tmp/bs/work \
        --label x --json /tmp/bs/ours.json --clients 200 --reps 1 --keep
    pip install zstandard brotli
    python3 bench/experiments/pull_bytes.py /tmp/bs/work/c200-lat0-r1/server.db

Variants: the operations as they are (2.06 per document: each record and its Extra), "one
operation per document" (each Extra folded into its subject's create, simulated), and a
columnar page (envelope fields and each record kind's fields as arrays).
"""
import json
import sqlite3
import sys
import time
import zlib

import brotli
import zstandard

PEER_PULL_BYTES = 1_158_534
OUR_UP_BYTES = 2_455


def gzip(b, level=6):
    c = zlib.compressobj(level, zlib.DEFLATED, 31)
    return c.compress(b) + c.flush()


CODECS = {
    "gzip-6": lambda b: gzip(b, 6),
    "brotli-9": lambda b: brotli.compress(b, quality=9, lgwin=22),
    "brotli-11": lambda b: brotli.compress(b, quality=11, lgwin=22),
    "zstd-19": lambda b: zstandard.ZstdCompressor(level=19).compress(b),
}


def rows_pages(ops, n=1000):
    return [json.dumps({"version": 1, "acked": [], "rejected": [], "ops": ops[i:i + n],
                        "removed": [], "cursor": i + n, "more": True,
                        "server_time_ms": 0}, separators=(",", ":")).encode()
            for i in range(0, len(ops), n)]


def columnar_pages(ops, n=1000):
    pages = []
    for i in range(0, len(ops), n):
        env, fields = {}, {}
        for o in ops[i:i + n]:
            for k, v in o.items():
                if k == "change":
                    env.setdefault("type", []).append(v["type"])
                else:
                    env.setdefault(k, []).append(v)
            fields.setdefault(o["entity"], []).append(o["change"].get("fields", {}))
        cols = {kind: {k: [d.get(k) for d in lst] for k in sorted({k for d in lst for k in d})}
                for kind, lst in fields.items()}
        pages.append(json.dumps({"env": env, "fields": cols}, separators=(",", ":")).encode())
    return pages


def one_op_per_document(ops):
    out, by_entity = [], {}
    for o in ops:
        if o["entity"] == "extra":
            d = o["change"]["fields"]
            subject = by_entity.get(d["subject_id"])
            if subject is not None:
                subject["change"]["fields"]["extra"] = d["data"]
                continue
        out.append(o)
        by_entity[o["entity_id"]] = o
    return out


def report(name, pages):
    cells = [f"{name}: JSON {sum(map(len, pages)):,}"]
    for codec, f in CODECS.items():
        t = time.time()
        size = sum(len(f(p)) for p in pages)
        cells.append(f"{codec} {size:,} = {PEER_PULL_BYTES / (size + OUR_UP_BYTES):.2f}x "
                     f"({(time.time() - t) * 1000:.0f} ms)")
    print(" | ".join(cells))


def main():
    db = sqlite3.connect(sys.argv[1])
    ops = [json.loads(r[0]) for r in db.execute("SELECT body FROM ops ORDER BY seq LIMIT 7000")]
    folded = one_op_per_document([json.loads(json.dumps(o)) for o in ops])
    report(f"as stored ({len(ops)} ops)", rows_pages(ops))
    report(f"one op per document ({len(folded)} ops)", rows_pages(folded))
    report("columnar, as stored", columnar_pages(ops))
    report("columnar, one op per document", columnar_pages(folded))


if __name__ == "__main__":
    main()
