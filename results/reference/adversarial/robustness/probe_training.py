"""Train modes and measure val clean + robust acc under a fixed strong eval attack."""
import sys, time, json, torch
from suite.datasets import load_dataset
from suite.models import build_model
from suite.training import build_training
from suite.training.attacks import robust_accuracy
from suite.seeding import seed_everything
torch.set_num_threads(1)
dsname, model_name, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
configs = json.loads(sys.argv[4])   # list of [mode, cfg]
evals = json.loads(sys.argv[5]) if len(sys.argv) > 5 else {"s": ["pgd-structure", {"steps": 20, "samples": 20}]}
hp = {"gcn": dict(hidden=20, num_layers=4, jk="last"), "gin": dict(hidden=32, num_layers=3)}[model_name]
kw = {"num_graphs": 400} if dsname == "ba-2motifs" else ({"max_molecules": 120} if dsname == "benzene" else {})
ds = load_dataset(dsname, seed=seed, cache_dir="datasets/cache", **kw)
node = dsname in ("ba-shapes", "tree-cycles")
base = dict(lr=0.01, epochs=300, patience=0) if node else dict(lr=0.001, epochs=300, patience=100)
if dsname == "ba-2motifs": base = dict(lr=0.005, epochs=60, patience=0)
ev_base = {"pgd-structure": dict(budget_share=0.05, **({} if node else {"removal_only": True})),
           "pgd-features": dict(epsilon=0.1 if node else 0.05, norm="linf")}
split = sys.argv[6] if len(sys.argv) > 6 else "val"
for mode, cfg in configs:
    seed_everything(seed)
    m = build_model(model_name, ds, **hp)
    extra = dict(by_task={}) if False else {}
    full = {**base, **(ev_base["pgd-structure"] if mode == "adv-structure" else {}), **({"epsilon": ev_base["pgd-features"]["epsilon"]} if mode=="adv-features" else {}), **cfg}
    t = time.perf_counter(); r = build_training(mode, **full).train(m, ds, seed); dt = time.perf_counter() - t
    res = {"clean": round(r.accuracy[split], 3)}
    for en, (an, ac) in evals.items():
        res[en] = round(robust_accuracy(m, ds, split, an, {**ev_base[an], **ac}, seed), 3)
    print(dsname, model_name, seed, mode, json.dumps(cfg), res, f"best_ep={r.best_epoch} {dt:.0f}s", flush=True)
