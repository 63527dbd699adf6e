"""The sandbox: the reference AI Agent Orchestrator in blue and green, on this machine's real services.

``app`` is the orchestrator (one uvicorn process per environment), ``worker`` the agent worker, ``schema``
its migrations, ``cli`` is ``golive sandbox ...``, and ``manager.Manager`` brings every piece up and down. The
manager's jobs each have a module: ``state`` (paths, state.json), ``base`` (the lock; starting, waiting for and
stopping processes, on ``processes``), ``services`` and ``standby`` (what runs and when it is ready),
``provision`` (the machine's shared services, the release's files), ``aws_resources`` (moto), ``faults`` (the
fault helpers), ``config_writer`` (the files written for others) and ``clients`` (the sandbox's own small
clients, and why it does not use golive's probes).
"""
