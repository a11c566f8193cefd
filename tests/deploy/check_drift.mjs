// The deploy files cannot drift from the code: every flag, environment
// variable, port and probe path that docker-compose.yml, deploy/Dockerfile
// and deploy/k8s use must exist in the binaries, as their --help and their
// running admin server report them; and the runtime image installs exactly
// the Debian packages of the shared libraries the binaries it copies load.
//
//   node check_drift.mjs REPO_DIR CHANNEL_BROKER_BIN WS_GATEWAY_BIN [CHANNEL_CLI_BIN]
import { spawnSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { get } from 'node:http';
import { parse } from 'yaml';
import { render } from './validate_k8s.mjs';

const [repo, brokerBin, gatewayBin, cliBin, webhookModule] = process.argv.slice(2);
if (!repo || !brokerBin || !gatewayBin) {
  console.error('usage: check_drift.mjs REPO_DIR CHANNEL_BROKER_BIN WS_GATEWAY_BIN [CHANNEL_CLI_BIN]');
  process.exit(2);
}
const failures = [];
const fail = (msg) => failures.push(msg);

// --help: "--name (text); default: value;"
function flagsOf(bin) {
  // Abseil's --help exits with status 1; the text is what matters.
  const help = spawnSync(bin, ['--help'], { encoding: 'utf8' }).stdout || '';
  const flags = new Map();
  const re = /--([a-z0-9_]+) \(([\s\S]*?)\);\s+default: ("?)(.*?)\3;/g;
  let m;
  while ((m = re.exec(help))) flags.set(m[1], m[4]);
  if (flags.size < 5) throw new Error(`could not read the flags of ${bin}`);
  return flags;
}
const binaries = {
  broker: { bin: brokerBin, flags: flagsOf(brokerBin) },
  gateway: { bin: gatewayBin, flags: flagsOf(gatewayBin) },
};

// Which binary a setting belongs to, and its effective value.
function checkEnv(kind, env, where) {
  const { flags } = binaries[kind];
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('CHANNEL_')) { fail(`${where}: ${name} is not a CHANNEL_ variable`); continue; }
    const flag = name.slice('CHANNEL_'.length).toLowerCase();
    if (!flags.has(flag)) fail(`${where}: ${name} sets --${flag}, which ${kind} does not have`);
  }
}
function checkArgs(kind, args = [], where) {
  for (const arg of args) {
    const m = /^--([a-z0-9_-]+)/.exec(arg);
    if (m && !binaries[kind].flags.has(m[1].replace(/-/g, '_'))) {
      fail(`${where}: argument ${arg} is not a flag of ${kind}`);
    }
  }
}
const effective = (kind, env, flag) =>
  env[`CHANNEL_${flag.toUpperCase()}`] ?? binaries[kind].flags.get(flag);
const kindOfImage = (image) => (image.includes('broker') ? 'broker' : 'gateway');

// The admin routes the binaries really serve (started on free loopback ports).
async function adminRoutes(kind) {
  const { bin } = binaries[kind];
  const child = spawn(bin, ['--listen=127.0.0.1', '--port=0', '--admin_listen=127.0.0.1',
    '--admin_port=0', '--broker=127.0.0.1:1'].filter((a) => kind === 'gateway' || !a.startsWith('--broker')),
  { stdio: ['ignore', 'ignore', 'pipe'] });
  const port = await new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`${kind}: no admin port:\n${log}`)), 10000);
    child.stderr.on('data', (d) => {
      log += d;
      const m = /admin listening on [0-9.]+:([0-9]+)/.exec(log);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
  });
  const status = (path) => new Promise((resolve) => {
    get({ host: '127.0.0.1', port, path }, (res) => { res.resume(); resolve(res.statusCode); })
        .on('error', () => resolve(0));
  });
  const served = new Map();
  for (const path of ['/healthz', '/readyz', '/metrics', '/no-such-route']) {
    served.set(path, await status(path));
  }
  child.kill('SIGKILL');
  if (served.get('/no-such-route') !== 404) fail(`${kind}: unknown admin path not answered 404`);
  return (path) => [200, 503].includes(served.get(path));
}
const routes = { broker: await adminRoutes('broker'), gateway: await adminRoutes('gateway') };

