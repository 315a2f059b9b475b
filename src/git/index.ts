/**
 * acu's git access layer: the only module that imports isomorphic-git and simple-git. Everything
 * above it reads and writes git through {@link GitRepo}.
 */
export { GitRepo, gitBlobOid } from './repo.js';
export type {
  ChangeStatus, CommitInfo, DiffTreesOptions, NewCommit, NewTreeEntry, PathChange, RangeOptions, Signature, TreeChange, TreeEntry, TreePair,
} from './repo.js';
export { allWritten, observed } from './iso.js';
export type { StagedObject } from './iso.js';
export { isHexOid } from './objects.js';
export type { ObjectFormat } from './objects.js';
