import assert from 'node:assert/strict';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { buildFixtureRepo } from '../../fixtures/builder.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { bufferIo } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/main.js';
import { serviceUnitText, unitNameOf } from '../../src/cli/node-service.js';
import type { ServiceUnitSpec } from '../../src/cli/node-service.js';
import { launcherPath } from '../../src/git/launcher.js';

let top = '';
/** A member's clone: `acu init`, a one-member wss:// cluster with its pin. */
let member = '';
let rootCommit = '';

async function cli(cwd: string, env: Record<string, string | undefined>, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = bufferIo(cwd, env);
  const code = await runCli(args, io);
  return { code, out: io.out(), err: io.err() };
}

/** A unit file as systemd reads it: sections of `key=value` lines; comments and blank lines skipped. */
function parseUnit(text: string): Map<string, [string, string][]> {
  const sections = new Map<string, [string, string][]>();
  let current: [string, string][] | null = null;
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header !== null) {
      current = [];
      sections.set(header[1]!, current);
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(current !== null && eq > 0, `a setting inside a section: ${line}`);
    current.push([line.slice(0, eq), line.slice(eq + 1)]);
  }
  return sections;
}

function setting(unit: Map<string, [string, string][]>, section: string, key: string): string | undefined {
  const values = (unit.get(section) ?? []).filter(([k]) => k === key).map(([, v]) => v);
  assert.ok(values.length <= 1, `${key} is set once`);
  return values[0];
}

/** Split a command line as systemd does: double-quoted words with \\ and \" escapes; %% and $$ undone. */
function systemdWords(line: string): string[] {
  const words: string[] = [];
  const pattern = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (const match of line.matchAll(pattern)) {
    const raw = match[1] !== undefined ? match[1].replace(/\\(.)/g, '$1') : match[2]!;
    words.push(raw.replace(/%%/g, '%').replace(/\$\$/g, '$'));
  }
  return words;
}

before(async () => {
  top = await makeTempDir('node-service');
  member = join(top, 'paris');
  const built = await buildFixtureRepo(member, { commits: [{ id: 'root', files: { 'README.md': 'x\n' } }] });
  rootCommit = built.oids.root!;
  assert.equal((await cli(member, {}, 'init')).code, 0);
  const created = await cli(member, {}, 'cluster', 'create', '--address', 'wss://paris.example:7401', '--site', 'paris');
  assert.equal(created.code, 0, created.err);
  await mkdir(join(member, 'pki'));
  for (const name of ['node.pem', 'node.key', 'ca.pem']) await writeFile(join(member, 'pki', name), '-----BEGIN X-----\n');
});
after(async () => {
  await removeTempDir(top);
});

it('acu node service prints a system unit that runs the node in the foreground, restarted, hardened', async () => {
  const printed = await cli(member, { PATH: '/usr/local/bin:/usr/bin' }, 'node', 'service', '--', '--listen', '0.0.0.0:7401', '--genesis', 'HEAD');
  assert.equal(printed.code, 0, printed.err);
  const unit = parseUnit(printed.out);
  assert.deepEqual([...unit.keys()], ['Unit', 'Service', 'Install']);
  const exec = systemdWords(setting(unit, 'Service', 'ExecStart') ?? '');
  assert.deepEqual(exec, [process.execPath, launcherPath(), 'node', 'start', '--listen', '0.0.0.0:7401', '--genesis', rootCommit]);
  assert.ok(!exec.includes('--detach'));
  assert.equal(setting(unit, 'Service', 'WorkingDirectory'), member);
  assert.equal(setting(unit, 'Service', 'Restart'), 'on-failure');
  assert.match(setting(unit, 'Service', 'RestartSec') ?? '', /^[1-9]\d*s$/);
  assert.equal(setting(unit, 'Service', 'Type'), 'simple');
  assert.equal(setting(unit, 'Service', 'StandardOutput'), 'journal');
  assert.equal(setting(unit, 'Service', 'StandardError'), 'journal');
  assert.equal(setting(unit, 'Service', 'SyslogIdentifier'), 'acu-node-paris');
  assert.equal(setting(unit, 'Service', 'Environment'), 'PATH=/usr/local/bin:/usr/bin');
  assert.match(setting(unit, 'Service', 'User') ?? '', /^\S+$/);
  assert.equal(setting(unit, 'Service', 'NoNewPrivileges'), 'yes');
  assert.equal(setting(unit, 'Service', 'ProtectSystem'), 'full');
  assert.equal(setting(unit, 'Service', 'ProtectHome'), 'read-only');
  assert.equal(setting(unit, 'Service', 'MemoryDenyWriteExecute'), undefined, "V8's JIT needs writable code pages");
  // The node writes objects, refs, notes and its log: the repository stays writable.
  assert.deepEqual(systemdWords(setting(unit, 'Service', 'ReadWritePaths') ?? ''), [member]);
  assert.equal(setting(unit, 'Unit', 'After'), 'network-online.target');
  assert.equal(setting(unit, 'Install', 'WantedBy'), 'multi-user.target');
  assert.match(printed.err, /^hint: save it as \/etc\/systemd\/system\/acu-node-paris\.service /m);
  assert.equal(setting(unit, 'Service', 'PrivateTmp'), member.startsWith('/tmp/') ? undefined : 'yes', 'a private /tmp would hide a repository in /tmp');
});

