/**
 * The merge service's process entry, started detached by the first driver that finds none
 * (service-client.ts). It prints `ready <build>` on stdout once it listens (or once it finds another
 * live service of its build at the socket: that one serves), then serves until idle. The parser is
 * imported only after node's compile cache is on, so a later cold start reads compiled code.
 */
import { buildId, enableCompileCache, runtimeDirectory, serviceIdleMs, serviceSocketPath } from './service-protocol.js';

async function main(): Promise<number> {
  process.chdir('/'); // Hold no directory of the user's busy for ten minutes.
  const dir = runtimeDirectory(process.env);
  if (dir === null) return 1;
  const build = buildId();
  const socketPath = serviceSocketPath(dir, build);
  if (socketPath === null) return 1;
  await enableCompileCache(dir);
  const { startService } = await import('./service.js');
  const service = await startService({ socketPath, build, idleMs: serviceIdleMs(process.env), onStop: () => process.exit(0) });
  process.stdout.write(`ready ${build}\n`);
  if (service === null) return 0;
  const stop = (): void => void service.stop();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return -1;
}

const code = await main();
// -1: serving; the process ends from onStop.
if (code >= 0) process.stdout.write('', () => process.exit(code));
