// Client-side accounting of what each library sends to Redis, in the process
// that runs it: commands by name (scripts by name, from their SHA), and round
// trips (a pipeline or MULTI counts as one). Both libraries use ioredis, so
// patching its prototype sees everything either sends.
import { Redis } from 'ioredis';
import PipelineModule from 'ioredis/built/Pipeline.js';
const Pipeline = PipelineModule.default;

const counts = new Map();
const clients = new Set();
let roundTrips = 0;
let pipelineDepth = 0;

const origSend = Redis.prototype.sendCommand;
Redis.prototype.sendCommand = function (command, stream, node) {
  clients.add(this);
  let name = command.name;
  if ((name === 'evalsha' || name === 'eval') && command.args.length)
    name = `${name}:${name === 'evalsha' ? command.args[0] : 'inline'}`;
  counts.set(name, (counts.get(name) ?? 0) + 1);
  if (!stream && pipelineDepth === 0) roundTrips++;
  return origSend.call(this, command, stream, node);
};
const origExec = Pipeline.prototype.exec;
Pipeline.prototype.exec = function (...a) {
  roundTrips++;
  pipelineDepth++;
  try {
    return origExec.apply(this, a);
  } finally {
    pipelineDepth--;
  }
};

export function resetCounts() {
  counts.clear();
  roundTrips = 0;
}

/** { roundTrips, commands: { name: n } } with script SHAs replaced by script names. */
export function snapshotCounts() {
  const shaToName = new Map();
  for (const c of clients) {
    for (const [name, script] of Object.entries(c.scriptsSet ?? {})) if (script?.sha) shaToName.set(script.sha, name);
  }
  const commands = {};
  for (const [k, v] of counts) {
    let name = k;
    const m = /^(evalsha|eval):(.*)$/.exec(k);
    if (m) name = `script:${shaToName.get(m[2]) ?? m[2].slice(0, 8)}`;
    commands[name] = (commands[name] ?? 0) + v;
  }
  return { roundTrips, commands };
}
