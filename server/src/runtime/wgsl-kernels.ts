// WGSL kernels of one decode step of a Qwen2-family int4 model (runtime/wgsl-decode.ts runs them); pure strings.
//
// Shapes: the hidden state x [H] f32; 4-bit weights [N][K] as MatMulNBits stores them (bits 4, symmetric, no zero
// points: 8 codes per u32, low nibble first, value = (code − 8) × scale), one scale per block of 32·SB columns; the
// KV cache per layer [kvHeads][MAXC][HD] in u32 words holding f32 bits or, with KV16, pairs of binary16 (no
// `shader-f16` needed: pack2x16float / unpack2x16float are core WGSL). Measured first as a probe
// (session 13's stand-alone bench/realmodels/wgsl-decode.mjs, in git history up to commit 7a42903: 1.5B shape 3.5 ms a
// token on an H200).

/**
 * WGSL: a workgroup's 256 values in `arr` (var<workgroup> array<f32, 256>) folded into arr[0] with `op` ('max' or '+'),
 * a barrier after each of the 8 halvings; every thread of the workgroup must run it.
 */
function treeReduce(arr: string, op: 'max' | '+'): string {
  const fold = op === 'max' ? `${arr}[li] = max(${arr}[li], ${arr}[li + off]);` : `${arr}[li] += ${arr}[li + off];`;
  return `for (var off = 128u; off > 0u; off >>= 1u) {
    if (li < off) { ${fold} }
    workgroupBarrier();
  }`;
}

/** Keys per attention split (flash-decoding); the combine kernel takes at most 256 splits: MAXC ≤ 256 · ATTN_SPLIT. */
export const ATTN_SPLIT = 32;
/** Logits entries per workgroup of the row-statistics kernel (one max and one Σ exp each). */
export const STATS_CHUNK = 4096;

/**
 * y = W x for a 4-bit W [N][K]: each thread takes four rows of one or more 32-column blocks, TPR threads share a row
 * group, 4 · 256 / TPR rows per workgroup. MODE bits: 1 + bias B; 2 += into Y (the residual); 4 the input is
 * silu(gate) · up of a 2K-long X; 8 the input is RMSNorm(X) · NW (the norm computed by each workgroup). SF32: scales
 * are f32 (one a word) instead of binary16 pairs. SB: 32-column blocks per scale (MatMulNBits block_size / 32).
 * With subgroups (`sg`, subgroups of at most 32 that tile a row group) sums are subgroupAdd.
 */
