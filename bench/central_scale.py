"""Central at scale: N synthetic tracks from 4 concurrent edges into PostgreSQL, then searches.

Each edge is a process that ships what a real edge ships (``central/outbox.py`` shipments: its
cameras, runs, finished tracks with attributes and their search terms, computed on the edge by
``search/index.py``) through the central's ingest code (``central/ingest.py``, the function
behind ``POST /api/central/ingest``) into one PostgreSQL. Track attributes come from the
generator of ``bench/search_scale.py``; an edge draws a pool of tracks once and replays it with
fresh ids and times, so the edges' own CPU (which real edges do not share with the database)
stays out of the figure.

Prints the ingest rate, database size, and search p50/p95 (single- and multi-clause queries,
each with a time filter) through the public search API on the central database.

    .venv/bin/python bench/central_scale.py [--tracks 10000000] [--edges 4] [--database-url URL]

Without ``--database-url`` a throw-away cluster is started (``central/pg.py``, with fsync and
synchronous commit on, as in production) and deleted afterwards.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import search_scale  # noqa: E402  (the attribute generator, queries and latency timing)
from machine import describe_machine  # noqa: E402

from scenewatch.central import edges as registry  # noqa: E402
from scenewatch.central.ingest import ingest  # noqa: E402
from scenewatch.search.index import term_rows  # noqa: E402
from scenewatch.store.data import DataStore  # noqa: E402
from scenewatch.store.db import head_revision, open_engine  # noqa: E402

POOL = 5000  # distinct tracks an edge draws; replayed with fresh ids and times


def edge_process(url: str, edge_index: int, n: int, batch: int, out: mp.Queue, ready=None) -> None:
    """One edge: ship ``n`` tracks in shipments of ``batch``; reports (tracks, seconds in ingest)."""
    engine = open_engine(url, migrate=False)
    name, site = f"edge{edge_index}", f"site{edge_index}"
    with engine.connect() as conn:
        edge = dict(conn.exec_driver_sql("SELECT * FROM edges WHERE name = %s", (name,)).mappings().one())
    rng = random.Random(edge_index)
    start0 = (search_scale.NOW - timedelta(days=search_scale.DAYS)).timestamp()
    cams = [
        {"id": i + 1, "name": c.replace(" ", "-"), "source": "synthetic", "created_at": 0.0}
        for i, c in enumerate(search_scale.CAMERAS)
    ]
    runs = [
        {
            "id": c["id"],
            "camera_id": c["id"],
            "source": "synthetic",
            "mode": "run",
            "started_at": start0,
            "status": "running",
            "frames_decoded": 0,
            "frames_detected": 0,
        }
        for c in cams
    ]
    pool = []
    for _ in range(POOL):
        cls = search_scale.pick(rng, search_scale.CLASSES)
        attrs = search_scale.attributes(rng, cls, search_scale.ZONES)
        pool.append((cls, attrs))
    if ready is not None:
        ready.wait()  # every edge has its pool: the clock starts now
    ingest_s, shipped, next_id = 0.0, 0, 1
    while shipped < n:
        tracks = []
        for _ in range(min(batch, n - shipped)):
            cls, attrs = pool[next_id % POOL]
            cam = cams[next_id % len(cams)]["id"]
            first, last = search_scale.synthetic_times(rng, start0)
            thumbnail = f"thumbnails/{cam}/run{cam}/{next_id // 1000:04d}/{next_id}.jpg"
            row = search_scale.track_row(next_id, cam, cam, first, last, cls, attrs, thumbnail)
            terms = term_rows(next_id, cam, cls, first, last, attrs, row["score"])
            tracks.append(
                {
                    **row,
                    "terms": [[t["term"], t["weight"]] for t in terms],
                }
            )
            next_id += 1
        shipment = {
            "edge": name,
            "site": site,
            "schema": head_revision(),
            "instance": f"bench-{edge_index}",
            "version": "bench",
            "backlog": n - shipped - len(tracks),
            "rows": {"camera": cams, "run": runs, "track": tracks},
        }
        t0 = time.perf_counter()
        ingest(engine, edge, shipment)
        ingest_s += time.perf_counter() - t0
        shipped += len(tracks)
        if edge_index == 0 and (shipped // batch) % 100 == 0:
            print(f"  edge0: {shipped:,} tracks ...", flush=True)
    out.put((shipped, ingest_s))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tracks", type=int, default=10_000_000)
    ap.add_argument("--edges", type=int, default=4)
    ap.add_argument("--batch", type=int, default=1000, help="tracks per shipment")
    ap.add_argument("--queries", type=int, default=60, help="queries per kind (>= 50)")
    ap.add_argument("--database-url", help="an empty PostgreSQL database (default: a throw-away cluster)")
    args = ap.parse_args()
    print(describe_machine())
    print(f"load average at start: {os.getloadavg()}")
    cluster = None
    url = args.database_url
    if url is None:
        from scenewatch.central.pg import TempCluster

        cluster = TempCluster(durable=True).start()  # fsync on: the figures hold for a real server
        url = cluster.create_database("central", "central", "central-pw")
    try:
        run(url, args)
    finally:
        if cluster is not None:
            cluster.close()


def run(url: str, args: argparse.Namespace) -> None:
    store = DataStore.open(Path("/nonexistent"), database_url=url)
    for i in range(args.edges):
        registry.add_edge(store.engine, f"edge{i}", f"site{i}")
    per_edge = [args.tracks // args.edges + (i < args.tracks % args.edges) for i in range(args.edges)]
    print(
        f"ingesting {args.tracks:,} tracks from {args.edges} concurrent edges, {args.batch} per shipment ..."
    )
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    ready = ctx.Barrier(args.edges + 1)
    procs = [
        ctx.Process(target=edge_process, args=(url, i, n, args.batch, out, ready))
        for i, n in enumerate(per_edge)
    ]
    for p in procs:
        p.start()
    ready.wait()
    t0 = time.perf_counter()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    wall = time.perf_counter() - t0
    total = sum(n for n, _ in results)
    print(
        f"ingest: {total:,} tracks in {wall:.1f} s = {total / wall:,.0f} tracks/s "
        f"(wall, {args.edges} edges; time inside ingest per edge {max(s for _, s in results):.1f} s); "
        f"load average now {os.getloadavg()}"
    )
    with store.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    with store.engine.connect() as conn:
        size = conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar_one()
        n = conn.exec_driver_sql("SELECT count(*) FROM tracks").scalar_one()
        terms = conn.exec_driver_sql("SELECT count(*) FROM track_terms").scalar_one()
    print(
        f"database: {size / 1e9:.2f} GB for {n:,} tracks = {size / 1e9 * 1e6 / n:.2f} GB per million tracks; "
        f"{terms:,} term rows ({terms / n:.1f} per track)"
    )
    for name, templates, seed in (
        ("single clause", search_scale.SINGLE, 1),
        ("multi clause", search_scale.MULTI, 2),
    ):
        texts = search_scale.queries(templates, max(args.queries, 50), seed)
        p50, p95, worst, found = search_scale.latency(store, texts)
        print(
            f"{name:14s} with a time filter: {len(texts)} queries, p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
            f"max {worst:.1f} ms, {found / len(texts):.1f} results each; load average {os.getloadavg()}"
        )


if __name__ == "__main__":
    main()
