"""Finding and loading plan files.

A region is found by name in the seed directories: those listed in the ``SEISIM_SEEDS`` environment
variable (``os.pathsep``-separated), then ``./seeds`` in the working directory, then the ``seeds/``
folder shipped beside the package. A path to a YAML file works too, so a user can keep a region of
their own anywhere.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from pydantic import ValidationError

from sim.errors import InputError, nearest
from sim.paths import SHIPPED_SEEDS
from sim.plans.schema import Plan, PlanFile, check_references
from sim.yamlio import load_located, raise_validation_error

PACKAGE_SEEDS = SHIPPED_SEEDS


def seed_dirs(existing: bool = True) -> list[Path]:
    """Where plan and statistics files are looked up: ``$SEISIM_SEEDS``, ``./seeds``, then the
    shipped seeds; each real directory once, and only existing ones unless ``existing`` is
    False (a list of places to look again later)."""
    dirs = [Path(p) for p in os.environ.get("SEISIM_SEEDS", "").split(os.pathsep) if p]
    dirs += [Path.cwd() / "seeds", PACKAGE_SEEDS]
    unique: list[Path] = []
    seen: set[str] = set()
    for d in dirs:
        if (not existing or d.is_dir()) and real_path(str(d)) not in seen:
            seen.add(real_path(str(d)))
            unique.append(d)
    return unique


def real_path(path: str | os.PathLike) -> str:
    """``os.path.realpath``, remembered per absolute path: resolving walks every path component,
    and every model compilation (one per parameter draw in a Monte Carlo run) looks up the same
    few directories. Directories are not expected to be re-linked while seisim runs."""
    return _realpath_of_absolute(os.path.abspath(path))


@functools.lru_cache(maxsize=1024)
def _realpath_of_absolute(path: str) -> str:
    return os.path.realpath(path)


def available_regions() -> list[str]:
    """Region names found in the seed directories."""
    names = {p.stem for d in seed_dirs() for p in d.glob("*.yaml")}
    return sorted(names)


def display_path(path: Path) -> str:
    """A path as a user should see it in messages: relative to the working directory if inside."""
    real = Path(real_path(path))
    try:
        return str(real.relative_to(real_path(Path.cwd())))
    except ValueError:
        try:
            return str(real.relative_to(PACKAGE_SEEDS.parent))
        except ValueError:
            return str(path)


def resolve_region(region: str | os.PathLike) -> Path:
    text = str(region)
    if text.endswith((".yaml", ".yml")) or os.sep in text or "/" in text:
        path = Path(text)
        if not path.is_file():
            raise InputError("plan file not found", file=text)
        return path
    for d in seed_dirs():
        candidate = d / f"{text}.yaml"
        if candidate.is_file():
            return candidate
    regions = available_regions()
    raise InputError(f"unknown region '{text}'{nearest(text, regions)}; available: "
                     f"{', '.join(regions) or 'none'}")


def read_plan_file(path: str | os.PathLike) -> PlanFile:
    """Parse and validate a plan file (all its versions); one-line errors name file, line and key."""
    path = Path(path)
    located = load_located(path, display_path(path))
    if not isinstance(located.data, dict):
        raise InputError("a plan file must be a mapping at the top level", file=located.file)
    try:
        plan_file = PlanFile.model_validate(located.data)
    except ValidationError as exc:
        raise_validation_error(located, exc, PlanFile)
    problems = check_references(plan_file)
    if problems:  # report the first problem in file order, as a reader would meet it
        key_path, problem = min(problems, key=lambda p: located.line_of(p[0]) or 0)
        raise located.error(key_path, problem)
    if plan_file.region != path.stem:
        raise located.error(("region",), f"region '{plan_file.region}' must match the file name "
                                         f"'{path.stem}'")
    return plan_file


@functools.lru_cache(maxsize=64)
def _load_cached(path: str, mtime_ns: int, version: str | None) -> Plan:
    plan_file = read_plan_file(path)
    return select_version(plan_file, version, display_path(Path(path)))


def select_version(plan_file: PlanFile, version: str | None, file: str) -> Plan:
    version = plan_file.default if version is None else str(version)
    if version not in plan_file.versions:
        raise InputError(f"unknown version '{version}' of {plan_file.region}"
                         f"{nearest(version, plan_file.versions)}; versions: "
                         f"{', '.join(plan_file.versions)}", file=file)
    meta = plan_file.versions[version]

    def pick(items):
        return tuple(it for it in items if version in it.source)

    figures = tuple(f for f in plan_file.figures if f.applies_to(version))
    return Plan(region=plan_file.region, name=plan_file.name, name_en=plan_file.name_en,
                version=version, versions=tuple(plan_file.versions), document=meta.document,
                title=meta.title, file=file, industries=pick(plan_file.industries),
                parks=pick(plan_file.parks), funds=pick(plan_file.funds),
                figures=tuple(f for f in figures if f.quantified),
                unquantified=tuple(f for f in figures if not f.quantified))


def load(region: str | os.PathLike, version: str | None = None) -> Plan:
    """Load one version of a region's plan (the file's default version if ``version`` is None).

    ``region`` is a region name found in the seed directories or a path to a plan YAML file.
    Raises :class:`sim.errors.InputError` with a one-line message on any problem in the data.
    """
    path = resolve_region(region)
    return _load_cached(str(path.resolve()), path.stat().st_mtime_ns,
                        None if version is None else str(version))


def plan_path(plan: Plan) -> Path:
    """The file a loaded plan came from, so its other versions can be read from the same file.

    ``Plan.file`` is a display path (relative to the working directory or to the repository, see
    :func:`display_path`); it is resolved the same two ways. If the file has moved, or the working
    directory changed since loading, the region is looked up by name.
    """
    for candidate in (Path(plan.file), PACKAGE_SEEDS.parent / plan.file):
        if candidate.is_file():
            return candidate
    return resolve_region(plan.region)


def load_all_versions(region: str | os.PathLike) -> list[Plan]:
    """Every version of a region's plan, default first."""
    path = resolve_region(region)
    plan_file = read_plan_file(path)
    order = [plan_file.default] + [v for v in plan_file.versions if v != plan_file.default]
    return [load(path, v) for v in order]
