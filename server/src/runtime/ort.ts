// The one place in the code base that imports onnxruntime-node; everything else uses runtime/'s own types.
// no-telemetry.js must stay the first import: ES modules evaluate in import order, and it sets
// ORT_DISABLE_TELEMETRY before onnxruntime-node's native library loads.
import './no-telemetry.js';
import ort from 'onnxruntime-node';
import type { InferenceSession as OrtSession, Tensor as OrtTensor } from 'onnxruntime-node';

export type Session = OrtSession;
export type Tensor = OrtTensor;
export type SessionOptions = OrtSession.SessionOptions;
export type ValueMetadata = OrtSession.ValueMetadata;
export type TensorDtype = OrtTensor.Type;

// onnxruntime's process-wide log (read once, at the first session): its errors also reach us as exceptions, which
// loadModel classifies and reports in one status line, so by default only fatal ones are printed. Without this, asking
// for a provider whose libraries are absent prints a red "Failed to load library libonnxruntime_providers_shared.so"
// before the exception. INFILL_LS_LOG=debug restores onnxruntime's default (warnings).
ort.env.logLevel = process.env.INFILL_LS_LOG === 'debug' ? 'warning' : 'fatal';

export const InferenceSession = ort.InferenceSession;
export const TensorCtor = ort.Tensor;

export function createTensor(type: 'int64', data: BigInt64Array, dims: readonly number[]): Tensor;
export function createTensor(type: 'float32', data: Float32Array, dims: readonly number[]): Tensor;
export function createTensor(type: 'float16', data: Uint16Array, dims: readonly number[]): Tensor;
export function createTensor(type: 'bool', data: Uint8Array, dims: readonly number[]): Tensor;
export function createTensor(type: TensorDtype, data: BigInt64Array | Float32Array | Uint16Array | Uint8Array, dims: readonly number[]): Tensor;
export function createTensor(type: TensorDtype, data: BigInt64Array | Float32Array | Uint16Array | Uint8Array, dims: readonly number[]): Tensor {
  return new ort.Tensor(type as 'float32', data as Float32Array, dims);
}

/** Names of the execution providers this onnxruntime-node build can use (bundled or loadable). */
export function supportedBackends(): { name: string; bundled: boolean }[] {
  const list = (ort as unknown as { listSupportedBackends?: () => { name: string; bundled: boolean }[] }).listSupportedBackends;
  return list ? list() : [{ name: 'cpu', bundled: true }];
}
