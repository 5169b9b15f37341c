"""Writes MatMulNBits graphs (bits 2 / 4 / 8, accuracy_level 1 = fp32 activations / 4 = int8 activations) for the
default model's layer shapes, with a numpy reference, for bench/runtime/matmulnbits-bits.mjs (issue 16: is 2-bit a way
to more parameters per MiB with this runtime?).
Usage: /usr/bin/python3 bench/runtime/matmulnbits_bits.py OUT_DIR   (needs numpy, onnx)
Layout (onnxruntime contrib MatMulNBits): B [N, K/block, block*bits/8] uint8, values packed low bits first, no zero-point
input (the default zero point is 2^(bits-1)), scales [N * K/block] float32."""
import argparse
import json

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument('out', metavar='OUT_DIR', help='folder for the graphs and ref.json (must exist)')
out = ap.parse_args().out

import numpy as np  # noqa: E402  (after --help, which needs neither)
import onnx  # noqa: E402
from onnx import helper, TensorProto, numpy_helper  # noqa: E402

rng = np.random.default_rng(0)
BLOCK = 32
SHAPES = {'up': (512, 1408), 'down': (1408, 512)}  # (K, N) of the v2/v3 default model's MLP layers
ref = {}
for shape, (K, N) in SHAPES.items():
    a = rng.standard_normal(K).astype(np.float32)
    for bits in (2, 4, 8):
        per, nblk = 8 // bits, K // BLOCK
        q = rng.integers(0, 2 ** bits, size=(N, K), dtype=np.uint16)
        packed = np.zeros((N, K // per), dtype=np.uint16)
        for j in range(per):
            packed |= q[:, j::per] << (bits * j)
        S = rng.uniform(0.5, 1.5, size=(N, nblk)).astype(np.float32) / 2 ** bits
        W = ((q.astype(np.float32) - 2 ** (bits - 1)).reshape(N, nblk, BLOCK) * S[:, :, None]).reshape(N, K)
        ref[f'{shape}-{bits}'] = {'K': K, 'N': N, 'a': a.tolist(), 'y': (W @ a).tolist()}
        for acc in (1, 4):
            node = helper.make_node('MatMulNBits', ['A', 'B', 'S'], ['Y'], domain='com.microsoft', K=K, N=N, bits=bits,
                                    block_size=BLOCK, accuracy_level=acc)
            g = helper.make_graph([node], 'g', [helper.make_tensor_value_info('A', TensorProto.FLOAT, [1, K])],
                                  [helper.make_tensor_value_info('Y', TensorProto.FLOAT, [1, N])],
                                  initializer=[numpy_helper.from_array(packed.astype(np.uint8).reshape(N, nblk, BLOCK * bits // 8), 'B'),
                                               numpy_helper.from_array(S.reshape(-1), 'S')])
            m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 17), helper.make_opsetid('com.microsoft', 1)])
            onnx.save(m, f'{out}/{shape}-b{bits}-acc{acc}.onnx')
json.dump(ref, open(f'{out}/ref.json', 'w'))
print(f'wrote {len(SHAPES) * 6} graphs and ref.json to {out}')
