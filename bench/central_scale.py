"""Central at scale: N synthetic tracks from 4 concurrent edges into PostgreSQL, then searches.

Each edge is a process that ships what a real edge ships (``central/outbox.py`` shipments: its
cameras, runs, finished tracks with attributes and their search terms, computed on the edge by
``search/index.py``) through the central's ingest code (``central/ingest.py``, the function
behind ``POST /api/central/ingest``) into one PostgreSQL. Track attributes come from the
generator of ``bench/search_scale.py``; an edge draws a pool of tracks once and replays it with
fresh ids and times, so the edges' own CPU (which real edges do not share with the database)
stays out of the figure. Like real edges, which ship tracks as they finish, each edge walks
through the 30 days in time order (``--order random`` spreads every shipment over all 30 days
instead: the worst case for index locality).

Prints the ingest rate, database size, and search p50/p95 (single- and multi-clause queries,
each with a time filter) through the public search API on the central database.

    .venv/bin/python bench/central_scale.py [--tracks 10000000] [--edges 4] [--database-url URL]
                                            [--order time|random] [--profile] [--keep DIR]
                                            [--search-only] [--cold]

Without ``--database-url`` a throw-away cluster is started (``central/pg.py``, with fsync and
synchronous commit on, as in production) and deleted afterwards. ``--keep DIR`` puts that
cluster in DIR and keeps it (stopped) afterwards; ``--keep DIR --search-only`` starts the kept
cluster again (with the current production settings) and only times the searches, as does
``--search-only --database-url URL`` on a loaded database that is already running. ``--cold``
(kept cluster, as root) restarts the server and drops the operating system's page cache first:
the searches after a reboot, before anything is cached.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import queue
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import search_scale  # noqa: E402  (the attribute generator, queries and latency timing)
from machine import describe_machine  # noqa: E402

from scenewatch.central import edges as registry  # noqa: E402
from scenewatch.central.ingest import ingest  # noqa: E402
from scenewatch.search.engine import search  # noqa: E402
from scenewatch.search.index import term_rows  # noqa: E402
from scenewatch.store.data import DataStore  # noqa: E402
from scenewatch.store.db import head_revision, open_engine  # noqa: E402

POOL = 5000  # distinct tracks an edge draws; replayed with fresh ids and times


def ordered_times(rng: random.Random, start0: float, k: int, n: int) -> tuple[float, float]:
    """(first, last) of an edge's k-th of n tracks: day k*DAYS//n, hour as in synthetic_times."""
    day = k * search_scale.DAYS // n
    first, last = search_scale.synthetic_times(rng, start0)
    shift = (day - int((first - start0) // 86400)) * 86400.0
    return first + shift, last + shift


def edge_process(
    url: str, edge_index: int, n: int, batch: int, out: mp.Queue, ready=None, order: str = "time"
) -> None:
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
        # the edge computes a track's terms once (search/index.py); they depend on the attributes only
        terms = [[t["term"], t["weight"]] for t in term_rows(0, 0, cls, 0.0, 0.0, attrs, attrs["class_conf"])]
        pool.append((cls, attrs, terms))
    if ready is not None:
        ready.wait()  # every edge has its pool: the clock starts now
    ingest_s, shipped, next_id = 0.0, 0, 1
    while shipped < n:
        tracks = []
        for _ in range(min(batch, n - shipped)):
            cls, attrs, terms = pool[next_id % POOL]
            cam = cams[next_id % len(cams)]["id"]
            if order == "time":
                first, last = ordered_times(rng, start0, next_id - 1, n)
            else:
                first, last = search_scale.synthetic_times(rng, start0)
            thumbnail = f"thumbnails/{cam}/run{cam}/{next_id // 1000:04d}/{next_id}.jpg"
            row = search_scale.track_row(next_id, cam, cam, first, last, cls, attrs, thumbnail)
            tracks.append({**row, "terms": terms})
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
            print(
                f"  edge0: {shipped:,} tracks, {shipped / ingest_s:,.0f} tracks/s in ingest ...", flush=True
            )
    out.put((shipped, ingest_s))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tracks", type=int, default=10_000_000)
    ap.add_argument("--edges", type=int, default=4)
    ap.add_argument("--batch", type=int, default=1000, help="tracks per shipment")
    ap.add_argument("--queries", type=int, default=60, help="queries per kind (>= 50)")
    ap.add_argument("--database-url", help="an empty PostgreSQL database (default: a throw-away cluster)")
    ap.add_argument(
        "--order",
        choices=("time", "random"),
        default="time",
        help="time: each edge ships its tracks in time order (as edges do); random: any day of 30",
    )
    ap.add_argument(
        "--profile",
        action="store_true",
        help="throw-away or kept cluster: print the costliest statements (pg_stat_statements) and WAL volume",
    )
    ap.add_argument("--keep", type=Path, metavar="DIR", help="make (or reuse) the cluster in DIR and keep it")
    ap.add_argument(
        "--search-only",
        action="store_true",
        help="no loading: time the searches on the loaded database of --keep DIR or --database-url",
    )
    ap.add_argument(
        "--cold",
        action="store_true",
        help="with --keep: restart the server and drop the OS page cache (root) before the searches",
    )
    ap.add_argument("--passes", type=int, default=1, help="times the query lists are run (cold, then warm)")
    args = ap.parse_args()
    if args.search_only and not (args.keep or args.database_url):
        ap.error("--search-only needs --keep DIR (a kept cluster) or --database-url URL")
    print(describe_machine())
    print(f"load average at start: {os.getloadavg()}")
    cluster = None
    url = args.database_url
    if url is None:
        from scenewatch.central.pg import TempCluster

        extra = {"shared_preload_libraries": "'pg_stat_statements'"} if args.profile else None
        # fsync on and the production settings of pg.PRODUCTION: the figures hold for a real server
        cluster = TempCluster(durable=True, settings=extra, folder=args.keep)
        if args.search_only and not cluster.reused:
            raise SystemExit(f"no kept cluster in {args.keep}")
        if not args.search_only and cluster.reused:
            raise SystemExit(f"{args.keep} already holds a cluster: add --search-only, or delete it")
        cluster.start()
        if cluster.reused:
            url = cluster.url("central", "central-pw", "central")
        else:
            url = cluster.create_database("central", "central", "central-pw")
        if args.profile:
            with open_engine(cluster.url(database="central"), migrate=False).begin() as conn:
                conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        if args.keep:
            print(f"cluster in {args.keep} (kept), while running: {url}")
    try:
        run(url, args, cluster)
        if args.profile and cluster is not None:
            profile(open_engine(cluster.url(database="central"), migrate=False))
    finally:
        if cluster is not None:
            cluster.close()
            if args.keep:
                print(
                    f"cluster stopped and kept in {args.keep}; searches again: --keep {args.keep} --search-only"
                )


def run(url: str, args: argparse.Namespace, cluster=None) -> None:
    # a throw-away data folder: edge tokens are derived from the secret key file made there
    store = DataStore.open(Path(tempfile.mkdtemp(prefix="sw-central-")), database_url=url)
    if not args.search_only:
        load(store, url, args)
    if args.cold:
        if cluster is None:
            raise SystemExit("--cold needs a kept cluster (--keep DIR)")
        store.engine.dispose()
        cluster.stop()
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")  # root only: nothing cached any more
        cluster.start()
        print("server restarted and the OS page cache dropped: the first pass reads from disk")
    with store.engine.connect() as conn:
        size = conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar_one()
        n = conn.exec_driver_sql("SELECT count(*) FROM tracks").scalar_one()
        terms = conn.exec_driver_sql("SELECT count(*) FROM track_terms").scalar_one()
        sizes = table_sizes(conn) if args.search_only else []
    print(
        f"database: {size / 1e9:.2f} GB for {n:,} tracks = {size / 1e9 * 1e6 / n:.2f} GB per million tracks; "
        f"{terms:,} term rows ({terms / n:.1f} per track)"
    )
    for name, size in sizes:
        print(f"  {float(size) / 1e6:9.1f} MB  {name}")
    if args.profile and cluster is not None:  # the searches' statements only
        with open_engine(cluster.url(database="central"), migrate=False).begin() as conn:
            conn.exec_driver_sql("SELECT pg_stat_statements_reset()")
    for k in range(args.passes):
        label = f" (pass {k + 1} of {args.passes})" if args.passes > 1 else ""
        for name, templates, seed in (
            ("single clause", search_scale.SINGLE, 1),
            ("multi clause", search_scale.MULTI, 2),
        ):
            texts = search_scale.queries(templates, max(args.queries, 50), seed)
            if args.search_only and k == 0:
                p50, p95, worst, found = first_pass(store, texts)
            else:
                p50, p95, worst, found = search_scale.latency(store, texts)
            print(
                f"{name:14s} with a time filter{label}: {len(texts)} queries, p50 {p50:.1f} ms, "
                f"p95 {p95:.1f} ms, max {worst:.1f} ms, {found / len(texts):.1f} results each; "
                f"load average {os.getloadavg()}"
            )


def first_pass(store: DataStore, texts: list[str]) -> tuple[float, float, float, int]:
    """(p50 ms, p95 ms, max ms, results) as ``search_scale.latency``, without its warm-up queries."""
    times, found = [], 0
    for t in texts:
        t0 = time.perf_counter()
        res = search(store, t, now=search_scale.NOW, limit=20, shares=search_scale.SHARES)
        times.append((time.perf_counter() - t0) * 1000)
        found += len(res.results)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))], times[-1], found


