"""The build config: one schema that drives the YAML file, the CLI's --set values and validation."""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from builders.errors import ConfigError

INPUT_FORMATS = ("auto", "jsonl")
PUBLISH_FORMATS = ("parquet", "hf")
KEEP_RULES = ("earliest", "longest", "first")
BACKENDS = ("local",)


def _switchable(value: Any) -> Any:
    """A stage section may be `false` (off), `true` or `{}` (defaults), or a mapping."""
    if value is False:
        return None
    if value is True or value is None:
        return {}
    return value


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class FieldMap(Section):
    """Which key of an input record fills each core column; unset columns stay null."""

    text: str = Field("text", description="record key holding the document text (required in records)")
    id: Optional[str] = Field(
        None, description="record key holding a unique id; unset: ids are made from file and position"
    )
    title: Optional[str] = Field(None, description="record key holding the title")
    url: Optional[str] = Field(None, description="record key holding the page URL")
    date: Optional[str] = Field(None, description="record key holding the publication or crawl time (ISO 8601)")
    source: Optional[str] = Field(None, description="record key holding the site or domain")
    lang: Optional[str] = Field(None, description="record key holding a language code")


class InputConfig(Section):
    paths: list[str] = Field(..., min_length=1, description="glob patterns of input files")
    format: Literal[INPUT_FORMATS] = Field("auto", description="input format; auto picks it by file extension")
    fields: FieldMap = Field(default_factory=FieldMap, description="mapping from record keys to core columns")
    batch_size: int = Field(2000, ge=1, le=1_000_000, description="records per batch; bounds memory per worker")


class CleanConfig(Section):
    fix_unicode: bool = Field(True, description="repair mojibake and broken entities with ftfy (quotes kept)")
    strip_chrome: bool = Field(True, description="remove common site chrome (share widgets, comment forms, credits)")
    repeated_lines: bool = Field(True, description="remove lines a site repeats on pages about different stories")
    min_words: int = Field(20, ge=0, description="drop documents with fewer words than this after cleaning")


class MinHashConfig(Section):
    threshold: float = Field(0.8, gt=0, le=1, description="Jaccard similarity above which documents are copies")
    num_perm: int = Field(128, ge=16, le=1024, description="number of MinHash permutations")
    ngram: int = Field(5, ge=1, le=32, description="word n-gram size of the shingles")
    containment: Annotated[Optional[float], BeforeValidator(lambda v: None if v is False else v)] = Field(
        0.8, gt=0, le=1, description="also copies: a document whose shingles lie this much inside another's (false: off)"
    )
    seed: int = Field(1, ge=0, description="seed of the MinHash permutations")


class DedupConfig(Section):
    exact: bool = Field(True, description="drop exact copies (same normalised text)")
    minhash: Annotated[Optional[MinHashConfig], BeforeValidator(_switchable)] = Field(
        default_factory=MinHashConfig, description="near-duplicate detection, or false to switch it off"
    )
    keep: Literal[KEEP_RULES] = Field("earliest", description="which copy of a cluster survives")


class PublishConfig(Section):
    output: str = Field(..., description="output folder (replaced atomically at the end of a build)")
    formats: list[Literal[PUBLISH_FORMATS]] = Field(["parquet", "hf"], min_length=1, description="what to write")
    shard_rows: int = Field(100_000, ge=1, description="maximum documents per published Parquet shard")


class ExecutorConfig(Section):
    backend: Literal[BACKENDS] = Field("local", description="where shards run: local process pool")
    workers: int = Field(2, ge=1, le=512, description="parallel worker processes")


class BuildConfig(Section):
    name: str = Field(..., pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="dataset name")
    input: InputConfig
    clean: Annotated[Optional[CleanConfig], BeforeValidator(_switchable)] = Field(
        default_factory=CleanConfig, description="cleaning stage, or false to switch it off"
    )
    dedup: Annotated[Optional[DedupConfig], BeforeValidator(_switchable)] = Field(
        default_factory=DedupConfig, description="deduplication stage, or false to switch it off"
    )
    publish: PublishConfig
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)


#: Keys whose values are paths: relative ones resolve against the config file's folder
#: (or the current directory for values given on the command line).
PATH_KEYS = {("input", "paths"), ("publish", "output")}


