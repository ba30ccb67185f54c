/** Envoy resources as proto3 JSON in, protobuf bytes out (and back), plus their validation. */
import { ResourceJsonError, fromJson, toJson } from './json.js';
import { lookupMessage } from './protos.js';
import { ENVOY_TYPE_URLS, type XdsType, messageNameOf, typeUrlOf } from './types.js';
import { Validator } from './validate.js';

type Plain = Record<string, unknown>;

function shortName(messageName: string): string {
  return messageName.slice(messageName.lastIndexOf('.') + 1);
}

/**
 * Encodes any loaded message (full name, e.g. envoy.config.core.v3.Address) from proto3 JSON.
 * Throws ResourceJsonError naming the field path of an unknown field or a wrong type.
 */
export function encodeMessage(messageName: string, json: object): Uint8Array {
  const type = lookupMessage(messageName);
  const plain = fromJson(type, json, shortName(messageName));
  return type.encode(plain).finish();
}

export function decodeMessage(messageName: string, bytes: Uint8Array): Plain {
  const type = lookupMessage(messageName);
  return toJson(type, type.decode(bytes) as unknown as Plain) as Plain;
}

/** Encodes an xDS resource given in Envoy's proto3 JSON form; deterministic. */
export function encodeResource(type: XdsType, resource: object): Uint8Array {
  return encodeMessage(messageNameOf(type), resource);
}

/** Decodes resource bytes back to proto3 JSON. */
export function decodeResource(typeOrUrl: XdsType | string, bytes: Uint8Array): Plain {
  return decodeMessage(messageNameOf(typeOrUrl), bytes);
}

/** Every protoc-gen-validate violation of a resource, each with its field path; empty = valid. */
export function validateResource(type: XdsType, resource: object): string[] {
  return validateMessage(messageNameOf(type), resource);
}

export function validateMessage(messageName: string, json: object): string[] {
  const type = lookupMessage(messageName);
  let plain: Plain;
  try {
    plain = fromJson(type, json, shortName(messageName));
  } catch (error) {
    if (error instanceof ResourceJsonError) return [error.message];
    throw error;
  }
  const validator = new Validator();
  validator.message(type, plain, shortName(messageName));
  return validator.violations;
}

/** A google.protobuf.Any on the wire (what DiscoveryResponse.resources holds). */
export interface AnyMessage {
  typeUrl: string;
  value: Uint8Array;
}

/** Wraps resource bytes of an xDS type (or a full message name) in an Any. */
export function packAny(typeOrMessage: XdsType | string, bytes: Uint8Array): AnyMessage {
  const typeUrl = typeOrMessage in ENVOY_TYPE_URLS ? ENVOY_TYPE_URLS[typeOrMessage as XdsType] : typeUrlOf(typeOrMessage);
  return { typeUrl, value: bytes };
}

/** Decodes an Any to proto3 JSON with its "@type", as Envoy prints it. */
export function unpackAny(any: AnyMessage): Plain {
  return { '@type': any.typeUrl, ...decodeMessage(messageNameOf(any.typeUrl), any.value) };
}
