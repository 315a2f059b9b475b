/**
 * A conflict's sides do not depend on the order a round's leader gave its batch: `keep-a` read in
 * `acu status` during one round names the same ACU in the next round, whatever its leader's
 * order. Which side the batch lists first is kept apart (`earlier`), for `prefer-earlier`.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildFixtureRepo } from '../../fixtures/builder.js';
import type { FixtureSpec } from '../../fixtures/builder.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { GitRepo } from '../../src/git/index.js';
import { validateRecords } from '../../src/sync/batch.js';
import { nodeIdOf } from '../../src/store/identity.js';
import { recordsOfCommit } from '../../src/sync/records.js';
import type { IdentifiedRecord, RecordSigner } from '../../src/sync/records.js';
import { jsBitsetBackend } from '../../src/validate/scoring/js-bitset.js';
import { Validator } from '../../src/validate/validate.js';

process.env.GIT_CONFIG_NOSYSTEM = '1';
process.env.GIT_CONFIG_GLOBAL = '/dev/null';

function signerFor(site: string): RecordSigner {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(12).toString('hex');
  const identity = { id: nodeIdOf(raw), publicKey: raw, privateKey };
  return { identity, member: { id: identity.id, publicKey: raw, address: 'ws://127.0.0.1:7701', site, priority: 0 } };
}

const read = (body: string): string => `export class Store {\n  read(key: string): string {\n    return ${body};\n  }\n}\n`;

const spec: FixtureSpec = {
  commits: [
    { id: 'base', date: '2024-06-01T10:00:00+00:00', files: { 'src/store.ts': read('key') } },
    { id: 'paris', branch: 'paris', parents: ['base'], date: '2024-06-02T10:00:00+00:00', files: { 'src/store.ts': read('key.trimEnd()') } },
    { id: 'tokyo', branch: 'tokyo', parents: ['base'], date: '2024-06-02T11:00:00+00:00', files: { 'src/store.ts': read('key.toUpperCase()') } },
  ],
};

let top = '';
let repo: GitRepo;
let oids: Record<string, string> = {};
let validator: Validator;

before(async () => {
  top = await makeTempDir('conflict-sides');
  oids = (await buildFixtureRepo(join(top, 'repo'), spec)).oids;
  repo = await GitRepo.open(join(top, 'repo'));
  validator = new Validator(jsBitsetBackend());
});
after(async () => {
  validator.dispose();
  await repo.close();
  await removeTempDir(top);
});

describe('conflict sides', () => {
  for (const mode of ['parse', 'typecheck'] as const) {
    it(`are the same in either batch order, with the earlier side marked (${mode})`, async () => {
      const paris = await recordsOfCommit(repo, oids.paris!, signerFor('paris'));
      const tokyo = await recordsOfCommit(repo, oids.tokyo!, signerFor('tokyo'));
      const verdict = async (records: IdentifiedRecord[]): Promise<NonNullable<Awaited<ReturnType<typeof validateRecords>>>> => {
        const found = await validateRecords(repo, oids.base!, records, { mode, validator });
        assert.ok(found !== null, 'a verdict');
        return found;
      };
      const parisFirst = await verdict([...paris, ...tokyo]);
      const tokyoFirst = await verdict([...tokyo, ...paris]);
      assert.equal(parisFirst.conflicts.length, 1, 'the two edits of read() conflict');
      assert.deepEqual(tokyoFirst.consensus.conflicts, parisFirst.consensus.conflicts, 'the same sides in both orders');
      const [{ a, b }] = parisFirst.consensus.conflicts as [{ a: string; b: string }];
      assert.ok(a < b, 'a is the smaller ACU id');
      const parisId = paris.find((r) => r.id === a || r.id === b)!.id;
      assert.equal(parisFirst.conflicts[0]!.earlier, parisId === a ? 'a' : 'b', "paris's side is earlier when paris leads the batch");
      assert.equal(tokyoFirst.conflicts[0]!.earlier, parisId === a ? 'b' : 'a', "tokyo's side is earlier when tokyo leads the batch");
    });
  }
});
