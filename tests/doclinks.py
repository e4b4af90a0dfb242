#!/usr/bin/python3
"""doclinks: every relative link of README.md and docs/*.md resolves.

    tests/doclinks.py [ROOT]        check ROOT (default: the repository)
    tests/doclinks.py --self-test   prove the check rejects broken links

A Markdown link or image `[text](target)` whose target is not a URL
(scheme:...) must name a file or folder of the repository, relative to
the page; a `#fragment` must name a heading of the target page (GitHub's
anchor rule: lower case, punctuation other than `-` and `_` dropped,
spaces to `-`, a `-N` suffix for repeats). Links inside code spans and
fenced code blocks are not links. Prints FILE:LINE for each broken link;
exit 0 clean, 1 broken links.
"""
import os
import re
import sys
import tempfile

LINK_RE = re.compile(r'!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^()\s]+)(?:\s+"[^"]*")?\)')
HEADING_RE = re.compile(r'^(#{1,6})\s+(.*?)\s*#*\s*$')


def anchor(text, seen):
    """GitHub's heading anchor."""
    t = re.sub(r'`([^`]*)`', r'\1', text)
    t = re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', t)
    t = t.strip().lower()
    t = re.sub(r'[^\w\- ]', '', t)
    t = t.replace(' ', '-')
    n = seen.get(t, 0)
    seen[t] = n + 1
    return t if n == 0 else f"{t}-{n}"


def strip_code(lines, spans=True):
    """Lines with fenced blocks blanked and (spans) code spans removed."""
    out, fence = [], None
    for line in lines:
        m = re.match(r'^\s*(```+|~~~+)', line)
        if m:
            mark = m.group(1)[0] * 3
            if fence is None:
                fence = mark
            elif mark == fence:
                fence = None
            out.append("")
            continue
        out.append("" if fence else (re.sub(r'`+[^`]*`+', '', line) if spans else line))
    return out


_anchor_cache = {}


def anchors_of(path):
    if path not in _anchor_cache:
        seen, names = {}, set()
        with open(path, encoding="utf-8") as f:
            for line in strip_code(f.read().split("\n"), spans=False):
                m = HEADING_RE.match(line)
                if m:
                    names.add(anchor(m.group(2), seen))
        _anchor_cache[path] = names
    return _anchor_cache[path]


def pages(root):
    out = [os.path.join(root, "README.md")]
    d = os.path.join(root, "docs")
    if os.path.isdir(d):
        out += [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith(".md")]
    return [p for p in out if os.path.isfile(p)]


def check(root):
    root = os.path.realpath(root)
    bad, n = [], 0
    for page in pages(root):
        with open(page, encoding="utf-8") as f:
            lines = strip_code(f.read().split("\n"))
        for ln, line in enumerate(lines, 1):
            for m in LINK_RE.finditer(line):
                target = m.group(1)
                if re.match(r'^[a-zA-Z][a-zA-Z0-9+.-]*:', target):
                    continue  # a URL (http:, mailto:)
                n += 1
                path, _, frag = target.partition("#")
                rel = os.path.relpath(page, root)
                dest = page if not path else os.path.normpath(
                    os.path.join(os.path.dirname(page), path))
                if not os.path.exists(dest):
                    bad.append(f"{rel}:{ln}: {target}: no such file")
                    continue
                if not os.path.realpath(dest).startswith(root + os.sep) and \
                        os.path.realpath(dest) != root:
                    bad.append(f"{rel}:{ln}: {target}: outside the repository")
                    continue
                if frag and dest.endswith(".md") and frag not in anchors_of(dest):
                    bad.append(f"{rel}:{ln}: {target}: no heading #{frag} in "
                               f"{os.path.relpath(dest, root)}")
    for b in bad:
        print(b)
    print(f"doclinks: {len(pages(root))} pages, {n} relative links, {len(bad)} broken")
    return 1 if bad else 0


def self_test():
    import contextlib
    import io
    page = ("# Top\n## A `code` heading\n## Top\n"
            "[ok](other.md) [ok](#top-1) [ok](#a-code-heading) [ok](other.md#there)\n"
            "`[not a link](nowhere.md)`\n```\n[nor this](nowhere.md)\n```\n"
            "[web](https://example.org/x.md)\n")
    broken = ["[x](missing.md)", "[x](#nowhere)", "[x](other.md#nowhere)", "![x](img/no.svg)"]
    ok = True
    for extra in [""] + broken:
        with tempfile.TemporaryDirectory() as root:
            os.makedirs(os.path.join(root, "docs"))
            with open(os.path.join(root, "README.md"), "w") as f:
                f.write(page + extra + "\n")
            with open(os.path.join(root, "other.md"), "w") as f:
                f.write("# There\n")
            _anchor_cache.clear()
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                rc = check(root)
            want = 1 if extra else 0
            if rc != want:
                print(f"doclinks self-test: {extra or 'the clean page'}: rc {rc}, want {want}\n"
                      f"{buf.getvalue()}")
                ok = False
    _anchor_cache.clear()
    print("doclinks self-test: " + (f"{len(broken)} broken links caught, the clean page passes"
                                    if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--self-test":
        sys.exit(self_test())
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    sys.exit(check(root))