// --- Kubernetes: the one-broker layout and the cluster layout ---
let objectCount = 0;
for (const layout of ['deploy/k8s', 'deploy/k8s-cluster']) {
const objects = render(join(repo, layout));
objectCount += objects.length;
const configMaps = new Map(objects.filter((o) => o.kind === 'ConfigMap').map((o) => [o.metadata.name, o.data || {}]));
const services = objects.filter((o) => o.kind === 'Service');
for (const dep of objects.filter((o) => o.kind === 'Deployment')) {
  for (const c of dep.spec.template.spec.containers) {
    if (c.image.includes('nats')) continue;  // not one of our binaries
    const kind = kindOfImage(c.image);
    const where = `k8s ${dep.metadata.name}/${c.name}`;
    const env = {};
    for (const from of c.envFrom || []) {
      const data = configMaps.get(from.configMapRef?.name);
      if (!data) { fail(`${where}: envFrom names missing ConfigMap ${from.configMapRef?.name}`); continue; }
      Object.assign(env, data);
    }
    for (const e of c.env || []) env[e.name] = e.value ?? '(from secret)';
    checkEnv(kind, env, where);
    checkArgs(kind, c.args, where);
    const ports = new Map((c.ports || []).map((p) => [p.name, p.containerPort]));
    const clientPort = Number(effective(kind, env, 'port'));
    const adminPort = Number(effective(kind, env, 'admin_port'));
    if (![...ports.values()].includes(clientPort)) fail(`${where}: no containerPort ${clientPort} (its --port)`);
    if (![...ports.values()].includes(adminPort)) fail(`${where}: no containerPort ${adminPort} (its --admin_port)`);
    for (const probeName of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
      const probe = c[probeName];
      if (!probe) continue;
      const port = typeof probe.httpGet?.port === 'string' ? ports.get(probe.httpGet.port) : probe.httpGet?.port;
      if (port !== adminPort) fail(`${where}: ${probeName} targets port ${probe.httpGet?.port}, not the admin port ${adminPort}`);
      if (!routes[kind](probe.httpGet?.path)) fail(`${where}: ${probeName} path ${probe.httpGet?.path} is not served by ${kind}`);
    }
    if (kind === 'gateway') {
      for (const item of String(effective(kind, env, 'broker')).split(',')) {
        const [host, port] = item.split(':');
        const svc = services.find((s) => s.metadata.name === host);
        if (!svc) fail(`${where}: --broker host ${host} is not a Service`);
        else if (!svc.spec.ports.some((p) => p.port === Number(port))) fail(`${where}: Service ${host} has no port ${port}`);
      }
    }
    if (kind === 'broker' && env.CHANNEL_NATS) {
      for (const url of env.CHANNEL_NATS.split(',')) {
        const m = /^nats:\/\/([^.:]+)-[0-9]+\.([^.:]+):([0-9]+)$/.exec(url);
        const svc = m && services.find((s) => s.metadata.name === m[2]);
        if (!svc) fail(`${where}: --nats ${url} names no headless Service of a StatefulSet`);
        else if (!svc.spec.ports.some((p) => p.port === Number(m[3]))) fail(`${where}: Service ${m[2]} has no port ${m[3]}`);
      }
    }
  }
}
for (const svc of services) {
  const pods = objects.filter((o) => (o.kind === 'Deployment' || o.kind === 'StatefulSet') &&
      Object.entries(svc.spec.selector).every(([k, v]) => o.spec.template.metadata.labels[k] === v));
  if (!pods.length) fail(`k8s Service ${svc.metadata.name} selects no Deployment`);
  for (const p of svc.spec.ports) {
    const names = pods.flatMap((d) => d.spec.template.spec.containers.flatMap((c) => (c.ports || []).map((q) => q.name)));
    if (typeof p.targetPort === 'string' && !names.includes(p.targetPort)) {
      fail(`k8s Service ${svc.metadata.name}: targetPort ${p.targetPort} is no container port name`);
    }
  }
}
const gwDep = objects.find((o) => o.kind === 'Deployment' && o.spec.template.spec.containers.some((c) => kindOfImage(c.image) === 'gateway'));
if (gwDep) {
  const grace = gwDep.spec.template.spec.terminationGracePeriodSeconds * 1000;
  const c = gwDep.spec.template.spec.containers.find((x) => kindOfImage(x.image) === 'gateway');
  const env = Object.assign({}, ...(c.envFrom || []).map((f) => configMaps.get(f.configMapRef.name) || {}));
  const shutdown = Number(effective('gateway', env, 'shutdown_grace_ms'));
  const preStop = Number((c.lifecycle?.preStop?.exec?.command || []).find((x) => /^[0-9]+$/.test(x)) || 0) * 1000;
  if (preStop + shutdown >= grace) fail(`k8s gateway: preStop ${preStop} ms + shutdown grace ${shutdown} ms do not fit in terminationGracePeriodSeconds ${grace / 1000}`);
}
}

