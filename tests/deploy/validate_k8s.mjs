// Offline check of deploy/k8s: renders the kustomization the way
// `kubectl kustomize` does for this layout (resources + namespace; no
// generators or patches are used, so nothing else needs rendering) and
// validates every object against the Kubernetes OpenAPI schemas bundled in
// the kubernetes-models package. Prints the rendered stream with --print.
//
//   node validate_k8s.mjs DEPLOY_K8S_DIR [--print]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: validate_k8s.mjs DEPLOY_K8S_DIR [--print]');
  process.exit(2);
}

// Cluster-scoped kinds keep no namespace.
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding',
  'PersistentVolume', 'StorageClass', 'CustomResourceDefinition', 'PriorityClass']);

export function render(k8sDir) {
  const kustomization = parseAllDocuments(
      readFileSync(join(k8sDir, 'kustomization.yaml'), 'utf8'))[0].toJS();
  const allowed = new Set(['apiVersion', 'kind', 'namespace', 'resources']);
  for (const key of Object.keys(kustomization)) {
    if (!allowed.has(key)) {
      throw new Error(`kustomization.yaml uses "${key}", which this offline renderer does not implement`);
    }
  }
  const objects = [];
  for (const file of kustomization.resources) {
    for (const doc of parseAllDocuments(readFileSync(join(k8sDir, file), 'utf8'))) {
      if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0].message}`);
      const obj = doc.toJS();
      if (!obj) continue;
      if (kustomization.namespace && !CLUSTER_SCOPED.has(obj.kind)) {
        obj.metadata.namespace = kustomization.namespace;
      }
      obj.__file = file;
      objects.push(obj);
    }
  }
  return objects;
}

async function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const path = group ? `kubernetes-models/${group}/${version}/${kind}` : `kubernetes-models/${version}/${kind}`;
  try {
    return (await import(path))[kind];
  } catch {
    throw new Error(`no schema for ${apiVersion} ${kind}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  let failures = 0;
  const objects = render(dir);
  for (const obj of objects) {
    const { __file, ...clean } = obj;
    const name = `${__file}: ${obj.kind}/${obj.metadata?.name}`;
    try {
      const Model = await modelFor(obj.apiVersion, obj.kind);
      new Model(clean).validate();
      console.log(`ok   ${name}`);
    } catch (err) {
      failures++;
      console.error(`FAIL ${name}: ${err.message}`);
    }
  }
  if (process.argv.includes('--print')) {
    console.log(objects.map(({ __file, ...o }) => stringify(o)).join('---\n'));
  }
  if (objects.length === 0) { console.error('FAIL: nothing rendered'); failures++; }
  process.exit(failures ? 1 : 0);
}
