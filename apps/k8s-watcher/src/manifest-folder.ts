/** Reads every manifest file under a folder into accepted objects and errors (no NATS here). */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { allocateClusterIPs, parseManifests, type ManifestError, type ManifestObject } from '@tendril/kube';

export interface FolderScan {
  objects: ManifestObject[];
  errors: ManifestError[];
  files: number;
}

const MANIFEST = /\.(ya?ml|json)$/i;

async function listFiles(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const files: string[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await listFiles(path)));
    else if (entry.isFile() && MANIFEST.test(entry.name)) files.push(path);
  }
  return files;
}

export async function scanFolder(dir: string, cluster: string, serviceCidr: string): Promise<FolderScan> {
  const files = (await listFiles(dir)).sort();
  const scan: FolderScan = { objects: [], errors: [], files: files.length };
  const firstSource = new Map<string, string>();
  for (const file of files) {
    const source = relative(dir, file);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      // a file removed between listing and reading is simply gone
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') scan.errors.push({ source, message: (error as Error).message });
      continue;
    }
    const parsed = parseManifests(text, source, cluster);
    scan.errors.push(...parsed.errors);
    for (const object of parsed.objects) {
      const earlier = firstSource.get(object.key);
      if (earlier) {
        scan.errors.push({ source: object.source, object: object.key, message: `duplicate of the object in ${earlier}; ignored` });
        continue;
      }
      firstSource.set(object.key, object.source);
      scan.objects.push(object);
    }
  }
  allocateClusterIPs(scan.objects, serviceCidr);
  return scan;
}
