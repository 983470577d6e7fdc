"""The Live page in a real browser against a server whose pipeline watches the looped sample: the
overlay draws the tracker's boxes (and the zones and lines) over the picture, where the objects
are, fed by one stream for the page rather than requests per tile, and its toggle removes them and
is remembered; the grid selector lays out 1, 4 or 9 tiles that fill the screen; one camera goes full screen and Esc brings the grid back; the page at phone
width. Screenshots go to ``artifacts_dir``/ui."""

from __future__ import annotations

import time

import pytest
from conftest import needs_models
from support.servers import AppServer
from test_ui import PASSWORD, page, shot  # noqa: F401 (page: the browser fixture)
from test_ui import pytestmark as ui_marks

pytestmark = [*ui_marks, needs_models]
CARD = ".camera[data-camera='sample']"
PERSON = (0, 230, 118)  # live_overlay.js: people's boxes (#00e676)
ZONE = (59, 158, 255)  # zones (#3b9eff)
RECORDED = ("east", "north", "south")  # recorded data only (listed by name): tiles without a picture

# Pixels of exactly ``colour`` on a tile's overlay canvas (0 when hidden or cleared).
COUNT = """([camera, colour]) => {
  const canvas = document.querySelector(`.camera[data-camera='${camera}'] canvas.overlay`);
  if (!canvas || canvas.hidden || !canvas.width) return 0;
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 0; i < data.length; i += 4)
    if (data[i] === colour[0] && data[i + 1] === colour[1] && data[i + 2] === colour[2]) n++;
  return n;
}"""
# For each object the overlay last drew: the canvas pixel on the middle of its box's left edge.
EDGES = """(camera) => {
  const card = document.querySelector(`.camera[data-camera='${camera}']`);
  const canvas = card.querySelector("canvas.overlay");
  const scale = canvas.width / card.overlay.width;
  const g = canvas.getContext("2d");
  return card.overlay.objects.map((o) => {
    const [x1, y1, x2, y2] = o.box;
    return [o.class, o.track_id, [...g.getImageData(Math.round(x1 * scale), Math.round((y1 + y2) / 2 * scale), 1, 1).data]];
  });
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real uvicorn server whose pipeline runs the embedded default camera (the looped sample
    with its zone 'crossing'; a line 'kerb' added; detections 2.5 times a second to spare a busy
    machine), and three cameras with recorded data only, so that the grid has four tiles."""

    from scenewatch.api import auth, create_app
    from scenewatch.api.live_frames import LiveFrames
    from scenewatch.api.runner import PipelineRunner
    from scenewatch.config import AppConfig
    from scenewatch.config.geometry import LineConfig
    from scenewatch.pipeline import default_config
    from scenewatch.store import repo
    from scenewatch.store.data import DataStore

    root = tmp_path_factory.mktemp("ui-live")
    store = DataStore.open(root / "data")
    sample = default_config().cameras[0]
    kerb = LineConfig(name="kerb", a=(20, 420), b=(740, 420))
    sample = sample.model_copy(update={"detect_fps": 2.5, "lines": [kerb]})
    settings = AppConfig(cameras=[sample])
    for name in RECORDED:
        repo.ensure_camera(store.engine, name, f"/recorded/{name}.mp4", 640, 360, 10.0)
    auth.create_user(store.engine, "admin", PASSWORD, "admin")
    live = LiveFrames()
    runner = PipelineRunner(store, settings, live)
    app = create_app(store, settings, runner, config_path=root / "scenewatch.yaml", live=live)
    with AppServer(app, "the UI server") as served:
        runner.start()
        yield {"url": served.url, "store": store, "app": app, "runner": runner}
        runner.stop()


def sign_in(server, browser_page) -> None:
    answer = browser_page.request.post(
        server["url"] + "/api/auth/login", data={"username": "admin", "password": PASSWORD}
    )
    assert answer.ok, answer.text()


def open_live(server, browser_page) -> None:
    """The Live page with the sample streaming and the overlay showing tracked objects."""
    browser_page.goto(server["url"] + "/ui/index.html")
    browser_page.wait_for_function(
        f'document.querySelector("{CARD} img.view")?.naturalWidth > 0', timeout=90000, polling=500
    )
    browser_page.wait_for_function(
        f'document.querySelector("{CARD}")?.dataset.objects > 0', timeout=90000, polling=250
    )


