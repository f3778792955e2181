"""Reference values for medqa-finetune's optimizer pieces, from PyTorch and transformers.

    /tmp/ref/bin/python medqa-finetune/tools/make_optim_golden.py > medqa-finetune/src/test/resources/optim_golden.json

Two parameters (shapes [3, 4] and [5, 2]) get 6 optimizer steps. Each step sets the gradients to
fixed pseudo-random values (scaled so that clipping engages on some steps and not on others), then
clip_grad_norm_(max_norm=1.0), then torch.optim.AdamW(lr=1e-2, betas=(0.9, 0.95), eps=1e-6,
weight_decay=0.1) with transformers' cosine schedule (2 warm-up steps of 6) stepping the rate.
Also the three schedules' factors for 10 steps with 3 warm-up steps.
"""
import json
import sys

import torch
import transformers
from transformers import get_constant_schedule_with_warmup, get_cosine_schedule_with_warmup, \
    get_linear_schedule_with_warmup

g = torch.Generator().manual_seed(7)
p1 = torch.nn.Parameter(torch.randn(3, 4, generator=g))
p2 = torch.nn.Parameter(torch.randn(5, 2, generator=g))
params = [p1, p2]
init = [p.detach().clone().tolist() for p in params]
opt = torch.optim.AdamW(params, lr=1e-2, betas=(0.9, 0.95), eps=1e-6, weight_decay=0.1)
sched = get_cosine_schedule_with_warmup(opt, num_warmup_steps=2, num_training_steps=6)
steps = []
for s in range(6):
    scale = [0.1, 3.0, 0.5, 10.0, 0.2, 1.0][s]
    grads = [torch.randn(p.shape, generator=g) * scale for p in params]
    for p, gr in zip(params, grads):
        p.grad = gr.clone()
    lr = opt.param_groups[0]["lr"]
    norm = torch.nn.utils.clip_grad_norm_(params, max_norm=1.0)
    opt.step()
    sched.step()
    opt.zero_grad()
    steps.append({"grads": [gr.tolist() for gr in grads], "lr": lr, "grad_norm": float(norm),
                  "params_after": [p.detach().clone().tolist() for p in params]})


def factors(make):
    o = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sc = make(o)
    out = []
    for _ in range(10):
        out.append(o.param_groups[0]["lr"])
        o.step()
        sc.step()
    return out


json.dump({
    "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
    "adamw": {"lr": 1e-2, "betas": [0.9, 0.95], "eps": 1e-6, "weight_decay": 0.1, "max_norm": 1.0,
              "schedule": "cosine", "warmup": 2, "total": 6},
    "init": init, "steps": steps,
    "schedules": {"warmup": 3, "total": 10,
                  "linear": factors(lambda o: get_linear_schedule_with_warmup(o, 3, 10)),
                  "cosine": factors(lambda o: get_cosine_schedule_with_warmup(o, 3, 10)),
                  "constant": factors(lambda o: get_constant_schedule_with_warmup(o, 3))},
}, sys.stdout)
