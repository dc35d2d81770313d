// `nestjs-caches/testing`: the backend contract suite, for authors of custom backends (run under Jest).
export {
  describeCacheBackendContract,
  type CacheBackendContractOptions,
  type ContractEntry,
} from './backend-contract.js';
