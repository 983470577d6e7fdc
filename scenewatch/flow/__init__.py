"""The analysis flow, stage by stage, and the runs that connect the stages.

Layers, lowest first; a module imports only from its own layer or below:

1. ``types``, ``errors``; the detector plugins (``vision.detector``, ``vision.detector_types`` and
   the detectors it lists), which need nothing else and which the config's choices are built from;
   ``config``; the store's tables (``store.schema``, ``store.data``, ``store.media``,
   ``store.repo``), which every stage may read and write;
2. ``sources`` (frames) < the rest of ``vision``: the filter, pose (detections) < ``tracking`` (tracks)
   < ``vision.attributes`` (a finished track's attributes);
3. what consumes tracks: ``rules`` (events), ``search`` (the index and queries), ``health``,
   ``notify``, ``recording``; the capacity tools in ``runtime``; the track ``store.writer``;
4. ``flow``: one camera's run (``camera``), its detection parts (``detect``), the finishing
   stage of ended tracks (``finish``), the run's bookkeeping (``record``), the node's shared parts
   (``node``) and the runner of many cameras (``cameras``); ``pipeline`` is its entry point;
5. ``api``, ``central``, ``cli``.

A frame goes down this list once: source -> planner -> detector -> filter -> tracker -> finishing
stage (writer, describer, search index, standing searches) and rules (event recorder).
"""
