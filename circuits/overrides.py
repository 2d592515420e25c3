"""Custom run configs: a preset, then a JSON config file, then `--set section.field=VALUE` items, later winning.

    build_run_config("attn-only-2l", Path("run.json"), ["model.n_layers=3", "train.steps=8000", "name=my-run"])

The config file is a full `RunConfig` JSON (as saved beside a run's weights, or printed by `preset_json`) or any
part of one (`{"train": {"steps": 500}}`), applied over the preset. A `--set` value is JSON (`4`, `3e-3`, `true`,
`null`, `[17, 19]`, `"LN"`); a bare word that is not JSON (`gelu`) is taken as a string. The top-level key
`clamps` takes a JSON list of clamp objects (`circuits.model.clamp`) and replaces the preset's clamps. Every value is checked
against its dataclass field's declared type before anything is built, then the whole config by
`RunConfig.validate()`; each problem is one `WorkbenchError` naming the field, the value and what is allowed.
Nothing here writes a file.
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from circuits import presets
from circuits.config import ModelConfig, RunConfig, TrainConfig
from circuits.data.configs import DATA_CONFIGS, data_class, field_names, switch_generator
from circuits.errors import WorkbenchError
from circuits.model.clamp import clamps_from_json

SECTIONS: dict[str, type] = {"model": ModelConfig, "train": TrainConfig}  # and "data": one config per generator
DATA = "data"
TOP_LEVEL = "name"  # the run's name: a RunConfig field outside the sections (with CLAMPS)
OLD_TOP_LEVEL = "preset"  # its older key, still accepted
CLAMPS = "clamps"  # the run's clamps (circuits.model.clamp): a JSON list of clamp objects, replacing the preset's
SET_SYNTAX = "write --set SECTION.FIELD=VALUE (e.g. model.n_layers=4, data.heldout_lengths=[17,19], name=my-run)"


@dataclass(frozen=True)
class Override:
    """One field to change: `key` is "section.field", "name" or "clamps"; `source` says where it came from."""

    key: str
    value: Any
    source: str


def build_run_config(preset: str | None, config_file: Path | None, sets: list[str]) -> RunConfig:
    """The RunConfig of preset `preset` (the default preset if None), overridden by `config_file`, then by `sets`.

    If train.steps is overridden to at most warmup_steps and warmup_steps is not overridden, warm-up becomes
    steps // 10 (a short run keeps a proportionate warm-up). Raises one WorkbenchError for the first bad input.
    """
    base = presets.preset(preset or presets.DEFAULT_PRESET)
    overrides = (read_config_file(config_file) if config_file is not None else []) + [parse_set(s) for s in sets]
    checked = [_checked(o) for o in overrides]
    config = _scale_warmup(_apply(base, checked), {o.key for o in checked})
    try:
        config.validate()
    except WorkbenchError as exc:
        raise WorkbenchError(f"{_blame(str(exc), checked, base.name)}: {exc}") from None
    return config


def preset_json(name: str) -> str:
    """Indented JSON of preset `name` — a starting point for `--config`: `build_run_config(None, file, [])` of
    this text gives the preset back exactly."""
    return presets.preset(name).to_json()


def parse_set(item: str) -> Override:
    """`section.field=VALUE` (or `name=NAME`, also `preset=NAME`) → Override; VALUE is JSON, or a bare word."""
    key, sep, raw = item.partition("=")
    key, source = key.strip(), f"--set {item}"
    if not sep or not key or not raw.strip():
        raise WorkbenchError(f"{source}: malformed override (need KEY=VALUE with a non-empty value); {SET_SYNTAX}.")
    if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)?", key):
        raise WorkbenchError(f"{source}: malformed key {key!r} (need SECTION.FIELD or name); {SET_SYNTAX}.")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw.strip()  # a bare word: a string (quote it in JSON to keep surrounding spaces)
    return Override(TOP_LEVEL if key == OLD_TOP_LEVEL else key, value, source)


def read_config_file(path: Path) -> list[Override]:
    """The fields a (full or partial) RunConfig JSON file sets, as Overrides in file order."""
    raw = _load_json(Path(path))
    if not isinstance(raw, dict):
        raise WorkbenchError(f"{path}: a run config file must hold a JSON object like "
                             f'{{"train": {{"steps": 500}}}}, got {_kind(raw)}.')
    out = []
    for key, value in raw.items():
        if key in SECTIONS:
            if not isinstance(value, dict):
                raise WorkbenchError(f"{path}: section {key!r} must be a JSON object of its fields, "
                                     f"got {_kind(value)}.")
            out += [Override(f"{key}.{name}", v, str(path)) for name, v in value.items()]
        elif key == DATA:
            out += _data_overrides(value, path)
        else:
            out.append(Override(TOP_LEVEL if key == OLD_TOP_LEVEL else key, value, str(path)))
    return out


def _data_overrides(value: Any, path: Path) -> list[Override]:
    """A file's data section: its generator first, then that generator's fields (fields of other generators, which
    config files written by older versions carry, are dropped: that generator ignored them)."""
    if not isinstance(value, dict):
        raise WorkbenchError(f"{path}: section 'data' must be a JSON object of its fields, got {_kind(value)}.")
    name = value.get("name")
    own = field_names(data_class(name)) if isinstance(name, str) and name in DATA_CONFIGS else None
    others = set().union(*(field_names(c) for c in DATA_CONFIGS.values()))
    kept = {k: v for k, v in value.items() if own is None or k == "name" or k in own or k not in others}
    order = sorted(kept, key=lambda k: k != "name")
    return [Override(f"data.{k}", kept[k], str(path)) for k in order]


def _load_json(path: Path) -> Any:
    if not path.exists():
        raise WorkbenchError(f"config file {path} does not exist; "
                             f"write one with `icl-workbench config PRESET > {path.name}`.")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise WorkbenchError(f"config file {path} cannot be read ({type(exc).__name__}: {exc}); "
                             f"check its path and permissions.") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise WorkbenchError(f"config file {path} is not valid JSON ({exc.msg} at line {exc.lineno}, column "
                             f"{exc.colno}); fix it or start from `icl-workbench config PRESET`.") from None


def _checked(override: Override) -> Override:
    """The override with its key resolved and its value checked against (and converted to) the field's type."""
    if override.key == CLAMPS:
        return dataclasses.replace(override, value=clamps_from_json(override.value, override.source))
    section, name = _resolve(override)
    if section is None:
        _check_run_name(override)
        return override
    if section == DATA:
        return _checked_data(override, name)
    hint = typing.get_type_hints(SECTIONS[section])[name]
    return dataclasses.replace(override, value=_convert(hint, override))


