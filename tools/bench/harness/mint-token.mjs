// Mints a JWT for the benchmarks with node:crypto (no dependencies):
//   node mint-token.mjs HS256 SECRET 'CLAIMS_JSON'
//   node mint-token.mjs ES256 PRIVATE_KEY_PEM_FILE 'CLAIMS_JSON'
import { createHmac, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';

const [alg, key, claims] = process.argv.slice(2);
const b64 = (s) => Buffer.from(s).toString('base64url');
const head = `${b64(JSON.stringify({ alg, typ: 'JWT' }))}.${b64(claims)}`;
let sig;
if (alg === 'HS256') {
  sig = createHmac('sha256', key).update(head).digest('base64url');
} else if (alg === 'ES256') {
  sig = sign('sha256', Buffer.from(head), { key: readFileSync(key),
                                            dsaEncoding: 'ieee-p1363' })
      .toString('base64url');
} else {
  console.error(`unsupported alg ${alg}`);
  process.exit(2);
}
console.log(`${head}.${sig}`);
