"""A standing search's query is checked when a config is loaded, by the search package's parser
that the command line, the server and the central hand to the config (the config sits below
search and cannot import it): a query that asks for nothing is refused with its file and line."""

from __future__ import annotations

import pytest

from scenewatch import cli
from scenewatch.api.serve import resolve_config
from scenewatch.central.settings import load_with_central
from scenewatch.config import load_config
from scenewatch.config.query_hook import set_query_check
from scenewatch.errors import ConfigError

VAGUE = """\
cameras:
  - name: gate
    source: {url: gate.mp4}
    rules:
      - {type: search, name: vague, query: hello there}
"""
PROBLEM = (
    "cameras[0]: rule 'vague': the query 'hello there' asks for nothing that can be searched (ignored: hello)"
)


@pytest.fixture
def vague(tmp_path):
    set_query_check(None)  # as a fresh process starts: nothing set until a loader sets it
    path = tmp_path / "cams.yaml"
    path.write_text(VAGUE)
    yield path
    set_query_check(None)


def test_the_command_line_refuses_a_vague_standing_search_with_its_line(vague, tmp_path, capsys):
    assert cli.main(["--data", str(tmp_path / "data"), "run", "--config", str(vague), "--duration", "1"]) != 0
    assert f"{vague}:2: {PROBLEM}" in capsys.readouterr().err


def test_the_server_and_the_central_refuse_it_too(vague, tmp_path):
    with pytest.raises(ConfigError) as caught:
        resolve_config(vague, tmp_path)
    assert f"{vague}:2: {PROBLEM}" in str(caught.value)
    set_query_check(None)
    with pytest.raises(ConfigError) as caught:
        load_with_central(vague)
    assert f"{vague}:2: {PROBLEM}" in str(caught.value)


def test_a_usable_query_loads_and_the_config_alone_does_not_parse_queries(vague):
    # the config layer on its own takes a query as written (a re-read of checked settings)
    assert load_config(vague).cameras[0].rules[0].query == "hello there"
    vague.write_text(VAGUE.replace("hello there", "a person in a red top"))
    assert resolve_config(vague, vague.parent)[0].cameras[0].rules[0].query == "a person in a red top"
