// runtime/gpu-nodes.ts: which device nodes count as a GPU Vulkan can drive (a software adapter needs none).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, test } from 'vitest';
import { gpuDeviceNodes } from '../../server/src/runtime/index.js';

test('render nodes, NVIDIA GPU nodes and WSL2 dxg count; control nodes and card nodes do not', () => {
  const dev = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-ls-dev-'));
  try {
    expect(gpuDeviceNodes(dev)).toEqual([]);
    fs.mkdirSync(path.join(dev, 'dri'));
    for (const n of ['nvidiactl', 'nvidia-uvm', 'nvidia-modeset', 'null', 'dri/card0', 'dri/renderD', 'dri/by-path']) fs.writeFileSync(path.join(dev, n), '');
    expect(gpuDeviceNodes(dev)).toEqual([]);
    for (const n of ['dri/renderD128', 'nvidia0', 'nvidia1', 'dxg']) fs.writeFileSync(path.join(dev, n), '');
    expect(gpuDeviceNodes(dev).sort()).toEqual(['dri/renderD128', 'dxg', 'nvidia0', 'nvidia1'].map((n) => path.join(dev, n)).sort());
  } finally {
    fs.rmSync(dev, { recursive: true, force: true });
  }
  expect(gpuDeviceNodes(path.join(os.tmpdir(), 'infill-ls-no-such-dir-'))).toEqual([]);
});
