/**
 * Gateway API kinds: the fields Tendril uses are checked for type and presence, as the CRDs' OpenAPI
 * schemas would; fields it does not use pass through (the API is large and still growing), so nothing
 * a real API server accepts is refused here.
 */
import { z } from 'zod';
import { objectSchema } from './common.js';

const name = z.string().min(1).max(253);
const portNumber = z.number().int().min(1).max(65535);

const parentRef = z
  .object({ group: z.string().optional(), kind: z.string().optional(), namespace: z.string().optional(), name, sectionName: z.string().optional(), port: portNumber.optional() })
  .loose();

const backendRef = z
  .object({
    group: z.string().optional(),
    kind: z.string().optional(),
    name,
    namespace: z.string().optional(),
    port: portNumber.optional(),
    weight: z.number().int().min(0).max(1000000).optional(),
    filters: z.array(z.object({ type: z.string().min(1) }).loose()).optional(),
  })
  .loose();

const headerMatch = z.object({ type: z.enum(['Exact', 'RegularExpression']).optional(), name: z.string().min(1), value: z.string() }).loose();
const filter = z.object({ type: z.string().min(1) }).loose();

const duration = z.string().regex(/^([0-9]{1,5}(h|m|s|ms)){1,4}$/, 'a duration such as 1h, 30m, 10s or 500ms');
const tokenName = z.string().min(1).max(256).regex(/^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/, 'a cookie or header name (token characters)');

/**
 * A rule's sessionPersistence with the CRD's own checks, which the API server runs as CEL rules: a
 * Permanent cookie needs absoluteTimeout; cookie settings only with type Cookie. Also accepts the
 * fields of releases before 1.3 (sessionName, idleTimeout, cookieConfig).
 */
const sessionPersistence = z
  .object({
    type: z.enum(['Cookie', 'Header']).optional(),
    absoluteTimeout: duration.optional(),
    idleTimeout: duration.optional(),
    sessionName: z.string().max(128).optional(),
    cookie: z.object({ name: tokenName.optional(), path: z.string().max(1024).optional(), lifetimeType: z.enum(['Permanent', 'Session']).optional() }).loose().optional(),
    header: z.object({ name: tokenName }).loose().optional(),
    cookieConfig: z.object({ lifetimeType: z.enum(['Permanent', 'Session']).optional() }).loose().optional(),
  })
  .loose()
  .refine((session) => (session.cookie?.lifetimeType ?? session.cookieConfig?.lifetimeType) !== 'Permanent' || session.absoluteTimeout !== undefined, {
    message: 'AbsoluteTimeout must be specified when cookie lifetimeType is Permanent',
  })
  .refine((session) => session.cookie === undefined || (session.type ?? 'Cookie') === 'Cookie', { message: 'cookie must be nil if type is not Cookie' });

const routeCommon = {
  parentRefs: z.array(parentRef).max(32).optional(),
  hostnames: z.array(z.string().min(1).max(253)).max(16).optional(),
};

export const gatewayClassSchema = objectSchema({
  spec: z
    .object({
      controllerName: z.string().min(1),
      parametersRef: z.object({ group: z.string(), kind: z.string().min(1), name, namespace: z.string().optional() }).loose().optional(),
    })
    .loose(),
});

export const gatewaySchema = objectSchema({
  spec: z
    .object({
      gatewayClassName: name,
      listeners: z
        .array(
          z
            .object({
              name: z.string().min(1),
              hostname: z.string().optional(),
              port: portNumber,
              protocol: z.string().min(1),
              tls: z
                .object({
                  mode: z.enum(['Terminate', 'Passthrough']).optional(),
                  certificateRefs: z.array(z.object({ group: z.string().optional(), kind: z.string().optional(), name, namespace: z.string().optional() }).loose()).optional(),
                })
                .loose()
                .optional(),
              allowedRoutes: z
                .object({
                  namespaces: z.object({ from: z.enum(['All', 'Same', 'Selector', 'None']).optional() }).loose().optional(),
                  kinds: z.array(z.object({ group: z.string().optional(), kind: z.string().min(1) }).loose()).optional(),
                })
                .loose()
                .optional(),
            })
            .loose(),
        )
        .min(1)
        .max(64),
      addresses: z.array(z.object({ type: z.string().optional(), value: z.string().optional() }).loose()).optional(),
    })
    .loose(),
});

export const httpRouteSchema = objectSchema({
  spec: z
    .object({
      ...routeCommon,
      rules: z
        .array(
          z
            .object({
              matches: z
                .array(
                  z
                    .object({
                      path: z.object({ type: z.enum(['Exact', 'PathPrefix', 'RegularExpression']).optional(), value: z.string().optional() }).loose().optional(),
                      headers: z.array(headerMatch).optional(),
                      queryParams: z.array(headerMatch).optional(),
                      method: z.string().optional(),
                    })
                    .loose(),
                )
                .optional(),
              filters: z.array(filter).optional(),
              backendRefs: z.array(backendRef).optional(),
              timeouts: z.object({ request: z.string().optional(), backendRequest: z.string().optional() }).loose().optional(),
              sessionPersistence: sessionPersistence.optional(),
            })
            .loose(),
        )
        .optional(),
    })
    .loose()
    .optional(),
});

export const grpcRouteSchema = objectSchema({
  spec: z
    .object({
      ...routeCommon,
      rules: z
        .array(
          z
            .object({
              matches: z
                .array(
                  z
                    .object({
                      method: z.object({ type: z.enum(['Exact', 'RegularExpression']).optional(), service: z.string().optional(), method: z.string().optional() }).loose().optional(),
                      headers: z.array(headerMatch).optional(),
                    })
                    .loose(),
                )
                .optional(),
              filters: z.array(filter).optional(),
              backendRefs: z.array(backendRef).optional(),
              sessionPersistence: sessionPersistence.optional(),
            })
            .loose(),
        )
        .optional(),
    })
    .loose()
    .optional(),
});

export const tlsRouteSchema = objectSchema({
  spec: z
    .object({ ...routeCommon, rules: z.array(z.object({ backendRefs: z.array(backendRef).optional() }).loose()).optional() })
    .loose()
    .optional(),
});

export const referenceGrantSchema = objectSchema({
  spec: z
    .object({
      from: z.array(z.object({ group: z.string(), kind: z.string().min(1), namespace: z.string().min(1) }).loose()).min(1),
      to: z.array(z.object({ group: z.string(), kind: z.string().min(1), name: z.string().optional() }).loose()).min(1),
    })
    .loose(),
});