def load(store: DataStore, url: str, args: argparse.Namespace) -> None:
    for i in range(args.edges):
        registry.add_edge(store, f"edge{i}", f"site{i}")
    per_edge = [args.tracks // args.edges + (i < args.tracks % args.edges) for i in range(args.edges)]
    print(
        f"ingesting {args.tracks:,} tracks from {args.edges} concurrent edges, {args.batch} per shipment, "
        f"{args.order} order ..."
    )
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    ready = ctx.Barrier(args.edges + 1)
    procs = [
        ctx.Process(target=edge_process, args=(url, i, n, args.batch, out, ready, args.order))
        for i, n in enumerate(per_edge)
    ]
    for p in procs:
        p.start()
    ready.wait()
    t0 = time.perf_counter()
    results = []
    while len(results) < len(procs):
        try:
            results.append(out.get(timeout=5))
        except queue.Empty:
            if any(p.exitcode not in (None, 0) for p in procs):
                raise SystemExit("an edge process failed (its error is above)") from None
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


def table_sizes(conn) -> list:
    """Sizes per table and index, summed over the day partitions (tracks_20240531 counts as tracks)."""
    return conn.exec_driver_sql(
        "SELECT regexp_replace(c.relname, '_(\\d{8}|default)', ''), sum(pg_relation_size(c.oid)) "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i') GROUP BY 1 ORDER BY 2 DESC LIMIT 12"
    ).all()


def profile(engine) -> None:
    """Where the database spent its time: statements by total time, WAL written, checkpoints."""
    with engine.connect() as conn:
        top = conn.exec_driver_sql(
            "SELECT calls, total_exec_time, rows, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) "
            "FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 8"
        ).all()
        wal = conn.exec_driver_sql("SELECT wal_records, wal_fpi, wal_bytes FROM pg_stat_wal").one()
        ckpt = conn.exec_driver_sql(
            "SELECT checkpoints_timed, checkpoints_req, buffers_checkpoint, buffers_backend FROM pg_stat_bgwriter"
        ).one()
        sizes = table_sizes(conn)
    print("statements by total time (pg_stat_statements):")
    for calls, total, rows, query in top:
        print(f"  {total / 1000:8.1f} s {calls:7d} calls {rows:10d} rows  {query}")
    print(
        f"WAL: {float(wal.wal_bytes) / 1e9:.2f} GB in {wal.wal_records:,} records, {wal.wal_fpi:,} full-page images"
    )
    print(
        f"checkpoints: {ckpt.checkpoints_timed} timed, {ckpt.checkpoints_req} requested; "
        f"buffers written by checkpoints {ckpt.buffers_checkpoint:,}, by backends {ckpt.buffers_backend:,}"
    )
    print("largest tables and indexes:")
    for name, size in sizes:
        print(f"  {float(size) / 1e6:9.1f} MB  {name}")


if __name__ == "__main__":
    main()
