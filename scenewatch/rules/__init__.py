"""Behaviour rules: zones, lines and calibration geometry, per-track state, and the events they raise.

``RuleEngine`` (``scenewatch.rules.engine``) turns tracked detections into ``Event`` objects;
``scenewatch.rules.store`` keeps them in the database with a snapshot.
"""
