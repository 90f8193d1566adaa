"""Attack strength against a standard model: robust acc on val/train under attack variants."""
import sys, time, torch
from suite.datasets import load_dataset
from suite.models import build_model
from suite.training import build_training
from suite.training.attacks import robust_accuracy
from suite.seeding import seed_everything
torch.set_num_threads(1)
dsname, model_name = sys.argv[1], sys.argv[2]
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 0
hp = {"gcn": dict(hidden=20, num_layers=4, jk="last"), "gin": dict(hidden=32, num_layers=3)}[model_name]
kw = {"num_graphs": 400} if dsname == "ba-2motifs" else ({"max_molecules": 120} if dsname == "benzene" else {})
ds = load_dataset(dsname, seed=seed, cache_dir="datasets/cache", **kw)
node = dsname in ("ba-shapes", "tree-cycles")
base = dict(lr=0.01, epochs=300, patience=0) if node else dict(lr=0.001, epochs=300, patience=100)
if dsname == "ba-2motifs": base = dict(lr=0.005, epochs=60, patience=0)
seed_everything(seed)
m = build_model(model_name, ds, **hp)
t = time.perf_counter(); r = build_training("standard", **base).train(m, ds, seed)
print("standard", {k: round(v, 3) for k, v in r.accuracy.items()}, f"{time.perf_counter()-t:.1f}s", flush=True)
rem = {} if node else {"removal_only": True}
variants = {
  "s5x5": dict(steps=5, samples=5), "s20x20": dict(steps=20, samples=20),
  "s20topk": dict(steps=20, discretise="topk"), "s50x20": dict(steps=50, samples=20),
  "s20x20_eta2": dict(steps=20, samples=20, step_size=2.0),
}
for name, cfg in variants.items():
    t = time.perf_counter()
    out = {sp: round(robust_accuracy(m, ds, sp, "pgd-structure", dict(budget_share=0.05, **rem, **cfg), seed), 3) for sp in ("val", "train")}
    print(name, out, f"{time.perf_counter()-t:.1f}s", flush=True)
