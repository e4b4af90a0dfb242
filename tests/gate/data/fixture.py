"""What the gate's test-data generators (gen_evidence.py, rules/gen_rules.py)
share: the canonical JSON form and the figures the INCONSISTENT rule
recomputes, with the operations the harness and the gate use.
    canonical(value) -> str       docs/evidence.md "Canonical JSON", as
                                  common/json_canon.c writes it: numbers as
                                  the nearest double in its shortest
                                  round-trip %g form (integers below 1e17 in
                                  full, -0 as 0), names by code point
    config_sha256(value)          sha256 of canonical(value)
    wilson95(hits, n)             kk_wilson95 (common/kk_stats.c)
    median(values)                kk_median
    settle(doc)                   makes every figure INCONSISTENT recomputes
                                  agree with its parts (gate/rule_consistency.c)"""
import hashlib, math

def _num(x):
    d = float(x)
    if not math.isfinite(d):
        raise ValueError("no canonical form for %r" % (x,))
    if d == 0:
        return "0"
    if d == math.trunc(d) and abs(d) < 1e17:
        return "%d" % int(d)
    for p in range(1, 18):
        t = "%.*g" % (p, d)
        if float(t) == d:
            return t
    return "%.17g" % d

def _str(s):
    out = ['"']
    for ch in s:
        c = ord(ch)
        if ch == '"': out.append('\\"')
        elif ch == '\\': out.append('\\\\')
        elif ch == '\b': out.append('\\b')
        elif ch == '\f': out.append('\\f')
        elif ch == '\n': out.append('\\n')
        elif ch == '\r': out.append('\\r')
        elif ch == '\t': out.append('\\t')
        elif c < 0x20: out.append('\\u%04x' % c)
        else: out.append(ch)
    out.append('"')
    return "".join(out)

def canonical(v):
    if v is None: return "null"
    if v is True: return "true"
    if v is False: return "false"
    if isinstance(v, (int, float)): return _num(v)
    if isinstance(v, str): return _str(v)
    if isinstance(v, list): return "[" + ",".join(canonical(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(_str(k) + ":" + canonical(v[k])
                              for k in sorted(v, key=lambda k: k.encode("utf-8"))) + "}"
    raise TypeError(type(v))

def config_sha256(v):
    return hashlib.sha256(canonical(v).encode("utf-8")).hexdigest()

def wilson95(hits, n):
    z = 1.959963984540054
    p = hits / n
    z2n = z * z / n
    centre = (p + z2n / 2.0) / (1.0 + z2n)
    half = z * math.sqrt(p * (1.0 - p) / n + z2n / (4.0 * n)) / (1.0 + z2n)
    lo = 0.0 if centre - half < 0.0 else centre - half
    hi = 1.0 if centre + half > 1.0 else centre + half
    if hits <= 0:
        lo = 0.0
    if hits >= n:
        hi = 1.0
    return lo, hi

def median(v):
    v = sorted(v)
    n = len(v)
    m = 0.0 if n == 0 else (v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2]))
    # integers stay integers in the file (128, not 128.0)
    return int(m) if all(isinstance(x, int) for x in v) and float(m).is_integer() else m

def _number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)

def _recall(obj, samples):
    n = len(samples)
    hits = sum(1 for s in samples if s["hit"])
    lo, hi = wilson95(hits, n)
    for k, v in (("n", n), ("hits", hits), ("recall", hits / n if n else 0.0),
                 ("recall_ci_lo", lo), ("recall_ci_hi", hi)):
        if k in obj:
            obj[k] = v

def settle(doc):
    """Recomputes in place what gate/rule_consistency.c checks: config_sha256,
    n/hits/recall/interval (only the keys present) from samples' hit, each
    timings figure as the median of its repeats (or samples), counters with
    per-sample parts, and summary claims on non-memory metrics."""
    for a in doc["arms"]:
        a["config_sha256"] = config_sha256(a["config"])
        smp = a.get("samples", [])
        if smp and all(isinstance(s.get("hit"), bool) for s in smp):
            _recall(a["metrics"], smp)
            for cell in a["metrics"].get("cells", []):
                _recall(cell, [s for s in smp
                               if s["ctx"] == cell["ctx"] and s["depth"] == cell["depth"]])
        t = a.get("timings", {})
        over = t.get("repeats") or smp
        for k, v in list(t.items()):
            if _number(v) and over and all(_number(r.get(k)) for r in over):
                t[k] = median([r[k] for r in over])
        ct = a.get("signals", {}).get("counters", {})
        for k in ct:
            if smp and all(_number(s.get(k)) for s in smp):
                ct[k] = sum(s[k] for s in smp)
    arms = {a["name"]: a for a in doc["arms"]}
    for c in doc.get("summary", {}).get("claims", []):
        m = c["metric"]
        if m.split(".")[-1] == "bits_per_value" or "bytes" in m.split(".")[-1]:
            continue
        a, b = arms.get(c["arm"]), arms.get(c["baseline"])
        if not a or not b:
            continue
        get = (lambda x: x["timings"].get(m[8:])) if m.startswith("timings.") \
            else (lambda x: x["metrics"].get(m))
        va, vb = get(a), get(b)
        if _number(va) and _number(vb) and vb:
            c["ratio"] = va / vb
    return doc
