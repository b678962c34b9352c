"""The structure holds: layers import only downwards (import-linter contracts in pyproject.toml,
run by `make test` as lint-imports), and no module reaches another through a circle of imports,
lazy or not."""

from __future__ import annotations

import grimp

from conftest import ROOT


def test_no_module_imports_itself_through_others() -> None:
    graph = grimp.build_graph("publisher", "adapters")
    circles = sorted(
        (module, imported)
        for module in graph.modules
        for imported in graph.find_modules_directly_imported_by(module)
        if graph.chain_exists(importer=imported, imported=module)
    )
    assert circles == [], f"import circles: {circles}"


def test_every_layer_named_in_the_contracts_exists() -> None:
    # A renamed package would make its contract check nothing at all.
    contracts = (ROOT / "pyproject.toml").read_text()
    for layer in ("publisher.edges", "publisher.sources", "publisher.engine", "publisher.site", "publisher.core",
                  "publisher.domain", "adapters.port"):  # fmt: skip
        assert (ROOT / layer.replace(".", "/") / "__init__.py").exists(), layer
        assert f'"{layer.removesuffix(".port")}"' in contracts, f"{layer} is in no contract"
