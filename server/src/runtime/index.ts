// runtime/: the public surface of the inference runtime (the only module that touches onnxruntime-node).
export { loadModel, describeProviderFailure, defaultThreads, type LoadedModel, type LoadModelOptions, type DeviceRequest, type Device, type ForwardOptions, type WgslDecodeInfo } from './model.js';
export { KvCache } from './kv-cache.js';
export { readLayout, type ModelLayout, type KvSlot } from './layout.js';
export { resolveModelFiles, readJsonFile, DTYPE_SUFFIX, type ModelDtype, type ModelFiles } from './model-files.js';
export { packedPrefill, packBins, type PackedPrefillOptions } from './packed-prefill.js';
export { chooseAutoDevice, missingProvider, matmulWeightsFromConfig, weightsFromFileBytes, WEBGPU_MIN_MATMUL_WEIGHTS, CPU_ONLY_MATMUL_OPS, FUSED_ATTENTION_OPS, webgpuPrefillChunk, webgpuRunCap, webgpuScoreCappedRun, queryHeads, WEBGPU_MAX_SCORE_ELEMENTS, type AutoDeviceChoice, type AutoDeviceFacts } from './device-rule.js';
export { scanOnnxGraph, type OnnxGraphScan } from './onnx-scan.js';
export { supportedBackends } from './ort.js';
export { gpuDeviceNodes } from './gpu-nodes.js';
