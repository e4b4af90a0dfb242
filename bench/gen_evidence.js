#!/usr/bin/env node
// Writes a deterministic evidence file of ARMS arms x SAMPLES samples
// (default 10 x 8000, about 7.5 MB) to stdout, valid against
// gate/schemas/evidence.schema.json. Used by bench/bench_gate.sh.
// Usage: node bench/gen_evidence.js [ARMS] [SAMPLES]
'use strict';
const arms = parseInt(process.argv[2] || '10', 10);
const samples = parseInt(process.argv[3] || '8000', 10);

// xorshift32: the same bytes on every machine and node version.
let s = 0x9e3779b9;
function rnd() {
  s ^= s << 13; s >>>= 0;
  s ^= s >>> 17;
  s ^= s << 5; s >>>= 0;
  return s / 4294967296;
}
const hex = (n) => {
  let h = '';
  for (let i = 0; i < n; i++) h += Math.floor(rnd() * 16).toString(16);
  return h;
};

const doc = {
  schema_version: 1,
  preset: {name: 'bench', kind: 'niah', sha256: hex(64), params: {ctx: [1024, 2048, 4096]}},
  provenance: {
    tool_version: '0.1.0', git_commit: hex(40), git_dirty: false,
    host: {cpu: 'bench cpu', cores: 2}, compiler: 'cc', blas: 'openblas',
    seed: 1, threads: 2, jobs: 2,
    started: '2026-01-01T00:00:00Z', finished: '2026-01-01T00:10:00Z', wall_s: 600,
  },
  models: [{role: 'target', source: 'synth:niah?seed=1', sha256: hex(64), architecture: 'llama'}],
  arms: [],
  summary: {kv_saved_pct: 50},
};
for (let a = 0; a < arms; a++) {
  const smp = [];
  let hits = 0;
  for (let i = 0; i < samples; i++) {
    const hit = rnd() < 0.97;
    hits += hit ? 1 : 0;
    smp.push({
      index: i, ctx: [1024, 2048, 4096][i % 3], depth: Math.round(rnd() * 100) / 100,
      hit: hit, margin: Math.round((rnd() * 8 - 1) * 1e4) / 1e4,
      ids: [192 + Math.floor(rnd() * 64)], prefill_s: Math.round(rnd() * 1e4) / 1e5,
    });
  }
  doc.arms.push({
    name: 'arm-' + a, config: {codec: 'q' + a}, config_sha256: hex(64),
    metrics: {recall: hits / samples, recall_ci_lo: hits / samples * 0.99,
              recall_ci_hi: Math.min(1, hits / samples * 1.01), n: samples,
              kv_bytes_resident: 1048576 - a * 4096},
    timings: {scope: 'decode', prefill_s: 1.5, decode_s: 12.25, tokens_decoded: 8000,
              repeats: [{prefill_s: 1.5, decode_s: 12.25, tokens_decoded: 8000}]},
    signals: {counters: {values_encoded: 1000000 + a, values_decoded: 1000000 + a},
              fallbacks_taken: [], memory: {peak_rss: 123456789}},
    samples: smp,
  });
}
process.stdout.write(JSON.stringify(doc));
process.stdout.write('\n');
