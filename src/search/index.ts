/** Exact vector search: kernels, top-k selection and the index seam. */
export type { Metric, RowFilter, SearchHit, SearchOptions, VectorBlock } from './types.js';
export { METRICS, keyToScore, scoreToKey } from './types.js';
export { TopK } from './topk.js';
export { computeNorms, createResidentBlock, createResidentBlockFromParts, isResidentBlock, mergeTopK, searchBlock } from './search.js';
export { FlatIndex, type FlatIndexOptions, type VectorIndex } from './flat-index.js';
export { simdAvailable } from './wasm/arena.js';
