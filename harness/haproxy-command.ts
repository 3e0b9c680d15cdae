// A user's own traffic scripts, as the `command` traffic provider runs them, driving a real HAProxy
// through its runtime API:
//   set-weight <host:port> <backend> <canary%>          stable gets the rest
//   get-weight <host:port> <backend>                    prints the canary's share
//   set-colour <host:port> <backend> <blue> <green> <colour>
// Absolute weights (0–100): a relative `N%` does nothing on a server that started at 0.
import { connect } from 'node:net';

function ask(address: string, line: string): Promise<string> {
  const [host, port] = address.split(':');
  return new Promise((resolve, reject) => {
    let text = '';
    const socket = connect({ host, port: Number(port) }, () => socket.end(`${line}\n`));
    socket.on('data', (chunk) => (text += chunk.toString()));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}

async function weights(address: string, backend: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const line of (await ask(address, `show servers state ${backend}`)).split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length > 7 && f[1] === backend) out[f[3] as string] = Number(f[7]);
  }
  return out;
}

async function main(): Promise<void> {
  const [command, address, backend, ...rest] = process.argv.slice(2) as [string, string, string, ...string[]];
  switch (command) {
    case 'set-weight': {
      const canary = Number(rest[0]);
      await ask(address, `set server ${backend}/canary weight ${canary}`);
      await ask(address, `set server ${backend}/stable weight ${100 - canary}`);
      process.stdout.write(`canary ${canary}%\n`);
      return;
    }
    case 'get-weight': {
      const w = await weights(address, backend);
      const total = (w.stable ?? 0) + (w.canary ?? 0);
      process.stdout.write(`${total === 0 ? 0 : Math.round(((w.canary ?? 0) / total) * 100)}\n`);
      return;
    }
    case 'set-colour': {
      const [blue, green, colour] = rest as [string, string, string];
      const [live, idle] = colour === 'blue' ? [blue, green] : [green, blue];
      await ask(address, `set server ${backend}/${live} weight 100`);
      await ask(address, `set server ${backend}/${idle} weight 0`);
      process.stdout.write(`${colour} live\n`);
      return;
    }
    default:
      throw new Error(`unknown command ${command}`);
  }
}

main().catch((err: Error) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
});
