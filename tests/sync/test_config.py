"""destinations/*.yml: every mistake located (file:line:col), with did-you-mean, secrets never
echoed; the JSON Schema accepts the shipped demo files."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from cdpkit.project import Project
from cdpkit.spec.diagnostics import render
from cdpkit.sync.loader import check_environment, load_destinations, select_syncs
from cdpkit.sync.schema import destination_json_schema

REPO = Path(__file__).resolve().parents[2]

FILES = {
    "a.yml": "type: webhok\nsyncs: []\n",
    "b.yml": """\
type: webhook
base_url: http://localhost:1
signing_secret: hunter2-literal
syncs:
  - audience: vip
    mode: mirorr
    identifier: email
    schedule: "61 * * * *"
  - audience: vip
    identifer: email
  - audience: vip
    identifier: email
    schedule: {cron: "0 * * * *", timezone: Mars/Base}
""",
    "Bad-Name.yml": "type: file\nsyncs: [{audience: vip, identifier: email}]\n",
    "c.yml": "type: file\ndirectory: ${OUT_DIR\nsyncs: [{audience: vip, identifier: email}]\n",
    "e.yml": """\
type: webhook
base_url: http://localhost:1
batch_size: 20000
syncs:
  - {audience: vip, identifier: email}
  - {audience: vip, identifier: phone}
""",
    "_suppression.yml": """\
suppress:
  - audience: dnc
    table: raw.dnc
  - table: raw.dnc
    identifier_type: emial
""",
}

EXPECTED = """\
destinations/Bad-Name.yml:1:1: error[D005]: bad destination file name 'Bad-Name.yml': the name \
before .yml must use lowercase letters, digits and _, starting with a letter
destinations/_suppression.yml:2:5: error[D050]: give exactly one of 'audience' or 'table'
destinations/_suppression.yml:5:22: error[D003]: invalid value for 'identifier_type': expected \
'email', 'phone', 'user_id', 'anonymous_id', 'device_id', 'crm_id', 'loyalty_id' or \
'customer_id', got 'emial'
  hint: did you mean 'email'?
destinations/a.yml:1:7: error[D004]: unknown destination type 'webhok'
  hint: did you mean 'webhook'?
destinations/b.yml:3:17: error[D010]: a secret must be an environment variable reference like \
${MY_API_TOKEN}; secrets are never written into project files
  hint: export the value in the environment and reference it here as ${NAME}
destinations/b.yml:6:11: error[D003]: invalid value for 'mode': expected 'upsert', 'mirror' or \
'add_only', got 'mirorr'
  hint: did you mean 'mirror'?
destinations/b.yml:8:15: error[D030]: invalid cron expression '61 * * * *'
  hint: five fields: minute hour day-of-month month day-of-week, e.g. '0 * * * *'
destinations/b.yml:9:5: error[D002]: missing required key 'identifier'
destinations/b.yml:10:5: error[D001]: unknown key 'identifer'
  hint: did you mean 'identifier'?
destinations/b.yml:13:45: error[D031]: unknown time zone 'Mars/Base'
  hint: an IANA name like 'Europe/Paris'
destinations/c.yml:2:12: error[D011]: malformed environment reference; write ${NAME} or \
${NAME:-default}
destinations/e.yml:3:13: error[D041]: batch_size 20000 is over the webhook limit of 10000 \
records per request
destinations/e.yml:6:16: error[D040]: sync name 'vip' is used twice in this file
  hint: give each sync a distinct 'name:'
13 errors"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    (tmp_path / "destinations").mkdir()
    monkeypatch.chdir(tmp_path)
    return Project(tmp_path)


def test_every_mistake_is_reported_at_its_place(project: Project) -> None:
    for name, text in FILES.items():
        (project.destinations_dir / name).write_text(text)
    loaded = load_destinations(project)
    rendered = render(loaded.diagnostics, loaded.sources, frame=False)
    assert rendered == EXPECTED
    assert "hunter2-literal" not in render(loaded.diagnostics, loaded.sources)


