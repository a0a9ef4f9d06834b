"""Dependencies are declared where they are used: every distribution ``src/ipchain`` and ``api``
import is a runtime dependency in pyproject.toml, and every runtime dependency is imported there
(test-only packages belong to the ``dev`` extra)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

IMPORTED_INDIRECTLY = {
    "safe-pysha3": "the keccak backend ipchain.encoding picks (eth_hash.backends.pysha3)",
}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    return {
        _normal(re.split(r"[\s\[<>=!~;]", spec, maxsplit=1)[0]) for spec in project["dependencies"]
    }


def imported() -> dict[str, set[str]]:
    """Distribution -> files of src/ipchain and api that import it."""
    distributions = metadata.packages_distributions()
    found: dict[str, set[str]] = {}
    for folder in (ROOT / "src" / "ipchain", ROOT / "api"):
        for path in folder.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.partition(".")[0]
                    if top in sys.stdlib_module_names or top in {"ipchain", "api", "__future__"}:
                        continue
                    for distribution in distributions.get(top, [f"<no distribution: {top}>"]):
                        found.setdefault(_normal(distribution), set()).add(
                            str(path.relative_to(ROOT))
                        )
    return found


def test_every_imported_distribution_is_a_runtime_dependency() -> None:
    missing = {name: sorted(files) for name, files in imported().items() if name not in declared()}
    assert not missing, f"imported but not in [project] dependencies: {missing}"


def test_every_runtime_dependency_is_imported() -> None:
    unused = declared() - set(imported()) - set(IMPORTED_INDIRECTLY)
    assert not unused, f"declared but imported by neither src/ipchain nor api: {sorted(unused)}"
