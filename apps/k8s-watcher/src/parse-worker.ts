/**
 * Parses one large manifest file off the main thread: the watcher stays responsive (HTTP, NATS)
 * while it runs, a file that needs more memory than the worker may have is refused instead of
 * taking the process down, and the memory parsing took goes back when the worker ends.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { parseManifestFile, type ManifestLimits } from '@tendril/kube';

const { bytes, file, cluster, limits } = workerData as { bytes: Uint8Array; file: string; cluster: string; limits: ManifestLimits };
parentPort!.postMessage(parseManifestFile(bytes, file, cluster, limits));
