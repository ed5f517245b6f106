"""FAMO against the authors' code (references/famo: outputs of github.com/Cranial-XIX/FAMO's famo.py on the
same run), and its hook after the optimiser step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import mtlkit

REFERENCE = Path(__file__).parents[2] / "references" / "famo" / "reference.json"


def test_matches_the_authors_famo_step_by_step():
    ref = json.loads(REFERENCE.read_text())
    X, Y = torch.tensor(ref["X"], dtype=torch.float64), torch.tensor(ref["Y"], dtype=torch.float64)
    K = Y.shape[1]
    model = torch.nn.Linear(X.shape[1], K).double()
    with torch.no_grad():
        model.weight.copy_(torch.tensor(ref["initial"]["weight"], dtype=torch.float64))
        model.bias.copy_(torch.tensor(ref["initial"]["bias"], dtype=torch.float64))
    famo = mtlkit.get_aggregator("famo")
    opt = torch.optim.Adam(model.parameters(), lr=ref["lr"])
    for step in ref["steps"]:
        losses = (Y - model(X)).pow(2).mean(0)
        torch.testing.assert_close(losses.detach(), torch.tensor(step["losses"], dtype=torch.float64),
                                   rtol=1e-10, atol=0)
        opt.zero_grad()
        result = mtlkit.backward(losses, model, famo)
        torch.testing.assert_close(result.weights, torch.tensor(step["weights"], dtype=torch.float64),
                                   rtol=1e-10, atol=0)
        opt.step()
        with torch.no_grad():
            famo.after_step((Y - model(X)).pow(2).mean(0))
        torch.testing.assert_close(famo.get_extra_state()["logits"], torch.tensor(step["logits"],
                                   dtype=torch.float64), rtol=1e-9, atol=1e-12)
        torch.testing.assert_close(model.weight.detach(), torch.tensor(step["weight"], dtype=torch.float64),
                                   rtol=1e-9, atol=1e-12)


def test_the_task_whose_loss_falls_least_gains_weight():
    famo = mtlkit.FAMO()
    famo.loss_weights(torch.tensor([1.0, 1.0], dtype=torch.float64))
    famo.after_step(torch.tensor([0.5, 0.99], dtype=torch.float64))  # task 0 improved a lot, task 1 barely
    z = torch.softmax(famo.get_extra_state()["logits"], 0)
    assert float(z[1]) > float(z[0])


def test_state_round_trip_and_hook_order():
    famo = mtlkit.FAMO()
    with pytest.raises(ValueError, match="needs a weighted step first"):
        famo.after_step(torch.ones(3))
    for i in range(3):
        famo.loss_weights(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64) / (i + 1))
        famo.after_step(torch.tensor([0.9, 1.9, 2.5], dtype=torch.float64) / (i + 1))
    twin = mtlkit.FAMO()
    twin.load_state_dict(famo.state_dict())
    L = torch.tensor([0.3, 0.2, 0.1], dtype=torch.float64)
    assert torch.equal(twin.loss_weights(L), famo.loss_weights(L))
