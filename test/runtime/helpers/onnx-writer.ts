// Test access to the runtime's minimal ONNX protobuf writer (used to build synthetic models).
export * from '../../../server/src/runtime/onnx-proto.js';
