"""golive inside the deployment engines that call a function rather than an HTTP service: CodeDeploy and ECS
blue/green lifecycle hooks (``golive hook codedeploy|ecs``, or their ``handler`` in a Lambda function). Each
runs a gate the way ``golive serve`` does (golive.serve.runs: a child ``golive gate``) and answers in the
engine's own terms. docs/ENGINES.md shows the set-up."""
