"""Property-based, the config loader: any YAML document and any `--set` overrides give either a valid
BuildConfig or a one-line ConfigError, never another exception (and never a multi-line message).

Documents are a valid config with random keys set to random values (the paths the schema knows
and others), random YAML text, random bytes. Derandomized for repeatable CI.
"""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from builders.config import BuildConfig, _section_type, load_config
from builders.errors import ConfigError

SETTINGS = settings(max_examples=80, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, field in model.model_fields.items():
        out.append(prefix + name)
        try:
            out += _keys(_section_type(field.annotation), f"{prefix}{name}.")
        except TypeError:
            pass
    return out


KEYS = _keys(BuildConfig)
KEY = st.one_of(st.sampled_from(KEYS), st.sampled_from(KEYS).map(lambda k: k + ".extra"),
                st.text(alphabet="abcxyz._-0", min_size=1, max_size=12), st.text(max_size=8))
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(), st.text(max_size=20),
                   st.sampled_from(["auto", "jsonl", "64MB", "1.5GiB", "-1", "0", "nan", "inf", "~", "[]", "{}", "false",
                                    "/etc", "../..", "s3://bucket/x", "memory://x", "foo://x", "\x00", "~nobody/x",
                                    "*.jsonl", "**", "[", "trafilatura", "earliest", "parquet", "x" * 300]))
VALUE = st.recursive(SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                     st.dictionaries(st.one_of(st.text(max_size=6), st.integers()), inner, max_size=3)),
                     max_leaves=10)


def _set(raw: dict, key: str, value) -> None:
    from builders.config import _set_dotted  # the loader's own, as --set applies it

    _set_dotted(raw, key.split("."), value)


def check(path, overrides=()) -> None:
    try:
        config = load_config(path, list(overrides))
    except ConfigError as exc:
        message = str(exc)
        assert message and "\n" not in message and "\r" not in message and len(message) < 2000, message
    else:
        assert isinstance(config, BuildConfig)


def base(folder) -> dict:
    (folder / "in.jsonl").write_text('{"text": "x"}\n')
    return {"name": "t", "input": {"paths": ["in.jsonl"]}, "publish": {"output": "out"}}


@SETTINGS
@given(changes=st.lists(st.tuples(KEY, VALUE), max_size=4))
def test_random_values_at_random_keys(tmp_path_factory, changes):
    folder = tmp_path_factory.mktemp("c")
    raw = base(folder)
    for key, value in changes:
        if key and all(key.split(".")):
            _set(raw, key, value)
    path = folder / "build.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    check(path)


@SETTINGS
@given(overrides=st.lists(st.one_of(
    st.tuples(st.sampled_from(KEYS), SCALAR.map(str)).map("=".join),
    st.tuples(st.sampled_from(KEYS), VALUE.map(lambda v: yaml.safe_dump(v, default_flow_style=True).strip())).map("=".join),
    st.text(max_size=30),
    st.sampled_from(["=", "a=", "=b", "..=1", "name", "input.paths.0=x", "name=!!python/object:os.system x",
                     "input=[" * 30, "clean=" + "[" * 3000 + "]" * 3000, "executor.workers=10**9", "name=&a [*a]"]),
), max_size=3))
def test_random_set_overrides(tmp_path_factory, overrides):
    folder = tmp_path_factory.mktemp("s")
    path = folder / "build.yaml"
    path.write_text(yaml.safe_dump(base(folder)), encoding="utf-8")
    check(path, overrides)


YAML_TOKEN = st.sampled_from(["name: t\n", "input:\n", "  paths: [in.jsonl]\n", "publish: {output: out}\n", "- ", ": ",
                              "&a ", "*a ", "!!python/object:os.system ", "!!binary ", "!!set ", "? ", "{", "}", "[", "]",
                              "'", '"', "|\n", ">\n", "---\n", "...\n", "%YAML 1.1\n", "<<: *a\n", "\t", "  ", "#", "\n",
                              "\x00", "\ufeff", "~", "null", "1e400", "0x1F", ".inf", "2020-01-01", "é"])


@SETTINGS
@given(text=st.one_of(st.lists(YAML_TOKEN, max_size=25).map("".join), st.text(max_size=200)),
       data=st.binary(max_size=200), as_bytes=st.booleans())
def test_random_yaml_documents(tmp_path_factory, text, data, as_bytes):
    folder = tmp_path_factory.mktemp("y")
    base(folder)
    path = folder / "build.yaml"
    if as_bytes:
        path.write_bytes(data)
    else:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
    check(path)
