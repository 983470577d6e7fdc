"""Bring your own vision-language model: a tiny CLIP-shaped encoder pair made here (random
weights, CLIP's inputs and outputs), real crops from vtest.avi through the real pipeline, the
vectors stored and fused into search with reasons; bad encoder files; no section, no change."""

import logging
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import VTEST, needs_models, needs_samples
from sqlalchemy import select

from scenewatch.config import AppConfig
from scenewatch.config.embeddings import EmbeddingsConfig
from scenewatch.errors import SceneWatchError
from scenewatch.flow.node import Node
from scenewatch.pipeline import index_file
from scenewatch.search.engine import search
from scenewatch.search.vectors import read_vectors, similarities, store_vectors, vector_ranker
from scenewatch.store.data import DataStore
from scenewatch.store.schema import track_vectors, tracks
from scenewatch.vision.clip_encoder import ClipEncoders

onnx = pytest.importorskip("onnx", reason="onnx is not installed (pip install 'scenewatch[clip]')")
tokenizers = pytest.importorskip("tokenizers", reason="tokenizers is not installed (scenewatch[clip])")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

D = 16  # the tiny pair's embedding size
SIDE = 32  # the image encoder's fixed input side
LENGTH = 8  # token ids per text
WORDS = ["a", "photo", "of", "person", "people", "walking", "red", "top", "in", "the", "coat"]
FAR_WORD = "zebra"  # in the tokenizer, beyond the text encoder's embedding table: Gather fails
CLIP_S = 5  # seconds of vtest.avi indexed: people walk across in them
QUERY = "a person walking"


