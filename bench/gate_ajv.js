#!/usr/bin/env node
// The reference of bench/bench_gate.sh: ajv 8 (draft 2020-12) compiles the
// evidence schema, then JSON.parse reads the file and ajv validates it, in
// one node process (timed whole by the caller, as kakeya-gate is).
// Usage: node bench/gate_ajv.js AJV_PREFIX SCHEMA FILE   (exit 0 valid, 1 not)
'use strict';
const fs = require('fs');
const [prefix, schemaPath, file] = process.argv.slice(2);
const Ajv2020 = require(require.resolve('ajv/dist/2020', {paths: [prefix]}));
const ajv = new Ajv2020({strict: false, allErrors: false, validateFormats: false});
const validate = ajv.compile(JSON.parse(fs.readFileSync(schemaPath, 'utf8')));
const data = JSON.parse(fs.readFileSync(file, 'utf8'));
if (!validate(data)) {
  console.error(JSON.stringify(validate.errors.slice(0, 3)));
  process.exit(1);
}
