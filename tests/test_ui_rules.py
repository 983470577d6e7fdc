"""Rules on the Zones page in a real browser: an operator draws a zone, attaches a rule with the form
(a wrong value is named next to its field), tries it on the sample's stored tracks, saves it; a
viewer sees the rules without the controls. Uses test_ui's server (vtest.avi indexed by the real
pipeline) and browser."""

from __future__ import annotations

from test_ui import page, server, shot, signed_in  # noqa: F401  (fixtures and helpers)

ZONE = ((0.0, 0.55), (0.99, 0.55), (0.99, 0.99), (0.0, 0.99))  # the lower part, where people walk


def test_operator_makes_tries_and_saves_a_rule(server, page, artifacts_dir):  # noqa: F811
    from scenewatch.config import load_config

    oper = signed_in(server, page, "rules-oper", "operator")
    oper.goto(server["url"] + "/ui/zones.html")
    oper.wait_for_function("document.querySelector('#snapshot')?.naturalWidth > 0")
    oper.click("#mode-zone")
    canvas = oper.query_selector("#canvas").bounding_box()
    for fx, fy in ZONE:
        oper.mouse.click(canvas["x"] + fx * canvas["width"], canvas["y"] + fy * canvas["height"])
    oper.fill("#shape-name", "walk")
    oper.click("#finish")

    oper.click("#add-rule")
    oper.select_option("#rule-type", "loitering")
    oper.fill("[data-field='time_s']", "")  # required for loitering, as in the YAML
    oper.click("#rule-save")
    oper.wait_for_function("document.querySelector(\"[data-error='time_s']\")?.textContent.length > 0")
    assert "required" in oper.inner_text("[data-error='time_s']").lower()
    shot(oper, artifacts_dir, "rules-01-field-error")

    oper.select_option("#rule-type", "intrusion")
    oper.click("#rule-try")
    oper.wait_for_selector("#rule-test-count")
    count = int(oper.inner_text("#rule-test-count").split()[0])
    assert count > 0  # people walk there in the sample
    assert oper.query_selector("#rule-test img") is not None  # each event with its track's thumbnail
    shot(oper, artifacts_dir, "rules-02-tried-on-the-past")

    oper.click("#rule-save")
    oper.wait_for_selector("#rule-list:has-text('intrusion-walk')")
    shot(oper, artifacts_dir, "rules-03-saved")
    written = load_config(server["app"].state.ctx.config_path).camera("sample")
    assert [(r.type, r.zone_name) for r in written.rules] == [("intrusion", "walk")]
    oper.context.close()

    viewer = signed_in(server, page, "rules-view", "viewer")
    viewer.goto(server["url"] + "/ui/zones.html")
    viewer.wait_for_selector("#rule-list:has-text('intrusion-walk')")
    assert viewer.query_selector("#add-rule") is None
    assert viewer.query_selector("#rule-list button") is None
    shot(viewer, artifacts_dir, "rules-04-viewer-read-only")
    viewer.context.close()
