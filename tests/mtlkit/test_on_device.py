"""Weight solvers on the Gramian's device: the torch paths (``solver="torch"``, the default off the CPU) agree
with the numpy ones, keep the contract, and never read a device value on the host.

The proof without a GPU: "meta" tensors have shapes but no data, so every host read (``.item()``, ``bool()``,
``.tolist()``, ``.cpu()``, boolean indexing, a data-dependent shape) raises on them. A method whose ``weights``
returns a meta (K,) tensor from a meta Gramian therefore made no device→host transfer. On CUDA the same calls
run under ``torch.cuda.set_sync_debug_mode`` (skipped without a GPU).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch

import mtlkit
from mtlkit import AlignedMTL, Linear, NashMTL, PCGrad, Weighting, gramian
from mtlkit.testing import adversarial_jacobians, check_aggregator, random_jacobians, seeded

try:  # IMTL-G: built in (mtlkit._imtl) or from the mtlkit-imtl plugin that first provided it
    from mtlkit._imtl import IMTLG
except ImportError:  # pragma: no cover
    IMTLG = pytest.importorskip("mtlkit_imtl").IMTLG


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """The torch paths run hundreds of tiny ops: intra-op threads only add latency (much of it on a busy CPU)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@contextmanager
def checks_off() -> Iterator[None]:
    """Without the finiteness check (the one host sync of a call, by design)."""
    previous = mtlkit.set_input_checks(False)
    try:
        yield
    finally:
        mtlkit.set_input_checks(previous)


def on_device_methods(K: int, device: str = "cpu") -> list[Weighting]:
    """Every Gramian method with its torch path (and the options that change it)."""
    gen = seeded(0, device if device != "meta" else "cpu")  # no generator lives on "meta"
    return [
        NashMTL(solver="torch"),
        NashMTL(solver="torch", min_norm_ratio=0.0, max_norm=None, update_every=2),
        AlignedMTL(solver="torch"),
        AlignedMTL("median", "mean", solver="torch"),
        AlignedMTL("rmse", solver="torch"),
        PCGrad(generator=gen, solver="torch"),
        Linear(),
        Linear([0.5 + i for i in range(K)]),
        IMTLG(solver="torch"),
    ]


def cases() -> Iterator[tuple[str, torch.Tensor]]:
    """The contract suite's random and adversarial Jacobians, float32 and float64."""
    for dtype in (torch.float32, torch.float64):
        for name, J in [*random_jacobians(dtype), *adversarial_jacobians(dtype)]:
            yield f"{name} {dtype}", J


def scale(w: torch.Tensor, G: torch.Tensor) -> float:
    """``S = Σ |w_j| ‖g_j‖``: bounds every term of ``Jᵀw`` (the contract's tolerance scale)."""
    return float((w.abs() * G.diagonal().clamp(min=0).sqrt()).sum())


# --- no host sync -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("K", [1, 5])
def test_torch_paths_run_on_meta_tensors_so_read_nothing_back(K):
    G = torch.empty(K, K, dtype=torch.float64, device="meta")
    J = torch.empty(K, 9, dtype=torch.float32, device="meta")
    with checks_off():
        for method in on_device_methods(K, "meta"):
            for _ in range(2):  # warm start, update_every reuse, a fresh generator draw
                w = method.weights(G)
                assert (w.device.type, w.shape, w.dtype) == ("meta", (K,), torch.float64), method
                update = method(J)
                assert (update.device.type, update.shape, update.dtype) == ("meta", (9,), torch.float32), method
            for key, value in method.diagnostics.items():  # kept as device tensors, not converted
                assert not isinstance(value, torch.Tensor) or value.device.type == "meta", (method, key)
    nash = on_device_methods(K, "meta")[0]
    with checks_off():
        nash.weights(G)
    assert nash._beta.device.type == "meta"  # the warm start stays on the device


@pytest.mark.parametrize("method", [NashMTL(solver="numpy"), AlignedMTL(solver="numpy"), PCGrad(seed=0, solver="numpy"),
                                    IMTLG(solver="numpy")], ids=repr)
def test_the_meta_proof_catches_host_reads(method):
    G = torch.empty(3, 3, dtype=torch.float64, device="meta")
    with checks_off(), pytest.raises((RuntimeError, NotImplementedError)):
        method.weights(G)  # the numpy paths copy G to the host
    with pytest.raises((RuntimeError, NotImplementedError)):
        NashMTL(solver="torch").weights(G)  # and so does the input check


def test_auto_picks_numpy_on_the_cpu_and_torch_elsewhere():
    G = gramian(torch.randn(4, 10, dtype=torch.float64, generator=seeded(1)))
    for method in (NashMTL(), AlignedMTL(), PCGrad(seed=0), IMTLG()):
        method.weights(G)
        assert not any(isinstance(v, torch.Tensor) and v.dim() == 0 for v in method.diagnostics.values()), method
    with checks_off():
        for method in (NashMTL(), AlignedMTL(), PCGrad(seed=0), IMTLG()):
            assert method.weights(G.to("meta")).device.type == "meta"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_no_host_sync_on_cuda():
    """``set_sync_debug_mode("error")`` raises on any synchronising CUDA call. Aligned-MTL and IMTL-G make one,
    inside ``torch.linalg.eigh`` (torch checks cuSOLVER's error flag on the host): counted, at most one."""
    K = 5
    J = torch.randn(K, 300, device="cuda", generator=seeded(2, "cuda"))
    G = gramian(J)
    with checks_off():
        for method in on_device_methods(K, "cuda"):
            method.weights(G)  # warm up (cuSOLVER handles, workspaces)
            method(J)
            eigh = isinstance(method, AlignedMTL | IMTLG)
            fixed = isinstance(method, Linear) and method.fixed is not None  # torch.tensor(list) → host→device copy
            torch.cuda.synchronize()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                torch.cuda.set_sync_debug_mode("warn" if eigh or fixed else "error")
                try:
                    w = method.weights(G)
                    method(J)
                finally:
                    torch.cuda.set_sync_debug_mode("default")
            syncs = [c for c in caught if "synchroniz" in str(c.message)]
            assert len(syncs) <= (2 if eigh or fixed else 0), (method, [str(c.message) for c in syncs])
            assert w.device.type == "cuda"


