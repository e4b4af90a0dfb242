#!/usr/bin/python3
"""Writes the gate's test evidence (tests/gate/data/evidence/*.json) from
presets/gt-good.yaml. Re-run after editing that preset (its sha256 is in
every file): /usr/bin/python3 tests/gate/data/gen_evidence.py"""
import copy, hashlib, json, os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture import settle

HERE = os.path.dirname(os.path.abspath(__file__))
PRESET = os.path.join(HERE, "presets", "gt-good.yaml")
OUT = os.path.join(HERE, "evidence")
SHA = hashlib.sha256(open(PRESET, "rb").read()).hexdigest()
# A commit that exists in no repository; the CLI test replaces it with the
# HEAD of the temporary repository it creates when it needs a known one.
COMMIT = "0123456789abcdef0123456789abcdef01234567"

def repeats(tps):
    # Five timed repeats (gate.min_samples.timing) within +-4% of the arm's
    # rate: the evidence rules (LIVENESS ... NOISY) all hold on good.json.
    return [{"prefill_s": 0.5, "decode_s": round(128 / r, 6), "tokens_decoded": 128,
             "decode_tok_per_s": r} for r in (tps * 0.98, tps * 0.99, tps, tps * 1.01, tps * 1.02)]

def samples(hits, n=20):
    # n samples, the first `hits` of them hits (recall = hits / n); every
    # figure INCONSISTENT recomputes is then set from them (settle).
    return [{"index": i, "ctx": 256, "depth": 0.5, "hit": i < hits, "margin": 1.25}
            for i in range(n)]

def arm(name, config, hits, kv, tps, counters):
    return {
        "name": name,
        "config": config,
        "config_sha256": "",
        "metrics": {"recall": 0, "recall_ci_lo": 0, "recall_ci_hi": 0,
                    "n": 0, "kv_bytes_resident": kv},
        "timings": {"scope": "decode", "prefill_s": 0, "decode_s": 0,
                    "tokens_decoded": 0, "decode_tok_per_s": 0,
                    "repeats": repeats(tps)},
        "signals": {"counters": counters, "fallbacks_taken": [],
                    "memory": {"peak_rss": 1000000, "kv_bytes_allocated": kv}},
        "samples": samples(hits),
    }

GOOD = {
    "schema_version": 1,
    "preset": {"name": "gt-good", "kind": "niah", "sha256": SHA, "params": {"ctx": 256}},
    "provenance": {
        "tool_version": "0.1.0", "git_commit": COMMIT, "git_dirty": False,
        "host": {"cpu": "test cpu", "cores": 2}, "compiler": "cc 12", "blas": "openblas 0.3",
        "seed": 1, "threads": 2, "jobs": 1,
        "started": "2026-01-01T00:00:00Z", "finished": "2026-01-01T00:00:10Z", "wall_s": 10.0,
        "faults_injected": []},
    "models": [{"role": "target", "source": "synth:niah?seed=1", "sha256": "ab" * 32,
                "architecture": "llama"}],
    "arms": [
        # recall 0.95 and delta 0.95 - 1 = -0.05 sit exactly on their
        # thresholds: doubles would fail the delta (-0.050000000000000044).
        # Codec arms count what their codec did (LIVENESS); the masked arm
        # runs no codec and lists no counter.
        arm("identity", {"codec": "identity"}, 20, 1048576, 100,
            {"values_encoded": 4096, "values_decoded": 4096}),
        arm("q8_0", {"codec": "q8_0"}, 19, 557056, 60,
            {"values_encoded": 4096, "values_decoded": 4096}),
        arm("needle-masked", {"mask_needle": True}, 0, 1048576, 100, {}),
    ],
    "summary": {"kv_saved_pct": 46.875},
}
settle(GOOD)

def write(name, doc):
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")

def arm_of(doc, name):
    return next(a for a in doc["arms"] if a["name"] == name)

os.makedirs(OUT, exist_ok=True)
write("good.json", GOOD)
d = copy.deepcopy(GOOD); arm_of(d, "q8_0")["samples"] = samples(18)
write("fail_threshold.json", settle(d))
d = copy.deepcopy(GOOD); arm_of(d, "q8_0")["metrics"]["recall"] = 1.5
write("schema_violation.json", d)
d = copy.deepcopy(GOOD); d["preset"]["sha256"] = "cd" * 32
write("stale.json", d)
d = copy.deepcopy(GOOD); d["provenance"]["git_commit"] = "dead" * 10
write("unknown_commit.json", d)
d = copy.deepcopy(GOOD); d["arms"] = [a for a in d["arms"] if a["name"] != "needle-masked"]
write("missing_control.json", d)
d = copy.deepcopy(GOOD); arm_of(d, "needle-masked")["samples"] = samples(10)
write("negative_passes.json", settle(d))
d = copy.deepcopy(GOOD); del arm_of(d, "q8_0")["metrics"]["kv_bytes_resident"]
write("missing_metric.json", d)
# Made with KAKEYA_FAULT set (common/kk_fault.h): otherwise good, rejected
# by the FAULT_INJECTED provenance check alone.
d = copy.deepcopy(GOOD); d["provenance"]["faults_injected"] = ["codec-passthrough"]
write("fault_injected.json", d)
# Legacy: version 0 and otherwise not even schema-valid: judged by
# LEGACY_SCHEMA alone.
write("legacy.json", {"schema_version": 0, "preset": "gt-good", "arms": {}})
# Malformed: a trailing comma on line 4 (column 16).
with open(os.path.join(OUT, "malformed.json"), "w") as f:
    f.write('{\n "schema_version": 1,\n "preset": {\n  "name": "x",\n }\n}\n')