export function matvecKernel(sg: boolean, eps: number): string {
  return /* wgsl */ `${sg ? 'enable subgroups;' : ''}
override K: u32;
override N: u32;
override TPR: u32;
override MODE: u32 = 0u;
override SF32: bool = false;
override SB: u32 = 1u;
@group(0) @binding(0) var<storage, read> W: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read> Sc: array<u32>;
@group(0) @binding(2) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;
@group(0) @binding(4) var<storage, read> B: array<f32>;
@group(0) @binding(5) var<storage, read> NW: array<vec4<f32>>;
fn scaleAt(si: u32) -> f32 {
  if (SF32) { return bitcast<f32>(Sc[si]); }
  return unpack2x16float(Sc[si >> 1u])[si & 1u];
}
var<workgroup> red: array<vec4<f32>, 256>;
var<workgroup> normScale: f32;
fn xin(i: u32) -> vec4<f32> {
  if ((MODE & 4u) != 0u) { let gt = X[i]; return gt / (1.0 + exp(-gt)) * X[i + K / 4u]; }
  if ((MODE & 8u) != 0u) { return X[i] * normScale * NW[i]; }
  return X[i];
}
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>${sg ? ', @builtin(subgroup_size) sgs: u32, @builtin(subgroup_invocation_id) sid: u32' : ''}) {
  if ((MODE & 8u) != 0u) {
    var ss = 0.0;
    for (var i = li; i < K / 4u; i += 256u) { let v = X[i]; ss += dot(v, v); }
${sg ? `    ss = subgroupAdd(ss);
    if (sid == 0u) { red[li / sgs] = vec4<f32>(ss, 0.0, 0.0, 0.0); }
    workgroupBarrier();
    if (li == 0u) {
      var tot = 0.0;
      for (var i = 0u; i < 256u / sgs; i++) { tot += red[i].x; }
      normScale = inverseSqrt(tot / f32(K) + ${eps});
    }` : `    red[li] = vec4<f32>(ss, 0.0, 0.0, 0.0);
    workgroupBarrier();
    ${treeReduce('red', '+')}
    if (li == 0u) { normScale = inverseSqrt(red[0].x / f32(K) + ${eps}); }`}
    workgroupBarrier();
  }
  let row0 = (wg.x * (256u / TPR) + li / TPR) * 4u;
  let t = li % TPR;
  let nb = K / 32u;
  let ns = nb / SB;
  var acc = vec4<f32>(0.0);
  if (row0 < N) {
    for (var b = t; b < nb; b += TPR) {
      var wr: array<vec4<u32>, 4>;
      var sr: array<f32, 4>;
      for (var r = 0u; r < 4u; r++) {
        let row = min(row0 + r, N - 1u); // rows past N (N not a multiple of 4) read the last row, unused
        wr[r] = W[row * nb + b];
        sr[r] = scaleAt(row * ns + b / SB);
      }
      var xv: array<vec4<f32>, 8>;
      for (var j = 0u; j < 8u; j++) { xv[j] = xin(b * 8u + j); }
      for (var r = 0u; r < 4u; r++) {
        let w = wr[r];
        var s = 0.0;
        for (var j = 0u; j < 4u; j++) {
          let word = w[j];
          let lo = vec4<f32>((vec4<u32>(word) >> vec4<u32>(0u, 4u, 8u, 12u)) & vec4<u32>(15u)) - 8.0;
          let hi = vec4<f32>((vec4<u32>(word) >> vec4<u32>(16u, 20u, 24u, 28u)) & vec4<u32>(15u)) - 8.0;
          s += dot(lo, xv[2u * j]) + dot(hi, xv[2u * j + 1u]);
        }
        acc[r] += s * sr[r];
      }
    }
  }
${sg ? `  let part = subgroupAdd(acc);
  if (sid == 0u) { red[li / sgs] = part; }
  workgroupBarrier();
  var sum = vec4<f32>(0.0);
  if (t == 0u) { for (var i = 0u; i < TPR / sgs; i++) { sum += red[li / sgs + i]; } }` : `  red[li] = acc;
  workgroupBarrier();
  for (var off = TPR / 2u; off > 0u; off >>= 1u) {
    if (t < off) { red[li] += red[li + off]; }
    workgroupBarrier();
  }
  let sum = red[li];`}
  if (t == 0u && row0 < N) {
    for (var r = 0u; r < min(4u, N - row0); r++) {
      var v = sum[r];
      if ((MODE & 1u) != 0u) { v += B[row0 + r]; }
      if ((MODE & 2u) != 0u) { v += Y[row0 + r]; }
      Y[row0 + r] = v;
    }
  }
}`;
}

/**
 * The embedding row of token T[0] into Y [H]: a table [V][H] of f32 (or, with EF16, binary16 pairs) in up to six
 * bindings (W, E1..E5) of ROWS whole rows each (a binding holds at most maxStorageBufferBindingSize bytes).
 */
export const EMBED_KERNEL = /* wgsl */ `
override H: u32;
override EF16: bool = false;
override ROWS: u32 = 1u;
@group(0) @binding(0) var<storage, read> W: array<u32>;
@group(0) @binding(1) var<storage, read> T: array<u32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(3) var<storage, read> E1: array<u32>;
@group(0) @binding(4) var<storage, read> E2: array<u32>;
@group(0) @binding(5) var<storage, read> E3: array<u32>;
@group(0) @binding(6) var<storage, read> E4: array<u32>;
@group(0) @binding(7) var<storage, read> E5: array<u32>;
fn word(c: u32, e: u32) -> u32 {
  if (c == 0u) { return W[e]; }
  if (c == 1u) { return E1[e]; }
  if (c == 2u) { return E2[e]; }
  if (c == 3u) { return E3[e]; }
  if (c == 4u) { return E4[e]; }
  return E5[e];
}
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32) {
  let tok = T[0];
  let c = tok / ROWS;
  let e0 = (tok % ROWS) * H;
  for (var i = li; i < H; i += 256u) {
    if (EF16) { Y[i] = unpack2x16float(word(c, (e0 + i) / 2u))[(e0 + i) % 2u]; }
    else { Y[i] = bitcast<f32>(word(c, e0 + i)); }
  }
}`;

/**
 * Rotary embedding (rotate-half, the model's cos/sin tables [positions][HD / 2]) of the q and k heads of QKV
 * [(NH + 2·NKV)·HD] at position P.x, then the step's K and V rows written into the cache at row P.x (KV16: as
 * binary16 pairs). One workgroup.
 */
