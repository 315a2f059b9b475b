/**
 * Git packs for state transfer (docs/sync.md, "State transfer"): one side writes the objects of a
 * few tips minus what the other side already has (`git pack-objects --revs --thin`), the other
 * indexes them into its object store (`git index-pack --stdin --fix-thin`). Refs are not touched
 * here: a received pack only adds objects, and the caller moves refs once it has checked them.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { AcuError, assert } from '../core/errors.js';
import { runGit, runGitRaw } from './exec.js';
import { isHexOid } from './objects.js';
import type { GitRepo } from './repo.js';

/** What to pack: everything reachable from `tips` and from none of `haves`. */
export interface PackRequest {
  readonly tips: readonly string[];
  /** Objects the receiver has (commit ids); those this repository lacks are left out of the walk. */
  readonly haves: readonly string[];
  /** A pack larger than this is not returned (null instead). */
  readonly bytesMax: number;
}

/** Most tips and haves one pack request may name. */
const packRefsMax = 64;

/**
 * A thin pack of `tips` minus `haves` (deltas may be against objects of the haves, which the
 * receiver resolves with `--fix-thin`), or null when it would exceed `bytesMax`.
 */
export async function packObjects(repo: GitRepo, request: PackRequest): Promise<Uint8Array | null> {
  assert(request.tips.length > 0 && request.tips.length <= packRefsMax, 'packObjects: a few tips');
  assert(request.haves.length <= packRefsMax, 'packObjects: a few haves');
  for (const oid of [...request.tips, ...request.haves]) assert(isHexOid(oid), `packObjects: object ids only: ${oid}`);
  // A have this repository lacks would make pack-objects fail; it only narrows the pack anyway.
  const haves: string[] = [];
  for (const have of request.haves) if ((await repo.revParseCommit(have)) !== null) haves.push(have);
  const input = [...request.tips, ...haves.map((have) => `^${have}`), ''].join('\n');
  const result = await runGit(['pack-objects', '--revs', '--thin', '--stdout', '--quiet', '--delta-base-offset'], { cwd: repo.gitDir, gitDir: repo.gitDir, input });
  if (result.stdout.length > request.bytesMax) return null;
  assert(result.stdout.length >= 32, 'a pack has a header and a trailer');
  return new Uint8Array(result.stdout.buffer, result.stdout.byteOffset, result.stdout.length);
}

/** What indexing a received pack gave. */
export type IndexPackResult = { readonly ok: true; readonly pack: string } | { readonly ok: false; readonly reason: string };

/**
 * Index a pack from a peer into the object store (`--strict`: every object is checked for
 * well-formedness). A pack git refuses is a returned reason, not an error: its bytes are the
 * peer's, not ours.
 */
export async function indexPack(repo: GitRepo, bytes: Uint8Array): Promise<IndexPackResult> {
  assert(bytes.length > 0, 'indexPack: some bytes');
  const result = await runGitRaw(['index-pack', '--stdin', '--fix-thin', '--strict'], { cwd: repo.gitDir, gitDir: repo.gitDir, input: bytes });
  if (result.exitCode !== 0) return { ok: false, reason: `git index-pack refused it: ${result.stderr.trim().split('\n')[0] ?? ''}` };
  // `pack\t<hash>` (or `keep\t<hash>`): the name of the pack it wrote.
  const pack = /^(?:pack|keep)\t([0-9a-f]+)$/m.exec(result.stdout.toString('utf8'))?.[1];
  if (pack === undefined) throw new AcuError('ERR_GIT_FAILED', `git index-pack printed no pack name: ${result.stdout.toString('utf8').slice(0, 200)}`);
  return { ok: true, pack };
}

/**
 * Index a pack acu built itself into the object store (`git index-pack --stdin`), which checks
 * every object as it goes. The bytes are ours, not a peer's, so git refusing them is acu's bug or
 * the disk's, and throws ERR_GIT_FAILED: unlike {@link indexPack}, no reason is returned.
 */
export async function indexOwnPack(repo: GitRepo, bytes: Uint8Array): Promise<void> {
  assert(bytes.length >= 32, 'indexOwnPack: a pack has a header and a trailer');
  await runGit(['index-pack', '--stdin'], { cwd: repo.gitDir, gitDir: repo.gitDir, input: bytes });
}

/**
 * Remove a pack {@link indexPack} wrote (a pack that did not verify). Objects in it that were
 * already in the store elsewhere stay there; the rest go with it.
 */
export async function removePack(repo: GitRepo, pack: string): Promise<void> {
  assert(/^[0-9a-f]{40,64}$/.test(pack), 'removePack: a pack hash');
  const base = join(repo.commonDir, 'objects', 'pack', `pack-${pack}`);
  for (const suffix of ['.keep', '.idx', '.rev', '.pack']) await rm(`${base}${suffix}`, { force: true });
}
