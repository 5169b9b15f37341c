// Builds tiny synthetic decoder ONNX models whose greedy next token is plain arithmetic, so runtime tests can assert exact ids.
//
// Rule (every layout): after a sequence t_0..t_{n-1}, the argmax of the last logits row is
//   next = (sum(t) + (n - 1) + n) mod vocab
// where sum(t) is recovered from the KV cache (every layer's past contributes, so a mis-fed layer breaks it),
// (n - 1) comes from position_ids (or from the mask when the model has no position_ids) and n from the
// attention mask length (or, packed layout, from the count of 0-entries of the last attention_bias row).
import { buildModel, DT, floatTensor, int64Tensor, type NodeInit, type ValueInit } from './onnx-writer.js';

export interface SyntheticOptions {
  layout: 'per-layer' | 'fused' | 'packed';
  layers?: number;
  kvHeads?: number;
  headDim?: number;
  vocab?: number;
  positionIds?: boolean;
  numLogitsToKeep?: boolean;
  useCacheBranch?: boolean;
}

export function syntheticNext(tokens: readonly number[], vocab: number): number {
  const n = tokens.length;
  const s = tokens.reduce((a, b) => a + b, 0);
  return (s + (n - 1) + n) % vocab;
}

/** Greedy continuation under the synthetic rule. */
export function syntheticGreedy(prompt: readonly number[], steps: number, vocab: number): number[] {
  const seq = [...prompt];
  const out: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t = syntheticNext(seq, vocab);
    out.push(t);
    seq.push(t);
  }
  return out;
}

