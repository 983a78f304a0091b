#!/usr/bin/env node
// Mints interop fixtures with js-macaroon for the Rust tests (same shape as the
// pymacaroons vectors). Run: node mint_js.js > ../fixtures/js/vectors.json
//
// js-macaroon 3.0.x cannot export V2 binary once a macaroon has more than about 20
// fields (ByteBuffer._grow never records its capacity, so each append doubles the buffer
// until allocation fails). Its binary vector therefore has a single caveat; the V2JSON
// vectors carry the full set, third-party caveat included.
'use strict';
const macaroon = require('macaroon');

const ROOT = Uint8Array.from({length: 32}, (_, i) => i);
const TP_KEY = Uint8Array.from({length: 32}, (_, i) => 100 + i);
const CAVEATS = ['time < 2099-01-01T00:00:00Z', 'method in GET HEAD', 'path prefix /v1/charges'];
const enc = s => new TextEncoder().encode(s);
const b64url = bytes => Buffer.from(bytes).toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

const vectors = [];
for (const [thirdParty, caveats, formats] of [
  [false, CAVEATS.slice(1, 2), ['v2']],
  [false, CAVEATS, ['v2json']],
  [true, CAVEATS, ['v2json']],
]) {
  const m = macaroon.newMacaroon({identifier: enc('js-macaroon-fixture'), location: 'https://api.example.com', rootKey: ROOT});
  caveats.forEach(c => m.addFirstPartyCaveat(enc(c)));
  const discharges = [];
  if (thirdParty) {
    m.addThirdPartyCaveat(TP_KEY, enc('approval-42'), 'https://approve.example.com');
    const d = macaroon.newMacaroon({identifier: enc('approval-42'), location: 'https://approve.example.com', rootKey: TP_KEY});
    d.addFirstPartyCaveat(enc('method = GET'));
    d.bindToRoot(m.signature);
    discharges.push(d);
  }
  const serializers = {v2: x => b64url(x.exportBinary()), v2json: x => JSON.stringify(x.exportJSON())};
  for (const format of formats) {
    const ser = serializers[format];
    vectors.push({
      name: format + (thirdParty ? '-third-party' : ''),
      format,
      root_key: Buffer.from(ROOT).toString('base64'),
      identifier: 'js-macaroon-fixture',
      location: 'https://api.example.com',
      caveats,
      third_party: thirdParty ? ['https://approve.example.com'] : [],
      token: ser(m),
      discharges: discharges.map(ser),
    });
  }
}
console.log(JSON.stringify({generator: 'js-macaroon ' + require('macaroon/package.json').version, vectors}, null, 2));