def _checked_data(override: Override, name: str) -> Override:
    if name == "name":
        try:
            data_class(override.value if isinstance(override.value, str) else repr(override.value))
        except WorkbenchError as exc:
            raise WorkbenchError(f"{override.source}: {exc}") from None
        return override
    cls = next(c for c in DATA_CONFIGS.values() if name in field_names(c))
    return dataclasses.replace(override, value=_convert(typing.get_type_hints(cls)[name], override))


def _check_run_name(override: Override) -> None:
    value = override.value
    if not isinstance(value, str) or not re.fullmatch(r"[\w.+-]+", value) or value in (".", ".."):
        raise WorkbenchError(f"{override.source}: name={json.dumps(value)} must be a run name of letters, digits "
                             f"and . _ + - (it names the run folder), e.g. name=my-run.")


def _resolve(override: Override) -> tuple[str | None, str]:
    """(section or None for the top-level `name`, field name); unknown keys get close-match suggestions."""
    parts, source = override.key.split("."), override.source
    if parts == [TOP_LEVEL]:
        return None, TOP_LEVEL
    keys = [f"{s}.{f.name}" for s, cls in SECTIONS.items() for f in dataclasses.fields(cls)] + _data_keys()
    if len(parts) == 1:
        raise WorkbenchError(f"{source}: unknown key {parts[0]!r}{_suggest(parts[0], keys)}; keys are {TOP_LEVEL}, {CLAMPS} "
                             f"or SECTION.FIELD with SECTION one of {list(SECTIONS)}.")
    section, name = parts
    if section not in (*SECTIONS, DATA):
        raise WorkbenchError(f"{source}: unknown section {section!r}{_suggest(section, [*SECTIONS, DATA])}; sections are "
                             f"{[*SECTIONS, DATA]} (and the top-level key {TOP_LEVEL}).")
    names = [k.split(".")[1] for k in _data_keys()] if section == DATA else [f.name for f in dataclasses.fields(SECTIONS[section])]
    if name not in names:
        raise WorkbenchError(f"{source}: unknown field {section}.{name}{_suggest(name, keys)}; "
                             f"{section} fields are {names}.")
    return section, name


