"""5-seed robustness at the adversarial preset's settings: clean + robust acc (val, test)."""
import sys, time, json, torch
from suite.datasets import load_dataset
from suite.models import build_model
from suite.training import build_training
from suite.training.attacks import robust_accuracy
from suite.seeding import seed_everything
from suite.matrix import load_matrix, resolved_parameters, plugins
torch.set_num_threads(1)
cfg = load_matrix("adversarial"); res = resolved_parameters(cfg); reg = plugins()
pairs = [p.split("/") for p in sys.argv[1].split(",")]
seeds = [int(s) for s in sys.argv[2].split(",")]
out = open(sys.argv[3], "a")
for dsname, model_name in pairs:
    level = reg.datasets.entry(dsname).metadata["info"].task.value
    for seed in seeds:
        ds = load_dataset(dsname, seed=seed, cache_dir="datasets/cache", **cfg.datasets[dsname])
        specs = {}
        for mode in ("adv-features", "adv-structure"):
            specs[mode] = build_training(mode, **res.training(mode, dsname, level)).attack_spec()
        strong = {"adv-features": {"steps": 20}, "adv-structure": {"steps": 20, "samples": 20}}
        for mode in ("standard", "adv-features", "adv-structure"):
            seed_everything(seed)
            m = build_model(model_name, ds, **res.model(model_name, dsname, level))
            t = time.perf_counter()
            r = build_training(mode, **res.training(mode, dsname, level)).train(m, ds, seed)
            row = dict(dataset=dsname, model=model_name, seed=seed, training=mode,
                       train_s=time.perf_counter() - t, best_epoch=r.best_epoch)
            for split in ("val", "test"):
                row[f"clean_{split}"] = r.accuracy[split]
                for am, (an, ac) in specs.items():
                    row[f"{am}_{split}"] = robust_accuracy(m, ds, split, an, ac, seed)
                    row[f"{am}_strong_{split}"] = robust_accuracy(m, ds, split, an, {**ac, **strong[am]}, seed)
            out.write(json.dumps(row) + "\n"); out.flush()
            print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()}, flush=True)
