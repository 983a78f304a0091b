#!/usr/bin/env node
// Verifies macaroon-proxy tokens with the npm `macaroon` package (js-macaroon, the Go
// implementation's JavaScript sibling): tweetnacl-sealedbox-js opens the sealed
// identifier, js-macaroon verifies the chain, the discharges and every caveat.
//
// Usage: npm ci (in this folder) && node verify_ours.js VECTORS.json
'use strict';
const fs = require('fs');
const macaroon = require('macaroon');
const nacl = require('tweetnacl');
const sealedBox = require('tweetnacl-sealedbox-js');

const load = text => {
  text = text.trim();
  if (text.startsWith('{')) return macaroon.importMacaroon(JSON.parse(text));
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  return macaroon.importMacaroon(Uint8Array.from(Buffer.from(b64, 'base64')));
};

const under = (path, prefix) => {
  prefix = prefix.replace(/\/+$/, '');
  return prefix === '' || path === prefix || path.startsWith(prefix + '/');
};

const checker = req => cond => {
  const [field, op, ...values] = cond.split(' ');
  let ok = false;
  if (field === 'time') {
    const t = Date.parse(values[0]);
    ok = op === '<' ? req.time < t : req.time > t;
  } else if (field === 'method') ok = values.includes(req.method);
  else if (field === 'host') ok = values.includes(req.host);
  else if (field === 'path' && op === '=') ok = req.path === values[0];
  else if (field === 'path' && op === 'prefix') ok = values.some(v => under(req.path, v));
  return ok ? null : `not satisfied: ${cond}`;
};

const doc = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const sk = Uint8Array.from(Buffer.from(doc.proxy_private_key, 'base64'));
const pk = nacl.box.keyPair.fromSecretKey(sk).publicKey;
let failures = 0;
for (const v of doc.vectors) {
  let m, discharges;
  try {
    m = load(v.token);
    discharges = v.discharges.map(load);
  } catch (e) {
    // js-macaroon reads V2 and JSON only; V1 binary is a known gap of that library.
    const known = /Version 1 binary format not supported/.test(e.message);
    console.log(`${known ? 'unsupported' : 'FAIL'}: ${v.name}: cannot import (${e.message})`);
    if (!known) failures++;
    continue;
  }
  const id = m.identifier;
  if (Buffer.from(id.slice(0, 3)).toString() !== 'mk1') throw new Error('not sealed');
  const payload = JSON.parse(Buffer.from(sealedBox.open(id.slice(11), pk, sk)).toString());
  if (payload.secret !== doc.secret) throw new Error('sealed secret differs');
  const root = Uint8Array.from(Buffer.from(payload.root, 'base64'));
  for (const c of v.requests) {
    let ok = true;
    try {
      m.verify(root, checker({...c, time: Date.now()}), discharges);
    } catch (e) {
      ok = false;
    }
    const status = ok === (c.expect === 'allow') ? 'ok' : 'FAIL';
    if (status === 'FAIL') failures++;
    console.log(`${status}: ${v.name}: ${c.method} ${c.path} -> ${ok ? 'allow' : 'deny'}`);
  }
}
console.log(`${failures} failure(s)`);
process.exit(failures ? 1 : 0);
