"""The sandbox: the reference AI Agent Orchestrator in blue and green, on this machine's real services.

``app`` is the orchestrator (one uvicorn process per environment), ``worker`` the agent worker, ``schema``
its migrations, ``manager`` brings every piece up and down, ``cli`` is ``golive sandbox ...``.
"""
