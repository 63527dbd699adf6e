"""Repository root conftest.

golive's pytest plugin is registered through the ``pytest11`` entry point of the installed package, so
plain ``pytest`` here runs the validations in ``validations/`` against the configuration in ``golive.yaml``
(or ``--golive-config`` / ``$GOLIVE_CONFIG``). Project-wide fixtures for validations belong here.
"""