// --- docker-compose.yml ---
const compose = parse(readFileSync(join(repo, 'docker-compose.yml'), 'utf8'), { merge: true });
const expand = (v) => String(v).replace(/\$\{[A-Z0-9_]+:-([^}]*)\}/g, '$1');
for (const [name, svc] of Object.entries(compose.services)) {
  const kind = svc.build?.target === 'broker' || (svc.image || '').includes('broker') ? 'broker' : 'gateway';
  const env = Object.fromEntries(Object.entries(svc.environment || {}).map(([k, v]) => [k, expand(v)]));
  checkEnv(kind, env, `compose ${name}`);
  checkArgs(kind, Array.isArray(svc.command) ? svc.command : [], `compose ${name}`);
  const adminPort = effective(kind, env, 'admin_port');
  const hc = (svc.healthcheck?.test || []).join(' ');
  if (!hc.includes(` ${adminPort}`)) fail(`compose ${name}: healthcheck "${hc}" does not probe admin port ${adminPort}`);
  for (const p of svc.ports || []) {
    const target = expand(p).split(':').pop();
    if (target !== String(effective(kind, env, 'port'))) fail(`compose ${name}: publishes container port ${target}, but --port is ${effective(kind, env, 'port')}`);
  }
  if (kind === 'gateway') {
    const [host, port] = effective(kind, env, 'broker').split(':');
    const b = compose.services[host];
    if (!b) fail(`compose ${name}: --broker host ${host} is not a service`);
    else if (String(effective('broker', Object.fromEntries(Object.entries(b.environment || {}).map(([k, v]) => [k, expand(v)])), 'port')) !== port) {
      fail(`compose ${name}: --broker port ${port} is not the broker's --port`);
    }
  }
}

// --- deploy/Dockerfile: EXPOSE and HEALTHCHECK ports are the defaults ---
const dockerfile = readFileSync(join(repo, 'deploy/Dockerfile'), 'utf8');
for (const [kind, stage] of [['broker', 'broker'], ['gateway', 'gateway']]) {
  const m = new RegExp(`FROM runtime AS ${stage}([\\s\\S]*?)(?=\\nFROM |$)`).exec(dockerfile);
  if (!m) { fail(`Dockerfile: no stage ${stage}`); continue; }
  const body = m[1];
  const { flags } = binaries[kind];
  const expose = /EXPOSE ([0-9 ]+)/.exec(body)?.[1].trim().split(/\s+/) || [];
  for (const flag of ['port', 'admin_port']) {
    if (!expose.includes(flags.get(flag))) fail(`Dockerfile ${stage}: EXPOSE lacks the default --${flag} ${flags.get(flag)}`);
  }
  if (!body.includes(`"channel-healthcheck", "${flags.get('admin_port')}"`)) {
    fail(`Dockerfile ${stage}: HEALTHCHECK does not probe the default admin port ${flags.get('admin_port')}`);
  }
}

