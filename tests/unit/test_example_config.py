"""golive.example.yaml lists every key the configuration model accepts and validates; `golive config schema`
prints the model's JSON Schema for editors."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
import yaml

from golive.cli import main
from golive.config import ConfigError, Settings, given_paths, key_paths, parse_settings
from tests.support import REPO

EXAMPLE = REPO / "golive.example.yaml"
# An optional alternative, commented out: "# key: value" at the key's own indentation; lines under it that are
# commented one level deeper ("#   sub: value") belong to it.
COMMENTED_KEY = re.compile(r"^(?P<indent>\s*)# (?P<key>[A-Za-z_][\w-]*):(?: |$)")


def _parse(text: str) -> Settings:
    variables = {name: "x-example-value" for name in re.findall(r"\$\{([A-Za-z_]\w*)", text)}
    return parse_settings(text, EXAMPLE, "test", variables)


def _alternatives(text: str) -> Iterator[tuple[int, str]]:
    """(line number, the example with that commented-out key and its block uncommented), for each one."""
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        match = COMMENTED_KEY.match(line)
        if match is None:
            continue
        block = [index]
        while block[-1] + 1 < len(lines) and lines[block[-1] + 1].startswith(f"{match['indent']}#   "):
            block.append(block[-1] + 1)
        variant = list(lines)
        for number in block:
            variant[number] = variant[number].replace("# ", "", 1)
        yield index + 1, "".join(variant)


def test_the_example_validates_and_lists_every_key_of_the_model():
    text = EXAMPLE.read_text(encoding="utf-8")
    given = given_paths(_parse(text).document)
    for line, variant in _alternatives(text):
        # An alternative to a section already there (the other load balancer kind) replaces it: plain YAML keeps
        # the last of two equal keys, where parse_settings (rightly) refuses duplicates.
        try:
            settings = _parse(yaml.safe_dump(yaml.safe_load(variant), sort_keys=False))
        except (ConfigError, yaml.YAMLError) as error:
            pytest.fail(f"{EXAMPLE.name} line {line} does not validate once uncommented: {error}")
        given |= given_paths(settings.document)
    missing = [path for path in key_paths() if path not in given]
    assert not missing, f"{EXAMPLE.name} does not show {', '.join(missing)}: add each, with a comment"


def test_given_paths_name_what_a_document_sets_explicitly():
    settings = _parse('release: {version: "1"}\nenvironments: {blue: {url: "http://h", postgres: {dsn: "postgresql://h/db"}}}\n'
                      "rabbitmq: {url: 'amqp://h', queues: {q: {max_messages: 1}}}\n")
    assert given_paths(settings.document) == {
        "release", "release.version", "environments", "environments[].url", "environments[].postgres",
        "rabbitmq", "rabbitmq.url", "rabbitmq.queues", "rabbitmq.queues[].max_messages",
    }  # fmt: skip


def test_config_schema_prints_the_json_schema(capsys):
    assert main(["config", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["type"] == "object" and "environments" in schema["required"]
    environment = schema["$defs"]["EnvironmentSection"]
    assert schema["properties"]["environments"]["additionalProperties"] == {"$ref": "#/$defs/EnvironmentSection"}
    assert {"url", "role", "postgres"} <= set(environment["properties"])
    assert environment["additionalProperties"] is False  # unknown keys are errors, as in golive itself
    # A per-environment section has the shared section's keys, none required (it is merged over the shared one).
    override = schema["$defs"]["PostgresOverride"]
    assert environment["properties"]["postgres"]["anyOf"][0] == {"$ref": "#/$defs/PostgresOverride"}
    assert "dsn" in override["properties"] and "required" not in override
    assert "dsn" in schema["$defs"]["Postgres"]["required"]
    kinds = {ref["$ref"].rsplit("/", 1)[-1] for ref in schema["properties"]["load_balancer"]["anyOf"][0]["oneOf"]}
    assert kinds == {"AlbLoadBalancer", "HaproxyLoadBalancer"}


def test_the_example_is_valid_under_the_schema_and_a_misspelt_key_is_not(capsys):
    """What an editor checks as you type (jsonschema comes with moto[server], a test extra)."""
    import jsonschema

    assert main(["config", "schema"]) == 0
    validator = jsonschema.Draft202012Validator(json.loads(capsys.readouterr().out))
    example = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    example["waivers"][0]["expires"] = str(example["waivers"][0]["expires"])  # YAML may read a date
    assert not [error.message for error in validator.iter_errors(example)]
    example["environments"]["green"]["postgres"] = {"dns": "postgresql://h/db"}
    assert [error.message for error in validator.iter_errors(example)]


@pytest.mark.parametrize("argv", [["config"], ["config", "schemas"], ["config", "schema", "--extra"]])
def test_config_with_bad_usage_exits_2_with_one_line(capsys, argv):
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1, captured.err
    assert captured.err.startswith("golive: ")