export const ROPE_KV_KERNEL = /* wgsl */ `
override NH: u32;
override NKV: u32;
override HD: u32;
override MAXC: u32;
override KV16: bool = false;
@group(0) @binding(0) var<storage, read_write> QKV: array<f32>;
@group(0) @binding(1) var<storage, read_write> KC: array<u32>;
@group(0) @binding(2) var<storage, read_write> VC: array<u32>;
@group(0) @binding(3) var<uniform> P: vec4<u32>;
@group(0) @binding(4) var<storage, read> COS: array<f32>;
@group(0) @binding(5) var<storage, read> SIN: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32) {
  let pos = P.x;
  let half = HD / 2u;
  for (var i = li; i < (NH + NKV) * half; i += 256u) {
    let h = i / half;
    let j = i % half;
    let c = COS[pos * half + j];
    let s = SIN[pos * half + j];
    let a = QKV[h * HD + j];
    let b = QKV[h * HD + j + half];
    QKV[h * HD + j] = a * c - b * s;
    QKV[h * HD + j + half] = b * c + a * s;
  }
  storageBarrier();
  let kAt = NH * HD;
  let vAt = (NH + NKV) * HD;
  if (KV16) {
    for (var i = li; i < NKV * HD / 2u; i += 256u) {
      let e = 2u * i;
      let at = ((e / HD) * MAXC + pos) * HD + e % HD;
      KC[at / 2u] = pack2x16float(vec2<f32>(QKV[kAt + e], QKV[kAt + e + 1u]));
      VC[at / 2u] = pack2x16float(vec2<f32>(QKV[vAt + e], QKV[vAt + e + 1u]));
    }
  } else {
    for (var i = li; i < NKV * HD; i += 256u) {
      let at = ((i / HD) * MAXC + pos) * HD + i % HD;
      KC[at] = bitcast<u32>(QKV[kAt + i]);
      VC[at] = bitcast<u32>(QKV[vAt + i]);
    }
  }
}`;

/**
 * Attention of one head over keys [split · ATTN_SPLIT, +ATTN_SPLIT) ∩ [0, P.x] (flash-decoding): one workgroup per
 * (head, split) writes the split's max score, Σ exp and exp-weighted V row into PART [NH][MAXC / ATTN_SPLIT][HD + 2].
 */
export const ATTN_PART_KERNEL = /* wgsl */ `
override NH: u32;
override NKV: u32;
override HD: u32;
override MAXC: u32;
override KV16: bool = false;
const CH = ${ATTN_SPLIT}u;
@group(0) @binding(0) var<storage, read> Q: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> KC: array<u32>;
@group(0) @binding(2) var<storage, read> VC: array<u32>;
@group(0) @binding(3) var<uniform> P: vec4<u32>;
@group(0) @binding(4) var<storage, read_write> PART: array<f32>;
var<workgroup> qs: array<vec4<f32>, 64>;
var<workgroup> red: array<f32, 256>;
var<workgroup> sc: array<f32, CH>;
fn k4(i4: u32) -> vec4<f32> {
  if (KV16) { return vec4<f32>(unpack2x16float(KC[2u * i4]), unpack2x16float(KC[2u * i4 + 1u])); }
  return vec4<f32>(bitcast<f32>(KC[4u * i4]), bitcast<f32>(KC[4u * i4 + 1u]), bitcast<f32>(KC[4u * i4 + 2u]), bitcast<f32>(KC[4u * i4 + 3u]));
}
fn v1(e: u32) -> f32 {
  if (KV16) { return unpack2x16float(VC[e / 2u])[e % 2u]; }
  return bitcast<f32>(VC[e]);
}
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let h = wg.x;
  let start = wg.y * CH;
  let L = P.x + 1u;
  let kh = h / (NH / NKV);
  let at = (h * (MAXC / CH) + wg.y) * (HD + 2u);
  if (start >= L) {
    if (li < HD) { PART[at + 2u + li] = 0.0; }
    if (li == 0u) { PART[at] = -1e30; PART[at + 1u] = 0.0; }
    return;
  }
  let hv = HD / 4u;
  if (li < hv) { qs[li] = Q[h * hv + li] * inverseSqrt(f32(HD)); }
  workgroupBarrier();
  let key = start + li / 8u;
  var d = 0.0;
  if (key < L) {
    let row = (kh * MAXC + key) * hv;
    for (var i = li % 8u; i < hv; i += 8u) { d += dot(qs[i], k4(row + i)); }
  }
  red[li] = d;
  workgroupBarrier();
  if (li < CH) {
    var s = 0.0;
    for (var j = 0u; j < 8u; j++) { s += red[li * 8u + j]; }
    sc[li] = select(-1e30, s, start + li < L);
  }
  workgroupBarrier();
  var m = -1e30;
  for (var j = 0u; j < CH; j++) { m = max(m, sc[j]); }
  workgroupBarrier();
  if (li < CH) { sc[li] = select(0.0, exp(sc[li] - m), start + li < L); }
  workgroupBarrier();
  let n = min(CH, L - start);
  let groups = 256u / HD;
  var acc = 0.0;
  if (li < groups * HD) {
    for (var j = li / HD; j < n; j += groups) { acc += sc[j] * v1((kh * MAXC + start + j) * HD + li % HD); }
  }
  red[li] = acc;
  workgroupBarrier();
  if (li < HD) {
    var o = 0.0;
    for (var gi = 0u; gi < groups; gi++) { o += red[gi * HD + li]; }
    PART[at + 2u + li] = o;
  }
  if (li == 0u) {
    var l = 0.0;
    for (var j = 0u; j < n; j++) { l += sc[j]; }
    PART[at] = m;
    PART[at + 1u] = l;
  }
}`;

