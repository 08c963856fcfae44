"""Config loading: defaults, overrides, path resolution and one-line errors before any work."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from builders.config import BuildConfig, ConfigError, dump_config, load_config, validate
from conftest import write_config, write_jsonl


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_jsonl(tmp_path / "raw" / "a.jsonl.gz", [{"id": "1", "text": "hello"}])
    return tmp_path


def error_of(path, overrides=(), **kw) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, list(overrides), **kw)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_defaults_and_relative_paths(project):
    config = load_config(write_config(project))
    assert config.input.paths == [str(project / "raw" / "*.jsonl.gz")]
    assert config.publish.output == str(project / "out")
    assert config.dedup.minhash.threshold == 0.8 and config.dedup.keep == "earliest"
    assert config.clean.min_words == 20


def test_set_overrides_parse_yaml_scalars(project, monkeypatch):
    path = write_config(project)
    config = load_config(path, ["dedup.minhash.threshold=0.6", "executor.workers=3", "clean=false"])
    assert config.dedup.minhash.threshold == 0.6
    assert config.executor.workers == 3
    assert config.clean is None
    assert load_config(path, ["dedup.minhash=false"]).dedup.minhash is None
    # A section switched off and then given a key comes back with defaults for the rest.
    config = load_config(path, ["dedup.minhash=false", "dedup.minhash.threshold=0.5"])
    assert config.dedup.minhash.threshold == 0.5 and config.dedup.minhash.num_perm == 128


def test_command_line_paths_resolve_against_cwd(project, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(write_config(project), ["publish.output=built"], workers=4)
    assert config.publish.output == str(elsewhere / "built")
    assert config.executor.workers == 4
    assert load_config(write_config(project), output="o2").publish.output == str(elsewhere / "o2")


def test_stage_sections_switch_off(project):
    config = load_config(write_config(project, clean=False, dedup=False))
    assert config.clean is None and config.dedup is None
    again = validate(yaml.safe_load(dump_config(config)))
    assert again.clean is None and again.dedup is None


def test_dump_round_trips(project):
    config = load_config(write_config(project), ["dedup.minhash=false"])
    assert validate(yaml.safe_load(dump_config(config))) == config


def test_unknown_key(project):
    message = error_of(write_config(project), ["dedup.minhash.treshold=0.7"])
    assert "dedup.minhash.treshold: unknown key" in message
    assert "threshold" in message  # says what is allowed


def test_unknown_top_level_key(project):
    path = write_config(project, extras={"a": 1})
    assert "extras: unknown key" in error_of(path)


def test_wrong_type_names_key_value_and_rule(project):
    message = error_of(write_config(project), ["dedup.minhash.threshold=high"])
    assert message.count("dedup.minhash.threshold") == 1 and "'high'" in message
    message = error_of(write_config(project), ["dedup.keep=biggest"])
    assert "dedup.keep" in message and "'biggest'" in message and "'earliest'" in message
    message = error_of(write_config(project), ["executor.workers=0"])
    assert "executor.workers" in message and "0" in message


def test_missing_required_key(project):
    path = project / "build.yaml"
    path.write_text(yaml.safe_dump({"name": "x", "input": {"paths": ["raw/*.jsonl.gz"]}}))
    assert "publish: required key is missing" in error_of(path)


def test_missing_input_file(project):
    message = error_of(write_config(project, input={"paths": ["raw/nope.jsonl"]}))
    assert "input.paths" in message and "does not exist" in message


def test_empty_glob(project):
    message = error_of(write_config(project, input={"paths": ["raw/*.csv"]}))
    assert "input.paths" in message and "matched no files" in message and "*.csv" in message


def test_missing_config_and_bad_yaml(project):
    assert "config file not found" in error_of(project / "nope.yaml")
    bad = project / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    assert "invalid YAML at line" in error_of(bad)


def test_bad_set_syntax(project):
    assert "expected dotted.key=value" in error_of(write_config(project), ["dedup"])


def test_schema_defaults_are_valid():
    config = BuildConfig.model_validate({"name": "n", "input": {"paths": ["x"]}, "publish": {"output": "o"}})
    assert config.publish.formats == ["parquet", "hf"]


@pytest.mark.parametrize("section, message", [
    ({"keep": ["text"]}, "which the builder owns"),
    ({"keep": ["a.b", "a_b"]}, "two keys become column 'a_b'"),
    ({"csv": {"delimiter": "\n"}}, "single-byte character"),
    ({"csv": {"delimiter": "é"}}, "single-byte character"),
    ({"csv": {"delimiter": "'", "quote": "'"}}, "must differ"),
    ({"format": "docx"}, "must be one of auto, csv"),
    ({"shard_size": "lots"}, "byte size"),
])
def test_bad_input_options_fail_with_one_line(section, message):
    from builders.config import validate

    with pytest.raises(ConfigError, match=message) as info:
        validate({"name": "x", "input": {"paths": ["a"], **section}, "publish": {"output": "o"}})
    assert "\n" not in str(info.value)


def test_sizes_read_with_units():
    from builders.config import InputConfig

    config = InputConfig(paths=["a"], shard_size="16MiB", max_record_bytes="2.5MB")
    assert config.shard_size == 16 << 20 and config.max_record_bytes == 2_500_000
