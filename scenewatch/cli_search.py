"""`scenewatch search "QUERY"` and `search --like TRACK_ID`: the plain-language search, with how
it read the query and why each result matched."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from scenewatch.cli_common import audited, data_dir, load_settings, open_store, utc_time
from scenewatch.errors import SceneWatchError


def add_search_command(commands: argparse._SubParsersAction) -> None:
    search = commands.add_parser("search", help="find tracks by a plain-language query (English or Chinese)")
    search.add_argument("query", nargs="?", help='e.g. "person in a red top yesterday", "穿红色上衣的人"')
    search.add_argument("--like", type=int, metavar="TRACK_ID", help="tracks that look like this track")
    search.add_argument("--camera", action="append", help="only this camera (repeatable)")
    search.add_argument("--limit", type=int, default=20, help="at most N results (default 20)")
    search.add_argument("--json", action="store_true", help="print JSON: understood, ignored, notes, results")
    search.add_argument(
        "--config", type=Path, help="config with an embeddings section (default: the server's saved one)"
    )
    search.set_defaults(handler=cmd_search)


def _search_vectors(args: argparse.Namespace):
    """Image-text similarity for the search when the config (--config, else the server's saved
    one) has an embeddings section."""
    from scenewatch.api.serve import SERVER_CONFIG
    from scenewatch.search.vectors import vector_ranker

    path = args.config or data_dir(args) / SERVER_CONFIG
    if args.config is None and not path.is_file():
        return None
    return vector_ranker(load_settings(path).embeddings)


def cmd_search(args: argparse.Namespace) -> int:
    from scenewatch.search.engine import more_like, search

    if args.query is None and args.like is None:
        raise SceneWatchError("give a query or --like TRACK_ID", 'e.g. scenewatch search "person in red"')
    if args.like is None and not args.query.strip():
        from scenewatch.api.routes.search import EMPTY_HINT, EMPTY_QUERY  # the API's words

        raise SceneWatchError(EMPTY_QUERY, EMPTY_HINT)
    store = open_store(args, create=False)
    if args.like is not None:
        audited(store, "search", f"track:{args.like}", {"like": args.like, "cameras": args.camera})
    else:
        audited(store, "search", "search", {"text": args.query, "cameras": args.camera})
    if args.like is not None:
        result = more_like(store, args.like, limit=args.limit, cameras=args.camera)
    else:
        vectors = _search_vectors(args)
        result = search(store, args.query, cameras=args.camera, limit=args.limit, vectors=vectors)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False, default=str))
        return 0
    understood = result.understood
    if args.like is not None:
        print(f"tracks like {args.like} ({understood.get('class', '?')})")
    else:
        objects = "; ".join(_describe_clause(o) for o in understood["objects"]) or "any object"
        window = understood.get("time") or {}
        print(f"understood: {objects}")
        if window:
            print(f"  time: {window.get('start') or '...'} .. {window.get('end') or '...'}")
        for key in ("cameras", "zones"):
            if understood.get(key):
                print(f"  {key}: {', '.join(understood[key])}")
    if result.ignored:
        print(f"ignored: {', '.join(result.ignored)}")
    for note in result.notes:
        print(f"note: {note}")
    for rank, hit in enumerate(result.results, 1):
        print(
            f"{rank:>3}. track {hit.track_id} {hit.cls} on {hit.camera}, "
            f"{utc_time(hit.start)} .. {utc_time(hit.end)} UTC, score {hit.score:.2f}"
        )
        print(f"     {'; '.join(hit.reasons)}")
        print(f"     thumbnail: {hit.thumbnail or '-'}")
        if len(hit.members) > 1:  # one walk the tracker split: its tracks, in time order
            ids = ", ".join(str(m.track_id) for m in hit.members)
            print(f"     {len(hit.members)} fragments: tracks {ids}")
    return 0


def _describe_clause(clause: dict) -> str:
    words = [clause["class"] or "any object"]
    if clause["vehicle_type"]:
        words[0] = clause["vehicle_type"]
    shaded = [
        (part, [f"{c['shade']} {c['term']}" if c["shade"] else c["term"] for c in cs])
        for part, cs in clause["colours"].items()
    ]
    words += [f"{part} {'/'.join(terms)}" for part, terms in shaded]
    words += [f"wearing a {g}" for g in clause["garments"] if g in ("hood", "hat", "cap", "helmet")]
    words += [f"carrying {c['item']}" for c in clause["carried"]]
    words += [clause["posture"]] if clause["posture"] else []
    words += [v for v in clause["motion"].values() if v]
    return ", ".join(words)