def test_missing_environment_variables_are_located(project: Project) -> None:
    (project.destinations_dir / "d.yml").write_text(
        "type: webhook\nbase_url: ${HOOK_URL}\nsigning_secret: ${HOOK_SECRET_X}\n"
        "headers: {X-Token: 'Bearer ${HOOK_TOKEN}', X-Env: '${STAGE:-prod}'}\n"
        "syncs: [{audience: vip, identifier: email}]\n"
    )
    loaded = load_destinations(project)
    assert not loaded.errors
    found = [d.headline() for d in check_environment(loaded.destinations["d"], {})]
    assert found == [
        "destinations/d.yml:2:11: error[D020]: environment variable HOOK_URL is not set",
        "destinations/d.yml:3:17: error[D020]: environment variable HOOK_SECRET_X is not set",
        "destinations/d.yml:4:20: error[D020]: environment variable HOOK_TOKEN is not set",
    ]
    env = {"HOOK_URL": "http://x", "HOOK_SECRET_X": "s3cret-value", "HOOK_TOKEN": "t0ken-value"}
    assert check_environment(loaded.destinations["d"], env) == []
    config = loaded.destinations["d"].config
    assert "s3cret-value" not in repr(config) and "${HOOK_SECRET_X}" in repr(config)
    assert config.model_dump(mode="json")["signing_secret"] == "${HOOK_SECRET_X}"


def test_shorthands_defaults_and_selection(project: Project) -> None:
    (project.destinations_dir / "hook.yml").write_text(
        "type: webhook\nbase_url: http://x\nsyncs:\n"
        "  - {audience: vip, identifier: email, mapping: [email, first_name],"
        " schedule: '0 * * * *'}\n"
        "  - {name: vip_b, audience: vip, identifier: email, enabled: false}\n"
    )
    loaded = load_destinations(project)
    [(dest, sync), (_, other)] = loaded.syncs()
    assert sync.mapping == {"email": "email", "first_name": "first_name"}
    assert sync.schedule is not None and sync.schedule.timezone == "UTC"
    assert sync.mode == "upsert" and sync.skip_nulls and sync.list_name == "vip"
    assert sync.safety.max_removal_percent == 20 and not sync.safety.allow_empty
    assert [dest.sync_id(s) for _, s in select_syncs(loaded, [])] == ["hook.vip"]  # enabled only
    assert [dest.sync_id(s) for _, s in select_syncs(loaded, ["hook"])] == [
        "hook.vip",
        "hook.vip_b",
    ]
    assert [dest.sync_id(s) for _, s in select_syncs(loaded, ["vip_b"])] == ["hook.vip_b"]
    del other


def test_the_json_schema_accepts_the_demo_destinations_and_refuses_mistakes() -> None:
    schema = destination_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    demo = sorted((REPO / "destinations").glob("*.yml"))
    assert demo, "the repo ships demo destinations"
    for path in demo:
        if path.name.startswith("_"):
            continue
        errors = list(validator.iter_errors(yaml.safe_load(path.read_text())))
        assert not errors, (path, [e.message for e in errors])
    bad = {"type": "webhook", "base_url": "x", "signing_secret": "literal", "syncs": []}
    assert list(validator.iter_errors(bad))
    assert json.dumps(schema)  # serialisable for `cdpkit destinations schema`


def test_the_demo_destinations_load_cleanly() -> None:
    loaded = load_destinations(Project(REPO))
    assert not loaded.errors, render(loaded.diagnostics, loaded.sources)
    assert {d.connector.type for d in loaded.destinations.values()} == {"webhook", "file"}


def test_build_before_on_the_schedule_or_the_sync(project: Project) -> None:
    from cdpkit.ops.schedules import sync_entries

    text = (
        "type: webhook\nbase_url: http://x\nsyncs:\n"
        "  - {name: a, audience: vip, identifier: email,"
        " schedule: {cron: '0 6 * * *', build_before: true}}\n"
        "  - {name: b, audience: vip, identifier: email, schedule: '0 * * * *',"
        " build_before: true}\n"
        "  - {name: c, audience: vip, identifier: email, schedule: '0 * * * *'}\n"
    )
    typo = (
        "  - {name: d, audience: vip, identifier: email,"
        " schedule: {cron: '0 * * * *', build_befor: true}}\n"
    )
    (project.destinations_dir / "hook.yml").write_text(text + typo)
    [problem] = load_destinations(project).errors
    assert (problem.code, problem.line, problem.col) == ("D001", 7, 79)
    assert problem.hint == "did you mean 'build_before'?"
    (project.destinations_dir / "hook.yml").write_text(text)
    loaded = load_destinations(project)

    entries = {e.sync_name: e.build_before for e in sync_entries(loaded)}
    assert entries == {"a": True, "b": True, "c": False}
    validator = jsonschema.Draft202012Validator(destination_json_schema())
    flagged = {
        "type": "webhook",
        "base_url": "http://x",
        "syncs": [
            {
                "audience": "vip",
                "identifier": "email",
                "build_before": True,
                "schedule": {"cron": "0 6 * * *", "build_before": True},
            }
        ],
    }
    assert not list(validator.iter_errors(flagged))
