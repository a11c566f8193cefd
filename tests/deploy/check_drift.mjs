// The deploy files cannot drift from the code: every flag, environment
// variable, port and probe path that docker-compose.yml, deploy/Dockerfile
// and deploy/k8s use must exist in the binaries, as their --help and their
// running admin server report them; the runtime image installs the
// project's Debian packages (whose Depends name the libraries); and a
// daemon started without the flags that need them maps neither libnats nor
// OpenSSL nor libjwt.
//
//   node check_drift.mjs REPO_DIR CHANNEL_BROKER_BIN WS_GATEWAY_BIN
import { spawnSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { get } from 'node:http';
import { parse } from 'yaml';
import { render } from './validate_k8s.mjs';

const [repo, brokerBin, gatewayBin] = process.argv.slice(2);
if (!repo || !brokerBin || !gatewayBin) {
  console.error('usage: check_drift.mjs REPO_DIR CHANNEL_BROKER_BIN WS_GATEWAY_BIN');
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
  // Started without --nats, --tls_cert and token keys, neither daemon maps
  // the libraries those load on demand (docs/BENCHMARKS.md "Memory").
  const maps = readFileSync(`/proc/${child.pid}/maps`, 'utf8');
  for (const lib of ['libnats', 'libssl', 'libcrypto', 'libjwt']) {
    if (maps.includes(`/${lib}.so`)) fail(`${kind}: maps ${lib} although no flag asks for it`);
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

// --- deploy/Dockerfile: the runtime stage installs the project's packages ---
// Their Depends come from the binaries' libraries (dpkg-shlibdeps;
// tests/deploy/package_test.sh checks them against readelf and ldd), so
// the image carries exactly what the binaries load. It installs the three
// packages the packages stage made, and no list of its own.
{
  const runtime = /FROM \S+ AS runtime([\s\S]*?)(?=\nFROM |$)/.exec(dockerfile)?.[1] || '';
  for (const pkg of ['channel-broker', 'ws-gateway', 'channel-cli']) {
    if (!new RegExp(`/tmp/debs/${pkg}_\\*\\.deb`).test(runtime)) {
      fail(`Dockerfile runtime: does not install the ${pkg} package (/tmp/debs/${pkg}_*.deb)`);
    }
  }
  if (/apt-get install[^&]*\slib[a-z0-9]/.test(runtime.replace(/\/tmp\/debs\/\S+/g, ''))) {
    fail('Dockerfile runtime: installs libraries by name; the packages\' Depends bring them');
  }
}

if (failures.length) {
  for (const f of failures) console.error(`FAIL ${f}`);
  process.exit(1);
}
console.log(`ok: compose, Dockerfile and ${objectCount} Kubernetes objects match the binaries' flags, ports and admin routes`);
