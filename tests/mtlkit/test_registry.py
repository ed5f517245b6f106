"""The aggregator registry: lookups with suggestions, duplicate names, hook-name typos, plugin selection through
MTLKIT_LOAD_PLUGINS (real entry points, real environment variables, in subprocesses) and a light import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pluggy
import pytest
import torch
from torch import Tensor

import mtlkit
from mtlkit import Properties, Weighting, check_gramian

# --- lookups ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("typo", "meant"), [("linera", "linear"), ("LINEAR ", None), ("nahs", "nash")])
def test_unknown_name_suggests_close_matches(typo, meant):
    names = {info.name for info in mtlkit.list_aggregators()}
    if meant is None:  # case and surrounding spaces are ignored
        assert isinstance(mtlkit.get_aggregator(typo), mtlkit.Linear)
        return
    if meant not in names:
        pytest.skip(f"{meant!r} is not registered in this environment")
    with pytest.raises(mtlkit.UnknownAggregatorError) as info:
        mtlkit.get_aggregator(typo)
    message = str(info.value)
    assert f"unknown aggregator {typo!r}" in message
    assert f"did you mean {meant}" in message
    assert isinstance(info.value, KeyError)


def test_unknown_name_without_close_match_lists_what_exists():
    with pytest.raises(mtlkit.UnknownAggregatorError, match=r"available: .*linear") as info:
        mtlkit.get_aggregator("zzzzzz")
    assert "did you mean" not in str(info.value)


def test_bad_options_raise_one_value_error():
    with pytest.raises(ValueError, match=r"aggregator 'linear': bad options \{'bogus': 1\}"):
        mtlkit.get_aggregator("linear", bogus=1)
    assert mtlkit.get_aggregator("linear", weights=[1.0, 2.0]).fixed == [1.0, 2.0]


def test_list_aggregators_shows_properties_and_origins():
    infos = {info.name: info for info in mtlkit.list_aggregators()}
    linear = infos["linear"]
    assert linear.origin == "built-in"
    assert linear.cls is mtlkit.Linear
    assert linear.properties.permutation_invariant is False
    d = linear.as_dict()
    assert d["name"] == "linear"
    assert d["origin"] == "built-in"
    assert d["summary"].startswith("Fixed weights")
    assert d["properties"] == {"kind": "gramian", "non_conflicting": False, "permutation_invariant": False,
                               "stateful": False, "randomised": False, "learnable": False, "needs": ["gramian"]}
    json.dumps([info.as_dict() for info in infos.values()])  # JSON-friendly
    assert list(infos) == sorted(infos)
    for info in infos.values():
        assert info.origin == "built-in" or " " in info.origin, info.origin  # "distribution version"


# --- run-time plugins -----------------------------------------------------------------------------------------------


class _Mean(Weighting):
    """Mean of the task gradients (a run-time test plugin)."""

    name = "test-mean"
    properties = Properties(permutation_invariant=True)

    def weights(self, G: Tensor, losses: Tensor | None = None) -> Tensor:
        G = check_gramian(G)
        return torch.full((G.shape[0],), 1.0 / G.shape[0], dtype=G.dtype, device=G.device)


class _MeanPlugin:
    @mtlkit.hookimpl
    def mtlkit_register_aggregators(self, register):
        register(_Mean)


class _DuplicatePlugin:
    @mtlkit.hookimpl
    def mtlkit_register_aggregators(self, register):
        register(_Mean, name="linear")


class _TypoPlugin:
    @mtlkit.hookimpl
    def mtlkit_register_aggregator(self, register):  # missing "s"
        register(_Mean)


def test_register_and_unregister_a_plugin_object():
    plugin = _MeanPlugin()
    mtlkit.register_plugin(plugin, name="test-mean-plugin")
    try:
        infos = {info.name: info for info in mtlkit.list_aggregators()}
        assert infos["test-mean"].origin == "test-mean-plugin"
        agg = mtlkit.get_aggregator("test-mean")
        J = torch.tensor([[1.0, 0.0], [0.0, 3.0]])
        torch.testing.assert_close(agg(J), torch.tensor([0.5, 1.5]))
    finally:
        mtlkit.unregister_plugin(plugin)
    assert "test-mean" not in {info.name for info in mtlkit.list_aggregators()}


def test_duplicate_name_is_rejected_naming_both_origins():
    plugin = _DuplicatePlugin()
    mtlkit.register_plugin(plugin, name="dup-plugin")
    try:
        with pytest.raises(ValueError, match="registered twice") as info:
            mtlkit.list_aggregators()
        message = str(info.value)
        assert "'linear'" in message
        assert "built-in (Linear)" in message
        assert "dup-plugin (_Mean)" in message
    finally:
        mtlkit.unregister_plugin(plugin)
    assert mtlkit.get_aggregator("linear") is not None  # the table recovers once the plugin is gone


def test_mistyped_hook_name_fails_check_pending_and_is_rolled_back():
    with pytest.raises(pluggy.PluginValidationError, match="mtlkit_register_aggregator"):
        mtlkit.register_plugin(_TypoPlugin(), name="typo-plugin")
    assert "test-mean" not in {info.name for info in mtlkit.list_aggregators()}


def test_register_rejects_non_aggregators():
    class NotAnAggregator:
        name = "nope"

    class Plugin:
        @mtlkit.hookimpl
        def mtlkit_register_aggregators(self, register):
            register(NotAnAggregator)

    plugin = Plugin()
    mtlkit.register_plugin(plugin, name="bad-class-plugin")
    try:
        with pytest.raises(TypeError, match="bad-class-plugin: register\\(\\) expects a Aggregator subclass"):
            mtlkit.list_aggregators()
    finally:
        mtlkit.unregister_plugin(plugin)


# --- entry points and MTLKIT_LOAD_PLUGINS (subprocesses) ------------------------------------------------------------

_PLUGIN_MODULE = '''
import torch
import mtlkit


class Halves(mtlkit.Weighting):
    """Every task weighted 1/2."""

    name = "halves"

    def weights(self, G, losses=None):
        return torch.full((mtlkit.check_gramian(G).shape[0],), 0.5, dtype=torch.float64, device=G.device)


@mtlkit.hookimpl
def mtlkit_register_aggregators(register):
    register(Halves)
'''


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory) -> Path:
    """A real installed-style distribution (dist-info with an entry point) on a directory we put on PYTHONPATH."""
    root = tmp_path_factory.mktemp("site")
    (root / "mtlkit_halves.py").write_text(_PLUGIN_MODULE)
    info = root / "mtlkit_halves-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mtlkit-halves\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text("[mtlkit]\nhalves-ep = mtlkit_halves\n")
    return root


_PROBE = textwrap.dedent("""
    import json, mtlkit
    print(json.dumps({i.name: i.origin for i in mtlkit.list_aggregators()}))