it("acu node service makes an operator's TLS files absolute, and checks them as node start would", async () => {
  const sub = join(member, 'pki');
  const printed = await cli(sub, {}, 'node', 'service', '--user', '--', '--tls-cert=node.pem', '--tls-key', 'node.key', '--tls-ca', 'ca.pem');
  assert.equal(printed.code, 0, printed.err);
  const exec = systemdWords(setting(parseUnit(printed.out), 'Service', 'ExecStart') ?? '');
  assert.deepEqual(exec.slice(4), ['--tls-cert', join(sub, 'node.pem'), '--tls-key', join(sub, 'node.key'), '--tls-ca', join(sub, 'ca.pem')]);
  const missing = await cli(member, {}, 'node', 'service', '--', '--tls-cert', 'nope.pem', '--tls-key', 'pki/node.key', '--tls-ca', 'pki/ca.pem');
  assert.equal(missing.code, 128);
  assert.match(missing.err, /^error: --tls-cert: cannot read .*nope\.pem$/m);
  assert.match(missing.err, /^hint: /m);
});

it('acu node service --user --install writes the unit under XDG_CONFIG_HOME, and replaces only its own', async () => {
  const config = join(top, 'xdg');
  const env = { XDG_CONFIG_HOME: config, HOME: join(top, 'no-such-home') };
  const installed = await cli(member, env, 'node', 'service', '--user', '--install');
  assert.equal(installed.code, 0, installed.err);
  const path = join(config, 'systemd', 'user', 'acu-node-paris.service');
  assert.match(installed.err, /^wrote .*acu-node-paris\.service$/m);
  assert.match(installed.err, /^hint: 'systemctl --user daemon-reload && systemctl --user enable --now acu-node-paris\.service'/m);
  assert.equal(installed.out, '', '--install alone prints nothing on stdout');
  const text = await readFile(path, 'utf8');
  assert.equal((await stat(path)).mode & 0o777, 0o644);
  const unit = parseUnit(text);
  assert.equal(setting(unit, 'Install', 'WantedBy'), 'default.target');
  assert.equal(setting(unit, 'Service', 'User'), undefined, 'a user unit runs as its user');
  assert.equal(setting(unit, 'Service', 'ProtectSystem'), undefined, 'needs user namespaces in a user manager');
  assert.equal(setting(unit, 'Unit', 'After'), undefined);
  assert.equal(setting(unit, 'Service', 'NoNewPrivileges'), 'yes');
  assert.equal(setting(unit, 'Service', 'Restart'), 'on-failure');
  const printed = await cli(member, env, 'node', 'service', '--user', '--print');
  assert.equal(printed.out, text, '--print shows what --install writes');

  const again = await cli(member, env, 'node', 'service', '--user', '--install');
  assert.match(again.err, /^unchanged: /m);
  await writeFile(path, '[Service]\nExecStart=/bin/true\n');
  const foreign = await cli(member, env, 'node', 'service', '--user', '--install');
  assert.equal(foreign.code, 128);
  assert.match(foreign.err, /^error: .*acu-node-paris\.service exists and is not acu's unit for this repository$/m);
  assert.match(foreign.err, /^hint: /m);
  assert.equal(await readFile(path, 'utf8'), '[Service]\nExecStart=/bin/true\n', 'nothing is overwritten');

  const home = join(top, 'home');
  const byHome = await cli(member, { HOME: home }, 'node', 'service', '--user', '--install');
  assert.equal(byHome.code, 0, byHome.err);
  assert.equal(await readFile(join(home, '.config', 'systemd', 'user', 'acu-node-paris.service'), 'utf8'), text);
});

it('acu node service refuses with error and hint where no node could run', async () => {
  const plain = join(top, 'plain');
  await mkdir(plain);
  const notRepo = await cli(plain, {}, 'node', 'service');
  assert.equal(notRepo.code, 128);
  assert.match(notRepo.err, /^error: .* is not in a git repository$/m);
  assert.match(notRepo.err, /^hint: /m);

  const fresh = join(top, 'fresh');
  await buildFixtureRepo(fresh, { commits: [{ id: 'root', files: { 'README.md': 'x\n' } }] });
  const noDoc = await cli(fresh, {}, 'node', 'service', '--user');
  assert.equal(noDoc.code, 128);
  assert.match(noDoc.err, /^error: there is no cluster document at .*: a service runs the node of a cluster member$/m);
  assert.match(noDoc.err, /^hint: pull the committed \.acu\/cluster\.json, or start a cluster with 'acu cluster create'$/m);

  await mkdir(join(fresh, '.acu'));
  await writeFile(join(fresh, '.acu', 'cluster.json'), await readFile(join(member, '.acu', 'cluster.json')));
  const noKey = await cli(fresh, {}, 'node', 'service');
  assert.equal(noKey.code, 128);
  assert.match(noKey.err, /^error: this repository has no acu node key/m);
  assert.match(noKey.err, /^hint: create one with 'acu init'$/m);

  const init = await cli(fresh, {}, 'init', '--json');
  const { publicKey } = JSON.parse(init.out) as { publicKey: string };
  const notMember = await cli(fresh, {}, 'node', 'service', '--user');
  assert.equal(notMember.code, 128);
  assert.match(notMember.err, /^error: this node \(n[0-9a-f]{16}\) is not a member of the cluster document/m);
  assert.match(notMember.err, new RegExp(`^hint: ask a member to run 'acu cluster add ${publicKey} wss://`, 'm'));
  assert.equal(notMember.out, '', 'no unit is printed');
});

it("acu node service refuses a certificate the document does not pin, as the node's start would", async () => {
  const doc = JSON.parse(await readFile(join(member, '.acu', 'cluster.json'), 'utf8')) as { members: { tlsPin: string }[] };
  const original = JSON.stringify(doc, null, 2);
  const wrongPin = { ...doc, members: doc.members.map((m) => ({ ...m, tlsPin: 'ab'.repeat(32) })) };
  await writeFile(join(member, '.acu', 'cluster.json'), JSON.stringify(wrongPin));
  try {
    const refused = await cli(member, {}, 'node', 'service');
    assert.equal(refused.code, 128);
    assert.match(refused.err, /^error: this node's TLS certificate \(pin [0-9a-f]{64}\) is not the one the cluster document pins for it/m);
    assert.match(refused.err, /^hint: /m);
  } finally {
    await writeFile(join(member, '.acu', 'cluster.json'), `${original}\n`);
  }
});

it('acu node service refuses bad usage with exit 129', async () => {
  const cases: [string[], RegExp][] = [
    [['service', '--install'], /^error: node service: --install writes a user unit \(with --user\)/m],
    [['service', 'extra'], /^error: node service: unexpected argument 'extra'$/m],
    [['service', '--bogus'], /^error: node service: /m],
    [['service', '--', '--detach'], /^error: node service: --detach: systemd runs the node/m],
    [['service', '--', '--validation', 'none'], /^error: node: --validation is 'parse' or 'typecheck'/m],
  ];
  for (const [args, message] of cases) {
    const result = await cli(member, {}, 'node', ...args);
    assert.equal(result.code, 129, args.join(' '));
    assert.match(result.err, message);
    assert.match(result.err, /^hint: run 'acu node/m);
  }
  const outside = await cli(top, {}, 'node', 'service', '--', '--detach');
  assert.equal(outside.code, 129, 'a usage error shows before the repository is looked at');
  const help = await cli(member, {}, 'node', '--help');
  assert.match(help.out, /node service \[--user\] \[--print\] \[--install\]/);
  assert.match(help.out, /^ {2}acu node service --user --install -- --listen 0\.0\.0\.0:7401$/m, 'the service help');
  assert.match(help.out, /^stop asks the running node to stop/m);
});

it('a unit quotes paths with spaces, quotes, $ and % so that systemd reads them back whole', () => {
  const odd = '/srv/my repo "x" $HOME 100%';
  const spec: ServiceUnitSpec = {
    scope: 'system', name: unitNameOf('paris west/2'), site: 'paris west/2', nodeId: 'n0123456789abcdef', workTree: odd, gitDirs: [`${odd}/.git`, '/srv/shared.git'],
    execArgs: ['/usr/bin/node', `${odd}/bin/acu.js`, 'node', 'start', '--tls-ca', '/etc/acu/ca 1.pem'], path: '/opt/my bin:/usr/bin', account: { user: 'acu', group: '1000' },
  };
  assert.equal(spec.name, 'acu-node-paris-west-2.service');
  const unit = parseUnit(serviceUnitText(spec));
  assert.deepEqual(systemdWords(setting(unit, 'Service', 'ExecStart') ?? ''), spec.execArgs);
  assert.equal(setting(unit, 'Service', 'WorkingDirectory'), odd.replace('%', '%%'), 'a whole-line path: only % is escaped');
  assert.deepEqual(systemdWords(setting(unit, 'Service', 'ReadWritePaths') ?? ''), [odd, '/srv/shared.git'], 'a git dir inside the work tree is already writable');
  assert.deepEqual(systemdWords(setting(unit, 'Service', 'Environment') ?? ''), ['PATH=/opt/my bin:/usr/bin']);
  assert.equal(setting(unit, 'Service', 'Group'), '1000');
  assert.equal(setting(unit, 'Service', 'PrivateTmp'), 'yes');
  const inTmp = parseUnit(serviceUnitText({ ...spec, workTree: '/var/tmp/repo', gitDirs: ['/var/tmp/repo/.git'] }));
  assert.equal(setting(inTmp, 'Service', 'PrivateTmp'), undefined, 'a private /tmp would hide the repository');
});