def _save(graph, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def image_model(path: Path, dim: int = D, shape=("N", 3, SIDE, SIDE), out_rank: int = 2, seed: int = 1):
    """Conv -> GlobalAveragePool -> Flatten -> Gemm: [N,3,H,W] float to [N,dim]."""
    rng = np.random.default_rng(seed)
    weights = [
        numpy_helper.from_array(rng.normal(size=(8, 3, 3, 3)).astype(np.float32), "conv_w"),
        numpy_helper.from_array(rng.normal(size=(8, dim)).astype(np.float32), "fc_w"),
        numpy_helper.from_array(rng.normal(size=(dim,)).astype(np.float32), "fc_b"),
    ]
    nodes = [
        helper.make_node("Conv", ["pixel_values", "conv_w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("GlobalAveragePool", ["r"], ["p"]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["image_embeds" if out_rank == 2 else "g"]),
    ]
    out_shape: list = ["N", dim]
    if out_rank != 2:  # a wrong export: [N, dim, 1]
        axes = numpy_helper.from_array(np.array([2], np.int64), "axes")
        weights.append(axes)
        nodes.append(helper.make_node("Unsqueeze", ["g", "axes"], ["image_embeds"]))
        out_shape = ["N", dim, 1]
    graph = helper.make_graph(
        nodes,
        "image",
        [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info("image_embeds", TensorProto.FLOAT, out_shape)],
        weights,
    )
    return _save(graph, path)


def text_model(
    path: Path, dim: int = D, vocab: int = len(WORDS) + 2, id_type=TensorProto.INT64, seed: int = 2
):
    """Gather (token embedding) -> ReduceMean over tokens: [N,L] ids to [N,dim]."""
    table = np.random.default_rng(seed).normal(size=(vocab, dim)).astype(np.float32)
    nodes = [
        helper.make_node("Gather", ["table", "input_ids"], ["e"]),
        helper.make_node("ReduceMean", ["e"], ["text_embeds"], axes=[1], keepdims=0),
    ]
    graph = helper.make_graph(
        nodes,
        "text",
        [helper.make_tensor_value_info("input_ids", id_type, ["N", LENGTH])],
        [helper.make_tensor_value_info("text_embeds", TensorProto.FLOAT, ["N", dim])],
        [numpy_helper.from_array(table, "table")],
    )
    return _save(graph, path)


def tokenizer_file(path: Path) -> Path:
    """A word-level tokenizer.json: [PAD] 0, [UNK] 1, then WORDS, then FAR_WORD (out of the
    text encoder's table)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    vocab = {"[PAD]": 0, "[UNK]": 1, **{w: i + 2 for i, w in enumerate(WORDS)}}
    vocab[FAR_WORD] = 1000
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.save(str(path))
    return path


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> EmbeddingsConfig:
    """The tiny encoder pair and its tokenizer, as a config section (similarity alone ranks
    nearly everything: the plumbing shows)."""
    folder = tmp_path_factory.mktemp("clip")
    return EmbeddingsConfig(
        image_model=image_model(folder / "image.onnx"),
        text_model=text_model(folder / "text.onnx"),
        tokenizer=tokenizer_file(folder / "tokenizer.json"),
        weight=0.9,
        similarity_range=(-1.0, 1.0),
    )


def _index(folder: Path, clip: Path, settings: AppConfig) -> Path:
    store = DataStore.open(folder)
    index_file(store, settings, clip, "campus")
    store.engine.dispose()
    return folder


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg not found (Debian package ffmpeg)")
    path = tmp_path_factory.mktemp("video") / "vtest_start.avi"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(VTEST), "-t", str(CLIP_S), "-c:v", "mjpeg",
         "-q:v", "3", str(path)],
        check=True,
    )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def with_vectors(clip, pair, tmp_path_factory) -> Path:
    """The clip indexed by the real pipeline with the embeddings section."""
    return _index(tmp_path_factory.mktemp("with") / "data", clip, AppConfig(embeddings=pair))


@pytest.fixture(scope="module")
def without_vectors(clip, tmp_path_factory) -> Path:
    """The same clip indexed without the section."""
    return _index(tmp_path_factory.mktemp("without") / "data", clip, AppConfig())


def _copy(folder: Path, tmp_path: Path) -> DataStore:
    shutil.copytree(folder, tmp_path / "data")
    return DataStore.open(tmp_path / "data", create=False)


def _answer(result) -> tuple:
    """What a search says, less the wall-clock times of the run (each indexing has its own)."""
    hits = [
        (h.track_id, round(h.score, 6), h.reasons, [m.track_id for m in h.members]) for h in result.results
    ]
    return result.understood, hits, result.notes


def _described(store: DataStore) -> dict[int, dict]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(tracks.c.id, tracks.c.attributes).where(tracks.c.attributes.is_not(None)))
        return {i: a for i, a in rows}


def test_tiny_pair_opens_and_gives_unit_vectors(pair):
    encoders = ClipEncoders(pair)
    assert (encoders.dim, encoders.image.height, encoders.text.length) == (D, SIDE, LENGTH)
    crops = [np.full((60, 20, 3), v, np.uint8) for v in (30, 200)]
    images = encoders.image.encode(crops)
    texts = encoders.text.encode(["a person in a red coat", "the people walking"])
    assert images.shape == texts.shape == (2, D)
    assert np.allclose(np.linalg.norm(images, axis=1), 1.0, atol=1e-5)
    assert np.allclose(np.linalg.norm(texts, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(texts[0], texts[1])  # different words, different vectors
    track = encoders.track_vector(crops, [0.9, 0.1])
    assert track is not None and abs(np.linalg.norm(track) - 1.0) < 1e-5


@needs_samples
@needs_models
def test_real_tracks_get_stored_vectors(with_vectors, tmp_path):
    store = _copy(with_vectors, tmp_path)
    described = _described(store)
    with store.engine.connect() as conn:
        vectors = read_vectors(conn, described)
    assert len(described) >= 3  # several people cross in the first seconds
    assert set(vectors) == set(described)  # every described track has its vector ...
    assert all(v.shape == (D,) and abs(np.linalg.norm(v) - 1.0) < 1e-4 for v in vectors.values())
    assert all("_embedding" not in a for a in described.values())  # ... stored apart, not in the JSON
    assert len({v.tobytes() for v in vectors.values()}) == len(vectors)  # from each track's own crops


@needs_samples
@needs_models
def test_fused_search_gives_the_similarity_as_a_reason(with_vectors, tmp_path, pair):
    store = _copy(with_vectors, tmp_path)
    ranker = vector_ranker(pair)
    fused = search(store, QUERY, vectors=ranker, group=False)
    plain = search(store, QUERY, group=False)
    assert fused.results and len(fused.results) == len(plain.results)
    text = ranker.encode(QUERY)
    with store.engine.connect() as conn:
        sims = similarities(conn, [h.track_id for h in fused.results], text)
    for hit in fused.results:
        assert hit.reasons[-1] == f"image-text similarity {sims[hit.track_id]:.2f}"
    # each score is the attribute score and the mapped similarity, weighed 0.1 : 0.9, and the
    # order follows it (the similarities of a random encoder lie close, so the attributes still
    # tell some apart: the exact blend is what is checked, not the similarity's order alone)
    low, high = pair.similarity_range
    attribute = {h.track_id: h.score for h in plain.results}
    for hit in fused.results:
        mapped = (sims[hit.track_id] - low) / (high - low)
        assert hit.score == pytest.approx(0.1 * attribute[hit.track_id] + 0.9 * mapped, abs=1e-6)
    scores = [h.score for h in fused.results]
    assert scores == sorted(scores, reverse=True)
    assert fused.results[0].track_id == max(
        attribute, key=lambda t: attribute[t] + 9 * (sims[t] - low) / (high - low)
    )


@needs_samples
@needs_models
def test_a_track_whose_vector_is_the_querys_ranks_first(with_vectors, tmp_path, pair):
    store = _copy(with_vectors, tmp_path)
    ranker = vector_ranker(pair)
    before = search(store, QUERY, vectors=ranker, group=False).results
    last = before[-1].track_id
    assert before[0].track_id != last
    with store.engine.begin() as conn:
        store_vectors(conn, [(last, ranker.encode(QUERY))])
    after = search(store, QUERY, vectors=ranker, group=False).results
    assert after[0].track_id == last
    assert after[0].reasons[-1] == "image-text similarity 1.00"


@needs_samples
@needs_models
def test_without_the_section_nothing_changes(with_vectors, without_vectors, tmp_path):
    store = _copy(with_vectors, tmp_path / "a")
    plain = _copy(without_vectors, tmp_path / "b")
    with plain.engine.connect() as conn:
        assert conn.execute(select(track_vectors.c.track_id)).first() is None
    # the same tracks with the same attributes, and the same answers when searched without vectors
    assert _described(store) == _described(plain)
    for text in (QUERY, "person in a red top", "穿深色裤子的人"):
        a, b = _answer(search(store, text)), _answer(search(plain, text))
        assert a[1] and a == b


# ---------------------------------------------------------------- bad input


def _bad(pair: EmbeddingsConfig, tmp_path: Path, case: str) -> tuple[EmbeddingsConfig, str]:
    """A config with one bad encoder file, and the setting its message must name."""
    if case == "missing":
        return pair.model_copy(update={"image_model": tmp_path / "nowhere.onnx"}), "embeddings.image_model"
    if case == "corrupt":
        junk = tmp_path / "text.onnx"
        junk.write_bytes(b"this is not a model\n" * 50)
        return pair.model_copy(update={"text_model": junk}), "embeddings.text_model"
    if case == "image_rank":  # channels-last, rank 4 but 32 channels
        path = image_model(tmp_path / "nhwc.onnx", shape=("N", SIDE, SIDE, 3))
        return pair.model_copy(update={"image_model": path}), "embeddings.image_model"
    if case == "image_output":
        path = image_model(tmp_path / "rank3.onnx", out_rank=3)
        return pair.model_copy(update={"image_model": path}), "embeddings.image_model"
    if case == "text_ids_float":
        path = text_model(tmp_path / "float_ids.onnx", id_type=TensorProto.FLOAT)
        return pair.model_copy(update={"text_model": path}), "embeddings.text_model"
    if case == "dims_differ":
        path = text_model(tmp_path / "d8.onnx", dim=8)
        return pair.model_copy(update={"text_model": path}), "gives 8-d"
    if case == "tokenizer":
        junk = tmp_path / "tokenizer.json"
        junk.write_text('{"not": "a tokenizer"}')
        return pair.model_copy(update={"tokenizer": junk}), "embeddings.tokenizer"
    raise AssertionError(case)


BAD = ["missing", "corrupt", "image_rank", "image_output", "text_ids_float", "dims_differ", "tokenizer"]


@pytest.mark.parametrize("case", BAD)
def test_a_bad_encoder_is_a_clear_error_at_startup(pair, tmp_path, case):
    config, field = _bad(pair, tmp_path, case)
    with pytest.raises(SceneWatchError) as raised:
        ClipEncoders(config)
    message = str(raised.value)
    assert field in message and "remove the embeddings section" in message
    if case != "dims_differ":
        assert str(getattr(config, field.split(".")[1])) in message  # names the file
    assert "\n" not in message and "Traceback" not in message


@needs_samples
@needs_models
@pytest.mark.parametrize("case", ["missing", "image_output", "dims_differ"])
def test_a_bad_encoder_stops_the_run_and_the_server_before_they_start(pair, tmp_path, case, without_vectors):
    from scenewatch.api.app import create_app

    config, field = _bad(pair, tmp_path, case)
    store = _copy(without_vectors, tmp_path)
    with pytest.raises(SceneWatchError, match=field):
        Node(store, AppConfig(embeddings=config), detector=None)  # type: ignore[arg-type]
    with pytest.raises(SceneWatchError, match=field):
        create_app(store, AppConfig(embeddings=config))
    assert search(store, "person in a red top").results  # attribute search goes on


def _yaml(config: EmbeddingsConfig, path: Path) -> Path:
    fields = config.model_dump(include={"image_model", "text_model", "tokenizer", "weight"})
    low, high = config.similarity_range
    path.write_text(
        "embeddings:\n"
        + "".join(f"  {k}: {v}\n" for k, v in fields.items())
        + f"  similarity_range: [{low}, {high}]\n"
    )
    return path


@needs_samples
@needs_models
def test_cli_search_ranks_with_the_configured_encoders(pair, with_vectors, tmp_path, run_cli):
    import json

    shutil.copytree(with_vectors, run_cli.data)
    done = run_cli("search", QUERY, "--json", "--config", str(_yaml(pair, tmp_path / "cams.yaml")))
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)["results"]
    assert results and all(r["reasons"][-1].startswith("image-text similarity") for r in results)
    plain = json.loads(run_cli("search", QUERY, "--json").stdout)["results"]  # no saved config: none
    assert plain and not any("image-text" in why for r in plain for why in r["reasons"])


def test_cli_search_with_a_bad_encoder_says_which_setting(pair, tmp_path, run_cli):
    config, _ = _bad(pair, tmp_path, "corrupt")
    yaml = _yaml(config, tmp_path / "cams.yaml")
    DataStore.open(run_cli.data).engine.dispose()
    done = run_cli("search", "a person", "--config", str(yaml))
    assert done.returncode == 2
    line = done.stderr.strip()
    assert line.startswith("scenewatch: error: embeddings.text_model:") and str(config.text_model) in line
    assert "Traceback" not in done.stderr


@needs_samples
@needs_models
def test_a_text_encoder_failing_at_run_time_falls_back_to_attributes(with_vectors, tmp_path, pair, caplog):
    store = _copy(with_vectors, tmp_path)
    ranker = vector_ranker(pair)
    text = f"a person {FAR_WORD}"  # a token id beyond the encoder's table: ONNX Runtime raises
    plain = search(store, text).to_dict()
    with caplog.at_level(logging.ERROR, logger="scenewatch.vision.clip_encoder"):
        first = search(store, text, vectors=ranker).to_dict()
        second = search(store, text, vectors=ranker).to_dict()
    note = "image-text similarity is unavailable (the text encoder failed); ranked by attributes alone"
    for answer in (first, second):
        assert note in answer["notes"]
        assert answer["results"] == plain["results"] and answer["results"]
    assert len([r for r in caplog.records if "text encoder" in r.getMessage()]) == 1  # logged once
    assert search(store, QUERY, vectors=ranker).results[0].reasons[-1].startswith("image-text similarity")


@needs_samples
@needs_models
def test_a_track_without_a_vector_is_neutral_and_a_deleted_track_loses_its_vector(
    with_vectors, tmp_path, pair
):
    store = _copy(with_vectors, tmp_path)
    ranker = vector_ranker(pair)
    ids = [h.track_id for h in search(store, QUERY, vectors=ranker, group=False).results]
    with store.engine.begin() as conn:
        conn.execute(track_vectors.delete().where(track_vectors.c.track_id == ids[0]))
        conn.execute(tracks.delete().where(tracks.c.id == ids[1]))  # retention, say
        assert set(read_vectors(conn, ids[:2])) == set()  # the foreign key cascades
    hits = {h.track_id: h for h in search(store, QUERY, vectors=ranker, group=False).results}
    assert ids[1] not in hits and hits[ids[0]].reasons[-1] == "no image vector"


# ---------------------------------------------------------------- PostgreSQL (no pgvector)


def test_postgres_ranks_the_candidates_by_stored_vectors(pair, tmp_path):
    pytest.importorskip("psycopg", reason="psycopg 3 is not installed (scenewatch[postgres])")
    import sys

    from scenewatch.central.pg import TempCluster, pg_bin_dir

    if pg_bin_dir() is None:
        pytest.skip("PostgreSQL server binaries not found (Debian package postgresql)")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    import search_scale  # the synthetic track generator

    ranker = vector_ranker(pair)
    with TempCluster() as pg:
        store = DataStore.open(tmp_path, database_url=pg.create_database("vec", "vec", "vec-pw"))
        search_scale.fill(store, 400, seed=5)
        before = search(store, "a person", vectors=ranker, group=False, limit=50).results
        ids = [h.track_id for h in before]
        assert all(h.reasons[-1] == "no image vector" for h in before)  # none stored yet
        rng = np.random.default_rng(3)
        random = rng.normal(size=(len(ids), D)).astype(np.float32)
        with store.engine.begin() as conn:
            store_vectors(conn, [(i, v / np.linalg.norm(v)) for i, v in zip(ids, random, strict=True)])
            store_vectors(conn, [(ids[-1], ranker.encode("a person"))])  # the last one: the query itself
        after = search(store, "a person", vectors=ranker, group=False, limit=50).results
        assert after[0].track_id == ids[-1] and after[0].reasons[-1] == "image-text similarity 1.00"
        assert all(h.reasons[-1].startswith("image-text similarity") for h in after if h.track_id in ids)
        with store.engine.begin() as conn:  # the delete trigger of the partitioned tracks cascades
            conn.execute(tracks.delete().where(tracks.c.id == ids[-1]))
            assert read_vectors(conn, ids[-2:]).keys() == {ids[-2]}
        store.engine.dispose()


@needs_samples
def test_background_description_stores_the_same_vector_as_inline(pair, tmp_path):
    """Live cameras describe off their threads (``DescribeQueue``): the vector lands the same."""
    import cv2

    from scenewatch.flow.finish import FinishStage
    from scenewatch.runtime import DescribeQueue
    from scenewatch.store import repo
    from scenewatch.store.writer import TrackWriter
    from scenewatch.tracking import FinishedTrack
    from scenewatch.types import Detections, Frame
    from scenewatch.vision.attributes import AttributeDescriber

    capture = cv2.VideoCapture(str(VTEST))
    images = [capture.read()[1] for _ in range(30)]
    capture.release()
    queue = DescribeQueue()
    found = []
    for name, q in (("inline", None), ("background", queue)):
        store = DataStore.open(tmp_path / name)
        camera_id = repo.ensure_camera(store.engine, "cam", "file", 768, 576, 10.0)
        run_id = repo.start_run(store.engine, camera_id, "file", "live")
        describer = AttributeDescriber(use_pose=False, encoders=ClipEncoders(pair))
        stage = FinishStage(
            TrackWriter(store, "cam", camera_id, run_id), describer=describer, describe_queue=q
        )
        times, boxes = [], []
        for i, image in enumerate(images):
            box = np.array([[300 + 4 * i, 250, 360 + 4 * i, 420]], np.float32)
            frame = Frame(image, "cam", i, 1000.0 + i * 0.1, i * 0.1)
            stage.add(frame, Detections(box, [0.9], [0], [7]), [], Detections(box, [0.9], [0]))
            times.append(frame.timestamp)
            boxes.append(box[0])
        track = FinishedTrack(
            7, 0, np.array(times), np.arange(30), np.array(boxes), np.full(30, 0.9, np.float32)
        )
        stage.finish([track])
        stage.close()
        with store.engine.connect() as conn:
            (track_id,) = conn.execute(select(tracks.c.id)).scalars().all()
            found.append(read_vectors(conn, [track_id]).get(track_id))
    assert found[0] is not None and found[1] is not None
    assert np.allclose(found[0], found[1], atol=1e-6)
    assert queue.stats()["describe_done"] == 1 and queue.close()
