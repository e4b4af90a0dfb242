#!/usr/bin/python3
"""Oracle for tests/gate/test_js_differential.c: Debian's python3-jsonschema
(4.10.3 in bookworm) with Draft202012Validator.

stdin: one JSON array [schema, instance] per line.
stdout: one line per input line: "1" valid, "0" invalid, "E <exception>"
when the library raised (the C test reports those).
Exit 2 when jsonschema cannot be imported (the test then skips)."""
import json
import sys

try:
    from jsonschema import Draft202012Validator
    import jsonschema._validators as _kw
except ImportError:
    sys.stderr.write("js_oracle: python3-jsonschema is not installed\n")
    sys.exit(2)


def _extras_msg(extras):
    return ", ".join(repr(x) for x in extras), "was" if len(extras) == 1 else "were"


# 4.10.3's unevaluatedItems formats its error message by sorting the
# unevaluated items (_utils.extras_msg): on mixed types that raises
# TypeError, even inside a oneOf branch whose failure is expected. The
# message is irrelevant here; the same text without sorting keeps the
# library's verdicts intact.
_kw.extras_msg = _extras_msg

out = []
for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    try:
        schema, instance = json.loads(line)
        ok = Draft202012Validator(schema).is_valid(instance)
        out.append("1" if ok else "0")
    except Exception as e:  # the oracle's own failure is a result too
        out.append("E " + type(e).__name__)
sys.stdout.write("\n".join(out) + "\n")
