import { test } from 'vitest';
import { createTensor, InferenceSession } from '../../server/src/runtime/ort.js';
import { buildSyntheticModel } from './helpers/synthetic-model.js';
test('subarray feed', async () => {
  const s = await InferenceSession.create(buildSyntheticModel({ layout: 'per-layer' }), { logSeverityLevel: 3 });
  const big = new BigInt64Array(100).fill(5n); big[50] = 1n; big[51]=2n;
  const ids = createTensor('int64', big.subarray(50, 52), [1, 2]);
  const mask = createTensor('int64', new BigInt64Array(2).fill(1n), [1, 2]);
  const pos = createTensor('int64', BigInt64Array.from([0n, 1n]), [1, 2]);
  const feeds: any = { input_ids: ids, attention_mask: mask, position_ids: pos };
  for (let i = 0; i < 2; i++) for (const k of ['key', 'value']) feeds[`past_key_values.${i}.${k}`] = createTensor('float32', new Float32Array(0), [1, 2, 0, 4]);
  const out = await s.run(feeds);
  const l = out.logits!.data as Float32Array;
  console.log(out.logits!.dims, l.indexOf(10), l.length, 'expect', (1+2+1+2)%300 + 300, 'last row', l.subarray(300).indexOf(10), out.logits!.location, (l.buffer as ArrayBuffer).byteLength);
});
