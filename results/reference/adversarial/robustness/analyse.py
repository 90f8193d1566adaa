"""Tables from final.jsonl: mean +- sd per mode, paired diffs (mode - standard) with 95% t CI."""
import sys, json, statistics as st
from collections import defaultdict
from suite.reports.adversarial import paired_difference
rows = [json.loads(l) for l in open(sys.argv[1])]
split = sys.argv[2] if len(sys.argv) > 2 else "test"
cols = ["clean", "adv-features", "adv-features_strong", "adv-structure", "adv-structure_strong"]
by = defaultdict(dict)
for r in rows:
    by[(r["dataset"], r["model"], r["training"])][r["seed"]] = r
pairs = list(dict.fromkeys((r["dataset"], r["model"]) for r in rows))
print(f"| dataset | model | training | n | " + " | ".join(c + " acc" for c in cols) + " | train s |")
print("|---" * (len(cols) + 5) + "|")
for d, m in pairs:
    for t in ("standard", "adv-features", "adv-structure"):
        s = by[(d, m, t)]
        if not s: continue
        cells = []
        for c in cols:
            v = [x[f"{c}_{split}"] for x in s.values()]
            cells.append(f"{st.mean(v):.3f} +- {st.stdev(v) if len(v) > 1 else 0:.3f}")
        print(f"| {d} | {m} | {t} | {len(s)} | " + " | ".join(cells) + f" | {st.mean(x['train_s'] for x in s.values()):.0f} |")
print()
print(f"| dataset | model | mode - standard | " + " | ".join(cols) + " |")
print("|---" * (len(cols) + 3) + "|")
for d, m in pairs:
    base = by[(d, m, "standard")]
    for t in ("adv-features", "adv-structure"):
        s = by[(d, m, t)]
        seeds = sorted(set(s) & set(base))
        if not seeds: continue
        cells = [paired_difference([s[k][f"{c}_{split}"] for k in seeds], [base[k][f"{c}_{split}"] for k in seeds]).text() for c in cols]
        print(f"| {d} | {m} | {t} (n={len(seeds)}) | " + " | ".join(cells) + " |")
