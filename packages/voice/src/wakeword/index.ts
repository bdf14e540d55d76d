// Wake-word detection with the openWakeWord models, run with onnxruntime-node.
export * from './models.ts';
export * from './detector.ts';
export * from './verifier.ts';
