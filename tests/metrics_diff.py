#!/usr/bin/python3
"""metrics_diff: are two runs' results the same? Compares, preset by preset,
every arm's `metrics` object of evidence written by two builds (or two
--jobs settings), byte for byte as the files hold them (the raw text of
the object, so a number printed with one more digit is a difference).

    tests/metrics_diff.py BEFORE_DIR AFTER_DIR

Each DIR is an `--out` folder: DIR/<preset>/<stamp>.json, one file per
preset (the newest is taken when there are several). Prints one line per
preset and arm that differs (with both texts) and a summary; exit 0 when
every arm of every preset in BEFORE has byte-identical metrics in AFTER,
1 otherwise, 2 on unreadable input.
"""
import json
import os
import sys


def raw_metrics(text):
    """arm name -> the exact text of its metrics object, found by walking
    the JSON with a decoder that records spans."""
    doc = json.loads(text)
    out = {}
    # Locate each arm's "metrics" text: re-serializing would hide printing
    # differences, so slice the original bytes instead.
    dec = json.JSONDecoder()
    pos = text.index('"arms"')
    for arm in doc.get("arms", []):
        pos = text.index('"metrics"', pos)
        start = text.index("{", pos)
        _, end = dec.raw_decode(text, start)
        out[arm["name"]] = text[start:end]
        pos = end
    return out


def newest(d):
    files = sorted(f for f in os.listdir(d) if f.endswith(".json"))
    return os.path.join(d, files[-1]) if files else None


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 3
    before, after = argv[1], argv[2]
    bad = arms = 0
    try:
        presets = sorted(p for p in os.listdir(before) if os.path.isdir(os.path.join(before, p)))
        for p in presets:
            fb, fa = newest(os.path.join(before, p)), newest(os.path.join(after, p))
            if not fb or not fa:
                print(f"{p}: missing in {'after' if fb else 'before'}")
                bad += 1
                continue
            mb = raw_metrics(open(fb).read())
            ma = raw_metrics(open(fa).read())
            for name, text in mb.items():
                arms += 1
                if ma.get(name) != text:
                    bad += 1
                    print(f"{p} arm {name}: metrics differ\n  before {text}\n  after  {ma.get(name)}")
            for name in ma:
                if name not in mb:
                    bad += 1
                    print(f"{p} arm {name}: only in after")
            print(f"{p}: {len(mb)} arms compared ({os.path.basename(fb)} vs {os.path.basename(fa)})")
    except (OSError, ValueError) as e:
        print(f"metrics_diff: {e}", file=sys.stderr)
        return 2
    print(f"metrics_diff: {arms} arms, {bad} differences")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
