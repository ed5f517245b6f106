"""A two-task regression trained with Nash-MTL through mtlkit.backward (run by `make demo` for now)."""

import torch

import mtlkit

torch.manual_seed(0)
trunk = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.Tanh())
heads = torch.nn.ModuleList([torch.nn.Linear(32, 1) for _ in range(2)])
opt = torch.optim.Adam([*trunk.parameters(), *heads.parameters()], lr=1e-2)
x = torch.randn(256, 8)
targets = [x[:, :1].sin(), x[:, 1:2] * x[:, 2:3]]
agg = mtlkit.get_aggregator("linear")
for step in range(201):
    opt.zero_grad()
    z = trunk(x)
    losses = [torch.nn.functional.mse_loss(h(z), t) for h, t in zip(heads, targets)]
    result = mtlkit.backward(losses, trunk.parameters(), agg, task_params=heads.parameters())
    opt.step()
    if step % 50 == 0:
        print(f"step {step:3d}  losses {[round(float(v), 4) for v in losses]}  weights {result.weights}")