def test_overlay_draws_the_tracked_boxes_and_the_toggle_removes_them(server, page, artifacts_dir):  # noqa: F811
    sign_in(server, page)
    page.goto(server["url"] + "/ui/index.html")
    page.evaluate("localStorage.clear()")
    open_live(server, page)
    assert page.is_checked("#overlay")  # on by default
    # overlaid, the picture is fetched frame by frame with the objects found on each frame
    assert page.get_attribute(f"{CARD} img.view", "src").startswith("blob:")
    objects = page.request.get(server["url"] + "/api/cameras/sample/objects").json()
    assert objects["width"] == 768 and objects["seq"] is not None
    # each box is drawn where the tracker put it (in the picture's scale), in its class's colour
    edges = page.evaluate(EDGES, "sample")
    people = [pixel for cls, _id, pixel in edges if cls == "person"]
    # (a box edge between two canvas pixels is anti-aliased a little)
    near = [max(abs(c - w) for c, w in zip(p[:3], PERSON, strict=True)) <= 8 and p[3] >= 192 for p in people]
    assert people and all(near), edges
    assert page.evaluate(COUNT, ["sample", list(PERSON)]) > 100
    assert page.evaluate(COUNT, ["sample", list(ZONE)]) > 100  # the zone 'crossing'
    # the canvas lies on the picture as shown (object-fit: contain), not on the whole tile
    image = page.query_selector(f"{CARD} img.view").bounding_box()
    layer = page.query_selector(f"{CARD} canvas.overlay").bounding_box()
    assert abs(layer["width"] / layer["height"] - 768 / 576) < 0.02
    assert abs(layer["x"] + layer["width"] / 2 - (image["x"] + image["width"] / 2)) < 1.5
    assert abs(layer["y"] + layer["height"] / 2 - (image["y"] + image["height"] / 2)) < 1.5
    assert min(abs(layer["width"] - image["width"]), abs(layer["height"] - image["height"])) < 1.5
    shot(page, artifacts_dir, "live-1-overlay")

    page.uncheck("#overlay")
    assert page.evaluate(COUNT, ["sample", list(PERSON)]) == 0
    assert page.get_attribute(f"{CARD} img.view", "src").endswith("/api/cameras/sample/live.mjpeg")
    assert page.is_hidden(f"{CARD} canvas.overlay")
    page.wait_for_timeout(1000)  # polling goes on: nothing is drawn again while it is off
    assert page.evaluate(COUNT, ["sample", list(PERSON)]) == 0
    shot(page, artifacts_dir, "live-2-overlay-off")
    page.reload()
    page.wait_for_selector(CARD)
    assert not page.is_checked("#overlay")  # remembered
    page.wait_for_timeout(1000)
    assert page.evaluate(COUNT, ["sample", list(PERSON)]) == 0
    page.check("#overlay")
    page.wait_for_function(f'document.querySelector("{CARD}")?.dataset.objects > 0', timeout=90000)
    assert page.evaluate(COUNT, ["sample", list(PERSON)]) > 100


def test_one_stream_feeds_the_overlaid_tiles(server, page, artifacts_dir):  # noqa: F811
    """With the overlay on, the page asks no objects or snapshot per tile and frame: one stream
    brings every overlaid tile its frames with their boxes, and the pictures keep changing."""
    sign_in(server, page)
    page.goto(server["url"] + "/ui/index.html")
    page.evaluate("localStorage.clear()")
    open_live(server, page)
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url) if "/api/" in request.url else None)
    started = time.monotonic()
    shown = set()
    while time.monotonic() - started < 10:
        shown.add(page.evaluate(f'document.querySelector("{CARD}").overlay.seq'))
        page.wait_for_timeout(250)
    elapsed = time.monotonic() - started
    overlaid = page.evaluate(
        "[...document.querySelectorAll('.live-grid .camera:not([hidden])')]"
        ".filter(c => c.synced).map(c => c.dataset.camera)"
    )
    assert overlaid == ["sample"]
    per_tile = [url for url in asked if url.endswith("/objects") or "/snapshot.jpg" in url]
    assert per_tile == [], per_tile[:5]
    # the old page asked 5 times a second per overlaid tile, and once more per new frame
    assert len(asked) < len(overlaid) * 5 * elapsed / 4, asked
    assert len(shown) >= 3, shown  # new frames kept coming (2.5 analysed a second)
    shot(page, artifacts_dir, "live-7-one-stream")


