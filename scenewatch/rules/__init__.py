"""Behaviour rules: zones, lines and calibration geometry, per-track state, and the events they raise.

``RuleEngine`` (``scenewatch.rules.engine``) turns tracked detections into ``Event`` objects;
``scenewatch.rules.store`` keeps them in the database with a snapshot. Each rule sees a frame
through its ``Context`` and the camera's ``Scene`` (``scenewatch.rules.base``). A new rule type is
its config class in ``scenewatch.config.rules.AnyRule`` and its behaviour, naming that class,
in ``scenewatch.rules.engine.PLUGINS``.
"""