def _suggest(word: str, keys: list[str]) -> str:
    """' (did you mean K?)' for the keys closest to `word`, matched on the whole key or its field name (difflib)."""
    close = difflib.get_close_matches(word, keys + [k.split(".")[-1] for k in keys], n=3, cutoff=0.6)
    hits = list(dict.fromkeys(k for c in close for k in keys if c in (k, k.split(".")[-1])))
    return f" (did you mean {' or '.join(hits[:3])}?)" if hits else ""


def _convert(hint: Any, override: Override) -> Any:
    """`override.value` as field type `hint` wants it (int → float for a float field, list → tuple), or one error."""
    value = override.value
    for option in _options(hint):
        ok, converted = _fits(option, value)
        if ok:
            return converted
    allowed = " or ".join(_describe(o) for o in _options(hint))
    raise WorkbenchError(f"{override.source}: {override.key} must be {allowed}, "
                         f"got {json.dumps(value)} ({_kind(value)}).")


def _options(hint: Any) -> tuple[Any, ...]:
    """The alternatives of a field type: (int, NoneType) for `int | None`, (float,) for `float`."""
    union = isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union
    return typing.get_args(hint) if union else (hint,)


def _fits(option: Any, value: Any) -> tuple[bool, Any]:
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if option is type(None):
        return value is None, None
    if option is bool:
        return isinstance(value, bool), value
    if option is int:
        return is_int, value
    if option is float:
        return is_int or isinstance(value, float), float(value) if is_int or isinstance(value, float) else None
    if option is str:
        return isinstance(value, str), value
    if typing.get_origin(option) is tuple:  # tuple[int, ...]
        items = isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        return items, tuple(value) if items else None
    raise TypeError(f"no JSON conversion for field type {option!r}")  # a new field type: add it here


def _describe(option: Any) -> str:
    names = {type(None): "null", bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    return names.get(option, "a list of integers like [17, 19]")


def _kind(value: Any) -> str:
    """The JSON kind of a value, for messages."""
    kinds = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
             dict: "an object", type(None): "null"}
    return kinds.get(type(value), type(value).__name__)


def _apply(base: RunConfig, overrides: list[Override]) -> RunConfig:
    """`base` with every override applied in order (later ones win)."""
    changes: dict[str, dict[str, Any]] = {s: {} for s in (*SECTIONS, DATA)}
    name, clamps = base.name, base.clamps
    for o in overrides:
        if o.key == TOP_LEVEL:
            name = o.value
        elif o.key == CLAMPS:
            clamps = o.value
        else:
            section, field_name = o.key.split(".")
            changes[section][field_name] = o.value
    sections = {s: dataclasses.replace(getattr(base, s), **changes[s]) for s in SECTIONS}
    generator = changes[DATA].pop("name", base.data.name)
    data = switch_generator(base.data, generator, changes[DATA])
    return RunConfig(name=name, clamps=clamps, data=data, **sections)


def _data_keys() -> list[str]:
    """Every data field of every generator (`data.name` chooses the generator)."""
    return ["data.name", *dict.fromkeys(f"data.{f}" for c in DATA_CONFIGS.values() for f in field_names(c))]


def _scale_warmup(config: RunConfig, keys: set[str]) -> RunConfig:
    """Warm-up = steps // 10 when steps was overridden to ≤ the preset's warm-up and warm-up was left alone."""
    tc = config.train
    if "train.steps" in keys and "train.warmup_steps" not in keys and tc.warmup_steps >= tc.steps:
        return dataclasses.replace(config, train=dataclasses.replace(tc, warmup_steps=tc.steps // 10))
    return config


def _blame(message: str, overrides: list[Override], base_name: str) -> str:
    """Which overrides a validation message is about: those whose field it names, else all of them."""
    named = [o for o in overrides if re.search(rf"\b{re.escape(o.key.split('.')[-1])}\b", message)]
    culprits = named or overrides
    if not culprits:
        return f"preset {base_name}"
    where = (o.source if o.source.startswith("--set") else f"{o.source} ({o.key}={json.dumps(o.value)})"
             for o in culprits)
    return ", ".join(dict.fromkeys(where))
