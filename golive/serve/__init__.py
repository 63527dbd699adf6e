"""``golive serve``: gates on request over HTTP, for the engines teams already run (docs/ENGINES.md).

- ``golive.serve.runs``: gate runs as ``golive gate`` runs them (a child ``golive gate`` process each), one at
  a time per environment, a request for a gate already running on that environment joining it, each bounded
  by ``serve.timeout_s``; the answer every endpoint gives, from the run's exit code and decision record.
- ``golive.serve.api``: the HTTP API under ``/v1/`` (Argo Rollouts' web metrics, Flagger's webhooks, runs by
  id): bearer token, configured gate and environment names only, size-limited bodies, masked answers.
- ``golive.serve.cli``: the command: configuration, token, bind address, signals.
"""