def load_config(
    path: str | os.PathLike, overrides: list[str] = (), output: str | None = None, workers: int | None = None
) -> BuildConfig:
    """Read, override and validate a config; raise ConfigError with one line on any problem."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level, got {type(raw).__name__}")
    _resolve_paths(raw, path.resolve().parent, only=None)
    cwd = Path.cwd()
    for item in overrides:
        key, value = _parse_override(item)
        _set_dotted(raw, key, value)
        _resolve_paths(raw, cwd, only=tuple(key))
    if output is not None:
        _set_dotted(raw, ["publish", "output"], str((cwd / output).resolve()))
    if workers is not None:
        _set_dotted(raw, ["executor", "workers"], workers)
    config = validate(raw, source=str(path))
    check_inputs(config)
    return config


def validate(raw: dict, source: str = "config") -> BuildConfig:
    try:
        return BuildConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {describe_error(exc.errors()[0], raw)}") from None


def describe_error(err: dict, raw: dict) -> str:
    """One line naming the key path, the bad value and what is allowed."""
    loc = [str(p) for p in err["loc"] if not str(p).startswith("function-")]
    key = ".".join(loc) or "(top level)"
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = ", ".join(_model_at(loc[:-1]).model_fields)
        return f"{key}: unknown key (allowed here: {allowed})"
    if kind == "missing":
        return f"{key}: required key is missing"
    value = err.get("input")
    msg = err["msg"]
    if kind == "literal_error":
        msg = "must be one of " + err["ctx"]["expected"]
    return f"{key}: {value!r} is not allowed: {msg}"


def _model_at(loc: list[str]) -> type[BaseModel]:
    model: type[BaseModel] = BuildConfig
    for part in loc:
        if part.isdigit():
            continue
        field = model.model_fields[part]
        model = _section_type(field.annotation)
    return model


def _section_type(annotation) -> type[BaseModel]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        try:
            return _section_type(arg)
        except TypeError:
            continue
    raise TypeError(annotation)


def _parse_override(item: str) -> tuple[list[str], Any]:
    key, sep, text = item.partition("=")
    if not sep or not key or any(not p for p in key.split(".")):
        raise ConfigError(f"--set {item!r}: expected dotted.key=value, e.g. dedup.minhash.threshold=0.7")
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        value = text
    return key.split("."), value


def _set_dotted(raw: dict, key: list[str], value: Any) -> None:
    node = raw
    for i, part in enumerate(key[:-1]):
        child = node.get(part)
        if not isinstance(child, dict):
            # A section switched off (false) or absent becomes a mapping of defaults again.
            child = {}
            node[part] = child
        node = child
    node[key[-1]] = value


def _resolve_paths(raw: dict, base: Path, only: tuple[str, ...] | None) -> None:
    for section, key in PATH_KEYS:
        if only is not None and tuple(only[:2]) != (section, key):
            continue
        node = raw.get(section)
        if not isinstance(node, dict) or key not in node:
            continue
        value = node[key]
        if isinstance(value, str):
            node[key] = _absolute(value, base) if key == "output" else [_absolute(value, base)]
        elif isinstance(value, list):
            node[key] = [_absolute(v, base) if isinstance(v, str) else v for v in value]


def _absolute(value: str, base: Path) -> str:
    expanded = os.path.expanduser(value)
    return expanded if os.path.isabs(expanded) else os.path.normpath(str(base / expanded))


def expand_inputs(config: BuildConfig) -> list[str]:
    """The input files in a fixed order: each glob's matches sorted, duplicates removed."""
    files: list[str] = []
    seen = set()
    for pattern in config.input.paths:
        for match in sorted(glob.glob(pattern, recursive=True)):
            if os.path.isfile(match) and match not in seen:
                seen.add(match)
                files.append(match)
    return files


def check_inputs(config: BuildConfig) -> None:
    """Fail before any work when an input pattern names nothing."""
    for pattern in config.input.paths:
        if glob.has_magic(pattern):
            if not any(os.path.isfile(m) for m in glob.glob(pattern, recursive=True)):
                raise ConfigError(f"input.paths: {pattern!r} matched no files")
        elif not os.path.exists(pattern):
            raise ConfigError(f"input.paths: {pattern!r} does not exist")
        elif os.path.isdir(pattern):
            raise ConfigError(f"input.paths: {pattern!r} is a folder; give a glob such as {pattern}/*.jsonl.gz")


def dump_config(config: BuildConfig) -> str:
    """The effective config as YAML, for the dataset card and reproducibility."""
    data = config.model_dump(mode="json")
    # Switched-off sections are written as `false`, which reads back as off (null means defaults).
    for section in ("clean", "dedup"):
        if data[section] is None:
            data[section] = False
    if data["dedup"] and data["dedup"]["minhash"] is None:
        data["dedup"]["minhash"] = False
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None)
