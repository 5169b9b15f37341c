// `device: auto` decides about WebGPU once per process: a load after a failed probe does not probe again (no second
// provider error, no second "falling back"), and keeps the first reason; where no adapter can exist (Linux without
// the Vulkan loader) nothing is probed at all, nor where only a software one can (no GPU device node: lavapipe).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect, test } from 'vitest';
import { gpuDeviceNodes, loadModel } from '../../server/src/runtime/index.js';
import { ROOT } from '../e2e/spawn.js';

// fp32; `auto` tries WebGPU for it only with the size threshold off (it is far below the measured 100M weights).
const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'models', 'llama');

test('a second auto load reuses the first WebGPU decision and its reason', async () => {
  const first: string[] = [];
  const second: string[] = [];
  const a = await loadModel({ modelDir: FIXTURE, device: 'auto', webgpuMinWeights: 0, onStatus: (m) => first.push(m) });
  const b = await loadModel({ modelDir: FIXTURE, device: 'auto', webgpuMinWeights: 0, onStatus: (m) => second.push(m) });
  await a.dispose();
  await b.dispose();
  expect(b.device).toBe(a.device);
  if (a.device === 'cpu') {
    expect(a.fallbackReason).toMatch(/webgpu/i);
    expect(b.fallbackReason).toBe(a.fallbackReason);
    expect(second.filter((m) => /falling back/.test(m))).toEqual([]);
    expect(second.at(-1)).toMatch(/ on cpu — webgpu unavailable: /);
  }
});

/**
 * Two auto loads of the fixture in a child process (the decision is per process) on the built server/dist
 * (test/global-setup.ts builds it), with a stand-in libvulkan.so.1 (a real shared library without Vulkan's entry
 * points: Dawn loads it and finds no adapter). The child's own architecture picks the stand-in (the same as ours,
 * except under bench/cpu/arm64.sh, whose children run natively on the host). Returns the backends and status lines.
 */
function twoLoadsWithFakeVulkan(env: Record<string, string>): { backends: string[]; lines: [number, string][] } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-ls-fake-vulkan-'));
  const childArch = execFileSync(process.execPath, ['-p', 'process.arch']).toString().trim();
  const ortLib = path.join(ROOT, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', childArch, 'libonnxruntime.so.1');
  fs.symlinkSync(ortLib, path.join(dir, 'libvulkan.so.1'));
  const script = `
    const { loadModel, supportedBackends } = await import(${JSON.stringify(pathToFileURL(path.join(ROOT, 'server/dist/runtime/index.js')).href)});
    console.log(JSON.stringify(['backends', supportedBackends().map((b) => b.name)]));
    for (let i = 0; i < 2; i++) {
      const m = await loadModel({ modelDir: ${JSON.stringify(FIXTURE)}, device: 'auto', webgpuMinWeights: 0, onStatus: (s) => console.log(JSON.stringify([i, s])) });
      await m.dispose();
    }`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, env: { ...process.env, LD_LIBRARY_PATH: dir, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  fs.rmSync(dir, { recursive: true, force: true });
  const [first, ...rest] = out.toString().trim().split('\n').map((l) => JSON.parse(l) as unknown[]);
  const backends = first?.[0] === 'backends' ? (first[1] as string[]) : [];
  return { backends, lines: rest as [number, string][] };
}

test('with a Vulkan loader but no adapter, WebGPU is probed once: the second load falls back without trying (Linux: CI)', async () => {
  expect(process.platform, 'this test fakes the Linux Vulkan loader').toBe('linux');
  // INFILL_LS_WEBGPU_SOFTWARE=1: probe even without a GPU device node (CI has none).
  const { backends, lines } = twoLoadsWithFakeVulkan({ INFILL_LS_WEBGPU_SOFTWARE: '1' });
  expect(backends).toContain('cpu');
  const fallbacks = lines.filter(([, s]) => /falling back to cpu/.test(s)).map(([i]) => i);
  if (!backends.includes('webgpu')) {
    // A build without the WebGPU provider (onnxruntime-node's linux/arm64): nothing to probe, the same reason twice.
    expect(fallbacks).toEqual([]);
    for (const i of [0, 1]) expect(lines.filter(([j]) => j === i).at(-1)?.[1]).toMatch(/ on cpu — webgpu unavailable: this onnxruntime-node build \(linux\/\w+\) has no WebGPU provider/);
    return;
  }
  expect(fallbacks).toEqual([0]);
  expect(lines.filter(([i]) => i === 1).at(-1)?.[1]).toMatch(/ on cpu — webgpu unavailable: no GPU adapter \(Failed to get a WebGPU adapter/);
});

test('with a Vulkan loader but no GPU device node, auto does not probe WebGPU at all (a software adapter would run it on the CPU)', async () => {
  expect(process.platform, 'this test fakes the Linux Vulkan loader').toBe('linux');
  const { backends, lines } = twoLoadsWithFakeVulkan({ INFILL_LS_WEBGPU_SOFTWARE: '' });
  if (!backends.includes('webgpu')) return expect(lines.at(-1)?.[1]).toMatch(/has no WebGPU provider/);
  const fallbacks = lines.filter(([, s]) => /falling back to cpu/.test(s)).map(([i]) => i);
  if (gpuDeviceNodes().length > 0) {
    // A machine with a GPU device node: the stand-in loader is probed once, as above.
    expect(fallbacks).toEqual([0]);
    return;
  }
  expect(fallbacks).toEqual([]);
  for (const i of [0, 1]) expect(lines.filter(([j]) => j === i).at(-1)?.[1]).toMatch(/ on cpu — webgpu unavailable: no GPU device \(no \/dev\/dri\/renderD\*/);
});
