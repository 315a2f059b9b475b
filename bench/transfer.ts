/**
 * `node dist/bench/transfer.js [heights]`: state transfer on the chain port (docs/sync.md, "State
 * transfer"). Builds a source repository with `heights` agreed commits (default 1,000; one record
 * each, real certificates from a 4-member cluster), then times what a node catching up from zero
 * does: the peer's pack (`packAgreed`), indexing it (`unpack`), checking every certificate
 * (`checkAgreed`) and moving the refs (`adoptAgreed`). Prints heights per second of the whole.
 * The network is not in it: over loopback the chunks add little next to the check. CPU: this
 * process's and that of the git processes it waited for (the long-lived cat-file ones included,
 * since they end at close), from the pack to the close, per height.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildFixtureRepo } from '../fixtures/builder.js';
import { makeTempDir, removeTempDir } from '../fixtures/tmp.js';
import { genesisParent, valueIdOf } from '../src/core/consensus/index.js';
import { runGit } from '../src/git/exec.js';
import { GitRepo } from '../src/git/index.js';
import type { ClusterDoc } from '../src/store/cluster.js';
import { initIdentity } from '../src/store/identity.js';
import type { NodeIdentity } from '../src/store/identity.js';
import { agreedRef } from '../src/sync/agreed.js';
import { GitChain } from '../src/sync/chain.js';
import { sha256Hex } from '../src/sync/crypto.js';
import { commitClusterDoc, writeAgreedStep } from '../test/support/agreed-chain.js';
import { childrenCpuMs } from './git-children.js';

const heights = Number(process.argv[2] ?? 1000);
if (!Number.isSafeInteger(heights) || heights < 1) throw new Error('usage: transfer.js [heights]');

const top = await makeTempDir('bench-transfer');
try {
  const replicas: NodeIdentity[] = [];
  for (const name of ['k0', 'k1', 'k2', 'k3']) {
    await runGit(['init', '-q', join(top, name)], { cwd: top, gitDir: null });
    replicas.push((await initIdentity(join(top, name, '.git'))).identity);
  }
  replicas.sort((a, b) => (a.id < b.id ? -1 : 1));
  const cluster: ClusterDoc = {
    version: 1, branch: 'main',
    members: replicas.map((identity, i) => ({ id: identity.id, publicKey: identity.publicKey, address: `ws://127.0.0.1:${7701 + i}`, site: `s${i}`, priority: i })),
  };
  const source = join(top, 'source');
  const { oids } = await buildFixtureRepo(source, { commits: [{ id: 'root', message: 'The project', files: { 'README.md': '# p\n' } }] });
  const repo = await GitRepo.open(source);
  const genesis = await commitClusterDoc(repo, oids.root!, cluster);
  await repo.updateRef('refs/heads/main', genesis);
  const building = performance.now();
  let parentCommit = genesis;
  let parentValue = genesisParent;
  for (let height = 0; height < heights; height += 1) {
    const { commit, cert } = await writeAgreedStep(repo, cluster, replicas, { height, parentCommit, parentValue, records: [], signers: [0, 1, 2] });
    parentCommit = commit;
    parentValue = valueIdOf({ digestHex: sha256Hex }, cert.value);
  }
  await repo.updateRef(agreedRef('main'), parentCommit);
  await repo.close();
  console.log(`built ${heights} agreed heights in ${Math.round(performance.now() - building)} ms`);

  const target = join(top, 'target');
  await runGit(['clone', '-q', '--single-branch', '-b', 'main', '--no-tags', source, target], { cwd: top, gitDir: null });
  await runGit(['update-ref', '-d', agreedRef('main')], { cwd: target, gitDir: null, okExitCodes: [0, 1] });
  const signer = { identity: replicas[0]!, member: cluster.members[0]! };
  const serving = new GitChain(await GitRepo.open(source), 'parse', null, signer);
  const receiving = new GitChain(await GitRepo.open(target), 'parse', null, signer);
  const cpu0 = process.cpuUsage();
  const children0 = childrenCpuMs();
  const t0 = performance.now();
  const packed = await serving.packAgreed(parentCommit, [genesis], 256 * 1024 * 1024);
  if (packed === null) throw new Error('no pack');
  const t1 = performance.now();
  const indexed = await receiving.unpack(packed.bytes);
  if (!indexed.ok) throw new Error(indexed.reason);
  const t2 = performance.now();
  const check = await receiving.checkAgreed(packed.tips, { commit: genesis, height: -1 }, heights);
  if (!check.ok) throw new Error(check.problem);
  const t3 = performance.now();
  await receiving.adoptAgreed('main', packed.tips);
  const t4 = performance.now();
  await serving.close();
  await receiving.close();
  const used = process.cpuUsage(cpu0);
  const cpuMs = (used.user + used.system) / 1000 + (childrenCpuMs() - children0);
  const ms = (a: number, b: number): number => Math.round(b - a);
  console.log(`bench:transfer heights=${heights} pack_bytes=${packed.bytes.length} pack_ms=${ms(t0, t1)} index_ms=${ms(t1, t2)} check_ms=${ms(t2, t3)} adopt_ms=${ms(t3, t4)} heights_per_s=${(heights / ((t4 - t0) / 1000)).toFixed(1)} cpu_ms_per_height=${(cpuMs / heights).toFixed(2)}`);
} finally {
  await removeTempDir(top);
}