export function buildSyntheticModel(o: SyntheticOptions): Uint8Array {
  const L = o.layers ?? 2;
  const H = o.kvHeads ?? 2;
  const D = o.headDim ?? 4;
  const V = o.vocab ?? 300;
  const packed = o.layout === 'packed';
  const fused = o.layout === 'fused';
  const hasPos = packed || (o.positionIds ?? true);
  const nodes: NodeInit[] = [];
  const inits = [
    int64Tensor('ax0', [1], [0]),
    int64Tensor('ax1', [1], [1]),
    int64Tensor('ax2', [1], [2]),
    int64Tensor('ax3', [1], [3]),
    int64Tensor('ax13', [2], [1, 3]),
    int64Tensor('ax_all_past', fused ? [2] : [3], fused ? [1, 2] : [1, 2, 3]),
    int64Tensor('one_i', [], [1]),
    int64Tensor('vocab_i', [], [V]),
    int64Tensor('depth', [1], [V]),
    int64Tensor('big', [1], [1 << 30]),
    floatTensor('onehot_vals', [2], [0, 10]),
    floatTensor('minus_one', [], [-1]),
    floatTensor('thousand', [], [1000]),
    // key gets id*1, value gets id*2 (fused: first D columns *1, last D columns *2)
    floatTensor('kscale', fused ? [1, 1, 2 * D] : [1, H, 1, D], fused ? [...Array(D).fill(1), ...Array(D).fill(2)] : Array(H * D).fill(1)),
    floatTensor('vscale', [1, H, 1, D], Array(H * D).fill(2)),
    floatTensor('norm', [], [fused ? L * 3 * D : L * 3 * H * D]),
  ];
  const inputs: ValueInit[] = [{ name: 'input_ids', elemType: DT.int64, dims: ['batch_size', 'sequence_length'] }];
  if (packed) inputs.push({ name: 'attention_bias', elemType: DT.float, dims: ['batch_size', 1, 'sequence_length', 'total_sequence_length'] });
  else inputs.push({ name: 'attention_mask', elemType: DT.int64, dims: ['batch_size', 'total_sequence_length'] });
  if (hasPos) inputs.push({ name: 'position_ids', elemType: DT.int64, dims: ['batch_size', 'sequence_length'] });
  const outputs: ValueInit[] = [{ name: 'logits', elemType: DT.float, dims: ['batch_size', packed ? 'num_logits' : 'sequence_length', V] }];

  // ids_f: [b, seq] float32
  if (packed) {
    // Packed layout: every row's count of attendable columns must be past + row + 1 (= position + 1); any
    // error in a row of attention_bias or position_ids adds multiples of 1000 to that row's cached value,
    // so it changes every later token, as a wrong mask would in a real multi-layer model.
    nodes.push({ op: 'Greater', inputs: ['attention_bias', 'minus_one'], outputs: ['ok_b'] });
    nodes.push({ op: 'Cast', inputs: ['ok_b'], outputs: ['ok_i'], attrs: { to: DT.int64 } });
    nodes.push({ op: 'ReduceSum', inputs: ['ok_i', 'ax3'], outputs: ['allowed3'], attrs: { keepdims: 0 } }); // [b, 1, seq]
    nodes.push({ op: 'Squeeze', inputs: ['allowed3', 'ax1'], outputs: ['allowed'] }); // [b, seq]
    nodes.push({ op: 'Sub', inputs: ['allowed', 'position_ids'], outputs: ['d1'] });
    nodes.push({ op: 'Sub', inputs: ['d1', 'one_i'], outputs: ['d2'] }); // 0 when causal and positioned right
    nodes.push({ op: 'Cast', inputs: ['d2'], outputs: ['d2f'], attrs: { to: DT.float } });
    nodes.push({ op: 'Mul', inputs: ['d2f', 'thousand'], outputs: ['err'] });
    nodes.push({ op: 'Cast', inputs: ['input_ids'], outputs: ['ids_raw'], attrs: { to: DT.float } });
    nodes.push({ op: 'Add', inputs: ['ids_raw', 'err'], outputs: ['ids_f'] });
  } else {
    nodes.push({ op: 'Cast', inputs: ['input_ids'], outputs: ['ids_f'], attrs: { to: DT.float } });
  }
  const pastSums: string[] = [];
  for (let i = 0; i < L; i++) {
    const names = fused ? ['key_value'] : ['key', 'value'];
    for (const kind of names) {
      const past = `past_key_values.${i}.${kind}`;
      const present = `present.${i}.${kind}`;
      const dims = fused ? ['batch_size', 'past_sequence_length', 2 * D] : ['batch_size', H, 'past_sequence_length', D];
      const pdims = fused ? ['batch_size', 'total_sequence_length', 2 * D] : ['batch_size', H, 'total_sequence_length', D];
      inputs.push({ name: past, elemType: DT.float, dims });
      outputs.push({ name: present, elemType: DT.float, dims: pdims });
      if (fused) {
        // ids_f [b, seq] -> [b, seq, 1] * kscale [1, 1, 2D] -> [b, seq, 2D]
        nodes.push({ op: 'Unsqueeze', inputs: ['ids_f', 'ax2'], outputs: [`u_${i}_${kind}`] });
        nodes.push({ op: 'Mul', inputs: [`u_${i}_${kind}`, 'kscale'], outputs: [`new_${i}_${kind}`] });
        nodes.push({ op: 'Concat', inputs: [past, `new_${i}_${kind}`], outputs: [present], attrs: { axis: 1 } });
      } else {
        // ids_f [b, seq] -> [b, 1, seq, 1] * scale [1, H, 1, D] -> [b, H, seq, D]
        nodes.push({ op: 'Unsqueeze', inputs: ['ids_f', 'ax13'], outputs: [`u_${i}_${kind}`] });
        nodes.push({ op: 'Mul', inputs: [`u_${i}_${kind}`, kind === 'key' ? 'kscale' : 'vscale'], outputs: [`new_${i}_${kind}`] });
        nodes.push({ op: 'Concat', inputs: [past, `new_${i}_${kind}`], outputs: [present], attrs: { axis: 2 } });
      }
      // sum of the past only: [b]
      nodes.push({ op: 'ReduceSum', inputs: [past, 'ax_all_past'], outputs: [`s_${i}_${kind}`], attrs: { keepdims: 0 } });
      pastSums.push(`s_${i}_${kind}`);
    }
  }
  // pastSum: [b] float; then / norm -> sum of past ids
  let acc = pastSums[0]!;
  for (let k = 1; k < pastSums.length; k++) {
    nodes.push({ op: 'Add', inputs: [acc, pastSums[k]!], outputs: [`acc${k}`] });
    acc = `acc${k}`;
  }
  nodes.push({ op: 'Div', inputs: [acc, 'norm'], outputs: ['past_sum'] });
  if (o.useCacheBranch) {
    inputs.push({ name: 'use_cache_branch', elemType: DT.bool, dims: [1] });
    nodes.push({ op: 'Cast', inputs: ['use_cache_branch'], outputs: ['ucb_f'], attrs: { to: DT.float } });
    nodes.push({ op: 'Mul', inputs: ['past_sum', 'ucb_f'], outputs: ['past_sum_g'] });
  } else {
    nodes.push({ op: 'Identity', inputs: ['past_sum'], outputs: ['past_sum_g'] });
  }
  nodes.push({ op: 'Unsqueeze', inputs: ['past_sum_g', 'ax1'], outputs: ['past_sum_2d'] }); // [b, 1]
  nodes.push({ op: 'CumSum', inputs: ['ids_f', 'ax1'], outputs: ['cum'] }); // [b, seq]
  nodes.push({ op: 'Add', inputs: ['cum', 'past_sum_2d'], outputs: ['s_f'] });
  nodes.push({ op: 'Cast', inputs: ['s_f'], outputs: ['s_i'], attrs: { to: DT.int64 } }); // [b, seq] int64

  // allowed: [b, seq] or [b] int64 = number of attendable key positions
  if (packed) {
    // allowed: computed above
  } else {
    nodes.push({ op: 'ReduceSum', inputs: ['attention_mask', 'ax1'], outputs: ['allowed'], attrs: { keepdims: 1 } }); // [b, 1]
  }
  if (hasPos) {
    nodes.push({ op: 'Identity', inputs: ['position_ids'], outputs: ['pos'] });
  } else {
    nodes.push({ op: 'Sub', inputs: ['allowed', 'one_i'], outputs: ['pos'] });
  }
  nodes.push({ op: 'Add', inputs: ['s_i', 'pos'], outputs: ['t1'] });
  nodes.push({ op: 'Add', inputs: ['t1', 'allowed'], outputs: ['t2'] });
  nodes.push({ op: 'Mod', inputs: ['t2', 'vocab_i'], outputs: ['next'] }); // [b, seq] int64
  nodes.push({ op: 'OneHot', inputs: ['next', 'depth', 'onehot_vals'], outputs: ['logits_all'], attrs: { axis: -1 } }); // [b, seq, V]

  if (packed) {
    inputs.push({ name: 'logits_index', elemType: DT.int64, dims: ['num_logits'] });
    nodes.push({ op: 'Gather', inputs: ['logits_all', 'logits_index'], outputs: ['logits'], attrs: { axis: 1 } });
  } else if (o.numLogitsToKeep) {
    inputs.push({ name: 'num_logits_to_keep', elemType: DT.int64, dims: [] });
    nodes.push({ op: 'Unsqueeze', inputs: ['num_logits_to_keep', 'ax0'], outputs: ['nk1'] }); // scalar -> [1]
    nodes.push({ op: 'Neg', inputs: ['nk1'], outputs: ['start'] });
    nodes.push({ op: 'Slice', inputs: ['logits_all', 'start', 'big', 'ax1'], outputs: ['logits'] });
  } else {
    nodes.push({ op: 'Identity', inputs: ['logits_all'], outputs: ['logits'] });
  }
  return buildModel({ nodes, inputs, outputs, initializers: inits });
}