def visible_tiles(browser_page) -> list[dict]:
    return [t.bounding_box() for t in browser_page.query_selector_all(".live-grid .camera:not([hidden])")]


def test_grid_selector_lays_out_1_4_or_9_tiles_that_fill_the_screen(server, page, artifacts_dir):  # noqa: F811
    sign_in(server, page)
    open_live(server, page)
    page.click("#layout-4")
    tiles = visible_tiles(page)
    assert len(tiles) == 4
    assert len({round(t["x"]) for t in tiles}) == 2 and len({round(t["y"]) for t in tiles}) == 2  # 2 x 2
    viewport = page.viewport_size
    grid = page.query_selector("#cameras").bounding_box()
    assert grid["width"] > 0.95 * viewport["width"] - 40  # the whole width, not the page column
    assert viewport["height"] - 40 < grid["y"] + grid["height"] <= viewport["height"]  # down to the bottom
    assert page.evaluate("document.documentElement.scrollHeight") <= viewport["height"]
    names = page.eval_on_selector_all(
        ".live-grid .camera:not([hidden])", "cs => cs.map(c => c.dataset.camera)"
    )
    assert names == ["sample", *RECORDED]
    shot(page, artifacts_dir, "live-3-grid-4")

    page.click("#layout-1")
    tiles = visible_tiles(page)
    assert len(tiles) == 1 and tiles[0]["width"] > 0.9 * grid["width"]
    assert page.inner_text("#page") == "1 / 4"
    page.click("#page-next")
    assert page.eval_on_selector(".live-grid .camera:not([hidden])", "c => c.dataset.camera") == "east"
    assert page.get_attribute(f"{CARD} img.view", "src") is None  # off the page: its stream ended
    page.click("#page-prev")
    page.wait_for_function(f'document.querySelector("{CARD} img.view")?.naturalWidth > 0', timeout=60000)

    page.click("#layout-9")
    assert len(visible_tiles(page)) == 4 and len(page.query_selector_all(".live-grid .slot")) == 5
    assert page.is_hidden("#pager")
    shot(page, artifacts_dir, "live-4-grid-9")
    page.reload()
    page.wait_for_selector(CARD)
    assert page.get_attribute("#cameras", "data-layout") == "9"  # remembered
    page.click("#layout-4")


def test_one_camera_full_screen_and_esc_returns(server, page, artifacts_dir):  # noqa: F811
    sign_in(server, page)
    open_live(server, page)
    page.click(f"{CARD} button.fullscreen")
    page.wait_for_function("document.fullscreenElement?.dataset.camera === 'sample'")
    page.wait_for_function(f'document.querySelector("{CARD}")?.dataset.objects > 0', timeout=60000)
    # the overlay follows the picture once the browser has laid the full-screen tile out
    page.wait_for_function(
        f"""() => {{
            const r = document.querySelector("{CARD} canvas.overlay").getBoundingClientRect();
            return r.height > 0.8 * innerHeight || r.width > 0.95 * innerWidth;
        }}""",
        timeout=30000,
    )
    assert page.inner_text(f"{CARD} button.fullscreen") == "Exit full screen"
    shot(page, artifacts_dir, "live-5-fullscreen")
    page.keyboard.press("Escape")
    page.wait_for_function("document.fullscreenElement === null")
    assert len(visible_tiles(page)) == 4


def test_live_at_phone_width(server, page, artifacts_dir):  # noqa: F811
    context = page.context.browser.new_context(
        viewport={"width": 390, "height": 844}, bypass_csp=True, is_mobile=True
    )
    phone = context.new_page()
    phone.on("pageerror", lambda exc: page.errors.append(f"phone: {exc}"))
    try:
        sign_in(server, phone)
        open_live(server, phone)
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        image = phone.query_selector(f"{CARD} img.view").bounding_box()
        layer = phone.query_selector(f"{CARD} canvas.overlay").bounding_box()
        assert image["width"] > 300  # a real picture, one column
        for key in ("x", "y", "width", "height"):  # a 4:3 picture in a 4:3 tile: the same box
            assert abs(image[key] - layer[key]) < 1.5, (key, image, layer)
        assert phone.evaluate(COUNT, ["sample", list(PERSON)]) > 20
        shot(phone, artifacts_dir, "live-6-phone")
    finally:
        context.close()
