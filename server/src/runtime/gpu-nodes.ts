// Whether a Linux machine has a GPU that Vulkan (and so Dawn, onnxruntime-node's WebGPU provider) can drive: a GPU
// driver exposes a device node — a DRM render node (/dev/dri/renderD*: AMD, Intel, virtio, Arm/Qualcomm SoCs and
// NVIDIA's open kernel driver alike), NVIDIA's /dev/nvidia0… or WSL2's /dev/dxg. Without one, a Vulkan loader can
// still find an adapter: Mesa's lavapipe (in Debian's and Ubuntu's mesa-vulkan-drivers, often installed on machines
// without a GPU) or SwiftShader, which run WebGPU on the CPU — for the Qwen2.5-Coder-0.5B shape 30x slower than
// onnxruntime's CPU provider here (keystroke replay p50 5.3 s against 169 ms), so `device: auto` must not take it.
import fs from 'node:fs';
import path from 'node:path';

/**
 * The GPU device nodes under `dev` (default /dev), as paths: `dri/renderD*`, `nvidia<N>` (not nvidiactl or
 * nvidia-uvm, which exist without a GPU), `dxg`. [] when there is none or `dev` cannot be read. Never throws.
 */
export function gpuDeviceNodes(dev = '/dev'): string[] {
  const list = (dir: string): string[] => {
    try {
      return fs.readdirSync(dir);
    } catch {
      return [];
    }
  };
  const top = list(dev);
  return [
    ...list(path.join(dev, 'dri')).filter((n) => /^renderD\d+$/.test(n)).map((n) => path.join(dev, 'dri', n)),
    ...top.filter((n) => /^nvidia\d+$/.test(n) || n === 'dxg').map((n) => path.join(dev, n)),
  ];
}
