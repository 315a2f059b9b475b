/** The `cpu-reference` backend: the core's definition, cell by cell. Slow; the yardstick. */
import { referencePairScores } from '../../core/scoring/index.js';
import type { ScoringBackend } from './backend.js';

/** The reference backend. */
export function cpuReferenceBackend(): ScoringBackend {
  return {
    name: 'cpu-reference',
    detail: 'javascript',
    pairScores: (features) => Promise.resolve(referencePairScores(features)),
    dispose: () => undefined,
  };
}
