#!/bin/sh
# device_prepare: what a lent GPU machine needs beside the working tree,
# in ignored folders to name in the run's carry list: .devmeta/git.tar (the
# .git of a depth-1 clone of HEAD: the device tool does not carry .git, and
# evidence must name its commit) and .debs/ (the Debian packages bin/kakeya
# builds and links against, fetched with apt-get download when missing).
# Run here, after committing; then run(command="bash bench/cuda/device_run.sh",
# carry=[".debs", ".devmeta"]).
set -eu
cd "$(dirname "$0")/../.."
grep -qx '/.devmeta/' .git/info/exclude || echo /.devmeta/ >> .git/info/exclude
grep -qx '/.debs/' .git/info/exclude || echo /.debs/ >> .git/info/exclude
rm -rf .devmeta && mkdir -p .devmeta
tmp=$(mktemp -d)
git clone -q --depth 1 "file://$PWD" "$tmp/c"
tar cf .devmeta/git.tar -C "$tmp/c" .git
rm -rf "$tmp"
echo "device_prepare: .devmeta/git.tar ($(du -h .devmeta/git.tar | cut -f1)) for $(git rev-parse --short HEAD)"
if [ ! -d .debs ] || [ -z "$(ls .debs 2>/dev/null)" ]; then
    mkdir -p .debs
    (cd .debs && apt-get download libopenblas-dev libopenblas0-pthread libopenblas-pthread-dev \
        libgfortran5 libquadmath0 libcjson-dev libcjson1 libgsl-dev libgsl27 libgslcblas0 \
        libyaml-dev libyaml-0-2 libcmocka-dev libcmocka0 make git libpcre2-8-0)
fi
echo "device_prepare: .debs ($(ls .debs | wc -l) packages, $(du -sh .debs | cut -f1))"