/** Merges one head's splits (PART) into its attention output O [NH · HD]; one workgroup per head. */
export const ATTN_COMBINE_KERNEL = /* wgsl */ `
override HD: u32;
override MAXC: u32;
const CH = ${ATTN_SPLIT}u;
@group(0) @binding(0) var<storage, read> PART: array<f32>;
@group(0) @binding(1) var<uniform> P: vec4<u32>;
@group(0) @binding(2) var<storage, read_write> O: array<f32>;
var<workgroup> red: array<f32, 256>;
var<workgroup> f: array<f32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let h = wg.x;
  let n = (P.x + 1u + CH - 1u) / CH;
  let base = h * (MAXC / CH);
  let ms = select(-1e30, PART[(base + min(li, n - 1u)) * (HD + 2u)], li < n);
  red[li] = ms;
  workgroupBarrier();
  ${treeReduce('red', 'max')}
  let M = red[0];
  workgroupBarrier();
  let fi = select(0.0, exp(ms - M), li < n);
  f[li] = fi;
  red[li] = select(0.0, fi * PART[(base + min(li, n - 1u)) * (HD + 2u) + 1u], li < n);
  workgroupBarrier();
  ${treeReduce('red', '+')}
  let den = red[0];
  workgroupBarrier();
  let groups = 256u / HD;
  var acc = 0.0;
  if (li < groups * HD) {
    for (var s = li / HD; s < n; s += groups) { acc += f[s] * PART[(base + s) * (HD + 2u) + 2u + li % HD]; }
  }
  red[li] = acc;
  workgroupBarrier();
  if (li < HD) {
    var o = 0.0;
    for (var gi = 0u; gi < groups; gi++) { o += red[gi * HD + li]; }
    O[h * HD + li] = o / den;
  }
}`;

/**
 * Row statistics of the logits X [N] in one read of the row: workgroup w writes the max m_w of entries
 * [w · STATS_CHUNK, +STATS_CHUNK) and Σ exp(x − m_w) over them into S[2w], S[2w + 1] (the host merges them into
 * log Σ exp of the row) and the first index holding m_w into PI[w] (ARGMAX_FINAL_KERNEL's partials).
 */
export const ROW_STATS_KERNEL = /* wgsl */ `
override N: u32;
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> S: array<f32>;
@group(0) @binding(2) var<storage, read_write> PI: array<u32>;
var<workgroup> red: array<f32, 256>;
var<workgroup> ri: array<u32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let lo = wg.x * ${STATS_CHUNK}u;
  let end = min(N, lo + ${STATS_CHUNK}u);
  var m = -3.4e38;
  var mi = 0xffffffffu;
  for (var i = lo + li; i < end; i += 256u) { let v = X[i]; if (v > m) { m = v; mi = i; } }
  red[li] = m;
  ri[li] = mi;
  workgroupBarrier();
  for (var off = 128u; off > 0u; off >>= 1u) {
    if (li < off) {
      let v = red[li + off];
      let k = ri[li + off];
      if (v > red[li] || (v == red[li] && k < ri[li])) { red[li] = v; ri[li] = k; }
    }
    workgroupBarrier();
  }
  let M = red[0];
  let at = ri[0];
  workgroupBarrier();
  var s = 0.0;
  for (var i = lo + li; i < end; i += 256u) { s += exp(X[i] - M); }
  red[li] = s;
  workgroupBarrier();
  ${treeReduce('red', '+')}
  if (li == 0u) { S[2u * wg.x] = M; S[2u * wg.x + 1u] = red[0]; PI[wg.x] = at; }
}`;

/** Argmax over ROW_STATS_KERNEL's NW partials (maxima S[2w], their indices PI[w]): the first index into T[0], the next step's token. */
export const ARGMAX_FINAL_KERNEL = /* wgsl */ `
override NW: u32;
@group(0) @binding(0) var<storage, read> S: array<f32>;
@group(0) @binding(1) var<storage, read> PI: array<u32>;
@group(0) @binding(2) var<storage, read_write> T: array<u32>;
@compute @workgroup_size(1)
fn main() {
  var m = S[0];
  var mi = PI[0];
  for (var w = 1u; w < NW; w++) { if (S[2u * w] > m) { m = S[2u * w]; mi = PI[w]; } }
  T[0] = mi;
}`;