# --- agreement with numpy -----------------------------------------------------------------------------------------


def test_nash_torch_agrees_with_numpy():
    """Non-singular Gramians: weights to 1e-9 (relative). Singular ones (regularised: the solution is huge
    along the null directions, the ridge's bound on −λ_min differs by ≤ 14 %): updates to 1e-7·S."""
    for ratio in (0.0, 1e-3):
        for name, J in cases():
            G = gramian(J)
            a = NashMTL(max_norm=None, min_norm_ratio=ratio, solver="numpy")
            b = NashMTL(max_norm=None, min_norm_ratio=ratio, solver="torch")
            wa, wb = a.weights(G), b.weights(G)
            assert bool(b.diagnostics["converged"]), name
            assert bool(b.diagnostics["regularised"]) == a.diagnostics["regularised"], name
            assert int(b.diagnostics["floored"]) == a.diagnostics["floored"], name
            assert bool(b.diagnostics["floor_rejected"]) == a.diagnostics["floor_rejected"], name
            if a.diagnostics["regularised"]:
                gap = float(((wa - wb) @ J.double()).norm())
                assert gap <= 1e-7 * scale(wa, G), (name, gap / scale(wa, G))
            else:
                torch.testing.assert_close(wb, wa, rtol=1e-9, atol=0, msg=name)
                assert float(b.diagnostics["residual"]) < 1e-9, name


@pytest.mark.parametrize("K", [2, 5, 20, 64])
def test_nash_torch_agrees_along_a_warm_started_sequence(K):
    gen = seeded(K)
    J = torch.randn(K, 3 * K, generator=gen, dtype=torch.float64) + torch.randn(3 * K, generator=gen,
                                                                                    dtype=torch.float64)
    a, b = NashMTL(solver="numpy"), NashMTL(solver="torch")
    for step in range(6):
        J = J + 0.05 * torch.randn(J.shape, generator=gen, dtype=torch.float64)
        G = gramian(J)
        torch.testing.assert_close(b.weights(G), a.weights(G), rtol=1e-9, atol=0)
        if step:
            assert int(b.diagnostics["iterations"]) <= 4  # warm
    assert isinstance(b._beta, torch.Tensor)
    state = b.state_dict()  # a torch-path state loads into a numpy-path instance and back
    twin = NashMTL(solver="numpy")
    twin.load_state_dict(state)
    torch.testing.assert_close(twin.weights(G), b.weights(G), rtol=1e-9, atol=0)


def test_aligned_torch_agrees_with_numpy():
    for mode in ("min", "median", "rmse"):
        for reduction in ("sum", "mean"):
            for name, J in cases():
                G = gramian(J)
                a, b = AlignedMTL(mode, reduction, solver="numpy"), AlignedMTL(mode, reduction, solver="torch")
                wa, wb = a.weights(G), b.weights(G)
                gap = float(((wa - wb).abs() * G.diagonal().sqrt()).sum())
                assert gap <= 1e-9 * max(scale(wa, G), 1e-300), (mode, name, gap)
                rank = a.diagnostics["rank"]
                assert int(b.diagnostics["rank"]) == rank, name
                torch.testing.assert_close(b.diagnostics["singular_values"][:rank], a.diagnostics["singular_values"],
                                           rtol=1e-6, atol=1e-12 * float(G.diagonal().max()) ** 0.5)


def test_pcgrad_torch_draws_the_same_orders_and_weights():
    for name, J in cases():
        G = gramian(J)
        a, b = PCGrad(generator=seeded(3), solver="numpy"), PCGrad(generator=seeded(3), solver="torch")
        for _ in range(3):
            wa, wb = a.weights(G), b.weights(G)
            assert torch.equal(b.diagnostics["orders"], a.diagnostics["orders"]), name
            assert int(b.diagnostics["projections"]) == a.diagnostics["projections"], name
            torch.testing.assert_close(wb, wa, rtol=1e-12, atol=1e-12 * max(float(wa.abs().max()), 1e-300))


def test_imtl_torch_agrees_with_numpy():
    for name, J in cases():
        G = gramian(J)
        a, b = IMTLG(solver="numpy"), IMTLG(solver="torch")
        wa, wb = a.weights(G), b.weights(G)
        gap = float(((wa - wb).abs() * G.diagonal().sqrt()).sum())
        assert gap <= 1e-7 * max(scale(wa, G), 1e-300), (name, gap)
        for key in ("zero_tasks", "degenerate", "rank"):
            assert b.diagnostics[key].item() == a.diagnostics[key], (name, key)


# --- the contract on the torch paths ------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "options"), [
    ("nash", {"solver": "torch"}), ("nash", {"solver": "torch", "min_norm_ratio": 0.0, "update_every": 2}),
    ("aligned", {"solver": "torch"}), ("aligned", {"solver": "torch", "scale_mode": "median"}),
    ("pcgrad", {"solver": "torch"}), ("imtl", {"solver": "torch"}),
])
def test_torch_paths_keep_the_contract(name, options):
    assert check_aggregator(name, **options) == []


@pytest.mark.parametrize("cls", [NashMTL, AlignedMTL, PCGrad, IMTLG])
def test_bad_solver(cls):
    with pytest.raises(ValueError, match="solver"):
        cls(solver="cuda")
