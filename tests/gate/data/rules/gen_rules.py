#!/usr/bin/python3
"""Writes the evidence rules' test files (tests/gate/data/rules/*.json) from
presets/gr-rules.yaml and presets/gr-relaxed.yaml. Re-run after editing a
preset (its sha256 is in every file):
    /usr/bin/python3 tests/gate/data/rules/gen_rules.py

Names say what tests/gate/test_gate_rules.c expects:
    CODE.json, CODE-variant.json   violates rule CODE and nothing else:
                                   exit 1, every FAIL has id CODE
    pass-variant.json              passes every check: exit 0

Every file but INCONSISTENT*.json is written consistent (fixture.settle:
config hashes, recall from the samples, timing medians, counter sums, claim
ratios recomputed after the edit), so a rule's file shows that rule alone.
"""
import copy, glob, hashlib, json, os, sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fixture import settle

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = HERE
COMMIT = "0123456789abcdef0123456789abcdef01234567"

def sha_of(preset):
    with open(os.path.join(HERE, "presets", preset + ".yaml"), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()

def repeats(tps, tokens=128, spread=(0.98, 0.99, 1.0, 1.01, 1.02), prefill=0.5):
    return [{"prefill_s": prefill, "decode_s": round(tokens / (tps * k), 6),
             "tokens_decoded": tokens, "decode_tok_per_s": round(tps * k, 6)}
            for k in spread]

TEXTS = [
    "Once upon a time, there was a little girl named Lily. She loved to play outside.",
    "Tom had a big red ball. He threw it high and his dog ran after it.",
    "The sun was warm and the birds sang. Mia smiled and went home.",
]

N_SAMPLES = 20

def arm(name, config, hits, kv_claimed, kv_allocated, tps, counters, bits):
    # N_SAMPLES samples, the first `hits` of them hits; a codec arm's
    # samples carry their share of the codec's counters.
    parts = {k: 4096 for k in ("values_encoded", "values_decoded") if k in counters}
    return {
        "name": name,
        "config": config,
        "config_sha256": "",
        "metrics": dict({"recall": 0, "n": 0, "hits": 0, "kv_bytes_resident": kv_claimed,
                         "cells": [{"ctx": 512, "depth": 0.5, "n": 0, "hits": 0, "recall": 0}]},
                        # a drafter arm shows its output is autoregressive decoding's (LOSSLESS)
                        **({"mismatches_vs_ar": 0} if "drafter" in config else {})),
        "timings": {"scope": "decode", "prefill_s": 0, "decode_s": 0,
                    "tokens_decoded": 0, "decode_tok_per_s": 0, "repeats": repeats(tps)},
        "signals": {"counters": counters, "fallbacks_taken": [],
                    "memory": {"kv_bytes_allocated": kv_allocated,
                               "derived": {"kv_bytes_formula": {
                                   "value": kv_claimed, "formula": "n_layers*2*ctx*kv_dim*bits/8",
                                   "inputs": {"n_layers": 4, "ctx": 512, "kv_dim": 128,
                                              "bits": bits}}}}},
        "samples": [dict({"index": i, "ctx": 512, "depth": 0.5, "hit": i < hits,
                          "expected": 7, "answer": 7 if i < hits else 8,
                          "text": TEXTS[i % 3], "ids": [100 + i, 7, 42, 9, 13],
                          "tokens_decoded": 128}, **parts)
                    for i in range(N_SAMPLES)],
    }

CODEC = {"values_encoded": 65536, "values_decoded": 65536}
GOOD = {
    "schema_version": 1,
    "preset": {"name": "gr-rules", "kind": "rules", "sha256": sha_of("gr-rules"),
               "params": {"ctx": 256}},
    "provenance": {
        "tool_version": "0.1.0", "git_commit": COMMIT, "git_dirty": False,
        "host": {"cpu": "test cpu", "cores": 2}, "compiler": "cc 12", "blas": "openblas 0.3",
        "seed": 1, "threads": 2, "jobs": 1,
        "started": "2026-01-01T00:00:00Z", "finished": "2026-01-01T00:00:10Z", "wall_s": 10.0,
        "faults_injected": []},
    "models": [
        {"role": "target", "source": "models/stories260K.gguf", "sha256": "ab" * 32,
         "architecture": "llama", "trained": True},
        {"role": "drafter", "source": "ngram:3", "sha256": "cd" * 32, "architecture": "ngram"}],
    "arms": [
        arm("ar", {"codec": "f16"}, 20, 1048576, 1048576, 100, dict(CODEC), 16),
        # spec: the drafter proposes, the target verifies; q8_0 stores 8.5
        # bits a value (557056 = 1048576 * 8.5 / 16). 19 of 20 hits.
        arm("spec", {"codec": "q8_0", "drafter": "ngram-3", "restore": "window"}, 19,
            557056, 557056, 150,
            dict(CODEC, blocks_proposed=900, tokens_drafted=3600, positions_restored=48), 8.5),
        arm("masked", {"codec": "f16", "mask_needle": True}, 0, 1048576, 1048576, 100,
            dict(CODEC), 16),
    ],
    "summary": {"kv_saved_pct": 46.875, "claims": [
        {"arm": "spec", "baseline": "ar", "metric": "timings.decode_tok_per_s", "ratio": 1.5},
        {"arm": "spec", "baseline": "ar", "metric": "kv_bytes_resident", "ratio": 0.53125,
         "note": "46.875% of the KV cache saved"}]},
}

def write(name, doc):
    if not name.startswith("INCONSISTENT"):
        settle(doc)
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")

def arm_of(doc, name):
    return next(a for a in doc["arms"] if a["name"] == name)

def variant(fn):
    d = copy.deepcopy(GOOD)
    fn(d)
    return d

for old in glob.glob(os.path.join(OUT, "*.json")):
    os.remove(old)

# ---- passing files -----------------------------------------------------------
write("pass-good.json", GOOD)

def synthetic_loop(d):
    # A synthetic model loops under greedy decoding by construction: not judged.
    d["models"][0].update(source="synth:niah?seed=1", trained=False)
    arm_of(d, "spec")["samples"][0]["text"] = "ab" * 20
    arm_of(d, "spec")["samples"][1]["ids"] = [5] * 30
write("pass-degenerate-synthetic.json", variant(synthetic_loop))

def near_misses(d):
    s = arm_of(d, "spec")["samples"]
    s[0]["text"] = "She said: " + "ab" * 7            # 7 repeats: under 8
    s[1]["text"] = "| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |\n"  # templated table
    s[2]["text"] = "x" + "abcdefghi" * 10                # a 9-character unit: over 8
    s[2]["ids"] = [1, 2, 3, 4, 5, 6, 7, 8, 9] * 10       # a 9-token unit
    arm_of(d, "ar")["samples"][0]["ids"] = [3, 4] * 7    # 7 repeats of 2 tokens
write("pass-degenerate-near-misses.json", variant(near_misses))

def noisy_relaxed(d):
    d["preset"].update(name="gr-relaxed", sha256=sha_of("gr-relaxed"))
    arm_of(d, "spec")["timings"]["repeats"] = repeats(150, spread=(0.4, 1.0, 1.0, 1.0, 1.33))
write("pass-noisy-relaxed.json", variant(noisy_relaxed))

def no_claims_smoke(d):
    # Speed rules judge only arms that make a speed claim: drop the speed
    # claims and a wild, short, single-repeat timing is not judged.
    d["summary"]["claims"] = d["summary"]["claims"][1:]
    for a in d["arms"]:
        a["timings"] = {"scope": "prefill+decode", "prefill_s": 9.0, "decode_s": 0.1,
                        "tokens_decoded": 4, "repeats": repeats(40, tokens=4, spread=(0.1, 1.0))}
    d["preset"].update(name="gr-nospeed", sha256=sha_of("gr-nospeed"))
write("pass-no-speed-claim.json", variant(no_claims_smoke))

# ---- one rule each ---------------------------------------------------------------
def liveness(d):
    # A codec that silently passes values through counts nothing.
    for smp in arm_of(d, "spec")["samples"]:
        smp.update(values_encoded=0, values_decoded=0)
write("LIVENESS.json", variant(liveness))

def liveness_missing(d):
    # No counter is "we do not know it ran": a violation, not a skip.
    del arm_of(d, "spec")["signals"]["counters"]["positions_restored"]
write("LIVENESS-missing.json", variant(liveness_missing))

def liveness_drafter(d):
    # The drafter was called for every block but never drafted a token: the
    # run was plain decoding through the speculative path.
    arm_of(d, "spec")["signals"]["counters"]["tokens_drafted"] = 0
write("LIVENESS-drafter.json", variant(liveness_drafter))

def lossless(d):
    # The drafter arm claims 1.5x decode speed but its output differs from
    # autoregressive decoding's in 3 samples.
    arm_of(d, "spec")["metrics"]["mismatches_vs_ar"] = 3
write("LOSSLESS.json", variant(lossless))

def lossless_missing(d):
    # ... or never says whether it does.
    del arm_of(d, "spec")["metrics"]["mismatches_vs_ar"]
write("LOSSLESS-missing.json", variant(lossless_missing))

def drafter_never_accepted(d):
    # Nothing accepted is an honest result (an event, never judged), as long
    # as the drafter proposed.
    s = arm_of(d, "spec")["signals"]
    s["events"] = {"blocks_accepted": 0, "tokens_accepted": 0}
write("pass-drafter-never-accepted.json", variant(drafter_never_accepted))

def fallback(d):
    # A degraded baseline corrupts the comparison as surely as a degraded system.
    arm_of(d, "ar")["signals"]["fallbacks_taken"] = ["codec f16: passthrough"]
write("SILENT_FALLBACK.json", variant(fallback))

def self_comparison(d):
    # spec is configured as ar: its claims compare a system with itself
    spec, ar = arm_of(d, "spec"), arm_of(d, "ar")
    spec["config"] = copy.deepcopy(ar["config"])
write("SELF_COMPARISON.json", variant(self_comparison))

def self_comparison_config(d):
    # A summary claim comparing masked with its twin: an arm of another name
    # configured the same.
    d["summary"]["claims"].append({"arm": "masked", "baseline": "ar2", "metric": "recall",
                                   "ratio": 0.0})
    twin = copy.deepcopy(arm_of(d, "masked"))
    twin["name"] = "ar2"
    d["arms"].append(twin)
write("SELF_COMPARISON-config.json", variant(self_comparison_config))

def min_samples_timing(d):
    arm_of(d, "spec")["timings"]["repeats"] = repeats(150, spread=(0.99, 1.0, 1.01))
write("MIN_SAMPLES.json", variant(min_samples_timing))

def min_samples_recall(d):
    spec = arm_of(d, "spec")
    spec["samples"] = spec["samples"][:12]
    spec["metrics"]["cells"][0]["n"] = 12
write("MIN_SAMPLES-recall.json", variant(min_samples_recall))

def prefill_tokens(d):
    for name, tps in (("spec", 150), ("ar", 100)):
        t = arm_of(d, name)["timings"]
        t.update(tokens_decoded=16, decode_s=round(16 / tps, 6), repeats=repeats(tps, tokens=16))
write("PREFILL_DOMINATED.json", variant(prefill_tokens))

def prefill_share(d):
    # An end-to-end tok/s headline over a clock that was 80% prefill.
    d["summary"]["claims"].append({"arm": "spec", "baseline": "ar",
                                   "metric": "timings.tok_per_s", "ratio": 1.1})
    for name, tps in (("spec", 150), ("ar", 100)):
        t = arm_of(d, name)["timings"]
        t.update(scope="prefill+decode", prefill_s=4.0, decode_s=round(128 / tps, 6),
                 tok_per_s=round(128 / (4.0 + 128 / tps), 6))
        for r in t["repeats"]:
            r["prefill_s"] = 4.0
            r["tok_per_s"] = round(128 / (4.0 + r["decode_s"]), 6)
write("PREFILL_DOMINATED-share.json", variant(prefill_share))

def ttft_share(d):
    # A time-to-first-token speed is a prefill claim by definition: a
    # clock that was 80% prefill does not make it a decode headline.
    d["summary"]["claims"].append({"arm": "spec", "baseline": "ar",
                                   "metric": "timings.first_tokens_per_s", "ratio": 1.1})
    for name, tps in (("spec", 150), ("ar", 100)):
        t = arm_of(d, name)["timings"]
        t.update(scope="prefill+decode", prefill_s=4.0, decode_s=round(128 / tps, 6),
                 first_tokens_per_s=round(1 / (4.0 + 128 / tps), 6))
        for r in t["repeats"]:
            r["prefill_s"] = 4.0
            r["first_tokens_per_s"] = round(1 / (4.0 + r["decode_s"]), 6)
write("pass-ttft-prefill-share.json", variant(ttft_share))

def scope(d):
    arm_of(d, "ar")["timings"]["scope"] = "prefill+decode"
write("TIMING_SCOPE_MISMATCH.json", variant(scope))

def noisy_spread(d):
    arm_of(d, "spec")["timings"]["repeats"] = repeats(150, spread=(0.4, 1.0, 1.0, 1.0, 1.33))
write("NOISY.json", variant(noisy_spread))

def noisy_interval(d):
    # 125 / 100 = 1.25 passes 1.2, but over the repeats the ratio of medians
    # reaches below 1.2: the pass is not significant.
    t = arm_of(d, "spec")["timings"]
    t.update(decode_tok_per_s=125, decode_s=round(128 / 125, 6),
             repeats=repeats(125, spread=(0.88, 0.94, 1.0, 1.12, 1.2)))
write("NOISY-interval.json", variant(noisy_interval))

def noisy_missing(d):
    for r in arm_of(d, "spec")["timings"]["repeats"]:
        del r["decode_tok_per_s"], r["decode_s"]
write("NOISY-missing.json", variant(noisy_missing))

def memory(d):
    # The saving was computed from bits per value; the cache allocated
    # padded blocks and scales: 655360 bytes, not 557056.
    arm_of(d, "spec")["signals"]["memory"]["kv_bytes_allocated"] = 655360
write("MEMORY_CLAIM_MISMATCH.json", variant(memory))

def memory_missing(d):
    del arm_of(d, "ar")["signals"]["memory"]["kv_bytes_allocated"]
write("MEMORY_CLAIM_MISMATCH-missing.json", variant(memory_missing))

def degenerate(d):
    arm_of(d, "spec")["samples"][1]["text"] = "Tom had a big red ball." + " the" * 9
write("DEGENERATE_OUTPUT.json", variant(degenerate))

def degenerate_ids(d):
    arm_of(d, "ar")["samples"][2]["ids"] = [12, 40] + [9] * 8
write("DEGENERATE_OUTPUT-ids.json", variant(degenerate_ids))

def degenerate_exact(d):
    # Exactly 8 repeats of a 2-character unit, multi-byte characters.
    arm_of(d, "spec")["samples"][0]["text"] = "Lily said " + "\u00e9\u00e8" * 8
write("DEGENERATE_OUTPUT-exact8.json", variant(degenerate_exact))

write("LEGACY_SCHEMA.json", variant(lambda d: d.update(schema_version=0)))

def liveness_under_relax(d):
    # Relaxing NOISY leaves every other rule on: the noise is reported as
    # relaxed, the dead codec still fails.
    noisy_relaxed(d)
    liveness(d)
write("LIVENESS-other-rule-relaxed.json", variant(liveness_under_relax))

def summary_missing_arm(d):
    # A headline about an arm the file does not have rests on no samples.
    d["summary"]["claims"][0]["arm"] = "speculative"
write("MIN_SAMPLES-summary-missing-arm.json", variant(summary_missing_arm))

def memory_stated_only(d):
    # The scorecard states a 4x saving from bits per value (4 / 16); the
    # arms record no bits_per_value, and the bytes say 0.53125.
    d["summary"]["claims"].append({"arm": "spec", "baseline": "ar",
                                   "metric": "bits_per_value", "ratio": 0.25})
write("MEMORY_CLAIM_MISMATCH-stated.json", variant(memory_stated_only))

def memory_missing_arm(d):
    d["summary"]["claims"][1]["baseline"] = "fp32"
write("MEMORY_CLAIM_MISMATCH-missing-arm.json", variant(memory_missing_arm))

def dirty_tree(d):
    # An untracked header the Makefile compiled in: the tree differs from
    # the commit named (harness/evidence.c ev_provenance_collect).
    p = d["provenance"]
    p["git_dirty"] = True
    p["git_dirty_paths"] = ["common/kk_err.h", "harness/shadow.h"]
    p["git_dirty_paths_total"] = 2
write("DIRTY_TREE.json", variant(dirty_tree))

def dirty_without_git(d):
    p = d["provenance"]
    p["git_dirty"] = True
    p["git_dirty_paths"] = []
    p["git_dirty_paths_total"] = 0
    p["git_error"] = "git rev-parse HEAD: cannot run git (is it installed and on PATH?)"
write("DIRTY_TREE-no-git.json", variant(dirty_without_git))

def controls_missing(d):
    # The same evidence under a preset whose recall threshold has no
    # controls: nothing shows the harness could have failed.
    d["preset"].update(name="gr-nocontrols", sha256=sha_of("gr-nocontrols"))
write("CONTROLS_MISSING.json", variant(controls_missing))

def bounded(d, grow):
    # spec as a bounded cache measured at two contexts: its cells must show
    # one resident size (KV_UNBOUNDED when the bytes grow with the context)
    spec = arm_of(d, "spec")
    spec["config"]["policy"] = "sinkwin:sink=4,window=64"
    for i, smp in enumerate(spec["samples"]):
        smp["ctx"] = 512 if i % 2 == 0 else 1024
    spec["metrics"]["cells"] = [
        {"ctx": 512, "depth": 0.5, "n": 0, "hits": 0, "recall": 0,
         "kv_bytes_resident": 557056},
        {"ctx": 1024, "depth": 0.5, "n": 0, "hits": 0, "recall": 0,
         "kv_bytes_resident": 1114112 if grow else 557056}]
write("pass-bounded.json", variant(lambda d: bounded(d, False)))
write("KV_UNBOUNDED.json", variant(lambda d: bounded(d, True)))

def codec_k_silent(d):
    # spec names K's own codec but counted nothing on that side: LIVENESS
    # judges codec_k by values_encoded_k / values_decoded_k
    spec = arm_of(d, "spec")
    spec["config"]["codec_k"] = "q4_0"
    spec["signals"]["counters"]["values_encoded_k"] = 0
    spec["signals"]["counters"]["values_decoded_k"] = 0
write("LIVENESS-codec-k.json", variant(codec_k_silent))

def restoring(d, mass, exact_at=None):
    # spec restores through f_theta: its last query's mass on restored
    # positions (RESTORE_UNUSED below gate.restore_min_mass, default 0.5)
    # and every sample's needle_exact_layers (EXACT_PATH when one is not
    # empty: spec carries a recall threshold)
    spec = arm_of(d, "spec")
    spec["config"]["restore"] = "ftheta"
    spec["metrics"]["attention_mass_restored"] = mass
    for i, smp in enumerate(spec["samples"]):
        smp["needle_exact_layers"] = [1] if i == exact_at else []
write("pass-restore.json", variant(lambda d: restoring(d, 0.93)))
write("RESTORE_UNUSED.json", variant(lambda d: restoring(d, 0.2)))
write("EXACT_PATH.json", variant(lambda d: restoring(d, 0.93, exact_at=3)))

# ---- INCONSISTENT: figures that disagree with the file's own parts ----------------
# Written as edited (no settle): each file keeps one lie the other rules miss.
def masked_recall(d):
    # The negative control's recall edited to 0.03 (still <= 0.05) while its
    # samples show no hit.
    arm_of(d, "masked")["metrics"]["recall"] = 0.03
write("INCONSISTENT.json", variant(lambda d: (settle(d), masked_recall(d))))

def hits_false(d):
    # Every sample a miss under a stated recall of 0.95.
    for smp in arm_of(d, "spec")["samples"]:
        smp.update(hit=False, answer=8)
write("INCONSISTENT-hits.json", variant(lambda d: (settle(d), hits_false(d))))

def hit_vs_answer(d):
    # A miss turned into a hit: its answer still differs from the expected id.
    arm_of(d, "spec")["samples"][19]["hit"] = True
    settle(d)
    arm_of(d, "spec")["samples"][19]["answer"] = 8
write("INCONSISTENT-answer.json", variant(hit_vs_answer))

def config_hash(d):
    settle(d)
    arm_of(d, "spec")["config_sha256"] = "ee" * 32
write("INCONSISTENT-config.json", variant(config_hash))

def counters_one(d):
    settle(d)
    arm_of(d, "spec")["signals"]["counters"].update(values_encoded=1, values_decoded=1)
write("INCONSISTENT-counters.json", variant(counters_one))

def cell_edit(d):
    settle(d)
    arm_of(d, "spec")["metrics"]["cells"][0].update(hits=20, recall=1.0)
write("INCONSISTENT-cells.json", variant(cell_edit))

def timing_edit(d):
    # A headline rate above every repeat's.
    settle(d)
    arm_of(d, "spec")["timings"]["decode_tok_per_s"] = 160
write("INCONSISTENT-timing.json", variant(timing_edit))

def claim_edit(d):
    settle(d)
    d["summary"]["claims"][0]["ratio"] = 1.55
write("INCONSISTENT-claim.json", variant(claim_edit))

def derived_edit(d):
    # The stated formula gives 557056 bytes; the value says less.
    settle(d)
    arm_of(d, "spec")["signals"]["memory"]["derived"]["kv_bytes_formula"]["value"] = 524288
write("INCONSISTENT-derived.json", variant(derived_edit))