// --- deploy/Dockerfile: the runtime stage's packages ---
// The Debian package of every shared library a binary names (DT_NEEDED;
// apt brings their own dependencies), found with readelf, ldd and one
// dpkg -S for all of them. Packages of debian:bookworm-slim itself need not
// be listed.
const kBaseImage = new Set(['libc6', 'libstdc++6', 'libgcc-s1']);
const librariesOf = new Map();  // soname -> the path ldd resolves it to
// The broker's webhook module (loaded with --webhook_url) counts as a
// binary: the image must carry it where the broker looks, ../lib/channel
// from /usr/local/bin, and the libraries it loads.
if (webhookModule) {
  const name = webhookModule.slice(webhookModule.lastIndexOf('/') + 1);
  if (!new RegExp(`COPY --from=build \\S*${name.replace(/[.]/g, '\\.')} /usr/local/lib/channel/`).test(dockerfile)) {
    fail(`Dockerfile: does not copy ${name} to /usr/local/lib/channel/ (the broker loads it from ../lib/channel)`);
  }
}
for (const bin of [brokerBin, gatewayBin, cliBin, webhookModule].filter(Boolean)) {
  const dynamic = spawnSync('readelf', ['-d', bin], { encoding: 'utf8' }).stdout || '';
  // Sanitizer builds (tests only, never an image) also load their runtime.
  const needed = [...dynamic.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)]
    .map((m) => m[1]).filter((soname) => !/^lib(asan|ubsan|tsan|lsan)\.so/.test(soname));
  if (!needed.length) throw new Error(`readelf found no NEEDED entries in ${bin}`);
  const ldd = spawnSync('ldd', [bin], { encoding: 'utf8' }).stdout || '';
  for (const soname of needed) {
    const path = new RegExp(`^\\s*${soname.replace(/[.+]/g, '\\$&')} => (\\S+)`, 'm').exec(ldd)?.[1];
    if (path) librariesOf.set(soname, path);
    else fail(`${bin}: ldd does not resolve ${soname}`);
  }
}
// Debian merges /lib into /usr/lib: paths are compared without /usr.
const unmerged = (p) => p.replace(/^\/usr\//, '/');
const owned = new Map();  // unmerged path -> package
const dpkg = spawnSync('dpkg', ['-S', ...[...librariesOf.keys()].map((s) => `*/${s}`)],
  { encoding: 'utf8' }).stdout || '';
for (const m of dpkg.matchAll(/^([^:\n]+)(?::\S+)?: (.*)$/gm)) owned.set(unmerged(m[2]), m[1]);
const needed = new Map();  // package -> sonames
for (const [soname, path] of librariesOf) {
  const pkg = owned.get(unmerged(path));
  if (!pkg) { fail(`no Debian package owns ${soname} (${path})`); continue; }
  needed.set(pkg, [...(needed.get(pkg) || []), soname]);
}
{
  const runtime = /FROM \S+ AS runtime([\s\S]*?)(?=\nFROM |$)/.exec(dockerfile)?.[1] || '';
  const install = /apt-get install -y --no-install-recommends([\s\S]*?)&&/.exec(runtime)?.[1] || '';
  const listed = new Set(install.replace(/\\\n/g, ' ').trim().split(/\s+/).filter(Boolean));
  if (!listed.size) fail('Dockerfile runtime: no apt-get install line found');
  for (const [pkg, sonames] of needed) {
    if (!listed.has(pkg) && !kBaseImage.has(pkg)) {
      fail(`Dockerfile runtime: does not install ${pkg} (${sonames.join(', ')}, loaded by the binaries)`);
    }
  }
  for (const pkg of listed) {
    if (!needed.has(pkg)) fail(`Dockerfile runtime: installs ${pkg}, which no binary loads (built with non-default options?)`);
  }
}

if (failures.length) {
  for (const f of failures) console.error(`FAIL ${f}`);
  process.exit(1);
}
console.log(`ok: compose, Dockerfile and ${objectCount} Kubernetes objects match the binaries' flags, ports, admin routes and libraries`);
