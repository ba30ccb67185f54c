/**
 * Responses as bytes, with each resource's part encoded once per resource version and shared by every
 * stream that sends it: one endpoint change pushed to thousands of streams encodes that resource once,
 * and each stream adds only its own few header fields (version, nonce).
 */
import { encodeAnyWire, encodeDeltaDiscoveryResponseWire, encodeDeltaResourceWire, encodeDiscoveryResponseWire } from '@tendril/envoy';
import type { AdsResponse, DeltaResponse, SnapshotResource } from '@tendril/xds';

// Snapshot resources are immutable and shared by the snapshots that hold them: keyed by the object,
// an entry lives exactly as long as some snapshot (or a stream's response) still holds the resource.
const anys = new WeakMap<SnapshotResource, Uint8Array>();
const deltaResources = new WeakMap<SnapshotResource, Uint8Array>();

function anyOf(resource: SnapshotResource): Uint8Array {
  let bytes = anys.get(resource);
  if (!bytes) anys.set(resource, (bytes = encodeAnyWire(resource.typeUrl, resource.bytes)));
  return bytes;
}

function deltaResourceOf(resource: SnapshotResource): Uint8Array {
  let bytes = deltaResources.get(resource);
  if (!bytes) deltaResources.set(resource, (bytes = encodeDeltaResourceWire(resource.name, resource.hash, { typeUrl: resource.typeUrl, value: resource.bytes })));
  return bytes;
}

/** A state-of-the-world DiscoveryResponse, encoded. */
export function sotwResponseBytes(response: AdsResponse, controlPlaneIdentifier: string): Uint8Array {
  return encodeDiscoveryResponseWire(
    { versionInfo: response.versionInfo, typeUrl: response.typeUrl, nonce: response.nonce, controlPlaneIdentifier },
    response.resources.map(anyOf),
  );
}

/** A DeltaDiscoveryResponse, encoded. */
export function deltaResponseBytes(response: DeltaResponse, controlPlaneIdentifier: string): Uint8Array {
  return encodeDeltaDiscoveryResponseWire(
    { systemVersionInfo: response.systemVersionInfo, typeUrl: response.typeUrl, nonce: response.nonce, removedResources: response.removedResources, controlPlaneIdentifier },
    response.resources.map(deltaResourceOf),
  );
}