""")


def _probe(plugin_path: Path, value: str | None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "MTLKIT_LOAD_PLUGINS"}
    env["PYTHONPATH"] = os.pathsep.join([str(plugin_path), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    if value is not None:
        env["MTLKIT_LOAD_PLUGINS"] = value
    return subprocess.Popen([sys.executable, "-c", _PROBE], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_load_plugins_env_var(plugin_path):
    halves = {"halves": "mtlkit-halves 1.2.3"}
    cases = {
        None: halves,  # unset: every installed plugin (this one and any other)
        "": {},  # empty: built-ins only
        "halves-ep": halves,  # an entry-point name: only that plugin
        " nothing , mtlkit_halves ": halves,  # a comma list of distribution names (- or _), spaces ignored
    }
    procs = {value: _probe(plugin_path, value) for value in cases}
    for value, expected in cases.items():
        out, err = procs[value].communicate(timeout=120)
        assert procs[value].returncode == 0, err
        origins = json.loads(out)
        assert origins["linear"] == "built-in"
        plugins = {name: origin for name, origin in origins.items() if origin != "built-in"}
        if value is None:
            assert plugins.items() >= expected.items(), plugins
        else:
            assert plugins == expected, (value, plugins)


def test_import_is_light():
    code = textwrap.dedent("""
        import sys, json
        import mtlkit
        before = sorted(m for m in ("librosa", "transformers", "typer", "scipy", "pytest", "mtlkit.testing",
                                    "dancegen", "torchjd", "cvxpy") if m in sys.modules)
        mtlkit.list_aggregators()  # loads every installed plugin too
        after = sorted(m for m in ("librosa", "transformers", "typer", "scipy", "dancegen") if m in sys.modules)
        print(json.dumps([before, after]))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    before, after = json.loads(out.stdout)
    assert before == []
    assert after == []


def test_the_methods_page_lists_every_registered_method():
    """docs/mtlkit/methods.md carries the table scripts/methods_table.py makes from the registry."""
    import importlib.util
    from pathlib import Path

    root = Path(__file__).parents[2]
    spec = importlib.util.spec_from_file_location("methods_table", root / "scripts" / "methods_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    page = (root / "docs" / "mtlkit" / "methods.md").read_text()
    assert module.table() in page, "docs/mtlkit/methods.md is stale: rerun python scripts/methods_table.py"
    missing = [i.name for i in mtlkit.list_aggregators() if not module.page_of(i.name)]
    assert not missing, f"methods without a docs page: {missing}"
