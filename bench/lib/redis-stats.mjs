// Server-side accounting from INFO (commandstats, cpu, stats, memory), keyed
// deltas between two snapshots, and prefix-scoped cleanup and sizing.

function parseInfo(text) {
  const out = {};
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

export async function snapshot(redis) {
  const [[, cs], [, cpu], [, st], [, mem]] = await redis
    .pipeline()
    .info('commandstats')
    .info('cpu')
    .info('stats')
    .info('memory')
    .exec();
  const commands = {};
  for (const [k, v] of Object.entries(parseInfo(cs))) {
    const m = /calls=(\d+),usec=(\d+)/.exec(v);
    if (m) commands[k.replace(/^cmdstat_/, '')] = { calls: Number(m[1]), usec: Number(m[2]) };
  }
  const c = parseInfo(cpu);
  const s = parseInfo(st);
  const mm = parseInfo(mem);
  return {
    at: performance.now(),
    commands,
    cpuUsec: Math.round((Number(c.used_cpu_user) + Number(c.used_cpu_sys)) * 1e6),
    totalCommands: Number(s.total_commands_processed),
    netIn: Number(s.total_net_input_bytes),
    netOut: Number(s.total_net_output_bytes),
    usedMemory: Number(mm.used_memory),
  };
}

export function delta(a, b) {
  const commands = {};
  for (const [k, v] of Object.entries(b.commands)) {
    const p = a.commands[k] ?? { calls: 0, usec: 0 };
    const calls = v.calls - p.calls;
    if (calls > 0) commands[k] = { calls, usec: v.usec - p.usec };
  }
  return {
    ms: b.at - a.at,
    commands,
    cpuUsec: b.cpuUsec - a.cpuUsec,
    totalCommands: b.totalCommands - a.totalCommands,
    netIn: b.netIn - a.netIn,
    netOut: b.netOut - a.netOut,
  };
}

async function* scanKeys(redis, prefix) {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 2000);
    cursor = next;
    if (keys.length) yield keys;
  } while (cursor !== '0');
}

/** Deletes every key under the prefix (never FLUSHALL: this Redis is shared). Returns how many. */
export async function deletePrefix(redis, prefix) {
  let n = 0;
  for await (const keys of scanKeys(redis, prefix)) {
    await redis.unlink(...keys);
    n += keys.length;
  }
  return n;
}

/** MEMORY USAGE (exact: SAMPLES 0) summed over every key under the prefix, and the key count. */
export async function prefixMemory(redis, prefix) {
  let bytes = 0;
  let keys = 0;
  const byKind = {};
  for await (const batch of scanKeys(redis, prefix)) {
    const pipe = redis.pipeline();
    for (const k of batch) pipe.memory('USAGE', k, 'SAMPLES', 0);
    const res = await pipe.exec();
    res.forEach(([err, v], i) => {
      if (err) throw err;
      bytes += Number(v ?? 0);
      keys++;
      // group: job/result hashes by their shape, fixed keys by their suffix
      const kind = batch[i]
        .slice(prefix.length)
        .replace(/[0-9a-f-]{36}$/, '<id>')
        .replace(/:\d+$/, ':<n>');
      byKind[kind] = (byKind[kind] ?? 0) + Number(v ?? 0);
    });
  }
  return { bytes, keys, byKind };
}

/** Commands per second this Redis serves while the benchmark is idle (other users of the shared server). */
export async function backgroundRate(redis, ms = 2000) {
  const a = await snapshot(redis);
  await new Promise((r) => setTimeout(r, ms));
  const b = await snapshot(redis);
  // minus the 4 INFO calls of the snapshot itself
  return Math.max(0, ((b.totalCommands - a.totalCommands - 4) * 1000) / (b.at - a.at));
}
