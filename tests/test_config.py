"""The YAML config: valid files load, wrong values name their place in the file and what is allowed."""

import re
from pathlib import Path

import pytest
import yaml

from scenewatch.config import AppConfig, load_config
from scenewatch.config.query_hook import set_query_check
from scenewatch.errors import ConfigError
from scenewatch.search.standing_check import check_standing_query


@pytest.fixture(autouse=True)
def standing_query_check():
    """What the command line and the server do before they load a config: the search package's
    check of standing searches, which the config cannot import itself."""
    set_query_check(check_standing_query)


def write(tmp_path, text: str):
    path = tmp_path / "scenewatch.yaml"
    path.write_text(text)
    return path


def test_valid_config_loads(tmp_path):
    path = write(
        tmp_path,
        """
detector:
  type: nanodet
  classes: [person, car]
  score_threshold: 0.4
cameras:
  - name: gate
    source: {url: rtsp://10.0.0.1/stream}
    detect_fps: 5
    ignore_mask: [[[0, 0], [100, 0], [100, 50]]]
""",
    )
    config = load_config(path)
    assert config.detector.type == "nanodet"
    assert config.cameras[0].name == "gate"
    assert config.cameras[0].detect_fps == 5
    assert config.camera("gate").source.url == "rtsp://10.0.0.1/stream"


def test_wrong_value_names_path_line_and_choices(tmp_path):
    path = write(tmp_path, "detector:\n  type: yolo\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert f"{path}:2: detector.type" in message
    assert "'centernet'" in message and "'nanodet'" in message


def test_unknown_key_and_bad_class_reported_with_lines(tmp_path):
    path = write(
        tmp_path,
        """cameras:
  - name: a
    source: {url: x.mp4}
    clases: [person]
  - name: b
    source: {url: y.mp4}
    classes: [persn]
""",
    )
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert "cameras[0].clases: unknown setting" in message
    assert ":4:" in message
    assert "cameras[1].classes" in message and "unknown object class 'persn'" in message


def test_duplicate_camera_names_rejected(tmp_path):
    path = write(
        tmp_path, "cameras:\n  - {name: a, source: {url: x.mp4}}\n  - {name: a, source: {url: y.mp4}}\n"
    )
    with pytest.raises(ConfigError, match="used twice"):
        load_config(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cameras: [{name: 'bad name', source: {url: x.mp4}}]", "cameras[0].name"),
        ("cameras: [{name: a, source: {url: x.mp4}, detect_fps: -1}]", "cameras[0].detect_fps"),
        ("cameras: [{name: a, source: {url: x.mp4}, ignore_mask: [[[0, 0], [1, 1]]]}]", "at least 3"),
        ("detector: {score_threshold: 2}", "detector.score_threshold"),
        (
            "cameras: [{name: a, source: {url: x.mp4}, rules: [{type: search, query: 'hello there'}]}]",
            "asks for nothing that can be searched (ignored: hello)",
        ),
        (
            "cameras: [{name: a, source: {url: x.mp4}, tracker: {hi_score: 0.2}}]",
            "unknown tracker setting(s) hi_score",
        ),
        (
            "tracker: {high_score: 0.3}\ncameras: [{name: a, source: {url: x.mp4}, tracker: {low_score: 0.5}}]",
            "camera 'a' tracker: low_score must not exceed high_score",
        ),
        ("- just a list", "top level must be a mapping"),
        ("detector: [unclosed", "not valid YAML"),
    ],
)
def test_bad_values(tmp_path, text, expected):
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, text))
    assert expected in str(error.value)


def test_camera_tracker_settings_override_the_node_section(tmp_path):
    path = write(
        tmp_path,
        """
tracker: {high_score: 0.4, lost_timeout: 2.0}
cameras:
  - {name: far, source: {url: x.mp4}, score_threshold: 0.2, tracker: {high_score: 0.2, low_score: 0.15}}
  - {name: near, source: {url: y.mp4}}
""",
    )
    config = load_config(path)
    far = config.camera("far").tracker_settings(config.tracker)
    assert (far.high_score, far.low_score, far.lost_timeout) == (0.2, 0.15, 2.0)
    assert config.camera("near").tracker_settings(config.tracker) == config.tracker


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_fields_document_themselves():
    schema = AppConfig.model_json_schema()
    detector = schema["$defs"]["DetectorConfig"]["properties"]
    assert all("description" in field for field in detector.values())


def test_readme_example_config_is_valid():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    example = next(block for block in re.findall(r"```yaml\n(.*?)```", readme, re.S) if "cameras:" in block)
    config = AppConfig.model_validate(yaml.safe_load(example))
    assert {rule.type for rule in config.cameras[0].rules} >= {"intrusion", "search", "person_down"}
