"""SAE training throughput against a plain-PyTorch SAE loop, and the per-sample cost of inference routes.

Part 1 (training, samples/s, one torch thread): ``csbench.sae.training.fit``
for 1 instance and for ``--instances`` instances in one batched model, against
a plain PyTorch loop written the usual way (``nn.Linear`` encoder and decoder,
Adam, decoder-gradient projection and column renormalisation, the same
recipe), on the same batches of the same activation data. Both include
drawing the data from :class:`csbench.sae.data.ActivationData`; the plain loop is
also timed on batches drawn beforehand (pure training cost). Runs are
interleaved ``--repeats`` times; the table gives the median CPU time.

Part 2 (inference, microseconds per sample on a shared dictionary D of d
atoms): the SAE encoder (:func:`csbench.sae.sae_encode`, numpy), the lasso
(``csbench.decode("lasso", D, Y, lam=...)``, nonnegative) and OMP with k
atoms (``csbench.decode("omp", D, Y, k=k)``), after a warm-up (numba compiled).

    python benchmarks/bench_sae.py [--m 256 --n 512 --d 1024 --batch 1024 --steps 30]
"""
import argparse
import os
import time

import numpy as np


def plain_loop(torch, data, m, d, l1, lr, steps, batch, seed, pre=None):
    """The reference: a plain single-instance PyTorch L1 SAE training loop."""
    class SAE(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = torch.nn.Linear(m, d)
            self.dec = torch.nn.Linear(d, m)

        def forward(self, x):
            f = torch.relu(self.enc(x - self.dec.bias))
            return f, self.dec(f)

    rng = np.random.default_rng(seed)
    W = rng.standard_normal((m, d))
    W /= np.linalg.norm(W, axis=0)
    model = SAE()
    with torch.no_grad():
        model.dec.weight.copy_(torch.from_numpy(W))
        model.enc.weight.copy_(torch.from_numpy(W.T))
        model.enc.bias.zero_()
        model.dec.bias.zero_()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    stream = data.cycle(batch, dtype=np.float32) if pre is None else iter(pre)
    for _ in range(steps):
        x = torch.from_numpy(next(stream)[0])
        f, xh = model(x)
        loss = ((xh - x) ** 2).sum(-1).mean() + l1 * f.sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        with torch.no_grad():
            Wd, g = model.dec.weight, model.dec.weight.grad
            g -= (g * Wd).sum(0, keepdim=True) * Wd
            opt.step()
            Wd /= Wd.norm(dim=0, keepdim=True)
    return float(loss.detach())


def cpu(fn):
    c0 = time.process_time()
    fn()
    return time.process_time() - c0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--m", type=int, default=256)
    ap.add_argument("--n", type=int, default=512, help="true features")
    ap.add_argument("--d", type=int, default=1024, help="SAE latents")
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--instances", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--k", type=int, default=5, help="active features of the inference problems")
    ap.add_argument("--samples", type=int, default=400, help="inference samples")
    a = ap.parse_args()
    import torch

    import csbench
    from csbench.sae import ActivationData, ActivationSpec, SAESpec, sae_encode
    from csbench.sae.training import fit

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    W = rng.standard_normal((a.m, a.n))
    W /= np.linalg.norm(W, axis=0)
    data = ActivationData(W, ActivationSpec(a.n, p=5 / a.n, frequency="geometric", decay=0.99, amplitude="uniform"), 0)
    spec = SAESpec(m=a.m, d=a.d, l1=1e-3, lr=1e-3, steps=a.steps, batch=a.batch)
    pre = [data.sample(i * a.batch, (i + 1) * a.batch, dtype=np.float32) for i in range(a.steps)]
    fit([spec.replace(steps=2)], [data], [0], progress=False)  # warm-up
    plain_loop(torch, data, a.m, a.d, 1e-3, 1e-3, 2, a.batch, 0)
    runs = {
        "csbench fit, 1 instance": (1, lambda: fit([spec], [data], [0], progress=False)),
        f"csbench fit, {a.instances} instances batched": (
            a.instances, lambda: fit([spec] * a.instances, [data] * a.instances, list(range(a.instances)),
                                     progress=False)),
        "plain PyTorch loop (data drawn per step)": (
            1, lambda: plain_loop(torch, data, a.m, a.d, 1e-3, 1e-3, a.steps, a.batch, 0)),
        "plain PyTorch loop (batches drawn beforehand)": (
            1, lambda: plain_loop(torch, data, a.m, a.d, 1e-3, 1e-3, a.steps, a.batch, 0, pre=pre)),
        "data generation alone": (1, lambda: [next(it) for it in [data.cycle(a.batch)] for _ in range(a.steps)]),
    }
    times = {name: [] for name in runs}
    for _ in range(a.repeats):  # interleaved
        for name, (_, fn) in runs.items():
            times[name].append(cpu(fn))
    print(f"torch {torch.__version__}, 1 thread, load average {os.getloadavg()[0]:.1f} (2-core machine, shared)")
    print(f"training: m={a.m}, true n={a.n}, d={a.d} latents, batch {a.batch}, {a.steps} steps, "
          f"median CPU time of {a.repeats} interleaved repeats")
    ref = a.steps * a.batch / np.median(times["plain PyTorch loop (data drawn per step)"])
    print(f"{'route':<48}{'cpu s':>8}{'samples/s (all instances)':>27}{'vs plain':>10}")
    for name, (count, _) in runs.items():
        t = float(np.median(times[name]))
        rate = a.steps * a.batch * count / t
        print(f"{name:<48}{t:>8.2f}{rate:>27.0f}{rate / ref:>10.2f}")

    # ---- inference routes on a shared dictionary
    H, _ = ActivationData(W, ActivationSpec(a.n, support="ksparse", k=a.k, amplitude="half_normal"), 1).sample(
        0, a.samples)
    sae = fit([SAESpec(m=a.m, d=a.n, l1=1e-3, lr=1e-3, steps=2, batch=64)], [data], [0], progress=False)[0]
    params = {**sae.params, "W_dec": W}  # the encoder's cost does not depend on its training
    routes = {
        "SAE encoder (numpy)": lambda: sae_encode(params, H),
        "lasso+ (lam_ratio 0.05)": lambda: csbench.decode("lasso", W, H, lam_ratio=0.05, positive=True),
        f"OMP (k={a.k})": lambda: csbench.decode("omp", W, H, k=a.k),
    }
    for fn in routes.values():
        fn()  # warm-up / compile
    tim = {name: [] for name in routes}
    for _ in range(a.repeats):
        for name, fn in routes.items():
            t0 = time.perf_counter()
            fn()
            tim[name].append(time.perf_counter() - t0)
    print(f"\ninference: dictionary {a.m} x {a.n}, {a.samples} samples with {a.k} active features, "
          f"median wall time of {a.repeats} interleaved repeats (numba/BLAS 1 thread)")
    base = np.median(tim["SAE encoder (numpy)"]) / a.samples
    for name in routes:
        per = np.median(tim[name]) / a.samples
        print(f"{name:<30}{per * 1e6:>12.1f} us/sample{per / base:>10.1f} x encoder")


if __name__ == "__main__":
    main()
